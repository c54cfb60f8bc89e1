"""The input file formats, declared once as pydantic models.

These models drive parsing, type coercion, per-field validation and the JSON
Schema printed by ``planner schema`` (for editors). Cross-file checks (unknown
ids, capacities against reservations, route ends...) live in
:mod:`planner.validate`.

Units live in field names: ``_km``, ``_ms``, ``_gbps``, ``_mw``, ``_kw``, ``_usd``.
Periods are numbered 1..N (weeks, by default); a term ``start_week..end_week`` is
inclusive at both ends.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "FILE_MODELS",
    "CatalogueFile",
    "FabricTemplate",
    "Junction",
    "LeaseRow",
    "PodGroup",
    "PodsFile",
    "Pop",
    "PowerWindow",
    "ReservationRow",
    "ScenarioFile",
    "Settings",
    "Site",
    "SitesFile",
    "Sku",
    "Span",
    "TopologyFile",
]

Id = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
          description="Identifier: letters, digits, '_', '.', '-'"),
]
Lat = Annotated[float, Field(ge=-90, le=90, description="Latitude, WGS84 decimal degrees")]
Lon = Annotated[float, Field(ge=-180, le=180, description="Longitude, WGS84 decimal degrees")]
Pos = Annotated[float, Field(gt=0)]
NonNeg = Annotated[float, Field(ge=0)]
PosInt = Annotated[int, Field(gt=0)]
LonLat = tuple[Lon, Lat]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# --------------------------------------------------------------------------- catalogue
class Sku(_Model):
    """A GPU SKU with its all-in server power per GPU."""

    id: Id
    name: str
    tdp_w: Pos = Field(description="GPU thermal design power, W")
    server_kw_per_gpu: Pos = Field(
        description="All-in server (or rack) IT power divided by its GPUs, kW"
    )
    source: str = Field(description="Public source of the power figures")


class CatalogueFile(_Model):
    """``gpu_skus.yaml``: the GPU SKU catalogue."""

    skus: list[Sku]


# --------------------------------------------------------------------------- sites
class PowerWindow(_Model):
    """A change to a site's available power for periods ``start_week..end_week``."""

    start_week: PosInt
    end_week: PosInt
    grid_mw: NonNeg | None = None
    onsite_mw: NonNeg | None = None


class Site(_Model):
    """A campus."""

    id: Id
    name: str
    lat: Lat
    lon: Lon
    state: str = ""
    footprint: list[LonLat] | None = Field(
        default=None, description="Campus outline: a ring of [lon, lat] points"
    )
    grid_mw: NonNeg = Field(description="Grid power available to the campus, MW")
    onsite_mw: NonNeg = Field(default=0.0, description="On-site generation, MW")
    power_windows: list[PowerWindow] = Field(
        default_factory=list, description="Per-period changes to grid/on-site MW"
    )
    pue: float = Field(description="Power usage effectiveness (>= 1)")
    power_price_usd_per_mwh: NonNeg
    region: str = ""
    residency: list[str] = Field(default_factory=list, description="Residency tags, e.g. US")


class SitesFile(_Model):
    """``sites/*.yaml``: the campuses."""

    sites: list[Site]


# --------------------------------------------------------------------------- pods
class FabricTemplate(_Model):
    """A two-tier Clos fabric: leaf and spine switches of one radix."""

    id: Id
    kind: Literal["InfiniBand", "RoCE"]
    switch_radix: PosInt = Field(description="Ports per switch")
    port_gbps: Pos = Field(description="Port (and GPU NIC) speed, Gbps")
    planes: PosInt = Field(
        default=1,
        description="Rail-optimised planes: each GPU's NIC lands in one plane; a pod holds planes x radix^2 / 2 GPUs",
    )
    oversubscription: float = Field(
        description="Pod-to-aggregation oversubscription: uplink Gbps = GPUs x port Gbps / this"
    )


class PodGroup(_Model):
    """One fabric domain, or ``count`` identical ones (ids ``<id>-01``, ``<id>-02``...)."""

    id: Id
    site: Id
    sku: Id
    gpus: PosInt
    fabric: Id
    count: PosInt = 1
    hall: str = ""


class PodsFile(_Model):
    """``sites/*_pods.yaml``: fabric templates and the pods (AI zones) built from them."""

    fabric_templates: list[FabricTemplate]
    pods: list[PodGroup]


# --------------------------------------------------------------------------- topology
class Pop(_Model):
    """A metro exchange point where users' traffic enters."""

    id: Id
    name: str
    lat: Lat
    lon: Lon


class Junction(_Model):
    """A fibre junction or regeneration site along long-haul routes."""

    id: Id
    name: str
    lat: Lat
    lon: Lon


