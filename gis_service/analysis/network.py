"""Road network for coverage analysis: noded roads, rivers crossed only at bridges, shortest paths.

The network is built once from the ``roads`` layer (``RoadNetwork.from_geodataframes``) in a projected CRS
in metres, then points (settlements, facilities) are attached to it (``RoadNetwork.attach``) and searched
with ``scipy.sparse.csgraph.dijkstra``. Everything is vectorised with shapely 2, numpy and scipy.

Rules
-----
Noding
    Road lines are split at every intersection and shared vertex (``shapely.node``). Road ends within
    ``snap_tolerance_m`` of another road are first snapped onto it (``shapely.snap``), so a T-junction
    digitised a few centimetres short, or shifted by the EPSG:4490 round trip, still connects. Road ends
    closer than the tolerance become one node.
Rivers
    A road may cross a river line only at a bridge. Every point where a road meets a river line is a
    crossing; a crossing within ``bridge_tolerance_m`` of a bridge usable in the mode (any bridge when
    walking; not a ``kind == "foot"`` bridge when driving) is kept, any other crossing is cut: the road
    pieces on either bank end there in separate dead-end nodes, so nothing passes. Roads that cross rivers
    only at bridges (the demo town: each road line passes straight through its bridge point) lose nothing;
    roads split at a bridge point work the same way. A bridge that no road line meets connects nothing:
    bridges are checkpoints on roads, not links of their own.
Speeds
    Travel time of a road piece uses, in this order, the feature's ``walk_speed_kmh`` / ``drive_speed_kmh``
    when present and positive, ``speeds[road_class]``, the defaults below for its class, then
    ``FALLBACK_SPEED_KMH``.
Access legs
    A point joins the network at its projection on the nearest road piece within ``max_access_m``. The
    straight leg from the point to the road is walked at ``access_speed_kmh`` in both modes (from the door
    to the road). A leg that crosses a river other than within ``bridge_tolerance_m`` of a bridge is
    refused, and the point joins the nearest road piece whose leg does not; a point with no such road
    within ``max_access_m`` has no network access (``PointGraph.has_access`` is False) and the callers
    decide what to do (``gis_service.analysis.coverage`` falls back to straight-line distance). Road pieces
    are cut at the projections, so points joining the same piece reach each other along it.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import LineString
>>> roads = gpd.GeoDataFrame({"road_class": ["village"]}, geometry=[LineString([(0, 0), (1000, 0)])],
...                          crs="EPSG:4544")
>>> net = RoadNetwork.from_geodataframes(roads)
>>> graph = net.attach(np.array([[0.0, 10.0], [1000.0, 20.0]]))
>>> result = graph.nearest([1])
>>> [round(float(m)) for m in result.metres]
[1030, 0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

Mode = Literal["walk", "drive"]
Weight = Literal["length", "time"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Walking speeds by road class (km/h). 5 km/h (1.4 m/s) is the usual planning figure for an adult on a
# quiet road; county and township roads carry traffic and have no footway, unpaved tracks are slower.
# They are assumptions, not a standard, and equal the demo town's per-feature values.
DEFAULT_WALK_SPEEDS_KMH: Mapping[str, float] = MappingProxyType(
    {"county": 4.5, "township": 4.8, "village": 5.0, "track": 3.5})
# Driving speeds by road class (km/h): below or at the design speeds of 《公路工程技术标准》JTG B01-2014
# (grade II 60-80, grade III 30-40, grade IV 20-30 km/h), which county, township and village roads
# usually are; tracks (机耕道) are farm-vehicle lanes. Assumptions again, equal to the demo town's values.
DEFAULT_DRIVE_SPEEDS_KMH: Mapping[str, float] = MappingProxyType(
    {"county": 60.0, "township": 40.0, "village": 25.0, "track": 10.0})
FALLBACK_SPEED_KMH: Mapping[str, float] = MappingProxyType({"walk": 5.0, "drive": 25.0})
SPEED_FIELDS: Mapping[str, str] = MappingProxyType({"walk": "walk_speed_kmh", "drive": "drive_speed_kmh"})
WALK_SPEED_KMH = 5.0  # access legs and straight-line minutes
DEFAULT_BRIDGE_TOLERANCE_M = 25.0  # about half the main river's width: a bridge point may sit on the deck's end
DEFAULT_SNAP_TOLERANCE_M = 0.5
DEFAULT_MAX_ACCESS_M = 1000.0
_ON_LINE_M = 1e-6  # a noded end point this close to a river line lies on it (noding is exact up to rounding)


M_PER_MIN_PER_KMH = 1000.0 / 60.0


def metres_per_minute(speed_kmh: float) -> float:
    """Convert km/h to metres per minute."""
    return speed_kmh * M_PER_MIN_PER_KMH


def check_projected(crs: CRS | None, what: str) -> CRS:
    """Return ``crs`` as a pyproj CRS if it is projected in metres; raise ``ValueError`` otherwise.

    Parameters
    ----------
    crs
        The CRS of a GeoDataFrame (``gdf.crs``).
    what
        Name of the input, for the message.
    """
    if crs is None:
        raise ValueError(f"{what} has no CRS; set one and reproject to a projected CRS in metres (e.g. EPSG:4544)")
    crs = CRS.from_user_input(crs)
    units = {axis.unit_name for axis in crs.axis_info}
    if not crs.is_projected or not units <= {"metre", "meter"}:
        raise ValueError(f"{what} is in {crs.to_string()}, which is not a projected CRS in metres; "
                         "reproject it first, e.g. gdf.to_crs(4544)")
    return crs


def point_coordinates(frame: gpd.GeoDataFrame | gpd.GeoSeries, what: str) -> FloatArray:
    """The (n, 2) coordinates of a layer of points; raise ``ValueError`` on other or empty geometries."""
    geoms = np.asarray(frame.geometry.values if isinstance(frame, gpd.GeoDataFrame) else frame.values)
    if np.any(shapely.get_type_id(geoms) != shapely.GeometryType.POINT):
        raise ValueError(f"{what} must hold non-empty POINT geometries only")
    xy = shapely.get_coordinates(geoms)
    if len(xy) != len(geoms):  # empty points have no coordinates
        raise ValueError(f"{what} must hold non-empty POINT geometries only")
    return xy


@dataclass(frozen=True, eq=False)
class Nearest:
    """The nearest source of every point of a ``PointGraph``.

    Attributes
    ----------
    source
        Position in the ``sources`` given to ``PointGraph.nearest`` of each point's nearest source; -1 when
        none is reachable (or within ``limit``).
    metres
        Length of the path, access legs included; ``inf`` when unreachable.
    minutes
        Travel time of the same path (the path minimises ``weight``; the other measure is summed along it).
    """

    source: IntArray
    metres: FloatArray
    minutes: FloatArray


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A noded, weighted, undirected road graph in a projected CRS in metres.

    Build it with ``from_geodataframes`` (layers) or ``from_lines`` (arrays); the fields are the graph.

    Attributes
    ----------
    crs
        Projected CRS of every coordinate.
    mode
        ``"walk"`` or ``"drive"``: which speeds and bridges were used.
    node_xy
        (n, 2) coordinates of the nodes.
    edge_nodes
        (m, 2) start and end node of each edge; ``edge_lines[i]`` runs from the first to the second.
    edge_lines
        (m,) LineString of each edge.
    edge_metres, edge_minutes
        (m,) length and travel time of each edge.
    rivers
        The river lines as one geometry (None without rivers): access legs may not cross them.
    bridges_xy
        (k, 2) bridges usable in this mode.
    bridge_tolerance_m, max_access_m, access_speed_kmh
        See the module's rules.
    bridge_crossings, blocked_crossings
        Number of places where a road meets a river: kept (at a bridge) and cut.
    """

    crs: CRS
    mode: Mode
    node_xy: FloatArray
    edge_nodes: IntArray
    edge_lines: npt.NDArray[np.object_]
    edge_metres: FloatArray
    edge_minutes: FloatArray
    rivers: shapely.Geometry | None
    bridges_xy: FloatArray
    bridge_tolerance_m: float = DEFAULT_BRIDGE_TOLERANCE_M
    max_access_m: float = DEFAULT_MAX_ACCESS_M
    access_speed_kmh: float = WALK_SPEED_KMH
    bridge_crossings: int = 0
    blocked_crossings: int = 0

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_geodataframes(
        cls,
        roads: gpd.GeoDataFrame,
        rivers: gpd.GeoDataFrame | None = None,
        bridges: gpd.GeoDataFrame | None = None,
        *,
        mode: Mode = "walk",
        speeds: Mapping[str, float] | None = None,
        bridge_tolerance_m: float = DEFAULT_BRIDGE_TOLERANCE_M,
        snap_tolerance_m: float = DEFAULT_SNAP_TOLERANCE_M,
        max_access_m: float = DEFAULT_MAX_ACCESS_M,
        access_speed_kmh: float = WALK_SPEED_KMH,
    ) -> RoadNetwork:
        """Build the network from the ``roads``, ``rivers`` and ``bridges`` layers.

        Parameters
        ----------
        roads
            (MULTI)LINESTRING layer in a projected CRS in metres; optional fields ``road_class``,
            ``walk_speed_kmh``, ``drive_speed_kmh``.
        rivers
            (MULTI)LINESTRING river centre lines, same CRS; None for no river rule.
        bridges
            POINT layer, same CRS; a ``kind`` of ``"foot"`` marks footbridges (not usable when driving).
        mode
            ``"walk"`` (default) or ``"drive"``.
        speeds
            km/h by ``road_class``, overriding ``DEFAULT_WALK_SPEEDS_KMH`` / ``DEFAULT_DRIVE_SPEEDS_KMH``
            (per-feature speed fields still win).
        bridge_tolerance_m, snap_tolerance_m, max_access_m, access_speed_kmh
            See the module's rules.

        Returns
        -------
        RoadNetwork

        Raises
        ------
        ValueError
            If a layer is not in a projected CRS in metres, the CRSs differ, the geometry types are wrong
            or the mode is unknown.
        """
        if mode not in SPEED_FIELDS:
            raise ValueError(f"mode must be 'walk' or 'drive', not {mode!r}")
        crs = check_projected(roads.crs, "roads")
        lines, speed = _road_lines(roads, mode, speeds)
        river_lines = np.empty(0, dtype=object)
        if rivers is not None:
            _check_same_crs(crs, rivers.crs, "rivers")
            river_lines = _linear_parts(rivers, "rivers")
        bridges_xy = np.empty((0, 2))
        if bridges is not None and len(bridges):
            _check_same_crs(crs, bridges.crs, "bridges")
            usable = bridges if mode == "walk" or "kind" not in bridges else bridges[bridges["kind"] != "foot"]
            bridges_xy = point_coordinates(usable, "bridges")
        return cls.from_lines(lines, speed, crs=crs, mode=mode, rivers=river_lines, bridges_xy=bridges_xy,
                              bridge_tolerance_m=bridge_tolerance_m, snap_tolerance_m=snap_tolerance_m,
                              max_access_m=max_access_m, access_speed_kmh=access_speed_kmh)

    @classmethod
    def from_lines(
        cls,
        lines: Sequence[shapely.LineString] | npt.NDArray[np.object_],
        speeds_kmh: Sequence[float] | FloatArray,
        *,
        crs: CRS | str,
        mode: Mode = "walk",
        rivers: Sequence[shapely.LineString] | npt.NDArray[np.object_] = (),
        bridges_xy: FloatArray | None = None,
        bridge_tolerance_m: float = DEFAULT_BRIDGE_TOLERANCE_M,
        snap_tolerance_m: float = DEFAULT_SNAP_TOLERANCE_M,
        max_access_m: float = DEFAULT_MAX_ACCESS_M,
        access_speed_kmh: float = WALK_SPEED_KMH,
    ) -> RoadNetwork:
        """Build the network from road LineStrings and their speeds (km/h), in metres.

        Parameters
        ----------
        lines
            Road LineStrings.
        speeds_kmh
            Travel speed on each line.
        crs
            Projected CRS of the coordinates (checked).
        mode
            Recorded on the network; the caller chose speeds and bridges for it.
        rivers
            River LineStrings.
        bridges_xy
            (k, 2) bridges usable in this mode.
        bridge_tolerance_m, snap_tolerance_m, max_access_m, access_speed_kmh
            See the module's rules.
        """
        crs = check_projected(CRS.from_user_input(crs), "the network")
        lines = np.asarray(lines, dtype=object)
        speeds = np.asarray(speeds_kmh, dtype=float)
        rivers_arr = np.asarray(rivers, dtype=object)
        bridges = np.empty((0, 2)) if bridges_xy is None else np.asarray(bridges_xy, dtype=float).reshape(-1, 2)
        if np.any(speeds <= 0) or len(speeds) != len(lines):
            raise ValueError("every road line needs a positive speed")
        pieces, piece_speed = _noded_road_pieces(lines, speeds, rivers_arr, snap_tolerance_m)
        topology = _topology(pieces, rivers_arr, bridges, bridge_tolerance_m, snap_tolerance_m)
        keep = (topology.edge_nodes[:, 0] != topology.edge_nodes[:, 1]) & (shapely.length(pieces) > 0)
        metres = shapely.length(pieces[keep])
        return cls(
            crs=crs, mode=mode, node_xy=topology.node_xy, edge_nodes=topology.edge_nodes[keep],
            edge_lines=pieces[keep], edge_metres=metres,
            edge_minutes=metres / (piece_speed[keep] * M_PER_MIN_PER_KMH),
            rivers=shapely.union_all(rivers_arr) if len(rivers_arr) else None, bridges_xy=bridges,
            bridge_tolerance_m=bridge_tolerance_m, max_access_m=max_access_m, access_speed_kmh=access_speed_kmh,
            bridge_crossings=topology.kept, blocked_crossings=topology.blocked,
        )

    # ------------------------------------------------------------------ inspection
    def __repr__(self) -> str:
        return (f"RoadNetwork(mode={self.mode!r}, crs={self.crs.to_string()!r}, nodes={self.n_nodes}, "
                f"edges={self.n_edges}, km={self.edge_metres.sum() / 1000:.1f}, "
                f"bridge_crossings={self.bridge_crossings}, blocked_crossings={self.blocked_crossings})")

    @property
    def n_nodes(self) -> int:
        return len(self.node_xy)

    @property
    def n_edges(self) -> int:
        return len(self.edge_nodes)

    @cached_property
    def components(self) -> IntArray:
        """Connected-component label of every node."""
        u, v = self.edge_nodes.T
        graph = coo_matrix((np.ones(len(u)), (u, v)), shape=(self.n_nodes, self.n_nodes))
        return np.asarray(connected_components(graph, directed=False)[1], dtype=np.int64)

    @cached_property
    def _tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.edge_lines)

    # ------------------------------------------------------------------ points
    def attach(self, points_xy: npt.ArrayLike) -> PointGraph:
        """Join points to the network and return the graph to search between them.

        Parameters
        ----------
        points_xy
            (n, 2) coordinates in the network's CRS.

        Returns
        -------
        PointGraph
            Point ``i`` is graph node ``PointGraph.point_nodes[i]`` (-1 without access).
        """
        xy = np.asarray(points_xy, dtype=float).reshape(-1, 2)
        access = _attach_points(self, xy)
        return _point_graph(self, xy, access)

    def crossing_allowed(self, points: npt.NDArray[np.object_]) -> BoolArray:
        """Whether each point (on a river) is within the bridge tolerance of a usable bridge."""
        if not len(self.bridges_xy):
            return np.zeros(len(points), dtype=bool)
        dist, _ = cKDTree(self.bridges_xy).query(shapely.get_coordinates(points).reshape(-1, 2))
        return np.asarray(dist <= self.bridge_tolerance_m)


