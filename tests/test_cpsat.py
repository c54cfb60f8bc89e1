"""The optimiser package's seams: greedy without OR-Tools, CP-SAT parameters passed through, model export."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ortools.sat import cp_model_pb2

import planner
from planner.optimise.optimiser import Optimiser
from tests.tiny import base, lease, write


def _scenario(tmp_path: Path) -> planner.Scenario:
    d = base()
    d["leases"] = [lease("L1", 80, price=3, allowed_sites="SA"), lease("L2", 80, price=2),
                   lease("L3", 90, price=1)]
    return planner.load_scenario(write(tmp_path, d))


def test_greedy_does_not_import_or_tools(tmp_path: Path) -> None:
    """`planner.greedy` (and `import planner`) run without loading OR-Tools, so a HiGHS process can use them."""
    code = textwrap.dedent(f"""
        import sys
        import planner
        assert "ortools" not in sys.modules, "import planner loaded OR-Tools"
        sc = planner.load_scenario({str(write(tmp_path, base()))!r})
        plan = planner.greedy(sc)
        assert plan.check(sc) == []
        loaded = sorted(m for m in sys.modules if m.split(".")[0] == "ortools")
        assert not loaded, loaded
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr


def test_cp_sat_parameters_reach_every_solve(tmp_path: Path) -> None:
    """A text proto and a mapping both reach CP-SAT, over the optimiser's own settings; the plan stays valid."""
    sc = _scenario(tmp_path)
    for given in ("linearization_level: 2 ignore_subsolvers: 'ls'", {"linearization_level": 2,
                                                                    "ignore_subsolvers": ["ls"]}):
        opt = Optimiser(sc, time_limit_s=5, method="pods", cp_sat_parameters=given)
        plan = opt.solve()
        assert plan.check(sc) == []
        assert opt.solver is not None
        prm = opt.solver.parameters
        assert prm.linearization_level == 2
        assert "ls" in prm.ignore_subsolvers and "core" in prm.ignore_subsolvers  # merged, not replaced
        assert prm.num_workers == 2 and prm.random_seed == 0


@pytest.mark.parametrize("given", ["no_such_field: 1", {"no_such_field": 1}, "linearization_level: 'high'"])
def test_bad_cp_sat_parameters_are_refused_before_any_work(tmp_path: Path, given: object) -> None:
    sc = _scenario(tmp_path)
    with pytest.raises(ValueError, match=r"CP-SAT parameters: .*SatParameters"):
        Optimiser(sc, cp_sat_parameters=given)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["model.pb", "model.pbtxt"])
def test_exported_model_reads_back_with_its_hint(tmp_path: Path, name: str) -> None:
    """The exported pod-level model is the model solved: same variables and constraints, the warm start as hint."""
    sc = _scenario(tmp_path)
    opt = Optimiser(sc, time_limit_s=5, method="pods")
    path = opt.export_model(tmp_path / name)
    proto = cp_model_pb2.CpModelProto()
    if name.endswith(".pbtxt"):
        from google.protobuf import text_format

        text_format.Parse(path.read_text(encoding="utf-8"), proto)
    else:
        proto.ParseFromString(path.read_bytes())
    assert opt.model is not None
    assert len(proto.variables) == len(opt.model.cp.proto.variables) > 0
    assert len(proto.constraints) == len(opt.model.cp.proto.constraints)
    assert len(proto.solution_hint.vars) > 0
    assert opt.solve().check(sc) == []  # exporting does not stop the solve


def test_the_site_level_method_has_no_model_to_export(tmp_path: Path) -> None:
    opt = Optimiser(_scenario(tmp_path), time_limit_s=5, method="sites")
    with pytest.raises(ValueError, match="site-level method has no single CP-SAT model"):
        opt.export_model(tmp_path / "model.pb")
