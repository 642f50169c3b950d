"""The one core behind both clients: it builds every request, interprets every outcome, maps
errors and decides retries. The sync and async clients only add the I/O around it::

    while True:
        outcome = <send call through the generated layer, or the exception it raised>
        step = core.outcome(call, outcome, retries, elapsed)   # a result, a Retry, or raises
        ...sleep(step.delay) and go again...

A :class:`Call` binds a generated operation (``driftlock_generated.api...sync_detailed``) to
its arguments, so the type checker sees every argument the facade passes to the wire layer;
the async clients call the operation's ``asyncio_detailed`` twin with the same arguments.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from enum import Enum
from functools import partial
from typing import Any, Final, Generic, TypeVar

import httpx

from driftlock._config import ClientConfig
from driftlock._events import json_safe, prepare
from driftlock._http import last_response
from driftlock._retry import (
    MAX_RETRY_AFTER,
    backoff_delay,
    chunk_key_suffix,
    idempotency_keys,
    parse_retry_after,
    should_retry_status,
)
from driftlock.exceptions import (
    DriftlockAPIError,
    DriftlockConnectionError,
    DriftlockError,
    DriftlockResponseError,
    DriftlockTimeoutError,
    DriftlockValidationError,
    error_class_for_status,
)
from driftlock.models import (
    AnchorChange,
    AnchorDetails,
    AnchorSettings,
    AnomalyDetail,
    AnomalyPage,
    AnomalyRecord,
    DemoDetectResult,
    DetectResult,
    ExportJob,
    FeedbackResult,
    Health,
    ProfileList,
    ProfileUpdate,
    Readiness,
    ResponseShapeError,
    StreamProfile,
    StreamTuning,
)
from driftlock_generated import models as wire
from driftlock_generated.api.anomalies import (
    export_anomalies,
    export_anomaly,
    get_anomaly,
    list_anomalies,
    submit_feedback,
)
from driftlock_generated.api.detection import demo_detect, detect
from driftlock_generated.api.health import health, ready
from driftlock_generated.api.profiles import list_profiles
from driftlock_generated.api.streams import (
    delete_stream_anchor,
    get_stream_anchor,
    get_stream_anchor_details,
    get_stream_profile,
    get_stream_tuning,
    reset_stream_anchor,
    update_stream_profile,
)
from driftlock_generated.types import UNSET, Response, Unset

__all__ = ["Call", "ClientCore", "DetectPlan", "Operation", "Pager", "Retry"]

logger = logging.getLogger("driftlock")

R = TypeVar("R")

# How much of a non-JSON error body to keep on the exception (an HTML page can be large).
_BODY_SNIPPET: Final = 2000
# The API's limit on an Idempotency-Key (openapi.yaml, header Idempotency-Key).
MAX_IDEMPOTENCY_KEY: Final = 255


@dataclasses.dataclass(frozen=True, slots=True)
class Operation(Generic[R]):
    """One API operation: its name in messages, its generated async function, the generated
    model of its success answer and how to turn that into the facade's result."""

    name: str
    aio: Callable[..., Awaitable[Response[Any]]]
    success: type[Any]
    convert: Callable[[Any], R]
    # Not idempotent: retried only when the server cannot have acted on the request.
    idempotent: bool = True
    # Adds what the success answer's headers say to the result (detect: a replayed answer).
    read_headers: Callable[[R, Mapping[str, str]], R] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Call(Generic[R]):
    """An operation with its arguments: ``send`` is the generated sync function with all but
    ``client`` bound; ``send_async`` calls the async twin with the same arguments."""

    op: Operation[R]
    send: partial[Response[Any]]

    def send_async(self, client: Any) -> Awaitable[Response[Any]]:
        """Start the same request through the generated async function."""
        return self.op.aio(*self.send.args, client=client, **self.send.keywords)


@dataclasses.dataclass(frozen=True, slots=True)
class Retry:
    """The outcome was a failure worth retrying after ``delay`` seconds."""

    delay: float


@dataclasses.dataclass(frozen=True, slots=True)
class _Failed:
    """An attempt failed with ``error``; ``retryable`` says whether it is worth another."""

    error: DriftlockError
    retryable: bool


