"""Colours, matplotlib settings and number formats shared by every part of the report.

One palette for the whole page: internal, leased and free GPUs keep their colours
in the map's site glyphs, the per-site charts and the page's legend; span
utilisation uses one colormap on the map, the heatmap and the line chart.
"""

from __future__ import annotations

import math
from typing import Any

from matplotlib.colors import LinearSegmentedColormap

__all__ = [
    "COLOURS",
    "FAMILY_COLOURS",
    "RC",
    "compact",
    "fmt_gbps",
    "fmt_int",
    "fmt_mw",
    "fmt_pct",
    "fmt_seconds",
    "fmt_usd",
    "fmt_usd_full",
    "mpl_text",
    "utilisation_cmap",
]

COLOURS: dict[str, str] = {
    "internal": "#8392a8",   # slate: the operator's own training
    "leased": "#2f6fdf",     # blue: capacity sold
    "api": "#d97706",        # amber: GPUs serving hosted-model APIs
    "free": "#bfe5c8",       # pale green: surplus still unsold
    "free_edge": "#5aa36c",
    "power": "#e4641c",      # orange: facility power drawn
    "available": "#1f2937",  # near-black: power available
    "objective": "#2f6fdf",
    "bound": "#6b7280",
    "pop": "#7c3aed",
    "junction": "#6b7280",
    "land": "#f1f3f6",
    "land_edge": "#c9ced6",
    "water": "#ffffff",
    "text": "#1f2937",
    "muted": "#6b7280",
    "grid": "#e5e7eb",
    "risk": "#c2410c",
}

def utilisation_cmap(limit: float) -> LinearSegmentedColormap:
    """Colormap for span utilisation 0 → 100 % of capacity that turns red at ``limit``.

    Idle spans are grey-blue, half-way to the limit light blue, near it amber and
    orange, at it red, and above it (only possible for plans made under another
    limit) dark red. The scale stays linear, so a colorbar reads plainly.

    Parameters
    ----------
    limit : float
        The scenario's ``max_link_utilisation`` (0 < limit <= 1).

    Returns
    -------
    matplotlib.colors.LinearSegmentedColormap
    """
    lim = min(max(float(limit), 0.05), 1.0)
    stops = [(0.0, "#d5dde8"), (0.45 * lim, "#7fb3d5"), (0.7 * lim, "#f2c14e"), (0.88 * lim, "#ee7d2e"),
             (lim, "#d7301f")]
    if lim < 1.0:
        stops.append((1.0, "#4a0000"))
    return LinearSegmentedColormap.from_list(f"planner_utilisation_{lim:.3f}", stops)

FAMILY_COLOURS: dict[str, str] = {
    "gpus": "#2f6fdf", "power": "#e4641c", "dci": "#d7301f", "latency": "#7c3aed", "uplink": "#0f9d9a",
    "residency": "#a16207", "anti_affinity": "#be185d", "price": "#4b5563", "optimality": "#059669",
}
"""Chip colours for the constraint families that leave a lease out (others are grey)."""

RC: dict[str, Any] = {
    "svg.fonttype": "none",           # real <text>: small files, the page's sans-serif
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Helvetica Neue", "Helvetica", "Arial", "Liberation Sans"],
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9,
    "axes.labelcolor": COLOURS["text"],
    "axes.edgecolor": "#9ca3af",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": COLOURS["grid"],
    "grid.linewidth": 0.7,
    "xtick.color": COLOURS["muted"],
    "ytick.color": COLOURS["muted"],
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
}
"""matplotlib settings every report figure is drawn and saved under."""


def _bad(x: object) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def fmt_usd(x: float | None) -> str:
    """Compact dollars: ``$1.23 B``, ``$45.6 M``, ``$7,890``.

    Examples
    --------
    >>> fmt_usd(45_600_000), fmt_usd(7890.4), fmt_usd(-2.5e9), fmt_usd(float("nan"))
    ('$45.6 M', '$7,890', '−$2.50 B', '—')
    """
    if _bad(x):
        return "—"
    assert x is not None
    sign = "−" if x < 0 else ""
    a = abs(float(x))
    if a >= 1e9:
        return f"{sign}${a / 1e9:,.2f} B"
    if a >= 1e6:
        return f"{sign}${a / 1e6:,.1f} M"
    return f"{sign}${a:,.0f}"


