"""The time limit of a solve, shared out: what each step may spend, and on which clock.

One :class:`Budget` per solve owns every time share and move cap. For each step it
gives a :class:`StepLimit` saying whether the step counts *work* -- CP-SAT's
deterministic time, local-search moves -- or *wall* time. In a deterministic run
every step counts work, so the plan does not depend on the machine's load; the wall
clock then only bounds the whole run as an outer *safety stop*
(:data:`SAFETY_FACTOR` times the limit plus :data:`SAFETY_EXTRA_S`, from the start
of the model build), and a step cut short by it is recorded as a :class:`SafetyStop`,
which ``plan.json`` and the report show.

Examples
--------
>>> b = Budget(60.0, deterministic=True)
>>> lim = b.cp_sat("focused search, round 1", FOCUS_SHARES[0])
>>> lim.clock.value, lim.seconds, lim.wall_s > 2000
('work', 24.0, True)
>>> b.polish("final polish").moves
20000
>>> Budget(60.0, deterministic=False).polish("final polish").wall_s
2.0
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["FILL_SHARE", "FOCUS_SHARES", "LNS_SHARE", "LP_WALL_S", "MASTER_SHARE", "POLISH_MOVES", "POLISH_WALL_S",
           "SAFETY_EXTRA_S", "SAFETY_FACTOR", "SITES_POLISH_SHARE", "Budget", "Clock", "SafetyStop", "StepLimit"]

log = logging.getLogger(__name__)

SAFETY_FACTOR = 30.0
"""Deterministic run: the wall clock stops the run at this multiple of the limit (plus :data:`SAFETY_EXTRA_S`).

Generous on purpose: CP-SAT's deterministic second is about a second of an idle
core's work, and how many of them a wall second holds depends on the load. On a
2-core machine the reference's three CP-SAT steps (24, 21 and 15 deterministic
seconds) took 147, 64 and 46 wall seconds beside light load, 551, 355 and 189 beside
two CPU-burning processes and other jobs (0.04-0.3 per second). A stop at twice the
limit fired under any such load; this one is meant to fire only when something is
wrong.
"""
SAFETY_EXTRA_S = 300.0
"""Deterministic run: wall seconds added to the safety stop (the model build and LP, which the limit does not count)."""

FOCUS_SHARES = (0.4, 0.35)
"""Pod-level model: shares of the limit for the rounds of focused search (see :mod:`planner.optimise.search.focus`).

