"""Helpers shared by the engine's app, transport and serve tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from driftlock.local.app import DriftlockApp
from driftlock.local.transport import LocalTransport
from tests.support.streams import SyntheticStream, clean_stream, incident_stream

KEY = "dlk_11111111-2222-4333-8444-555555555555.secret"
BASE_URL = "http://local.driftlock"


def local_client(app: DriftlockApp, key: str | None = KEY) -> httpx.Client:
    """A sync client talking to ``app`` in-process."""
    headers = {"X-Api-Key": key} if key else {}
    return httpx.Client(transport=LocalTransport(app=app), base_url=BASE_URL, headers=headers)


def batches(events: Sequence[dict[str, Any]], size: int = 100) -> Iterator[list[dict[str, Any]]]:
    """``events`` in consecutive slices of ``size``."""
    for start in range(0, len(events), size):
        yield list(events[start : start + size])


def normal_events(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` events of ordinary web traffic."""
    return clean_stream("log", n_events=n, seed=seed).events


def detect(client: httpx.Client, stream: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """POST one detect request and return its (successful) JSON answer."""
    response = client.post("/v1/detect", json={"stream_id": stream, "events": events})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def feed(
    client: httpx.Client, stream: str, events: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Send ``events`` in batches of 100; every anomaly reported, with stream-wide indices."""
    found: list[dict[str, Any]] = []
    offset = 0
    for batch in batches(events):
        for anomaly in detect(client, stream, batch)["anomalies"]:
            found.append({**anomaly, "position": offset + anomaly["index"]})
        offset += len(batch)
    return found


def incident_prefix(seed: int = 1, n: int = 1300) -> SyntheticStream:
    """The start of an incident stream: warm-up, a gap with isolated odd events, a burst."""
    full = incident_stream("log", seed=seed)
    return SyntheticStream(
        full.profile,
        full.seed,
        full.events[:n],
        tuple(b for b in full.bursts if b.stop <= n),
        tuple(i for i in full.isolated if i.stop <= n),
        full.warmup,
    )
