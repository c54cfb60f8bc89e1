"""The sellable inventory: by hand on a tiny case, and against an independent recomputation."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

import planner
from planner import load_scenario
from planner.optimise.heuristics.greedy import greedy
from planner.plan import Plan
from planner.scenario import Scenario
from planner.surplus import surplus, surplus_runs
from tests import tiny


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, Plan]:
    """SA has 0.15 MW (150 GPUs of T1 at PUE 1); A1 holds 50 internal GPUs in weeks 1-2, so L1 must go to A2."""
    d = tiny.base()
    d["sites"]["sites"][0]["grid_mw"] = 0.15
    d["reservations"] = [{"pod": "A1", "site": "", "sku": "T1", "start_week": 1, "end_week": 2, "gpus": 50,
                          "note": "wave"}]
    d["leases"] = [tiny.lease("L1", 60, 3.0, allowed_sites="SA", egress_gbps=300, region="P1")]
    sc = load_scenario(tiny.write(tmp_path_factory.mktemp("hand"), d))
    plan = greedy(sc)
    assert plan.placements[["lease", "pod"]].values.tolist() == [["L1", "A2"]]
    assert plan.placements["spans"].iloc[0] == ("SA-P1",)
    return sc, plan


def test_inventory_by_hand(hand: tuple[Scenario, Plan]) -> None:
    sc, plan = hand
    inv = surplus(sc, plan).set_index(["pod", "week"])
    assert inv.loc[("A1", 1), "free_gpus"] == 50 and inv.loc[("A1", 3), "free_gpus"] == 100
    assert (inv.xs("A2", level="pod")["free_gpus"] == 40).all()
    assert (inv.xs("B1", level="pod")["free_gpus"] == 200).all()
    # SA: 150 kW less 50 internal + 60 leased in weeks 1-2 (40 GPUs of power), less 60 in weeks 3-4 (90)
    assert inv.loc[("A1", 1), "headroom_mw"] == pytest.approx(0.04)
    assert inv.loc[("A1", 2), "power_gpus"] == 40 and inv.loc[("A2", 4), "power_gpus"] == 90
    assert inv.loc[("B1", 1), "power_gpus"] == 1000
    # fibre: SA-P1 carries L1's 300 Gbps of 1,000; P1 hangs off SA alone, so every campus reaches it through it
    assert inv.loc[("A1", 1), "to_P1_gbps"] == pytest.approx(700)
    assert inv.loc[("A1", 1), "to_P2_gbps"] == pytest.approx(1000)
    assert inv.loc[("B1", 1), "to_P1_gbps"] == pytest.approx(700)
    assert set(inv["hall"]) == {"A1", "A2", "B1"}  # pods without a hall are halls of their own


def test_runs_by_hand(hand: tuple[Scenario, Plan]) -> None:
    sc, plan = hand
    runs = surplus_runs(sc, plan)
    got = runs[["site", "sku", "start_week", "end_week", "free_gpus", "power_gpus", "sellable_gpus"]]
    assert got.values.tolist() == [["SA", "T1", 1, 2, 90, 40, 40], ["SA", "T1", 3, 4, 140, 90, 90],
                                   ["SB", "T1", 1, 4, 200, 1000, 200]]
    assert runs["gpu_hours"].tolist() == [40 * 2 * 100, 90 * 2 * 100, 200 * 4 * 100]
    assert runs["to_P1_gbps"].tolist() == pytest.approx([700, 700, 700])
    assert planner.surplus is surplus and planner.surplus_runs is surplus_runs


# --------------------------------------------------------------------------- an independent recomputation
def _recompute(sc: Scenario, plan: Plan) -> pd.DataFrame:
    """The inventory from the placements, the API tables and the raw inputs alone, by loops, over every simple path."""
    pl = plan.placements
    api_gpus: dict[tuple[str, int], float] = {}
    for r in plan.api_replicas.itertuples():  # API replicas hold their GPUs (and draw their power) like leases
        api_gpus[(str(r.pod), int(r.week))] = api_gpus.get((str(r.pod), int(r.week)), 0.0) + float(r.gpus)
    rows = []
    fibre = nx.MultiGraph()
    for span, s in sc.spans.iterrows():
        fibre.add_edge(s["a"], s["b"], key=span)
    traffic = {(str(span), int(w)): 0.0 for span in sc.spans.index for w in sc.weeks}
    for (_lease, _replica), rep in pl.groupby(["lease", "replica"]):
        first = rep.iloc[0]
        for w in range(int(first["start_week"]), int(first["end_week"]) + 1):
            for span in first["spans"]:
                traffic[(span, w)] += float(rep["egress_gbps"].sum())
    for r in plan.api_routes.itertuples():  # served tokens' traffic on every span of their route
        for span in r.spans:
            traffic[(str(span), int(r.week))] += float(r.gbps)
    paths = {}
    for site in sc.sites.index:
        for pop in sc.pops.index:
            paths[(site, pop)] = [list(p) for p in nx.all_simple_edge_paths(fibre, site, pop)]
    for site in sc.sites.index:
        pue = float(sc.sites.loc[site, "pue"])
        for w in sc.weeks:
            used_kw = 0.0
            free_by_pod = {}
            for pod, p in sc.pods[sc.pods["site"] == site].iterrows():
                held = float(sc.reserved_gpus.loc[pod, w])
                held += sum(int(r.gpus) for r in pl.itertuples() if r.pod == pod and r.start_week <= w <= r.end_week)
                held += api_gpus.get((str(pod), int(w)), 0.0)
                used_kw += held * float(sc.skus.loc[p["sku"], "server_kw_per_gpu"]) * pue
                free_by_pod[pod] = round(p["gpus"] - held)
            room_mw = float(sc.site_power_mw.loc[site, w]) - used_kw / 1000.0
            gbps = {}
            for pop in sc.pops.index:
                best = 0.0
                for path in paths[(site, pop)]:
                    rooms = [float(sc.spans.loc[k, "capacity_gbps"]) * sc.settings.max_link_utilisation
                             - traffic[(k, int(w))] for _, _, k in path]
                    best = max(best, min(rooms), 0.0)
                gbps[f"to_{pop}_gbps"] = best
            for pod, free in free_by_pod.items():
                if free <= 0:
                    continue
                kw = float(sc.skus.loc[sc.pods.loc[pod, "sku"], "server_kw_per_gpu"]) * pue
                rows.append({"pod": pod, "week": int(w), "free_gpus": free,
                             "power_gpus": math.floor(max(room_mw, 0.0) * 1000.0 / kw + 1e-9), **gbps})
    return pd.DataFrame(rows).sort_values(["pod", "week"]).reset_index(drop=True)


def _compare(sc: Scenario, plan: Plan) -> pd.DataFrame:
    inv = surplus(sc, plan)
    want = _recompute(sc, plan)
    got = inv.sort_values(["pod", "week"]).reset_index(drop=True)
    assert len(got) == len(want) > 0
    assert got["pod"].tolist() == want["pod"].tolist() and got["week"].tolist() == want["week"].tolist()
    assert got["free_gpus"].tolist() == want["free_gpus"].tolist()
    assert got["power_gpus"].tolist() == want["power_gpus"].tolist()
    for c in (c for c in want.columns if c.startswith("to_")):
        assert got[c].to_numpy() == pytest.approx(want[c].to_numpy(), abs=1e-6), c
    return inv


def _runs_cover(sc: Scenario, plan: Plan, inv: pd.DataFrame) -> None:
    """Every run's weeks have its free and sellable GPUs, and no two touching runs could be one."""
    runs = surplus_runs(sc, plan, inventory=inv)
    weekly = inv.groupby(["site", "sku", "week"]).agg(free=("free_gpus", "sum"), power=("power_gpus", "first"))
    covered = 0
    for r in runs.itertuples():
        part = weekly.loc[(r.site, r.sku)].loc[r.start_week:r.end_week]
        assert len(part) == r.weeks == r.end_week - r.start_week + 1
        assert (part["free"] == r.free_gpus).all()
        assert (part[["free", "power"]].min(axis=1) == r.sellable_gpus).all()
        assert r.sellable_gpus == min(r.free_gpus, r.power_gpus)
        covered += r.weeks
    assert covered == len(weekly)
    nxt = runs.shift(-1)
    same = ((runs["site"] == nxt["site"]) & (runs["sku"] == nxt["sku"]) & (runs["end_week"] + 1 == nxt["start_week"])
            & (runs["free_gpus"] == nxt["free_gpus"]) & (runs["sellable_gpus"] == nxt["sellable_gpus"]))
    assert not same.any()


