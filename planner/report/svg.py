"""Turn a matplotlib figure into an ``<svg>`` element to inline in the page.

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot, so no
global figure registry to leak and no backend switch in the caller's process) and
saved with the SVG backend.
"""

from __future__ import annotations

import functools
import html
import io
import re
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

import matplotlib as mpl
from matplotlib.figure import Figure

from planner.report.style import RC

__all__ = ["new_figure", "styled", "svg_element"]

P = ParamSpec("P")
R = TypeVar("R")

_HEAD = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_SIZE = re.compile(r'(<svg\b[^>]*?)\s+width="[^"]*"\s+height="[^"]*"')
_GROUP_ID = re.compile(r'<g id="([A-Za-z][\w.]*_\d+)"')


def styled(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` under the report's matplotlib settings (:data:`~planner.report.style.RC`).

    matplotlib reads most settings when an artist is created, so a whole chart is
    built inside one ``rc_context``.
    """
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with mpl.rc_context(cast(Any, RC)):
            return func(*args, **kwargs)
    return wrapper


def new_figure(width_in: float, height_in: float) -> Figure:
    """A white, constrained-layout figure, not registered with pyplot.

    Parameters
    ----------
    width_in, height_in : float
        Size in inches (the SVG scales to its container's width on the page).

    Returns
    -------
    matplotlib.figure.Figure
    """
    return Figure(figsize=(width_in, height_in), layout="constrained")


def svg_element(fig: Figure, fig_id: str, label: str) -> str:
    """Render ``fig`` as an inline ``<svg>`` element that scales to its container.

    The XML prolog, DOCTYPE and RDF metadata are dropped (the metadata names the
    matplotlib web site); clip-path and marker ids are salted with ``fig_id`` and
    group ids prefixed with it, so that figures in one page never share an id and
    the output is reproducible.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure; it is cleared afterwards to free its memory.
    fig_id : str
        The element id (also the hash salt).
    label : str
        Accessible name of the chart (``aria-label``).

    Returns
    -------
    str
        ``<svg id=... role="img" ...>...</svg>``.
    """
    buf = io.StringIO()
    with mpl.rc_context(cast(Any, {**RC, "svg.hashsalt": fig_id})):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    fig.clear()
    text = _METADATA.sub("", _HEAD.sub("", buf.getvalue(), count=1), count=1)
    text = _SIZE.sub(r"\1", text, count=1)
    # matplotlib names groups figure_1, axes_1, text_3... in every figure: prefix them so the page's ids stay unique
    text = _GROUP_ID.sub(lambda m: f'<g id="{html.escape(fig_id)}-{m.group(1)}"', text)
    attrs = (f'id="{html.escape(fig_id)}" class="chart" role="img" aria-label="{html.escape(label)}" '
             'preserveAspectRatio="xMidYMid meet"')
    return text.replace("<svg ", f"<svg {attrs} ", 1).strip()
