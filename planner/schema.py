"""The input file formats, declared once as pydantic models.

These models drive parsing, type coercion, per-field validation and the JSON
Schema printed by ``planner schema`` (for editors). Cross-file checks (unknown
ids, capacities against reservations, route ends...) live in
:mod:`planner.validate`.

Units live in field names: ``_km``, ``_ms``, ``_gbps``, ``_mw``, ``_kw``, ``_usd``.
Periods are numbered 1..N (weeks, by default); a term ``start_week..end_week`` is
inclusive at both ends.

Every number must be finite (no ``.nan`` or ``.inf``) and within the bounds
declared on its field; every text is one line of printable characters. The limits
that keep a careless or hostile file from exhausting time or memory -- file size,
nesting, YAML alias expansion, rows, periods, counts -- are declared here too
(:data:`LIMITS`) and checked before anything is read or allocated.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from planner.ids import ID_PATTERN, MAX_ID_LENGTH

__all__ = [
    "FILE_MODELS",
    "JSON_SCHEMA_DIALECT",
    "LIMITS",
    "MAX_COUNT",
    "MAX_FILE_BYTES",
    "MAX_GPUS",
    "MAX_NESTING",
    "MAX_NUMBER",
    "MAX_PERIODS",
    "MAX_PODS",
    "MAX_POD_PERIODS",
    "MAX_PROBLEMS",
    "MAX_ROWS",
    "MAX_SPAN_KM",
    "MAX_YAML_VALUES",
    "MIN_AMPLIFIER_SPACING_KM",
    "MIN_SPAN_KM",
    "ApiDemandRow",
    "CatalogueFile",
    "FabricTemplate",
    "Junction",
    "LeaseRow",
    "Model",
    "ModelDeployment",
    "ModelsFile",
    "PodGroup",
    "PodsFile",
    "Pop",
    "PowerWindow",
    "RequestRow",
    "ReservationRow",
    "ScenarioFile",
    "Settings",
    "Site",
    "SitesFile",
    "Sku",
    "Span",
    "TopologyFile",
    "WorkloadFields",
]

# --------------------------------------------------------------------------- limits
MAX_FILE_BYTES = 32 * 2**20
"""Largest input file read, bytes (checked before reading; only regular files are read)."""
MAX_NESTING = 64
"""Deepest nesting of mappings and lists in a YAML or JSON file (checked before parsing)."""
MAX_YAML_VALUES = 200_000
"""Most values a YAML file may hold once its aliases are expanded (stops "billion laughs")."""
MAX_ROWS = 100_000
"""Most rows in one CSV file, or features in one GeoJSON file."""
MAX_PERIODS = 1_000
"""Most periods in a horizon (20 years of weeks)."""
MAX_GPUS = 10_000_000
"""Most GPUs in one pod, reservation row or lease replica."""
MAX_COUNT = 10_000
"""Most replicas of one lease, or pods in one pod group."""
MAX_PODS = 100_000
"""Most pods in one scenario, pod groups expanded."""
MAX_POD_PERIODS = 5_000_000
"""Most pods x periods in one scenario (the size of the per-pod, per-period tables)."""
MIN_AMPLIFIER_SPACING_KM = 10.0
"""Shortest in-line amplifier spacing, km (real long-haul spacing is 60-120 km)."""
MAX_SPAN_KM = 20_000.0
"""Longest DCI span route, km (half the Earth's circumference)."""
MIN_SPAN_KM = 0.01
"""Shortest route between two distinct nodes, km: anything shorter is two nodes given one place."""
MAX_PROBLEMS = 1_000
"""Most problems listed per file; one more line says how many were not (a file of garbage is not a DoS)."""
MAX_NUMBER = 1e12
"""Largest magnitude of any number without a tighter bound of its own."""

LIMITS: dict[str, tuple[float, str]] = {
    "MAX_FILE_BYTES": (MAX_FILE_BYTES, "bytes in one input file"),
    "MAX_NESTING": (MAX_NESTING, "levels of nested mappings and lists in a YAML or JSON file"),
    "MAX_YAML_VALUES": (MAX_YAML_VALUES, "values in a YAML file, aliases expanded"),
    "MAX_ROWS": (MAX_ROWS, "rows in a CSV file, features in a GeoJSON file"),
    "MAX_PERIODS": (MAX_PERIODS, "periods in the horizon"),
    "MAX_GPUS": (MAX_GPUS, "GPUs in a pod, a reservation row or a lease replica"),
    "MAX_COUNT": (MAX_COUNT, "replicas of a lease, pods in a pod group"),
    "MAX_PODS": (MAX_PODS, "pods in a scenario, pod groups expanded"),
    "MAX_POD_PERIODS": (MAX_POD_PERIODS, "pods x periods in a scenario"),
    "MIN_AMPLIFIER_SPACING_KM": (MIN_AMPLIFIER_SPACING_KM, "km between in-line amplifiers, at least"),
    "MAX_SPAN_KM": (MAX_SPAN_KM, "km of one span's route"),
    "MIN_SPAN_KM": (MIN_SPAN_KM, "km of a span between distinct nodes, at least"),
    "MAX_PROBLEMS": (MAX_PROBLEMS, "problems listed per file"),
    "MAX_NUMBER": (MAX_NUMBER, "magnitude of any other number"),
}
"""Every limit on input, with what it bounds (``README.md``, Input files, lists them)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ufffe\uffff]")


def _printable(text: str) -> str:
    """Refuse control characters: they break the XML (KML, GraphML) and HTML the planner writes."""
    m = _CONTROL.search(text)
    if m:
        kind, msg = "control_character", "holds a control character (U+{code}) at position {pos}"
        raise PydanticCustomError(kind, msg, {"code": f"{ord(m.group()):04X}", "pos": m.start() + 1})
    return text


Text = Annotated[str, AfterValidator(_printable), Field(max_length=1_000)]
"""Free text (names, tenants, notes): one line of printable characters."""
Id = Annotated[
    str,
    Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN,
          description="Identifier: letters, digits, '_', '.', '-'"),
]
Lat = Annotated[float, Field(ge=-90, le=90, description="Latitude, WGS84 decimal degrees")]
Lon = Annotated[float, Field(ge=-180, le=180, description="Longitude, WGS84 decimal degrees")]
NonNeg = Annotated[float, Field(ge=0, le=MAX_NUMBER)]
Week = Annotated[int, Field(gt=0, le=MAX_PERIODS, description="Period number, 1..periods")]
Gpus = Annotated[int, Field(gt=0, le=MAX_GPUS)]
Count = Annotated[int, Field(gt=0, le=MAX_COUNT)]
LonLat = tuple[Lon, Lat]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)


# --------------------------------------------------------------------------- catalogue
class Sku(_Model):
    """A GPU SKU with its all-in server power per GPU."""

    id: Id
    name: Text
    tdp_w: float = Field(gt=0, le=100_000, description="GPU thermal design power, W")
    server_kw_per_gpu: float = Field(
        gt=0, le=100, description="All-in server (or rack) IT power divided by its GPUs, kW"
    )
    source: Text = Field(description="Public source of the power figures")


class CatalogueFile(_Model):
    """``gpu_skus.yaml``: the GPU SKU catalogue."""

    skus: list[Sku]


# --------------------------------------------------------------------------- sites
class PowerWindow(_Model):
    """A change to a site's available power for periods ``start_week..end_week``."""

    start_week: Week
    end_week: Week
    grid_mw: float | None = Field(default=None, ge=0, le=100_000)
    onsite_mw: float | None = Field(default=None, ge=0, le=100_000)


class Site(_Model):
    """A campus."""

    id: Id
    name: Text
    lat: Lat
    lon: Lon
    state: Text = ""
    footprint: list[LonLat] | None = Field(
        default=None, description="Campus outline: a ring of [lon, lat] points"
    )
    grid_mw: float = Field(ge=0, le=100_000, description="Grid power available to the campus, MW")
    onsite_mw: float = Field(default=0.0, ge=0, le=100_000, description="On-site generation, MW")
    power_windows: list[PowerWindow] = Field(
        default_factory=list, description="Per-period changes to grid/on-site MW"
    )
    pue: float = Field(le=10, description="Power usage effectiveness (>= 1)")
    power_price_usd_per_mwh: float = Field(ge=0, le=100_000)
    region: Text = ""
    residency: list[Text] = Field(default_factory=list, description="Residency tags, e.g. US")


class SitesFile(_Model):
    """``sites/*.yaml``: the campuses."""

    sites: list[Site]


# --------------------------------------------------------------------------- pods
class FabricTemplate(_Model):
    """A two-tier Clos fabric: leaf and spine switches of one radix."""

    id: Id
    kind: Literal["InfiniBand", "RoCE"]
    switch_radix: int = Field(gt=0, le=4_096, description="Ports per switch")
    port_gbps: float = Field(gt=0, le=100_000, description="Port (and GPU NIC) speed, Gbps")
    planes: int = Field(
        default=1, gt=0, le=64,
        description="Rail-optimised planes: each GPU's NIC lands in one plane; a pod holds planes x radix^2 / 2 GPUs",
    )
    oversubscription: float = Field(
        le=1_000, description="Pod-to-aggregation oversubscription: uplink Gbps = GPUs x port Gbps / this"
    )


class PodGroup(_Model):
    """One fabric domain, or ``count`` identical ones (ids ``<id>-01``, ``<id>-02``...)."""

    id: Id
    site: Id
    sku: Id
    gpus: Gpus
    fabric: Id
    count: Count = 1
    hall: Text = Field(
        default="",
        description="The hall (aggregation domain) the pods hang off: an id from `halls` when the file declares "
        "halls; otherwise a free label (pods of one label form one hall with no aggregation limit)",
    )


class Hall(_Model):
    """A hall: the pods one aggregation layer joins, and what that layer carries.

    Traffic between the pods of a replica that spans pods crosses the aggregation
    layer of every hall it touches; ``aggregation_gbps`` is what that layer carries
    for it (its capacity after oversubscription).
    """

    id: Id
    site: Id
    building: Text = Field(default="", description="The building the hall is in (a label, for reports and maps)")
    name: Text = ""
    aggregation_gbps: float = Field(
        gt=0, le=MAX_NUMBER,
        description="Inter-pod traffic the hall's aggregation layer carries, Gbps (after oversubscription)",
    )


class PodsFile(_Model):
    """``sites/*_pods.yaml``: fabric templates, halls and the pods (AI zones) built from them."""

    fabric_templates: list[FabricTemplate]
    halls: list[Hall] = Field(
        default_factory=list,
        description="Aggregation domains; when given, every pod names one of them in `hall`",
    )
    pods: list[PodGroup]


# --------------------------------------------------------------------------- topology
class Pop(_Model):
    """A metro exchange point where users' traffic enters."""

    id: Id
    name: Text
    lat: Lat
    lon: Lon


class Junction(_Model):
    """A fibre junction or regeneration site along long-haul routes."""

    id: Id
    name: Text
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
    fibre_pairs: int = Field(gt=0, le=10_000)
    channels: int = Field(gt=0, le=1_000, description="Wavelengths per fibre pair")
    channel_gbps: float = Field(gt=0, le=100_000, description="Line rate per wavelength, Gbps")
    amplifier_spacing_km: float = Field(default=80.0, ge=MIN_AMPLIFIER_SPACING_KM, le=MAX_SPAN_KM)
    srlg: Text = Field(description="Shared-risk group: the conduit the span's fibre runs in")
    length_km: float | None = Field(
        default=None, gt=0, le=MAX_SPAN_KM,
        description="Fibre length, km, when known (else measured along the route geometry)",
    )
    route_factor: float | None = Field(
        default=None, ge=1, le=10, description="Fibre length / geodesic length of the route geometry (e.g. 1.3 for a "
        "span drawn straight); ignored when length_km is given",
    )
    amplifier_delay_ms: float | None = Field(default=None, ge=0, le=1_000)
    terminal_delay_ms: float | None = Field(default=None, ge=0, le=1_000)


class TopologyFile(_Model):
    """``topologies/*.yaml``: PoPs, junctions and DCI spans."""

    amplifier_delay_ms: float = Field(
        default=0.0001, ge=0, le=1_000, description="Delay per in-line amplifier (EDFA coil), ms"
    )
    terminal_delay_ms: float = Field(
        default=0.01, ge=0, le=1_000, description="Delay per span end (transponder DSP + FEC), ms"
    )
    pops: list[Pop]
    junctions: list[Junction] = Field(default_factory=list)
    spans: list[Span]


# --------------------------------------------------------------------------- CSV rows
class ReservationRow(_Model):
    """One row of the internal reservations CSV: GPUs held by internal work.

    A row names one pod, one hall (every pod of it, whole: a training wave takes
    AI zones), or a site and SKU (a site-wide reservation the planner places).
    """

    pod: Id | None = Field(default=None, description="Pod id (or leave empty and give a hall, or site + sku)")
    hall: Id | None = Field(default=None, description="Hall id: every pod of the hall, whole")
    site: Id | None = Field(default=None, description="Site id, for a site-wide reservation")
    sku: Id | None = Field(default=None, description="SKU, for a site-wide reservation")
    start_week: Week
    end_week: Week
    gpus: Gpus | None = Field(
        default=None,
        description="GPUs held; empty for the whole pod (or every pod of the hall); required for site + sku",
    )
    may_start_early_weeks: int | None = Field(
        default=None, ge=0, le=MAX_PERIODS,
        description="Upside: the work may start this many weeks before start_week (empty: it will not)",
    )
    may_grow_gpus: int | None = Field(
        default=None, ge=0, le=MAX_GPUS,
        description="Upside: the work may hold this many more GPUs per pod, from its (earliest) start to end_week, "
        "up to the pod's size (empty: it will not)",
    )
    upside_probability: float | None = Field(
        default=None, gt=0, le=1, validate_default=True,
        description="Chance that the upside (may_start_early_weeks and may_grow_gpus together) happens; "
        "required with either, rows independent",
    )
    note: Text = ""

    @field_validator("upside_probability")
    @classmethod
    def _upside(cls, v: float | None, info: ValidationInfo) -> float | None:
        d = info.data
        upside = bool(d.get("may_start_early_weeks")) or bool(d.get("may_grow_gpus"))
        if upside and v is None:
            kind = "upside_probability_missing"
            msg = "is empty but the row has an upside (may_start_early_weeks or may_grow_gpus): give its chance, 0-1"
            raise PydanticCustomError(kind, msg)
        if upside and d.get("pod") is None and d.get("hall") is None:
            kind, msg = "upside_site_wide", "a site-wide reservation (site + sku) has no upside: name a pod or a hall"
            raise PydanticCustomError(kind, msg)
        if v is not None and not upside and {"may_start_early_weeks", "may_grow_gpus"} <= d.keys():
            kind = "upside_probability_alone"
            msg = "is given but the row has no upside: set may_start_early_weeks or may_grow_gpus, or leave it empty"
            raise PydanticCustomError(kind, msg)
        return v


class WorkloadFields(_Model):
    """The fields a lease and a quote request share: who, what, how it may be split, where its users are."""

    id: Id
    tenant: Text
    kind: Literal["training", "inference", "fine-tune"]
    sku: Id
    gpus: Gpus = Field(description="GPUs per replica")
    span: Literal["pod", "hall", "site"] = Field(
        default="pod",
        description="The smallest domain the job tolerates: one pod, pods of one hall, or pods of one site",
    )
    replicas: Count = 1
    anti_affinity: bool = Field(default=False, description="Replicas on distinct sites")
    egress_gbps: float = Field(default=0.0, ge=0, le=1_000_000, description="Traffic to users, per replica, Gbps")
    region: Id | None = Field(default=None, description="PoP where the users' traffic enters")
    latency_slo_ms: float | None = Field(default=None, gt=0, le=100_000,
                                         description="One-way latency SLO to region")
    allowed_sites: list[Id] = Field(default_factory=list, description="';'-separated site ids")
    residency: list[Text] = Field(default_factory=list, description="';'-separated tags")

    @field_validator("allowed_sites", "residency", mode="before")
    @classmethod
    def _split_list(cls, v: object) -> object:
        if v is None:
            return []
        if isinstance(v, str):
            return [s.strip() for s in v.split(";") if s.strip()]
        return v


class LeaseRow(WorkloadFields):
    """One row of a lease book: a leased (or internal) GPU workload."""

    priority: Literal["internal", "committed", "spot"]
    start_week: Week
    end_week: Week
    latest_start: Week | None = Field(
        default=None,
        description="Last week the lease may start (empty: it starts at start_week). With it, the lease may "
        "start in any week start_week..latest_start and runs end_week - start_week + 1 weeks; the optimiser "
        "chooses the start",
    )
    price_usd_per_gpu_hour: float = Field(default=0.0, ge=0, le=10_000)


class RequestRow(WorkloadFields):
    """One row of a requests CSV: a customer's request to quote (``planner quote``).

    The lease's fields (as in :class:`LeaseRow`, without priority and term) and a
    start window: the lease may start in any week ``earliest_start..latest_start``
    and runs ``duration_weeks`` weeks. ``price_usd_per_gpu_hour`` is the price
    offered, if any (the quote then says accept or decline).
    """

    earliest_start: Week = Field(description="First week the lease may start")
    latest_start: Week = Field(description="Last week the lease may start")
    duration_weeks: Annotated[int, Field(gt=0, le=MAX_PERIODS, description="Weeks the lease runs")]
    price_usd_per_gpu_hour: float | None = Field(
        default=None, ge=0, le=10_000, description="Price offered, USD per GPU-hour (empty: none offered)")


# --------------------------------------------------------------------------- hosted-model APIs
class ModelDeployment(_Model):
    """How one model runs on one GPU SKU: GPUs per replica and one replica's throughput."""

    sku: Id = Field(description="The GPU SKU (an id of the SKU catalogue)")
    gpus_per_replica: Gpus = Field(
        description="GPUs one replica takes (its tensor-parallel size); at most the smallest pod of the SKU",
    )
    tokens_per_s: float = Field(
        gt=0, le=MAX_NUMBER,
        description="Output tokens per second one replica serves at the model's latency target",
    )
    source: Text = Field(default="", description="Public source of the throughput figure, or how it is derived")


class Model(_Model):
    """A model the operator serves as a hosted API, and the SKUs it runs on."""

    id: Id
    name: Text
    replica_start_usd: NonNeg = Field(
        description="Cost of starting (or moving) one replica: loading its weights, warming it up, USD",
    )
    source: Text = Field(default="", description="Public source of the model (weights, card)")
    deployments: list[ModelDeployment] = Field(
        min_length=1, max_length=1_000, description="The SKUs the model runs on, one entry per SKU",
    )


class ModelsFile(_Model):
    """``models.yaml``: the model catalogue of the hosted-model APIs."""

    models: list[Model]


class ApiDemandRow(_Model):
    """One row of an API demand book: the token demand of one model at one PoP over a run of weeks.

    Demand that changes over the year is several rows (one per quarter, say). Tokens
    are output tokens; ``price_usd_per_mtok`` is what a million of them earn.
    """

    id: Id = Field(description="The demand stream, unique across all API demand books")
    model: Id = Field(description="A model id of the model catalogue")
    region: Id = Field(description="The PoP where the users' traffic enters")
    start_week: Week
    end_week: Week
    peak_tokens_per_s: float = Field(gt=0, le=MAX_NUMBER, description="Peak demand, output tokens per second")
    avg_tokens_per_s: float | None = Field(
        default=None, gt=0, le=MAX_NUMBER,
        description="Average demand, output tokens per second, at most the peak (empty: the peak)",
    )
    price_usd_per_mtok: float = Field(ge=0, le=1_000_000, description="Price per million output tokens, USD")
    network_budget_ms: float = Field(
        gt=0, le=100_000,
        description="The network's share of the latency target, one-way ms (compared with a path's latency "
        "as a lease's latency_slo_ms is)",
    )
    bytes_in_per_token: NonNeg = Field(description="Bytes on the wire towards the model per output token")
    bytes_out_per_token: NonNeg = Field(description="Bytes on the wire towards the users per output token")

    @field_validator("avg_tokens_per_s")
    @classmethod
    def _avg(cls, v: float | None, info: ValidationInfo) -> float | None:
        peak = info.data.get("peak_tokens_per_s")
        if v is not None and peak is not None and v > peak:
            kind, msg = "avg_above_peak", "is above peak_tokens_per_s ({peak})"
            raise PydanticCustomError(kind, msg, {"peak": f"{peak:g}"})
        return v


# --------------------------------------------------------------------------- scenario
class Horizon(_Model):
    """The planning horizon: ``periods`` periods of ``hours_per_period`` hours."""

    periods: int = Field(default=52, gt=0, le=MAX_PERIODS)
    hours_per_period: float = Field(default=168.0, gt=0, le=8_784)
    start_date: Text = Field(default="", description="Date of period 1, ISO 8601 (for reports)")


class Settings(_Model):
    """Planning settings."""

    max_link_utilisation: float = Field(default=0.8, gt=0, le=1)
    k_paths: int = Field(default=3, gt=0, le=100, description="Candidate paths per site and region")
    transport_usd_per_gbps_km_week: NonNeg = 0.002
    interpod_gbps_per_gpu: NonNeg = Field(
        default=25.0,
        description="Traffic a site-spanning replica sends between its pods, per GPU, Gbps",
    )
    min_route_factor: float = Field(
        default=1.05, ge=1, le=10,
        description="A span whose fibre length is below this many times the great circle between its ends is "
        "flagged (a warning): long-haul fibre follows roads and rail, ~1.2-1.5x the great circle",
    )
    srlg_separation_km: float = Field(
        default=1.0, gt=0, le=100,
        description="Spans of different shared-risk groups closer than this to each other, for longer than "
        "srlg_parallel_km, are flagged (a warning): one dig may cut both",
    )
    srlg_parallel_km: float = Field(
        default=5.0, gt=0, le=MAX_SPAN_KM,
        description="How far spans of different shared-risk groups may run within srlg_separation_km of each "
        "other before they are flagged (leaving a shared node side by side is normal for a short way)",
    )
    move_penalty_usd: NonNeg = Field(
        default=1e9,
        description="When re-planning: cost of relocating a lease that could stay where the previous plan put "
        "it. The default makes relocation a last resort.",
    )
    spot_refund_factor: float = Field(
        default=1.0, ge=0, le=10,
        description="Share of a spot lease's revenue for the weeks internal work pre-empts it that is refunded: "
        "1 = the tenant pays only for weeks served; above 1 adds a penalty",
    )
    drop_penalty_factor: NonNeg = Field(
        default=100.0,
        description="When re-planning: dropping a lease the previous plan placed costs this many times its revenue, "
        "so a re-plan drops only what it cannot keep, and the least revenue of that.",
    )


class ScenarioFiles(_Model):
    """Paths of the input files, relative to the scenario file."""

    skus: Text
    sites: Text
    pods: Text
    topology: Text
    routes: Text | None = None
    reservations: Text | None = None
    leases: list[Text] = Field(min_length=1, max_length=100, description="One or more lease books (CSV)")
    models: Text | None = Field(default=None, description="The model catalogue of the hosted-model APIs (YAML)")
    api_demand: list[Text] = Field(
        default_factory=list, max_length=100,
        description="One or more API demand books (CSV); they need `models`. Empty: no APIs",
    )

    @field_validator("leases", "api_demand", mode="before")
    @classmethod
    def _one_or_many(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v

    def named(self) -> list[tuple[str, str]]:
        """The files named, as ``(role, path as written)``: the keys above, ``leases[i]`` and ``api_demand[i]``.

        Examples
        --------
        >>> f = ScenarioFiles(skus="k.yaml", sites="s.yaml", pods="p.yaml", topology="t.yaml", leases="l.csv")
        >>> [role for role, _ in f.named()]
        ['skus', 'sites', 'pods', 'topology', 'leases[0]']
        """
        single = [("skus", self.skus), ("sites", self.sites), ("pods", self.pods), ("topology", self.topology),
                  ("routes", self.routes), ("reservations", self.reservations)]
        return ([(role, rel) for role, rel in single if rel is not None]
                + [(f"leases[{i}]", rel) for i, rel in enumerate(self.leases)]
                + ([("models", self.models)] if self.models is not None else [])
                + [(f"api_demand[{i}]", rel) for i, rel in enumerate(self.api_demand)])


class ScenarioFile(_Model):
    """A scenario: the input files and settings of one planning run."""

    name: Id
    title: Text = ""
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
    "request-row": RequestRow,
    "models": ModelsFile,
    "api-demand-row": ApiDemandRow,
}


JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""The JSON Schema dialect :func:`json_schema` declares."""


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of one file kind of :data:`FILE_MODELS`, for editors and other tools.

    CSV files (leases, reservations, API demand) are described row by row.

    Raises
    ------
    KeyError
        On a kind that is not in :data:`FILE_MODELS`.

    Examples
    --------
    >>> s = json_schema("lease-row")
    >>> s["title"], "gpus" in s["properties"], s["$schema"] == JSON_SCHEMA_DIALECT
    ('LeaseRow', True, True)
    """
    return {"$schema": JSON_SCHEMA_DIALECT, **FILE_MODELS[kind].model_json_schema()}
