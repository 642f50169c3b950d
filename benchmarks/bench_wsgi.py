"""What Driftlock costs a Flask app and a Django app under a WSGI server, next to OpenTelemetry.

A hello-world app is served by gunicorn (one sync worker) pinned to one core; wrk, pinned to
the other, loads it. Five variants run as five server processes, measured in interleaved
rounds (A B C D E, A B C D E, ...) so that drift of the machine hits them alike; each round
starts fresh processes, so that no variant keeps one process's luck (its memory layout, its
hash seed) for the whole run, and while one variant is loaded the others are stopped:

- ``flask-bare``: the Flask app alone;
- ``flask-driftlock``: with the ``Driftlock`` extension (``DriftlockWSGIMiddleware``),
  Driftlock answering each batch in 200 ms (the stand-in server of :mod:`bench_asgi`);
- ``flask-otel``: opentelemetry-instrumentation-wsgi with its own TracerProvider and a batch
  span processor whose exporter discards the spans;
- ``django-bare``: a Django app (no middleware at all);
- ``django-driftlock``: the same with ``driftlock.django.DriftlockMiddleware``.

Figures per variant: requests/s, p50 and p99 latency (wrk), and the worker's CPU time per
request (its own CPU counters, the delivery thread included); each round also gives the ratio
to its framework's bare variant, of requests/s and of the requests/s the CPU time allows (the
steadier figure on a shared machine). Reported as median and min-max over rounds. Target for
Driftlock: >= 0.95x bare requests/s, for Flask and for Django.

Run ``python -m benchmarks.bench_wsgi [--quick] [--json]`` from the repository root (needs
``wrk``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import psutil

from benchmarks.bench_asgi import (
    CONNECTIONS,
    DRIFTLOCK_DELAY,
    KEY,
    ROOT,
    _fmt,
    _spread,
    alone,
    discarding_tracer_provider,
    measure,
    spawn,
    wait_until_serving,
)

VARIANTS = ("flask-bare", "flask-driftlock", "flask-otel", "django-bare", "django-driftlock")
TARGETS = {"ratio_min": 0.95}
STATS_PATH = "/__driftlock_stats"
VARIANT_ENV = "BENCH_WSGI_VARIANT"
DRIFTLOCK_URL_ENV = "BENCH_WSGI_DRIFTLOCK_URL"


def bare_of(variant: str) -> str:
    """The variant a variant is compared with: its framework's bare app."""
    return variant.split("-")[0] + "-bare"


# -- what the server processes run ------------------------------------------------------------


def make_app() -> Any:
    """gunicorn's app factory (``benchmarks.bench_wsgi:make_app()``): the variant named in the
    environment."""
    variant = os.environ[VARIANT_ENV]
    driftlock_url = os.environ.get(DRIFTLOCK_URL_ENV, "")
    logging.getLogger("driftlock").setLevel(logging.ERROR)  # drops are expected here
    if variant.startswith("django-"):
        return django_app(variant, driftlock_url)
    return flask_app(variant, driftlock_url)


def flask_app(variant: str, driftlock_url: str) -> Any:
    """The Flask hello world, plus the variant's instrumentation."""
    from flask import Flask

    app = Flask("bench_wsgi")

    @app.get("/")
    def root() -> dict[str, str]:
        return {"message": "Hello World"}

    if variant == "flask-driftlock":
        from driftlock.flask import Driftlock

        Driftlock(
            app,
            api_key=KEY,
            base_url=driftlock_url,
            stream_id="bench-wsgi",
            exclude_paths=[STATS_PATH],
        )

        @app.get(STATS_PATH)
        def stats() -> dict[str, int]:
            return dict(app.extensions["driftlock"].stats().as_dict())

    elif variant == "flask-otel":
        from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

        provider = discarding_tracer_provider()
        app.wsgi_app = OpenTelemetryMiddleware(  # type: ignore[method-assign]
            app.wsgi_app, tracer_provider=provider
        )
    return app