class Span(_Model):
    """A DCI fibre span between two nodes (sites, PoPs or junctions)."""

    id: Id
    a: Id
    b: Id
    waypoints: list[LonLat] = Field(
        default_factory=list, description="Interior route points [lon, lat], a to b"
    )
    fibre_pairs: PosInt
    channels: PosInt = Field(description="Wavelengths per fibre pair")
    channel_gbps: Pos = Field(description="Line rate per wavelength, Gbps")
    amplifier_spacing_km: Pos = 80.0
    srlg: str = Field(description="Shared-risk group: the conduit the span's fibre runs in")
    length_km: Pos | None = Field(
        default=None, description="Fibre length, km, when known (else measured along the route geometry)"
    )
    route_factor: Annotated[float, Field(ge=1)] | None = Field(
        default=None, description="Fibre length / geodesic length of the route geometry (e.g. 1.3 for a span drawn "
        "straight); ignored when length_km is given",
    )
    amplifier_delay_ms: NonNeg | None = None
    terminal_delay_ms: NonNeg | None = None


class TopologyFile(_Model):
    """``topologies/*.yaml``: PoPs, junctions and DCI spans."""

    amplifier_delay_ms: NonNeg = Field(
        default=0.0001, description="Delay per in-line amplifier (EDFA coil), ms"
    )
    terminal_delay_ms: NonNeg = Field(
        default=0.01, description="Delay per span end (transponder DSP + FEC), ms"
    )
    pops: list[Pop]
    junctions: list[Junction] = Field(default_factory=list)
    spans: list[Span]


# --------------------------------------------------------------------------- CSV rows
class ReservationRow(_Model):
    """One row of the internal reservations CSV: GPUs held by internal training."""

    pod: Id | None = Field(default=None, description="Pod id (or leave empty and give site + sku)")
    site: Id | None = Field(default=None, description="Site id, for a site-wide reservation")
    sku: Id | None = Field(default=None, description="SKU, for a site-wide reservation")
    start_week: PosInt
    end_week: PosInt
    gpus: PosInt
    note: str = ""


class LeaseRow(_Model):
    """One row of a lease book: a leased (or internal) GPU workload."""

    id: Id
    tenant: str
    kind: Literal["training", "inference", "fine-tune"]
    priority: Literal["internal", "committed", "spot"]
    sku: Id
    gpus: PosInt = Field(description="GPUs per replica")
    span: Literal["pod", "site"] = "pod"
    replicas: PosInt = 1
    anti_affinity: bool = Field(default=False, description="Replicas on distinct sites")
    egress_gbps: NonNeg = Field(default=0.0, description="Traffic to users, per replica, Gbps")
    region: Id | None = Field(default=None, description="PoP where the users' traffic enters")
    latency_slo_ms: Pos | None = Field(default=None, description="One-way latency SLO to region")
    allowed_sites: list[Id] = Field(default_factory=list, description="';'-separated site ids")
    residency: list[str] = Field(default_factory=list, description="';'-separated tags")
    start_week: PosInt
    end_week: PosInt
    price_usd_per_gpu_hour: NonNeg = 0.0

    @field_validator("allowed_sites", "residency", mode="before")
    @classmethod
    def _split_list(cls, v: object) -> object:
        if v is None:
            return []
        if isinstance(v, str):
            return [s.strip() for s in v.split(";") if s.strip()]
        return v


# --------------------------------------------------------------------------- scenario
class Horizon(_Model):
    """The planning horizon: ``periods`` periods of ``hours_per_period`` hours."""

    periods: PosInt = 52
    hours_per_period: Pos = 168.0
    start_date: str = Field(default="", description="Date of period 1, ISO 8601 (for reports)")


class Settings(_Model):
    """Planning settings."""

    max_link_utilisation: float = Field(default=0.8, gt=0, le=1)
    k_paths: PosInt = Field(default=3, description="Candidate paths per site and region")
    transport_usd_per_gbps_km_week: NonNeg = 0.002
    interpod_gbps_per_gpu: NonNeg = Field(
        default=25.0,
        description="Traffic a site-spanning replica sends between its pods, per GPU, Gbps",
    )
    move_penalty_usd: NonNeg = Field(
        default=1e9,
        description="When re-planning: cost of relocating a lease that could stay where the previous plan put "
        "it. The default makes relocation a last resort.",
    )
    drop_penalty_factor: NonNeg = Field(
        default=100.0,
        description="When re-planning: dropping a lease the previous plan placed costs this many times its revenue, "
        "so a re-plan drops only what it cannot keep, and the least revenue of that.",
    )


class ScenarioFiles(_Model):
    """Paths of the input files, relative to the scenario file."""

    skus: str
    sites: str
    pods: str
    topology: str
    routes: str | None = None
    reservations: str | None = None
    leases: list[str] = Field(description="One or more lease books (CSV)")

    @field_validator("leases", mode="before")
    @classmethod
    def _one_or_many(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v


class ScenarioFile(_Model):
    """A scenario: the input files and settings of one planning run."""

    name: Id
    title: str = ""
    horizon: Horizon = Field(default_factory=Horizon)
    files: ScenarioFiles
    settings: Settings = Field(default_factory=Settings)


FILE_MODELS: dict[str, type[BaseModel]] = {
    "scenario": ScenarioFile,
    "skus": CatalogueFile,
    "sites": SitesFile,
    "pods": PodsFile,
    "topology": TopologyFile,
    "reservations-row": ReservationRow,
    "lease-row": LeaseRow,
}
