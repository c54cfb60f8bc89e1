"""Write a quote's table as CSV: whole or not at all, never over a file unless asked, never over an input."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import pandas as pd

from planner.run import OutputError
from planner.scenario import Scenario

__all__ = ["write_quote"]


def _flat(table: pd.DataFrame) -> pd.DataFrame:
    """Floats as they are, tuples and lists joined with ``;`` (a CSV cell holds text)."""
    out = table.copy()
    for c in out.columns:
        if out[c].map(lambda v: isinstance(v, tuple | list)).any():
            out[c] = out[c].map(lambda v: ";".join(map(str, v)) if isinstance(v, tuple | list) else v)
    return out


def write_quote(table: pd.DataFrame, path: str | Path, *, sc: Scenario | None = None, force: bool = False,
                inputs: tuple[Path, ...] = ()) -> Path:
    """Write ``table`` to ``path`` as CSV, through a temporary file renamed into place.

    Parameters
    ----------
    table
        The quote's table (:func:`planner.quote.book.quote`).
    path
        The CSV file.
    sc
        The scenario: its input files are never overwritten.
    force
        Replace an existing regular file.
    inputs
        Other files never to overwrite (the requests file).

    Raises
    ------
    OutputError
        When ``path`` exists (without ``force``), is not a regular file, is an input
        file, or cannot be written (nothing is then written and what was there is kept).
    """
    out = Path(path)
    protected = [*(sc.input_files.values() if sc is not None else ()), *inputs]
    if out.exists() or out.is_symlink():
        if not out.is_file():
            raise OutputError(out, f"{out} is not a regular file; the quote is written only to a file",
                              "choose another file with --out")
        for inp in protected:
            with contextlib.suppress(OSError):
                if out.samefile(inp):
                    raise OutputError(out, f"{out} is an input file; it is never overwritten, not even with --force",
                                      "choose another file with --out")
        if not force:
            raise OutputError(out, f"{out} already exists", "pass --force to replace it, or choose another file")
    folder = out.parent if str(out.parent) else Path()
    if not folder.is_dir():
        raise OutputError(out, f"the folder {folder} does not exist", "create it, or choose another file with --out")
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            _flat(table).to_csv(f, index=False, lineterminator="\n")
        os.replace(tmp, out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(out, f"could not write {out} ({exc.strerror or exc}); nothing was written",
                          "check the path and the free disk space, and run again") from None
    return out
