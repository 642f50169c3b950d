"""What DriftlockMiddleware costs a FastAPI app under load, next to OpenTelemetry and Sentry.

A hello-world FastAPI app is served by uvicorn pinned to one core; wrk, pinned to the other,
loads it. Four variants run as four server processes, measured in interleaved rounds
(A B C D, A B C D, ...) so that drift of the machine hits them alike; while one is loaded, the
others are stopped:

- ``bare``: the app alone;
- ``driftlock``: with ``DriftlockMiddleware``, Driftlock answering each batch in 200 ms (a
  stand-in server that sleeps, then returns a real engine response);
- ``otel``: opentelemetry-instrumentation-asgi with its own TracerProvider and a batch span
  processor whose exporter discards the spans (no global provider is set: FastAPI would start
  spans of its own);
- ``sentry``: sentry-sdk with tracing on and a transport that drops every envelope.

Figures per variant: requests/s, p50 and p99 latency (wrk), and the server's CPU time per
request (from the server process's CPU counters: the portable figure); each round also gives
the ratio to bare and the differences to bare. Reported as median and min-max over rounds.
Targets for Driftlock: >= 0.90x bare requests/s, <= +20 us CPU per request, p99 <= +1 ms.

Run ``python -m benchmarks.bench_asgi [--quick] [--json]`` from the repository root (needs
``wrk``: ``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VARIANTS = ("bare", "driftlock", "otel", "sentry")
KEY = "dlk_00000000-0000-4000-8000-000000000000.bench"
DRIFTLOCK_DELAY = 0.2  # seconds Driftlock takes to answer each batch
CONNECTIONS = 16
TARGETS = {"ratio_min": 0.90, "cpu_us_over_bare_max": 20.0, "p99_ms_over_bare_max": 1.0}
STATS_PATH = "/__driftlock_stats"


# -- what the server processes run ------------------------------------------------------------


def discarding_tracer_provider() -> Any:
    """An OpenTelemetry TracerProvider of its own (never the global one, which FastAPI would
    use too) whose spans are exported nowhere: the reference pays for tracing, not for I/O."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    return provider


def hello_app(variant: str, driftlock_url: str) -> Any:
    """The benchmarked app: one JSON route, plus the variant's instrumentation."""
    if variant == "sentry":
        import sentry_sdk
        from sentry_sdk.transport import Transport

        class DropTransport(Transport):
            def capture_envelope(self, envelope: Any) -> None:
                pass

        # Initialised before the app exists, as Sentry's docs ask.
        sentry_sdk.init(
            dsn="http://public@127.0.0.1:9/1", transport=DropTransport, traces_sample_rate=1.0
        )

    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/")
    async def root() -> dict[str, str]:
        return {"message": "Hello World"}

    if variant == "driftlock":
        import logging

        from driftlock.fastapi import DriftlockMiddleware, get_driftlock_middleware

        logging.getLogger("driftlock").setLevel(logging.ERROR)  # drops are expected here

        app.add_middleware(
            DriftlockMiddleware,
            api_key=KEY,
            base_url=driftlock_url,
            stream_id="bench-asgi",
            exclude_paths=[STATS_PATH],
        )

        @app.get(STATS_PATH)
        async def stats() -> dict[str, int]:
            middleware = get_driftlock_middleware(app)
            assert middleware is not None
            return middleware.stats().as_dict()

    elif variant == "otel":
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        provider = discarding_tracer_provider()
        app.add_middleware(OpenTelemetryMiddleware, tracer_provider=provider)
    return app


def slow_driftlock_app() -> Any:
    """A Driftlock stand-in that answers every detect after DRIFTLOCK_DELAY seconds."""
    from driftlock.local.engine import Engine

    engine = Engine()
    canned = json.dumps(engine.detect([{"type": "probe"}], stream_id="bench-asgi")).encode()
    engine.close()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        await asyncio.sleep(DRIFTLOCK_DELAY)
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": canned})

    return app


def serve(role: str, fd: int, core: int | None, driftlock_url: str) -> None:
    """Server process entry point: pin to ``core`` and serve ``role`` on the inherited socket."""
    import uvicorn

    if core is not None:
        os.sched_setaffinity(0, {core})
    app = slow_driftlock_app() if role == "slow-driftlock" else hello_app(role, driftlock_url)
    config = uvicorn.Config(app, lifespan="on", log_level="error", access_log=False)
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=fd)])