# The Django variants' URLconf (ROOT_URLCONF is this module), filled in by django_app.
urlpatterns: list[Any] = []


def django_app(variant: str, driftlock_url: str) -> Any:
    """The Django hello world: no middleware but Driftlock's in the Driftlock variant."""
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-wsgi",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=["driftlock.django.DriftlockMiddleware"]
        if variant == "django-driftlock"
        else [],
        DATABASES={},
        USE_TZ=True,
        DRIFTLOCK={
            "API_KEY": KEY,
            "BASE_URL": driftlock_url or "http://127.0.0.1:9",
            "STREAM_ID": "bench-django",
            "EXCLUDE_PATHS": [STATS_PATH],
        },
    )
    django.setup()
    from django.core.wsgi import get_wsgi_application
    from django.http import HttpRequest, JsonResponse
    from django.urls import path

    import driftlock.django

    def hello(request: HttpRequest) -> JsonResponse:
        return JsonResponse({"message": "Hello World"})

    def stats(request: HttpRequest) -> JsonResponse:
        return JsonResponse(driftlock.django.stats().as_dict())

    urlpatterns[:] = [path("", hello), path(STATS_PATH[1:], stats)]
    return get_wsgi_application()


# -- the harness ----------------------------------------------------------------------------------


@contextlib.contextmanager
def gunicorns(
    variants: Sequence[str], core: int | None, driftlock_url: str
) -> Iterator[dict[str, tuple[str, int]]]:
    """Serve each of ``variants`` with gunicorn (one sync worker) on ``core``, all started at
    once; yields each one's URL and worker pid once every one answers.

    On exit the servers are killed, not stopped: what a Driftlock worker still holds is of no
    use here, and flushing it to the slow stand-in would take its whole ``flush_timeout``.
    """
    masters: dict[str, subprocess.Popen[bytes]] = {}
    try:
        urls = {}
        for variant in variants:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen(2048)
            sock.set_inheritable(True)
            urls[variant] = f"http://127.0.0.1:{sock.getsockname()[1]}"
            command = [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                "1",
                "--worker-class",
                "sync",
                "--bind",
                f"fd://{sock.fileno()}",
                "--log-level",
                "error",
                # A worker stopped while the others are measured misses its heartbeats.
                "--timeout",
                "600",
                "benchmarks.bench_wsgi:make_app()",
            ]
            if core is not None:
                command = ["taskset", "-c", str(core), *command]
            env = {**os.environ, VARIANT_ENV: variant, DRIFTLOCK_URL_ENV: driftlock_url}
            masters[variant] = subprocess.Popen(
                command, cwd=ROOT, env=env, pass_fds=[sock.fileno()], start_new_session=True
            )
            sock.close()  # the server holds it now
        servers = {}
        for variant, url in urls.items():
            wait_until_serving(url + "/", masters[variant], variant)
            (worker,) = psutil.Process(masters[variant].pid).children()
            servers[variant] = (url, worker.pid)
        yield servers
    finally:
        for master in masters.values():  # the master and its worker, at once
            with contextlib.suppress(ProcessLookupError):
                os.killpg(master.pid, signal.SIGKILL)
        for master in masters.values():
            master.wait()


