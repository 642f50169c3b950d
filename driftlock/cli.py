"""The ``driftlock`` command line.

One function per subcommand, each registered by a ``_add_<name>`` function on the shared parser
from :func:`build_parser`; a subcommand returns the process's exit status:

- ``detect``: send events (JSON Lines from a file or stdin, or one ``--json`` value) and report
  the anomalies found among them;
- ``stream``: read stdin continuously (JSON Lines, nginx access logs or plain text) and report
  anomalies as they are found;
- ``history``: list a stream's stored anomalies;
- ``config``: show the effective settings and where each came from, or store defaults;
- ``serve``: run the embedded engine as an HTTP server that speaks the Driftlock API.

Exit status: 0 success, 1 anomalies found with ``--fail-on-anomaly``, 2 usage, input or
configuration error, 3 API error (including an unreachable server), 4 internal error (a bug),
130 interrupted. Errors are one line on stderr; ``--debug`` adds tracebacks and request logs.
Every call goes through :class:`~driftlock.DriftlockSyncClient`.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, NoReturn, cast

from driftlock._cli_input import (
    FORMATS,
    BadLine,
    checked_event,
    numbered_lines,
    parse_json_value,
    parser_for,
)
from driftlock._cli_output import Output, anomaly_record, number, outlier_record, progress
from driftlock._cli_settings import (
    EXIT_ANOMALIES,
    EXIT_API,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USAGE,
    FILE_KEYS,
    OUTPUTS,
    CLIError,
    Settings,
    config_path,
    load_config_file,
    parse_setting,
    save_config_file,
)
from driftlock._client import DriftlockSyncClient
from driftlock._events import MAX_EVENTS_PER_REQUEST, Event
from driftlock._version import __version__
from driftlock.exceptions import DriftlockConfigError, DriftlockError, DriftlockValidationError
from driftlock.models import Anomaly, DetectResult, ValueOutlier

__all__ = ["build_parser", "main"]

_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
EXIT_INTERRUPTED: Final = 130
EXIT_BROKEN_PIPE: Final = 141  # 128 + SIGPIPE, what a shell reports for `... | head`
# Bad input lines listed one by one before only counting them (a wrong --format would
# otherwise bury the terminal).
MAX_LISTED_BAD_LINES: Final = 100
# Value outliers listed in a table; --output json lists every one.
MAX_LISTED_OUTLIERS: Final = 20

Command = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other error."""

    def error(self, message: str) -> NoReturn:
        """Report a usage error on one line and exit with status 2."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[_Parser]


def _note(message: str) -> None:
    print(f"driftlock: {message}", file=sys.stderr, flush=True)


# --- options shared by the commands that talk to the API -------------------------------------


def _common_options() -> _Parser:
    """Connection and output options, accepted before or after the subcommand's name.

    Their defaults are SUPPRESS so that an option given before the subcommand is not reset by
    the subcommand's parser; the settings layer supplies environment, file and defaults.
    """
    common = _Parser(add_help=False)
    group = common.add_argument_group("connection and output")
    group.add_argument(
        "--output",
        "-o",
        choices=OUTPUTS,
        default=argparse.SUPPRESS,
        help="table (default: rich on a terminal, plain text when piped), json or jsonl "
        "(env DRIFTLOCK_OUTPUT)",
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="API base URL, or local:// for the embedded engine (env DRIFTLOCK_BASE_URL; "
        "default https://driftlock.net/api)",
    )
    group.add_argument(
        "--api-key",
        metavar="KEY",
        default=argparse.SUPPRESS,
        help="API key (env DRIFTLOCK_API_KEY, preferred: arguments show in process lists)",
    )
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        default=argparse.SUPPRESS,
        help="timeout of each request (env DRIFTLOCK_TIMEOUT; default 10)",
    )
    group.add_argument(
        "--max-retries",
        metavar="N",
        default=argparse.SUPPRESS,
        help="retries of a failed request (env DRIFTLOCK_MAX_RETRIES; default 3)",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log every request and show tracebacks with errors",
    )
    return common


def _settings(args: argparse.Namespace) -> Settings:
    names = ("base_url", "api_key", "timeout", "max_retries", "output")
    arguments = {name: getattr(args, name, None) for name in names}
    return Settings.resolve(arguments, os.environ, config_path(os.environ))


def _batch_size(text: str) -> int:
    try:
        size = int(text)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_EVENTS_PER_REQUEST:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 1 to {MAX_EVENTS_PER_REQUEST}, got {text!r}"
        )
    return size


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds, 0 or more, got {text!r}")
    return seconds


def _limit(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, 1 or more, got {text!r}")
    return int(text)


class _BadLines:
    """Reports input lines that cannot become events, each with its 1-based number."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.count = 0

    def report(self, number: int, reason: str, *, strict: bool, sent_note: str) -> None:
        """Report line ``number``: skipped, or with ``strict``, fatal (raises CLIError)."""
        self.count += 1
        where = f"line {number} of {self.source}: {reason}"
        if strict:
            raise CLIError(f"{where} (--strict: stopped here; {sent_note})")
        if self.count <= MAX_LISTED_BAD_LINES:
            _note(f"{where} (skipped)")

    def finish(self) -> None:
        """Give the total when some bad lines went unlisted."""
        if self.count > MAX_LISTED_BAD_LINES:
            _note(
                f"{self.count} bad lines skipped in all in {self.source} "
                f"(the first {MAX_LISTED_BAD_LINES} are listed above)"
            )