@dataclass(frozen=True)
class _Access:
    """Where accessible points join the network: their positions in the input, edge, offset and leg."""

    points: IntArray
    edge: IntArray
    offset_m: FloatArray
    leg_m: FloatArray


@dataclass(frozen=True)
class _Topology:
    node_xy: FloatArray
    edge_nodes: IntArray
    kept: int
    blocked: int


@dataclass(frozen=True, eq=False)
class PointGraph:
    """A road network with points attached, ready for shortest-path searches.

    Attributes
    ----------
    network
        The network the points were attached to.
    point_nodes
        Graph node of each point; -1 for points without network access.
    access_m
        Length of each point's access leg (``nan`` without access).
    edges
        (e, 2) directed edges (both directions of every road piece and leg).
    edge_metres, edge_minutes
        Length and time of each directed edge.
    n_nodes
        Number of graph nodes.
    """

    network: RoadNetwork
    point_nodes: IntArray
    access_m: FloatArray
    edges: IntArray
    edge_metres: FloatArray
    edge_minutes: FloatArray
    n_nodes: int

    def __repr__(self) -> str:
        return (f"PointGraph(points={len(self.point_nodes)}, with_access={int(self.has_access.sum())}, "
                f"nodes={self.n_nodes}, edges={len(self.edges) // 2})")

    @property
    def has_access(self) -> BoolArray:
        return np.asarray(self.point_nodes >= 0)

    def nearest(self, sources: npt.ArrayLike, *, weight: Weight = "length", limit: float | None = None) -> Nearest:
        """The nearest of ``sources`` for every point, in one multi-source Dijkstra.

        Parameters
        ----------
        sources
            Positions of the source points (e.g. the facilities) among the attached points. Sources without
            network access are ignored.
        weight
            Minimise path ``"length"`` (metres) or ``"time"`` (minutes).
        limit
            Stop the search at this cost (in the unit of ``weight``): points beyond it are unreachable.

        Returns
        -------
        Nearest
        """
        sources = np.asarray(sources, dtype=np.int64).reshape(-1)
        ok = self.point_nodes[sources] >= 0
        usable = sources[ok]
        n_points = len(self.point_nodes)
        empty = Nearest(np.full(n_points, -1), np.full(n_points, np.inf), np.full(n_points, np.inf))
        if not len(usable):
            return empty
        primary, lookup, secondary = self._graph(weight)
        dist, pred, origin = dijkstra(primary, directed=True, indices=self.point_nodes[usable],
                                      return_predecessors=True, min_only=True,
                                      limit=np.inf if limit is None else limit)
        other = _sum_along_tree(pred, lookup, secondary, self.n_nodes)
        position = np.full(self.n_nodes, -1, dtype=np.int64)
        position[self.point_nodes[usable]] = np.flatnonzero(ok)
        nodes = np.where(self.point_nodes >= 0, self.point_nodes, 0)
        reached = (self.point_nodes >= 0) & np.isfinite(dist[nodes])
        source = np.where(reached, position[np.where(origin[nodes] >= 0, origin[nodes], 0)], -1)
        cost = np.where(reached, dist[nodes], np.inf)
        along = np.where(reached, other[nodes], np.inf)
        metres, minutes = (cost, along) if weight == "length" else (along, cost)
        return Nearest(source=source.astype(np.int64), metres=metres, minutes=minutes)

    def cost_matrix(self, sources: npt.ArrayLike, targets: npt.ArrayLike, *, weight: Weight = "length",
                    limit: float | None = None) -> FloatArray:
        """Shortest-path cost from each source point to each target point (``inf`` when unreachable).

        Parameters
        ----------
        sources, targets
            Positions among the attached points.
        weight
            ``"length"`` (metres) or ``"time"`` (minutes).
        limit
            Stop each search at this cost.
        """
        sources = np.asarray(sources, dtype=np.int64).reshape(-1)
        targets = np.asarray(targets, dtype=np.int64).reshape(-1)
        out = np.full((len(sources), len(targets)), np.inf)
        ok_s, ok_t = self.point_nodes[sources] >= 0, self.point_nodes[targets] >= 0
        if not ok_s.any() or not ok_t.any():
            return out
        primary, _, _ = self._graph(weight)
        dist = dijkstra(primary, directed=True, indices=self.point_nodes[sources[ok_s]],
                        limit=np.inf if limit is None else limit)
        out[np.ix_(ok_s, ok_t)] = dist[:, self.point_nodes[targets[ok_t]]]
        return out

    def node_costs(self, point: int, *, weight: Weight = "length", limit: float | None = None) -> FloatArray:
        """Shortest-path cost from attached point ``point`` to every graph node (the road network's nodes come
        first, ``network.n_nodes`` of them); ``inf`` where unreachable or beyond ``limit``, all ``inf`` for a
        point without access."""
        node = int(self.point_nodes[point])
        if node < 0:
            return np.full(self.n_nodes, np.inf)
        primary, _, _ = self._graph(weight)
        return np.asarray(dijkstra(primary, directed=True, indices=node, limit=np.inf if limit is None else limit))

    def _graph(self, weight: Weight) -> tuple[csr_matrix, IntArray, FloatArray]:
        if weight not in ("length", "time"):
            raise ValueError(f"weight must be 'length' or 'time', not {weight!r}")
        return self._graphs[weight]

    @cached_property
    def _graphs(self) -> dict[str, tuple[csr_matrix, IntArray, FloatArray]]:
        return {"length": _csr(self.edges, self.edge_metres, self.edge_minutes, self.n_nodes),
                "time": _csr(self.edges, self.edge_minutes, self.edge_metres, self.n_nodes)}


