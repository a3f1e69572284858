"""The ``mpprogress`` command line: ``mpprogress <subcommand> [options]``.

Each subcommand is one ``_add_<name>(subparsers)`` function that declares its options and sets
``run`` to a function taking the parsed arguments and returning the exit status; adding one
(``relay``, ``keys``...) is writing that function and listing it in ``_SUBCOMMANDS``.  The
modules doing the work are imported only when their subcommand runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

__all__ = ["build_parser", "main"]


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_demo(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="research a few companies on a local website, one worker process each, one display",
        description="The seed's 4-phase scraping pipeline (link discovery, page selection, content "
        "extraction, analysis) run for several companies in worker processes against a generated "
        "website on 127.0.0.1, all shown in one display.",
    )
    parser.add_argument("--workers", type=_positive, default=4, help="worker processes (default: 4)")
    parser.add_argument("--companies", type=_positive, default=4, help="companies to research (default: 4)")
    parser.add_argument("--pages", type=int, default=300, help="HTML pages per company site (default: 300)")
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
    parser.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from .demo.run import DemoConfig, run_demo
    from .demo.site import MIN_PAGES

    if args.pages < MIN_PAGES:
        raise SystemExit(f"mpprogress demo: error: --pages must be at least {MIN_PAGES}")
    config = DemoConfig(
        workers=args.workers,
        companies=args.companies,
        pages=args.pages,
        seed=args.seed,
        output=args.output,
        color=args.color,
        start_method=args.start_method,
    )
    return run_demo(config)


def _add_relay(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    parser.set_defaults(run=_run_relay)


def _run_relay(args: argparse.Namespace) -> int:
    from .remote.relay import RelayConfig
    from .wiring import run_relay

    return run_relay(RelayConfig(bind=args.bind, output=args.output, curve_dir=args.curve_dir))


def _add_keys(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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

    from .remote.security import generate_keys

    clients = tuple(args.clients or ("client",))
    try:
        root = generate_keys(args.directory, clients)
    except (FileExistsError, OSError) as exc:
        print(f"mpprogress keys: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote server and client keys ({', '.join(clients)}) to {root}")
    return 0


_SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    _add_demo,
    _add_relay,
    _add_keys,
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole command line, with every subcommand."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="mpprogress", description="One honest, beautiful progress display for threads, asyncio and processes."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(title="subcommands", metavar="<subcommand>", required=True)
    for add in _SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: the arguments after the program name; ``sys.argv[1:]`` when ``None``.

    Returns:
        The exit status.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
