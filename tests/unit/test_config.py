"""create_progress_tracker: the seed's progress schema from dicts, files and the environment."""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from mpprogress import BaseProgressTracker, NoOpProgressTracker
from mpprogress._config import ConfigError, create_progress_tracker, load_config
from mpprogress.adapters.console import ConsoleProgressTracker, ConsoleSink
from mpprogress.adapters.logs import LoggingProgressTracker, LoggingSink
from mpprogress.adapters.web import WebSocketProgressTracker, WebSocketSink

SEED_YAML = """\
progress:
  console:
    enabled: true
    show_spinner: true
    show_percentage: true
    show_time_remaining: true
    bar_width: 50
    refresh_rate: 10  # updates per second

  websocket:
    enabled: false
    endpoint: "ws://localhost:8000/progress"

  logging:
    enabled: true
    level: "INFO"
    include_performance_metrics: true

  performance:
    track_items_per_second: true
    track_memory_usage: false
    estimate_completion_time: true
"""

NO_ENV: dict[str, str] = {}


def quiet_console() -> Console:
    return Console(file=io.StringIO(), force_terminal=False)


def test_defaults_give_a_console_tracker() -> None:
    settings = load_config(env=NO_ENV)
    assert settings["console"]["enabled"] is True and settings["logging"]["enabled"] is False
    with create_progress_tracker(env=NO_ENV, console=quiet_console()) as tracker:
        assert isinstance(tracker, ConsoleProgressTracker)
        assert [type(s) for s in tracker.sinks] == [ConsoleSink]


def test_seed_yaml_gives_one_tracker_with_console_and_logging(tmp_path: Path) -> None:
    path = tmp_path / "progress.yaml"
    path.write_text(SEED_YAML)
    with create_progress_tracker(path, env=NO_ENV, console=quiet_console()) as tracker:
        assert isinstance(tracker, ConsoleProgressTracker)
        assert [type(s) for s in tracker.sinks] == [ConsoleSink, LoggingSink]
        assert tracker.sink.config.bar_width == 50
        assert tracker.sink.config.refresh_rate == 10.0
        logging_sink = tracker.sinks[1]
        assert isinstance(logging_sink, LoggingSink) and logging_sink.level == logging.INFO
    assert tracker.sinks == ()
    assert tracker.callbacks == ()


def test_toml_and_json_files(tmp_path: Path) -> None:
    toml = tmp_path / "progress.toml"
    toml.write_text('[progress.console]\nenabled = false\n[progress.logging]\nenabled = true\nlevel = "DEBUG"\n')
    with create_progress_tracker(str(toml), env=NO_ENV) as tracker:
        assert isinstance(tracker, LoggingProgressTracker)
        assert tracker.sink.level == logging.DEBUG
    json_file = tmp_path / "progress.json"
    json_file.write_text('{"console": {"enabled": false}}')
    assert isinstance(create_progress_tracker(json_file, env=NO_ENV), NoOpProgressTracker)


def test_everything_off_is_silent() -> None:
    tracker = create_progress_tracker({"progress": {"console": {"enabled": False}}}, env=NO_ENV)
    assert isinstance(tracker, NoOpProgressTracker)


def test_environment_overrides() -> None:
    env = {
        "MPPROGRESS_CONSOLE_ENABLED": "0",
        "MPPROGRESS_LOGGING_ENABLED": "yes",
        "MPPROGRESS_LOGGING_MIN_INTERVAL": "2.5",
        "MPPROGRESS_PERFORMANCE_UPDATE_BURST": "3",
        "MPPROGRESS_RELAY_ADDRESS": "ipc:///tmp/x",  # another part's variable: left alone
    }
    settings = load_config({"console": {"enabled": True}}, env=env)
    assert settings["console"]["enabled"] is False
    assert settings["logging"]["min_interval"] == 2.5
    assert settings["performance"]["update_burst"] == 3
    with create_progress_tracker(env=env) as tracker:
        assert isinstance(tracker, LoggingProgressTracker)


