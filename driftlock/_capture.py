"""Framework-free request capture: options, the ``http_request`` event, exclusion, redaction.

Every web integration (ASGI now, WSGI and Django next) turns a finished request into the same
event through :class:`Capture`. The adapters only know how to read their framework's request and
response; what is captured, what is left out and what is redacted is decided here, once.

Cost matters: this runs on the request path of the host application. By default a finished
request leaves only a small tuple (:data:`Record`); the sender writes the event's JSON straight
from it, and only for events it sends (a full queue drops records, not dicts). Events are built on
the request path only when something needs them there: an ``event_hook``, or an opt-in body or
header capture. JSON work (serialisation, validation) is always left to the sender.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _json_string
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from driftlock._config import Secret
from driftlock._events import (
    MAX_EVENT_DEPTH,
    EncodedEvents,
    encode_event,
    fits_one_request,
)
from driftlock.exceptions import DriftlockConfigError, DriftlockValidationError

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_STREAM_ID",
    "REDACTED",
    "BodyCapture",
    "Capture",
    "CaptureOptions",
    "Event",
    "EventHook",
    "InvalidOptionError",
    "LogLimiter",
    "Record",
    "check_int",
    "check_seconds",
    "is_sensitive_name",
    "query_keys",
    "redact",
]

logger = logging.getLogger("driftlock")

Event = dict[str, Any]
"""One captured event: ``{"type": ..., "timestamp": ..., "body": {...}}``."""

Record = tuple[Any, ...]
"""A finished request's values in the order of :meth:`Capture.record`'s parameters.

Queued instead of an event when nothing needs the event on the request path: a tuple of
plain values is cheap to make and, unlike a dict of lists, drops out of the garbage
collector's view, so a full queue does not make the app's collections slower. The sender
encodes them (:meth:`Capture.prepare`), and only what it sends.
"""

EventHook = Callable[[Event], Event | None]
"""Called with each event before it is queued; returns it (changed or not) or None to drop it."""

DEFAULT_STREAM_ID = "http-requests"
DEFAULT_MAX_BODY_BYTES = 16 * 1024
REDACTED = "[REDACTED]"

# Matched inside normalised names (lower case, without "-" and "_"), so "client_secret",
# "X-Api-Key" and "Set-Cookie" are all caught.
_SENSITIVE_FRAGMENTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "cookie",
    "session",
    "csrf",
    "xsrf",
    "creditcard",
    "cardnumber",
    "privatekey",
    "accesskey",
    "signature",
)
# Too short to match inside other words ("author", "spinner"): whole names only.
_SENSITIVE_NAMES = frozenset({"pwd", "pin", "cvv", "cvc", "ssn", "auth", "iban"})

_JSON_TYPE = "application/json"
_FORM_TYPE = "application/x-www-form-urlencoded"


class InvalidOptionError(DriftlockConfigError, ValueError):
    """An integration option has an invalid value; ``option`` names it.

    Both a :class:`~driftlock.exceptions.DriftlockConfigError` and a ``ValueError``, so either
    ``except`` clause catches it.
    """

    def __init__(self, option: str, message: str) -> None:
        self.option = option
        super().__init__(message)


def _normalise_name(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def is_sensitive_name(name: str, extra: frozenset[str] = frozenset()) -> bool:
    """Whether a field or header called ``name`` holds a secret and must be redacted.

    ``extra`` holds further names, already normalised (lower case, no ``-`` or ``_``), matched
    whole.
    """
    norm = _normalise_name(name)
    if norm in _SENSITIVE_NAMES or norm in extra:
        return True
    return any(fragment in norm for fragment in _SENSITIVE_FRAGMENTS)


def redact(value: Any, extra: frozenset[str] = frozenset()) -> Any:
    """A copy of ``value`` (JSON-like data) with the values of sensitive keys replaced."""
    if isinstance(value, dict):
        return {
            key: REDACTED
            if isinstance(key, str) and is_sensitive_name(key, extra)
            else redact(item, extra)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item, extra) for item in value]
    return value


def query_keys(query_string: str | bytes) -> list[str]:
    """The distinct parameter names of a query string, sorted; values are never kept."""
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    keys: set[str] = set()
    for part in query_string.split("&"):
        if not part:
            continue
        key = part.partition("=")[0]
        if "%" in key or "+" in key:
            key = unquote_plus(key)
        keys.add(key)
    return sorted(keys)


class LogLimiter:
    """At most one log record per key and interval; the records in between are counted.

    Used for everything a middleware logs while the host application runs (drops, delivery
    failures, hook errors), so that an outage of Driftlock does not flood the application's logs.
    """

    def __init__(self, interval: float = 60.0, *, secrets: Sequence[str] = ()) -> None:
        self._interval = interval
        self._next: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        # Short strings would mangle ordinary words; real keys are long. Kept as Secret, whose
        # repr masks it: a log record rendered with the stack's locals shows this frame's.
        self._secrets = tuple(Secret(s) for s in secrets if len(s) >= 8)

    def allows(self, key: str) -> bool:
        """Whether a record for ``key`` would be logged now; when not, it is counted as
        suppressed. Cheaper than :meth:`log` for callers that would otherwise build a record
        in a flood (a full queue drops every request)."""
        if time.monotonic() < self._next.get(key, 0.0):
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        return True

    def log(
        self, key: str, level: int, message: str, *args: object, exc: BaseException | None = None
    ) -> None:
        """Log ``message % args`` unless ``key`` was logged less than ``interval`` ago."""
        now = time.monotonic()
        if now < self._next.get(key, 0.0):
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._next[key] = now + self._interval
        suppressed = self._suppressed.pop(key, 0)
        text = message % args if args else message
        if exc is not None:
            text = f"{text}: {type(exc).__name__}: {exc}"
        if suppressed:
            text = f"{text} ({suppressed} similar messages suppressed)"
        for secret in self._secrets:
            text = text.replace(secret, "***")
        logger.log(level, "%s", text)


def check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` if it is an integer within ``[low, high]``, else :class:`InvalidOptionError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidOptionError(name, f"{name} must be an integer >= {low}, got {value!r}")
    if high is not None and value > high:
        raise InvalidOptionError(name, f"{name} must be at most {high}, got {value!r}")
    return value


def check_seconds(name: str, value: object) -> float:
    """``value`` if it is a positive, finite number of seconds, else :class:`InvalidOptionError`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value < float("inf")
    ):
        raise InvalidOptionError(
            name, f"{name} must be a positive number of seconds, got {value!r}"
        )
    return float(value)