@dataclasses.dataclass(frozen=True, slots=True)
class DetectPlan:
    """The requests one ``detect`` becomes: one per chunk, each starting at ``offsets[i]`` in
    the caller's list."""

    calls: list[Call[DetectResult]]
    offsets: list[int]


HEALTH = Operation("health", health.asyncio_detailed, wire.HealthResponse, Health.from_wire)
READY = Operation("ready", ready.asyncio_detailed, wire.ReadinessResponse, Readiness.from_wire)


def _replayed(result: DetectResult, headers: Mapping[str, str]) -> DetectResult:
    """``result`` marked ``replayed`` when the server answered from its idempotency record."""
    if headers.get("idempotent-replayed", "").strip().lower() == "true":
        return dataclasses.replace(result, replayed=True)
    return result


DETECT = Operation(
    "detect",
    detect.asyncio_detailed,
    wire.DetectResponse,
    DetectResult.from_wire,
    read_headers=_replayed,
)
DEMO_DETECT = Operation(
    "demo_detect",
    demo_detect.asyncio_detailed,
    wire.DemoDetectResponse,
    DemoDetectResult.from_wire,
)
LIST_ANOMALIES = Operation(
    "anomalies.list", list_anomalies.asyncio_detailed, wire.AnomalyList, AnomalyPage.from_wire
)
GET_ANOMALY = Operation(
    "anomalies.get", get_anomaly.asyncio_detailed, wire.AnomalyDetail, AnomalyDetail.from_wire
)
EXPORT_ANOMALIES = Operation(
    "anomalies.export", export_anomalies.asyncio_detailed, wire.ExportJob, ExportJob.from_wire
)
EXPORT_ANOMALY = Operation(
    "anomalies.export_one", export_anomaly.asyncio_detailed, wire.ExportJob, ExportJob.from_wire
)
FEEDBACK = Operation(
    "anomalies.feedback",
    submit_feedback.asyncio_detailed,
    wire.FeedbackResponse,
    FeedbackResult.from_wire,
    idempotent=False,
)
GET_PROFILE = Operation(
    "streams.get_profile",
    get_stream_profile.asyncio_detailed,
    wire.StreamProfile,
    StreamProfile.from_wire,
)
UPDATE_PROFILE = Operation(
    "streams.update_profile",
    update_stream_profile.asyncio_detailed,
    wire.UpdateProfileResponse,
    ProfileUpdate.from_wire,
)
GET_TUNING = Operation(
    "streams.get_tuning",
    get_stream_tuning.asyncio_detailed,
    wire.StreamTuning,
    StreamTuning.from_wire,
)
GET_ANCHOR = Operation(
    "streams.get_anchor",
    get_stream_anchor.asyncio_detailed,
    wire.AnchorSettings,
    AnchorSettings.from_wire,
)
GET_ANCHOR_DETAILS = Operation(
    "streams.get_anchor_details",
    get_stream_anchor_details.asyncio_detailed,
    wire.AnchorDetails,
    AnchorDetails.from_wire,
)
RESET_ANCHOR = Operation(
    "streams.reset_anchor",
    reset_stream_anchor.asyncio_detailed,
    wire.AnchorChange,
    AnchorChange.from_wire,
)
DELETE_ANCHOR = Operation(
    "streams.delete_anchor",
    delete_stream_anchor.asyncio_detailed,
    wire.AnchorChange,
    AnchorChange.from_wire,
)
LIST_PROFILES = Operation(
    "profiles.list", list_profiles.asyncio_detailed, wire.ProfileList, ProfileList.from_wire
)


class Pager:
    """Walks ``anomalies.list`` page by page for ``anomalies.iter``; skips anomalies already
    yielded when new ones arriving meanwhile shift the pages."""

    def __init__(self, core: ClientCore, page_size: int, **filters: Any) -> None:
        self._core = core
        self._filters = filters
        self._page_size = _limit(page_size, "page_size")
        self._seen: set[str] = set()
        self.offset: int | None = 0

    def call(self) -> Call[AnomalyPage]:
        """The request for the next page."""
        return self._core.list_anomalies(
            limit=self._page_size, offset=self.offset or 0, **self._filters
        )

    def take(self, page: AnomalyPage) -> list[AnomalyRecord]:
        """The page's new anomalies; sets ``offset`` to None once there are no more pages."""
        fresh = [a for a in page.anomalies if a.id not in self._seen]
        self._seen.update(a.id for a in fresh)
        offset = (self.offset or 0) + len(page.anomalies)
        self.offset = offset if page.anomalies and offset < page.total else None
        return fresh


