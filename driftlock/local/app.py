"""The embedded engine's HTTP API: one framework-free dispatcher under a pure ASGI adapter.

:meth:`DriftlockApp.handle` takes a request as plain values and returns a :class:`Response`;
``driftlock serve`` reaches it through the ASGI ``__call__`` and the ``local://`` transports
call it directly, so both speak exactly the same API without a socket or an event-loop hop in
the in-process case.

Every request is checked in a fixed order: route and method (404, 405), API key (401), rate
limit (429), body size (413), then the body itself (400). A request refused at any step ingests
nothing. Every error is the API's envelope ``{"error": {"code", "message", "request_id"}}``
and every response carries ``X-Request-Id``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl, quote, unquote

import anyio.to_thread

from driftlock._config import Secret, mask_secret
from driftlock.local.engine import (
    DEMO_LIMIT_PER_MINUTE,
    DEMO_MAX_EVENTS,
    Engine,
    EngineError,
)

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_EVENTS",
    "ApiError",
    "DriftlockApp",
    "RateLimiter",
    "RequestHeaders",
    "Response",
    "create_app",
]

logger = logging.getLogger("driftlock.local")

MAX_BODY_BYTES: Final = 10 * 1024 * 1024
MAX_EVENTS: Final = 1000
# Deeper events are refused up front: redaction and serialisation walk events recursively.
MAX_EVENT_DEPTH: Final = 100
_MAX_IDEMPOTENCY_KEY: Final = 255

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_OVERRIDE_INTS: Final = {
    "baseline_size": (10, 10_000),
    "window_size": (5, 1_000),
    "hop_size": (1, None),
    "permutation_count": (100, 10_000),
}
_OVERRIDE_NUMBERS: Final = {"ncd_threshold": (0.0, 1.0), "p_value_threshold": (0.0, 1.0)}
_COMPRESSORS: Final = ("zstd", "lz4", "gzip", "zlab", "openzl")
_ANOMALY_STATUSES: Final = ("open", "acknowledged", "resolved")
_EXPORT_FORMATS: Final = ("json", "pdf", "markdown")
_FEEDBACK_TYPES: Final = ("false_positive", "confirmed", "dismissed")
_PROFILE_NAMES: Final = ("sensitive", "balanced", "strict", "custom")
_LIST_PARAMETERS: Final = frozenset({"stream_id", "from", "to", "status", "limit", "offset"})
_JSON_TYPES: Final = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


@dataclass(frozen=True, slots=True)
class Response:
    """A finished response: status, header pairs and the encoded body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class ApiError(Exception):
    """A refusal with its HTTP status, the API's error code, and extra response headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.headers = dict(headers or {})


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_argument", message)


class RateLimiter:
    """At most ``limit`` requests per ``period`` seconds per key (GCRA: O(1) state per key).

    A full burst of ``limit`` requests is allowed at once; after that, one more each
    ``period / limit`` seconds.
    """

    def __init__(
        self, limit: int, period: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a rate limit needs a positive count and period")
        self.limit = limit
        self.period = period
        self._interval = period / limit
        self._clock = clock
        self._due: dict[str, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def parse(cls, text: str) -> RateLimiter:
        """Build from ``"N/minute"`` or ``"N/second"`` (also ``N/min``, ``N/s``, ``N/hour``)."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(second|sec|s|minute|min|m|hour|h)\s*", text)
        if match is None or int(match.group(1)) < 1:
            raise ValueError(f"rate limit must look like '60/minute' or '5/second', got {text!r}")
        unit = match.group(2)
        period = 1.0 if unit.startswith("s") else 3600.0 if unit.startswith("h") else 60.0
        return cls(int(match.group(1)), period)

    def acquire(self, key: str) -> tuple[bool, int, float]:
        """Take one request for ``key``: (allowed, remaining now, seconds to wait if refused)."""
        with self._lock:
            now = self._clock()
            due = max(self._due.get(key, now), now) + self._interval
            if due - now > self.period + 1e-9:
                return False, 0, due - self.period - now
            self._due[key] = due
            if len(self._due) > 10_000:
                # Keys whose budget is full again carry no information: forget them.
                self._due = {k: v for k, v in self._due.items() if v > now}
            return True, int((self.period - (due - now)) / self._interval + 1e-9), 0.0


