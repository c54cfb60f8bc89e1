"""The standing plan as the quote sees it: what it leaves, and each request as leases to fit into that.

:func:`standing` builds one instance of the scenario with every request added as a
*probe* lease (the request as asked, and once per other SKU of the scenario), and
the residual the plan leaves (:meth:`~planner.optimise.residual.Residual.after` the
plan's own placements). A probe's start week is moved by :func:`at_start`, so one
instance serves every start week of every window. Probes are never placed: they
only give each request its eligible sites, pods and SLO-meeting paths, exactly as
:func:`~planner.optimise.instance.build_instance` gives them to the leases.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from planner.api_plan import api_loads
from planner.network import build_network
from planner.optimise.instance import KBPS, MBPS, Instance, LeaseOptions, build_instance
from planner.optimise.residual import ReplicaFit, Residual, fits_from_placements
from planner.plan import Plan
from planner.quote.requests import Request
from planner.routing import candidate_paths
from planner.scenario import Scenario

__all__ = ["Standing", "at_start", "holding_apis", "probe_id", "standing", "with_workloads"]

PROBE_SEP = "~"
"""Separates a request's id from the SKU of a probe of it (never in an input id, so never a lease's)."""


def probe_id(request: str, sku: str | None = None) -> str:
    """The id of the probe of ``request`` (as asked, or as another ``sku``)."""
    return request if sku is None else f"{request}{PROBE_SEP}{sku}"


def with_workloads(sc: Scenario, rows: list[dict[str, object]], *, keep: list[str] | None = None) -> Scenario:
    """``sc`` with ``rows`` added to its workloads (and only the ``keep`` workloads of its own, when given)."""
    own = sc.workloads if keep is None else sc.workloads.loc[keep]
    extra = pd.DataFrame(rows, columns=["lease", *own.columns]).set_index("lease") if rows else own.iloc[:0]
    wl = pd.concat([own, extra.astype(own.dtypes.to_dict(), errors="ignore")]) if rows else own.copy()
    wl.index.name = sc.workloads.index.name
    return dataclasses.replace(sc, workloads=wl)


def holding_apis(inst: Instance, plan: Plan) -> Instance:
    """``inst`` with the plan's API service held: its capacities less what the service uses, and no API to plan.

    A quote keeps the plan's hosted-model APIs as they stand: like internal work, they are
    never moved to make room for a request. API replicas are never pre-empted, so they
    hold the worst case of internal demand too. Every residual, re-fit and re-plan of the
    quote starts from the instance this returns.
    """
    if plan.api_replicas.empty and plan.api_routes.empty:
        return dataclasses.replace(inst, api=None)
    gpus, uplink_gbps, span_gbps = api_loads(inst.sc, plan.api_replicas, plan.api_routes)
    held = np.ceil(gpus - 1e-9).astype(np.int64)
    res = Residual(inst)
    site_w = np.zeros_like(res.power)
    np.add.at(site_w, inst.pod_site, held * inst.pod_w_per_gpu[:, None])
    worst = inst.pod_free_worst.size > 0
    return dataclasses.replace(
        inst, api=None, pod_free=res.gpu - held, site_power_w=res.power - site_w,
        pod_uplink_kbps=res.uplink - np.ceil(uplink_gbps * KBPS - 1e-6).astype(np.int64),
        span_limit_mbps=res.link - np.ceil(span_gbps * MBPS - 1e-6).astype(np.int64),
        pod_free_worst=res.gpu_worst - held if worst else inst.pod_free_worst,
        site_power_w_worst=res.power_worst - site_w if worst else inst.site_power_w_worst)


def at_start(lo: LeaseOptions, start: int, weeks: int, price: float, hours: float) -> LeaseOptions:
    """A copy of ``lo`` running ``weeks`` weeks from week ``start`` at ``price`` per GPU-hour."""
    revenue = price * lo.gpus * lo.replicas * weeks * hours
    return dataclasses.replace(lo, t0=start - 1, t1=start + weeks - 2, revenue_usd=revenue)


@dataclass
class Standing:
    """The standing plan and what it leaves, with every request's probes.

    Attributes
    ----------
    sc
        The scenario (without the requests).
    plan
        The standing plan.
    inst
        The scenario's instance with the probes added, holding the plan's API service
        (:func:`holding_apis`).
    res
        What the plan leaves (its placements applied).
    base
        What internal work alone leaves.
    placed
        Each placed lease (not internal) with its replica fits.
    graph, paths
        The network and its candidate paths (built once, shared by every re-plan's instance).
    """

    sc: Scenario
    plan: Plan
    inst: Instance
    res: Residual
    base: Residual
    placed: dict[str, tuple[LeaseOptions, list[ReplicaFit]]]
    graph: nx.Graph
    paths: pd.DataFrame

    def probe(self, request: str, sku: str | None = None) -> LeaseOptions:
        """The probe lease of ``request`` (as another ``sku``, when given)."""
        pid = probe_id(request, sku)
        return next(lo for lo in self.inst.leases if lo.lease == pid)

    def window_probe(self, q: Request, start: int, price: float = 0.0, sku: str | None = None) -> LeaseOptions:
        """The probe of ``q`` starting ``start``."""
        return at_start(self.probe(q.id, sku), start, q.row.duration_weeks, price, self.sc.horizon.hours_per_period)


def standing(sc: Scenario, plan: Plan, requests: list[Request], *, graph: nx.Graph | None = None) -> Standing:
    """The standing plan and the probes of ``requests`` (see the module docs)."""
    g = graph if graph is not None else build_network(sc)
    cand = candidate_paths(sc, g)
    hours = sc.horizon.hours_per_period
    skus = [str(s) for s in sc.skus.index]
    rows = []
    for q in requests:
        rows.append(q.workload(q.row.earliest_start, 0.0, hours))
        rows += [q.workload(q.row.earliest_start, 0.0, hours, lease_id=probe_id(q.id, s), sku=s)
                 for s in skus if s != q.row.sku]
    probed = with_workloads(sc, rows)
    inst = holding_apis(build_instance(probed, graph=g, paths=cand), plan)
    every = {lid: f for lid, f in fits_from_placements(inst, plan.placements).items() if f is not None}
    internal = {lo.lease for lo in inst.leases if lo.internal}
    by_id = {lo.lease: lo for lo in inst.leases}
    return Standing(sc=sc, plan=plan, inst=inst, res=Residual.after(inst, every),
                    base=Residual.after(inst, {k: v for k, v in every.items() if k in internal}),
                    placed={k: (by_id[k], v) for k, v in every.items() if k not in internal}, graph=g, paths=cand)
