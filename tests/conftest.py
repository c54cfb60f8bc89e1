"""Fixtures shared by several test modules (helpers that are not fixtures live in tests/tiny.py and beside it)."""

from __future__ import annotations

import pytest
import typer


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