# -- the harness ----------------------------------------------------------------------------------


@contextlib.contextmanager
def spawn(role: str, core: int | None, driftlock_url: str = "") -> Iterator[tuple[str, int]]:
    """Start a server process for ``role``; yields its URL and pid once it answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    command = [
        sys.executable,
        "-m",
        "benchmarks.bench_asgi",
        "--serve",
        role,
        "--fd",
        str(sock.fileno()),
        "--core",
        "" if core is None else str(core),
        "--driftlock-url",
        driftlock_url,
    ]
    # A session of its own: a server stopped by alone() must not leave the group of whoever
    # started the benchmark with a stopped member (its exits would send SIGHUP to the group).
    process = subprocess.Popen(command, cwd=ROOT, pass_fds=[sock.fileno()], start_new_session=True)
    try:
        probe = url + ("/v1/healthz" if role == "slow-driftlock" else "/")
        wait_until_serving(probe, process, role)
        yield url, process.pid
    finally:
        sock.close()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_serving(probe: str, process: subprocess.Popen[bytes], name: str) -> None:
    """Return once ``probe`` (a URL of the server ``process``) answers with success; raise if
    the process exits or a minute passes first."""
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(probe, timeout=5).raise_for_status()
            return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {name} server did not start") from None
            time.sleep(0.1)


@contextlib.contextmanager
def alone(servers: dict[str, tuple[str, int]], variant: str) -> Iterator[tuple[str, int]]:
    """Yields ``variant``'s URL and pid, every other server stopped (SIGSTOP) until the block
    ends: their background threads and tasks (Driftlock's delivery draining what it queued, a
    span processor, Sentry's transport) would otherwise take time on the server core from the
    one measured."""
    others = [psutil.Process(pid) for name, (_, pid) in servers.items() if name != variant]
    for process in others:
        process.suspend()
    try:
        yield servers[variant]
    finally:
        for process in others:
            process.resume()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _latency_ms(output: str, percent: str) -> float:
    match = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {percent}% latency in wrk's output:\n{output}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(url: str, seconds: int, core: int | None) -> dict[str, float]:
    """Load ``url`` for ``seconds`` with wrk (one thread, CONNECTIONS keep-alive connections)."""
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url + "/"]
    if core is not None:
        command = ["taskset", "-c", str(core), *command]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    requests = re.search(r"(\d+) requests in", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if requests is None or rate is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests": int(requests.group(1)),
        "rps": float(rate.group(1)),
        "p50_ms": _latency_ms(output, "50"),
        "p99_ms": _latency_ms(output, "99"),
        "errors": int(errors.group(1)) if errors else 0,
    }


def measure(url: str, pid: int, seconds: int, core: int | None) -> dict[str, float]:
    """One wrk run, with the server's CPU time per request over the same window."""
    process = psutil.Process(pid)
    before = process.cpu_times()
    figures = wrk(url, seconds, core)
    after = process.cpu_times()
    cpu = (after.user - before.user) + (after.system - before.system)
    figures["cpu_us"] = cpu / max(1, figures["requests"]) * 1e6
    return figures


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def run(quick: bool) -> dict[str, Any]:
    """Measure every variant in interleaved rounds; returns the figures and the verdict."""
    if shutil.which("wrk") is None:
        raise RuntimeError("bench_asgi needs wrk (apt-get install wrk)")
    rounds, seconds, warmup = (2, 3, 2) if quick else (5, 8, 3)
    cores = sorted(os.sched_getaffinity(0))
    server_core, load_core = (cores[0], cores[1]) if len(cores) >= 2 else (None, None)
    raw: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    with contextlib.ExitStack() as stack:
        driftlock_url, _ = stack.enter_context(spawn("slow-driftlock", load_core))
        servers = {v: stack.enter_context(spawn(v, server_core, driftlock_url)) for v in VARIANTS}
        for variant in VARIANTS:
            with alone(servers, variant) as (url, pid):
                measure(url, pid, warmup, load_core)  # imports, caches, a full Driftlock queue
        for _ in range(rounds):
            for variant in VARIANTS:
                with alone(servers, variant) as (url, pid):
                    raw[variant].append(measure(url, pid, seconds, load_core))
        delivery = httpx.get(servers["driftlock"][0] + STATS_PATH).json()
    result: dict[str, Any] = {
        "config": {
            "rounds": rounds,
            "seconds_per_run": seconds,
            "connections": CONNECTIONS,
            "server_core": server_core,
            "load_core": load_core,
            "driftlock_delay_s": DRIFTLOCK_DELAY,
        },
        "variants": {},
        "driftlock_delivery": delivery,
        "targets": TARGETS,
    }
    for variant in VARIANTS:
        runs = raw[variant]
        pairs = list(zip(runs, raw["bare"], strict=True))
        result["variants"][variant] = {
            "rps": _spread([r["rps"] for r in runs]),
            "p50_ms": _spread([r["p50_ms"] for r in runs]),
            "p99_ms": _spread([r["p99_ms"] for r in runs]),
            "cpu_us_per_request": _spread([r["cpu_us"] for r in runs]),
            "ratio_to_bare": _spread([r["rps"] / b["rps"] for r, b in pairs]),
            "cpu_us_over_bare": _spread([r["cpu_us"] - b["cpu_us"] for r, b in pairs]),
            "p99_ms_over_bare": _spread([r["p99_ms"] - b["p99_ms"] for r, b in pairs]),
            "errors": sum(r["errors"] for r in runs),
            "runs": runs,
        }
    ours = result["variants"]["driftlock"]
    result["meets_targets"] = (
        ours["ratio_to_bare"]["median"] >= TARGETS["ratio_min"]
        and ours["cpu_us_over_bare"]["median"] <= TARGETS["cpu_us_over_bare_max"]
        and ours["p99_ms_over_bare"]["median"] <= TARGETS["p99_ms_over_bare_max"]
        and ours["errors"] == 0
    )
    return result


def _fmt(spread: dict[str, float], digits: int, sign: bool = False) -> str:
    f = f"{{:{'+' if sign else ''}.{digits}f}}"
    return f"{f.format(spread['median'])} ({f.format(spread['min'])}..{f.format(spread['max'])})"


def table(result: dict[str, Any]) -> str:
    """The figures as a text table: median (min..max) over rounds."""
    head = (
        f"{'variant':<10} {'req/s':>22} {'x bare':>19} {'p50 ms':>19} {'p99 ms':>19} "
        f"{'p99 +ms':>22} {'CPU us/req':>22} {'CPU +us/req':>25}"
    )
    lines = [head, "-" * len(head)]
    for variant, v in result["variants"].items():
        lines.append(
            f"{variant:<10} {_fmt(v['rps'], 0):>22} {_fmt(v['ratio_to_bare'], 2):>19} "
            f"{_fmt(v['p50_ms'], 2):>19} {_fmt(v['p99_ms'], 2):>19} "
            f"{_fmt(v['p99_ms_over_bare'], 2, True):>22} "
            f"{_fmt(v['cpu_us_per_request'], 0):>22} {_fmt(v['cpu_us_over_bare'], 1, True):>25}"
        )
    d = result["driftlock_delivery"]
    lines.append(
        f"driftlock delivery (Driftlock answering in {result['config']['driftlock_delay_s']} s): "
        f"captured {d['captured']}, sent {d['sent']}, dropped {d['dropped']}, "
        f"queued {d['queued']}, failed {d['failed']}"
    )
    t = result["targets"]
    lines.append(
        f"targets: >= {t['ratio_min']}x bare, <= +{t['cpu_us_over_bare_max']} us CPU/request, "
        f"p99 <= +{t['p99_ms_over_bare_max']} ms -> "
        + ("met" if result["meets_targets"] else "NOT MET")
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: run the benchmark (or, internally, one of its server processes)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter rounds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--core", default="", help=argparse.SUPPRESS)
    parser.add_argument("--driftlock-url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.fd, int(args.core) if args.core else None, args.driftlock_url)
        return
    result = run(args.quick)
    print(json.dumps(result, indent=2) if args.json else table(result))


if __name__ == "__main__":
    main()
