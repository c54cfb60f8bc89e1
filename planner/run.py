"""A planning run from scenario file to results folder, and the folder writer.

:func:`plan_scenario` runs every stage -- load and validate, network, routing,
model build, solve, write -- and tells a caller (the CLI's progress display, a
notebook) when each one starts and ends. :func:`write_run` writes a plan's results
folder whole or not at all: everything is written into a hidden temporary folder
beside the target, which is then renamed into place, so a crash, a full disk or a
Ctrl-C while writing never leaves a folder that looks complete.

::

    run = plan_scenario("scenarios/reference.yaml", time_limit_s=20)  # writes output/reference/
    run.plan.headline(), run.out_dir

    write_run(sc, plan, "output/my-run", force=True)                  # just the folder
"""

from __future__ import annotations

import errno
import logging
import math
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import networkx as nx
import pandas as pd

from planner.forked import forked_map
from planner.network import build_network
from planner.optimise.heuristics.greedy import greedy
from planner.optimise.incumbent import Progress
from planner.optimise.instance import Instance, build_instance
from planner.optimise.search import BATCH
from planner.plan import Plan
from planner.provenance import source_record
from planner.routing import candidate_paths
from planner.scenario import Scenario, load_scenario

if TYPE_CHECKING:
    from planner.optimise.optimiser import Optimiser
    from planner.report.html import ExtraSection

# The writers (GeoPandas, GDAL, matplotlib) and the optimiser (OR-Tools) are imported
# when first used, so that ``import planner`` stays light.

__all__ = [
    "EXPORT_FORMATS",
    "RESULT_FILES",
    "STAGES",
    "OutputError",
    "PlanRun",
    "RunExistsError",
    "check_out_dir",
    "default_export_path",
    "default_out_dir",
    "export_format",
    "export_topology",
    "list_in_readme",
    "plan_scenario",
    "write_folder",
    "write_run",
]

log = logging.getLogger(__name__)

STAGES: dict[str, str] = {
    "load": "load + validate",
    "network": "network",
    "routing": "routing",
    "build": "model build",
    "solve": "solve",
    "write": "write",
}
"""The stages of a run, in order, with the words shown for them."""

RESULT_FILES: dict[str, str] = {
    "plan.json": "the plan: status, objective, bound, gap, placements, leases left out, API totals and tables, "
                 "the split between leases, APIs and internal work (versioned schema)",
    "placements.csv": "one row per lease, replica and pod: GPUs, site, route, latency, revenue and costs",
    "unplaced.csv": "leases left out: the binding constraint family, the reason with numbers, a fix",
    "site_use.csv": "per campus and week: power against what is available, GPUs internal/leased/free by SKU",
    "pod_use.csv": "per fabric domain (pod) and week: GPUs internal/leased/free, uplink traffic, power",
    "link_use.csv": "per DCI span and week: traffic, capacity, limit and utilisation",
    "hall_use.csv": "per hall (aggregation domain) and week: GPUs internal/leased/free, inter-pod traffic on its "
                    "aggregation layer against its capacity",
    "surplus.csv": "the sellable inventory: free GPUs per pod and week, with the campus's power headroom "
                   "(GPUs it runs) and the usable Gbps left to each PoP",
    "surplus_runs.csv": "the inventory per campus and SKU, consecutive weeks with the same free and sellable "
                        "GPUs as one row (sellable = min(free, power allows)), with the least Gbps to each PoP",
    "api_use.csv": "hosted-model API demand per stream and week: tokens/s asked, served and unserved, revenue, "
                   "and why demand is left unserved",
    "api_routes.csv": "API tokens served per stream, week, campus and route: latency, km, Gbps, transport cost",
    "api_replicas.csv": "API replicas per model, pod and week: GPUs, token capacity, replicas started and their "
                        "cost, MW and power cost",
    "progress.csv": "each better plan or tighter bound the solver found; the last row is the plan written",
    "network.graphml": "the network graph with typed attributes and peak use (Gephi, yEd, networkx)",
    "topology.geojson": "sites, PoPs, spans, amplifiers and lease routes: one RFC 7946 FeatureCollection",
    "topology.gpkg": "the same layers as a GeoPackage 1.3, one named layer each (QGIS)",
    "topology.kml": "the same layers for Google Earth; spans coloured by peak utilisation",
    "report.html": "the report: headline numbers, map, charts and tables in one offline page",
    "solver.log": "the CP-SAT search log",
    "README.txt": "this list",
}
"""Every file of a results folder, with what it holds."""

