"""A byte-bounded LRU cache of finished responses (feature pages, tiles) for one server process.

Keys include the layer's data version, which database triggers raise on every change, so an entry can
never be served after its layer changed; old entries simply age out. Serving pre-serialised bytes is what
lets one worker answer thousands of map requests per second (see docs/benchmarks.md).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass, field

from cachetools import LRUCache
from fastapi import Request
from fastapi.responses import Response

from gis_service.api.conditional import none_match

ENTRY_OVERHEAD = 768  # bytes per entry besides the body: about 620 measured for an empty tile (key, headers, LRU)


@dataclass(frozen=True)
class CachedResponse:
    body: bytes
    media_type: str
    headers: dict[str, str] = field(default_factory=dict)
    status_code: int = 200


class ResponseCache:
    """Thread-safe LRU of :class:`CachedResponse` bounded by total body size."""

    def __init__(self, max_bytes: int) -> None:
        self.enabled = max_bytes > 0
        self._entries: LRUCache[Hashable, CachedResponse] = LRUCache(
            maxsize=max(max_bytes, 1), getsizeof=lambda entry: len(entry.body) + ENTRY_OVERHEAD)
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> CachedResponse | None:
        if not self.enabled:
            return None
        with self._lock:
            return self._entries.get(key)

    def put(self, key: Hashable, entry: CachedResponse) -> None:
        if not self.enabled or len(entry.body) + ENTRY_OVERHEAD > self._entries.maxsize:
            return
        with self._lock:
            self._entries[key] = entry


def cached_response(request: Request, entry: CachedResponse) -> Response:
    """The response for ``entry``, or 304 Not Modified when the client's ``If-None-Match`` has its ETag."""
    tag = entry.headers.get("ETag")
    if tag is not None and none_match(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=entry.headers)
    if entry.status_code == 204:
        return Response(status_code=204, headers=entry.headers)
    return Response(entry.body, status_code=entry.status_code, media_type=entry.media_type, headers=entry.headers)