# ====================================================================== building blocks


def _check_same_crs(crs: CRS, other: object, what: str) -> None:
    if other is None or not crs.equals(CRS.from_user_input(other)):
        raise ValueError(f"{what} must be in the roads' CRS ({crs.to_string()}), not {other}")


def _linear_parts(frame: gpd.GeoDataFrame, what: str) -> npt.NDArray[np.object_]:
    """The LineStrings of a (MULTI)LINESTRING layer, empty ones dropped."""
    geoms = np.asarray(frame.geometry.values)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    types = shapely.get_type_id(geoms)
    if np.any((types != shapely.GeometryType.LINESTRING) & (types != shapely.GeometryType.MULTILINESTRING)):
        raise ValueError(f"{what} must hold LINESTRING or MULTILINESTRING geometries only")
    return np.asarray(shapely.get_parts(geoms), dtype=object)


def _road_lines(roads: gpd.GeoDataFrame, mode: Mode, speeds: Mapping[str, float] | None
                ) -> tuple[npt.NDArray[np.object_], FloatArray]:
    """Each road LineString and its speed (km/h), following the module's precedence rule."""
    geoms = np.asarray(roads.geometry.values)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    frame = roads[present]
    table = {**(DEFAULT_WALK_SPEEDS_KMH if mode == "walk" else DEFAULT_DRIVE_SPEEDS_KMH), **(speeds or {})}
    by_class = (frame["road_class"].map(table) if "road_class" in frame
                else pd.Series(np.nan, index=frame.index)).astype(float)
    field = SPEED_FIELDS[mode]
    own = pd.to_numeric(frame[field], errors="coerce") if field in frame else pd.Series(np.nan, index=frame.index)
    speed = own.where(own > 0, by_class).fillna(FALLBACK_SPEED_KMH[mode]).to_numpy(dtype=float)
    lines = _linear_parts(frame, "roads")
    counts = shapely.get_num_geometries(np.asarray(frame.geometry.values))
    return lines, np.repeat(speed, counts)


