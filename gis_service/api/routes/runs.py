"""Analysis runs: every run stored with inputs, parameters, solver, timings and outputs; listed and re-run.

``GET /analysis/runs`` lists them newest first (``kind`` filter, ``limit``/``offset`` paging with a ``next``
link); ``GET /analysis/runs/{id}`` shows one with its result (``f=geojson``: its features, where the analysis
has geometries); ``POST /analysis/runs/{id}/rerun`` runs it again with the stored parameters as a new run and
says whether the inputs changed (layer data versions, scenario) and whether the outputs are equal.

Listing and showing runs need read access. A re-run computes afresh and stores a new run each time, so it needs
the API key of a planner, editor or admin (401 without a key, 403 for a viewer), whatever the read access is.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from gis_service.api.links import GEOJSON, JSON, base_url, link, with_params
from gis_service.api.routes.analysis import run_response, run_url
from gis_service.api.security import PrincipalDep, ReaderDep
from gis_service.errors import InvalidInputError
from gis_service.layers.validation import INT32_MAX
from gis_service.services.runs import Run, RunService, require_rerun

router = APIRouter(prefix="/analysis/runs", tags=["Analysis runs"])
RunId = Annotated[int, Path(ge=1, le=INT32_MAX, description="Run id")]
Kind = Literal["coverage", "one_plus_n", "placement", "scenario"]
OK_JSON: dict[int | str, dict[str, Any]] = {200: {"content": {JSON: {"schema": {"type": "object"}}}}}


def _service(request: Request) -> RunService:
    return RunService(request.app.state.engine)


@router.get("", summary="Stored analysis runs, newest first", response_class=Response, responses=OK_JSON)
async def list_runs(
    request: Request, _reader: ReaderDep, kind: Kind | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
) -> Response:
    runs, total = await run_in_threadpool(_service(request).page, kind, limit, offset)
    url = str(request.url)
    links = [link(url, "self", JSON)]
    if offset + len(runs) < total:
        links.append(link(with_params(url, offset=offset + limit, limit=limit), "next", JSON))
    body = {"numberMatched": total, "numberReturned": len(runs),
            "runs": [run_summary(request, r) for r in runs], "links": links}
    return Response(orjson.dumps(body), media_type=JSON)


@router.get("/{run_id}", summary="One run: parameters, inputs, solver, timings and result",
            response_class=Response, responses=OK_JSON | {200: {"content": {JSON: {}, GEOJSON: {}}}})
async def get_run(
    request: Request, _reader: ReaderDep, run_id: RunId,
    f: Annotated[Literal["json", "geojson"], Query(description="json: the run; geojson: its features")] = "json",
) -> Response:
    run = await run_in_threadpool(_service(request).get, run_id)
    if f == "geojson":
        if run.features is None:
            raise InvalidInputError(f"run {run.id} ({run.kind}, {run.status}) has no features; use f=json")
        return run_response(request, run, "geojson")
    return Response(orjson.dumps(run_detail(request, run)), media_type=JSON)


@router.post("/{run_id}/rerun", summary="Run again with the stored parameters; compare inputs and outputs "
             "(planners, editors, admins)", response_class=Response, status_code=201,
             responses={201: {"content": {JSON: {}}}})
async def rerun(request: Request, principal: PrincipalDep, run_id: RunId) -> Response:
    """Re-run a stored analysis as a new run. Needs a planner, editor or admin key: every re-run is computed
    and stored anew, which is not for anonymous or read-only callers."""
    require_rerun(principal)
    service = _service(request)
    again = await run_in_threadpool(service.rerun, run_id, principal.name)
    body = {"previous": run_summary(request, again.previous), "run": run_detail(request, again.run),
            "inputs_changed": again.inputs_changed,
            "changed_layers": {name: {"before": b, "after": a} for name, (b, a) in again.changed_layers.items()},
            "outputs_equal": again.outputs_equal}
    return Response(orjson.dumps(body), status_code=201, media_type=JSON,
                    headers={"Location": run_url(request, again.run)})


def run_summary(request: Request, run: Run) -> dict[str, Any]:
    """A run without its outputs, with links to itself and (when it has features) to its GeoJSON."""
    url = run_url(request, run)
    links = [link(url, "self", JSON)]
    if run.status == "ok" and run.kind in ("coverage", "placement", "scenario"):
        links.append(link(f"{url}?f=geojson", "alternate", GEOJSON))
    links.append({"href": f"{url}/rerun", "rel": "rerun", "method": "POST"})
    return {"id": run.id, "kind": run.kind, "status": run.status, "parameters": run.parameters,
            "inputs": run.inputs, "input_hash": run.input_hash, "solver": run.solver, "objective": run.objective,
            "started_at": run.started_at.isoformat(), "seconds": run.seconds, "created_by": run.created_by,
            "error": run.error, "links": links}


def run_detail(request: Request, run: Run) -> dict[str, Any]:
    """A run with its result (features are served by ``f=geojson``; here only their number)."""
    features = run.features
    return {**run_summary(request, run), "result": run.result,
            "features": None if features is None else len(features),
            "links": run_summary(request, run)["links"] + [link(f"{base_url(request)}/analysis/runs", "collection",
                                                                 JSON)]}
