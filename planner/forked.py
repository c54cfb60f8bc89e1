"""Independent pieces of one computation run side by side in forked processes, in order.

Some steps work through thousands of items that share one large read-only state and
do not depend on each other: the reason of each left-out lease, for instance, reads
the plan's residual and never changes it. :func:`forked_map` runs such a step in
child processes made with ``fork``, so the state is shared as it is (nothing is
pickled but the slice bounds going out and the results coming back), and returns
the results in item order: the answer never depends on the number of processes.

Children are forked on Linux only (macOS offers ``fork`` but its system frameworks
do not survive it, which is why Python spawns there) and never from a daemonic
process (a ``multiprocessing`` pool's worker may not have children). Elsewhere, or
when one process is asked for, the items are worked through in this process, with
the same answer.

An error raised in a child is raised in the caller (the first one, as soon as it
comes); an exception type that cannot be pickled arrives as
``concurrent.futures.process.BrokenProcessPool``, as does a child that dies.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import TypeVar, cast

__all__ = ["MIN_ITEMS", "can_fork", "forked_map"]

T = TypeVar("T")

MIN_ITEMS = 64
"""Below this many items a step runs in this process: starting children would cost more than it saves."""

_CHUNKS_PER_PROCESS = 8  # slices per process: enough that one slow slice does not leave a process idle

_STEPS: dict[int, Callable[[int, int], Sequence[object]]] = {}
"""The steps being mapped, by key: set just before the children are forked, read from their copy of this module."""


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def can_fork() -> bool:
    """Whether this process may fork children here: on Linux, and not itself a daemonic process."""
    return sys.platform.startswith("linux") and not mp.current_process().daemon


def _child_start(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it ends the children
    # A parent killed outright (SIGKILL, SIGTERM) cannot end its children, and a pool's idle child waits for work
    # for ever: Linux ends it when the parent goes (prctl PR_SET_PDEATHSIG).
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent went before the request was made
        os._exit(1)


def _child_run(task: tuple[int, int, int]) -> list[object]:
    key, a, b = task
    return list(_STEPS[key](a, b))


def forked_map(work: Callable[[int, int], Sequence[T]], n: int, processes: int, *,
               on_done: Callable[[int], None] | None = None, min_items: int = MIN_ITEMS) -> list[T]:
    """``work(a, b)`` for consecutive slices of ``range(n)``, in up to ``processes`` forked children.

    Parameters
    ----------
    work
        Returns the results of items ``a`` to ``b - 1``, in order. It must read its
        state and never change it: each child works on its own copy.
    n
        The number of items.
    processes
        Processes to use; with 1, fewer than ``min_items`` items, or no ``fork``
        on this platform, the work stays in this process.
    on_done
        Called in this process with the number of items done so far as slices finish
        (in this process too, when the work stays here).
    min_items
        The fewest items worth starting children for (:data:`MIN_ITEMS`); a few long
        items (whole files to write) are worth it from 2.

    Returns
    -------
    list
        The results of items ``0`` to ``n - 1``, in order, whatever ``processes`` is.

    Examples
    --------
    >>> forked_map(lambda a, b: [i * i for i in range(a, b)], 100, processes=2)[:5]
    [0, 1, 4, 9, 16]
    """
    size = max(1, -(-n // (max(processes, 1) * _CHUNKS_PER_PROCESS)))
    if processes <= 1 or n < max(min_items, 2) or not can_fork():
        out: list[T] = []
        for a in range(0, n, size):  # slice by slice here too, so that ``on_done`` tells the progress
            out.extend(work(a, min(a + size, n)))
            if on_done is not None:
                on_done(len(out))
        return out
    key = id(work)
    slices = [(key, a, min(a + size, n)) for a in range(0, n, size)]
    _STEPS[key] = work
    sys.stdout.flush()  # a child flushes its copy of these buffers when it ends: empty them, or it prints them again
    sys.stderr.flush()
    pool: ProcessPoolExecutor | None = None
    try:
        with warnings.catch_warnings():
            # Python 3.12+ warns that fork in a process with threads may deadlock a child that takes a lock
            # another thread held. The children run ``work`` alone: no console, no solver, and logging
            # makes its locks anew in a forked child.
            warnings.filterwarnings("ignore", message=r".*multi-threaded.*fork", category=DeprecationWarning)
            pool = ProcessPoolExecutor(min(processes, len(slices)), mp_context=mp.get_context("fork"),
                                       initializer=_child_start, initargs=(os.getpid(),))
            futures = [pool.submit(_child_run, sl) for sl in slices]  # the children are forked at the first
        sizes = {f: b - a for f, (_, a, b) in zip(futures, slices, strict=True)}
        pending, done_items = set(futures), 0
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                f.result()  # the first error, as soon as it comes
                done_items += sizes[f]
            if on_done is not None:
                on_done(done_items)
        results = cast("list[T]", [x for f in futures for x in f.result()])
    except BaseException:  # an error or Ctrl-C: end the children now, not after their slices
        if pool is not None:
            for proc in list((pool._processes or {}).values()):  # the executor has no public way to end them
                proc.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        del _STEPS[key]
    pool.shutdown(wait=True)
    return results
