"""The import rule of the ``planner`` package: layers, no cycles, no private names across modules.

A module may import from its own layer or a lower one, never from a higher one.
Layers, low to high (a module belongs to the first row whose prefix matches its
dotted name most closely; ``planner.report`` covers ``planner.report.*``):

=====  ==============  ====================================================================================
layer  name            modules
=====  ==============  ====================================================================================
0      foundations     errors, physics, geo (geodesy on WGS84; validation measures with it), schema, ids, forked,
                       weeks, version
1      inputs          readers, plausibility, corridors (route-geometry checks), validate, scenario, provenance,
                       apis (the model catalogue and API demand as tables)
2      network         network, routing
3      plan model      plan, check, results, usesplit, api_plan -- the Plan data type and its API tables, its
                       independent checker, the results-folder reader and the split of a plan's uses
                       (leases, APIs, internal work).
                       The optimiser produces plans, so the type sits below it; the checker never
                       imports the optimiser, so a plan is checked without trusting it.
4      optimise        planner.optimise.* (instance, families, residual, model, cpsat, budget, incumbent,
                       heuristics, bounds, search, methods, optimiser), plus feasibility, api_feasibility,
                       reasons and api_reasons:
                       the optimiser attaches the reason of every lease it leaves out, and both read
                       the optimiser's instance.
5      outputs         gis, report, run, whatif, importers, generate, surplus, scheduler, quote
6      cli             planner.cli.*, and the package root ``planner`` (it re-exports every layer)
=====  ==============  ====================================================================================

Rules checked here, each failing with the offending ``file:line`` and import:

- every module of ``planner/`` has a layer (a new module gets a row below);
- no import of a higher layer;
- no cycle between modules;
- no private name (``_x``, or a name under a ``_x`` module) imported from another module, nor read off an
  imported module as ``module._x``.

Which imports count: module-level imports and imports inside functions alike (an
import deferred into a function still ties the modules together, it only
postpones the cost); only imports under ``if TYPE_CHECKING:`` are left out of the
cycle check (they never run), though they must still respect the layers.

A few known breaches are listed in :data:`EXCEPTIONS`, each with its reason; an
exception that no longer occurs fails the test, so that the list only shrinks.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "planner"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundations", ("errors", "physics", "geo", "schema", "ids", "weeks", "version", "forked")),
    ("inputs", ("readers", "plausibility", "corridors", "validate", "scenario", "provenance", "apis")),
    ("network", ("network", "routing")),
    ("plan model", ("plan", "check", "results", "usesplit", "api_plan")),
    ("optimise", ("optimise", "feasibility", "reasons", "api_feasibility", "api_reasons")),
    ("outputs", ("gis", "report", "run", "whatif", "importers", "generate", "surplus", "scheduler", "quote")),
    ("cli", ("cli", "")),  # "": the package root, planner/__init__.py
]
"""(layer name, module prefixes under ``planner.``), lowest layer first: the table of the module docstring."""

EXCEPTIONS: dict[tuple[str, str], str] = {
    ("planner.plan", "planner.results"):
        "Plan.read() defers to read_results (a function-level import): a cycle inside the plan-model layer, "
        "gone once Plan owns its JSON round trip",
}
"""Known breaches, (importer, imported module or name) -> why it is tolerated for now."""


@dataclass(frozen=True)
class Import:
    """One import of a planner module (or of a name in one) by another."""

    importer: str
    target: str  # the module imported from
    name: str  # the full dotted name imported (the module itself, or module.name)
    file: str
    line: int
    type_checking: bool

    def where(self) -> str:
        return f"planner/{self.file}:{self.line}"


def _modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module of the package in ``root`` (``planner`` for its ``__init__``)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = ["planner", *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str:
    """The module a dotted name lives in (``planner.lp._quiet_stdout`` -> ``planner.lp``)."""
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    """Ids of the nodes under ``if TYPE_CHECKING:``."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            for child in node.body:
                inside.update(id(n) for n in ast.walk(child))
    return inside


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module name of a (possibly relative) ``from ... import``."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(modules: dict[str, Path], root: Path) -> tuple[list[Import], list[tuple[str, str]]]:
    """Every import of a planner module by another, and every ``module._name`` read off an imported module."""
    found: list[Import] = []
    private_reads: list[tuple[str, str]] = []  # (file:line, dotted name)
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        tc = _type_checking_nodes(tree)
        file = path.relative_to(root).as_posix()
        bound: dict[str, str] = {}  # local name -> planner module it is bound to
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.split(".")[0] == "planner"]
                for a in node.names:
                    if a.asname and a.name in modules:
                        bound[a.asname] = a.name
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(node, module, path.name == "__init__.py")
                if source.split(".")[0] != "planner":
                    continue
                names = [f"{source}.{a.name}" for a in node.names]
                for a in node.names:
                    if f"{source}.{a.name}" in modules:
                        bound[a.asname or a.name] = f"{source}.{a.name}"
            for name in names:
                target = _resolve(name, modules)
                if target != module:
                    found.append(Import(module, target, name, file, node.lineno, id(node) in tc))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
                    and _private(node.attr)):
                private_reads.append((f"planner/{file}:{node.lineno}", f"{bound[node.value.id]}.{node.attr}"))
    return found, private_reads


