"""What-if tasks on a real dask.distributed LocalCluster: same results as in-process, retries, a killed worker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import planner
from planner.optimise.heuristics.greedy import greedy
from planner.plan import Plan
from planner.whatif import cut_cases, evaluate_cut, failure_analysis, local_cluster, run_tasks, sweep
from planner.whatif.cuts import Case
from tests.tiny import triangle, write


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two worker processes on 127.0.0.1, one thread each, no dashboard; closed after the module."""
    with local_cluster(n_workers=2) as c:
        assert c.scheduler_address.startswith("tcp://127.0.0.1:")
        assert len(c.workers) == 2
        yield c


@pytest.fixture(scope="module")
def tri(tmp_path_factory: pytest.TempPathFactory) -> tuple[planner.Scenario, Plan]:
    sc = planner.load_scenario(write(tmp_path_factory.mktemp("tri"), triangle()))
    return sc, greedy(sc)


def test_cut_analysis_on_the_cluster_equals_the_serial_run(cluster: Any, tri: tuple[planner.Scenario, Plan]) -> None:
    sc, plan = tri
    seen: list[tuple[int, int, str]] = []
    # by address, as `--scheduler tcp://HOST:PORT` does
    dist = failure_analysis(sc, plan, replan=True, time_limit_s=5, scheduler=cluster.scheduler_address,
                            on_progress=lambda done, total, key: seen.append((done, total, key)))
    serial = failure_analysis(sc, plan, replan=True, time_limit_s=5, serial=True)
    assert dist.failed == []
    pd.testing.assert_frame_equal(dist.cases, serial.cases)
    pd.testing.assert_frame_equal(dist.routes, serial.routes)
    assert [s[0] for s in seen] == [1, 2, 3, 4] and {s[1] for s in seen} == {4}
    assert sorted(s[2] for s in seen) == sorted(c.id for c in cut_cases(sc))


def test_sweep_on_the_cluster_equals_the_serial_run(cluster: Any, tri: tuple[planner.Scenario, Plan]) -> None:
    sc, _ = tri
    grid = {"parameters": {"price_factor": [1.0, 2.0], "slo_factor": [1.0, 0.5]}, "time_limit_s": 5}
    dist = sweep(sc, grid, scheduler=cluster)
    serial = sweep(sc, grid, serial=True)
    pd.testing.assert_frame_equal(dist.drop(columns="wall_s"), serial.drop(columns="wall_s"))
    assert (dist["status"] == "OPTIMAL").all()


# --------------------------------------------------------------------------- faults
def _die_once(shared: tuple[planner.Scenario, Plan], job: tuple[Case, str]) -> dict[str, Any]:
    """Evaluate a case, but kill the worker process the first time the ``srlg:east`` case runs."""
    sc, plan = shared
    case, marker_dir = job
    marker = Path(marker_dir) / f"{case.id.replace(':', '_')}.started"
    if case.id == "srlg:east" and not marker.exists():
        marker.touch()
        os._exit(1)  # the worker process dies mid-task; its nanny starts a new one
    return evaluate_cut(sc, plan, case)


def _fail_always(shared: object, job: tuple[str, str]) -> str:
    """Fail for item ``bad`` (counting attempts in files), succeed for the others."""
    name, marker_dir = job
    if name == "bad":
        attempts = len(list(Path(marker_dir).glob("bad.*")))
        (Path(marker_dir) / f"bad.{attempts}").touch()
        msg = f"boom on attempt {attempts + 1}"
        raise RuntimeError(msg)
    return name.upper()


def test_a_killed_worker_does_not_lose_a_case(cluster: Any, tri: tuple[planner.Scenario, Plan],
                                              tmp_path: Path) -> None:
    sc, plan = tri
    cases = cut_cases(sc)
    results = run_tasks(_die_once, (sc, plan), [(c, str(tmp_path)) for c in cases], keys=[c.id for c in cases],
                        scheduler=cluster)
    assert (tmp_path / "srlg_east.started").exists(), "the fault was injected"
    assert [r.key for r in results] == [c.id for c in cases]
    assert all(r.ok for r in results), [r.error for r in results]
    expected = [evaluate_cut(sc, plan, c) for c in cases]
    assert repr([r.value for r in results]) == repr(expected)  # repr: NaN equals NaN, floats exactly


@pytest.mark.parametrize("where", ["cluster", "serial"])
def test_a_task_failing_twice_is_reported_not_lost(cluster: Any, tmp_path: Path, where: str) -> None:
    items = [(name, str(tmp_path)) for name in ("a", "bad", "c")]
    kw: dict[str, Any] = {"serial": True} if where == "serial" else {"scheduler": cluster}
    results = run_tasks(_fail_always, None, items, keys=["a", "bad", "c"], **kw)
    assert [r.value for r in results] == ["A", None, "C"]
    assert results[1].error == "RuntimeError: boom on attempt 2"
    assert len(list(tmp_path.glob("bad.*"))) == 2, "tried once, retried once"
