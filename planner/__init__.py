"""planner: which leased GPU workloads can AI campuses accept, where, and what do they earn?

Each stage is a public function returning pandas tables::

    sc = planner.load_scenario()            # read + validate the inputs -> Scenario
    g = planner.build_network(sc)           # NetworkX graph of fabrics and DCI fibre
    paths = planner.candidate_paths(sc, g)  # k lowest-latency routes site -> PoP
    plan = optimise(sc, time_limit_s=20)    # from planner.optimise import optimise -> Plan
    planner.write_run(sc, plan, "output/my-run")   # the results folder, whole or not at all

or all of them at once: ``run = planner.plan_scenario("scenarios/reference.yaml")``.
"""

__version__ = "0.1.0"  # first: modules imported below read it

from planner.errors import InfeasibleError, Problem, ScenarioError
from planner.network import build_network
from planner.plan import Plan
from planner.routing import candidate_paths, k_shortest_paths, latency_matrix, span_graph
from planner.run import PlanRun, RunExistsError, export_topology, plan_scenario, write_run
from planner.scenario import Scenario, default_scenario_path, load_scenario

__all__ = [
    "InfeasibleError",
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
    "k_shortest_paths",
    "latency_matrix",
    "load_scenario",
    "plan_scenario",
    "span_graph",
    "write_run",
]
