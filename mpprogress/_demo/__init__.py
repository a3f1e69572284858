"""``mpprogress demo``: the seed's 4-phase company research pipeline, run across processes.

- ``site``: the local website the pipeline researches (generated from a seed, served on
  127.0.0.1), with the exact numbers a correct run must report;
- ``pipeline``: the four phases, written against the tracker port only;
- ``run``: the orchestration behind the ``demo`` subcommand (site, session, worker processes,
  results, JSON mode).

Nothing is imported here, so ``import mpprogress._demo`` stays cheap.
"""

from __future__ import annotations

__all__: list[str] = []
