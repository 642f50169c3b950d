"""Every API operation, in a realistic order, through either client, with the checks on what
comes back. Used over real HTTP, through ``local://`` and from cassettes.

The events are a seeded incident stream (an error burst among web requests): 1101 events, so
detect is split in two requests, and it finds anomalies to list, fetch, export and judge.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from driftlock import DriftlockClient, DriftlockSyncClient
from driftlock.exceptions import BadRequestError, NotFoundError
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
    ProfileList,
    ProfileUpdate,
    StreamProfile,
    StreamTuning,
)
from tests.support.streams import incident_stream


@cache
def events() -> list[dict[str, Any]]:
    """The scenario's events (deterministic)."""
    stream = incident_stream(
        "log", seed=3, bursts=("error_burst",), warmup=450, gap=300, isolated_per_gap=2
    )
    return stream.events


def check_detect(result: DetectResult, stream: str) -> None:
    """The detect of every scenario event: split in two, indices into the caller's list."""
    sent = events()
    assert isinstance(result, DetectResult)
    assert result.success is True
    assert result.stream_id == stream
    assert result.total_events == len(sent) == 1101
    assert len(result.batch_ids) == 2
    assert result.status == "ready"
    assert result.detection_ready is True
    assert result.calibration.events_ingested == len(sent)
    assert result.anomaly_count == len(result.anomalies) > 0
    for anomaly in result.anomalies:
        assert 0 <= anomaly.index < len(sent)
        assert anomaly.event == sent[anomaly.index]  # indices refer to the caller's list
        assert anomaly.why
        assert 0.0 <= anomaly.metrics.confidence <= 1.0
        assert anomaly.metrics.confidence == anomaly.metrics.confidence_level
    for outlier in result.value_outliers:
        assert outlier.index is not None
        assert 0 <= outlier.index < len(sent)


def check_profiles(profiles: ProfileList) -> None:
    """The built-in profiles are listed."""
    assert isinstance(profiles, ProfileList)
    assert {"sensitive", "balanced", "strict"} <= set(profiles.profiles)
    assert profiles.profiles["balanced"].baseline_size == 400


def check_demo(demo: DemoDetectResult) -> None:
    """The demo answers for a fresh stream, with its limits."""
    assert isinstance(demo, DemoDetectResult)
    assert demo.total_events == 20
    assert demo.status == "calibrating"
    assert demo.demo is not None
    assert demo.demo.limit_per_minute == 10


def check_page(page: AnomalyPage, detected: DetectResult, stream: str) -> None:
    """The first page of the stream's anomalies."""
    assert isinstance(page, AnomalyPage)
    assert page.total == detected.anomaly_count
    assert (page.limit, page.offset, len(page.anomalies)) == (5, 0, 5)
    assert all(a.stream_id == stream for a in page.anomalies)


def check_all(listed: list[AnomalyRecord], detected: DetectResult) -> None:
    """Paging through everything yields each detected anomaly once."""
    assert all(isinstance(a, AnomalyRecord) for a in listed)
    assert sorted(a.id for a in listed) == sorted(a.id for a in detected.anomalies)


def check_detail(detail: AnomalyDetail, wanted: AnomalyRecord) -> None:
    """One anomaly with its event and metrics."""
    assert isinstance(detail, AnomalyDetail)
    assert detail.id == wanted.id
    assert detail.detected_at == wanted.detected_at
    assert detail.event in events()
    assert detail.metrics is not None
    assert detail.metrics.ncd == wanted.ncd


def check_export(job: ExportJob, count: int) -> None:
    """A completed export of ``count`` anomalies."""
    assert isinstance(job, ExportJob)
    assert job.status == "completed"
    assert job.anomaly_count == count
    assert job.content


def check_feedback(result: FeedbackResult, anomaly_id: str) -> None:
    """Feedback was recorded for the anomaly."""
    assert isinstance(result, FeedbackResult)
    assert result.success is True
    assert result.anomaly_id == anomaly_id
    assert result.feedback_type == "false_positive"


def check_profile(profile: StreamProfile) -> None:
    """The stream's profile, tuned by the feedback."""
    assert isinstance(profile, StreamProfile)
    assert profile.profile == "custom"  # the false-positive feedback tuned the thresholds
    assert profile.current_thresholds.baseline_size == 400


