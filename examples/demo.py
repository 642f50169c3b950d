"""`make demo`: the main job end to end, offline.

Serves `examples/fastapi_app.py` (a small shop API with `DriftlockMiddleware`) with uvicorn on
127.0.0.1, Driftlock being the embedded engine (`local://`). Drives realistic traffic at it over
real HTTP: steady normal shopping, then an incident (the payment provider fails, the database
slows down, a scanner probes for odd paths), then normal traffic again. Prints calibration
progress as Driftlock learns the stream, then what it found.

The traffic is seeded, batches are cut alike and latencies are reported in 100 ms steps, so every
run sends the same events and finds the same things.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

# The example app reads these at import: the embedded engine, and quick batches.
os.environ.setdefault("DRIFTLOCK_BASE_URL", "local://demo")
# Batches cut by size and by the demo's own flushes only, so every run cuts them alike.
os.environ.setdefault("DRIFTLOCK_FLUSH_INTERVAL", "60")
# Latencies in 100 ms steps: the database incident adds 250 ms, while the jitter of ordinary
# requests (a few ms, tens on a busy machine) would otherwise make each run's events differ.
os.environ.setdefault("DRIFTLOCK_LATENCY_STEP_MS", "100")

import httpx

from driftlock import DriftlockSyncClient
from driftlock._serving import serve_asgi
from driftlock.fastapi import get_driftlock_middleware
from driftlock.local.transport import get_engine
from examples import fastapi_app
from examples.fastapi_app import Backend, app

STREAM = os.environ.get("DRIFTLOCK_STREAM_ID", "fastapi-example")
SCANNER_PATHS = (
    "/wp-login.php", "/.env", "/admin/config.php", "/.git/config", "/phpmyadmin/index.php",
    "/cgi-bin/test.cgi", "/server-status", "/backup.sql", "/etc/passwd", "/xmlrpc.php",
)  # fmt: skip


@dataclass(frozen=True)
class Phase:
    """A stretch of traffic, and the state of the shop's backend during it."""

    name: str
    requests: int
    send: Callable[[httpx.Client, random.Random], None]
    payments_down: bool = False
    database_delay_s: float = 0.0

    @property
    def incident(self) -> bool:
        return self.name.startswith("incident")


def shopper(client: httpx.Client, rng: random.Random) -> None:
    """One ordinary request: browsing, the odd missing item, buying, exporting."""
    roll = rng.random()
    if roll < 0.10:
        client.get("/")
    elif roll < 0.70:
        # Mostly real items; about 1 in 60 links is stale (an ordinary 404).
        client.get(f"/items/{rng.randint(1, 50) if rng.random() > 0.016 else rng.randint(51, 99)}")
    elif roll < 0.90:
        client.get("/checkout", params={"cart_size": rng.randint(1, 5)})
    else:
        client.get("/export", params={"rows": rng.randint(1, 8)})


def checkout(client: httpx.Client, rng: random.Random) -> None:
    """A shopper paying (what fails or slows down during the incidents)."""
    client.get("/checkout", params={"cart_size": rng.randint(1, 5)})


def scanner(client: httpx.Client, rng: random.Random) -> None:
    """A vulnerability scanner walking through paths no shopper asks for."""
    client.get(rng.choice(SCANNER_PATHS), headers={"User-Agent": "Nikto/2.5.0"})


PHASES = (
    Phase("normal traffic", 700, shopper),
    Phase("incident: payment provider down", 30, checkout, payments_down=True),
    Phase("normal traffic", 150, shopper),
    Phase("incident: database slow", 20, checkout, database_delay_s=0.25),
    Phase("normal traffic", 150, shopper),
    Phase("incident: scanner probing odd paths", 30, scanner),
    Phase("normal traffic", 150, shopper),
)


def flush() -> None:
    """Wait until the middleware has delivered everything (and on_anomaly has run)."""
    middleware = get_driftlock_middleware(app)
    assert middleware is not None, "the example app has DriftlockMiddleware"
    if not asyncio.run(middleware.flush(timeout=30)):
        raise SystemExit("demo: Driftlock did not take the events within 30 s")


def progress(done: int) -> str:
    """Requests sent so far against events Driftlock has ingested (its calibration counter)."""
    engine = get_engine("demo")
    ingested = engine.events_ingested(STREAM)
    return f"{done:>5} requests sent, {ingested:>5} events ingested by Driftlock"


@dataclass(frozen=True)
class Span:
    """When a phase ran, to tell which phase each anomalous request belonged to."""

    phase: Phase
    started: datetime
    ended: datetime


