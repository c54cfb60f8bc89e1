"""The bundled reference scenario with a cut-down lease book: the reference's shape at a fraction of its size.

Tests that need the reference's sites, pods, halls, DCI spans, internal waves and
power ramps, but not its 400 leases, plan this cut instead: a CP-SAT solve of the
whole reference takes minutes on a 2-core machine, the cut's a few seconds. Only
``leases/reference.csv`` differs from the project's (the API demand and catalogue are the
reference's), and it is cut from the bundled book itself by rule, so the cut follows the
book when ``leases/make_reference.py`` regenerates it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

PROJECT = Path(__file__).resolve().parents[1]
REFERENCE_LEASES = PROJECT / "leases" / "reference.csv"


def cut_reference_leases(every: int) -> pd.DataFrame:
    """The rows of the reference lease book a cut keeps, unchanged.

    Kept: the internal services (they must be placed), every ``every``-th lease by
    number (``L-0010``, ``L-0020``, ... for 10: committed and spot; inference,
    training and fine-tunes; span pod and hall; requests that can never fit), the
    leases that may start late (``latest_start``) and the leases spanning a site, so
    that start windows, halls, whole-site leases, spot upside, power ramps and
    latency all still bind somewhere.
    """
    book = pd.read_csv(REFERENCE_LEASES, dtype=str, keep_default_na=False)
    number = pd.to_numeric(book["id"].str.extract(r"^L-(\d+)$")[0], errors="coerce")
    keep = ((book["priority"] == "internal") | (number % every == 0) | (book["latest_start"] != "")
            | (book["span"] == "site"))
    return book[keep]


def write_cut_leases(root: Path, every: int) -> Path:
    """Write the cut book to ``root/leases/reference.csv`` (over the project's copy in ``root``, if any)."""
    path = root / "leases" / "reference.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    cut_reference_leases(every).to_csv(path, index=False, lineterminator="\n")
    return path


def write_cut_reference(root: Path, every: int) -> Path:
    """The reference scenario under ``root`` (scenarios/, sites/, topologies/, leases/) with the cut book.

    Returns the path of ``root/scenarios/reference.yaml``.
    """
    for name in ("scenarios", "sites", "topologies", "leases"):  # leases/: the API demand book too
        shutil.copytree(PROJECT / name, root / name, ignore=shutil.ignore_patterns("generated"), dirs_exist_ok=True)
    write_cut_leases(root, every)
    return root / "scenarios" / "reference.yaml"
