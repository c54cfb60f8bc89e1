"""Failure analysis of a plan: every cut case evaluated (on Dask), ranked by revenue at risk, as tables and GIS.

::

    report = failure_analysis(sc, plan)                 # local Dask cluster
    report = failure_analysis(sc, plan, serial=True)    # in-process, same table
    report.cases                                        # one row per case, worst first
    write_failures(sc, report, "output/failures", plan=plan, with_plan=True)  # a folder of its own, with plan.json
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from planner.gis import CRS, route_line, write_geojson, write_gpkg
from planner.gis.layers import joined
from planner.plan import Plan
from planner.run import list_in_readme
from planner.scenario import Scenario
from planner.whatif.cuts import Case, cut_cases, evaluate_cut
from planner.whatif.distributed import ProgressCallback, run_tasks

__all__ = ["CASE_COLUMNS", "FAILURE_FILES", "REPLAN_COLUMNS", "ROUTE_COLUMNS", "CutOptions", "FailureReport",
           "FailureSummary", "failure_analysis", "failure_layers", "failure_summary", "write_failures"]

CASE_COLUMNS = ["rank", "case", "kind", "spans", "srlgs", "status", "error", "survivable", "campuses_connected",
                "inter_campus_replicas", "inter_campus_survivable", "replicas_affected", "replicas_rerouted",
                "replicas_slo_lost", "replicas_stranded", "leases_slo_lost", "leases_stranded", "slo_lost", "stranded",
                "overloaded_spans", "peak_span_utilisation", "revenue_at_risk_usd", "worst_added_latency_ms"]
"""Columns of :attr:`FailureReport.cases` (and ``failures.csv``).

