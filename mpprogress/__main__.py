"""``python -m mpprogress ...``: the same as the ``mpprogress`` command."""

from __future__ import annotations

from ._cli import main

__all__: list[str] = []

if __name__ == "__main__":
    raise SystemExit(main())
