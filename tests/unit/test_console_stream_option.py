"""Where the display draws: standard error by default, standard output when asked."""

from __future__ import annotations

import sys

import pytest

from mpprogress._config import ConfigError, create_progress_tracker, load_config
from mpprogress.adapters.console import ConsoleConfig, ConsoleProgressTracker, ConsoleSink, terminal_console
from mpprogress.adapters.console._config import STREAMS
from mpprogress.testing import recorded_tracker


def test_the_display_draws_on_stderr_by_default() -> None:
    tracker, _, _ = recorded_tracker()
    with ConsoleSink(tracker) as sink:
        assert sink.console.file is sys.stderr
    with ConsoleProgressTracker() as progress:
        assert progress.console.file is sys.stderr
    assert terminal_console().file is sys.stderr and terminal_console(stderr=False).file is sys.stdout


def test_stream_stdout_draws_on_stdout() -> None:
    with ConsoleProgressTracker(config=ConsoleConfig(stream="stdout")) as progress:
        assert progress.console.file is sys.stdout
    with pytest.raises(ValueError, match="stream must be 'stderr' or 'stdout', got 'tty'"):
        ConsoleConfig(stream="tty")
    assert STREAMS == ("stderr", "stdout")


def test_the_configuration_and_the_environment_choose_the_stream() -> None:
    assert load_config(env={})["console"]["stream"] == "stderr"
    assert load_config({"console": {"stream": "stdout"}}, env={})["console"]["stream"] == "stdout"
    assert load_config(env={"MPPROGRESS_CONSOLE_STREAM": "stdout"})["console"]["stream"] == "stdout"
    with pytest.raises(ConfigError, match=r"progress.console.stream: expected one of stderr, stdout, got 'out'"):
        load_config({"console": {"stream": "out"}}, env={})
    progress = create_progress_tracker({"console": {"stream": "stdout"}}, env={})
    try:
        assert isinstance(progress, ConsoleProgressTracker) and progress.console.file is sys.stdout
    finally:
        progress.close()
    progress = create_progress_tracker(env={})
    try:
        assert isinstance(progress, ConsoleProgressTracker) and progress.console.file is sys.stderr
    finally:
        progress.close()
