"""Seeded synthetic event streams with injected incidents, and their ground truth.

Two kinds of traffic: ``"log"`` (HTTP request events, one per request) and ``"metric"`` (host
metric samples). Normal traffic is varied the way real traffic is: routes, methods, ids, user
agents, timings and request ids all change from event to event. Incidents are injected on top:

- bursts (many events over a short span, interleaved with normal traffic): ``error_burst``,
  ``scanner``, ``latency_spike`` and ``ordinary_burst`` (individually ordinary events that are
  too many at once: sixty 404s on a common route, or a stuck host repeating one sample);
- isolated odd events: single events that a human would call odd (an injection attempt, an
  unknown method, a stack trace, a new field...), their kinds taken in a shuffled cycle.

Every generator is deterministic for a given seed and returns the events with the indices of
every incident, so tests, benchmarks and the demo can score what a detector reports.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

Event = dict[str, Any]

TRAFFIC = ("log", "metric")
BURST_KINDS = ("error_burst", "scanner", "latency_spike", "ordinary_burst")

_START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Incident:
    """One injected incident: its kind and the indices of its events in the stream."""

    kind: str
    indices: tuple[int, ...]

    @property
    def start(self) -> int:
        """Index of the incident's first event."""
        return self.indices[0]

    @property
    def stop(self) -> int:
        """One past the index of the incident's last event."""
        return self.indices[-1] + 1


@dataclass(frozen=True)
class SyntheticStream:
    """Events with their ground truth."""

    profile: str
    seed: int
    events: list[Event]
    bursts: tuple[Incident, ...] = ()
    isolated: tuple[Incident, ...] = ()
    warmup: int = 0

    @cached_property
    def anomalous(self) -> frozenset[int]:
        """Indices of every injected event (bursts and isolated odd events)."""
        out: set[int] = set()
        for incident in (*self.bursts, *self.isolated):
            out.update(incident.indices)
        return frozenset(out)

    def near_incident(self, index: int, tail: int) -> bool:
        """Whether ``index`` is an injected event or within ``tail`` events after a burst.

        A window-level signal may legitimately keep firing for up to a window after a burst:
        scoring uses this to tell false alarms from late reports of the same burst.
        """
        if index in self.anomalous:
            return True
        return any(b.start <= index < b.stop + tail for b in self.bursts)


@dataclass
class _Clock:
    now: datetime = field(default_factory=lambda: _START)

    def tick(self, rng: random.Random) -> datetime:
        self.now += timedelta(milliseconds=rng.randint(5, 120))
        return self.now


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# --- log-like traffic ------------------------------------------------------------------------

# route, method, weight, statuses with weights
_ROUTES: tuple[tuple[str, str, int, tuple[tuple[int, int], ...]], ...] = (
    ("/api/products/{id}", "GET", 30, ((200, 96), (404, 2), (304, 2))),
    ("/api/users/{id}", "GET", 14, ((200, 97), (404, 3))),
    ("/api/orders/{id}", "GET", 10, ((200, 98), (404, 2))),
    ("/api/orders", "POST", 9, ((201, 96), (400, 4))),
    ("/api/cart/{id}", "PUT", 8, ((200, 100),)),
    ("/api/cart/{id}", "DELETE", 3, ((204, 100),)),
    ("/api/search", "GET", 8, ((200, 100),)),
    ("/api/login", "POST", 4, ((200, 90), (401, 10))),
    ("/static/{file}", "GET", 8, ((200, 70), (304, 30))),
    ("/healthz", "GET", 6, ((200, 100),)),
)
_ROUTE_WEIGHTS = [r[2] for r in _ROUTES]
_FILES = ("app.js", "vendor.js", "main.css", "logo.png", "favicon.ico")
_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/125.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "okhttp/4.12.0",
    "python-requests/2.32.3",
)
_SEARCH_TERMS = ("shoes", "laptop", "coffee", "desk", "lamp", "headphones", "backpack", "mug")


