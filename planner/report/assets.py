"""The page's inline stylesheet and script (the report fetches nothing)."""

from __future__ import annotations

from planner.report.style import COLOURS

__all__ = ["CSP", "CSS", "SCRIPT"]

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
"""Content-Security-Policy of the page: nothing may be loaded from anywhere."""

CSS = """
:root {
  --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f5f6f8; --card: #ffffff;
  --accent: #2f6fdf; --internal: %(internal)s; --leased: %(leased)s; --free: %(free)s;
  --good: #047857; --warn: #b45309; --bad: #b91c1c;
}
* { box-sizing: border-box; }
html { scroll-padding-top: 56px; }
@media (prefers-reduced-motion: no-preference) { html { scroll-behavior: smooth; } }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "DejaVu Sans", sans-serif;
  -webkit-font-smoothing: antialiased;
}
.wrap { max-width: 1280px; margin: 0 auto; padding: 0 28px; }
header.top { background: #111827; color: #f9fafb; padding: 22px 0 18px; }
header.top h1 { margin: 0 0 4px; font-size: 26px; font-weight: 650; letter-spacing: -0.01em; }
header.top .meta { color: #cbd5e1; font-size: 14px; display: flex; flex-wrap: wrap; gap: 4px 18px; }
header.top .meta b { color: #f9fafb; font-weight: 600; }
header.top code { background: #1f2937; padding: 1px 6px; border-radius: 4px; color: #e5e7eb; }
.status { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 13px; font-weight: 700;
  letter-spacing: 0.04em; vertical-align: 4px; margin-left: 10px; color: #fff; }
.status.OPTIMAL { background: var(--good); }
.status.FEASIBLE { background: var(--warn); }
.status.HEURISTIC { background: #475569; }
.status.other { background: var(--bad); }
.status.interrupted { background: #c2410c; }
nav.sections { position: sticky; top: 0; z-index: 10; background: rgba(255, 255, 255, 0.94);
  border-bottom: 1px solid var(--line); backdrop-filter: blur(6px); }
nav.sections .wrap { display: flex; gap: 4px; overflow-x: auto; }
nav.sections a { color: var(--ink); text-decoration: none; padding: 10px 12px; font-size: 14px; white-space: nowrap;
  border-bottom: 2px solid transparent; }
nav.sections a:hover { border-bottom-color: var(--accent); color: var(--accent); }
.banner { margin: 18px 0 0; padding: 12px 16px; border-radius: 10px; font-size: 15px; }
.banner.interrupted { background: #fff7ed; border: 1px solid #fdba74; border-left: 8px solid #ea580c; }
.banner.interrupted strong { color: #9a3412; font-size: 17px; letter-spacing: 0.02em; }
main { padding-bottom: 48px; }
section { margin: 30px 0 0; }
section > h2 { font-size: 21px; margin: 0 0 2px; font-weight: 650; letter-spacing: -0.01em; }
p.lede { color: var(--muted); margin: 0 0 12px; max-width: 95ch; font-size: 14px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 12px; margin-top: 18px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 14px 16px 12px; }
.card .label { font-size: 12px; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted);
  font-weight: 600; }
.card .value { font-size: 27px; font-weight: 680; font-variant-numeric: tabular-nums; line-height: 1.25;
  margin: 2px 0 2px; }
.card .sub { font-size: 13px; color: var(--muted); font-variant-numeric: tabular-nums; }
.card.good .value { color: var(--good); }
.card.warn .value { color: var(--warn); }
.card.bad .value { color: var(--bad); }
.card ul.skus { list-style: none; margin: 4px 0 0; padding: 0; font-size: 13px; font-variant-numeric: tabular-nums; }
.card ul.skus li { display: flex; justify-content: space-between; border-top: 1px dashed var(--line); padding: 1px 0; }
.panel { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 14px 16px; }
figure { margin: 0; }
svg.chart { display: block; width: 100%%; height: auto; }
.grid2 { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 12px; align-items: start; }
@media (max-width: 1050px) { .grid2 { grid-template-columns: minmax(0, 1fr); } }
.sites { display: grid; grid-template-columns: minmax(0, 1fr); gap: 12px; }
.site h3 { margin: 0; font-size: 16px; }
.site h3 small { color: var(--muted); font-weight: 500; margin-left: 6px; }
.facts { display: flex; flex-wrap: wrap; gap: 2px 16px; font-size: 13px; color: var(--muted); margin: 2px 0 6px; }
.facts b { color: var(--ink); font-weight: 600; font-variant-numeric: tabular-nums; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; vertical-align: -1px;
  margin-right: 4px; }
.toolbar { display: flex; gap: 12px; align-items: center; justify-content: space-between; margin: 0 0 8px;
  font-size: 13px; color: var(--muted); }
.stack { display: flex; flex-direction: column; gap: 12px; min-width: 0; }
.stack .scroll { max-height: 380px; }
.toolbar input { font: inherit; padding: 5px 10px; border: 1px solid #d1d5db; border-radius: 8px; width: 260px; }
.scroll { max-height: 620px; overflow: auto; border: 1px solid var(--line); border-radius: 10px;
  background: var(--card); }
table.data { border-collapse: separate; border-spacing: 0; width: 100%%; font-size: 13px; }
table.data th { position: sticky; top: 0; z-index: 1; background: #f3f4f6; text-align: left; font-weight: 600;
  padding: 7px 10px; border-bottom: 1px solid #d1d5db; white-space: nowrap; cursor: pointer; user-select: none; }
table.data th:hover { background: #e8ebf0; }
table.data th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 10px; color: var(--accent); }
table.data th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 10px; color: var(--accent); }
table.data td { padding: 6px 10px; border-bottom: 1px solid #eef0f3; vertical-align: top; }
table.data tbody tr:nth-child(even) { background: #fafbfc; }
table.data tbody tr:hover { background: #eef4ff; }
table.data .nw { white-space: nowrap; }
table.data .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv { border-collapse: collapse; font-size: 13px; }
table.kv th { text-align: left; font-weight: 500; color: var(--muted); padding: 2px 16px 2px 0; }
table.kv td { font-variant-numeric: tabular-nums; padding: 2px 0; }
.chip { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 12px; font-weight: 650;
  color: var(--chip); background: color-mix(in srgb, var(--chip) 11%%, white);
  border: 1px solid color-mix(in srgb, var(--chip) 35%%, white); white-space: nowrap; }
.note { color: var(--muted); font-style: italic; }
.ok { color: var(--good); font-weight: 600; }
#lease-map g.route-on path { stroke: #d7301f !important; stroke-width: 5px !important; }
#lease-book tr[data-spans] { cursor: pointer; }
#lease-book tr.route-on { outline: 2px solid #d7301f; outline-offset: -2px; }
footer { color: var(--muted); font-size: 12px; padding: 20px 0 28px; border-top: 1px solid var(--line); }
@media print {
  nav.sections { display: none; }
  body { background: #fff; }
  .scroll { max-height: none; overflow: visible; }
  section { break-inside: avoid-page; }
}
""" % {"internal": COLOURS["internal"], "leased": COLOURS["leased"], "free": COLOURS["free"]}  # noqa: UP031

