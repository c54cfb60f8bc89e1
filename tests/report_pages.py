"""Reading report pages in tests: their tags and ids, table rows, remote references; a headless browser.

Shared by tests/test_report.py and tests/test_report_business.py.
"""

from __future__ import annotations

import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")

FAILURES = pd.DataFrame([
    {"case": "cut SA-P1", "kind": "span", "spans": ("SA-P1",), "leases_slo_lost": 1, "leases_stranded": 2,
     "revenue_at_risk_usd": 120_000.0, "worst_added_latency_ms": 1.4},
    {"case": "conduit c5", "kind": "srlg", "spans": ("J-P2",), "leases_slo_lost": 0, "leases_stranded": 0,
     "revenue_at_risk_usd": 0.0, "worst_added_latency_ms": float("nan")},
    {"case": "cut SB-P2", "kind": "span", "spans": ("SB-P2",), "leases_slo_lost": 1, "leases_stranded": 1,
     "revenue_at_risk_usd": 150_000.0, "worst_added_latency_ms": 0.9},
])
"""Three cut cases, as a failure analysis tabulates them, for the report's failures section."""


class PageAttributes(HTMLParser):
    """Collect every (tag, attribute, value) of a document, inline SVG included."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attrs: list[tuple[str, str, str]] = []
        self.ids: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for k, v in attrs:
            self.attrs.append((tag, k, v or ""))
            if k == "id":
                self.ids.append(v or "")

    handle_startendtag = handle_starttag


def parse_page(page: str) -> PageAttributes:
    """Every tag, attribute and id of ``page``."""
    p = PageAttributes()
    p.feed(page)
    return p


FETCHING = {"src", "href", "xlink:href", "srcset", "action", "formaction", "poster", "data", "background",
            "manifest", "ping", "cite"}
REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


def remote_references(page: str) -> list[str]:
    """Every place in ``page`` that could make a browser fetch something from the network."""
    bad = [f"<{tag} {k}={v!r}>" for tag, k, v in parse_page(page).attrs
           if k in FETCHING and (REMOTE.match(v) or v.strip().lower().startswith(("http:", "https:")))]
    bad += re.findall(r"url\(\s*['\"]?\s*(?:https?:)?//[^)]*\)", page, flags=re.IGNORECASE)
    bad += re.findall(r"@import[^;]*", page, flags=re.IGNORECASE)
    bad += re.findall(r"\b(?:src|href)\s*=\s*['\"]?\s*(?:https?:)?//[^\s'\">]*", page, flags=re.IGNORECASE)
    bad += [f"<{t}>" for t in parse_page(page).tags if t in ("link", "iframe", "object", "embed", "base")]
    return bad


def table_rows(page: str, table_id: str) -> list[str]:
    """The body rows (inner HTML of each ``<tr>``) of the table with id ``table_id``."""
    start = page.index(f'<table id="{table_id}"')
    body = page[start:page.index("</table>", start)]
    return re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1]) if "<tbody>" in body else []


CHROMIUM = os.environ.get("PLANNER_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PLANNER_CHROMEDRIVER", "/usr/bin/chromedriver")


def missing_browser(what: str) -> None:
    """Fail in CI, skip elsewhere."""
    msg = f"{what} is missing: the browser test needs selenium, chromium and chromedriver"
    if IN_CI:
        pytest.fail(msg + " (CI must run it: install them, see .ci/run)")
    pytest.skip(msg)


def browser_driver(tmp_path: Path) -> Any:
    """Headless Chromium under selenium, logging its network requests (fails in CI, skips elsewhere, when missing)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing_browser("selenium")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).exists() or shutil.which(path)):
            missing_browser(path)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-extensions",
                "--disable-default-apps", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'chromium-profile'}",
                "--window-size=1400,900"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    return driver