class ClientCore:
    """Request building, response interpretation, error mapping and retry decisions for one
    client configuration; shared by :class:`~driftlock.DriftlockClient` and
    :class:`~driftlock.DriftlockSyncClient`."""

    __slots__ = ("config",)

    def __init__(self, config: ClientConfig) -> None:
        self.config = config

    # --- request building --------------------------------------------------------------------

    def detect(
        self,
        events: object,
        stream_id: str | None,
        config_override: Mapping[str, Any] | None,
        idempotency_key: str | None = None,
    ) -> DetectPlan:
        """Validate and encode ``events`` (before any request) and plan one request per chunk
        of at most 1000 events and 10 MB, each with its own Idempotency-Key: derived from
        ``idempotency_key`` when given (``key`` for one request, ``key:N`` for the N-th of
        several), else fresh ones (see :func:`driftlock._retry.same_idempotency_key` for a
        resend of the same events)."""
        key = _idempotency_key(idempotency_key)
        stream = _optional_name(stream_id, "stream_id")
        override = _config_override(config_override)
        envelope: dict[str, Any] = {}
        if stream is not None:
            envelope["stream_id"] = stream
        if not isinstance(override, Unset):
            envelope["config_override"] = override.to_dict()
        chunks = prepare(events, envelope)
        if key is not None and len(chunks) > 1:
            _check_split_key_length(key, len(chunks))
        keys = idempotency_keys(len(chunks), key)
        calls = [
            Call(
                DETECT,
                partial(
                    detect.sync_detailed,
                    body=wire.DetectRequest(
                        events=chunk.events,
                        stream_id=UNSET if stream is None else stream,
                        config_override=override,
                    ),
                    idempotency_key=key,
                ),
            )
            for chunk, key in zip(chunks, keys, strict=True)
        ]
        return DetectPlan(calls, [chunk.offset for chunk in chunks])

    def demo_detect(self, events: object) -> Call[DemoDetectResult]:
        """``POST /v1/demo/detect``: one request (the demo takes a small batch)."""
        chunks = prepare(events, {})
        if len(chunks) > 1:
            raise DriftlockValidationError(
                "the demo takes at most 1000 events (and 10 MB) per call; use detect for more"
            )
        body = wire.DetectRequest(events=chunks[0].events)
        return Call(DEMO_DETECT, partial(demo_detect.sync_detailed, body=body))

    def health(self) -> Call[Health]:
        """``GET /healthz``."""
        return Call(HEALTH, partial(health.sync_detailed))

    def ready(self) -> Call[Readiness]:
        """``GET /readyz``."""
        return Call(READY, partial(ready.sync_detailed))

    def list_anomalies(
        self,
        *,
        stream_id: str | None = None,
        from_: datetime.datetime | str | None = None,
        to: datetime.datetime | str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Call[AnomalyPage]:
        """``GET /v1/anomalies``."""
        stream = _optional_name(stream_id, "stream_id")
        return Call(
            LIST_ANOMALIES,
            partial(
                list_anomalies.sync_detailed,
                stream_id=UNSET if stream is None else stream,
                from_=_instant(from_, "from_"),
                to=_instant(to, "to"),
                status=UNSET if status is None else _enum(wire.AnomalyStatus, status, "status"),
                limit=_limit(limit, "limit"),
                offset=_offset(offset),
            ),
        )

    def pager(
        self,
        *,
        stream_id: str | None = None,
        from_: datetime.datetime | str | None = None,
        to: datetime.datetime | str | None = None,
        status: str | None = None,
        page_size: int = 100,
    ) -> Pager:
        """A :class:`Pager` over every anomaly matching the filters."""
        return Pager(self, page_size, stream_id=stream_id, from_=from_, to=to, status=status)

    def get_anomaly(self, anomaly_id: str) -> Call[AnomalyDetail]:
        """``GET /v1/anomalies/{id}``."""
        return Call(
            GET_ANOMALY, partial(get_anomaly.sync_detailed, _name(anomaly_id, "anomaly_id"))
        )

    def export_anomalies(self, anomaly_ids: Sequence[str], format: str) -> Call[ExportJob]:
        """``POST /v1/anomalies/export``."""
        if isinstance(anomaly_ids, str) or not isinstance(anomaly_ids, Sequence):
            raise DriftlockValidationError("anomaly_ids must be a list of anomaly ids")
        ids = [_name(item, f"anomaly_ids[{i}]") for i, item in enumerate(anomaly_ids)]
        if not ids:
            raise DriftlockValidationError("anomaly_ids is empty: name at least one anomaly")
        body = wire.ExportAnomaliesRequest(
            anomaly_ids=ids, format_=_enum(wire.ExportFormat, format, "format")
        )
        return Call(EXPORT_ANOMALIES, partial(export_anomalies.sync_detailed, body=body))

    def export_anomaly(self, anomaly_id: str, format: str | None) -> Call[ExportJob]:
        """``POST /v1/anomalies/{id}/export``."""
        body = wire.ExportAnomalyRequest(
            format_=UNSET if format is None else _enum(wire.ExportFormat, format, "format")
        )
        return Call(
            EXPORT_ANOMALY,
            partial(export_anomaly.sync_detailed, _name(anomaly_id, "anomaly_id"), body=body),
        )

    def feedback(
        self, anomaly_id: str, feedback_type: str, reason: str | None
    ) -> Call[FeedbackResult]:
        """``POST /v1/anomalies/{id}/feedback``."""
        if reason is not None and not isinstance(reason, str):
            raise DriftlockValidationError("reason must be a string", field_path="reason")
        body = wire.FeedbackRequest(
            feedback_type=_enum(wire.FeedbackType, feedback_type, "feedback_type"),
            reason=UNSET if reason is None else reason,
        )
        return Call(
            FEEDBACK,
            partial(submit_feedback.sync_detailed, _name(anomaly_id, "anomaly_id"), body=body),
        )

    def get_profile(self, stream_id: str) -> Call[StreamProfile]:
        """``GET /v1/streams/{id}/profile``."""
        return Call(
            GET_PROFILE, partial(get_stream_profile.sync_detailed, _name(stream_id, "stream_id"))
        )

    def update_profile(
        self,
        stream_id: str,
        profile: str | None,
        auto_tune_enabled: bool | None,
        adaptive_window_enabled: bool | None,
    ) -> Call[ProfileUpdate]:
        """``PATCH /v1/streams/{id}/profile``."""
        body = wire.UpdateProfileRequest(
            profile=UNSET if profile is None else _enum(wire.ProfileName, profile, "profile"),
            auto_tune_enabled=_optional_flag(auto_tune_enabled, "auto_tune_enabled"),
            adaptive_window_enabled=_optional_flag(
                adaptive_window_enabled, "adaptive_window_enabled"
            ),
        )
        return Call(
            UPDATE_PROFILE,
            partial(update_stream_profile.sync_detailed, _name(stream_id, "stream_id"), body=body),
        )

    def get_tuning(self, stream_id: str) -> Call[StreamTuning]:
        """``GET /v1/streams/{id}/tuning``."""
        return Call(
            GET_TUNING, partial(get_stream_tuning.sync_detailed, _name(stream_id, "stream_id"))
        )

    def get_anchor(self, stream_id: str) -> Call[AnchorSettings]:
        """``GET /v1/streams/{id}/anchor``."""
        return Call(
            GET_ANCHOR, partial(get_stream_anchor.sync_detailed, _name(stream_id, "stream_id"))
        )

    def get_anchor_details(self, stream_id: str) -> Call[AnchorDetails]:
        """``GET /v1/streams/{id}/anchor/details``."""
        return Call(
            GET_ANCHOR_DETAILS,
            partial(get_stream_anchor_details.sync_detailed, _name(stream_id, "stream_id")),
        )

    def reset_anchor(self, stream_id: str, events: object, force_reset: bool) -> Call[AnchorChange]:
        """``POST /v1/streams/{id}/reset-anchor``: the events become the new anchor."""
        name = _name(stream_id, "stream_id")
        flag = _optional_flag(force_reset, "force_reset")
        envelope = {} if isinstance(flag, Unset) else {"force_reset": flag}
        chunks = prepare(events, envelope, max_events=1 << 30)
        if len(chunks) > 1:
            raise DriftlockValidationError("the anchor's events must fit in one 10 MB request")
        body = wire.ResetAnchorRequest(events=chunks[0].events, force_reset=flag)
        return Call(RESET_ANCHOR, partial(reset_stream_anchor.sync_detailed, name, body=body))

    def delete_anchor(self, stream_id: str) -> Call[AnchorChange]:
        """``DELETE /v1/streams/{id}/anchor``: disables drift detection for the stream."""
        return Call(
            DELETE_ANCHOR,
            partial(delete_stream_anchor.sync_detailed, _name(stream_id, "stream_id")),
        )

    def list_profiles(self) -> Call[ProfileList]:
        """``GET /v1/profiles``."""
        return Call(LIST_PROFILES, partial(list_profiles.sync_detailed))

    # --- interpretation ----------------------------------------------------------------------

    def outcome(
        self, call: Call[R], result: Response[Any] | Exception, retries: int, elapsed: float
    ) -> R | Retry:
        """Turn what the generated layer returned (or raised) into the caller's result, a
        :class:`Retry`, or a raised :class:`~driftlock.exceptions.DriftlockError`.

        ``retries`` counts the retries already made; ``elapsed`` is the attempt's duration.
        """
        response = last_response()
        request = _request_of(response, result) if logger.isEnabledFor(logging.DEBUG) else None
        verdict = self._judge(call, result, response)
        # What the server sent back (or a transport error's text) may reflect the API key: it
        # leaves this frame before anything is logged or raised, so that a log record or a
        # traceback rendered with each frame's locals (Sentry, pytest -l) cannot show it.
        del result
        if logger.isEnabledFor(logging.DEBUG):
            failed = verdict.error if isinstance(verdict, _Failed) else None
            _log_exchange(call, request, response, failed, elapsed, self._redact)
        if not isinstance(verdict, _Failed):
            return verdict
        error, retryable = verdict.error, verdict.retryable
        if retryable and retries < self.config.max_retries:
            delay = self._delay(error, retries)
            if delay is not None:
                logger.info(
                    "Retrying %s in %.2f s (retry %d of %d) after: %s",
                    call.op.name,
                    delay,
                    retries + 1,
                    self.config.max_retries,
                    error,
                )
                return Retry(delay)
        raise error

    def _judge(
        self, call: Call[R], result: Response[Any] | Exception, response: httpx.Response | None
    ) -> R | _Failed:
        """The caller's result, or the error ``result`` maps to and whether to retry."""
        if isinstance(result, Exception):
            return _Failed(*self._failure(call, result, response))
        status = int(result.status_code)
        if not 200 <= status < 300:
            return _Failed(*self._status_error(call, status, result.content, result.headers))
        try:
            if not isinstance(result.parsed, call.op.success):
                raise ResponseShapeError("body", call.op.success.__name__, result.parsed)
            value = call.op.convert(result.parsed)
            if call.op.read_headers is not None:
                value = call.op.read_headers(value, result.headers)
        except ResponseShapeError as exc:
            return _Failed(self._unreadable(call, status, str(exc), response), False)
        return value

    def merge(self, plan: DetectPlan, results: list[DetectResult]) -> DetectResult:
        """One result for a detect sent in several requests: anomalies and outliers joined
        with indices into the caller's list, counts summed, and the stream state (status,
        calibration, drift) of the request answered last, the one that saw most events;
        ``replayed`` only when every request was answered from the server's idempotency
        record."""
        if len(results) == 1:
            return results[0]
        anomalies = []
        outliers = []
        for offset, result in zip(plan.offsets, results, strict=True):
            for anomaly in result.anomalies:
                anomalies.append(dataclasses.replace(anomaly, index=anomaly.index + offset))
            for outlier in result.value_outliers:
                if outlier.index is not None:
                    outlier = dataclasses.replace(outlier, index=outlier.index + offset)
                outliers.append(outlier)
        latest = max(reversed(results), key=lambda r: r.calibration.events_ingested)
        return dataclasses.replace(
            latest,
            success=all(r.success for r in results),
            total_events=sum(r.total_events for r in results),
            anomaly_count=sum(r.anomaly_count for r in results),
            processing_time=_total_duration([r.processing_time for r in results]),
            anomalies=anomalies,
            value_outliers=outliers,
            batch_ids=[r.batch_id for r in results],
            batch_id=results[-1].batch_id,
            replayed=all(r.replayed for r in results),
        )

    def _delay(self, error: DriftlockError, retries: int) -> float | None:
        asked = error.retry_after if isinstance(error, DriftlockAPIError) else None
        if asked is None:
            return backoff_delay(retries)
        if asked > MAX_RETRY_AFTER:
            return None  # the server wants a longer pause than a call should block: give up
        return float(asked)

    def _failure(
        self, call: Call[Any], exc: Exception, response: httpx.Response | None
    ) -> tuple[DriftlockError, bool]:
        """An exception from the generated layer or httpx, mapped; and whether to retry."""
        name = call.op.name
        if isinstance(exc, httpx.TimeoutException):
            sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
            timeout = self.config.timeout.read
            message = f"{name} timed out ({type(exc).__name__}, timeout {timeout} s)"
            return DriftlockTimeoutError(message, operation=name), call.op.idempotent or not sent
        if isinstance(exc, httpx.TransportError):
            # Also when the headers had arrived: the connection broke while reading the body.
            retryable = not isinstance(exc, httpx.UnsupportedProtocol) and (
                call.op.idempotent or isinstance(exc, httpx.ConnectError)
            )
            where = _host(exc)
            message = f"{name} failed: {type(exc).__name__} talking to {where}: {exc}"
            return DriftlockConnectionError(self._redact(message), operation=name), retryable
        if response is not None:
            # The generated layer received an answer but could not parse it.
            status = response.status_code
            if 200 <= status < 300:
                return self._unreadable(
                    call, status, _parse_failure(exc, response), response
                ), False
            return self._status_error(call, status, _content(response), response.headers)
        if isinstance(exc, RuntimeError) and "closed" in str(exc):
            return DriftlockError(f"{name} failed: the client has been closed"), False
        message = f"{name} failed before sending: {type(exc).__name__}: {exc}"
        return DriftlockError(self._redact(message)), False

    def _status_error(
        self, call: Call[Any], status: int, content: bytes, headers: Mapping[str, str]
    ) -> tuple[DriftlockAPIError, bool]:
        """An error status (or an unexpected one, such as a redirect), mapped; and whether
        to retry."""
        body, envelope = self._decode(content)  # the envelope's fields come out redacted
        code = _field(envelope, "code", str)
        message = _field(envelope, "message", str)
        request_id = _field(envelope, "request_id", str) or self._header(headers, "x-request-id")
        if message is None:
            # Headers are echoed in it (Location, Content-Type): a proxy may reflect the key.
            message = self._redact(_describe_body(status, headers, body))
        kwargs: dict[str, Any] = {
            "status_code": status,
            "operation": call.op.name,
            "code": code,
            "request_id": request_id,
            "body": body,
        }
        # Any status may carry Retry-After (503 often does), not only 429.
        retry_after = parse_retry_after(
            headers, _field(envelope, "retry_after_seconds", int | float)
        )
        error = error_class_for_status(status)(message, retry_after=retry_after, **kwargs)
        return error, should_retry_status(status, idempotent=call.op.idempotent)

    def _unreadable(
        self, call: Call[Any], status: int, detail: str, response: httpx.Response | None
    ) -> DriftlockResponseError:
        body, _ = self._decode(_content(response)) if response is not None else (None, None)
        request_id = None if response is None else self._header(response.headers, "x-request-id")
        return DriftlockResponseError(
            f"the response could not be read ({self._redact(detail)})",
            status_code=status,
            operation=call.op.name,
            request_id=request_id,
            body=body,
        )

    def _decode(self, content: bytes) -> tuple[Any, Mapping[str, Any] | None]:
        """The body as JSON (or as text, truncated, when it is not JSON), with the API's
        error envelope when it is one; the API key is blanked wherever it appears."""
        text = self._redact(content.decode("utf-8", "replace"))
        try:
            body = json.loads(text) if text.strip() else None
        except ValueError:
            return text[:_BODY_SNIPPET], None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return body, body["error"]
        return body, None

    def _redact(self, text: str) -> str:
        """``text`` with the API key blanked: everything a server sent back (body, headers,
        a transport's error message) goes through here before it reaches an exception or a
        log record, since a misbehaving server or proxy may reflect the key it received."""
        key = self.config.api_key
        return text.replace(key, "****") if key and key in text else text

    def _header(self, headers: Mapping[str, str], name: str) -> str | None:
        value = headers.get(name)
        return None if value is None else self._redact(value)


# --- helpers ------------------------------------------------------------------------------------


def _content(response: httpx.Response) -> bytes:
    try:
        return response.content
    except (httpx.HTTPError, RuntimeError):  # body never read, or undecodable
        return b""


def _parse_failure(exc: Exception, response: httpx.Response) -> str:
    """What was wrong with a success answer the generated layer could not parse."""
    content = _content(response)
    if isinstance(exc, json.JSONDecodeError):
        return "the body is not JSON" if content.strip() else "the body is empty"
    if not content.lstrip().startswith(b"{"):
        return "the body is not a JSON object"
    if isinstance(exc, KeyError) and exc.args:
        return f"the required field {exc.args[0]!r} is missing"
    return f"{type(exc).__name__}: {exc}"


def _field(envelope: Mapping[str, Any] | None, name: str, kind: Any) -> Any:
    if envelope is None:
        return None
    value = envelope.get(name)
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


def _describe_body(status: int, headers: Mapping[str, str], body: Any) -> str:
    if 300 <= status < 400:
        return f"unexpected redirect to {headers.get('location', '?')}"
    if body is None:
        return "empty response body"
    if isinstance(body, str):
        kind = headers.get("content-type", "unknown type").split(";")[0]
        return f"the server answered with a non-JSON body ({kind})"
    return "the body is not the API's error format"


def _host(exc: httpx.TransportError) -> str:
    try:
        url = exc.request.url
    except RuntimeError:
        return "the server"
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"


def _request_of(response: httpx.Response | None, result: object) -> httpx.Request | None:
    """The request an attempt sent (None when it failed before there was one)."""
    if response is not None:
        return response.request
    if isinstance(result, httpx.RequestError):
        try:
            return result.request
        except RuntimeError:  # raised before a request existed
            return None
    return None


def _log_exchange(
    call: Call[Any],
    request: httpx.Request | None,
    response: httpx.Response | None,
    error: DriftlockError | None,
    elapsed: float,
    redact: Callable[[str], str],
) -> None:
    """DEBUG: method, URL, status (or what failed), time taken and request id (the last two
    passed through ``redact``: the request id is whatever the server sent)."""
    method, url = (request.method, redact(str(request.url))) if request else ("-", call.op.name)
    shown = response.status_code if response is not None else type(error).__name__
    request_id = response.headers.get("x-request-id") if response is not None else None
    if request_id is not None:
        request_id = redact(request_id)
    logger.debug(
        "%s %s -> %s in %.1f ms (request id %s)", method, url, shown, elapsed * 1000, request_id
    )


_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|us|µs)\s*$")
_UNIT_MS: Final = {"ms": 1.0, "s": 1000.0, "us": 0.001, "µs": 0.001}


