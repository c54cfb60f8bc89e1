"""Steps run side by side in forked processes give the answer of one process, in order."""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

import planner
from planner.forked import MIN_ITEMS, can_fork, forked_map
from planner.generate import generate
from planner.optimise.heuristics.greedy import greedy
from planner.optimise.instance import build_instance
from planner.run import plan_scenario


def _pids(a: int, b: int) -> list[tuple[int, int]]:
    return [(i, os.getpid()) for i in range(a, b)]


def _pids_slowly(a: int, b: int) -> list[tuple[int, int]]:
    time.sleep(0.01)  # a slice takes a moment, so that the caller sees slices finish one after another
    return _pids(a, b)


def test_children_do_the_work_and_the_results_keep_their_order() -> None:
    assert can_fork()  # Linux, where the project is tested, forks: the parallel path is the one tested here
    n = 10 * MIN_ITEMS + 3
    seen: list[int] = []
    out = forked_map(_pids_slowly, n, processes=2, on_done=seen.append)
    assert [i for i, _ in out] == list(range(n))
    pids = {pid for _, pid in out}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2  # children (at most two), not this process
    assert seen == sorted(seen) and seen[-1] == n and len(seen) > 2  # progress after each slice


def test_one_process_or_few_items_stay_in_this_process() -> None:
    for n, processes in ((10 * MIN_ITEMS, 1), (MIN_ITEMS - 1, 2), (0, 2)):
        seen: list[int] = []
        out = forked_map(_pids, n, processes=processes, on_done=seen.append)
        assert [i for i, _ in out] == list(range(n))
        assert {pid for _, pid in out} <= {os.getpid()}
        assert seen == sorted(seen) and seen[-1:] == ([n] if n else [])  # progress slice by slice here too
    seen = []
    forked_map(_pids, 10 * MIN_ITEMS, processes=1, on_done=seen.append)
    assert len(seen) > 2


def _fails(a: int, b: int) -> list[int]:
    if a <= 2 * MIN_ITEMS < b:
        msg = f"item {2 * MIN_ITEMS} is bad"
        raise ValueError(msg)
    return list(range(a, b))


def test_an_error_in_a_child_reaches_the_caller() -> None:
    with pytest.raises(ValueError, match="is bad"):
        forked_map(_fails, 4 * MIN_ITEMS, processes=2)


def _dies(a: int, b: int) -> list[int]:
    if a == 0:
        os._exit(3)  # as a child the kernel kills for want of memory
    return list(range(a, b))


def test_a_child_that_dies_is_an_error_not_a_hang() -> None:
    with pytest.raises(BrokenProcessPool):
        forked_map(_dies, 4 * MIN_ITEMS, processes=2)


def test_ctrl_c_in_the_caller_ends_the_children_at_once(tmp_path: Path) -> None:
    log = tmp_path / "slices"

    def slow(a: int, b: int) -> list[int]:  # each slice takes a while, then says it is done
        time.sleep(0.3)
        with log.open("a") as fh:
            fh.write(f"{a}\n")
        return list(range(a, b))

    n = 4 * MIN_ITEMS  # 16 slices of 0.3 s: some 2.4 s on two processes
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))  # Ctrl-C to this process, as a terminal sends
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own, whatever ran before set
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            forked_map(slow, n, processes=2)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert multiprocessing.active_children() == []  # the children are gone, not finishing their slices
    finished = len(log.read_text().splitlines()) if log.exists() else 0
    time.sleep(1.0)  # had a child lived on, it would finish more slices now
    assert (len(log.read_text().splitlines()) if log.exists() else 0) == finished < 16


_KILLED_PARENT = """
import os, sys, time
from planner.forked import forked_map

def slow(a, b):
    os.write(1, f"{os.getpid()}\\n".encode())  # each child says who it is, in one write: lines never interleave
    time.sleep(30)
    return list(range(a, b))

forked_map(slow, 256, processes=2)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status waits to be read


def test_a_parent_killed_outright_leaves_no_children() -> None:
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_PARENT], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    children = {int(proc.stdout.readline()) for _ in range(2)}  # both children are at work
    proc.kill()  # SIGKILL: the parent can do nothing about its children
    proc.wait()
    for _ in range(100):  # the kernel ends them at once; allow a slow machine a few seconds
        if not any(_alive(pid) for pid in children):
            break
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in children), children


def test_no_children_from_a_daemonic_process() -> None:
    with multiprocessing.get_context("fork").Pool(1) as pool:  # a pool's worker is daemonic: it may not have children
        out = pool.apply(forked_map, (_pids, 4 * MIN_ITEMS, 2))
    assert len({pid for _, pid in out}) == 1  # all in that worker, no error


# --------------------------------------------------------------------------- the reasons of a plan
@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> planner.Scenario:
    """A generated medium tier (seed 11): its greedy plan leaves hundreds of leases out."""
    return planner.load_scenario(Path(generate("medium", seed=11, out_dir=tmp_path_factory.mktemp("m") / "m")))


def test_reasons_from_two_processes_equal_those_from_one(medium: planner.Scenario) -> None:
    inst = build_instance(medium)
    calls: list[tuple[int, int]] = []
    one = greedy(medium, instance=inst, workers=1)
    two = greedy(medium, instance=inst, workers=2, on_reasons=lambda k, n: calls.append((k, n)))
    assert len(two.unplaced) >= MIN_ITEMS  # enough left out that the reasons are worked out in children
    assert two.unplaced.equals(one.unplaced)
    assert two.placements.equals(one.placements)
    assert (two.unplaced["reason"] != "").all() and (two.unplaced["fix"] != "").all()
    n = len(two.unplaced)
    assert calls[-1] == (n, n) and all(m == n for _, m in calls) and len(calls) > 2


def test_a_greedy_run_reports_its_plan_before_the_reasons() -> None:
    events: list[tuple[str, float]] = []
    run = plan_scenario(method="greedy", write=False,
                        on_progress=lambda p: events.append(("plan", p.objective_usd if math.isnan(p.bound_usd)
                                                             else -1.0)),
                        on_reasons=lambda k, n: events.append(("reasons", k)))
    assert run.plan is not None
    assert events[0] == ("plan", run.plan.objective_usd)  # once, with its value and no bound, first
    assert [e for e, _ in events].count("plan") == 1
    assert events[-1] == ("reasons", len(run.plan.unplaced))
