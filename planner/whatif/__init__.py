"""What-if and failure analysis: fibre cuts, power derates and sweeps, run in parallel on Dask.

::

    from planner.whatif import cut_cases, evaluate_cut, failure_analysis, derate, sweep

    report = failure_analysis(sc, plan)             # every conduit and span cut, on a local Dask cluster
    report.cases                                    # ranked by revenue at risk
    r = derate(sc, plan, "OH-NAL", 30, (27, 35))    # which leases go when a site loses 30 % of its MW
    table = sweep(sc, "examples/sweep_grid.yaml")   # a grid of variants, each solved
"""

from planner.whatif.compare import PlanDiff, compare_plans
from planner.whatif.cuts import Case, cut_cases, cut_scenario, evaluate_cut, replan_cut
from planner.whatif.derate import DerateResult, derate, derated_scenario
from planner.whatif.derate_files import write_derate
from planner.whatif.distributed import TaskResult, local_cluster, run_tasks
from planner.whatif.failures import (
    FailureReport,
    FailureSummary,
    failure_analysis,
    failure_layers,
    failure_summary,
    write_failures,
)
from planner.whatif.sweep import (
    Grid,
    GridError,
    evaluate_point,
    failed_points,
    read_grid,
    sweep,
    sweep_chart,
    write_sweep,
)
from planner.whatif.variants import pod_groups, vary

__all__ = [
    "Case",
    "DerateResult",
    "FailureReport",
    "FailureSummary",
    "Grid",
    "GridError",
    "PlanDiff",
    "TaskResult",
    "compare_plans",
    "cut_cases",
    "cut_scenario",
    "derate",
    "derated_scenario",
    "evaluate_cut",
    "evaluate_point",
    "failed_points",
    "failure_analysis",
    "failure_layers",
    "failure_summary",
    "local_cluster",
    "pod_groups",
    "read_grid",
    "replan_cut",
    "run_tasks",
    "sweep",
    "sweep_chart",
    "vary",
    "write_derate",
    "write_failures",
    "write_sweep",
]
