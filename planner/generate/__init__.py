"""Seeded, realistic scenario generator for the benchmark tiers (small, medium, large, hyperscale).

    path = planner.generate.generate("medium", seed=1, out_dir="scenarios/gen/medium-s1")
    sc = planner.load_scenario(path)
"""

from planner.generate.build import generate
from planner.generate.tiers import TIERS, Tier, get_tier

__all__ = ["TIERS", "Tier", "generate", "get_tier"]
