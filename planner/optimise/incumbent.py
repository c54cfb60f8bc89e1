"""The one channel for a solve's plans and bounds: it never reports a worse plan or a looser bound.

Plans come from several steps -- the warm start, each round of focused search and
its polish, the whole model's CP-SAT search, the neighbourhood search, the final
polish -- and bounds from the LP relaxations and CP-SAT. A step may well find a
plan worth less than one an earlier step found (a focused search starts over in
part of the model), or a bound looser than one already known (CP-SAT's first bound
on the whole model is far above the LP's). :class:`Incumbent` passes a plan on only
when it is worth more than every plan before it, and a bound only when it is
tighter, so the reported best value never falls and the bound never rises; it also
keeps the best plan whose placements it was given, so the plan a solve returns is
never worth less than the best it reported.

Examples
--------
>>> seen = []
>>> inc = Incumbent(sink=seen.append, start=0.0)
>>> inc.tighten(100.0)
False
>>> inc.offer(90.0, {"L1": []})
True
>>> inc.offer(80.0, {"L2": []}), inc.tighten(120.0), inc.tighten(95.0)
(False, False, True)
>>> [(p.objective_usd, p.bound_usd) for p in seen]
[(90.0, 100.0), (90.0, 95.0)]
>>> inc.best_fits
{'L1': []}
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from planner.optimise.apis import ApiSolution
from planner.optimise.residual import ReplicaFit
from planner.plan import relative_gap

__all__ = ["TOLERANCE_USD", "Fits", "Incumbent", "Progress"]

Fits = dict[str, list[ReplicaFit]]

TOLERANCE_USD = 0.01
"""Plans and bounds closer than this (a cent) count as equal: no new report."""


@dataclass(frozen=True)
class Progress:
    """A new incumbent or bound: when (seconds since the build started), the plan's value, the bound and the gap.

    The first ones come from the warm start, before the search proper.
    """

    wall_s: float
    objective_usd: float
    bound_usd: float
    gap: float


@dataclass
class Incumbent:
    """The best plan and the tightest bound of a solve, and what was reported of them.

    Parameters
    ----------
    sink
        Called with a :class:`Progress` at every better plan, and at every tighter
        bound once a plan exists (from whichever thread found it).
    start
        ``time.perf_counter()`` that :attr:`Progress.wall_s` counts from.
    bound
        A bound known before the first plan (default: none).
    """

    sink: Callable[[Progress], None] | None = None
    start: float = field(default_factory=time.perf_counter)
    bound: float = float("inf")
    value: float = -float("inf")
    """The best plan's value reported so far (``-inf``: none yet)."""
    history: list[Progress] = field(default_factory=list)
    best_fits: Fits | None = None
    """The placements of the best plan handed over with its placements (CP-SAT's own are read once it ends)."""
    best_fits_value: float = -float("inf")
    best_api: ApiSolution | None = None
    """The API service of :attr:`best_fits` when a step handed it over (``None``: the greedy filler's on them)."""
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def has_plan(self) -> bool:
        """Whether any plan has been reported."""
        return self.value > -float("inf")

    def offer(self, value: float | None = None, fits: Fits | None = None, *, bound: float | None = None,
              api: ApiSolution | None = None) -> bool:
        """A plan worth ``value`` (with its placements, if at hand) and/or a proven ``bound``.

        The plan is reported if it beats every plan so far, the bound if it is tighter
        than every bound so far (once a plan exists); one :class:`Progress` covers
        both. Returns whether anything was reported. Placements given are kept when
        they are the best given so far, reported or not (CP-SAT's plans arrive without
        them, and again with them, at the value already reported, once a search ends).
        ``api`` is the plan's API service, kept with its placements.
        """
        with self._lock:
            news = False
            if bound is not None and bound < self.bound - TOLERANCE_USD:
                self.bound = bound
                news = True
            if value is not None:
                if fits is not None and value > self.best_fits_value + TOLERANCE_USD:
                    self.best_fits, self.best_fits_value, self.best_api = fits, value, api
                if value > self.value + TOLERANCE_USD:
                    self.value = value
                    news = True
            if news and self.has_plan:
                self._report()
                return True
            return False

    def tighten(self, bound: float) -> bool:
        """A proven bound: kept if tighter than every bound so far, reported once a plan exists."""
        return self.offer(bound=bound)

    def _report(self) -> None:
        bound = max(self.bound, self.value)
        p = Progress(time.perf_counter() - self.start, self.value, bound, relative_gap(self.value, bound))
        self.history.append(p)
        if self.sink is not None:
            self.sink(p)
