"""Week numbers in words, as problems and reasons quote them (``weeks 3-5, 9``).

Validation warnings (:mod:`planner.validate`), never-fit warnings
(:mod:`planner.feasibility`) and the reasons of unplaced leases
(:mod:`planner.reasons`) all name weeks this way.
"""

from __future__ import annotations

__all__ = ["weeks_text"]


def weeks_text(weeks: list[int]) -> str:
    """Compress week numbers into ranges.

    Examples
    --------
    >>> weeks_text([3, 4, 5, 9])
    'weeks 3-5, 9'
    >>> weeks_text([7])
    'week 7'
    """
    runs: list[list[int]] = []
    for w in weeks:
        if runs and w == runs[-1][1] + 1:
            runs[-1][1] = w
        else:
            runs.append([w, w])
    text = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in runs)
    return ("week " if len(weeks) == 1 else "weeks ") + text
