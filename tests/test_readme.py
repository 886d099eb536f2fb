"""The README's quick start, executed: every command it shows runs and prints what its comment says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"<!-- quickstart:begin -->\s*```sh\n(.*?)```\s*<!-- quickstart:end -->", re.DOTALL)


def quick_start() -> list[tuple[list[str], str]]:
    """(command words, expected text) for each line of the quick-start block."""
    block = BLOCK.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert block is not None, "README.md lost its quick-start block"
    steps = []
    for line in block.group(1).splitlines():
        command, _, expected = line.partition("# →")
        words = command.split()
        assert words[0] == ".venv/bin/gis-service" and expected.strip(), line
        steps.append((words, expected.strip()))
    return steps


def test_quick_start_runs_as_the_readme_says(tmp_path: Path) -> None:
    env = dict(os.environ, GIS_DATABASE_URL=f"sqlite:///{tmp_path / 'penglai.sqlite'}",
               GIS_UPLOADS_DIR=str(tmp_path / "uploads"), GIS_MAPS_DIR=str(tmp_path / "maps"), COLUMNS="200")
    gis = str(Path(sys.executable).with_name("gis-service"))
    steps = quick_start()
    assert len(steps) >= 5
    for words, expected in steps:
        done = subprocess.run([gis, *words[1:]], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"{' '.join(words)}\n{done.stdout}\n{done.stderr}"
        printed = " ".join(done.stdout.split())  # rich tables wrap anywhere
        assert expected in printed, f"{' '.join(words)} did not print '{expected}':\n{done.stdout[-2000:]}"
