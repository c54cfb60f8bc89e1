"""GIS clients driven by the tests: GDAL's ``ogrinfo`` and ``validate_gpkg.py``.

With ``CI`` set, a missing client fails its test; without it, the test is skipped
(see README, "Set up on a fresh machine").
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

KML = "{http://www.opengis.net/kml/2.2}"
"""The KML 2.2 namespace, as ElementTree spells it in tag names."""


def missing(what: str, fix: str) -> None:
    """Fail in CI, skip elsewhere."""
    msg = f"{what} is not installed ({fix})"
    if "CI" in os.environ:
        pytest.fail(msg)
    pytest.skip(msg)


def ogrinfo(*args: str | Path) -> str:
    exe = shutil.which("ogrinfo")
    if exe is None:
        missing("ogrinfo", "apt-get install gdal-bin")
    run = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, check=False, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout


def system_python_with_osgeo() -> str | None:
    for exe in ("/usr/bin/python3", shutil.which("python3")):
        if exe and subprocess.run([exe, "-c", "from osgeo import gdal"], capture_output=True,
                                  check=False).returncode == 0:
            return exe
    return None


def validate_gpkg_command() -> list[str]:
    """How to run GDAL's validate_gpkg.py (python3-gdal ships it), with a Python that has ``osgeo``."""
    py = system_python_with_osgeo()
    if py is None:
        missing("GDAL's Python bindings (osgeo)", "apt-get install python3-gdal")
    assert py is not None
    module = "osgeo_utils.samples.validate_gpkg"
    if subprocess.run([py, "-c", f"import {module}"], capture_output=True, check=False).returncode == 0:
        return [py, "-m", module]
    for script in (Path("/usr/share/doc/python3-gdal/examples/validate_gpkg.py"), shutil.which("validate_gpkg.py")):
        if script and Path(script).exists():
            return [py, str(script)]
    missing("validate_gpkg.py", "apt-get install python3-gdal")
    raise AssertionError  # unreachable