def _private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


def _layer(module: str) -> int | None:
    """The index of ``module``'s layer in :data:`LAYERS` (by its longest matching prefix), or None."""
    rest = module.removeprefix("planner").removeprefix(".")
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = rest == prefix or (prefix and rest.startswith(prefix + "."))
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), i)
    return None if best is None else best[1]


def _private_breach(imp: Import) -> bool:
    """Whether ``imp`` takes a private name from outside the module or package that holds it.

    ``_x`` in module ``m`` is private to ``m``; a module ``_m`` of package ``p`` is private to ``p``
    (its modules may import it), as Python's convention has it.
    """
    parts = imp.name.split(".")
    for i, part in enumerate(parts):
        owner = ".".join(parts[:i])
        if _private(part) and imp.importer != owner and not imp.importer.startswith(owner + "."):
            return True
    return False


MODULES = _modules(PACKAGE)
IMPORTS, PRIVATE_READS = _imports(MODULES, PACKAGE)


def test_every_module_has_a_layer() -> None:
    missing = sorted(m for m in MODULES if _layer(m) is None)
    assert not missing, (f"modules with no layer: {', '.join(missing)}; add each to LAYERS in tests/test_layers.py "
                         "(and the table above it)")


def test_no_module_imports_a_higher_layer() -> None:
    bad = []
    for imp in IMPORTS:
        low, high = _layer(imp.importer), _layer(imp.target)
        if low is None or high is None or high <= low or (imp.importer, imp.target) in EXCEPTIONS:
            continue
        bad.append(f"{imp.where()}: {imp.importer} ({LAYERS[low][0]}) imports {imp.name} ({LAYERS[high][0]})")
    assert not bad, "imports of a higher layer:\n" + "\n".join(bad)


def test_no_import_cycles() -> None:
    graph = nx.DiGraph()
    for imp in IMPORTS:
        if imp.type_checking or (imp.importer, imp.target) in EXCEPTIONS:
            continue
        graph.add_edge(imp.importer, imp.target, where=imp.where())
    cycles = list(nx.simple_cycles(graph))
    lines = []
    for cycle in cycles:
        hops = [f"{graph.edges[a, b]['where']}: {a} -> {b}" for a, b in zip(cycle, [*cycle[1:], cycle[0]],
                                                                                strict=True)]
        lines.append(" | ".join(hops))
    assert not cycles, "import cycles:\n" + "\n".join(lines)


def test_no_private_names_across_modules() -> None:
    bad = [f"{imp.where()}: {imp.importer} imports the private {imp.name}" for imp in IMPORTS
           if _private_breach(imp) and (imp.importer, imp.name) not in EXCEPTIONS]
    bad += [f"{where}: reads the private {name}" for where, name in PRIVATE_READS]
    assert not bad, "private names used across modules (make them public in a proper home):\n" + "\n".join(bad)


def test_every_exception_still_occurs() -> None:
    seen = {(imp.importer, imp.target) for imp in IMPORTS} | {(imp.importer, imp.name) for imp in IMPORTS}
    stale = [f"{a} -> {b}" for a, b in EXCEPTIONS if (a, b) not in seen]
    assert not stale, "exceptions that no longer occur (delete them from EXCEPTIONS):\n" + "\n".join(stale)


@pytest.mark.parametrize(("module", "layer"), [
    ("planner.errors", "foundations"), ("planner.scenario", "inputs"), ("planner.routing", "network"),
    ("planner.plan", "plan model"), ("planner.optimise.budget", "optimise"),
    ("planner.optimise.methods.pods", "optimise"),
    ("planner.report.sections", "outputs"), ("planner.surplus", "outputs"), ("planner.cli.commands", "cli"),
    ("planner", "cli"),
])
def test_layer_table(module: str, layer: str) -> None:
    """Modules land in their layer by prefix, the optimiser's coming package included."""
    found = _layer(module)
    assert found is not None and LAYERS[found][0] == layer


def test_the_rule_names_the_offending_import(tmp_path: Path) -> None:
    """A higher-layer import, a cycle and a private name in a toy package are each reported with file:line."""
    pkg = tmp_path / "planner"
    (pkg / "cli").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("from planner.cli import app\n")
    (pkg / "cli" / "__init__.py").write_text("from planner.scenario import _hidden\napp = 1\n")
    (pkg / "scenario.py").write_text("import planner.errors\n_hidden = 1\n")
    imports, _ = _imports(_modules(pkg), pkg)
    up = [i for i in imports if (_layer(i.target) or 0) > (_layer(i.importer) or 0)]
    assert [(i.where(), i.name) for i in up] == [("planner/errors.py:1", "planner.cli.app")]
    private = [i for i in imports if _private_breach(i)]
    assert [(i.where(), i.name) for i in private] == [("planner/cli/__init__.py:1", "planner.scenario._hidden")]
    graph = nx.DiGraph([(i.importer, i.target) for i in imports])
    assert sorted(map(sorted, nx.simple_cycles(graph))) == [["planner.cli", "planner.errors", "planner.scenario"]]
