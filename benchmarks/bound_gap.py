"""What the bound-alone scripts share (``pattern_gap.py``, ``split_gap.py``): arguments and instances."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from planner.optimise.instance import Instance

ROOT = Path(__file__).resolve().parent.parent


def parser(doc: str | None) -> argparse.ArgumentParser:
    """Instances as ``<tier>-s<seed>`` and the results and instances folders."""
    ap = argparse.ArgumentParser(description=(doc or "").split("\n\n", maxsplit=1)[0])
    ap.add_argument("keys", nargs="+", help="instances as <tier>-s<seed>")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--instances", type=Path, default=ROOT / "benchmarks" / "instances")
    return ap


def planner_run(results: Path, key: str) -> dict:
    """The planner's result on ``key``, written by ``run.py``."""
    return json.loads((results / f"{key}-planner.json").read_text())


def scenario(instances: Path, key: str) -> Path:
    """The scenario of ``key``: the bundled one for ``reference-s<seed>``, else generated there if it is not."""
    from benchmarks.run import REFERENCE
    from planner.generate import generate

    if key.startswith("reference-"):  # the seed is the solver's only (run.py)
        return REFERENCE
    path = instances / key / "scenario.yaml"
    if path.exists():
        return path
    tier, seed = key.rsplit("-s", 1)
    return generate(tier, int(seed), instances / key)


def each(args: argparse.Namespace) -> Iterator[tuple[str, dict, Instance]]:
    """Per key given: the key, the planner's result and the instance built from the scenario."""
    import planner
    from planner.optimise.instance import build_instance

    for key in args.keys:
        yield key, planner_run(args.results, key), build_instance(planner.load_scenario(scenario(args.instances, key)))


def header(*columns: str) -> None:
    """Print a Markdown table's header."""
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
