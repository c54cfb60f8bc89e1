"""``planner network --format csv|json``: the network's tables as data (:func:`planner.network.network_tables`).

CSV holds one table per file: ``--table`` picks one (to stdout or ``--out``), or
``--out FILE`` with every table writes ``FILE``'s stem plus ``-spans``, ``-paths``
and ``-latency``. JSON is one document with every table asked for.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import networkx as nx
import pandas as pd

from planner.gis.vector import atomic_path
from planner.network import NETWORK_TABLES, network_json, network_tables
from planner.scenario import Scenario

__all__ = ["NetworkFormat", "NetworkTable", "network_data"]


class NetworkFormat(StrEnum):
    """Output formats of ``planner network``."""

    table = "table"
    csv = "csv"
    json = "json"


class NetworkTable(StrEnum):
    """Which of the network's tables to write."""

    all = "all"
    spans = "spans"
    paths = "paths"
    latency = "latency"


def _csv(df: pd.DataFrame, name: str) -> str:
    return df.to_csv(index=name != "paths", lineterminator="\n")


def network_data(sc: Scenario, g: nx.Graph, fmt: NetworkFormat, table: NetworkTable,
                 out: Path | None) -> tuple[str, list[Path]]:
    """The text to print (empty when written to files) and the files written.

    Raises
    ------
    ValueError
        CSV of every table without ``out`` (one CSV holds one table).
    """
    tables = network_tables(sc, g)
    names = list(NETWORK_TABLES) if table is NetworkTable.all else [table.value]
    if fmt is NetworkFormat.json:
        doc = network_json({n: tables[n] for n in NETWORK_TABLES})
        keys = {"spans": "spans", "paths": "paths", "latency": "latency_ms"}
        text = json.dumps({keys[n]: doc[keys[n]] for n in names}, indent=1, allow_nan=False) + "\n"
        targets = {out: text} if out is not None else {}
    elif len(names) == 1:
        text = _csv(tables[names[0]], names[0])
        targets = {out: text} if out is not None else {}
    elif out is None:
        msg = "a CSV file holds one table: give --table spans|paths|latency, or --out FILE for three files"
        raise ValueError(msg)
    else:
        text = ""
        targets = {out.with_name(f"{out.stem}-{n}{out.suffix or '.csv'}"): _csv(tables[n], n) for n in names}
    written = []
    for path, body in targets.items():
        assert path is not None
        with atomic_path(path) as tmp:
            tmp.write_text(body, encoding="utf-8")
        written.append(path)
    return ("" if written else text), written
