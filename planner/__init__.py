"""planner: which leased GPU workloads can AI campuses accept, where, and what do they earn?

Each stage is a public function returning pandas tables::

    sc = planner.load_scenario()            # read + validate the inputs -> Scenario
    g = planner.build_network(sc)           # NetworkX graph of fabrics and DCI fibre
    paths = planner.candidate_paths(sc, g)  # k lowest-latency routes site -> PoP
    plan = planner.optimise(sc, time_limit_s=20)    # CP-SAT -> Plan (status, bound, gap, tables)
    base = planner.greedy(sc)               # the greedy baseline -> Plan
    planner.surplus(sc, plan)               # what is left to sell: free GPUs, power and fibre headroom
    planner.write_run(sc, plan, "output/my-run")   # the results folder, whole or not at all
    planner.quote(sc, plan, "examples/requests.csv")  # can we take these requests, where, at what price?

or all of them at once: ``run = planner.plan_scenario("scenarios/reference.yaml")``.
"""

from typing import TYPE_CHECKING, Any

# The optimiser's and the quote's packages: light themselves, their modules load OR-Tools.
import planner.optimise
import planner.quote  # noqa: F401
from planner.errors import InfeasibleError, NoPlanError, Problem, ScenarioError
from planner.network import build_network
from planner.plan import Plan
from planner.routing import candidate_paths, k_shortest_paths, latency_matrix, span_graph
from planner.run import PlanRun, RunExistsError, export_topology, plan_scenario, write_run
from planner.scenario import Scenario, default_scenario_path, load_scenario
from planner.surplus import surplus, surplus_runs
from planner.version import __version__

if TYPE_CHECKING:
    from planner.optimise.heuristics.greedy import greedy
    from planner.optimise.optimiser import Optimiser, optimise
    from planner.quote.book import quote

# The solver pulls in OR-Tools; load it on first use, so that `import planner` stays light and
# tools that must not load OR-Tools (a HiGHS benchmark worker, `planner.greedy`) can still use the rest.
# Importing the package `planner.optimise` bound its name here; `planner.optimise` is the function, so the
# name is handed to `__getattr__` (imports of `planner.optimise.*` go through `sys.modules`, not this name).
# `planner.quote` likewise: the package's name is handed to `__getattr__`, which gives the function.
del globals()["optimise"], globals()["quote"]
_LAZY = {"optimise": "planner.optimise.optimiser", "Optimiser": "planner.optimise.optimiser",
         "greedy": "planner.optimise.heuristics.greedy", "quote": "planner.quote.book"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    msg = f"module 'planner' has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = [
    "InfeasibleError",
    "NoPlanError",
    "Optimiser",
    "Plan",
    "PlanRun",
    "Problem",
    "RunExistsError",
    "Scenario",
    "ScenarioError",
    "__version__",
    "build_network",
    "candidate_paths",
    "default_scenario_path",
    "export_topology",
    "greedy",
    "k_shortest_paths",
    "latency_matrix",
    "load_scenario",
    "optimise",
    "plan_scenario",
    "quote",
    "span_graph",
    "surplus",
    "surplus_runs",
    "write_run",
]