def main() -> int:
    rng = random.Random(7)
    began = time.monotonic()
    spans: list[Span] = []
    logging.getLogger("driftlock.example").setLevel(logging.ERROR)  # the demo prints a table
    print("Driftlock demo: the example shop (FastAPI + DriftlockMiddleware) on the embedded engine")
    with serve_asgi(app, lifespan="on") as url, httpx.Client(base_url=url, timeout=10) as client:
        print(f"  app at {url}, Driftlock at local://demo, stream '{STREAM}'\n")
        sent = 0
        for phase in PHASES:
            print(f"-- {phase.name}: {phase.requests} requests")
            Backend.payments_down = phase.payments_down
            Backend.database_delay_s = phase.database_delay_s
            time.sleep(0.002)  # event timestamps have ms precision: keep phases apart
            started = datetime.now(UTC)
            for _ in range(phase.requests):
                phase.send(client, rng)
                sent += 1
                if sent % 250 == 0:
                    flush()
                    print(f"   {progress(sent)}")
            spans.append(Span(phase, started, datetime.now(UTC)))
        flush()
        print(f"   {progress(sent)}\n")
        middleware = get_driftlock_middleware(app)
        assert middleware is not None
        stats = middleware.stats().as_dict()
    return report(spans, stats, time.monotonic() - began)


def phase_of(spans: list[Span], timestamp: object) -> int | None:
    """The index of the phase during which the request of ``timestamp`` started."""
    try:
        when = datetime.fromisoformat(str(timestamp))
    except ValueError:
        return None
    # Phases run back to back; event timestamps have millisecond precision.
    started = [
        index
        for index, s in enumerate(spans)
        if s.started.replace(microsecond=s.started.microsecond // 1000 * 1000) <= when
    ]
    return started[-1] if started else None


def collapse_repeats(rows: Iterable[tuple[str, ...]]) -> list[tuple[tuple[str, ...], int]]:
    """Consecutive equal rows as (row, how many times in a row)."""
    collapsed: list[tuple[tuple[str, ...], int]] = []
    for row in rows:
        if collapsed and collapsed[-1][0] == row:
            collapsed[-1] = (row, collapsed[-1][1] + 1)
        else:
            collapsed.append((row, 1))
    return collapsed


def report(spans: list[Span], stats: dict[str, int], seconds: float) -> int:
    print(
        "Delivery: {captured} captured, {sent} sent, {dropped} dropped, {failed} failed,"
        " {queued} queued".format(**stats)
    )
    with DriftlockSyncClient(base_url="local://demo") as driftlock:
        details = [
            driftlock.anomalies.get(a.id) for a in driftlock.anomalies.iter(stream_id=STREAM)
        ]
    found: Counter[str] = Counter()
    rows: list[tuple[int, str, str, str]] = []
    for detail in details:
        event = detail.event or {}
        body = event.get("body") or {}
        index = phase_of(spans, event.get("timestamp"))
        during = "?" if index is None else spans[index].phase.name.removeprefix("incident: ")
        found[during] += 1
        route = str(body.get("route") or body.get("path"))
        where = f"{during[:35]:<36}{route[:17]:<18}{body.get('status_code', ''):>6}"
        scores = f"{detail.ncd:>5.2f} {detail.p_value:>8.4f} {detail.confidence:>5.2f}"
        rows.append((len(spans) if index is None else index, where, scores, detail.explanation))
    # By phase, then by content: request timing within a phase differs from run to run.
    rows.sort()
    print(f"\nAnomalies found: {len(details)} (n: how many alike)")
    header = (
        f"{'during':<36}{'route':<18}{'status':>6}  {'NCD':>5} {'p-value':>8} {'conf':>5}    n  why"
    )
    print(header)
    print("-" * len(header))
    for (where, scores, why), count in collapse_repeats(row[1:] for row in rows):
        print(f"{where}  {scores}  {count:>3}  {why}")
    print("\nValue outliers (numeric fields far from their running mean):")
    outliers = list(fastapi_app.recent_value_outliers)
    for field, count in sorted(Counter(o["field_path"] for o in outliers).items()):
        worst = max(
            (o for o in outliers if o["field_path"] == field), key=lambda o: abs(o["z_score"])
        )
        print(
            f"  {field:<24} {count:>3} outliers; worst {worst['value']:g}"
            f" vs mean {worst['expected_mean']:.3g} (z = {worst['z_score']:.1f})"
        )
    if not outliers:
        print("  none")
    incidents = [p for p in PHASES if p.incident]
    normal_requests = sum(p.requests for p in PHASES if not p.incident)
    print("\nSummary:")
    for phase in incidents:
        name = phase.name.removeprefix("incident: ")
        verdict = f"found ({found[name]} anomalies)" if found[name] else "MISSED"
        print(f"  {name:<32} {verdict}")
    print(f"  false alarms in {normal_requests} normal requests: {found['normal traffic']}")
    print(f"\nDone in {seconds:.1f} s.")
    return 0 if all(found[p.name.removeprefix("incident: ")] for p in incidents) else 1


if __name__ == "__main__":
    sys.exit(main())
