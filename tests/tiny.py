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

import numpy as np
import yaml

LEASE_COLUMNS = ["id", "tenant", "kind", "priority", "sku", "gpus", "span", "replicas", "anti_affinity",
                 "egress_gbps", "region", "latency_slo_ms", "allowed_sites", "residency", "start_week",
                 "end_week", "price_usd_per_gpu_hour"]


UPSIDE_COLUMNS = ["may_start_early_weeks", "may_grow_gpus", "upside_probability"]


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
                     # spans drawn straight on purpose (latency = great-circle km x 4.9 us): no route-factor warning
                     "settings": {"max_link_utilisation": 1.0, "k_paths": 3, "transport_usd_per_gbps_km_week": 0.0,
                                  "interpod_gbps_per_gpu": 0.0, "min_route_factor": 1.0}},
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
        cols = ["pod", "site", "sku", "start_week", "end_week", "gpus", "note"]
        if any("hall" in r for r in data["reservations"]):
            cols = ["hall", *cols]
        cols += [c for c in UPSIDE_COLUMNS if any(c in r for r in data["reservations"])]  # only when a row has them
        w = csv.DictWriter(f, cols, restval="")
        w.writeheader()
        w.writerows(data["reservations"])
    with (tmp / "leases.csv").open("w", newline="") as f:  # latest_start (a start window) only when a lease has one
        windowed = any("latest_start" in r for r in data["leases"])
        w = csv.DictWriter(f, [*LEASE_COLUMNS, "latest_start"] if windowed else LEASE_COLUMNS, restval="")
        w.writeheader()
        w.writerows(data["leases"])
    return tmp / "scenario.yaml"


# --------------------------------------------------------------------------- scenarios shared by tests
def triangle() -> dict[str, Any]:
    """One campus SA, one PoP P1 and a junction J, all on the equator (delays 0, so latency = km x 4.9 us).

        J (lon -9) ---- SA (lon 0) ---- P1 (lon 9)      SA-P1: 9 deg, 2,000 Gbps, conduit "east"
         \\__________________________/                    SA-J: 9 deg, J-P1: 18 deg, 1,000 Gbps each,
                                                         both in conduit "west"

    SA -> P1 direct: 9 x 111.3195 = 1,001.9 km = 4.909 ms; the detour SA > J > P1: 27 degrees =
    3,005.6 km = 14.728 ms, which breaks a 10 ms SLO and meets a 20 ms one.
    """
    d = base()
    d["scenario"]["settings"]["transport_usd_per_gbps_km_week"] = 0.001  # shortest route is the cheapest
    d["sites"]["sites"] = [dict(d["sites"]["sites"][0], lat=0.0, lon=0.0)]
    d["pods"]["pods"] = [p for p in d["pods"]["pods"] if p["site"] == "SA"]
    d["topology"]["pops"] = [{"id": "P1", "name": "PoP 1", "lat": 0.0, "lon": 9.0}]
    d["topology"]["junctions"] = [{"id": "J", "name": "Junction", "lat": 0.0, "lon": -9.0}]
    d["topology"]["spans"] = [
        {"id": "SA-P1", "a": "SA", "b": "P1", "fibre_pairs": 1, "channels": 20, "channel_gbps": 100, "srlg": "east"},
        {"id": "SA-J", "a": "SA", "b": "J", "fibre_pairs": 1, "channels": 10, "channel_gbps": 100, "srlg": "west"},
        {"id": "J-P1", "a": "J", "b": "P1", "fibre_pairs": 1, "channels": 10, "channel_gbps": 100, "srlg": "west"},
    ]
    kw = {"region": "P1", "allowed_sites": "SA"}
    d["leases"] = [
        lease("L1", 10, price=3, latency_slo_ms=10, egress_gbps=100, **kw),  # only the direct span meets 10 ms
        lease("L2", 10, price=2, latency_slo_ms=20, egress_gbps=600, **kw),  # the detour meets 20 ms ...
        lease("L3", 10, price=1, latency_slo_ms=20, egress_gbps=600, **kw),  # ... but not for both of them
        lease("L4", 10, price=1.5, allowed_sites="SA"),  # no traffic
    ]
    return d


def single_route() -> dict[str, Any]:
    """SA reaches P1 over one route only: SA-J then J-P1, in two conduits."""
    d = triangle()
    d["topology"]["spans"] = [s for s in d["topology"]["spans"] if s["id"] != "SA-P1"]
    d["topology"]["spans"][1]["srlg"] = "north"
    d["leases"] = [lease("L1", 10, price=2, region="P1", egress_gbps=50, allowed_sites="SA"),
                   lease("L2", 10, price=1, allowed_sites="SA")]
    return d


def derate_data() -> dict[str, Any]:
    """SA holds 200 GPUs of power (grid 0.2 MW), four SA leases of 50 GPUs priced 4..1 and one cheaper at SB."""
    d = base()
    d["sites"]["sites"][0]["grid_mw"] = 0.2  # SA: 200 GPUs x 1 kW x PUE 1
    d["leases"] = [lease(f"L{i}", 50, price=p, allowed_sites="SA") for i, p in enumerate([4, 3, 2, 1], start=1)]
    d["leases"].append(lease("L5", 50, price=0.5, allowed_sites="SB"))  # the cheapest, but at the other site
    return d


