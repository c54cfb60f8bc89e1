"""Why API demand is left unserved: the family that binds, with its numbers, per (stream, week).

Read against what the plan leaves (the residual after its leases and its API replicas):

1. ``latency`` -- no site with a deployment of the model reaches the region within the
   stream's network budget: the fastest path and the budget; the fix (a budget of the
   fastest path's latency) is verified by serving the stream alone, so relaxed, with what
   the plan leaves, and offered only if that serves some of it;
2. ``not worth it`` -- a token per second earns less than the power it costs on the
   cheapest deployment (both figures);
3. ``dci`` -- replicas have room but every path within budget is full (the fullest span);
4. ``gpus`` / ``power`` / ``uplink`` -- no replica can start at a reachable site (the room
   left and what one replica needs);
5. otherwise the capacity left earns more elsewhere (leases or other streams) in the plan.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from planner.optimise.apis import ApiInstance, ApiSolution, ApiStream
from planner.optimise.heuristics.api_fill import fill_apis
from planner.optimise.instance import Instance
from planner.optimise.residual import Residual
from planner.weeks import weeks_text

__all__ = ["explain_unserved"]


def _latency(inst: Instance, api: ApiInstance, t: ApiStream, res: Residual) -> str:
    best = min(((p.latency_ms, s) for s, ps in t.all_paths.items() for p in ps), default=None)
    if best is None:
        return f"latency: no route from a site with the model's SKUs to {t.region}"
    ms, s = best
    text = (f"latency: fastest path {inst.site_ids[s]}->{t.region} {ms:.2f} ms > network budget "
            f"{t.budget_ms:g} ms")
    looser = dataclasses.replace(t, budget_ms=ms, paths={s2: [p for p in ps if p.latency_ms <= ms + 1e-9]
                                                         for s2, ps in t.all_paths.items()})
    looser = dataclasses.replace(looser, paths={s2: ps for s2, ps in looser.paths.items() if ps})
    trial = dataclasses.replace(inst, api=dataclasses.replace(api, streams=[dataclasses.replace(looser, pos=0)]))
    if fill_apis(trial, res).served:
        text += f"; fix: a network budget of {ms:.2f} ms (checked: it is then served)"
    return text


def _week_reason(inst: Instance, api: ApiInstance, t: ApiStream, w: int, res: Residual,
                 spare: dict[tuple[int, int, int], int]) -> tuple[str, str]:
    """(family, text) of why ``t`` is not fully served in week ``w`` (0-based)."""
    deps = [d for d in api.deployments if d.model == t.model and d.site in t.paths]
    if not deps:
        return "latency", ""
    best_net = max(api.net_per_tps_week(t, ps[0]) for ps in t.paths.values())
    cost = min(d.power_usd_week / max(d.tokens_per_s, 1) for d in deps)
    if best_net <= cost:
        return "not worth it", (f"not worth it: a token/s earns ${best_net:,.4f} a week, its power costs "
                                f"${cost:,.4f} on the cheapest deployment")
    full = []
    for ps in t.paths.values():
        for p in ps:
            left = min((float(res.link[int(e), w]), int(e)) for e in p.span_idx.tolist()) if len(p.span_idx) else None
            if left is not None and t.bits_per_token > 0 and left[0] * 1e6 / t.bits_per_token < 1:
                e = left[1]
                cap = float(inst.span_limit_mbps[e, w])
                full.append(f"{inst.span_ids[e]} at {100 * (1 - left[0] / cap) if cap > 0 else 100:.0f} %")
            else:
                full = []
                break
        else:
            continue
        break
    if full and any(spare.get((t.model, s, w), 0) > 0 for s in t.paths):
        return "dci", f"dci: every path within budget is full (span {full[0]})"
    gpus = max(min(int(res.gpu[d.pod, w]), int(res.gpu_worst[d.pod, w])) for d in deps)
    need = min(d.gpus for d in deps)
    if gpus < need:
        return "gpus", (f"gpus: the model's pods at reachable sites have at most {gpus:,} GPUs free, a replica "
                        f"needs {need:,}")
    watts = max(min(int(res.power[d.site, w]), int(res.power_worst[d.site, w])) for d in deps)
    if watts < min(d.watts for d in deps):
        return "power", (f"power: reachable sites have at most {watts / 1e6:,.3f} MW left, a replica needs "
                         f"{min(d.watts for d in deps) / 1e6:,.3f} MW")
    if all(int(res.uplink[d.pod, w]) < d.uplink_kbps for d in deps):
        return "uplink", "uplink: the pods' uplinks have no room for another replica"
    if full:
        return "dci", f"dci: every path within budget is full (span {full[0]})"
    return "value", (f"the capacity left earns more elsewhere in this plan (a token/s earns ${best_net:,.4f} a week "
                     f"here)")


def explain_unserved(inst: Instance, sol: ApiSolution, res: Residual) -> dict[tuple[str, int], str]:
    """Reason per (stream, 1-based week) not fully served; ``res`` is what the plan leaves (leases and APIs taken).

    A reason holding over a run of weeks names the run.
    """
    api = inst.api
    if api is None:
        return {}
    served: dict[tuple[int, int], int] = defaultdict(int)
    by_msw: dict[tuple[int, int, int], int] = defaultdict(int)
    for (tp, s, _k, w), x in sol.served.items():
        served[(tp, w)] += x
        by_msw[(api.streams[tp].model, s, w)] -= x
    for (d, w), n in sol.replicas.items():
        dep = api.deployments[d]
        by_msw[(dep.model, dep.site, w)] += n * dep.tokens_per_s
    out: dict[tuple[str, int], str] = {}
    for t in api.streams:
        texts: dict[int, str] = {}
        lat = None
        for w in t.weeks:
            if served[(t.pos, w)] >= t.peak:
                continue
            fam, text = _week_reason(inst, api, t, w, res, by_msw)
            if fam == "latency":
                lat = lat if lat is not None else _latency(inst, api, t, res)
                text = lat
            texts[w] = text
        for text in set(texts.values()):
            weeks = [w + 1 for w, x in texts.items() if x == text]
            for w in weeks:
                out[(t.stream, w)] = f"{text} ({weeks_text(weeks)})"
    return out
