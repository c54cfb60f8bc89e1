"""Hosted-model APIs as inputs: the model catalogue and the API demand books as tables, and what can never pay.

An operator sells surplus GPUs as raw leases and as hosted-model APIs: customers buy
tokens, the operator runs replicas of a model on some SKU and serves each region's
demand from sites within its network budget. This module turns the two input files
(``files.models``, ``files.api_demand``; formats in :mod:`planner.schema`) into the
scenario's tables:

- :func:`api_tables`: ``Scenario.api_models`` (one row per model and SKU) and
  ``Scenario.api_demand`` (one row per stream), empty with their columns when the
  scenario has no APIs;
- :func:`serving_cost`: what a million tokens cost in power per model, SKU and site.

The facts that keep a stream from ever being served or paying (they need the network's
routes) are :func:`planner.api_feasibility.api_warnings`, which ``planner validate`` lists.

Cross-file errors (unknown model, SKU or PoP, weeks, duplicate ids, replicas larger
than any pod) are checked in :mod:`planner.validate` with the other inputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from planner.schema import ApiDemandRow, ModelsFile

if TYPE_CHECKING:
    from planner.scenario import Scenario

__all__ = ["API_DEMAND_COLUMNS", "API_MODEL_COLUMNS", "api_tables", "serving_cost"]

API_MODEL_COLUMNS: dict[str, str] = {"name": "object", "gpus_per_replica": "int64", "tokens_per_s": "float64",
                                     "replica_start_usd": "float64", "source": "object"}
"""``Scenario.api_models``' columns and their dtypes (indexed by ``(model, sku)``)."""

API_DEMAND_COLUMNS: dict[str, str] = {
    "model": "object", "region": "object", "start_week": "int64", "end_week": "int64",
    "peak_tokens_per_s": "float64", "avg_tokens_per_s": "float64", "price_usd_per_mtok": "float64",
    "network_budget_ms": "float64", "bytes_in_per_token": "float64", "bytes_out_per_token": "float64"}
"""``Scenario.api_demand``'s columns and their dtypes (indexed by ``stream``)."""

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