@contextmanager
def _opened(name: str) -> Iterator[IO[Any]]:
    """The input file ``name`` (``-``: stdin, left open), read as bytes."""
    if name == "-":
        yield sys.stdin
        return
    try:
        handle = open(name, "rb")  # noqa: SIM115 -- closed below; stdin must not be
    except OSError as exc:
        raise CLIError(f"cannot read {name}: {exc.strerror}") from None
    with handle:
        yield handle


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _line_of(lines: Sequence[int], index: int | None) -> int | None:
    return lines[index] if index is not None and 0 <= index < len(lines) else None


def _send(
    client: DriftlockSyncClient,
    stream_id: str | None,
    events: list[Event],
    lines: Sequence[int],
    sent_before: int,
) -> DetectResult:
    """Send one batch (``lines``: each event's input line). A failure after earlier batches
    went through says how many did: those events are in the stream."""
    try:
        return client.detect(stream_id=stream_id, events=events)
    except DriftlockValidationError as exc:
        line = _line_of(lines, exc.event_index)
        where = f"line {line}: " if line is not None else ""
        sent = _count(sent_before, "event")
        raise CLIError(f"{where}{exc.reason} ({sent} sent before it)") from None
    except DriftlockError as exc:
        if not sent_before:
            raise
        sent = _count(sent_before, "event")
        raise CLIError(f"{exc} ({sent} sent before it)", EXIT_API) from None


# --- detect ----------------------------------------------------------------------------------


def _read_json_option(text: str) -> tuple[list[Event], list[int]]:
    """The events of ``--json``: one object, or an array of objects (numbered from 1)."""
    try:
        value = parse_json_value(text)
    except ValueError as exc:
        raise CLIError(f"--json: invalid JSON: {exc}") from None
    items = value if isinstance(value, list) else [value]
    if not items:
        raise CLIError("--json: the array is empty: give at least one event")
    events = []
    for position, item in enumerate(items, 1):
        try:
            events.append(checked_event(item))
        except BadLine as exc:
            where = f"item {position}: " if isinstance(value, list) else ""
            raise CLIError(f"--json: {where}{exc}") from None
    return events, list(range(1, len(events) + 1))


def _read_lines(args: argparse.Namespace) -> tuple[list[Event], list[int], int]:
    """The events of ``--file`` with their line numbers, and how many lines were bad."""
    source = "<stdin>" if args.file == "-" else args.file
    parse = parser_for(args.format)
    bad = _BadLines(source)
    events: list[Event] = []
    lines: list[int] = []
    with _opened(args.file) as handle:
        for line, text in numbered_lines(handle):
            if not text.strip():
                continue
            try:
                events.append(parse(text))
            except BadLine as exc:
                bad.report(line, str(exc), strict=args.strict, sent_note="nothing was sent")
                continue
            lines.append(line)
    bad.finish()
    if not events:
        raise CLIError(f"no events to send: {source} holds no valid line")
    return events, lines, bad.count


