"""Seeded generator of the synthetic demo town (蓬莱镇示例数据).

Only the town itself is real: its name and NBS code (510923100), its county (大英县, 510923), its
approximate area (125.48 km²), registered population (84,175) and location. Everything below the town
is invented: the boundary, villages, rivers, roads, settlements, schools, facilities, assets, service
points and planning zones, with all their names and codes. ``layers/demo/README.md`` says so to users.

The town is built in EPSG:4544 metres (CGCS2000 3-degree Gauss-Kruger, CM 105°E) in these steps and
converted to EPSG:4490 at the end:

1. outline and tiling: a rounded, wobbly outline cut into Voronoi cells (4 communities round the centre
   and 26 former villages), the cell edges bent by one smooth warp so they read as ridges and streams;
   adjacent former villages are grouped into 12 merged villages;
2. water: a meandering river south of the centre and a tributary joining it from the far bank;
3. roads: two county roads through the centre, a township network (a spanning tree plus a few loops)
   that crosses water only on bridges, town streets, village roads to every former village office and
   settlement cluster, and tracks (one over a footbridge);
4. people: settlements along the village roads, the town's 84,175 people shared among them;
5. schools, facilities, public assets and the "1+N" service points;
6. planning zones (``gis_service.demo.planning``): land-use parcels tiling the town, the control lines among
   them, the development boundary over them, and a few planted conflicts.

Every random draw comes from ``numpy.random.default_rng([seed, step])``, one stream per step, so the
output is a pure function of the seed. Run ``python -m gis_service.demo.generator [OUT_DIR]``.
"""

from __future__ import annotations

import argparse
import csv
import heapq
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon, mapping
from shapely.ops import split, substring
from sqlalchemy import Float, Integer

from gis_service.db.models import Base
from gis_service.demo import ledger as demo_ledger
from gis_service.demo import planning as demo_planning

# --------------------------------------------------------------------------------------------- facts
DEFAULT_SEED = 510923100
TOWN_CODE = "510923100"
TOWN_GOVERNMENT = "蓬莱镇人民政府"
TOWN_AREA_M2 = 125.48e6  # secondary sources
TOWN_POPULATION = 84_175  # registered, end of 2019
TOWN_LONLAT = (105.25, 30.59)  # approximate; the real boundary is not public
WORK_CRS = "EPSG:4544"
STORAGE_CRS = "EPSG:4490"
OPENING_HOURS = "周一至周五 9:00-17:00"
CENTRE_SERVICES = "社保、医保、户籍代办、民政救助、缴费、农技咨询"
STATION_SERVICES = "社保、医保、户籍代办、缴费"

LAYERS: tuple[str, ...] = (
    "villages", "former_villages", "assets", "service_points", "schools", "facilities",
    "settlements", "roads", "rivers", "bridges", "planning_zones",
)
N_COMMUNITIES = 4
N_FORMER = 26  # the real number of administrative villages in June 2020, before the merger
N_MERGED = 12  # pairs and a few triples of neighbours (about 45 % fewer villages, as in Sichuan)
RIVER_CLEARANCE = 45.0  # metres beyond the water's edge kept free of settlements and assets
ROAD_SPEEDS = {  # road class -> (walking, driving) km/h
    "county": (4.5, 60.0), "township": (4.8, 40.0), "village": (5.0, 25.0), "track": (3.5, 10.0),
}

# ----------------------------------------------------------------------------------- invented names
FORMER_NAMES = (
    "石桥村", "龙泉村", "白果村", "黄桷村", "柏林村", "双河村", "青龙村", "金鱼村", "高峰村", "永兴村",
    "太平村", "三元村", "同心村", "团结村", "光明村", "长乐村", "凉水村", "大石村", "天池村", "水井村",
    "五星村", "桂花村", "观音村", "狮子村", "金竹村", "马鞍村", "古井村", "新桥村", "龙凤村", "松林村",
    "天星村", "红岩村", "碑垭村", "花园村", "双堰村", "庙湾村", "梨树村", "杨柳村", "凤凰村", "朝阳村",
)
MERGED_NAMES = (
    "蓬兴村", "金龙村", "玉泉村", "福星村", "嘉禾村", "永丰村", "兴隆村", "和乐村", "瑞丰村",
    "同兴村", "顺河村", "安康村", "宝峰村", "富民村", "鹤鸣村", "青林村", "锦屏村", "泰安村",
)
CORE_COMMUNITY = ("正街社区", "正街")
RIVERSIDE_COMMUNITY = ("滨河社区", "滨河路")
OTHER_COMMUNITIES = (("文昌社区", "文昌路"), ("新华社区", "新华街"))
EXTRA_STREETS = ("建设路", "工业路", "人民路", "育才路", "兴业街")
BRANCHES = ("北片区总支", "东片区总支", "南片区总支", "西片区总支")
NEIGHBOURS = ("象山镇", "隆盛镇", "天保镇", "玉峰镇")  # real neighbours to the north, east, south, west
TOWN_BRANCH = "场镇片区总支"
MAIN_RIVER = ("HL01", "清溪河")
TRIBUTARY = ("HL02", "白鹤溪")
HILL_NAME = "玉屏山"
SURNAMES = tuple(
    "张王李刘陈杨黄赵周吴徐孙胡朱高林何郭罗梁宋郑谢唐邓冯曾彭肖蔡潘田董袁余叶杜苏魏程吕丁沈任姚卢钟"
)
HOMESTEAD_SUFFIXES = ("院子", "湾", "坝", "沟", "嘴", "坡", "梁", "垭", "塝", "岭", "大院", "老房子")
HOMESTEAD_WEIGHTS = (0.30, 0.14, 0.08, 0.08, 0.06, 0.06, 0.05, 0.05, 0.04, 0.04, 0.05, 0.05)
PLACE_PREFIXES = (
    "石板", "大田", "柏树", "水井", "堰塘", "龙洞", "高石", "竹林", "松树", "桐子", "麻柳", "黄泥",
    "青杠", "干田", "凉水", "槐树", "碾子", "磨子", "桥头", "庙子", "岩口", "鸭子", "三角", "白岩",
)
LANDFORMS = ("湾", "沟", "坝", "嘴", "坡", "梁", "垭", "岭", "坪")
COMPOUND_PREFIXES = ("滨河", "文昌", "锦绣", "阳光", "蓬莱", "翠竹", "和美", "金桂", "安居", "康乐", "清溪", "丰收")
COMPOUND_SUFFIXES = ("小区", "苑", "花园", "家园")

CATEGORY_CLASS = {
    "village_office": "non_operating", "school": "non_operating", "clinic": "non_operating",
    "nursing_home": "non_operating", "office": "non_operating", "culture_room": "non_operating",
    "shop": "operating", "factory": "operating", "warehouse": "operating", "other": "operating",
    "land": "resource", "pond": "resource", "forest": "resource", "reservoir": "resource",
}
STATUS = ("in_use", "idle", "partly_idle", "leased")
STATUS_ODDS = {  # category -> odds of in_use, idle, partly_idle, leased
    "school": (0.10, 0.50, 0.15, 0.25),
    "clinic": (0.00, 0.70, 0.20, 0.10), "culture_room": (0.10, 0.60, 0.30, 0.00),
    "shop": (0.15, 0.25, 0.00, 0.60), "factory": (0.00, 0.45, 0.10, 0.45),
    "warehouse": (0.20, 0.40, 0.00, 0.40), "other": (0.50, 0.30, 0.00, 0.20),
    "land": (0.30, 0.35, 0.00, 0.35), "pond": (0.50, 0.15, 0.00, 0.35),
    "forest": (0.40, 0.30, 0.00, 0.30), "reservoir": (0.70, 0.00, 0.00, 0.30),
}


# ------------------------------------------------------------------------------ geometry helpers
def _rng(seed: int, step: int) -> np.random.Generator:
    # One stream per step: editing one step does not reshuffle the draws of the others.
    return np.random.default_rng([seed, step])


def _cumlen(path: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])


def _truncate(path: np.ndarray, dist: float, end: np.ndarray) -> np.ndarray:
    """The path up to ``dist`` metres along it, ending exactly at ``end``."""
    cum = _cumlen(path)
    return np.vstack([path[cum < dist - 0.5], end])