def test_environment_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPPROGRESS_CONSOLE_ENABLED", "false")
    assert isinstance(create_progress_tracker(), NoOpProgressTracker)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"progress": {"console": {"bar_widht": 10}}},
            "progress.console.bar_widht: unknown key; did you mean 'bar_width'?",
        ),
        ({"progress": {"consle": {}}}, "progress.consle: unknown key; did you mean 'console'?"),
        ({"console": {"bar_width": "wide"}}, "progress.console.bar_width: expected an integer, got 'wide' (str)"),
        ({"console": {"enabled": 1}}, "progress.console.enabled: expected true or false, got 1 (int)"),
        ({"console": {"refresh_rate": True}}, "progress.console.refresh_rate: expected a number"),
        ({"logging": {"level": "LOUD"}}, "progress.logging.level: expected a logging level"),
        ({"console": []}, "progress.console: expected a mapping, got list"),
        ({"progress": 3}, "progress: expected a mapping, got int"),
        ({"console": {"bar_width": 0}}, "progress.console.bar_width: must be >= 1, got 0"),
        ({"console": {"refresh_rate": 0}}, "progress.console.refresh_rate: must be > 0, got 0.0"),
        ({"performance": {"update_burst": 0}}, "progress.performance.update_burst: must be >= 1, got 0"),
        ({"performance": {"track_memory_usage": True}}, "progress.performance.track_memory_usage"),
        ({"websocket": {"enabled": True}}, "no websocket_handler was given"),
    ],
)
def test_errors_name_the_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        create_progress_tracker(config, env=NO_ENV, console=quiet_console())
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MPPROGRESS_CONSOLE_BAR_WIDHT": "3"}, "MPPROGRESS_CONSOLE_BAR_WIDHT: unknown key; did you mean"),
        ({"MPPROGRESS_CONSOLE_ENABLED": "maybe"}, "MPPROGRESS_CONSOLE_ENABLED: cannot read 'maybe' as bool"),
        ({"MPPROGRESS_CONSOLE_BAR_WIDTH": "1.5"}, "MPPROGRESS_CONSOLE_BAR_WIDTH: cannot read '1.5' as int"),
        ({"MPPROGRESS_LOGGING_LEVEL": "loud"}, "MPPROGRESS_LOGGING_LEVEL: expected a logging level"),
        ({"MPPROGRESS_CONSOLE_MAX_ROWS": "2"}, r"progress.console.max_rows: must be >= 3, got 2"),
    ],
)
def test_environment_errors_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(env=env)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read progress config"):
        load_config(tmp_path / "missing.yaml", env=NO_ENV)
    bad = tmp_path / "bad.toml"
    bad.write_text("[progress\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad, env=NO_ENV)
    other = tmp_path / "progress.ini"
    other.write_text("")
    with pytest.raises(ConfigError, match=r"unknown config format '\.ini'"):
        load_config(other, env=NO_ENV)


def test_yaml_without_pyyaml_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "progress.yml"
    path.write_text(SEED_YAML)
    monkeypatch.setitem(sys.modules, "yaml", None)  # makes ``import yaml`` fail
    with pytest.raises(ConfigError, match=r"needs PyYAML: pip install 'mpprogress\[yaml\]'"):
        load_config(path, env=NO_ENV)


def test_empty_sections_and_files_mean_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("progress:\n  console:\n")
    assert load_config(path, env=NO_ENV) == load_config(env=NO_ENV)


def test_websocket_and_performance_settings() -> None:
    class Handler:
        def __init__(self) -> None:
            self.sent: list[tuple[str, str]] = []

        def emit(self, event: str, data: str) -> None:
            self.sent.append((event, data))

    handler = Handler()
    config = {
        "console": {"enabled": False},
        "websocket": {"enabled": True, "endpoint": "ws://localhost:8000/progress"},
        "performance": {"max_update_rate": None, "max_completed_operations": 5},
    }
    with create_progress_tracker(config, env=NO_ENV, websocket_handler=handler) as tracker:
        assert isinstance(tracker, WebSocketProgressTracker)
        assert tracker.max_completed_operations == 5
        tracker.start_operation("op", "Op")
    assert handler.sent[0][0] == "progress_update" and '"operation_started"' in handler.sent[0][1]
    config["logging"] = {"enabled": True}
    with create_progress_tracker(config, env=NO_ENV, websocket_handler=handler) as tracker:
        assert isinstance(tracker, BaseProgressTracker)
        assert [type(s) for s in tracker.sinks] == [LoggingSink, WebSocketSink]  # type: ignore[attr-defined]


def test_performance_switches_map_onto_console_columns() -> None:
    config = {"performance": {"track_items_per_second": False, "estimate_completion_time": False}}
    with create_progress_tracker(config, env=NO_ENV, console=quiet_console()) as tracker:
        assert isinstance(tracker, ConsoleProgressTracker)
        assert tracker.sink.config.show_rate is False
        assert tracker.sink.config.show_time_remaining is False


def test_a_journal_alone_records_the_run(tmp_path: Path) -> None:
    from mpprogress._report import load_run

    path = tmp_path / "configured.db"
    env = {"MPPROGRESS_CONSOLE_ENABLED": "0", "MPPROGRESS_JOURNAL_PATH": str(path)}
    with create_progress_tracker({}, env=env) as tracker:
        with tracker.operation("configured") as op, op.phase("items", total=3) as phase:
            phase.update(3)
    figures = load_run(path)
    assert [(p.title, p.current, p.total, p.outcome) for p in figures.phases] == [("items", 3, 3, "succeeded")]


def test_a_configured_journal_resumes_its_latest_run(tmp_path: Path) -> None:
    path = tmp_path / "resumed.db"
    env = {"MPPROGRESS_CONSOLE_ENABLED": "0", "MPPROGRESS_JOURNAL_PATH": str(path)}
    with create_progress_tracker({}, env=env) as tracker, contextlib.suppress(ConnectionError):
        with tracker.operation("crawl") as op, op.phase("pages", total=10) as phase:
            for page in phase.track(range(10), key=str):
                if page == 4:
                    raise ConnectionError("the first run fails at page 4")
    seen = []
    resumed = {**env, "MPPROGRESS_JOURNAL_RESUME": "true"}
    with create_progress_tracker({}, env=resumed) as tracker:
        assert tracker.resuming
        with tracker.operation("crawl") as op, op.phase("pages", total=10) as phase:
            assert phase.resumed_from == 4
            seen.extend(phase.track(range(10), key=str))
            assert phase.current == 10
    assert seen == [4, 5, 6, 7, 8, 9]


def test_opentelemetry_from_the_configuration_sends_spans() -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # the configured sink uses the global providers
    if trace.get_tracer_provider() is not provider:
        pytest.skip("another test set the global tracer provider first (it can be set once)")
    env = {"MPPROGRESS_CONSOLE_ENABLED": "0", "MPPROGRESS_OPENTELEMETRY_ENABLED": "1"}
    with create_progress_tracker({}, env=env) as tracker:
        with tracker.operation("configured") as op, op.phase("items", total=2) as phase:
            phase.update(2)
    assert sorted(span.name for span in exporter.get_finished_spans()) == ["configured", "items"]
