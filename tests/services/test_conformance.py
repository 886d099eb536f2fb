"""Conformance from the database, on both backends: hand-made zones and assets, proposed sites, registration."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from gis_service.errors import InvalidInputError, NotFoundError
from gis_service.services.conformance import ConformanceService, judged_json
from gis_service.services.ledger_registration import LedgerRegistrationService
from tests import conformance_town
from tests.services.small_town import lon_lat


@pytest.fixture
def town(engine: Engine, tmp_path: Path) -> Engine:
    conformance_town.load(engine, tmp_path)
    return engine


def test_assets_as_they_stand_agree_with_registration(town: Engine) -> None:
    judged = ConformanceService(town).layer("assets")
    verdicts = {judged.features["code"][v.feature]: v.verdict for v in judged.verdicts}
    assert verdicts == {"T-A": "conforming", "T-AB": "not_conforming", "T-B": "conforming", "T-C": "conforming",
                        "T-D": "conforming", "T-OUT": "unknown"}
    registration = {a.code: a.conformance.conforming for a in LedgerRegistrationService(town).report().assets}
    expected = {True: "conforming", False: "not_conforming", None: "unknown"}
    assert {code: expected[c] for code, c in registration.items()} == verdicts


def test_intended_use_for_every_asset(town: Engine) -> None:
    body = judged_json(ConformanceService(town).layer("assets", use="民宿"), "en")
    by_code = {row["code"]: row for row in body["features"]}
    assert by_code["T-C"]["verdict"] == "conditional" and by_code["T-C"]["use"] == "homestay"
    assert by_code["T-AB"]["verdict"] == "not_conforming" and by_code["T-AB"]["on_permanent_farmland"]
    assert [(z["code"], z["area_m2"], z["share"]) for z in by_code["T-AB"]["zones"]] == \
        [("A", 800.0, 0.5), ("B", 800.0, 0.5)]
    assert body["counts"] == {"conforming": 0, "conditional": 1, "not_conforming": 4, "unknown": 1}


def test_one_feature_and_bad_requests(town: Engine) -> None:
    service = ConformanceService(town)
    assert [v.verdict for v in service.layer("assets", use="workshop", code="T-D").verdicts] == ["conditional"]
    with pytest.raises(NotFoundError):
        service.layer("assets", code="NOPE")
    with pytest.raises(InvalidInputError, match="unknown use"):
        service.layer("assets", use="sauna")
    with pytest.raises(InvalidInputError, match="unknown layer"):
        service.layer("roads")


def test_proposed_sites(town: Engine) -> None:
    sites = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": lon_lat(conformance_town.X0 + 150,
                                                                                 conformance_town.Y0 + 50)},
         "properties": {"use": "workshop", "code": "P1"}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[
            [conformance_town.X0 + x, conformance_town.Y0 + y] for x, y in
            ((10, 10), (50, 10), (50, 50), (10, 50), (10, 10))]]}, "properties": {"use": "便民服务代办站"}}]}
    with pytest.raises(InvalidInputError, match="not a GeoJSON geometry|CRS"):
        ConformanceService(town).sites({**sites, "features": [{"properties": {"use": "shop"}}]})
    sites["features"][1]["geometry"]["coordinates"] = [[lon_lat(conformance_town.X0 + x, conformance_town.Y0 + y)
                                                       for x, y in ((10, 10), (50, 10), (50, 50), (10, 50),
                                                                    (10, 10))]]
    judged = ConformanceService(town).sites(sites)
    assert [v.verdict for v in judged.verdicts] == ["not_conforming", "conforming"]
    assert judged.verdicts[1].zones[0].area_m2 == pytest.approx(1600.0, abs=0.5)
    with pytest.raises(InvalidInputError, match=r"features\[0\]\.properties\.use"):
        ConformanceService(town).sites({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [105.2, 30.6]}, "properties": {}}]})
