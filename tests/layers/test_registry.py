from __future__ import annotations

from gis_service.layers.codelists import CODELISTS, code_lookup, label
from gis_service.layers.registry import describe_markdown, get_layer, list_layers
from tests.conftest import ROOT


def test_docs_layers_md_is_current() -> None:
    """docs/layers.md is generated; regenerate with `gis-service layers describe > docs/layers.md`."""
    assert (ROOT / "docs" / "layers.md").read_text(encoding="utf-8").strip() == describe_markdown().strip()


def test_every_layer_has_code_name_and_geometry() -> None:
    for spec in list_layers():
        assert spec.fields[0].name == "code" and spec.fields[0].info.required
        assert any(f.name == "name" for f in spec.fields)
        assert spec.geometry_type in ("POINT", "MULTILINESTRING", "MULTIPOLYGON")
        assert all(f.info.codelist in CODELISTS for f in spec.fields if f.info.codelist)


def test_layers_found_by_chinese_or_english_title() -> None:
    assert get_layer("公有资产").name == "assets"
    assert get_layer("Settlements").name == "settlements"


def test_code_lists_accept_codes_and_both_labels() -> None:
    lookup = code_lookup("use_status")
    assert lookup["闲置"] == lookup["idle"] == lookup["IDLE".casefold()] == "idle"
    assert label("use_status", "partly_idle") == "部分闲置"
    assert label("use_status", "partly_idle", "en") == "partly idle"
