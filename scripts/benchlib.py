"""What every benchmark script shares: machine facts, a database of its own on either backend, medians of
timed calls, and writing its own section of docs/benchmarks.md."""

from __future__ import annotations

import platform
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from gis_service.db.engine import create_db_engine
from gis_service.db.migrate import upgrade
from gis_service.settings import Settings


def postgis_database(base_url: str, name: str) -> tuple[Engine, Callable[[], None]]:
    """A fresh, migrated PostGIS database ``name`` next to the one of ``base_url``, and how to drop it."""
    base = make_url(base_url)
    url = base.set(database=name)
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def admin_sql(statement: str) -> None:
        with admin.connect() as conn:
            conn.execute(text(statement))

    admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{name}"')
    with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine = create_db_engine(Settings(database_url=url.render_as_string(hide_password=False)))
    upgrade(engine)

    def drop() -> None:
        engine.dispose()
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return engine, drop


def spatialite_database(path: Path) -> tuple[Engine, Callable[[], None]]:
    """A migrated SpatiaLite file at ``path``, and how to let go of it."""
    engine = create_db_engine(Settings(database_url=f"sqlite:///{path}"))
    upgrade(engine)
    return engine, engine.dispose


@dataclass
class Timing:
    """The timed runs of one measurement on one backend."""

    backend: str
    label: str
    seconds: list[float]
    note: str

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def timed(call: Callable[[], Any], runs: int) -> list[float]:
    """Seconds of ``runs`` calls, after one warm-up call (PROJ transformers, SQL caches)."""
    call()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return seconds


def os_name() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", "Linux")
    except OSError:
        return "Linux"


def load_text(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.2f}" for v in load)


def write_section(out: Path, name: str, section: str) -> None:
    """Replace the ``<!-- bench:name -->`` section of ``out`` (create the file, or append, if needed).

    The file is read just before writing: other benchmarks write their sections into it too.
    """
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("# Benchmarks\n\nEach benchmark writes its own marked section; `make bench` "
                       "regenerates them.\n\n" + section, encoding="utf-8")
        return
    current = out.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _match: section, current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + section
    out.write_text(updated, encoding="utf-8")
