"""The bundled demo town: a seeded, synthetic "Penglai-like" town (蓬莱镇示例数据).

Only the town's name, NBS code, county, approximate area, population and location are real; every
geometry and everything below the town is invented (see ``layers/demo/README.md``).

``generate`` and ``write_demo`` live in :mod:`gis_service.demo.generator`; they are re-exported here
lazily, so ``python -m gis_service.demo.generator`` does not import the module twice.
"""

from __future__ import annotations

from typing import Any

__all__ = ["generate", "write_demo"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from gis_service.demo import generator

        return getattr(generator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
