"""Fixtures shared by several test modules (helpers that are not fixtures live in tests/tiny.py and beside it).

It also marks the slow doctests: a plain ``pytest`` leaves out everything marked
``slow``, ``make test`` (CI) runs it (see README, "Set up on a fresh machine").
"""

from __future__ import annotations

import pytest
import typer

SLOW_DOCTESTS = {"planner.optimise.optimiser.optimise", "planner.quote.book.quote"}
"""Doctests that take over ~10 s (a CP-SAT solve of the reference scenario), by name."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the doctests of :data:`SLOW_DOCTESTS` ``slow`` (a docstring cannot carry a marker)."""
    for item in items:
        if isinstance(item, pytest.DoctestItem) and item.name in SLOW_DOCTESTS:
            item.add_marker(pytest.mark.slow)


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
