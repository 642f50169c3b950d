"""Every operation, through both clients, replayed from cassettes recorded against
``driftlock serve`` (``make record`` records them again).

Requests match on method, scheme, path, query and body, not on the recording server's port;
the cassettes never hold the API key.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from driftlock import DriftlockClient, DriftlockSyncClient
from tests.client import scenario

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
# `make record` points these at the server it starts; replaying needs no server at all.
URL = os.environ.get("DRIFTLOCK_CASSETTE_URL", "http://127.0.0.1:8080")
KEY = os.environ.get("DRIFTLOCK_CASSETTE_KEY", "dlk_00000000-0000-4000-8000-000000000000.replay")


@pytest.mark.vcr
def test_every_operation_sync_replayed() -> None:
    with DriftlockSyncClient(api_key=KEY, base_url=URL) as client:
        scenario.run_sync(client, "cassette-sync")


@pytest.mark.vcr
def test_every_operation_async_replayed() -> None:
    async def main() -> None:
        async with DriftlockClient(api_key=KEY, base_url=URL) as client:
            await scenario.run_async(client, "cassette-async")

    asyncio.run(main())


@pytest.mark.vcr
def test_detect_sync_replayed() -> None:
    client = DriftlockClient(api_key=KEY, base_url=URL)
    result = client.detect_sync(stream_id="cassette-detect-sync", events=scenario.events()[:60])
    assert (result.total_events, result.status) == (60, "ready")
    assert result.calibration.events_ingested == 60
    asyncio.run(client.aclose())


def test_cassettes_hold_no_api_key() -> None:
    cassettes = sorted(CASSETTES.glob("*.yaml"))
    assert len(cassettes) == 3
    for cassette in cassettes:
        text = cassette.read_text()
        assert "x-api-key" not in text.lower()
        assert KEY not in text
        assert "dlk_" not in text
