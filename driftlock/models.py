"""The results the clients return: immutable, typed with plain Python types.

Each class is built from the generated layer's model (``from_wire``), checking every value's
type on the way: a response that does not match its documented shape raises
:class:`~driftlock.exceptions.DriftlockResponseError` instead of handing out a half-valid
object. Fields a newer server adds are kept, never fatal: they are in each object's read-only
``extra`` mapping. A field is Optional only where the API may omit it.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, TypedDict, TypeVar, dataclass_transform

from driftlock_generated import models as wire
from driftlock_generated.types import Unset

__all__ = [
    "Anchor",
    "AnchorChange",
    "AnchorDetails",
    "AnchorSettings",
    "Anomaly",
    "AnomalyDetail",
    "AnomalyMetrics",
    "AnomalyPage",
    "AnomalyRecord",
    "Calibration",
    "ConfigOverride",
    "DemoDetectResult",
    "DemoInfo",
    "DetectResult",
    "Drift",
    "Evidence",
    "ExportJob",
    "FeedbackResult",
    "FeedbackStats",
    "Health",
    "ProfileList",
    "ProfileSummary",
    "ProfileThresholds",
    "ProfileUpdate",
    "Readiness",
    "StreamProfile",
    "StreamTuning",
    "TuneHistoryEntry",
    "ValueOutlier",
]

_NO_EXTRA: Final[Mapping[str, Any]] = MappingProxyType({})
_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, kw_only_default=True)
def _model(cls: type[_T]) -> type[_T]:
    return dataclasses.dataclass(frozen=True, slots=True, kw_only=True)(cls)


class ConfigOverride(TypedDict, total=False):
    """Detection settings for one ``detect`` call (every key optional)."""

    baseline_size: int
    window_size: int
    hop_size: int
    ncd_threshold: float
    p_value_threshold: float
    permutation_count: int
    compressor: str


class ResponseShapeError(Exception):
    """A response field is missing or has the wrong type (``path`` says which)."""

    def __init__(self, path: str, expected: str, value: object) -> None:
        self.path = path
        shown = "missing" if isinstance(value, Unset) else f"got {type(value).__name__}"
        super().__init__(f"{path}: expected {expected}, {shown}")


@_model
class _Model:
    extra: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: _NO_EXTRA, repr=False, compare=False
    )

    def to_dict(self) -> dict[str, Any]:
        """The object as plain dicts and lists, in the API's field names, ``extra`` included."""
        out: dict[str, Any] = dict(self.extra)
        for f in dataclasses.fields(self):
            if f.name != "extra":
                out[f.name] = _plain(getattr(self, f.name))
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, _Model):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


# --- checked reads from the generated models --------------------------------------------------


def _str(value: object, where: str, field: str) -> str:
    if type(value) is str:
        return value
    raise ResponseShapeError(_at(where, field), "a string", value)


def _int(value: object, where: str, field: str) -> int:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    raise ResponseShapeError(_at(where, field), "an integer", value)


def _float(value: object, where: str, field: str) -> float:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise ResponseShapeError(_at(where, field), "a number", value)


def _bool(value: object, where: str, field: str) -> bool:
    if type(value) is bool:
        return value
    raise ResponseShapeError(_at(where, field), "true or false", value)


def _time(value: object, where: str, field: str) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return value
    raise ResponseShapeError(_at(where, field), "a date-time", value)


def _dict(value: object, where: str, field: str) -> dict[str, Any]:
    if type(value) is dict:
        return value
    raise ResponseShapeError(_at(where, field), "an object", value)


def _list(value: object, where: str, field: str) -> list[Any]:
    if type(value) is list:
        return value
    raise ResponseShapeError(_at(where, field), "a list", value)


def _opt_str(value: object, where: str, field: str) -> str | None:
    if type(value) is str:
        return value
    return None if value is None or isinstance(value, Unset) else _str(value, where, field)


def _opt_int(value: object, where: str, field: str) -> int | None:
    if type(value) is int:
        return value
    return None if value is None or isinstance(value, Unset) else _int(value, where, field)


def _opt_float(value: object, where: str, field: str) -> float | None:
    if type(value) is float:
        return value
    return None if value is None or isinstance(value, Unset) else _float(value, where, field)


def _opt_bool(value: object, where: str, field: str) -> bool | None:
    if type(value) is bool:
        return value
    return None if value is None or isinstance(value, Unset) else _bool(value, where, field)