def _snap_ends(lines: npt.NDArray[np.object_], tolerance: float) -> npt.NDArray[np.object_]:
    """Snap every line onto the road ends lying within ``tolerance`` of it (inserting vertices there)."""
    if tolerance <= 0 or not len(lines):
        return lines
    ends = np.concatenate([shapely.get_point(lines, 0), shapely.get_point(lines, -1)])
    line_idx, end_idx = shapely.STRtree(ends).query(lines, predicate="dwithin", distance=tolerance)
    if not len(line_idx):
        return lines
    # Only lines that some other road end nearly touches need snapping; an end on the line is harmless.
    near = shapely.distance(ends[end_idx], lines[line_idx]) > 0
    line_idx, end_idx = line_idx[near], end_idx[near]
    if not len(line_idx):
        return lines
    targets = np.unique(line_idx)
    refs = shapely.multipoints(ends[end_idx], indices=np.searchsorted(targets, line_idx))
    snapped = lines.copy()
    snapped[targets] = shapely.snap(lines[targets], refs, tolerance)
    return snapped


def _noded_road_pieces(lines: npt.NDArray[np.object_], speeds: FloatArray, rivers: npt.NDArray[np.object_],
                       snap_tolerance: float) -> tuple[npt.NDArray[np.object_], FloatArray]:
    """Road lines split at every intersection with each other and with the rivers, with their speeds."""
    lines = _snap_ends(lines, snap_tolerance)
    noded = np.asarray(shapely.get_parts(shapely.node(shapely.multilinestrings(np.concatenate([lines, rivers])))),
                       dtype=object)
    if not len(noded):
        return noded, np.empty(0)
    middle = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    road_of, road_dist = _nearest_with_distance(shapely.STRtree(lines), middle)
    river_dist = shapely.distance(middle, shapely.union_all(rivers)) if len(rivers) else np.full(len(noded), np.inf)
    # Pieces come back from the noder without attributes: a piece is a road's if it lies on that road
    # (its middle is nearer to a road than to a river); its speed is that road's.
    is_road = road_dist <= river_dist
    return noded[is_road], speeds[road_of[is_road]]