#: Written last, so that even a stray temporary folder (after a hard kill) has no plan.json.
_LAST = "plan.json"

StageCallback = Callable[["PlanRun", str, bool], None]
"""Called as ``on_stage(run, stage, finished)`` when a stage starts and when it ends."""


class OutputError(OSError):
    """An output cannot be written where it was asked to go; ``problem`` says why and ``fix`` what to do."""

    def __init__(self, path: Path, problem: str, fix: str) -> None:
        self.path, self.problem, self.fix = path, problem, fix
        super().__init__(f"{problem}; {fix}")

    def __str__(self) -> str:
        return f"{self.problem}; {self.fix}"


class RunExistsError(OutputError, FileExistsError):
    """The results folder exists and may not be replaced; ``fix`` says what to do."""


@dataclass
class PlanRun:
    """What a planning run has made so far, filled in stage by stage.

    Attributes
    ----------
    scenario, graph, paths, instance
        The loaded scenario, its network, the candidate routes and the planning instance.
    optimiser
        The CP-SAT optimiser (``None`` for the greedy baseline); its ``log_lines`` grow
        during the solve.
    plan
        The plan, once solved.
    out_dir
        The results folder (set before solving, so it can be refused early).
    stage_s
        Seconds spent in each finished stage.
    """

    scenario: Scenario | None = None
    graph: nx.Graph | None = None
    paths: pd.DataFrame | None = None
    instance: Instance | None = None
    optimiser: Optimiser | None = None
    plan: Plan | None = None
    out_dir: Path | None = None
    stage_s: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- the results folder
def default_out_dir(sc: Scenario) -> Path:
    """``output/<scenario name>`` (relative to the working directory).

    Examples
    --------
    >>> from planner import load_scenario
    >>> default_out_dir(load_scenario()).as_posix()
    'output/reference'
    """
    return Path("output") / sc.name


def _writable_parent(target: Path) -> None:
    """Raise :class:`OutputError` when ``target``'s nearest existing ancestor is not a folder (``--out FILE/sub``)."""
    for up in target.parents:
        if up.exists():
            if not up.is_dir():
                raise OutputError(target, f"cannot write {target}: {up} is a file, not a folder",
                                  "choose a path whose parents are folders")
            return