def check_update(update: ProfileUpdate, tuning: StreamTuning) -> None:
    """The profile change shows in the tuning state."""
    assert isinstance(update, ProfileUpdate)
    assert update.profile == "sensitive"
    assert isinstance(tuning, StreamTuning)
    assert tuning.current_settings.profile == "sensitive"
    assert tuning.current_settings.current_thresholds.baseline_size == 200
    assert tuning.feedback_stats.false_positives == 1
    assert tuning.tune_history


def check_anchor(settings: AnchorSettings, details: AnchorDetails) -> None:
    """An active anchor exists once the stream is calibrated."""
    assert isinstance(settings, AnchorSettings)
    assert settings.has_active_anchor is True
    assert isinstance(details, AnchorDetails)
    assert details.anchor is not None
    assert details.anchor.id == settings.anchor_id


def check_anchor_changes(reset: AnchorChange, deleted: AnchorChange, after: AnchorDetails) -> None:
    """A reset anchor, then none after deleting it."""
    assert isinstance(reset, AnchorChange)
    assert reset.success is True
    assert reset.anchor_id
    assert deleted.success is True
    assert after.anchor is None


def run_sync(client: DriftlockSyncClient, stream: str) -> None:
    """Every operation through the sync client."""
    assert client.health().ok is True
    assert client.ready().ready is True
    check_profiles(client.profiles.list())
    check_demo(client.demo_detect(events()[:20]))
    detected = client.detect(stream_id=stream, events=events())
    check_detect(detected, stream)
    with pytest.raises(BadRequestError) as bad:
        client.detect(stream_id=stream, events=events()[:5], config_override={"window_size": 1})
    assert bad.value.code == "invalid_argument"

    check_page(client.anomalies.list(stream_id=stream, limit=5), detected, stream)
    listed = list(client.anomalies.iter(stream_id=stream, page_size=7))
    check_all(listed, detected)
    first = listed[0]
    check_detail(client.anomalies.get(first.id), first)
    with pytest.raises(NotFoundError) as missing:
        client.anomalies.get("no-such-anomaly")
    assert missing.value.code == "not_found"
    assert missing.value.request_id
    check_export(client.anomalies.export_one(first.id, format="markdown"), 1)
    check_export(client.anomalies.export([a.id for a in listed[:3]]), 3)
    check_feedback(client.anomalies.feedback(first.id, "false_positive", reason="ok"), first.id)

    check_profile(client.streams.get_profile(stream))
    update = client.streams.update_profile(stream, profile="sensitive")
    check_update(update, client.streams.get_tuning(stream))
    check_anchor(client.streams.get_anchor(stream), client.streams.get_anchor_details(stream))
    reset = client.streams.reset_anchor(stream, events()[:100])
    deleted = client.streams.delete_anchor(stream)
    check_anchor_changes(reset, deleted, client.streams.get_anchor_details(stream))


async def run_async(client: DriftlockClient, stream: str) -> None:
    """Every operation through the async client."""
    assert (await client.health()).ok is True
    assert (await client.ready()).ready is True
    check_profiles(await client.profiles.list())
    check_demo(await client.demo_detect(events()[:20]))
    detected = await client.detect(stream_id=stream, events=events())
    check_detect(detected, stream)
    with pytest.raises(BadRequestError) as bad:
        await client.detect(
            stream_id=stream, events=events()[:5], config_override={"window_size": 1}
        )
    assert bad.value.code == "invalid_argument"

    check_page(await client.anomalies.list(stream_id=stream, limit=5), detected, stream)
    listed = [a async for a in client.anomalies.iter(stream_id=stream, page_size=7)]
    check_all(listed, detected)
    first = listed[0]
    check_detail(await client.anomalies.get(first.id), first)
    with pytest.raises(NotFoundError) as missing:
        await client.anomalies.get("no-such-anomaly")
    assert missing.value.code == "not_found"
    assert missing.value.request_id
    check_export(await client.anomalies.export_one(first.id, format="markdown"), 1)
    check_export(await client.anomalies.export([a.id for a in listed[:3]]), 3)
    check_feedback(
        await client.anomalies.feedback(first.id, "false_positive", reason="ok"), first.id
    )

    check_profile(await client.streams.get_profile(stream))
    update = await client.streams.update_profile(stream, profile="sensitive")
    check_update(update, await client.streams.get_tuning(stream))
    check_anchor(
        await client.streams.get_anchor(stream), await client.streams.get_anchor_details(stream)
    )
    reset = await client.streams.reset_anchor(stream, events()[:100])
    deleted = await client.streams.delete_anchor(stream)
    check_anchor_changes(reset, deleted, await client.streams.get_anchor_details(stream))
