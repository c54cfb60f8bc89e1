"""Hostile and careless input, through the command line: every case exits 2 with its file, place, field and fix,
without a traceback, within seconds and bounded memory; no output is lost or left half-written.

The bad files are in ``tests/data/bad`` (see its README); each replaces one file of the
tiny scenario (``tests/tiny.py``). What a file cannot hold (a FIFO, a device, a link
loop) is made here. The cases that would exhaust memory or hang run the real
console script in a child process with an address-space limit and a timeout.
"""

from __future__ import annotations

import errno
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner import gis
from planner.cli import app
from tests import tiny

BAD = Path(__file__).parent / "data" / "bad"

MEMORY_LIMIT = 1_500 * 2**20
"""Address space a child ``planner validate`` may use (Python, numpy and pandas take ~600 MB of it)."""
SECONDS = 20.0
"""Wall time a refused input may take in a child process (the import alone takes a few seconds on a busy machine)."""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "1000", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None})


def scenario_with(tmp_path: Path, **files: str | Callable[[Path], object]) -> Path:
    """The tiny scenario in ``tmp_path``, with files replaced: name=bad file, or name=function making it."""
    scenario = tiny.write(tmp_path, tiny.base())
    for name, src in files.items():
        target = tmp_path / name.replace("_", ".")
        if callable(src):
            target.unlink(missing_ok=True)
            src(target)
        else:
            shutil.copy(BAD / src, target)
    return scenario


def refused(output: str, *parts: str) -> None:
    """The output of a refused input: every part in it (regexes), no traceback."""
    flat = re.sub(r"\s+", " ", output)
    for part in parts:
        assert re.search(part, flat), f"{part!r} not in:\n{output}"
    assert "Traceback" not in output


def validate(runner: CliRunner, scenario: Path) -> str:
    t = time.perf_counter()
    result = runner.invoke(app, ["validate", str(scenario)])
    assert time.perf_counter() - t < SECONDS
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.output


# --------------------------------------------------------------------------- numbers: NaN, inf, 1e308
@pytest.mark.parametrize(("name", "source", "parts"), [
    pytest.param("sites.yaml", "sites_pue_nan.yaml",
                 [r"sites\.yaml", "line 8", r"sites\[0\]\.pue", "nan", "finite number", r"\.nan, \.inf"], id="pue-nan"),
    pytest.param("sites.yaml", "sites_grid_inf.yaml",
                 [r"sites\.yaml", "line 7", r"sites\[0\]\.grid_mw", "inf", "finite number"], id="grid-inf"),
    pytest.param("sites.yaml", "sites_grid_1e308.yaml",
                 [r"sites\.yaml", "line 7", r"sites\[0\]\.grid_mw", r"1e\+308", "less than or equal to 100000",
                  r"give a smaller value \(at most 100,000\)"], id="grid-1e308"),
    pytest.param("leases.csv", "leases_price_inf.csv",
                 [r"leases\.csv", r"line 2 \(id L1\)", "price_usd_per_gpu_hour", "'inf'", "finite number"],
                 id="price-inf"),
])
def test_non_finite_and_absurd_numbers(runner: CliRunner, tmp_path: Path, name: str, source: str,
                                       parts: list[str]) -> None:
    out = validate(runner, scenario_with(tmp_path, **{name.replace(".", "_"): source}))
    refused(out, *parts, "1 error in 1 file")


# --------------------------------------------------------------------------- resource exhaustion
def _fifo(p: Path) -> None:
    os.mkfifo(p)


def _dev_zero(p: Path) -> None:
    p.symlink_to("/dev/zero")


def _loop(p: Path) -> None:
    p.symlink_to(p.name)


def _text_bomb(p: Path) -> None:  # a 1 MiB text repeated 5,000 times through an alias: 5 GiB once expanded
    p.write_text("a: &a ' " + "x" * 2**20 + "'\nsites: [{residency: [" + ", ".join(["*a"] * 5_000) + "]}]\n")


