"""One truth in the journal after a SIGKILL: the report of the killed run shows each phase at the
count the next run resumes it at (the item keys recorded done, not the last progress sample)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpprogress._report import load_run

from .resume_child import CHUNKS
from .test_resume_crash import child, kill_a_crawl_midway, recorded


@pytest.mark.processes
@pytest.mark.parametrize("mode", ["threads", "fork", "spawn", "forkserver"])
def test_the_report_of_a_killed_run_shows_where_the_next_run_resumes(tmp_path: Path, mode: str) -> None:
    journal, logs = tmp_path / "crawl.db", tmp_path / "logs"
    logs.mkdir()
    kill_a_crawl_midway(journal, mode, logs)
    reported = {phase.title: phase.current for phase in load_run(journal, 1).phases}
    keys = recorded(journal, 1)

    second = child(journal, mode, logs)
    assert second.wait(120) == 0
    starts = [line.split()[1:] for path in logs.glob("*.log") for line in path.read_text().splitlines()
              if line.startswith("start ") and not line.endswith(" None")]
    resumed = {f"chunk {chunk}": float(at) for chunk, at in starts}
    assert resumed, "the second run resumed no phase"
    assert reported == resumed  # the report of run 1 and the resume of run 2 agree, phase by phase
    assert {f"chunk {c}": float(sum(k.startswith(f"c{c}-") for k in keys)) for c in range(CHUNKS)
            if f"chunk {c}" in resumed} == resumed
