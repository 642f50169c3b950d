"""How fast the middleware's batcher delivers, and how much memory it holds when it cannot.

1. Throughput: events/s that the delivery core (:mod:`driftlock._batch`, as
   ``DriftlockMiddleware`` configures it, with 1000-event batches) delivers to ``driftlock
   serve`` over loopback, with nothing lost (checked against the server's own counters).
   Target: >= 20,000 events/s. The server runs in its own process on one core; the sender on
   the other.
2. Memory: peak RSS (VmHWM, reset after the first 1,000 requests so that start-up does not
   hide serving) of a FastAPI app with ``DriftlockMiddleware`` serving 100,000 requests
   (in-process ASGI calls, so the request rate is high) while Driftlock is down, at 10k, 50k
   and 100k requests, next to the same app without the middleware. Once the queue is full
   (``max_queue_size=10,000``) the figure must stay flat: the bound holds.

Run ``python -m benchmarks.bench_delivery [--quick] [--json]`` from the repository root.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from driftlock import DriftlockClient  # noqa: E402
from driftlock._batch import AsyncDelivery, DeliveryOptions, DeliveryState  # noqa: E402
from driftlock._capture import Capture, CaptureOptions, Record  # noqa: E402

KEY = "dlk_00000000-0000-4000-8000-000000000000.bench"
THROUGHPUT_TARGET = 20_000
CHECKPOINTS = (10_000, 50_000, 100_000)
ROUTES = ("/", "/items/{item_id}", "/users/{user_id}", "/checkout", "/search")


def _cores() -> tuple[int | None, int | None]:
    cores = sorted(os.sched_getaffinity(0))
    return (cores[0], cores[1]) if len(cores) >= 2 else (None, None)


@contextmanager
def server(command: list[str], core: int | None, health: str) -> Iterator[str]:
    """Run ``command`` (given a free port as its last argument) pinned to ``core``."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [*command, str(port)]
    if core is not None:
        command = ["taskset", "-c", str(core), *command]
    process = subprocess.Popen(command, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + health, timeout=5).raise_for_status()
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command} did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def driftlock_serve(core: int | None) -> Any:
    """``driftlock serve`` in its own process."""
    command = [sys.executable, "-m", "driftlock", "serve", "--api-key", KEY]
    return server([*command, "--log-level", "warning", "--port"], core, "/healthz")


def acknowledging_server(core: int | None) -> Any:
    """A stand-in that parses each detect and answers at once, without detection."""
    command = [sys.executable, "-m", "benchmarks.bench_delivery", "--ack-server"]
    return server(command, core, "/healthz")


def serve_acknowledging(port: int) -> None:
    """The stand-in's process: count events per stream; ``GET /count/<stream>`` reports."""
    import uvicorn

    from driftlock.local.engine import Engine

    engine = Engine()
    canned = json.dumps(engine.detect([{"type": "probe"}], stream_id="bench")).encode()
    engine.close()
    counts: dict[str, int] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = canned
        if scope["path"] == "/v1/detect":
            request = json.loads(b"".join(chunks))
            stream = request.get("stream_id") or "default"
            counts[stream] = counts.get(stream, 0) + len(request["events"])
        elif scope["path"].startswith("/count/"):
            body = json.dumps(counts.get(scope["path"][7:], 0)).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


def records(n: int, capture: Capture) -> list[Record]:
    """``n`` requests as the middleware queues them: varied routes, statuses and timings."""
    now = time.time()
    out = []
    for i in range(n):
        route = ROUTES[i % len(ROUTES)]
        out.append(
            capture.record(
                now + i * 0.001,
                "GET" if i % 4 else "POST",
                route,
                route.replace("{item_id}", str(i % 97)).replace("{user_id}", f"u{i % 13}"),
                404 if i % 50 == 0 else 200,
                0.002 + (i % 17) * 0.0003,
                0.0015 + (i % 11) * 0.0002,
                0 if i % 4 else 120,
                25 + i % 300,
                "bench/1.0",
                b"q=1&page=2" if i % 3 == 0 else b"",
                None,
                None,
                None,
            )
        )
    return out


def ingested(url: str, stream_id: str) -> int:
    """The server's own count of the stream's events (a probe event, minus itself)."""
    response = httpx.post(
        url + "/v1/detect",
        json={"stream_id": stream_id, "events": [{"type": "probe"}]},
        headers={"X-Api-Key": KEY},
        timeout=60,
    )
    response.raise_for_status()
    return int(response.json()["calibration"]["events_ingested"]) - 1


async def _deliver(url: str, n: int, stream_id: str) -> dict[str, Any]:
    capture = Capture(CaptureOptions(stream_id=stream_id))
    state = DeliveryState(
        DeliveryOptions(batch_size=1000, max_queue_size=n, flush_interval=0.05, flush_timeout=600),
        prepare=capture.prepare,
    )
    async with DriftlockClient(api_key=KEY, base_url=url, timeout=60) as client:
        detect = client.with_options(max_retries=0).detect

        async def send(events: list[dict[str, Any]]) -> Any:
            return await detect(stream_id=stream_id, events=events)

        delivery = AsyncDelivery(state, lambda: send)
        queued = records(n, capture)
        started = time.perf_counter()
        for record in queued:
            delivery.submit(record)
        complete = await delivery.aclose(timeout=600)
        elapsed = time.perf_counter() - started
    return {
        "events": n,
        "seconds": elapsed,
        "events_per_s": n / elapsed,
        "complete": complete,
        "stats": delivery.stats().as_dict(),
    }


