"""Searches that improve a plan: focused CP-SAT rounds and large-neighbourhood search."""
