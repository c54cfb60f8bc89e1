"""A tiny, hand-checkable scenario written to files, with knobs for each test.

Two campuses on the equator-ish plane of the US south, one junction, two PoPs:

    SA ---- J ---- SB        spans: SA-J, J-SB, SA-P1, SB-P2, J-P2
    |        \\     |
    P1        ---- P2

SKU ``T1`` draws 1.0 kW per GPU, so GPUs x PUE / 1000 is MW at a glance.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import yaml

LEASE_COLUMNS = ["id", "tenant", "kind", "priority", "sku", "gpus", "span", "replicas", "anti_affinity",
                 "egress_gbps", "region", "latency_slo_ms", "allowed_sites", "residency", "start_week",
                 "end_week", "price_usd_per_gpu_hour"]


def lease(id: str, gpus: int, price: float = 2.0, **kw: Any) -> dict[str, Any]:
    """A lease row with sensible defaults (T1, one replica, whole horizon, no egress)."""
    row: dict[str, Any] = {"id": id, "tenant": "t", "kind": "training", "priority": "spot", "sku": "T1",
                           "gpus": gpus, "span": "pod", "replicas": 1, "anti_affinity": False, "egress_gbps": 0,
                           "region": "", "latency_slo_ms": "", "allowed_sites": "", "residency": "",
                           "start_week": 1, "end_week": 4, "price_usd_per_gpu_hour": price}
    row.update(kw)
    return row


def base() -> dict[str, Any]:
    """The tiny scenario's content as plain data; tests edit it, then :func:`write` it."""
    return {
        "scenario": {"name": "tiny", "title": "tiny test", "horizon": {"periods": 4, "hours_per_period": 100},
                     "files": {"skus": "skus.yaml", "sites": "sites.yaml", "pods": "pods.yaml",
                               "topology": "topology.yaml", "reservations": "reservations.csv",
                               "leases": "leases.csv"},
                     "settings": {"max_link_utilisation": 1.0, "k_paths": 3, "transport_usd_per_gbps_km_week": 0.0,
                                  "interpod_gbps_per_gpu": 0.0}},
        "skus": {"skus": [{"id": "T1", "name": "Test GPU", "tdp_w": 700, "server_kw_per_gpu": 1.0,
                           "source": "made up"}]},
        "sites": {"sites": [
            {"id": "SA", "name": "Site A", "lat": 33.0, "lon": -90.0, "grid_mw": 1.0, "pue": 1.0,
             "power_price_usd_per_mwh": 0.0, "residency": ["US"]},
            {"id": "SB", "name": "Site B", "lat": 33.0, "lon": -88.0, "grid_mw": 1.0, "pue": 1.0,
             "power_price_usd_per_mwh": 0.0, "residency": ["EU"]},
        ]},
        "pods": {"fabric_templates": [{"id": "f", "kind": "RoCE", "switch_radix": 64, "port_gbps": 400,
                                       "planes": 1, "oversubscription": 4}],
                 "pods": [{"id": "A1", "site": "SA", "sku": "T1", "gpus": 100, "fabric": "f"},
                          {"id": "A2", "site": "SA", "sku": "T1", "gpus": 100, "fabric": "f"},
                          {"id": "B1", "site": "SB", "sku": "T1", "gpus": 200, "fabric": "f"}]},
        "topology": {"amplifier_delay_ms": 0.0, "terminal_delay_ms": 0.0,
                     "pops": [{"id": "P1", "name": "PoP 1", "lat": 34.0, "lon": -90.0},
                              {"id": "P2", "name": "PoP 2", "lat": 34.0, "lon": -88.0}],
                     "junctions": [{"id": "J", "name": "Junction", "lat": 33.0, "lon": -89.0}],
                     "spans": [
                         {"id": "SA-J", "a": "SA", "b": "J", "fibre_pairs": 1, "channels": 10, "channel_gbps": 100,
                          "srlg": "c1"},
                         {"id": "J-SB", "a": "J", "b": "SB", "fibre_pairs": 1, "channels": 10, "channel_gbps": 100,
                          "srlg": "c2"},
                         {"id": "SA-P1", "a": "SA", "b": "P1", "fibre_pairs": 1, "channels": 10,
                          "channel_gbps": 100, "srlg": "c3"},
                         {"id": "SB-P2", "a": "SB", "b": "P2", "fibre_pairs": 1, "channels": 10,
                          "channel_gbps": 100, "srlg": "c4"},
                         {"id": "J-P2", "a": "J", "b": "P2", "fibre_pairs": 1, "channels": 10,
                          "channel_gbps": 100, "srlg": "c5"},
                     ]},
        "reservations": [],
        "leases": [],
    }


def write(tmp: Path, data: dict[str, Any]) -> Path:
    """Write the scenario's files into ``tmp`` and return the scenario file's path."""
    tmp.mkdir(parents=True, exist_ok=True)
    for key in ("skus", "sites", "pods", "topology"):
        (tmp / f"{key}.yaml").write_text(yaml.safe_dump(data[key], sort_keys=False))
    (tmp / "scenario.yaml").write_text(yaml.safe_dump(data["scenario"], sort_keys=False))
    with (tmp / "reservations.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, ["pod", "site", "sku", "start_week", "end_week", "gpus", "note"])
        w.writeheader()
        w.writerows(data["reservations"])
    with (tmp / "leases.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, LEASE_COLUMNS)
        w.writeheader()
        w.writerows(data["leases"])
    return tmp / "scenario.yaml"