def _normalise_exclusions(paths: object) -> tuple[str, ...]:
    if isinstance(paths, str | bytes) or not isinstance(paths, Iterable):
        raise InvalidOptionError(
            "exclude_paths",
            f"exclude_paths must be a list of paths such as ['/docs'], got {paths!r}",
        )
    result: list[str] = []
    for path in paths:
        if not isinstance(path, str) or not path.startswith("/"):
            raise InvalidOptionError(
                "exclude_paths",
                f"exclude_paths entries must be strings starting with '/', got {path!r}",
            )
        # "/docs/" and "/docs" mean the same subtree; "/" stays "/" (the root page only).
        result.append(path.rstrip("/") or "/")
    return tuple(dict.fromkeys(result))


@dataclass(frozen=True, slots=True)
class CaptureOptions:
    """What a middleware captures, validated at construction (errors name the option).

    - ``stream_id``: the Driftlock stream receiving the events (default: env
      ``DRIFTLOCK_STREAM_ID``, else ``"http-requests"``).
    - ``exclude_paths``: paths never captured, each excluding itself and everything below it on
      a segment boundary (``/docs`` excludes ``/docs/oauth2-redirect``, not ``/docsearch``);
      ``/`` excludes only the root page.
    - ``sample_rate``: share of requests captured, 0 to 1.
    - ``capture_body``: copy JSON and form request bodies as the app reads them, up to
      ``max_body_bytes``, with sensitive fields redacted.
    - ``redact_fields``: field names redacted in addition to the built-in ones (passwords,
      tokens, secrets, API keys, cookies, card numbers, ...), matched whole, ignoring case,
      ``-`` and ``_``.
    - ``capture_headers``: header names whose values are captured (``True``: all); sensitive
      ones (``Authorization``, ``Cookie``, ``Set-Cookie``, ``X-Api-Key``, ...) are redacted.
    - ``capture_client``: include the client's address.
    - ``event_hook``: ``hook(event) -> event | None`` called before an event is queued.
    """

    stream_id: str | None = None
    exclude_paths: Sequence[str] = ()
    sample_rate: float = 1.0
    capture_body: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    redact_fields: Sequence[str] = ()
    capture_headers: bool | Sequence[str] = False
    capture_client: bool = False
    event_hook: EventHook | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        stream_id = self.stream_id
        if stream_id is None:
            stream_id = os.environ.get("DRIFTLOCK_STREAM_ID") or DEFAULT_STREAM_ID
        if not isinstance(stream_id, str) or not stream_id.strip():
            raise InvalidOptionError(
                "stream_id", f"stream_id must be a non-empty string, got {stream_id!r}"
            )
        object.__setattr__(self, "stream_id", stream_id)
        object.__setattr__(self, "exclude_paths", _normalise_exclusions(self.exclude_paths))
        rate = self.sample_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
            raise InvalidOptionError(
                "sample_rate", f"sample_rate must be between 0 and 1, got {rate!r}"
            )
        object.__setattr__(self, "sample_rate", float(rate))
        for name in ("capture_body", "capture_client"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidOptionError(name, f"{name} must be True or False")
        check_int("max_body_bytes", self.max_body_bytes, 1)
        fields = self.redact_fields
        if isinstance(fields, str) or not all(isinstance(f, str) and f for f in fields):
            raise InvalidOptionError(
                "redact_fields", f"redact_fields must be a list of field names, got {fields!r}"
            )
        object.__setattr__(self, "redact_fields", tuple(fields))
        headers = self.capture_headers
        if not isinstance(headers, bool):
            if isinstance(headers, str) or not all(isinstance(h, str) and h for h in headers):
                raise InvalidOptionError(
                    "capture_headers",
                    f"capture_headers must be True, False or a list of header names, "
                    f"got {headers!r}",
                )
            object.__setattr__(self, "capture_headers", tuple(h.lower() for h in headers))
        if self.event_hook is not None and not callable(self.event_hook):
            raise InvalidOptionError("event_hook", "event_hook must be callable or None")


class BodyCapture:
    """A request body copied chunk by chunk as the application reads it, up to a cap.

    Nothing is read on the application's behalf: a body the app never reads is never captured.
    """

    __slots__ = ("_chunks", "_limit", "_size", "truncated")

    def __init__(self, limit: int) -> None:
        self._chunks: list[bytes] = []
        self._limit = limit
        self._size = 0
        self.truncated = False

    def feed(self, chunk: bytes) -> None:
        """Copy one chunk the application just received."""
        if self.truncated or not chunk:
            return
        self._size += len(chunk)
        if self._size > self._limit:
            # A partial JSON or form body cannot be parsed: keep nothing, say why.
            self.truncated = True
            self._chunks.clear()
        else:
            self._chunks.append(bytes(chunk))

    def parse(self, content_type: str) -> Any:
        """The body as JSON-like data for a JSON or form ``content_type``, else None."""
        if self.truncated or not self._chunks:
            return None
        media = content_type.partition(";")[0].strip().lower()
        raw = b"".join(self._chunks)
        try:
            if media == _JSON_TYPE or (
                media.startswith("application/") and media.endswith("+json")
            ):
                parsed = json.loads(raw)
                # The body sits three levels down in its event (event, body, request_body):
                # deeper nesting could not be sent, and redacting it could exhaust the stack.
                return None if _nested_deeper(parsed, MAX_EVENT_DEPTH - 2) else parsed
            if media == _FORM_TYPE:
                form: dict[str, Any] = {}
                for key, value in parse_qsl(raw.decode("utf-8"), keep_blank_values=True):
                    previous = form.get(key)
                    if previous is None:
                        form[key] = value
                    elif isinstance(previous, list):
                        previous.append(value)
                    else:
                        form[key] = [previous, value]
                return form
        except (ValueError, RecursionError):  # invalid JSON or text, absurd nesting: the app
            return None  # answers it; the event just omits it
        return None


def _nested_deeper(value: Any, limit: int) -> bool:
    """Whether parsed JSON nests objects and arrays more than ``limit`` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is dict:
            children: Iterable[Any] = item.values()
        elif kind is list:
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _milliseconds(seconds: float) -> float:
    """A duration in milliseconds, rounded to the microsecond."""
    return int(seconds * 1_000_000 + 0.5) / 1000


_iso_cache: tuple[int, str] = (-1, "")


def _iso_utc(wall: float) -> str:
    """ISO-8601 UTC with milliseconds; the date part is cached per second (it is 0.6 us)."""
    global _iso_cache
    second = int(wall)
    cached_second, prefix = _iso_cache
    if second != cached_second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _iso_cache = (second, prefix)
    return f"{prefix}.{int((wall - second) * 1000):03d}Z"


class Capture:
    """The compiled form of :class:`CaptureOptions`, shared by every framework adapter.

    Adapters call :meth:`wants` when a request starts; when it ends, :meth:`record` (queued
    as is), or, when :attr:`eager`, :meth:`build_event` and :meth:`finish` (the hook). The
    sender turns queued records into events with :meth:`prepare`.
    """

    __slots__ = (
        "_exact",
        "_extra_redact",
        "_header_filter",
        "_hook",
        "_log",
        "_prefixes",
        "_rate",
        "capture_body",
        "capture_client",
        "max_body_bytes",
        "options",
        "stream_id",
    )

    def __init__(self, options: CaptureOptions, *, log: LogLimiter | None = None) -> None:
        self.options = options
        self.stream_id: str = options.stream_id or DEFAULT_STREAM_ID
        excluded = tuple(options.exclude_paths)
        self._exact = frozenset(excluded)
        self._prefixes = tuple(p + "/" for p in excluded if p != "/")
        self._rate = options.sample_rate
        self.capture_body = options.capture_body
        self.capture_client = options.capture_client
        self.max_body_bytes = options.max_body_bytes
        self._extra_redact = frozenset(_normalise_name(f) for f in options.redact_fields)
        headers = options.capture_headers
        self._header_filter: frozenset[str] | bool = (
            headers if isinstance(headers, bool) else frozenset(headers)
        )
        self._hook = options.event_hook
        self._log = log or LogLimiter()

    @property
    def captures_headers(self) -> bool:
        """Whether any header values are captured (adapters skip decoding them otherwise)."""
        return bool(self._header_filter)

    def excluded(self, path: str) -> bool:
        """Whether ``path`` is excluded: equal to an entry, or below one on a segment boundary."""
        return path in self._exact or path.startswith(self._prefixes)

    @property
    def path_filter(self) -> Callable[[str], bool] | None:
        """:meth:`wants`, or None when it says yes to every path (nothing excluded or sampled
        out): adapters keep it at setup and skip the call per request when it is None."""
        return None if not self._exact and self._rate >= 1.0 else self.wants

    def wants(self, path: str) -> bool:
        """Whether a request for ``path`` is captured (not excluded, and sampled in)."""
        if path in self._exact or path.startswith(self._prefixes):
            return False
        return self._rate >= 1.0 or random.random() < self._rate

    def headers(self, pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
        """The captured headers among ``pairs`` (lower-case names), sensitive values redacted."""
        wanted = self._header_filter
        extra = self._extra_redact
        result: dict[str, str] = {}
        for name, value in pairs:
            name = name.lower()
            if wanted is True or (not isinstance(wanted, bool) and name in wanted):
                value = REDACTED if is_sensitive_name(name, extra) else value
                previous = result.get(name)
                result[name] = value if previous is None else f"{previous}, {value}"
        return result

    def redact(self, value: Any) -> Any:
        """``value`` with sensitive fields (built-in and configured) redacted."""
        return redact(value, self._extra_redact)

    @property
    def eager(self) -> bool:
        """Whether events must be built on the request path (a hook to call, a body or headers
        to copy); otherwise adapters queue a compact :data:`Record` and the sender builds it."""
        return self._hook is not None or self.capture_body or bool(self._header_filter)

    @staticmethod
    def record(
        wall_start: float,
        method: str,
        route: str | None,
        path: str,
        status_code: int,
        duration: float,
        ttfb: float | None,
        request_bytes: int,
        response_bytes: int,
        user_agent: str | None,
        query_string: str | bytes,
        client: str | None,
        context: Mapping[str, Any] | None,
        exception: str | None,
    ) -> Record:
        """What a finished request leaves behind until its event is built (see :data:`Record`).

        Durations in seconds; ``exception`` is the name of the exception the app raised.
        """
        return (
            wall_start,
            method,
            route,
            path,
            status_code,
            duration,
            ttfb,
            request_bytes,
            response_bytes,
            user_agent,
            query_string,
            client,
            context,
            exception,
        )

    def event(self, record: Record) -> Event:
        """The ``http_request`` event of ``record``; durations reported in milliseconds.

        The context (what the handler put in e.g. ``request.state.driftlock_context``) adds
        fields to the body; it never replaces the captured ones.
        """
        (
            wall_start,
            method,
            route,
            path,
            status_code,
            duration,
            ttfb,
            request_bytes,
            response_bytes,
            user_agent,
            query_string,
            client,
            context,
            exception,
        ) = record
        data: dict[str, Any] = {
            "method": method,
            "route": route,
            "path": path,
            "status_code": status_code,
            "duration_ms": _milliseconds(duration),
            "ttfb_ms": None if ttfb is None else _milliseconds(ttfb),
            "request_bytes": request_bytes,
            "response_bytes": response_bytes,
            "user_agent": user_agent,
            "query_keys": query_keys(query_string) if query_string else [],
        }
        if client is not None and self.capture_client:
            data["client"] = client
        if exception is not None:
            data["exception"] = exception
        if context:
            try:
                for key, value in context.items():
                    if key not in data:
                        data[key] = value
            except Exception as exc:  # a user's odd context object must not cost the event
                self._log.log("context", logging.WARNING, "Ignoring driftlock_context", exc=exc)
        return {"type": "http_request", "timestamp": _iso_utc(wall_start), "body": data}

    def build_event(
        self,
        record: Record,
        *,
        body: BodyCapture | None = None,
        content_type: str = "",
        request_headers: Iterable[tuple[str, str]] | None = None,
        response_headers: Iterable[tuple[str, str]] | None = None,
    ) -> Event:
        """The event of ``record`` with the opt-in parts: the request body (parsed for a JSON
        or form ``content_type``, redacted) and the captured headers (redacted)."""
        event = self.event(record)
        data = event["body"]
        if body is not None:
            if body.truncated:
                data["request_body_truncated"] = True
            else:
                parsed = body.parse(content_type)
                if parsed is not None:
                    data["request_body"] = self.redact(parsed)
        if request_headers is not None:
            data["request_headers"] = self.headers(request_headers)
        if response_headers is not None:
            data["response_headers"] = self.headers(response_headers)
        return event

    def prepare(self, items: list[Event | Record]) -> list[Any]:
        """What the sender sends for a batch of queued items: their encoding as one JSON
        array, made straight from the records where it can be, so that no event dict is built
        (:class:`~driftlock._events.EncodedEvents`, whose items are the queued ones: a batch
        can go back to the queue as it came).

        When an item cannot be encoded this way (an odd value in a handler's context or from
        the ``event_hook``), or the batch would not fit in one request, the events themselves
        are returned: the client then converts, reports or splits them as for any events.
        """
        envelope = {"stream_id": self.stream_id}
        try:
            texts = [self._encode(item, index) for index, item in enumerate(items)]
            encoded = f"[{','.join(texts)}]".encode()
        except (DriftlockValidationError, ValueError, TypeError):
            # Also what JSON text cannot carry (a lone surrogate), and a value of an odd type
            # for the direct writer (a method of None): the event path handles both.
            encoded = None
        if encoded is None or not fits_one_request(encoded, envelope):
            event = self.event
            return [item if type(item) is dict else event(item) for item in items]  # type: ignore[arg-type]
        return EncodedEvents(items, encoded, {}, b"}")

    def _encode(self, item: Event | Record, index: int) -> str:
        """One queued item as JSON text; a record without context is written directly (as
        :func:`~driftlock._events.encode_json` would write its event, at a third of the
        cost)."""
        if isinstance(item, dict):
            return encode_event(item, index)
        (
            wall_start,
            method,
            route,
            path,
            status_code,
            duration,
            ttfb,
            request_bytes,
            response_bytes,
            user_agent,
            query_string,
            client,
            context,
            exception,
        ) = item
        if context:
            return encode_event(self.event(item), index)
        text = _json_string
        ttfb_ms = "null" if ttfb is None else repr(_milliseconds(ttfb))
        keys = ",".join(map(text, query_keys(query_string))) if query_string else ""
        extra = ""
        if client is not None and self.capture_client:
            extra = f',"client":{text(client)}'
        if exception is not None:
            extra += f',"exception":{text(exception)}'
        return (
            f'{{"type":"http_request","timestamp":"{_iso_utc(wall_start)}",'
            f'"body":{{"method":{text(method)},'
            f'"route":{"null" if route is None else text(route)},"path":{text(path)},'
            f'"status_code":{status_code},'
            f'"duration_ms":{_milliseconds(duration)!r},"ttfb_ms":{ttfb_ms},'
            f'"request_bytes":{request_bytes:d},"response_bytes":{response_bytes:d},'
            f'"user_agent":{"null" if user_agent is None else text(user_agent)},'
            f'"query_keys":[{keys}]{extra}}}}}'
        )

    def finish(self, event: Event) -> Event | None:
        """Run the ``event_hook``: the event to queue, or None when the hook drops it or fails."""
        hook = self._hook
        if hook is None:
            return event
        try:
            result = hook(event)
        except Exception as exc:
            self._log.log("event_hook", logging.ERROR, "event_hook raised; event dropped", exc=exc)
            return None
        if result is not None and not isinstance(result, dict):
            self._log.log(
                "event_hook_type",
                logging.ERROR,
                "event_hook must return a dict or None, got %s; event dropped",
                type(result).__name__,
            )
            return None
        return result
