"""What the console display shows and how often: ``ConsoleConfig``, the one home of its defaults.

Standard library only, so the configuration factory can read the defaults and bounds without
importing Rich.  ``ConsoleProgressTracker``'s keyword arguments and the ``progress.console``
section of the configuration schema take their defaults from here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Final

__all__ = ["CONSOLE_LOWER_BOUNDS", "STREAMS", "ConsoleConfig"]

STREAMS: Final = ("stderr", "stdout")
"""Where the console display may draw (``ConsoleConfig.stream``)."""

CONSOLE_LOWER_BOUNDS: Final[dict[str, tuple[float, bool]]] = {
    "bar_width": (1, True),
    "refresh_rate": (0, False),
    "max_rows": (3, True),
    "plain_interval": (0, True),
    "summary_max_phases": (0, True),
}
"""Option -> (lowest value, whether that value itself is allowed); ``None`` is always allowed
where the option may be ``None``."""


@dataclass(frozen=True)
class ConsoleConfig:
    """How the console sink draws (the seed's ``progress.console`` options, plus a few more).

    Args:
        show_spinner: animate a spinner on running rows.
        show_percentage: show a percentage column.
        show_time_remaining: show the estimated time remaining.
        show_rate: show items per second.
        bar_width: width of the progress bars, in cells.
        refresh_rate: live redraws per second.
        show_summary: print a summary panel ("Operation Succeeded"...) when an operation finishes.
        transient: erase what the live display drew once it is done, as ``rich.progress``'s
            option of that name.  ``False`` (the default) leaves it: an operation finishing
            without a summary panel leaves its last rows on the screen (as
            ``rich.progress.track`` leaves its bar), and closing the display with work still
            running leaves its last frame.
        max_rows: most rows the live display may use; ``None`` fits the terminal height.
        plain_interval: seconds between progress lines of a running phase when the output is
            not a terminal (CI logs, pipes).
        summary_max_phases: phases listed in a summary before the rest are folded.
        stream: where a console made by the sink draws: ``"stderr"`` (the default, as tqdm:
            a program's standard output carries only what it prints) or ``"stdout"``.  A
            console given to the sink draws where it was made to.

    Raises:
        ValueError: an option is below its bound (``CONSOLE_LOWER_BOUNDS``).
    """

    show_spinner: bool = True
    show_percentage: bool = True
    show_time_remaining: bool = True
    show_rate: bool = True
    bar_width: int = 40
    refresh_rate: float = 10.0
    show_summary: bool = True
    transient: bool = False
    max_rows: int | None = None
    plain_interval: float = 10.0
    summary_max_phases: int = 20
    stream: str = "stderr"

    def __post_init__(self) -> None:
        if self.stream not in STREAMS:
            raise ValueError(f"stream must be 'stderr' or 'stdout', got {self.stream!r}")
        for option in fields(self):
            if option.name not in CONSOLE_LOWER_BOUNDS:
                continue
            value = getattr(self, option.name)
            lowest, inclusive = CONSOLE_LOWER_BOUNDS[option.name]
            if value is None or (value >= lowest if inclusive else value > lowest):
                continue
            bound = f"{'>=' if inclusive else '>'} {lowest}" + (" or None" if option.default is None else "")
            raise ValueError(f"{option.name} must be {bound}, got {value!r}")
