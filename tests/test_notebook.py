"""examples/quickstart.ipynb runs top to bottom in a real Jupyter kernel and shows its tables, chart and map.

The kernel is the ``python3`` kernel spec that ``ipykernel`` installs into this
environment (it starts this interpreter). In CI (``CI`` set) a missing kernel fails
the test; elsewhere it is skipped.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.reference_cut import write_cut_reference

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"
KERNEL = "python3"
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _missing(what: str) -> None:
    """Fail in CI, skip elsewhere."""
    msg = f"{what}; install the dev extras: pip install -e '.[dev]'"
    if IN_CI:
        pytest.fail(msg + " (CI must run the notebook)")
    pytest.skip(msg)


def _outputs(nb: Any, kind: str) -> list[str]:
    """Every output of the code cells holding ``kind`` (a MIME type, or ``stream``/``error`` text)."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if kind in ("stream", "error") and out["output_type"] == kind:
                found.append(out.get("text") or f"{out.get('ename')}: {out.get('evalue')}")
            elif kind in out.get("data", {}):
                found.append(out["data"][kind])
    return found


def test_outputs_are_not_committed() -> None:
    try:
        import nbformat
    except ImportError as exc:
        _missing(f"cannot read notebooks here ({exc})")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "clear the notebook's outputs"
    assert nb.metadata["kernelspec"]["name"] == KERNEL


@pytest.mark.slow
def test_quickstart_runs_and_shows_the_tables(tmp_path: Path) -> None:
    try:
        import nbformat
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
        from nbclient import NotebookClient
    except ImportError as exc:
        _missing(f"cannot run notebooks here ({exc})")
    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        _missing(f"no {KERNEL!r} Jupyter kernel spec in {sys.prefix}")
    # jupyter_client starts kernels whose argv[0] is "python" with this interpreter
    assert spec.argv[0] in ("python", "python3", sys.executable), spec.argv

    # the kernel's planner.load_scenario() reads scenarios/reference.yaml in its working directory: the reference
    # with every 10th lease (tests/reference_cut.py), so that the notebook's CP-SAT solve takes seconds, not minutes
    write_cut_reference(tmp_path, 10)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name=KERNEL, allow_errors=False,
                            resources={"metadata": {"path": str(tmp_path)}})  # the kernel's working directory
    client.execute()

    assert _outputs(nb, "error") == []
    html = "\n".join(_outputs(nb, "text/html"))
    assert "Scenario reference" in html  # Scenario._repr_html_
    assert "Plan for reference" in html  # Plan._repr_html_
    for column in ("replica", "pod", "path", "latency_ms", "revenue_usd", "power_cost_usd"):  # placements
        assert f"<th>{column}</th>" in html, column
    for column in ("family", "reason", "fix"):  # unplaced
        assert f"<th>{column}</th>" in html, column
    for column in ("power_mw", "available_mw", "headroom_mw"):  # site_use
        assert f"<th>{column}</th>" in html, column
    assert "<th>peak_utilisation</th>" in html  # the spans layer
    assert len(_outputs(nb, "image/png")) == 2  # the power chart and the map
    text = "\n".join(_outputs(nb, "text/plain"))
    assert "'routes':" in text and "'topology.gpkg'" in text
    folder = tmp_path / "output" / "quickstart"
    assert (folder / "plan.json").is_file() and (folder / "report.html").is_file()
