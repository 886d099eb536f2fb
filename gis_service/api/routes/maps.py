"""Map reports as web pages: ``/maps/`` (the index) and ``/maps/{name}.html``.

Files come from the reports folder (setting ``maps_dir``) and are chosen by name from the list of reports, so
nothing from the request ever becomes a path. A report that is missing, in another language than the
``language`` setting, or older than the data is rebuilt before it is served (about a second, once): the page a
town leader opens always shows the current data, and nobody has to remember ``gis-service maps build`` after an
edit. The pages are not part of the OGC API, so they stay out of the OpenAPI document.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gis_service.api.conditional import none_match
from gis_service.api.deps import permitted_uses
from gis_service.api.security import require_read
from gis_service.errors import NotFoundError
from gis_service.reports.build import INDEX, ensure_current, maps_dir, select_reports, settings_basemap

router = APIRouter(prefix="/maps", tags=["Map reports"], include_in_schema=False,
                   dependencies=[Depends(require_read)])

HTML = "text/html; charset=utf-8"


@router.get("/", summary="Index of the map reports")
def maps_index(request: Request) -> Response:
    return _serve(request, None)


@router.get("/{name}.html", summary="A map report (assets, merger, coverage, revitalisation, planning, schools) or "
                                    "the index")
def map_report(name: str, request: Request) -> Response:
    return _serve(request, None if name == "index" else name)


def _serve(request: Request, name: str | None) -> Response:
    """The index (``name`` None) or a report, rebuilt first when stale; 404 problem for any other name."""
    settings = request.app.state.settings
    folder = maps_dir(settings).resolve()
    which = None if name is None else [spec.name for spec in select_reports([name])]  # NotFoundError: 404
    ensure_current(request.app.state.engine, folder, language=settings.language, which=which,
                   basemap=settings_basemap(settings), permitted_uses=permitted_uses(request))
    path = folder / (INDEX if name is None else f"{name}.html")
    _check_inside(path, folder)
    return _file_response(request, path)


def _file_response(request: Request, path: Path) -> Response:
    """The file read whole through one handle: a rebuild replacing it meanwhile (``os.replace``) cannot mix two
    versions in one response, as streaming after a separate ``stat`` could. Reports are about 1 MB."""
    with path.open("rb") as handle:
        stat = os.fstat(handle.fileno())
        # no-cache: browsers revalidate, so they see a rebuilt report without downloading an unchanged one.
        headers = {"ETag": f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"', "Cache-Control": "no-cache"}
        if none_match(request.headers.get("if-none-match"), headers["ETag"]):
            return Response(status_code=304, headers=headers)
        return Response(handle.read(), media_type=HTML, headers=headers)


def _check_inside(path: Path, folder: Path) -> None:
    # Names come from the list of reports, never from the request; this guards against a future edit (or a
    # symbolic link in the folder) making the server send a file from elsewhere.
    if path.resolve().parent != folder or not path.is_file():
        raise NotFoundError(f"no map report '{path.name}'")
