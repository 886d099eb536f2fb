"""Provenance of analyses: every run is stored with its parameters, inputs, solver, timings and outputs.

``RunService.run(kind, parameters, actor)`` checks the parameters, runs the analysis, times it and stores the
run, failures too (then the error is raised again). Inputs are the data versions of every layer the analysis
read (read in the same transaction as the data) plus the scenario, if any; ``input_hash`` is the SHA-256 of
them. A stored run can be listed, shown and re-run: the re-run is a new run, compared with the old one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Engine

from gis_service.access import Principal, Role
from gis_service.db.engine import write_transaction
from gis_service.errors import (
    AuthenticationRequiredError,
    GisServiceError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from gis_service.repositories.runs import RunRepository
from gis_service.repositories.versions import layer_versions
from gis_service.services import analysis_outputs as outputs
from gis_service.services.coverage import (
    ONE_PLUS_N_LAYERS,
    CoverageService,
    coverage_layers,
    coverage_of,
    one_plus_n_of,
    standard_with,
)
from gis_service.services.placement import PlacementRequest, place

KINDS = ("coverage", "one_plus_n", "placement", "scenario")
# Kinds whose result depends only on their parameters and the layers' data versions: an identical request on
# unchanged data may be answered from the stored run (``reuse=True``) instead of computing and storing it again.
REUSABLE = frozenset({"coverage", "one_plus_n", "placement"})
METHODS = ("auto", "straight", "network")
# Who may re-run a stored analysis: a re-run computes afresh and stores a new run every time (no reuse), so it
# is not left to readers, who may be anonymous local clients.
RERUN_ROLES = (Role.PLANNER, Role.EDITOR, Role.ADMIN)


def require_rerun(principal: Principal) -> None:
    """401 for anonymous callers, 403 for viewers: re-running an analysis is for planners, editors and admins.

    Raises
    ------
    AuthenticationRequiredError
        When no API key was sent.
    PermissionDeniedError
        When the key's role is not planner, editor or admin.
    """
    if principal.is_anonymous:
        raise AuthenticationRequiredError("re-running an analysis stores a new run; it needs an API key of a planner, "
                                          "editor or admin (header 'Authorization: Bearer <key>' or "
                                          "'X-API-Key: <key>')")
    if principal.role not in RERUN_ROLES:
        raise PermissionDeniedError(f"user '{principal.name}' is a {principal.role}; re-running an analysis needs the "
                                    "planner, editor or admin role")


@dataclass(frozen=True)
class Computed:
    """What an analysis hands back to be stored: its result, features (CRS84) if any, and provenance."""

    result: dict[str, Any]
    features: list[dict[str, Any]] | None
    inputs: dict[str, Any]
    solver: str | None = None
    objective: float | None = None


@dataclass(frozen=True)
class Run:
    """A stored run. ``outputs`` is ``{"result": ..., "features": [...] | None}`` (None in lists of runs)."""

    id: int
    kind: str
    parameters: dict[str, Any]
    inputs: dict[str, Any]
    input_hash: str
    solver: str | None
    objective: float | None
    status: str
    error: str | None
    started_at: datetime
    seconds: float
    outputs: dict[str, Any] | None
    created_by: str
    reused: bool = False  # answered from an earlier run with the same parameters and inputs

    @property
    def result(self) -> dict[str, Any] | None:
        return None if self.outputs is None else self.outputs.get("result")

    @property
    def features(self) -> list[dict[str, Any]] | None:
        return None if self.outputs is None else self.outputs.get("features")


@dataclass(frozen=True)
class Rerun:
    """A run made again: the new run, whether its inputs differ (and which layers), whether its outputs are equal."""

    previous: Run
    run: Run
    inputs_changed: bool
    changed_layers: dict[str, tuple[int | None, int | None]]
    outputs_equal: bool


@dataclass(frozen=True)
class Analysis:
    """One kind of run: how its parameters are checked, which layers it reads, and how it is computed."""

    normalise: Callable[[dict[str, Any]], dict[str, Any]]
    layers: Callable[[dict[str, Any]], tuple[str, ...]]
    compute: Callable[[Engine, dict[str, Any]], Computed]


class RunService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(self, kind: str, parameters: dict[str, Any], actor: str, *, reuse: bool = False) -> Run:
        """Run the analysis ``kind`` with ``parameters`` and store it; returns the stored run.

        With ``reuse``, a stored successful run of the same kind, parameters and input data versions is returned
        instead (``reused`` set, nothing stored): a map page asking for the same coverage a thousand times
        neither recomputes nor fills the table. Re-runs never reuse.

        Raises
        ------
        InvalidInputError
            On an unknown kind or bad parameters (nothing stored).
        GisServiceError
            What the analysis raised; the failed run is stored first.
        """
        analysis = _analysis(kind)
        params = analysis.normalise(dict(parameters))
        if reuse and kind in REUSABLE:
            earlier = self._same_run(kind, params, analysis)
            if earlier is not None:
                return dataclasses.replace(earlier, reused=True)
        started, clock = datetime.now(UTC), time.perf_counter()
        try:
            computed = analysis.compute(self.engine, params)
        except (GisServiceError, ValueError) as exc:
            seconds = time.perf_counter() - clock
            inputs = {"layers": self._versions(analysis.layers(params)), **_scenario_input(params)}
            self._store(kind, params, inputs, None, started, seconds, actor, error=_message(exc))
            raise
        seconds = time.perf_counter() - clock
        return self._store(kind, params, computed.inputs, computed, started, seconds, actor)

    def get(self, run_id: int) -> Run:
        with self.engine.connect() as conn:
            row = RunRepository(conn).get(run_id)
        if row is None:
            raise NotFoundError(f"no analysis run {run_id}")
        return _run(row)

    def page(self, kind: str | None = None, limit: int = 20, offset: int = 0) -> tuple[list[Run], int]:
        """Runs (without outputs), newest first, and how many there are."""
        if kind is not None and kind not in KINDS:
            raise InvalidInputError(f"unknown kind '{kind}'; use one of {', '.join(KINDS)}")
        with self.engine.connect() as conn:
            rows, total = RunRepository(conn).page(kind, limit, offset)
        return [_run(r) for r in rows], total

    def rerun(self, run_id: int, actor: str) -> Rerun:
        """Run ``run_id`` again with its stored parameters (a new run) and compare it with the old one."""
        previous = self.get(run_id)
        run = self.run(previous.kind, previous.parameters, actor)
        changed = _changed_layers(previous.inputs.get("layers", {}), run.inputs.get("layers", {}))
        inputs_changed = bool(changed) or previous.input_hash != run.input_hash
        equal = previous.status == "ok" and _canonical(previous.outputs) == _canonical(run.outputs)
        return Rerun(previous, run, inputs_changed, changed, equal)

    def _same_run(self, kind: str, params: dict[str, Any], analysis: Analysis) -> Run | None:
        """The newest successful run of ``kind`` with ``params`` on the layers' current data versions."""
        inputs = outputs.json_safe({"layers": self._versions(analysis.layers(params))})
        wanted = _canonical(params)
        with self.engine.connect() as conn:
            for row in RunRepository(conn).with_inputs(kind, input_hash(inputs)):
                if _canonical(row.parameters) == wanted:
                    return _run(row)
        return None

    def _versions(self, layers: tuple[str, ...]) -> dict[str, int]:
        with self.engine.connect() as conn:
            versions = layer_versions(conn)
        return {name: versions.get(name, 0) for name in layers}

    def _store(self, kind: str, params: dict[str, Any], inputs: dict[str, Any], computed: Computed | None,
               started: datetime, seconds: float, actor: str, error: str | None = None) -> Run:
        inputs = outputs.json_safe(inputs)
        values: dict[str, Any] = {
            "kind": kind, "parameters": params, "inputs": inputs, "input_hash": input_hash(inputs),
            "solver": None if computed is None else computed.solver,
            "objective": None if computed is None else computed.objective,
            "status": "failed" if computed is None else "ok", "error": error, "started_at": started,
            "seconds": round(seconds, 4), "created_by": actor,
            "outputs": None if computed is None else {"result": computed.result, "features": computed.features},
        }
        with write_transaction(self.engine) as conn:
            run_id = RunRepository(conn).add(values)
        return Run(id=run_id, **values)


