"""CSV node and link lists, read by pandas.

Nodes: ``id`` (or ``key``, ``node``), ``name`` (or ``label``), ``lat``/``lon``
(or ``latitude``/``longitude``), optional ``kind`` (``pop``, ``junction``) and
other attributes (e.g. ``population`` for ``--top-pops``). Links: ``source`` and
``target`` (or ``a``/``b``, ``from``/``to``), optional ``id``, ``length_km``,
``capacity_gbps``, ``srlg``, ``fibre_pairs``, ``channels``, ``channel_gbps``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from planner.errors import Problem, ScenarioError
from planner.importers.source import SourceNetwork, link_table, node_table, source_label

__all__ = ["read_csv_pair"]

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
