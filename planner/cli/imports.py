"""The ``planner import topology`` command: a real network as scenario files (a layer over :mod:`planner.importers`).

:func:`register` adds the ``import`` group to the main app. Exit codes: 0 the
files are written; 2 the source or the options have errors (all listed: file,
place, field, value, fix), or the output folder holds files (pass ``--force``).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["SourceFormat", "register", "topology"]


class SourceFormat(StrEnum):
    """The source formats of :data:`planner.importers.FORMATS`."""

    graphml = "graphml"
    gml = "gml"
    nodelink = "nodelink"
    sndlib = "sndlib"
    geojson = "geojson"
    gpkg = "gpkg"
    csv = "csv"


def topology(
    source: Annotated[Path, typer.Argument(help="The network file (for csv: the node list).", show_default=False,
                                           metavar="SOURCE")],
    out: Annotated[Path, typer.Option("--out", "-o", file_okay=False, show_default=False, metavar="<dir>",
                                      help="Folder to write topology.yaml (and routes.geojson, scenario.yaml) into.")],
    fmt: Annotated[SourceFormat | None, typer.Option(
        "--format", "-f", case_sensitive=False, show_default=False, metavar="<format>",
        help="Source format. \\[default: from the suffix: .graphml .gml .json (node-link) .txt/.xml (SNDlib) "
             ".geojson .gpkg .csv]")] = None,
    links: Annotated[Path | None, typer.Option("--links", dir_okay=False, show_default=False, metavar="<file>",
                                               help="For csv: the link list (source,target,...).")] = None,
    pop: Annotated[list[str] | None, typer.Option(
        "--pop", show_default=False, metavar="<[id=]node>",
        help="A node that is a PoP, by key, name or id; ID= also names it (repeat). \\[default: every node]")] = None,
    top_pops: Annotated[int, typer.Option("--top-pops", min=0, metavar="<n>",
                                          help="Also make PoPs of the N nodes largest by --pops-by.")] = 0,
    pops_by: Annotated[str, typer.Option("--pops-by", metavar="<attr>",
                                         help="The numeric node attribute for --top-pops (e.g. population).")] = "",
    scenario: Annotated[Path | None, typer.Option(
        "--scenario", dir_okay=False, show_default=False, metavar="<file>",
        help="A base scenario: attach its campuses and write scenario.yaml planning its pods and leases over "
             "the imported network.")] = None,
    sites: Annotated[Path | None, typer.Option(
        "--sites", dir_okay=False, show_default=False, metavar="<file>",
        help="A sites file whose campuses to attach. \\[default: the --scenario's]")] = None,
    attach: Annotated[int, typer.Option("--attach", min=0, metavar="<k>",
                                        help="Access spans from each campus to its K nearest nodes.")] = 2,
    route_factor: Annotated[float, typer.Option(
        "--route-factor", min=1.0, metavar="<factor>",
        help="Fibre length / great circle for spans given as straight lines (US long-haul median ~1.3).")] = 1.3,
    srlg_attr: Annotated[str, typer.Option("--srlg-attr", metavar="<attr>",
                                           help="The link attribute naming its shared-risk group.")] = "srlg",
    srlg_csv: Annotated[Path | None, typer.Option(
        "--srlg-csv", dir_okay=False, show_default=False, metavar="<file>",
        help="Shared-risk groups: a CSV of span,srlg (or a,b,srlg). \\[default: one per span]")] = None,
    fibre_pairs: Annotated[int, typer.Option(
        "--fibre-pairs", min=1, metavar="<int>", help="Fibre pairs where the source has no capacity.")] = 1,
    channels: Annotated[int, typer.Option(
        "--channels", min=1, metavar="<int>", help="Wavelengths per pair where the source has no capacity.")] = 64,
    channel_gbps: Annotated[float, typer.Option(
        "--channel-gbps", min=1.0, metavar="<gbps>", help="Rate per wavelength, Gbps.")] = 400.0,
    force: Annotated[bool, typer.Option("--force", help="Replace the files of an existing --out folder.")] = False,
) -> None:
    """Import a real network -- Topology Zoo, topohub, SNDlib, GIS or CSV -- as editable scenario files.

    Writes topology.yaml (PoPs, junctions, spans with valid ids made from the
    names), routes.geojson when the source draws span lines, demands.csv when it
    has traffic demands and, with --scenario, a scenario.yaml to validate and
    plan. Every assumption (straight-line lengths, unknown conduits) is listed.
    examples/networks/ holds a small network in several of these formats.

    Exits 0 when the files are written, 2 on bad input (a source that cannot be
    read, unknown PoPs, an --out folder that exists without --force).
    """
    from planner.cli.console import EXIT_INPUT_ERROR, count, make_console, print_problems
    from planner.errors import ScenarioError
    from planner.importers import ImportOptions, import_topology
    from planner.importers.tables import read_srlg_table

    err = make_console(stderr=True)
    try:
        opts = ImportOptions(pops=tuple(pop or ()), top_pops=top_pops, pops_by=pops_by, attach_k=attach,
                             route_factor=route_factor, srlg_attr=srlg_attr,
                             srlg_table=read_srlg_table(srlg_csv) if srlg_csv is not None else {},
                             fibre_pairs=fibre_pairs, channels=channels, channel_gbps=channel_gbps)
        run = import_topology(source, out, fmt=fmt.value if fmt is not None else None, links=links, options=opts,
                              scenario=scenario, sites=sites, force=force)
    except ScenarioError as exc:
        print_problems(err, exc.problems)
        raise typer.Exit(EXIT_INPUT_ERROR) from None
    except FileExistsError as exc:
        err.print(f"error: {exc}", style="bold red", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_INPUT_ERROR) from None
    topo = run.topology.topology
    console = make_console()
    console.print(f"read {source}: {count(len(run.source.nodes), 'node')}, {count(len(run.source.links), 'link')}",
                  highlight=False, soft_wrap=True)
    console.print(f"wrote {out}: {count(len(topo['pops']), 'PoP')}, {count(len(topo['junctions']), 'junction')}, "
                  f"{count(len(topo['spans']), 'span')}; " + ", ".join(p.name for p in run.files),
                  highlight=False, soft_wrap=True)
    if run.topology.warnings:
        print_problems(err, run.topology.warnings)
    if scenario is not None:
        console.print(f"next: planner validate {out / 'scenario.yaml'}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``import`` group (``planner import topology``) to a Typer app (the main ``planner`` app)."""
    from planner.cli.console import examples

    group = typer.Typer(name="import", help="Import real networks as scenario files.", no_args_is_help=True,
                        rich_markup_mode="rich")
    group.command(epilog=examples(
        "planner import topology examples/networks/zoo.graphml --out imported/zoo",
        "planner import topology examples/networks/gulf.txt \\",
        "    --format sndlib --out imported/sndlib",
        "planner import topology examples/networks/nodes.csv \\",
        "    --links examples/networks/links.csv --out imported/csv \\",
        "    --top-pops 3 --pops-by population"))(topology)
    app.add_typer(group)
