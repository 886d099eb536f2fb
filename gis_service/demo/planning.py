"""The demo town's planning map (国土空间规划"一张图"): land-use parcels that tile the town, and control lines.

Every point of the town lies in exactly one land-use parcel (用地图斑), as in a township plan's land-use map;
the control lines (三区三线) are parcels too, except the town development boundary (城镇开发边界), which is one
polygon laid over the parcels inside it. Parcels are painted in order of precedence, each losing what the
ones before it cover (on a 5 cm grid):

1. the ecological red lines (the rivers with their banks, the hill's woods) and the river in town;
2. the surveyed footprints of resource assets (ponds, reservoirs, woods, collective land);
3. a plot for every public building, of the land use that fits it, limited by its Voronoi cell among all
   buildings and homes so that no plot covers another building or a home;
4. homesteads (农村宅基地) round the settlements outside the development boundary;
5. county and township roads (公路用地);
6. the rest: town blocks inside the development boundary, fields and woods outside it, cut at village
   borders and into parcels by straight field edges; slivers join a neighbour.

Finally every parcel is rebuilt from the faces of all parcel edges noded together, so that neighbours share
exactly the same vertices and the tiling survives rounding the coordinates.

A few conflicts are planted on purpose for the registration and planning checks to find (``PlanningMap.conflicts``):
two idle village buildings on permanent basic farmland, one inside the ecological red line, and one collective
land footprint straddling construction land and permanent basic farmland.

Land-use codes and names follow 《国土空间调查、规划、用途管制用地用海分类指南》(自然资源部,
2023): 01 耕地, 03 林地, 04 草地, 06 农业设施建设用地 (0601 is 农村道路, 0602 设施农用地), 07 居住用地,
08 公共管理与公共服务用地, 09 商业服务业用地, 10 工矿用地, 11 仓储用地, 12 交通运输用地, 13 公用设施用地,
14 绿地与开敞空间用地, 17 陆地水域.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString, MultiPoint, MultiPolygon, Point, Polygon, box

GRID = 0.05  # metres: every parcel is snapped to this grid, so shared edges are identical
PLAN_NAME = "蓬莱镇国土空间总体规划(2021-2035年)"
LAND_USE = {  # 用地用海分类 (自然资源部, 2023): the codes the demo uses
    "0101": "水田", "0103": "旱地", "0301": "乔木林地", "0403": "其他草地", "0602": "设施农用地",
    "0701": "城镇住宅用地", "0702": "城镇社区服务设施用地", "0703": "农村宅基地", "0704": "农村社区服务设施用地",
    "0801": "机关团体用地", "0803": "文化用地", "0804": "教育用地", "0806": "医疗卫生用地", "0807": "社会福利用地",
    "0901": "商业用地", "1001": "工业用地", "1101": "物流仓储用地", "1202": "公路用地", "1208": "交通场站用地",
    "1303": "供电用地", "1401": "公园绿地", "1701": "河流水面", "1703": "水库水面", "1704": "坑塘水面",
}
ZONE_PREFIX = {
    "development_boundary": "CZKFBJ", "ecological_redline": "STBHHX", "village_construction": "CZJSYD",
    "permanent_farmland": "YJJBNT", "general_farmland": "YBGD", "forest": "LD", "water": "SY", "other": "QTYD",
}
BUILDING_LAND_USE = {  # asset category -> land use of its plot
    "village_office": "0704", "culture_room": "0704", "clinic": "0806", "school": "0804", "nursing_home": "0807",
    "office": "0801", "shop": "0901", "factory": "1001", "warehouse": "1101",
}
TOWN_BUILDING_LAND_USE = {"village_office": "0702", "culture_room": "0803"}  # inside the development boundary
OTHER_LAND_USE = {"农机具库棚": "0602", "农产品晾晒场": "0602", "集体停车场": "1208", "光伏发电站": "1303"}
FACILITY_LAND_USE = {"health_centre": "0806", "village_clinic": "0806", "culture_room": "0704",
                     "nursing_home": "0807", "elderly_day_care": "0807"}
# Collective land by what its name says it is: reserve farmland, waste land (四荒地), construction land.
COLLECTIVE_LAND = {"集体机动地": ("general_farmland", None), "四荒地": ("other", "0403"),
                   "集体建设用地": ("village_construction", "1001")}
ROAD_HALF_WIDTH = {"county": 8.0, "township": 5.0}  # 公路用地 corridors; village roads and tracks need none
TOWN_USES = (("1001", 0.3), ("1101", 0.15), ("0901", 0.2), ("1401", 0.35))  # town blocks without homes
OUTSIDE_ONLY = frozenset({"village_construction", "permanent_farmland", "general_farmland"})
BUILDINGS_ON_FARMLAND = 2
CRUMB_M2 = 100.0  # road or remainder pieces this small join a neighbour whatever it is


@dataclass(frozen=True)
class Area:
    """A cell of the village tiling (former village or community), and the village it belongs to."""

    poly: Polygon
    kind: str  # "former" or "community"
    village: str  # name of the merged village or community


@dataclass(frozen=True)
class Home:
    """A settlement point: where it is, its cell (index into ``areas``), its 村民小组 and population."""

    xy: np.ndarray
    area: int
    group: int
    population: int


@dataclass(frozen=True)
class Water:
    name: str
    line: LineString
    width: float


@dataclass(frozen=True)
class Road:
    name: str
    road_class: str
    lines: tuple[LineString, ...]


@dataclass
class PlanningInput:
    """What the planning map is drawn from, in EPSG:4544 metres (asset, school and facility rows as dicts with
    ``geometry`` points; resource assets with a ``footprint`` polygon)."""

    seed: int
    town: Polygon
    centre: np.ndarray
    areas: list[Area]
    homes: list[Home]
    rivers: list[Water]
    hill: Polygon
    hill_name: str
    roads: list[Road]
    assets: list[dict[str, Any]]
    schools: list[dict[str, Any]]
    facilities: list[dict[str, Any]]
    avoid: frozenset[str] = frozenset()  # asset codes not to plant conflicts on (other planted mistakes)


@dataclass
class PlanningMap:
    """Planning zone rows (model columns, geometry in EPSG:4544) and the asset codes planted as conflicts."""

    zones: list[dict[str, Any]]
    conflicts: list[str]


@dataclass
class _Piece:
    geom: shapely.Geometry
    zone_type: str
    land_use: str | None
    name: str
    inside: bool = False  # inside the development boundary (remainder pieces)
    pinned: bool = False  # planted farmland: never merged away
    remainder: bool = False  # typed once slivers are merged


@dataclass
class _Conflicts:
    farmland: list[dict[str, Any]] = field(default_factory=list)
    redline: dict[str, Any] | None = None
    straddler: dict[str, Any] | None = None

    def codes(self) -> list[str]:
        rows = [*self.farmland, self.redline, self.straddler]
        return [r["code"] for r in rows if r is not None]

    def buildings(self) -> list[dict[str, Any]]:
        return [*self.farmland, *([self.redline] if self.redline else [])]


# ------------------------------------------------------------------------------------------ helpers
def _polygons(geom: shapely.Geometry) -> list[Polygon]:
    return [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and not p.is_empty]


def _multi(geom: shapely.Geometry) -> MultiPolygon:
    return MultiPolygon(_polygons(geom))


def _union(geoms: Sequence[shapely.Geometry] | np.ndarray) -> shapely.Geometry:
    return shapely.union_all(np.asarray(list(geoms), dtype=object), grid_size=GRID)


def _minus(a: shapely.Geometry, b: shapely.Geometry) -> MultiPolygon:
    return _multi(shapely.difference(a, b, grid_size=GRID))


def _within(a: shapely.Geometry, b: shapely.Geometry) -> MultiPolygon:
    return _multi(shapely.intersection(a, b, grid_size=GRID))


def _xy(row: dict[str, Any]) -> np.ndarray:
    return np.asarray(row["geometry"].coords[0])


def _is_building(row: dict[str, Any]) -> bool:
    return row.get("footprint") is None


def _zone(piece: _Piece) -> dict[str, Any]:
    return {"code": "", "name": piece.name, "zone_type": piece.zone_type, "land_use_code": piece.land_use,
            "land_use_name": LAND_USE.get(piece.land_use or ""), "plan_name": PLAN_NAME,
            "geometry": _multi(piece.geom if piece.geom.is_valid else shapely.make_valid(piece.geom))}


class _Canvas:
    """Parcels painted so far; each new one loses what is painted already (and what earlier ones of its layer cover)."""

    def __init__(self) -> None:
        self.pieces: list[_Piece] = []

    def paint(self, layer: Sequence[_Piece]) -> None:
        done = np.array([p.geom for p in self.pieces], dtype=object)
        tree = shapely.STRtree(done)
        raw = np.array([p.geom for p in layer], dtype=object)
        layer_tree = shapely.STRtree(raw)
        kept: dict[int, _Piece] = {}
        for i, piece in enumerate(layer):
            over = list(done[tree.query(piece.geom, predicate="intersects")])
            over += [kept[j].geom for j in sorted(layer_tree.query(piece.geom, predicate="intersects"))
                     if j < i and j in kept]
            geom = _minus(piece.geom, _union(over)) if over else shapely.set_precision(piece.geom, GRID)
            if _polygons(geom):
                kept[i] = replace(piece, geom=_multi(geom))
        self.pieces += list(kept.values())

    def rest_of(self, area: Polygon) -> shapely.Geometry:
        """The part of ``area`` nothing covers yet."""
        done = np.array([p.geom for p in self.pieces], dtype=object)
        over = done[shapely.STRtree(done).query(area, predicate="intersects")]
        return _minus(area, _union(over)) if len(over) else _multi(shapely.set_precision(area, GRID))


# ------------------------------------------------------------------------------------ control lines
def development_boundary(inputs: PlanningInput) -> Polygon:
    """城镇开发边界: the built-up town and room to grow, drawn round the community settlements."""
    pts = [Point(h.xy).buffer(220.0, 4) for h in inputs.homes if inputs.areas[h.area].kind == "community"]
    blob = shapely.union_all([*pts, Point(inputs.centre).buffer(650.0)]).buffer(180.0).buffer(-180.0)
    blob = blob.intersection(inputs.town.buffer(-30.0)).simplify(10.0)
    return max(_polygons(blob), key=lambda p: p.area)


def _people(inputs: PlanningInput, home_r: float, other_r: float, skip: frozenset[str] = frozenset()
            ) -> shapely.Geometry:
    """Discs round homes, buildings, schools and facilities, and the footprints a little enlarged."""
    discs = [Point(h.xy).buffer(home_r, 4) for h in inputs.homes]
    for rows in (inputs.schools, inputs.facilities, inputs.assets):
        discs += [row["geometry"].buffer(other_r, 4) for row in rows if row.get("code") not in skip]
    discs += [row["footprint"].buffer(5.0) for row in inputs.assets
              if row.get("footprint") is not None and row["code"] not in skip]
    return shapely.union_all(discs)


def _red_lines(inputs: PlanningInput, dev: Polygon, conflicts: _Conflicts) -> list[_Piece]:
    """The rivers with 30 m of bank and the wooded hill away from people, both outside the town, and (planted)
    a small water-conservation wood drawn round an idle building."""
    water = shapely.union_all([r.line.buffer(r.width / 2 + 30.0) for r in inputs.rivers]).intersection(inputs.town)
    water = water.difference(dev)
    hill = inputs.hill.difference(shapely.union_all([_people(inputs, 90.0, 40.0), water, dev]))
    names = "".join(r.name for r in inputs.rivers)
    pieces = [_Piece(water, "ecological_redline", "1701", f"{names}生态保护红线"),
              _Piece(hill, "ecological_redline", "0301", f"{inputs.hill_name}生态保护红线")]
    if conflicts.redline is not None:
        here = conflicts.redline["geometry"]
        village = min(inputs.areas, key=lambda a: a.poly.distance(here)).village
        pieces.append(_Piece(_grove(inputs, dev, conflicts.redline).difference(water), "ecological_redline", "0301",
                             f"{village}水源涵养林生态保护红线"))
    return pieces


def _grove(inputs: PlanningInput, dev: Polygon, row: dict[str, Any]) -> shapely.Geometry:
    """A wood of about 15 ha with the building ``row`` inside its edge, keeping clear of everyone else."""
    rng = np.random.default_rng([inputs.seed, 22])
    here = np.asarray(row["geometry"].coords[0])
    homes = np.array([h.xy for h in inputs.homes])
    away = here - homes[np.argmin(np.hypot(*(homes - here).T))]
    centre = here + 120.0 * away / max(float(np.hypot(*away)), 1.0)
    theta = np.linspace(0.0, 2 * np.pi, 48, endpoint=False)
    radius = np.full(len(theta), 220.0)
    for k in range(2, 5):  # an irregular outline, as woods have
        radius += 220.0 * 0.12 / k * np.sin(k * theta + rng.uniform(0.0, 2 * np.pi))
    wood = Polygon(centre + radius[:, None] * np.column_stack([np.cos(theta), np.sin(theta)]))
    others = _people(inputs, 60.0, 40.0, skip=frozenset({row["code"]}))
    return wood.difference(others.union(dev)).intersection(inputs.town)


def _pick_conflicts(inputs: PlanningInput, dev: Polygon) -> _Conflicts:
    """Idle village buildings without full documents for the farmland and red-line conflicts, and a collective
    construction-land footprint to straddle the farmland edge."""
    homes = MultiPoint([h.xy for h in inputs.homes])
    trunk = shapely.union_all([ln for r in inputs.roads if r.road_class in ROAD_HALF_WIDTH for ln in r.lines])
    footprints = shapely.union_all([r["footprint"] for r in inputs.assets if r.get("footprint") is not None])
    hill = inputs.hill.buffer(100.0)
    candidates = [r for r in inputs.assets
                  if _is_building(r) and r["ownership"] == "village_collective" and r["use_status"] == "idle"
                  and r["category"] != "shop" and r["code"] not in inputs.avoid
                  and not dev.buffer(50.0).contains(r["geometry"]) and not hill.contains(r["geometry"])
                  and r["geometry"].distance(trunk) > 25.0 and r["geometry"].distance(footprints) > 30.0]

    def papers(row: dict[str, Any]) -> bool:  # registered or fully documented: no plan-first case
        return bool(row.get("certificate_no")) or row.get("documents_status") == "complete"

    conflicts = _Conflicts()
    remote = sorted(candidates, key=lambda r: (papers(r), -round(r["geometry"].distance(homes)), r["code"]))
    for row in remote:
        if row["geometry"].distance(homes) < 150.0 or len(conflicts.farmland) == BUILDINGS_ON_FARMLAND:
            break
        if all(row["village_code"] != other["village_code"] for other in conflicts.farmland):
            conflicts.farmland.append(row)
    red = shapely.union_all([inputs.hill, *(r.line.buffer(r.width / 2 + 30.0) for r in inputs.rivers)])
    lonely = [r for r in candidates if r not in conflicts.farmland and _alone(inputs, r)]
    if lonely:  # the one nearest the red lines drawn already
        conflicts.redline = min(lonely, key=lambda r: (papers(r), round(r["geometry"].distance(red)), r["code"]))
    land = [r for r in inputs.assets if r["category"] == "land" and "集体建设用地" in r["name"]
            and r["code"] not in inputs.avoid and not dev.buffer(100.0).intersects(r["footprint"])]
    if land:
        conflicts.straddler = min(land, key=lambda r: (papers(r), r["code"]))
    return conflicts


def _alone(inputs: PlanningInput, row: dict[str, Any]) -> bool:
    """No home within 80 m and no other building within 60 m: a tongue of red line can reach it alone."""
    here = row["geometry"]
    near_home = any(np.hypot(*(h.xy - np.asarray(here.coords[0]))) < 80.0 for h in inputs.homes)
    others = [r for rows in (inputs.assets, inputs.schools, inputs.facilities) for r in rows
              if r.get("code") != row["code"]]
    return not near_home and all(r["geometry"].distance(here) >= 60.0 for r in others)


# ---------------------------------------------------------------------------------------- parcels
def _river_in_town(inputs: PlanningInput, dev: Polygon) -> list[_Piece]:
    water = shapely.union_all([r.line.buffer(r.width / 2 + 5.0) for r in inputs.rivers]).intersection(dev)
    return [_Piece(water, "water", "1701", f"{inputs.rivers[0].name}河流水面")] if not water.is_empty else []


def _footprints(inputs: PlanningInput, dev: Polygon, conflicts: _Conflicts) -> list[_Piece]:
    """Each resource asset's footprint as a parcel of what it is; the straddler half construction land, half
    (with the field beside it) permanent basic farmland."""
    near_water = shapely.union_all([r.line for r in inputs.rivers])
    pieces = []
    for row in inputs.assets:
        shape = row.get("footprint")
        if shape is None:
            continue
        zone_type, land_use = _resource_land(row, shape.distance(near_water) < 1200.0)
        if row is conflicts.straddler:
            built, farmed = _straddle(inputs, row)
            pieces.append(_Piece(built, zone_type, land_use, row["name"]))
            pieces.append(_Piece(farmed, "permanent_farmland", "0103", f"{row['name']}旁永久基本农田", pinned=True))
            continue
        if zone_type in OUTSIDE_ONLY and dev.intersects(shape):  # no farmland or village land in the town
            pieces.append(_Piece(shape.intersection(dev), "other", land_use or "0403", row["name"]))
            shape = shape.difference(dev)
        pieces.append(_Piece(shape, zone_type, land_use, row["name"]))
    return pieces


def _resource_land(row: dict[str, Any], near_water: bool) -> tuple[str, str | None]:
    category = row["category"]
    if category == "pond":
        return "water", "1704"
    if category == "reservoir":
        return "water", "1703"
    if category == "forest":
        return "forest", "0301"
    zone_type, land_use = next((v for k, v in COLLECTIVE_LAND.items() if k in row["name"]), ("general_farmland", None))
    if land_use is None:  # farmland: paddy by the streams, dry land higher up (stable, no draw)
        land_use = "0101" if near_water else "0103"
    return zone_type, land_use


def _straddle(inputs: PlanningInput, row: dict[str, Any]) -> tuple[shapely.Geometry, shapely.Geometry]:
    """The footprint cut north-south a little east of its point: the west part (with the point) stays
    construction land, the east part and the field east of it are permanent basic farmland."""
    shape, x = row["footprint"], float(row["geometry"].x)
    minx, miny, maxx, maxy = shape.bounds
    cut = x + 0.3 * (maxx - x)
    west = shape.intersection(box(minx - 1.0, miny - 1.0, cut, maxy + 1.0))
    east = shape.difference(west)
    others = _people(inputs, 60.0, 40.0, skip=frozenset({row["code"]}))
    field_ = east.buffer(60.0).difference(west.buffer(1.0)).difference(others)
    return west, east.union(field_).intersection(inputs.town)


def _plots(inputs: PlanningInput, dev: Polygon, conflicts: _Conflicts) -> list[_Piece]:
    """A plot round every building (assets, open schools, facilities without an asset), facing its road."""
    sites: list[tuple[dict[str, Any], float, str]] = []
    for row in inputs.assets:
        if _is_building(row) and not any(row["geometry"].distance(r["geometry"]) < 5.0 for r, _, _ in sites):
            sites.append((row, _plot_side(row), _building_land(row, bool(dev.contains(row["geometry"])))))
        # else: the same building entered twice in the ledger (a planted mistake); one plot holds both points
    asset_xy = np.array([_xy(r) for r in inputs.assets])
    for row in [*inputs.schools, *inputs.facilities]:
        if np.hypot(*(asset_xy - _xy(row)).T).min() < 1.0:
            continue  # the building is an asset already
        if "level" not in row:
            sites.append((row, 90.0 if row["kind"] == "health_centre" else 40.0, FACILITY_LAND_USE[row["kind"]]))
        elif row["status"] == "open":  # about 12 m² of school land per pupil place
            sites.append((row, float(np.clip(math.sqrt(row["capacity"] * 12.0), 60.0, 180.0)), "0804"))
    cells = _cells([r for r, _, _ in sites], inputs)
    lines = [ln for road in inputs.roads for ln in road.lines]
    tree = shapely.STRtree(lines)
    planted = {r["code"] for r in conflicts.buildings()}
    pieces = []
    for (row, side, land_use), cell in zip(sites, cells, strict=True):
        if row.get("code") in planted:
            continue  # no plot: the building stands on what the plan says is farmland or red line
        here = row["geometry"]
        inside = bool(dev.contains(here))
        road = lines[int(tree.nearest(here))]
        square = affinity.rotate(box(here.x - side / 2, here.y - side / 2, here.x + side / 2, here.y + side / 2),
                                 _heading(road, here), origin=here, use_radians=True)
        plot = square.intersection(cell)
        plot = plot.intersection(dev) if inside else plot.difference(dev)
        pieces.append(_Piece(plot, "other" if inside else "village_construction", land_use, f"{row['name']}用地"))
    return pieces


def _plot_side(row: dict[str, Any]) -> float:
    side = math.sqrt(row.get("land_area") or 900.0)
    if row["category"] == "village_office" and row["name"].endswith("党群服务中心"):
        side = max(side, 70.0)  # the central position: office, square and car park
    return float(np.clip(side, 25.0, 90.0))


def _building_land(row: dict[str, Any], inside: bool) -> str:
    category = row["category"]
    if category == "other":
        return OTHER_LAND_USE.get(row["former_use"], "0602")
    if inside and category in TOWN_BUILDING_LAND_USE:
        return TOWN_BUILDING_LAND_USE[category]
    return BUILDING_LAND_USE[category]


def _heading(road: LineString, here: Point) -> float:
    at = road.project(here)
    a, b = road.interpolate(max(at - 5.0, 0.0)), road.interpolate(min(at + 5.0, road.length))
    return math.atan2(b.y - a.y, b.x - a.x)


def _cells(rows: list[dict[str, Any]], inputs: PlanningInput) -> list[shapely.Geometry]:
    """Voronoi cells of the buildings among all buildings and homes (homes and planted buildings included, so no
    plot covers them)."""
    xy = np.vstack([np.array([_xy(r) for r in rows]), np.array([h.xy for h in inputs.homes])])
    cells = shapely.voronoi_polygons(MultiPoint(xy), extend_to=inputs.town.buffer(500.0), ordered=True)
    return list(shapely.get_parts(cells))[: len(rows)]


def _homesteads(inputs: PlanningInput, dev: Polygon) -> list[_Piece]:
    """农村宅基地 round the settlements outside the town, cut at village borders."""
    pieces = []
    counters: dict[str, int] = {}
    for k, area in enumerate(inputs.areas):
        homes = [h for h in inputs.homes if h.area == k and not dev.contains(Point(h.xy))]
        if not homes:
            continue
        patch = shapely.union_all([Point(h.xy).buffer(70.0, 4) for h in homes]).buffer(40.0, 4).buffer(-40.0, 4)
        patch = patch.simplify(5.0).intersection(area.poly).difference(dev)
        xy = np.array([h.xy for h in homes])
        for part in sorted(_polygons(patch), key=lambda p: (p.centroid.x, p.centroid.y)):
            inside = shapely.contains_xy(part, xy[:, 0], xy[:, 1])
            if not inside.any():
                continue
            home = max((homes[i] for i in np.flatnonzero(inside)), key=lambda h: h.population)
            counters[area.village] = counters.get(area.village, 0) + 1
            group = f"{home.group}组" if area.kind == "former" else ""
            pieces.append(_Piece(part, "village_construction", "0703",
                                 f"{area.village}{group}农村宅基地{counters[area.village]:02d}"))
    return pieces


def _roads(inputs: PlanningInput) -> list[_Piece]:
    """公路用地 of the county and township roads, giving way to homes by the roadside."""
    homes = shapely.union_all([Point(h.xy).buffer(10.0, 4) for h in inputs.homes])
    pieces = []
    for road in inputs.roads:
        half = ROAD_HALF_WIDTH.get(road.road_class)
        if half is None:
            continue
        corridor = shapely.union_all([ln.buffer(half, cap_style="flat") for ln in road.lines])
        pieces.append(_Piece(corridor.intersection(inputs.town).difference(homes), "other", "1202",
                             f"{road.name}公路用地"))
    return pieces


# -------------------------------------------------------------------------------------- remainder
def _split_rest(inputs: PlanningInput, canvas: _Canvas, dev: Polygon) -> list[_Piece]:
    """What is left, cut at village borders and into blocks (town, about 3 ha) or fields (about 20 ha)."""
    rng = np.random.default_rng([inputs.seed, 21])
    outside = inputs.town.difference(dev)
    grids = [(True, dev, _seeds(rng, dev, 3e4)), (False, outside, _seeds(rng, outside, 2e5))]
    pieces = []
    for area in inputs.areas:
        rest = canvas.rest_of(area.poly)
        for inside, region, cells in grids:
            part = _within(rest, region)
            if part.is_empty:
                continue
            for k in sorted(shapely.STRtree(cells).query(part, predicate="intersects")):
                for poly in _polygons(_within(part, cells[k])):
                    pieces.append(_Piece(poly, "", None, "", inside=inside, remainder=True))
    return pieces


def _seeds(rng: np.random.Generator, region: shapely.Geometry, cell_area: float) -> np.ndarray:
    """Voronoi cells of about ``cell_area`` m² over ``region``: straight block and field edges."""
    minx, miny, maxx, maxy = region.bounds
    cand = rng.uniform([minx, miny], [maxx, maxy], (max(8, int(4 * (maxx - minx) * (maxy - miny) / cell_area)), 2))
    cand = cand[shapely.contains_xy(region, cand[:, 0], cand[:, 1])][: max(1, math.ceil(region.area / cell_area))]
    cells = shapely.voronoi_polygons(MultiPoint(cand), extend_to=region.buffer(500.0), ordered=True)
    return np.asarray(shapely.get_parts(cells), dtype=object)


def _merge_slivers(pieces: list[_Piece]) -> list[_Piece]:
    """Remainder pieces under 2 ha (fields) or 0.2 ha (town) join the neighbour they share most border with:
    another piece of the remainder on the same side of the development boundary if there is one."""
    geoms = np.array([p.geom for p in pieces], dtype=object)
    tree = shapely.STRtree(geoms)
    parent = list(range(len(pieces)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    areas = shapely.area(geoms)
    small = [i for i, p in enumerate(pieces) if areas[i] < CRUMB_M2 and p.land_use in ("1202", None)
             or p.remainder and not p.pinned and areas[i] < (2e3 if p.inside else 2e4)]
    for i in sorted(small, key=lambda i: (areas[i], i)):
        best = _best_neighbour(pieces, geoms, tree, i, strict=True)
        if best < 0 and areas[i] < CRUMB_M2:  # a crumb wedged between the town and the red line: anywhere
            best = _best_neighbour(pieces, geoms, tree, i, strict=False)
        if best >= 0 and find(i) != find(best):
            parent[find(i)] = find(best)
    groups: dict[int, list[int]] = {}
    for i in range(len(pieces)):
        groups.setdefault(find(i), []).append(i)
    merged = []
    for root in sorted(groups):
        members = groups[root]
        geom = geoms[root] if len(members) == 1 else _union(geoms[members])
        merged.append(replace(pieces[root], geom=_multi(geom), pinned=any(pieces[m].pinned for m in members)))
    return merged


def _best_neighbour(pieces: list[_Piece], geoms: np.ndarray, tree: shapely.STRtree, i: int, *, strict: bool) -> int:
    """The piece ``i`` shares most border with (remainder pieces count double), or -1."""
    best, best_score = -1, 0.0
    for j in sorted(tree.query(geoms[i], predicate="intersects")):
        if j == i or (strict and not _may_join(pieces[i], pieces[j])):
            continue
        border = float(shapely.length(shapely.intersection(geoms[i].boundary, geoms[j].boundary)))
        score = border * (2.0 if pieces[j].remainder else 1.0)
        if score > best_score:
            best, best_score = int(j), score
    return best


def _may_join(piece: _Piece, other: _Piece) -> bool:
    if other.remainder:
        return other.inside == piece.inside
    return not (piece.inside and other.zone_type in OUTSIDE_ONLY)


def _type_rest(inputs: PlanningInput, pieces: list[_Piece], conflicts: _Conflicts) -> None:
    """Town blocks: housing where people live, else work, storage, shops or parks. Fields: permanent basic
    farmland mostly (paddy near streams, dry land higher up), general farmland near the town, woods on the
    hill and on some remote parcels; the parcels holding planted buildings are permanent basic farmland."""
    rng = np.random.default_rng([inputs.seed, 20])
    water = shapely.union_all([r.line for r in inputs.rivers])
    homes = np.array([h.xy for h in inputs.homes])
    farmland_xy = np.array([_xy(r) for r in conflicts.farmland]).reshape(-1, 2)
    counters: dict[tuple[str, str], int] = {}
    rest = sorted((p for p in pieces if p.remainder), key=lambda p: (p.geom.centroid.x, p.geom.centroid.y))
    for piece in rest:
        spot = piece.geom.representative_point()
        area = min(inputs.areas, key=lambda a: a.poly.distance(spot))
        if piece.inside:
            lived = shapely.contains_xy(piece.geom, homes[:, 0], homes[:, 1]).any()
            piece.zone_type = "other"
            piece.land_use = "0701" if lived else TOWN_USES[int(rng.choice(len(TOWN_USES),
                                                                           p=[w for _, w in TOWN_USES]))][0]
            label = LAND_USE[piece.land_use]
        else:
            planted = len(farmland_xy) and shapely.contains_xy(piece.geom, farmland_xy[:, 0], farmland_xy[:, 1]).any()
            piece.pinned = piece.pinned or bool(planted)
            piece.zone_type, piece.land_use = _field_type(rng, inputs, piece, water)
            label = {"permanent_farmland": "永久基本农田", "general_farmland": "一般耕地", "forest": "林地"}[
                piece.zone_type]
        counters[(area.village, label)] = counters.get((area.village, label), 0) + 1
        piece.name = f"{area.village}{label}{counters[(area.village, label)]:02d}"


def _field_type(rng: np.random.Generator, inputs: PlanningInput, piece: _Piece, water: shapely.Geometry
                ) -> tuple[str, str]:
    draw, paddy_draw = rng.random(), rng.random()
    near_water = piece.geom.distance(water) < 1200.0
    paddy = "0101" if paddy_draw < (0.7 if near_water else 0.35) else "0103"
    if piece.pinned:
        return "permanent_farmland", paddy
    if inputs.hill.contains(piece.geom.representative_point()):
        return "forest", "0301"
    if piece.geom.distance(Point(inputs.centre)) < 1800.0:
        return ("general_farmland" if draw < 0.55 else "permanent_farmland"), paddy
    if draw < (0.06 if near_water else 0.2):
        return "forest", "0301"
    return ("general_farmland" if draw > 0.8 else "permanent_farmland"), paddy


def _planarise(pieces: list[_Piece], dev: Polygon) -> tuple[list[_Piece], shapely.Geometry]:
    """Rebuild every parcel, and the development boundary, from the faces of all their edges noded together.

    Overlays snap-rounded one at a time leave centimetre slivers between neighbours; faces of one noded
    linework share exactly the same vertices, so the parcels tile the town exactly and still do after the
    coordinates are rounded.
    """
    geoms = np.array([p.geom for p in pieces], dtype=object)
    edges = shapely.union_all(np.array([*shapely.boundary(geoms), dev.boundary], dtype=object))
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(edges))), dtype=object)
    # In town by area, not by a point on the surface: a sliver 2 cm wide may have that point on its edge.
    near = shapely.STRtree(faces).query(dev, predicate="intersects")
    in_town = np.zeros(len(faces), dtype=bool)
    in_town[near] = shapely.area(shapely.intersection(faces[near], dev)) > 0.5 * shapely.area(faces[near])
    owner = _FaceOwners(pieces, geoms).owners(faces, in_town)
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(len(pieces) + 1))
    rebuilt = [replace(piece, geom=shapely.coverage_union_all(faces[order[bounds[k]:bounds[k + 1]]]))
               for k, piece in enumerate(pieces) if bounds[k + 1] > bounds[k]]
    return rebuilt, shapely.coverage_union_all(faces[in_town])


class _FaceOwners:
    """Which parcel each face belongs to: the first painted of those that hold it, else (a gap) the first of
    those it touches; never farmland or village land inside the development boundary."""

    def __init__(self, pieces: list[_Piece], geoms: np.ndarray) -> None:
        self.pieces, self.tree = pieces, shapely.STRtree(geoms)
        self.town_ids = np.array([k for k, p in enumerate(pieces) if p.zone_type not in OUTSIDE_ONLY])
        self.town_tree = shapely.STRtree(geoms[self.town_ids])

    def owners(self, faces: np.ndarray, in_town: np.ndarray) -> np.ndarray:
        spots = shapely.point_on_surface(faces)
        claims: dict[int, list[int]] = {}
        for face, piece in zip(*self.tree.query(spots, predicate="within"), strict=True):
            claims.setdefault(int(face), []).append(int(piece))
        owner = np.zeros(len(faces), dtype=np.int64)
        for k in range(len(faces)):
            wanted = self._allowed(claims.get(k, []), bool(in_town[k]))
            if not wanted:
                touching = [int(j) for j in self.tree.query(faces[k], predicate="intersects")]
                wanted = self._allowed(touching, bool(in_town[k]))
            if not wanted:
                wanted = [int(self.town_ids[self.town_tree.nearest(spots[k])]) if in_town[k]
                          else int(self.tree.nearest(spots[k]))]
            owner[k] = min(wanted)
        return owner

    def _allowed(self, candidates: list[int], in_town: bool) -> list[int]:
        if not in_town:
            return candidates
        return [k for k in candidates if self.pieces[k].zone_type not in OUTSIDE_ONLY]


# ------------------------------------------------------------------------------------------- public
def planning_map(inputs: PlanningInput) -> PlanningMap:
    """The demo town's planning zones: land-use parcels tiling the town, the development boundary over them.

    Parameters
    ----------
    inputs
        The town in EPSG:4544 metres.

    Returns
    -------
    PlanningMap
        Zone rows (codes like ``YJJBNT-0001``, EPSG:4544 geometry) and the asset codes planted as
        planning conflicts: buildings on permanent basic farmland, one in the ecological red line, and one
        footprint straddling construction land and permanent basic farmland.
    """
    dev = development_boundary(inputs)
    conflicts = _pick_conflicts(inputs, dev)
    canvas = _Canvas()
    for layer in (_red_lines(inputs, dev, conflicts), _river_in_town(inputs, dev),
                  _footprints(inputs, dev, conflicts), _plots(inputs, dev, conflicts),
                  _homesteads(inputs, dev), _roads(inputs)):
        canvas.paint(layer)
    pieces = _merge_slivers(canvas.pieces + _split_rest(inputs, canvas, dev))
    _type_rest(inputs, pieces, conflicts)
    painted = [p for p in pieces if not p.remainder]
    rest = sorted((p for p in pieces if p.remainder), key=lambda p: (p.geom.centroid.x, p.geom.centroid.y))
    parcels, town_area = _planarise([*painted, *rest], dev)
    zones = [_zone(p) for p in [_Piece(town_area, "development_boundary", None, "蓬莱镇城镇开发边界"), *parcels]]
    counters: dict[str, int] = {}
    for zone in zones:
        prefix = ZONE_PREFIX[zone["zone_type"]]
        counters[prefix] = counters.get(prefix, 0) + 1
        zone["code"] = f"{prefix}-{counters[prefix]:04d}"
    return PlanningMap([z for z in zones if not z["geometry"].is_empty], conflicts.codes())
