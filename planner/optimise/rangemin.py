"""Least value of each row of a things x weeks array over any run of weeks, in two look-ups.

A sparse table: level ``k`` holds, per row and week, the least of the ``2**k`` weeks
from that week; the least over weeks ``t0..t1`` is the lesser of two entries of the
level whose run fits in them. Levels are made when first needed; the array must not
change while the table is in use.

Examples
--------
>>> import numpy as np
>>> a = np.array([[5, 3, 4, 9, 1], [2, 2, 8, 7, 6]])
>>> t = SparseTable(a)
>>> t.mins(1, 3).tolist(), t.mins(2, 4, np.array([1])).tolist()
([3, 2], [6])
"""

from __future__ import annotations

import numpy as np

__all__ = ["SparseTable"]


class SparseTable:
    """Range-minimum queries over the weeks (columns) of ``array``."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.levels = [array]

    def mins(self, t0: int, t1: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Per row (``rows`` of the array, or all), its least value in weeks ``t0`` to ``t1`` (inclusive)."""
        levels = self.levels
        k = (t1 - t0 + 1).bit_length() - 1
        while len(levels) <= k:
            last, h = levels[-1], 1 << (len(levels) - 1)
            levels.append(np.minimum(last[:, :-h], last[:, h:]))
        lv = levels[k]
        b = t1 - (1 << k) + 1
        if rows is None:
            return np.minimum(lv[:, t0], lv[:, b])
        return np.minimum(lv[rows, t0], lv[rows, b])

    def terms(self, row: int, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
        """Per term ``t0[i]..t1[i]`` (inclusive), the least value of ``row`` in its weeks.

        Examples
        --------
        >>> t = SparseTable(np.array([[5, 3, 4, 9, 1]]))
        >>> t.terms(0, np.array([0, 2, 3, 4]), np.array([0, 3, 4, 4])).tolist()
        [5, 4, 1, 1]
        """
        out = np.empty(len(t0), dtype=self.array.dtype)
        k = np.frexp((t1 - t0 + 1).astype(float))[1] - 1  # floor(log2(length))
        for level in np.unique(k).tolist():
            at = np.flatnonzero(k == level)
            self.mins(0, (1 << level) - 1)  # makes the level
            lv = self.levels[level][row]
            out[at] = np.minimum(lv[t0[at]], lv[t1[at] - (1 << level) + 1])
        return out