def test_against_recomputation_tiny(tmp_path: Path) -> None:
    d = tiny.base()
    d["scenario"]["settings"]["max_link_utilisation"] = 0.8
    d["scenario"]["horizon"]["periods"] = 6
    d["sites"]["sites"][1]["grid_mw"] = 0.25
    d["leases"] = [
        tiny.lease("L1", 80, 3.0, egress_gbps=400, region="P1", latency_slo_ms=5, kind="inference"),
        tiny.lease("L2", 150, 2.5, egress_gbps=300, region="P2", latency_slo_ms=10, kind="inference"),
        tiny.lease("L3", 180, 2.0, end_week=6),
        tiny.lease("L5", 100, 2.2, span="site", start_week=3, end_week=6),
        tiny.lease("L6", 40, 2.8, egress_gbps=250, region="P1", allowed_sites="SB", start_week=2, end_week=5),
    ]
    d["reservations"] = [{"pod": "A1", "site": "", "sku": "T1", "start_week": 1, "end_week": 2, "gpus": 50,
                          "note": "wave"}]
    sc = load_scenario(tiny.write(tmp_path, d))
    plan = greedy(sc)
    assert plan.check(sc) == [] and len(plan.placements) >= 3
    inv = _compare(sc, plan)
    assert (inv["to_P1_gbps"] < 800).any()  # the placed traffic shows
    _runs_cover(sc, plan, inv)


@pytest.mark.slow
def test_against_recomputation_reference() -> None:
    sc = load_scenario()
    plan = greedy(sc, explain=False)
    inv = _compare(sc, plan)
    assert set(inv["site"]) == set(sc.sites.index)
    _runs_cover(sc, plan, inv)


def test_results_folder_has_the_inventory(hand: tuple[Scenario, Plan], tmp_path: Path) -> None:
    sc, plan = hand
    out = planner.write_run(sc, plan, tmp_path / "run")
    csv = pd.read_csv(out / "surplus.csv")
    assert csv["free_gpus"].sum() == surplus(sc, plan)["free_gpus"].sum()
    runs = pd.read_csv(out / "surplus_runs.csv")
    assert runs["sellable_gpus"].tolist() == [40, 90, 200]
    readme = (out / "README.txt").read_text()
    assert "surplus.csv" in readme and "surplus_runs.csv" in readme
