"""Reading the command line's input: numbered lines, parsed into events by format.

Formats: ``json`` (JSON Lines: one JSON object per line), ``nginx`` (the combined log format,
or the common one without referer and user agent) and ``text`` (any line, as
``{"text": line}``). A line that cannot become an event raises :class:`BadLine` with the reason;
blank lines are skipped silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import IO, Any, Final

from driftlock._events import Event, normalize_event
from driftlock.exceptions import DriftlockValidationError

__all__ = [
    "FORMATS",
    "BadLine",
    "checked_event",
    "numbered_lines",
    "parse_json_line",
    "parse_json_value",
    "parse_nginx_line",
    "parse_text_line",
    "parser_for",
]

FORMATS: Final = ("json", "nginx", "text")


class BadLine(Exception):
    """A line that cannot become an event; the message says why."""


def numbered_lines(source: IO[str] | IO[bytes] | Iterable[Any]) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` for each line of ``source``, numbered from 1, without the line
    ending. Bytes are decoded line by line, invalid UTF-8 kept as lone surrogates
    (``surrogateescape``): each parser decides what such a line is worth."""
    buffer = getattr(source, "buffer", None)
    lines: Iterable[str | bytes] = buffer if buffer is not None else source
    for number, line in enumerate(lines, 1):
        text = line.decode("utf-8", "surrogateescape") if isinstance(line, bytes) else line
        if number == 1:
            text = text.removeprefix("\ufeff")  # a byte-order mark from Windows editors
        yield number, text.rstrip("\r\n")


def _is_utf8(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _repaired(text: str) -> str:
    """``text`` with undecodable bytes as U+FFFD (for logs, where the rest still counts)."""
    if _is_utf8(text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (use null for a missing number)")


def parse_json_value(text: str) -> Any:
    """Decode JSON strictly: no NaN or Infinity. Raises ValueError."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:  # its own "line 1" would mislead: the line is ours
        raise ValueError(f"{exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


def checked_event(value: Any) -> Event:
    """``value`` as an event the API accepts, or :class:`BadLine` saying why not."""
    if not isinstance(value, dict):
        kind = "a list" if isinstance(value, list) else f"a JSON {_json_type(value)}"
        raise BadLine(
            f'expected a JSON object, got {kind} (plain text goes in as {{"text": ...}}, '
            "or use --format text)"
        )
    try:
        return normalize_event(value)
    except DriftlockValidationError as exc:
        where = f"field {exc.field_path}: " if exc.field_path else ""
        raise BadLine(f"{where}{exc.reason}") from None


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


def parse_json_line(text: str) -> Event:
    """One JSON Lines line as an event."""
    if not _is_utf8(text):
        raise BadLine("not valid UTF-8")
    try:
        value = parse_json_value(text)
    except ValueError as exc:
        raise BadLine(f"invalid JSON: {exc}") from None
    return checked_event(value)


def parse_text_line(text: str) -> Event:
    """Any line, as ``{"text": line}``."""
    return {"text": _repaired(text)}


def _quoted(name: str) -> str:
    """A double-quoted nginx field (nginx escapes quotes inside as ``\\x22``)."""
    return rf'"(?P<{name}>(?:[^"\\]|\\.)*)"'


_NGINX = re.compile(
    r"(?P<remote_addr>\S+) \S+ (?P<remote_user>\S+) \[(?P<time_local>[^\]]*)\] "
    rf"{_quoted('request')} (?P<status>\d{{3}}) (?P<body_bytes_sent>\d+|-)"
    rf"(?: {_quoted('http_referer')} {_quoted('http_user_agent')})?(?P<extra>.*)"
)
_REQUEST = re.compile(r"(?P<method>[A-Za-z]+) (?P<path>\S+)(?: (?P<protocol>\S+))?")
_TIME = re.compile(r"(\d{2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})")
# Month names by hand: strptime's %b follows the locale, nginx's do not.
_MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


def _nginx_time(text: str) -> str:
    """``10/Oct/2000:13:55:36 -0700`` as ISO 8601; the text as it is when it is not that."""
    match = _TIME.fullmatch(text)
    if match is None:
        return text
    day, name, year, hour, minute, second, sign, off_h, off_m = match.groups()
    month = _MONTHS.get(name.lower())
    if month is None:
        return text
    offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (-1 if sign == "-" else 1)
    try:
        moment = datetime(
            int(year), month, int(day), int(hour), int(minute), int(second),
            tzinfo=timezone(offset),
        )  # fmt: skip
    except ValueError:
        return text
    return moment.isoformat().replace("+00:00", "Z")


def parse_nginx_line(text: str) -> Event:
    """One line of nginx's combined (or common) log format as an event named after nginx's
    variables. A request line that is not ``METHOD PATH PROTOCOL`` (a TLS handshake sent to
    a plain-HTTP port, a scanner's garbage) is kept whole as ``request``: it is often the
    interesting part."""
    match = _NGINX.fullmatch(_repaired(text))
    if match is None:
        raise BadLine("not in nginx's combined log format")
    request, referer, agent = match["request"], match["http_referer"], match["http_user_agent"]
    event: Event = {
        "remote_addr": match["remote_addr"],
        "remote_user": None if match["remote_user"] == "-" else match["remote_user"],
        "time": _nginx_time(match["time_local"]),
    }
    parts = _REQUEST.fullmatch(request)
    if parts is not None:
        event["method"], event["path"] = parts["method"], parts["path"]
        if parts["protocol"]:
            event["protocol"] = parts["protocol"]
    else:
        event["request"] = request
    event["status"] = int(match["status"])
    sent = match["body_bytes_sent"]
    event["body_bytes_sent"] = 0 if sent == "-" else int(sent)
    if referer is not None:
        event["http_referer"] = None if referer == "-" else referer
        event["http_user_agent"] = None if agent == "-" else agent
    extra = match["extra"].strip()
    if extra:  # custom formats append fields such as $request_time: keep them
        event["extra"] = extra
    return event


_PARSERS: Final[dict[str, Callable[[str], Event]]] = {
    "json": parse_json_line,
    "nginx": parse_nginx_line,
    "text": parse_text_line,
}


def parser_for(fmt: str) -> Callable[[str], Event]:
    """The line parser for the format ``fmt`` (one of :data:`FORMATS`)."""
    return _PARSERS[fmt]