SCRIPT = """
(function () {
  "use strict";
  function key(cell) {
    var v = cell.getAttribute("data-v");
    if (v !== null) { var n = parseFloat(v); return isNaN(n) ? -Infinity : n; }
    return cell.textContent.trim().toLowerCase();
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    if (!table.tHead || !table.tBodies.length) { return; }
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.tabIndex = 0;
      function sort() {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]);
          var c = x < y ? -1 : (x > y ? 1 : 0);
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
      });
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("input[data-filter]"), function (input) {
    var table = document.getElementById(input.getAttribute("data-filter"));
    if (!table || !table.tBodies.length) { return; }
    var count = document.getElementById(input.getAttribute("data-count"));
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase(), shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        r.hidden = q !== "" && r.textContent.toLowerCase().indexOf(q) < 0;
        if (!r.hidden) { shown += 1; }
      });
      if (count) { count.textContent = shown.toLocaleString("en-US"); }
    });
  });
  var routeMap = document.getElementById("lease-map");
  var routeNote = document.getElementById("lease-map-caption");
  Array.prototype.forEach.call(document.querySelectorAll("#lease-book tr[data-spans]"), function (row) {
    row.addEventListener("click", function () {
      if (!routeMap) { return; }
      Array.prototype.forEach.call(document.querySelectorAll(".route-on"), function (el) {
        el.classList.remove("route-on");
      });
      row.classList.add("route-on");
      row.getAttribute("data-spans").split(" ").forEach(function (s) {
        var g = document.getElementById("lease-map-span-" + s);
        if (g) { g.classList.add("route-on"); }
      });
      if (routeNote) { routeNote.textContent = row.getAttribute("data-route"); }
    });
  });
})();
"""
