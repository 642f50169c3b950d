"""Every operation, through both clients, against the real engine: over HTTP (uvicorn on
127.0.0.1) and in-process (``local://``)."""

from __future__ import annotations

import asyncio

import pytest

from driftlock import AuthenticationError, DriftlockClient, DriftlockSyncClient
from tests.client import scenario
from tests.conftest import ServedEngine


def test_every_operation_sync_over_http(served_engine: ServedEngine) -> None:
    with DriftlockSyncClient(api_key=served_engine.api_key, base_url=served_engine.url) as client:
        scenario.run_sync(client, "http-sync")


def test_every_operation_async_over_http(served_engine: ServedEngine) -> None:
    async def main() -> None:
        async with DriftlockClient(
            api_key=served_engine.api_key, base_url=served_engine.url
        ) as client:
            await scenario.run_async(client, "http-async")

    asyncio.run(main())


def test_every_operation_sync_in_process(engine_name: str) -> None:
    with DriftlockSyncClient(base_url=f"local://{engine_name}") as client:
        scenario.run_sync(client, "local-sync")


def test_every_operation_async_in_process(engine_name: str) -> None:
    async def main() -> None:
        async with DriftlockClient(base_url=f"local://{engine_name}") as client:
            await scenario.run_async(client, "local-async")

    asyncio.run(main())


def test_detect_sync_over_http(served_engine: ServedEngine) -> None:
    client = DriftlockClient(api_key=served_engine.api_key, base_url=served_engine.url)
    result = client.detect_sync(stream_id="sync-from-async", events=scenario.events())
    scenario.check_detect(result, "sync-from-async")
    asyncio.run(client.aclose())


def test_a_wrong_key_is_an_authentication_error_sync(served_engine: ServedEngine) -> None:
    with (
        DriftlockSyncClient(api_key="dlk_wrong.key", base_url=served_engine.url) as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.profiles.list()
    assert caught.value.code == "unauthorized"
    assert "dlk_wrong.key" not in str(caught.value)


def test_a_wrong_key_is_an_authentication_error_async(served_engine: ServedEngine) -> None:
    async def main() -> None:
        async with DriftlockClient(api_key="dlk_wrong.key", base_url=served_engine.url) as client:
            await client.profiles.list()

    with pytest.raises(AuthenticationError) as caught:
        asyncio.run(main())
    assert caught.value.code == "unauthorized"
    assert "dlk_wrong.key" not in str(caught.value)
