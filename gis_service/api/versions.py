"""Layer data versions for the response cache, read in batches without ever being stale.

Every cached request must know its layer's current version. Reading it per request cost more than
serving the cached page, so concurrent requests share reads, with one rule that keeps them exact: a request
only joins a read that *starts after the request arrived*. Requests arriving while a read runs wait for the
next one (started as soon as the current one ends), so a change committed before a request was sent is
always seen, and under load one query answers every request that arrived during the previous query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from gis_service.towns import current_town

Versions = dict[tuple[str, str], int]


class LayerVersions:
    """Batched reads of ``read(towns)`` ((town, layer) → version) for one event loop.

    Requests for different towns wait for the same query, which reads the versions of just the towns that have
    requests waiting (a province has thousands; a batch rarely more than a few), and each request looks up its
    own town (the request's, else ``default_town``).
    """

    def __init__(self, read: Callable[[frozenset[str]], Versions], default_town: str) -> None:
        self._read = read
        self._default_town = default_town
        self._waiting: asyncio.Future[Versions] | None = None  # the read that starts next
        self._towns: set[str] = set()  # the towns it is for
        self._running = False
        self._task: asyncio.Task[None] | None = None

    async def current(self, town: str) -> Versions:
        """Versions of ``town`` (and maybe others) read by a query that started after this call."""
        if self._waiting is None:
            self._waiting = asyncio.get_running_loop().create_future()
            if not self._running:
                self._running = True
                self._task = asyncio.create_task(self._drain())
        self._towns.add(town)
        # shield: one client going away must not cancel the read others wait for
        return await asyncio.shield(self._waiting)

    async def version(self, layer: str) -> int:
        """The data version of ``layer`` in the request's town."""
        town = current_town(self._default_town) or self._default_town
        return (await self.current(town)).get((town, layer), 0)

    async def _drain(self) -> None:
        try:
            while self._waiting is not None:
                batch, self._waiting = self._waiting, None
                towns, self._towns = frozenset(self._towns), set()
                try:
                    batch.set_result(await run_in_threadpool(self._read, towns))
                except Exception as exc:  # noqa: BLE001 - handed to every waiting request
                    _fail(batch, exc)
        finally:
            # Also when this task is cancelled (shutdown): nobody may wait for a read that will never start.
            self._running = False
            if self._waiting is not None:
                _fail(self._waiting, RuntimeError("layer versions could not be read"))
                self._waiting = None


def _fail(batch: asyncio.Future[Versions], exc: BaseException) -> None:
    if not batch.done():
        batch.set_exception(exc)
        batch.exception()  # mark retrieved: waiters that went away must not log it as lost
