"""The console's words: durations, counts, rates and phase outcomes.

Shared by the live frame (``console_render``) and the plain lines (``console_plain``).  Text
from outside is made safe by ``mpprogress._base.text.clean_line``, the sanitiser the wire uses too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from rich.text import Text

from ..._base.formats import format_eta, grouped
from ..._base.outcomes import OUTCOMES, by_word, is_detail, operation_outcome
from ..._base.snapshot import PhaseSnapshot, outcome_of
from ..._base.text import clean_line

__all__ = [
    "STALLED",
    "Verdict",
    "clean_text",
    "deeper_text",
    "fold_text",
    "format_count",
    "format_duration",
    "format_rate",
    "outcome",
    "outcome_label",
    "outcome_mark",
    "outcome_of",
    "outcome_text",
    "verdict",
]

# outcome word -> (mark, style, label shown next to the title): the words and marks are the one
# vocabulary's (``_base/outcomes.py``), the styles the console's.
_STYLES = {"succeeded": "green", "failed": "bold red", "lost": "bold magenta"}
_LABELS = {"succeeded": "", "lost": "lost — worker died"}
_OUTCOMES: dict[str, tuple[str, str, str]] = {
    o.word: (o.symbol, _STYLES.get(o.word, "yellow"), _LABELS.get(o.word, o.word)) for o in OUTCOMES
}


clean_text = clean_line
"""The name this module gave ``mpprogress._base.text.clean_line`` (the one sanitiser) before there was one."""


format_duration = format_eta
"""``H:MM:SS`` below 100 hours, then ``4d 04h``; ``-:--:--`` when unknown (the one format,
``_base/formats.py``, the dashboard's too)."""


_EXACT_BELOW = 10_000_000  # counts of up to seven digits are shown exactly
_UNITS = ((1e3, "k"), (1e6, "M"), (1e9, "G"), (1e12, "T"), (1e15, "P"), (1e18, "E"))


def _compact(value: float, smallest: float) -> str:
    """``12.3M``, ``9.2E``: one decimal and an SI prefix from ``smallest`` up; ``1.8e308`` beyond."""
    for divisor, unit in _UNITS:
        if divisor >= smallest and abs(value) / divisor < 999.95:
            return f"{value / divisor:.1f}{unit}"
    return f"{value:.1e}".replace("e+", "e")


def format_count(value: float) -> str:
    """A count: exact without a pointless ``.0`` up to seven digits (``12``, ``2.5``,
    ``9,999,999``), then compact like rates (``12.3M``, ``9.2E``, ``1.8e308``)."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if abs(value) >= _EXACT_BELOW:
        return _compact(value, 1e6)
    return grouped(value)  # 2,066: thousands separators, as the report and the dashboard write them


def format_rate(rate: float | None) -> str:
    """Items per second, compact: ``12.3/s``, ``4.5k/s``, ``1.2M/s``; empty when unknown."""
    if rate is None or rate != rate:
        return ""
    if rate == float("inf"):
        return "inf/s"
    return f"{rate:.1f}/s" if rate < 999.95 else f"{_compact(rate, 1e3)}/s"


def outcome(phase: PhaseSnapshot) -> str:
    """How a phase stands: ``running``, or the word of its outcome (``succeeded``, ``failed``...)."""
    if not phase.finished:
        return "running"
    return phase.outcome or outcome_of(phase.success, phase.reason, phase.rollup_current, phase.rollup_total)


def outcome_label(name: str, reason: str | None = None) -> str:
    """Words for an outcome (``"lost — worker died"``); a failure's exception after its word
    (``"failed (RuntimeError: boom)"``)."""
    if name in ("failed", "incomplete") and is_detail(reason):
        return f"{name} ({clean_line(reason, 60)})"
    return _OUTCOMES.get(name, _OUTCOMES["failed"])[2]


def outcome_mark(name: str) -> Text:
    """The mark of a finished phase's outcome, styled (``✔`` green, ``✘`` red...)."""
    mark, style, _ = _OUTCOMES.get(name, _OUTCOMES["failed"])
    return Text(mark, style=style)


STALLED = ("?", "magenta", "stalled — no news from its worker")
"""Mark, style and label of a running remote phase whose worker went silent (not final)."""


def outcome_text(phase: PhaseSnapshot) -> Text:
    """The words shown next to a phase's title: its failure, "cancelling…" or "stalled — …";
    empty otherwise."""
    name = outcome(phase)
    if name == "running" and phase.stalled:
        return Text(STALLED[2], style=STALLED[1])
    if name in ("running", "succeeded"):
        return Text("cancelling…", style="yellow") if phase.cancelled and name == "running" else Text()
    return Text(outcome_label(name, phase.reason), style=_OUTCOMES[name][1])


def fold_text(counts: Counter[str], running: int = 0) -> str:
    """``"950 more running, 12 finished, 1 failed"``: what a fold line stands for."""
    parts = [f"{running} more running"] if running else []
    parts += [f"{counts[name]} {name}" for name in _OUTCOMES if counts[name]]
    return ", ".join(parts)


def deeper_text(counts: Counter[str], levels: int, more: str = "") -> str:
    """``"1990 phases nested deeper than 10 levels: 1990 running"``: phases not drawn for depth."""
    running = f"{counts['running']} running" if counts["running"] else ""
    states = ", ".join(part for part in (running, fold_text(counts)) if part)
    return f"{sum(counts.values())} {more}phases nested deeper than {levels} levels: {states}"


@dataclass(frozen=True)
class Verdict:
    """How an operation ended, in the words the summary panel and the plain lines use.

    ``kind`` is the word of its outcome (``outcomes.operation_outcome``); ``detail`` says how its
    phases ended when not all succeeded (``"0 of 3 phases succeeded (1 failed, 2 lost)"``).
    """

    kind: str
    detail: str = ""

    @property
    def heading(self) -> str:
        """The summary panel's title: ``Operation Succeeded``, ``Operation Interrupted``..."""
        return f"Operation {self.verb}"

    @property
    def style(self) -> str:
        """The colour of the verdict's words and of the panel's border."""
        return {"good": "green", "warn": "yellow"}.get(by_word(self.kind).tone, "red")

    def mark(self) -> Text:
        """The outcome's symbol (``✔``, ``◐``, ``✘``, ``⊘``, ``⊗``, ``⚠``), styled."""
        return Text(by_word(self.kind).symbol, style=self.style)

    @property
    def verb(self) -> str:
        """The outcome's word, capitalised: ``Succeeded``, ``Failed``, ``Interrupted``..."""
        return self.kind.capitalize()

    @property
    def suffix(self) -> str:
        """What follows the title: `` — 0 of 3 phases succeeded (1 failed, 2 lost)``, or nothing."""
        return f" — {self.detail}" if self.detail else ""


def verdict(success: bool | None, reason: str | None, phases: Counter[str]) -> Verdict:
    """How an operation ended, from its own outcome and its phases' outcomes.

    Args:
        success: the operation's success.
        reason: why it failed, if it did (``"cancelled"``, ``"interrupted"``...).
        phases: outcome word -> number of its phases that ended so.

    Returns:
        The verdict of ``outcomes.operation_outcome``.
    """
    ended = operation_outcome(success, reason, phases)
    return Verdict(ended.outcome.word, ended.detail)
