"""MkDocs hooks (``mkdocs.yml``): a public name missing from the API reference, or without a
docstring, is a warning, so ``mkdocs build --strict`` fails on it."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from public_api import problems

log = logging.getLogger("mkdocs.hooks.public_api")


def on_pre_build(config: Any) -> None:
    for problem in problems(Path(config["docs_dir"]) / "reference"):
        log.warning(problem)
