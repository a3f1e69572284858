"""Every Python snippet in the README runs verbatim (in a fresh interpreter, from an empty
directory, with no session inherited)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SNIPPETS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
# Snippets that need an optional extra: (module, extra, what in the snippet shows it).
NEEDS = (
    ("aiohttp", "web", r"dashboard="),
    ("distributed", "dask", r"^from distributed\b|integrations\.dask\b"),
    ("ray", "ray", r"^import ray\b|integrations\.ray\b"),
)


def test_the_readme_has_snippets() -> None:
    assert len(SNIPPETS) >= 3


@pytest.mark.processes
@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_readme_snippet_runs(index: int, tmp_path: Path) -> None:
    for module, extra, marker in NEEDS:
        if re.search(marker, SNIPPETS[index], re.M):
            pytest.importorskip(module, reason=f"the snippet needs mpprogress[{extra}]")
    script = tmp_path / f"snippet_{index}.py"
    script.write_text(SNIPPETS[index], encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"snippet {index}:\n{SNIPPETS[index]}\n--- stderr:\n{result.stderr[-3000:]}"
