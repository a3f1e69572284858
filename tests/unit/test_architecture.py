"""The house's shape, read from the code: imports point one way, modules and classes stay small.

The layers (ARCHITECTURE.md), bottom up, each a folder so that a file's path tells its layer:

1. ``_base/`` (the port, events, snapshots, errors, metrics, the sanitiser, fork safety, resume
   keys): the standard library only (and each other);
2. ``_core/``, the local tracker core: never imports ``adapters``, ``_remote``, ``_wiring``,
   ``_demo``;
3. ``adapters/`` (sinks; a family of modules is a package: ``adapters/console/``) and
   ``_remote/``: never import each other, ``_wiring`` or ``_demo``; sinks do not import each
   other, except within a family and the package's base;
4. ``_wiring/``: the one package that imports both sides;
5. the top: ``_cli``, ``_config``, ``_demo/``, ``_frontends/`` (tqdm/Rich-style front ends),
   ``_report/`` (reads journals), ``integrations/`` (Dask, Ray: each engine's one home), and the
   public modules at the root (the package's ``__init__``, ``rich``, ``testing``).

Beside them, ``_dashboard/`` (the live web page, an output started by ``_wiring`` alone) uses the
core, the sinks' ``EventStream`` and journal schema, and the report's timeline drawing; it never
imports ``_wiring``, ``_remote``, the demo or the command line.

Every import counts, including those inside functions and under ``TYPE_CHECKING``: a circle
that only type checkers see still ties two modules together.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mpprogress"

# The modules at the package root: the public surface and the command line; every other module
# lives in the folder of its layer.
ROOT_MODULES = {"__init__", "__main__", "_cli", "_config", "rich", "security", "testing"}
THIRD_PARTY_HOME = {
    "rich": ("adapters.console", "adapters.notebook", "_report"),  # the console and notebook families, the report
    "IPython": ("adapters.notebook",),
    "zmq": ("_remote.",),
    "msgpack": ("_remote.wire",),
    "opentelemetry": ("adapters.otel",),
    "aiohttp": ("_dashboard.server",),
    "dask": ("integrations.dask",),
    "distributed": ("integrations.dask",),
    "ray": ("integrations.ray",),
}
# The console's pure parts the notebook display borrows: options, rendering, the refresh loop.
CONSOLE_PARTS = {"adapters.console._config", "adapters.console._live", "adapters.console._render"}
MAX_MODULE_LINES = 400
MAX_REMOTE_CLASS_METHODS = 15


def _modules() -> dict[str, Path]:
    """Dotted names relative to the package (``_remote.wire``, ``adapters``) -> file."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """The package modules an ``from ... import ...`` names (relative or ``mpprogress.``)."""
    if node.level == 0:
        if not (node.module or "").startswith("mpprogress"):
            return []
        base = (node.module or "")[len("mpprogress") :].lstrip(".")
    else:
        here = module.split(".") if module != "__init__" else []
        is_package = MODULES[module].name == "__init__.py"
        anchor = here if is_package else here[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)] if node.level > 1 else anchor
        base = ".".join([*anchor, *([node.module] if node.module else [])])
    targets = []
    for alias in node.names:
        candidate = f"{base}.{alias.name}" if base else alias.name
        targets.append(candidate if candidate in MODULES else (base or "__init__"))
    return targets


def _imports(module: str) -> Iterator[tuple[str, int]]:
    """(imported name, line) for every import in ``module``: package modules as dotted names
    relative to the package, others as their top-level name prefixed with ``ext:`` (those
    under ``TYPE_CHECKING`` left out: they are never imported at run time)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("mpprogress"):
                    yield alias.name[len("mpprogress") :].lstrip(".") or "__init__", node.lineno
                elif id(node) not in typing_only:
                    yield "ext:" + alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom):
            targets = _resolve(module, node)
            if targets:
                for target in targets:
                    yield target, node.lineno
            elif node.level == 0 and node.module and id(node) not in typing_only:
                yield "ext:" + node.module.split(".")[0], node.lineno


GRAPH = {module: {target for target, _ in _imports(module) if not target.startswith("ext:")} - {module}
         for module in MODULES}


def _layer(module: str) -> str:
    """A module's layer, read from its path alone."""
    head = module.split(".")[0]
    if head == "_base":
        return "bottom"
    if head == "_core":
        return "core"
    if module in ROOT_MODULES or head in ("_demo", "_frontends", "_report", "integrations"):
        return "top"
    return {"adapters": "adapters", "_remote": "remote", "_wiring": "wiring", "_dashboard": "dashboard"}[head]


