"""The public API, stated once: the modules semantic versioning covers, and a check that the
API reference (``docs/reference/*.md``) documents every name they export.

Used by the docs build (``docs/_scripts/hooks.py``: a gap is a warning, so ``mkdocs build
--strict`` fails) and by ``tests/unit/test_public_api.py``.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any

# The public modules, each by the names in its ``__all__``.  Everything else under
# ``mpprogress`` (every module or package whose name begins with an underscore) is internal.
PUBLIC_MODULES = (
    "mpprogress",
    "mpprogress.rich",
    "mpprogress.testing",
    "mpprogress.security",
    "mpprogress.integrations",
    "mpprogress.integrations.dask",
    "mpprogress.integrations.ray",
    "mpprogress.integrations.carry",
    "mpprogress.adapters",
    "mpprogress.adapters.console",
    "mpprogress.adapters.journal",
    "mpprogress.adapters.notebook",
    "mpprogress.adapters.otel",
    "mpprogress.adapters.logs",
    "mpprogress.adapters.jsonlines",
    "mpprogress.adapters.web",
)
# Names exported but not documented as API entries (the version is stated on the home page).
NOT_ENTRIES = frozenset({"mpprogress.__version__"})

_DIRECTIVE = re.compile(r"^::: *([\w.]+)\s*$((?:\n {4}.*)*)", re.M)
_MEMBERS = re.compile(r"members: *\[([^\]]*)\]")


def _missing_library(error: ModuleNotFoundError) -> bool:
    """Whether an import failed for want of an optional library (an extra's), not of our own."""
    return bool(error.name) and str(error.name).split(".")[0] != "mpprogress"


def public_names() -> list[str]:
    """Every public name, as ``module.name``, in the order the modules list them (a module whose
    optional library is not installed is left out: its names cannot be imported here)."""
    names = []
    for module in PUBLIC_MODULES:
        try:
            exported = importlib.import_module(module).__all__
        except ModuleNotFoundError as error:
            if _missing_library(error):
                continue
            raise
        names.extend(f"{module}.{name}" for name in exported if f"{module}.{name}" not in NOT_ENTRIES)
    return names


def documented_paths(reference: Path) -> set[str]:
    """The dotted paths the reference pages render (``::: path`` and its ``members: [...]``)."""
    paths: set[str] = set()
    for page in sorted(reference.glob("*.md")):
        for path, options in _DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            paths.add(path)
            for members in _MEMBERS.findall(options):
                paths.update(f"{path}.{m.strip()}" for m in members.split(",") if m.strip())
    return paths


def resolve(path: str) -> Any:
    """The object a dotted path names (a module, or an attribute of one)."""
    module, _, name = path.rpartition(".")
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as error:
        if error.name != path:  # the module exists but needs something missing
            raise
        return getattr(importlib.import_module(module), name)


def try_resolve(path: str) -> tuple[bool, Any]:
    """``(True, object)``, or ``(False, None)`` when the path needs an optional library not installed."""
    try:
        return True, resolve(path)
    except ModuleNotFoundError as error:
        if _missing_library(error):
            return False, None
        raise


def _documented_by_identity(obj: Any) -> bool:
    return inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj)


def undocumented_members(cls: Any) -> list[str]:
    """The public methods and properties a class defines without a docstring (its own or one it
    inherits): the reference renders them, so each must say what it does."""
    if not inspect.isclass(cls):
        return []
    missing = []
    for member, value in vars(cls).items():
        if member.startswith("_"):
            continue
        function = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
        if inspect.isfunction(function) and not inspect.getdoc(getattr(cls, member, None)):
            missing.append(member)
    return missing


def stray_entries(reference: Path) -> list[str]:
    """Reference entries that document nothing public (an internal object, or a stale path)."""
    names = public_names()
    public = {id(obj) for here, obj in map(try_resolve, names) if here}
    found = []
    for path in sorted(documented_paths(reference)):
        try:
            here, obj = try_resolve(path)
        except (ImportError, AttributeError):
            found.append(f"{path}: the reference names something that does not exist")
            continue
        if not here:
            continue
        if not inspect.ismodule(obj) and id(obj) not in public and path not in names:
            found.append(f"{path}: the reference documents a name no public module exports")
    return found


def problems(reference: Path) -> list[str]:
    """What is wrong with the reference: public names it leaves out, entries without a docstring.

    A class or function counts as documented when the reference renders the same object under
    any path (``mpprogress.ConsoleSink`` is ``mpprogress.adapters.console.ConsoleSink``); any
    other value (a constant, a type alias) only under its own path.
    """
    paths = documented_paths(reference)
    objects = {id(obj) for here, obj in map(try_resolve, paths) if here}
    found = []
    for name in public_names():
        here, obj = try_resolve(name)
        if not here:
            continue
        if name in paths or (_documented_by_identity(obj) and id(obj) in objects):
            if _documented_by_identity(obj) and not inspect.getdoc(obj):
                found.append(f"{name} has no docstring")
            found.extend(f"{name}.{member} has no docstring" for member in undocumented_members(obj))
        else:
            found.append(f"{name} is public but not in the API reference (docs/reference/)")
    return found + stray_entries(reference)
