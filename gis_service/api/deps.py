"""Dependencies shared by routes: services from app state, a collection id resolved to its layer.

They are ``async def`` because none of them blocks: FastAPI runs each plain ``def`` dependency in the
thread pool, and those hand-offs were most of the time of a cached request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from gis_service.analysis.conformance_uses import PermittedTable
from gis_service.errors import NotFoundError
from gis_service.layers.registry import LayerSpec, get_layer, list_layers
from gis_service.services.conformance import table_from
from gis_service.services.edits import EditService
from gis_service.services.features import FeatureService
from gis_service.services.layers import LayerService
from gis_service.settings import Settings


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_feature_service(request: Request) -> FeatureService:
    return request.app.state.features


async def get_edit_service(request: Request) -> EditService:
    return request.app.state.edits


async def get_layer_service(request: Request) -> LayerService:
    return request.app.state.layers


def permitted_uses(request: Request) -> PermittedTable:
    """This app's permitted-use table (``GIS_PERMITTED_USES_FILE`` merged into the built-in one), read once and
    kept in ``app.state.permitted_uses``, so that conformance and siting judge with the same table."""
    table: PermittedTable | None = getattr(request.app.state, "permitted_uses", None)
    if table is None:
        table = table_from(request.app.state.settings)
        request.app.state.permitted_uses = table
    return table


async def get_collection(
    collection_id: Annotated[str, Path(description="Layer name, e.g. assets",
                                       json_schema_extra={"enum": [s.name for s in list_layers()]})],
) -> LayerSpec:
    """The layer behind ``collection_id`` (its table name only); 404 problem+json if there is none."""
    spec = get_layer(collection_id)
    if spec.name != collection_id:
        raise NotFoundError(f"no collection '{collection_id}'; did you mean '{spec.name}'?")
    return spec


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
FeaturesDep = Annotated[FeatureService, Depends(get_feature_service)]
LayersDep = Annotated[LayerService, Depends(get_layer_service)]
EditsDep = Annotated[EditService, Depends(get_edit_service)]
CollectionDep = Annotated[LayerSpec, Depends(get_collection)]
