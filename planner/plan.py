"""The Plan: what a planning run decided, as tables, with the solver's bound and gap.

A plan is built from its ``placements`` (one row per lease, replica and pod);
every other table -- ``site_use``, ``pod_use``, ``link_use`` -- is derived from them
and the scenario by :func:`usage_tables`. :meth:`Plan.check` recomputes every
constraint independently (see :mod:`planner.check`).
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from planner.api_plan import api_loads, api_meta, empty_api_tables
from planner.scenario import Scenario

__all__ = ["PLACEMENT_COLUMNS", "PLAN_SCHEMA_VERSION", "UNPLACED_COLUMNS", "Plan", "SolverFacts", "Status",
           "hall_use_table", "usage_tables"]

PLAN_SCHEMA_VERSION = 1

PLACEMENT_COLUMNS = ["lease", "replica", "site", "pod", "gpus", "path_id", "path", "spans", "latency_ms",
                     "egress_gbps", "start_week", "end_week", "revenue_usd", "power_cost_usd",
                     "transport_cost_usd", "contract_revenue_usd", "expected_weeks_preempted",
                     "worst_case_revenue_usd"]
UNPLACED_COLUMNS = ["lease", "priority", "sku", "gpus", "replicas", "start_week", "end_week", "revenue_usd",
                    "family", "reason", "fix", "crowded_out_by"]


class Status(StrEnum):
    """How good a plan is known to be: CP-SAT's words, and ``HEURISTIC`` for the greedy baseline.

    A :class:`~enum.StrEnum`: each member is its string, so ``plan.json``, the tables and
    comparisons with the plain words are as before.

    Examples
    --------
    >>> Status("OPTIMAL") == "OPTIMAL", Status.FEASIBLE.found, Status.HEURISTIC.found
    (True, True, False)
    >>> Status.OPTIMAL
    'OPTIMAL'
    """

    OPTIMAL = "OPTIMAL"
    """Proven best (within the gap limit)."""
    FEASIBLE = "FEASIBLE"
    """A valid plan, not proven best."""
    HEURISTIC = "HEURISTIC"
    """The greedy baseline's plan: valid, with no bound."""
    INFEASIBLE = "INFEASIBLE"
    """No plan exists (internal workloads do not fit)."""
    UNKNOWN = "UNKNOWN"
    """The solver stopped before it knew anything."""
    MODEL_INVALID = "MODEL_INVALID"
    """CP-SAT refused the model (a bug: please report it)."""

    def __repr__(self) -> str:
        return repr(self.value)  # shown as the word it stands for, as before it was typed

    @property
    def found(self) -> bool:
        """Whether a solver search found a plan (``OPTIMAL`` or ``FEASIBLE``)."""
        return self in (Status.OPTIMAL, Status.FEASIBLE)


