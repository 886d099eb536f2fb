"""Map reports: self-contained HTML pages (folium/Leaflet, every library inlined) that open in any browser
without internet. ``build_reports`` writes them to ``maps/``; ``gis-service maps build`` and the API's
``/maps/`` call it.

Modules: ``build`` (which reports exist, building, the manifest), ``data`` (layers and data version),
``base`` (page shell, title block, panels, tools, print layout), ``layers`` (shared map layers),
``assets`` and ``merger`` (the reports), ``chart`` (inline SVG), ``index``, ``i18n``, ``styles``,
``offline`` (inlined libraries), ``cli`` (the ``maps`` command).
"""

from gis_service.reports.build import REPORTS, build_reports, ensure_current

__all__ = ["REPORTS", "build_reports", "ensure_current"]
