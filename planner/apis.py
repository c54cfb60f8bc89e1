"""Hosted-model APIs as inputs: the model catalogue and the API demand books as tables, and what can never pay.

An operator sells surplus GPUs as raw leases and as hosted-model APIs: customers buy
tokens, the operator runs replicas of a model on some SKU and serves each region's
demand from sites within its network budget. This module turns the two input files
(``files.models``, ``files.api_demand``; formats in :mod:`planner.schema`) into the
scenario's tables and states the facts that keep a demand stream from ever paying:

- :func:`api_tables`: ``Scenario.api_models`` (one row per model and SKU) and
  ``Scenario.api_demand`` (one row per stream), empty with their columns when the
  scenario has no APIs;
- :func:`api_warnings`: a stream no site that can run its model reaches within its
  network budget, and a stream whose price cannot pay for the power of the GPUs that
  would serve it, each with its numbers.

Cross-file errors (unknown model, SKU or PoP, weeks, duplicate ids, replicas larger
than any pod) are checked in :mod:`planner.validate` with the other inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from planner.errors import Problem
from planner.schema import ApiDemandRow, ModelsFile

if TYPE_CHECKING:
    from planner.scenario import Scenario

__all__ = ["API_DEMAND_COLUMNS", "API_MODEL_COLUMNS", "api_tables", "api_warnings", "serving_cost"]

API_MODEL_COLUMNS: dict[str, str] = {"name": "object", "gpus_per_replica": "int64", "tokens_per_s": "float64",
                                     "replica_start_usd": "float64", "source": "object"}
"""``Scenario.api_models``' columns and their dtypes (indexed by ``(model, sku)``)."""

API_DEMAND_COLUMNS: dict[str, str] = {
    "model": "object", "region": "object", "start_week": "int64", "end_week": "int64",
    "peak_tokens_per_s": "float64", "avg_tokens_per_s": "float64", "price_usd_per_mtok": "float64",
    "network_budget_ms": "float64", "bytes_in_per_token": "float64", "bytes_out_per_token": "float64"}
"""``Scenario.api_demand``'s columns and their dtypes (indexed by ``stream``)."""

_TOLERANCE_MS = 1e-9
"""A path meets a budget when its latency is at most the budget plus this (as a lease's SLO is met)."""