def _nearest_with_distance(tree: shapely.STRtree, geoms: npt.NDArray[np.object_]) -> tuple[IntArray, FloatArray]:
    """For each geometry, one nearest item of ``tree`` and the distance to it."""
    (which, item), dist = tree.query_nearest(geoms, return_distance=True, all_matches=False)
    order = np.argsort(which, kind="stable")
    return item[order], dist[order]


def _topology(pieces: npt.NDArray[np.object_], rivers: npt.NDArray[np.object_], bridges_xy: FloatArray,
              bridge_tolerance: float, snap_tolerance: float) -> _Topology:
    """Node ids of every piece's two ends, cutting the river crossings that are not at a bridge."""
    n = len(pieces)
    ends = np.concatenate([shapely.get_point(pieces, 0), shapely.get_point(pieces, -1)])
    xy = shapely.get_coordinates(ends).reshape(-1, 2)
    on_river = (shapely.dwithin(ends, shapely.union_all(rivers), _ON_LINE_M) if len(rivers)
                else np.zeros(len(ends), dtype=bool))
    allowed = np.zeros(len(ends), dtype=bool)
    if on_river.any() and len(bridges_xy):
        dist, _ = cKDTree(bridges_xy).query(xy[on_river])
        allowed[on_river] = dist <= bridge_tolerance
    blocked = on_river & ~allowed
    labels = _cluster(xy, ~blocked, snap_tolerance)
    node_xy = np.zeros((labels.max() + 1 if len(labels) else 0, 2))
    node_xy[labels] = xy
    return _Topology(node_xy=node_xy, edge_nodes=np.column_stack([labels[:n], labels[n:]]).astype(np.int64),
                     kept=_places(xy[on_river & allowed]), blocked=_places(xy[blocked]))


