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
    spatialite_library
        Name or path of the SpatiaLite extension module loaded into every SQLite connection.
    language
        Language of labels, headers and messages users see: ``zh`` (default) or ``en``.
    """

    model_config = SettingsConfigDict(env_prefix="GIS_", env_file=None, extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    spatialite_library: str = "mod_spatialite"
    language: str = Field(default="zh", pattern="^(zh|en)$")
    demo_dir: Path = Path(__file__).resolve().parent.parent / "layers" / "demo"

    @property
    def is_spatialite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, built on first use."""
    return Settings()