@dataclass(frozen=True)
class SolverFacts:
    """What the optimiser records of its solve: the typed form of the solver's keys in ``plan.json``'s ``meta``.

    :meth:`to_meta` gives the keys and values ``plan.json`` has always held, in its
    order; :meth:`from_meta` reads them back (:attr:`Plan.facts`). Keys a run adds
    beside them (``internal``, ``created``, ``stage_s``, ``baseline``...) stay in ``meta``.

    Attributes
    ----------
    seed, workers, time_limit_s, deterministic
        The solve's settings.
    build_s, warm_start_s
        Wall seconds of the instance and model build, and of the warm start.
    method, replica_pod_pairs
        ``"pods"`` or ``"sites"``, and the (replica, pod) pairs that chose it.
    variables, constraints
        The CP-SAT model's size (``None`` for the site-level method).
    solver_status
        CP-SAT's status of the whole model's search, or ``"SITE_SEARCH"``.
    moved_leases, dropped_leases, relocated_by_choice
        A re-plan's moves: leases moved, dropped, and moved though they could have stayed.
    bound_source, polished, warm_start
        Where the bound comes from; whether the final polish improved the plan; the warm start in short.
    safety_stop, safety_stops, safety_limit_s
        Whether the wall-clock safety stop fired, the steps it cut short, and its limit
        (see :mod:`planner.optimise.budget`).
    constraints_by_family, solver_objective_usd, focus
        Pod-level method only: model rows per family, CP-SAT's objective, the focused search in short.
    lns
        Site-level method only: the neighbourhood search's counts.
    pattern_bound
        Site-level method with ``pattern_rounds``: the pattern relaxation's status, bound,
        last master, rounds, patterns and wall seconds (``None`` without it).
    """

    seed: int
    workers: int
    time_limit_s: float
    deterministic: bool
    build_s: float
    warm_start_s: float
    method: str
    replica_pod_pairs: int
    variables: int | None
    constraints: int | None
    solver_status: str
    moved_leases: list[str]
    dropped_leases: list[str]
    relocated_by_choice: list[str]
    bound_source: str
    polished: bool
    warm_start: dict[str, Any] | None
    safety_stop: bool
    safety_stops: list[dict[str, Any]]
    safety_limit_s: float | None
    constraints_by_family: dict[str, int] | None = None
    solver_objective_usd: float | None = None
    focus: dict[str, Any] | None = None
    lns: dict[str, Any] | None = None
    pattern_bound: dict[str, Any] | None = None
    apart: dict[str, Any] | None = None
    """Leases and APIs planned apart (:mod:`planner.optimise.methods.apart`): each step's figures."""

    _HEAD: ClassVar[tuple[str, ...]] = ("seed", "workers", "time_limit_s", "deterministic", "build_s",
                                        "warm_start_s", "method", "replica_pod_pairs")
    _BY_METHOD: ClassVar[dict[str, tuple[str, ...]]] = {
        "pods": ("variables", "constraints", "constraints_by_family", "solver_status", "solver_objective_usd",
                 "focus"),
        "sites": ("variables", "constraints", "solver_status", "lns", "pattern_bound")}
    _TAIL: ClassVar[tuple[str, ...]] = ("moved_leases", "dropped_leases", "relocated_by_choice", "bound_source",
                                        "polished", "warm_start", "safety_stop", "safety_stops", "safety_limit_s")

    def to_meta(self) -> dict[str, Any]:
        """The facts as ``plan.json``'s ``meta`` keys, in its order (each method has its own keys)."""
        keys = (*self._HEAD, *self._BY_METHOD[self.method], *self._TAIL)
        out = {k: getattr(self, k) for k in keys}
        if self.apart is not None:
            out["apart"] = self.apart
        return out

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> SolverFacts | None:
        """The facts a ``meta`` holds, or ``None`` for a plan no solver made (the greedy baseline's).

        A fact an older ``plan.json`` does not hold reads as its default (``None``, or
        no safety stop).

        Examples
        --------
        >>> f = SolverFacts.from_meta({"solver_status": "OPTIMAL", "seed": 3, "method": "pods"})
        >>> f.seed, f.workers, f.safety_stop, f.safety_stops
        (3, None, False, [])
        >>> SolverFacts.from_meta({"seed": 3}) is None
        True
        """
        if "solver_status" not in meta:
            return None
        defaults: dict[str, Any] = {"safety_stop": False, "safety_stops": [], "polished": False}
        given: dict[str, Any] = {f.name: meta.get(f.name, defaults.get(f.name, None if f.default is MISSING
                                                                         else f.default)) for f in fields(cls)}
        return cls(**given)


HALL_USE_COLUMNS: list[str] = ["hall", "week", "site", "building", "pods", "gpus", "internal_gpus", "leased_gpus",
                               "free_gpus", "interpod_gbps", "capacity_gbps", "utilisation"]
"""The columns of :attr:`Plan.hall_use`."""