def _cluster(xy: FloatArray, joinable: BoolArray, tolerance: float) -> IntArray:
    """Label points: joinable points within ``tolerance`` (transitively) share a label, others are alone."""
    n = len(xy)
    idx = np.flatnonzero(joinable)
    pairs = cKDTree(xy[idx]).query_pairs(max(tolerance, 1e-9), output_type="ndarray") if len(idx) else np.empty((0, 2))
    rows = np.concatenate([np.arange(n), idx[pairs[:, 0].astype(np.int64)]])
    cols = np.concatenate([np.arange(n), idx[pairs[:, 1].astype(np.int64)]])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    return np.asarray(connected_components(graph, directed=False)[1], dtype=np.int64)


def _places(xy: FloatArray) -> int:
    """Number of distinct places among points (the pieces on both banks share a crossing point)."""
    return len(np.unique(np.round(xy, 3), axis=0)) if len(xy) else 0


# ====================================================================== attaching points


def _project(network: RoadNetwork, points: npt.NDArray[np.object_], edge: IntArray
             ) -> tuple[FloatArray, npt.NDArray[np.object_]]:
    """Offset along ``edge`` of each point's projection, and the straight leg to it."""
    lines = network.edge_lines[edge]
    offset = shapely.line_locate_point(lines, points)
    foot = shapely.line_interpolate_point(lines, offset)
    legs = shapely.linestrings(np.stack([shapely.get_coordinates(points), shapely.get_coordinates(foot)], axis=1))
    return np.asarray(offset, dtype=float), legs


