"""How typed code uses the SDK: ``mypy --strict`` checks this module, so the public types stay
precise (no ``Any`` leaking out, no ``Unset``, Optional only where the API omits a value).

It is never run, only type-checked.
"""

from __future__ import annotations

import datetime
from typing import Any, assert_type

import httpx

from driftlock import (
    Anomaly,
    AnomalyMetrics,
    DetectResult,
    DriftlockAPIError,
    DriftlockClient,
    DriftlockSyncClient,
    DriftlockValidationError,
    RateLimitError,
)
from driftlock.models import (
    AnchorChange,
    AnchorDetails,
    AnomalyDetail,
    AnomalyPage,
    AnomalyRecord,
    Calibration,
    ConfigOverride,
    DemoDetectResult,
    Drift,
    ExportJob,
    FeedbackResult,
    Health,
    ProfileList,
    StreamProfile,
    StreamTuning,
    ValueOutlier,
)


def report(result: DetectResult) -> list[str]:
    """What a handler reads from a detect result."""
    assert_type(result.anomalies, list[Anomaly])
    lines = [f"{result.anomaly_count} of {result.total_events} ({result.status})"]
    for anomaly in result.anomalies:
        assert_type(anomaly.index, int)
        assert_type(anomaly.why, str)
        assert_type(anomaly.event, dict[str, Any])
        metrics: AnomalyMetrics = anomaly.metrics
        assert_type(metrics.ncd, float)
        assert_type(metrics.p_value, float)
        assert_type(metrics.confidence, float)
        assert_type(metrics.confidence_level, float)
        assert_type(metrics.entropy_change, float | None)
        assert_type(metrics.is_statistically_significant, bool | None)
        lines.append(f"{anomaly.index}: {anomaly.why} ({metrics.confidence:.2f})")
    calibration: Calibration = result.calibration
    assert_type(calibration.progress_percent, int)
    assert_type(result.detection_ready, bool)
    assert_type(result.request_id, str | None)
    assert_type(result.batch_id, str)
    drift: Drift | None = result.drift
    if drift is not None:
        assert_type(drift.drift_score, float | None)
    outliers: list[ValueOutlier] = result.value_outliers
    lines.extend(f"{o.field_path}: z={o.z_score:.1f}" for o in outliers)
    return lines


def sync_usage() -> None:
    """Flask, Django and scripts."""
    settings: ConfigOverride = {"window_size": 50, "compressor": "zstd"}
    with DriftlockSyncClient(api_key="dlk_x.y", timeout=httpx.Timeout(5.0)) as client:
        try:
            result = client.detect(
                stream_id="payments", events=[{"amount": 12.5}], config_override=settings
            )
        except DriftlockValidationError as error:
            assert_type(error.event_index, int | None)
            assert_type(error.field_path, str | None)
            return
        except RateLimitError as error:
            assert_type(error.retry_after, float | None)
            return
        except DriftlockAPIError as error:
            assert_type(error.status_code, int)
            assert_type(error.code, str | None)
            return
        report(result)
        resent = client.detect(
            stream_id="payments", events=[{"amount": 12.5}], idempotency_key="import-42"
        )
        assert_type(resent.replayed, bool)
        assert_type(client.health(), Health)
        assert_type(client.demo_detect([{"a": 1}]), DemoDetectResult)
        page = client.anomalies.list(stream_id="payments", from_=datetime.datetime.now(), limit=10)
        assert_type(page, AnomalyPage)
        for record in client.anomalies.iter(status="open"):
            assert_type(record, AnomalyRecord)
            assert_type(record.detected_at, datetime.datetime)
        detail = client.anomalies.get("id")
        assert_type(detail, AnomalyDetail)
        assert_type(detail.metrics, AnomalyMetrics | None)
        assert_type(client.anomalies.export(["a", "b"], format="markdown"), ExportJob)
        assert_type(client.anomalies.feedback("a", "confirmed"), FeedbackResult)
        assert_type(client.streams.get_profile("payments"), StreamProfile)
        assert_type(client.streams.get_tuning("payments"), StreamTuning)
        assert_type(client.streams.get_anchor_details("payments"), AnchorDetails)
        assert_type(client.streams.reset_anchor("payments", [{"a": 1}]), AnchorChange)
        assert_type(client.profiles.list(), ProfileList)
        quick = client.with_options(timeout=1.0, max_retries=0)
        assert_type(quick, DriftlockSyncClient)


async def async_usage() -> None:
    """FastAPI handlers and other async code."""
    async with DriftlockClient(api_key="dlk_x.y", max_retries=5) as client:
        result = await client.detect(stream_id="items", events=[{"type": "create_item"}])
        report(result)
        assert_type(client.detect_sync(events=[{"a": 1}]), DetectResult)
        assert_type(client.detect_sync(events=[{"a": 1}], idempotency_key="task-7"), DetectResult)
        retried = await client.detect(events=[{"a": 1}], idempotency_key="task-7")
        assert_type(retried.replayed, bool)
        async for record in client.anomalies.iter(stream_id="items"):
            assert_type(record, AnomalyRecord)
        assert_type(await client.anomalies.export_one("a"), ExportJob)
        assert_type(await client.streams.delete_anchor("items"), AnchorChange)
        derived = client.with_options(headers={"X-Trace": "1"})
        assert_type(derived, DriftlockClient)