def _total_duration(parts: list[str]) -> str:
    """Sum durations such as ``245ms`` and ``1.2s``; the last one as is if any is odd."""
    total = 0.0
    for part in parts:
        match = _DURATION.match(part)
        if match is None:
            return parts[-1]
        total += float(match.group(1)) * _UNIT_MS[match.group(2)]
    return f"{total:.0f}ms" if total >= 1 else f"{total:.3f}ms"


def _name(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DriftlockValidationError(
            f"must be a non-empty string, got {value!r}", field_path=field
        )
    return value


def _optional_name(value: object, field: str) -> str | None:
    return None if value is None else _name(value, field)


def _idempotency_key(value: object) -> str | None:
    """The caller's ``idempotency_key``, checked: a non-empty string of printable ASCII, no
    space at either end (a proxy may strip it), at most :data:`MAX_IDEMPOTENCY_KEY` long."""
    if value is None:
        return None
    field = "idempotency_key"
    if not isinstance(value, str):
        raise DriftlockValidationError(
            f"must be a string, got {type(value).__name__}", field_path=field
        )
    if not value:
        raise DriftlockValidationError("must be a non-empty string", field_path=field)
    bad = next((c for c in value if not " " <= c <= "~"), None)
    if bad is not None:
        raise DriftlockValidationError(
            f"must be printable ASCII (it goes in an HTTP header), got {bad!r} at position "
            f"{value.index(bad)}",
            field_path=field,
        )
    if value != value.strip(" "):
        raise DriftlockValidationError("must not start or end with a space", field_path=field)
    if len(value) > MAX_IDEMPOTENCY_KEY:
        raise DriftlockValidationError(
            f"must be at most {MAX_IDEMPOTENCY_KEY} characters, got {len(value)}",
            field_path=field,
        )
    return value


def _check_split_key_length(key: str, count: int) -> None:
    """Raise unless every key derived from ``key`` for a detect sent as ``count`` requests
    fits the API's limit (the longest suffix is the last request's)."""
    suffix = chunk_key_suffix(count - 1)
    limit = MAX_IDEMPOTENCY_KEY - len(suffix)
    if len(key) > limit:
        raise DriftlockValidationError(
            f"must be at most {limit} characters when the events are sent as {count} "
            f"requests, got {len(key)} (request N sends the key plus ':N', up to "
            f"{len(suffix)} more characters, and the API takes at most {MAX_IDEMPOTENCY_KEY})",
            field_path="idempotency_key",
        )


def _optional_flag(value: object, field: str) -> bool | Unset:
    if value is None:
        return UNSET
    if not isinstance(value, bool):
        raise DriftlockValidationError(f"must be True or False, got {value!r}", field_path=field)
    return value


def _limit(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        raise DriftlockValidationError(
            f"must be a whole number from 1 to 100, got {value!r}", field_path=field
        )
    return value


def _offset(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DriftlockValidationError(
            f"must be a whole number, 0 or more, got {value!r}", field_path="offset"
        )
    return value


E = TypeVar("E", bound=Enum)


def _enum(kind: type[E], value: object, field: str) -> E:
    """``value`` (a member or its value) as a member of the generated enum ``kind``."""
    try:
        return kind(getattr(value, "value", value))
    except ValueError:
        allowed = ", ".join(str(member.value) for member in kind)
        raise DriftlockValidationError(
            f"must be one of {allowed}, got {value!r}", field_path=field
        ) from None


def _instant(value: datetime.datetime | str | None, field: str) -> datetime.datetime | Unset:
    if value is None:
        return UNSET
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise DriftlockValidationError(
                f"must be an ISO 8601 date-time, got {value!r}", field_path=field
            ) from None
    if not isinstance(value, datetime.datetime):
        raise DriftlockValidationError(
            f"must be a datetime or an ISO 8601 string, got {value!r}", field_path=field
        )
    return value


def _config_override(value: Mapping[str, Any] | None) -> wire.ConfigOverride | Unset:
    if value is None:
        return UNSET
    if not isinstance(value, Mapping):
        raise DriftlockValidationError(
            "must be a dict of detection settings", field_path="config_override"
        )
    settings = json_safe(value, "config_override")
    try:
        return wire.ConfigOverride.from_dict(settings)
    except ValueError as exc:  # an unknown compressor
        raise DriftlockValidationError(f"compressor: {exc}", field_path="config_override") from None