def _routes_deep(p: Path) -> None:
    shutil.copy(BAD / "routes_deep.geojson", p)
    scenario = p.parent / "scenario.yaml"
    scenario.write_text(scenario.read_text().replace("files:\n", "files:\n  routes: routes.geojson\n"))


EXHAUSTION = [
    pytest.param({"topology_yaml": "topology_amplifier_1e-9.yaml"},
                 [r"topology\.yaml", "line 26", r"spans\[0\]\.amplifier_spacing_km", "1e-09",
                  "greater than or equal to 10", "give a larger value"], id="amplifier-spacing-1e-9"),
    pytest.param({"scenario_yaml": "scenario_periods_1e9.yaml"},
                 [r"scenario\.yaml", "line 5", r"horizon\.periods", "1000000000", "less than or equal to 1000",
                  r"give a smaller value \(at most 1,000\)"],
                 id="periods-1e9"),
    pytest.param({"reservations_csv": "reservations_1e20_gpus.csv"},
                 [r"reservations\.csv", "line 2", "gpus", "100000000000000000000", "less than or equal to 10000000"],
                 id="reservation-1e20-gpus"),
    pytest.param({"sites_yaml": "sites_alias_bomb.yaml"},
                 [r"sites\.yaml", "line 7", r"the file holds more than 200,000 values \(aliases expanded\)",
                  "fewer nested aliases"],
                 id="yaml-alias-bomb"),
    pytest.param({"sites_yaml": _text_bomb},
                 [r"sites\.yaml", "line 2", r"the file holds more than 32 MiB of text \(aliases expanded\)"],
                 id="yaml-text-alias-bomb"),
    pytest.param({"sites_yaml": "sites_deep.yaml"},
                 [r"sites\.yaml", "line 2", "nested more than 64 levels deep"], id="yaml-20000-deep"),
    pytest.param({"routes_geojson": _routes_deep},
                 [r"routes\.geojson", "line 2", "nested more than 64 levels deep"], id="geojson-20000-deep"),
    pytest.param({"sites_yaml": _dev_zero},
                 [r"/dev/zero", "the path is a character device, not a regular file",
                  "give the path of a regular file"],
                 id="dev-zero"),
    pytest.param({"leases_csv": _fifo},
                 [r"leases\.csv", r"the path is a FIFO \(named pipe\), not a regular file"], id="fifo"),
    pytest.param({"pods_yaml": _loop},
                 [r"pods\.yaml", "the path is a loop of symbolic links", "point the scenario at the real file"],
                 id="symlink-loop"),
]


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.mark.parametrize(("files", "parts"), EXHAUSTION)
def test_resource_exhaustion_is_refused_in_seconds_and_bounded_memory(
        tmp_path: Path, files: dict[str, str | Callable[[Path], object]], parts: list[str]) -> None:
    scenario = scenario_with(tmp_path, **files)
    env = {**os.environ, "COLUMNS": "1000", "PYTHONPATH": str(Path(__file__).parents[1])}
    t = time.perf_counter()
    command = [sys.executable, "-c", "from planner.cli import main; main()", "validate", str(scenario)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=SECONDS, preexec_fn=_limit_memory,
                          env=env, cwd=tmp_path, check=False)
    assert time.perf_counter() - t < SECONDS
    assert proc.returncode == 2, proc.stdout + proc.stderr
    refused(proc.stdout + proc.stderr, *parts, "1 error in 1 file")


def test_a_huge_file_is_not_read(tmp_path: Path, runner: CliRunner) -> None:
    def sparse(p: Path) -> None:  # 40 MiB of nothing, no disk used
        with p.open("wb") as f:
            f.truncate(40 * 2**20)

    out = validate(runner, scenario_with(tmp_path, leases_csv=sparse))
    refused(out, r"leases\.csv", "the file is larger than 32 MiB", "split")


