"""The optimiser: from a scenario's instance to the most valuable plan, with its bound.

Organised by role, so the room for a change is found from the file names:

- :mod:`~planner.optimise.instance` -- the typed instance (leases, pods, paths, limits);
- :mod:`~planner.optimise.families` -- the constraint families, declared once, and the resources they limit;
- :mod:`~planner.optimise.residual` -- the ledger of what is left (first fit, used by heuristics and reasons);
- :mod:`~planner.optimise.budget` -- every step's share of the time limit, work or wall clock;
- :mod:`~planner.optimise.incumbent` -- the one channel for plans and bounds;
- :mod:`~planner.optimise.model` -- the pod-level CP-SAT model;
- :mod:`~planner.optimise.cpsat` -- the CP-SAT adapter: solver set-up, parameters, the worker/Ctrl-C loop, export;
- :mod:`~planner.optimise.heuristics` -- greedy plans, warm starts, the eviction polish;
- :mod:`~planner.optimise.bounds` -- the pod LP, the site LP, the pattern (Dantzig-Wolfe) bound;
- :mod:`~planner.optimise.search` -- focused CP-SAT rounds, large-neighbourhood search;
- :mod:`~planner.optimise.methods` -- each method (``pods``, ``sites``) as a list of steps;
- :mod:`~planner.optimise.optimiser` -- :class:`Optimiser` and :func:`optimise`, the entry points.

The package itself imports nothing, so ``import planner`` and :func:`planner.greedy` do not
load OR-Tools.
"""
