"""Latency and throughput of the embedded engine's app, in-process (local://) and over HTTP.

Figures: p50/p95 latency of a 100-event detect on a ready stream (balanced profile, normal
traffic) through ``LocalTransport`` and through ``driftlock serve`` on 127.0.0.1 (a separate
process, in memory and with ``--data-dir``), and events/s through the in-process app with
normal traffic and during incidents.
Run ``python benchmarks/bench_local_app.py [--quick]`` from the repository root.
"""

from __future__ import annotations

import argparse
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from driftlock.local.app import DriftlockApp  # noqa: E402
from driftlock.local.engine import Engine  # noqa: E402
from driftlock.local.transport import LocalTransport  # noqa: E402
from tests.support.streams import clean_stream, incident_stream  # noqa: E402

KEY = "dlk_00000000-0000-4000-8000-000000000000.bench"
WARMUP_EVENTS = 600
BATCH = 100


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _latencies(post: Callable[[list[dict[str, Any]]], None], batches: int) -> dict[str, float]:
    """Time ``batches`` detects of 100 normal events each, after warming the stream up."""
    events = clean_stream("log", n_events=WARMUP_EVENTS + batches * BATCH, seed=11).events
    for start in range(0, WARMUP_EVENTS, BATCH):
        post(events[start : start + BATCH])
    samples = []
    for start in range(WARMUP_EVENTS, len(events), BATCH):
        began = time.perf_counter()
        post(events[start : start + BATCH])
        samples.append((time.perf_counter() - began) * 1000)
    return {
        "p50_ms": statistics.median(samples),
        "p95_ms": _percentile(samples, 0.95),
        "events_per_s": BATCH * len(samples) / (sum(samples) / 1000),
    }


def _poster(client: httpx.Client, stream: str) -> Callable[[list[dict[str, Any]]], None]:
    def post(events: list[dict[str, Any]]) -> None:
        response = client.post("/v1/detect", json={"stream_id": stream, "events": events})
        response.raise_for_status()

    return post


def _throughput(events: list[dict[str, Any]], batch: int) -> float:
    """Events per second through a fresh in-process engine, in batches of ``batch``."""
    app = DriftlockApp(Engine())
    with httpx.Client(
        transport=LocalTransport(app=app),
        base_url="http://local.driftlock",
        headers={"X-Api-Key": KEY},
    ) as client:
        post = _poster(client, "throughput")
        began = time.perf_counter()
        for start in range(0, len(events), batch):
            post(events[start : start + batch])
        return len(events) / (time.perf_counter() - began)


@contextmanager
def _served(data_dir: str | None = None) -> Iterator[str]:
    """``python -m driftlock serve`` on a free port of 127.0.0.1; its base URL."""
    command = [sys.executable, "-m", "driftlock", "serve", "--port", "0", "--log-level", "info"]
    if data_dir is not None:
        command += ["--data-dir", data_dir]
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 30
            url = None
            while url is None and time.monotonic() < deadline and process.poll() is None:
                log.seek(0)
                match = re.search(r"running on (http://127\.0\.0\.1:\d+)", log.read())
                url = match.group(1) if match else None
                time.sleep(0.05)
            if url is None:
                raise RuntimeError("driftlock serve did not start")
            yield url
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)


def run(quick: bool) -> dict[str, Any]:
    """Measure everything; ``quick`` takes fewer samples."""
    batches = 30 if quick else 200
    results: dict[str, Any] = {}
    app = DriftlockApp(Engine())
    with httpx.Client(
        transport=LocalTransport(app=app),
        base_url="http://local.driftlock",
        headers={"X-Api-Key": KEY},
    ) as client:
        results["in_process"] = _latencies(_poster(client, "latency"), batches)
    with _served() as url, httpx.Client(base_url=url, headers={"X-Api-Key": KEY}) as client:
        results["http"] = _latencies(_poster(client, "latency"), batches)
    with (
        tempfile.TemporaryDirectory() as data_dir,
        _served(data_dir) as url,
        httpx.Client(base_url=url, headers={"X-Api-Key": KEY}) as client,
    ):
        results["http_data_dir"] = _latencies(_poster(client, "latency"), batches)
    n_normal = 3_000 if quick else 20_000
    normal = clean_stream("log", n_events=n_normal, seed=12).events
    results["normal_events_per_s"] = _throughput(normal, 1000)
    incidents = incident_stream("log", seed=13)
    results["incident_events_per_s"] = _throughput(incidents.events, 100)
    results["samples_per_latency"] = batches
    return results


def main() -> None:
    """Print the figures as a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    results = run(parser.parse_args().quick)
    rows = [
        ("100-event detect, in-process p50", f"{results['in_process']['p50_ms']:.1f} ms"),
        ("100-event detect, in-process p95", f"{results['in_process']['p95_ms']:.1f} ms"),
        ("100-event detect, HTTP p50", f"{results['http']['p50_ms']:.1f} ms"),
        ("100-event detect, HTTP p95", f"{results['http']['p95_ms']:.1f} ms"),
        ("100-event detect, HTTP --data-dir p50", f"{results['http_data_dir']['p50_ms']:.1f} ms"),
        ("100-event detect, HTTP --data-dir p95", f"{results['http_data_dir']['p95_ms']:.1f} ms"),
        ("in-process, 100-event batches", f"{results['in_process']['events_per_s']:,.0f} events/s"),
        ("HTTP, 100-event batches", f"{results['http']['events_per_s']:,.0f} events/s"),
        ("normal traffic, 1000-event batches", f"{results['normal_events_per_s']:,.0f} events/s"),
        ("incident stream, 100-event batches", f"{results['incident_events_per_s']:,.0f} events/s"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 18}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
