"""The spatial layers. Storage CRS is EPSG:4490 (CGCS2000 geographic) for every geometry column.

Spatial indexes are created by the migration through the dialect seam (GiST on PostGIS, R*Tree on
SpatiaLite), so the ORM columns say ``spatial_index=False``.
"""

from __future__ import annotations

from datetime import date

from geoalchemy2 import Geometry
from sqlalchemy import Date, Float, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from gis_service.db.base import STORAGE_SRID, Base, LayerMixin, meta


def _date(zh: str, en: str) -> Mapped[date | None]:
    return mapped_column(Date, nullable=True, info=meta(zh, en))


def _geometry(kind: str, *, nullable: bool = False, zh: str = "几何", en: str = "geometry") -> Mapped[object]:
    return mapped_column(
        Geometry(kind, srid=STORAGE_SRID, spatial_index=False), nullable=nullable,
        info={"geometry": (zh, en)},
    )


def _code(zh: str = "编码", en: str = "code", digits: int | None = None) -> Mapped[str]:
    return mapped_column(
        Text, nullable=False, unique=True,
        info=meta(zh, en, required=True, unique=True, digits=digits),
    )


def _name(zh: str = "名称", en: str = "name") -> Mapped[str]:
    return mapped_column(Text, nullable=False, info=meta(zh, en, required=True))


def _text(zh: str, en: str, *, required: bool = False, codelist: str | None = None,
          digits: int | None = None) -> Mapped[str | None]:
    return mapped_column(
        Text, nullable=not required,
        info=meta(zh, en, required=required, codelist=codelist, digits=digits),
    )


def _int(zh: str, en: str, *, required: bool = False) -> Mapped[int | None]:
    return mapped_column(Integer, nullable=not required, info=meta(zh, en, required=required, minimum=0))


def _float(zh: str, en: str, *, required: bool = False) -> Mapped[float | None]:
    return mapped_column(Float, nullable=not required, info=meta(zh, en, required=required, minimum=0))


class Village(LayerMixin, Base):
    """合并村/社区: a village or community after the merger."""

    __tablename__ = "villages"
    __table_args__ = {"info": {"zh": "合并村(社区)", "en": "Merged villages and communities"}}

    code: Mapped[str] = _code("村级代码", "village code", digits=12)
    name: Mapped[str] = _name("村(社区)名称", "name")
    kind: Mapped[str | None] = _text("类型", "kind", required=True, codelist="village_kind")
    population: Mapped[int | None] = _int("户籍人口", "population")
    households: Mapped[int | None] = _int("户数", "households")
    branch: Mapped[str | None] = _text("所属总支(片区)", "area branch")
    geom: Mapped[object] = _geometry("MULTIPOLYGON")


class FormerVillage(LayerMixin, Base):
    """撤并村: a village merged away; boundary, assets and debts live on."""

    __tablename__ = "former_villages"
    __table_args__ = {"info": {"zh": "撤并村(原村)", "en": "Former villages"}}

    code: Mapped[str] = _code("原村代码", "former village code", digits=12)
    name: Mapped[str] = _name("原村名称", "name")
    merged_into: Mapped[str | None] = _text("并入村代码", "merged into (village code)", required=True, digits=12)
    population: Mapped[int | None] = _int("户籍人口", "population")
    households: Mapped[int | None] = _int("户数", "households")
    dissolved_on: Mapped[date | None] = _date("撤并日期", "date dissolved")
    geom: Mapped[object] = _geometry("MULTIPOLYGON")


