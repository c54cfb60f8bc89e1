"""Fixtures shared by several test modules (helpers that are not fixtures live in tests/tiny.py and beside it).

It also marks the slow doctests: a plain ``pytest`` leaves out everything marked
``slow``, ``make test`` (CI) runs it (see README, "Set up on a fresh machine").
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

import pytest
import typer

from tests.reference_cut import PROJECT, write_cut_reference

SLOW_DOCTESTS = {"planner.optimise.optimiser.optimise", "planner.quote.book.quote"}
"""Doctests that take over ~10 s (a CP-SAT solve of the reference scenario), by name."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the doctests of :data:`SLOW_DOCTESTS` ``slow`` and run them in a folder holding a cut of the reference.

    A docstring cannot carry a marker, and the doctests live in ``planner/``, out of this file's fixtures' reach.
    Their ``load_scenario()`` reads ``scenarios/reference.yaml`` in the working directory first: the folder holds
    the reference with every 10th lease (:mod:`tests.reference_cut`) and the examples they name, so they solve in
    seconds. The whole reference's CP-SAT plan at 5 s keeps every limit by
    ``tests/test_reasons.py::test_every_reason_of_a_short_cp_sat_reference_plan_is_true`` (the same solve).
    """
    for item in items:
        if isinstance(item, pytest.DoctestItem) and item.name in SLOW_DOCTESTS:
            item.add_marker(pytest.mark.slow)
            _run_in_cut_reference_folder(item)


CUT_FOLDER = pytest.StashKey[Path]()


def _cut_reference_folder(config: pytest.Config) -> Path:
    """One folder per run: the reference cut to every 10th lease, and ``examples/``; removed when the run ends."""
    if CUT_FOLDER not in config.stash:
        tmp = tempfile.TemporaryDirectory(prefix="reference-cut-10-")
        config.add_cleanup(tmp.cleanup)
        root = Path(tmp.name)
        write_cut_reference(root, 10)
        shutil.copytree(PROJECT / "examples", root / "examples", ignore=shutil.ignore_patterns("*.ipynb"))
        config.stash[CUT_FOLDER] = root
    return config.stash[CUT_FOLDER]


def _run_in_cut_reference_folder(item: pytest.DoctestItem) -> None:
    """Make ``item`` run with :func:`_cut_reference_folder` as its working directory."""
    runtest = item.runtest

    def run() -> None:
        with contextlib.chdir(_cut_reference_folder(item.config)):
            runtest()

    item.runtest = run  # type: ignore[method-assign]


@pytest.fixture
def cli() -> typer.Typer:
    """A bare app with the what-if commands (``failures``, ``derate``, ``sweep``) of :mod:`planner.cli.whatif`."""
    from planner.cli.whatif import register

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test app."""

    register(app)
    return app
