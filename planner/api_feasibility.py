"""Hosted-model API demand that can never be served or never pay: warnings with their numbers.

- latency: no site that can run a stream's model reaches its region within its
  ``network_budget_ms`` over any candidate path;
- price: wherever it could be served, a million tokens sold cost more in power than the
  stream's price.

Like :mod:`planner.feasibility` for leases, these read the network's routes, so
``planner validate`` lists them (loading a scenario does not build its network).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from planner.apis import serving_cost
from planner.errors import Problem
from planner.feasibility import ms_text
from planner.network import build_network
from planner.routing import latency_matrix
from planner.scenario import Scenario

__all__ = ["api_warnings"]

_TOLERANCE_MS = 1e-9


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
        Where each stream was read, ``stream -> (file, place)`` (``sc.api_sources`` when ``None``;
        ``("", "stream <id>")`` for a stream not in it).

    Returns
    -------
    list of Problem
        Severity ``"warning"``, one per stream and fact.
    """
    if sc.api_demand.empty:
        return []
    latency = latency_matrix(sc, build_network(sc))
    cost = serving_cost(sc)
    out: list[Problem] = []
    for stream, d in sc.api_demand.iterrows():
        file, where = (sc.api_sources if sources is None else sources).get(str(stream), ("", f"stream {stream}"))
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
                               f"{ms_text(fastest, above=budget)} ms)",
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
                               f"{sold:.2f} USD in power where it is cheapest ({best['site']} on {best['sku']}: "
                               f"{float(best['usd_per_mtok']):.3f} USD at full load, average/peak {share:.2f}), "
                               f"above its price of {price:g} USD",
                               f"a price of at least {math.ceil(sold * 100) / 100:.2f} USD per million tokens, or "
                               f"leave the stream to go unserved", severity="warning"))
    return out
