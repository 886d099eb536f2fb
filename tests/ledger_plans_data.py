"""Small hand-made data for the revitalisation plan and document tests: five assets, files of each type."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from sqlalchemy import Engine

from gis_service.access import Principal, Role
from gis_service.crs import CRS84_URI, parse_crs
from gis_service.layers.registry import get_layer
from gis_service.services.edits import EditService

VILLAGE_A = "510923100201"
VILLAGE_B = "510923100202"
# code: (ownership, use_status, village_code)
ASSETS: dict[str, tuple[str, str, str | None]] = {
    "JT510923100201-901": ("village_collective", "idle", VILLAGE_A),
    "JT510923100202-901": ("village_collective", "partly_idle", VILLAGE_B),
    "GY510923100-901": ("town_state", "idle", None),
    "JT510923100201-902": ("village_collective", "in_use", VILLAGE_A),
    "JT510923100201-903": ("village_collective", "leased", VILLAGE_A),
}
IDLE_A, IDLE_B, TOWN_IDLE, IN_USE, LEASED = ASSETS
SETUP = Principal("setup", Role.ADMIN)
ADMIN = Principal("zhang_admin", Role.ADMIN)
EDITOR_A = Principal("chen_cadre", Role.EDITOR, (VILLAGE_A,))
VIEWER = Principal("wang_leader", Role.VIEWER)
PLANNER = Principal("zhao_planner", Role.PLANNER)


def add_assets(engine: Engine) -> None:
    """Store two villages and the five assets of :data:`ASSETS` as an admin would, through the edit service."""
    edits = EditService(engine)
    for i, village in enumerate((VILLAGE_A, VILLAGE_B)):
        x = 105.24 + i / 10
        ring = [[x, 30.55], [x + 0.09, 30.55], [x + 0.09, 30.65], [x, 30.65], [x, 30.55]]
        feature = {"type": "Feature", "geometry": {"type": "MultiPolygon", "coordinates": [[ring]]},
                   "properties": {"code": village, "name": f"测试村{i}", "kind": "village"}}
        edits.create(get_layer("villages"), feature, parse_crs(CRS84_URI), SETUP)
    for i, (code, (ownership, use_status, village)) in enumerate(ASSETS.items()):
        feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [105.25 + i / 100, 30.60]},
                   "properties": {"code": code, "name": f"测试资产{i}", "ownership": ownership,
                                  "asset_class": "non_operating", "category": "village_office",
                                  "use_status": use_status, "village_code": village}}
        edits.create(get_layer("assets"), feature, parse_crs(CRS84_URI), SETUP)


def plan_fields(asset_code: str = IDLE_A, **overrides: Any) -> dict[str, Any]:
    """A valid new plan for a village-collective asset (codes and Chinese labels mixed, as clerks type them)."""
    return {"asset_code": asset_code, "mode": "便民服务提升", "target_use": "agency_station",
            "lead_unit": "蓬莱镇党政办", "responsible_person": "李明", "planned_on": "2021-06-01",
            "deadline": "2021-12-31", **overrides}


def image(fmt: str = "JPEG", colour: tuple[int, int, int] = (200, 30, 30), size: int = 16) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, fmt)
    return buffer.getvalue()


def pdf(text: str = "佐证") -> bytes:
    body = f"1 0 obj << /Title ({text.encode().hex()}) >> endobj\n".encode()
    return b"%PDF-1.4\n" + body + b"trailer << /Root 1 0 R >>\n%%EOF\n"


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200 + b"This program cannot be run"
