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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import Problem, ScenarioError
from planner.plan import Plan
from planner.provenance import check_source, recorded_scenario
from planner.scenario import Scenario, default_scenario_path, load_scenario

__all__ = ["Results", "plan_file", "read_results"]

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
