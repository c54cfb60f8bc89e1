"""The base map: US state outlines in an equal-area projection, clipped to a scenario.

The outlines are the US Census Bureau's 2016 cartographic boundary file
(``cb_2016_us_state_500k``, 1:500,000) that ships inside the ``plotly-geo``
package. The shapefile has no ``.prj``: its CRS is NAD83 lon/lat (EPSG:4269),
set here explicitly. Maps of the contiguous US are drawn in NAD83 / Conus Albers
(EPSG:5070); extents elsewhere get a Lambert azimuthal equal-area projection
centred on them.
"""

from __future__ import annotations

import functools
import importlib.resources
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyogrio.raw
import shapely
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.path import Path as MplPath
from pyproj import Transformer
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from planner.report.style import COLOURS

__all__ = ["MapFrame", "draw_states", "map_frame", "scale_bar_m", "state_outlines", "states_shapefile"]

log = logging.getLogger(__name__)

STATES_CRS = "EPSG:4269"
"""NAD83 lon/lat: the Census outlines' CRS (their shapefile ships without a ``.prj``)."""
POINTS_CRS = "EPSG:4326"
"""WGS84 lon/lat: the scenario's coordinates."""
CONUS_CRS = "EPSG:5070"
"""NAD83 / Conus Albers equal-area, for extents inside the contiguous US."""
CONUS_BOUNDS = (-125.0, 24.0, -66.5, 49.5)


def states_shapefile() -> str | None:
    """Path of plotly-geo's ``cb_2016_us_state_500k.shp``, or ``None`` when it is not installed."""
    try:
        root = importlib.resources.files("_plotly_geo")
    except ModuleNotFoundError:
        return None
    shp = root / "package_data" / "cb_2016_us_state_500k.shp"
    return str(shp) if shp.is_file() else None


@functools.lru_cache(maxsize=1)
def _read_states() -> tuple[tuple[str, ...], tuple[BaseGeometry, ...]]:
    path = states_shapefile()
    if path is None:
        log.warning("plotly-geo's state outlines not found; the map is drawn without them")
        return (), ()
    _, _, wkb, fields = pyogrio.raw.read(path, columns=["STUSPS"])
    return tuple(str(s) for s in fields[0]), tuple(shapely.from_wkb(wkb))


def state_outlines(bounds: tuple[float, float, float, float], tolerance_deg: float = 0.02,
                   ) -> list[tuple[str, BaseGeometry]]:
    """State outlines (NAD83 lon/lat) clipped to ``bounds`` and simplified.

    Parameters
    ----------
    bounds : tuple of float
        ``(min_lon, min_lat, max_lon, max_lat)``.
    tolerance_deg : float
        Douglas-Peucker tolerance, degrees (0.02° ≈ 2 km: invisible at state scale).

    Returns
    -------
    list of (str, shapely geometry)
        Postal code and clipped outline of every state that reaches into ``bounds``.

    Examples
    --------
    >>> [code for code, _ in state_outlines((-84.5, 39.5, -83.5, 40.5))]
    ['OH']
    """
    codes, geoms = _read_states()
    out = []
    for code, geom in zip(codes, geoms, strict=True):
        clipped = shapely.clip_by_rect(geom, *bounds)
        if clipped.is_empty:
            continue
        # Plain Douglas-Peucker: ten times faster than the topology-preserving kind, and
        # a sliver lost at 2 km does not show on a drawing.
        simple = shapely.simplify(clipped, tolerance_deg, preserve_topology=False)
        if not simple.is_empty:
            out.append((code, simple))
    return out


@dataclass(frozen=True)
class MapFrame:
    """A projected view of a lon/lat extent.

    Attributes
    ----------
    crs : str
        The projected CRS (``EPSG:5070`` or a ``+proj=laea`` string).
    view : tuple of float
        ``(xmin, ymin, xmax, ymax)`` in projected metres, with the requested aspect.
    lonlat : tuple of float
        Lon/lat bounds covering ``view`` (to clip the outlines with).
    """

    crs: str
    view: tuple[float, float, float, float]
    lonlat: tuple[float, float, float, float]

    @functools.cached_property
    def _fwd(self) -> Transformer:
        return Transformer.from_crs(POINTS_CRS, self.crs, always_xy=True)

    @functools.cached_property
    def _fwd_states(self) -> Transformer:
        return Transformer.from_crs(STATES_CRS, self.crs, always_xy=True)

    @property
    def width(self) -> float:
        """View width, metres."""
        return self.view[2] - self.view[0]

    def xy(self, lon: Iterable[float], lat: Iterable[float]) -> tuple[np.ndarray, np.ndarray]:
        """Project WGS84 lon/lat arrays to map metres."""
        x, y = self._fwd.transform(np.asarray(list(lon), float), np.asarray(list(lat), float))
        return np.asarray(x), np.asarray(y)

    def project(self, geom: BaseGeometry, *, states: bool = False) -> BaseGeometry:
        """Project a lon/lat geometry (WGS84, or NAD83 when ``states``) to map metres."""
        tr = self._fwd_states if states else self._fwd
        return shapely.transform(geom, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))


def _crs_for(bounds: tuple[float, float, float, float]) -> str:
    x0, y0, x1, y1 = bounds
    cx0, cy0, cx1, cy1 = CONUS_BOUNDS
    if x0 >= cx0 and y0 >= cy0 and x1 <= cx1 and y1 <= cy1:
        return CONUS_CRS
    return f"+proj=laea +lat_0={(y0 + y1) / 2:.4f} +lon_0={(x0 + x1) / 2:.4f} +datum=WGS84 +units=m +no_defs"