def _ip(rng: random.Random) -> str:
    return f"10.{rng.randint(0, 3)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def log_event(rng: random.Random, clock: _Clock) -> Event:
    """One ordinary HTTP request event."""
    route, method, _, statuses = rng.choices(_ROUTES, weights=_ROUTE_WEIGHTS)[0]
    status = rng.choices([s for s, _ in statuses], weights=[w for _, w in statuses])[0]
    if rng.random() < 0.002:  # the odd server error happens in healthy traffic too
        status = 500
    if route == "/static/{file}":
        path = f"/static/{rng.choice(_FILES)}"
    elif route == "/api/search":
        path = f"/api/search?q={rng.choice(_SEARCH_TERMS)}"
    else:
        path = route.replace("{id}", str(rng.randint(1, 999)))
    agent = "kube-probe/1.29" if route == "/healthz" else rng.choice(_AGENTS)
    return {
        "ts": clock.tick(rng).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "request_id": _uuid(rng),
        "method": method,
        "route": route,
        "path": path,
        "status": status,
        "duration_ms": min(950, max(1, round(rng.lognormvariate(3.6, 0.55)))),
        "bytes": rng.randint(120, 4800),
        "user_agent": agent,
        "ip": _ip(rng),
    }


_PROBES = (
    "/wp-login.php",
    "/.env",
    "/.git/config",
    "/phpmyadmin/index.php",
    "/cgi-bin/luci/;stok=/locale",
    "/actuator/env",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/admin/config.json",
    "/server-status",
    "/boaform/admin/formLogin",
    "/.aws/credentials",
    "/solr/admin/info/system",
)
_SCANNER_AGENTS = (
    "Mozilla/5.0 zgrab/0.x",
    "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
    "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
)
_UPSTREAM_ERRORS = (
    "upstream connect error or disconnect/reset before headers",
    "upstream request timeout",
    "no healthy upstream",
)


def _log_burst_event(kind: str, rng: random.Random, clock: _Clock, state: dict[str, Any]) -> Event:
    event = log_event(rng, clock)
    if kind == "error_burst":
        event["route"] = "/api/orders"
        event["path"] = "/api/orders"
        event["method"] = "POST"
        event["status"] = rng.choice((502, 503, 504))
        event["duration_ms"] = rng.randint(2000, 30000)
        if rng.random() < 0.6:
            event["error"] = rng.choice(_UPSTREAM_ERRORS)
    elif kind == "scanner":
        probe = rng.choice(_PROBES)
        event["method"] = rng.choice(("GET", "GET", "HEAD", "POST"))
        event["route"] = None
        event["path"] = probe if rng.random() < 0.5 else f"{probe}?{rng.getrandbits(20):x}"
        event["status"] = rng.choice((404, 404, 403, 400))
        event["user_agent"] = state.setdefault("agent", rng.choice(_SCANNER_AGENTS))
        event["ip"] = state.setdefault("ip", f"45.155.{rng.randint(0, 255)}.{rng.randint(1, 254)}")
        event["duration_ms"] = rng.randint(1, 9)
    elif kind == "latency_spike":
        event["duration_ms"] = rng.randint(1500, 9500)
    elif kind == "ordinary_burst":
        # Sixty 404s on the busiest route: every one of them looks like normal traffic.
        event["method"] = "GET"
        event["route"] = "/api/products/{id}"
        event["path"] = f"/api/products/{rng.randint(1, 999)}"
        event["status"] = 404
    else:
        raise ValueError(f"unknown burst kind {kind!r}")
    return event


LOG_ODD_KINDS = (
    "sql_injection",
    "odd_method",
    "stack_trace",
    "odd_agent",
    "debug_field",
    "traversal",
)
_EXCEPTIONS = ("KeyError: 'shipping_address'", "TypeError: 'NoneType' object is not iterable")
_INJECTIONS = (
    "/api/users/1%27%20UNION%20SELECT%20username,password%20FROM%20users--",
    "/api/products/search?q=%27%3B%20DROP%20TABLE%20products%3B--",
)


def _log_odd_event(kind: str, rng: random.Random, clock: _Clock) -> Event:
    event = log_event(rng, clock)
    if kind == "sql_injection":
        event["path"] = rng.choice(_INJECTIONS)
        event["status"] = 400
    elif kind == "odd_method":
        event["method"] = rng.choice(("PROPFIND", "TRACE", "MKCOL"))
        event["path"] = "/webdav/"
        event["route"] = None
        event["status"] = 405
    elif kind == "stack_trace":
        event["status"] = 500
        event["error"] = (
            f"Traceback (most recent call last): File app/handlers.py, line "
            f"{rng.randint(20, 400)}, in checkout: {rng.choice(_EXCEPTIONS)}"
        )
    elif kind == "odd_agent":
        event["user_agent"] = rng.choice(
            ("sqlmap/1.8.4#stable (https://sqlmap.org)", "Nikto/2.5.0 (Evasions:None)")
        )
        event["path"] = "/api/products/1 AND 1=1"
    elif kind == "debug_field":
        event["debug"] = {"cache": "bypass", "feature_flags": ["beta-checkout", "new-pricing"]}
    elif kind == "traversal":
        event["path"] = rng.choice(("/static/../../../../etc/passwd", "/static/..%2f..%2fwin.ini"))
        event["status"] = 403
    else:
        raise ValueError(f"unknown odd event kind {kind!r}")
    return event