def _detect(args: argparse.Namespace) -> int:
    """Send the input's events in batches of up to 1000 and report what was found."""
    settings = _settings(args)
    out = Output(settings.output.value, sys.stdout)
    if args.json is not None:
        events, lines, bad_lines = (*_read_json_option(args.json), 0)
    else:
        events, lines, bad_lines = _read_lines(args)
    found: list[tuple[int | None, Anomaly]] = []
    outliers: list[tuple[int | None, ValueOutlier]] = []
    last: DetectResult | None = None
    with (
        closing(settings.client()) as client,
        progress(sys.stderr, len(events), "Sending events") as advance,
    ):
        for start in range(0, len(events), MAX_EVENTS_PER_REQUEST):
            batch = events[start : start + MAX_EVENTS_PER_REQUEST]
            batch_lines = lines[start : start + MAX_EVENTS_PER_REQUEST]
            last = _send(client, args.stream, batch, batch_lines, start)
            found += [(_line_of(batch_lines, a.index), a) for a in last.anomalies]
            outliers += [(_line_of(batch_lines, o.index), o) for o in last.value_outliers]
            advance(len(batch))
    assert last is not None  # there was at least one event, hence one batch
    _show_detect(out, last, len(events), bad_lines, found, outliers)
    return EXIT_ANOMALIES if args.fail_on_anomaly and found else EXIT_OK


def _show_detect(
    out: Output,
    last: DetectResult,
    sent: int,
    bad_lines: int,
    found: list[tuple[int | None, Anomaly]],
    outliers: list[tuple[int | None, ValueOutlier]],
) -> None:
    stream = last.stream_id
    if out.mode == "json":
        out.document(
            {
                "stream_id": stream,
                "events_sent": sent,
                "bad_lines": bad_lines,
                "status": last.status,
                "detection_ready": last.detection_ready,
                "calibration": last.calibration.to_dict(),
                "anomaly_count": len(found),
                "anomalies": [anomaly_record(a, line, stream) for line, a in found],
                "value_outliers": [outlier_record(o, line) for line, o in outliers],
                "drift": None if last.drift is None else last.drift.to_dict(),
            }
        )
        return
    if out.mode == "jsonl":
        for line, anomaly in found:
            out.record(anomaly_record(anomaly, line, stream))
        return
    skipped = f" ({_count(bad_lines, 'bad line')} skipped)" if bad_lines else ""
    out.line(
        f"Sent {_count(sent, 'event')} to stream {stream!r}{skipped}; stream status: {last.status}."
    )
    if not last.detection_ready and last.calibration.message:
        out.line(last.calibration.message)
    if found:
        out.line(f"{_count(len(found), 'anomaly', 'anomalies')} detected:", style="bold red")
        out.table(
            ["LINE", "CONFIDENCE", "NCD", "P-VALUE", "WHY"],
            [
                [
                    "-" if line is None else str(line),
                    number(a.metrics.confidence_level, 2),
                    number(a.metrics.ncd),
                    number(a.metrics.p_value),
                    a.why,
                ]
                for line, a in found
            ],
        )
    else:
        out.line("No anomalies detected.", style="green")
    if outliers:
        shown = sorted(outliers, key=lambda item: -abs(item[1].z_score))[:MAX_LISTED_OUTLIERS]
        which = f"the {len(shown)} largest" if len(shown) < len(outliers) else "all"
        out.line(
            f"{_count(len(outliers), 'value outlier')} (numbers over 3 standard deviations "
            f"from their field's mean); {which}:"
        )
        out.table(
            ["LINE", "FIELD", "VALUE", "MEAN", "STD DEV", "Z"],
            [
                [
                    "-" if line is None else str(line),
                    o.field_path,
                    f"{o.value:g}",
                    f"{o.expected_mean:.4g}",
                    f"{o.std_dev:.4g}",
                    f"{o.z_score:.1f}",
                ]
                for line, o in shown
            ],
        )


def _add_detect(commands: Commands, common: _Parser) -> None:
    parser = commands.add_parser(
        "detect",
        parents=[common],
        help="send events and report the anomalies found",
        description="Send events to a stream and report the anomalies found among them. "
        "Input is JSON Lines (one JSON object per line) from --file (- for stdin), or one "
        "JSON object (or array of objects) with --json; it is read whole, then sent in "
        "batches of up to 1000 events. For endless input, use `driftlock stream`.",
    )
    parser.add_argument("--stream", metavar="STREAM", help="stream id (default: the API's)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--json", metavar="JSON", help="one event as JSON, or an array of them")
    source.add_argument("--file", metavar="FILE", help="JSON Lines file, - for stdin")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="json",
        help="how --file is read: JSON Lines, nginx access log, or plain text lines "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first bad line, before sending anything (default: report and skip it)",
    )
    parser.add_argument(
        "--fail-on-anomaly", action="store_true", help="exit with status 1 if anything is found"
    )
    parser.set_defaults(command=_detect)