def _legs_refused(network: RoadNetwork, legs: npt.NDArray[np.object_]) -> BoolArray:
    """Legs crossing a river anywhere but within the bridge tolerance of a bridge."""
    refused = np.zeros(len(legs), dtype=bool)
    if network.rivers is None or not len(legs):
        return refused
    crossing = shapely.intersects(legs, network.rivers)
    for i in np.flatnonzero(crossing):
        where = shapely.points(shapely.get_coordinates(shapely.intersection(legs[i], network.rivers)))
        refused[i] = not bool(np.all(network.crossing_allowed(np.atleast_1d(where))))
    return refused


def _attach_points(network: RoadNetwork, xy: FloatArray) -> _Access:
    """Nearest admissible road piece of every point within ``max_access_m`` (see the module's rules)."""
    points = shapely.points(xy)
    if not network.n_edges or not len(points):
        return _Access(*(np.empty(0, dtype=t) for t in (np.int64, np.int64, float, float)))
    (which, edge), _ = network._tree.query_nearest(points, max_distance=network.max_access_m,
                                                     return_distance=True, all_matches=False)
    offset, legs = _project(network, points[which], edge)
    refused = _legs_refused(network, legs)
    first = _Access(which[~refused], edge[~refused], offset[~refused], shapely.length(legs[~refused]))
    if not refused.any():
        return first
    second = _attach_across(network, points, which[refused])
    return _Access(*(np.concatenate([a, b]) for a, b in zip(
        (first.points, first.edge, first.offset_m, first.leg_m),
        (second.points, second.edge, second.offset_m, second.leg_m), strict=True)))


def _attach_across(network: RoadNetwork, points: npt.NDArray[np.object_], which: IntArray) -> _Access:
    """For points whose nearest leg was refused: the nearest piece in reach whose leg is admissible."""
    pair_point, edge = network._tree.query(points[which], predicate="dwithin", distance=network.max_access_m)
    pair_point = which[pair_point]
    offset, legs = _project(network, points[pair_point], edge)
    ok = ~_legs_refused(network, legs)
    frame = pd.DataFrame({"point": pair_point[ok], "edge": edge[ok], "offset": offset[ok],
                          "leg": shapely.length(legs[ok])})
    best = frame.sort_values(["point", "leg"], kind="stable").drop_duplicates("point")
    return _Access(best["point"].to_numpy(np.int64), best["edge"].to_numpy(np.int64),
                   best["offset"].to_numpy(float), best["leg"].to_numpy(float))


