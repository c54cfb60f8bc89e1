"""Figures read off CP-SAT's search log.

CP-SAT logs a line whenever its search's open interval narrows, also between new
solutions; the live progress of ``planner plan`` reads the bound from there (see
:attr:`~planner.optimise.optimiser.Optimiser.bound_log_start` for which lines hold for the whole model).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence

__all__ = ["solver_bound"]

_BOUND_IN_LOG = re.compile(r"^#\S+\s.*\bnext:\[([^,\]]+),([^\]]+)\]")
"""A CP-SAT log line with the search's open interval ``next:[lo,hi]`` (``hi`` is the bound when maximising)."""


def solver_bound(lines: Sequence[str], start: int = 0) -> tuple[float | None, int]:
    """The latest bound in CP-SAT log lines from ``start`` on, and where to read on from.

    Examples
    --------
    >>> solver_bound(["#Bound 3.2s best:7.5e+09 next:[7.5e+09,1.6e+10] default_lp", "#Model 3.3s"])
    (16000000000.0, 2)
    >>> solver_bound(["#Done 9.1s"], 0)
    (None, 1)
    """
    bound = None
    end = len(lines)
    for line in lines[start:end]:
        m = _BOUND_IN_LOG.match(line)
        if m:
            with contextlib.suppress(ValueError):
                bound = float(m.group(2))
    return bound, end
