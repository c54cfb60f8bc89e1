"""Hosted-model API inputs: the model catalogue and the API demand books.

Reading (the tables' columns, dtypes and defaults), every error with its file, place,
field and fix, the warnings for streams that can never be served or never pay, the
JSON Schemas, and the rules the reference scenario's catalogue and demand keep.
Built on the tiny scenario (``tests/tiny.py``): SA reaches P1 in 0.54 ms, SB reaches
P2 in 0.54 ms; SKU T1 draws 1 kW per GPU; pods A1, A2 (100 GPUs, SA) and B1 (200, SB).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from planner import load_scenario
from planner.api_feasibility import api_warnings
from planner.cli import app
from planner.errors import Problem, ScenarioError
from planner.provenance import input_files
from planner.schema import FILE_MODELS, json_schema
from tests import tiny

ROOT = Path(__file__).parents[1]

DEMAND_COLUMNS = ["id", "model", "region", "start_week", "end_week", "peak_tokens_per_s", "avg_tokens_per_s",
                  "price_usd_per_mtok", "network_budget_ms", "bytes_in_per_token", "bytes_out_per_token"]


def model(id: str = "m70", **kw: Any) -> dict[str, Any]:
    """A model on T1: 10 GPUs per replica, 1,000 tokens/s each."""
    out: dict[str, Any] = {"id": id, "name": f"Model {id}", "replica_start_usd": 5.0, "source": "card",
                           "deployments": [{"sku": "T1", "gpus_per_replica": 10, "tokens_per_s": 1000.0,
                                            "source": "bench"}]}
    out.update(kw)
    return out


def stream(id: str = "S1", **kw: Any) -> dict[str, Any]:
    """A stream of m70 at P1, weeks 1-4, 500 tokens/s peak, $2 per million tokens, 5 ms budget."""
    row: dict[str, Any] = {"id": id, "model": "m70", "region": "P1", "start_week": 1, "end_week": 4,
                           "peak_tokens_per_s": 500, "avg_tokens_per_s": "", "price_usd_per_mtok": 2.0,
                           "network_budget_ms": 5, "bytes_in_per_token": 50, "bytes_out_per_token": 200}
    row.update(kw)
    return row


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, columns or DEMAND_COLUMNS, restval="")
        w.writeheader()
        w.writerows(rows)


def scenario(tmp_path: Path, models: list[dict[str, Any]] | None = None, *books: list[dict[str, Any]],
             data: dict[str, Any] | None = None) -> Path:
    """The tiny scenario with a model catalogue (``models.yaml``) and API demand books (``api_1.csv``...)."""
    data = data or tiny.base()
    if models is not None:
        data["scenario"]["files"]["models"] = "models.yaml"
    data["scenario"]["files"]["api_demand"] = [f"api_{i}.csv" for i in range(1, len(books) + 1)]
    path = tiny.write(tmp_path, data)
    if models is not None:
        (tmp_path / "models.yaml").write_text(yaml.safe_dump({"models": models}, sort_keys=False))
    for i, rows in enumerate(books, 1):
        write_csv(tmp_path / f"api_{i}.csv", rows)
    return path


def errors_of(path: Path) -> list[Problem]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value.errors


def one_error(path: Path) -> Problem:
    errors = errors_of(path)
    assert len(errors) == 1, "\n".join(map(str, errors))
    return errors[0]


# --------------------------------------------------------------------------- reading
def test_tables_have_the_contract_columns_dtypes_and_defaults(tmp_path: Path) -> None:
    m2 = model("m2", source="", deployments=[{"sku": "T1", "gpus_per_replica": 50, "tokens_per_s": 80}])
    path = scenario(tmp_path, [model(), m2],
                    [stream("S1", avg_tokens_per_s=200), stream("S2", model="m2", region="P2", start_week=2)])
    sc = load_scenario(path)
    m = sc.api_models
    assert list(m.index.names) == ["model", "sku"]
    assert list(m.index) == [("m70", "T1"), ("m2", "T1")]
    assert list(m.columns) == ["name", "gpus_per_replica", "tokens_per_s", "replica_start_usd", "source"]
    assert m.dtypes.astype(str).to_dict() == {"name": "object", "gpus_per_replica": "int64",
                                              "tokens_per_s": "float64", "replica_start_usd": "float64",
                                              "source": "object"}
    assert m.loc[("m70", "T1"), "source"] == "bench"  # the deployment's source first
    assert m.loc[("m2", "T1"), "source"] == ""  # none at all: ""
    assert m.loc[("m2", "T1"), "gpus_per_replica"] == 50
    d = sc.api_demand
    assert d.index.name == "stream" and list(d.index) == ["S1", "S2"]
    assert list(d.columns) == DEMAND_COLUMNS[1:]
    ints = {"start_week", "end_week"}
    assert {c: str(t) for c, t in d.dtypes.items()} == {
        c: "int64" if c in ints else "object" if c in {"model", "region"} else "float64" for c in DEMAND_COLUMNS[1:]}
    assert d.loc["S1", "avg_tokens_per_s"] == 200.0
    assert d.loc["S2", "avg_tokens_per_s"] == 500.0  # empty: the peak
    assert d.loc["S2", ["model", "region", "start_week", "end_week"]].tolist() == ["m2", "P2", 2, 4]
    assert sc.warnings == []


def test_model_source_when_the_deployment_has_none(tmp_path: Path) -> None:
    m = model(deployments=[{"sku": "T1", "gpus_per_replica": 10, "tokens_per_s": 1000}])
    sc = load_scenario(scenario(tmp_path, [m], [stream()]))
    assert sc.api_models.loc[("m70", "T1"), "source"] == "card"


def test_no_apis_gives_empty_tables_with_the_columns(tmp_path: Path) -> None:
    sc = load_scenario(tiny.write(tmp_path, tiny.base()))
    assert sc.api_models.empty and sc.api_demand.empty
    assert list(sc.api_models.index.names) == ["model", "sku"]
    assert list(sc.api_models.columns) == ["name", "gpus_per_replica", "tokens_per_s", "replica_start_usd", "source"]
    assert str(sc.api_models["gpus_per_replica"].dtype) == "int64"
    assert sc.api_demand.index.name == "stream" and list(sc.api_demand.columns) == DEMAND_COLUMNS[1:]
    assert str(sc.api_demand["start_week"].dtype) == "int64"
    assert str(sc.api_demand["peak_tokens_per_s"].dtype) == "float64"


def test_a_catalogue_without_demand_is_fine(tmp_path: Path) -> None:
    sc = load_scenario(scenario(tmp_path, [model()]))
    assert len(sc.api_models) == 1 and sc.api_demand.empty


def test_bom_blank_lines_and_reordered_columns_read(tmp_path: Path) -> None:
    path = scenario(tmp_path, [model()], [])
    cols = list(reversed(DEMAND_COLUMNS))
    rows = [stream("S1"), stream("S2", region="P2")]
    lines = [",".join(cols), "", *(",".join(str(r[c]) for c in cols) for r in rows), "  ", ""]
    (tmp_path / "api_1.csv").write_text("\ufeff" + "\n".join(lines), encoding="utf-8")
    sc = load_scenario(path)
    assert list(sc.api_demand.index) == ["S1", "S2"]
    assert sc.api_demand.loc["S2", "region"] == "P2"


def test_every_input_file_is_recorded_for_provenance(tmp_path: Path) -> None:
    path = scenario(tmp_path, [model()], [stream()], [stream("S2")])
    roles = dict(input_files(path))
    assert roles["models"] == (tmp_path / "models.yaml").resolve()
    assert roles["api_demand[1]"] == (tmp_path / "api_2.csv").resolve()
    assert load_scenario(path).input_files["api_demand[0]"] == (tmp_path / "api_1.csv").resolve()


# --------------------------------------------------------------------------- errors: one edit, one error
def _two_skus() -> dict[str, Any]:
    data = tiny.base()
    data["skus"]["skus"].append({"id": "T2", "name": "GPU without pods", "tdp_w": 700, "server_kw_per_gpu": 1.0,
                                 "source": "made up"})
    return data


ERRORS = [
    pytest.param([model()], [stream(model="m99")], "api_1.csv", r"line 2 \(stream S1\)", "model", "'m99'",
                 "unknown model", r"use a model id of .*models\.yaml: m70", id="unknown-model"),
    pytest.param([model()], [stream(region="PX")], "api_1.csv", r"line 2 \(stream S1\)", "region", "'PX'",
                 r"unknown region \(PoP\)", r"use a PoP id from .*topology\.yaml: P1, P2", id="unknown-region"),
    pytest.param([model()], [stream(end_week=5)], "api_1.csv", r"line 2 \(stream S1\)", "end_week", "5",
                 "week outside the horizon of 4 weeks", "use a week from 1 to 4", id="after-horizon"),
    pytest.param([model()], [stream(start_week=3, end_week=2)], "api_1.csv", r"line 2 \(stream S1\)", "end_week",
                 "2", r"the term ends before it starts \(start_week 3\)", "end_week >= start_week", id="reversed"),
    pytest.param([model()], [stream(avg_tokens_per_s=600)], "api_1.csv", r"line 2 \(id S1\)", "avg_tokens_per_s",
                 "'600'", r"is above peak_tokens_per_s \(500\)", "at most the peak", id="avg-above-peak"),
    pytest.param([model()], [stream(), stream()], "api_1.csv", "line 3", "id", "'S1'",
                 r"duplicate API demand stream id \(first at .*api_1\.csv, line 2\)", "unique id",
                 id="duplicate-stream"),
    pytest.param([model(), model()], [], "models.yaml", r"line \d+", "id", "'m70'", "duplicate model id",
                 "unique id", id="duplicate-model"),
    pytest.param([model(deployments=[{"sku": "ZZ", "gpus_per_replica": 1, "tokens_per_s": 1}])], [], "models.yaml",
                 r"line \d+", "sku", "'ZZ'", "model m70: unknown SKU", "use one of: T1", id="unknown-sku"),
    pytest.param([model(deployments=[{"sku": "T1", "gpus_per_replica": 201, "tokens_per_s": 1}])], [],
                 "models.yaml", r"line \d+", "gpus_per_replica", "201",
                 r"a replica of m70 on T1 needs more GPUs than any T1 pod holds \(largest 200\)",
                 "at most 200 GPUs per replica", id="replica-larger-than-any-pod"),
    pytest.param([model(deployments=[{"sku": "T1", "gpus_per_replica": 1, "tokens_per_s": 1},
                                     {"sku": "T1", "gpus_per_replica": 2, "tokens_per_s": 2}])], [], "models.yaml",
                 r"line \d+", "sku", "'T1'", "model m70 runs on T1 twice", "one deployment per SKU",
                 id="sku-twice"),
    pytest.param([model(deployments=[{"sku": "T1", "gpus_per_replica": -2, "tokens_per_s": 1}])], [],
                 "models.yaml", r"line \d+", "models[0].deployments[0].gpus_per_replica", "-2", "greater than 0",
                 "positive", id="negative-gpus"),
    pytest.param([model(replica_start_usd=-1)], [], "models.yaml", r"line \d+", "models[0].replica_start_usd", "-1",
                 "greater than or equal to 0", "larger", id="negative-start-cost"),
    pytest.param([model(deployments=[])], [], "models.yaml", r"line \d+", "models[0].deployments", "[]",
                 "at least 1 item", "give at least 1 entry", id="no-deployments"),
    pytest.param([model()], [stream(peak_tokens_per_s=-5)], "api_1.csv", r"line 2 \(id S1\)", "peak_tokens_per_s",
                 "'-5'", "greater than 0", "positive", id="negative-peak"),
    pytest.param([model()], [stream(peak_tokens_per_s=0)], "api_1.csv", r"line 2 \(id S1\)", "peak_tokens_per_s",
                 "'0'", "greater than 0", "positive", id="zero-peak"),
    pytest.param([model()], [stream(price_usd_per_mtok="nan")], "api_1.csv", r"line 2 \(id S1\)",
                 "price_usd_per_mtok", "'nan'", "finite number", r"not \.nan", id="nan-price"),
    pytest.param([model()], [stream(network_budget_ms="inf")], "api_1.csv", r"line 2 \(id S1\)",
                 "network_budget_ms", "'inf'", "finite number", r"\.inf", id="inf-budget"),
    pytest.param([model()], [stream(bytes_out_per_token="1e20")], "api_1.csv", r"line 2 \(id S1\)",
                 "bytes_out_per_token", "'1e20'", "less than or equal to 1000000000000",
                 r"give a smaller value \(at most 1,000,000,000,000\)", id="huge-bytes"),
    pytest.param([model()], [stream(network_budget_ms=0)], "api_1.csv", r"line 2 \(id S1\)", "network_budget_ms",
                 "'0'", "greater than 0", "positive", id="zero-budget"),
    pytest.param([model()], [stream(start_week="two")], "api_1.csv", r"line 2 \(id S1\)", "start_week", "'two'",
                 "valid integer", "whole number", id="text-week"),
    pytest.param(None, [stream()], "scenario.yaml", r"line \d+", "files.models", "",
                 "API demand books are given but no model catalogue", "add files.models", id="demand-without-models"),
]


@pytest.mark.parametrize(("models", "rows", "file", "where", "field", "value", "message", "fix"), ERRORS)
def test_one_bad_input_one_error(tmp_path: Path, models: list[dict[str, Any]] | None, rows: list[dict[str, Any]],
                                 file: str, where: str, field: str, value: str, message: str, fix: str) -> None:
    p = one_error(scenario(tmp_path, models, rows))
    assert Path(p.file).name == file
    assert re.fullmatch(where, p.where), p.where
    assert p.field == field
    assert p.value == value
    assert re.search(message, p.message), p.message
    assert re.search(fix, p.fix), p.fix


def test_a_model_no_pod_can_run(tmp_path: Path) -> None:
    m = model(deployments=[{"sku": "T2", "gpus_per_replica": 8, "tokens_per_s": 100}])
    p = one_error(scenario(tmp_path, [m], [stream()], data=_two_skus()))
    assert Path(p.file).name == "models.yaml" and p.field == "deployments" and p.value == "T2"
    assert p.message == "no pod of the scenario can run model m70: it has no pods of its SKUs"
    assert p.fix == "add a deployment on a SKU the scenario has pods of (T1), or remove the model"
    lines = (tmp_path / "models.yaml").read_text().splitlines()
    assert lines[int(p.where.removeprefix("line ")) - 1].strip() == "deployments:"


def test_a_deployment_on_a_sku_without_pods_beside_one_that_runs_is_fine(tmp_path: Path) -> None:
    m = model(deployments=[{"sku": "T2", "gpus_per_replica": 8, "tokens_per_s": 100},
                           {"sku": "T1", "gpus_per_replica": 8, "tokens_per_s": 100}])
    sc = load_scenario(scenario(tmp_path, [m], [stream()], data=_two_skus()))
    assert list(sc.api_models.index) == [("m70", "T2"), ("m70", "T1")]


def test_duplicate_stream_ids_across_books(tmp_path: Path) -> None:
    p = one_error(scenario(tmp_path, [model()], [stream()], [stream("S2"), stream("S1", region="P2")]))
    assert Path(p.file).name == "api_2.csv" and p.where == "line 3" and p.field == "id"
    assert re.search(r"first at .*api_1\.csv, line 2", p.message)


@pytest.mark.parametrize(("header", "message", "field"), [
    pytest.param([c for c in DEMAND_COLUMNS if c != "network_budget_ms"], "required column is missing",
                 "network_budget_ms", id="missing-column"),
    pytest.param([*DEMAND_COLUMNS, "colour"], "unknown column", "colour", id="unknown-column"),
])
def test_header_problems(tmp_path: Path, header: list[str], message: str, field: str) -> None:
    path = scenario(tmp_path, [model()], [])
    write_csv(tmp_path / "api_1.csv", [{k: v for k, v in stream().items() if k in header}], header)
    p = one_error(path)
    assert (Path(p.file).name, p.where, p.field, p.message) == ("api_1.csv", "line 1", field, message)


def test_every_problem_at_once(tmp_path: Path) -> None:
    m = model(deployments=[{"sku": "ZZ", "gpus_per_replica": 1, "tokens_per_s": 1}])
    errors = errors_of(scenario(tmp_path, [model("m1"), m], [stream(model="m1", region="PX", end_week=9),
                                                            stream("S2", model="nope", peak_tokens_per_s=-1)]))
    found = {(Path(p.file).name, p.field) for p in errors}
    assert found == {("models.yaml", "sku"), ("api_1.csv", "region"), ("api_1.csv", "end_week"),
                     ("api_1.csv", "peak_tokens_per_s")}


# --------------------------------------------------------------------------- warnings
def test_a_stream_beyond_its_network_budget_is_a_warning(tmp_path: Path) -> None:
    sc = load_scenario(scenario(tmp_path, [model()], [stream(network_budget_ms=0.5)]))
    assert sc.warnings == []  # loading builds no network: validate lists these
    (w,) = api_warnings(sc)
    assert w.severity == "warning" and Path(w.file).name == "api_1.csv" and w.where == "line 2 (stream S1)"
    assert (w.field, w.value) == ("network_budget_ms", "0.5")
    assert re.fullmatch(r"stream S1 can never be served: its network budget 0\.5 ms to P1 is below the fibre "
                        r"latency from every site that can run m70 \(fastest: SA→P1 0\.54 ms\)", w.message), w.message
    assert w.fix == "a network budget of at least 0.55 ms"


def test_the_budget_counts_only_sites_that_can_run_the_model(tmp_path: Path) -> None:
    """A 150-GPU replica fits only SB's 200-GPU pod; SB reaches P1 in 1.46 ms, SA (0.54 ms) cannot run it."""
    m = model(deployments=[{"sku": "T1", "gpus_per_replica": 150, "tokens_per_s": 1000}])
    sc = load_scenario(scenario(tmp_path, [m], [stream(network_budget_ms=1.0)]))
    (w,) = api_warnings(sc)
    assert "fastest: SB→P1 1.46 ms" in w.message
    assert api_warnings(load_scenario(scenario(tmp_path / "ok", [m], [stream(network_budget_ms=1.5)]))) == []


