"""API users and their keys: create, list, revoke, and turn a presented key into a :class:`Principal`."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from gis_service.access import ALL_TOWNS, Principal, Role
from gis_service.db.engine import admin_transaction, engine_town
from gis_service.errors import AuthenticationRequiredError, ConflictError, InvalidInputError, NotFoundError
from gis_service.layers.registry import get_layer
from gis_service.repositories.layers import LayerRepository
from gis_service.repositories.towns import TownRepository
from gis_service.repositories.users import UserRepository
from gis_service.towns import check_town_code, current_town, working_on

KEY_PREFIX = "gs_"
_NAME = re.compile(r"^[\w.@-]{1,64}$")


@dataclass(frozen=True)
class UserInfo:
    name: str
    role: Role
    villages: tuple[str, ...]
    towns: tuple[str, ...]
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_key(key: str) -> str:
    """SHA-256 of an API key.

    Keys are 256-bit random tokens, so a fast hash is enough (a slow password hash such as bcrypt guards
    guessable secrets, and would cost ~100 ms on every request).
    """
    return hashlib.sha256(key.encode()).hexdigest()


class UserService:
    """Manage API keys on one database. A key is shown once, when it is made; only its hash is stored."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, name: str, role: str, villages: Sequence[str] = (),
            towns: Sequence[str] | None = None) -> tuple[UserInfo, str]:
        """Create a user; returns the user and the new key (the only time the key is available).

        ``towns``: the towns the key works on (default: the service's town; ``["*"]``: every town). An editor
        limited to villages works in exactly one town, the one the villages are in.
        """
        if not _NAME.match(name):
            raise InvalidInputError(f"user name '{name}' must be 1-64 letters, digits, '.', '@', '_' or '-'")
        try:
            parsed_role = Role(role)
        except ValueError:
            raise InvalidInputError(f"unknown role '{role}'; use one of {', '.join(r.value for r in Role)}") from None
        if villages and parsed_role != Role.EDITOR:
            raise InvalidInputError("only editors can be limited to villages")
        default = engine_town(self.engine)[0]
        towns = _parse_towns(towns or [current_town(default) or default])
        if villages and (len(towns) != 1 or towns[0] == ALL_TOWNS):
            raise InvalidInputError("an editor limited to villages works in one town: give exactly one --town")
        elsewhere = [code for code in villages if not code.startswith(towns[0])]
        if elsewhere:  # a 12-digit NBS village code begins with the 9-digit code of its town
            raise InvalidInputError(f"villages {', '.join(elsewhere)} are not in town {towns[0]}")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        # Keys are the database's, not a town's: written by administration, never by a town's transaction.
        with working_on(towns[0] if towns[0] != ALL_TOWNS else default), admin_transaction(self.engine) as conn:
            _check_towns_exist(TownRepository(conn), towns)
            _check_villages_exist(LayerRepository(conn, get_layer("villages")), villages)
            repo = UserRepository(conn)
            if repo.by_name(name) is not None:
                raise ConflictError(f"user '{name}' already exists")
            try:
                repo.add(name, parsed_role.value, villages, towns, hash_key(key), key[:10])
            except IntegrityError:
                raise ConflictError(f"user '{name}' already exists") from None
            row = repo.by_name(name)
        assert row is not None
        return _info(row), key

    def list(self) -> list[UserInfo]:
        with self.engine.connect() as conn:
            return [_info(row) for row in UserRepository(conn).all()]

    def revoke(self, name: str) -> None:
        with admin_transaction(self.engine) as conn:
            repo = UserRepository(conn)
            if repo.by_name(name) is None:
                raise NotFoundError(f"no user '{name}'")
            if not repo.revoke(name):
                raise ConflictError(f"user '{name}' is already revoked")

    def authenticate(self, key: str) -> Principal:
        """The principal of an active key; :class:`AuthenticationRequiredError` otherwise."""
        digest = hash_key(key)
        with self.engine.connect() as conn:
            row = UserRepository(conn).by_key_hash(digest)
        # The look-up is by hash, so its timing tells nothing about the key; compare in constant time anyway.
        if row is None or not hmac.compare_digest(row.key_hash, digest):
            raise AuthenticationRequiredError("the API key is not valid")
        if row.revoked_at is not None:
            raise AuthenticationRequiredError(f"the API key of user '{row.name}' has been revoked")
        return Principal(row.name, Role(row.role), _villages(row.villages), _villages(row.towns))


def _check_villages_exist(villages_repo: LayerRepository, codes: Sequence[str]) -> None:
    if not codes:
        return
    missing = sorted(set(codes) - villages_repo.existing_codes(codes))
    if missing:
        raise InvalidInputError(f"no village with code {', '.join(missing)} in the villages layer")


def _parse_towns(towns: Sequence[str]) -> tuple[str, ...]:
    if ALL_TOWNS in towns:
        if len(towns) > 1:
            raise InvalidInputError("'*' (every town) stands alone; do not list towns beside it")
        return (ALL_TOWNS,)
    return tuple(dict.fromkeys(check_town_code(code) for code in towns))


def _check_towns_exist(towns_repo: TownRepository, codes: Sequence[str]) -> None:
    missing = sorted(set(codes) - {ALL_TOWNS} - set(towns_repo.codes()))
    if missing:
        raise InvalidInputError(f"this database serves no town {', '.join(missing)} (gis-service towns list)")


def _villages(text: str | None) -> tuple[str, ...]:
    return tuple(text.split(",")) if text else ()


def _info(row: object) -> UserInfo:
    return UserInfo(row.name, Role(row.role), _villages(row.villages),  # type: ignore[attr-defined]
                    _villages(row.towns), row.key_prefix,  # type: ignore[attr-defined]
                    row.created_at, row.revoked_at)  # type: ignore[attr-defined]
