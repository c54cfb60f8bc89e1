"""``planner network --format csv|json``: spans, candidate paths and the latency matrix as data tools read."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.network import build_network
from planner.routing import candidate_paths, latency_matrix
from planner.scenario import Scenario, load_scenario
from tests import tiny


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.write(tmp_path_factory.mktemp("tiny"), tiny.base())


@pytest.fixture(scope="module")
def sc(scenario: Path) -> Scenario:
    return load_scenario(scenario)


def test_json_holds_spans_paths_and_latency(scenario: Path, sc: Scenario) -> None:
    res = CliRunner().invoke(app, ["network", str(scenario), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    g = build_network(sc)
    assert [s["id"] for s in doc["spans"]] == list(sc.spans.index)
    assert doc["spans"][0]["capacity_gbps"] == sc.spans.iloc[0]["capacity_gbps"]
    paths = candidate_paths(sc, g)
    assert [p["path_id"] for p in doc["paths"]] == list(paths.index)
    assert doc["paths"][0]["spans"] == ";".join(paths.iloc[0]["spans"])
    matrix = latency_matrix(sc, g)
    assert doc["latency_ms"]["SA"]["P1"] == pytest.approx(matrix.loc["SA", "P1"])
    assert set(doc["latency_ms"]) == set(sc.sites.index)


def test_csv_one_table_to_stdout_and_all_tables_to_files(tmp_path: Path, scenario: Path, sc: Scenario) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["network", str(scenario), "--format", "csv", "--table", "latency"])
    assert res.exit_code == 0, res.output
    back = pd.read_csv(io.StringIO(res.stdout), index_col="site")
    matrix = latency_matrix(sc, build_network(sc))
    pd.testing.assert_frame_equal(back, matrix, check_names=False)
    res = runner.invoke(app, ["network", str(scenario), "--format", "csv"])
    assert res.exit_code == 2 and "--table" in res.output
    res = runner.invoke(app, ["network", str(scenario), "--format", "csv", "--out", str(tmp_path / "net.csv")])
    assert res.exit_code == 0, res.output
    spans = pd.read_csv(tmp_path / "net-spans.csv", index_col="span")
    assert list(spans.index) == list(sc.spans.index)
    assert spans["length_km"].to_numpy() == pytest.approx(sc.spans["length_km"].to_numpy(), rel=1e-12)
    paths = pd.read_csv(tmp_path / "net-paths.csv")
    assert len(paths) == len(candidate_paths(sc, build_network(sc)))
    assert (tmp_path / "net-latency.csv").is_file()