def test_a_stream_priced_below_its_power_is_a_warning(tmp_path: Path) -> None:
    """10 GPUs x 1 kW x PUE 1 at 100 USD/MWh = 1 USD/h for 1,000 x 3,600 tokens: 0.278 USD per million at full
    load; average 250 of a 500 peak doubles it to 0.556."""
    data = tiny.base()
    for s in data["sites"]["sites"]:
        s["power_price_usd_per_mwh"] = 100.0
    data["sites"]["sites"][1]["power_price_usd_per_mwh"] = 50.0  # SB is cheaper but out of the 1 ms budget
    sc = load_scenario(scenario(tmp_path, [model()], [stream(price_usd_per_mtok=0.5, avg_tokens_per_s=250,
                                                             network_budget_ms=1)], data=data))
    (w,) = api_warnings(sc)
    assert (w.field, w.value, w.where) == ("price_usd_per_mtok", "0.5", "line 2 (stream S1)")
    assert w.message == ("stream S1 cannot pay for its power: a million tokens sold cost 0.56 USD in power where "
                         "it is cheapest (SA on T1: 0.278 USD at full load, average/peak 0.50), above its price of "
                         "0.5 USD")
    assert w.fix == "a price of at least 0.56 USD per million tokens, or leave the stream to go unserved"
    data["sites"]["sites"][0]["power_price_usd_per_mwh"] = 50.0
    ok = scenario(tmp_path / "ok", [model()], [stream(price_usd_per_mtok=0.5, avg_tokens_per_s=250,
                                                      network_budget_ms=1)], data=data)
    assert api_warnings(load_scenario(ok)) == []  # 0.278 per million sold at 50 USD/MWh


