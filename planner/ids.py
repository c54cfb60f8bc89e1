"""Identifier rules every input file, importer and generator shares.

An id (of a site, pod group, SKU, PoP, junction, span, lease...) is 1 to
:data:`MAX_ID_LENGTH` characters: a letter or digit, then letters, digits, ``_``,
``.`` or ``-`` (:data:`ID_PATTERN`). A pod group of ``count`` pods expands to the
pod ids :func:`pod_ids` gives. The schema (:mod:`planner.schema`) checks ids with
these rules; the importers and the scenario generator make ids that pass them.
"""

from __future__ import annotations

import re

__all__ = ["ID_PATTERN", "MAX_ID_LENGTH", "is_id", "pod_ids"]

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
"""What an id may hold (a regular expression): a letter or digit, then letters, digits, ``_``, ``.``, ``-``."""
MAX_ID_LENGTH = 64
"""The longest id, in characters."""

_ID_RE = re.compile(ID_PATTERN)


def is_id(text: str) -> bool:
    """Whether ``text`` is a valid id.

    Examples
    --------
    >>> is_id("OH-NAL"), is_id("St. Louis"), is_id("-x"), is_id("a" * 65)
    (True, False, False, False)
    """
    return len(text) <= MAX_ID_LENGTH and _ID_RE.match(text) is not None


def pod_ids(group_id: str, count: int) -> list[str]:
    """Ids of the pods a pod group expands to.

    Examples
    --------
    >>> pod_ids("OH-H100-A", 3)
    ['OH-H100-A-01', 'OH-H100-A-02', 'OH-H100-A-03']
    >>> pod_ids("LA-GB200-X", 1)
    ['LA-GB200-X']
    """
    if count == 1:
        return [group_id]
    width = max(2, len(str(count)))
    return [f"{group_id}-{i:0{width}d}" for i in range(1, count + 1)]
