"""``mpprogress report``: one journaled run as text (Rich), JSON or a self-contained HTML page.

``load_run(path, run_id)`` reads the figures of a run (the latest by default) out of a journal
written by ``JournalSink``; ``render(figures, fmt)`` draws them; ``write_report`` does both for
the command line.  The journal is only read, so a run still being written can be reported.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Final, TextIO

from ..adapters.journal._schema import JournalError
from .figures import RunFigures
from .reader import ReportError, load_run

__all__ = ["FORMATS", "JournalError", "ReportError", "RunFigures", "load_run", "render", "write_report"]

FORMATS: Final = ("text", "json", "html")


def render(figures: RunFigures, fmt: str = "text", *, width: int = 120, color: bool = False) -> str:
    """The report of ``figures`` as text.

    Args:
        figures: what ``load_run`` read.
        fmt: ``"text"``, ``"json"`` or ``"html"``.
        width: columns of the text report.
        color: keep the text report's colours (ANSI codes).
    """
    if fmt == "json":
        return figures.to_json() + "\n"
    if fmt == "html":
        from .html import render_html

        return render_html(figures)
    if fmt != "text":
        raise ValueError(f"unknown report format {fmt!r}: expected one of {', '.join(FORMATS)}")
    from rich.console import Console

    from .text import render_text

    buffer = io.StringIO()
    render_text(figures, Console(file=buffer, width=width, force_terminal=color, no_color=not color,
                                 highlight=False))
    return buffer.getvalue()


def write_report(
    path: str | Path, *, run_id: int | None = None, fmt: str = "text", output: str | Path | None = None,
    stream: TextIO | None = None,
) -> None:
    """Read a run from the journal at ``path`` and write its report.

    Args:
        path: the journal.
        run_id: the run; the latest by default.
        fmt: ``"text"``, ``"json"`` or ``"html"``.
        output: a file to write (replaced); ``stream`` when ``None``.
        stream: where to write without ``output``; standard output by default.  A text report
            there is drawn in colour and to the width of the terminal when it is one.

    Raises:
        JournalError: the file is not a journal, or has no such run (``ReportError``).
    """
    figures = load_run(path, run_id)
    if output is not None:
        Path(output).write_text(render(figures, fmt), encoding="utf-8")
        return
    out = sys.stdout if stream is None else stream
    if fmt == "text":
        from rich.console import Console

        from .text import render_text

        render_text(figures, Console(file=out, highlight=False))
    else:
        out.write(render(figures, fmt))
    out.flush()