# --- stream ----------------------------------------------------------------------------------

_END: Final = object()


def _pump(lines: Iterator[tuple[int, str]], into: queue.Queue[object]) -> None:
    """Move stdin's lines into ``into`` (blocking when it is full: backpressure), then the
    exception that stopped the reading if any, then the end marker."""
    try:
        for item in lines:
            into.put(item)
    except Exception as exc:  # handed to the main thread, which reports it
        into.put(exc)
    into.put(_END)


class _Streamer:
    """Batches events from stdin, sends each batch, and reports anomalies as they come."""

    def __init__(self, args: argparse.Namespace, out: Output, client: DriftlockSyncClient) -> None:
        self.args = args
        self.out = out
        self.client = client
        self.stream_id: str = args.stream or "(default)"
        self.events: list[Event] = []
        self.lines: list[int] = []
        self.sent = 0
        self.anomalies = 0
        self.ready: bool | None = None

    def add(self, line: int, event: Event) -> None:
        """Queue one event; a full batch is sent at once."""
        self.events.append(event)
        self.lines.append(line)
        if len(self.events) >= self.args.batch_size:
            self.flush()

    def flush(self) -> None:
        """Send the queued events, if any, and report what they revealed."""
        if not self.events:
            return
        events, lines = self.events, self.lines
        self.events, self.lines = [], []
        result = _send(self.client, self.args.stream, events, lines, self.sent)
        self.sent += len(events)
        self.stream_id = result.stream_id
        self._calibration(result)
        for anomaly in result.anomalies:
            self.anomalies += 1
            self._report(_line_of(lines, anomaly.index), anomaly, result.stream_id)

    def _calibration(self, result: DetectResult) -> None:
        """A note on stderr whenever detection becomes ready (or is not yet, at first)."""
        if not self.out.human or result.detection_ready == self.ready:
            return
        self.ready = result.detection_ready
        if self.ready:
            _note(f"stream {result.stream_id!r}: detection is ready")
        else:
            _note(f"stream {result.stream_id!r}: {result.calibration.message or 'calibrating'}")

    def _report(self, line: int | None, anomaly: Anomaly, stream: str) -> None:
        if not self.out.human:
            self.out.record(anomaly_record(anomaly, line, stream))
            return
        metrics = anomaly.metrics
        where = "-" if line is None else str(line)
        self.out.line(
            f"line {where}: ANOMALY (confidence {number(metrics.confidence_level, 2)}, "
            f"NCD {number(metrics.ncd)}, p {number(metrics.p_value)}): {anomaly.why}",
            style="bold red",
        )


def _stream(args: argparse.Namespace) -> int:
    """Read stdin until it ends, sending a batch when it is full or ``--flush-interval``
    seconds after its first event, whichever comes first."""
    settings = _settings(args)
    out = Output(settings.output.value, sys.stdout)
    parse = parser_for(args.format)
    bad = _BadLines("<stdin>")
    # A bounded queue: when the API is slower than the input, the pipe backs up instead of
    # memory filling up.
    lines: queue.Queue[object] = queue.Queue(maxsize=10 * args.batch_size)
    with closing(settings.client()) as client:
        streamer = _Streamer(args, out, client)
        reader = threading.Thread(
            target=_pump, args=(numbered_lines(sys.stdin), lines), daemon=True, name="stdin"
        )
        reader.start()
        deadline: float | None = None
        try:
            while True:
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    item = lines.get(timeout=wait)
                except queue.Empty:
                    streamer.flush()
                    deadline = None
                    continue
                if item is _END:
                    break
                if isinstance(item, Exception):
                    raise CLIError(f"cannot read stdin: {item}")
                line, text = cast(tuple[int, str], item)
                if not text.strip():
                    continue
                try:
                    event = parse(text)
                except BadLine as exc:
                    if args.strict:
                        streamer.flush()
                    note = "the lines before it were processed"
                    bad.report(line, str(exc), strict=args.strict, sent_note=note)
                    continue
                if deadline is None:
                    deadline = time.monotonic() + args.flush_interval
                streamer.add(line, event)
                if not streamer.events:
                    deadline = None
        except KeyboardInterrupt:
            streamer.flush()  # what was read is not lost to Ctrl-C
            raise
        streamer.flush()
    bad.finish()
    skipped = f", {_count(bad.count, 'bad line')} skipped" if bad.count else ""
    _note(
        f"stream {streamer.stream_id!r}: {_count(streamer.sent, 'event')} sent, "
        f"{_count(streamer.anomalies, 'anomaly', 'anomalies')}{skipped}"
    )
    return EXIT_ANOMALIES if args.fail_on_anomaly and streamer.anomalies else EXIT_OK


