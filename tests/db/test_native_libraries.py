"""SpatiaLite and the geo wheels in one process: each library keeps its own PROJ, GEOS and GDAL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

VERSIONS = "import pyproj, pyogrio; print(pyproj.proj_version_str, pyogrio.__gdal_geos_version__)"


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_connecting_before_importing_the_wheels_neither_mixes_libraries_nor_crashes_at_exit(tmp_path: Path) -> None:
    # mod_spatialite is loaded RTLD_GLOBAL; wheels loaded after it used to bind to Debian's PROJ/GEOS and abort at exit.
    alone = _python(VERSIONS)
    after_spatialite = _python(
        "from gis_service.db.engine import create_db_engine\n"
        "from gis_service.settings import Settings\n"
        f"create_db_engine(Settings(database_url='sqlite:///{tmp_path / 'native.sqlite'}')).connect().close()\n"
        + VERSIONS
    )
    assert alone.returncode == 0, alone.stderr
    assert after_spatialite.returncode == 0, after_spatialite.stderr
    assert after_spatialite.stdout == alone.stdout
