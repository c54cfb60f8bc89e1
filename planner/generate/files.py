"""Write a generated scenario as ordinary, commented scenario files (the formats of ``planner schema``).

YAML is emitted line by line (strings JSON-quoted, which YAML reads as
double-quoted scalars) so that every site, hall and span carries a comment saying
what it is and why it has the numbers it has.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from planner.generate.campus import AGGREGATION_OVERSUBSCRIPTION, FABRIC_NOTES, FABRICS, SKUS, Hall, SiteSpec
from planner.generate.fibre import Fibre

__all__ = ["write_csv", "write_pods", "write_scenario", "write_sites", "write_skus", "write_topology"]


def _q(v: str) -> str:
    return json.dumps(v, ensure_ascii=False)


def _num(v: float) -> str:
    """A number as YAML: integers without a decimal point.

    Examples
    --------
    >>> _num(3.0), _num(1.275)
    ('3', '1.275')
    """
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _header(lines: list[str], text: str) -> None:
    lines.extend(f"# {t}".rstrip() for t in text.strip().splitlines())
    lines.append("")


def write_scenario(path: Path, name: str, title: str, weeks: int, k_paths: int, about: str) -> None:
    """``scenario.yaml``: horizon, settings and the other files (relative paths)."""
    lines: list[str] = []
    _header(lines, about)
    lines += [f"name: {name}", f"title: {_q(title)}", "", "horizon:", f"  periods: {weeks}               # weeks",
              "  hours_per_period: 168", '  start_date: "2027-01-04"  # Monday of ISO week 1, 2027', "",
              "files:", "  skus: gpu_skus.yaml", "  sites: sites.yaml", "  pods: pods.yaml",
              "  topology: topology.yaml", "  reservations: reservations.csv", "  leases:", "    - leases.csv", "",
              "settings:", "  max_link_utilisation: 0.8", f"  k_paths: {k_paths}",
              "  transport_usd_per_gbps_km_week: 0.002", "  interpod_gbps_per_gpu: 25.0",
              "  move_penalty_usd: 1000000.0"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_skus(path: Path) -> None:
    """``gpu_skus.yaml``: the catalogue (the same figures as ``sites/gpu_skus.yaml``)."""
    lines: list[str] = []
    _header(lines, "GPU SKU catalogue: all-in server (or rack) IT power per GPU, before PUE.")
    lines.append("skus:")
    for sid, (name, tdp, kw, source) in SKUS.items():
        lines += [f"  - id: {sid}", f"    name: {_q(name)}", f"    tdp_w: {tdp}", f"    server_kw_per_gpu: {kw}",
                  f"    source: {_q(source)}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_sites(path: Path, sites: list[SiteSpec], about: str) -> None:
    """``sites.yaml``: the campuses, with their power and the reasons for it in comments."""
    lines: list[str] = []
    _header(lines, about)
    lines.append("sites:")
    for s in sites:
        c = s.campus
        lines.append(f"  # {c.name}: {c.utility}; " + "; ".join(s.notes))
        lines += [f"  - id: {c.id}", f"    name: {_q(c.name)}", f"    lat: {c.lat}", f"    lon: {c.lon}",
                  f"    state: {c.state}", "    footprint:"]
        lines += [f"      - [{x}, {y}]" for x, y in s.footprint]
        lines += [f"    grid_mw: {_num(s.grid_mw)}", f"    onsite_mw: {_num(s.onsite_mw)}"]
        if s.windows:
            lines.append("    power_windows:")
            for w in s.windows:
                lines += [f"      - start_week: {w['start_week']}", f"        end_week: {w['end_week']}",
                          f"        grid_mw: {_num(float(w['grid_mw']))}"]
        lines += [f"    pue: {s.pue}", f"    power_price_usd_per_mwh: {_num(s.price_usd_per_mwh)}",
                  f"    region: {c.region}", f"    residency: [{', '.join(s.residency)}]"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_pods(path: Path, halls: list[Hall], about: str) -> None:
    """``pods.yaml``: the fabric templates, the halls (aggregation domains) and one pod group per hall."""
    lines: list[str] = []
    _header(lines, about)
    lines.append("fabric_templates:")
    for fid, (kind, radix, port, planes, over) in FABRICS.items():
        lines += [f"  # {FABRIC_NOTES[fid]}", f"  - id: {fid}", f"    kind: {kind}", f"    switch_radix: {radix}",
                  f"    port_gbps: {port}", f"    planes: {planes}", f"    oversubscription: {_num(over)}"]
    lines += ["", "halls:"]
    for h in halls:
        lines += [f"  # {h.count} x {h.gpus:,} GPUs x {FABRICS[h.fabric][2]}G / "
                  f"{_num(AGGREGATION_OVERSUBSCRIPTION)}",
                  f"  - id: {h.hall}", f"    site: {h.site}", f"    building: {_q(h.building)}",
                  f"    name: {_q(h.name)}", f"    aggregation_gbps: {_num(round(h.aggregation_gbps, 3))}"]
    lines += ["", "pods:"]
    for h in halls:
        lines += [f"  # {h.hall}: {h.count} x {h.gpus:,} GPUs = {h.count * h.gpus:,}",
                  f"  - id: {h.group}", f"    site: {h.site}", f"    sku: {h.sku}", f"    gpus: {h.gpus}",
                  f"    fabric: {h.fabric}", f"    count: {h.count}", f"    hall: {h.hall}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_topology(path: Path, fibre: Fibre, about: str) -> None:
    """``topology.yaml``: PoPs, junctions and spans with their routes."""
    lines: list[str] = []
    _header(lines, about)
    lines += ["amplifier_delay_ms: 0.0001", "terminal_delay_ms: 0.01", "", "pops:"]
    for p in fibre.pops:
        lines += [f"  - id: {p.id}", f"    name: {_q(p.name)}", f"    lat: {p.lat}", f"    lon: {p.lon}"]
    lines += ["", "junctions:"]
    for j in fibre.junctions:
        lines += [f"  - id: {j.id}", f"    name: {_q(j.name)}", f"    lat: {j.lat}", f"    lon: {j.lon}"]
    lines += ["", "spans:"]
    for s in fibre.spans:
        cap = s.capacity_gbps / 1000
        lines += [f"  # {s.note}: ~{s.length_km:,.0f} km, {s.fibre_pairs} x {s.channels} x {s.channel_gbps}G"
                  f" = {cap:,.1f} Tb/s",
                  f"  - id: {s.id}", f"    a: {s.a}", f"    b: {s.b}", f"    srlg: {s.srlg}",
                  f"    fibre_pairs: {s.fibre_pairs}", f"    channels: {s.channels}",
                  f"    channel_gbps: {s.channel_gbps}", f"    amplifier_spacing_km: {_num(s.amplifier_spacing_km)}",
                  "    waypoints:"]
        lines += [f"      - [{x}, {y}]" for x, y in s.waypoints]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    """One CSV file with a header row."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