class RequestHeaders(dict[str, str]):
    """A request's headers (lower-case names) whose repr masks the API key: the engine logs an
    unexpected failure with its traceback, and a traceback rendered with each frame's locals
    (an error tracker's) would otherwise show the caller's key."""

    __slots__ = ()

    def __repr__(self) -> str:
        shown = {
            name: mask_secret(value) if name == "x-api-key" else value
            for name, value in self.items()
        }
        return repr(shown)


@dataclass(slots=True)
class _Call:
    """One request as the handlers see it."""

    method: str
    params: tuple[str, ...]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    client: str
    request_id: str
    api_key: str = ""
    extra_headers: dict[str, str] = field(default_factory=dict)


_Handler = Callable[[_Call], tuple[int, Any]]


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    segments: tuple[str | None, ...]  # None matches one path segment (a parameter)
    handler: _Handler
    public: bool = False
    rate_limited: bool = True  # whether 429 is documented for the operation


def _segments(pattern: str) -> tuple[str | None, ...]:
    return tuple(None if s.startswith("{") else s for s in pattern.strip("/").split("/"))


class DriftlockApp:
    """The Driftlock API over an :class:`Engine`, as an ASGI app and a direct dispatcher.

    ``api_key``: when set, only that key is accepted; otherwise any non-empty ``X-Api-Key``.
    ``rate_limit``: ``"N/minute"`` or ``"N/second"`` per API key. The demo endpoint always has
    its own limit of 10 requests per minute per client address.
    """

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        api_key: str | None = None,
        rate_limit: str | None = None,
    ) -> None:
        self.engine = engine if engine is not None else Engine()
        self._api_key = api_key.encode() if api_key else None
        self._limiter = RateLimiter.parse(rate_limit) if rate_limit else None
        self._demo_limiter = RateLimiter(DEMO_LIMIT_PER_MINUTE, 60.0)
        routes = [
            ("GET", "/healthz", self._health, {"public": True, "rate_limited": False}),
            ("GET", "/readyz", self._ready, {"public": True, "rate_limited": False}),
            (
                "POST",
                "/v1/demo/detect",
                self._demo_detect,
                {"public": True, "rate_limited": False},
            ),
            ("POST", "/v1/detect", self._detect, {}),
            ("GET", "/v1/anomalies", self._list_anomalies, {}),
            ("POST", "/v1/anomalies/export", self._export_anomalies, {}),
            ("GET", "/v1/anomalies/{id}", self._get_anomaly, {}),
            ("POST", "/v1/anomalies/{id}/export", self._export_anomaly, {}),
            ("POST", "/v1/anomalies/{id}/feedback", self._feedback, {}),
            ("GET", "/v1/streams/{id}/profile", self._get_profile, {}),
            ("PATCH", "/v1/streams/{id}/profile", self._update_profile, {}),
            ("GET", "/v1/streams/{id}/tuning", self._get_tuning, {}),
            ("GET", "/v1/streams/{id}/anchor", self._get_anchor, {}),
            ("DELETE", "/v1/streams/{id}/anchor", self._delete_anchor, {}),
            ("GET", "/v1/streams/{id}/anchor/details", self._get_anchor_details, {}),
            ("POST", "/v1/streams/{id}/reset-anchor", self._reset_anchor, {}),
            ("GET", "/v1/profiles", self._list_profiles, {}),
        ]
        self._routes = [
            _Route(method, _segments(path), handler, **options)
            for method, path, handler, options in routes
        ]

    # dispatch

    def handle(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        *,
        client: str | None = None,
        body_too_large: bool = False,
    ) -> Response:
        """Answer one request. ``path`` is the raw (percent-encoded) path; ``headers`` have
        lower-case names; ``body_too_large`` says the body was not read because it is too big.
        Never raises: unexpected failures become a logged 500 envelope.
        """
        request_id = f"req_{uuid.uuid4().hex}"
        if not isinstance(headers, RequestHeaders):
            headers = RequestHeaders(headers or {})
        try:
            route, params = self._route(method.upper(), path)
            call = _Call(
                method=method.upper(),
                params=params,
                query=_query(query),
                headers=headers,
                body=body,
                client=client or "local",
                request_id=request_id,
            )
            if not route.public:
                call.api_key = self._authenticate(headers)
                if route.rate_limited and self._limiter is not None:
                    _check_limit(self._limiter, call.api_key, "this API key")
            # Every operation that takes a body documents 413.
            if body_too_large or len(body) > MAX_BODY_BYTES:
                raise ApiError(413, "invalid_argument", "the request body is over 10 MB")
            status, payload = route.handler(call)
            content = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
            return Response(status, _headers(request_id, call.extra_headers), content)
        except (ApiError, EngineError) as exc:
            extra = dict(exc.headers) if isinstance(exc, ApiError) else {}
            retry_after = exc.retry_after if isinstance(exc, ApiError) else None
            return _error(exc.status, exc.code, exc.message, request_id, retry_after, extra)
        except Exception:
            logger.exception("unexpected error answering %s (request %s)", method, request_id)
            return _error(500, "internal", "internal error in the local engine", request_id)

    def _route(self, method: str, path: str) -> tuple[_Route, tuple[str, ...]]:
        parts = tuple(unquote(s, errors="replace") for s in path.strip("/").split("/"))
        matches = [
            route
            for route in self._routes
            if len(route.segments) == len(parts)
            and all(p if s is None else s == p for s, p in zip(route.segments, parts, strict=True))
        ]
        if matches:
            # The most literal pattern owns the path: /v1/anomalies/export is not an anomaly id.
            fewest = min(r.segments.count(None) for r in matches)
            matches = [r for r in matches if r.segments.count(None) == fewest]
        for route in matches:
            if route.method == method:
                params = tuple(p for s, p in zip(route.segments, parts, strict=True) if s is None)
                return route, params
        if matches:
            allow = ", ".join(sorted({r.method for r in matches}))
            raise ApiError(
                405,
                "method_not_allowed",
                f"{method} is not allowed here; allowed: {allow}",
                headers={"Allow": allow},
            )
        raise ApiError(404, "not_found", f"no such endpoint: {path}")

    def _authenticate(self, headers: Mapping[str, str]) -> str:
        key = headers.get("x-api-key", "").strip()
        if not key:
            raise ApiError(401, "unauthorized", "missing API key: send it in the X-Api-Key header")
        if self._api_key is not None and not hmac.compare_digest(
            key.encode("utf-8", "surrogateescape"), self._api_key
        ):
            raise ApiError(401, "unauthorized", "the API key is not valid")
        return Secret(key)

    # ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point: HTTP requests, plus a lifespan that has nothing to set up."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        headers = RequestHeaders(
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in scope["headers"]
        )
        body, too_large = await _read_body(receive, headers.get("content-length"))
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else quote(scope["path"])
        client = scope.get("client")
        response = await anyio.to_thread.run_sync(
            lambda: self.handle(
                scope["method"],
                path,
                scope.get("query_string", b"").decode("latin-1"),
                headers,
                body,
                client=client[0] if client else None,
                body_too_large=too_large,
            )
        )
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    *((k.lower().encode(), v.encode()) for k, v in response.headers),
                    (b"content-length", str(len(response.body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    # handlers: each returns (status, JSON-able payload)

    def _health(self, call: _Call) -> tuple[int, Any]:
        return 200, self.engine.health()

    def _ready(self, call: _Call) -> tuple[int, Any]:
        return 200, self.engine.readiness()

    def _list_profiles(self, call: _Call) -> tuple[int, Any]:
        return 200, self.engine.list_profiles()

    def _demo_detect(self, call: _Call) -> tuple[int, Any]:
        remaining = _check_limit(self._demo_limiter, call.client, "the demo, per client address")
        body = _json_object(call.body)
        events = _events(body.get("events"), max_items=DEMO_MAX_EVENTS)
        result = self.engine.demo_detect(
            events,
            stream_id=_optional_str(body, "stream_id"),
            config_override=_config_override(body.get("config_override")),
            request_id=call.request_id,
        )
        result["demo"] = {
            "message": "Demo mode: every call starts a fresh stream and nothing is stored.",
            "remaining_calls": remaining,
            "limit_per_minute": DEMO_LIMIT_PER_MINUTE,
            "max_events_per_request": DEMO_MAX_EVENTS,
        }
        return 200, result

    def _detect(self, call: _Call) -> tuple[int, Any]:
        key = call.headers.get("idempotency-key", "")
        if len(key) > _MAX_IDEMPOTENCY_KEY:
            raise _invalid(f"Idempotency-Key is at most {_MAX_IDEMPOTENCY_KEY} characters")
        body = _json_object(call.body)
        events = _events(body.get("events"), max_items=MAX_EVENTS)
        stream_id = _optional_str(body, "stream_id")
        override = _config_override(body.get("config_override"))
        scoped_key = None
        if key:
            # Keys are scoped to the API key, so two clients cannot collide.
            owner = hashlib.sha256(call.api_key.encode("utf-8", "surrogateescape")).hexdigest()
            scoped_key = f"{owner[:32]}:{key}"
        result = self.engine.detect(
            events,
            stream_id=stream_id,
            config_override=override,
            idempotency_key=scoped_key,
            # A retry resends the very same body: hashing its bytes is the cheap fingerprint.
            request_fingerprint=hashlib.sha256(call.body).hexdigest() if scoped_key else None,
            request_id=call.request_id,
        )
        if scoped_key and result.get("request_id") != call.request_id:
            call.extra_headers["Idempotent-Replayed"] = "true"
        return 200, result

    def _list_anomalies(self, call: _Call) -> tuple[int, Any]:
        query = call.query
        unknown = sorted(set(query) - _LIST_PARAMETERS)
        if unknown:
            # A misspelt filter would otherwise silently list everything.
            known = ", ".join(sorted(_LIST_PARAMETERS))
            raise _invalid(f"unknown query parameter {unknown[0]!r}; known: {known}")
        status = query.get("status")
        if status is not None and status not in _ANOMALY_STATUSES:
            raise _invalid(f"status must be one of {', '.join(_ANOMALY_STATUSES)}; got {status!r}")
        return 200, self.engine.list_anomalies(
            stream_id=query.get("stream_id"),
            since=_query_time(query, "from"),
            until=_query_time(query, "to"),
            status=status,
            limit=_query_int(query, "limit", 50, 1, 100),
            offset=_query_int(query, "offset", 0, 0, None),
        )

    def _get_anomaly(self, call: _Call) -> tuple[int, Any]:
        return 200, self.engine.get_anomaly(call.params[0])

    def _export_anomalies(self, call: _Call) -> tuple[int, Any]:
        body = _json_object(call.body)
        ids = body.get("anomaly_ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise _invalid("anomaly_ids must be an array of anomaly id strings")
        return 202, self.engine.export_anomalies(ids, _export_format(body))

    def _export_anomaly(self, call: _Call) -> tuple[int, Any]:
        body = _json_object(call.body) if call.body.strip() else {}
        return 202, self.engine.export_anomalies([call.params[0]], _export_format(body))

    def _feedback(self, call: _Call) -> tuple[int, Any]:
        body = _json_object(call.body)
        kind = _enum(body, "feedback_type", _FEEDBACK_TYPES, required=True)
        assert kind is not None
        return 200, self.engine.submit_feedback(call.params[0], kind, _optional_str(body, "reason"))

    def _get_profile(self, call: _Call) -> tuple[int, Any]:
        return 200, self.engine.get_profile(call.params[0])

    def _update_profile(self, call: _Call) -> tuple[int, Any]:
        body = _json_object(call.body)
        return 200, self.engine.update_profile(
            call.params[0],
            profile=_enum(body, "profile", _PROFILE_NAMES),
            auto_tune_enabled=_optional_bool(body, "auto_tune_enabled"),
            adaptive_window_enabled=_optional_bool(body, "adaptive_window_enabled"),
        )

    def _get_tuning(self, call: _Call) -> tuple[int, Any]:
        return 200, self.engine.get_tuning(call.params[0])

    def _get_anchor(self, call: _Call) -> tuple[int, Any]:
        return 200, self.engine.get_anchor(call.params[0])

    def _delete_anchor(self, call: _Call) -> tuple[int, Any]:
        return 200, self.engine.delete_anchor(call.params[0])

    def _get_anchor_details(self, call: _Call) -> tuple[int, Any]:
        return 200, self.engine.get_anchor_details(call.params[0])

    def _reset_anchor(self, call: _Call) -> tuple[int, Any]:
        body = _json_object(call.body)
        events = _events(body.get("events"), max_items=None)
        force = _optional_bool(body, "force_reset") or False
        return 200, self.engine.reset_anchor(call.params[0], events, force_reset=force)


def create_app(
    engine: Engine | None = None, *, api_key: str | None = None, rate_limit: str | None = None
) -> DriftlockApp:
    """The ASGI app serving ``engine`` (a fresh in-memory one by default)."""
    return DriftlockApp(engine, api_key=api_key, rate_limit=rate_limit)


# request parsing and validation


async def _read_body(receive: Receive, declared: str | None) -> tuple[bytes, bool]:
    """The request body, or ``(b"", True)`` once it is known to exceed the limit."""
    if declared is not None and declared.strip().isdigit() and int(declared) > MAX_BODY_BYTES:
        return b"", True
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _query(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True, errors="replace"):
        values.setdefault(name, value)
    return values


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _json_object(body: bytes) -> dict[str, Any]:
    """The body parsed as a JSON object, refusing NaN, infinities and lone surrogates."""
    if not body.strip():
        raise _invalid("a JSON request body is required")
    try:
        value = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        raise _invalid(f"the request body is not valid JSON: {exc}") from None
    if b"\\ud" in body.lower():
        # Unpaired UTF-16 surrogates decode to strings that cannot be stored or re-encoded.
        try:
            json.dumps(value, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise _invalid("the request body contains an unpaired UTF-16 surrogate") from None
    if not isinstance(value, dict):
        raise _invalid(f"the request body must be a JSON object, got {_json_type(value)}")
    return value


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _depth_exceeds(value: dict[str, Any] | list[Any], limit: int) -> bool:
    """Whether ``value`` (parsed JSON) nests more than ``limit`` levels of objects and arrays,
    counting itself. The recursion stops after ``limit`` levels."""
    if limit < 1:
        return True
    for item in value.values() if isinstance(value, dict) else value:
        kind = type(item)
        if (kind is dict or kind is list) and _depth_exceeds(item, limit - 1):
            return True
    return False


def _events(value: object, *, max_items: int | None) -> list[dict[str, Any]]:
    if value is None:
        raise _invalid("events is required: a non-empty array of JSON objects")
    if not isinstance(value, list):
        raise _invalid(f"events must be an array of JSON objects, got {_json_type(value)}")
    if not value:
        raise _invalid("events must not be empty")
    if max_items is not None and len(value) > max_items:
        raise _invalid(
            f"events has {len(value)} items; at most {max_items} are accepted per request"
        )
    for index, event in enumerate(value):
        if not isinstance(event, dict):
            raise _invalid(f"events[{index}] must be a JSON object, got {_json_type(event)}")
        if _depth_exceeds(event, MAX_EVENT_DEPTH):
            raise _invalid(f"events[{index}] is nested more than {MAX_EVENT_DEPTH} levels deep")
    return value


def _optional_str(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise _invalid(f"{name} must be a string, got {_json_type(value)}")
    if name in body and value is None:
        raise _invalid(f"{name} must be a string, got null")
    return value


def _optional_bool(body: Mapping[str, Any], name: str) -> bool | None:
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, bool):
        raise _invalid(f"{name} must be a boolean, got {_json_type(value)}")
    return value


def _enum(
    body: Mapping[str, Any], name: str, allowed: tuple[str, ...], *, required: bool = False
) -> str | None:
    if name not in body:
        if required:
            raise _invalid(f"{name} is required: one of {', '.join(allowed)}")
        return None
    value = body[name]
    if value not in allowed:
        raise _invalid(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)


def _export_format(body: Mapping[str, Any]) -> str:
    return _enum(body, "format", _EXPORT_FORMATS) or "json"


def _config_override(value: object) -> dict[str, Any] | None:
    """The validated ``config_override``, with only the known settings kept."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid(f"config_override must be a JSON object, got {_json_type(value)}")
    settings: dict[str, Any] = {}
    for name, (low, high) in _OVERRIDE_INTS.items():
        if name in value:
            number = value[name]
            if isinstance(number, float) and number.is_integer():
                number = int(number)
            if not isinstance(number, int) or isinstance(number, bool):
                raise _invalid(f"config_override.{name} must be an integer")
            if number < low or (high is not None and number > high):
                bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
                raise _invalid(f"config_override.{name} must be {bounds}, got {number}")
            settings[name] = number
    for name, (low_f, high_f) in _OVERRIDE_NUMBERS.items():
        if name in value:
            number = value[name]
            if not isinstance(number, int | float) or isinstance(number, bool):
                raise _invalid(f"config_override.{name} must be a number")
            if not low_f <= number <= high_f:
                raise _invalid(
                    f"config_override.{name} must be between {low_f:g} and {high_f:g}, got {number}"
                )
            settings[name] = float(number)
    if "compressor" in value:
        if value["compressor"] not in _COMPRESSORS:
            raise _invalid(f"config_override.compressor must be one of {', '.join(_COMPRESSORS)}")
        settings["compressor"] = value["compressor"]
    return settings


def _query_int(
    query: Mapping[str, str], name: str, default: int, low: int, high: int | None
) -> int:
    text = query.get(name)
    if text is None:
        return default
    try:
        value = int(text.strip())
    except ValueError:
        raise _invalid(f"{name} must be an integer, got {text!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _invalid(f"{name} must be {bounds}, got {value}")
    return value


def _query_time(query: Mapping[str, str], name: str) -> datetime | None:
    text = query.get(name)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _invalid(f"{name} must be an ISO 8601 date-time, got {text!r}") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # An offset pushes it past the calendar's first or last day: clamp to that end.
        end = datetime.min if moment.year == 1 else datetime.max
        return end.replace(tzinfo=UTC)


def _check_limit(limiter: RateLimiter, key: str, who: str) -> int:
    allowed, remaining, wait = limiter.acquire(key)
    if not allowed:
        seconds = max(1, math.ceil(wait))
        raise ApiError(
            429,
            "rate_limit_exceeded",
            f"rate limit of {limiter.limit} requests per {limiter.period:g} s exceeded for"
            f" {who}; retry in {seconds} s",
            retry_after=seconds,
            headers={"Retry-After": str(seconds)},
        )
    return remaining


# responses


def _headers(request_id: str, extra: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    return [
        ("Content-Type", "application/json"),
        ("X-Request-Id", request_id),
        *(extra or {}).items(),
    ]


def _error(
    status: int,
    code: str,
    message: str,
    request_id: str,
    retry_after: int | None = None,
    extra: Mapping[str, str] | None = None,
) -> Response:
    detail: dict[str, Any] = {"code": code, "message": message, "request_id": request_id}
    if retry_after is not None:
        detail["retry_after_seconds"] = retry_after
    body = json.dumps({"error": detail}, separators=(",", ":")).encode()
    return Response(status, _headers(request_id, extra), body)