# --- metric-like traffic ---------------------------------------------------------------------

_HOSTS = tuple(f"web-{i:02d}" for i in range(1, 9))
_REGIONS = ("eu-west-1", "us-east-1")


def metric_event(rng: random.Random, clock: _Clock) -> Event:
    """One ordinary host metric sample."""
    host_index = rng.randrange(len(_HOSTS))
    return {
        "ts": int(clock.tick(rng).timestamp()),
        "host": _HOSTS[host_index],
        "region": _REGIONS[host_index % 2],
        "cpu": round(min(99.0, max(1.0, rng.gauss(38, 9))), 1),
        "mem_pct": round(min(99.0, max(5.0, rng.gauss(61, 6))), 1),
        "latency_ms": round(rng.lognormvariate(3.0, 0.35), 1),
        "rps": max(0, round(rng.gauss(140, 25))),
    }


def _metric_burst_event(
    kind: str, rng: random.Random, clock: _Clock, state: dict[str, Any]
) -> Event:
    event = metric_event(rng, clock)
    if kind == "error_burst":
        event["status"] = "degraded"
        event["errors_5xx"] = rng.randint(40, 400)
        event["latency_ms"] = round(rng.uniform(300, 900), 1)
    elif kind == "scanner":
        # Unknown hosts reporting from a region the fleet does not use.
        event["host"] = f"tmp-{rng.getrandbits(24):06x}"
        event["region"] = "ap-south-2"
    elif kind == "latency_spike":
        event["latency_ms"] = round(rng.uniform(1200.0, 9000.0), 1)
        event["cpu"] = round(rng.uniform(90.0, 99.0), 1)
    elif kind == "ordinary_burst":
        # A stuck agent on one host repeats the same (ordinary-looking) sample.
        stuck = state.setdefault("sample", metric_event(rng, clock))
        event.update({k: v for k, v in stuck.items() if k != "ts"})
    else:
        raise ValueError(f"unknown burst kind {kind!r}")
    return event


METRIC_ODD_KINDS = (
    "oom_error",
    "text_in_number",
    "unknown_host",
    "new_field",
    "maintenance_note",
    "unit_change",
)


def _metric_odd_event(kind: str, rng: random.Random, clock: _Clock) -> Event:
    event = metric_event(rng, clock)
    if kind == "oom_error":
        event["error"] = (
            f"OOMKilled: container {rng.choice(('web', 'worker'))} exceeded memory limit "
            f"({rng.choice(('512Mi', '1Gi'))})"
        )
    elif kind == "text_in_number":
        event["cpu"] = "NaN"
        event["mem_pct"] = "unavailable"
    elif kind == "unknown_host":
        event["host"] = rng.choice(("db-backup-legacy", "build-runner-x"))
        event["region"] = "on-prem-basement"
    elif kind == "new_field":
        event["kernel_panic"] = {"code": "0x0000007E", "module": rng.choice(("nvme_core", "ext4"))}
    elif kind == "maintenance_note":
        event["note"] = rng.choice(
            ("draining for kernel upgrade, expect errors", "manual failover in progress")
        )
    elif kind == "unit_change":
        event["latency_ms"] = f"{event['latency_ms']} ms"
        event["cpu"] = f"{event['cpu']}%"
    else:
        raise ValueError(f"unknown odd event kind {kind!r}")
    return event


_GENERATORS: dict[
    str,
    tuple[
        Callable[[random.Random, _Clock], Event],
        Callable[[str, random.Random, _Clock, dict[str, Any]], Event],
        Callable[[str, random.Random, _Clock], Event],
        tuple[str, ...],
    ],
] = {
    "log": (log_event, _log_burst_event, _log_odd_event, LOG_ODD_KINDS),
    "metric": (metric_event, _metric_burst_event, _metric_odd_event, METRIC_ODD_KINDS),
}


