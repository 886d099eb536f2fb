from __future__ import annotations

import subprocess
import sys

import pytest

from gis_service.settings import Settings
from tests.conftest import ROOT


def test_env_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIS_DATABASE_URL", "postgresql+psycopg://u@/x")
    monkeypatch.setenv("GIS_LANGUAGE", "en")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://u@/x"
    assert not settings.is_spatialite
    assert settings.language == "en"


def test_default_is_spatialite_under_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GIS_DATABASE_URL", raising=False)
    assert Settings().database_url == "sqlite:///data/penglai.sqlite"


def test_language_is_checked() -> None:
    with pytest.raises(ValueError):
        Settings(language="fr")


def test_importing_the_package_connects_to_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Importing every module must not create the database file nor connect."""
    db = tmp_path / "never.sqlite"
    code = ("import gis_service.cli, gis_service.services.layers, gis_service.services.demo, "
            "gis_service.repositories.layers, gis_service.fileio.writers")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT,
                   env={"GIS_DATABASE_URL": f"sqlite:///{db}", "PATH": "/usr/bin:/bin"})
    assert not db.exists()


def test_configuration_reference_is_current() -> None:
    """docs/configuration.md is generated; regenerate with `python -m gis_service.settings > docs/configuration.md`."""
    from pathlib import Path

    from gis_service.settings import Settings, describe_markdown

    text = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert text == describe_markdown()
    for name in Settings.model_fields:
        row = next(line for line in text.splitlines() if line.startswith(f"| `GIS_{name.upper()}`"))
        assert row.rstrip(" |").split("|")[-1].strip(), f"{name} has no description"