def throughput(quick: bool, target: str) -> dict[str, Any]:
    """Events/s delivered over loopback to ``target`` (``serve`` or ``ack``); nothing lost."""
    server_core, sender_core = _cores()
    n = 50_000 if quick else 200_000
    start = driftlock_serve if target == "serve" else acknowledging_server
    with start(server_core) as url:
        if sender_core is not None:
            previous = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {sender_core})
        try:
            asyncio.run(_deliver(url, 2_000, "bench-warmup"))
            result = asyncio.run(_deliver(url, n, "bench-delivery"))
        finally:
            if sender_core is not None:
                os.sched_setaffinity(0, previous)
        if target == "serve":
            received = ingested(url, "bench-delivery")
        else:
            received = int(httpx.get(url + "/count/bench-delivery").json())
    result["server_received"] = received
    result["lost"] = n - received
    result["target_events_per_s"] = THROUGHPUT_TARGET
    result["meets_target"] = result["events_per_s"] >= THROUGHPUT_TARGET and result["lost"] == 0
    return result


# -- memory ------------------------------------------------------------------------------------


def _peak_rss_mb() -> float:
    """Peak RSS since the last reset (VmHWM), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _reset_peak_rss() -> None:
    # Imports and start-up peak higher than serving does: measure serving only.
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def memory_child(variant: str) -> None:
    """Serve CHECKPOINTS[-1] requests in-process; print peak RSS at each checkpoint as JSON."""
    import logging

    from fastapi import FastAPI

    from driftlock.fastapi import DriftlockMiddleware, get_driftlock_middleware

    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    if variant == "driftlock-down":
        logging.getLogger("driftlock").setLevel(logging.ERROR)  # drops are the point here
        with socket.socket() as probe:  # a port nothing listens on: Driftlock is down
            probe.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
        app.add_middleware(DriftlockMiddleware, api_key=KEY, base_url=dead)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        pass

    async def serve() -> dict[str, Any]:
        points: dict[str, Any] = {}
        for i in range(1, CHECKPOINTS[-1] + 1):
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "GET",
                "scheme": "http",
                "path": f"/items/{i % 1000}",
                "raw_path": f"/items/{i % 1000}".encode(),
                "root_path": "",
                "query_string": b"page=2",
                "headers": [(b"host", b"bench"), (b"user-agent", b"bench/1.0")],
                "client": ("127.0.0.1", 40000),
                "server": ("127.0.0.1", 8000),
            }
            await app(scope, receive, send)
            if i == 1000:
                _reset_peak_rss()
            if i % 200 == 0:
                await asyncio.sleep(0)  # let the sender run, as a server's loop would
            if i in CHECKPOINTS:
                middleware = get_driftlock_middleware(app)
                points[str(i)] = {
                    "peak_rss_mb": round(_peak_rss_mb(), 1),
                    "stats": middleware.stats().as_dict() if middleware else None,
                }
        return points

    print(json.dumps(asyncio.run(serve())))


def memory() -> dict[str, Any]:
    """Peak RSS at each checkpoint, each variant in a fresh process."""
    result: dict[str, Any] = {}
    for variant in ("bare", "driftlock-down"):
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_delivery", "--memory-child", variant],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        result[variant] = json.loads(out.strip().splitlines()[-1])
    down = result["driftlock-down"]
    growth = down[str(CHECKPOINTS[-1])]["peak_rss_mb"] - down[str(CHECKPOINTS[1])]["peak_rss_mb"]
    result["growth_50k_to_100k_mb"] = round(growth, 1)
    result["bound_holds"] = (
        all(point["stats"]["queued"] <= 10_000 for point in down.values()) and growth < 5.0
    )
    return result


def run(quick: bool) -> dict[str, Any]:
    """Every measurement."""
    return {
        "throughput": throughput(quick, "serve"),
        "throughput_sender_ceiling": throughput(quick, "ack"),
        "memory": memory(),
    }


def table(result: dict[str, Any]) -> str:
    """The figures as text."""
    lines = []
    for key, where in (
        ("throughput", "driftlock serve"),
        ("throughput_sender_ceiling", "a stand-in that only acknowledges"),
    ):
        t = result[key]
        lines.append(
            f"delivery to {where}: {t['events_per_s']:,.0f} events/s ({t['events']:,} events "
            f"in {t['seconds']:.2f} s, 1000 per batch), received {t['server_received']:,}, "
            f"lost {t['lost']} -> "
            + ("target met" if t["meets_target"] else f"below {t['target_events_per_s']:,}/s")
        )
    lines += [
        "",
        f"{'peak RSS (MB)':<22}" + "".join(f"{int(c) // 1000:>8}k" for c in CHECKPOINTS),
    ]
    m = result["memory"]
    for variant in ("bare", "driftlock-down"):
        lines.append(
            f"{variant:<22}"
            + "".join(f"{m[variant][str(c)]['peak_rss_mb']:>9.1f}" for c in CHECKPOINTS)
        )
    last = m["driftlock-down"][str(CHECKPOINTS[-1])]["stats"]
    lines.append(
        f"Driftlock down after {CHECKPOINTS[-1]:,} requests: queued {last['queued']}, "
        f"dropped {last['dropped']}, failed {last['failed']}; growth 50k->100k "
        f"{m['growth_50k_to_100k_mb']} MB -> " + ("flat" if m["bound_holds"] else "NOT FLAT")
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer events")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--ack-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ack_server:
        serve_acknowledging(args.ack_server)
        return
    if args.memory_child:
        memory_child(args.memory_child)
        return
    result = run(args.quick)
    print(json.dumps(result, indent=2) if args.json else table(result))


if __name__ == "__main__":
    main()