def test_a_file_of_mistakes_lists_a_thousand_and_counts_the_rest(tmp_path: Path, runner: CliRunner) -> None:
    data = tiny.base()
    data["leases"] = [tiny.lease(f"L{i}", 10, sku="ZZ") for i in range(3_000)]
    out = validate(runner, tiny.write(tmp_path, data))
    refused(out, r"line 1001 \(lease L999\)", r"2,000 more problems in this file are not listed \(at most 1,000 are\)",
            "1,001 errors in 1 file")
    assert "L1000" not in out


def test_a_directory_is_not_read(tmp_path: Path, runner: CliRunner) -> None:
    out = validate(runner, scenario_with(tmp_path, skus_yaml=lambda p: p.mkdir()))
    refused(out, r"skus\.yaml", "the path is a directory, not a regular file")


# --------------------------------------------------------------------------- nonsense that validates
def test_zero_length_span_between_distinct_nodes(runner: CliRunner, tmp_path: Path) -> None:
    out = validate(runner, scenario_with(tmp_path, topology_yaml="topology_zero_span.yaml"))
    refused(out, r"topology\.yaml", "line 19", r"\bb\b", "'J'", r"span SA-J is 0 m long, between two distinct nodes SA "
            r"and J", "give SA and J their real coordinates", "1 error in 1 file")


def test_pop_that_no_span_reaches_but_leases_use(runner: CliRunner, tmp_path: Path) -> None:
    scenario = scenario_with(tmp_path, topology_yaml="topology_pop_cut_off.yaml",
                             leases_csv="leases_to_cut_off_pop.csv")
    out = validate(runner, scenario)
    refused(out, r"topology\.yaml", "line 13", r"\bid\b", "'P3'", r"PoP P3 has no spans, yet 1 lease\(s\) send traffic "
            r"to it \(L1\)", "add a span from P3 towards a campus", "1 error in 1 file")


def test_swapped_coordinates_are_a_warning(runner: CliRunner, tmp_path: Path) -> None:
    scenario = scenario_with(tmp_path, topology_yaml="topology_swapped_pop.yaml")
    result = runner.invoke(app, ["validate", str(scenario)])
    assert result.exit_code == 0, result.output
    refused(result.output, r"topology\.yaml", "line 11", r"\blat\b", r"-88 \(lon 34\)",
            r"PoP P2 lies [\d,]+ km from every other node; with lat and lon swapped it would be \d+ km from SB",
            "swap lat and lon", "1 warning in 1 file")


# --------------------------------------------------------------------------- control characters
@pytest.mark.parametrize(("name", "source", "parts"), [
    pytest.param("sites_yaml", "sites_control_char.yaml",
                 [r"sites\.yaml", "line 4", r"sites\[0\]\.name", r"'Site\\x00A'",
                  r"holds a control character \(U\+0000\) at position 5", "printable text"], id="nul-in-a-name"),
    pytest.param("leases_csv", "leases_control_char.csv",
                 [r"leases\.csv", r"line 2 \(id L1\)", "tenant", r"'acme\\x07corp'",
                  r"control character \(U\+0007\) at position 5"], id="bel-in-a-tenant"),
])
def test_control_characters_in_names(runner: CliRunner, tmp_path: Path, name: str, source: str,
                                     parts: list[str]) -> None:
    out = validate(runner, scenario_with(tmp_path, **{name: source}))
    refused(out, *parts, "1 error in 1 file")
    assert "\x00" not in out and "\x07" not in out


def test_control_characters_in_keys_and_columns_are_escaped(runner: CliRunner, tmp_path: Path) -> None:
    def key(p: Path) -> None:
        p.write_text(p.read_text().replace("  pue: 1.0", '  "pu\\x1b[2Je": 1.0', 1))

    def column(p: Path) -> None:
        p.write_text(p.read_text().replace("tenant", "ten\x1b[2Jant", 1))

    scenario = scenario_with(tmp_path)
    key(tmp_path / "sites.yaml")
    column(tmp_path / "leases.csv")
    out = validate(runner, scenario)
    refused(out, r"sites\[0\]\.pu\\x1b\[2Je", r"ten\\x1b\[2Jant")
    assert "\x1b" not in out