def _dead_leftovers(target: Path, pattern: str) -> None:
    """Remove the temporary files or folders beside ``target`` that a process killed while writing left behind.

    ``pattern`` is a regular expression with a ``pid`` group, matched against the
    names in ``target``'s folder; an entry is removed only when no process of that
    id is alive (``kill -9`` leaves them; a run still writing keeps its own).
    """
    folder = target.parent
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        m = re.fullmatch(pattern, entry.name)
        if m is None or _alive(int(m["pid"])):
            continue
        log.info("removing %s, left by process %s that is no longer running", entry, m["pid"])
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    """Whether a process of this id exists (signal 0 checks without sending anything)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process, or an id the kernel cannot hold: leave it
    return True


def _planner_files(folder: Path) -> set[str]:
    """The names in a results folder that the planner writes: :data:`RESULT_FILES` and any its README.txt lists."""
    names = set(RESULT_FILES)
    readme = folder / "README.txt"
    if readme.is_file() and readme.stat().st_size < 2**20:
        text = readme.read_text(encoding="utf-8", errors="replace")
        files = text.split("\nFiles:\n", 1)[1] if "\nFiles:\n" in text else ""
        names |= set(re.findall(r"^  (\S+)  ", files, re.M))
    return names


def check_out_dir(path: str | Path, *, force: bool = False, marker: str = _LAST) -> None:
    """Raise :class:`RunExistsError` (or :class:`OutputError`) unless a results folder may be written at ``path``.

    A missing path is fine when its parents are folders (or can be made). An existing
    one is replaced only with ``force``, and only when it is a folder that is empty or
    a results folder (it holds a ``plan.json``; the file ``marker`` for other planner
    folders, e.g. a sweep's ``sweep.csv``) holding nothing but the planner's own
    files (checked in results folders; other planner folders are not looked into):
    ``--force`` never deletes a folder of something else, nor a file a person put in a
    results folder. The folder the command runs in (or one holding it) is
    never replaced.
    """
    p = Path(path)
    here = Path.cwd().absolute()
    where = Path(os.path.abspath(p))
    if where == here or where in here.parents:
        raise RunExistsError(p, f"{p} is the folder the command runs in (or holds it), so it cannot be replaced",
                             "give --out a folder beside or below this one, or run from another folder")
    _writable_parent(where)
    if not p.exists():
        return
    if not p.is_dir():
        raise RunExistsError(p, f"{p} exists and is not a folder", "choose another folder with --out")
    if not force:
        raise RunExistsError(p, f"results folder {p} already exists",
                             "pass --force to replace it, or --out to write somewhere else")
    entries = {e.name for e in p.iterdir()}
    if entries and marker not in entries:
        raise RunExistsError(p, f"{p} is not a planner results folder (it has no {marker}), so --force does not "
                                "replace it", "choose another folder with --out")
    theirs = sorted(entries - _planner_files(p)) if marker == _LAST else []
    if theirs:
        shown = ", ".join(theirs[:5]) + (f" and {len(theirs) - 5} more" if len(theirs) > 5 else "")
        raise RunExistsError(p, f"{p} holds files the planner did not write ({shown}), so --force does not "
                                "replace it", "move them out of the folder, or choose another folder with --out")


def _csv(df: pd.DataFrame, path: Path) -> None:
    """A table as CSV; tuple and list cells joined with ``;``."""
    from planner.gis.layers import joined

    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object and out[c].map(lambda v: isinstance(v, tuple | list | set | frozenset)).any():
            out[c] = out[c].map(joined)
    out.to_csv(path, index=False)


def _readme(sc: Scenario, plan: Plan, extra_files: Mapping[str, str]) -> str:
    h = plan.headline()
    lines = [f"planner results for scenario {sc.name!r} ({sc.title})",
             f"written {datetime.now(UTC).isoformat(timespec='seconds')}; status {h['status']}; "
             f"revenue {h['revenue_usd']:,.0f} USD; net value {h['objective_usd']:,.0f} USD; "
             f"{h['leases_placed']} leases placed, {h['leases_unplaced']} left out",
             "", _FILES_HEADING, *_file_lines({**RESULT_FILES, **extra_files}),
             "", "Units are in the column names (_km, _ms, _gbps, _mw, _usd); weeks count from 1; "
                 "coordinates are WGS84 lon/lat (EPSG:4326)."]
    return "\n".join(lines) + "\n"


_FILES_HEADING = "Files:"


def _file_lines(files: Mapping[str, str]) -> list[str]:
    width = max(map(len, files))
    return [f"  {name:<{width}}  {what}" for name, what in files.items()]


def list_in_readme(folder: str | Path, files: Mapping[str, str]) -> None:
    """Add ``files`` (name -> what it holds) to the file list of ``folder``'s README.txt (made if missing).

    What a command adds to a planner folder is listed there, so that a later
    ``--force`` knows the files as the planner's own (see :func:`check_out_dir`).
    """
    readme = Path(folder) / "README.txt"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else f"planner output\n\n{_FILES_HEADING}\n"
    head, sep, rest = text.partition(f"\n{_FILES_HEADING}\n")
    if not sep:
        head, rest = text.rstrip("\n"), ""
    listed, tail = [], []
    for i, line in enumerate(rest.splitlines()):
        if not line.startswith("  "):
            tail = rest.splitlines()[i:]
            break
        listed.append(line)
    known = {line.split()[0]: line.split(None, 1)[1] if len(line.split()) > 1 else "" for line in listed}
    merged = {**known, **files}
    body = [head, "", _FILES_HEADING, *_file_lines(merged), *tail]
    readme.write_text("\n".join(body).rstrip("\n") + "\n", encoding="utf-8")


def _write_files(sc: Scenario, plan: Plan, folder: Path, source: dict[str, Any] | None = None,
                 report_sections: Sequence[ExtraSection] = (), extra_files: Mapping[str, str] | None = None,
                 workers: int = 1) -> None:
    """Write every file of :data:`RESULT_FILES` into ``folder`` (plan.json last, with ``source``).

    With ``workers`` > 1 two forked processes write the report and the tables and GIS
    layers side by side (the same files either way).
    """
    from planner import report
    from planner.results import plan_document

    jobs = [lambda: report.write_report(sc, plan, folder / "report.html", extra=report_sections),
            lambda: _write_tables_and_layers(sc, plan, folder, extra_files)]
    forked_map(lambda a, b: [jobs[i]() for i in range(a, b)], len(jobs), workers, min_items=2)
    (folder / _LAST).write_text(plan_document(sc, plan, source), encoding="utf-8")


def _write_tables_and_layers(sc: Scenario, plan: Plan, folder: Path, extra_files: Mapping[str, str] | None) -> None:
    """The CSV tables, GIS layers, solver log and README.txt of a results folder."""
    from planner import gis
    from planner.results import API_TABLES, api_table
    from planner.surplus import surplus, surplus_runs

    for name, table in (("placements", plan.placements), ("unplaced", plan.unplaced), ("site_use", plan.site_use),
                        ("pod_use", plan.pod_use), ("link_use", plan.link_use), ("hall_use", plan.hall_use),
                        ("progress", plan.progress)):
        _csv(table, folder / f"{name}.csv")
    for name in API_TABLES:
        _csv(api_table(plan, name), folder / f"{name}.csv")
    inventory = surplus(sc, plan)
    _csv(inventory, folder / "surplus.csv")
    _csv(surplus_runs(sc, plan, inventory=inventory), folder / "surplus_runs.csv")
    gis.write_graphml(sc, folder / "network.graphml", plan=plan)
    layers = gis.topology_layers(sc, plan)
    gis.write_geojson(layers, folder / "topology.geojson")
    gis.write_gpkg(layers, folder / "topology.gpkg")
    gis.write_kml(layers, folder / "topology.kml", name=f"planner: {sc.name}")
    solver_log = "\n".join(plan.log) if plan.log else f"no solver log: the plan was made by {plan.method}"
    (folder / "solver.log").write_text(solver_log + "\n", encoding="utf-8")
    (folder / "README.txt").write_text(_readme(sc, plan, extra_files or {}), encoding="utf-8")


def _swap_in(tmp: Path, target: Path, *, force: bool, marker: str = _LAST) -> None:
    """Rename ``tmp`` to ``target``; an existing target (allowed by ``force``) is moved aside, then deleted."""
    if not target.exists():
        tmp.rename(target)
        return
    check_out_dir(target, force=force, marker=marker)
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    target.rename(old)
    try:
        tmp.rename(target)
    except BaseException:
        old.rename(target)  # put the previous results back
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_run(sc: Scenario, plan: Plan, out_dir: str | Path, *, force: bool = False,
              extra: Callable[[Path], None] | None = None, extra_files: Mapping[str, str] | None = None,
              report_sections: Sequence[ExtraSection] = (), workers: int = 1) -> Path:
    """Write a plan's results folder, whole or not at all.

    The files (see :data:`RESULT_FILES`) are written into a hidden folder beside
    ``out_dir`` (``.<name>.tmp-<pid>``), which is renamed to ``out_dir`` once all
    are written. If anything fails -- or Ctrl-C arrives -- the temporary folder is
    removed and ``out_dir`` is left as it was.

    Parameters
    ----------
    sc
        The scenario the plan was made for.
    plan
        The plan; an interrupted plan is written as it is, marked ``interrupted``.
    out_dir
        The results folder to write.
    force
        Replace ``out_dir`` if it exists (only a previous results folder, or an empty folder).
    extra
        Called with the temporary folder before the plan's files are written, to add
        files of its own (the what-if commands' tables).
    extra_files
        The files ``extra`` writes, name -> what each holds, listed in README.txt.
    report_sections
        Sections added to ``report.html`` (see :func:`planner.report.render_report`).
    workers
        With 2 or more, the report and the tables and GIS layers are written side by side
        by two forked processes (:func:`planner.forked.forked_map`); the files are the same.

    ``plan.json`` records the scenario file and the SHA-256 of every input file
    (:func:`planner.provenance.source_record`), so the folder can be read back
    against the same inputs (:func:`planner.results.read_results`).

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    RunExistsError
        When ``out_dir`` exists and ``force`` is not set (or it is not a results folder).

    Examples
    --------
    >>> import tempfile
    >>> from planner import load_scenario
    >>> from planner.optimise.heuristics.greedy import greedy
    >>> sc = load_scenario()
    >>> out = write_run(sc, greedy(sc), Path(tempfile.mkdtemp()) / "run")
    >>> sorted(p.name for p in out.iterdir()) == sorted(RESULT_FILES)
    True
    """
    target = Path(out_dir)
    source = source_record(sc.path, target) if sc.path is not None else None

    def fill(folder: Path) -> None:
        if extra is not None:
            extra(folder)
        _write_files(sc, plan, folder, source, report_sections, extra_files, workers)

    return write_folder(target, fill, force=force)


def write_folder(out_dir: str | Path, fill: Callable[[Path], None], *, force: bool = False,
                 marker: str = _LAST) -> Path:
    """Write a folder whole or not at all: ``fill(tmp)`` writes into a hidden temporary folder, renamed into place.

    ``fill`` must write ``marker`` (``plan.json``) last: it marks a complete folder. If
    it raises -- or Ctrl-C arrives -- the temporary folder is removed and
    ``out_dir`` is left as it was. :func:`write_run` and the what-if commands'
    writers go through here.

    Raises
    ------
    RunExistsError
        When ``out_dir`` exists and ``force`` is not set (or it is not a results folder).
    """
    target = Path(os.path.abspath(out_dir))  # "." and ".." get a name
    check_out_dir(out_dir, force=force, marker=marker)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_failed(Path(out_dir), exc) from exc
    _dead_leftovers(target, rf"\.{re.escape(target.name)}\.(tmp|old)-(?P<pid>\d+)")
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    t = time.perf_counter()
    try:
        tmp.mkdir()
        fill(tmp)
        _swap_in(tmp, target, force=force, marker=marker)
    except OutputError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except _write_errors() as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _write_failed(Path(out_dir), exc) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("wrote %s in %.1f s", target, time.perf_counter() - t)
    return Path(out_dir)


def _write_errors() -> tuple[type[Exception], ...]:
    """What a failed write raises: OSError, and GDAL's errors (through pyogrio: "database or disk is full")."""
    from pyogrio.errors import DataLayerError, DataSourceError

    return OSError, DataLayerError, DataSourceError


_NO_SPACE = "free some disk space, or write to another disk with --out, and run again"


def _write_failed(path: Path, exc: Exception) -> OutputError:
    """The error for an output the system would not let us write (a full disk, no permission...)."""
    if isinstance(exc, OSError):
        why = exc.strerror or str(exc)
        fix = {errno.ENOSPC: _NO_SPACE,
               errno.EDQUOT: "free some of your disk quota, or write elsewhere with --out, and run again",
               errno.EACCES: "choose a folder you may write to with --out",
               errno.EROFS: "choose a folder on a writable disk with --out"}.get(exc.errno or 0,
                                                                               "check the path and run again")
    else:  # GDAL's message, e.g. "failed to execute insert : database or disk is full"
        why = " ".join(str(exc).split())[:200]
        fix = (_NO_SPACE if re.search(r"disk is full|no space", why, re.I)
               else "check the free disk space and the path, and run again")
    return OutputError(path, f"could not write {path} ({why}); nothing was written and what was there is kept", fix)


# --------------------------------------------------------------------------- the topology alone
EXPORT_FORMATS: dict[str, tuple[str, str]] = {
    "geojson": (".geojson", "every layer in one RFC 7946 FeatureCollection (lon/lat)"),
    "gpkg": (".gpkg", "GeoPackage 1.3, one named layer each (QGIS)"),
    "kml": (".kml", "KML 2.2 for Google Earth"),
    "graphml": (".graphml", "the network graph with typed attributes (Gephi, yEd, networkx)"),
    "routes": (".geojson", "span routes as the GeoJSON a scenario reads back as files.routes"),
    "layers": ("", "a folder of GeoJSON files, one per layer (one geometry type and one set of fields each)"),
}
"""Formats of :func:`export_topology`: the file suffix (none: a folder) and what it holds."""

_LAYERS_LAST = "README.txt"
"""Written last into an exported folder of layers: it marks the folder complete (see :func:`write_folder`)."""


def export_format(path: str | Path | None, fmt: str | None = None) -> str:
    """The format asked for, else the one the file's suffix names, else GeoJSON.

    Examples
    --------
    >>> export_format("a.gpkg"), export_format(None, "kml"), export_format("a.json"), export_format("folder")
    ('gpkg', 'kml', 'geojson', 'geojson')
    """
    if fmt is not None:
        return fmt
    suffix = Path(path).suffix.lower() if path is not None else ""
    return next((name for name, (sfx, _) in EXPORT_FORMATS.items() if suffix and sfx == suffix), "geojson")


def default_export_path(sc: Scenario, fmt: str) -> Path:
    """Where :func:`export_topology` writes when no path is given: ``output/<scenario>-topology.<suffix>``.

    Routes go to ``output/<scenario>-routes.geojson``, layers to the folder
    ``output/<scenario>-layers``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> sc = SimpleNamespace(name="reference")
    >>> default_export_path(sc, "gpkg").as_posix(), default_export_path(sc, "routes").as_posix()
    ('output/reference-topology.gpkg', 'output/reference-routes.geojson')
    >>> default_export_path(sc, "layers").as_posix()
    'output/reference-layers'
    """
    suffix, _ = EXPORT_FORMATS[fmt]
    return Path("output") / f"{sc.name}-{fmt if fmt in ('routes', 'layers') else 'topology'}{suffix}"


def export_topology(sc: Scenario, path: str | Path, *, fmt: str, force: bool = False) -> Path:
    """Write a scenario's topology alone (no plan) in one of :data:`EXPORT_FORMATS`.

    The file is written whole (into a temporary file beside it, then renamed). An
    existing file is replaced only with ``force``; never one of the scenario's own
    input files, and never anything that is not a regular file (a folder, a device,
    a FIFO), even with ``force``. ``layers`` writes a folder instead, whole or not at
    all (:func:`write_folder`), replaced with ``force`` only if it is an earlier one.

    Raises
    ------
    OutputError
        When ``path`` may not be written (see above), or the system refuses the write
        (a full disk...).

    Examples
    --------
    >>> import tempfile
    >>> from planner import load_scenario
    >>> out = export_topology(load_scenario(), Path(tempfile.mkdtemp()) / "t.kml", fmt="kml")
    >>> "<kml" in out.read_text()
    True
    """
    if fmt not in EXPORT_FORMATS:
        msg = f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}"
        raise ValueError(msg)
    from planner import gis

    out = Path(path)
    if fmt == "layers":
        def fill(folder: Path) -> None:
            files = gis.write_geojson_layers(sc, folder)
            (folder / _LAYERS_LAST).write_text(
                f"planner: the layers of scenario {sc.name!r}, one RFC 7946 GeoJSON file each (lon/lat)\n\n"
                + "".join(f"  {f.name}\n" for f in files), encoding="utf-8")

        return write_folder(out, fill, force=force, marker=_LAYERS_LAST)
    _check_export_path(sc, out, force=force)
    writers: dict[str, Callable[[Scenario, Path], Path]] = {
        "geojson": gis.write_geojson, "gpkg": gis.write_gpkg, "kml": gis.write_kml, "graphml": gis.write_graphml,
        "routes": gis.export_routes_geojson,
    }
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # The writers write ``.<stem>.<pid>.tmp<suffix>`` and rename it; remove those a killed export left.
        _dead_leftovers(out, rf"\.{re.escape(out.stem)}\.(?P<pid>\d+)\.tmp{re.escape(out.suffix)}")
        writers[fmt](sc, out)
    except _write_errors() as exc:
        raise _write_failed(out, exc) from exc
    return out


def _check_export_path(sc: Scenario, out: Path, *, force: bool) -> None:
    """Raise :class:`OutputError` unless ``export`` may write ``out``."""
    _writable_parent(Path(os.path.abspath(out)))
    if not out.exists() and not out.is_symlink():
        return
    if out.exists() and not out.is_file():
        kind = "a folder" if out.is_dir() else "not a regular file (a device, FIFO or socket)"
        raise OutputError(out, f"{out} is {kind}; export writes only regular files and never replaces anything else",
                          "choose another file with --out")
    for role, inp in sc.input_files.items():
        try:
            same = out.samefile(inp)
        except OSError:
            continue
        if same:
            raise OutputError(out, f"{out} is the scenario's own input file ({role}); it is never overwritten, "
                                   "not even with --force", "choose another file with --out")
    if not force:
        raise OutputError(out, f"{out} already exists", "pass --force to replace it, or choose another file with --out")


# --------------------------------------------------------------------------- the whole run
def plan_scenario(
    scenario: str | Path | Scenario | None = None,
    *,
    out_dir: str | Path | None = None,
    write: bool = True,
    force: bool = False,
    time_limit_s: float = 60.0,
    seed: int = 0,
    workers: int = 2,
    method: Literal["cp-sat", "greedy"] = "cp-sat",
    on_stage: StageCallback | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    model: Literal["auto", "pods", "sites"] = "auto",
    scheduler: str | None = None,
    lns_batch: int = BATCH,
    pattern_rounds: int = 0,
    on_reasons: Callable[[int, int], None] | None = None,
) -> PlanRun:
    """Run every stage: load and validate, network, routing, model build, solve, write.

    Parameters
    ----------
    scenario
        A scenario file (the bundled reference scenario when ``None``) or a loaded
        :class:`~planner.scenario.Scenario` (then the load stage only checks ``out_dir``).
    out_dir
        The results folder; ``output/<scenario name>`` when ``None``. It is checked
        right after loading, so a refused folder costs no solve.
    write
        Write the results folder (with :func:`write_run`); ``False`` stops after the solve.
    force
        Replace an existing results folder.
    time_limit_s, seed, workers
        The solver's time limit, random seed and workers (see :class:`~planner.optimise.optimiser.Optimiser`);
        ``workers`` processes also explain the left-out leases and write the folder side by side.
    method
        ``"cp-sat"`` (the optimiser) or ``"greedy"`` (the fast baseline, no bound).
    on_stage
        Called as ``on_stage(run, stage, finished)`` at the start and end of each
        stage (names in :data:`STAGES`), with the run filled in so far.
    on_progress
        Called with each new incumbent during a CP-SAT solve; with ``method="greedy"``,
        once with the greedy plan (its bound NaN) before its left-out leases are explained.
    on_reasons
        Called as ``on_reasons(explained, left_out)`` while the final plan's left-out
        leases are explained (by ``workers`` processes).
    model
        The optimiser's method: ``"pods"``, ``"sites"`` or ``"auto"`` (see
        :class:`~planner.optimise.optimiser.Optimiser`).
    scheduler, lns_batch, pattern_rounds
        A Dask scheduler address for the site-level neighbourhood search, its batch, and
        rounds of the pattern bound after it
        (see :class:`~planner.optimise.optimiser.Optimiser`; ``scheduler=None``: in this process).

    Returns
    -------
    PlanRun
        With ``plan.interrupted`` set when Ctrl-C stopped the solve early (the best
        plan found so far is still written).

    Raises
    ------
    ScenarioError
        The scenario's files have errors (every one is listed).
    RunExistsError
        The results folder exists (and ``force`` is not set).
    InfeasibleError
        Internal workloads cannot all be placed.

    Examples
    --------
    >>> run = plan_scenario(method="greedy", write=False)
    >>> run.plan.status, list(run.stage_s)
    ('HEURISTIC', ['load', 'network', 'routing', 'build', 'solve'])
    """
    run = PlanRun()
    clock: dict[str, float] = {}

    def stage(name: str, work: Callable[[], None]) -> None:
        if on_stage is not None:
            on_stage(run, name, False)
        t = time.perf_counter()
        work()
        run.stage_s[name] = time.perf_counter() - t
        if on_stage is not None:
            on_stage(run, name, True)

    def load() -> None:
        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        if write:  # refuse an existing folder now, not after the solve
            run.out_dir = Path(out_dir) if out_dir is not None else default_out_dir(sc)
            check_out_dir(run.out_dir, force=force)
        run.scenario = sc

    def network() -> None:
        run.graph = build_network(_sc(run))

    def routing() -> None:
        run.paths = candidate_paths(_sc(run), run.graph)

    def build() -> None:
        clock["build"] = time.perf_counter()  # a greedy plan's progress counts from here, as the optimiser's does
        run.instance = build_instance(_sc(run), graph=run.graph, paths=run.paths)
        if method == "cp-sat":
            from planner.optimise.optimiser import Optimiser

            run.optimiser = Optimiser(_sc(run), time_limit_s=time_limit_s, seed=seed, workers=workers,
                                      instance=run.instance, on_progress=on_progress, method=model,
                                      scheduler=scheduler, lns_batch=lns_batch,
                                      pattern_rounds=pattern_rounds, on_reasons=on_reasons)
            run.optimiser.build()

    def solve() -> None:
        opt = run.optimiser
        if opt is not None:
            run.plan = opt.solve()
        else:
            def on_plan(net_usd: float) -> None:
                if on_progress is not None:
                    on_progress(Progress(time.perf_counter() - clock["build"], net_usd, math.nan, math.nan))

            run.plan = greedy(_sc(run), instance=run.instance, workers=workers, on_plan=on_plan,
                              on_reasons=on_reasons)
        run.plan.meta["stage_s"] = dict(run.stage_s)

    def write_folder() -> None:
        assert run.plan is not None and run.out_dir is not None
        write_run(_sc(run), run.plan, run.out_dir, force=force, workers=workers)

    stages = [("load", load), ("network", network), ("routing", routing), ("build", build), ("solve", solve)]
    for name, work in [*stages, *([("write", write_folder)] if write else [])]:
        stage(name, work)
    return run


def _sc(run: PlanRun) -> Scenario:
    """The run's scenario (loaded by the first stage)."""
    assert run.scenario is not None, "the load stage has not run"
    return run.scenario
