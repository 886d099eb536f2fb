"""Service areas: the ground a facility serves within a distance or time, along roads or in a straight line.

Along roads, a service area is drawn from the road pieces reachable within the limit (whole edges, and the
reachable part of the edges where the limit runs out), widened by ``reach_m`` on either side: people walk a
little way from the road to it. That is the picture planners know from isochrone maps; the coverage numbers
themselves come from :func:`gis_service.analysis.coverage.coverage`, which measures every settlement's own path,
so the drawing is for reading the map, not for counting.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import shapely
from shapely.ops import substring

from gis_service.analysis.network import RoadNetwork

FloatArray = npt.NDArray[np.float64]
Weight = Literal["length", "time"]
# How far people walk from a road to it, drawn on either side of the reachable roads (metres).
DEFAULT_REACH_M = 100.0


def straight_line_areas(facilities_xy: npt.ArrayLike, limit_m: float) -> npt.NDArray[np.object_]:
    """Discs of radius ``limit_m`` around each facility (for what has no road network)."""
    xy = np.asarray(facilities_xy, dtype=float).reshape(-1, 2)
    return np.asarray(shapely.buffer(shapely.points(xy), limit_m, quad_segs=16), dtype=object)


def network_areas(network: RoadNetwork, facilities_xy: npt.ArrayLike, limit: float, *,
                  weight: Weight = "length", reach_m: float = DEFAULT_REACH_M) -> npt.NDArray[np.object_]:
    """The area each facility serves along the roads within ``limit``.

    Parameters
    ----------
    network
        The road network (rivers crossed only at bridges).
    facilities_xy
        (n, 2) facility coordinates in the network's CRS.
    limit
        Metres (``weight="length"``) or minutes (``weight="time"``).
    weight
        What ``limit`` measures.
    reach_m
        Width drawn on either side of the reachable roads.

    Returns
    -------
    numpy.ndarray of shapely geometries
        One (Multi)Polygon per facility; an empty polygon for a facility the roads do not reach.
    """
    xy = np.asarray(facilities_xy, dtype=float).reshape(-1, 2)
    graph = network.attach(xy)
    edge_cost = network.edge_metres if weight == "length" else network.edge_minutes
    out = np.empty(len(xy), dtype=object)
    tree = shapely.STRtree(network.edge_lines)
    for i in range(len(xy)):
        if not graph.has_access[i]:
            out[i] = shapely.Polygon()
            continue
        cost = graph.node_costs(i, weight=weight, limit=limit)[: network.n_nodes]
        reachable = np.concatenate([_reachable_pieces(network, cost, edge_cost, limit),
                                    _own_edge_piece(network, tree, xy[i], graph.access_m[i], edge_cost, limit,
                                                    weight)])
        pieces = shapely.buffer(reachable, reach_m, quad_segs=4)
        around = shapely.buffer(shapely.points(xy[i]), reach_m)  # the facility's own doorstep
        out[i] = shapely.union_all(np.concatenate([pieces, [around]]))
    return out


def _own_edge_piece(network: RoadNetwork, tree: shapely.STRtree, xy: FloatArray, access_m: float,
                    edge_cost: FloatArray, limit: float, weight: Weight) -> npt.NDArray[np.object_]:
    """The stretch of the facility's own road reachable both ways from where its access leg meets it (the
    search reaches that road's end nodes, but the stretch between them and the facility belongs here)."""
    edge = int(tree.nearest(shapely.points(xy)))
    line = network.edge_lines[edge]
    metres = float(network.edge_metres[edge])
    per_metre = float(edge_cost[edge]) / metres if metres > 0 else 0.0
    leg = access_m if weight == "length" else access_m / (network.access_speed_kmh * 1000.0 / 60.0)
    left = limit - leg
    if left <= 0 or per_metre <= 0:
        return np.empty(0, dtype=object)
    offset = float(line.project(shapely.points(xy)))
    span = left / per_metre
    return np.asarray([substring(line, max(0.0, offset - span), min(metres, offset + span))], dtype=object)


def _reachable_pieces(network: RoadNetwork, node_cost: FloatArray, edge_cost: FloatArray,
                      limit: float) -> npt.NDArray[np.object_]:
    """The reachable part of every edge: from each end as far as the limit allows (whole edges where both
    parts meet)."""
    start, end = network.edge_nodes[:, 0], network.edge_nodes[:, 1]
    share = np.divide(1.0, edge_cost, out=np.ones_like(edge_cost), where=edge_cost > 0)
    from_start = np.clip((limit - node_cost[start]) * share, 0.0, 1.0)
    from_end = np.clip((limit - node_cost[end]) * share, 0.0, 1.0)
    from_start[~np.isfinite(node_cost[start])] = 0.0
    from_end[~np.isfinite(node_cost[end])] = 0.0
    whole = from_start + from_end >= 1.0
    lines = network.edge_lines
    parts = [lines[whole]]
    head = ~whole & (from_start > 0)
    tail = ~whole & (from_end > 0)
    if head.any():
        parts.append(np.asarray([substring(line, 0.0, f, normalized=True)
                                 for line, f in zip(lines[head], from_start[head], strict=True)], dtype=object))
    if tail.any():
        parts.append(np.asarray([substring(line, 1.0 - f, 1.0, normalized=True)
                                 for line, f in zip(lines[tail], from_end[tail], strict=True)], dtype=object))
    return np.concatenate(parts) if parts else np.empty(0, dtype=object)