Counts say their unit in their name: ``replicas_*`` count lease replicas (affected =
rerouted + SLO lost + stranded), ``leases_*`` count leases (a lease counts as
stranded when any replica is, else as SLO lost when any replica is); ``slo_lost``
and ``stranded`` list those leases.
"""

REPLAN_COLUMNS = ["replan_status", "replan_error", "replan_gap", "n_moved", "n_dropped", "moved", "dropped",
                  "revenue_before_usd", "revenue_after_usd", "revenue_kept_usd", "replan_violations"]
"""Extra columns with ``replan=True``."""

ROUTE_COLUMNS = ["case", "lease", "replica", "outcome", "site", "region", "slo_ms", "egress_gbps", "start_week",
                 "end_week", "revenue_usd", "inter_campus", "old_path", "old_spans", "old_latency_ms", "new_path",
                 "new_spans", "new_latency_ms", "added_latency_ms", "limited_by", "limited_in_tail", "why"]
"""Columns of :attr:`FailureReport.routes` (and ``failure_routes.csv``): one row per affected replica."""


@dataclass(frozen=True)
class CutOptions:
    """How each case is evaluated (see :func:`~planner.whatif.cuts.evaluate_cut`)."""

    replan: bool = False
    time_limit_s: float = 10.0
    seed: int = 0
    explain: bool = False
    move_penalty_usd: float | None = None


@dataclass
class FailureReport:
    """The cut cases of a plan, ranked by revenue at risk, and the affected routes.

    Attributes
    ----------
    cases
        One row per case (:data:`CASE_COLUMNS`, plus :data:`REPLAN_COLUMNS` with
        ``replan``), worst first; a case whose task failed twice has
        ``status="failed"`` and its ``error``.
    routes
        One row per affected replica per case (:data:`ROUTE_COLUMNS`).
    replan
        Whether the cases were also re-planned.
    """

    cases: pd.DataFrame
    routes: pd.DataFrame
    replan: bool = False

    @property
    def failed(self) -> list[str]:
        """Cases whose evaluation failed."""
        return self.cases.loc[self.cases["status"] != "ok", "case"].tolist()

    def __repr__(self) -> str:
        ok = self.cases[self.cases["status"] == "ok"]
        bad = int(len(ok) - ok["survivable"].astype(bool).sum())
        worst = ok.iloc[0] if len(ok) else None
        tail = f", worst {worst['case']} (${worst['revenue_at_risk_usd']:,.0f} at risk)" if worst is not None else ""
        return (f"FailureReport({len(self.cases)} cases, {bad} not survivable, {len(self.failed)} failed"
                f"{tail})")


@dataclass(frozen=True)
class FailureSummary:
    """The figures a failure analysis ends with (``planner failures`` prints them under its tables).

    Attributes
    ----------
    cases
        Every case, evaluated or failed.
    survivable, not_survivable
        Evaluated cases whose every lease replica keeps a path within its SLO, and the others.
    failed
        Cases whose evaluation failed (see :attr:`FailureReport.failed`).
    campuses_cut_apart_by
        Evaluated cases after which some campuses have no fibre between them.
    inter_campus_lost_in
        Evaluated cases in which inter-campus traffic loses its SLO or its path.
    tail_spans, tail_cases
        The full spans past the last campus that strand or slow inter-campus traffic
        (most often first), and the cases in which they do.
    replan_violations_in
        Cases whose re-plan breaks a check (only with ``replan``).
    """

    cases: int
    survivable: int
    not_survivable: int
    failed: tuple[str, ...]
    campuses_cut_apart_by: tuple[str, ...]
    inter_campus_lost_in: tuple[str, ...]
    tail_spans: tuple[str, ...]
    tail_cases: tuple[str, ...]
    replan_violations_in: tuple[str, ...]


def failure_summary(report: FailureReport) -> FailureSummary:
    """Count a failure analysis's cases and name the ones that cut campuses apart or strand their traffic.

    Examples
    --------
    >>> cases = pd.DataFrame({"case": ["srlg:A", "span:B", "span:C"], "status": ["ok", "ok", "failed"],
    ...     "survivable": [True, False, None], "campuses_connected": [True, False, None],
    ...     "inter_campus_survivable": [True, False, None]})
    >>> routes = pd.DataFrame({"case": ["span:B"], "inter_campus": [True], "limited_in_tail": [True],
    ...     "limited_by": ["S-9"]})
    >>> s = failure_summary(FailureReport(cases, routes))
    >>> s.cases, s.survivable, s.not_survivable, s.failed, s.campuses_cut_apart_by, s.tail_spans
    (3, 1, 1, ('span:C',), ('span:B',), ('S-9',))
    """
    ok = report.cases[report.cases["status"] == "ok"]
    survivable = int(ok["survivable"].astype(bool).sum())
    routes = report.routes
    tails = routes[routes["inter_campus"].astype(bool) & routes["limited_in_tail"].astype(bool)]
    bad: list[str] = []
    if report.replan:
        bad = ok.loc[ok["replan_violations"].map(lambda v: bool(v) if isinstance(v, tuple) else False),
                     "case"].tolist()
    return FailureSummary(
        cases=len(report.cases), survivable=survivable, not_survivable=len(ok) - survivable,
        failed=tuple(report.failed),
        campuses_cut_apart_by=tuple(ok.loc[~ok["campuses_connected"].astype(bool), "case"]),
        inter_campus_lost_in=tuple(ok.loc[~ok["inter_campus_survivable"].astype(bool), "case"]),
        tail_spans=tuple(tails["limited_by"].value_counts().index), tail_cases=tuple(tails["case"].unique()),
        replan_violations_in=tuple(bad))


def _cut_task(shared: tuple[Scenario, Plan], job: tuple[Case, CutOptions]) -> dict[str, Any]:
    """One case, as a Dask task (module level so workers import it by name)."""
    sc, plan = shared
    case, opt = job
    return evaluate_cut(sc, plan, case, replan=opt.replan, time_limit_s=opt.time_limit_s, seed=opt.seed,
                        workers=1, explain=opt.explain, move_penalty_usd=opt.move_penalty_usd)


def failure_analysis(sc: Scenario, plan: Plan, cases: Sequence[Case] | None = None, *, replan: bool = False,
                     time_limit_s: float = 10.0, seed: int = 0, explain: bool = False,
                     move_penalty_usd: float | None = None, scheduler: Any = None, serial: bool = False,
                     n_workers: int = 2, on_progress: ProgressCallback | None = None) -> FailureReport:
    """Evaluate every cut case of a plan, each as a task on Dask (or in-process), and rank them.

    Parameters
    ----------
    sc, plan
        The scenario and its plan.
    cases
        The cases; every conduit and span cut (:func:`~planner.whatif.cuts.cut_cases`) by default.
    replan
        Also re-optimise each case from the plan with minimal moves (CP-SAT, one
        search worker per task, ``time_limit_s``, ``seed``, deterministic).
    explain, move_penalty_usd
        See :func:`~planner.whatif.cuts.evaluate_cut`.
    scheduler, serial, n_workers, on_progress
        Where the tasks run (see :func:`~planner.whatif.distributed.run_tasks`).

    Returns
    -------
    FailureReport

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.heuristics.greedy import greedy
    >>> sc = load_scenario()
    >>> report = failure_analysis(sc, greedy(sc, explain=False))  # doctest: +SKIP
    >>> report.cases[["case", "replicas_stranded", "revenue_at_risk_usd", "survivable"]].head()  # doctest: +SKIP
    """
    cases = list(cases) if cases is not None else cut_cases(sc)
    opt = CutOptions(replan=replan, time_limit_s=time_limit_s, seed=seed, explain=explain,
                     move_penalty_usd=move_penalty_usd)
    light = replace(plan, log=[])  # the solver log can be long; tasks do not need it
    results = run_tasks(_cut_task, (sc, light), [(c, opt) for c in cases], keys=[c.id for c in cases],
                        scheduler=scheduler, serial=serial, n_workers=n_workers, on_progress=on_progress)
    rows: list[dict[str, Any]] = []
    routes: list[dict[str, Any]] = []
    for case, res in zip(cases, results, strict=True):
        if res.value is None:
            rows.append({"case": case.id, "kind": case.kind, "spans": case.spans, "srlgs": case.srlgs,
                         "status": "failed", "error": res.error})
            continue
        row = dict(res.value)
        routes += [{"case": case.id, **r} for r in row.pop("reroutes")]
        rows.append(row)
    return FailureReport(cases=_case_table(rows, replan), routes=pd.DataFrame(routes, columns=ROUTE_COLUMNS),
                         replan=replan)


def _case_table(rows: list[dict[str, Any]], replan: bool) -> pd.DataFrame:
    """Cases worst first: revenue at risk, then replicas stranded and losing their SLO, then case order."""
    df = pd.DataFrame(rows)
    for col, src in (("leases_slo_lost", "slo_lost"), ("leases_stranded", "stranded"), ("n_moved", "moved"),
                     ("n_dropped", "dropped")):
        df[col] = df[src].map(lambda v: len(v) if isinstance(v, tuple) else math.nan) if src in df else math.nan
    for col in ("revenue_at_risk_usd", "replicas_stranded", "replicas_slo_lost"):
        if col not in df:
            df[col] = math.nan
    df["_order"] = range(len(df))
    df = df.sort_values(["revenue_at_risk_usd", "replicas_stranded", "replicas_slo_lost", "_order"],
                        ascending=[False, False, False, True], na_position="last", kind="stable")
    df = df.reset_index(drop=True)
    df["rank"] = range(1, len(df) + 1)
    return df.reindex(columns=CASE_COLUMNS + (REPLAN_COLUMNS if replan else []))


# --------------------------------------------------------------------------- files and GIS
def _flat(df: pd.DataFrame) -> pd.DataFrame:
    """Tuple cells joined with ``;`` (for CSV and GIS)."""
    out = df.copy()
    for c in out.columns:
        if out[c].map(lambda v: isinstance(v, tuple | list)).any():
            out[c] = out[c].map(lambda v: joined(v) if isinstance(v, tuple | list) else v)
    return out


def failure_layers(sc: Scenario, report: FailureReport) -> dict[str, gpd.GeoDataFrame]:
    """GIS layers (EPSG:4326) of a failure report.

    Returns
    -------
    dict
        ``cut_spans`` (one LineString per case and cut span, with the case's
        impact), ``affected_routes`` (the old route of every affected replica) and
        ``rerouted_routes`` (the new route of every replica still carried).
    """
    cases = _flat(report.cases.set_index("case", drop=False))
    span_rows = []
    for case, row in report.cases.set_index("case").iterrows():
        for span in row["spans"]:
            if span not in sc.spans.index:
                continue
            s = sc.spans.loc[span]
            c = cases.loc[case]
            span_rows.append({"id": f"{case}|{span}", "case": case, "rank": c["rank"], "kind": c["kind"], "span": span,
                              "srlg": s["srlg"], "a": s["a"], "b": s["b"], "length_km": s["length_km"],
                              "capacity_gbps": s["capacity_gbps"], "status": c["status"],
                              "survivable": c["survivable"], "replicas_stranded": c["replicas_stranded"],
                              "replicas_slo_lost": c["replicas_slo_lost"],
                              "revenue_at_risk_usd": c["revenue_at_risk_usd"],
                              "worst_added_latency_ms": c["worst_added_latency_ms"], "geometry": s["geometry"]})
    routes = _flat(report.routes)
    old_rows, new_rows = [], []
    for r, raw in zip(routes.to_dict("records"), report.routes.itertuples(index=False), strict=True):
        rid = f"{r['case']}|{r['lease']}#{r['replica']}"
        old_rows.append({"id": rid, **r, "geometry": route_line(sc, str(raw.site), raw.old_spans)[0]})
        if raw.new_spans:
            new_rows.append({"id": rid, **r, "geometry": route_line(sc, str(raw.site), raw.new_spans)[0]})
    span_cols = ["case", "rank", "kind", "span", "srlg", "a", "b", "length_km", "capacity_gbps", "status",
                 "survivable", "replicas_stranded", "replicas_slo_lost", "revenue_at_risk_usd",
                 "worst_added_latency_ms"]
    return {"cut_spans": _layer(span_rows, span_cols), "affected_routes": _layer(old_rows, ROUTE_COLUMNS),
            "rerouted_routes": _layer(new_rows, ROUTE_COLUMNS)}


def _layer(rows: list[dict[str, Any]], columns: list[str]) -> gpd.GeoDataFrame:
    df = pd.DataFrame(rows, columns=["id", *columns, "geometry"]).set_index("id")
    return gpd.GeoDataFrame(df, geometry="geometry", crs=CRS)


FAILURE_FILES = {"cases": "failures.csv", "routes": "failure_routes.csv", "geojson": "failures.geojson",
                 "gpkg": "failures.gpkg", "report": "report.html", "plan": "plan.json"}
"""The files :func:`write_failures` writes, by kind (``report`` and ``plan`` only with the plan)."""
FAILURE_NOTES = {"cases": "one row per cut (span or conduit): replicas affected, re-routed, SLO lost, stranded; "
                          "leases SLO lost, stranded; revenue at risk",
                 "routes": "one row per cut and replica it touches: the route before and after, latency, verdict",
                 "geojson": "the cuts and the re-routed replicas' routes as GIS layers (lon/lat)",
                 "gpkg": "the same layers as a GeoPackage"}
"""What each failure file holds, as README.txt lists it."""


def _write_failure_files(sc: Scenario, report: FailureReport, folder: Path, plan: Plan | None,
                         source: dict[str, Any] | None, *, with_plan: bool) -> list[str]:
    """Write the failure files into ``folder`` (``plan.json`` last); return their kinds."""
    _flat(report.cases).to_csv(folder / FAILURE_FILES["cases"], index=False)
    _flat(report.routes).to_csv(folder / FAILURE_FILES["routes"], index=False)
    layers = failure_layers(sc, report)
    write_geojson(layers, folder / FAILURE_FILES["geojson"])
    write_gpkg({k: v for k, v in layers.items() if len(v)}, folder / FAILURE_FILES["gpkg"])
    kinds = ["cases", "routes", "geojson", "gpkg"]
    if with_plan:
        list_in_readme(folder, {FAILURE_FILES[k]: FAILURE_NOTES[k] for k in kinds})
    if plan is not None:
        from planner.report import write_report

        write_report(sc, plan, folder / FAILURE_FILES["report"], failures=report.cases)
        kinds.append("report")
        if with_plan:
            from planner.results import plan_document

            (folder / FAILURE_FILES["plan"]).write_text(plan_document(sc, plan, source), encoding="utf-8")
            kinds.append("plan")
    return kinds


def write_failures(sc: Scenario, report: FailureReport, out_dir: str | Path, *, plan: Plan | None = None,
                   with_plan: bool = False, force: bool = False) -> dict[str, Path]:
    """Write ``failures.csv``, ``failure_routes.csv``, ``failures.geojson`` and ``failures.gpkg``.

    With the ``plan`` the cases were cut from, also (re)write ``report.html`` with a
    section of the cases ranked by revenue at risk. Nothing is left half written:

    - ``with_plan=False`` adds the files to ``out_dir`` as it is (the plan's own
      results folder): all are written into a hidden folder inside it first, then
      moved into place, so a failure while writing changes nothing;
    - ``with_plan=True`` writes a new folder whole or not at all
      (:func:`planner.run.write_folder`), with ``plan.json`` (recording the
      scenario's files and hashes), so it can be read back like a results folder;
      an existing folder is replaced only with ``force``.

    Returns
    -------
    dict
        File kind -> path written.

    Raises
    ------
    planner.run.RunExistsError
        With ``with_plan`` when ``out_dir`` exists and may not be replaced.
    """
    from planner.provenance import source_record
    from planner.run import write_folder

    out = Path(out_dir)
    source = source_record(sc.path, out) if sc.path is not None and with_plan and plan is not None else None
    kinds: list[str] = []
    if with_plan:
        def fill(folder: Path) -> None:
            kinds.extend(_write_failure_files(sc, report, folder, plan, source, with_plan=True))

        write_folder(out, fill, force=force, marker=FAILURE_FILES["plan"] if plan is not None else "failures.csv")
        return {k: out / FAILURE_FILES[k] for k in kinds}
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".failures.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        kinds = _write_failure_files(sc, report, tmp, plan, None, with_plan=False)
        for k in kinds:
            os.replace(tmp / FAILURE_FILES[k], out / FAILURE_FILES[k])
        list_in_readme(out, {FAILURE_FILES[k]: FAILURE_NOTES[k] for k in kinds if k in FAILURE_NOTES})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {k: out / FAILURE_FILES[k] for k in kinds}
