"""The ``mpprogress`` command line: ``mpprogress <subcommand> [options]``.

Each subcommand is one ``_add_<name>(subparsers)`` function that declares its options and sets
``run`` to a function taking the parsed arguments and returning the exit status; adding one
(``relay``, ``keys``...) is writing that function and listing it in ``_SUBCOMMANDS``.  The
modules doing the work are imported only when their subcommand runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO, TypeAlias, cast

__all__ = ["EXIT_BROKEN_PIPE", "build_parser", "main"]

EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
"""Exit status when the reader of standard output went away (``mpprogress demo | head``), as a
program killed by SIGPIPE would report it: 141."""


class _SubcommandParser(argparse.ArgumentParser):
    """A subcommand's parser: an unknown option is its own error (``mpprogress demo --bogus`` shows
    the demo's usage), not left to the top-level parser."""

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


_Subparsers: TypeAlias = "argparse._SubParsersAction[_SubcommandParser]"


def _at_least(lowest: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"must be at least {lowest}, got {value}")
        return value

    parse.__name__ = "number"  # what argparse names in "invalid <name> value"
    return parse


def _seconds(text: str) -> float:
    """A positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _add_demo(subparsers: _Subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="research a few companies on a local website, one worker process each, one display",
        description="A 4-phase company research pipeline (link discovery, page selection, content "
        "extraction, analysis) run for several companies in worker processes against a generated "
        "website on 127.0.0.1, all shown in one display.",
    )
    from ._demo.site import MIN_PAGES

    parser.add_argument("--workers", type=_at_least(1), default=4, help="worker processes (default: 4)")
    parser.add_argument("--companies", type=_at_least(1), default=4, help="companies to research (default: 4)")
    parser.add_argument(
        "--pages", type=_at_least(MIN_PAGES), default=300,
        help=f"HTML pages per company site, at least {MIN_PAGES} (default: 300)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated website (default: 1)")
    parser.add_argument(
        "--format", choices=("display", "json"), default="display", dest="output",
        help="'json' writes every event as a JSON line on stdout instead of the display",
    )
    parser.add_argument("--no-color", action="store_false", dest="color", help="no colour in the display")
    parser.add_argument(
        "--start-method", choices=("spawn", "fork", "forkserver"), default=None,
        help="how worker processes start (default: spawn)",
    )
    _add_journal_option(parser)
    parser.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from ._demo.run import DemoConfig, run_demo

    config = DemoConfig(
        workers=args.workers,
        companies=args.companies,
        pages=args.pages,
        seed=args.seed,
        output=args.output,
        color=args.color,
        start_method=args.start_method,
        journal=args.journal,
    )
    return run_demo(config, out=args.stdout)


def _add_journal_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--journal", default=None, metavar="PATH",
        help="also record the run in this SQLite file (read it with `mpprogress report PATH`)",
    )


def _add_relay(subparsers: _Subparsers) -> None:
    parser = subparsers.add_parser(
        "relay",
        help="show the progress of whatever connects, until interrupted",
        description="Run an aggregator in this process and render every worker that connects to it "
        "(workers find it through MPPROGRESS_ADDRESS or connect(address)). The address is printed on "
        "standard error; on SIGINT/SIGTERM a status line with frames applied and dropped follows.",
    )
    parser.add_argument(
        "--bind", default=None, metavar="ADDRESS",
        help="where to listen: ipc://PATH or tcp://HOST:PORT (default: a private ipc:// path); "
        "a non-loopback TCP address needs --curve",
    )
    parser.add_argument(
        "--format", choices=("display", "json"), default="display", dest="output",
        help="'json' writes every event as a JSON line on stdout instead of the display",
    )
    parser.add_argument(
        "--curve", default=None, metavar="DIR", dest="curve_dir",
        help="require CURVE with the keys made by `mpprogress keys DIR` (only allow-listed clients)",
    )
    parser.add_argument(
        "--key-file", default=None, metavar="FILE",
        help="on loopback TCP without --curve, keep the key workers know this relay by in FILE (made 0600 "
        "if missing), so that they reconnect to a relay restarted with the same FILE",
    )
    parser.add_argument(
        "--stalled-after", type=_seconds, default=5.0, metavar="SECONDS",
        help="show a worker's phases as stalled after this long without news (default 5)",
    )
    parser.add_argument(
        "--lost-after", type=_seconds, default=60.0, metavar="SECONDS",
        help="mark a worker on another host lost after this long without news (default 60; a worker on "
        "this host is lost as soon as its process is gone)",
    )
    _add_journal_option(parser)
    _add_announce_option(parser)
    parser.add_argument(
        "--otel", action="store_true",
        help="also send operations and phases to OpenTelemetry as spans and metrics (global providers, "
        "e.g. under opentelemetry-instrument; needs mpprogress[otel])",
    )
    _add_http_option(parser, default=None)
    parser.set_defaults(run=_run_relay)


def _run_relay(args: argparse.Namespace) -> int:
    from ._remote.aggregator import AggregatorConfig
    from ._remote.relay import RelayConfig
    from ._wiring import run_relay

    timing = AggregatorConfig(stall_timeout=args.stalled_after, lost_timeout=args.lost_after)
    config = RelayConfig(bind=args.bind, output=args.output, curve_dir=args.curve_dir, stdout=args.stdout,
                         aggregator=timing, announce=args.announce, key_file=args.key_file)
    return run_relay(config, journal=args.journal, otel=args.otel, http=args.http)


def _add_http_option(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument(
        "--http", default=default, metavar="HOST:PORT",
        help="serve the live web dashboard there (needs mpprogress[web]); loopback needs no token, any other "
        "address gets a random one, printed once in the dashboard's address; HTTPS when MPPROGRESS_DASHBOARD_CERT "
        "(and MPPROGRESS_DASHBOARD_KEY) name a PEM certificate and key" + (f" (default: {default})" if default else ""),
    )


def _add_dashboard(subparsers: _Subparsers) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        help="serve a live web page of a journaled run (finished, or still being written)",
        description="Serve the latest run of a journal written by JournalSink (--journal) as the live web "
        "dashboard: operations, phases, workers, log records and the timeline, re-read from the file every "
        "half second (read-only), until interrupted. Needs mpprogress[web].",
    )
    parser.add_argument("path", metavar="PATH", help="the journal file (it may not exist yet)")
    _add_http_option(parser, default="127.0.0.1:8765")
    parser.set_defaults(run=_run_dashboard)


def _run_dashboard(args: argparse.Namespace) -> int:
    from ._wiring.dashboard import serve_journal

    if os.path.isdir(args.path):
        raise _Refused(f"{args.path} is a directory, not a journal file")
    return serve_journal(args.path, args.http)


def _add_keys(subparsers: _Subparsers) -> None:
    parser = subparsers.add_parser(
        "keys",
        help="create CURVE keys for a relay and its clients",
        description="Write server.key/server.key_secret, one key pair per client and the relay's "
        "allow-list (DIR/clients/) into DIR. Give a worker DIR and its client name through "
        "MPPROGRESS_CURVE_DIR and MPPROGRESS_CURVE_CLIENT. Existing keys are never overwritten.",
    )
    parser.add_argument("directory", metavar="DIR", help="where to write the keys (created 0700)")
    parser.add_argument(
        "--client", action="append", dest="clients", metavar="NAME",
        help="a client key pair to create (repeatable; default: one named 'client')",
    )
    parser.set_defaults(run=_run_keys)


def _run_keys(args: argparse.Namespace) -> int:
    import sys

    from ._remote.security import generate_keys

    clients = tuple(args.clients or ("client",))
    try:
        root = generate_keys(args.directory, clients)
    except (FileExistsError, OSError) as exc:
        print(f"mpprogress keys: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote server and client keys ({', '.join(clients)}) to {root}")
    return 0


def _add_report(subparsers: _Subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="report a run recorded in a journal: text, JSON, or an HTML page with a timeline",
        description="Read one run from a journal written by JournalSink and report, per operation and "
        "phase, duration, items, rate, outcome and reason; the slowest phases; failures and lost workers; "
        "each worker's busy and idle time; and throughput over time. The HTML page is one self-contained "
        "file (it opens offline) with a timeline of every phase.",
    )
    parser.add_argument("path", metavar="PATH", help="the journal file")
    parser.add_argument("--run", type=_at_least(1), default=None, dest="run_id", metavar="ID",
                        help="the run to report (default: the latest)")
    parser.add_argument("--format", choices=("text", "json", "html"), default="text", dest="report_format",
                        help="text (default), json for scripts, or html")
    parser.add_argument("--output", default=None, metavar="FILE", help="write there instead of standard output")
    parser.set_defaults(run=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from ._report import JournalError, write_report

    try:
        write_report(args.path, run_id=args.run_id, fmt=args.report_format, output=args.output, stream=args.stdout)
    except (JournalError, OSError) as exc:
        print(f"mpprogress report: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _add_announce_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--announce", default=None, metavar="FILE",
        help="write the address workers should use into FILE (again on every restart); workers "
        "started with MPPROGRESS_ADDRESS_FILE=FILE read it when they connect and follow it when it changes",
    )


def _add_run(subparsers: _Subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a command inside a session: everything it starts reports to one display",
        description="Start a session (display on standard error, optional journal), run COMMAND with "
        "MPPROGRESS_ADDRESS (and, with --curve, the CURVE client settings) in its environment, and exit "
        "with its status. Put it in a batch script: every process the job starts, on this node or on "
        "others, reports to one place.",
    )
    parser.add_argument(
        "--bind", default=None, metavar="ADDRESS",
        help="where to listen: ipc://PATH or tcp://HOST:PORT (default: a private ipc:// path, this node "
        "only); other nodes need tcp://0.0.0.0:PORT (or this node's address) and --curve",
    )
    parser.add_argument(
        "--curve", default=None, metavar="DIR", dest="curve_dir",
        help="require CURVE with the keys made by `mpprogress keys DIR`; the command gets "
        "MPPROGRESS_CURVE_DIR and MPPROGRESS_CURVE_CLIENT",
    )
    _add_journal_option(parser)
    _add_announce_option(parser)
    parser.add_argument("--no-display", action="store_false", dest="display", help="collect without drawing")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...", help="what to run")
    parser.set_defaults(run=_run_run)


def _run_run(args: argparse.Namespace) -> int:
    from ._wiring.command import RunConfig, run_command

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return run_command(RunConfig(
        command, bind=args.bind, curve_dir=args.curve_dir, journal=args.journal, announce=args.announce,
        display=args.display,
    ))


_SUBCOMMANDS: tuple[Callable[[_Subparsers], None], ...] = (
    _add_demo,
    _add_relay,
    _add_keys,
    _add_report,
    _add_dashboard,
    _add_run,
)


class _Refused(Exception):
    """A command refuses its input before starting: ``main`` prints one line and exits 2."""


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole command line, with every subcommand."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="mpprogress", description="One honest, beautiful progress display for threads, asyncio and processes."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(
        title="subcommands", metavar="<subcommand>", required=True, dest="subcommand", parser_class=_SubcommandParser
    )
    for add in _SUBCOMMANDS:
        add(subparsers)
    return parser


def _check_journal(path: str | None) -> None:
    """Refuse a ``--journal`` path that plainly cannot be a journal file, before anything starts
    (what only SQLite can tell, a garbage or foreign file, is refused when the journal opens)."""
    if path is None:
        return
    if not path.strip():
        raise _Refused("--journal needs a file path, got an empty one")
    if os.path.isdir(path):
        raise _Refused(f"--journal {path}: is a directory, not a journal file")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise _Refused(f"--journal {path}: there is no directory {parent}")


def _refusal(exc: Exception) -> str | None:
    """The one line saying why the command cannot run, when ``exc`` is about its input."""
    from ._report import JournalError  # only after a failure: keeps the command light

    return str(exc) if isinstance(exc, (_Refused, JournalError)) else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    A journal that cannot be opened, or any other input the command refuses once started, is one
    line ``mpprogress <subcommand>: error: ...`` on standard error and exit status 2.

    Args:
        argv: the arguments after the program name; ``sys.argv[1:]`` when ``None``.

    Returns:
        The exit status.
    """
    args = build_parser().parse_args(argv)
    from ._wiring.stdout import PipeGuard

    args.stdout = guard = PipeGuard(sys.stdout)
    # Whatever writes to sys.stdout (Rich's display too) goes through the guard, so a reader that
    # leaves ends every command the same way (Rich would otherwise exit 1 on its own).
    real_stdout, sys.stdout = sys.stdout, cast(TextIO, guard)
    try:
        guard.watch()  # inside: a reader already gone interrupts at once, even while it starts
        _check_journal(getattr(args, "journal", None))
        status = int(args.run(args))
    except KeyboardInterrupt:
        status = 130
    except Exception as exc:
        reason = _refusal(exc)
        if reason is None:
            raise
        print(f"mpprogress {args.subcommand}: error: {reason}", file=sys.stderr)
        status = 2
    finally:
        sys.stdout = real_stdout
    return EXIT_BROKEN_PIPE if guard.broken.is_set() else status
