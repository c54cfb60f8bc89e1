"""Room made at a site for a lease the LP carries (a move of the site-level warm start)."""

from __future__ import annotations

from pathlib import Path

import planner
from planner.optimise.bounds.site_lp import site_relaxation
from planner.optimise.heuristics.first_fit import fill
from planner.optimise.heuristics.greedy import greedy_pass, plan_value, price_order
from planner.optimise.heuristics.make_room import make_room
from planner.optimise.heuristics.polish import polish
from planner.optimise.instance import build_instance
from planner.optimise.residual import Residual
from tests.test_pod_fill import assert_plan_and_residual
from tests.tiny import base, lease, write


def test_room_for_a_fleet_that_no_one_pods_eviction_makes(tmp_path: Path) -> None:
    """Two cheap leases fill a pod each; a dear two-replica fleet needs both pods: the polish cannot, this move can."""
    d = base()
    d["leases"] = [lease("C1", 60, price=1.0, allowed_sites="SA"), lease("C2", 60, price=1.0, allowed_sites="SA"),
                   lease("F", 70, price=3.0, replicas=2, allowed_sites="SA")]
    inst = build_instance(planner.load_scenario(write(tmp_path, d)))
    by_id = {lo.lease: lo for lo in inst.leases}
    fits, res, _ = fill(inst, [by_id["C1"], by_id["C2"]], Residual(inst))
    assert set(fits) == {"C1", "C2"} and {f.parts[0][0] for k in fits for f in fits[k]} == {0, 1}
    polished, _ = polish(inst, fits, res, max_tries=1000)
    assert "F" not in polished  # one pod's eviction frees 100 GPUs; the fleet's two 70-GPU replicas need two pods
    room, room_res, moves = make_room(inst, fits, res, {"F": 1.0}, max_moves=10)
    assert set(room) == {"F"} and moves == 1
    assert plan_value(inst, room) > plan_value(inst, fits)
    assert_plan_and_residual(inst, room, room_res)
    assert set(fits) == {"C1", "C2"}  # the plan given is not changed


def test_room_made_on_a_generated_campus_holds_every_limit(tmp_path: Path) -> None:
    """From the greedy's plan: worth more, every limit recomputed, the residual the plan's, the same every time."""
    from planner.generate import generate

    inst = build_instance(planner.load_scenario(generate("small", seed=3, out_dir=tmp_path)))
    rel = site_relaxation(inst)
    fits, res, _ = greedy_pass(inst, price_order(inst))
    room, room_res, moves = make_room(inst, fits, res, rel.placed, max_moves=500)
    assert 0 < moves <= 500
    assert plan_value(inst, room) > plan_value(inst, fits) * 1.05  # $645.8 M -> $709.8 M in 14 moves
    assert_plan_and_residual(inst, room, room_res)
    again, _, _ = make_room(inst, fits, res, rel.placed, max_moves=500)
    assert again == room
    _, _, used = make_room(inst, fits, res, rel.placed, max_moves=3)
    assert used == 3
