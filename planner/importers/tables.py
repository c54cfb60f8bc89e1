"""CSV node and link lists, read by pandas.

Nodes: ``id`` (or ``key``, ``node``), ``name`` (or ``label``), ``lat``/``lon``
(or ``latitude``/``longitude``), optional ``kind`` (``pop``, ``junction``) and
other attributes (e.g. ``population`` for ``--top-pops``). Links: ``source`` and
``target`` (or ``a``/``b``, ``from``/``to``), optional ``id``, ``length_km``,
``capacity_gbps``, ``srlg``, ``fibre_pairs``, ``channels``, ``channel_gbps``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd

from planner.errors import Problem, ScenarioError
from planner.importers.source import SourceNetwork, link_table, node_table, source_label

__all__ = ["read_csv_pair", "read_srlg_table"]

_NODE_ALIASES = {"key": ("id", "key", "node"), "name": ("name", "label"), "lat": ("lat", "latitude", "Latitude"),
                 "lon": ("lon", "lng", "longitude", "Longitude")}
_LINK_ALIASES = {"source": ("source", "a", "from", "u"), "target": ("target", "b", "to", "v"), "id": ("id", "span")}


def _read(path: Path) -> tuple[pd.DataFrame, str]:
    file = source_label(path)
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig"), file
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ScenarioError([Problem(file, "", "", "", f"cannot read the CSV file: {exc}",
                                     "save it as UTF-8 CSV with a header row")]) from None


def _rename(df: pd.DataFrame, aliases: dict[str, tuple[str, ...]], file: str, required: tuple[str, ...],
            problems: list[Problem]) -> pd.DataFrame:
    cols = {}
    for target, names in aliases.items():
        found = next((c for c in names if c in df.columns), None)
        if found is not None:
            cols[found] = target
        elif target in required:
            problems.append(Problem(file, "line 1", target, "", "required column is missing",
                                    f"add a column named one of: {', '.join(names)}"))
    return df.rename(columns=cols)


def read_csv_pair(nodes_path: str | Path, links_path: str | Path, *, srlg_attr: str = "srlg") -> SourceNetwork:
    """Read a node list and a link list (CSV) as source tables.

    Raises
    ------
    ScenarioError
        Listing missing columns and cells that are not numbers (file, line, column, value).
    """
    ndf, nfile = _read(Path(nodes_path))
    ldf, lfile = _read(Path(links_path))
    problems: list[Problem] = []
    ndf = _rename(ndf, _NODE_ALIASES, nfile, ("key", "lat", "lon"), problems)
    ldf = _rename(ldf, _LINK_ALIASES, lfile, ("source", "target"), problems)
    if problems:
        raise ScenarioError(problems)
    for df, file, numeric in ((ndf, nfile, ("lat", "lon")),
                              (ldf, lfile, ("length_km", "capacity_gbps", "fibre_pairs", "channels",
                                            "channel_gbps", "amplifier_spacing_km"))):
        for col in numeric:
            if col not in df.columns:
                continue
            values = pd.to_numeric(df[col].str.strip().replace("", None), errors="coerce")
            for i in df.index[values.isna() & df[col].str.strip().ne("")]:
                problems.append(Problem(file, f"line {int(i) + 2}", col, repr(df.at[i, col]), "not a number",
                                        "give a number (decimal point '.')"))
            df[col] = values
    if problems:
        raise ScenarioError(problems)
    rows: list[dict[str, Any]] = []
    for _, r in ndf.iterrows():
        rows.append({**{k: v for k, v in r.items() if k not in ("key", "name", "lat", "lon", "kind")},
                     "key": str(r["key"]).strip(), "name": str(r.get("name", "") or r["key"]).strip(),
                     "lat": r["lat"], "lon": r["lon"], "kind": str(r.get("kind", "")).strip()})
    if srlg_attr in ldf.columns and srlg_attr != "srlg":
        ldf["srlg"] = ldf[srlg_attr]
    links = [{c: r[c] for c in ldf.columns if c in ("source", "target", "id", "srlg", "length_km", "capacity_gbps",
                                                    "fibre_pairs", "channels", "channel_gbps",
                                                    "amplifier_spacing_km")} for _, r in ldf.iterrows()]
    return SourceNetwork(node_table(rows), link_table(links), nfile)


def read_srlg_table(path: str | Path) -> dict[str, str]:
    """``span,srlg`` rows (or ``a,b,srlg`` by node ids or source keys) as the importer's lookup.

    Returns
    -------
    dict
        Span id (or ``a|b``) -> shared-risk group, as :attr:`ImportOptions.srlg_table
        <planner.importers.build.ImportOptions.srlg_table>` takes it.

    Raises
    ------
    ScenarioError
        The file cannot be read, or rows name no span or no group (every such row listed).

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "srlg.csv"
    >>> _ = f.write_text("span,srlg\\nS-1,I80\\nS-2,\\n", encoding="utf-8")
    >>> try:
    ...     read_srlg_table(f)
    ... except ScenarioError as exc:
    ...     [(p.where, p.field) for p in exc.problems]
    [('line 3', 'srlg')]
    >>> _ = f.write_text("a,b,srlg\\nCHI,NYC,I80\\n", encoding="utf-8")
    >>> read_srlg_table(f)
    {'CHI|NYC': 'I80'}
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ScenarioError([Problem(str(path), "", "", "", f"cannot read the CSV file: {exc}",
                                     "give a UTF-8 CSV with columns span,srlg (or a,b,srlg)")]) from None
    out: dict[str, str] = {}
    problems = []
    for n, r in enumerate(rows, start=2):
        group = (r.get("srlg") or "").strip()
        key = (r.get("span") or "").strip() or f"{(r.get('a') or '').strip()}|{(r.get('b') or '').strip()}"
        if not group or key in ("", "|"):
            problems.append(Problem(str(path), f"line {n}", "srlg" if not group else "span", "",
                                    "the row names no span or no shared-risk group",
                                    "give span,srlg (or a,b,srlg) on every row"))
            continue
        out[key] = group
    if problems:
        raise ScenarioError(problems)
    return out
