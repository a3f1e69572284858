"""A Rich renderable as a notebook output bundle: ``text/plain`` and ``text/html`` together.

The notebook display draws the very frame the console draws (``console_render``), printed on a
recording console that writes nowhere, then exported both ways: a front end that shows HTML
shows the coloured rows, and one that does not (a plain-text viewer, ``nbconvert --to
markdown``, a saved notebook read as JSON) still gets the same rows as text, never a widget's
``HBox(children=...)``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console, Group, RenderableType
from rich.text import Text

__all__ = ["bundle", "recording_console", "text_bundle"]

_HTML = (
    '<pre style="white-space:pre;overflow-x:auto;line-height:1.3;'
    "font-family:Menlo,'DejaVu Sans Mono',consolas,'Courier New',monospace\">"
    "<code>{code}</code></pre>"
)


def recording_console(width: int) -> Console:
    """A console that only records: ``width`` cells wide, colours kept, no terminal behind it."""
    return Console(
        file=io.StringIO(),
        record=True,
        width=width,
        force_terminal=True,
        force_jupyter=False,
        color_system="truecolor",
        legacy_windows=False,
        soft_wrap=False,
    )


def bundle(parts: Sequence[RenderableType], width: int) -> dict[str, str]:
    """``parts`` drawn one under the other, as ``{"text/plain": ..., "text/html": ...}``."""
    console = recording_console(width)
    console.print(Group(*parts))
    text = console.export_text(clear=False).rstrip("\n")
    html = console.export_html(inline_styles=True, code_format=_HTML)
    return {"text/plain": text, "text/html": html}


def text_bundle(lines: Sequence[str], width: int) -> dict[str, str]:
    """Log lines (already cleaned) as a bundle, drawn as plain text (never markup)."""
    return bundle([Text("\n".join(lines))], width)
