"""The ``driftlock`` command line.

One function per subcommand, each registered by a ``_add_<name>`` function on the shared parser
from :func:`build_parser`; a subcommand returns the process's exit status. ``serve`` runs the
embedded engine as an HTTP server that speaks the Driftlock API.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from driftlock._version import __version__

__all__ = ["build_parser", "main"]

_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")

Command = Callable[[argparse.Namespace], int]


class _StopRequested(Exception):
    """Raised by the SIGINT/SIGTERM handler that uvicorn re-raises after its own shutdown."""


def _request_stop(signum: int, frame: object) -> None:
    raise _StopRequested(signum)


def _serve(args: argparse.Namespace) -> int:
    """Run the embedded engine over HTTP until SIGINT or SIGTERM."""
    try:
        import uvicorn

        from driftlock.local.app import RateLimiter, create_app
        from driftlock.local.engine import Engine
    except ImportError as exc:
        print(
            f"driftlock serve needs the 'local' extra ({exc.name} is missing):"
            " pip install 'driftlock[local]'",
            file=sys.stderr,
        )
        return 2
    if args.rate_limit is not None:
        try:
            RateLimiter.parse(args.rate_limit)
        except ValueError as exc:
            print(f"driftlock serve: {exc}", file=sys.stderr)
            return 2
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    engine = Engine(data_dir=args.data_dir)
    app = create_app(engine, api_key=args.api_key, rate_limit=args.rate_limit)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        lifespan="on",
        server_header=False,
    )
    # uvicorn turns SIGINT and SIGTERM into a graceful shutdown, then restores these handlers
    # and re-raises the signal: it lands here, and the process exits with status 0.
    previous = {sig: signal.signal(sig, _request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.Server(config).run()
    except _StopRequested:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        engine.close()
    return 0


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "serve",
        help="run the embedded engine as an HTTP server",
        description="Serve the Driftlock API from the embedded engine (no network service needed).",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="port to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--api-key",
        help="accept only this X-Api-Key (default: any non-empty key)",
    )
    parser.add_argument(
        "--rate-limit",
        metavar="N/UNIT",
        help="requests per API key, e.g. 60/minute or 5/second (default: unlimited)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="keep streams and anomalies in SQLite here (default: in memory only)",
    )
    parser.add_argument(
        "--log-level", choices=_LOG_LEVELS, default="info", help="default: %(default)s"
    )
    parser.set_defaults(command=_serve)


def build_parser() -> argparse.ArgumentParser:
    """The ``driftlock`` parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="driftlock", description="Driftlock command line.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_serve(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    command: Command | None = getattr(args, "command", None)
    if command is None:
        parser.print_help(sys.stderr)
        return 2
    return command(args)
