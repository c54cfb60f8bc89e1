"""The integer units capacities and loads are counted in.

Capacities are checked in integers: loads rounded up, capacities rounded down, so a plan that
fits in these units fits in the exact ones too. The greedy, the reason finder, the CP-SAT
model and the API service all use these same units (:mod:`planner.optimise.instance`
re-exports them).
"""

from __future__ import annotations

import numpy as np

__all__ = ["KBPS", "MBPS", "UNLIMITED", "W_PER_KW"]

W_PER_KW = 1000
"""Power in W."""
MBPS = 1000
"""DCI traffic in Mbps."""
KBPS = 1_000_000
"""Pod uplink and hall aggregation traffic in kbps."""
UNLIMITED = np.iinfo(np.int64).max // 4
"""The capacity of an aggregation layer the scenario does not model: no load reaches it, no sum overflows."""