def test_a_free_stream_is_a_warning_when_power_costs(tmp_path: Path) -> None:
    data = tiny.base()
    data["sites"]["sites"][0]["power_price_usd_per_mwh"] = 1.0
    sc = load_scenario(scenario(tmp_path, [model()], [stream(price_usd_per_mtok=0, network_budget_ms=1)], data=data))
    assert [w.field for w in api_warnings(sc)] == ["price_usd_per_mtok"]


def test_a_region_no_site_reaches_is_a_warning(tmp_path: Path) -> None:
    data = tiny.base()
    data["topology"]["spans"] = [s for s in data["topology"]["spans"] if s["id"] not in {"SB-P2", "J-P2"}]
    sc = load_scenario(scenario(tmp_path, [model()], [stream(region="P2")], data=data))
    (w,) = api_warnings(sc)
    assert (w.field, w.value) == ("region", "P2")
    assert w.message == "stream S1 can never be served: no route from any site that can run m70 to P2"


def test_validate_lists_warnings_and_exits_0(tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "1000"})
    result = runner.invoke(app, ["validate", str(scenario(tmp_path, [model()], [stream(network_budget_ms=0.1)]))])
    assert result.exit_code == 0, result.output
    assert "0 leases (+0 internal), 1 API demand stream of 1 model over 4 weeks" in result.output
    assert "stream S1 can never be served" in result.output and "1 warning in 1 file." in result.output


