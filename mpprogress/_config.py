"""Configuration: build a tracker from the seed's ``progress:`` schema (seed section 6).

The schema (every key optional; defaults shown)::

    progress:
      console:      {enabled: true, show_spinner: true, show_percentage: true,
                     show_time_remaining: true, show_rate: true, bar_width: 40,
                     refresh_rate: 10, show_summary: true, max_rows: null, plain_interval: 10,
                     summary_max_phases: 20, transient: false, stream: "stderr"}
                    (``stream``: where the display draws, ``"stderr"`` or ``"stdout"``)
      websocket:    {enabled: false, endpoint: null, event_name: "progress_update"}
      logging:      {enabled: false, level: "INFO", include_performance_metrics: true,
                     json_lines: false, logger: "mpprogress.progress", min_interval: 1.0}
      journal:      {path: null, resume: false}   (an SQLite file recording every run: ``mpprogress
                    report PATH``; ``resume`` continues its latest run, see ``mpprogress._base.resume``)
      opentelemetry: {enabled: false, max_labelled_phases: 20, max_operation_names: 100}
                    (spans and metrics through the global providers; ``mpprogress[otel]``)
      performance:  {track_items_per_second: true, track_memory_usage: false,
                     estimate_completion_time: true, max_update_rate: 20, update_burst: 10,
                     max_completed_operations: 100}

Given as a dict, a YAML file (PyYAML, the ``yaml`` extra), a TOML or a JSON file, or nothing;
then environment variables ``MPPROGRESS_<SECTION>_<KEY>`` override it (``MPPROGRESS_CONSOLE_ENABLED=0``).
Unknown keys and wrong types raise ``ConfigError`` naming the key (``progress.console.bar_widht``).
"""

from __future__ import annotations

import difflib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from ._base.port import ProgressError, ProgressTracker
from ._core.noop import NoOpProgressTracker
from .adapters.console._config import CONSOLE_LOWER_BOUNDS, STREAMS, ConsoleConfig

__all__ = ["ConfigError", "create_progress_tracker", "load_config"]

def _console_schema() -> dict[str, tuple[str, Any]]:
    """The console section: ``ConsoleConfig``'s fields, their kinds and defaults (one home)."""
    kinds = {"bool": "bool", "int": "int", "float": "float", "str": "str",
             "int | None": "int?", "float | None": "float?"}
    return {field.name: (kinds[str(field.type)], field.default) for field in fields(ConsoleConfig)}


# section -> key -> (kind, default); kinds: bool, int, float, str, level, and "?" for "or null".
_SCHEMA: dict[str, dict[str, tuple[str, Any]]] = {
    "console": {"enabled": ("bool", True), **_console_schema()},
    "websocket": {
        "enabled": ("bool", False),
        "endpoint": ("str?", None),
        "event_name": ("str", "progress_update"),
    },
    "logging": {
        "enabled": ("bool", False),
        "level": ("level", "INFO"),
        "include_performance_metrics": ("bool", True),
        "json_lines": ("bool", False),
        "logger": ("str", "mpprogress.progress"),
        "min_interval": ("float", 1.0),
    },
    "journal": {
        "path": ("str?", None),
        "resume": ("bool", False),
    },
    "opentelemetry": {
        "enabled": ("bool", False),
        "max_labelled_phases": ("int", 20),
        "max_operation_names": ("int", 100),
    },
    "performance": {
        "track_items_per_second": ("bool", True),
        "track_memory_usage": ("bool", False),
        "estimate_completion_time": ("bool", True),
        "max_update_rate": ("float?", 20.0),
        "update_burst": ("int", 10),
        "max_completed_operations": ("int", 100),
    },
}
# (section, key) -> (lowest value, whether the lowest value itself is allowed)
_LOWER_BOUNDS: dict[tuple[str, str], tuple[float, bool]] = {
    **{("console", key): bound for key, bound in CONSOLE_LOWER_BOUNDS.items()},
    ("logging", "min_interval"): (0, True),
    ("performance", "max_update_rate"): (0, True),
    ("performance", "update_burst"): (1, True),
    ("performance", "max_completed_operations"): (0, True),
}
# (section, key) -> the values allowed
_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {("console", "stream"): STREAMS}
_ENV_PREFIX = "MPPROGRESS_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
Settings = dict[str, dict[str, Any]]