def clean_stream(profile: str = "log", n_events: int = 2000, seed: int = 0) -> SyntheticStream:
    """Normal traffic only."""
    normal = _GENERATORS[profile][0]
    rng = random.Random(f"{profile}-{seed}")
    clock = _Clock()
    return SyntheticStream(profile, seed, [normal(rng, clock) for _ in range(n_events)])


def incident_stream(
    profile: str = "log",
    seed: int = 0,
    *,
    bursts: Sequence[str] = BURST_KINDS,
    burst_size: int = 40,
    ordinary_burst_size: int = 60,
    density: float = 0.8,
    isolated_per_gap: int = 3,
    warmup: int = 600,
    gap: int = 520,
) -> SyntheticStream:
    """Normal traffic with the given bursts and isolated odd events.

    Layout: ``warmup`` normal events (calibration and a first baseline), then for each burst a
    gap of normal traffic holding ``isolated_per_gap`` odd events, then the burst, and a last gap.
    A burst has ``burst_size`` incident events (``ordinary_burst_size`` for the ordinary-looking
    burst) interleaved with normal ones, ``density`` being the incident share during the burst.
    Gaps are longer than a balanced baseline plus window, so each burst meets a clean baseline.
    """
    normal, burst_event, odd_event, odd_kinds = _GENERATORS[profile]
    rng = random.Random(f"{profile}-incidents-{seed}")
    # Odd kinds come round in a shuffled cycle, so the same kind seldom meets itself in a
    # baseline (a repeat within the baseline is, rightly, less novel to a compressor).
    kinds = list(odd_kinds)
    rng.shuffle(kinds)
    next_kind = iter(kinds * 1000)
    clock = _Clock()
    events: list[Event] = [normal(rng, clock) for _ in range(warmup)]
    found_bursts: list[Incident] = []
    isolated: list[Incident] = []

    def add_gap() -> None:
        start = len(events)
        # Odd events sit away from bursts and from each other: one per slot of the gap.
        margin = min(60, gap // 4)
        width = (gap - 2 * margin) // max(1, isolated_per_gap)
        odd_at = {
            start + margin + j * width + rng.randint(0, width // 2) for j in range(isolated_per_gap)
        }
        for i in range(start, start + gap):
            if i in odd_at:
                kind = next(next_kind)
                event = odd_event(kind, rng, clock)
                isolated.append(Incident(kind, (i,)))
                events.append(event)
            else:
                events.append(normal(rng, clock))

    for kind in bursts:
        add_gap()
        size = ordinary_burst_size if kind == "ordinary_burst" else burst_size
        state: dict[str, Any] = {}
        indices: list[int] = []
        while len(indices) < size:
            if rng.random() < density:
                indices.append(len(events))
                events.append(burst_event(kind, rng, clock, state))
            else:
                events.append(normal(rng, clock))
        found_bursts.append(Incident(kind, tuple(indices)))
    add_gap()
    return SyntheticStream(profile, seed, events, tuple(found_bursts), tuple(isolated), warmup)


@dataclass(frozen=True)
class QualityScore:
    """How a detector's reported indices match a stream's ground truth."""

    bursts_found: dict[str, bool]  # burst kind -> at least one of its events reported
    isolated_found: int
    isolated_total: int
    false_alarms: int  # reports on ordinary events away from every incident
    clean_events: int  # ordinary events away from every incident

    @property
    def false_alarms_per_1000(self) -> float:
        """False alarms per 1,000 ordinary events."""
        return 1000.0 * self.false_alarms / max(1, self.clean_events)


def score_detections(
    stream: SyntheticStream, reported: set[int], *, tail: int, since: int | None = None
) -> QualityScore:
    """Score reported indices.

    Reports within ``tail`` events after a burst are not counted as false alarms (see
    :meth:`SyntheticStream.near_incident`); ordinary events are counted from ``since`` (default:
    the end of the warm-up), so that events a detector could not yet judge are left out.
    """
    first = stream.warmup if since is None else since
    clean = [i for i in range(first, len(stream.events)) if not stream.near_incident(i, tail)]
    return QualityScore(
        bursts_found={b.kind: bool(reported.intersection(b.indices)) for b in stream.bursts},
        isolated_found=sum(1 for odd in stream.isolated if odd.start in reported),
        isolated_total=len(stream.isolated),
        false_alarms=sum(1 for i in clean if i in reported),
        clean_events=len(clean),
    )
