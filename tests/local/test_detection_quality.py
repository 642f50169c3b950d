"""Detection quality on synthetic traffic: bursts found, isolated odd events found, few false
alarms on clean traffic. Log-like and metric-like streams, several seeds each."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import pytest

from driftlock.local.detector import PROFILES, DetectorSettings, StreamDetector
from tests.support.streams import (
    Event,
    QualityScore,
    clean_stream,
    incident_stream,
    score_detections,
)

SEEDS = (0, 1, 2)
TRAFFIC = ("log", "metric")
BALANCED = PROFILES["balanced"]


def reported(settings: DetectorSettings, events: Sequence[Event], batch: int = 100) -> set[int]:
    detector = StreamDetector(settings, seed=1)
    found: set[int] = set()
    for start in range(0, len(events), batch):
        found.update(
            start + d.index for d in detector.process(events[start : start + batch]).detections
        )
    return found


@cache
def incident_score(traffic: str, seed: int, profile: str = "balanced") -> QualityScore:
    settings = PROFILES[profile]
    stream = incident_stream(
        traffic,
        seed,
        gap=max(520, settings.detection_min_events + 80),
        warmup=settings.detection_min_events + 150,
    )
    return score_detections(stream, reported(settings, stream.events), tail=settings.window_size)


@cache
def clean_score(traffic: str, seed: int) -> QualityScore:
    stream = clean_stream(traffic, n_events=3000, seed=100 + seed)
    return score_detections(
        stream, reported(BALANCED, stream.events), tail=0, since=BALANCED.detection_min_events
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("traffic", TRAFFIC)
def test_every_burst_is_found(traffic: str, seed: int) -> None:
    score = incident_score(traffic, seed)
    assert set(score.bursts_found) == {
        "error_burst",
        "scanner",
        "latency_spike",
        "ordinary_burst",
    }
    assert all(score.bursts_found.values()), score.bursts_found


@pytest.mark.parametrize("traffic", TRAFFIC)
def test_most_isolated_odd_events_are_found(traffic: str) -> None:
    scores = [incident_score(traffic, seed) for seed in SEEDS]
    found = sum(s.isolated_found for s in scores)
    total = sum(s.isolated_total for s in scores)
    assert found >= 0.8 * total, f"{found} of {total}"
    assert all(s.isolated_found >= 0.6 * s.isolated_total for s in scores)


@pytest.mark.parametrize("traffic", TRAFFIC)
def test_clean_traffic_raises_few_false_alarms(traffic: str) -> None:
    scores = [clean_score(traffic, seed) for seed in SEEDS]
    alarms = sum(s.false_alarms for s in scores)
    events = sum(s.clean_events for s in scores)
    assert 1000 * alarms / events <= 2.0, f"{alarms} false alarms in {events} events"


@pytest.mark.parametrize("traffic", TRAFFIC)
def test_ordinary_traffic_between_incidents_stays_quiet(traffic: str) -> None:
    scores = [incident_score(traffic, seed) for seed in SEEDS]
    alarms = sum(s.false_alarms for s in scores)
    events = sum(s.clean_events for s in scores)
    assert 1000 * alarms / events <= 2.0, f"{alarms} false alarms in {events} events"


@pytest.mark.parametrize("profile", ["sensitive", "strict"])
def test_other_profiles_find_every_burst(profile: str) -> None:
    for traffic in TRAFFIC:
        score = incident_score(traffic, 0, profile)
        assert all(score.bursts_found.values()), (traffic, score.bursts_found)
