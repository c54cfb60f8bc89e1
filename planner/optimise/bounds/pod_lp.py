"""The LP relaxation of a CP-SAT placement model, solved with GLOP.

Every constraint the model builder writes is linear, so the relaxation is read
straight off the model proto: integrality dropped, enforcement literals (only
used by minimal-move re-planning) ignored -- which only loosens the LP, so its
optimum remains a true upper bound on the plan's value. It keeps every family the
model writes, the halls' aggregation rows and span=hall confinement included.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import pywraplp  # type: ignore[attr-defined]
from ortools.sat.python import cp_model

from planner.plan import Status

__all__ = ["LpResult", "lp_relaxation"]

INF = float("inf")


@dataclass(frozen=True)
class LpResult:
    """The LP optimum (objective in the model's units) and a value per model variable."""

    status: Status
    objective: float
    values: np.ndarray
    wall_s: float


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence file descriptor 1 (HiGHS prints a banner there whatever its output flags say)."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real stdout (e.g. some notebook kernels): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _bound(v: int) -> float:
    if v <= -(2**62):
        return -INF
    if v >= 2**62:
        return INF
    return float(v)


def lp_relaxation(cp: cp_model.CpModel, *, time_limit_s: float = 60.0, backend: str = "HIGHS_LP") -> LpResult:
    """Solve the LP relaxation of ``cp`` (a maximisation built by :func:`planner.optimise.model.build_model`)."""
    t = time.perf_counter()
    proto = cp.proto
    solver = pywraplp.Solver.CreateSolver(backend)
    solver.SuppressOutput()
    solver.SetTimeLimit(int(time_limit_s * 1000))
    xs = []
    for v in proto.variables:
        d = list(v.domain)
        xs.append(solver.NumVar(_bound(d[0]), _bound(d[-1]), ""))
    for c in proto.constraints:
        if not c.has_linear() or len(c.enforcement_literal) > 0:
            continue
        lin = c.linear
        d = list(lin.domain)
        lo, hi = _bound(d[0]), _bound(d[-1])
        coefs: dict[int, float] = {}
        for var, coef in zip(lin.vars, lin.coeffs, strict=True):
            if var >= 0:
                coefs[var] = coefs.get(var, 0.0) + coef
            else:  # a negated literal stands for 1 - x
                coefs[-var - 1] = coefs.get(-var - 1, 0.0) - coef
                lo, hi = lo - coef, hi - coef
        scale = max((abs(v) for v in coefs.values()), default=1.0) or 1.0  # rows of ~unit size for GLOP
        ct = solver.Constraint(lo / scale, hi / scale)
        for var, coef in coefs.items():
            ct.SetCoefficient(xs[var], coef / scale)
    obj = solver.Objective()
    o = proto.objective
    sign = -1.0 if o.scaling_factor < 0 else 1.0  # CP-SAT stores maximisation as a negated minimisation
    for var, coef in zip(o.vars, o.coeffs, strict=True):
        obj.SetCoefficient(xs[var], sign * coef)
    obj.SetMaximization()
    with quiet_stdout():
        status = solver.Solve()
    name = {pywraplp.Solver.OPTIMAL: Status.OPTIMAL, pywraplp.Solver.FEASIBLE: Status.FEASIBLE,
            pywraplp.Solver.INFEASIBLE: Status.INFEASIBLE}.get(status, Status.UNKNOWN)
    unit = abs(o.scaling_factor) or 1.0  # USD per objective unit (finer than a dollar with APIs)
    value = (obj.Value() + sign * o.offset) * unit if name is Status.OPTIMAL else float("nan")
    vals = np.array([x.solution_value() for x in xs]) if name is Status.OPTIMAL else np.zeros(len(xs))
    return LpResult(name, value, vals, time.perf_counter() - t)
