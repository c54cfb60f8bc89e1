"""The Scenario: every input of a planning run as typed, id-keyed pandas tables.

``load_scenario`` reads a scenario file and the files it names, validates them
(every problem at once, raising :class:`~planner.errors.ScenarioError`) and
returns a :class:`Scenario`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import shapely
import shapely.errors
from pydantic import BaseModel
from shapely.geometry import LineString, Polygon, shape

from planner import physics
from planner.apis import api_tables
from planner.errors import Problem, ScenarioError
from planner.geo import geodesic_length_km, great_circle_km
from planner.ids import pod_ids
from planner.readers import capped, json_too_deep, read_csv_rows, read_text, read_yaml_model
from planner.schema import (
    MAX_ROWS,
    ApiDemandRow,
    CatalogueFile,
    Horizon,
    LeaseRow,
    ModelsFile,
    PodsFile,
    ReservationRow,
    ScenarioFile,
    Settings,
    SitesFile,
    TopologyFile,
)
from planner.validate import Inputs, check_inputs

__all__ = ["Scenario", "default_scenario_path", "load_scenario"]

REFERENCE = Path("scenarios") / "reference.yaml"


def default_scenario_path() -> Path:
    """The bundled reference scenario: ``scenarios/reference.yaml`` here or in the source tree."""
    here = Path.cwd() / REFERENCE
    if here.exists():
        return here
    return Path(__file__).resolve().parents[1] / REFERENCE


@dataclass
class Scenario:
    """All inputs of one planning run, as tables keyed by domain ids.

    Attributes
    ----------
    sites : DataFrame indexed by ``site``
        name, lat, lon, state, pue, power_price_usd_per_mwh, region, residency, footprint.
    site_power_mw : DataFrame, sites x weeks
        Power available to each campus in each week (grid + on-site), MW.
    skus : DataFrame indexed by ``sku``
    fabrics : DataFrame indexed by ``fabric``
    pods : DataFrame indexed by ``pod``
        site, sku, gpus, fabric, fabric_kind, hall, uplink_gbps.
    halls : DataFrame indexed by ``hall``
        site, building, name, aggregation_gbps (``inf`` where no aggregation layer is
        modelled), modelled, pods, gpus, uplink_gbps (the sum of its pods' uplinks).
    reserved_gpus : DataFrame, pods x weeks
        GPUs held by internal training reservations.
    pops, junctions : DataFrame indexed by id (name, lat, lon)
    spans : DataFrame indexed by ``span``
        a, b, capacity_gbps, srlg, length_km, great_circle_km, route_factor,
        n_amplifiers, latency_ms, geometry (shapely LineString, lon/lat).
    workloads : DataFrame indexed by ``lease``
        One row per lease or internal workload, as in the lease books; ``latest_start``
        is the last week the term may start (``start_week`` for a fixed term).
    api_models : DataFrame indexed by ``(model, sku)``
        The hosted-model catalogue: name, gpus_per_replica, tokens_per_s (one replica),
        replica_start_usd, source; empty when the scenario has no APIs.
    api_demand : DataFrame indexed by ``stream``
        The API demand streams: model, region, start_week, end_week, peak_tokens_per_s,
        avg_tokens_per_s, price_usd_per_mtok, network_budget_ms, bytes_in_per_token,
        bytes_out_per_token; empty when the scenario has no APIs.
    """

    name: str
    title: str
    horizon: Horizon
    settings: Settings
    sites: pd.DataFrame
    site_power_mw: pd.DataFrame
    skus: pd.DataFrame
    fabrics: pd.DataFrame
    pods: pd.DataFrame
    halls: pd.DataFrame
    reserved_gpus: pd.DataFrame
    pops: pd.DataFrame
    junctions: pd.DataFrame
    spans: pd.DataFrame
    workloads: pd.DataFrame
    path: Path | None = None
    warnings: list[Problem] = field(default_factory=list)
    input_files: dict[str, Path] = field(default_factory=dict)
    """The files read, by role (``scenario``, ``sites``, ``leases[0]``...), as absolute paths."""
    upside_gpus: pd.DataFrame | None = None
    """Pods x weeks: the GPUs internal work takes beyond ``reserved_gpus`` if every upside of the
    reservations happens (the worst case); ``None`` when no reservation has an upside."""
    upside_chance: pd.DataFrame | None = None
    """Pods x weeks: the chance that some upside takes GPUs of the pod in the week (rows independent)."""
    api_models: pd.DataFrame = field(default_factory=lambda: api_tables(None, [])[0])
    """The hosted-model catalogue (see the class docstring); dtypes in :data:`planner.apis.API_MODEL_COLUMNS`."""
    api_demand: pd.DataFrame = field(default_factory=lambda: api_tables(None, [])[1])
    """The API demand streams (weeks 1-based, inclusive; ``avg_tokens_per_s`` the peak where the book leaves it
    empty); dtypes in :data:`planner.apis.API_DEMAND_COLUMNS`."""
    api_sources: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Where each API demand stream was read: ``stream -> (file, "line N (stream S)")``."""

    @property
    def weeks(self) -> pd.Index:
        """The periods of the horizon, 1..N."""
        return pd.RangeIndex(1, self.horizon.periods + 1, name="week")

    def free_gpus(self) -> pd.DataFrame:
        """GPUs per pod and week not held by internal reservations."""
        return self.reserved_gpus.rsub(self.pods["gpus"], axis=0)

    def worst_free_gpus(self) -> pd.DataFrame:
        """GPUs per pod and week that internal work leaves free even if every upside happens (the worst case)."""
        free = self.free_gpus()
        if self.upside_gpus is None:
            return free
        up = self.upside_gpus.reindex(index=free.index, columns=free.columns, fill_value=0)
        return free - np.minimum(up, free.clip(lower=0))

    def preemption_chance(self) -> pd.DataFrame:
        """Pods x weeks: the chance internal work takes back the pod's spot capacity in the week.

        A spot lease's GPUs in a pod are pre-empted in every week an upside of internal
        work takes GPUs of that pod; 0 everywhere without upside.
        """
        zero = pd.DataFrame(0.0, index=self.pods.index, columns=self.weeks)
        if self.upside_chance is None:
            return zero
        return self.upside_chance.reindex(index=zero.index, columns=zero.columns, fill_value=0.0)

    def summary(self) -> pd.DataFrame:
        """One row per site: pods, GPUs by SKU, power and PUE."""
        gpus = self.pods.pivot_table(index="site", columns="sku", values="gpus", aggfunc="sum", fill_value=0)
        it_mw = (self.pods["gpus"] * self.pods["sku"].map(self.skus["server_kw_per_gpu"])).groupby(
            self.pods["site"]).sum() / 1000
        out = pd.DataFrame({
            "name": self.sites["name"],
            "pods": self.pods.groupby("site").size(),
            "gpus": self.pods.groupby("site")["gpus"].sum(),
        })
        out = out.join(gpus.add_prefix("gpus_"))
        out["it_mw"] = it_mw
        out["facility_mw"] = it_mw * self.sites["pue"]
        out["available_mw_min"] = self.site_power_mw.min(axis=1)
        out["available_mw_max"] = self.site_power_mw.max(axis=1)
        out["pue"] = self.sites["pue"]
        return out.fillna(0)

    def __repr__(self) -> str:
        return (f"Scenario({self.name!r}: {len(self.sites)} sites, {len(self.pods)} pods, "
                f"{int(self.pods['gpus'].sum()):,} GPUs, {len(self.spans)} spans, {len(self.pops)} PoPs, "
                f"{len(self.workloads)} workloads over {self.horizon.periods} weeks)")

    def _repr_html_(self) -> str:
        head = f"<p><b>Scenario {self.name}</b> — {self.title}</p><p>{self!r}</p>"
        return head + self.summary().to_html(float_format=lambda x: f"{x:,.1f}")


# --------------------------------------------------------------------------- loading
def _resolved(path: Path) -> Path:
    """``path`` made absolute, links followed where they can be (a link loop is reported when read)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a loop of symbolic links
        return path.absolute()


def _display(path: Path) -> str:
    try:
        return str(_resolved(path).relative_to(_resolved(Path.cwd())))
    except ValueError:
        return str(path)


Row = TypeVar("Row", bound=BaseModel)


def _book_rows(path: Path, model: type[Row], kind: str, problems: list[Problem]) -> list[tuple[str, int, Row]]:
    """One CSV book's rows as (file as shown, line, row); its problems are added to ``problems``."""
    shown = _display(path)
    rows, pr = read_csv_rows(path, model, kind, shown)
    problems += pr
    return [(shown, n, r) for n, r in rows]


def _read_routes(path: Path, display: str) -> tuple[dict[str, tuple[LineString, str]], list[Problem]]:
    """Read span routes drawn in a GIS tool: a GeoJSON FeatureCollection of LineStrings."""
    text, problems = read_text(path, display)
    if text is None:
        return {}, problems
    deep = json_too_deep(text, display)
    if deep is not None:
        return {}, [deep]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return {}, [Problem(display, f"line {exc.lineno}, column {exc.colno}", "", "", f"malformed JSON: {exc.msg}",
                            "fix the JSON syntax")]
    out: dict[str, tuple[LineString, str]] = {}
    feats = data.get("features") if isinstance(data, dict) else None
    if not isinstance(feats, list):
        return {}, [Problem(display, "", "features", "", "not a GeoJSON FeatureCollection",
                            "export the routes layer as GeoJSON (FeatureCollection)")]
    if len(feats) > MAX_ROWS:
        return {}, [Problem(display, "", "features", f"{len(feats):,} features", f"more than {MAX_ROWS:,} features",
                            "keep one route per span")]
    for i, f in enumerate(feats):
        props = f.get("properties") if isinstance(f, dict) else None
        props = props if isinstance(props, dict) else {}
        sid = props.get("span") or props.get("id")
        where = f"feature {i}" + (f" (span {sid})" if sid else "")
        if not sid:
            problems.append(Problem(display, where, "span", "", "the feature names no span",
                                    "add a 'span' property with the span id"))
            continue
        try:
            geom = shapely.force_2d(shape(f["geometry"]))
        except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.ShapelyError) as exc:
            problems.append(Problem(display, where, "geometry", "", f"unreadable geometry ({str(exc).strip()})",
                                    "draw the route as a LineString of [lon, lat] points"))
            continue
        if not isinstance(geom, LineString) or geom.is_empty:
            problems.append(Problem(display, where, "geometry", geom.geom_type, "the route is not a LineString",
                                    "draw the route as a single LineString from endpoint a to endpoint b"))
            continue
        bad = [(x, y) for x, y in geom.coords if not (-180 <= x <= 180 and -90 <= y <= 90)]
        if bad:
            problems.append(Problem(display, where, "geometry", f"({bad[0][0]:g}, {bad[0][1]:g})",
                                    "a point is outside lon -180..180, lat -90..90",
                                    "use WGS84 [lon, lat] in decimal degrees (EPSG:4326), longitude first"))
            continue
        if str(sid) in out:
            problems.append(Problem(display, where, "span", repr(str(sid)),
                                    f"a second route for span {sid} (first at {out[str(sid)][1]})",
                                    "keep one route per span"))
            continue
        out[str(sid)] = (geom, where)
    return out, problems


