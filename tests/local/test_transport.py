"""The in-process ``local://`` transports: sync and async, named engines, concurrency."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from driftlock.local.app import DriftlockApp, Response
from driftlock.local.engine import Engine
from driftlock.local.transport import AsyncLocalTransport, LocalTransport, get_engine
from tests.local.helpers import BASE_URL, KEY, normal_events

HEADERS = {"X-Api-Key": KEY}


def unique(prefix: str) -> str:
    """A registry name no other test uses: the registry lives as long as the process."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def sync_client(name: str) -> httpx.Client:
    return httpx.Client(transport=LocalTransport(name), base_url=BASE_URL, headers=HEADERS)


def async_client(name: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=AsyncLocalTransport(name), base_url=BASE_URL, headers=HEADERS
    )


def test_the_sync_transport_speaks_the_whole_api() -> None:
    with sync_client(unique("sync")) as client:
        assert client.get("/healthz").json()["ok"] is True
        answer = client.post("/v1/detect", json={"stream_id": "s", "events": [{"a": 1}]})
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["x-request-id"] == answer.json()["request_id"]
        assert client.get("/v1/streams/s/profile").status_code == 200
        listing = client.get("/v1/anomalies", params={"stream_id": "s", "limit": 5})
        assert listing.json()["limit"] == 5
        refused = client.post("/v1/detect", json={"events": ["x"]})
        assert refused.status_code == 400
        assert refused.json()["error"]["message"] == "events[0] must be a JSON object, got string"


def test_a_name_always_means_the_same_engine_and_names_are_separate() -> None:
    first, second = unique("a"), unique("b")
    with sync_client(first) as a, sync_client(first) as a_again, sync_client(second) as b:
        a.post("/v1/detect", json={"stream_id": "s", "events": [{"x": 1}] * 3})
        again = a_again.post("/v1/detect", json={"stream_id": "s", "events": [{"x": 1}]})
        other = b.post("/v1/detect", json={"stream_id": "s", "events": [{"x": 1}]})
    assert again.json()["calibration"]["events_ingested"] == 4
    assert other.json()["calibration"]["events_ingested"] == 1
    assert get_engine(first) is not get_engine(second)
    assert get_engine(first) is get_engine(first)


def test_the_default_name_is_the_plain_local_engine() -> None:
    assert LocalTransport().app.engine is get_engine("") is get_engine()


def test_a_transport_can_serve_a_given_app() -> None:
    app = DriftlockApp(Engine(), api_key="dlk_only.this")
    with httpx.Client(transport=LocalTransport(app=app), base_url=BASE_URL) as client:
        assert client.get("/v1/profiles").status_code == 401
        assert client.get("/v1/profiles", headers={"X-Api-Key": "dlk_only.this"}).status_code == 200


async def test_the_async_transport_speaks_the_same_api() -> None:
    name = unique("async")
    async with async_client(name) as client:
        answer = await client.post("/v1/detect", json={"stream_id": "s", "events": [{"a": 1}]})
        assert answer.status_code == 200
        assert (await client.get("/v1/streams/s/profile")).status_code == 200
        missing = await client.get("/v1/anomalies/none")
        assert missing.status_code == 404
    # The async and sync transports of one name share the engine.
    with sync_client(name) as sync:
        again = sync.post("/v1/detect", json={"stream_id": "s", "events": [{"a": 1}]})
        assert again.json()["calibration"]["events_ingested"] == 2


def test_concurrent_threads_lose_no_event() -> None:
    name = unique("threads")
    events = normal_events(50)

    def send(i: int) -> int:
        with sync_client(name) as client:
            stream = f"s{i % 3}"
            answer = client.post("/v1/detect", json={"stream_id": stream, "events": events})
            assert answer.status_code == 200
            return int(answer.json()["total_events"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert sum(pool.map(send, range(24))) == 24 * 50
    with sync_client(name) as client:
        for stream in ("s0", "s1", "s2"):
            answer = client.post("/v1/detect", json={"stream_id": stream, "events": [{}]})
            assert answer.json()["calibration"]["events_ingested"] == 8 * 50 + 1


async def test_concurrent_tasks_lose_no_event_and_ids_stay_unique() -> None:
    name = unique("tasks")
    events = normal_events(40)
    async with async_client(name) as client:
        answers = await asyncio.gather(
            *(
                client.post("/v1/detect", json={"stream_id": "shared", "events": events})
                for _ in range(20)
            )
        )
        assert {a.status_code for a in answers} == {200}
        assert len({a.json()["batch_id"] for a in answers}) == 20
        counts = sorted(a.json()["calibration"]["events_ingested"] for a in answers)
        assert counts == [40 * (i + 1) for i in range(20)]


async def test_the_async_transport_keeps_the_event_loop_free() -> None:
    ticks = 0
    done = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    # The detect runs on a worker thread: record which one, and let the loop tick meanwhile.
    threads: set[str] = set()
    app = DriftlockApp(Engine())
    original = app.handle

    def recording(*args: Any, **kwargs: Any) -> Response:
        threads.add(threading.current_thread().name)
        return original(*args, **kwargs)

    app.handle = recording  # type: ignore[method-assign]
    transport = AsyncLocalTransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=HEADERS) as c:
        beat = asyncio.create_task(heartbeat())
        answer = await c.post("/v1/detect", json={"events": normal_events(1000)})
        done.set()
        await beat
    assert answer.status_code == 200
    assert threading.current_thread().name not in threads
    assert ticks > 0
