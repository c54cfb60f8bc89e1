"""The greedy API filler: serve the most valuable token demand with what the leases leave.

Streams go in order of value per GPU-week (price x average share x tokens per
second per GPU of the model's best deployment); each is served week by week from
its sites (the best net value per token first) over the fastest path with room,
by replicas already running there, then by new ones while a new replica earns more
than its power and a share of its start cost (spread over the stream's weeks
left). A stream whose service adds no net value is taken back whole, so the filler
never lowers a plan's value. Every method calls it on the residual of its lease
plan (the site-level method, the neighbourhood search and the polish), and the
warm start of the pod-level model hints CP-SAT with it.
"""

from __future__ import annotations

import math
from collections import defaultdict

from planner.optimise.apis import ApiInstance, ApiSolution, ApiStream, api_value, take
from planner.optimise.heuristics.first_fit import fill
from planner.optimise.instance import Instance, LeaseOptions
from planner.optimise.residual import ReplicaFit, Residual

__all__ = ["fill_apis", "greedy_with_apis", "stream_order", "value_per_gpu_week"]


def value_per_gpu_week(api: ApiInstance, t: ApiStream) -> float:
    """What one GPU earns serving stream ``t`` for one week on the model's best deployment (0 if none)."""
    best = max((d.tokens_per_s / d.gpus for d in api.deployments if d.model == t.model and d.site in t.paths),
               default=0.0)
    return t.usd_per_tps_week * best


class _State:
    """The filler's working copy: the solution, spare throughput, DCI room and the residual."""

    def __init__(self, api: ApiInstance, res: Residual) -> None:
        self.api = api
        self.sol = ApiSolution()
        self.spare: dict[tuple[int, int, int], int] = defaultdict(int)  # (model, site, week) -> tokens/s
        self.link: dict[tuple[int, int], float] = {}  # (span, week) -> Mbps left
        self.res = res

    def copy(self) -> _State:
        new = _State(self.api, self.res.copy())
        new.sol = ApiSolution(dict(self.sol.replicas), dict(self.sol.served))
        new.spare = defaultdict(int, self.spare)
        new.link = dict(self.link)
        return new

    def link_left(self, e: int, w: int) -> float:
        if (e, w) not in self.link:
            self.link[(e, w)] = float(self.res.link[e, w])
        return self.link[(e, w)]

    def room(self, t: ApiStream, s: int, k: int, w: int) -> int:
        """Tokens per second of ``t`` path ``k`` from ``s`` can still carry in week ``w``."""
        if t.bits_per_token <= 0:
            return t.peak
        left = min(self.link_left(int(e), w) for e in t.paths[s][k].span_idx.tolist())
        return max(math.floor(left * 1e6 / t.bits_per_token + 1e-9), 0)

    def add_replica(self, t: ApiStream, s: int, w: int, want: int, net: float) -> bool:
        """Start (or keep) one more replica of ``t``'s model at ``s`` in ``w`` if it pays; whether it did."""
        api, res = self.api, self.res
        weeks_left = t.t1 - w + 1
        best = None
        for d in api.deployments:
            if d.model != t.model or d.site != s:
                continue
            gpus = min(int(res.gpu[d.pod, w]), int(res.gpu_worst[d.pod, w]))
            watts = min(int(res.power[s, w]), int(res.power_worst[s, w]))
            if gpus < d.gpus or watts < d.watts or int(res.uplink[d.pod, w]) < d.uplink_kbps:
                continue
            n = self.sol.replicas.get((d.pos, w), 0)
            starts = self.sol.replicas.get((d.pos, w - 1), 0) <= n  # no replica of last week left to keep
            cost = d.power_usd_week + (float(api.start_usd[t.model]) / weeks_left if starts else 0.0)
            gain = min(want, d.tokens_per_s) * net - cost
            key = (-gain, gpus, d.pos)  # the best gain, then the best fit
            if gain > 0 and (best is None or key < best[0]):
                best = (key, d)
        if best is None:
            return False
        d = best[1]
        self.sol.replicas[(d.pos, w)] = self.sol.replicas.get((d.pos, w), 0) + 1
        for arr, i in ((res.gpu, d.pod), (res.gpu_worst, d.pod)):
            arr[i, w] -= d.gpus
        res.power[s, w] -= d.watts
        res.power_worst[s, w] -= d.watts
        res.uplink[d.pod, w] -= d.uplink_kbps
        self.spare[(t.model, s, w)] += d.tokens_per_s
        return True

    def serve(self, t: ApiStream) -> None:
        """Serve as much of ``t`` as pays, week by week."""
        api = self.api
        sites = sorted(t.paths, key=lambda s: (-api.net_per_tps_week(t, t.paths[s][0]), s))
        for w in t.weeks:
            left = t.peak
            for s in sites:
                while left > 0:
                    k = next((k for k in range(len(t.paths[s])) if self.room(t, s, k, w) > 0), None)
                    if k is None:
                        break
                    room = self.room(t, s, k, w)
                    net = api.net_per_tps_week(t, t.paths[s][k])
                    if net <= 0:
                        break
                    if self.spare[(t.model, s, w)] <= 0 and not self.add_replica(t, s, w, min(left, room), net):
                        break
                    x = min(left, room, self.spare[(t.model, s, w)])
                    key = (t.pos, s, k, w)
                    self.sol.served[key] = self.sol.served.get(key, 0) + x
                    self.spare[(t.model, s, w)] -= x
                    for e in t.paths[s][k].span_idx.tolist():
                        self.link[(int(e), w)] = self.link_left(int(e), w) - x * t.bits_per_token / 1e6
                    left -= x


