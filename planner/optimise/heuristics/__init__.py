"""Greedy plans, warm starts and the eviction polish (local search on a plan)."""
