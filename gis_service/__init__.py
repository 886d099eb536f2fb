"""gis_service: spatial layers, analyses and map reports for a township's natural resources office."""

__version__ = "0.1.0"
