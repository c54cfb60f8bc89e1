"""Where a plan came from: the scenario file and a content hash of every input file.

A results folder is self-describing: its ``plan.json`` holds a ``source`` record
(written by :func:`source_record`) naming the scenario file -- relative to the
folder, and as it was given on the command line -- and the SHA-256 of the scenario
file and of every file it names. :func:`recorded_scenario` finds that scenario
again and :func:`check_source` refuses one whose inputs no longer match, so a plan
is never analysed against another network than the one it was made for::

    {"scenario": "../../scenarios/reference.yaml", "scenario_as_written": "scenarios/reference.yaml",
     "inputs": [{"role": "scenario", "file": "../../scenarios/reference.yaml", "sha256": "9f2c..."},
                {"role": "sites", "file": "../../sites/reference.yaml", "sha256": "41ab..."}, ...]}
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from planner.errors import Problem
from planner.readers import read_yaml_model
from planner.schema import ScenarioFile

__all__ = ["check_source", "input_files", "recorded_scenario", "sha256_file", "source_record"]

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, as hex (read in 1 MiB chunks).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = p.write_bytes(b"abc")
    >>> sha256_file(p)[:16]
    'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def input_files(scenario_path: str | Path) -> list[tuple[str, Path]]:
    """The scenario file and every file it names, as ``(role, absolute path)``, scenario first.

    Roles are the scenario's ``files`` keys (``skus``, ``sites``, ``pods``,
    ``topology``, ``routes``, ``reservations``, ``models``), ``leases[i]`` for the lease
    books and ``api_demand[i]`` for the API demand books. A scenario file that cannot be read gives only itself.

    Examples
    --------
    >>> from planner.scenario import default_scenario_path
    >>> [role for role, _ in input_files(default_scenario_path())][:3]
    ['scenario', 'skus', 'sites']
    """
    path = Path(scenario_path).resolve()
    out: list[tuple[str, Path]] = [("scenario", path)]
    model, _, _ = read_yaml_model(path, ScenarioFile, "scenario", str(path))
    if model is None:
        return out
    for role, rel in model.files.named():
        if rel:
            p = Path(rel)
            out.append((role, (p if p.is_absolute() else path.parent / p).resolve()))
    return out


def _relative(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` (POSIX separators), or absolute when there is no relative path."""
    try:
        return Path(os.path.relpath(path, folder.resolve())).as_posix()
    except ValueError:  # another drive
        return path.as_posix()


def source_record(scenario_path: str | Path, folder: str | Path) -> dict[str, Any]:
    """The ``source`` record of a plan written into ``folder`` from the scenario at ``scenario_path``.

    Parameters
    ----------
    scenario_path
        The scenario file, as the user gave it (kept as ``scenario_as_written``).
    folder
        The results folder the record goes into; paths are stored relative to it.

    Returns
    -------
    dict
        ``scenario``, ``scenario_as_written`` and ``inputs`` (role, file, sha256 of each).
    """
    folder = Path(folder)
    files = input_files(scenario_path)
    return {
        "scenario": _relative(files[0][1], folder),
        "scenario_as_written": str(scenario_path),
        "inputs": [{"role": role, "file": _relative(p, folder), "sha256": sha256_file(p) if p.is_file() else ""}
                   for role, p in files],
    }


def recorded_scenario(source: Mapping[str, Any] | None, folder: str | Path) -> Path | None:
    """The scenario file a ``source`` record names: relative to ``folder`` first, then as written.

    Returns ``None`` when the record names none (a plan written before records were
    kept) or neither path exists.
    """
    if not isinstance(source, Mapping):
        return None
    folder = Path(folder)
    rel, written = source.get("scenario"), source.get("scenario_as_written")
    for candidate in (folder / rel if isinstance(rel, str) else None, Path(written) if isinstance(written, str)
                      else None):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def check_source(source: Mapping[str, Any], folder: str | Path, scenario_path: str | Path,
                 plan_file: str = "plan.json") -> list[Problem]:
    """Every input of ``scenario_path`` whose content differs from the ``source`` record (empty when all match).

    Inputs are matched by role (``sites``, ``leases[0]``...): a file that changed,
    one the scenario no longer names, or one it names now but did not then is a
    problem naming the file, both hashes and the fix.
    """
    recorded = {str(r.get("role")): r for r in source.get("inputs", []) if isinstance(r, Mapping)}
    now = dict(input_files(scenario_path))
    fix = ("re-run `planner plan` on the scenario as it is now, or restore the file as it was "
           "(give the scenario the plan was made for)")
    problems: list[Problem] = []
    for role, rec in recorded.items():
        file = str(rec.get("file", ""))
        path = now.get(role)
        if path is None:
            problems.append(Problem(str(scenario_path), "", f"files.{role}", file,
                                    f"the plan in {plan_file} was made with a {role} file the scenario no longer "
                                    "names", fix))
            continue
        digest = sha256_file(path) if path.is_file() else "(missing)"
        if digest != rec.get("sha256"):
            problems.append(Problem(_display(path), "", "", "",
                                    f"{role} file changed since the plan in {plan_file} was made (sha256 "
                                    f"{str(rec.get('sha256'))[:12]}... then, {digest[:12]}... now)", fix))
    problems += [Problem(_display(path), "", f"files.{role}", "", f"the plan in {plan_file} was made without "
                         f"this {role} file", fix) for role, path in now.items() if role not in recorded]
    return problems


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