def fmt_usd_full(x: float | None) -> str:
    """Whole dollars with thousands separators: ``$45,600,000``.

    Examples
    --------
    >>> fmt_usd_full(45_600_000.4)
    '$45,600,000'
    """
    if _bad(x):
        return "—"
    assert x is not None
    return ("−" if x < 0 else "") + f"${abs(float(x)):,.0f}"


def fmt_int(x: float | None, unit: str = "") -> str:
    """An integer with thousands separators and an optional unit: ``12,288 GPUs``.

    Examples
    --------
    >>> fmt_int(12288, "GPUs")
    '12,288 GPUs'
    """
    if _bad(x):
        return "—"
    assert x is not None
    return f"{float(x):,.0f}" + (f" {unit}" if unit else "")


def fmt_mw(x: float | None) -> str:
    """Megawatts: ``1,234 MW``, ``0.13 MW`` for small values.

    Examples
    --------
    >>> fmt_mw(1234.4), fmt_mw(0.126)
    ('1,234 MW', '0.13 MW')
    """
    if _bad(x):
        return "—"
    assert x is not None
    return f"{x:,.0f} MW" if abs(x) >= 10 else f"{x:,.2f} MW"


def fmt_gbps(x: float | None) -> str:
    """Bandwidth: ``51.2 Tb/s``, ``400 Gb/s``.

    Examples
    --------
    >>> fmt_gbps(51200), fmt_gbps(400)
    ('51.2 Tb/s', '400 Gb/s')
    """
    if _bad(x):
        return "—"
    assert x is not None
    return f"{x / 1000:,.1f} Tb/s" if abs(x) >= 1000 else f"{x:,.0f} Gb/s"


def fmt_pct(x: float | None, digits: int = 1) -> str:
    """A share as a percentage with a thin space: ``12.5 %``.

    Examples
    --------
    >>> fmt_pct(0.125), fmt_pct(0.00004, 2)
    ('12.5 %', '0.00 %')
    """
    if _bad(x):
        return "—"
    assert x is not None
    return f"{100 * float(x):,.{digits}f} %"


def fmt_seconds(x: float | None) -> str:
    """A duration: ``0.4 s``, ``12 s``, ``3 min 20 s``.

    Examples
    --------
    >>> fmt_seconds(0.42), fmt_seconds(200)
    ('0.4 s', '3 min 20 s')
    """
    if _bad(x):
        return "—"
    assert x is not None
    if x < 10:
        return f"{x:.1f} s"
    if x < 120:
        return f"{x:.0f} s"
    m, s = divmod(round(x), 60)
    return f"{m} min {s} s"


def mpl_text(s: object) -> str:
    r"""Text safe for matplotlib labels: a ``$`` would start mathtext, so escape it.

    Examples
    --------
    >>> mpl_text("$1.2 M")
    '\\$1.2 M'
    """
    return str(s).replace("$", r"\$")


def compact(x: float, _pos: object = None) -> str:
    """Axis numbers: ``1.2M``, ``400k``, ``1.5k``, ``250``.

    Examples
    --------
    >>> [compact(x) for x in (1_250_000, 400_000, 1500, 250, 0.5)]
    ['1.25M', '400k', '1.5k', '250', '0.5']
    """
    a = abs(x)
    if a >= 1e6:
        return f"{x / 1e6:,.2f}".rstrip("0").rstrip(".") + "M"
    if a >= 1e3:
        return f"{x / 1e3:,.1f}".rstrip("0").rstrip(".") + "k"
    return f"{x:,.0f}" if a >= 10 or x == 0 else f"{x:,.2g}"
