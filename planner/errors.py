"""Errors raised by the planner, and the `Problem` record every input check produces.

Input problems are gathered, never raised one by one: a loader collects every
:class:`Problem` it finds and raises one :class:`ScenarioError` that lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["InfeasibleError", "NoPlanError", "Problem", "ScenarioError"]


@dataclass(frozen=True)
class Problem:
    """One problem found in the input files.

    Parameters
    ----------
    file
        The file the problem is in (as given in the scenario, relative where possible).
    where
        The place inside the file: ``"line 12"``, ``"row 7 (lease L-0042)"``...
    field
        The field (YAML key or CSV column) at fault, or ``""`` for the whole record.
    value
        The offending value, as text.
    message
        What is wrong.
    fix
        What to do about it.
    severity
        ``"error"`` stops the run; ``"warning"`` is reported and the run goes on.

    Examples
    --------
    >>> p = Problem("sites/x.yaml", "line 4", "lat", "95.0", "latitude out of range",
    ...             "use decimal degrees between -90 and 90")
    >>> print(p)
    sites/x.yaml, line 4, field 'lat' = 95.0: latitude out of range. Fix: use decimal degrees between -90 and 90
    """

    file: str
    where: str
    field: str
    value: str
    message: str
    fix: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        place = ", ".join(p for p in (self.file, self.where) if p)
        fld = f", field '{self.field}'" if self.field else ""
        val = f" = {self.value}" if self.value != "" else ""
        return f"{place}{fld}{val}: {self.message}. Fix: {self.fix}"


@dataclass
class ScenarioError(ValueError):
    """The scenario's input files have errors; ``problems`` lists every one of them."""

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    @property
    def errors(self) -> list[Problem]:
        """The problems that stop the run (severity ``"error"``)."""
        return [p for p in self.problems if p.severity == "error"]

    def __str__(self) -> str:
        n, w = len(self.errors), len(self.problems) - len(self.errors)
        head = f"{n} error{'s' if n != 1 else ''}" + (f" and {w} warning{'s' if w != 1 else ''}" if w else "")
        return "\n".join([f"{head} in the scenario:", *(f"  - {p}" for p in self.problems)])


class InfeasibleError(RuntimeError):
    """Internal workloads cannot all be placed; ``reasons`` says which and why."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = list(reasons)
        msg = "internal workloads cannot be placed:\n" + "\n".join(f"  - {r}" for r in reasons)
        super().__init__(msg)


class NoPlanError(RuntimeError):
    """The solver ended without any plan (its time limit too short for the first one)."""
