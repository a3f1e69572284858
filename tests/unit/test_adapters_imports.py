"""The sinks' imports, read from the source: sinks never import each other (within a family,
``console*`` or ``journal*``, aside), nothing above them, and each third-party library only in
the module that adapts it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import mpprogress.adapters

ADAPTERS = Path(mpprogress.adapters.__file__).parent
PACKAGE = "mpprogress.adapters"
CONSOLE_PARTS = {"console_config", "console_live", "console_render"}


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it (functions too), as absolute names."""
    module = f"{PACKAGE}.{path.stem}" if path.stem != "__init__" else PACKAGE
    package = module if path.stem == "__init__" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rsplit(".", 1)[0]
            name = node.module or ""
            absolute = (f"{base}.{name}" if name else base) if node.level else name
            found.add(absolute)
            # ``from . import console`` names a module; ``from . import TrackerWithSinks`` does not.
            found.update(f"{absolute}.{alias.name}" for alias in node.names if (ADAPTERS / f"{alias.name}.py").exists())
    return found


def modules() -> dict[str, set[str]]:
    return {path.stem: imports_of(path) for path in sorted(ADAPTERS.glob("*.py"))}


def test_sinks_never_import_each_other_except_within_a_family() -> None:
    for name, imported in modules().items():
        siblings = {m.rsplit(".", 1)[1] for m in imported if m.startswith(PACKAGE + ".")}
        family = name.partition("_")[0]
        # The notebook display draws the console's frame: it may use the console's pure parts
        # (options, rendering, the refresh loop), never the console sink itself.
        borrowed = CONSOLE_PARTS if family == "notebook" else set()
        if name == "console":  # ConsoleProgressTracker in a Jupyter kernel shows the notebook display
            borrowed = {"notebook", "notebook_kernel"}
        assert all(s.partition("_")[0] == family or s in borrowed for s in siblings), (name, siblings)


def test_sinks_import_nothing_above_them() -> None:
    above = ("mpprogress.remote", "mpprogress.demo", "mpprogress.config", "mpprogress.current", "mpprogress.cli")
    for name, imported in modules().items():
        assert not [m for m in imported if m.startswith(above)], name


def test_rich_only_in_the_console_modules_that_draw() -> None:
    for name, imported in modules().items():
        third_party = {m.split(".")[0] for m in imported} - set(sys.stdlib_module_names) - {"mpprogress"}
        if name.startswith("console") and name != "console_config":
            assert third_party <= {"rich"}, name
        elif name.partition("_")[0] == "otel":  # the OpenTelemetry sink (the ``otel`` extra)
            assert third_party <= {"opentelemetry"}, name
        elif name.startswith("notebook") and name != "notebook_kernel":
            assert third_party <= {"rich", "IPython"}, name
        else:
            assert not third_party, (name, third_party)


def test_the_console_defaults_are_standard_library_only() -> None:
    imported = modules()["console_config"]
    assert {m.split(".")[0] for m in imported} <= set(sys.stdlib_module_names) | {"__future__"}