# --------------------------------------------------------------------------- command line
def test_validate_a_bad_book_exits_2_listing_every_problem(tmp_path: Path) -> None:
    m = model(deployments=[{"sku": "T1", "gpus_per_replica": 500, "tokens_per_s": 1}])
    path = scenario(tmp_path, [m], [stream(region="PX"), stream("S2", avg_tokens_per_s=900, price_usd_per_mtok="x"),
                                    stream("S1", start_week=4, end_week=3)])
    runner = CliRunner(env={"COLUMNS": "1000"})
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    out = re.sub(r"\s+", " ", result.output)
    assert "Traceback" not in out
    for part in ["api_1.csv", "line 2 (stream S1)", "unknown region (PoP)", "line 3 (id S2)", "avg_tokens_per_s",
                 "is above peak_tokens_per_s (500)", "price_usd_per_mtok", "line 4", "duplicate API demand stream",
                 "the term ends before it starts", "models.yaml", "gpus_per_replica", "at most 200 GPUs per replica",
                 "6 errors in 2 files"]:
        assert part in out, part


@pytest.mark.parametrize(("kind", "title", "fields"), [
    ("models", "ModelsFile", {"models"}),
    ("api-demand-row", "ApiDemandRow", set(DEMAND_COLUMNS)),
])
def test_json_schema_of_both_files(tmp_path: Path, kind: str, title: str, fields: set[str]) -> None:
    assert kind in FILE_MODELS
    s = json_schema(kind)
    assert s["title"] == title and set(s["properties"]) == fields
    result = CliRunner().invoke(app, ["schema", kind])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["title"] == title
    if kind == "models":
        dep = s["$defs"]["ModelDeployment"]
        assert dep["properties"]["tokens_per_s"]["exclusiveMinimum"] == 0
        assert "tensor-parallel" in dep["properties"]["gpus_per_replica"]["description"]
    else:
        assert s["properties"]["price_usd_per_mtok"]["minimum"] == 0
        assert set(s["required"]) == fields - {"avg_tokens_per_s"}
    scenario_files = json_schema("scenario")["$defs"]["ScenarioFiles"]["properties"]
    assert {"models", "api_demand"} <= set(scenario_files)