# --------------------------------------------------------------------------- a file of another kind
def test_a_file_of_another_kind_is_named_not_echoed(runner: CliRunner, tmp_path: Path) -> None:
    out = validate(runner, scenario_with(tmp_path, leases_csv="leases_other_kind.csv"))
    refused(out, r"leases\.csv", "line 1", "not a lease-row CSV: none of the 1 cells of its first line names a column",
            "check the path; the first line of a lease-row CSV is a header: id,tenant")
    assert "root:" not in out and "/bin/" not in out


def test_a_yaml_of_another_kind_is_named_not_echoed(runner: CliRunner, tmp_path: Path) -> None:
    def compose_file(p: Path) -> None:
        p.write_text("services:\n  db:\n    environment:\n      PASSWORD: hunter2\n")

    out = validate(runner, scenario_with(tmp_path, pods_yaml=compose_file))
    refused(out, r"pods\.yaml", "line 1", "not a pods file: none of its 1 top-level keys is a pods key",
            "fabric_templates, halls, pods")
    assert "hunter2" not in out and "services" not in out


# --------------------------------------------------------------------------- export --out
@pytest.fixture
def tiny_scenario(tmp_path: Path) -> Path:
    return tiny.write(tmp_path / "sc", tiny.base())


def export(runner: CliRunner, scenario: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["export", str(scenario), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_export_never_overwrites_a_file_without_force(runner: CliRunner, tiny_scenario: Path, tmp_path: Path) -> None:
    target = tmp_path / "mine.geojson"
    target.write_text("precious")
    code, out = export(runner, tiny_scenario, "--out", str(target))
    assert code == 2
    refused(out, "mine.geojson already exists", "pass --force to replace it")
    assert target.read_text() == "precious"
    code, out = export(runner, tiny_scenario, "--out", str(target), "--force")
    assert code == 0, out
    assert target.read_text().startswith("{")


@pytest.mark.parametrize("role", ["sites.yaml", "scenario.yaml", "leases.csv"])
def test_export_never_overwrites_an_input_even_with_force(runner: CliRunner, tiny_scenario: Path, tmp_path: Path,
                                                          role: str) -> None:
    target = tiny_scenario.parent / role
    before = target.read_bytes()
    link = tmp_path / "link.geojson"
    link.symlink_to(target)  # by another name, too
    for out_path in (target, link):
        code, out = export(runner, tiny_scenario, "--out", str(out_path), "--force")
        assert code == 2
        refused(out, r"is the scenario's own input file \((sites|scenario|leases\[0\])\); it is never overwritten")
    assert target.read_bytes() == before


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_export_never_writes_over_what_is_not_a_regular_file(runner: CliRunner, tiny_scenario: Path,
                                                             tmp_path: Path, kind: str) -> None:
    target = {"fifo": tmp_path / "pipe", "directory": tmp_path / "folder", "device": Path("/dev/null")}[kind]
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "directory":
        target.mkdir()
    code, out = export(runner, tiny_scenario, "--out", str(target), "--force")
    assert code == 2
    refused(out, "is (a folder|not a regular file)", "export writes only regular files", "choose another file")
    assert target.exists() and not target.is_file()


def test_export_under_a_file(runner: CliRunner, tiny_scenario: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    code, out = export(runner, tiny_scenario, "--out", str(tmp_path / "file" / "sub.kml"))
    assert code == 2
    refused(out, r"cannot write .*file/sub\.kml: .*file is a file, not a folder")


def test_export_on_a_full_disk(runner: CliRunner, tiny_scenario: Path, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object, **kw: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gis, "write_kml", full)
    code, out = export(runner, tiny_scenario, "--out", str(tmp_path / "t.kml"))
    assert code == 2
    refused(out, r"could not write .*t\.kml \(No space left on device\); nothing was written", "free some disk space")
    assert not (tmp_path / "t.kml").exists()


# --------------------------------------------------------------------------- plan --out
def plan(runner: CliRunner, scenario: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["plan", str(scenario), "--greedy", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_plan_out_under_a_file(runner: CliRunner, tiny_scenario: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    code, out = plan(runner, tiny_scenario, "--out", str(tmp_path / "file" / "sub"))
    assert code == 2
    refused(out, r"cannot write .*file/sub: .*file is a file, not a folder", "choose a path whose parents are folders")
    assert (tmp_path / "file").read_text() == "x"


@pytest.mark.parametrize("command", [["schema"], ["generate", "--no-validate"]])
def test_other_out_under_a_file(runner: CliRunner, tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "file").write_text("x")
    result = runner.invoke(app, [*command, "--out", str(tmp_path / "file" / "sub")])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    refused(result.output, r"could not write .*file/sub \(Not a directory\)", "choose another")
    assert (tmp_path / "file").read_text() == "x"


def test_plan_out_dot_inside_a_results_folder(runner: CliRunner, tiny_scenario: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert plan(runner, tiny_scenario, "--out", str(tmp_path / "run"))[0] == 0
    monkeypatch.chdir(tmp_path / "run")
    for args in (["--out", "."], ["--out", ".", "--force"], ["--out", "..", "--force"]):
        code, out = plan(runner, tiny_scenario, *args)
        assert code == 2
        refused(out, r"\.\.? is the folder the command runs in \(or holds it\), so it cannot be replaced")
    assert (tmp_path / "run" / "plan.json").is_file()


def test_plan_on_a_full_disk_keeps_the_previous_folder(runner: CliRunner, tiny_scenario: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "run"
    assert plan(runner, tiny_scenario, "--out", str(target))[0] == 0
    before = (target / "plan.json").read_text()

    def full(*args: object, **kw: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gis, "write_geojson", full)
    code, out = plan(runner, tiny_scenario, "--out", str(target), "--force")
    assert code == 2
    refused(out, r"could not write .*run \(No space left on device\); nothing was written and what was there is kept",
            "free some disk space")
    assert (target / "plan.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "sc"]


def test_plan_on_a_full_disk_as_gdal_says_it(runner: CliRunner, tiny_scenario: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from pyogrio.errors import FeatureError

    def full(*args: object, **kw: object) -> None:  # what a GeoPackage write on a full disk raises
        raise FeatureError("Could not add feature to layer at index 0: failed to execute insert : database or disk "
                           "is full")

    monkeypatch.setattr(gis, "write_gpkg", full)
    code, out = plan(runner, tiny_scenario, "--out", str(tmp_path / "run"))
    assert code == 2
    refused(out, r"could not write .*run \(Could not add feature .* database or disk is full\); nothing was written",
            "free some disk space")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sc"]


def test_plan_removes_what_a_killed_run_left(runner: CliRunner, tiny_scenario: Path, tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    pid = int(dead.stdout)
    left = tmp_path / f".run.tmp-{pid}"
    left.mkdir()
    (left / "placements.csv").write_text("half")
    running = tmp_path / f".run.tmp-{os.getppid()}"  # a live process's folder is left alone
    running.mkdir()
    assert plan(runner, tiny_scenario, "--out", str(tmp_path / "run"))[0] == 0
    assert not left.exists()
    assert running.is_dir()


def test_plan_force_keeps_a_persons_file(runner: CliRunner, tiny_scenario: Path, tmp_path: Path) -> None:
    target = tmp_path / "run"
    assert plan(runner, tiny_scenario, "--out", str(target))[0] == 0
    (target / "my-notes.md").write_text("mine")
    code, out = plan(runner, tiny_scenario, "--out", str(target), "--force")
    assert code == 2
    refused(out, r"run holds files the planner did not write \(my-notes\.md\), so --force does not replace it",
            "move them out of the folder")
    assert (target / "my-notes.md").read_text() == "mine"
