"""The public API is stated once (``docs/_scripts/public_api.py``) and the API reference of the
docs site (``docs/reference/*.md``) documents exactly it: every exported name, each with a
docstring, and nothing internal.  Every module outside that list looks internal (a leading
underscore)."""

from __future__ import annotations

import importlib.util
import pkgutil
import sys
from pathlib import Path

import mpprogress

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"
_spec = importlib.util.spec_from_file_location("public_api", ROOT / "docs" / "_scripts" / "public_api.py")
assert _spec is not None and _spec.loader is not None
public_api = importlib.util.module_from_spec(_spec)
sys.modules["public_api"] = public_api
_spec.loader.exec_module(public_api)


def test_the_reference_documents_every_public_name_and_nothing_else() -> None:
    assert public_api.problems(REFERENCE) == []


def test_the_exported_names_are_the_stated_ones() -> None:
    names = set(public_api.public_names())
    assert {f"mpprogress.{name}" for name in mpprogress.__all__} - names == {"mpprogress.__version__"}
    assert "mpprogress.rich.Progress" in names
    assert "mpprogress.security.CurveServerKeys" in names
    assert "mpprogress.adapters.console.ConsoleProgressTracker" in names


def test_every_module_not_stated_public_looks_internal() -> None:
    stated = set(public_api.PUBLIC_MODULES)
    modules = {"mpprogress"} | {
        info.name for info in pkgutil.walk_packages(mpprogress.__path__, "mpprogress.")
        if not any(part.startswith("_") for part in info.name.split("."))
    }
    assert modules == stated


def test_a_public_name_left_out_of_the_reference_is_found(tmp_path: Path) -> None:
    page = (REFERENCE / "mpprogress.md").read_text(encoding="utf-8")
    (tmp_path / "mpprogress.md").write_text(page.replace("::: mpprogress.session\n", ""), encoding="utf-8")
    for other in REFERENCE.glob("*.md"):
        if other.name != "mpprogress.md":
            (tmp_path / other.name).write_text(other.read_text(encoding="utf-8"), encoding="utf-8")
    assert public_api.problems(tmp_path) == [
        "mpprogress.session is public but not in the API reference (docs/reference/)"
    ]


def test_an_internal_name_in_the_reference_is_found(tmp_path: Path) -> None:
    (tmp_path / "extra.md").write_text("::: mpprogress._core.throttle.Throttle\n", encoding="utf-8")
    for page in REFERENCE.glob("*.md"):
        (tmp_path / page.name).write_text(page.read_text(encoding="utf-8"), encoding="utf-8")
    assert public_api.problems(tmp_path) == [
        "mpprogress._core.throttle.Throttle: the reference documents a name no public module exports"
    ]
