"""One bad input per error class: each is refused with its file, place, field and fix.

Most cases are the tiny scenario (``tests/tiny.py``) with one edit; the cases where
the raw text matters are files in ``tests/data/bad`` (see its README). Each case
must produce exactly one error, so that a check that fires too often is caught
as surely as one that does not fire.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from planner import load_scenario
from planner.errors import Problem, ScenarioError
from tests import tiny

BAD = Path(__file__).parent / "data" / "bad"

Edit = Callable[[dict[str, Any]], None]


# --------------------------------------------------------------------------- helpers
def put(*path: str | int, value: Any) -> Edit:
    """An edit that sets ``data[path...] = value``."""

    def edit(data: dict[str, Any]) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


def append(*path: str | int, item: Any) -> Edit:
    """An edit that appends ``item`` (a copy of ``data[copy_of...]`` when callable) to a list."""

    def edit(data: dict[str, Any]) -> None:
        node = data
        for key in path:
            node = node[key]
        node.append(item(data) if callable(item) else item)

    return edit


def leases(*rows: dict[str, Any]) -> Edit:
    return lambda data: data["leases"].extend(rows)


def reservations(*rows: dict[str, Any]) -> Edit:
    return lambda data: data["reservations"].extend(rows)


def res(pod: str | None = "A1", start: int = 1, end: int = 2, gpus: int = 10, **kw: Any) -> dict[str, Any]:
    """A reservation row."""
    return {"pod": pod, "start_week": start, "end_week": end, "gpus": gpus, **kw}


@dataclass(frozen=True)
class At:
    """The line of a YAML file whose text (stripped, without a leading ``- ``) is ``text``; ``nth`` from 0."""

    text: str
    nth: int = 0

    def line(self, path: Path) -> int:
        hits = [n for n, ln in enumerate(path.read_text().splitlines(), 1)
                if ln.strip().removeprefix("- ") == self.text]
        assert len(hits) > self.nth, f"{self.text!r} not in {path}"
        return hits[self.nth]


@dataclass(frozen=True)
class Case:
    """A bad input and the problem it must raise."""

    edit: Edit
    file: str  # name of the file the problem is in
    where: At | str  # the YAML line holding a text, or a regex on the place
    field: str  # the exact field
    message: str  # regex on the message
    fix: str  # regex on the fix


def load_errors(scenario: Path) -> list[Problem]:
    """Load, expecting a ScenarioError that names at least one file; return its errors."""
    with pytest.raises(ScenarioError, match=r"errors? (and \d+ warnings? )?in the scenario") as info:
        load_scenario(scenario)
    return info.value.errors


def check(problem: Problem, case: Case, scenario_dir: Path) -> None:
    assert Path(problem.file).name == case.file
    if isinstance(case.where, At):
        assert problem.where == f"line {case.where.line(scenario_dir / case.file)}"
    else:
        assert re.fullmatch(case.where, problem.where), problem.where
    assert problem.field == case.field
    assert re.search(case.message, problem.message), problem.message
    assert re.search(case.fix, problem.fix), problem.fix
    assert problem.severity == "error"


def write_with(tmp_path: Path, edit: Edit | None = None, **files: Path) -> Path:
    """The tiny scenario with one edit, and with some of its files replaced by ``files`` (name=source)."""
    data = tiny.base()
    if edit is not None:
        edit(data)
    scenario = tiny.write(tmp_path, data)
    for name, src in files.items():
        shutil.copy(src, tmp_path / name.replace("_", "."))
    return scenario


# --------------------------------------------------------------------------- one edit, one error
A_SITE = "use one of the sites in .*sites\\.yaml: SA, SB"
HORIZON = "use a week from 1 to 4, or lengthen the horizon"

CASES = [
    # unknown ids
    pytest.param(Case(put("pods", "pods", 0, "site", value="SX"), "pods.yaml", At("site: SX"), "site",
                      "unknown site", A_SITE), id="pod-unknown-site"),
    pytest.param(Case(put("pods", "pods", 0, "sku", value="ZZ"), "pods.yaml", At("sku: ZZ"), "sku",
                      "unknown SKU", "use one of: T1, or add it to the catalogue"), id="pod-unknown-sku"),
    pytest.param(Case(put("pods", "pods", 0, "fabric", value="g"), "pods.yaml", At("fabric: g"), "fabric",
                      "unknown fabric template", "use one of: f"), id="pod-unknown-fabric"),
    pytest.param(Case(put("topology", "spans", 0, "a", value="NOPE"), "topology.yaml", At("a: NOPE"), "a",
                      "span SA-J: unknown endpoint", "site, PoP or junction"), id="span-unknown-endpoint"),
    pytest.param(Case(put("topology", "spans", 0, "b", value="A1"), "topology.yaml", At("b: A1"), "b",
                      "span SA-J: unknown endpoint", "site, PoP or junction"), id="span-endpoint-is-a-pod"),
    pytest.param(Case(leases(tiny.lease("L1", 10, sku="ZZ")), "leases.csv", r"line 2 \(lease L1\)", "sku",
                      "unknown SKU", "use one of: T1"), id="lease-unknown-sku"),
    pytest.param(Case(leases(tiny.lease("L1", 10, region="PX", egress_gbps=1)), "leases.csv",
                      r"line 2 \(lease L1\)", "region", r"unknown region \(PoP\)",
                      r"use a PoP id from .*topology\.yaml: P1, P2"), id="lease-unknown-region"),
    pytest.param(Case(leases(tiny.lease("L1", 10, allowed_sites="SA;SX")), "leases.csv", r"line 2 \(lease L1\)",
                      "allowed_sites", "unknown site", "';'-separated site ids: SA, SB"),
                 id="lease-unknown-allowed-site"),
    pytest.param(Case(reservations(res("ZZ")), "reservations.csv", "line 2", "pod", "unknown pod",
                      r"use a pod id from .*pods\.yaml"), id="reservation-unknown-pod"),
    pytest.param(Case(reservations(res(None, site="SX", sku="T1")), "reservations.csv", "line 2", "site",
                      "unknown site", "use one of: SA, SB"), id="reservation-unknown-site"),
    pytest.param(Case(reservations(res(None, site="SA", sku="ZZ")), "reservations.csv", "line 2", "sku",
                      "unknown SKU", "use one of: T1"), id="reservation-unknown-sku"),
    # duplicate ids
    pytest.param(Case(append("sites", "sites", item=lambda d: dict(d["sites"]["sites"][0], lat=34.5)),
                      "sites.yaml", At("id: SA", 1), "id", r"duplicate site/PoP/junction id \(first at .*sites"
                      r"\.yaml, line 2\)", "give each one a unique id"), id="duplicate-site"),
    pytest.param(Case(append("topology", "pops", item={"id": "SB", "name": "x", "lat": 35.0, "lon": -89.0}),
                      "topology.yaml", At("id: SB"), "id", "duplicate site/PoP/junction id", "unique id"),
                 id="duplicate-site-and-pop"),
    pytest.param(Case(append("pods", "pods", item=lambda d: dict(d["pods"]["pods"][0])), "pods.yaml",
                      At("id: A1", 1), "id", "duplicate pod id", "unique id"), id="duplicate-pod"),
    pytest.param(Case(lambda d: d["pods"]["pods"].extend([  # group G expands to G-01, G-02
        {"id": "G", "site": "SA", "sku": "T1", "gpus": 10, "fabric": "f", "count": 2},
        {"id": "G-02", "site": "SA", "sku": "T1", "gpus": 10, "fabric": "f"}]),
        "pods.yaml", At("id: G-02"), "id", "duplicate pod id", "unique id"), id="duplicate-pod-from-group"),
    pytest.param(Case(append("topology", "spans", item=lambda d: dict(d["topology"]["spans"][0], b="P2")),
                      "topology.yaml", At("id: SA-J", 1), "id", "duplicate span id", "unique id"),
                 id="duplicate-span"),
    pytest.param(Case(leases(tiny.lease("L1", 10), tiny.lease("L1", 20)), "leases.csv", "line 3", "id",
                      r"duplicate lease id \(first at .*leases\.csv, line 2\)", "unique id"), id="duplicate-lease"),
    # coordinates out of range
    pytest.param(Case(put("sites", "sites", 0, "lat", value=95.0), "sites.yaml", At("lat: 95.0"), "sites[0].lat",
                      "less than or equal to 90", "smaller"), id="site-lat-out-of-range"),
    pytest.param(Case(put("sites", "sites", 1, "lon", value=-181.0), "sites.yaml", At("lon: -181.0"),
                      "sites[1].lon", "greater than or equal to -180", "larger"), id="site-lon-out-of-range"),
    pytest.param(Case(put("topology", "pops", 0, "lat", value=-91.0), "topology.yaml", At("lat: -91.0"),
                      "pops[0].lat", "greater than or equal to -90", "larger"), id="pop-lat-out-of-range"),
    pytest.param(Case(put("topology", "junctions", 0, "lon", value=200.0), "topology.yaml", At("lon: 200.0"),
                      "junctions[0].lon", "less than or equal to 180", "smaller"), id="junction-lon-out-of-range"),
    # zero or negative capacities, power, GPUs
    pytest.param(Case(put("pods", "pods", 0, "gpus", value=0), "pods.yaml", At("gpus: 0"), "pods[0].gpus",
                      "greater than 0", "positive"), id="pod-zero-gpus"),
    pytest.param(Case(put("topology", "spans", 0, "fibre_pairs", value=0), "topology.yaml", At("fibre_pairs: 0"),
                      "spans[0].fibre_pairs", "greater than 0", "positive"), id="span-zero-fibre-pairs"),
    pytest.param(Case(put("topology", "spans", 1, "channel_gbps", value=-100), "topology.yaml",
                      At("channel_gbps: -100"), "spans[1].channel_gbps", "greater than 0", "positive"),
                 id="span-negative-rate"),
    pytest.param(Case(put("sites", "sites", 0, "grid_mw", value=0), "sites.yaml", At("grid_mw: 0"), "grid_mw",
                      r"site SA has no power \(grid \+ on-site = 0 MW\)", "give grid_mw or onsite_mw > 0"),
                 id="site-no-power"),
    pytest.param(Case(put("sites", "sites", 0, "grid_mw", value=-5), "sites.yaml", At("grid_mw: -5"),
                      "sites[0].grid_mw", "greater than or equal to 0", "larger"), id="site-negative-grid"),
    pytest.param(Case(put("skus", "skus", 0, "server_kw_per_gpu", value=0), "skus.yaml", At("server_kw_per_gpu: 0"),
                      "skus[0].server_kw_per_gpu", "greater than 0", "positive"), id="sku-zero-power"),
    pytest.param(Case(leases(tiny.lease("L1", 0)), "leases.csv", r"line 2 \(id L1\)", "gpus", "greater than 0",
                      "positive"), id="lease-zero-gpus"),
    pytest.param(Case(reservations(res(gpus=0)), "reservations.csv", "line 2", "gpus", "greater than 0",
                      "positive"), id="reservation-zero-gpus"),
    # PUE
    pytest.param(Case(put("sites", "sites", 1, "pue", value=0.9), "sites.yaml", At("pue: 0.9"), "pue",
                      "PUE below 1 is impossible", "give the campus PUE"), id="pue-below-1"),
    # self-loop
    pytest.param(Case(put("topology", "spans", 0, "b", value="SA"), "topology.yaml", At("b: SA"), "b",
                      r"span SA-J starts and ends at the same node \(self-loop\)", "two different endpoints"),
                 id="span-self-loop"),
    pytest.param(Case(put("topology", "spans", 0, "length_km", value=50), "topology.yaml", At("length_km: 50"),
                      "length_km", r"span SA-J is shorter than the great circle between its ends \(93\.\d km\)",
                      "give the fibre length in km"), id="fibre-shorter-than-great-circle"),
    # periods outside the horizon, terms
    pytest.param(Case(leases(tiny.lease("L1", 10, end_week=5)), "leases.csv", r"line 2 \(lease L1\)", "end_week",
                      "week outside the horizon of 4 weeks", HORIZON), id="lease-ends-after-horizon"),
    pytest.param(Case(reservations(res(start=2, end=9)), "reservations.csv", "line 2", "end_week",
                      "week outside the horizon of 4 weeks", HORIZON), id="reservation-after-horizon"),
    pytest.param(Case(put("sites", "sites", 0, "power_windows", value=[{"start_week": 3, "end_week": 6, "grid_mw": 2}]),
                      "sites.yaml", r"line \d+", "end_week", "week outside the horizon", HORIZON),
                 id="power-window-after-horizon"),
    pytest.param(Case(leases(tiny.lease("L1", 10, start_week=3, end_week=2)), "leases.csv", r"line 2 \(lease L1\)",
                      "end_week", r"the term ends before it starts \(start_week 3\)", "end_week >= start_week"),
                 id="lease-term-reversed"),
    pytest.param(Case(reservations(res(start=3, end=2)), "reservations.csv", "line 2", "end_week",
                      "ends before it starts", "end_week >= start_week"), id="reservation-term-reversed"),
    # sizes
    pytest.param(Case(leases(tiny.lease("L1", 250)), "leases.csv", r"line 2 \(lease L1\)", "gpus",
                      r"larger than any T1 pod \(largest 200 GPUs\)", "set span to 'hall' or 'site'"),
                 id="lease-larger-than-any-pod"),
    pytest.param(Case(reservations(res(start=1, end=3, gpus=50), res(start=2, end=4, gpus=60)), "reservations.csv",
                      r"line 2 \(pod A1\)", "gpus", "internal reservations on pod A1 exceed its 100 GPUs in weeks 2-3",
                      "lower the reservations"), id="reservations-exceed-pod"),
    pytest.param(Case(put("pods", "pods", 2, "gpus", value=3000), "pods.yaml", At("gpus: 3000"), "gpus",
                      "radix 64 x 1 plane.* holds at most 2048 GPUs", "split the pod"), id="pod-larger-than-fabric"),
    pytest.param(Case(put("pods", "fabric_templates", 0, "oversubscription", value=0.5), "pods.yaml",
                      At("oversubscription: 0.5"), "oversubscription", "below 1:1", "ratio >= 1"),
                 id="oversubscription-below-1"),
    # per-field schema checks
    pytest.param(Case(lambda d: d["sites"]["sites"][0].update(lattitude=33.0), "sites.yaml", At("lattitude: 33.0"),
                      "sites[0].lattitude", "Extra inputs are not permitted", "planner schema sites"),
                 id="misspelt-key"),
    pytest.param(Case(lambda d: d["topology"]["spans"][2].pop("srlg"), "topology.yaml", At("id: SA-P1"),
                      "spans[2].srlg", "Field required", "add the field"), id="missing-key"),
    pytest.param(Case(leases(tiny.lease("L1", 10, kind="trainig")), "leases.csv", r"line 2 \(id L1\)", "kind",
                      "'training', 'inference' or 'fine-tune'", "allowed values"), id="lease-bad-kind"),
    pytest.param(Case(put("scenario", "horizon", "periods", value=0), "scenario.yaml", At("periods: 0"),
                      "horizon.periods", "greater than 0", "positive"), id="horizon-zero-periods"),
]


@pytest.mark.parametrize("case", CASES)
def test_one_edit_one_error(tmp_path: Path, case: Case) -> None:
    scenario = write_with(tmp_path, case.edit)
    errors = load_errors(scenario)
    assert len(errors) == 1, "\n".join(map(str, errors))
    check(errors[0], case, tmp_path)


# --------------------------------------------------------------------------- raw files
RAW = [
    pytest.param("sites_malformed.yaml", "sites.yaml", r"line 6, column \d+", "",
                 r"malformed YAML: (did not find )?expected ',' or '\]'", "fix the YAML syntax", id="malformed-yaml"),
    pytest.param("sites_unsafe_tag.yaml", "sites.yaml", r"line 5, column \d+", "",
                 "malformed YAML: could not determine a constructor for the tag .*python/object/apply:os.system",
                 "remove the tag: only plain YAML values are read", id="unsafe-yaml-tag"),
    pytest.param("leases_wrong_cells.csv", "leases.csv", "line 3", "",
                 "the row has 16 cells but the header has 17", "add or remove commas", id="csv-wrong-cell-count"),
    pytest.param("leases_bad_quote.csv", "leases.csv", "line 3", "", "malformed CSV", "fix the quoting",
                 id="csv-bad-quoting"),
    pytest.param("leases_unknown_column.csv", "leases.csv", "line 1", "colour", "unknown column",
                 "remove it or rename it to one of: id, tenant", id="csv-unknown-column"),
]


@pytest.mark.parametrize(("source", "target", "where", "field", "message", "fix"), RAW)
def test_raw_file_errors(tmp_path: Path, source: str, target: str, where: str, field: str, message: str,
                         fix: str) -> None:
    scenario = write_with(tmp_path)
    shutil.copy(BAD / source, tmp_path / target)
    errors = load_errors(scenario)
    assert len(errors) == 1, "\n".join(map(str, errors))
    check(errors[0], Case(lambda d: None, target, where, field, message, fix), tmp_path)


def test_unsafe_tag_is_never_constructed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    calls: list[str] = []
    monkeypatch.setattr(os, "system", lambda cmd: calls.append(cmd) or 0)
    scenario = write_with(tmp_path)
    shutil.copy(BAD / "sites_unsafe_tag.yaml", tmp_path / "sites.yaml")
    with pytest.raises(ScenarioError, match=r"sites\.yaml, line 5, column \d+: malformed YAML"):
        load_scenario(scenario)
    assert calls == []


def test_csv_good_rows_still_checked_after_a_bad_row(tmp_path: Path) -> None:
    """A malformed row is reported and skipped; the rows after it are still read and checked."""
    scenario = write_with(tmp_path)
    text = (BAD / "leases_wrong_cells.csv").read_text().replace(",P1,", ",PX,")  # L3 (line 4): unknown region
    (tmp_path / "leases.csv").write_text(text)
    errors = load_errors(scenario)
    assert [(e.where, e.field) for e in errors] == [("line 3", ""), ("line 4 (lease L3)", "region")]


def test_csv_duplicate_column(tmp_path: Path) -> None:
    scenario = write_with(tmp_path)
    text = (tmp_path / "leases.csv").read_text().replace("tenant,", "tenant,id,", 1)
    (tmp_path / "leases.csv").write_text(text)
    errors = load_errors(scenario)
    assert [(Path(e.file).name, e.where, e.field, e.message) for e in errors] == [
        ("leases.csv", "line 1", "id", "the column appears twice in the header")]


@pytest.mark.parametrize("name", ["sites.yaml", "leases.csv"])
def test_file_not_utf8(tmp_path: Path, name: str) -> None:
    scenario = write_with(tmp_path)
    (tmp_path / name).write_bytes(b"\xff\xfe\x00 not text")
    errors = load_errors(scenario)
    assert [(Path(e.file).name, e.where, e.message) for e in errors] == [(name, "byte 1", "the file is not UTF-8 text")]
    assert "UTF-8" in errors[0].fix


def test_recursive_yaml_alias(tmp_path: Path) -> None:
    scenario = write_with(tmp_path)
    (tmp_path / "sites.yaml").write_text("sites: &s [*s]\n")
    errors = load_errors(scenario)
    assert [(e.where, e.field) for e in errors] == [("line 1", "sites[0]")]


def test_missing_file(tmp_path: Path) -> None:
    scenario = write_with(tmp_path, put("scenario", "files", "pods", value="nope.yaml"))
    errors = load_errors(scenario)
    assert [(Path(e.file).name, e.message) for e in errors] == [("nope.yaml", "cannot read file (No such file or "
                                                                              "directory)")]
    assert "path in the scenario file" in errors[0].fix


def test_scenario_not_found(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="scenario file not found"):
        load_scenario(tmp_path / "nothing.yaml")


# --------------------------------------------------------------------------- routes GeoJSON
def _with_routes(tmp_path: Path, text: str) -> Path:
    scenario = write_with(tmp_path, put("scenario", "files", "routes", value="routes.geojson"))
    (tmp_path / "routes.geojson").write_text(text)
    return scenario


def test_route_end_far_from_its_endpoint(tmp_path: Path) -> None:
    scenario = _with_routes(tmp_path, (BAD / "routes_far_end.geojson").read_text())
    errors = load_errors(scenario)
    assert len(errors) == 1, errors
    p = errors[0]
    assert (Path(p.file).name, p.where, p.field) == ("routes.geojson", "feature 1 (span SA-J)", "geometry")
    assert re.fullmatch(r"route of span SA-J: its end is 9\.\d km from J", p.message)
    assert p.fix.startswith("snap the route's end to J (-89.0000, 33.0000)")


def _feature(span: str, geometry: str) -> str:
    """A FeatureCollection of one feature; ``span`` and ``geometry`` are JSON text."""
    return ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"span": ' + span
            + '}, "geometry": ' + geometry + "}]}")


@pytest.mark.parametrize(("text", "field", "message"), [
    pytest.param(_feature('"SA-J"', '{"type": "Point", "coordinates": [-90, 33]}'), "geometry",
                 "the route is not a LineString", id="point"),
    pytest.param(_feature('"SA-J"', '{"type": "LineString", "coordinates": [[-90, 33]]}'), "geometry",
                 "unreadable geometry", id="one-point-line"),
    pytest.param(_feature('"SA-J"', '{"type": "LineString", "coordinates": [[-90, 33], [-89.5, 95], [-89, 33]]}'),
                 "geometry", "outside lon -180..180, lat -90..90", id="lat-out-of-range"),
    pytest.param(_feature('"XX"', '{"type": "LineString", "coordinates": [[-90, 33], [-89, 33]]}'), "span",
                 "route for an unknown span", id="unknown-span"),
    pytest.param(_feature("null", '{"type": "LineString", "coordinates": [[-90, 33], [-89, 33]]}'), "span",
                 "the feature names no span", id="no-span"),
    pytest.param('{"type": "FeatureCollection", "features": ["oops"]}', "span", "the feature names no span",
                 id="feature-not-an-object"),
    pytest.param('{"type": "FeatureCollection",\n "features": [\n }', "", "malformed JSON", id="malformed-json"),
])
def test_route_file_problems(tmp_path: Path, text: str, field: str, message: str) -> None:
    errors = load_errors(_with_routes(tmp_path, text))
    assert len(errors) == 1, errors
    assert Path(errors[0].file).name == "routes.geojson"
    assert re.match(r"(feature 0|line 3, column 2)", errors[0].where), errors[0].where
    assert errors[0].field == field
    assert message in errors[0].message
    assert errors[0].fix


def test_route_with_elevation_is_read_as_2d(tmp_path: Path) -> None:
    sc = load_scenario(_with_routes(tmp_path, _feature(
        '"SA-J"', '{"type": "LineString", "coordinates": [[-90, 33, 120], [-89.5, 33.2, 80], [-89, 33, 95]]}')))
    assert not sc.spans.at["SA-J", "geometry"].has_z
    assert sc.spans.at["SA-J", "length_km"] > sc.spans.at["SA-J", "great_circle_km"] + 5


# --------------------------------------------------------------------------- warnings
def test_site_spanning_lease_larger_than_any_site_is_a_warning(tmp_path: Path) -> None:
    sc = load_scenario(write_with(tmp_path, leases(tiny.lease("L1", 250, span="site"))))
    assert [(Path(w.file).name, w.where, w.field, w.value, w.severity) for w in sc.warnings] == [
        ("leases.csv", "line 2 (lease L1)", "gpus", "250", "warning")]
    assert "larger than the T1 GPUs of any site (largest 200)" in sc.warnings[0].message


def test_a_spanning_lease_larger_than_any_pod_is_what_span_is_for(tmp_path: Path) -> None:
    """Larger than a pod but within a site: span=site splits it, and validation says nothing."""
    def edit(d: dict[str, Any]) -> None:
        d["pods"]["pods"][2]["gpus"] = 100  # largest pod 100, site SA holds 2 x 100
        d["leases"].append(tiny.lease("L1", 150, span="site"))

    sc = load_scenario(write_with(tmp_path, edit))
    assert sc.warnings == []


def test_warnings_ride_along_with_errors(tmp_path: Path) -> None:
    scenario = write_with(tmp_path, leases(tiny.lease("L1", 250, span="site"), tiny.lease("L2", 10, sku="ZZ")))
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario)
    assert [(p.field, p.severity) for p in info.value.problems] == [("gpus", "warning"), ("sku", "error")]
    assert str(info.value).startswith("1 error and 1 warning in the scenario:")


# --------------------------------------------------------------------------- all at once
def test_several_problems_in_several_files_are_reported_at_once() -> None:
    with pytest.raises(ScenarioError, match=r"(?s)7 errors and 1 warning in the scenario:.*"
                                            r"sites\.yaml, line \d+, field 'pue' = 0\.9.*"
                                            r"leases\.csv, line 2 \(lease L1\), field 'region' = 'P9'") as info:
        load_scenario(BAD / "several" / "scenario.yaml")
    got = {(Path(p.file).name, p.where, p.field, p.severity) for p in info.value.problems}
    assert got == {
        ("sites.yaml", "line 16", "pue", "error"),
        ("pods.yaml", "line 20", "site", "error"),
        ("topology.yaml", "line 48", "b", "error"),
        ("reservations.csv", "line 3", "pod", "error"),
        ("leases.csv", "line 2 (lease L1)", "region", "error"),
        ("leases.csv", "line 3 (id L2)", "kind", "error"),
        ("leases.csv", "line 4 (lease L3)", "end_week", "error"),
        ("leases.csv", "line 5 (lease L4)", "replicas", "warning"),
    }
    assert all(p.fix for p in info.value.problems)


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    data = tiny.base()
    path = tiny.write(tmp_path, data)
    sites = tmp_path / "sites.yaml"
    text = sites.read_text()
    sites.write_text(text.replace("  pue: 1.0\n", "  pue: 1.0\n  pue: 1.2\n", 1))
    problems = load_errors(path)
    assert len(problems) == 1
    p = problems[0]
    assert p.file.endswith("sites.yaml") and p.field == "sites[0].pue" and "given twice" in p.message
    assert p.where == f"line {text.splitlines().index('  pue: 1.0') + 2}"
