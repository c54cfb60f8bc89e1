"""Read a results folder back: its plan, against the scenario it was made from.

Every command that takes a results folder (``planner failures RUN``, ``--plan RUN``)
goes through :func:`read_results`. The scenario is the one ``plan.json`` records
(:mod:`planner.provenance`), unless the caller names one; either way every input
file must still hash as it did when the plan was made, and the plan must fit the
scenario (:meth:`~planner.plan.Plan.check`). Anything else is a
:class:`~planner.errors.ScenarioError` listing what is wrong and the fix.

::

    run = read_results("output/reference")
    run.scenario, run.plan, run.source
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from planner.api_plan import API_REPLICA_COLUMNS, API_ROUTE_COLUMNS, API_USE_COLUMNS
from planner.errors import Problem, ScenarioError
from planner.plan import Plan
from planner.provenance import check_source, recorded_scenario
from planner.scenario import Scenario, default_scenario_path, load_scenario

__all__ = ["API_TABLES", "Results", "api_table", "plan_document", "plan_file", "read_results"]

API_TABLES: dict[str, list[str]] = {"api_use": API_USE_COLUMNS,
                                    "api_routes": [c for c in API_ROUTE_COLUMNS if c != "spans"],
                                    "api_replicas": API_REPLICA_COLUMNS}
"""The plan's API tables, as ``plan.json`` keys and results-folder CSVs (``<name>.csv``), with the contract's
columns (the optimiser adds each route's ``spans`` after them)."""

_PLAN_FIX = "give a results folder (or its plan.json) written by `planner plan`"


@dataclass
class Results:
    """A results folder read back.

    Attributes
    ----------
    plan_file
        The ``plan.json`` read.
    scenario
        The scenario the plan was made from (its inputs checked against the record).
    plan
        The plan, its derived tables rebuilt from ``scenario``.
    source
        The ``source`` record of ``plan.json`` (``None`` for a plan written before records were kept).
    """

    plan_file: Path
    scenario: Scenario
    plan: Plan
    source: dict[str, Any] | None


def _finite(v: Any) -> Any:
    """JSON has no NaN or inf: such a number is written as ``null``."""
    return None if isinstance(v, float) and not math.isfinite(v) else v


def plan_document(sc: Scenario, plan: Plan, source: dict[str, Any] | None = None) -> str:
    """``plan.json``'s text: :meth:`Plan.to_json`, with the API serving and the split of uses.

    Beside the plan's own keys it holds ``meta.api`` (the horizon's API totals; zeros
    without APIs), ``api`` (those totals with ``tokens_demanded`` and
    ``served_share``), ``use_split`` (one record per use -- leases, apis, internal --
    see :func:`planner.usesplit.use_split`) and the three API tables as records
    (:meth:`Plan.from_json` reads them back).
    """
    from planner.usesplit import API_TOTAL_KEYS, api_totals, use_split

    doc = plan.to_document(source=source)  # encoded once, below, as Plan.to_json would
    totals = api_totals(sc, plan)
    doc["meta"] = {**doc["meta"], "api": {k: totals[k] for k in API_TOTAL_KEYS}}
    doc["api"] = {k: _finite(v) for k, v in totals.items()}
    split = use_split(sc, plan).reset_index()
    doc["use_split"] = [{k: _finite(v) for k, v in row.items()} for row in split.to_dict("records")]
    for name in API_TABLES:
        doc[name] = json.loads(api_table(plan, name).to_json(orient="records"))
    return json.dumps(doc, indent=1, allow_nan=False, default=str)


def api_table(plan: Plan, name: str) -> pd.DataFrame:
    """One of the plan's API tables (``api_use``, ``api_routes``, ``api_replicas``) as written out.

    The contract's columns first, in its order, then any the optimiser adds (the
    route's ``spans``).
    """
    table = getattr(plan, name)
    columns = API_TABLES[name]
    return table.reindex(columns=[*columns, *(c for c in table.columns if c not in columns)])


_INT_COLUMNS = frozenset({"week", "replicas", "gpus", "started"})
_TEXT_COLUMNS = frozenset({"stream", "model", "region", "reason", "site", "path_id", "path", "sku", "hall", "pod"})


def _api_record_problems(doc: dict[str, Any], file: Path) -> list[Problem]:
    """Every malformed cell of the API tables a ``plan.json`` holds (weeks and counts whole, amounts numbers)."""
    problems = []
    fix = "re-run `planner plan` (plan.json's API tables are written by the planner)"
    for name, columns in API_TABLES.items():
        rows = doc.get(name, [])
        if not isinstance(rows, list):
            problems.append(Problem(str(file), "", name, type(rows).__name__, "not a list of rows", fix))
            continue
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                problems.append(Problem(str(file), f"{name} row {i + 1}", "", repr(row)[:40], "not an object", fix))
                continue
            for c in columns:
                v = row.get(c)
                if c in _TEXT_COLUMNS:
                    ok = v is None or isinstance(v, str)
                    kind = "text"
                elif c in _INT_COLUMNS:
                    ok = isinstance(v, int) and not isinstance(v, bool)
                    kind = "a whole number"
                else:
                    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                    kind = "a number"
                if not ok:
                    problems.append(Problem(str(file), f"{name} row {i + 1}", c, repr(v)[:40], f"not {kind}", fix))
    return problems


def plan_file(path: str | Path) -> Path:
    """``path/plan.json`` for a folder, ``path`` itself otherwise."""
    p = Path(path)
    return p / "plan.json" if p.is_dir() else p


def _fail(file: Path, message: str, fix: str, where: str = "", field: str = "") -> ScenarioError:
    return ScenarioError([Problem(str(file), where, field, "", message, fix)])


def _document(file: Path) -> dict[str, Any]:
    if not file.is_file():
        raise _fail(file, "no plan here", _PLAN_FIX)
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise _fail(file, "the plan is not UTF-8 text", _PLAN_FIX) from None
    except OSError as exc:
        raise _fail(file, f"cannot read the plan ({exc.strerror})", "check the path") from None
    except json.JSONDecodeError as exc:
        raise _fail(file, f"the plan is not valid JSON ({exc.msg})", _PLAN_FIX, f"line {exc.lineno}") from None
    if not isinstance(doc, dict):
        raise _fail(file, "the plan is not a JSON object", _PLAN_FIX)
    return doc


def read_results(path: str | Path, scenario: str | Path | None = None) -> Results:
    """Read a plan (a results folder or its ``plan.json``) and the scenario it was made from.

    Parameters
    ----------
    path
        A results folder written by ``planner plan`` (or ``derate``), or a ``plan.json``.
    scenario
        The scenario file; by default the one ``plan.json`` records (relative to the
        folder, then as it was written), or the bundled reference scenario for a plan
        that records none.

    Returns
    -------
    Results

    Raises
    ------
    ScenarioError
        No plan at ``path``; the recorded scenario cannot be found; an input file
        changed since the plan was made (named, with both hashes); the scenario has
        errors; or the plan does not fit it.

    Examples
    --------
    >>> import tempfile
    >>> from planner import load_scenario
    >>> from planner.optimise.heuristics.greedy import greedy
    >>> from planner.run import write_run
    >>> sc = load_scenario()
    >>> out = write_run(sc, greedy(sc), Path(tempfile.mkdtemp()) / "run")
    >>> r = read_results(out)
    >>> r.scenario.name, r.plan.method, r.source["inputs"][0]["role"]
    ('reference', 'greedy', 'scenario')
    """
    file = plan_file(path)
    doc = _document(file)
    source = doc.get("source") if isinstance(doc.get("source"), dict) else None
    if scenario is not None:
        sc_path = Path(scenario)
    elif source is not None:
        found = recorded_scenario(source, file.parent)
        if found is None:
            raise _fail(file, f"the scenario this plan was made from is not found (recorded as "
                              f"{source.get('scenario')!r} from the results folder, "
                              f"{source.get('scenario_as_written')!r} as written)",
                        "give the scenario file as SCENARIO", field="source.scenario")
        sc_path = found
    else:
        sc_path = default_scenario_path()
    if source is not None:
        problems = check_source(source, file.parent, sc_path, plan_file=str(file))
        if problems:
            raise ScenarioError(problems)
    sc = load_scenario(sc_path)
    if doc.get("scenario") != sc.name:
        fix = "give the scenario the plan was made for as SCENARIO"
        if source is None:
            fix += " (this plan.json records no scenario file: it was written before plans recorded theirs)"
        raise _fail(file, f"this is a plan for scenario {doc.get('scenario')!r}, not {sc.name!r} ({sc_path})",
                    fix, field="scenario")
    malformed = _api_record_problems(doc, file)
    if malformed:
        raise ScenarioError(malformed)
    try:
        plan = Plan.from_json(json.dumps(doc), sc)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _fail(file, f"the plan does not fit scenario {sc.name} ({sc_path}): {type(exc).__name__}: {exc}",
                    "re-run `planner plan` for this scenario") from None
    violations = plan.check(sc)
    if violations:
        raise ScenarioError([Problem(str(file), "", "", "", f"the plan does not fit scenario {sc.name} "
                                     f"({sc_path}): {v}", "re-run `planner plan` for this scenario")
                             for v in violations[:5]])
    return Results(plan_file=file, scenario=sc, plan=plan, source=source)