def test_schema_lists_the_new_kinds() -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0 and "models" in result.output and "api-demand-row" in result.output


# --------------------------------------------------------------------------- the reference's catalogue and demand
@pytest.fixture(scope="module")
def reference() -> Any:
    return load_scenario(ROOT / "scenarios" / "reference.yaml")


def _readme_rows() -> dict[str, str]:
    text = (ROOT / "sites" / "README.md").read_text()
    return {m.group(1): m.group(0) for m in re.finditer(r"^\| ([MA]\d+) \|.*$", text, re.MULTILINE)}


def test_every_throughput_figure_has_a_source_in_the_readme(reference: Any) -> None:
    rows = _readme_rows()
    m = reference.api_models
    assert set(m.index.get_level_values("sku")) == {"H100", "B200", "GB200"}
    for (name, sku), r in m.iterrows():
        ref = re.match(r"(M\d+): ", r["source"])
        assert ref is not None, (name, sku)
        row = rows.get(ref.group(1), "")
        assert sku in row and f"{int(r['gpus_per_replica']):,}" in row and f"{r['tokens_per_s']:,.0f}" in row, \
            (name, sku, row)
        assert re.search(r"\(\d{1,2} \w{3} 20\d\d\)|\(20\d\d\)|estimate", r["source"]), r["source"]  # dated or derived


