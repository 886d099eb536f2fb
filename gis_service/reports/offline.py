"""Everything a report takes from the web is inlined: the page must render on a town office computer with no
internet, where CDNs are slow or blocked.

``folium-offline`` (import name ``offlinefolium``) is folium 0.20 with every CDN script and stylesheet of folium
and its plugins embedded; when a map renders, each element writes its libraries into the page as inline
``<script>``/``<style>`` blocks instead of links. Its ``Map`` still asks for jQuery, Bootstrap, Font Awesome and
Awesome Markers (about 1.3 MB) although nothing in these reports uses them, so :class:`OfflineMap` asks for
Leaflet alone. Font Awesome would also make the browser fetch its font files, which are not inlined.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from typing import Any

from branca.element import Element, Figure

LEAFLET_JS = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"
LEAFLET_CSS = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"
SEARCH_JS = "https://cdn.jsdelivr.net/npm/leaflet-search@2.9.7/dist/leaflet-search.min.js"
SEARCH_CSS = "https://cdn.jsdelivr.net/npm/leaflet-search@2.9.7/dist/leaflet-search.min.css"

# A reference that makes a browser go to the network: a script, stylesheet, image or frame loaded by URL.
_EXTERNAL = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?((?:https?:)?//[^"'\s>]+)""",
                       re.IGNORECASE)


def offline_map_class() -> type[Any]:
    """``offlinefolium.Map`` that inlines Leaflet only (see the module docstring)."""
    import offlinefolium

    class OfflineMap(offlinefolium.Map):
        default_js = [("leaflet", LEAFLET_JS)]
        default_css = [("leaflet_css", LEAFLET_CSS)]

    return OfflineMap


def library(name: str, js: str | None = None, css: str | None = None) -> Any:
    """An element that inlines a library ``offlinefolium`` ships (by its CDN URL) when the map renders.

    Add it to the map: children render after their map, so the library lands in the page head after Leaflet.
    """
    from branca.element import MacroElement
    from offlinefolium.elements import JSCSSMixin

    class InlineLibrary(JSCSSMixin, MacroElement):
        default_js = [(f"{name}_js", js)] if js else []
        default_css = [(f"{name}_css", css)] if css else []

    return InlineLibrary()


def inline_script(figure: Figure, name: str, source: str) -> None:
    """Put ``source`` in the page head as an inline script (``name`` keeps it from being added twice)."""
    figure.header.add_child(Element(f"<script>{_script_safe(source)}</script>"), name=name)


def inline_style(figure: Figure, name: str, source: str) -> None:
    figure.header.add_child(Element(f"<style>{source}</style>"), name=name)


def static_text(name: str) -> str:
    """A file of ``gis_service/reports/static`` (the reports' own script and stylesheet)."""
    return (files("gis_service.reports") / "static" / name).read_text(encoding="utf-8")


def js_literal(value: Any) -> str:
    """``value`` as a JavaScript literal that is safe inside ``<script>``: no ``</script>`` can close the block.

    UTF-8 is kept as is (``ensure_ascii`` would make each Chinese character six bytes instead of three).
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escaped in _JSON_ESCAPES.items():
        text = text.replace(char, escaped)
    return text


def external_references(html: str) -> list[str]:
    """Every URL in ``html`` that a browser would fetch from the network on opening it (should be none)."""
    return _EXTERNAL.findall(html)


# In JSON these occur only inside strings, where the escapes mean the same characters.
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _script_safe(source: str) -> str:
    # Library code never closes a script block on purpose; a literal "</script" inside a string would.
    return source.replace("</script", "<\\/script")