class ConfigError(ProgressError, ValueError):
    """The progress configuration is invalid; the message names the offending key."""


# --- reading --------------------------------------------------------------------------------


def _read_file(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".toml", ".json"):
        raise ConfigError(f"{path}: unknown config format {suffix!r} (use .yaml, .yml, .toml or .json)")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read progress config {path}: {exc}") from exc
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix == ".toml":
            return _toml_module().loads(text)
        return _yaml_module().safe_load(text)
    except ConfigError:
        raise
    except Exception as exc:  # each parser has its own error type
        raise ConfigError(f"{path}: not valid {suffix[1:].upper()}: {exc}") from exc


def _yaml_module() -> Any:
    try:
        import yaml
    except ImportError as exc:
        raise ConfigError("reading a YAML config needs PyYAML: pip install 'mpprogress[yaml]'") from exc
    return yaml


def _toml_module() -> Any:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError as exc:
            raise ConfigError("reading a TOML config on Python 3.10 needs tomli: pip install tomli") from exc
    return tomllib


def _progress_section(raw: Any) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"progress: expected a mapping, got {type(raw).__name__}")
    if "progress" in raw:  # the application's settings file: other top-level keys are not ours
        inner = raw["progress"]
        if inner is None:
            return {}
        if not isinstance(inner, Mapping):
            raise ConfigError(f"progress: expected a mapping, got {type(inner).__name__}")
        return inner
    return raw


# --- validating -----------------------------------------------------------------------------


def _unknown(name: str, known: Any) -> ConfigError:
    key = name.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(sorted(known))})"
    return ConfigError(f"{name}: unknown key{hint}")


def _checked(name: str, kind: str, value: Any) -> Any:
    if kind.endswith("?"):
        if value is None:
            return None
        kind = kind[:-1]
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind == "str" and isinstance(value, str):
        return value
    if kind == "level":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and isinstance(logging.getLevelName(value.upper()), int):
            return value.upper()
        raise ConfigError(f"{name}: expected a logging level (DEBUG, INFO, ...), got {value!r}")
    wanted = {"bool": "true or false", "int": "an integer", "float": "a number", "str": "a string"}[kind]
    raise ConfigError(f"{name}: expected {wanted}, got {value!r} ({type(value).__name__})")


def _from_env(name: str, kind: str, text: str) -> Any:
    base = kind.rstrip("?")
    lowered = text.strip().lower()
    if kind.endswith("?") and lowered in ("", "none", "null"):
        return None
    try:
        if base == "bool":
            if lowered in _TRUE | _FALSE:
                return lowered in _TRUE
            raise ValueError(text)
        if base == "int":
            return int(lowered)
        if base == "float":
            return float(lowered)
    except ValueError:
        raise ConfigError(f"{name}: cannot read {text!r} as {base}") from None
    return text.strip() if base == "level" else text