def test_reference_streams_use_its_pops_and_models(reference: Any) -> None:
    d = reference.api_demand
    assert set(d["region"]) <= set(reference.pops.index)
    assert set(d["model"]) <= set(reference.api_models.index.get_level_values("model"))
    assert d["end_week"].max() <= reference.horizon.periods
    rows = _readme_rows()
    for stream_id in ("NYC-70B-VOICE", "CHI-405B-PROMO"):
        assert any(stream_id in row for row in rows.values()), stream_id


def test_reference_api_warnings_are_the_two_by_construction(reference: Any) -> None:
    api = [w for w in api_warnings(reference) if Path(w.file).name == "api_demand.csv"]
    assert [(w.where, w.field) for w in api] == [("line 30 (stream NYC-70B-VOICE)", "network_budget_ms"),
                                                 ("line 31 (stream CHI-405B-PROMO)", "price_usd_per_mtok")]


def test_reference_streams_reach_both_campuses_or_one(reference: Any) -> None:
    from planner import build_network
    from planner.routing import latency_matrix

    ms = latency_matrix(reference, build_network(reference))
    d = reference.api_demand
    reach = {s: {site for site in ms.index if ms.at[site, r["region"]] <= r["network_budget_ms"]}
             for s, r in d.iterrows()}
    assert reach["DFW-70B-Q1"] == {"OH-NAL", "LA-RCH"}
    assert reach["NYC-70B-Q1"] == {"OH-NAL"}
    assert reach["DFW-405B-Q1"] == {"LA-RCH"}
    assert reach["NYC-70B-VOICE"] == set()


def test_reference_demand_is_a_few_thousand_gpus_at_peak(reference: Any) -> None:
    """At its peak week the demand needs between 1,000 and 5,000 GPUs on the SKU that serves it with fewest."""
    m = reference.api_models
    per_gpu = (m["tokens_per_s"] / m["gpus_per_replica"]).groupby(level="model").max()
    d = reference.api_demand
    weeks = pd.RangeIndex(1, reference.horizon.periods + 1)
    gpus = [sum(r["peak_tokens_per_s"] / per_gpu[r["model"]] for _, r in d.iterrows()
                if r["start_week"] <= w <= r["end_week"]) for w in weeks]
    assert 1_000 < max(gpus) < 5_000, max(gpus)
    assert max(gpus) < 0.01 * reference.pods["gpus"].sum()  # a minority use of the campuses
