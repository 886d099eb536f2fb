"""A private PostgreSQL cluster for a test that stops and starts it (the shared one serves other tests).

Built with the server's own ``initdb``/``pg_ctl`` in a temporary folder, listening only on a Unix socket there.
PostgreSQL refuses to run as root, so under root the commands run as the ``postgres`` OS user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.ops.processes import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found under /usr/lib/postgresql/*/bin")
    return found[-1]


def _as_server_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class PrivateCluster:
    """A running cluster: ``url`` of its database ``gis`` (PostGIS enabled); stop and start it at will."""

    folder: Path
    port: int

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@/gis?host={self.folder}&port={self.port}"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run([*_as_server_user(), _bin("pg_ctl"), "-D", str(self.data), *args],
                       check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses='' -c fsync=off"
        self._pg_ctl("-o", options, "-l", str(self.folder / "server.log"), "-w", "start")

    def stop(self, mode: str = "immediate") -> None:
        """``immediate``: like a crash or a killed server; every connection is cut."""
        self._pg_ctl("-m", mode, "-w", "stop")


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """initdb, start, create the database ``gis`` with PostGIS; stop and delete everything afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="gis-pg-"))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    cluster = PrivateCluster(folder, free_port())
    try:
        subprocess.run([*_as_server_user(), _bin("initdb"), "-D", str(cluster.data), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--no-sync"], check=True, capture_output=True, timeout=120)
        cluster.start()
        admin = create_engine(cluster.url.replace("/gis?", "/postgres?"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE gis"))
        admin.dispose()
        setup = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
        with setup.connect() as conn:
            conn.execute(text("CREATE EXTENSION postgis"))
        setup.dispose()
        yield cluster
    finally:
        with suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            cluster.stop("immediate")  # fails when not running (never started, or the test left it stopped)
        shutil.rmtree(folder, ignore_errors=True)