def _add_stream(commands: Commands, common: _Parser) -> None:
    parser = commands.add_parser(
        "stream",
        parents=[common],
        help="detect continuously on stdin (e.g. tail -f access.log | driftlock stream)",
        description="Read events from stdin as they come, send them in batches and report "
        "anomalies as they are found; at the end of the input, send what is left and exit. "
        "With --output json or jsonl, each anomaly is one JSON line, printed when found.",
    )
    parser.add_argument("--stream", metavar="STREAM", help="stream id (default: the API's)")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="json",
        help="JSON Lines, nginx access log (combined format), or plain text lines, each "
        'sent as {"text": line} (default: %(default)s)',
    )
    parser.add_argument(
        "--batch-size",
        type=_batch_size,
        default=100,
        metavar="N",
        help="send when N events are waiting, 1 to 1000 (default: %(default)s)",
    )
    parser.add_argument(
        "--flush-interval",
        type=_seconds,
        default=1.0,
        metavar="SECONDS",
        help="send at the latest this long after the first waiting event (default: %(default)s)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first bad line (default: report and skip it)",
    )
    parser.add_argument(
        "--fail-on-anomaly",
        action="store_true",
        help="exit with status 1 at the end if anything was found",
    )
    parser.set_defaults(command=_stream)


# --- history ---------------------------------------------------------------------------------


def _history(args: argparse.Namespace) -> int:
    """List stored anomalies, newest first."""
    settings = _settings(args)
    out = Output(settings.output.value, sys.stdout)
    with closing(settings.client()) as client:
        found = client.anomalies.iter(
            stream_id=args.stream, status=args.status, page_size=min(args.limit, 100)
        )
        records = list(islice(found, args.limit))
    if out.mode == "json":
        out.document({"stream_id": args.stream, "anomalies": [r.to_dict() for r in records]})
    elif out.mode == "jsonl":
        for record in records:
            out.record(record.to_dict())
    elif not records:
        which = f" for stream {args.stream!r}" if args.stream else ""
        status = f" with status {args.status}" if args.status else ""
        out.line(f"No anomalies{which}{status}.")
    else:
        headers = ["DETECTED AT", "STATUS", "CONFIDENCE", "NCD", "P-VALUE", "ID", "EXPLANATION"]
        if not args.stream:
            headers.insert(1, "STREAM")
        rows = []
        for r in records:
            row = [
                r.detected_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
                r.status,
                number(r.confidence, 2),
                number(r.ncd),
                number(r.p_value),
                r.id,
                r.explanation,
            ]
            if not args.stream:
                row.insert(1, r.stream_id)
            rows.append(row)
        out.table(headers, rows)
    return EXIT_OK


def _add_history(commands: Commands, common: _Parser) -> None:
    parser = commands.add_parser(
        "history",
        parents=[common],
        help="list a stream's recent anomalies",
        description="List stored anomalies, newest first.",
    )
    parser.add_argument("--stream", metavar="STREAM", help="only this stream (default: all)")
    parser.add_argument(
        "--limit",
        type=_limit,
        default=20,
        metavar="N",
        help="at most N anomalies (default: %(default)s)",
    )
    parser.add_argument(
        "--status", choices=("open", "acknowledged", "resolved"), help="only with this status"
    )
    parser.set_defaults(command=_history)


# --- config ----------------------------------------------------------------------------------