def fill_apis(inst: Instance, res: Residual) -> ApiSolution:
    """The API solution the filler finds in what ``res`` leaves (``res`` itself is not changed).

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.instance import build_instance
    >>> inst = build_instance(load_scenario())
    >>> sol = fill_apis(inst, Residual(inst))  # the reference's API demand on an empty campus
    >>> sol.empty
    False
    """
    api = inst.api
    if api is None or api.empty:
        return ApiSolution()
    state = _State(api, res.copy())
    for t in stream_order(api):
        state = _serve_if_worth(state, t)
    _drop_idle(state)
    return state.sol


def stream_order(api: ApiInstance) -> list[ApiStream]:
    """Streams by value per GPU-week, highest first."""
    return sorted(api.streams, key=lambda t: (-value_per_gpu_week(api, t), t.pos))


def _serve_if_worth(state: _State, t: ApiStream) -> _State:
    """``state`` with ``t`` served, if that adds net value; else ``state`` as it was."""
    before = api_value(state.api, state.sol).net_usd
    trial = state.copy()
    trial.serve(t)
    return trial if api_value(state.api, trial.sol).net_usd > before + 1e-6 else state


def greedy_with_apis(inst: Instance, order: list[LeaseOptions]
                     ) -> tuple[dict[str, list[ReplicaFit]], Residual, list[str], ApiSolution]:
    """First fit of leases in ``order`` and of API streams, each stream before the leases earning less per GPU-week.

    A lease earns its price per GPU-week; a stream, :func:`value_per_gpu_week`. Returns
    the leases' fits, the residual (leases and APIs taken), failed internal ids and the
    API service.
    """
    api = inst.api
    state = _State(api, Residual(inst)) if api is not None else None
    streams = stream_order(api) if api is not None else []
    fits: dict[str, list[ReplicaFit]] = {}
    failed: list[str] = []
    i = 0
    res = Residual(inst) if state is None else state.res
    for lo in order:
        price = float("inf") if lo.internal else lo.revenue_usd / max(lo.gpus * lo.replicas * lo.weeks, 1)
        while state is not None and i < len(streams) and value_per_gpu_week(state.api, streams[i]) > price:
            state = _serve_if_worth(state, streams[i])
            i += 1
        if state is not None:
            res = state.res
        more, res, bad = fill(inst, [lo], res, held=fits)
        fits |= more
        failed += bad
    while state is not None and i < len(streams):
        state = _serve_if_worth(state, streams[i])
        i += 1
    if state is None:
        return fits, res, failed, ApiSolution()
    _drop_idle_and_give_back(state)
    return fits, state.res, failed, state.sol


def _drop_idle_and_give_back(state: _State) -> None:
    """:func:`_drop_idle`, handing the dropped replicas' capacity back to ``state.res``."""
    before = ApiSolution(dict(state.sol.replicas), {})
    _drop_idle(state)
    dropped = ApiSolution({k: n - state.sol.replicas.get(k, 0) for k, n in before.replicas.items()
                           if n > state.sol.replicas.get(k, 0)}, {})
    take(state.api, dropped, state.res, sign=+1)


def _drop_idle(state: _State) -> None:
    """Remove replicas no token needs (the last ones started in a week serve only what is left)."""
    api, sol = state.api, state.sol
    served: dict[tuple[int, int, int], int] = defaultdict(int)
    for (t, s, _k, w), x in sol.served.items():
        served[(api.streams[t].model, s, w)] += x
    by_msw: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    for (d, w) in sol.replicas:
        dep = api.deployments[d]
        by_msw[(dep.model, dep.site, w)].append(d)
    for (m, s, w), ds in by_msw.items():
        cap = sum(sol.replicas[(d, w)] * api.deployments[d].tokens_per_s for d in ds)
        for d in sorted(ds, key=lambda d: -api.deployments[d].tokens_per_s):
            tps = api.deployments[d].tokens_per_s
            while sol.replicas.get((d, w), 0) > 0 and cap - tps >= served[(m, s, w)]:
                sol.replicas[(d, w)] -= 1
                cap -= tps
            if sol.replicas.get((d, w)) == 0:
                del sol.replicas[(d, w)]
