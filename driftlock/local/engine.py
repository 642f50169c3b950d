"""The embedded engine's service layer: streams, anomalies, feedback, anchors and idempotency.

:class:`Engine` implements every operation of the API on plain Python values; the HTTP app
(:mod:`driftlock.local.app`) validates requests and turns these values into JSON. Detection
itself is :class:`~driftlock.local.detector.StreamDetector`'s job: the engine keeps one per
stream, feeds it, and records what it reports.

State lives in SQLite (:mod:`driftlock.local._storage`): a file under ``data_dir`` that is
committed before any answer is returned, or an in-memory database. Identifiers are derived from
the stream's name and the ingest position, so the same events give the same output.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from driftlock._version import __version__
from driftlock.local._serialize import redact_secrets
from driftlock.local._storage import AnomalyFilter, AnomalyRow, Storage, StreamRow, TuneRow
from driftlock.local.detector import (
    DRIFT_NCD_THRESHOLD,
    PROFILES,
    AnchorInfo,
    BatchResult,
    DetectorSettings,
    StreamDetector,
)

__all__ = [
    "DEFAULT_STREAM",
    "DEMO_LIMIT_PER_MINUTE",
    "DEMO_MAX_EVENTS",
    "DEMO_SETTINGS",
    "Engine",
    "EngineError",
]

DEFAULT_STREAM: Final = "default"
"""The stream a detect request without ``stream_id`` goes to."""

DEMO_LIMIT_PER_MINUTE: Final = 10
DEMO_MAX_EVENTS: Final = 200
DEMO_SETTINGS: Final = replace(PROFILES["sensitive"], baseline_size=100, window_size=20, hop_size=5)
"""A small baseline and window, so that one demo request (at most 200 events) reaches detection."""

NCD_THRESHOLD_RANGE: Final = (0.1, 0.8)
P_VALUE_THRESHOLD_RANGE: Final = (0.001, 0.2)
IDEMPOTENCY_TTL_SECONDS: Final = 24 * 3600.0

SUPPORTED_EXPORT_FORMATS: Final = ("json", "markdown")

PROFILE_DESCRIPTIONS: Final = {
    "sensitive": "Small baseline and loose thresholds: finds more, including weaker signals.",
    "balanced": "The default: a good trade-off between missed incidents and false alarms.",
    "strict": "Large baseline and tight thresholds: only strong, well-established signals.",
}

# Feedback moves both thresholds by a factor: a false positive makes the stream less eager, a
# confirmation slightly more. Multiplicative steps suit p-values, which span decades.
_TUNING_STEPS: Final[dict[str, tuple[float, float]]] = {
    "false_positive": (1.10, 0.70),
    "dismissed": (1.05, 0.85),
    "confirmed": (0.97, 1.10),
}
_FEEDBACK_STATUS: Final = {
    "false_positive": "resolved",
    "dismissed": "resolved",
    "confirmed": "acknowledged",
}

# Fixed, so that ids are stable across processes and restarts.
_ID_NAMESPACE: Final = uuid.UUID("5b0f6a52-3c1e-4d0b-9a57-6f1d2c8e4b19")


class EngineError(Exception):
    """A request the engine refuses: carries the HTTP status and the API's error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _not_found(message: str) -> EngineError:
    return EngineError(404, "not_found", message)


def _invalid(message: str) -> EngineError:
    return EngineError(400, "invalid_argument", message)


def _timestamp_text(moment: datetime) -> str:
    """A UTC instant as fixed-width ISO 8601 text, which sorts like the instant itself."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    # isoformat pads the year to four digits, where strftime("%Y") may not.
    return moment.isoformat(timespec="microseconds") + "Z"


def _now_text() -> str:
    return _timestamp_text(datetime.now(UTC))


def _stable_id(*parts: object) -> str:
    """A UUID determined by ``parts``; each part is length-prefixed, so no two lists collide."""
    text = "".join(f"{len(str(part))}:{part};" for part in parts)
    return str(uuid.uuid5(_ID_NAMESPACE, text))


def _stream_seed(name: str) -> int:
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big")


def _finite_items(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without NaN or infinite numbers, which JSON cannot carry."""
    return {
        key: value
        for key, value in values.items()
        if not (isinstance(value, float) and not math.isfinite(value))
    }


def _all_finite(values: Mapping[str, Any]) -> bool:
    return all(not isinstance(v, float) or math.isfinite(v) for v in values.values())


