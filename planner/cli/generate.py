"""The ``planner generate`` command: write a seeded benchmark scenario (a thin layer over :mod:`planner.generate`).

:func:`register` adds the command to the main app. Exit codes: 0 success; 2 the
output folder already holds a scenario (pass ``--force``), or the written
scenario does not load (a bug: please report it).
"""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["TierName", "generate", "register"]


class TierName(StrEnum):
    """The benchmark tiers of :data:`planner.generate.TIERS`."""

    small = "small"
    medium = "medium"
    large = "large"
    hyperscale = "hyperscale"


def generate(
    tier: Annotated[TierName, typer.Option("--tier", "-t", case_sensitive=False, metavar="<tier>",
                                           help="small (50 leases, 20 pods, 2 campuses), medium (1,000 x 200, 4), "
                                                "large (5,000 x 500, 6) or hyperscale (10,000 x 2,000, 10).")]
    = TierName.small,
    seed: Annotated[int, typer.Option("--seed", "-s", min=0, metavar="<int>",
                                      help="Random seed: the same tier and seed give the same files.")] = 1,
    out: Annotated[Path | None, typer.Option("--out", "-o", file_okay=False, show_default=False,
                                             help="Folder to write into. \\[default: <tier>-s<seed> in "
                                                  "scenarios/generated]")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite a scenario already in the folder.")] = False,
    validate: Annotated[bool, typer.Option("--validate/--no-validate",
                                           help="Load the written scenario to check it.")] = True,
) -> None:
    """Write a seeded, realistic benchmark scenario: campuses, pods, DCI mesh, reservations and leases.

    The files are ordinary scenario files (edit them, plan them, export them);
    the command prints the scenario file to give to the other commands.

    Exits 0 when the scenario is written, 2 when the folder already holds one
    (pass --force) or the written scenario does not load.
    """
    from planner.cli.console import EXIT_INPUT_ERROR, count, make_console, print_problems
    from planner.errors import ScenarioError
    from planner.generate import generate as generate_files
    from planner.scenario import load_scenario

    console, err = make_console(), make_console(stderr=True)
    folder = out if out is not None else Path("scenarios") / "generated" / f"{tier.value}-s{seed}"
    if (folder / "scenario.yaml").exists() and not force:
        err.print(f"{folder / 'scenario.yaml'} exists; pass --force to overwrite it, or choose another --out.",
                  style="red", highlight=False)
        raise typer.Exit(EXIT_INPUT_ERROR)
    t = time.perf_counter()
    try:
        path = generate_files(tier.value, seed, folder)
    except OSError as exc:  # --out under a file, a full disk, no permission
        err.print(f"could not write {folder} ({exc.strerror or exc}); choose another --out, or free some disk "
                  "space, and run again.", style="red", highlight=False)
        raise typer.Exit(EXIT_INPUT_ERROR) from None
    console.print(f"wrote {path} in {time.perf_counter() - t:.1f} s", highlight=False)
    for line in path.read_text(encoding="utf-8").splitlines()[1:3]:
        console.print(f"  {line.lstrip('# ')}", highlight=False)
    if not validate:
        return
    t = time.perf_counter()
    try:
        sc = load_scenario(path)
    except ScenarioError as exc:
        print_problems(err, exc.problems)
        err.print("The generated scenario does not load: this is a bug in planner.generate.", style="red")
        raise typer.Exit(EXIT_INPUT_ERROR) from None
    console.print(f"loads in {time.perf_counter() - t:.1f} s: {sc!r}; {count(len(sc.warnings), 'warning')} "
                  "(`planner validate` lists them)", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``generate`` to a Typer app (the main ``planner`` app)."""
    from planner.cli.console import examples

    app.command(epilog=examples(
        "planner generate --tier small --seed 1",
        "planner generate --tier hyperscale --seed 3 --out my-scenarios/hyper",
        "planner plan scenarios/generated/small-s1/scenario.yaml"))(generate)
