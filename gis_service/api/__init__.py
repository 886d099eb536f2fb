"""The HTTP API (OGC API - Features)."""

from gis_service.api.app import create_app

__all__ = ["create_app"]