def _violations() -> list[str]:
    found = []
    for module in MODULES:
        layer = _layer(module)
        for target, line in _imports(module):
            where = f"mpprogress/{MODULES[module].relative_to(PACKAGE)}:{line} imports {target}"
            if target.startswith("ext:"):
                name = target[4:]
                homes = THIRD_PARTY_HOME.get(name)
                if layer == "bottom" and name not in sys.stdlib_module_names:
                    found.append(f"{where}: the bottom layer uses the standard library only")
                elif homes and not any(module.startswith(home) for home in homes):
                    found.append(f"{where}: {name} belongs to {', '.join(homes)} alone")
                continue
            target_layer = _layer(target)
            if layer == "bottom" and target_layer != "bottom":
                found.append(f"{where}: the bottom layer imports only itself")
            elif layer == "core" and target_layer not in ("bottom", "core"):
                found.append(f"{where}: the core never imports {target_layer}")
            elif layer in ("adapters", "remote") and target_layer not in ("bottom", "core", layer):
                found.append(f"{where}: {layer} never imports {target_layer}")
            elif layer == "dashboard" and not (target_layer in ("bottom", "core", "adapters", "dashboard")
                                               or target.split(".")[0] == "_report"):
                found.append(f"{where}: the dashboard never imports {target_layer}")
            elif target_layer == "dashboard" and layer not in ("dashboard", "wiring"):
                found.append(f"{where}: only the wiring starts the dashboard")
            elif layer == "adapters" and target_layer == "adapters" and not _sinks_may_share(module, target):
                found.append(f"{where}: sinks never import each other (within a family aside)")
            elif target.split(".")[0] == "_demo" and module != "_cli" and layer != "top":
                found.append(f"{where}: production code never imports the demo")
    return found


def _sinks_may_share(module: str, target: str) -> bool:
    """A sink's own modules share: ``adapters.console._render`` is of the ``console`` family."""

    def family(name: str) -> str:
        return name.split(".")[1] if name.count(".") else name

    if family(module) == "notebook" and target in CONSOLE_PARTS:
        return True  # the notebook display draws the console's frame (never the console sink)
    if module == "adapters.console" and family(target) == "notebook":
        return True  # ConsoleProgressTracker in a Jupyter kernel shows the notebook display
    return target == "adapters" or family(module) == family(target)


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan).

    The package's ``__init__`` is left out: it is the public surface and imports from all
    layers, while a module importing ``mpprogress`` itself would be caught as a layer break.
    """
    graph = {m: targets - {"__init__"} for m, targets in graph.items() if m != "__init__"}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_graph_is_read() -> None:
    # A reader that saw nothing would pass every rule below.
    assert {"_wiring", "_core.tracker", "_remote.aggregator", "adapters.console", "_base.events"} <= set(MODULES)
    assert "_remote.aggregator" in GRAPH["_wiring.processes"]
    assert "_core.tracker" in GRAPH["_wiring.local"]


def test_every_module_lives_in_the_folder_of_its_layer() -> None:
    # A new module at the root would have no layer: the root holds the public surface only.
    at_root = {module for module in MODULES if "." not in module and MODULES[module].name != "__init__.py"}
    assert at_root | {"__init__"} == ROOT_MODULES
    assert {_layer(module) for module in MODULES} == {
        "bottom", "core", "adapters", "remote", "wiring", "dashboard", "top"}


def test_no_import_circles() -> None:
    assert _circles(GRAPH) == []


def test_imports_point_down_the_layers() -> None:
    assert _violations() == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module: str) -> None:
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"mpprogress/{MODULES[module].relative_to(PACKAGE)} has {lines} lines"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("_remote")))
def test_remote_classes_have_one_job(module: str) -> None:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            assert len(methods) <= MAX_REMOTE_CLASS_METHODS, f"{module}.{node.name} has {len(methods)} methods"


def test_a_broken_rule_is_seen() -> None:
    # The checker itself: a core module importing the wiring is a layer break and a circle.
    node = ast.parse("from .._wiring.local import get_tracker").body[0]
    assert isinstance(node, ast.ImportFrom)
    assert _resolve("_core.tracker", node) == ["_wiring.local"]
    assert _layer("_wiring.local") == "wiring" and _layer("_core.tracker") == "core"
    broken = {**GRAPH, "_core.tracker": GRAPH["_core.tracker"] | {"_wiring.local"}}
    assert any({"_core.tracker", "_wiring.local"} <= set(group) for group in _circles(broken))



def test_the_dashboard_sits_beside_the_sinks_started_by_the_wiring_alone() -> None:
    assert _layer("_dashboard.server") == "dashboard"
    assert "_dashboard.server" in GRAPH["_wiring.dashboard"]
    users = {module for module, targets in GRAPH.items() if any(t.startswith("_dashboard") for t in targets)}
    assert {module.split(".")[0] for module in users} == {"_wiring", "_dashboard"}
