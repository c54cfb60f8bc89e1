"""A bound on what the hosted-model APIs can earn alone: their LP relaxation on the whole campus.

Any plan's API service fits the capacity internal work leaves (its leases take some of
it), so its net value is at most the optimum of the APIs alone, with every capacity
theirs, replicas continuous and start costs left out (costs only lower a value). The
site-level LP and the pattern bound add this as a separate term to their own bound on
the leases: a true bound, looser than one that lets leases and APIs compete for the
same rows (the pod-level LP does that, reading the CP-SAT model's API columns).
:func:`api_revenue_bound` is the cruder bound without any solve: every token demanded, sold.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from planner.optimise.instance import Instance

__all__ = ["api_lp_bound", "api_revenue_bound"]


def api_revenue_bound(inst: Instance) -> float:
    """Every stream's peak served every week of its term: an upper bound on API revenue (0 without APIs)."""
    api = inst.api
    if api is None:
        return 0.0
    return float(sum(t.peak * t.usd_per_tps_week * len(t.weeks) for t in api.streams))


def api_lp_bound(inst: Instance) -> float:
    """The LP optimum of the APIs alone on every capacity (0 without APIs): a true bound on their net value.

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.instance import build_instance
    >>> inst = build_instance(load_scenario())  # the reference sells tokens at six PoPs
    >>> api_lp_bound(inst) >= 0.0, api_lp_bound(inst) <= api_revenue_bound(inst)
    (True, True)
    """
    api = inst.api
    if api is None or api.empty:
        return 0.0
    cols_obj: list[float] = []
    rows: dict[tuple[str, int, int], dict[int, float]] = {}
    caps: dict[tuple[str, int, int], float] = {}

    def col(obj: float) -> int:
        cols_obj.append(obj)
        return len(cols_obj) - 1

    def use(key: tuple[str, int, int], j: int, coef: float, cap: float) -> None:
        rows.setdefault(key, {})[j] = rows.get(key, {}).get(j, 0.0) + coef
        caps[key] = cap

    worst = inst.pod_free_worst if inst.pod_free_worst.size else inst.pod_free
    power_worst = inst.site_power_w_worst if inst.site_power_w_worst.size else inst.site_power_w
    uplink = np.asarray(inst.pod_uplink_kbps)
    rep: dict[tuple[int, int], int] = {}
    for d in api.deployments:
        for w in api.active(d.model, d.site):
            j = rep[(d.pos, w)] = col(-d.power_usd_week)
            use(("gpu", d.pod, w), j, d.gpus, float(min(inst.pod_free[d.pod, w], worst[d.pod, w])))
            use(("power", d.site, w), j, d.watts,
                float(min(inst.site_power_w[d.site, w], power_worst[d.site, w])))
            up = float(uplink[d.pod, w] if uplink.ndim == 2 else uplink[d.pod])
            use(("uplink", d.pod, w), j, d.uplink_kbps, up)
            use(("tput", d.model * len(inst.site_ids) + d.site, w), j, -d.tokens_per_s, 0.0)
    for t in api.streams:
        for w in t.weeks:
            for s, paths in t.paths.items():
                for p in paths:
                    j = col(api.net_per_tps_week(t, p))
                    use(("demand", t.pos, w), j, 1.0, float(t.peak))
                    use(("tput", t.model * len(inst.site_ids) + s, w), j, 1.0, 0.0)
                    for e in p.span_idx.tolist():
                        use(("dci", int(e), w), j, t.bits_per_token / 1e6, float(inst.span_limit_mbps[int(e), w]))
    keys = list(rows)
    r = [i for i, k in enumerate(keys) for _ in rows[k]]
    c = [j for k in keys for j in rows[k]]
    v = [x for k in keys for x in rows[k].values()]
    a = sp.csr_matrix((v, (r, c)), shape=(len(keys), len(cols_obj)))
    res = linprog(-np.array(cols_obj), A_ub=a, b_ub=np.array([caps[k] for k in keys]), bounds=(0, None),
                  method="highs")
    if res.status != 0:
        return api_revenue_bound(inst)  # not solved: the bound without a solve still holds
    return float(-res.fun)