class Asset(LayerMixin, Base):
    """镇村公有资产: a town state-owned or village-collective asset.

    ``geom`` is the asset's location (坐落点); ``footprint`` its outline where surveyed (land, ponds, buildings).
    The ledger workflow (plans, transfers, registration) adds its own tables around this one.
    """

    __tablename__ = "assets"
    __table_args__ = {"info": {"zh": "公有资产", "en": "Public assets"}}

    code: Mapped[str] = _code("资产编码", "asset code")
    name: Mapped[str] = _name("资产名称", "asset name")
    ownership: Mapped[str | None] = _text("权属", "ownership", required=True, codelist="ownership")
    owner_unit: Mapped[str | None] = _text("产权单位", "owner unit")
    asset_class: Mapped[str | None] = _text("资产类别", "asset class", required=True, codelist="asset_class")
    category: Mapped[str | None] = _text("资产种类", "category", required=True, codelist="asset_category")
    former_use: Mapped[str | None] = _text("原用途", "former use")
    village_code: Mapped[str | None] = _text("所在村代码", "village code", digits=12)
    former_village_code: Mapped[str | None] = _text("原村代码", "former village code", digits=12)
    location: Mapped[str | None] = _text("坐落", "location")
    floor_area: Mapped[float | None] = _float("建筑面积(㎡)", "floor area (m²)")
    land_area: Mapped[float | None] = _float("占地面积(㎡)", "land area (m²)")
    original_value: Mapped[float | None] = _float("原值(万元)", "original value (10k CNY)")
    use_status: Mapped[str | None] = _text("使用状态", "use status", required=True, codelist="use_status")
    # The ledger's columns (migration 0003). ``owner_code`` is the owning collective or unit: a former
    # village's code while its assets have not yet been transferred to the merged village.
    owner_code: Mapped[str | None] = _text("产权单位代码", "owner code")
    year_built: Mapped[int | None] = _int("建成年份", "year built")
    net_value: Mapped[float | None] = _float("净值(万元)", "net value (10k CNY)")
    certificate_no: Mapped[str | None] = _text("不动产权证号", "title certificate number")
    documents_status: Mapped[str | None] = _text("权籍手续", "title documents", codelist="documents_status")
    building_condition: Mapped[str | None] = _text("房屋状况", "building condition", codelist="building_condition")
    tenant: Mapped[str | None] = _text("承租方", "tenant")
    lease_start: Mapped[date | None] = _date("租期起", "lease start")
    lease_end: Mapped[date | None] = _date("租期止", "lease end")
    annual_income: Mapped[float | None] = _float("年收益(万元)", "yearly income (10k CNY)")
    inventoried_on: Mapped[date | None] = _date("清查日期", "date inventoried")
    geom: Mapped[object] = _geometry("POINT")
    footprint: Mapped[object | None] = _geometry("MULTIPOLYGON", nullable=True, zh="占地范围", en="footprint")


class ServicePoint(LayerMixin, Base):
    """"1+N" service point: the central position of a merged village or a convenience agency station."""

    __tablename__ = "service_points"
    __table_args__ = {"info": {"zh": "1+N便民服务点", "en": "1+N service points"}}

    code: Mapped[str] = _code("服务点编码", "service point code")
    name: Mapped[str] = _name("服务点名称", "name")
    kind: Mapped[str | None] = _text("类型", "kind", required=True, codelist="service_point_kind")
    village_code: Mapped[str | None] = _text("所在村代码", "village code", required=True, digits=12)
    services: Mapped[str | None] = _text("服务事项", "services offered")
    host_asset_code: Mapped[str | None] = _text("依托资产编码", "host asset code")
    opening_hours: Mapped[str | None] = _text("开放时间", "opening hours")
    geom: Mapped[object] = _geometry("POINT")


class School(LayerMixin, Base):
    """学校: kindergartens, primary, junior middle and nine-year schools, open or closed."""

    __tablename__ = "schools"
    __table_args__ = {"info": {"zh": "学校", "en": "Schools"}}

    code: Mapped[str] = _code("学校编码", "school code")
    name: Mapped[str] = _name("学校名称", "name")
    level: Mapped[str | None] = _text("学段", "level", required=True, codelist="school_level")
    status: Mapped[str | None] = _text("办学状态", "status", required=True, codelist="school_status")
    capacity: Mapped[int | None] = _int("学位数", "capacity")
    enrolment: Mapped[int | None] = _int("在校生数", "enrolment")
    village_code: Mapped[str | None] = _text("所在村代码", "village code", digits=12)
    geom: Mapped[object] = _geometry("POINT")