def _config_key(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    if key == "api_key":
        raise CLIError(
            "the API key is not stored in the config file: set DRIFTLOCK_API_KEY "
            "(or pass --api-key)"
        )
    if key not in FILE_KEYS:
        raise CLIError(f"unknown setting {name!r}: one of {', '.join(FILE_KEYS)}")
    return key


def _config(args: argparse.Namespace) -> int:
    """Show the effective settings, or change the config file."""
    path = config_path(os.environ)
    if args.action in ("set", "unset"):
        key = _config_key(args.key)
        stored = load_config_file(path)
        if args.action == "set":
            stored[key] = parse_setting(key, args.value, key)
            save_config_file(path, stored)
            print(f"{key} = {stored[key]} (saved in {path})")
        elif stored.pop(key, None) is None:
            print(f"{key} was not set in {path}")
        else:
            save_config_file(path, stored)
            print(f"{key} removed from {path}")
        return EXIT_OK
    settings = _settings(args)
    out = Output(settings.output.value, sys.stdout)
    shown = settings.shown()
    exists = path.is_file()
    if out.mode == "json":
        out.document(
            {
                "settings": {s.name: {"value": s.value, "source": s.source} for s in shown},
                "config_file": str(path),
                "config_file_exists": exists,
            }
        )
    elif out.mode == "jsonl":
        for s in shown:
            out.record({"setting": s.name, "value": s.value, "source": s.source})
    else:
        out.table(
            ["SETTING", "VALUE", "SOURCE"],
            [[s.name, "(not set)" if s.value is None else str(s.value), s.source] for s in shown],
        )
        out.line(f"Config file: {path}{'' if exists else ' (none yet)'}")
    return EXIT_OK


def _add_config(commands: Commands, common: _Parser) -> None:
    parser = commands.add_parser(
        "config",
        parents=[common],
        help="show the effective settings, or store defaults",
        description="Without an action (or with `show`): the effective settings and where "
        "each comes from: argument, environment (DRIFTLOCK_*), config file or default; the "
        "API key masked. `set KEY VALUE` and `unset KEY` change the config file, "
        "$XDG_CONFIG_HOME/driftlock/config.json (by default ~/.config/driftlock/config.json), "
        f"whose settings come after arguments and environment (keys: {', '.join(FILE_KEYS)}; "
        "the API key is never stored).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("show", parents=[common], help="the effective settings (the default)")
    set_parser = actions.add_parser("set", help="store a default in the config file")
    set_parser.add_argument("key", metavar="KEY", help=", ".join(FILE_KEYS))
    set_parser.add_argument("value", metavar="VALUE")
    unset_parser = actions.add_parser("unset", help="remove a default from the config file")
    unset_parser.add_argument("key", metavar="KEY", help=", ".join(FILE_KEYS))
    parser.set_defaults(command=_config)


# --- serve -----------------------------------------------------------------------------------


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


def _add_serve(commands: Commands) -> None:
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
    common = _common_options()
    parser = _Parser(
        prog="driftlock",
        description="Driftlock command line: detect anomalies in events and logs.",
        epilog="Exit status: 0 success, 1 anomalies found with --fail-on-anomaly, 2 usage, "
        "input or configuration error, 3 API error, 4 internal error.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_detect(commands, common)
    _add_stream(commands, common)
    _add_history(commands, common)
    _add_config(commands, common)
    _add_serve(commands)
    return parser


@contextmanager
def _debug_logging(enabled: bool) -> Iterator[None]:
    """With --debug, the SDK's log (each request, each retry) on stderr for the command."""
    if not enabled:
        yield
        return
    logger = logging.getLogger("driftlock")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _fail(message: str, code: int, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    _note(message)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: report, don't exit
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    command: Command | None = getattr(args, "command", None)
    if command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    debug: bool = getattr(args, "debug", False)
    try:
        with _debug_logging(debug):
            return command(args)
    except CLIError as exc:
        return _fail(str(exc), exc.code, debug)
    except (DriftlockConfigError, DriftlockValidationError) as exc:
        return _fail(str(exc), EXIT_USAGE, debug)
    except DriftlockError as exc:
        return _fail(str(exc), EXIT_API, debug)
    except ImportError as exc:  # an optional dependency (e.g. the engine for local://)
        return _fail(str(exc), EXIT_USAGE, debug)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED, debug)
    except BrokenPipeError:
        # The reader went away (`driftlock history | head`): stop quietly, and point stdout
        # at /dev/null so that Python's own flush at exit does not complain either.
        with suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        hint = "" if debug else " (run with --debug for the traceback)"
        return _fail(f"internal error: {type(exc).__name__}: {exc}{hint}", EXIT_INTERNAL, debug)