def input_hash(inputs: dict[str, Any]) -> str:
    """SHA-256 of the inputs as canonical JSON (sorted keys)."""
    return hashlib.sha256(orjson.dumps(inputs, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _run(row: Any) -> Run:
    values = dict(row._mapping)
    started = values["started_at"]
    if started.tzinfo is None:  # SQLite keeps no zone; the service writes UTC
        values["started_at"] = started.replace(tzinfo=UTC)
    values.setdefault("outputs", None)
    return Run(**values)


def _message(exc: Exception) -> str:
    return exc.detail if isinstance(exc, GisServiceError) else str(exc)


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _changed_layers(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int | None, int | None]]:
    return {name: (before.get(name), after.get(name)) for name in sorted(set(before) | set(after))
            if before.get(name) != after.get(name)}


def _scenario_input(params: dict[str, Any]) -> dict[str, Any]:
    return {"scenario": {"id": params["scenario_id"]}} if "scenario_id" in params else {}


# ---------------------------------------------------------------------- the analyses


def _method(params: dict[str, Any]) -> str:
    method = params.get("method") or "auto"
    if method not in METHODS:
        raise InvalidInputError(f"unknown method '{method}'; use auto, network or straight")
    return str(method)


def number_parameter(params: dict[str, Any], name: str) -> float | None:
    """A numeric parameter (None when absent); 400 when it is not a number."""
    value = params.get(name)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a number, not {value!r}") from None


def _coverage_params(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"standard": str(params.get("standard") or "centre"), "method": _method(params),
           "metres": number_parameter(params, "metres"), "minutes": number_parameter(params, "minutes")}
    standard_with(out["standard"], out["metres"], out["minutes"])  # 400 now rather than a failed run
    return out


def _coverage(engine: Engine, params: dict[str, Any]) -> Computed:
    chosen = standard_with(params["standard"], params["metres"], params["minutes"])
    snapshot = CoverageService(engine).read_snapshot(*coverage_layers(chosen))
    result = coverage_of(snapshot.frames, chosen, params["method"])
    return Computed(outputs.coverage_json(result), outputs.settlement_features(result),
                    {"layers": snapshot.versions})


def _one_plus_n_params(params: dict[str, Any]) -> dict[str, Any]:
    return {"method": _method(params)}


def _one_plus_n(engine: Engine, params: dict[str, Any]) -> Computed:
    snapshot = CoverageService(engine).read_snapshot(*ONE_PLUS_N_LAYERS)
    diagnoses = one_plus_n_of(snapshot.frames, params["method"])
    return Computed(outputs.one_plus_n_json(diagnoses, params["method"]), None, {"layers": snapshot.versions})


def _placement_request(params: dict[str, Any]) -> PlacementRequest:
    try:
        new_sites = int(params.get("new_sites", 1))
    except (TypeError, ValueError):
        raise InvalidInputError(f"new_sites must be a whole number, not {params.get('new_sites')!r}") from None
    return PlacementRequest(new_sites=new_sites, standard=str(params.get("standard") or "agency_station"),
                            source=params.get("source") or "idle", method=_method(params),  # type: ignore[arg-type]
                            metres=number_parameter(params, "metres"), model=params.get("model") or "mclp",
                            capacity=number_parameter(params, "capacity"))


def _placement_params(params: dict[str, Any]) -> dict[str, Any]:
    request = _placement_request(params)
    request.checked()
    return {"new_sites": request.new_sites, "standard": request.standard, "source": request.source,
            "method": request.method, "metres": request.metres, "model": request.model,
            "capacity": request.capacity}


def _placement(engine: Engine, params: dict[str, Any]) -> Computed:
    request = _placement_request(params)
    snapshot = CoverageService(engine).read_snapshot(*request.layers())
    outcome = place(snapshot.frames, request)
    return Computed(outputs.placement_json(outcome), outputs.placement_features(outcome),
                    {"layers": snapshot.versions}, solver=f"{outcome.result.model} {outcome.result.method} "
                    f"({'HiGHS' if outcome.result.method == 'exact' else 'greedy + local search'})",
                    objective=outcome.result.objective)


def _analysis(kind: str) -> Analysis:
    if kind == "scenario":
        from gis_service.services import scenario_evaluation  # it stores its runs here: imported late

        return Analysis(scenario_evaluation.normalise, scenario_evaluation.layers, scenario_evaluation.compute)
    analyses = {
        "coverage": Analysis(_coverage_params, lambda p: coverage_layers(
            standard_with(p["standard"], p["metres"], p["minutes"])), _coverage),
        "one_plus_n": Analysis(_one_plus_n_params, lambda p: ONE_PLUS_N_LAYERS, _one_plus_n),
        "placement": Analysis(_placement_params, lambda p: _placement_request(p).layers(), _placement),
    }
    if kind not in analyses:
        raise InvalidInputError(f"unknown kind of analysis '{kind}'; use one of {', '.join(KINDS)}")
    return analyses[kind]