def _opt_time(value: object, where: str, field: str) -> datetime.datetime | None:
    if value is None or isinstance(value, Unset):
        return None
    return _time(value, where, field)


def _at(where: str, field: str) -> str:
    return f"{where}.{field}" if where else field


def _absent(value: object) -> bool:
    return value is None or isinstance(value, Unset)


def _extra(properties: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(properties) if properties else _NO_EXTRA


def _each(value: object, field: str, kind: type[Any]) -> list[Any]:
    items = _list(value, "", field)
    for i, item in enumerate(items):
        if not isinstance(item, kind):
            raise ResponseShapeError(f"{field}[{i}]", "an object", item)
    return items


# --- detection ------------------------------------------------------------------------------

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _snake(name: str) -> str:
    """``PValue`` -> ``p_value``, ``NCD`` -> ``ncd``, ``entropyChange`` -> ``entropy_change``."""
    return _CAMEL.sub("_", name).lower()


@_model
class AnomalyMetrics(_Model):
    """The numbers behind one detection. ``confidence`` is an alias of ``confidence_level``."""

    ncd: float
    p_value: float
    confidence_level: float
    baseline_compression_ratio: float | None = None
    window_compression_ratio: float | None = None
    baseline_entropy: float | None = None
    window_entropy: float | None = None
    entropy_change: float | None = None
    compression_ratio_change: float | None = None
    is_statistically_significant: bool | None = None

    @property
    def confidence(self) -> float:
        """Alias of ``confidence_level`` (the name the vendor's Python docs use)."""
        return self.confidence_level

    @classmethod
    def from_wire(cls, m: wire.AnomalyMetrics, path: str = "metrics") -> AnomalyMetrics:
        """Build from the generated model, accepting the ``NCD``/``PValue`` spellings too."""
        if m.additional_properties:
            m = _respell(m)
        return cls(
            ncd=_float(m.ncd, path, "ncd"),
            p_value=_float(m.p_value, path, "p_value"),
            confidence_level=_float(m.confidence_level, path, "confidence_level"),
            baseline_compression_ratio=_opt_float(
                m.baseline_compression_ratio, path, "baseline_compression_ratio"
            ),
            window_compression_ratio=_opt_float(
                m.window_compression_ratio, path, "window_compression_ratio"
            ),
            baseline_entropy=_opt_float(m.baseline_entropy, path, "baseline_entropy"),
            window_entropy=_opt_float(m.window_entropy, path, "window_entropy"),
            entropy_change=_opt_float(m.entropy_change, path, "entropy_change"),
            compression_ratio_change=_opt_float(
                m.compression_ratio_change, path, "compression_ratio_change"
            ),
            is_statistically_significant=_opt_bool(
                m.is_statistically_significant, path, "is_statistically_significant"
            ),
            extra=_extra(m.additional_properties),
        )


_METRIC_NAMES: Final = frozenset(f.name for f in dataclasses.fields(AnomalyMetrics)) - {"extra"}


def _respell(m: wire.AnomalyMetrics) -> wire.AnomalyMetrics:
    """The metrics with keys in another spelling (``NCD``, ``PValue``, ``confidence``) renamed
    to the documented ones, unless those are present too; other unknown keys stay extra."""
    data = m.to_dict()
    for key in m.additional_properties:
        name = _snake(key)
        name = "confidence_level" if name == "confidence" else name
        if name in _METRIC_NAMES and name not in data:
            data[name] = data.pop(key)
    return wire.AnomalyMetrics.from_dict(data)


@_model
class Anomaly(_Model):
    """One detected anomaly: ``index`` is the event's position in the list the caller passed
    (also when the list was split into several requests), ``event`` the event as sent."""

    id: str
    index: int
    detected: bool
    why: str
    event: dict[str, Any]
    metrics: AnomalyMetrics

    @classmethod
    def from_wire(cls, a: wire.AnomalyOutput, path: str) -> Anomaly:
        """Build from the generated model."""
        if not isinstance(a.metrics, wire.AnomalyMetrics):
            raise ResponseShapeError(f"{path}.metrics", "an object", a.metrics)
        return cls(
            id=_str(a.id, path, "id"),
            index=_int(a.index, path, "index"),
            detected=_bool(a.detected, path, "detected"),
            why=_str(a.why, path, "why"),
            event=_dict(a.event, path, "event"),
            metrics=AnomalyMetrics.from_wire(a.metrics, f"{path}.metrics"),
            extra=_extra(a.additional_properties),
        )


@_model
class Calibration(_Model):
    """How far the stream is from having a baseline (``events_ingested`` counts every event
    the stream has received, this request's included)."""

    events_ingested: int
    events_needed: int
    min_baseline_size: int
    progress_percent: int
    detection_ready: bool
    detection_events_needed: int
    detection_min_events: int
    message: str | None = None

    @classmethod
    def from_wire(cls, c: wire.CalibrationInfo) -> Calibration:
        """Build from the generated model."""
        p = "calibration"
        return cls(
            events_ingested=_int(c.events_ingested, p, "events_ingested"),
            events_needed=_int(c.events_needed, p, "events_needed"),
            min_baseline_size=_int(c.min_baseline_size, p, "min_baseline_size"),
            progress_percent=_int(c.progress_percent, p, "progress_percent"),
            detection_ready=_bool(c.detection_ready, p, "detection_ready"),
            detection_events_needed=_int(c.detection_events_needed, p, "detection_events_needed"),
            detection_min_events=_int(c.detection_min_events, p, "detection_min_events"),
            message=_opt_str(c.message, p, "message"),
            extra=_extra(c.additional_properties),
        )


@_model
class Drift(_Model):
    """Drift of the newest window against the stream's anchor."""

    anchor_id: str | None = None
    drift_score: float | None = None
    drift_threshold: float | None = None
    drift_detected: bool | None = None
    baseline_events: int | None = None
    window_events: int | None = None
    anchor_created_at: datetime.datetime | None = None
    diagnostic_reason: str | None = None

    @classmethod
    def from_wire(cls, d: wire.DriftResult) -> Drift:
        """Build from the generated model."""
        p = "drift"
        return cls(
            anchor_id=_opt_str(d.anchor_id, p, "anchor_id"),
            drift_score=_opt_float(d.drift_score, p, "drift_score"),
            drift_threshold=_opt_float(d.drift_threshold, p, "drift_threshold"),
            drift_detected=_opt_bool(d.drift_detected, p, "drift_detected"),
            baseline_events=_opt_int(d.baseline_events, p, "baseline_events"),
            window_events=_opt_int(d.window_events, p, "window_events"),
            anchor_created_at=_opt_time(d.anchor_created_at, p, "anchor_created_at"),
            diagnostic_reason=_opt_str(d.diagnostic_reason, p, "diagnostic_reason"),
            extra=_extra(d.additional_properties),
        )


@_model
class ValueOutlier(_Model):
    """A numeric field more than 3 standard deviations from its running mean; ``index`` is
    the event's position in the caller's list when the server reports it."""

    field_path: str
    value: float
    expected_mean: float
    std_dev: float
    z_score: float
    sample_count: int
    index: int | None = None

    @classmethod
    def from_wire(cls, v: wire.ValueOutlier, path: str) -> ValueOutlier:
        """Build from the generated model."""
        return cls(
            field_path=_str(v.field_path, path, "field_path"),
            value=_float(v.value, path, "value"),
            expected_mean=_float(v.expected_mean, path, "expected_mean"),
            std_dev=_float(v.std_dev, path, "std_dev"),
            z_score=_float(v.z_score, path, "z_score"),
            sample_count=_int(v.sample_count, path, "sample_count"),
            index=_opt_int(v.index, path, "index"),
            extra=_extra(v.additional_properties),
        )


@_model
class DetectResult(_Model):
    """The outcome of ``detect``. ``anomalies`` is always a list (empty when nothing was
    found). When the events were sent as several requests, counts are summed, lists joined
    (indices refer to the caller's list), the stream state (``status``, ``calibration``,
    ``drift``, ...) is the latest one reported, and ``batch_ids`` has one id per request.

    ``replayed`` is True when the server did not ingest the events but answered with the
    result it gave the first time it saw this ``idempotency_key`` (every request's, when the
    events were sent as several); that result's ``request_id`` is the first request's, and
    it compares equal to the first result."""

    success: bool
    batch_id: str
    stream_id: str
    total_events: int
    anomaly_count: int
    processing_time: str
    compression_algo: str
    status: str
    detection_ready: bool
    detection_events_needed: int
    calibration: Calibration
    anomalies: list[Anomaly]
    drift: Drift | None = None
    value_outliers: list[ValueOutlier] = dataclasses.field(default_factory=list)
    request_id: str | None = None
    fallback_from_algo: str | None = None
    batch_ids: list[str] = dataclasses.field(default_factory=list)
    # How the answer came, not what it says: a replayed result equals the first one.
    replayed: bool = dataclasses.field(default=False, compare=False)

    @classmethod
    def from_wire(cls, r: wire.DetectResponse | wire.DemoDetectResponse) -> DetectResult:
        """Build from the generated model."""
        return cls(**_detect_fields(r))

    @classmethod
    def disabled(cls, stream_id: str | None) -> DetectResult:
        """The empty result ``detect`` returns when the client was built with enabled=False."""
        return cls(
            success=True,
            batch_id="",
            stream_id=stream_id or "",
            total_events=0,
            anomaly_count=0,
            processing_time="0ms",
            compression_algo="",
            status="disabled",
            detection_ready=False,
            detection_events_needed=0,
            calibration=Calibration(
                events_ingested=0,
                events_needed=0,
                min_baseline_size=0,
                progress_percent=0,
                detection_ready=False,
                detection_events_needed=0,
                detection_min_events=0,
                message="Driftlock is disabled (enabled=False): nothing was sent",
            ),
            anomalies=[],
        )


def _detect_fields(r: wire.DetectResponse | wire.DemoDetectResponse) -> dict[str, Any]:
    if not isinstance(r.calibration, wire.CalibrationInfo):
        raise ResponseShapeError("calibration", "an object", r.calibration)
    anomalies = [
        Anomaly.from_wire(a, f"anomalies[{i}]")
        for i, a in enumerate(_each(r.anomalies, "anomalies", wire.AnomalyOutput))
    ]
    outliers = (
        []
        if isinstance(r.value_outliers, Unset) or r.value_outliers is None
        else [
            ValueOutlier.from_wire(v, f"value_outliers[{i}]")
            for i, v in enumerate(_each(r.value_outliers, "value_outliers", wire.ValueOutlier))
        ]
    )
    drift = r.drift
    if not (drift is None or isinstance(drift, Unset | wire.DriftResult)):
        raise ResponseShapeError("drift", "an object or null", drift)
    batch_id = _str(r.batch_id, "", "batch_id")
    return {
        "success": _bool(r.success, "", "success"),
        "batch_id": batch_id,
        "stream_id": _str(r.stream_id, "", "stream_id"),
        "total_events": _int(r.total_events, "", "total_events"),
        "anomaly_count": _int(r.anomaly_count, "", "anomaly_count"),
        "processing_time": _str(r.processing_time, "", "processing_time"),
        "compression_algo": _str(r.compression_algo, "", "compression_algo"),
        "status": _str(r.status, "", "status"),
        "detection_ready": _bool(r.detection_ready, "", "detection_ready"),
        "detection_events_needed": _int(r.detection_events_needed, "", "detection_events_needed"),
        "calibration": Calibration.from_wire(r.calibration),
        "anomalies": anomalies,
        "drift": Drift.from_wire(drift) if isinstance(drift, wire.DriftResult) else None,
        "value_outliers": outliers,
        "request_id": _opt_str(r.request_id, "", "request_id"),
        "fallback_from_algo": _opt_str(r.fallback_from_algo, "", "fallback_from_algo"),
        "batch_ids": [batch_id],
        "extra": _extra(r.additional_properties),
    }


@_model
class DemoInfo(_Model):
    """What the demo endpoint says about its limits."""

    message: str | None = None
    remaining_calls: int | None = None
    limit_per_minute: int | None = None
    max_events_per_request: int | None = None
    signup_url: str | None = None


@_model
class DemoDetectResult(DetectResult):
    """The outcome of ``demo_detect``: a :class:`DetectResult` plus the demo's limits."""

    demo: DemoInfo | None = None

    @classmethod
    def from_wire(cls, r: wire.DetectResponse | wire.DemoDetectResponse) -> DemoDetectResult:
        """Build from the generated model."""
        demo = getattr(r, "demo", None)
        info = None
        if isinstance(demo, wire.DemoInfo):
            p = "demo"
            info = DemoInfo(
                message=_opt_str(demo.message, p, "message"),
                remaining_calls=_opt_int(demo.remaining_calls, p, "remaining_calls"),
                limit_per_minute=_opt_int(demo.limit_per_minute, p, "limit_per_minute"),
                max_events_per_request=_opt_int(
                    demo.max_events_per_request, p, "max_events_per_request"
                ),
                signup_url=_opt_str(demo.signup_url, p, "signup_url"),
                extra=_extra(demo.additional_properties),
            )
        return cls(**_detect_fields(r), demo=info)


# --- health -----------------------------------------------------------------------------------


@_model
class Health(_Model):
    """``GET /healthz``: the service is alive."""

    ok: bool
    version: str | None = None
    library_status: str | None = None
    openzl_available: bool | None = None

    @classmethod
    def from_wire(cls, h: wire.HealthResponse) -> Health:
        """Build from the generated model."""
        return cls(
            ok=_bool(h.ok, "", "ok"),
            version=_opt_str(h.version, "", "version"),
            library_status=_opt_str(h.library_status, "", "library_status"),
            openzl_available=_opt_bool(h.openzl_available, "", "openzl_available"),
            extra=_extra(h.additional_properties),
        )


@_model
class Readiness(_Model):
    """``GET /readyz``: whether the service can serve (its storage is reachable)."""

    ready: bool
    database: str | None = None

    @classmethod
    def from_wire(cls, r: wire.ReadinessResponse) -> Readiness:
        """Build from the generated model."""
        return cls(
            ready=_bool(r.ready, "", "ready"),
            database=_opt_str(r.database, "", "database"),
            extra=_extra(r.additional_properties),
        )


# --- anomalies --------------------------------------------------------------------------------


def _record_fields(a: wire.Anomaly | wire.AnomalyDetail, p: str) -> dict[str, Any]:
    return {
        "id": _str(a.id, p, "id"),
        "stream_id": _str(a.stream_id, p, "stream_id"),
        "detected_at": _time(a.detected_at, p, "detected_at"),
        "status": _str(a.status, p, "status"),
        "ncd": _float(a.ncd, p, "ncd"),
        "p_value": _float(a.p_value, p, "p_value"),
        "confidence": _float(a.confidence, p, "confidence"),
        "explanation": _str(a.explanation, p, "explanation"),
        "extra": _extra(a.additional_properties),
    }


@_model
class AnomalyRecord(_Model):
    """A stored anomaly, as listed by ``anomalies.list``; ``status`` is open, acknowledged
    or resolved."""

    id: str
    stream_id: str
    detected_at: datetime.datetime
    status: str
    ncd: float
    p_value: float
    confidence: float
    explanation: str

    @classmethod
    def from_wire(
        cls, a: wire.Anomaly | wire.AnomalyDetail, path: str = "anomaly"
    ) -> AnomalyRecord:
        """Build from the generated model."""
        return cls(**_record_fields(a, path))


@_model
class Evidence(_Model):
    """One piece of an anomaly's evidence bundle."""

    format: str | None = None
    uri: str | None = None
    checksum: str | None = None


@_model
class AnomalyDetail(AnomalyRecord):
    """One anomaly with its event, metrics and evidence (``anomalies.get``)."""

    event: dict[str, Any] | None = None
    metrics: AnomalyMetrics | None = None
    evidence: list[Evidence] = dataclasses.field(default_factory=list)

    @classmethod
    def from_wire(
        cls, a: wire.Anomaly | wire.AnomalyDetail, path: str = "anomaly"
    ) -> AnomalyDetail:
        """Build from the generated model (a plain ``Anomaly`` has no event or metrics)."""
        if not isinstance(a, wire.AnomalyDetail):
            return cls(**_record_fields(a, path))
        evidence = [] if isinstance(a.evidence, Unset) else a.evidence
        metrics = a.metrics
        if not isinstance(metrics, Unset | wire.AnomalyMetrics):
            raise ResponseShapeError("metrics", "an object", metrics)
        return cls(
            **_record_fields(a, path),
            event=None if _absent(a.event) else _dict(a.event, "", "event"),
            metrics=None if isinstance(metrics, Unset) else AnomalyMetrics.from_wire(metrics),
            evidence=[
                Evidence(
                    format=_opt_str(e.format_, f"evidence[{i}]", "format"),
                    uri=_opt_str(e.uri, f"evidence[{i}]", "uri"),
                    checksum=_opt_str(e.checksum, f"evidence[{i}]", "checksum"),
                    extra=_extra(e.additional_properties),
                )
                for i, e in enumerate(_each(evidence, "evidence", wire.Evidence))
            ],
        )


@_model
class AnomalyPage(_Model):
    """One page of ``anomalies.list``: ``total`` matches in all, this page from ``offset``."""

    anomalies: list[AnomalyRecord]
    total: int
    limit: int
    offset: int

    @classmethod
    def from_wire(cls, page: wire.AnomalyList) -> AnomalyPage:
        """Build from the generated model."""
        return cls(
            anomalies=[
                AnomalyRecord.from_wire(a, f"anomalies[{i}]")
                for i, a in enumerate(_each(page.anomalies, "anomalies", wire.Anomaly))
            ],
            total=_int(page.total, "", "total"),
            limit=_int(page.limit, "", "limit"),
            offset=_int(page.offset, "", "offset"),
            extra=_extra(page.additional_properties),
        )


@_model
class ExportJob(_Model):
    """An export of anomalies as an evidence bundle; ``content`` holds it once completed."""

    job_id: str
    status: str
    format: str | None = None
    anomaly_count: int | None = None
    content: str | None = None

    @classmethod
    def from_wire(cls, j: wire.ExportJob) -> ExportJob:
        """Build from the generated model."""
        return cls(
            job_id=_str(j.job_id, "", "job_id"),
            status=_str(j.status, "", "status"),
            format=_opt_str(j.format_, "", "format"),
            anomaly_count=_opt_int(j.anomaly_count, "", "anomaly_count"),
            content=_opt_str(j.content, "", "content"),
            extra=_extra(j.additional_properties),
        )


@_model
class FeedbackResult(_Model):
    """What recording feedback on an anomaly did."""

    success: bool | None = None
    anomaly_id: str | None = None
    feedback_type: str | None = None
    anomaly_status: str | None = None
    message: str | None = None

    @classmethod
    def from_wire(cls, f: wire.FeedbackResponse) -> FeedbackResult:
        """Build from the generated model."""
        return cls(
            success=_opt_bool(f.success, "", "success"),
            anomaly_id=_opt_str(f.anomaly_id, "", "anomaly_id"),
            feedback_type=_opt_str(f.feedback_type, "", "feedback_type"),
            anomaly_status=_opt_str(f.anomaly_status, "", "anomaly_status"),
            message=_opt_str(f.message, "", "message"),
            extra=_extra(f.additional_properties),
        )


# --- profiles and streams ---------------------------------------------------------------------


@_model
class ProfileSummary(_Model):
    """A detection profile's settings."""

    name: str | None = None
    description: str | None = None
    ncd_threshold: float | None = None
    pvalue_threshold: float | None = None
    baseline_size: int | None = None
    window_size: int | None = None

    @classmethod
    def from_wire(cls, s: wire.ProfileSummary, path: str) -> ProfileSummary:
        """Build from the generated model."""
        return cls(
            name=_opt_str(s.name, path, "name"),
            description=_opt_str(s.description, path, "description"),
            ncd_threshold=_opt_float(s.ncd_threshold, path, "ncd_threshold"),
            pvalue_threshold=_opt_float(s.pvalue_threshold, path, "pvalue_threshold"),
            baseline_size=_opt_int(s.baseline_size, path, "baseline_size"),
            window_size=_opt_int(s.window_size, path, "window_size"),
            extra=_extra(s.additional_properties),
        )


def _profiles(raw: dict[str, Any], path: str) -> dict[str, ProfileSummary]:
    out: dict[str, ProfileSummary] = {}
    for name, summary in raw.items():
        if not isinstance(summary, wire.ProfileSummary):
            raise ResponseShapeError(f"{path}.{name}", "an object", summary)
        out[name] = ProfileSummary.from_wire(summary, f"{path}.{name}")
    return out


@_model
class ProfileList(_Model):
    """``profiles.list``: the profiles a stream can use, by name."""

    profiles: dict[str, ProfileSummary]

    @classmethod
    def from_wire(cls, p: wire.ProfileList) -> ProfileList:
        """Build from the generated model."""
        if not isinstance(p.profiles, wire.ProfileListProfiles):
            raise ResponseShapeError("profiles", "an object", p.profiles)
        return cls(
            profiles=_profiles(p.profiles.additional_properties, "profiles"),
            extra=_extra(p.additional_properties),
        )


@_model
class ProfileThresholds(_Model):
    """The thresholds a stream detects with right now."""

    ncd_threshold: float
    pvalue_threshold: float
    baseline_size: int
    window_size: int


@_model
class StreamProfile(_Model):
    """A stream's profile (sensitive, balanced, strict or custom) and tuning switches."""

    profile: str
    auto_tune_enabled: bool
    adaptive_window_enabled: bool
    current_thresholds: ProfileThresholds
    profile_descriptions: dict[str, ProfileSummary] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_wire(cls, s: wire.StreamProfile, p: str = "profile") -> StreamProfile:
        """Build from the generated model."""
        t = s.current_thresholds
        if not isinstance(t, wire.ProfileThresholds):
            raise ResponseShapeError(f"{p}.current_thresholds", "an object", t)
        descriptions = s.profile_descriptions
        if not isinstance(descriptions, Unset | wire.StreamProfileProfileDescriptions):
            raise ResponseShapeError(f"{p}.profile_descriptions", "an object", descriptions)
        q = f"{p}.current_thresholds"
        return cls(
            profile=_str(s.profile, p, "profile"),
            auto_tune_enabled=_bool(s.auto_tune_enabled, p, "auto_tune_enabled"),
            adaptive_window_enabled=_bool(s.adaptive_window_enabled, p, "adaptive_window_enabled"),
            current_thresholds=ProfileThresholds(
                ncd_threshold=_float(t.ncd_threshold, q, "ncd_threshold"),
                pvalue_threshold=_float(t.pvalue_threshold, q, "pvalue_threshold"),
                baseline_size=_int(t.baseline_size, q, "baseline_size"),
                window_size=_int(t.window_size, q, "window_size"),
                extra=_extra(t.additional_properties),
            ),
            profile_descriptions=(
                {}
                if isinstance(descriptions, Unset)
                else _profiles(descriptions.additional_properties, f"{p}.profile_descriptions")
            ),
            extra=_extra(s.additional_properties),
        )


@_model
class ProfileUpdate(_Model):
    """What ``streams.update_profile`` changed."""

    success: bool | None = None
    profile: str | None = None
    auto_tune_enabled: bool | None = None
    adaptive_window_enabled: bool | None = None
    message: str | None = None

    @classmethod
    def from_wire(cls, u: wire.UpdateProfileResponse) -> ProfileUpdate:
        """Build from the generated model."""
        return cls(
            success=_opt_bool(u.success, "", "success"),
            profile=_opt_str(u.profile, "", "profile"),
            auto_tune_enabled=_opt_bool(u.auto_tune_enabled, "", "auto_tune_enabled"),
            adaptive_window_enabled=_opt_bool(
                u.adaptive_window_enabled, "", "adaptive_window_enabled"
            ),
            message=_opt_str(u.message, "", "message"),
            extra=_extra(u.additional_properties),
        )


@_model
class TuneHistoryEntry(_Model):
    """One automatic or feedback-driven threshold change."""

    tune_type: str | None = None
    old_value: float | None = None
    new_value: float | None = None
    reason: str | None = None
    confidence: float | None = None
    created_at: datetime.datetime | None = None


@_model
class FeedbackStats(_Model):
    """Counts of the feedback a stream has received."""

    total_feedback: int | None = None
    false_positives: int | None = None
    confirmed: int | None = None
    dismissed: int | None = None
    false_positive_rate: float | None = None


@_model
class StreamTuning(_Model):
    """``streams.get_tuning``: current settings, tuning history and feedback statistics."""

    current_settings: StreamProfile
    tune_history: list[TuneHistoryEntry]
    feedback_stats: FeedbackStats

    @classmethod
    def from_wire(cls, t: wire.StreamTuning) -> StreamTuning:
        """Build from the generated model."""
        if not isinstance(t.current_settings, wire.StreamProfile):
            raise ResponseShapeError("current_settings", "an object", t.current_settings)
        s = t.feedback_stats
        if not isinstance(s, wire.FeedbackStats):
            raise ResponseShapeError("feedback_stats", "an object", s)
        history = []
        for i, h in enumerate(_each(t.tune_history, "tune_history", wire.TuneHistoryEntry)):
            p = f"tune_history[{i}]"
            history.append(
                TuneHistoryEntry(
                    tune_type=_opt_str(h.tune_type, p, "tune_type"),
                    old_value=_opt_float(h.old_value, p, "old_value"),
                    new_value=_opt_float(h.new_value, p, "new_value"),
                    reason=_opt_str(h.reason, p, "reason"),
                    confidence=_opt_float(h.confidence, p, "confidence"),
                    created_at=_opt_time(h.created_at, p, "created_at"),
                    extra=_extra(h.additional_properties),
                )
            )
        p = "feedback_stats"
        return cls(
            current_settings=StreamProfile.from_wire(t.current_settings, "current_settings"),
            tune_history=history,
            feedback_stats=FeedbackStats(
                total_feedback=_opt_int(s.total_feedback, p, "total_feedback"),
                false_positives=_opt_int(s.false_positives, p, "false_positives"),
                confirmed=_opt_int(s.confirmed, p, "confirmed"),
                dismissed=_opt_int(s.dismissed, p, "dismissed"),
                false_positive_rate=_opt_float(s.false_positive_rate, p, "false_positive_rate"),
                extra=_extra(s.additional_properties),
            ),
            extra=_extra(t.additional_properties),
        )


@_model
class AnchorSettings(_Model):
    """``streams.get_anchor``: drift-anchor settings and whether one is active."""

    anchor_enabled: bool
    drift_ncd_threshold: float
    anchor_reset_on_drift: bool
    has_active_anchor: bool
    anchor_id: str | None = None

    @classmethod
    def from_wire(cls, a: wire.AnchorSettings) -> AnchorSettings:
        """Build from the generated model."""
        return cls(
            anchor_enabled=_bool(a.anchor_enabled, "", "anchor_enabled"),
            drift_ncd_threshold=_float(a.drift_ncd_threshold, "", "drift_ncd_threshold"),
            anchor_reset_on_drift=_bool(a.anchor_reset_on_drift, "", "anchor_reset_on_drift"),
            has_active_anchor=_bool(a.has_active_anchor, "", "has_active_anchor"),
            anchor_id=_opt_str(a.anchor_id, "", "anchor_id"),
            extra=_extra(a.additional_properties),
        )


@_model
class Anchor(_Model):
    """A drift anchor: the snapshot of early events that later windows are compared with."""

    id: str
    stream_id: str
    compressor: str
    event_count: int
    is_active: bool
    drift_ncd_threshold: float
    created_at: datetime.datetime
    calibration_completed_at: datetime.datetime | None = None
    baseline_entropy: float | None = None
    baseline_compression_ratio: float | None = None


@_model
class AnchorDetails(_Model):
    """``streams.get_anchor_details``: the active anchor (None when there is none)."""

    anchor: Anchor | None
    message: str | None = None

    @classmethod
    def from_wire(cls, d: wire.AnchorDetails) -> AnchorDetails:
        """Build from the generated model."""
        a = d.anchor
        anchor = None
        if a is not None:
            if not isinstance(a, wire.Anchor):
                raise ResponseShapeError("anchor", "an object or null", a)
            p = "anchor"
            anchor = Anchor(
                id=_str(a.id, p, "id"),
                stream_id=_str(a.stream_id, p, "stream_id"),
                compressor=_str(a.compressor, p, "compressor"),
                event_count=_int(a.event_count, p, "event_count"),
                is_active=_bool(a.is_active, p, "is_active"),
                drift_ncd_threshold=_float(a.drift_ncd_threshold, p, "drift_ncd_threshold"),
                created_at=_time(a.created_at, p, "created_at"),
                calibration_completed_at=_opt_time(
                    a.calibration_completed_at, p, "calibration_completed_at"
                ),
                baseline_entropy=_opt_float(a.baseline_entropy, p, "baseline_entropy"),
                baseline_compression_ratio=_opt_float(
                    a.baseline_compression_ratio, p, "baseline_compression_ratio"
                ),
                extra=_extra(a.additional_properties),
            )
        return cls(
            anchor=anchor,
            message=_opt_str(d.message, "", "message"),
            extra=_extra(d.additional_properties),
        )


@_model
class AnchorChange(_Model):
    """What ``streams.reset_anchor`` or ``streams.delete_anchor`` did (servers may send
    nothing back: then every field is None)."""

    success: bool | None = None
    anchor_id: str | None = None
    message: str | None = None

    @classmethod
    def from_wire(cls, c: wire.AnchorChange) -> AnchorChange:
        """Build from the generated model."""
        return cls(
            success=_opt_bool(c.success, "", "success"),
            anchor_id=_opt_str(c.anchor_id, "", "anchor_id"),
            message=_opt_str(c.message, "", "message"),
            extra=_extra(c.additional_properties),
        )
