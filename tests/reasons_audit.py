"""An independent audit of a plan's reasons for leases left out.

Reads each ``unplaced`` row as a user would: the numbers in its reason are checked
against the plan's own usage tables (``site_use``, ``link_use``, ``pod_use``) or,
for a reason about internal work alone, against the campus with only internal work;
each fix is parsed from its text, applied alone to the lease (or to the capacity it
names), and the lease re-fitted with :class:`planner.optimise.residual.Residual`; the leases named
"crowded out by" are taken out and the lease re-fitted. Used by the tests and to
measure a plan (``python -m tests.reasons_audit RESULTS_DIR [SCENARIO]``).
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

import planner
from planner.optimise.instance import KBPS, MBPS, Instance, LeaseOptions, build_instance
from planner.optimise.residual import Residual, fits_from_placements
from planner.quote.standing import holding_apis

WEEKS = r"weeks? \d+(?:-\d+)?(?:, \d+(?:-\d+)?)*"
NUM = r"-?[\d,]*\.?\d+"


def weeks_of(text: str) -> list[int]:
    """``"weeks 3-5, 9"`` -> ``[3, 4, 5, 9]``."""
    out: list[int] = []
    for part in re.sub(r"^weeks? ", "", text).split(", "):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def num(text: str) -> float:
    return float(text.replace(",", ""))


def decimals(text: str) -> int:
    return len(text.partition(".")[2])


@dataclass
class RowAudit:
    """What the audit found in one ``unplaced`` row."""

    lease: str
    context: str  # "plan" or "internal"
    problems: list[str] = field(default_factory=list)
    fixes: int = 0
    verified: int = 0
    unverified: list[str] = field(default_factory=list)
    crowders_ok: bool | None = None


@dataclass
class Audit:
    rows: list[RowAudit]

    @property
    def contradictory(self) -> list[RowAudit]:
        return [r for r in self.rows if r.problems]

    @property
    def fixes(self) -> int:
        return sum(r.fixes for r in self.rows)

    @property
    def verified(self) -> int:
        return sum(r.verified for r in self.rows)

    @property
    def bad_crowders(self) -> list[RowAudit]:
        return [r for r in self.rows if r.crowders_ok is False]

    @property
    def false_rows(self) -> list[RowAudit]:
        """Rows with a contradiction, a fix that does not re-fit or a wrong 'crowded out by'."""
        return [r for r in self.rows if r.problems or r.unverified or r.crowders_ok is False]

    def summary(self) -> str:
        return (f"{len(self.rows)} left out; {len(self.contradictory)} contradictory; {self.fixes} fixes suggested, "
                f"{self.verified} verified; {len(self.bad_crowders)} wrong 'crowded out by'; "
                f"{len(self.false_rows)} with any false statement")


def variant(lo: LeaseOptions, **kw: object) -> LeaseOptions:
    """The lease with terms changed, derived fields recomputed as ``build_instance`` does."""
    new = dataclasses.replace(lo)
    for key in ("gpus", "replicas", "anti_affinity", "span"):
        if key in kw:
            setattr(new, key, kw[key])
    if "egress_gbps" in kw:
        new.egress_gbps = float(kw["egress_gbps"])  # type: ignore[arg-type]
        new.egress_mbps = math.ceil(new.egress_gbps * MBPS - 1e-9)
        new.egress_kbps = math.ceil(new.egress_gbps * KBPS - 1e-9)
    new.egress_kbps_per_gpu = math.ceil(new.egress_gbps * KBPS / new.gpus - 1e-9)
    if "slo_ms" in kw:
        slo = float(kw["slo_ms"])  # type: ignore[arg-type]
        new.slo_ms = slo
        new.paths = {s: [p for p in ps if p.latency_ms <= slo + 1e-9] for s, ps in lo.all_paths.items()}
    if "allow" in kw:
        new.placement_sites = sorted({*lo.placement_sites, int(kw["allow"])})  # type: ignore[call-overload]
    return new


class Auditor:
    """Audits the ``unplaced`` rows of one plan of one scenario."""

    def __init__(self, sc: planner.Scenario, plan: planner.plan.Plan) -> None:
        self.sc, self.plan = sc, plan
        self.inst: Instance = build_instance(sc)
        self.by_id = {lo.lease: lo for lo in self.inst.leases}
        internal = {lo.lease for lo in self.inst.leases if lo.internal}
        pl = plan.placements
        self.fits = {k: v for k, v in fits_from_placements(self.inst, pl).items() if v is not None}
        self.res = Residual.after(holding_apis(self.inst, plan), self.fits)  # beside the leases and the APIs
        self.held = {self.by_id[k].group: k for k in self.fits}  # a lease's id -> its option placed (windows)
        self.base = Residual.after(self.inst, {k: v for k, v in self.fits.items() if k in internal})
        self.site_pos = {s: i for i, s in enumerate(self.inst.site_ids)}
        self.pod_pos = {p: i for i, p in enumerate(self.inst.pod_ids)}
        self.span_pos = {e: i for i, e in enumerate(self.inst.span_ids)}
        self.hall_pos = {h: i for i, h in enumerate(self.inst.hall_ids)}
        self.hall_use = plan.hall_use.set_index(["hall", "week"])
        self.site_use = plan.site_use.set_index(["site", "week"])
        self.link_use = plan.link_use.set_index(["span", "week"])
        self.pod_use = plan.pod_use.set_index(["pod", "week"])

    # ------------------------------------------------------------------ numbers in reasons
    def _check_numbers(self, lo: LeaseOptions, text: str, ctx: str, out: list[str]) -> None:
        if re.search(r"<= ?-?0(?![.\d])", text) or "+-" in text or re.search(r"(?<![\w-])-\d", text):
            out.append("a zero or negative bound")
        if "no week" in text:
            out.append("'no week'")
        if re.search(r"needs 0(?:\.0+)? (?:MW|Gbps|GPUs)", text):
            out.append("a need shown as zero")
        for m in re.finditer(r"SLO >= (" + NUM + r") ms", text):
            if lo.slo_ms is not None and num(m[1]) <= lo.slo_ms:
                out.append(f"SLO fix {m[1]} ms not above the SLO {lo.slo_ms:g} ms")
        for m in re.finditer(r"latency (\S+)→(\S+) (" + NUM + r") ms > SLO (" + NUM + r") ms", text):
            if num(m[3]) <= num(m[4]):
                out.append(f"latency {m[3]} ms said to exceed SLO {m[4]} ms")
        for m in re.finditer(r"(\S+)→(\S+) is (" + NUM + r") ms, over the SLO of (" + NUM + r") ms", text):
            best = min((p.latency_ms for p in lo.all_paths.get(self.site_pos[m[1]], [])), default=math.inf)
            if not num(m[3]) > num(m[4]) or abs(best - num(m[3])) > 0.006:
                out.append(f"latency {m[1]}→{m[2]} {m[3]} ms (fastest {best:.3f}) vs SLO {m[4]} ms")
        for m in re.finditer(r"fastest: (\S+)→(\S+) (" + NUM + r") ms\)", text):
            best = min((p.latency_ms for s in lo.placement_sites for p in lo.all_paths.get(s, [])), default=math.inf)
            if abs(best - num(m[3])) > 0.006 or (lo.slo_ms is not None and best <= lo.slo_ms):
                out.append(f"fastest latency {m[3]} ms, really {best:.3f}")
        for m in re.finditer(r"(?:at )?([A-Z][\w-]*),? (?:has )?(" + NUM + r") MW headroom in (" + WEEKS + ")", text):
            site, stated, weeks = m[1], num(m[2]), weeks_of(m[3])
            if ctx == "plan":
                rows = self.site_use.loc[[(site, w) for w in weeks]]
                real = float(rows["headroom_mw"].min())
                tol = 10 ** -decimals(m[2]) + float((rows["internal_gpus"] + rows["leased_gpus"]).max()) / 1e6
            else:
                real = float(self.base.power[self.site_pos[site], [w - 1 for w in weeks]].min()) / 1e6
                tol = 10 ** -decimals(m[2])
            if not (real - tol <= stated <= real + tol):
                out.append(f"{site} headroom {stated} MW in {m[3]}, really {real:.4f} MW")
            need = re.match(r",? (?:one replica )?needs (" + NUM + ") MW", text[m.end():])
            if need and num(need[1]) <= stated:
                out.append(f"{site} said short with {stated} MW headroom for a need of {need[1]} MW")
        for m in re.finditer(r"span (\S+) has (" + NUM + r") Gbps free in (" + WEEKS + ")", text):
            span, stated, weeks = m[1], num(m[2]), weeks_of(m[3])
            if ctx == "plan":
                rows = self.link_use.loc[[(span, w) for w in weeks]]
                real = float((rows["limit_gbps"] - rows["gbps"]).min())
            else:
                real = float(self.base.link[self.span_pos[span], [w - 1 for w in weeks]].min()) / MBPS
            if not (real - 10 ** -decimals(m[2]) - 1e-3 <= stated <= real + 1e-3 + 10 ** -decimals(m[2])):
                out.append(f"span {span} {stated} Gbps free in {m[3]}, really {real:.3f}")
            if stated * MBPS >= lo.egress_mbps:
                out.append(f"span {span} said short with {stated} Gbps free for {lo.egress_gbps} Gbps")
        for m in re.finditer(r"span (\S+) at (\d+)% of its limit in (" + WEEKS + ")", text):  # the old wording
            rows = self.link_use.loc[[(m[1], w) for w in weeks_of(m[3])]]
            if abs(float((rows["gbps"] / rows["limit_gbps"]).max()) * 100 - int(m[2])) > 1:
                out.append(f"span {m[1]} at {m[2]}%")
        pods = [(x[1], x[2]) for x in re.finditer(r"the roomiest, (\S+), has (" + NUM + r") free at the least", text)]
        pods += [(x[2], x[1]) for x in re.finditer(r"most: (" + NUM + r") in (\S+)\)", text)]  # the old wording
        for pod, free_text in pods:
            weeks = list(range(lo.t0 + 1, lo.t1 + 2))
            if ctx == "plan":
                real = int(self.pod_use.loc[[(pod, w) for w in weeks], "free_gpus"].min())
            else:
                real = int(self.base.gpu[self.pod_pos[pod], lo.t0:lo.t1 + 1].min())
            if real != int(num(free_text)):
                out.append(f"pod {pod} {free_text} free, really {real}")
        m2 = re.search(r"keeps at most (" + NUM + r") free through", text)
        if m2 and "in one pod" in text:
            real = max(int(self.inst.pod_free[p, lo.t0:lo.t1 + 1].min()) for s in lo.placement_sites
                       for p in lo.pods[s] if not lo.needs_path or lo.paths.get(s))
            if real != int(num(m2[1])) or real >= lo.gpus:
                out.append(f"pod size {m2[1]}, really {real}")
        self._check_sites(lo, text, ctx, out)

    # ------------------------------------------------------------------ free GPUs, uplinks and routes
    def _free(self, pod: str, lo: LeaseOptions, ctx: str) -> int:
        """A pod's free GPUs at their lowest in the lease's term."""
        if ctx == "plan":
            return int(self.pod_use.loc[[(pod, w) for w in range(lo.t0 + 1, lo.t1 + 2)], "free_gpus"].min())
        return int(self.base.gpu[self.pod_pos[pod], lo.t0:lo.t1 + 1].min())

    def _site_room(self, site: str, lo: LeaseOptions, ctx: str) -> int:
        """Free GPUs for one replica at a site (or, named by a hall id, in that hall)."""
        if site in self.hall_pos:
            pods = [p for p in self.sc.pods.index[self.sc.pods["hall"] == site] if self.sc.pods.at[p, "sku"] == lo.sku]
            return sum(max(self._free(p, lo, ctx), 0) for p in pods)
        pods = [self.inst.pod_ids[p] for p in lo.pods[self.site_pos[site]]]
        free = [self._free(p, lo, ctx) for p in pods]
        if lo.span == "hall":
            halls = self.sc.pods.loc[pods, "hall"].tolist()
            return max(sum(max(f, 0) for f, h in zip(free, halls, strict=True) if h == x) for x in set(halls))
        return sum(max(f, 0) for f in free) if lo.span == "site" else max(free)

    def _agg_free(self, hall: str, lo: LeaseOptions, ctx: str) -> tuple[float, float]:
        """A hall's aggregation Gbps free at the least in the lease's term, and its highest utilisation there."""
        weeks = list(range(lo.t0 + 1, lo.t1 + 2))
        if ctx == "plan":
            rows = self.hall_use.loc[[(hall, w) for w in weeks]]
            return (float((rows["capacity_gbps"] - rows["interpod_gbps"]).min()),
                    float(rows["utilisation"].max()))
        h = self.hall_pos[hall]
        left = self.base.agg[h, lo.t0:lo.t1 + 1]
        cap = float(self.sc.halls.at[hall, "aggregation_gbps"])
        return float(left.min()) / KBPS, float(1 - left.min() / KBPS / cap)

    def _route_room(self, site: str, lo: LeaseOptions, ctx: str) -> float:
        """Gbps free on the roomiest SLO-meeting route from ``site``, through the term."""
        best = -math.inf
        weeks = list(range(lo.t0 + 1, lo.t1 + 2))
        for p in lo.paths.get(self.site_pos[site], []):
            if ctx == "plan":
                rows = self.link_use.loc[[(e, w) for e in p.spans for w in weeks]]
                room = float((rows["limit_gbps"] - rows["gbps"]).min())
            else:
                room = float(self.base.link[p.span_idx, lo.t0:lo.t1 + 1].min()) / MBPS
            best = max(best, room)
        return best

    def _check_sites(self, lo: LeaseOptions, text: str, ctx: str, out: list[str]) -> None:
        for m in re.finditer(r"at (\S+), (" + NUM + r") \S+ GPUs free "
                             r"(?:in its roomiest pod|across its pods|across its roomiest hall's pods) through "
                             + WEEKS + r", needs (" + NUM + ")", text):
            real = self._site_room(m[1], lo, ctx)
            if real != int(num(m[2])) or real >= int(num(m[3])):
                out.append(f"{m[1]}: {m[2]} GPUs free, really {real}")
        for m in re.finditer(r"the roomiest, ([A-Z][\w-]*), keeps (" + NUM + ")", text):
            real = self._site_room(m[1], lo, ctx)
            if real != int(num(m[2])) or real >= lo.gpus:
                out.append(f"{m[1]}: keeps {m[2]} GPUs, really {real}")
        for m in re.finditer(r"at (\S+), (?:(?!at )[^;]*; )*?(" + NUM + r") Gbps free on its roomiest route to \S+ "
                             r"through " + WEEKS + r", needs (" + NUM + ") Gbps", text):
            route = self._route_room(m[1], lo, ctx)
            if not route - 10 ** -decimals(m[2]) - 1e-3 <= num(m[2]) <= route + 1e-3 or num(m[2]) >= num(m[3]):
                out.append(f"{m[1]}: {m[2]} Gbps free on its route, really {route:.3f}")
        for m in re.finditer(r"hall (\S+), has aggregation at (\d+) % in (" + WEEKS + r") \((" + NUM
                             + r") Gbps free\)", text):
            free, used = self._agg_free(m[1], lo, ctx)
            if not free - 10 ** -decimals(m[4]) - 1e-3 <= num(m[4]) <= free + 1e-3 or abs(used * 100 - int(m[2])) > 1:
                out.append(f"hall {m[1]}: {m[4]} Gbps free at {m[2]} %, really {free:.3f} at {used:.1%}")
            need = re.search(r"sends (" + NUM + r") Gbps over its hall", text)
            if need and num(need[1]) <= num(m[4]):
                out.append(f"hall {m[1]} said short with {m[4]} Gbps free for a need of {need[1]} Gbps")
        for m in re.finditer(r"no allowed pod uplink has (" + NUM + r") Gbps free through " + WEEKS
                             + r"; the roomiest, (\S+), has (" + NUM + ") Gbps", text):
            weeks = list(range(lo.t0 + 1, lo.t1 + 2))
            if ctx == "plan":
                rows = self.pod_use.loc[[(m[2], w) for w in weeks]]
                up = float((rows["uplink_capacity_gbps"] - rows["uplink_gbps"]).min())
            else:
                up = float(self.base.uplink[self.pod_pos[m[2]], lo.t0:lo.t1 + 1].min()) / KBPS
            if not up - 10 ** -decimals(m[3]) - 1e-3 <= num(m[3]) <= up + 1e-3 or num(m[3]) >= num(m[1]):
                out.append(f"uplink of {m[2]}: {m[3]} Gbps free, really {up:.3f}")

    # ------------------------------------------------------------------ fixes
    def _apply(self, lo: LeaseOptions, res: Residual, atom: str) -> tuple[LeaseOptions, Residual] | None:
        atom = atom.strip()
        if m := re.search(r"<= (" + NUM + r") GPUs per replica", atom):
            return (variant(lo, gpus=int(num(m[1]))), res) if num(m[1]) >= 1 else None
        if m := re.search(r"span=(pod|hall|site)", atom):
            return variant(lo, span=m[1]), res
        if m := re.search(r"egress <= (" + NUM + r") Gbps", atom):
            return (variant(lo, egress_gbps=num(m[1])), res) if num(m[1]) > 0 else None
        if m := re.search(r"SLO >= (" + NUM + r") ms", atom):
            return variant(lo, slo_ms=num(m[1])), res
        if m := re.fullmatch(r"(?:fits with )?allow (\S+)", atom):
            return variant(lo, allow=self.site_pos[m[1]]), res
        if m := re.search(r"replicas <= (\d+)", atom):
            return (variant(lo, replicas=int(m[1])), res) if int(m[1]) >= 1 else None
        if re.search(r"(?:without|no) anti-affinity", atom):
            return variant(lo, anti_affinity=False), res
        caps = [(r"\+(" + NUM + r") MW at (\S+) in (" + WEEKS + ")", "power", 1e6, self.site_pos),
                (r"\+(" + NUM + r") Gbps on span (\S+) in (" + WEEKS + ")", "link", MBPS, self.span_pos),
                (r"\+(" + NUM + r") Gbps uplink on pod (\S+) in (" + WEEKS + ")", "uplink", KBPS, self.pod_pos),
                (r"\+(" + NUM + r") Gbps aggregation in hall (\S+) in (" + WEEKS + ")", "agg", KBPS, self.hall_pos)]
        if m := re.fullmatch(r"(" + NUM + r") free \S+ GPUs in pod (\S+) in (" + WEEKS + r") \(now (" + NUM
                             + r") at the least\)", atom):
            pod, weeks = self.pod_pos[m[2]], [w - 1 for w in weeks_of(m[3])]
            if num(m[4]) >= num(m[1]) or num(m[1]) > int(self.sc.pods["gpus"].iat[pod]):
                return None
            room = res.copy()
            room.gpu[pod, weeks] = room.gpu[pod, weeks].clip(min=int(num(m[1])))
            return lo, room
        for pattern, attr, scale, pos in caps:
            if m := re.search(pattern, atom):
                if num(m[1]) <= 0:
                    return None
                room = res.copy()
                arr = getattr(room, attr)
                arr[pos[m[2]], [w - 1 for w in weeks_of(m[3])]] += int(num(m[1]) * scale + 1e-6)
                return lo, room
        return None

    def _check_fix(self, lo: LeaseOptions, res: Residual, fix: str) -> bool:
        atoms = re.split(r" and (?=\+|\d|fits|SLO|allow|no |without)", re.sub(r"^fits with ", "", fix))
        cur, room = lo, res
        for a in atoms:
            whole = a.startswith(("+", "allow", "fits")) or a[:1].isdigit()
            got = self._apply(cur, room, a if whole else "fits with " + a)
            if got is None:
                return False
            cur, room = got
        return room.fit(cur) is not None

    # ------------------------------------------------------------------ one row
    def _window(self, r: pd.Series) -> tuple[LeaseOptions, str, str, list[str]]:
        """A windowed lease's row: the start it reports (its reason and fix without the window's words), problems.

        The row must name every start of the window as tried, and no start may fit what
        the plan leaves unless the row says the lease fits (optimality or price).
        """
        opts = [lo for lo in self.inst.leases if lo.group == str(r["lease"])]
        reason, fix, problems = str(r["reason"]), str(r["fix"]), []
        m = re.fullmatch(r"no start in its window fits \(tried starting in (" + WEEKS + r"), (\d+) weeks each\); "
                         r"starting in week (\d+): (.*)", reason)
        f = re.fullmatch(r"starting in week (\d+): (.*)", fix)
        if m is None or f is None or f[1] != m[3]:
            return opts[0], reason, fix, [f"a windowed lease's row without its window: {reason!r} / {fix!r}"]
        if weeks_of(m[1]) != [lo.t0 + 1 for lo in opts]:
            problems.append(f"tried {m[1]}, but the window's starts are {[lo.t0 + 1 for lo in opts]}")
        if int(m[2]) != opts[0].weeks:
            problems.append(f"{m[2]} weeks each, but the lease runs {opts[0].weeks}")
        if r["family"] not in {"price", "optimality"}:
            problems += [f"start week {lo.t0 + 1} fits what the plan leaves" for lo in opts
                         if self.res.fit(lo) is not None]
        lo = next((o for o in opts if o.t0 + 1 == int(m[3])), opts[0])
        return lo, m[4], f[2], problems

    def row(self, r: pd.Series) -> RowAudit:
        reason, fix = str(r["reason"]), str(r["fix"])
        window: list[str] = []
        if str(r["lease"]) in self.by_id:
            lo = self.by_id[str(r["lease"])]
        else:  # a lease with a start window: audited at the start its row reports
            lo, reason, fix, window = self._window(r)
        plan_ctx = "beside the placed leases" in reason or "took the room" in reason
        a = RowAudit(lo.lease, "plan" if plan_ctx else "internal")
        a.problems += window
        res = self.res if plan_ctx else self.base
        self._check_numbers(lo, reason + " | " + fix, a.context, a.problems)
        if r["family"] in {"price", "optimality"}:
            if self.res.fit(lo) is None:
                a.problems.append(f"family {r['family']} but it does not fit what the plan leaves")
            return a
        if not plan_ctx and self.base.fit(lo) is not None:
            a.problems.append("said not to fit with internal work alone, but it does")
        if plan_ctx and self.res.fit(lo) is not None:
            a.problems.append("said not to fit beside the plan, but it does")
        body = re.sub(r" \((?:beside the placed leases|with internal work alone|or a higher price)\)$", "", fix)
        body = body.removesuffix(" (or a higher price)")
        for alt in re.split(r"; or |; | or (?=fits|span|without|allow|needs)", body):
            if not alt or alt.startswith(("no single change", "run longer", "pays for itself")):
                continue
            a.fixes += 1
            if self._check_fix(lo, res, re.sub(r"^needs (?=\+)", "", alt)):
                a.verified += 1
            else:
                a.unverified.append(alt)
        who = [str(x) for x in (r["crowded_out_by"] or ())]
        if who:
            each = "any one of" in reason or len(who) == 1
            groups = [[x] for x in who] if each else [who]
            ok = True
            for g in groups:
                for x in g:
                    self.res.apply(self.by_id[self.held[x]], self.fits[self.held[x]], sign=+1)
                ok &= self.res.fit(lo) is not None
                for x in g:
                    self.res.apply(self.by_id[self.held[x]], self.fits[self.held[x]])
            a.crowders_ok = ok
        return a

    def audit(self) -> Audit:
        return Audit([self.row(r) for _, r in self.plan.unplaced.iterrows()])


def audit_plan(sc: planner.Scenario, plan: planner.plan.Plan) -> Audit:
    """Audit every reason of ``plan`` (see the module docstring)."""
    return Auditor(sc, plan).audit()


def main(argv: list[str]) -> None:
    """Audit a results folder: ``python -m tests.reasons_audit RESULTS_DIR [SCENARIO]``."""
    sc = planner.load_scenario(argv[1] if len(argv) > 1 else None)
    plan = planner.plan.Plan.from_json(Path(argv[0]) / "plan.json", sc)
    au = audit_plan(sc, plan)
    sys.stdout.write(au.summary() + "\n")
    for r in au.rows:
        if r.problems or r.unverified or r.crowders_ok is False:
            sys.stdout.write(f"  {r.lease} [{r.context}]: {'; '.join(r.problems)}"
                             f"{' | unverified: ' + ' / '.join(r.unverified) if r.unverified else ''}"
                             f"{' | crowders wrong' if r.crowders_ok is False else ''}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
