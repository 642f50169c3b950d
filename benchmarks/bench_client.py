"""Client overhead: CPU time per ``detect`` of 100 plain-dict events through the SDK's clients,
against a hand-written httpx POST + ``json.loads`` of the same exchange.

Every variant talks to the same in-process transport, which answers with the same recorded
detect response (two anomalies, as the embedded engine reports them), so the figures are the
clients' own cost: validation and encoding of the events, the generated layer, error and retry
handling, and building the typed result. The hand-written baseline sends the same headers
(API key, user agent, an Idempotency-Key) and does no validation at all.

Variants run interleaved in rounds (A B C D, A B C D, ...); each figure is the median over
rounds, and each ratio the median of the per-round ratios. Target: <= 1.3x.
Run ``python benchmarks/bench_client.py [--quick]`` from the repository root.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from driftlock import DriftlockClient, DriftlockSyncClient, __version__

KEY = "dlk_00000000-0000-4000-8000-000000000000.bench"
BASE_URL = "https://bench.driftlock.invalid/api"
TARGET = 1.3
EVENTS_PER_DETECT = 100


def make_events(count: int = EVENTS_PER_DETECT) -> list[dict[str, Any]]:
    """Request events shaped like the middlewares' (plain dicts of plain values)."""
    return [
        {
            "type": "http_request",
            "timestamp": f"2025-01-01T12:{i // 60 % 60:02d}:{i % 60:02d}Z",
            "body": {
                "method": "GET" if i % 4 else "POST",
                "route": "/items/{item_id}",
                "path": f"/items/{i % 50}",
                "status_code": 200 if i % 23 else 404,
                "duration_ms": 12.5 + (i % 17) * 0.25,
                "ttfb_ms": 3.25,
                "request_bytes": 0,
                "response_bytes": 512 + i % 9,
                "user_agent": "curl/8.0",
                "query_keys": ["page", "q"],
            },
        }
        for i in range(count)
    ]


def make_response(events: list[dict[str, Any]]) -> bytes:
    """A detect response as the embedded engine answers a ready stream: two anomalies."""
    metrics = {
        "ncd": 0.9031746031746032,
        "p_value": 3.655889100245177e-05,
        "confidence_level": 0.9999634411089976,
        "baseline_compression_ratio": 40.359920634920634,
        "window_compression_ratio": 24.589941972920695,
        "baseline_entropy": 4.692730346389254,
        "window_entropy": 4.692837330878523,
        "entropy_change": 2.2797919627069288e-05,
        "compression_ratio_change": -0.3907336390635831,
        "is_statistically_significant": True,
    }
    why = (
        "window burst: the window compresses 1.07x better than shuffled splits of baseline "
        "and window (ratio 23.36 vs typical 21.92, p=3.7e-05 over 124 shuffles)"
    )
    body = {
        "success": True,
        "batch_id": "23530d5c-7c4f-5181-a915-a3ec6250e926",
        "stream_id": "bench",
        "total_events": len(events),
        "anomaly_count": 2,
        "processing_time": "16ms",
        "compression_algo": "zstd",
        "request_id": "req_109408d3b14245fa96867a2ef2a55ae9",
        "status": "ready",
        "detection_ready": True,
        "detection_events_needed": 0,
        "calibration": {
            "events_ingested": 600,
            "events_needed": 0,
            "min_baseline_size": 50,
            "progress_percent": 100,
            "detection_ready": True,
            "detection_events_needed": 0,
            "detection_min_events": 450,
            "message": "Detection is active.",
        },
        "anomalies": [
            {
                "id": f"ece6aefd-ed8e-50e3-a06a-56df1938d2{index:02d}",
                "index": index,
                "detected": True,
                "why": why,
                "event": events[index],
                "metrics": metrics,
            }
            for index in (6, 17)
        ],
        "drift": {
            "anchor_id": "c4a8dbbd-e05f-4864-a7a1-45f1a5953fa0",
            "drift_score": 0.0,
            "drift_threshold": 0.35,
            "drift_detected": False,
            "baseline_events": 400,
            "window_events": 50,
            "anchor_created_at": "2026-11-26T06:47:47.186935+00:00",
        },
        "value_outliers": [],
    }
    return json.dumps(body, separators=(",", ":")).encode()


class CannedTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Reads the request body and answers every request with the same detect response."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.headers = {"content-type": "application/json", "x-request-id": "req_bench"}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a sync request."""
        request.read()
        return httpx.Response(200, headers=self.headers, content=self.body)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer an async request."""
        await request.aread()
        return httpx.Response(200, headers=self.headers, content=self.body)


HEADERS = {"User-Agent": f"driftlock-python/{__version__}", "X-Api-Key": KEY}


def _cpu_per_call(call: Callable[[], object], calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - start) / calls


def _async_cpu_per_call(
    loop: asyncio.AbstractEventLoop, call: Callable[[], Any], calls: int
) -> float:
    async def many() -> None:
        for _ in range(calls):
            await call()

    start = time.process_time()
    loop.run_until_complete(many())
    return (time.process_time() - start) / calls


def run(quick: bool) -> dict[str, Any]:
    """Measure every variant; return per-call CPU (microseconds) and ratios to the baselines."""
    events = make_events()
    transport = CannedTransport(make_response(events))
    payload_stream = "bench"

    raw_sync = httpx.Client(transport=transport, base_url=BASE_URL, headers=HEADERS, timeout=10)
    raw_async = httpx.AsyncClient(
        transport=transport, base_url=BASE_URL, headers=HEADERS, timeout=10
    )
    sync_client = DriftlockSyncClient(api_key=KEY, base_url=BASE_URL, transport=transport)
    async_client = DriftlockClient(api_key=KEY, base_url=BASE_URL, transport=transport)

    def raw_sync_detect() -> object:
        response = raw_sync.post(
            "/v1/detect",
            json={"stream_id": payload_stream, "events": events},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        if response.status_code != 200:
            raise RuntimeError(response.status_code)
        return json.loads(response.content)

    async def raw_async_detect() -> object:
        response = await raw_async.post(
            "/v1/detect",
            json={"stream_id": payload_stream, "events": events},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        if response.status_code != 200:
            raise RuntimeError(response.status_code)
        return json.loads(response.content)

    def sdk_sync_detect() -> object:
        return sync_client.detect(stream_id=payload_stream, events=events)

    def sdk_async_detect() -> Any:
        return async_client.detect(stream_id=payload_stream, events=events)

    def sdk_detect_sync() -> object:
        return async_client.detect_sync(stream_id=payload_stream, events=events)

    rounds, calls = (5, 150) if quick else (15, 400)
    loop = asyncio.new_event_loop()
    samples: dict[str, list[float]] = {
        name: []
        for name in (
            "httpx_sync",
            "sdk_sync",
            "sdk_detect_sync",
            "httpx_async",
            "sdk_async",
        )
    }
    try:
        _cpu_per_call(raw_sync_detect, calls // 4)
        _cpu_per_call(sdk_sync_detect, calls // 4)
        _async_cpu_per_call(loop, raw_async_detect, calls // 4)
        _async_cpu_per_call(loop, sdk_async_detect, calls // 4)
        _cpu_per_call(sdk_detect_sync, calls // 4)
        for _ in range(rounds):
            samples["httpx_sync"].append(_cpu_per_call(raw_sync_detect, calls))
            samples["sdk_sync"].append(_cpu_per_call(sdk_sync_detect, calls))
            samples["sdk_detect_sync"].append(_cpu_per_call(sdk_detect_sync, calls))
            samples["httpx_async"].append(_async_cpu_per_call(loop, raw_async_detect, calls))
            samples["sdk_async"].append(_async_cpu_per_call(loop, sdk_async_detect, calls))
    finally:
        loop.run_until_complete(async_client.aclose())
        loop.run_until_complete(raw_async.aclose())
        loop.close()
        sync_client.close()
        raw_sync.close()

    def ratio(ours: str, baseline: str) -> dict[str, float]:
        per_round = [o / b for o, b in zip(samples[ours], samples[baseline], strict=True)]
        return {
            "median": statistics.median(per_round),
            "min": min(per_round),
            "max": max(per_round),
        }

    cpu_us = {name: statistics.median(values) * 1e6 for name, values in samples.items()}
    return {
        "benchmark": "client_overhead",
        "events_per_detect": EVENTS_PER_DETECT,
        "rounds": rounds,
        "calls_per_round": calls,
        "cpu_us_per_detect": cpu_us,
        # Each ratio: SDK CPU / hand-written httpx CPU, over the same transport.
        "ratios": {
            "sync": ratio("sdk_sync", "httpx_sync"),
            "detect_sync": ratio("sdk_detect_sync", "httpx_sync"),
            "async": ratio("sdk_async", "httpx_async"),
        },
        "target": TARGET,
    }


RATIO_LABELS = {
    "sync": "DriftlockSyncClient.detect / httpx sync",
    "detect_sync": "DriftlockClient.detect_sync / httpx sync",
    "async": "DriftlockClient.detect / httpx async",
}


def _table(result: dict[str, Any]) -> str:
    lines = [
        f"CPU per detect of {result['events_per_detect']} events "
        f"({result['rounds']} rounds x {result['calls_per_round']} calls)",
        "",
        f"{'variant':<20} {'CPU us/detect':>14}",
    ]
    for name, value in result["cpu_us_per_detect"].items():
        lines.append(f"{name:<20} {value:>14.1f}")
    lines += ["", f"{'ratio':<44} {'median':>7} {'min':>6} {'max':>6}  target"]
    for key, r in result["ratios"].items():
        name = RATIO_LABELS[key]
        verdict = "ok" if r["median"] <= result["target"] else "MISSED"
        lines.append(
            f"{name:<44} {r['median']:>6.2f}x {r['min']:>5.2f}x {r['max']:>5.2f}x  "
            f"<= {result['target']}x {verdict}"
        )
    return "\n".join(lines)


def main() -> None:
    """Print the table (``--quick`` for fewer rounds, ``--json`` for the raw figures)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and calls")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    result = run(args.quick)
    print(json.dumps(result, indent=2) if args.json else _table(result))


if __name__ == "__main__":
    main()