def api_tables(models: ModelsFile | None, demand: list[ApiDemandRow]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The model catalogue and the demand books as the scenario's tables.

    Parameters
    ----------
    models
        The model catalogue, or None when the scenario has none.
    demand
        Every row of every API demand book, in order.

    Returns
    -------
    (api_models, api_demand)
        ``api_models`` indexed by ``(model, sku)`` with :data:`API_MODEL_COLUMNS` (``source``:
        the deployment's source, else the model's, else ``""``); ``api_demand`` indexed by
        ``stream`` with :data:`API_DEMAND_COLUMNS`, ``avg_tokens_per_s`` filled with the peak
        where it is empty.

    Examples
    --------
    >>> m, d = api_tables(None, [])
    >>> list(m.index.names), list(m.columns), d.index.name, len(d)
    (['model', 'sku'], ['name', 'gpus_per_replica', 'tokens_per_s', 'replica_start_usd', 'source'], 'stream', 0)
    """
    rows = [{"model": m.id, "sku": d.sku, "name": m.name, "gpus_per_replica": d.gpus_per_replica,
             "tokens_per_s": d.tokens_per_s, "replica_start_usd": m.replica_start_usd,
             "source": d.source or m.source}
            for m in (models.models if models is not None else []) for d in m.deployments]
    api_models = (pd.DataFrame(rows, columns=["model", "sku", *API_MODEL_COLUMNS])
                  .astype({"model": "object", "sku": "object", **API_MODEL_COLUMNS})
                  .set_index(["model", "sku"]))
    streams = [{"stream": r.id, **r.model_dump(exclude={"id"})} for r in demand]
    api_demand = pd.DataFrame(streams, columns=["stream", *API_DEMAND_COLUMNS])
    api_demand["avg_tokens_per_s"] = api_demand["avg_tokens_per_s"].fillna(api_demand["peak_tokens_per_s"])
    api_demand = api_demand.astype({"stream": "object", **API_DEMAND_COLUMNS}).set_index("stream")
    return api_models, api_demand


def serving_cost(sc: Scenario) -> pd.DataFrame:
    """The power cost of serving each model at each site on each SKU it can run there.

    Returns
    -------
    DataFrame
        One row per (model, site, sku) where the site has a pod of the SKU that holds a
        replica whole: ``gpus_per_replica``, ``tokens_per_s``, ``facility_kw`` (one
        replica's GPUs x server kW x the site's PUE) and ``usd_per_mtok``, the power cost
        of a million tokens at full load (facility kW x site price / tokens per hour).
    """
    cols = ["model", "site", "sku", "gpus_per_replica", "tokens_per_s", "facility_kw", "usd_per_mtok"]
    if sc.api_models.empty:
        return pd.DataFrame(columns=cols)
    deps = sc.api_models.reset_index()
    biggest = sc.pods.groupby(["site", "sku"])["gpus"].max().rename("biggest").reset_index()
    out = deps.merge(biggest, on="sku")
    out = out[out["gpus_per_replica"] <= out["biggest"]].copy()
    out["facility_kw"] = (out["gpus_per_replica"] * out["sku"].map(sc.skus["server_kw_per_gpu"])
                          * out["site"].map(sc.sites["pue"]))
    usd_per_hour = out["facility_kw"] * out["site"].map(sc.sites["power_price_usd_per_mwh"]) / 1000
    out["usd_per_mtok"] = usd_per_hour / (out["tokens_per_s"] * 3600 / 1e6)
    return out[cols].reset_index(drop=True)


def _ms_text(ms: float, *, above: float) -> str:
    """``ms`` with two decimals, or more if needed to show that it is above ``above``."""
    for digits in (2, 3, 4):
        text = f"{ms:.{digits}f}"
        if float(text) > above:
            return text
    return f"{ms:.6f}"


def api_warnings(sc: Scenario, sources: Mapping[str, tuple[str, str]] | None = None) -> list[Problem]:
    """Warnings for the API demand streams of ``sc`` that can never be served, or never pay for their power.

    - latency: no site with a pod that holds a replica of the stream's model reaches
      its region within ``network_budget_ms`` over any path (the fastest path is the
      first candidate path, so no candidate path does);
    - price: at every site that can serve the stream, a million tokens sold cost more
      in power than ``price_usd_per_mtok`` (the replica's facility power at the site's
      price, over its tokens per hour x average / peak: replicas are sized to the peak
      while revenue counts the average).

    Parameters
    ----------
    sc
        The scenario.
    sources
        Where each stream was read, ``stream -> (file, place)``; ``("", "stream <id>")`` when missing.

    Returns
    -------
    list of Problem
        Severity ``"warning"``, one per stream and fact.
    """
    if sc.api_demand.empty:
        return []
    from planner.network import build_network
    from planner.routing import latency_matrix

    latency = latency_matrix(sc, build_network(sc))
    cost = serving_cost(sc)
    out: list[Problem] = []
    for stream, d in sc.api_demand.iterrows():
        file, where = (sources or {}).get(str(stream), ("", f"stream {stream}"))
        able = cost[cost["model"] == d["model"]]
        sites = sorted(set(able["site"]))
        ms = latency.loc[sites, d["region"]].dropna() if d["region"] in latency.columns else pd.Series(dtype=float)
        budget = float(d["network_budget_ms"])
        if ms.empty:
            out.append(Problem(file, where, "region", str(d["region"]),
                               f"stream {stream} can never be served: no route from any site that can run "
                               f"{d['model']} to {d['region']}", f"connect a site with {d['model']}'s SKUs to "
                               f"{d['region']}", severity="warning"))
            continue
        fastest_site, fastest = str(ms.idxmin()), float(ms.min())
        if fastest > budget + _TOLERANCE_MS:
            out.append(Problem(file, where, "network_budget_ms", f"{budget:g}",
                               f"stream {stream} can never be served: its network budget {budget:g} ms to "
                               f"{d['region']} is below the fibre latency from every site that can run "
                               f"{d['model']} (fastest: {fastest_site}→{d['region']} "
                               f"{_ms_text(fastest, above=budget)} ms)",
                               f"a network budget of at least {math.ceil(fastest * 100) / 100:.2f} ms",
                               severity="warning"))
            continue
        reach = set(ms[ms <= budget + _TOLERANCE_MS].index)
        options = able[able["site"].isin(reach)]
        share = float(d["avg_tokens_per_s"]) / float(d["peak_tokens_per_s"])
        best = options.loc[options["usd_per_mtok"].idxmin()]
        sold = float(best["usd_per_mtok"]) / share
        price = float(d["price_usd_per_mtok"])
        if sold > price:
            out.append(Problem(file, where, "price_usd_per_mtok", f"{price:g}",
                               f"stream {stream} cannot pay for its power: a million tokens sold cost "
                               f"${sold:.2f} in power where it is cheapest ({best['site']} on {best['sku']}: "
                               f"${float(best['usd_per_mtok']):.3f} at full load, average/peak {share:.2f}), "
                               f"above its price of ${price:g}",
                               f"a price of at least ${math.ceil(sold * 100) / 100:.2f} per million tokens, or "
                               f"leave the stream to go unserved", severity="warning"))
    return out