def map_frame(lon: Iterable[float], lat: Iterable[float], *, aspect: float = 1.6,
              margin: float = 0.12, min_margin_deg: float = 0.5) -> MapFrame:
    """Fit a projected view around points.

    Parameters
    ----------
    lon, lat : iterable of float
        Every coordinate the map must show (WGS84).
    aspect : float
        Width / height of the view: the shorter side is widened to it.
    margin : float
        Margin on each side as a share of the extent (at least ``min_margin_deg``).
    min_margin_deg : float
        Smallest margin, degrees.

    Returns
    -------
    MapFrame

    Examples
    --------
    >>> f = map_frame([-82.75, -91.65], [40.07, 32.47])
    >>> f.crs, round((f.view[2] - f.view[0]) / (f.view[3] - f.view[1]), 2)
    ('EPSG:5070', 1.6)
    """
    lons, lats = np.asarray(list(lon), float), np.asarray(list(lat), float)
    if lons.size == 0:
        lons, lats = np.array([-98.5]), np.array([39.5])
    mx = max(margin * float(np.ptp(lons)), min_margin_deg)
    my = max(margin * float(np.ptp(lats)), min_margin_deg)
    ll = (float(lons.min()) - mx, float(lats.min()) - my, float(lons.max()) + mx, float(lats.max()) + my)
    crs = _crs_for(ll)
    fwd = Transformer.from_crs(POINTS_CRS, crs, always_xy=True)
    ring = np.asarray(shapely.segmentize(box(*ll), 0.25).exterior.coords)
    x, y = fwd.transform(ring[:, 0], ring[:, 1])
    x0, y0, x1, y1 = float(np.min(x)), float(np.min(y)), float(np.max(x)), float(np.max(y))
    w, h = x1 - x0, y1 - y0
    if w / h < aspect:
        x0, x1 = (x0 + x1) / 2 - h * aspect / 2, (x0 + x1) / 2 + h * aspect / 2
    else:
        y0, y1 = (y0 + y1) / 2 - w / aspect / 2, (y0 + y1) / 2 + w / aspect / 2
    view = (x0, y0, x1, y1)
    inv = Transformer.from_crs(crs, POINTS_CRS, always_xy=True)
    vring = np.asarray(shapely.segmentize(box(*view), (x1 - x0) / 40).exterior.coords)
    lo, la = inv.transform(vring[:, 0], vring[:, 1])
    pad = 0.5
    lonlat = (max(float(np.min(lo)) - pad, -180.0), max(float(np.min(la)) - pad, -90.0),
              min(float(np.max(lo)) + pad, 180.0), min(float(np.max(la)) + pad, 90.0))
    return MapFrame(crs, view, lonlat)


def _mpl_path(geom: BaseGeometry) -> MplPath | None:
    polys = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon" and not g.is_empty]
    rings = [np.asarray(r.coords)[:, :2] for p in polys for r in (p.exterior, *p.interiors)]
    if not rings:
        return None
    return MplPath.make_compound_path(*[MplPath(r, closed=True) for r in rings])


def draw_states(ax: Axes, frame: MapFrame) -> list[tuple[float, float]]:
    """Draw the state outlines inside ``frame`` on ``ax``, with postal codes on the larger ones.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes in the frame's projected metres.
    frame : MapFrame
        The view.

    Returns
    -------
    list of (float, float)
        Where the postal codes were written (map metres), for label placement to avoid.
    """
    x0, y0, x1, y1 = frame.view
    view_area = (x1 - x0) * (y1 - y0)
    extent_deg = max(frame.lonlat[2] - frame.lonlat[0], frame.lonlat[3] - frame.lonlat[1])
    tol = min(0.02, max(extent_deg / 400, 0.002))
    view = box(*frame.view)
    paths = []
    codes: list[tuple[float, float]] = []
    for code, geom in state_outlines(frame.lonlat, tol):
        proj = frame.project(geom, states=True)
        path = _mpl_path(proj)
        if path is None:
            continue
        paths.append(path)
        shown = proj.intersection(view)
        if not shown.is_empty and shown.area > 0.012 * view_area:
            pt = shown.representative_point() if shown.geom_type == "Polygon" else max(
                shown.geoms, key=lambda g: g.area).representative_point()
            codes.append((pt.x, pt.y))
            ax.text(pt.x, pt.y, code, ha="center", va="center", fontsize=10, color="#aab1bc",
                    fontweight="bold", zorder=2)
    # One collection, added without autoscaling: add_patch would walk every Bézier segment.
    ax.add_collection(PathCollection(paths, facecolors=COLOURS["land"], edgecolors=COLOURS["land_edge"],
                                     linewidths=0.8, zorder=1), autolim=False)
    return codes


def scale_bar_m(frame: MapFrame) -> float:
    """A round length near a fifth of the view's width, for a scale bar, metres.

    Examples
    --------
    >>> scale_bar_m(MapFrame("EPSG:5070", (0.0, 0.0, 1_800_000.0, 1_000_000.0), (0.0, 0.0, 1.0, 1.0)))
    200000.0
    """
    w = frame.width
    step = 10 ** math.floor(math.log10(max(w / 5, 1.0)))
    for m in (5, 2, 1):
        if m * step <= w / 5:
            return float(m * step)
    return float(step)
