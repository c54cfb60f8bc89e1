"""Typed results and the constraint-family table: the status enum, the solver's facts, one table of families."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import planner
from planner.optimise.families import CAPACITIES, FAMILIES, RULES, Family
from planner.optimise.instance import build_instance
from planner.optimise.optimiser import optimise
from planner.optimise.residual import Residual
from planner.plan import Plan, SolverFacts, Status
from tests.tiny import base, lease, write


def _scenario(tmp_path: Path) -> planner.Scenario:
    d = base()
    d["leases"] = [lease("L1", 80, price=3, allowed_sites="SA"), lease("L2", 80, price=2),
                   lease("L3", 90, price=1, replicas=2, anti_affinity=True)]
    return planner.load_scenario(write(tmp_path, d))


@pytest.mark.parametrize("method", ["pods", "sites"])
def test_status_and_facts_are_typed_and_plan_json_keeps_its_words(tmp_path: Path, method: str) -> None:
    sc = _scenario(tmp_path)
    plan = optimise(sc, time_limit_s=5, method=method)  # type: ignore[arg-type]
    assert isinstance(plan.status, Status) and plan.status.found
    facts = plan.facts
    assert facts is not None and facts.method == method
    assert facts.to_meta() == {k: v for k, v in plan.meta.items() if k in facts.to_meta()}
    assert list(facts.to_meta()) == [k for k in plan.meta if k in facts.to_meta()]  # plan.json's order
    assert (facts.lns is not None) == (method == "sites")
    doc = json.loads(plan.to_json())
    assert doc["status"] == str(plan.status) and doc["meta"]["solver_status"] == str(facts.solver_status)
    back = Plan.from_json(plan.to_json(), sc)
    assert isinstance(back.status, Status) and back.status == plan.status
    assert back.facts is not None and json.dumps(back.facts.to_meta(), default=str) == \
        json.dumps(facts.to_meta(), default=str)


def test_greedy_has_no_solver_facts_and_heuristic_status(tmp_path: Path) -> None:
    plan = planner.greedy(_scenario(tmp_path))
    assert plan.status is Status.HEURISTIC and not plan.status.found
    assert plan.facts is None


def test_an_unknown_status_in_plan_json_is_refused_with_the_words_it_may_be(tmp_path: Path) -> None:
    sc = _scenario(tmp_path)
    doc = json.loads(planner.greedy(sc).to_json())
    doc["status"] = "GOOD"
    with pytest.raises(ValueError, match=r"plan.json status 'GOOD' is not one of OPTIMAL, FEASIBLE, HEURISTIC"):
        Plan.from_json(json.dumps(doc), sc)


def test_every_family_is_declared_once_and_read_by_the_residual_and_model(tmp_path: Path) -> None:
    """The table names every family; the ledger has one array per capacity; model rows are counted per family."""
    assert set(FAMILIES) == {f.value for f in Family} == {c.family for c in CAPACITIES} | set(RULES)
    assert not {c.family for c in CAPACITIES} & set(RULES)
    sc = _scenario(tmp_path)
    inst = build_instance(sc)
    res = Residual(inst)
    weeks = inst.pod_free.shape[1]
    for c in CAPACITIES:
        left = getattr(res, c.ledger)
        assert left.shape[1] == weeks
        np.testing.assert_array_equal(left, c.weekly(inst))
    plan = optimise(sc, time_limit_s=5, method="pods")
    assert plan.facts is not None and plan.facts.constraints_by_family is not None
    assert set(plan.facts.constraints_by_family) <= set(FAMILIES) | {"gpus_count"}


def test_solver_facts_from_meta_needs_a_solver() -> None:
    assert SolverFacts.from_meta({"internal": []}) is None
