"""planner: which leased GPU workloads can AI campuses accept, where, and what do they earn?

Each stage is a public function returning pandas tables::

    sc = planner.load_scenario()            # validate inputs -> Scenario
    g = planner.build_network(sc)           # NetworkX graph of fabrics and DCI fibre
    paths = planner.candidate_paths(sc, g)  # k lowest-latency routes site -> PoP
"""

from planner.errors import InfeasibleError, Problem, ScenarioError
from planner.network import build_network
from planner.routing import candidate_paths, k_shortest_paths, latency_matrix, span_graph
from planner.scenario import Scenario, default_scenario_path, load_scenario

__version__ = "0.1.0"

__all__ = [
    "InfeasibleError",
    "Problem",
    "Scenario",
    "ScenarioError",
    "__version__",
    "build_network",
    "candidate_paths",
    "default_scenario_path",
    "k_shortest_paths",
    "latency_matrix",
    "load_scenario",
    "span_graph",
]
