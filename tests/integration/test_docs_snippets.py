"""Every Python snippet of the documentation site (``docs/**/*.md``) runs verbatim, in a fresh
interpreter, from an empty directory, with no session inherited (as the README's do:
``test_readme.py``).  Snippets that need an optional extra are skipped without it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SNIPPETS = [
    (f"{page.relative_to(DOCS)}#{number}", code)
    for page in sorted(DOCS.rglob("*.md"))
    for number, code in enumerate(re.findall(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"), re.S | re.M))
]
# Snippets that need an optional extra: (module, extra, what in the snippet shows it).
NEEDS = (
    ("aiohttp", "web", r"dashboard="),
    ("distributed", "dask", r"^from distributed\b|integrations\.dask\b"),
    ("ray", "ray", r"^import ray\b|integrations\.ray\b"),
    ("opentelemetry.sdk", "otel", r"^from opentelemetry\b|OpenTelemetrySink"),
    ("yaml", "yaml", r"^import yaml\b|\.ya?ml\b"),
)


def test_the_docs_have_snippets() -> None:
    assert len(SNIPPETS) >= 20
    assert len({name.split("#")[0] for name, _ in SNIPPETS}) >= 10


@pytest.mark.processes
@pytest.mark.parametrize(("name", "code"), SNIPPETS, ids=[name for name, _ in SNIPPETS])
def test_docs_snippet_runs(name: str, code: str, tmp_path: Path) -> None:
    for module, extra, marker in NEEDS:
        if re.search(marker, code, re.M):
            pytest.importorskip(module, reason=f"the snippet needs mpprogress[{extra}]")
    script = tmp_path / "snippet.py"
    script.write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{name}:\n{code}\n--- stderr:\n{result.stderr[-3000:]}"