@dataclass
class Plan:
    """A placement plan and how good it is.

    Attributes
    ----------
    status
        A :class:`Status`: ``OPTIMAL`` or ``FEASIBLE`` (CP-SAT's words), or
        ``HEURISTIC`` for the greedy baseline.
    objective_usd, bound_usd, gap
        Net value of the plan (revenue - power - transport [- moves]), the solver's
        proven upper bound on it, and ``(bound - objective) / max(|bound|, 1)``.
    placements, unplaced, site_use, pod_use, link_use, hall_use
        The tables (see the module docs and ``README``).
    api_use, api_routes, api_replicas
        Hosted-model API demand served per (stream, week), its routes, and the replicas
        serving it (see :mod:`planner.api_plan`); no rows without API demand.
    """

    scenario: str
    status: Status
    objective_usd: float
    bound_usd: float
    gap: float
    wall_s: float
    placements: pd.DataFrame
    unplaced: pd.DataFrame
    site_use: pd.DataFrame
    pod_use: pd.DataFrame
    link_use: pd.DataFrame
    hall_use: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=HALL_USE_COLUMNS))
    method: str = "cp-sat"
    interrupted: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    progress: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["wall_s", "objective_usd",
                                                                                 "bound_usd", "gap"]))
    log: list[str] = field(default_factory=list, repr=False)
    api_use: pd.DataFrame = field(default_factory=lambda: empty_api_tables()[0])
    api_routes: pd.DataFrame = field(default_factory=lambda: empty_api_tables()[1])
    api_replicas: pd.DataFrame = field(default_factory=lambda: empty_api_tables()[2])

    # ------------------------------------------------------------------ figures
    @property
    def facts(self) -> SolverFacts | None:
        """The solver's facts, typed (``None`` for the greedy baseline); ``meta`` holds them as ``plan.json`` does."""
        return SolverFacts.from_meta(self.meta)

    @property
    def revenue_usd(self) -> float:
        """Expected lease revenue over the horizon (spot leases less their expected pre-emption refunds)."""
        return float(self.placements["revenue_usd"].sum())

    @property
    def worst_case_revenue_usd(self) -> float:
        """Lease revenue if every upside of internal demand happens (spot leases refund the weeks pre-empted).

        ``revenue_usd`` is the expected revenue: spot leases count their expected refunds.
        """
        if "worst_case_revenue_usd" not in self.placements:
            return self.revenue_usd
        return float(self.placements["worst_case_revenue_usd"].fillna(self.placements["revenue_usd"]).sum())

    @property
    def power_cost_usd(self) -> float:
        """Power cost of the placed workloads."""
        return float(self.placements["power_cost_usd"].sum())

    @property
    def transport_cost_usd(self) -> float:
        """Transport cost of the placed workloads' egress."""
        return float(self.placements["transport_cost_usd"].sum())

    def leased_gpus(self) -> pd.Series:
        """Peak leased GPUs by SKU (over weeks), from ``site_use``."""
        cols = [c for c in self.site_use.columns if c.endswith("_leased")]
        peak = self.site_use.groupby("week")[cols].sum().max()
        peak.index = [c.removesuffix("_leased") for c in peak.index]
        return peak.astype(int)

    def headline(self) -> dict[str, Any]:
        """The numbers a person looks at first."""
        internal = set(self.meta.get("internal", ()))
        ids = set(self.placements["lease"])
        placed = len(ids - internal)
        return {"status": self.status + (" (interrupted)" if self.interrupted else ""),
                "revenue_usd": self.revenue_usd, "worst_case_revenue_usd": self.worst_case_revenue_usd,
                "power_cost_usd": self.power_cost_usd,
                "transport_cost_usd": self.transport_cost_usd, "objective_usd": self.objective_usd,
                "bound_usd": self.bound_usd, "gap": self.gap, "leases_placed": placed,
                "internal_placed": len(ids & internal), "leases_unplaced": len(self.unplaced),
                "wall_s": self.wall_s, "method": self.method}

    def check(self, sc: Scenario) -> list[str]:
        """Recompute every constraint from the plan's tables; return the violations (empty if valid)."""
        from planner.check import check_plan

        return check_plan(self, sc)

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        h = self.headline()
        return (f"Plan({self.scenario!r}, {h['status']}, revenue ${h['revenue_usd']:,.0f}, "
                f"objective ${h['objective_usd']:,.0f}, bound ${h['bound_usd']:,.0f}, gap {h['gap']:.2%}, "
                f"{h['leases_placed']} placed, {h['leases_unplaced']} unplaced, {h['wall_s']:.1f} s)")

    def _repr_html_(self) -> str:
        h = pd.Series(self.headline()).to_frame("value").to_html()
        unplaced = self.unplaced[["lease", "family", "reason"]].head(20).to_html(index=False)
        return f"<p><b>Plan for {self.scenario}</b></p>{h}<p><b>Left out</b> (first 20)</p>{unplaced}"

    # ------------------------------------------------------------------ JSON
    def to_json(self, path: str | Path | None = None, *, source: dict[str, Any] | None = None) -> str:
        """The plan as versioned JSON (``plan.json``); written to ``path`` when given.

        A bound or gap that is not finite (the greedy baseline has none) is written as
        ``null``. ``source`` is the record of the scenario and input files the plan was
        made from (:func:`planner.provenance.source_record`), kept under ``"source"``.
        """
        text = json.dumps(self.to_document(source=source), indent=1, allow_nan=False, default=str)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_document(self, *, source: dict[str, Any] | None = None) -> dict[str, Any]:
        """What :meth:`to_json` writes, before encoding: ``json.dumps(doc, indent=1, allow_nan=False,
        default=str)`` of it is its text. The tables are plain records; ``meta`` is a copy of the plan's own dict."""
        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            out = df.copy()
            for c in out.columns:
                if out[c].map(lambda v: isinstance(v, tuple)).any():
                    out[c] = out[c].map(list)
            return json.loads(out.to_json(orient="records"))

        def num(x: float) -> float | None:  # JSON has no NaN or inf: a missing bound (greedy) is null
            return x if math.isfinite(x) else None

        doc = {
            "schema_version": PLAN_SCHEMA_VERSION, "scenario": self.scenario, "method": self.method,
            "status": self.status, "interrupted": self.interrupted, "objective_usd": self.objective_usd,
            "bound_usd": num(self.bound_usd), "gap": num(self.gap), "wall_s": self.wall_s,
            "revenue_usd": self.revenue_usd, "expected_revenue_usd": self.revenue_usd,
            "worst_case_revenue_usd": self.worst_case_revenue_usd,
            "created": self.meta.get("created", datetime.now(UTC).isoformat()),
            "meta": dict(self.meta), "placements": records(self.placements), "unplaced": records(self.unplaced),
            "progress": records(self.progress),
        }
        if len(self.api_use):  # hosted-model APIs: the tables the checker reads back
            doc |= {"api_use": records(self.api_use), "api_routes": records(self.api_routes),
                    "api_replicas": records(self.api_replicas)}
        if source is not None:
            doc["source"] = source
        return doc

    @classmethod
    def from_json(cls, text_or_path: str | Path, sc: Scenario) -> Plan:
        """Read a plan written by :meth:`to_json`; derived tables are rebuilt from ``sc``."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            text = Path(text_or_path).read_text(encoding="utf-8")
        doc = json.loads(text)
        if doc.get("schema_version") != PLAN_SCHEMA_VERSION:
            msg = f"plan.json schema_version {doc.get('schema_version')} is not {PLAN_SCHEMA_VERSION}; re-run the plan"
            raise ValueError(msg)
        placements = pd.DataFrame(doc["placements"], columns=PLACEMENT_COLUMNS)
        placements["spans"] = placements["spans"].map(tuple)
        unplaced = pd.DataFrame(doc["unplaced"], columns=UNPLACED_COLUMNS)
        unplaced["crowded_out_by"] = unplaced["crowded_out_by"].map(lambda v: tuple(v or ()))
        bound = float("nan") if doc.get("bound_usd") is None else doc["bound_usd"]
        if doc.get("status") not in set(Status):
            msg = f"plan.json status {doc.get('status')!r} is not one of {', '.join(Status)}; re-run the plan"
            raise ValueError(msg)
        api = None
        if "api_use" in doc:
            use, routes, reps = empty_api_tables()
            routes = pd.DataFrame(doc.get("api_routes", []), columns=routes.columns)
            routes["spans"] = routes["spans"].map(tuple)
            api = (pd.DataFrame(doc["api_use"], columns=use.columns).fillna({"reason": ""}), routes,
                   pd.DataFrame(doc.get("api_replicas", []), columns=reps.columns))
        return make_plan(sc, placements, unplaced, status=Status(doc["status"]), objective_usd=doc["objective_usd"],
                         bound_usd=bound, wall_s=doc["wall_s"], method=doc["method"],
                         interrupted=doc["interrupted"], meta=doc.get("meta", {}),
                         progress=pd.DataFrame(doc.get("progress", []),
                                               columns=["wall_s", "objective_usd", "bound_usd", "gap"]), api=api)

    @classmethod
    def read(cls, folder: str | Path, scenario: str | Path | None = None) -> Plan:
        """Read a results folder's plan (or a plan.json) against the scenario it was made from.

        The scenario is the one ``plan.json`` records (see :mod:`planner.provenance`)
        unless ``scenario`` is given; either way its input files must still hash as
        recorded. See :func:`planner.results.read_results`, which also returns the scenario.

        Raises
        ------
        ScenarioError
            Listing what is wrong: no plan, a changed input file, a plan that does not fit.
        """
        from planner.results import read_results

        return read_results(folder, scenario).plan


def relative_gap(objective: float, bound: float) -> float:
    """``(bound - objective) / max(|bound|, 1)``, never negative.

    Examples
    --------
    >>> relative_gap(99.0, 100.0)
    0.01
    >>> relative_gap(99.0, float("nan"))
    nan
    """
    if math.isnan(bound):
        return float("nan")
    return max(bound - objective, 0.0) / max(abs(bound), 1.0)


def make_plan(sc: Scenario, placements: pd.DataFrame, unplaced: pd.DataFrame, *, status: Status | str,
              objective_usd: float, bound_usd: float, wall_s: float, method: str, interrupted: bool = False,
              meta: dict[str, Any] | None = None, progress: pd.DataFrame | None = None,
              api: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None = None) -> Plan:
    """Assemble a :class:`Plan`, deriving its use tables from ``placements`` and the API tables.

    ``api`` is ``(api_use, api_routes, api_replicas)`` (:func:`planner.api_plan.api_tables`);
    their GPUs, power and traffic count in the use tables, their totals in ``meta["api"]``.
    """
    placements = placements.reindex(columns=PLACEMENT_COLUMNS).sort_values(["lease", "replica", "pod"])
    placements = placements.reset_index(drop=True)
    unplaced = unplaced.reindex(columns=UNPLACED_COLUMNS).sort_values("lease").reset_index(drop=True)
    api_use, api_routes, api_replicas = api if api is not None else empty_api_tables()
    site_use, pod_use, link_use = usage_tables(sc, placements, api_replicas=api_replicas, api_routes=api_routes)
    hall_use = hall_use_table(sc, placements, pod_use)
    kw: dict[str, Any] = {} if progress is None else {"progress": progress}
    meta = dict(meta or {})
    meta["api"] = api_meta(sc, api_use, api_routes, api_replicas)
    meta.setdefault("internal", sorted(str(i) for i in sc.workloads.index[sc.workloads["priority"] == "internal"]))
    return Plan(scenario=sc.name, status=Status(status), objective_usd=float(objective_usd), bound_usd=float(bound_usd),
                gap=relative_gap(objective_usd, bound_usd), wall_s=float(wall_s), placements=placements,
                unplaced=unplaced, site_use=site_use, pod_use=pod_use, link_use=link_use, hall_use=hall_use,
                method=method, interrupted=interrupted, meta=meta, api_use=api_use, api_routes=api_routes,
                api_replicas=api_replicas, **kw)


def _active(placements: pd.DataFrame, weeks: pd.Index) -> np.ndarray:
    """Boolean matrix rows x weeks: is each placement row active in each week."""
    w = weeks.to_numpy()
    s = placements["start_week"].to_numpy()[:, None]
    e = placements["end_week"].to_numpy()[:, None]
    return (w[None, :] >= s) & (w[None, :] <= e)


def hall_use_table(sc: Scenario, placements: pd.DataFrame, pod_use: pd.DataFrame) -> pd.DataFrame:
    """Per hall and week: GPUs internal/leased/free and the inter-pod traffic on its aggregation layer.

    A replica whose GPUs sit in more than one pod sends ``interpod_gbps_per_gpu`` for
    each of its GPUs through the aggregation layer of every hall it has GPUs in; a
    replica in one pod loads no aggregation layer. ``capacity_gbps`` is the hall's
    ``aggregation_gbps`` (``inf`` where the pods file declares no halls) and
    ``utilisation`` the traffic over it (0 where unlimited).
    """
    weeks = sc.weeks
    halls = sc.halls
    hall_idx = pd.Index(halls.index)
    traffic = np.zeros((len(halls), len(weeks)))
    if len(placements):
        split = placements.groupby(["lease", "replica"])["pod"].transform("size").to_numpy() > 1
        part = placements[split]
        if len(part):
            rows = hall_idx.get_indexer(part["pod"].map(sc.pods["hall"]))
            load = part["gpus"].to_numpy(dtype=float) * sc.settings.interpod_gbps_per_gpu
            np.add.at(traffic, rows, _active(part, weeks) * load[:, None])
    gpus = pod_use.assign(hall=pod_use["pod"].map(sc.pods["hall"])).groupby(["hall", "week"])[
        ["gpus", "internal_gpus", "leased_gpus", "free_gpus"]].sum()
    n = len(weeks)
    cap = halls["aggregation_gbps"].to_numpy(dtype=float)
    out = pd.DataFrame({
        "hall": np.repeat(hall_idx.to_numpy(), n),
        "week": np.tile(weeks.to_numpy(), len(halls)),
        "site": np.repeat(halls["site"].to_numpy(), n),
        "building": np.repeat(halls["building"].to_numpy(), n),
        "pods": np.repeat(halls["pods"].to_numpy(), n),
    })
    out = out.join(gpus, on=["hall", "week"])
    out["interpod_gbps"] = traffic.ravel()
    out["capacity_gbps"] = np.repeat(cap, n)
    finite = np.isfinite(out["capacity_gbps"].to_numpy())
    out["utilisation"] = np.where(finite, out["interpod_gbps"] / np.where(finite, out["capacity_gbps"], 1.0), 0.0)
    return out[HALL_USE_COLUMNS]


def usage_tables(sc: Scenario, placements: pd.DataFrame, *, api_replicas: pd.DataFrame | None = None,
                 api_routes: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Derive per-week use of pods, sites and spans from placement rows and API replicas and routes.

    API replicas count as ``api_gpus`` (pods and sites) and ``api_mw`` (sites), and in the
    power, uplink, free GPUs and span traffic totals: leased + internal + API + free = GPUs.

    Returns
    -------
    site_use : one row per (site, week): power_mw, available_mw, headroom_mw, internal/leased/free GPUs
        in total and per SKU (``<sku>_internal``, ``<sku>_leased``, ``<sku>_free``).
    pod_use : one row per (pod, week): internal_gpus (reservations and internal workloads), leased_gpus,
        free_gpus, uplink_gbps, uplink_capacity_gbps, power_mw.
    link_use : one row per (span, week): gbps, capacity_gbps, limit_gbps, utilisation (of capacity).
    """
    api_rep, api_rt = empty_api_tables()[2], empty_api_tables()[1]
    api_gpus, api_up, api_span = api_loads(sc, api_rep if api_replicas is None else api_replicas,
                                           api_rt if api_routes is None else api_routes)
    weeks = sc.weeks
    act = _active(placements, weeks)
    pods = sc.pods
    pod_idx = pd.Index(pods.index)
    # leased GPUs per pod x week
    rows = pod_idx.get_indexer(placements["pod"])
    internal = placements["lease"].map(sc.workloads["priority"]).eq("internal").to_numpy()
    gpus = act * placements["gpus"].to_numpy()[:, None]
    leased = np.zeros((len(pods), len(weeks)))
    np.add.at(leased, rows[~internal], gpus[~internal])
    internal_jobs = np.zeros((len(pods), len(weeks)))
    np.add.at(internal_jobs, rows[internal], gpus[internal])
    # uplink traffic: egress share + inter-pod traffic of split replicas
    split = placements.groupby(["lease", "replica"])["pod"].transform("size").to_numpy() > 1
    per_gpu = sc.settings.interpod_gbps_per_gpu
    up = placements["egress_gbps"].to_numpy() + np.where(split, per_gpu * placements["gpus"].to_numpy(), 0.0)
    uplink = api_up.copy()
    np.add.at(uplink, rows, act * up[:, None])
    reserved = sc.reserved_gpus.to_numpy() + internal_jobs
    total = pods["gpus"].to_numpy()[:, None]
    pod_use = pd.DataFrame({
        "pod": np.repeat(pods.index.to_numpy(), len(weeks)),
        "week": np.tile(weeks.to_numpy(), len(pods)),
        "site": np.repeat(pods["site"].to_numpy(), len(weeks)),
        "sku": np.repeat(pods["sku"].to_numpy(), len(weeks)),
        "gpus": np.repeat(total[:, 0], len(weeks)),
        "internal_gpus": reserved.ravel().round().astype(np.int64),
        "leased_gpus": leased.ravel().round().astype(np.int64),
        "free_gpus": (total - reserved - leased - api_gpus).ravel().round().astype(np.int64),
        "uplink_gbps": uplink.ravel(),
        "uplink_capacity_gbps": np.repeat(pods["uplink_gbps"].to_numpy(), len(weeks)),
        "api_gpus": api_gpus.ravel().round().astype(np.int64),
    })
    kw = pod_use["sku"].map(sc.skus["server_kw_per_gpu"]) * pod_use["site"].map(sc.sites["pue"])
    pod_use["power_mw"] = (pod_use["internal_gpus"] + pod_use["leased_gpus"] + pod_use["api_gpus"]) * kw / 1000.0
    pod_use["api_mw"] = pod_use["api_gpus"] * kw / 1000.0
    by = pod_use.groupby(["site", "week", "sku"])[["internal_gpus", "leased_gpus", "free_gpus"]].sum()
    wide = by.unstack("sku", fill_value=0)
    wide.columns = [f"{sku}_{what.removesuffix('_gpus')}" for what, sku in wide.columns]
    site_use = pod_use.groupby(["site", "week"])[["internal_gpus", "leased_gpus", "api_gpus", "free_gpus",
                                                  "power_mw", "api_mw"]].sum()
    pod_use = pod_use.drop(columns="api_mw")
    site_use["available_mw"] = [sc.site_power_mw.loc[s, w] for s, w in site_use.index]
    site_use["headroom_mw"] = site_use["available_mw"] - site_use["power_mw"]
    site_use = site_use.join(wide[sorted(wide.columns)]).reset_index()
    # links
    spans = sc.spans
    span_idx = pd.Index(spans.index)
    traffic = api_span.copy()
    per_replica = placements.groupby(["lease", "replica"]).agg(
        egress_gbps=("egress_gbps", "sum"), spans=("spans", "first"), start_week=("start_week", "first"),
        end_week=("end_week", "first")).reset_index()
    if len(per_replica):
        ract = _active(per_replica, weeks)
        span_pos = {s: i for i, s in enumerate(span_idx)}  # a dict per route, not an index look-up per replica
        for i, (egress, route) in enumerate(zip(per_replica["egress_gbps"], per_replica["spans"], strict=True)):
            if egress > 0 and route:
                traffic[[span_pos.get(s, -1) for s in route]] += ract[i] * egress
    cap = spans["capacity_gbps"].to_numpy()[:, None]
    link_use = pd.DataFrame({
        "span": np.repeat(spans.index.to_numpy(), len(weeks)),
        "week": np.tile(weeks.to_numpy(), len(spans)),
        "gbps": traffic.ravel(),
        "capacity_gbps": np.repeat(cap[:, 0], len(weeks)),
        "limit_gbps": np.repeat(cap[:, 0] * sc.settings.max_link_utilisation, len(weeks)),
    })
    link_use["utilisation"] = link_use["gbps"] / link_use["capacity_gbps"]
    return site_use, pod_use, link_use
