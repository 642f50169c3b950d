"""A client sends an incident stream through ``local://`` and over HTTP and gets real detections."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from driftlock.local.transport import LocalTransport
from tests.conftest import ServedEngine
from tests.local.helpers import BASE_URL, KEY, feed
from tests.support.streams import SyntheticStream, incident_stream


def bursts_found(stream: SyntheticStream, found: list[dict[str, Any]], tail: int) -> list[str]:
    """The kinds of the bursts that some anomaly points into (or just after, within ``tail``)."""
    positions = {a["position"] for a in found}
    return [
        burst.kind
        for burst in stream.bursts
        if any(burst.start <= p < burst.stop + tail for p in positions)
    ]


def test_an_incident_stream_is_detected_the_same_in_process_and_over_http(
    served_engine: ServedEngine,
) -> None:
    stream = incident_stream("log", seed=7)
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    with httpx.Client(
        transport=LocalTransport(name), base_url=BASE_URL, headers={"X-Api-Key": KEY}
    ) as local:
        in_process = feed(local, "web", stream.events)
    with httpx.Client(
        base_url=served_engine.url, headers={"X-Api-Key": served_engine.api_key}
    ) as remote:
        over_http = feed(remote, "web", stream.events)
        stored = remote.get("/v1/anomalies", params={"stream_id": "web", "limit": 100}).json()

    assert in_process == over_http
    assert bursts_found(stream, over_http, tail=50) == [b.kind for b in stream.bursts]
    isolated = {i.start for i in stream.isolated}
    assert isolated & {a["position"] for a in over_http}
    assert stored["total"] == len(over_http)
    for anomaly in over_http:
        assert anomaly["detected"] is True
        assert anomaly["why"]
        assert anomaly["event"] == stream.events[anomaly["position"]]
        assert "p_value" in anomaly["metrics"]
