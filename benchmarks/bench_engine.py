"""Speed and detection quality of the embedded engine's detector (no HTTP).

Speed: events/s through ``StreamDetector.process`` and the latency of one call (p50/p95), for
batches of 10, 100 and 1000 events, on each profile, on a ready stream, with normal traffic
and with incident traffic (bursts back to back). One thread, so one core.

Quality, on log-like and metric-like streams mixing normal traffic with bursts (error burst,
scanner, latency spike, ordinary-looking burst) and isolated odd events: the share of bursts
found, the share of isolated odd events found, and false alarms per 1,000 clean events (on
streams of normal traffic only).

Run ``python -m benchmarks.bench_engine [--quick]`` from the repository root.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from typing import Any

from driftlock.local.detector import PROFILES, DetectorSettings, StreamDetector
from tests.support.streams import (
    TRAFFIC,
    Event,
    clean_stream,
    incident_stream,
    score_detections,
)

BATCH_SIZES = (10, 100, 1000)
QUALITY_BATCH = 100


def _percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _traffic(kind: str, traffic: str, n_events: int, seed: int) -> list[Event]:
    """``n_events`` events of normal traffic, or of traffic with incidents back to back."""
    if kind == "normal":
        return clean_stream(traffic, n_events=n_events, seed=seed).events
    events: list[Event] = []
    while len(events) < n_events:
        stream = incident_stream(traffic, seed + len(events), warmup=0, gap=120, isolated_per_gap=1)
        events.extend(stream.events)
    return events[:n_events]


def _speed(
    settings: DetectorSettings, traffic: str, kind: str, batch: int, n_events: int
) -> dict[str, float]:
    warmup = settings.detection_min_events + 200
    detector = StreamDetector(settings, seed=7)
    detector.process(clean_stream(traffic, n_events=warmup, seed=99).events)
    events = _traffic(kind, traffic, max(n_events, batch * 5), seed=3)
    samples: list[float] = []
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        began = time.perf_counter()
        detector.process(chunk)
        samples.append(time.perf_counter() - began)
    total = sum(samples)
    return {
        "events_per_s": len(events) / total,
        "p50_ms": 1000 * statistics.median(samples),
        "p95_ms": 1000 * _percentile(samples, 0.95),
    }


def _reported(settings: DetectorSettings, events: Sequence[Event]) -> set[int]:
    detector = StreamDetector(settings, seed=1)
    reported: set[int] = set()
    for start in range(0, len(events), QUALITY_BATCH):
        result = detector.process(events[start : start + QUALITY_BATCH])
        reported.update(start + d.index for d in result.detections)
    return reported


def _quality(settings: DetectorSettings, traffic: str, seeds: Sequence[int]) -> dict[str, Any]:
    bursts_found = bursts_total = isolated_found = isolated_total = 0
    missed: list[str] = []
    mixed_alarms = mixed_clean = clean_alarms = clean_events = 0
    gap = max(520, settings.detection_min_events + 80)
    for seed in seeds:
        stream = incident_stream(traffic, seed, gap=gap, warmup=settings.detection_min_events + 150)
        score = score_detections(
            stream, _reported(settings, stream.events), tail=settings.window_size
        )
        bursts_found += sum(score.bursts_found.values())
        bursts_total += len(score.bursts_found)
        missed += [f"{kind}@{seed}" for kind, found in score.bursts_found.items() if not found]
        isolated_found += score.isolated_found
        isolated_total += score.isolated_total
        mixed_alarms += score.false_alarms
        mixed_clean += score.clean_events
        clean = clean_stream(traffic, n_events=3000, seed=100 + seed)
        clean_score = score_detections(
            clean, _reported(settings, clean.events), tail=0, since=settings.detection_min_events
        )
        clean_alarms += clean_score.false_alarms
        clean_events += clean_score.clean_events
    return {
        "burst_recall": bursts_found / bursts_total,
        "bursts_missed": missed,
        "isolated_recall": isolated_found / isolated_total,
        "false_alarms_per_1000_clean": 1000 * clean_alarms / clean_events,
        "false_alarms_per_1000_outside_incidents": 1000 * mixed_alarms / mixed_clean,
        "clean_events": clean_events,
    }


def run(quick: bool) -> dict[str, Any]:
    """Measure everything; ``quick`` measures fewer events and seeds (about a minute)."""
    n_events = 1500 if quick else 5000
    seeds = range(2) if quick else range(5)
    speed = []
    for profile, settings in PROFILES.items():
        for traffic in TRAFFIC:
            for kind in ("normal", "incident"):
                for batch in BATCH_SIZES:
                    figures = _speed(settings, traffic, kind, batch, n_events)
                    speed.append(
                        {"profile": profile, "traffic": traffic, "kind": kind, "batch": batch}
                        | {k: round(v, 2) for k, v in figures.items()}
                    )
    quality = []
    for profile in ("balanced",) if quick else tuple(PROFILES):
        for traffic in TRAFFIC:
            figures = _quality(PROFILES[profile], traffic, seeds)
            quality.append(
                {"profile": profile, "traffic": traffic, "seeds": len(seeds)}
                | {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}
            )
    return {"benchmark": "engine", "quick": quick, "speed": speed, "quality": quality}


def _table(results: dict[str, Any]) -> str:
    lines = [
        "speed (one core, ready stream)",
        f"{'profile':<10}{'traffic':<8}{'kind':<10}{'batch':>6}{'events/s':>11}"
        f"{'p50 ms':>9}{'p95 ms':>9}",
    ]
    for row in results["speed"]:
        lines.append(
            f"{row['profile']:<10}{row['traffic']:<8}{row['kind']:<10}{row['batch']:>6}"
            f"{row['events_per_s']:>11,.0f}{row['p50_ms']:>9.2f}{row['p95_ms']:>9.2f}"
        )
    lines += [
        "",
        "quality",
        f"{'profile':<10}{'traffic':<8}{'seeds':>6}{'bursts':>8}{'isolated':>10}"
        f"{'FA/1000 clean':>15}{'FA/1000 mixed':>15}  missed",
    ]
    for row in results["quality"]:
        lines.append(
            f"{row['profile']:<10}{row['traffic']:<8}{row['seeds']:>6}"
            f"{row['burst_recall']:>8.0%}{row['isolated_recall']:>10.0%}"
            f"{row['false_alarms_per_1000_clean']:>15.2f}"
            f"{row['false_alarms_per_1000_outside_incidents']:>15.2f}  "
            f"{', '.join(row['bursts_missed']) or '-'}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the table, then the JSON figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events and seeds")
    args = parser.parse_args(argv)
    results = run(args.quick)
    print(_table(results))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