def _read_inputs(path: Path) -> tuple[Inputs | None, list[Problem]]:
    disp = _display(path)
    sc, sc_pos, problems = read_yaml_model(path, ScenarioFile, "scenario", disp)
    if sc is None:
        return None, problems
    base = path.parent

    def p(rel: str) -> Path:
        return _resolved(base / rel) if not Path(rel).is_absolute() else Path(rel)

    skus, skus_pos, pr = read_yaml_model(p(sc.files.skus), CatalogueFile, "skus", _display(p(sc.files.skus)))
    problems += pr
    sites, sites_pos, pr = read_yaml_model(p(sc.files.sites), SitesFile, "sites", _display(p(sc.files.sites)))
    problems += pr
    pods, pods_pos, pr = read_yaml_model(p(sc.files.pods), PodsFile, "pods", _display(p(sc.files.pods)))
    problems += pr
    topo, topo_pos, pr = read_yaml_model(p(sc.files.topology), TopologyFile, "topology",
                                         _display(p(sc.files.topology)))
    problems += pr
    routes: dict[str, tuple[LineString, str]] = {}
    routes_file = ""
    if sc.files.routes:
        routes_file = _display(p(sc.files.routes))
        routes, pr = _read_routes(p(sc.files.routes), routes_file)
        problems += pr
    reservations: list[tuple[int, ReservationRow]] = []
    res_file = ""
    if sc.files.reservations:
        res_file = _display(p(sc.files.reservations))
        reservations, pr = read_csv_rows(p(sc.files.reservations), ReservationRow, "reservations-row", res_file)
        problems += pr
    leases: list[tuple[str, int, LeaseRow]] = []
    for rel in sc.files.leases:
        leases += _book_rows(p(rel), LeaseRow, "lease-row", problems)
    models: ModelsFile | None = None
    models_pos = None
    if sc.files.models is not None:
        models, models_pos, pr = read_yaml_model(p(sc.files.models), ModelsFile, "models",
                                                 _display(p(sc.files.models)))
        problems += pr
    api_demand: list[tuple[str, int, ApiDemandRow]] = []
    for rel in sc.files.api_demand:
        api_demand += _book_rows(p(rel), ApiDemandRow, "api-demand-row", problems)
    if skus is None or sites is None or pods is None or topo is None or (sc.files.models and models is None):
        return None, problems
    return Inputs(sc, sc_pos, skus, skus_pos, sites, sites_pos, pods, pods_pos, topo, topo_pos, routes,
                  routes_file, reservations, res_file, leases, models, models_pos, api_demand), problems


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Read, validate and assemble a scenario.

    Parameters
    ----------
    path
        The scenario YAML file; the bundled reference scenario when omitted.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        Listing every problem in every file (file, line, field, value, fix).

    Examples
    --------
    >>> sc = load_scenario()
    >>> sc.sites.loc["OH-NAL", "name"]
    'New Albany, Ohio'
    """
    path = Path(path) if path is not None else default_scenario_path()
    if not os.path.lexists(path):
        raise ScenarioError([Problem(str(path), "", "", "", "scenario file not found",
                                     "give the path of a scenario YAML file (e.g. scenarios/reference.yaml)")])
    inp, problems = _read_inputs(path)
    if inp is not None:
        problems += check_inputs(inp)
    if inp is None or any(p.severity == "error" for p in problems):
        raise ScenarioError(capped(problems))
    sc = _assemble(inp)
    sc.path = path
    sc.api_sources = {r.id: (f, f"line {n} (stream {r.id})") for f, n, r in inp.api_demand}
    sc.warnings = [p for p in problems if p.severity == "warning"]
    sc.input_files = _input_files(path, inp.scenario)
    return sc


def _input_files(path: Path, sc: ScenarioFile) -> dict[str, Path]:
    """The files a scenario file names, by role, as absolute paths (the scenario file first)."""
    return {"scenario": _resolved(path), **{role: _resolved(path.parent / rel) for role, rel in sc.files.named()}}


def _halls(pf: PodsFile, pods: pd.DataFrame) -> pd.DataFrame:
    """The halls: declared ones with their aggregation capacity, else one per pod label with none.

    A hall the pods file does not declare (pods files without ``halls``) has no
    aggregation limit: ``aggregation_gbps`` is ``inf`` and ``modelled`` is False.
    """
    declared = {h.id: h for h in pf.halls}
    rows = []
    for hall, grp in pods.groupby("hall", sort=False):
        h = declared.get(str(hall))
        rows.append({
            "hall": hall, "site": grp["site"].iat[0], "building": h.building if h else "",
            "name": (h.name or h.id) if h else str(hall),
            "aggregation_gbps": h.aggregation_gbps if h else math.inf, "modelled": h is not None,
            "pods": len(grp), "gpus": int(grp["gpus"].sum()),
            "uplink_gbps": float(grp["uplink_gbps"].sum()),
        })
    cols = ["hall", "site", "building", "name", "aggregation_gbps", "modelled", "pods", "gpus", "uplink_gbps"]
    return pd.DataFrame(rows, columns=cols).set_index("hall")


def _assemble(inp: Inputs) -> Scenario:
    sc = inp.scenario
    periods = sc.horizon.periods
    weeks = pd.RangeIndex(1, periods + 1, name="week")

    sites = pd.DataFrame([{
        "site": s.id, "name": s.name, "lat": s.lat, "lon": s.lon, "state": s.state,
        "grid_mw": s.grid_mw, "onsite_mw": s.onsite_mw, "pue": s.pue,
        "power_price_usd_per_mwh": s.power_price_usd_per_mwh, "region": s.region,
        "residency": tuple(s.residency),
        "footprint": Polygon(s.footprint) if s.footprint else None,
    } for s in inp.sites.sites]).set_index("site")
    power = {}
    for s in inp.sites.sites:
        grid = np.full(periods, s.grid_mw)
        onsite = np.full(periods, s.onsite_mw)
        for w in s.power_windows:
            if w.grid_mw is not None:
                grid[w.start_week - 1 : w.end_week] = w.grid_mw
            if w.onsite_mw is not None:
                onsite[w.start_week - 1 : w.end_week] = w.onsite_mw
        power[s.id] = grid + onsite
    site_power = pd.DataFrame(power, index=weeks).T
    site_power.index.name = "site"

    skus = pd.DataFrame([s.model_dump() for s in inp.skus.skus]).set_index("id")
    skus.index.name = "sku"
    fabrics = pd.DataFrame([f.model_dump() for f in inp.pods.fabric_templates]).set_index("id")
    fabrics.index.name = "fabric"
    fabrics["max_gpus"] = fabrics["planes"] * fabrics["switch_radix"] ** 2 // 2

    pod_rows = []
    for g in inp.pods.pods:
        fab = fabrics.loc[g.fabric]
        uplink = g.gpus * fab["port_gbps"] / fab["oversubscription"]
        for pid in pod_ids(g.id, g.count):
            pod_rows.append({"pod": pid, "site": g.site, "sku": g.sku, "gpus": g.gpus, "fabric": g.fabric,
                             "fabric_kind": fab["kind"], "hall": g.hall or g.id, "uplink_gbps": float(uplink)})
    pods = pd.DataFrame(pod_rows).set_index("pod")
    halls = _halls(inp.pods, pods)

    reserved = np.zeros((len(pods), periods), dtype=np.int64)
    pod_pos = {p: i for i, p in enumerate(pods.index)}
    site_wide: list[dict[str, object]] = []
    for line, r in inp.reservations:
        if r.pod is not None or r.hall is not None:
            held = [r.pod] if r.pod is not None else list(pods.index[pods["hall"] == r.hall])
            for pid in held:
                gpus = r.gpus if r.gpus is not None else int(pods.at[pid, "gpus"])
                reserved[pod_pos[pid], r.start_week - 1 : r.end_week] += gpus
        else:
            site_wide.append({
                "lease": f"reservation-{r.site}-{r.sku}-L{line}", "tenant": "internal", "kind": "training",
                "priority": "internal", "sku": r.sku, "gpus": r.gpus, "span": "site", "replicas": 1,
                "anti_affinity": False, "egress_gbps": 0.0, "region": None, "latency_slo_ms": np.nan,
                "allowed_sites": (r.site,), "residency": (), "start_week": r.start_week, "end_week": r.end_week,
                "price_usd_per_gpu_hour": 0.0, "source": f"{inp.reservations_file}:{line}",
            })
    reserved_gpus = pd.DataFrame(reserved, index=pods.index, columns=weeks)
    upside_gpus, upside_chance = _upside(inp, pods, reserved)

    def points(items: list, idx: str) -> pd.DataFrame:
        df = pd.DataFrame([{"id": x.id, "name": x.name, "lat": x.lat, "lon": x.lon} for x in items],
                          columns=["id", "name", "lat", "lon"]).set_index("id")
        df.index.name = idx
        return df

    pops = points(inp.topology.pops, "pop")
    junctions = points(inp.topology.junctions, "junction")
    xy = {**{k: (r.lon, r.lat) for k, r in sites.iterrows()}, **{k: (r.lon, r.lat) for k, r in pops.iterrows()},
          **{k: (r.lon, r.lat) for k, r in junctions.iterrows()}}
    topo = inp.topology
    span_rows = []
    for sp in topo.spans:
        line = inp.routes[sp.id][0] if sp.id in inp.routes else LineString([xy[sp.a], *sp.waypoints, xy[sp.b]])
        length = sp.length_km if sp.length_km is not None else geodesic_length_km(line) * (sp.route_factor or 1.0)
        gc = great_circle_km(xy[sp.a][1], xy[sp.a][0], xy[sp.b][1], xy[sp.b][0])
        n_amp = max(math.ceil(length / sp.amplifier_spacing_km) - 1, 0)
        amp_ms = topo.amplifier_delay_ms if sp.amplifier_delay_ms is None else sp.amplifier_delay_ms
        term_ms = topo.terminal_delay_ms if sp.terminal_delay_ms is None else sp.terminal_delay_ms
        span_rows.append({
            "span": sp.id, "a": sp.a, "b": sp.b, "fibre_pairs": sp.fibre_pairs, "channels": sp.channels,
            "channel_gbps": sp.channel_gbps, "capacity_gbps": float(sp.fibre_pairs * sp.channels * sp.channel_gbps),
            "srlg": sp.srlg, "length_km": length, "great_circle_km": gc,
            "route_factor": length / gc if gc > 0 else np.nan, "amplifier_spacing_km": sp.amplifier_spacing_km,
            "n_amplifiers": n_amp,
            "latency_ms": physics.span_latency_ms(length, n_amp, amp_ms, term_ms),
            "geometry": line,
        })
    spans = pd.DataFrame(span_rows).set_index("span")

    wl = [{
        "lease": r.id, "tenant": r.tenant, "kind": r.kind, "priority": r.priority, "sku": r.sku, "gpus": r.gpus,
        "span": r.span, "replicas": r.replicas, "anti_affinity": r.anti_affinity, "egress_gbps": r.egress_gbps,
        "region": r.region, "latency_slo_ms": r.latency_slo_ms if r.latency_slo_ms is not None else np.nan,
        "allowed_sites": tuple(r.allowed_sites), "residency": tuple(r.residency), "start_week": r.start_week,
        "end_week": r.end_week, "price_usd_per_gpu_hour": r.price_usd_per_gpu_hour, "source": f"{f}:{n}",
        "latest_start": r.start_week if r.latest_start is None else max(r.latest_start, r.start_week),
    } for f, n, r in inp.leases] + [{**w, "latest_start": w["start_week"]} for w in site_wide]
    workloads = pd.DataFrame(wl, columns=[
        "lease", "tenant", "kind", "priority", "sku", "gpus", "span", "replicas", "anti_affinity", "egress_gbps",
        "region", "latency_slo_ms", "allowed_sites", "residency", "start_week", "end_week",
        "price_usd_per_gpu_hour", "source", "latest_start"]).set_index("lease")
    workloads["weeks"] = workloads["end_week"] - workloads["start_week"] + 1
    workloads["revenue_usd"] = (workloads["price_usd_per_gpu_hour"] * workloads["gpus"] * workloads["replicas"]
                                * workloads["weeks"] * sc.horizon.hours_per_period)
    api_models, api_demand = api_tables(inp.models, [r for _, _, r in inp.api_demand])
    return Scenario(name=sc.name, title=sc.title, horizon=sc.horizon, settings=sc.settings, sites=sites,
                    site_power_mw=site_power, skus=skus, fabrics=fabrics, pods=pods, halls=halls,
                    reserved_gpus=reserved_gpus,
                    pops=pops, junctions=junctions, spans=spans, workloads=workloads,
                    upside_gpus=upside_gpus, upside_chance=upside_chance, api_models=api_models,
                    api_demand=api_demand)


def _upside(inp: Inputs, pods: pd.DataFrame, reserved: np.ndarray
            ) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The internal-demand upside of the reservation rows: extra GPUs if all happen, and the chance per pod-week.

    A row's upside starts its work ``may_start_early_weeks`` sooner (holding its GPUs
    then) and/or adds ``may_grow_gpus`` per pod from its earliest start to its end, with
    chance ``upside_probability``; rows are independent, so a pod-week is taken with
    chance ``1 - prod(1 - p)`` over the rows whose upside reaches it. The worst case
    (every upside) never holds more than the pod's GPUs.
    """
    rows = [(line, r) for line, r in inp.reservations if r.upside_probability is not None]
    if not rows:
        return None, None
    periods = reserved.shape[1]
    extra = np.zeros_like(reserved)
    spare = np.ones(reserved.shape, dtype=float)  # chance no upside reaches the pod-week
    pod_pos = {p: i for i, p in enumerate(pods.index)}
    for _line, r in rows:
        held = [r.pod] if r.pod is not None else list(pods.index[pods["hall"] == r.hall])
        t0 = max(r.start_week - 1 - (r.may_start_early_weeks or 0), 0)
        for pid in held:
            k = pod_pos[pid]
            gpus = r.gpus if r.gpus is not None else int(pods.at[pid, "gpus"])
            add = np.zeros(periods, dtype=np.int64)
            add[t0 : r.start_week - 1] = gpus
            add[t0 : r.end_week] += r.may_grow_gpus or 0
            extra[k] += add
            spare[k, add > 0] *= 1.0 - float(r.upside_probability or 0.0)
    cap = np.clip(pods["gpus"].to_numpy()[:, None] - reserved, 0, None)
    extra = np.minimum(extra, cap)
    chance = np.where(extra > 0, 1.0 - spare, 0.0)
    cols = pd.RangeIndex(1, periods + 1, name="week")
    return pd.DataFrame(extra, index=pods.index, columns=cols), pd.DataFrame(chance, index=pods.index, columns=cols)