The first round confines each lease to the LP's sites; the second to those and the
sites the polished plan of the first uses (the polish may move leases anywhere). On
the reference scenario (60 s, wall clock, seeds 1-3) the plans at 15 s are worth
$5,659-5,676 M, about what the whole model's search alone had at 60 s ($5,666-5,695 M).
At 60 s, one round (0.4) then the whole model: $5,690-5,707 M; two rounds: $5,699-5,706 M.
Deterministic (the CLI's run), seed 0: $5,698 M (whole model alone: $5,669 M).
"""
LNS_SHARE = 0.6
"""Site-level method, deterministic: neighbourhood search budget (CP-SAT deterministic time) per second of limit."""
FILL_SHARE = 0.1
"""Site-level method: CP-SAT time for filling pods one at a time (a warm start), per second of limit
(deterministic seconds in either kind of run: the knapsacks are small and many)."""
MASTER_SHARE = 0.5
"""Site-level method with pattern rounds: CP-SAT time for the pattern master's MIP (a plan from the patterns),
per second of limit (deterministic seconds, or wall ones in a wall-clock run)."""
SITES_POLISH_SHARE = 0.35
"""Site-level method, wall clock: share of the time limit for the local search of the warm start."""

POLISH_MOVES = 20_000
"""Deterministic run: moves a local search (eviction polish) may try, per call.

On the reference scenario every polish ends by itself well before this (the warm
start's three after 660-1,640 moves, a focused round's after about 2,300), so the cap
binds only on bigger instances -- where a wall-clock limit would have stopped them
at a point that depends on the machine's load.
"""
POLISH_WALL_S = {"warm start polish": 3.0, "focused search polish": 2.0, "final polish": 2.0}
"""Wall-clock run: seconds of each local search (the site-level warm start's is :data:`SITES_POLISH_SHARE`)."""
LP_WALL_S = 30.0
"""Wall-clock run: seconds for the LP relaxation (in a deterministic run it has the safety stop only)."""
MIN_WALL_S = 0.1
"""Least wall time a step is given, so that a step started just before the safety stop still returns a plan."""


class Clock(StrEnum):
    """What a step's limit counts."""

    WORK = "work"
    """CP-SAT's deterministic time or local-search moves: the same on any machine, under any load."""
    WALL = "wall"
    """Seconds on the wall clock."""


@dataclass(frozen=True)
class StepLimit:
    """What one step may spend.

    Attributes
    ----------
    step
        The step's name (as :class:`SafetyStop` and the log give it).
    clock
        :attr:`Clock.WORK` or :attr:`Clock.WALL`.
    seconds
        A CP-SAT step's limit: deterministic seconds on the work clock, wall seconds
        on the wall clock (``None`` for a local search).
    moves
        A local search's move cap on the work clock (``None``: no cap).
    wall_s
        Wall seconds the step may run: its limit on the wall clock; on the work
        clock, the time left before the safety stop.
    """

    step: str
    clock: Clock
    seconds: float | None
    moves: int | None
    wall_s: float

    @property
    def wall_is_safety_stop(self) -> bool:
        """Whether reaching :attr:`wall_s` is a safety stop (work clock) rather than the step's own limit."""
        return self.clock is Clock.WORK


@dataclass(frozen=True)
class SafetyStop:
    """The wall clock cut a deterministic step short: which step, and when (seconds since the build started)."""

    step: str
    at_s: float


@dataclass
class Budget:
    """The time limit of one solve, shared out over its steps.

    Parameters
    ----------
    time_limit_s
        The solve's limit: CP-SAT deterministic seconds when ``deterministic``, else
        wall seconds.
    deterministic
        Every step counts work (see the module docs), the wall clock is a safety stop only.
    start
        ``time.perf_counter()`` when the solve began (the model build); now by default.
    """

    time_limit_s: float
    deterministic: bool
    start: float = field(default_factory=time.perf_counter)
    safety_stops: list[SafetyStop] = field(default_factory=list)

    @property
    def clock(self) -> Clock:
        """The clock every step of this solve counts."""
        return Clock.WORK if self.deterministic else Clock.WALL

    @property
    def safety_s(self) -> float:
        """Wall seconds after :attr:`start` at which a deterministic run stops anyway (infinite otherwise)."""
        return SAFETY_FACTOR * self.time_limit_s + SAFETY_EXTRA_S if self.deterministic else float("inf")

    def elapsed(self) -> float:
        """Wall seconds since :attr:`start`."""
        return time.perf_counter() - self.start

    def safety_left(self) -> float:
        """Wall seconds left before the safety stop (at least :data:`MIN_WALL_S`)."""
        return max(self.safety_s - self.elapsed(), MIN_WALL_S)

    # ------------------------------------------------------------------ steps
    def cp_sat(self, step: str, share: float, *, wall_s: float | None = None) -> StepLimit:
        """A CP-SAT search for ``share`` of the limit (wall clock: ``wall_s`` if given, else that share)."""
        seconds = share * self.time_limit_s
        if self.deterministic:
            return StepLimit(step, Clock.WORK, seconds, None, self.safety_left())
        wall = max(seconds if wall_s is None else wall_s, 0.0)
        return StepLimit(step, Clock.WALL, wall, None, wall)

    def polish(self, step: str) -> StepLimit:
        """A local search: :data:`POLISH_MOVES` moves, or its seconds in :data:`POLISH_WALL_S`."""
        if self.deterministic:
            return StepLimit(step, Clock.WORK, None, POLISH_MOVES, self.safety_left())
        wall = max(1.0, SITES_POLISH_SHARE * self.time_limit_s) if step == "site-level warm start polish" \
            else POLISH_WALL_S.get(step, 2.0)
        return StepLimit(step, Clock.WALL, None, None, wall)

    def lns(self) -> StepLimit:
        """The site-level method's neighbourhood search: :data:`LNS_SHARE` of the limit, or what is left of it."""
        if self.deterministic:
            return StepLimit("neighbourhood search", Clock.WORK, LNS_SHARE * self.time_limit_s, None,
                             self.safety_left())
        left = max(0.0, self.time_limit_s - self.elapsed())
        return StepLimit("neighbourhood search", Clock.WALL, left, None, left)

    def fill(self, step: str) -> StepLimit:
        """Pods filled one at a time: :data:`FILL_SHARE` of the limit in CP-SAT's deterministic seconds."""
        return StepLimit(step, Clock.WORK, FILL_SHARE * self.time_limit_s, None, self.safety_left())

    def lp(self, step: str) -> StepLimit:
        """An LP relaxation: solved to the end (deterministic: up to the safety stop), or :data:`LP_WALL_S`."""
        if self.deterministic:
            return StepLimit(step, Clock.WORK, None, None, self.safety_left())
        return StepLimit(step, Clock.WALL, None, None, LP_WALL_S)

    # ------------------------------------------------------------------ the safety stop
    def ended(self, limit: StepLimit, *, wall_s: float, work_s: float | None = None) -> bool:
        """Note that ``limit``'s step took ``wall_s`` (and ``work_s`` of deterministic time); was it cut short?

        A step on the work clock that ran for (nearly) its whole :attr:`StepLimit.wall_s`
        before doing its work (``work_s`` short of :attr:`StepLimit.seconds`) was stopped
        by the wall clock: that is recorded as a safety stop, and ``True`` returned.
        """
        if not limit.wall_is_safety_stop or wall_s < 0.99 * limit.wall_s:
            return False
        if work_s is not None and limit.seconds is not None and work_s >= 0.99 * limit.seconds:
            return False
        self.stop_at(limit.step)
        return True

    def stop_at(self, step: str) -> None:
        """Record that the safety stop cut ``step`` short."""
        stop = SafetyStop(step, round(self.elapsed(), 3))
        self.safety_stops.append(stop)
        log.warning("safety stop: %s ran for the whole wall-clock safety limit (%.0f s after the start, %g x the "
                    "time limit + %g s); the plan is no longer reproducible", step, stop.at_s, SAFETY_FACTOR,
                    SAFETY_EXTRA_S)

    @property
    def stopped(self) -> bool:
        """Whether the safety stop cut any step short."""
        return bool(self.safety_stops)

    def over(self) -> bool:
        """Whether the safety stop's time has come (deterministic runs only)."""
        return self.deterministic and self.elapsed() >= self.safety_s