class Facility(LayerMixin, Base):
    """Clinics, the township health centre, elderly day care, nursing homes and culture rooms."""

    __tablename__ = "facilities"
    __table_args__ = {"info": {"zh": "医疗养老文化设施", "en": "Health, elderly-care and culture facilities"}}

    code: Mapped[str] = _code("设施编码", "facility code")
    name: Mapped[str] = _name("设施名称", "name")
    kind: Mapped[str | None] = _text("设施类型", "kind", required=True, codelist="facility_kind")
    capacity: Mapped[int | None] = _int("床位/服务能力", "capacity")
    village_code: Mapped[str | None] = _text("所在村代码", "village code", digits=12)
    geom: Mapped[object] = _geometry("POINT")


class Settlement(LayerMixin, Base):
    """院落/聚居点: where people live; the demand of every coverage analysis."""

    __tablename__ = "settlements"
    __table_args__ = {"info": {"zh": "居民点(院落)", "en": "Settlements"}}

    code: Mapped[str] = _code("居民点编码", "settlement code")
    name: Mapped[str] = _name("居民点名称", "name")
    village_code: Mapped[str | None] = _text("所在村代码", "village code", required=True, digits=12)
    former_village_code: Mapped[str | None] = _text("原村代码", "former village code", digits=12)
    population: Mapped[int | None] = _int("人口", "population", required=True)
    households: Mapped[int | None] = _int("户数", "households")
    elderly: Mapped[int | None] = _int("60岁以上老人", "elderly (60+)")
    children: Mapped[int | None] = _int("0-14岁儿童", "children (0-14)")
    geom: Mapped[object] = _geometry("POINT")


class Road(LayerMixin, Base):
    """道路, with the speeds used by network coverage."""

    __tablename__ = "roads"
    __table_args__ = {"info": {"zh": "道路", "en": "Roads"}}

    code: Mapped[str] = _code("道路编码", "road code")
    name: Mapped[str] = _name("道路名称", "name")
    road_class: Mapped[str | None] = _text("道路等级", "road class", required=True, codelist="road_class")
    walk_speed_kmh: Mapped[float | None] = _float("步行速度(km/h)", "walking speed (km/h)")
    drive_speed_kmh: Mapped[float | None] = _float("车行速度(km/h)", "driving speed (km/h)")
    geom: Mapped[object] = _geometry("MULTILINESTRING")


class River(LayerMixin, Base):
    """河流: the centre line; people cross only at bridges."""

    __tablename__ = "rivers"
    __table_args__ = {"info": {"zh": "河流", "en": "Rivers"}}

    code: Mapped[str] = _code("河流编码", "river code")
    name: Mapped[str] = _name("河流名称", "name")
    width_m: Mapped[float | None] = _float("河宽(米)", "width (m)")
    geom: Mapped[object] = _geometry("MULTILINESTRING")


class Bridge(LayerMixin, Base):
    """桥梁: where a road or path crosses a river."""

    __tablename__ = "bridges"
    __table_args__ = {"info": {"zh": "桥梁", "en": "Bridges"}}

    code: Mapped[str] = _code("桥梁编码", "bridge code")
    name: Mapped[str] = _name("桥梁名称", "name")
    kind: Mapped[str | None] = _text("桥梁类型", "kind", required=True, codelist="bridge_kind")
    river_code: Mapped[str | None] = _text("跨越河流编码", "river code", required=True)
    road_code: Mapped[str | None] = _text("所在道路编码", "road code")
    geom: Mapped[object] = _geometry("POINT")


class PlanningZone(LayerMixin, Base):
    """国土空间规划分区: control lines (三区三线) and land-use parcels with their classification code."""

    __tablename__ = "planning_zones"
    __table_args__ = {"info": {"zh": "规划管控分区", "en": "Planning zones"}}

    code: Mapped[str] = _code("图斑编码", "zone code")
    name: Mapped[str | None] = _text("名称", "name")
    zone_type: Mapped[str | None] = _text("分区类型", "zone type", required=True, codelist="zone_type")
    land_use_code: Mapped[str | None] = _text("用地用海分类代码", "land-use code")
    land_use_name: Mapped[str | None] = _text("用地用海分类名称", "land-use name")
    plan_name: Mapped[str | None] = _text("规划名称", "plan")
    geom: Mapped[object] = _geometry("MULTIPOLYGON")
