"""The batch coverage on Dask (``dask.distributed``): one task per group of whole towns.

The facilities are indexed once in the client and sent to every worker once (``Client.scatter(...,
broadcast=True)``); each task then covers its towns with ``gis_service.analysis.batch.cover_town``, the very
function of the single-process path, so both give the same numbers (``docs/province.md``). Tasks hold whole
towns, never part of one, so no result depends on how towns are grouped into tasks.

Two inputs:

``batch_coverage_dask``
    Settlements in memory (``BatchSettlements``): partitioned by town in the client, scattered to the
    workers, per-settlement results gathered back in batch order.
``synthetic_coverage_dask``
    A ``ProvinceSpec``: each task generates its own towns, and only the towns' summary rows come back, so
    ten million settlements never pass through the client.

Dask is an optional dependency (``pip install 'gis-service[province]'``): it is imported when a client is
made, not when this module is.

Examples
--------
>>> from gis_service.analysis.batch_synthetic import ProvinceSpec
>>> with local_client(n_workers=2, processes=False) as client:  # doctest: +SKIP
...     report = synthetic_coverage_dask(ProvinceSpec(towns=50, settlements=200_000, facilities=2_000),
...                                      threshold_m=1_000, client=client)
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from gis_service.analysis.batch import (
    BatchReport,
    BatchSettlements,
    FacilityIndex,
    TownCoverage,
    assemble,
    cover_towns,
    partition_by_town,
    search_radius,
    summary_frame,
)
from gis_service.analysis.batch_synthetic import ProvinceSpec, province_facilities, summarise_synthetic_towns

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["TASKS_PER_THREAD", "TOWNS_PER_TASK", "WORKER_MALLOC", "batch_coverage_dask", "local_client",
           "synthetic_coverage_dask", "towns_per_task"]

# Task size is chosen by the batch's size: about TASKS_PER_THREAD tasks for each worker thread (enough to
# balance: the last task is at most a few per cent of a thread's work), but never fewer than TOWNS_PER_TASK
# towns (16 towns, about 50,000 settlements at Sichuan's density, run for about 15 ms). Each task costs about
# 2-3 ms of CPU in the scheduler and the worker whatever its size (measured on 31,000 towns of 10 settlements),
# so a fixed 16 towns spent 4-6 s of CPU on 1,938 tasks at 100M settlements, on the same cores as the work.
TOWNS_PER_TASK = 16
TASKS_PER_THREAD = 32
# Dask starts its workers with MALLOC_TRIM_THRESHOLD_=64 KiB, which also pins glibc's mmap threshold at 128 KiB:
# each town's arrays were then mapped and unmapped, and the page faults cost as much system time as the work
# itself (10M settlements: 1.1 s system per 1.8 s user in each worker; 0.0 with these). Keep them on the heap.
WORKER_MALLOC = {"MALLOC_TRIM_THRESHOLD_": 256 * 2**20, "MALLOC_MMAP_THRESHOLD_": 32 * 2**20}
T = TypeVar("T")


@contextlib.contextmanager
def local_client(n_workers: int = 2, *, threads_per_worker: int = 1, processes: bool = True,
                 memory_limit: str | int = "auto") -> Iterator[Client]:
    """A ``LocalCluster`` of ``n_workers`` and a client on it, closed on exit.

    Parameters
    ----------
    n_workers, threads_per_worker
        Workers, and threads in each (one: the KD-tree queries hold the GIL part of the time).
    processes
        Worker processes (True) or threads of this process (False: quicker to start, one interpreter).
    memory_limit
        Per worker, as Dask takes it (``"auto"``: the machine's memory shared out).

    Notes
    -----
    Worker processes get ``WORKER_MALLOC`` in their environment (see the comment there); a cluster started
    elsewhere should set the same in its Dask config (``distributed.nanny.pre-spawn-environ``).
    """
    import dask
    from distributed import Client, LocalCluster

    environ = {f"distributed.nanny.pre-spawn-environ.{name}": value for name, value in WORKER_MALLOC.items()}
    with dask.config.set(environ):
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=processes,
                               memory_limit=memory_limit, dashboard_address=None, silence_logs=logging.ERROR)
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


@contextlib.contextmanager
def _client_or_local(client: Client | None) -> Iterator[Client]:
    if client is not None:
        yield client
        return
    with local_client() as own:
        yield own


def towns_per_task(towns: int, threads: int) -> int:
    """Whole towns in each task: ``TASKS_PER_THREAD`` tasks per worker thread, at least ``TOWNS_PER_TASK`` towns.

    >>> towns_per_task(310, 2), towns_per_task(3_100, 2), towns_per_task(31_000, 2), towns_per_task(31_000, 64)
    (16, 49, 485, 16)
    """
    return max(TOWNS_PER_TASK, math.ceil(towns / (TASKS_PER_THREAD * max(1, threads))))


def _groups(items: Sequence[T], size: int | None, client: Client) -> list[Sequence[T]]:
    if size is None:
        size = towns_per_task(len(items), sum(client.nthreads().values()))
    if size < 1:
        raise ValueError(f"towns_per_task must be at least 1, not {size}")
    return [items[i:i + size] for i in range(0, len(items), size)]


def batch_coverage_dask(settlements: BatchSettlements, facilities: FacilityIndex, threshold_m: float, *,
                        search_m: float | None = None, client: Client | None = None,
                        towns_per_task: int | None = None) -> BatchReport:
    """``gis_service.analysis.batch.batch_coverage`` on a Dask cluster: the same report.

    Parameters
    ----------
    settlements, facilities, threshold_m, search_m
        As in ``batch_coverage``.
    client
        A ``distributed.Client``; default: a ``local_client()`` made for this call and closed after it.
    towns_per_task
        Whole towns per task; default: chosen by the number of towns and of the cluster's threads
        (``towns_per_task()``). It changes no result, only the scheduling cost and the balance.

    Returns
    -------
    BatchReport
        With per-settlement results in batch order.
    """
    search = search_radius(threshold_m, search_m)
    with _client_or_local(client) as c:
        groups = _groups(partition_by_town(settlements), towns_per_task, c)
        index = c.scatter(facilities, broadcast=True)
        parts = c.scatter(groups)
        futures = c.map(cover_towns, parts, facilities=index, threshold_m=threshold_m, search_m=search, pure=False)
        gathered: list[list[TownCoverage]] = c.gather(futures)
    return assemble([town for group in gathered for town in group], threshold_m, search, size=len(settlements))


def synthetic_coverage_dask(spec: ProvinceSpec, threshold_m: float, *, search_m: float | None = None,
                            client: Client | None = None, towns_per_task: int | None = None,
                            facilities: FacilityIndex | None = None) -> BatchReport:
    """Town and county summaries of a synthetic province, each task generating its own towns.

    Same arguments as ``gis_service.analysis.batch_synthetic.synthetic_coverage``, plus ``client`` and
    ``towns_per_task`` as in ``batch_coverage_dask``; the same report.
    """
    search = search_radius(threshold_m, search_m)
    index = facilities or FacilityIndex.build(province_facilities(spec))
    with _client_or_local(client) as c:
        groups = _groups(range(spec.towns), towns_per_task, c)
        shared = c.scatter(index, broadcast=True)
        futures = c.map(summarise_synthetic_towns, groups, spec=spec, facilities=shared, threshold_m=threshold_m,
                        search_m=search, pure=False)
        rows: list[list[Any]] = c.gather(futures)
    return BatchReport(threshold_m, search, summary_frame([row for group in rows for row in group]), None)
