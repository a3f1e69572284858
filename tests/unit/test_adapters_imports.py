"""The sinks' imports, read from the source: sinks never import each other (within a family,
a package such as ``adapters/console/``, aside), nothing above them, and each third-party library
only in the modules that adapt it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import mpprogress.adapters

ADAPTERS = Path(mpprogress.adapters.__file__).parent
PACKAGE = "mpprogress.adapters"
CONSOLE_PARTS = {"console._config", "console._live", "console._render"}


def _name(path: Path) -> str:
    """``console`` for ``console/__init__.py``, ``console._plain``, ``logs``; ``""`` for the base."""
    parts = list(path.relative_to(ADAPTERS).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it (functions too), as absolute names."""
    name = _name(path)
    module = f"{PACKAGE}.{name}" if name else PACKAGE
    package = module if path.stem == "__init__" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rsplit(".", 1)[0]
            relative = node.module or ""
            absolute = (f"{base}.{relative}" if relative else base) if node.level else relative
            found.add(absolute)
            # ``from . import _plain`` names a module; ``from .. import TrackerWithSinks`` does not.
            folder = ADAPTERS.joinpath(*absolute[len(PACKAGE):].lstrip(".").split(".")) if absolute.startswith(
                PACKAGE) else None
            found.update(f"{absolute}.{alias.name}" for alias in node.names
                         if folder is not None and ((folder / f"{alias.name}.py").exists()
                                                    or (folder / alias.name / "__init__.py").exists()))
    return found


def modules() -> dict[str, set[str]]:
    return {_name(path): imports_of(path) for path in sorted(ADAPTERS.rglob("*.py")) if _name(path)}


def _sink(imported: str) -> str:
    """``console._plain`` for ``mpprogress.adapters.console._plain``."""
    return imported[len(PACKAGE) + 1:]


def test_the_sinks_are_read() -> None:
    found = modules()
    assert {"console", "console._plain", "journal._writer", "notebook._kernel", "otel._metrics", "logs"} <= set(found)
    assert f"{PACKAGE}.console._render" in found["notebook._render"] | found["notebook"]


def test_sinks_never_import_each_other_except_within_a_family() -> None:
    for name, imported in modules().items():
        siblings = {_sink(m) for m in imported if m.startswith(PACKAGE + ".")}
        family = name.partition(".")[0]
        # The notebook display draws the console's frame: it may use the console's pure parts
        # (options, rendering, the refresh loop), never the console sink itself.
        borrowed = CONSOLE_PARTS if family == "notebook" else set()
        if name == "console":  # ConsoleProgressTracker in a Jupyter kernel shows the notebook display
            borrowed = {"notebook", "notebook._kernel"}
        assert all(s.partition(".")[0] == family or s in borrowed for s in siblings), (name, siblings)


def test_sinks_import_nothing_above_them() -> None:
    above = ("mpprogress._remote", "mpprogress._wiring", "mpprogress._demo", "mpprogress._config",
             "mpprogress._core.current", "mpprogress._cli", "mpprogress._dashboard")
    for name, imported in modules().items():
        assert not [m for m in imported if m.startswith(above)], name


def test_rich_only_in_the_console_modules_that_draw() -> None:
    for name, imported in modules().items():
        third_party = {m.split(".")[0] for m in imported} - set(sys.stdlib_module_names) - {"mpprogress"}
        if name.startswith("console") and name != "console._config":
            assert third_party <= {"rich"}, name
        elif name.partition(".")[0] == "otel":  # the OpenTelemetry sink (the ``otel`` extra)
            assert third_party <= {"opentelemetry"}, name
        elif name.startswith("notebook") and name != "notebook._kernel":
            assert third_party <= {"rich", "IPython"}, name
        else:
            assert not third_party, (name, third_party)


def test_the_console_defaults_are_standard_library_only() -> None:
    imported = modules()["console._config"]
    assert {m.split(".")[0] for m in imported} <= set(sys.stdlib_module_names) | {"__future__"}