def _point_graph(network: RoadNetwork, xy: FloatArray, access: _Access) -> PointGraph:
    """The network's edges with the touched ones cut at the projections, plus one leg per point.

    Each accessible point gets two nodes: the point itself and its projection ("foot") on the edge. The
    edges holding feet are replaced by chains through their feet in order, so points on the same edge reach
    each other along it.
    """
    base = network.n_nodes
    k = len(access.points)
    foot = base + np.arange(k)
    house = base + k + np.arange(k)
    order = np.lexsort((access.offset_m, access.edge))
    e, off, ft = access.edge[order], access.offset_m[order], foot[order]
    first = np.ones(k, dtype=bool)
    first[1:] = e[1:] != e[:-1]
    last = np.ones(k, dtype=bool)
    last[:-1] = first[1:]
    start = np.where(first, network.edge_nodes[e, 0], np.r_[0, ft[:-1]])
    start_off = np.where(first, 0.0, np.r_[0.0, off[:-1]])
    length = network.edge_metres[e]
    share = np.divide(1.0, length, out=np.zeros_like(length), where=length > 0)
    chain_u = np.concatenate([start, ft[last]])
    chain_v = np.concatenate([ft, network.edge_nodes[e[last], 1]])
    chain_m = np.concatenate([np.maximum(off - start_off, 0.0), np.maximum(length[last] - off[last], 0.0)])
    chain_t = chain_m * np.concatenate([share, share[last]]) * np.concatenate(
        [network.edge_minutes[e], network.edge_minutes[e[last]]])
    untouched = np.ones(network.n_edges, dtype=bool)
    untouched[e] = False
    u = np.concatenate([network.edge_nodes[untouched, 0], chain_u, house])
    v = np.concatenate([network.edge_nodes[untouched, 1], chain_v, foot])
    metres = np.concatenate([network.edge_metres[untouched], chain_m, access.leg_m])
    minutes = np.concatenate([network.edge_minutes[untouched], chain_t,
                              access.leg_m / metres_per_minute(network.access_speed_kmh)])
    point_nodes = np.full(len(xy), -1, dtype=np.int64)
    point_nodes[access.points] = house
    access_m = np.full(len(xy), np.nan)
    access_m[access.points] = access.leg_m
    return PointGraph(network=network, point_nodes=point_nodes, access_m=access_m,
                      edges=np.column_stack([np.r_[u, v], np.r_[v, u]]).astype(np.int64),
                      edge_metres=np.r_[metres, metres], edge_minutes=np.r_[minutes, minutes],
                      n_nodes=base + 2 * k)


# ====================================================================== searching


def _csr(edges: IntArray, primary: FloatArray, secondary: FloatArray, n: int
         ) -> tuple[csr_matrix, IntArray, FloatArray]:
    """Sparse graph of the cheapest edge between each ordered node pair, and that edge's other measure.

    A sparse matrix built from triplets would sum parallel edges (two roads between the same junctions),
    so they are reduced to the cheapest here. Returns the matrix, the sorted pair keys ``u * n + v`` and the
    secondary measure in the same order (to follow paths by the other measure).
    """
    key = edges[:, 0] * n + edges[:, 1]
    order = np.lexsort((primary, key))
    key, primary, secondary = key[order], primary[order], secondary[order]
    first = np.r_[True, key[1:] != key[:-1]]
    key, primary, secondary = key[first], primary[first], secondary[first]
    rows, cols = np.divmod(key, n)
    indptr = np.searchsorted(rows, np.arange(n + 1))
    return csr_matrix((primary, cols, indptr), shape=(n, n)), key, secondary


def _sum_along_tree(pred: IntArray, keys: IntArray, values: FloatArray, n: int) -> FloatArray:
    """Sum an edge measure from each node up its shortest-path tree to the root (pointer jumping).

    ``pred`` is Dijkstra's predecessor array (negative at roots and unreached nodes). Doubling the jump each
    round sums a path of depth d in log2(d) vectorised steps instead of a Python loop over nodes.
    """
    has_parent = pred >= 0
    total = np.zeros(n)
    idx = np.flatnonzero(has_parent)
    total[idx] = values[np.searchsorted(keys, pred[idx] * n + idx)]
    up = np.where(has_parent, pred, -1)
    while np.any(up >= 0):
        live = up >= 0
        safe = np.where(live, up, 0)
        total = total + np.where(live, total[safe], 0.0)
        up = np.where(live, up[safe], -1)
    return total