def run(quick: bool) -> dict[str, Any]:
    """Measure every variant in interleaved rounds; returns the figures and the verdict."""
    if shutil.which("wrk") is None:
        raise RuntimeError("bench_wsgi needs wrk (apt-get install wrk)")
    # Every round starts fresh server processes: the same app costs a few microseconds more or
    # less per request from one process to the next (its memory layout, its hash seed), which
    # one process per variant would carry into every round. Short runs, many rounds: the
    # median of the per-round ratios also shrugs off a run another process disturbed.
    rounds, seconds, warmup = (2, 2, 1) if quick else (8, 3, 2)
    cores = sorted(os.sched_getaffinity(0))
    server_core, load_core = (cores[0], cores[1]) if len(cores) >= 2 else (None, None)
    raw: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    delivery: dict[str, Any] = {}
    with spawn("slow-driftlock", load_core) as (driftlock_url, _):
        for _ in range(rounds):
            with gunicorns(VARIANTS, server_core, driftlock_url) as servers:
                for variant in VARIANTS:
                    with alone(servers, variant) as (url, pid):
                        measure(url, pid, warmup, load_core)  # caches, a full Driftlock queue
                for variant in VARIANTS:
                    with alone(servers, variant) as (url, pid):
                        raw[variant].append(measure(url, pid, seconds, load_core))
                delivery = {
                    v: httpx.get(servers[v][0] + STATS_PATH).json()
                    for v in ("flask-driftlock", "django-driftlock")
                }
    result: dict[str, Any] = {
        "config": {
            "rounds": rounds,
            "seconds_per_run": seconds,
            "connections": CONNECTIONS,
            "server": "gunicorn, 1 sync worker, fresh processes every round",
            "server_core": server_core,
            "load_core": load_core,
            "driftlock_delay_s": DRIFTLOCK_DELAY,
        },
        "variants": {},
        "driftlock_delivery": delivery,  # the last round's servers
        "targets": TARGETS,
    }
    for variant in VARIANTS:
        runs = raw[variant]
        pairs = list(zip(runs, raw[bare_of(variant)], strict=True))
        result["variants"][variant] = {
            "rps": _spread([r["rps"] for r in runs]),
            "p50_ms": _spread([r["p50_ms"] for r in runs]),
            "p99_ms": _spread([r["p99_ms"] for r in runs]),
            "cpu_us_per_request": _spread([r["cpu_us"] for r in runs]),
            "ratio_to_bare": _spread([r["rps"] / b["rps"] for r, b in pairs]),
            # Requests/s the worker's CPU time allows, x bare: less disturbed by other load.
            "cpu_ratio_to_bare": _spread([b["cpu_us"] / r["cpu_us"] for r, b in pairs]),
            "cpu_us_over_bare": _spread([r["cpu_us"] - b["cpu_us"] for r, b in pairs]),
            "errors": sum(r["errors"] for r in runs),
            "runs": runs,
        }
    ours = [result["variants"][v] for v in ("flask-driftlock", "django-driftlock")]
    result["meets_targets"] = all(
        v["ratio_to_bare"]["median"] >= TARGETS["ratio_min"] and v["errors"] == 0 for v in ours
    )
    return result


def table(result: dict[str, Any]) -> str:
    """The figures as a text table: median (min..max) over rounds."""
    head = (
        f"{'variant':<17} {'req/s':>20} {'x bare':>19} {'p50 ms':>19} {'p99 ms':>22} "
        f"{'CPU us/req':>20} {'CPU +us/req':>25} {'CPU x bare':>19}"
    )
    lines = [head, "-" * len(head)]
    for variant, v in result["variants"].items():
        lines.append(
            f"{variant:<17} {_fmt(v['rps'], 0):>20} {_fmt(v['ratio_to_bare'], 2):>19} "
            f"{_fmt(v['p50_ms'], 2):>19} {_fmt(v['p99_ms'], 2):>22} "
            f"{_fmt(v['cpu_us_per_request'], 0):>20} {_fmt(v['cpu_us_over_bare'], 1, True):>25} "
            f"{_fmt(v['cpu_ratio_to_bare'], 2):>19}"
        )
    delay = result["config"]["driftlock_delay_s"]
    for variant, d in result["driftlock_delivery"].items():
        lines.append(
            f"{variant} delivery in the last round (Driftlock answering in {delay} s): "
            f"captured {d['captured']}, "
            f"sent {d['sent']}, dropped {d['dropped']}, queued {d['queued']}, failed {d['failed']}"
        )
    lines.append(
        f"target: >= {result['targets']['ratio_min']}x bare requests/s (Flask and Django) -> "
        + ("met" if result["meets_targets"] else "NOT MET")
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: run the benchmark and print the table (or the figures as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter rounds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    result = run(args.quick)
    print(json.dumps(result, indent=2) if args.json else table(result))


if __name__ == "__main__":
    main()
