"""Who is calling: API keys from headers, the read-access setting, and a limit on failed key attempts."""

from __future__ import annotations

import threading
import time
from collections import deque
from ipaddress import ip_address
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from gis_service.access import ANONYMOUS, Principal
from gis_service.api.towns import request_town
from gis_service.errors import AuthenticationRequiredError, NotFoundError, TooManyAttemptsError
from gis_service.services.users import UserService
from gis_service.settings import Settings


class FailedAttempts:
    """Failed key attempts per client address in a sliding window (in memory, per server process)."""

    def __init__(self, allowed: int, window_s: float) -> None:
        self.allowed = allowed
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def fail(self, client: str) -> None:
        """Count a failed key from ``client``; 429 once it has used up its failures in the window.

        Only failing keys are refused: a valid key always works, so one machine with a stale key cannot lock
        out an office behind the same address. (Keys have 256 random bits; the limit is against noise and log
        flooding, not guessing.)
        """
        now = time.monotonic()
        with self._lock:
            self._prune(now)
            recent = self._failures.setdefault(client, deque())
            recent.append(now)
            if len(recent) > self.allowed:
                retry = int(self.window_s - (now - recent[0])) + 1
                raise TooManyAttemptsError(f"too many invalid API keys from {client}; try again in {retry} s",
                                           retry_after=retry)

    def _prune(self, now: float) -> None:
        for client in list(self._failures):
            recent = self._failures[client]
            while recent and now - recent[0] > self.window_s:
                recent.popleft()
            if not recent:
                del self._failures[client]


def presented_key(request: Request) -> str | None:
    """The key of ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` (QGIS can send either)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("x-api-key", "").strip() or None


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def key_holder(request: Request) -> Principal:
    """The user of a valid key, or anonymous when no key was sent (401 for a bad key), whatever the town."""
    key = presented_key(request)
    if key is None:
        return ANONYMOUS
    users: UserService = request.app.state.users
    try:
        return await run_in_threadpool(users.authenticate, key)
    except AuthenticationRequiredError:
        attempts: FailedAttempts = request.app.state.failed_attempts
        attempts.fail(client_address(request))
        raise


async def get_principal(request: Request, principal: Annotated[Principal, Depends(key_holder)]) -> Principal:
    """The caller of a request to a town: a key for another town gets 404."""
    town = request_town(request)
    if not principal.serves(town):
        # The same answer as for a town that does not exist: a key of one town learns nothing of others' data.
        raise NotFoundError(f"no town '{town}' here (没有这个镇); GET /towns lists the towns")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _is_loopback(host: str) -> bool:
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _check_read(request: Request, principal: Principal) -> Principal:
    """Reads are open, open to this machine only, or need any valid key, as ``read_access`` says."""
    settings: Settings = request.app.state.settings
    if not principal.is_anonymous or settings.read_access == "open":
        return principal
    if settings.read_access == "local" and _is_loopback(client_address(request)):
        return principal
    raise AuthenticationRequiredError("reading needs an API key here (header 'Authorization: Bearer <key>' "
                                      "or 'X-API-Key: <key>')")


async def require_read(request: Request, principal: PrincipalDep) -> Principal:
    """A reader of the request's town."""
    return _check_read(request, principal)


async def require_read_any_town(request: Request,
                                principal: Annotated[Principal, Depends(key_holder)]) -> Principal:
    """A reader of what belongs to no one town (the list of towns, filtered by the caller's key)."""
    return _check_read(request, principal)


ReaderDep = Annotated[Principal, Depends(require_read)]
