"""Settings, read from the environment (prefix ``GIS_``) when asked for, never at import."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///data/penglai.sqlite"


class Settings(BaseSettings):
    """Service configuration.

    Attributes
    ----------
    database_url
        SQLAlchemy URL. ``sqlite:///path.sqlite`` selects embedded SpatiaLite (the default);
        ``postgresql+psycopg://user@host/db`` selects PostGIS.
    town_code, town_name
        The town this service serves by default: its 9-digit NBS township code (default ``510923100``, 蓬莱镇) and
        name. Requests without a ``/towns/{code}`` prefix, and every command, work on this town. A PostGIS database
        can hold many towns (``gis-service towns add``), each in its own partition of every table; a SpatiaLite
        file holds one.
    spatialite_library
        Name or path of the SpatiaLite extension module loaded into every SQLite connection.
    language
        Language of labels, headers and messages users see: ``zh`` (default) or ``en``.
    read_access
        Who may read without an API key: ``local`` (default: clients on this machine, 127.0.0.1/::1),
        ``open`` (everyone) or ``key`` (nobody). Writing always needs an editor or admin key.
    require_if_match
        Refuse PUT, PATCH and DELETE without an ``If-Match`` header (428). Off by default because QGIS
        does not send one; a sent ``If-Match`` is always enforced (412 when stale).
    db_pool_size, db_max_overflow
        Database connections each server process keeps open, and how many more it may open under load
        (default: 0 on SQLite, whose connections are slow to open as SpatiaLite loads on each; 32 on
        PostgreSQL, so that the 40 request threads rarely wait).
    response_cache_mb
        Memory per server process for cached feature pages and tiles (0 turns the cache off). Entries are
        keyed by the layer's data version, which triggers raise on every change, so none is served stale.
    auth_failures_allowed, auth_failure_window_s
        Failed API key attempts one client address may make per window before it gets 429.
    cors_origins
        Web origins (comma-separated, e.g. ``https://gis.penglai.gov.cn``; ``*`` for any) whose pages may call the
        API from a browser. Empty (default): no CORS headers at all, so only same-origin pages, QGIS, GDAL and
        scripts can use it. Keys still decide what a caller may do; this only lets browsers show the answers.
    maps_dir
        Folder of the map reports (``gis-service maps build``, served at ``/maps/``); relative to the working
        directory, like the default database.
    uploads_dir
        Where uploaded photos and documents are stored, each once under its SHA-256 (content-addressed).
    upload_max_mb
        Largest single upload accepted (413 above it).
    upload_quota_mb
        Total size the upload folder may reach; an upload that would pass it is refused (507), nothing written.
    milestone_year
        Year of the notice's ledger milestones (inventory 31 March, transfer 31 May, plans 30 June,
        revitalisation 31 December) until milestones are set in the database.
    basemap
        Base map of the map reports: ``none`` (the default: drawn from the town's own layers, works offline),
        ``tianditu`` (天地图, needs ``tianditu_key``), ``gaode`` (高德; the overlays are shifted to GCJ-02 to line
        up with its tiles) or ``osm`` (OpenStreetMap). Online base maps need internet where the report is opened.
    tianditu_key
        The Tianditu key (``tk``) for the ``tianditu`` base map.
    demo_dir
        Folder of the demo town's layer files and ledger (``gis-service demo``).
    permitted_uses_file
        CSV or JSON file that changes the planning conformance's permitted-use table (columns ``key``: a
        land-use code prefix such as ``0704`` or a zone type, ``use``: a use code, ``level``: ``yes``,
        ``conditional`` or ``no``, optional ``condition_zh``/``condition_en``); each row replaces the built-in
        row of its key and use. Empty (default): the built-in table.
    """

    model_config = SettingsConfigDict(env_prefix="GIS_", env_file=None, extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    town_code: str = Field(default="510923100", pattern=r"^[0-9]{9}$")
    town_name: str = Field(default="蓬莱镇", min_length=1, max_length=100)
    spatialite_library: str = "mod_spatialite"
    language: str = Field(default="zh", pattern="^(zh|en)$")
    read_access: str = Field(default="local", pattern="^(local|open|key)$")
    require_if_match: bool = False
    db_pool_size: int = Field(default=8, ge=1, le=200)
    db_max_overflow: int | None = Field(default=None, ge=0, le=200)
    response_cache_mb: int = Field(default=64, ge=0, le=65536)
    auth_failures_allowed: int = Field(default=10, ge=1)
    auth_failure_window_s: int = Field(default=300, ge=1)
    cors_origins: str = ""
    maps_dir: Path = Path("maps")
    uploads_dir: Path = Path("data/uploads")
    upload_max_mb: float = Field(default=20, gt=0, le=1024)
    upload_quota_mb: float = Field(default=2048, gt=0)
    milestone_year: int = Field(default=2021, ge=2000, le=2100)
    basemap: str = Field(default="none", pattern="^(none|tianditu|gaode|osm)$")
    tianditu_key: str | None = None
    demo_dir: Path = Path(__file__).resolve().parent.parent / "layers" / "demo"
    permitted_uses_file: Path | None = None

    @property
    def cors_origin_list(self) -> list[str]:
        """``cors_origins`` as a list (empty: CORS off)."""
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def is_spatialite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, built on first use."""
    return Settings()


def describe_markdown() -> str:
    """The configuration reference (``docs/configuration.md``): every setting, its variable, default and meaning,
    from this module's docstring, so the documentation cannot drift from the code."""
    meanings = _attribute_docs(Settings.__doc__ or "")
    lines = ["# Configuration reference / 配置参考", "",
             "Every setting is an environment variable with the prefix `GIS_` (e.g. `GIS_DATABASE_URL`), read when "
             "the service or a command starts. Generated from `gis_service/settings.py` "
             "(`python -m gis_service.settings > docs/configuration.md`).", "",
             "| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(computed)" if name == "db_max_overflow" else \
            "(the package's `layers/demo`)" if name == "demo_dir" else f"`{default}`"
        lines.append(f"| `GIS_{name.upper()}` | {shown} | {meanings.get(name, '')} |")
    return "\n".join(lines) + "\n"


def _attribute_docs(doc: str) -> dict[str, str]:
    """``name -> text`` from the numpydoc Attributes section (``a, b`` headings give both names the text)."""
    section = doc.split("Attributes\n    ----------\n", 1)[1] if "Attributes" in doc else ""
    meanings: dict[str, str] = {}
    names: list[str] = []
    for line in section.splitlines():
        if line.startswith("    ") and not line.startswith("        ") and line.strip():
            names = [n.strip() for n in line.split(",")]
            for name in names:
                meanings[name] = ""
        elif line.strip():
            for name in names:
                meanings[name] = (meanings[name] + " " + line.strip()).strip()
    return {name: text.replace("|", "\\|") for name, text in meanings.items()}


if __name__ == "__main__":
    print(describe_markdown(), end="")