@dataclass(eq=False, slots=True)
class _Stream:
    """A stream's live state; ``lock`` serialises everything that reads or changes it."""

    name: str
    detector: StreamDetector
    profile: str = "balanced"
    auto_tune: bool = True
    adaptive_window: bool = False
    anchor_enabled: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    def row(self) -> StreamRow:
        """What is saved after each change; the detector's bulky parts are written apart, as
        far as they are new (see :class:`~driftlock.local._storage.EventLog`)."""
        return StreamRow(
            name=self.name,
            profile=self.profile,
            auto_tune=self.auto_tune,
            adaptive_window=self.adaptive_window,
            anchor_enabled=self.anchor_enabled,
            detector=self.detector.snapshot(bulk=False),
        )


@dataclass(slots=True)
class _KeyLock:
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0


class _KeyedLocks:
    """One lock per key, existing only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._locks: dict[str, _KeyLock] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._mutex:
            entry = self._locks.setdefault(key, _KeyLock())
            entry.users += 1
        try:
            with entry.lock:
                yield
        finally:
            with self._mutex:
                entry.users -= 1
                if entry.users == 0:
                    del self._locks[key]


class Engine:
    """A Driftlock engine: the state and operations behind every endpoint of the API.

    ``data_dir`` keeps everything in ``data_dir/driftlock.sqlite3``; without it, state lives in
    memory and dies with the engine. All methods are thread-safe: the registry and the database
    each have a lock, and every stream has its own, so different streams detect in parallel.
    Refusals raise :class:`EngineError`.
    """

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = data_dir
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
            self._storage = Storage(data_dir / "driftlock.sqlite3")
        else:
            self._storage = Storage()
        self._streams: dict[str, _Stream] = {}
        self._registry_lock = threading.Lock()
        self._idempotency_locks = _KeyedLocks()

    def close(self) -> None:
        """Release the database; everything acknowledged is already committed."""
        self._storage.close()

    # streams

    def _stream(self, name: str, *, create: bool) -> _Stream | None:
        with self._registry_lock:
            stream = self._streams.get(name)
            if stream is not None:
                return stream
            row = self._storage.load_stream(name) if self._storage.persistent else None
            if row is not None:
                stream = _Stream(
                    name=name,
                    detector=StreamDetector.restore(row.detector),
                    profile=row.profile,
                    auto_tune=row.auto_tune,
                    adaptive_window=row.adaptive_window,
                    anchor_enabled=row.anchor_enabled,
                )
            elif create:
                stream = _Stream(
                    name=name,
                    detector=StreamDetector(PROFILES["balanced"], seed=_stream_seed(name)),
                )
            else:
                return None
            self._streams[name] = stream
            return stream

    def _existing(self, name: str) -> _Stream:
        stream = self._stream(name, create=False)
        if stream is None:
            raise _not_found(f"stream {name!r} does not exist")
        return stream

    def _forget(self, stream: _Stream) -> None:
        """Drop a stream's live state after a failure, so it reloads from the last commit."""
        if self._storage.persistent:
            with self._registry_lock:
                if self._streams.get(stream.name) is stream:
                    del self._streams[stream.name]

    def events_ingested(self, stream_id: str) -> int:
        """How many events the stream has received (0 for a stream that does not exist)."""
        stream = self._stream(stream_id, create=False)
        return 0 if stream is None else stream.detector.events_ingested

    def _save(self, stream: _Stream) -> None:
        if self._storage.persistent:
            self._storage.save_stream(stream.row(), stream.detector)

    # detection

    def detect(
        self,
        events: Sequence[Mapping[str, Any]],
        *,
        stream_id: str | None = None,
        config_override: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        request_fingerprint: str | None = None,
        request_id: str = "",
    ) -> dict[str, Any]:
        """Append ``events`` to the stream (created on first use) and report what they show.

        ``events`` must already be validated (1 to 1000 JSON objects). With
        ``idempotency_key``, a repeat of the same request returns the first answer without
        ingesting anything, and a different request under the same key is a conflict (409).
        ``request_fingerprint`` tells requests apart (the HTTP layer passes a hash of the
        body); by default it is a hash of the stream, the events and the override.
        """
        started = time.perf_counter()
        name = stream_id or DEFAULT_STREAM
        if idempotency_key is None:
            return self._detect(name, events, config_override, None, request_id, started)
        fingerprint = (
            request_fingerprint
            or hashlib.sha256(
                json.dumps(
                    [name, events, config_override], sort_keys=True, ensure_ascii=True
                ).encode()
            ).hexdigest()
        )
        with self._idempotency_locks.hold(idempotency_key):
            seen = self._storage.get_idempotent(idempotency_key)
            if seen is not None:
                if seen[0] != fingerprint:
                    raise EngineError(
                        409,
                        "conflict",
                        "this Idempotency-Key was already used with a different request",
                    )
                return seen[1]
            return self._detect(
                name, events, config_override, (idempotency_key, fingerprint), request_id, started
            )

    def _detect(
        self,
        name: str,
        events: Sequence[Mapping[str, Any]],
        config_override: Mapping[str, Any] | None,
        idempotency: tuple[str, str] | None,
        request_id: str,
        started: float,
    ) -> dict[str, Any]:
        base = self._stream(name, create=False)
        # Checked before the stream exists, so that a refused request creates nothing.
        _with_override(base.detector.settings if base else PROFILES["balanced"], config_override)
        stream = self._stream(name, create=True)
        assert stream is not None
        with stream.lock:
            detector = stream.detector
            override = (
                _with_override(detector.settings, config_override) if config_override else None
            )
            before = detector.events_ingested
            batch_id = _stable_id("batch", name, before)
            try:
                result = detector.process(events, override)
                response, rows = _detect_response(
                    name, detector, override, events, result, before, batch_id, started, request_id
                )
                with self._storage.atomic():
                    self._save(stream)
                    self._storage.insert_anomalies(rows)
                    if idempotency is not None:
                        self._storage.put_idempotent(
                            idempotency[0],
                            idempotency[1],
                            response,
                            time.time(),
                            IDEMPOTENCY_TTL_SECONDS,
                        )
            except BaseException:
                self._forget(stream)
                raise
        return response

    def demo_detect(
        self,
        events: Sequence[Mapping[str, Any]],
        *,
        stream_id: str | None = None,
        config_override: Mapping[str, Any] | None = None,
        request_id: str = "",
    ) -> dict[str, Any]:
        """Detect on a fresh, temporary stream with a small baseline; nothing is stored."""
        started = time.perf_counter()
        if len(events) > DEMO_MAX_EVENTS:
            raise _invalid(f"the demo accepts at most {DEMO_MAX_EVENTS} events per request")
        name = stream_id or "demo"
        settings = _with_override(DEMO_SETTINGS, config_override)
        detector = StreamDetector(settings, seed=_stream_seed(name))
        result = detector.process(events)
        batch_id = _stable_id("demo-batch", name)
        response, _ = _detect_response(
            name, detector, None, events, result, 0, batch_id, started, request_id
        )
        return response

    # anomalies

    def list_anomalies(
        self,
        *,
        stream_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        """One page of stored anomalies, newest first, with the total matching the filters."""
        query = AnomalyFilter(
            stream_id=stream_id,
            since=_timestamp_text(since) if since else None,
            until=_timestamp_text(until) if until else None,
            status=status,
            limit=limit,
            # SQLite integers stop at 2**63; any offset past that lists nothing anyway.
            offset=min(offset, 2**62),
        )
        rows, total = self._storage.list_anomalies(query)
        return {
            "anomalies": [_anomaly_summary(row) for row in rows],
            "total": total,
            "limit": limit,
            "offset": offset,
        }

    def _anomaly(self, anomaly_id: str) -> AnomalyRow:
        row = self._storage.get_anomaly(anomaly_id)
        if row is None:
            raise _not_found(f"anomaly {anomaly_id!r} does not exist")
        return row

    def get_anomaly(self, anomaly_id: str) -> dict[str, Any]:
        """One anomaly with its (redacted) event and metrics."""
        return _anomaly_detail(self._anomaly(anomaly_id))

    def export_anomalies(self, anomaly_ids: Sequence[str], fmt: str = "json") -> dict[str, Any]:
        """An evidence bundle of the given anomalies, completed at once (JSON or Markdown)."""
        if fmt not in SUPPORTED_EXPORT_FORMATS:
            raise _invalid(
                f"export format {fmt!r} is not supported by the embedded engine;"
                f" supported formats: {', '.join(SUPPORTED_EXPORT_FORMATS)}"
            )
        unique = list(dict.fromkeys(anomaly_ids))
        rows = [self._anomaly(anomaly_id) for anomaly_id in unique]
        exported_at = _now_text()
        if fmt == "json":
            content = _export_json(rows, exported_at)
        else:
            content = _export_markdown(rows, exported_at)
        job = _stable_id("export", fmt, *unique)
        return {
            "job_id": job,
            "status": "completed",
            "format": fmt,
            "anomaly_count": len(rows),
            "content": content,
        }

    def submit_feedback(
        self, anomaly_id: str, feedback_type: str, reason: str | None = None
    ) -> dict[str, Any]:
        """Record feedback, update the anomaly's status and, with auto-tune, the thresholds."""
        if feedback_type not in _FEEDBACK_STATUS:
            raise _invalid(
                "feedback_type must be one of false_positive, confirmed, dismissed;"
                f" got {feedback_type!r}"
            )
        row = self._anomaly(anomaly_id)
        stream = self._existing(row.stream_id)
        status = _FEEDBACK_STATUS[feedback_type]
        now = _now_text()
        with stream.lock:
            counts = self._storage.feedback_counts(stream.name)
            tuning = _tune(stream, feedback_type, anomaly_id, sum(counts.values()) + 1, now)
            try:
                with self._storage.atomic():
                    self._storage.add_feedback(stream.name, anomaly_id, feedback_type, reason, now)
                    self._storage.set_anomaly_status(anomaly_id, status)
                    if tuning:
                        self._storage.add_tuning(stream.name, tuning)
                        self._save(stream)
            except BaseException:
                self._forget(stream)
                raise
        if tuning:
            changes = ", ".join(f"{t.tune_type} {t.old_value:g} -> {t.new_value:g}" for t in tuning)
            message = f"Feedback recorded; thresholds tuned ({changes})."
        elif stream.auto_tune:
            message = "Feedback recorded; thresholds already at their limits."
        else:
            message = "Feedback recorded; auto-tune is off, thresholds unchanged."
        return {
            "success": True,
            "anomaly_id": anomaly_id,
            "feedback_type": feedback_type,
            "anomaly_status": status,
            "message": message,
        }

    # stream settings

    def get_profile(self, stream_id: str) -> dict[str, Any]:
        """The stream's profile, tuning switches and current thresholds."""
        stream = self._existing(stream_id)
        with stream.lock:
            return _profile_view(stream)

    def update_profile(
        self,
        stream_id: str,
        *,
        profile: str | None = None,
        auto_tune_enabled: bool | None = None,
        adaptive_window_enabled: bool | None = None,
    ) -> dict[str, Any]:
        """Switch the stream's profile or tuning switches; creates the stream if needed.

        A named profile replaces the stream's settings (tuned thresholds included); ``custom``
        keeps the current ones.
        """
        if profile is not None and profile != "custom" and profile not in PROFILES:
            raise _invalid(
                f"profile must be one of {', '.join([*PROFILES, 'custom'])}; got {profile!r}"
            )
        stream = self._stream(stream_id, create=True)
        assert stream is not None
        with stream.lock:
            if profile is not None:
                if profile != "custom":
                    stream.detector.settings = PROFILES[profile]
                stream.profile = profile
            if auto_tune_enabled is not None:
                stream.auto_tune = auto_tune_enabled
            if adaptive_window_enabled is not None:
                stream.adaptive_window = adaptive_window_enabled
            try:
                with self._storage.atomic():
                    self._save(stream)
            except BaseException:
                self._forget(stream)
                raise
            return {
                "success": True,
                "profile": stream.profile,
                "auto_tune_enabled": stream.auto_tune,
                "adaptive_window_enabled": stream.adaptive_window,
                "message": f"Stream {stream.name!r} uses the {stream.profile} profile.",
            }

    def get_tuning(self, stream_id: str) -> dict[str, Any]:
        """The stream's settings, its tuning history (newest first) and feedback statistics."""
        stream = self._existing(stream_id)
        with stream.lock:
            settings = _profile_view(stream)
            history = self._storage.tuning_history(stream.name)
            counts = self._storage.feedback_counts(stream.name)
        total = sum(counts.values())
        false_positives = counts.get("false_positive", 0)
        return {
            "current_settings": settings,
            "tune_history": [
                {
                    "tune_type": entry.tune_type,
                    "old_value": entry.old_value,
                    "new_value": entry.new_value,
                    "reason": entry.reason,
                    "confidence": entry.confidence,
                    "created_at": entry.created_at,
                }
                for entry in history
            ],
            "feedback_stats": {
                "total_feedback": total,
                "false_positives": false_positives,
                "confirmed": counts.get("confirmed", 0),
                "dismissed": counts.get("dismissed", 0),
                "false_positive_rate": false_positives / total if total else 0.0,
            },
        }

    # drift anchors

    def get_anchor(self, stream_id: str) -> dict[str, Any]:
        """The stream's drift-anchor settings and whether an anchor is active."""
        stream = self._existing(stream_id)
        with stream.lock:
            anchor = _active_anchor(stream)
            return {
                "anchor_enabled": stream.anchor_enabled,
                "drift_ncd_threshold": (
                    anchor.drift_ncd_threshold if anchor else DRIFT_NCD_THRESHOLD
                ),
                "anchor_reset_on_drift": False,
                "has_active_anchor": anchor is not None,
                "anchor_id": anchor.id if anchor else None,
            }

    def get_anchor_details(self, stream_id: str) -> dict[str, Any]:
        """The active anchor with its metrics, or ``anchor: null`` with the reason."""
        stream = self._existing(stream_id)
        with stream.lock:
            anchor = _active_anchor(stream)
            if anchor is None:
                if not stream.anchor_enabled:
                    message = "Drift detection is off: the anchor was deleted."
                else:
                    message = "No anchor yet: one is taken when calibration completes."
                return {"anchor": None, "message": message}
            return {"anchor": _anchor_view(stream.name, anchor), "message": "Active anchor."}

    def reset_anchor(
        self, stream_id: str, events: Sequence[Mapping[str, Any]], *, force_reset: bool = False
    ) -> dict[str, Any]:
        """Replace the stream's anchor by one built from ``events``; 412 before calibration."""
        stream = self._existing(stream_id)
        with stream.lock:
            detector = stream.detector
            needed = detector.settings.min_baseline_size - detector.events_ingested
            if needed > 0 and not force_reset:
                raise EngineError(
                    412,
                    "conflict",
                    f"stream {stream.name!r} is still calibrating ({needed} more events needed);"
                    " pass force_reset to replace its anchor anyway",
                )
            try:
                anchor = detector.reset_anchor(events)
                stream.anchor_enabled = True
                with self._storage.atomic():
                    self._save(stream)
            except BaseException:
                self._forget(stream)
                raise
        return {
            "success": True,
            "anchor_id": anchor.id,
            "message": f"New anchor built from {anchor.event_count} events.",
        }

    def delete_anchor(self, stream_id: str) -> dict[str, Any]:
        """Deactivate the stream's anchor, which turns drift detection off."""
        stream = self._existing(stream_id)
        with stream.lock:
            anchor = _active_anchor(stream)
            try:
                stream.detector.delete_anchor()
                stream.anchor_enabled = False
                with self._storage.atomic():
                    self._save(stream)
            except BaseException:
                self._forget(stream)
                raise
        if anchor is None:
            return {"success": True, "anchor_id": None, "message": "No active anchor."}
        return {
            "success": True,
            "anchor_id": anchor.id,
            "message": "Anchor deactivated; drift detection is off.",
        }

    # service-wide

    @staticmethod
    def list_profiles() -> dict[str, Any]:
        """The named profiles a stream can use, with their thresholds."""
        return {"profiles": _profile_summaries()}

    @staticmethod
    def health() -> dict[str, Any]:
        """Liveness: the engine runs."""
        return {
            "ok": True,
            "version": __version__,
            "library_status": "healthy",
            "openzl_available": False,
        }

    def readiness(self) -> dict[str, Any]:
        """Readiness: whether the database answers."""
        ready = self._storage.ping()
        return {"ready": ready, "database": "connected" if ready else "disconnected"}


# helpers (pure functions of their arguments)


def _with_override(
    settings: DetectorSettings, override: Mapping[str, Any] | None
) -> DetectorSettings:
    """``settings`` with the request's ``config_override`` fields applied."""
    if not override:
        return settings
    values = dict(override)
    if values.get("p_value_threshold") == 0:
        # The API allows 0 (nothing is significant); the detector needs a positive threshold,
        # and no p-value is ever below the smallest positive float.
        values["p_value_threshold"] = sys.float_info.min
    try:
        return replace(settings, **values)
    except (TypeError, ValueError) as exc:
        raise _invalid(f"config_override is not usable: {exc}") from None


def _calibration(detector: StreamDetector, override: DetectorSettings | None) -> dict[str, Any]:
    settings = override or detector.settings
    ingested = detector.events_ingested
    minimum = settings.min_baseline_size
    ready = detector.detection_ready(override)
    needed_for_detection = detector.events_needed_for_detection(override)
    if ingested < minimum:
        message = f"Calibrating the baseline: {ingested} of {minimum} events."
    elif not ready:
        message = f"Baseline calibrated; detection starts after {needed_for_detection} more events."
    else:
        message = "Detection is active."
    return {
        "events_ingested": ingested,
        "events_needed": max(0, minimum - ingested),
        "min_baseline_size": minimum,
        "progress_percent": min(100, ingested * 100 // max(1, minimum)),
        "detection_ready": ready,
        "detection_events_needed": needed_for_detection,
        "detection_min_events": settings.detection_min_events,
        "message": message,
    }


def _detect_response(
    name: str,
    detector: StreamDetector,
    override: DetectorSettings | None,
    events: Sequence[Mapping[str, Any]],
    result: BatchResult,
    before: int,
    batch_id: str,
    started: float,
    request_id: str,
) -> tuple[dict[str, Any], list[AnomalyRow]]:
    """The detect response and the anomaly rows to store, from a processed batch."""
    detected_at = _now_text()
    anomalies: list[dict[str, Any]] = []
    rows: list[AnomalyRow] = []
    seen: dict[int, int] = {}
    for detection in result.detections:
        # A second detection of the same event (another signal) gets its own stable id.
        repeat = seen.get(detection.index, 0)
        seen[detection.index] = repeat + 1
        anomaly_id = _stable_id("anomaly", name, before + detection.index, repeat)
        event = dict(redact_secrets(events[detection.index]))
        metrics = _finite_items(detection.metrics)
        anomalies.append(
            {
                "id": anomaly_id,
                "index": detection.index,
                "detected": True,
                "why": detection.why,
                "event": event,
                "metrics": metrics,
            }
        )
        rows.append(
            AnomalyRow(
                id=anomaly_id,
                stream_id=name,
                detected_at=detected_at,
                status="open",
                data={
                    "ncd": float(metrics.get("ncd", 0.0)),
                    "p_value": float(metrics.get("p_value", 1.0)),
                    "confidence": float(metrics.get("confidence_level", 0.0)),
                    "explanation": detection.why,
                    "signal": detection.signal,
                    "batch_id": batch_id,
                    "index": detection.index,
                    "event": event,
                    "metrics": metrics,
                },
            )
        )
    calibration = _calibration(detector, override)
    response: dict[str, Any] = {
        "success": True,
        "batch_id": batch_id,
        "stream_id": name,
        "total_events": len(events),
        "anomaly_count": len(anomalies),
        "processing_time": f"{(time.perf_counter() - started) * 1000:.0f}ms",
        "compression_algo": result.compression_algo,
        "request_id": request_id,
        "status": "calibrating" if calibration["events_needed"] else "ready",
        "detection_ready": calibration["detection_ready"],
        "detection_events_needed": calibration["detection_events_needed"],
        "calibration": calibration,
        "anomalies": anomalies,
        "drift": _finite_items(result.drift) if result.drift is not None else None,
        "value_outliers": [o for o in result.value_outliers if _all_finite(o)],
    }
    if result.fallback_from_algo:
        response["fallback_from_algo"] = result.fallback_from_algo
    return response, rows


def _tune(
    stream: _Stream, feedback_type: str, anomaly_id: str, feedback_total: int, now: str
) -> list[TuneRow]:
    """Apply one feedback to the stream's thresholds (with auto-tune on); the changes made."""
    if not stream.auto_tune:
        return []
    ncd_factor, p_factor = _TUNING_STEPS[feedback_type]
    settings = stream.detector.settings
    ncd = round(_clamp(settings.ncd_threshold * ncd_factor, *NCD_THRESHOLD_RANGE), 4)
    p_value = round(_clamp(settings.p_value_threshold * p_factor, *P_VALUE_THRESHOLD_RANGE), 5)
    # Confidence grows with the amount of feedback the stream has received.
    confidence = round(min(1.0, 0.5 + 0.05 * feedback_total), 3)
    reason = f"feedback {feedback_type} on anomaly {anomaly_id}"
    changes = [
        TuneRow(kind, old, new, reason, confidence, now)
        for kind, old, new in (
            ("ncd_threshold", settings.ncd_threshold, ncd),
            ("p_value_threshold", settings.p_value_threshold, p_value),
        )
        if new != old
    ]
    if changes:
        stream.detector.settings = replace(settings, ncd_threshold=ncd, p_value_threshold=p_value)
        stream.profile = "custom"
    return changes


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def _profile_summaries() -> dict[str, Any]:
    return {
        name: {
            "name": name,
            "description": PROFILE_DESCRIPTIONS.get(name, ""),
            "ncd_threshold": settings.ncd_threshold,
            "pvalue_threshold": settings.p_value_threshold,
            "baseline_size": settings.baseline_size,
            "window_size": settings.window_size,
        }
        for name, settings in PROFILES.items()
    }


def _profile_view(stream: _Stream) -> dict[str, Any]:
    settings = stream.detector.settings
    return {
        "profile": stream.profile,
        "auto_tune_enabled": stream.auto_tune,
        "adaptive_window_enabled": stream.adaptive_window,
        "current_thresholds": {
            "ncd_threshold": settings.ncd_threshold,
            "pvalue_threshold": settings.p_value_threshold,
            "baseline_size": settings.baseline_size,
            "window_size": settings.window_size,
        },
        "profile_descriptions": _profile_summaries(),
    }


def _active_anchor(stream: _Stream) -> AnchorInfo | None:
    anchor = stream.detector.anchor
    return anchor if anchor is not None and anchor.is_active else None


def _anchor_view(stream_id: str, anchor: AnchorInfo) -> dict[str, Any]:
    created = _timestamp_text(anchor.created_at)
    return {
        "id": anchor.id,
        "stream_id": stream_id,
        "compressor": anchor.compressor,
        "event_count": anchor.event_count,
        "calibration_completed_at": created,
        "is_active": anchor.is_active,
        "baseline_entropy": anchor.baseline_entropy,
        "baseline_compression_ratio": anchor.baseline_compression_ratio,
        "drift_ncd_threshold": anchor.drift_ncd_threshold,
        "created_at": created,
    }


def _anomaly_summary(row: AnomalyRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "stream_id": row.stream_id,
        "detected_at": row.detected_at,
        "status": row.status,
        "ncd": row.data["ncd"],
        "p_value": row.data["p_value"],
        "confidence": row.data["confidence"],
        "explanation": row.data["explanation"],
    }


def _anomaly_detail(row: AnomalyRow) -> dict[str, Any]:
    return {**_anomaly_summary(row), "event": row.data["event"], "metrics": row.data["metrics"]}


def _export_json(rows: Sequence[AnomalyRow], exported_at: str) -> str:
    bundle = {
        "exported_at": exported_at,
        "source": "driftlock embedded engine",
        "anomaly_count": len(rows),
        "anomalies": [{**_anomaly_detail(row), "signal": row.data.get("signal")} for row in rows],
    }
    return json.dumps(bundle, indent=2, sort_keys=True)


def _md_cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _export_markdown(rows: Sequence[AnomalyRow], exported_at: str) -> str:
    lines = [
        "# Driftlock anomaly evidence",
        "",
        f"Exported {exported_at} from the embedded engine: {len(rows)} anomalies.",
    ]
    for row in rows:
        data = row.data
        lines += [
            "",
            f"## Anomaly {row.id}",
            "",
            "| field | value |",
            "|---|---|",
            f"| stream | {_md_cell(row.stream_id)} |",
            f"| detected at | {row.detected_at} |",
            f"| status | {row.status} |",
            f"| signal | {_md_cell(data.get('signal', ''))} |",
            f"| NCD | {data['ncd']:.4f} |",
            f"| p-value | {data['p_value']:.4g} |",
            f"| confidence | {data['confidence']:.3f} |",
            "",
            f"**Why:** {data['explanation']}",
            "",
            "### Metrics",
            "",
            "| metric | value |",
            "|---|---|",
            *(f"| {_md_cell(k)} | {_md_cell(v)} |" for k, v in sorted(data["metrics"].items())),
            "",
            "### Event",
            "",
            "```json",
            json.dumps(data["event"], indent=2, sort_keys=True).replace("```", "`\u200b``"),
            "```",
        ]
    return "\n".join(lines) + "\n"