def load_config(
    config: Mapping[str, Any] | str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> Settings:
    """Read, validate and complete a progress configuration.

    Args:
        config: a mapping (with or without the top-level ``progress`` key), a path to a
            ``.yaml``/``.yml``/``.toml``/``.json`` file, or ``None`` for the defaults.
        env: environment variables to apply on top (``os.environ`` by default).

    Returns:
        Every section with every key, defaults filled in.

    Raises:
        ConfigError: unknown key, wrong type, unreadable file, or a parser that is missing.
    """
    raw = _read_file(Path(config)) if isinstance(config, (str, os.PathLike)) else config
    given = _progress_section(raw)
    settings: Settings = {
        section: {k: default for k, (_, default) in keys.items()} for section, keys in _SCHEMA.items()
    }
    for section, values in given.items():
        if section not in _SCHEMA:
            raise _unknown(f"progress.{section}", _SCHEMA)
        if values is None:
            continue
        if not isinstance(values, Mapping):
            raise ConfigError(f"progress.{section}: expected a mapping, got {type(values).__name__}")
        for key, value in values.items():
            name = f"progress.{section}.{key}"
            if key not in _SCHEMA[section]:
                raise _unknown(name, _SCHEMA[section])
            settings[section][key] = _checked(name, _SCHEMA[section][key][0], value)
    environ = os.environ if env is None else env
    for variable, text in environ.items():
        section, _, key = variable[len(_ENV_PREFIX) :].lower().partition("_")
        if not variable.startswith(_ENV_PREFIX) or section not in _SCHEMA:
            continue  # other MPPROGRESS_ variables (relay address...) belong to other parts
        if key not in _SCHEMA[section]:
            raise _unknown(variable, {f"{_ENV_PREFIX}{section.upper()}_{k.upper()}" for k in _SCHEMA[section]})
        kind = _SCHEMA[section][key][0]
        settings[section][key] = _checked(variable, kind, _from_env(variable, kind, text))
    for (section, key), allowed in _CHOICES.items():
        value = settings[section][key]
        if value not in allowed:
            raise ConfigError(f"progress.{section}.{key}: expected one of {', '.join(allowed)}, got {value!r}")
    for (section, key), (low, inclusive) in _LOWER_BOUNDS.items():
        value = settings[section][key]
        if value is not None and (value < low if inclusive else value <= low):
            bound = f"{'>=' if inclusive else '>'} {low}"
            raise ConfigError(f"progress.{section}.{key}: must be {bound}, got {value!r}")
    return settings


# --- building -------------------------------------------------------------------------------


def create_progress_tracker(
    config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    console: Any = None,
    websocket_handler: Any = None,
) -> ProgressTracker:
    """Build the tracker a configuration asks for (seed section 6).

    Console and logging may be on together: one local tracker with both sinks.  Everything
    off gives the silent ``NoOpProgressTracker``.  Close the tracker (or use it in ``with``)
    to restore the terminal.

    Args:
        config: see ``load_config``.
        env: environment overrides; ``os.environ`` by default.
        console: a ``rich.console.Console`` for the console display; by default a new one on
            standard error (``progress.console.stream``).
        websocket_handler: the object with ``emit(event, payload)`` that the websocket section
            sends to; required when ``progress.websocket.enabled`` is true.

    Returns:
        A ``ConsoleProgressTracker`` (console on), a ``LoggingProgressTracker`` (logging only),
        a ``WebSocketProgressTracker`` (websocket only) or a ``NoOpProgressTracker``.

    Raises:
        ConfigError: the configuration is invalid.
    """
    settings = load_config(config, env=env)
    console_on, logging_on, websocket_on = (settings[s]["enabled"] for s in ("console", "logging", "websocket"))
    perf = settings["performance"]
    if perf["track_memory_usage"]:
        raise ConfigError("progress.performance.track_memory_usage: memory tracking is not supported; set it to false")
    if websocket_on and websocket_handler is None:
        raise ConfigError(
            "progress.websocket.enabled is true but no websocket_handler was given to "
            "create_progress_tracker() (the endpoint alone cannot be connected to)"
        )
    otel_on, journal_on = settings["opentelemetry"]["enabled"], settings["journal"]["path"] is not None
    if not (console_on or logging_on or websocket_on or otel_on or journal_on):
        return NoOpProgressTracker()
    tracker_kwargs = {k: perf[k] for k in ("max_update_rate", "update_burst", "max_completed_operations")}
    from ._wiring import build_tracker  # the one place that composes trackers and sinks

    try:
        return build_tracker(settings, tracker_kwargs, console, websocket_handler)
    except ValueError as exc:  # a value of the right type but out of range
        raise ConfigError(f"progress: {exc}") from exc
