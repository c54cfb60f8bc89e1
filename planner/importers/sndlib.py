"""SNDlib networks (native text or XML): nodes with coordinates, links with capacities, demands.

No maintained Python package reads SNDlib network files, so both formats are
parsed here (XML with defusedxml, which refuses entity expansion). A link's capacity is
its pre-installed capacity, in the unit the file's META section names (``unit =
MBITPERSEC``...), else in Mbit/s (SNDlib's usual unit), unless ``capacity_scale``
says otherwise; links without one get the defaults.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from planner.errors import Problem, ScenarioError
from planner.importers.source import SourceNetwork, link_table, node_table, source_label

__all__ = ["read_sndlib"]

_NS = "{http://sndlib.zib.de/network}"
_SECTION = re.compile(r"^\s*(NODES|LINKS|DEMANDS|ADMISSIBLE_PATHS|META)\s*\(\s*$")
_NODE = re.compile(r"^\s*(\S+)\s*\(\s*(\S+)\s+(\S+)\s*\)\s*$")
_LINK = re.compile(r"^\s*(\S+)\s*\(\s*(\S+)\s+(\S+)\s*\)\s*(\S+)")
_DEMAND = re.compile(r"^\s*(\S+)\s*\(\s*(\S+)\s+(\S+)\s*\)\s*\S+\s+(\S+)")
_META_UNIT = re.compile(r"^\s*unit\s*=\s*(\S+)", re.I)
_UNIT = re.compile(r"^([KMGT])BIT(?:PER|/)?S(?:EC)?$", re.I)
_GBPS_PER = {"K": 1e-6, "M": 1e-3, "G": 1.0, "T": 1e3}
DEFAULT_SCALE = 1e-3
"""Gbps per capacity unit when the file names no unit it knows: Mbit/s."""


def unit_scale(unit: str) -> float | None:
    """Gbps per unit of an SNDlib capacity unit, ``None`` when unknown.

    Examples
    --------
    >>> unit_scale("MBITPERSEC"), unit_scale("GBIT/S"), unit_scale("????")
    (0.001, 1.0, None)
    """
    m = _UNIT.match(unit.strip())
    return _GBPS_PER[m.group(1).upper()] if m else None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _native(text: str, file: str, scale: float | None) -> SourceNetwork:
    nodes, links, demands = [], [], []
    unit = DEFAULT_SCALE
    problems: list[Problem] = []
    section = ""
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("?"):
            continue
        m = _SECTION.match(line)
        if m:
            section = m.group(1)
            continue
        if line.strip() == ")":
            section = ""
            continue
        if section == "META":
            m = _META_UNIT.match(line)
            unit = (unit_scale(m.group(1)) or DEFAULT_SCALE) if m else unit
        elif section == "NODES":
            m = _NODE.match(line)
            if m is None:
                problems.append(Problem(file, f"line {n}", "NODES", line.strip(), "not a node line",
                                        "write <id> ( <longitude> <latitude> )"))
                continue
            nodes.append({"key": m.group(1), "name": m.group(1), "lon": _float(m.group(2)),
                          "lat": _float(m.group(3))})
        elif section == "LINKS":
            m = _LINK.match(line)
            if m is None:
                problems.append(Problem(file, f"line {n}", "LINKS", line.strip(), "not a link line",
                                        "write <id> ( <source> <target> ) <capacity> <cost> ..."))
                continue
            cap = _float(m.group(4)) * (scale if scale is not None else unit)
            links.append({"id": m.group(1), "source": m.group(2), "target": m.group(3),
                          "capacity_gbps": cap if cap > 0 else math.nan})
        elif section == "DEMANDS":
            m = _DEMAND.match(line)
            if m is not None:
                demands.append({"source": m.group(2), "target": m.group(3), "value": _float(m.group(4))})
    if problems:
        raise ScenarioError(problems)
    return SourceNetwork(node_table(nodes), link_table(links), file,
                         pd.DataFrame(demands, columns=["source", "target", "value"]))


def _text(el: ET.Element | None, tag: str) -> str:
    found = el.find(f"{_NS}{tag}") if el is not None else None
    return (found.text or "").strip() if found is not None else ""


def _xml(text: str, file: str, scale: float | None) -> SourceNetwork:
    root = SafeET.fromstring(text)
    if scale is None:
        scale = unit_scale(_text(root.find(f"{_NS}meta"), "unit")) or DEFAULT_SCALE
    nodes = []
    for node in root.iter(f"{_NS}node"):
        coords = node.find(f"{_NS}coordinates")
        nodes.append({"key": node.get("id", ""), "name": node.get("id", ""), "lon": _float(_text(coords, "x")),
                      "lat": _float(_text(coords, "y"))})
    links = []
    for link in root.iter(f"{_NS}link"):
        pre = link.find(f"{_NS}preInstalledModule")
        cap = _float(_text(pre, "capacity")) * scale if pre is not None else math.nan
        links.append({"id": link.get("id", ""), "source": _text(link, "source"), "target": _text(link, "target"),
                      "capacity_gbps": cap if cap > 0 else math.nan})
    demands = [{"source": _text(d, "source"), "target": _text(d, "target"),
                "value": _float(_text(d, "demandValue"))} for d in root.iter(f"{_NS}demand")]
    return SourceNetwork(node_table(nodes), link_table(links), file,
                         pd.DataFrame(demands, columns=["source", "target", "value"]))


def read_sndlib(path: str | Path, *, capacity_scale: float | None = None) -> SourceNetwork:
    """Read an SNDlib network file, native text or XML (told apart by its first character).

    Parameters
    ----------
    path
        The ``.txt`` (native) or ``.xml`` file.
    capacity_scale
        Gbps per unit of the file's capacities; ``None``: from the unit the file names,
        else Mbit/s (0.001).

    Raises
    ------
    ScenarioError
        When the file cannot be read or a node or link line is malformed (with its line).
    """
    path = Path(path)
    file = source_label(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(file, "", "", "", f"cannot read the file: {exc}",
                                     "give an SNDlib network file (native .txt or .xml)")]) from None
    if text.lstrip().startswith("<"):
        try:
            return _xml(text, file, capacity_scale)
        except ET.ParseError as exc:
            raise ScenarioError([Problem(file, f"line {exc.position[0]}", "", "", f"malformed XML: {exc}",
                                         "fix the XML, or use the SNDlib native format")]) from None
        except DefusedXmlException as exc:
            raise ScenarioError([Problem(file, "", "", "", f"the XML declares entities or a DTD ({exc!r})",
                                         "remove the DOCTYPE: SNDlib files need none")]) from None
    return _native(text, file, capacity_scale)