def random_tiny(seed: int, n: int, max_replicas: int = 2) -> dict[str, Any]:
    """``n`` random leases (the first internal) on :func:`base`, drawn from ``seed``: exact cross-checks solve it."""
    rng = np.random.default_rng(seed)
    d = base()
    d["sites"]["sites"][0]["grid_mw"] = float(rng.uniform(0.12, 0.3))
    d["sites"]["sites"][0]["power_price_usd_per_mwh"] = 80.0
    d["sites"]["sites"][1]["power_price_usd_per_mwh"] = 40.0
    d["scenario"]["settings"]["transport_usd_per_gbps_km_week"] = 0.01
    d["scenario"]["settings"]["max_link_utilisation"] = 0.8
    d["reservations"] = [{"pod": "A1", "start_week": 1, "end_week": 2, "gpus": int(rng.integers(0, 60))}]
    leases = []
    for i in range(n):
        region = str(rng.choice(["", "P1", "P2"]))
        leases.append(lease(
            f"L{i}", int(rng.integers(2, 16)) * 10, price=float(rng.uniform(0.5, 4)),
            replicas=int(rng.choice([1, 1, max_replicas])), anti_affinity=bool(rng.random() < 0.5),
            start_week=int(rng.integers(1, 3)), end_week=int(rng.integers(3, 5)), region=region,
            egress_gbps=float(rng.integers(0, 500)) if region else 0,
            latency_slo_ms=float(rng.choice([0.6, 1.2, 2.0])) if region and rng.random() < 0.5 else "",
            priority="internal" if i == 0 else "spot"))
    leases[0]["price_usd_per_gpu_hour"] = 0
    leases[0]["gpus"] = 20
    d["leases"] = leases
    return d


def crowded(seed: int, n: int = 8) -> dict[str, Any]:
    """Two sites, leases of mixed sizes and terms, more demand than room: the LP leaves some sites unused."""
    rng = np.random.default_rng(seed)
    d = base()
    d["sites"]["sites"][0]["power_price_usd_per_mwh"] = 90.0
    d["sites"]["sites"][1]["power_price_usd_per_mwh"] = 30.0
    d["reservations"] = [{"pod": "A1", "start_week": 1, "end_week": 2, "gpus": int(rng.integers(0, 60))}]
    d["leases"] = [lease(f"L{i}", int(rng.integers(3, 15)) * 10, price=float(rng.uniform(0.5, 4)),
                         start_week=int(rng.integers(1, 3)), end_week=int(rng.integers(3, 5)),
                         allowed_sites=str(rng.choice(["", "", "SA", "SB"])))
                   for i in range(n)]
    return d


ZONE_GPUS = 3072
"""GPUs of one AI zone (pod) in :func:`halls`: Meta's published 24K clusters are 8 of them."""


def halls(aggregation_gbps: tuple[float, ...] = (2_000_000.0, 2_000_000.0), zones: int = 8,
          interpod_gbps_per_gpu: float = 50.0) -> dict[str, Any]:
    """One campus SA with halls ``H1``, ``H2``, ... of ``zones`` AI zones of 3,072 GPUs each, and SB with one small pod.

    Hall ``Hk`` holds pods ``Hk-Z-01`` ... with ``aggregation_gbps[k - 1]`` on its
    aggregation layer; SB's pod ``B1`` (200 GPUs) is in hall ``HB`` (unlimited
    aggregation: it is one pod). A replica split over pods loads each of its pods'
    uplinks and its hall's aggregation layer with ``interpod_gbps_per_gpu`` per GPU.
    SA's grid carries every GPU (1 kW each, PUE 1). No leases: tests add them.
    """
    d = base()
    d["scenario"]["settings"]["interpod_gbps_per_gpu"] = interpod_gbps_per_gpu
    d["sites"]["sites"][0]["grid_mw"] = len(aggregation_gbps) * zones * ZONE_GPUS / 1000 + 1
    d["pods"]["fabric_templates"].append({"id": "zone", "kind": "RoCE", "switch_radix": 128, "port_gbps": 400,
                                          "planes": 1, "oversubscription": 4})
    d["pods"]["halls"] = [{"id": f"H{k}", "site": "SA", "building": "SA-B1", "name": f"Hall {k}",
                           "aggregation_gbps": agg} for k, agg in enumerate(aggregation_gbps, start=1)]
    d["pods"]["halls"].append({"id": "HB", "site": "SB", "aggregation_gbps": 1e9})
    d["pods"]["pods"] = [{"id": f"H{k}-Z", "site": "SA", "sku": "T1", "gpus": ZONE_GPUS, "fabric": "zone",
                          "count": zones, "hall": f"H{k}"} for k in range(1, len(aggregation_gbps) + 1)]
    d["pods"]["pods"].append({"id": "B1", "site": "SB", "sku": "T1", "gpus": 200, "fabric": "f", "hall": "HB"})
    return d


