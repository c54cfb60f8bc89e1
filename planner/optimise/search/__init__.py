"""Searches that improve a plan: focused CP-SAT rounds and large-neighbourhood search.

The package itself imports nothing (the CLI reads :data:`BATCH` without loading OR-Tools).
"""

BATCH = 4
"""Neighbourhoods the large-neighbourhood search re-packs at a time from the same plan
(``batch`` of :func:`planner.optimise.search.lns.pool_lns`)."""