def _bent(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, bend: float = 0.04,
          step: float = 40.0) -> np.ndarray:
    """Polyline from ``a`` to ``b`` bowed sideways by a few sine terms: roads are never ruler-straight."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    length = float(np.hypot(*d))
    t = np.linspace(0.0, 1.0, max(2, math.ceil(length / step)) + 1)
    amp = rng.normal(0.0, 1.0, 3) * np.array([1.0, 0.45, 0.2]) * bend * length
    offset = sum(amp[k] * np.sin((k + 1) * np.pi * t) for k in range(3))
    pts = a + t[:, None] * d + offset[:, None] * np.array([-d[1], d[0]]) / length
    pts[0], pts[-1] = a, b
    return pts


def _ray(rng: np.random.Generator, start: np.ndarray, heading: float, length: float = 16000.0,
         step: float = 50.0, sway: float = 0.18) -> np.ndarray:
    """A long, gently curving path from ``start``; callers cut it where it leaves the town."""
    s = np.arange(1, int(length / step) + 1) * step
    phase = rng.uniform(0.0, 2 * np.pi, 2)
    wavelength = rng.uniform(2500.0, 4500.0)
    h = heading + sway * (np.sin(2 * np.pi * s / wavelength + phase[0]) - np.sin(phase[0]))
    h += 0.5 * sway * (np.sin(2 * np.pi * s / (wavelength / 2.7) + phase[1]) - np.sin(phase[1]))
    steps = step * np.column_stack([np.cos(h), np.sin(h)])
    return np.vstack([start, start + np.cumsum(steps, axis=0)])


def _cut_at_exit(path: np.ndarray, area: Polygon) -> np.ndarray:
    """The path up to where it first leaves ``area``."""
    line = LineString(path)
    hits = shapely.get_coordinates(line.intersection(area.boundary))
    if len(hits) == 0:
        return path
    dist = shapely.line_locate_point(line, shapely.points(hits))
    k = int(np.argmin(dist))
    return _truncate(path, float(dist[k]), hits[k])


def _blob(rng: np.random.Generator, centre: np.ndarray, radius: float, roughness: float = 0.2,
          n: int = 48) -> Polygon:
    """A star-shaped, irregular patch (a pond, a wood, a hill); always a valid polygon."""
    theta = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in range(2, 6):
        r += roughness / k * rng.uniform(0.3, 1.0) * np.sin(k * theta + rng.uniform(0.0, 2 * np.pi))
    return Polygon(centre + radius * r[:, None] * np.column_stack([np.cos(theta), np.sin(theta)]))


def _rotate(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _bearing(xy: np.ndarray, origin: np.ndarray) -> float:
    """Compass bearing in degrees (0 = north, clockwise), the way people give directions."""
    d = np.asarray(xy) - origin
    return float(np.degrees(np.arctan2(d[0], d[1])) % 360.0)


def _apportion(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """Integers >= ``minimum`` proportional to ``weights`` that add up to ``total`` (largest remainder)."""
    base = np.full(len(weights), minimum, dtype=np.int64)
    rest = total - int(base.sum())
    raw = weights / weights.sum() * rest
    floor = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - floor), kind="stable")
    floor[order[: rest - int(floor.sum())]] += 1
    return base + floor


def _polygons(geom: shapely.Geometry, min_area: float = 0.0) -> list[Polygon]:
    return [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and p.area >= min_area]


def _multi(geom: shapely.Geometry) -> MultiPolygon:
    return MultiPolygon(_polygons(shapely.make_valid(geom)))


def _pick(rng: np.random.Generator, odds: Sequence[float]) -> str:
    return STATUS[int(rng.choice(4, p=np.asarray(odds) / sum(odds)))]


# ---------------------------------------------------------------------------------- state holders
@dataclass
class _Unit:
    """A cell of the tiling: a former village (撤并村) or a community (社区)."""

    kind: str  # "former" or "community"
    poly: Polygon
    site: np.ndarray
    code: str = ""
    name: str = ""
    street: str = ""  # communities: the street named after them
    village: int = -1  # index of the merged village or community it belongs to
    office: np.ndarray = field(default_factory=lambda: np.zeros(2))  # its office (村委会), placed later


@dataclass
class _Village:
    """A merged village (合并村) or a community, as listed in ``villages``."""

    kind: str  # "village" or "community"
    members: list[int]
    poly: Polygon
    code: str = ""
    name: str = ""
    branch: str = ""
    seat: int = -1  # unit whose office hosts the central position (中心阵地)
    dissolved_on: date | None = None
    split: bool = False  # people live on both banks of a river


@dataclass
class _River:
    code: str
    name: str
    width: float
    line: LineString

    def water(self, margin: float) -> Polygon:
        return self.line.buffer(self.width / 2 + margin)


@dataclass
class _Bridge:
    code: str
    name: str
    kind: str  # "road" or "foot"
    river: int
    point: np.ndarray
    ends: np.ndarray  # 2 x 2: one abutment per bank
    road_code: str = ""


@dataclass
class _Road:
    code: str
    name: str
    road_class: str
    parts: list[np.ndarray]


@dataclass
class _Cluster:
    """A group of settlements (roughly a 村民小组) around a centre, reached by one village road."""

    unit: int
    centre: np.ndarray
    group: int = 0
    path: np.ndarray | None = None  # its village road, free end first
    centre_at: float = 0.0  # distance along ``path`` where it passes the centre


@dataclass
class _Settlement:
    xy: np.ndarray
    unit: int
    cluster: int  # -1: scattered or in a community
    group: int = 0
    code: str = ""
    name: str = ""
    population: int = 0
    households: int = 0
    elderly: int = 0
    children: int = 0


@dataclass
class _Town:
    """Everything built so far, in EPSG:4544 metres."""

    seed: int
    origin: np.ndarray
    centre: np.ndarray
    town: Polygon = field(default_factory=Polygon)
    units: list[_Unit] = field(default_factory=list)
    villages: list[_Village] = field(default_factory=list)
    rivers: list[_River] = field(default_factory=list)
    bridges: list[_Bridge] = field(default_factory=list)
    hill: Polygon = field(default_factory=Polygon)
    admissible: shapely.Geometry = field(default_factory=Polygon)  # where points may go
    blocked: shapely.Geometry = field(default_factory=Polygon)  # water roads may not touch
    network: _Network = field(default_factory=lambda: _Network())
    clusters: list[_Cluster] = field(default_factory=list)
    settlements: list[_Settlement] = field(default_factory=list)
    schools: list[dict[str, Any]] = field(default_factory=list)
    facilities: list[dict[str, Any]] = field(default_factory=list)
    assets: list[dict[str, Any]] = field(default_factory=list)
    service_points: list[dict[str, Any]] = field(default_factory=list)
    zones: list[dict[str, Any]] = field(default_factory=list)
    office_assets: dict[int, dict[str, Any]] = field(default_factory=dict)  # unit -> its office asset
    day_care_units: list[int] = field(default_factory=list)  # former offices turned into day care

    def unit_at(self, xy: np.ndarray) -> int:
        """Index of the unit (former village or community) that contains ``xy``."""
        for i, unit in enumerate(self.units):
            if shapely.contains_xy(unit.poly, xy[0], xy[1]):
                return i
        raise ValueError(f"point {xy} is outside the town")


class _Network:
    """Roads under construction. Every junction is a vertex shared exactly by the roads that meet there."""

    def __init__(self) -> None:
        self.roads: list[_Road] = []

    def add(self, road: _Road) -> _Road:
        self.roads.append(road)
        return road

    def lines(self) -> tuple[list[LineString], list[tuple[int, int]]]:
        keys = [(r, p) for r, road in enumerate(self.roads) for p in range(len(road.parts))]
        return [LineString(self.roads[r].parts[p]) for r, p in keys], keys

    def geometry(self) -> MultiLineString:
        return MultiLineString(self.lines()[0])

    def insert(self, key: tuple[int, int], p: np.ndarray, snap: float = 0.5) -> np.ndarray:
        """Make ``p`` a vertex of the line ``key`` (or snap it to a vertex within ``snap`` m); return it."""
        road, part = key
        coords = self.roads[road].parts[part]
        gap = np.hypot(*(coords - p).T)
        if gap.min() <= snap:
            return coords[int(np.argmin(gap))].copy()
        a, b = coords[:-1], coords[1:]
        ab = b - a
        t = np.clip(np.einsum("ij,ij->i", p - a, ab) / np.einsum("ij,ij->i", ab, ab), 0.0, 1.0)
        seg = int(np.argmin(np.hypot(*(a + t[:, None] * ab - p).T)))
        self.roads[road].parts[part] = np.insert(coords, seg + 1, p, axis=0)
        return np.asarray(p, float).copy()

    def first_hit(self, path: np.ndarray, skip: float = 1.0) -> tuple[float, np.ndarray, tuple[int, int]] | None:
        """Where ``path`` (free end first) first meets the network, ignoring the first ``skip`` metres."""
        lines, keys = self.lines()
        if not lines:
            return None
        line = LineString(path)
        best: tuple[float, np.ndarray, tuple[int, int]] | None = None
        for i in shapely.STRtree(lines).query(line, predicate="intersects"):
            pts = shapely.get_coordinates(line.intersection(lines[i]))
            if len(pts) == 0:
                continue
            dist = shapely.line_locate_point(line, shapely.points(pts))
            for d, p in zip(dist, pts, strict=True):
                if d > skip and (best is None or d < best[0]):
                    best = (float(d), p, keys[i])
        return best

    def nearest_targets(self, xy: np.ndarray, k: int = 6) -> list[np.ndarray]:
        """The nearest point of each of the ``k`` nearest roads' lines to ``xy``."""
        lines, _ = self.lines()
        here = Point(xy)
        dist = shapely.distance(lines, here)
        order = np.argsort(dist, kind="stable")[:k]
        return [np.asarray(lines[i].interpolate(lines[i].project(here)).coords[0]) for i in order]

    def node_crossings(self) -> None:
        """Put a shared vertex wherever two roads cross (the spanning tree's edges may cross)."""
        lines, keys = self.lines()
        tree = shapely.STRtree(lines)
        for i, j in zip(*tree.query(lines, predicate="intersects"), strict=True):
            if j <= i:
                continue
            for p in shapely.get_coordinates(lines[i].intersection(lines[j])):
                q = self.insert(keys[i], p)
                r = self.insert(keys[j], q)
                if not np.array_equal(q, r):
                    self.insert(keys[i], r, snap=0.0)

    def split_at_junctions(self) -> None:
        """Split every line at every vertex it shares with another line, so lines meet end to end."""
        owners: dict[tuple[float, float], set[int]] = {}
        flat = [(r, p) for r, road in enumerate(self.roads) for p in range(len(road.parts))]
        for n, (r, p) in enumerate(flat):
            for xy in map(tuple, self.roads[r].parts[p]):
                owners.setdefault(xy, set()).add(n)
        for road in self.roads:
            pieces: list[np.ndarray] = []
            for coords in road.parts:
                cuts = [k for k in range(1, len(coords) - 1) if len(owners[tuple(coords[k])]) > 1]
                bounds = [0, *cuts, len(coords) - 1]
                pieces += [coords[a : b + 1] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
            road.parts = pieces


# ------------------------------------------------------------------------ 1. outline and tiling
def _town_outline(rng: np.random.Generator, origin: np.ndarray) -> Polygon:
    """A rounded rectangle (the town is about 11.5 km x 12.2 km) with long, irregular bulges."""
    theta = np.linspace(0.0, 2 * np.pi, 720, endpoint=False)
    a, b, p = 5750.0, 6100.0, 2.4
    radius = 1.0 / ((np.abs(np.cos(theta)) / a) ** p + (np.abs(np.sin(theta)) / b) ** p) ** (1.0 / p)
    wobble = sum(
        rng.uniform(0.3, 1.0) * 0.10 / k**0.75 * np.sin(k * theta + rng.uniform(0.0, 2 * np.pi))
        for k in range(2, 15)
    )
    return Polygon(origin + (radius * (1 + wobble))[:, None] * np.column_stack([np.cos(theta), np.sin(theta)]))


def _dart_throw(rng: np.random.Generator, region: Polygon, n: int, min_dist: float,
                away_from: np.ndarray, away: float) -> np.ndarray:
    """``n`` random points in ``region`` at least ``min_dist`` apart (relaxed if they do not fit)."""
    shapely.prepare(region)
    minx, miny, maxx, maxy = region.bounds
    pts = np.empty((0, 2))
    while len(pts) < n:
        for _ in range(60):
            cand = rng.uniform([minx, miny], [maxx, maxy], size=(128, 2))
            cand = cand[shapely.contains_xy(region, cand[:, 0], cand[:, 1])]
            cand = cand[np.hypot(*(cand - away_from).T) >= away]
            for c in cand:
                if len(pts) == 0 or np.hypot(*(pts - c).T).min() >= min_dist:
                    pts = np.vstack([pts, c])
                    if len(pts) == n:
                        return pts
        min_dist *= 0.95
    return pts


def _voronoi(sites: np.ndarray, outline: Polygon) -> list[shapely.Geometry]:
    cells = shapely.voronoi_polygons(MultiPoint(sites), extend_to=outline.buffer(3000.0), ordered=True)
    return [cell.intersection(outline) for cell in cells.geoms]


def _sites(rng: np.random.Generator, outline: Polygon, centre: np.ndarray) -> np.ndarray:
    """Voronoi sites: 4 communities round the centre (the first one on it), then the former villages.

    Rural sites are thrown well away from the centre and relaxed (Lloyd) so villages come out of
    similar size, as they did on the ground before the merger.
    """
    angles = rng.uniform(0, 2 * np.pi) + np.array([0.0, 2.1, 4.2]) + rng.normal(0.0, 0.15, 3)
    ring = centre + rng.uniform(950.0, 1200.0, (3, 1)) * np.column_stack([np.cos(angles), np.sin(angles)])
    community = np.vstack([centre + rng.normal(0.0, 50.0, 2), ring])
    rural = _dart_throw(rng, outline.buffer(-700.0), N_FORMER, 1600.0, centre, 2600.0)
    for _ in range(4):
        cells = _voronoi(np.vstack([community, rural]), outline)
        rural = np.array([np.asarray(c.centroid.coords[0]) for c in cells[N_COMMUNITIES:]])
    return np.vstack([community, rural])


def _warp(rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
    """A smooth, one-to-one displacement field (at most ~225 m) that bends Voronoi's straight edges.

    Every vertex is moved by a function of its own coordinates only, so edges shared by two cells
    stay identical and the tiling stays exact. The slopes are small, so edges hardly ever cross;
    ``_tile`` checks and draws another field if they do.
    """
    waves = []
    for amp, wavelength in ((170.0, 4200.0), (75.0, 1700.0), (30.0, 750.0), (10.0, 280.0)):
        for axis in (0, 1):
            angle = rng.uniform(0.0, np.pi)
            k = 2 * np.pi / wavelength * np.array([np.cos(angle), np.sin(angle)])
            waves.append((axis, amp, k, rng.uniform(0.0, 2 * np.pi)))

    def apply(xy: np.ndarray) -> np.ndarray:
        out = np.array(xy, dtype=float)
        for axis, amp, k, phase in waves:
            out[:, axis] += amp * np.sin(xy @ k + phase)
        return out

    return apply


def _tile(rng: np.random.Generator, outline: Polygon, sites: np.ndarray, origin: np.ndarray
          ) -> tuple[list[Polygon], np.ndarray]:
    """Cells of ``sites`` with bent edges, scaled so the town has its real area."""
    cells = _voronoi(sites, outline)
    edges = shapely.get_parts(shapely.line_merge(shapely.union_all([c.boundary for c in cells])))
    for _ in range(20):
        warp = _warp(rng)
        bent = [shapely.transform(shapely.segmentize(e, 40.0), warp) for e in edges]
        polys = _assign_faces(_polygons(shapely.polygonize(bent)), warp(sites))
        town = shapely.union_all(polys)
        if all(p.is_valid and p.geom_type == "Polygon" for p in polys) and not town.interiors:
            break
    else:
        raise RuntimeError("could not bend the village boundaries; try another seed")
    scale = math.sqrt(TOWN_AREA_M2 / town.area)

    def rescale(xy: np.ndarray) -> np.ndarray:
        return (xy - origin) * scale + origin

    return [shapely.transform(p, rescale) for p in polys], rescale(warp(sites))


def _assign_faces(faces: list[Polygon], sites: np.ndarray) -> list[Polygon]:
    """Each face to the cell whose site it holds; slivers the outline cut off go to their longest neighbour."""
    owner = [next((i for i, s in enumerate(sites) if f.contains(Point(s))), -1) for f in faces]
    cells: list[list[Polygon]] = [[] for _ in sites]
    for face, i in sorted(zip(faces, owner, strict=True), key=lambda fo: fo[1] < 0):
        if i < 0:
            shared = [shapely.union_all(c).boundary.intersection(face.boundary).length for c in cells]
            i = int(np.argmax(shared))
        cells[i].append(face)
    return [shapely.union_all(c) for c in cells]


def _shared_borders(polys: Sequence[Polygon]) -> np.ndarray:
    """Length of the boundary each pair of cells shares (0 if they do not touch)."""
    border = np.zeros((len(polys), len(polys)))
    tree = shapely.STRtree(polys)
    for i, j in zip(*tree.query(polys, predicate="intersects"), strict=True):
        if i < j:
            border[i, j] = border[j, i] = polys[i].boundary.intersection(polys[j].boundary).length
    return border


def _merge_groups(rng: np.random.Generator, border: np.ndarray, sites: np.ndarray) -> list[list[int]]:
    """Group former villages into ``N_MERGED`` merged villages of 2-3 neighbours each.

    Groups grow from well-spread seeds, the smallest group first, each time taking the free neighbour
    it shares most boundary with, which keeps merged villages compact.
    """
    n = len(border)
    adjacent = border > 200.0
    for _ in range(2000):
        seeds = [int(rng.integers(n))]
        while len(seeds) < N_MERGED:
            gap = np.min([np.hypot(*(sites - sites[s]).T) for s in seeds], axis=0)
            seeds.append(int(np.argmax(gap * rng.uniform(0.8, 1.0, n))))
        groups = [[s] for s in seeds]
        free = np.ones(n, bool)
        free[seeds] = False
        while free.any():
            order = sorted(range(N_MERGED), key=lambda g: (len(groups[g]), rng.random()))
            grown = False
            for g in order:
                cand = np.flatnonzero(free & adjacent[groups[g]].any(axis=0))
                if len(groups[g]) < 3 and len(cand):
                    best = int(cand[np.argmax(border[groups[g]][:, cand].sum(axis=0))])
                    groups[g].append(best)
                    free[best] = False
                    grown = True
                    break
            if not grown:
                break
        if not free.any() and all(2 <= len(g) <= 3 for g in groups):
            return groups
    raise RuntimeError("could not group the former villages; try another seed")


def _admin_units(seed: int, town: _Town, outline: Polygon) -> None:
    """Tile the town, group the former villages and give everything names and 12-digit codes."""
    sites = _sites(_rng(seed, 2), outline, town.centre)
    polys, sites = _tile(_rng(seed, 3), outline, sites, town.origin)
    town.town = shapely.union_all(polys)
    town.units = [
        _Unit("community" if i < N_COMMUNITIES else "former", p, s)
        for i, (p, s) in enumerate(zip(polys, sites, strict=True))
    ]
    rural = town.units[N_COMMUNITIES:]
    groups = _merge_groups(_rng(seed, 4), _shared_borders([u.poly for u in rural]), sites[N_COMMUNITIES:])
    for i in range(N_COMMUNITIES):
        town.villages.append(_Village("community", [i], town.units[i].poly))
    for g in groups:
        members = [m + N_COMMUNITIES for m in g]
        town.villages.append(_Village("village", members, shapely.union_all([town.units[m].poly for m in members])))
    for v, village in enumerate(town.villages):
        for m in village.members:
            town.units[m].village = v
    _name_units(_rng(seed, 5), town)


def _name_units(rng: np.random.Generator, town: _Town) -> None:
    """Codes follow the NBS pattern: communities 001-199, merged villages 201-, former villages 221-.

    Communities are named once the river is there (``_name_communities``).
    """
    communities = [v for v in town.villages if v.kind == "community"]
    rest = sorted(communities[1:], key=lambda v: _bearing(town.units[v.members[0]].site, town.centre))
    for k, village in enumerate([communities[0], *rest]):  # the first one holds the old town centre
        village.code, village.branch = f"{TOWN_CODE}{k + 1:03d}", TOWN_BRANCH
        town.units[village.members[0]].code = village.code
    villages = sorted((v for v in town.villages if v.kind == "village"),
                      key=lambda v: _bearing(np.asarray(v.poly.centroid.coords[0]), town.centre))
    merged_names = [MERGED_NAMES[i] for i in rng.permutation(len(MERGED_NAMES))]
    former_names = [FORMER_NAMES[i] for i in rng.permutation(len(FORMER_NAMES))]
    n_former = 0
    for k, village in enumerate(villages):
        village.code, village.name = f"{TOWN_CODE}{201 + k:03d}", merged_names[k]
        bearing = _bearing(np.asarray(village.poly.centroid.coords[0]), town.centre)
        village.branch = BRANCHES[int(((bearing + 45.0) % 360.0) // 90.0)]
        village.dissolved_on = date(2020, 6, int(rng.integers(18, 29)))
        for m in sorted(village.members, key=lambda m: _bearing(town.units[m].site, town.centre)):
            town.units[m].code, town.units[m].name = f"{TOWN_CODE}{221 + n_former:03d}", former_names[n_former]
            n_former += 1
    town.villages.sort(key=lambda v: v.code)
    for v, village in enumerate(town.villages):
        for m in village.members:
            town.units[m].village = v


# ------------------------------------------------------------------------------------- 2. water
def _main_river(rng: np.random.Generator, town: _Town) -> _River:
    """A meandering river crossing the whole town, 450-900 m south of the centre.

    The centre line is a graph over the river's general direction, so it can never loop onto itself.
    """
    centre = town.centre
    for _ in range(500):
        heading = rng.uniform(-0.45, -0.1)
        u = np.array([np.cos(heading), np.sin(heading)])
        n = np.array([-u[1], u[0]])  # points north-ish: the centre's bank
        s = np.arange(-16000.0, 16000.0, 25.0)
        amp = np.array([450.0, 180.0, 70.0]) * rng.uniform(0.7, 1.2, 3)
        wavelength = np.array([6500.0, 2400.0, 1000.0]) * rng.uniform(0.8, 1.2, 3)
        phase = rng.uniform(0.0, 2 * np.pi, 3)
        m = (amp * np.sin(2 * np.pi * s[:, None] / wavelength + phase)).sum(axis=1)
        m -= (amp * np.sin(phase)).sum()
        line = LineString(centre - rng.uniform(550.0, 800.0) * n + s[:, None] * u + m[:, None] * n)
        inside = line.intersection(town.town)
        if not isinstance(inside, LineString) or inside.length < 9000.0:
            continue
        sides = [p.area for p in split(town.town, inside).geoms]
        if 450.0 <= inside.distance(Point(centre)) <= 900.0 and len(sides) == 2 and min(sides) > 0.3 * TOWN_AREA_M2:
            return _River(*MAIN_RIVER, round(float(rng.uniform(36.0, 52.0)), 1), inside)
    raise RuntimeError("no river fits the town; try another seed")


def _tributary(rng: np.random.Generator, town: _Town, main: _River) -> _River:
    """A stream rising at the town's far edge and joining the main river on the bank away from the centre."""
    coords = np.asarray(main.line.coords)
    cum = _cumlen(coords)
    s_centre = main.line.project(Point(town.centre))
    far_bank = next(p for p in split(town.town, main.line).geoms if not p.contains(Point(town.centre)))
    for _ in range(500):
        s_join = s_centre + rng.choice([-1.0, 1.0]) * rng.uniform(2500.0, 4500.0)
        if not 1500.0 <= s_join <= cum[-1] - 1500.0:
            continue
        j = int(np.argmin(np.abs(cum - s_join)))  # join at an existing vertex: the rivers share it exactly
        join = coords[j]
        tangent = (coords[j + 1] - coords[j - 1]) / np.hypot(*(coords[j + 1] - coords[j - 1]))
        left = np.array([-tangent[1], tangent[0]])
        away = -left if np.dot(town.centre - join, left) > 0 else left
        d = _rotate(away, rng.uniform(-0.35, 0.35))
        side = np.array([-d[1], d[0]])
        t = np.arange(0.0, 9000.0, 25.0)
        amp, wl, ph = rng.uniform(120.0, 220.0), rng.uniform(2200.0, 3500.0), rng.uniform(0, 2 * np.pi)
        w = amp * (np.sin(2 * np.pi * t / wl + ph) - np.sin(ph)) * (1 - np.exp(-t / 400.0))
        path = _cut_at_exit(join + t[:, None] * d + w[:, None] * side, town.town)
        line = LineString(path)
        if line.length < 3500.0 or line.distance(Point(town.centre)) < 2000.0:
            continue
        inland = substring(line, 0.0, 0.7 * line.length)  # a stream, not a ditch along the town edge
        if inland.distance(town.town.exterior) < 600.0:
            continue
        if LineString(path[8:]).distance(main.line) < 100.0 or not far_bank.contains(LineString(path[8:])):
            continue
        return _River(*TRIBUTARY, round(float(rng.uniform(12.0, 18.0)), 1), LineString(path[::-1]))
    raise RuntimeError("no tributary fits the town; try another seed")


def _hill(rng: np.random.Generator, town: _Town) -> Polygon:
    """A wooded hill near the town's edge, far from the centre and the rivers (the red line's other half)."""
    ring = max(_polygons(town.town.buffer(-1500.0)), key=lambda p: p.area).exterior
    cand = np.asarray([ring.interpolate(d).coords[0] for d in np.arange(0.0, ring.length, 250.0)])
    water = shapely.union_all([r.line for r in town.rivers])
    ok = [c for c in cand if np.hypot(*(c - town.centre)) > 4000.0 and water.distance(Point(c)) > 1600.0]
    spot = ok[int(rng.integers(len(ok)))]
    return _blob(rng, spot, rng.uniform(800.0, 950.0), roughness=0.3, n=64).intersection(town.town.buffer(-60.0))


def _name_communities(town: _Town) -> None:
    """The old centre is 正街社区, the community nearest the river 滨河社区, the others by bearing."""
    communities = sorted((v for v in town.villages if v.kind == "community"), key=lambda v: v.code)
    river = town.rivers[0].line
    riverside = min(communities[1:], key=lambda v: river.distance(Point(town.units[v.members[0]].site)))
    others = iter(OTHER_COMMUNITIES)
    for village in communities:
        name, street = (CORE_COMMUNITY if village is communities[0] else
                        RIVERSIDE_COMMUNITY if village is riverside else next(others))
        unit = town.units[village.members[0]]
        village.name, unit.name, unit.street = name, name, street


def _water(seed: int, town: _Town) -> None:
    rng = _rng(seed, 6)
    main = _main_river(rng, town)
    town.rivers = [main, _tributary(rng, town, main)]
    _name_communities(town)
    town.hill = _hill(rng, town)
    inner = shapely.union_all([u.poly.buffer(-12.0) for u in town.units])
    # Points keep off the banks; roads keep out of the water except on bridges.
    town.admissible = inner.difference(shapely.union_all([r.water(RIVER_CLEARANCE) for r in town.rivers]))
    town.blocked = shapely.union_all([r.water(10.0) for r in town.rivers])
    shapely.prepare(town.admissible)
    shapely.prepare(town.blocked)


# ---------------------------------------------------------------------------------------- placing
class _Placer:
    """Finds free spots for points: in the admissible area, apart from each other, ideally by a road."""

    def __init__(self, rng: np.random.Generator, town: _Town, roads: shapely.Geometry | None = None) -> None:
        self.rng, self.town, self.roads = rng, town, roads
        self.taken = np.empty((0, 2))
        if roads is not None:
            shapely.prepare(roads)

    def place(self, anchor: np.ndarray, r_min: float, r_max: float, *, within: shapely.Geometry | None = None,
              road_dist: float = 80.0, min_sep: float = 25.0) -> np.ndarray:
        for _ in range(8):
            r = np.sqrt(self.rng.uniform(r_min**2, r_max**2, 160))
            a = self.rng.uniform(0.0, 2 * np.pi, 160)
            cand = anchor + r[:, None] * np.column_stack([np.cos(a), np.sin(a)])
            ok = shapely.contains_xy(self.town.admissible, cand[:, 0], cand[:, 1])
            if within is not None:
                ok &= shapely.contains_xy(within, cand[:, 0], cand[:, 1])
            if len(self.taken):
                ok &= np.min(np.hypot(*(cand[:, None, :] - self.taken[None]).transpose(2, 0, 1)), axis=1) >= min_sep
            cand = cand[ok]
            if len(cand):
                if self.roads is not None:
                    near = shapely.dwithin(self.roads, shapely.points(cand), road_dist)
                    cand = cand[near] if near.any() else cand
                self.taken = np.vstack([self.taken, cand[0]])
                return cand[0]
            r_max *= 1.5
        raise RuntimeError(f"no room for a point near {anchor}")


def _offices(seed: int, town: _Town) -> None:
    """Each former village's office (村委会) near its middle; community offices between centre and site."""
    placer = _Placer(_rng(seed, 8), town)
    for i, unit in enumerate(town.units):
        if i == 0:
            unit.office = placer.place(town.centre, 80.0, 200.0, within=unit.poly.buffer(-40.0))
        elif unit.kind == "community":
            anchor = town.centre + 0.5 * (unit.site - town.centre)
            unit.office = placer.place(anchor, 0.0, 250.0, within=unit.poly.buffer(-100.0))
        else:
            core = unit.poly.buffer(-250.0)
            unit.office = placer.place(unit.site, 0.0, 700.0, within=core if core.area > 0 else unit.poly)
    for village in town.villages:
        # The merged village sits in the member office nearest its middle (中心阵地).
        middle = village.poly.representative_point() if village.kind == "village" else village.poly.centroid
        village.seat = min(village.members, key=lambda m: Point(town.units[m].office).distance(middle))


# ---------------------------------------------------------------------------------------- 3. roads
def _bridge_ends(river: _River, s: float) -> tuple[np.ndarray, np.ndarray]:
    """The bridge point at ``s`` m along the river and its two abutments, square to the flow."""
    p = np.asarray(river.line.interpolate(s).coords[0])
    a, b = (np.asarray(river.line.interpolate(x).coords[0]) for x in (s - 25.0, s + 25.0))
    t = (b - a) / np.hypot(*(b - a))
    half = (river.width / 2 + 40.0) * np.array([-t[1], t[0]])
    return p, np.array([p + half, p - half])


def _bridge_sites(rng: np.random.Generator, town: _Town) -> None:
    """3 road bridges and a footbridge on the main river, a road bridge on the tributary.

    Bridges are few on purpose: villages on both banks of the river are what the 1+N analysis finds.
    """
    main, trib = town.rivers
    length = main.line.length
    s_centre = main.line.project(Point(town.centre))
    s_join = main.line.project(Point(trib.line.coords[-1]))

    def pick(lo: float, hi: float) -> float | None:
        s = rng.uniform(lo, hi, 200) if hi > lo else np.empty(0)
        s = s[np.abs(s - s_join) > 600.0]
        return float(s[0]) if len(s) else None

    road_s = [x for x in (pick(0.1 * length, s_centre - 1800.0), pick(s_centre + 1800.0, 0.9 * length))
              if x is not None]
    spans = sorted([s_centre, *road_s])
    gaps = [(b - a, a, b) for a, b in zip(spans[:-1], spans[1:], strict=True)]
    _, lo, hi = max(gaps)
    foot = pick(lo + 0.35 * (hi - lo), hi - 0.35 * (hi - lo))
    foot = (lo + hi) / 2 if foot is None else foot
    sites = sorted([(s_centre, "road", 0), *[(s, "road", 0) for s in road_s], (foot, "foot", 0),
                    (rng.uniform(0.35, 0.6) * trib.line.length, "road", 1)], key=lambda x: (x[2], x[0]))
    for k, (s, kind, river) in enumerate(sites):
        point, ends = _bridge_ends(town.rivers[river], s)
        if np.dot(town.centre - point, ends[0] - point) < 0:
            ends = ends[::-1]  # the first abutment is on the town centre's bank
        town.bridges.append(_Bridge(f"QL{k + 1:02d}", "", kind, river, point, ends))
    _name_bridges(town, s_centre)


def _name_bridges(town: _Town, s_centre: float) -> None:
    used: list[str] = []
    for bridge in town.bridges:
        village = town.villages[town.units[town.unit_at(bridge.ends[1])].village]
        if bridge.river == 0 and abs(town.rivers[0].line.project(Point(bridge.point)) - s_centre) < 1.0:
            name = "蓬莱大桥"
        elif bridge.kind == "foot":
            name = f"{village.name[:2]}人行桥"
        else:
            name = f"{village.name[:2]}桥"
        bridge.name = name if name not in used else name.replace("桥", "二桥")
        used.append(bridge.name)


def _valid_road(town: _Town, path: np.ndarray, inner: shapely.Geometry) -> bool:
    line = LineString(path)
    return line.is_simple and not town.blocked.intersects(line) and inner.contains(line)


def _toward(town: _Town, xy: np.ndarray) -> int:
    """Index of the real neighbouring town (``NEIGHBOURS``) in the direction of ``xy``."""
    return int(((_bearing(xy, town.centre) + 45.0) % 360.0) // 90.0)


def _county_roads(rng: np.random.Generator, town: _Town) -> None:
    """X158 crosses the town through the centre and over the main river on 蓬莱大桥; X159 leaves the
    centre along the river. Both are named after the neighbouring towns they lead to."""
    c = town.centre
    bridge = next(b for b in town.bridges if b.name == "蓬莱大桥")
    near, far = bridge.ends
    outward = np.arctan2(*(far - near)[::-1])

    def ray_from(start: np.ndarray, heading: float, avoid: shapely.Geometry | None = None) -> np.ndarray:
        for delta in np.concatenate([[0.0, 0.2, -0.2, 0.4, -0.4], rng.normal(0.0, 0.6, 40)]):
            path = _cut_at_exit(_ray(rng, start, heading + delta), town.town)
            line = LineString(path)
            apart = avoid is None or (not LineString(path[1:]).intersects(avoid)
                                      and LineString(path[20:]).distance(avoid) > 400.0)
            if apart and not town.blocked.intersects(line):
                return path
        raise RuntimeError("no room for a county road; try another seed")

    north = ray_from(c, outward + np.pi)
    to_bridge = _bent(c, near, rng, bend=0.02)
    south = ray_from(far, outward)
    x158 = np.vstack([north[::-1], to_bridge[1:], south])
    main_dir = np.asarray(town.rivers[0].line.coords[-1]) - np.asarray(town.rivers[0].line.coords[0])
    along = np.arctan2(main_dir[1], main_dir[0])
    toward_centre = np.arctan2(*(near - far)[::-1])
    side = 0.45 * np.sign(np.sin(toward_centre - along))  # lean away from the river
    x159 = ray_from(c, along + side if rng.random() < 0.5 else along + np.pi - side, avoid=LineString(x158))
    ends = sorted((_toward(town, x158[0]), _toward(town, x158[-1])))
    name = "".join(NEIGHBOURS[k][0] for k in ends) if ends[0] != ends[1] else f"蓬{NEIGHBOURS[ends[0]][0]}"
    town.network.add(_Road("X158", f"{name}路", "county", [x158]))
    town.network.add(_Road("X159", f"蓬{NEIGHBOURS[_toward(town, x159[-1])][0]}路", "county", [x159]))
    bridge.road_code = "X158"


_Edge = tuple[float, int, int, np.ndarray]  # candidate link: length, node, node, coordinates
_Link = tuple[int, int, np.ndarray]  # chosen link: node, node, coordinates


@dataclass
class _Node:
    """A node of the township network: a county-road vertex, a village seat or a bridge abutment."""

    xy: np.ndarray
    kind: str  # "county", "seat" or "abutment"
    label: str = ""
    bridge: int = -1
    road: int = -1  # county nodes: which county road


def _township_nodes(town: _Town) -> list[_Node]:
    """County-road vertices every ~500 m (off the bridges), village seats, and the other road bridges."""
    nodes: list[_Node] = []
    seen: set[tuple[float, float]] = set()
    ends = np.vstack([b.ends for b in town.bridges])
    for r, road in enumerate(town.network.roads):
        coords = road.parts[0]
        for k in range(4, len(coords) - 4, 10):
            xy = coords[k]
            if tuple(xy) not in seen and np.hypot(*(ends - xy).T).min() > 200.0:
                seen.add(tuple(xy))
                nodes.append(_Node(xy, "county", road=r))
    for village in town.villages:
        if village.kind == "village":
            nodes.append(_Node(town.units[village.seat].office, "seat", village.name))
    for b, bridge in enumerate(town.bridges):
        if bridge.kind == "road" and not bridge.road_code:
            nodes += [_Node(end, "abutment", bridge.name, b) for end in bridge.ends]
    return nodes


def _candidate_edges(rng: np.random.Generator, town: _Town, nodes: list[_Node], inner: shapely.Geometry
                     ) -> list[_Edge]:
    """Every dry, bent link of up to 5 km between two nodes (not along the county roads themselves)."""
    edges = []
    for i in range(len(nodes)):
        for j in range(i + 1, len(nodes)):
            a, b = nodes[i], nodes[j]
            length = float(np.hypot(*(a.xy - b.xy)))
            if length > 5000.0 or (a.kind == b.kind == "county") or (a.bridge >= 0 and a.bridge == b.bridge):
                continue
            path = _bent(a.xy, b.xy, rng, bend=0.035)
            if not _valid_road(town, path, inner):
                path = np.array([a.xy, b.xy])
                if not _valid_road(town, path, inner):
                    continue
            edges.append((length, i, j, path))
    return edges


class _DisjointSet:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> bool:
        ri, rj = self.find(i), self.find(j)
        self.parent[ri] = rj
        return ri != rj


def _graph_distance(n: int, edges: Iterable[tuple[int, int, float]], source: int) -> np.ndarray:
    adjacency: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for i, j, w in edges:
        adjacency[i].append((j, w))
        adjacency[j].append((i, w))
    dist = np.full(n, np.inf)
    dist[source] = 0.0
    heap = [(0.0, source)]
    while heap:
        d, i = heapq.heappop(heap)
        if d > dist[i]:
            continue
        for j, w in adjacency[i]:
            if d + w < dist[j]:
                dist[j] = d + w
                heapq.heappush(heap, (d + w, j))
    return dist


def _township_edges(rng: np.random.Generator, town: _Town, nodes: list[_Node]) -> list[_Link]:
    """A minimum spanning tree over village seats, county-road nodes and bridge abutments, plus loops.

    The county roads and the bridges are in the tree from the start, so rivers are crossed only there.
    """
    inner = town.town.buffer(-40.0)
    shapely.prepare(inner)
    candidates = sorted(_candidate_edges(rng, town, nodes, inner), key=lambda e: (e[0], e[1], e[2]))
    sets = _DisjointSet(len(nodes))
    county = [i for i, n in enumerate(nodes) if n.kind == "county"]
    for i in county[1:]:
        sets.union(county[0], i)
    chosen: list[_Link] = []
    abutments = [k for k, n in enumerate(nodes) if n.kind == "abutment"]
    for i, j in zip(abutments[::2], abutments[1::2], strict=True):  # the bridge itself
        sets.union(i, j)
        chosen.append((i, j, np.array([nodes[i].xy, nodes[j].xy])))
    for _, i, j, path in candidates:
        if sets.union(i, j):
            chosen.append((i, j, path))
    _close_bridges(nodes, candidates, chosen)
    _add_loops(nodes, candidates, chosen)
    return chosen


def _close_bridges(nodes: list[_Node], candidates: list[_Edge], chosen: list[_Link]) -> None:
    # A spanning tree takes only one bridge per river; give every other bridge its approach road too.
    for a, node in enumerate(nodes):
        if node.kind == "abutment" and sum(a in (i, j) for i, j, _ in chosen) < 2:
            edge = next((e for e in candidates
                         if a in (e[1], e[2]) and nodes[e[1] + e[2] - a].bridge != node.bridge), None)
            if edge is not None:
                chosen.append((edge[1], edge[2], edge[3]))


def _county_links(nodes: list[_Node]) -> list[tuple[int, int, float]]:
    """The county roads as weighted links between their nodes, joined where the two roads meet."""

    def link(a: int, b: int) -> tuple[int, int, float]:
        return a, b, float(np.hypot(*(nodes[a].xy - nodes[b].xy)))

    by_road: dict[int, list[int]] = {}
    for k, node in enumerate(nodes):
        if node.kind == "county":
            by_road.setdefault(node.road, []).append(k)
    chains = list(by_road.values())
    links = [link(a, b) for chain in chains for a, b in zip(chain[:-1], chain[1:], strict=True)]
    for chain in chains[1:]:
        links.append(min((link(a, b) for a in chains[0] for b in chain), key=lambda ab: ab[2]))
    return links


def _add_loops(nodes: list[_Node], candidates: list[_Edge], chosen: list[_Link], n_loops: int = 4) -> None:
    # Real township networks have loops: link neighbouring villages whose way round is far too long.
    for _ in range(n_loops):
        weighted = [(i, j, float(_cumlen(path)[-1])) for i, j, path in chosen] + _county_links(nodes)
        best, best_ratio = None, 1.6
        dist: dict[int, np.ndarray] = {}
        for length, i, j, path in candidates:
            if length > 4000.0 or nodes[i].kind != "seat" or nodes[j].kind != "seat":
                continue
            if i not in dist:
                dist[i] = _graph_distance(len(nodes), weighted, i)
            ratio = dist[i][j] / length
            if ratio > best_ratio and all({i, j} != {a, b} for a, b, _ in chosen):
                best, best_ratio = (i, j, path), ratio
        if best is None:
            return
        chosen.append(best)


def _chains(nodes: list[_Node], edges: list[_Link]) -> list[tuple[list[int], np.ndarray]]:
    """Join edges end to end through nodes of degree 2 into named roads."""
    degree = np.zeros(len(nodes), int)
    for i, j, _ in edges:
        degree[i] += 1
        degree[j] += 1
    stop = [n.kind == "county" or degree[k] != 2 for k, n in enumerate(nodes)]
    used = [False] * len(edges)

    def extend(node: int, path: list[np.ndarray], seq: list[int]) -> None:
        while not stop[node]:
            k = next((k for k, (i, j, _) in enumerate(edges) if not used[k] and node in (i, j)), None)
            if k is None:
                return
            used[k] = True
            i, j, coords = edges[k]
            node = j if node == i else i
            path.append(coords if node == j else coords[::-1])
            seq.append(node)

    chains = []
    for k, (i, j, coords) in enumerate(edges):
        if used[k]:
            continue
        used[k] = True
        forward, fseq = [coords], [i, j]
        extend(j, forward, fseq)
        backward: list[np.ndarray] = []
        bseq: list[int] = []
        extend(i, backward, bseq)
        parts = [p[::-1] for p in backward[::-1]] + forward
        seq = bseq[::-1] + fseq
        chains.append((seq, np.vstack([parts[0]] + [p[1:] for p in parts[1:]])))
    return chains


def _township_roads(seed: int, town: _Town) -> None:
    rng = _rng(seed, 10)
    nodes = _township_nodes(town)
    edges = _township_edges(rng, town, nodes)
    names: list[str] = []
    for k, (seq, coords) in enumerate(_chains(nodes, edges)):
        labels = [nodes[n].label for n in (seq[0], seq[-1]) if nodes[n].kind == "seat"]
        if len(labels) == 2 and labels[0] != labels[1]:
            name = f"{labels[0][0]}{labels[1][0]}路"
            if name in names:
                name = f"{labels[0][:2]}{labels[1][:2]}路"
        else:
            label = labels[0] if labels else next(
                (nodes[n].label for n in seq if nodes[n].label), _nearest_village(town, coords).name)
            name = f"{label[:2]}路" if labels else f"{label[:2]}连接线"
        names.append(_unique_name(name, names))
        code = f"Y{k + 1:03d}"
        town.network.add(_Road(code, names[-1], "township", [coords]))
        for a, b in zip(seq[:-1], seq[1:], strict=True):
            if nodes[a].bridge >= 0 and nodes[a].bridge == nodes[b].bridge:  # this road crosses the bridge
                town.bridges[nodes[a].bridge].road_code = code
    town.network.node_crossings()


def _unique_name(name: str, used: list[str]) -> str:
    """``name``, or if taken its branch road (X支路, X二支路, ...) or numbered link (X二号连接线, ...)."""
    if name not in used:
        return name
    link = name.endswith("连接线")
    stem = name[:-3] if link else name[:-1]
    numbers = ("二", "三", "四", "五", "六", "七", "八", "九") if link else ("", "二", "三", "四", "五", "六")
    candidates = [f"{stem}{n}号连接线" if link else f"{stem}{n}支路" for n in numbers]
    return next((c for c in candidates if c not in used), name)


def _nearest_village(town: _Town, coords: np.ndarray) -> _Village:
    mid = LineString(coords).interpolate(0.5, normalized=True)
    return min(town.villages, key=lambda v: v.poly.distance(mid))


def _connect(town: _Town, rng: np.random.Generator, via: Sequence[np.ndarray], inner: shapely.Geometry,
             bend: float = 0.05, tries: int = 6) -> np.ndarray | None:
    """A road from ``via[0]`` through ``via[1:-1]`` towards the network, cut where it first meets it.

    Tries the nearest points of the ``tries`` nearest roads in turn; the meeting point becomes a shared vertex.
    Returns the road's coordinates (free end first) or None if every attempt crosses water.
    """
    head = [np.asarray(p, float) for p in via]
    for target in town.network.nearest_targets(head[-1], tries):
        legs = [_bent(a, b, rng, bend) for a, b in zip(head[:-1], head[1:], strict=True)] if len(head) > 1 else []
        last = _bent(head[-1], target, rng, bend)
        beyond = target + 3.0 * (target - last[-2]) / max(np.hypot(*(target - last[-2])), 1e-9)
        path = np.vstack([leg[:-1] for leg in legs] + [last, beyond[None]]) if legs else np.vstack([last, beyond])
        hit = town.network.first_hit(path)
        if hit is None:
            continue
        dist, point, key = hit
        cut = _truncate(path, dist, point)
        if len(cut) < 2 or not _valid_road(town, cut, inner):
            continue
        end = town.network.insert(key, point)
        cut[-1] = end
        return cut
    return None


def _streets(rng: np.random.Generator, town: _Town, inner: shapely.Geometry) -> None:
    """Town streets: one through each community office, then a few more in the emptiest directions."""
    c = town.centre
    for unit in town.units[:N_COMMUNITIES]:
        away = unit.office - c
        away = away / max(np.hypot(*away), 1.0)
        start = unit.office + away * (600.0 if np.hypot(*(unit.office - c)) < 300 else 250.0)
        if not shapely.contains_xy(town.admissible, *start):
            start = unit.office + away * 60.0
        path = _connect(town, rng, [start, unit.office], inner, bend=0.03)
        if path is not None:
            town.network.add(_Road(f"C{len(town.network.roads):04d}", unit.street, "village", [path]))
    for name in EXTRA_STREETS:
        lines = town.network.geometry()
        headings = np.linspace(0.0, 2 * np.pi, 36, endpoint=False)
        room = [lines.distance(Point(c + 900.0 * np.array([np.cos(h), np.sin(h)]))) for h in headings]
        for h in headings[np.argsort(room)[::-1]]:
            start = c + rng.uniform(800.0, 1400.0) * np.array([np.cos(h), np.sin(h)])
            path = _connect(town, rng, [start], inner, bend=0.03) if town.admissible.contains(Point(start)) else None
            if path is not None:
                town.network.add(_Road(f"C{len(town.network.roads):04d}", name, "village", [path]))
                break


def _clusters(rng: np.random.Generator, town: _Town) -> None:
    """4-6 settlement clusters per former village, the first at its office, the rest spread out."""
    for i, unit in enumerate(town.units):
        if unit.kind != "former":
            continue
        town.clusters.append(_Cluster(i, unit.office))
        region = unit.poly.buffer(-150.0).intersection(town.admissible).difference(town.hill)
        if region.is_empty:
            continue
        shapely.prepare(region)
        want = int(rng.integers(3, 6))
        minx, miny, maxx, maxy = region.bounds
        placed = [unit.office]
        for c in rng.uniform([minx, miny], [maxx, maxy], size=(600, 2)):
            if len(placed) > want:
                break
            if shapely.contains_xy(region, c[0], c[1]) and np.hypot(*(np.array(placed) - c).T).min() > 650.0:
                placed.append(c)
                town.clusters.append(_Cluster(i, c))


def _village_roads(seed: int, town: _Town) -> None:
    """Streets, then roads to every other former village office, then one road through each cluster."""
    rng = _rng(seed, 12)
    inner = town.town.buffer(-25.0)
    shapely.prepare(inner)
    _streets(rng, town, inner)
    seats = {v.seat for v in town.villages}
    for i, unit in enumerate(town.units):
        if unit.kind == "former" and i not in seats:
            _cluster_road(rng, town, inner, unit.office, f"{unit.name[:-1]}村道", extend=150.0)
    _clusters(rng, town)
    _number_groups(town)
    lines = town.network.geometry()
    order = sorted(range(len(town.clusters)), key=lambda k: lines.distance(Point(town.clusters[k].centre)))
    for k in order:
        cluster = town.clusters[k]
        if np.array_equal(cluster.centre, town.units[cluster.unit].office):
            continue  # the office cluster already has its road
        village = town.villages[town.units[cluster.unit].village]
        cluster.path = _cluster_road(rng, town, inner, cluster.centre, f"{village.name}{cluster.group}组道路",
                                     extend=rng.uniform(250.0, 400.0))
        if cluster.path is not None:
            cluster.centre_at = LineString(cluster.path).project(Point(cluster.centre))


def _cluster_road(rng: np.random.Generator, town: _Town, inner: shapely.Geometry, centre: np.ndarray,
                  name: str, extend: float) -> np.ndarray | None:
    """A village road that runs through ``centre`` (and on past it) to the nearest suitable road."""
    target = town.network.nearest_targets(centre, 1)[0]
    away = (centre - target) / max(np.hypot(*(centre - target)), 1.0)
    away = _rotate(away, rng.uniform(-0.5, 0.5))
    start = centre + extend * away
    path = None
    if town.admissible.contains(Point(start)):
        path = _connect(town, rng, [start, centre], inner)
    if path is None:
        path = _connect(town, rng, [centre], inner)
    if path is not None:
        town.network.add(_Road(f"C{len(town.network.roads):04d}", name, "village", [path]))
    return path


def _number_groups(town: _Town) -> None:
    """村民小组 numbers run on through the merged village, former village by former village."""
    for village in town.villages:
        n = 0
        for m in sorted(village.members, key=lambda m: town.units[m].code):
            for cluster in town.clusters:
                if cluster.unit == m:
                    n += 1
                    cluster.group = n


def _footbridge_track(rng: np.random.Generator, town: _Town, inner: shapely.Geometry) -> None:
    """A footpath that crosses the main river on the footbridge (人行桥)."""
    bridge = next(b for b in town.bridges if b.kind == "foot")
    halves = []
    for end in bridge.ends:
        path = _connect(town, rng, [end], inner, bend=0.08, tries=40)
        if path is None:  # no dry way to a road on one bank: there is no footbridge then
            town.bridges.remove(bridge)
            return
        halves.append(path)
    coords = np.vstack([halves[0][::-1], halves[1]])
    code = f"J{sum(r.road_class == 'track' for r in town.network.roads) + 1:03d}"
    village = town.villages[town.units[town.unit_at(bridge.ends[0])].village]
    town.network.add(_Road(code, f"{village.name}过河便道", "track", [coords]))
    bridge.road_code = code


def _tracks(seed: int, town: _Town) -> None:
    """Tracks (机耕道) to a few settlements left far from any road, and the footbridge path."""
    rng = _rng(seed, 14)
    inner = town.town.buffer(-25.0)
    shapely.prepare(inner)
    _footbridge_track(rng, town, inner)
    lines = town.network.geometry()
    xy = np.array([s.xy for s in town.settlements])
    far = shapely.distance(lines, shapely.points(xy))
    chosen: list[np.ndarray] = []
    for k in np.argsort(-far, kind="stable"):
        if far[k] < 350.0 or len(chosen) == 6:
            break
        if chosen and np.hypot(*(np.array(chosen) - xy[k]).T).min() < 1200.0:
            continue
        s = town.settlements[k]
        path = _connect(town, rng, [s.xy], inner, bend=0.08)
        if path is not None:
            village = town.villages[town.units[s.unit].village]
            code = f"J{sum(r.road_class == 'track' for r in town.network.roads) + 1:03d}"
            town.network.add(_Road(code, f"{village.name}{s.group}组机耕道", "track", [path]))
            chosen.append(s.xy)


def _roads(seed: int, town: _Town) -> None:
    rng = _rng(seed, 9)
    _bridge_sites(rng, town)
    _county_roads(rng, town)
    _township_roads(seed, town)
    _village_roads(seed, town)


# --------------------------------------------------------------------------------------- 4. people
def _accept(cand: np.ndarray, taken: np.ndarray, want: int, town: _Town, within: shapely.Geometry,
            min_sep: float) -> np.ndarray:
    """Up to ``want`` of ``cand`` (in order) that are admissible, in ``within`` and apart from ``taken``."""
    x, y = cand[:, 0], cand[:, 1]
    ok = shapely.contains_xy(town.admissible, x, y) & shapely.contains_xy(within, x, y)
    out: list[np.ndarray] = []
    for c in cand[ok]:
        if len(out) == want:
            break
        pool = np.vstack([taken, *out]) if out else taken
        if len(pool) == 0 or np.hypot(*(pool - c).T).min() >= min_sep:
            out.append(c)
    return np.array(out).reshape(-1, 2)


def _community_settlements(rng: np.random.Generator, town: _Town, taken: np.ndarray) -> np.ndarray:
    """Residential compounds strung along the town's streets, thickest at the centre."""
    for i, unit in enumerate(town.units[:N_COMMUNITIES]):
        clipped = town.network.geometry().intersection(unit.poly)
        lines = [p for p in shapely.get_parts(clipped) if isinstance(p, LineString)]
        lengths = np.array([ln.length for ln in lines])
        idx = rng.choice(len(lines), 800, p=lengths / lengths.sum())
        pos = shapely.line_interpolate_point(np.array(lines, dtype=object)[idx], rng.uniform(0, 1, 800) * lengths[idx])
        cand = shapely.get_coordinates(pos) + rng.normal(0.0, 70.0, (800, 2))
        keep = rng.random(800) < np.exp(-np.hypot(*(cand - town.centre).T) / 900.0)
        want = int(round((34 if i == 0 else 26) * rng.uniform(0.9, 1.1)))
        pts = _accept(cand[keep], taken, want, town, unit.poly.buffer(-15.0), 45.0)
        town.settlements += [_Settlement(p, i, -1) for p in pts]
        taken = np.vstack([taken, pts])
    return taken


def _cluster_settlements(rng: np.random.Generator, town: _Town, unit_index: int, want: int,
                         taken: np.ndarray) -> np.ndarray:
    """Courtyards along each cluster's road near its centre, and a few scattered over the fields."""
    unit = town.units[unit_index]
    within = unit.poly.buffer(-15.0)
    shapely.prepare(within)
    clusters = [k for k, c in enumerate(town.clusters) if c.unit == unit_index]
    weights = np.array([1.6 if k == clusters[0] else 1.0 for k in clusters])
    counts = rng.multinomial(int(round(want * 0.9)), weights / weights.sum())
    for k, n in zip(clusters, counts, strict=True):
        cluster = town.clusters[k]
        if cluster.path is None:
            cand = cluster.centre + rng.normal(0.0, 160.0, (40 * n + 40, 2))
        else:
            cum = _cumlen(cluster.path)
            hi = min(cum[-1], cluster.centre_at + 350.0)
            s = rng.uniform(0.0, hi, 40 * n + 40)
            along = np.column_stack([np.interp(s, cum, cluster.path[:, 0]), np.interp(s, cum, cluster.path[:, 1])])
            cand = along + rng.normal(0.0, 95.0, (len(s), 2))
        pts = _accept(cand, taken, int(n), town, within, 40.0)
        town.settlements += [_Settlement(p, unit_index, k, cluster.group) for p in pts]
        taken = np.vstack([taken, pts])
    minx, miny, maxx, maxy = unit.poly.bounds
    cand = rng.uniform([minx, miny], [maxx, maxy], (400, 2))
    pts = _accept(cand, taken, want - int(counts.sum()), town, within, 40.0)
    for p in pts:  # scattered homesteads belong to the nearest cluster's group
        k = min(clusters, key=lambda k: np.hypot(*(town.clusters[k].centre - p)))
        town.settlements.append(_Settlement(p, unit_index, -1, town.clusters[k].group))
    return np.vstack([taken, pts])


def _place_settlements(seed: int, town: _Town) -> None:
    rng = _rng(seed, 13)
    taken = _community_settlements(rng, town, np.empty((0, 2)))
    for i, unit in enumerate(town.units):
        if unit.kind == "former":
            want = int(round(unit.poly.area / 1e6 * rng.uniform(5.2, 6.8)))
            taken = _cluster_settlements(rng, town, i, want, taken)


def _populate(seed: int, town: _Town) -> None:
    """Share the town's 84,175 people: about 27 % in the communities, older villages, younger town."""
    rng = _rng(seed, 15)
    people = town.settlements
    community = np.array([town.units[s.unit].kind == "community" for s in people])
    scattered = np.array([s.cluster < 0 for s in people]) & ~community
    weights = rng.lognormal(0.0, 0.5, len(people)) * np.where(scattered, 0.6, 1.0)
    in_town = int(round(TOWN_POPULATION * rng.uniform(0.25, 0.29)))
    population = np.zeros(len(people), np.int64)
    population[community] = _apportion(in_town, weights[community], 40)
    population[~community] = _apportion(TOWN_POPULATION - in_town, weights[~community], 12)
    elderly = np.where(community, rng.normal(0.19, 0.03, len(people)), rng.normal(0.265, 0.04, len(people)))
    children = np.where(community, rng.normal(0.155, 0.02, len(people)), rng.normal(0.125, 0.025, len(people)))
    size = np.where(community, rng.uniform(2.65, 3.05, len(people)), rng.uniform(2.55, 2.95, len(people)))
    for s, pop, e, c, h in zip(people, population, elderly, children, size, strict=True):
        s.population = int(pop)
        s.elderly = int(round(pop * float(np.clip(e, 0.08, 0.45))))
        s.children = int(round(pop * float(np.clip(c, 0.04, 0.25))))
        s.households = max(1, int(round(pop / h)))
    _name_settlements(rng, town)


def _name_settlements(rng: np.random.Generator, town: _Town) -> None:
    used: dict[int, set[str]] = {}
    counters: dict[str, int] = {}
    for s in town.settlements:
        unit = town.units[s.unit]
        names = used.setdefault(unit.village, set())
        for _ in range(100):
            name = _settlement_name(rng, unit, s.population)
            if name not in names:
                break
        names.add(name)
        counters[unit.code] = counters.get(unit.code, 0) + 1
        s.code, s.name = f"JM{unit.code}-{counters[unit.code]:03d}", name


def _settlement_name(rng: np.random.Generator, unit: _Unit, population: int) -> str:
    if unit.kind == "community":
        if rng.random() < 0.5:
            return f"{unit.street}{int(rng.integers(1, 160))}号院"
        return f"{rng.choice(COMPOUND_PREFIXES)}{rng.choice(COMPOUND_SUFFIXES)}"
    if rng.random() < 0.7:
        return f"{rng.choice(SURNAMES)}家{rng.choice(HOMESTEAD_SUFFIXES, p=HOMESTEAD_WEIGHTS)}"
    name = f"{rng.choice(PLACE_PREFIXES)}{rng.choice(LANDFORMS)}"
    return f"{name}聚居点" if population >= 150 else name


def _mark_split_villages(town: _Town) -> None:
    """A merged village is split (needs an N station across the water) when 100+ people live on each
    of two banks."""
    water = shapely.union_all([r.line.buffer(1.0) for r in town.rivers])
    for v, village in enumerate(town.villages):
        members = [s for s in town.settlements if town.units[s.unit].village == v]
        sides = _polygons(village.poly.difference(water), 1e4)
        pops = [sum(s.population for s in members if side.contains(Point(s.xy))) for side in sides]
        village.split = village.kind == "village" and sum(p >= 100 for p in pops) >= 2


def _people(seed: int, town: _Town) -> None:
    _place_settlements(seed, town)
    _tracks(seed, town)
    town.network.split_at_junctions()
    _populate(seed, town)
    _mark_split_villages(town)


# ----------------------------------------------------------------- 5. schools, facilities, assets
def _address(town: _Town, xy: np.ndarray, unit_index: int, lines: list[LineString], names: list[str]) -> str:
    """坐落: 蓬莱镇X村N组 in the countryside, 蓬莱镇X社区<street>N号 in town."""
    unit = town.units[unit_index]
    village = town.villages[unit.village]
    if unit.kind == "community":
        k = int(np.argmin(shapely.distance(lines, Point(xy))))
        # House numbers count outwards from the town centre, about one per 10 m of street.
        number = abs(lines[k].project(Point(xy)) - lines[k].project(Point(town.centre))) // 10 + 1
        return f"蓬莱镇{village.name}{names[k]}{int(number)}号"
    members = [s for s in town.settlements if s.unit == unit_index]
    nearest = min(members, key=lambda s: np.hypot(*(s.xy - xy)))
    return f"蓬莱镇{village.name}{nearest.group}组"


class _AssetBook:
    """The asset ledger (资产台账): codes per owner, owner unit, location and class filled in one place."""

    def __init__(self, town: _Town) -> None:
        self.town = town
        self.rows: list[dict[str, Any]] = []
        self.sequence: dict[str, int] = {}
        names = [u.street for u in town.units if u.kind == "community"] + list(EXTRA_STREETS)
        streets = [r for r in town.network.roads if r.road_class == "county" or r.name in names]
        self.lines = [LineString(np.vstack([p for p in r.parts])) for r in streets]
        self.line_names = [r.name for r in streets]

    def add(self, xy: np.ndarray, name: str, category: str, ownership: str, status: str, former_use: str,
            floor_area: float | None = None, land_area: float | None = None, value: float | None = None,
            footprint: Polygon | None = None) -> dict[str, Any]:
        unit_index = self.town.unit_at(xy)
        unit = self.town.units[unit_index]
        village = self.town.villages[unit.village]
        owner = TOWN_CODE if ownership == "town_state" else village.code
        self.sequence[owner] = self.sequence.get(owner, 0) + 1
        code = (f"GY{owner}-{self.sequence[owner]:03d}" if ownership == "town_state"
                else f"JT{owner}-{self.sequence[owner]:03d}")
        row = {
            "code": code, "name": name, "ownership": ownership,
            "owner_unit": TOWN_GOVERNMENT if ownership == "town_state" else f"{village.name}股份经济合作联合社",
            "asset_class": CATEGORY_CLASS[category], "category": category, "former_use": former_use,
            "village_code": village.code, "former_village_code": unit.code if unit.kind == "former" else None,
            "location": _address(self.town, xy, unit_index, self.lines, self.line_names),
            "floor_area": None if floor_area is None else round(float(floor_area), 1),
            "land_area": None if land_area is None else float(round(land_area)),
            "original_value": None if value is None else round(float(value), 2),
            "use_status": status, "geometry": Point(xy), "footprint": footprint,
        }
        self.rows.append(row)
        return row


def _building(rng: np.random.Generator, lo: float, hi: float, unit_cost: tuple[float, float]
              ) -> tuple[float, float, float]:
    """Floor area, lot area (m²) and book value (万元) of a building of ``lo``-``hi`` m²."""
    floor = float(round(rng.uniform(lo, hi) / 5) * 5)
    return floor, floor * rng.uniform(1.3, 2.6), floor * rng.uniform(*unit_cost) / 1e4


def _schools(seed: int, town: _Town, placer: _Placer) -> None:
    """Open town schools near the centre, a nine-year school and two village schools far out, and the
    rural primary schools closed when pupils moved to town (their buildings are idle assets now)."""
    rng = _rng(seed, 16)
    town_area = shapely.union_all([u.poly for u in town.units[:N_COMMUNITIES]]).buffer(-50.0)
    rows = town.schools
    for name, level, cap in (("蓬莱镇中心幼儿园", "kindergarten", 360), ("蓬莱镇中心小学", "primary", 1800),
                             ("蓬莱镇初级中学", "junior", 1350)):
        xy = placer.place(town.centre, 250.0, 1100.0, within=town_area, road_dist=60.0, min_sep=150.0)
        rows.append(_school_row(name, level, "open", cap, int(cap * rng.uniform(0.72, 0.88)), xy))
    far = sorted((v for v in town.villages if v.kind == "village"),
                 key=lambda v: -np.hypot(*(town.units[v.seat].office - town.centre)))
    for village, (suffix, level, cap) in zip(far, (("九年制学校", "nine_year", 900), ("小学", "primary", 270),
                                                   ("幼儿园", "kindergarten", 90)), strict=False):
        xy = placer.place(town.units[village.seat].office, 100.0, 450.0, within=village.poly.buffer(-30.0),
                          min_sep=80.0)
        name = f"蓬莱镇{village.name[:-1]}{suffix}" if level == "nine_year" else f"{village.name}{suffix}"
        rows.append(_school_row(name, level, "open", cap, int(cap * rng.uniform(0.5, 0.7)), xy))
    seats = {v.seat for v in town.villages}
    former = [i for i, u in enumerate(town.units) if u.kind == "former" and i not in seats]
    for i in sorted(rng.choice(former, 7, replace=False)):
        unit = town.units[i]
        xy = placer.place(unit.office, 150.0, 500.0, within=unit.poly.buffer(-20.0), min_sep=60.0)
        status = "merged" if rng.random() < 0.4 else "closed"
        rows.append(_school_row(f"{unit.name}小学", "primary", status, int(rng.integers(4, 10)) * 40, 0, xy))


def _school_row(name: str, level: str, status: str, capacity: int, enrolment: int, xy: np.ndarray) -> dict[str, Any]:
    return {"code": "", "name": name, "level": level, "status": status, "capacity": capacity,
            "enrolment": enrolment, "village_code": "", "geometry": Point(xy)}


def _facilities(seed: int, town: _Town, placer: _Placer) -> None:
    """The health centre, village clinics (two villages still lack one), day care, a nursing home and
    culture rooms. Two day-care centres moved into idle former village offices (公益事业改建)."""
    rng = _rng(seed, 17)
    rows = town.facilities
    town_area = shapely.union_all([u.poly for u in town.units[:N_COMMUNITIES]]).buffer(-50.0)
    xy = placer.place(town.centre, 200.0, 800.0, within=town_area, road_dist=50.0, min_sep=120.0)
    rows.append(_facility_row("蓬莱镇卫生院", "health_centre", 80, xy))
    villages = [v for v in town.villages if v.kind == "village"]
    without = set(rng.choice(len(villages), 2, replace=False).tolist())
    for k, village in enumerate(villages):
        seat = town.units[village.seat].office
        if k not in without:
            xy = placer.place(seat, 40.0, 200.0, within=village.poly.buffer(-20.0), min_sep=30.0)
            rows.append(_facility_row(f"{village.name}卫生室", "village_clinic", int(rng.integers(2, 6)), xy))
        if k % 2 == 0:
            xy = placer.place(seat, 15.0, 60.0, within=village.poly.buffer(-20.0), min_sep=10.0)
            rows.append(_facility_row(f"{village.name}文化室", "culture_room", int(rng.integers(4, 9)) * 10, xy))
    xy = placer.place(town.centre, 1200.0, 2200.0, road_dist=100.0, min_sep=100.0)
    rows.append(_facility_row("蓬莱镇敬老院", "nursing_home", 120, xy))
    core = town.units[1]
    rows.append(_facility_row(f"{town.villages[core.village].name}日间照料中心", "elderly_day_care", 40,
                              placer.place(core.office, 20.0, 120.0, within=core.poly.buffer(-20.0), min_sep=15.0)))
    seats = {v.seat for v in town.villages}
    idle = [i for i, u in enumerate(town.units) if u.kind == "former" and i not in seats]
    for i in sorted(rng.choice(idle, 2, replace=False)):
        unit = town.units[i]
        town.day_care_units.append(int(i))
        rows.append(_facility_row(f"{town.villages[unit.village].name}{unit.name[:-1]}日间照料中心",
                                  "elderly_day_care", int(rng.integers(2, 4)) * 10, unit.office))


def _facility_row(name: str, kind: str, capacity: int, xy: np.ndarray) -> dict[str, Any]:
    return {"code": "", "name": name, "kind": kind, "capacity": capacity, "village_code": "", "geometry": Point(xy)}


def _office_assets(rng: np.random.Generator, town: _Town, book: _AssetBook) -> None:
    """Every former village office passed to the merged village; most of those left behind stand idle.

    Statuses of the left-behind offices are dealt from fixed shares (60 % idle, 20 % partly idle, 12 %
    leased, the rest in use), so every seed tells the same story; day-care centres count as in use.
    """
    seats = {v.seat for v in town.villages}
    left = [i for i, u in enumerate(town.units) if i not in seats]
    shares = np.round(np.array([0.6, 0.2, 0.12]) * len(left)).astype(int)
    deck = ["idle"] * shares[0] + ["partly_idle"] * shares[1] + ["leased"] * shares[2]
    deck += ["in_use"] * (len(left) - len(deck))
    dealt = dict(zip(left, (deck[k] for k in rng.permutation(len(deck))), strict=True))
    for i, unit in enumerate(town.units):
        village = town.villages[unit.village]
        floor, lot, value = _building(rng, 300.0, 900.0, (900.0, 1500.0))
        if i in seats:
            name, status = f"{village.name}党群服务中心", "in_use"
        else:
            name = f"原{unit.name}村委会办公用房"
            status = "in_use" if i in town.day_care_units else dealt[i]
        former_use = "社区办公" if unit.kind == "community" else f"原{unit.name}村委会办公"
        town.office_assets[i] = book.add(unit.office, name, "village_office", "village_collective", status,
                                         former_use, floor, lot, value)


def _public_building_assets(rng: np.random.Generator, town: _Town, book: _AssetBook) -> None:
    """Closed schools, clinics, culture rooms, nursing homes: the buildings behind other layers' points."""
    for school in town.schools:
        if school["status"] != "open":
            floor, lot, value = _building(rng, 600.0, 1800.0, (700.0, 1100.0))
            owner = "town_state" if rng.random() < 0.75 else "village_collective"
            book.add(np.asarray(school["geometry"].coords[0]), f"原{school['name']}校舍", "school", owner,
                     _pick(rng, STATUS_ODDS["school"]), "村小学教学用房", floor, lot, value)
    for fac in town.facilities:
        xy = np.asarray(fac["geometry"].coords[0])
        if fac["kind"] == "village_clinic":
            floor, lot, value = _building(rng, 80.0, 200.0, (1000.0, 1500.0))
            book.add(xy, fac["name"], "clinic", "village_collective", "in_use", "村卫生室", floor, lot, value)
        elif fac["kind"] == "culture_room":
            floor, lot, value = _building(rng, 60.0, 150.0, (900.0, 1300.0))
            book.add(xy, fac["name"], "culture_room", "village_collective", "in_use", "村文化室", floor, lot, value)
        elif fac["kind"] == "nursing_home":
            floor, lot, value = _building(rng, 2200.0, 3200.0, (1100.0, 1500.0))
            book.add(xy, fac["name"], "nursing_home", "town_state", "in_use", "敬老院", floor, lot, value)


def _former_service_assets(rng: np.random.Generator, town: _Town, book: _AssetBook, placer: _Placer) -> None:
    """Clinics and culture rooms of former villages, and the old nursing home, left behind by the merger."""
    seats = {v.seat for v in town.villages}
    former = [i for i, u in enumerate(town.units) if u.kind == "former" and i not in seats]
    for category, label, count in (("clinic", "卫生室", 8), ("culture_room", "文化室", 5)):
        for i in sorted(rng.choice(former, count, replace=False)):
            unit = town.units[i]
            xy = placer.place(unit.office, 20.0, 150.0, within=unit.poly.buffer(-20.0), min_sep=15.0)
            floor, lot, value = _building(rng, 60.0, 180.0, (800.0, 1200.0))
            book.add(xy, f"原{unit.name}{label}", category, "village_collective",
                     _pick(rng, STATUS_ODDS[category]), f"原{unit.name}{label}", floor, lot, value)
    xy = placer.place(town.centre, 900.0, 1800.0, road_dist=60.0, min_sep=60.0)
    floor, lot, value = _building(rng, 900.0, 1400.0, (600.0, 900.0))
    book.add(xy, "原蓬莱镇敬老院老院区", "nursing_home", "town_state", "idle", "敬老院(已迁新址)", floor, lot, value)


def _town_office_assets(rng: np.random.Generator, town: _Town, book: _AssetBook, placer: _Placer) -> None:
    offices = (("蓬莱镇人民政府办公楼", "in_use", "镇机关办公"), ("蓬莱镇便民服务中心", "in_use", "便民服务"),
               ("蓬莱镇农业综合服务中心", "in_use", "农业服务"), ("蓬莱镇干部职工周转房", "partly_idle", "职工住房"),
               ("原蓬莱镇林业站办公楼", "idle", "林业站办公"), ("原蓬莱镇农机站", "leased", "农机站办公及库房"))
    for k, (name, status, use) in enumerate(offices):
        xy = placer.place(town.centre, 30.0 if k == 0 else 80.0, 150.0 if k == 0 else 900.0,
                          within=town.units[0].poly if k == 0 else None, road_dist=50.0, min_sep=40.0)
        floor, lot, value = _building(rng, 600.0, 2400.0, (1000.0, 1600.0))
        book.add(xy, name, "office", "town_state", status, use, floor, lot, value)


def _business_assets(rng: np.random.Generator, town: _Town, book: _AssetBook, placer: _Placer) -> None:
    """Shops on the main street, collective shops, factory buildings, warehouses and odds and ends."""
    for k in range(15):
        xy = placer.place(town.centre, 40.0, 700.0, road_dist=30.0, min_sep=20.0)
        floor, lot, value = _building(rng, 40.0, 160.0, (1500.0, 2500.0))
        book.add(xy, f"镇属临街门市{k + 1}号", "shop", "town_state", _pick(rng, STATUS_ODDS["shop"]),
                 "门市", floor, lot, value)
    villages = [v for v in town.villages if v.kind == "village"]
    kinds = (("shop", 20, (40.0, 160.0)), ("factory", 14, (300.0, 1500.0)),
             ("warehouse", 16, (150.0, 800.0)), ("other", 6, (50.0, 300.0)))
    for category, count, size in kinds:
        for _ in range(count):
            village = villages[int(rng.integers(len(villages)))]
            m = village.members[int(rng.integers(len(village.members)))]
            unit = town.units[m]
            xy = placer.place(unit.office, 60.0, 900.0, within=unit.poly.buffer(-20.0), road_dist=60.0, min_sep=30.0)
            state = category in ("factory", "warehouse") and rng.random() < 0.25  # old township enterprises
            owner = "town_state" if state else "village_collective"
            name, use = _business_name(rng, category, owner, village, unit)
            floor, lot, value = _building(rng, *size, (500.0, 1100.0))
            book.add(xy, name, category, owner, _pick(rng, STATUS_ODDS[category]), use, floor, lot, value)


def _business_name(rng: np.random.Generator, category: str, owner: str, village: _Village, unit: _Unit
                   ) -> tuple[str, str]:
    """Name and former use of a shop, factory building, warehouse or other building."""
    place = unit.name[:-1]
    if category == "factory":
        use = str(rng.choice(["砖厂", "酒厂", "榨油坊", "藤编加工厂", "农机修理厂"]))
        if owner == "town_state":
            return f"原镇办{use}厂房({unit.name})", f"镇办{use}"
        return f"原{unit.name}{use}厂房", f"村办{use}"
    if category == "warehouse":
        if owner == "town_state":
            return f"原镇粮站{place}分库", "粮食仓储"
        use = str(rng.choice(["集体仓库", "农资仓库", "烤烟房"]))
        return f"{village.name}{place}{use}", use
    if category == "other":
        use = str(rng.choice(["农机具库棚", "集体停车场", "农产品晾晒场", "光伏发电站"]))
        return f"{village.name}{place}{use}", use
    return f"{village.name}{place}集体门市", "门市"


def _resource_assets(rng: np.random.Generator, town: _Town, book: _AssetBook, placer: _Placer) -> None:
    """Land, ponds, woods and small reservoirs, each with a surveyed outline (footprint)."""
    kinds = (("land", 45, (1500.0, 25000.0), 0.25), ("pond", 50, (800.0, 6000.0), 0.15),
             ("forest", 30, (20000.0, 150000.0), 0.35), ("reservoir", 12, (8000.0, 40000.0), 0.25))
    keep_off = [r.water(20.0) for r in town.rivers]  # grows with every footprint drawn
    homes = shapely.points(np.array([s.xy for s in town.settlements]))
    roads = town.network.geometry()
    shapely.prepare(roads)
    for category, count, sizes, roughness in kinds:
        for n in range(count):
            on_hill = category == "forest" and n % 2 == 0  # half the collective woods are on the hill
            for _ in range(50):
                xy, shape = _footprint(rng, town, placer, on_hill, sizes, roughness)
                unit_index = town.unit_at(xy)
                wet = category in ("pond", "reservoir")
                if (town.units[unit_index].poly.buffer(-5.0).contains(shape)
                        and not shapely.intersects(keep_off, shape).any()
                        and not shapely.dwithin(homes, shape, 20.0).any()
                        and not (wet and roads.intersects(shape))):
                    keep_off.append(shape.buffer(20.0))
                    _add_resource(rng, town, book, category, xy, unit_index, shape)
                    break
                placer.taken = placer.taken[:-1]  # give the spot back


def _footprint(rng: np.random.Generator, town: _Town, placer: _Placer, on_hill: bool,
               sizes: tuple[float, float], roughness: float) -> tuple[np.ndarray, Polygon]:
    """A candidate spot (near a former village office, or on the hill) and an outline round it."""
    if on_hill:
        anchor, within = np.asarray(town.hill.representative_point().coords[0]), town.hill
    else:
        unit = town.units[N_COMMUNITIES + int(rng.integers(len(town.units) - N_COMMUNITIES))]
        anchor, within = unit.office, unit.poly
    xy = placer.place(anchor, 200.0, 1500.0, within=within.buffer(-60.0), road_dist=400.0, min_sep=60.0)
    area = math.exp(rng.uniform(math.log(sizes[0]), math.log(sizes[1])))
    return xy, _blob(rng, xy, math.sqrt(area / math.pi), roughness, 40)


def _add_resource(rng: np.random.Generator, town: _Town, book: _AssetBook, category: str, xy: np.ndarray,
                  unit_index: int, shape: Polygon) -> None:
    unit = town.units[unit_index]
    village = town.villages[unit.village]
    place = min((s for s in town.settlements if s.unit == unit_index), key=lambda s: np.hypot(*(s.xy - xy)))
    base = place.name.removesuffix("聚居点")
    area = shape.area
    name, use, value = {
        "land": (f"{village.name}{place.group}组{rng.choice(['集体建设用地', '四荒地', '集体机动地'])}", "集体土地",
                 area * rng.uniform(15.0, 60.0) / 1e4),
        "pond": (f"{base}堰塘", "灌溉蓄水", rng.uniform(2.0, 8.0)),
        "forest": (f"{village.name}{place.group}组集体林地", "集体林地", area / 1e4 * rng.uniform(0.3, 1.2)),
        "reservoir": (f"{base}山坪塘", "灌溉蓄水", rng.uniform(10.0, 60.0)),
    }[category]
    owner = "town_state" if category == "land" and rng.random() < 0.15 else "village_collective"
    book.add(xy, str(name), category, owner, _pick(rng, STATUS_ODDS[category]), use, None, area, value, shape)


def _assets(seed: int, town: _Town, placer: _Placer) -> None:
    rng = _rng(seed, 18)
    book = _AssetBook(town)
    _office_assets(rng, town, book)
    _public_building_assets(rng, town, book)
    _former_service_assets(rng, town, book, placer)
    _town_office_assets(rng, town, book, placer)
    _business_assets(rng, town, book, placer)
    _resource_assets(rng, town, book, placer)
    town.assets = book.rows


def _service_points(seed: int, town: _Town, placer: _Placer) -> None:
    """One central position per village, in its party-mass service centre (1), and agency stations (N).

    Villages split by a river, made of three former villages or very large need stations; most of them
    have some, but a few still lack them: the gap the coverage analyses should find.
    """
    rng = _rng(seed, 19)
    for village in town.villages:
        host = town.office_assets[village.seat]
        town.service_points.append(_service_row(f"FW{village.code}-01", f"{village.name}党群服务中心", "centre",
                                                village, CENTRE_SERVICES, host, host["geometry"]))
    need = [v for v in town.villages if v.kind == "village" and (v.split or len(v.members) >= 3 or v.poly.area > 1.2e7)]
    need.sort(key=lambda v: (-(v.split + (len(v.members) >= 3)), -v.poly.area, v.code))
    served = need[: len(need) - max(1, round(len(need) / 3))]  # about a third of them still wait
    others = [v for v in town.villages if v.kind == "village" and v not in need]
    served += [others[int(i)] for i in rng.choice(len(others), min(2, len(others)), replace=False)]
    for village in sorted(served, key=lambda v: v.code):
        for k, (name, station_host, xy) in enumerate(_station_sites(town, village, placer)):
            if station_host is not None and station_host["use_status"] == "idle":
                station_host["use_status"] = "partly_idle"  # part of the idle office now houses the station
            town.service_points.append(_service_row(f"FW{village.code}-{k + 2:02d}", name, "agency_station",
                                                    village, STATION_SERVICES, station_host, Point(xy)))


def _station_targets(town: _Town, village: _Village) -> list[int | _Settlement]:
    """What each station should serve: every populated far bank of a split village (its former village
    office if one stands there, else its biggest settlement), otherwise the farthest former village."""
    seat = town.units[village.seat].office
    others = sorted((m for m in village.members if m != village.seat),
                    key=lambda m: -np.hypot(*(town.units[m].office - seat)))
    if not village.split:
        return [others[0]]
    water = shapely.union_all([r.line.buffer(1.0) for r in town.rivers])
    targets: list[int | _Settlement] = []
    for side in _polygons(village.poly.difference(water), 1e4):
        if side.contains(Point(seat)):
            continue
        people = [s for s in town.settlements if town.units[s.unit].village == town.villages.index(village)
                  and side.contains(Point(s.xy))]
        if sum(s.population for s in people) >= 100:
            offices = [m for m in others if side.contains(Point(town.units[m].office))]
            targets.append(offices[0] if offices else max(people, key=lambda s: s.population))
    return targets


def _station_sites(town: _Town, village: _Village, placer: _Placer
                   ) -> list[tuple[str, dict[str, Any] | None, np.ndarray]]:
    """Name, host asset and place of each station: in the former office unless it is leased out,
    otherwise in a villager's shop nearby (no public asset)."""
    sites: list[tuple[str, dict[str, Any] | None, np.ndarray]] = []
    for target in _station_targets(town, village):
        if isinstance(target, _Settlement):
            anchor, label = target.xy, target.name.removesuffix("聚居点")
        else:
            unit, host = town.units[target], town.office_assets[target]
            if host["use_status"] != "leased":
                sites.append((f"{village.name}{unit.name[:-1]}便民服务代办站", host, unit.office))
                continue
            anchor, label = unit.office, unit.name[:-1]
        within = town.units[town.unit_at(anchor)].poly.buffer(-20.0)
        xy = placer.place(anchor, 20.0, 150.0, within=within, road_dist=40.0, min_sep=15.0)
        sites.append((f"{village.name}{label}便民服务代办站", None, xy))
    return sites


def _service_row(code: str, name: str, kind: str, village: _Village, services: str,
                 host: dict[str, Any] | None, point: Point) -> dict[str, Any]:
    return {"code": code, "name": name, "kind": kind, "village_code": village.code, "services": services,
            "host_asset_code": None if host is None else host["code"], "opening_hours": OPENING_HOURS,
            "geometry": point}


def _services_and_assets(seed: int, town: _Town) -> None:
    placer = _Placer(_rng(seed, 11), town, town.network.geometry())
    placer.taken = np.vstack([u.office for u in town.units])
    _schools(seed, town, placer)
    _facilities(seed, town, placer)
    _assets(seed, town, placer)
    _service_points(seed, town, placer)
    for rows, prefix in ((town.schools, "XX"), (town.facilities, "SS")):
        for k, row in enumerate(rows):
            row["code"] = f"{prefix}{TOWN_CODE}-{k + 1:03d}"
            unit = town.units[town.unit_at(np.asarray(row["geometry"].coords[0]))]
            row["village_code"] = town.villages[unit.village].code


# ------------------------------------------------------------------------------- 6. planning zones
def _planning_zones(seed: int, town: _Town, avoid: Iterable[str]) -> list[str]:
    """The planning map (``gis_service.demo.planning``): land-use parcels tiling the town and the control lines.

    Returns the asset codes planted as planning conflicts; ``avoid`` are codes other mistakes were planted on.
    """
    inputs = demo_planning.PlanningInput(
        seed=seed, town=town.town, centre=town.centre,
        areas=[demo_planning.Area(u.poly, u.kind, town.villages[u.village].name) for u in town.units],
        homes=[demo_planning.Home(s.xy, s.unit, s.group, s.population) for s in town.settlements],
        rivers=[demo_planning.Water(r.name, r.line, r.width) for r in town.rivers],
        hill=town.hill, hill_name=HILL_NAME,
        roads=[demo_planning.Road(r.name, r.road_class, tuple(LineString(p) for p in r.parts))
               for r in town.network.roads],
        assets=town.assets, schools=town.schools, facilities=town.facilities, avoid=frozenset(avoid))
    plan = demo_planning.planning_map(inputs)
    town.zones = plan.zones
    return plan.conflicts


# ---------------------------------------------------------------------------------------- frames
def _model_columns(table: str) -> list[tuple[str, Any]]:
    """(column, SQL type) of a layer as in the model, ``geom`` renamed ``geometry``, audit columns dropped."""
    columns = Base.metadata.tables[table].columns
    return [("geometry" if c.name == "geom" else c.name, c.type) for c in columns
            if c.name not in ("id", "created_at", "updated_at")]


def _to_storage(geoms: Sequence[shapely.Geometry | None]) -> np.ndarray:
    """EPSG:4544 -> EPSG:4490, coordinates rounded to 8 decimals (about 1 mm), as they are written."""
    transformer = Transformer.from_crs(WORK_CRS, STORAGE_CRS, always_xy=True)

    def project(xy: np.ndarray) -> np.ndarray:
        lon, lat = transformer.transform(xy[:, 0], xy[:, 1])
        return np.round(np.column_stack([lon, lat]), 8)

    out = shapely.transform(np.array(geoms, dtype=object), project)
    for k, geom in enumerate(out):
        if geom is not None and geom.geom_type == "MultiPolygon" and not geom.is_valid:
            # Rounding pinched a ring; snap-round it on the same 1e-8 grid, which keeps it valid. Where that
            # fails (a hole pinched onto its shell), rebuild the rings from the same vertices instead.
            try:
                out[k] = MultiPolygon(_polygons(shapely.set_precision(geom, 1e-8)))
            except shapely.errors.GEOSException:
                out[k] = MultiPolygon(_polygons(shapely.make_valid(geom)))
    return out


def _frame(table: str, rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    columns = _model_columns(table)
    data: dict[str, Any] = {}
    for name, sql_type in columns:
        values = [row.get(name) for row in rows]
        if name == "geometry":
            continue
        if name == "footprint":
            shapes = _to_storage([MultiPolygon([v]) if v is not None else None for v in values])
            data[name] = pd.Series([None if g is None else shapely.to_wkt(g, rounding_precision=8) for g in shapes],
                                   dtype=object)
        elif isinstance(sql_type, Integer):
            data[name] = pd.array(values, dtype="Int64")
        elif isinstance(sql_type, Float):
            data[name] = pd.array([np.nan if v is None else v for v in values], dtype="float64")
        else:
            data[name] = pd.Series(values, dtype=object)
    geometry = gpd.GeoSeries(_to_storage([row["geometry"] for row in rows]), crs=STORAGE_CRS)
    frame = gpd.GeoDataFrame(data, geometry=geometry, crs=STORAGE_CRS)
    return frame[[name for name, _ in columns]]


def _village_rows(town: _Town) -> list[dict[str, Any]]:
    rows = []
    for v, village in enumerate(town.villages):
        members = [s for s in town.settlements if town.units[s.unit].village == v]
        rows.append({"code": village.code, "name": village.name, "kind": village.kind,
                     "population": sum(s.population for s in members),
                     "households": sum(s.households for s in members), "branch": village.branch,
                     "geometry": _multi(village.poly)})
    return rows


def _former_rows(town: _Town) -> list[dict[str, Any]]:
    rows = []
    for i, unit in sorted(enumerate(town.units), key=lambda iu: iu[1].code):
        if unit.kind != "former":
            continue
        village = town.villages[unit.village]
        members = [s for s in town.settlements if s.unit == i]
        rows.append({"code": unit.code, "name": unit.name, "merged_into": village.code,
                     "population": sum(s.population for s in members),
                     "households": sum(s.households for s in members), "dissolved_on": village.dissolved_on,
                     "geometry": _multi(unit.poly)})
    return rows


def _settlement_rows(town: _Town) -> list[dict[str, Any]]:
    rows = []
    for s in sorted(town.settlements, key=lambda s: s.code):
        unit = town.units[s.unit]
        rows.append({"code": s.code, "name": s.name, "village_code": town.villages[unit.village].code,
                     "former_village_code": unit.code if unit.kind == "former" else None,
                     "population": s.population, "households": s.households, "elderly": s.elderly,
                     "children": s.children, "geometry": Point(s.xy)})
    return rows


def _road_rows(town: _Town) -> list[dict[str, Any]]:
    rows = []
    for road in sorted(town.network.roads, key=lambda r: ("XYCJ".index(r.code[0]), r.code)):
        walk, drive = ROAD_SPEEDS[road.road_class]
        rows.append({"code": road.code, "name": road.name, "road_class": road.road_class, "walk_speed_kmh": walk,
                     "drive_speed_kmh": drive, "geometry": MultiLineString([LineString(p) for p in road.parts])})
    return rows


def _water_rows(town: _Town) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rivers = [{"code": r.code, "name": r.name, "width_m": r.width, "geometry": MultiLineString([r.line])}
              for r in town.rivers]
    bridges = [{"code": b.code, "name": b.name, "kind": b.kind, "river_code": town.rivers[b.river].code,
                "road_code": b.road_code or None, "geometry": Point(b.point)} for b in town.bridges]
    return rivers, bridges


def _frames(town: _Town) -> dict[str, gpd.GeoDataFrame]:
    rivers, bridges = _water_rows(town)
    rows = {
        "villages": _village_rows(town), "former_villages": _former_rows(town),
        "assets": sorted(town.assets, key=lambda r: r["code"]),
        "service_points": sorted(town.service_points, key=lambda r: r["code"]),
        "schools": town.schools, "facilities": town.facilities,
        "settlements": _settlement_rows(town), "roads": _road_rows(town), "rivers": rivers,
        "bridges": bridges, "planning_zones": town.zones,
    }
    return {table: _frame(table, rows[table]) for table in LAYERS}


# ------------------------------------------------------------------------------------------ public
def generate(seed: int = DEFAULT_SEED) -> dict[str, gpd.GeoDataFrame]:
    """Build the synthetic demo town.

    Parameters
    ----------
    seed : int, default 510923100
        Seed of every random draw; the same seed always gives the same town.

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
        One frame per layer table (``villages``, ``former_villages``, ``assets``, ``service_points``,
        ``schools``, ``facilities``, ``settlements``, ``roads``, ``rivers``, ``bridges``,
        ``planning_zones``), in EPSG:4490, with exactly the model's attribute columns and ``geometry``.
        ``assets.footprint`` holds WKT (EPSG:4490) or None.

    Examples
    --------
    >>> layers = generate()
    >>> int(layers["settlements"]["population"].sum())
    84175
    """
    return build(seed).layers


@dataclass
class DemoTown:
    """The demo town's layers (GeoDataFrames in EPSG:4490) and its asset ledger."""

    layers: dict[str, gpd.GeoDataFrame]
    ledger: demo_ledger.Ledger


def build(seed: int = DEFAULT_SEED) -> DemoTown:
    """The demo town with its ledger (transfers, claims and debts, plans, evidence, milestones)."""
    transformer = Transformer.from_crs(STORAGE_CRS, WORK_CRS, always_xy=True)
    origin = np.array(transformer.transform(TOWN_LONLAT[0], TOWN_LONLAT[1] + 0.005))
    centre = np.array(transformer.transform(*TOWN_LONLAT))
    town = _Town(seed, origin, centre)
    outline = _town_outline(_rng(seed, 1), origin)
    _admin_units(seed, town, outline)
    _water(seed, town)
    _offices(seed, town)
    _roads(seed, town)
    _people(seed, town)
    _services_and_assets(seed, town)
    villages = {v.code: v.name for v in town.villages}
    formers = {u.code: (u.name, town.villages[u.village].code) for u in town.units if u.kind == "former"}
    planted = demo_ledger.enrich_assets(seed, town.assets, villages, formers)
    # Zones come after the ledger fields: the planted planning conflicts are buildings without full papers.
    planted["planning_conflict"] = _planning_zones(seed, town, (c for codes in planted.values() for c in codes))
    return DemoTown(_frames(town), demo_ledger.build_ledger(seed, town.assets, villages, formers, planted))


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _rounded(coords: Any) -> Any:
    if isinstance(coords, (int, float)):
        return round(float(coords), 8)
    return [_rounded(c) for c in coords]


def _feature_collection(table: str, frame: gpd.GeoDataFrame) -> str:
    """GeoJSON text: a ``crs`` member GDAL understands and one feature per line, so diffs stay readable."""
    header = {"type": "FeatureCollection", "name": table,
              "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}}}
    columns = [c for c in frame.columns if c != "geometry"]
    lines = []
    for row in frame.itertuples(index=False):
        values = row._asdict()
        geometry = mapping(values["geometry"])
        feature = {"type": "Feature",
                   "properties": {c: _json_value(values[c]) for c in columns},
                   "geometry": {"type": geometry["type"], "coordinates": _rounded(geometry["coordinates"])}}
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":"))[:-1]
    return head + ',"features":[\n' + ",\n".join(lines) + "\n]}\n"


def write_demo(out_dir: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Generate the demo town and write one ``<layer>.geojson`` per layer.

    Parameters
    ----------
    out_dir : Path
        Directory to write to; created if missing. Existing layer files are overwritten.
    seed : int, default 510923100
        Seed passed to :func:`generate`.

    Returns
    -------
    list of Path
        The files written, in layer order. Re-running with the same seed writes identical bytes.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    demo = build(seed)
    for table, frame in demo.layers.items():
        path = out_dir / f"{table}.geojson"
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            fh.write(_feature_collection(table, frame))
        paths.append(path)
    return paths + write_ledger(out_dir / "ledger", demo.ledger)


LEDGER_TABLES = ("asset_transfers", "village_claims", "revitalisation_plans", "documents", "ledger_milestones")


def write_ledger(out_dir: Path, ledger: demo_ledger.Ledger) -> list[Path]:
    """Write the ledger tables as UTF-8 CSV (one file per table, header = column names) and the evidence
    files they refer to; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = dict(zip(LEDGER_TABLES, (ledger.transfers, ledger.claims, ledger.plans, ledger.documents,
                                      ledger.milestones), strict=True))
    paths = []
    for name, rows in tables.items():
        path = out_dir / f"{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: "" if v is None else _json_value(v) for k, v in row.items()} for row in rows)
        paths.append(path)
    plans = {p["asset_code"]: p for p in ledger.plans}
    for document in ledger.documents:
        path = out_dir / document["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        plan = plans[document["asset_code"]]
        path.write_bytes(demo_ledger.evidence_pdf(document["asset_code"],
                                                  f"{plan['target_use']} struck off {plan['struck_off_on']}"))
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m gis_service.demo.generator [OUT_DIR] [--seed N]``."""
    parser = argparse.ArgumentParser(description="Write the synthetic demo town (蓬莱镇示例数据) as GeoJSON.")
    parser.add_argument("out_dir", nargs="?", default="layers/demo", type=Path)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    paths = write_demo(args.out_dir, args.seed)
    for path in paths:
        if path.suffix == ".geojson":
            n = path.read_text(encoding="utf-8").count('{"type":"Feature",')
            print(f"{path}  {n} features  {path.stat().st_size / 1024:.0f} KiB")
        elif path.suffix == ".csv":
            print(f"{path}  {path.read_text(encoding='utf-8').count(chr(10)) - 1} rows")
    print(f"done in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