def random_halls(seed: int, n: int) -> dict[str, Any]:
    """``n`` random leases of every span (the first internal) on two campuses of small halls, drawn from ``seed``.

    SA has halls ``HA1`` and ``HA2``, SB hall ``HB``, each of two 40-GPU pods whose
    uplinks carry 2 Gbps per GPU; a split replica sends 1 Gbps per GPU over its pods'
    uplinks and its halls' aggregation layers, whose capacities are drawn small enough
    to bind. For exact cross-checks (:func:`tests.exact.exact_split_milp`).
    """
    rng = np.random.default_rng(seed)
    d = base()
    d["scenario"]["settings"] |= {"interpod_gbps_per_gpu": 1.0, "transport_usd_per_gbps_km_week": 0.01,
                                  "max_link_utilisation": 0.8}
    d["sites"]["sites"][0] |= {"grid_mw": float(rng.uniform(0.1, 0.16)), "power_price_usd_per_mwh": 80.0}
    d["sites"]["sites"][1] |= {"grid_mw": float(rng.uniform(0.05, 0.08)), "power_price_usd_per_mwh": 40.0}
    d["pods"]["fabric_templates"].append({"id": "thin", "kind": "RoCE", "switch_radix": 64, "port_gbps": 100,
                                          "planes": 1, "oversubscription": 50})
    d["pods"]["halls"] = [{"id": h, "site": s, "aggregation_gbps": float(rng.integers(2, 8)) * 10}
                          for h, s in (("HA1", "SA"), ("HA2", "SA"), ("HB", "SB"))]
    d["pods"]["pods"] = [{"id": h, "site": s, "sku": "T1", "gpus": 40, "fabric": "thin", "count": 2, "hall": h}
                         for h, s in (("HA1", "SA"), ("HA2", "SA"), ("HB", "SB"))]
    d["reservations"] = [{"pod": "HA1-01", "start_week": 1, "end_week": 2, "gpus": int(rng.integers(1, 30))}]
    leases = []
    for i in range(n):
        region = str(rng.choice(["", "P1", "P2"]))
        span = str(rng.choice(["pod", "hall", "site"]))
        leases.append(lease(
            f"L{i}", int(rng.integers(1, 5 if span == "pod" else 8)) * 10, price=float(rng.uniform(0.5, 4)),
            span=span, replicas=int(rng.choice([1, 1, 2])),
            anti_affinity=bool(rng.random() < 0.3), start_week=int(rng.integers(1, 3)),
            end_week=int(rng.integers(3, 5)), region=region, egress_gbps=float(rng.integers(0, 40)) if region else 0,
            priority="internal" if i == 0 else "spot"))
    leases[0] |= {"price_usd_per_gpu_hour": 0, "gpus": 20, "span": "pod", "replicas": 1}
    d["leases"] = leases
    return d


# --------------------------------------------------------------------------- hosted-model APIs
def api_model(model: str, sku: str = "T1", gpus: int = 10, tokens_per_s: float = 1000.0, start_usd: float = 0.0,
              name: str = "") -> dict[str, Any]:
    """One (model, SKU) deployment row of the model catalogue, as ``Scenario.api_models`` holds it."""
    return {"model": model, "sku": sku, "name": name or model, "gpus_per_replica": gpus,
            "tokens_per_s": tokens_per_s, "replica_start_usd": start_usd, "source": ""}


def api_stream(stream: str, model: str, region: str, peak: float, price: float, *, start_week: int = 1,
               end_week: int = 4, avg: float | None = None, budget_ms: float = 100.0, bytes_in: float = 4.0,
               bytes_out: float = 4.0) -> dict[str, Any]:
    """One API demand stream, as a row of ``Scenario.api_demand``."""
    return {"stream": stream, "model": model, "region": region, "start_week": start_week, "end_week": end_week,
            "peak_tokens_per_s": float(peak), "avg_tokens_per_s": float(peak if avg is None else avg),
            "price_usd_per_mtok": float(price), "network_budget_ms": float(budget_ms),
            "bytes_in_per_token": float(bytes_in), "bytes_out_per_token": float(bytes_out)}


def apis(sc: Any, models: list[dict[str, Any]], demand: list[dict[str, Any]]) -> Any:
    """``sc`` (a loaded Scenario) with the API catalogue and demand of the contract, built from these rows."""
    from dataclasses import replace

    import pandas as pd

    from planner.apis import API_DEMAND_COLUMNS, API_MODEL_COLUMNS

    cat = pd.DataFrame(models, columns=["model", "sku", *API_MODEL_COLUMNS]).set_index(["model", "sku"])
    cat = cat.astype({"gpus_per_replica": int, "tokens_per_s": float, "replica_start_usd": float})
    dem = pd.DataFrame(demand, columns=["stream", *API_DEMAND_COLUMNS]).set_index("stream")
    dem = dem.astype({"start_week": int, "end_week": int})
    return replace(sc, api_models=cat, api_demand=dem)
