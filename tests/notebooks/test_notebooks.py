"""The notebooks in notebooks/ are executed, cell by cell, against a fresh demo database: a notebook that stops
running fails the suite (issue 8). All run on SpatiaLite; the planner's also on PostGIS."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import make_engine

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CELL_TIMEOUT_S = 600


def _execute(path: Path, workdir: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()
    return notebook


def _outputs(notebook: nbformat.NotebookNode) -> str:
    return json.dumps([cell.get("outputs", []) for cell in notebook.cells], ensure_ascii=False)


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_runs_on_spatialite(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIS_DATABASE_URL", f"sqlite:///{tmp_path / 'notebook.sqlite'}")
    monkeypatch.setenv("GIS_UPLOADS_DIR", str(tmp_path / "uploads"))
    notebook = _execute(NOTEBOOKS / name, tmp_path)
    assert all(cell.get("outputs") is not None for cell in notebook.cells if cell.cell_type == "code")
    assert "Traceback" not in _outputs(notebook)


def test_planner_notebook_runs_on_postgis(request: pytest.FixtureRequest, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine("postgis", request, tmp_path)  # the worker's PostGIS database, emptied
    monkeypatch.setenv("GIS_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("GIS_UPLOADS_DIR", str(tmp_path / "uploads"))
    engine.dispose()
    notebook = _execute(NOTEBOOKS / "2_planner_service_points.ipynb", tmp_path)
    assert "base layer" in _outputs(notebook)


def test_notebooks_are_committed_without_outputs() -> None:
    for path in NOTEBOOKS.glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        assert all(not cell.get("outputs") and cell.get("execution_count") is None
                   for cell in notebook.cells if cell.cell_type == "code"), path.name
