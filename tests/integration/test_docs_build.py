"""The docs site builds with warnings as errors (``mkdocs build --strict``, as ``.ci/docs``
runs it), and a broken link fails that build.  Skipped without the ``docs`` extra."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs", reason="the docs build needs mpprogress[docs]")
pytest.importorskip("material", reason="the docs build needs mpprogress[docs]")
pytest.importorskip("mkdocstrings", reason="the docs build needs mpprogress[docs]")

pytestmark = pytest.mark.processes

ROOT = Path(__file__).resolve().parents[2]


def build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(project / "mkdocs.yml"),
         "--site-dir", str(site)],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )


def copy_of_the_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("mkdocs.yml", "ARCHITECTURE.md", "CHANGELOG.md"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "docs", project / "docs")
    (project / "mpprogress").symlink_to(ROOT / "mpprogress")
    return project


def test_the_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    result = build(ROOT, tmp_path / "site")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "WARNING" not in result.stderr, result.stderr[-3000:]
    reference = (tmp_path / "site" / "reference" / "mpprogress" / "index.html").read_text(encoding="utf-8")
    # The reference is drawn from the docstrings: a sentence of session()'s docstring is there.
    assert "Collect the progress of this process and of every child process" in reference


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    project = copy_of_the_project(tmp_path)
    page = project / "docs" / "getting-started.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nSee [the missing page](guides/nowhere.md).\n",
                    encoding="utf-8")
    result = build(project, tmp_path / "site")
    assert result.returncode != 0
    assert "guides/nowhere.md" in result.stderr
