"""One API for many towns: ``/towns/{code}/…`` is the whole API for that town.

``/towns/510923100/collections/assets/items`` is ``/collections/assets/items`` of town 510923100, with every link
in the answer under the same prefix (the prefix becomes the ASGI ``root_path``), so QGIS, GDAL and a browser can
be pointed at one town's root and follow links as usual. Requests without the prefix are for the service's own
town (``GIS_TOWN_CODE``). A town the database does not serve is a 404 problem, and so is a town the caller's key
is not for (see :func:`gis_service.api.security.get_principal`): whether a town exists is not revealed to keys
of other towns.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from gis_service.api.problems import problem
from gis_service.towns import TOWN_CODE, current_town, set_town

PREFIX = re.compile(r"^/towns/([^/]+)(/.*)?$")
DIRECTORY_TTL_S = 5.0


def request_town(request: Request) -> str:
    """The town of this request: its ``/towns/{code}`` prefix, else the service's own town."""
    default: str = request.app.state.settings.town_code
    return current_town(default) or default


class TownDirectory:
    """The codes of the towns the database serves, read again at most every few seconds.

    A town added with ``gis-service towns add`` is served within :data:`DIRECTORY_TTL_S` without a restart.
    If the list cannot be read (a database from before migration 0005), only the service's own town is served.
    """

    def __init__(self, read: Callable[[], frozenset[str]], default_town: str) -> None:
        self._read = read
        self._default = default_town
        self._codes: frozenset[str] = frozenset({default_town})
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def serves(self, code: str) -> bool:
        if code == self._default:
            return True
        with self._lock:
            if time.monotonic() - self._read_at > DIRECTORY_TTL_S:
                try:
                    self._codes = self._read() | {self._default}
                except Exception:  # noqa: BLE001 - an old or unreachable database: serve the own town only
                    self._codes = frozenset({self._default})
                self._read_at = time.monotonic()
            return code in self._codes


class TownRouting:
    """Pure ASGI middleware: strips ``/towns/{code}`` into ``root_path`` and chooses the town for the request."""

    def __init__(self, app: ASGIApp, directory: TownDirectory) -> None:
        self.app = app
        self.directory = directory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root = scope.get("root_path", "")
        path = scope["path"][len(root):] if root and scope["path"].startswith(root) else scope["path"]
        match = PREFIX.match(path)
        if match is None:
            set_town(None)
            await self.app(scope, receive, send)
            return
        code = match.group(1)
        # The directory may query the database: off the event loop only when it has to (every few seconds).
        if not TOWN_CODE.match(code) or not await _serves(self.directory, code):
            response = problem(404, "Not found", f"no town '{code}' here (没有这个镇); GET /towns lists the towns",
                               scope.get("path"))
            await response(scope, receive, send)
            return
        prefix = f"/towns/{code}"
        scope = dict(scope, root_path=root + prefix)
        if match.group(2) is None:  # /towns/510923100 is that town's landing page
            scope["path"] = scope["path"] + "/"
        set_town(code)
        await self.app(scope, receive, send)


async def _serves(directory: TownDirectory, code: str) -> bool:
    return await run_in_threadpool(directory.serves, code)
