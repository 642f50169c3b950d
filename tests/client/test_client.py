"""The clients' own behaviour: splitting and merging, pools and options, enabled=False, closing,
and ``detect_sync`` from any thread."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from driftlock import (
    DriftlockClient,
    DriftlockError,
    DriftlockSyncClient,
    DriftlockValidationError,
    InternalServerError,
)
from tests.client.conftest import BASE_URL, KEY, Both, Script, json_response, ok_detect_body

Make = Callable[..., Both]


def echo_server(fail_first_attempt_of: int | None = None) -> Script:
    """Answers each detect with anomalies at the first and last position of the batch it
    received (as the server numbers them), and a value outlier at the first; optionally a
    503 on the first attempt of the request number ``fail_first_attempt_of``."""
    seen_keys: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        key = request.headers["idempotency-key"]
        if key not in seen_keys:
            seen_keys.append(key)
            if seen_keys.index(key) == fail_first_attempt_of:
                return json_response(503, {"error": {"code": "x", "message": "again"}})
        events = json.loads(request.content)["events"]
        last = len(events) - 1
        anomalies = [
            {
                "id": f"{key}-{i}",
                "index": i,
                "detected": True,
                "why": "edge",
                "event": events[i],
                "metrics": {"ncd": 0.5, "p_value": 0.01, "confidence_level": 0.99},
            }
            for i in sorted({0, last})
        ]
        outlier = {
            "field_path": "n",
            "value": 1.0,
            "expected_mean": 0.0,
            "std_dev": 0.1,
            "z_score": 10.0,
            "sample_count": 30,
            "index": 0,
        }
        body = ok_detect_body(
            total=len(events),
            anomalies=anomalies,
            batch_id=f"batch-{key}",
            processing_time="10ms",
            value_outliers=[outlier],
        )
        return json_response(200, body)

    return Script(handle)


def numbered(count: int) -> list[dict[str, Any]]:
    return [{"n": i, "text": f"event {i}"} for i in range(count)]


def test_more_than_1000_events_become_several_requests_merged_into_one_result(
    both: Make, sleeps: list[float]
) -> None:
    events = numbered(2500)
    script = echo_server(fail_first_attempt_of=1)
    result = both(script.transport)("detect", stream_id="big", events=events)

    sizes = sorted(len(body["events"]) for body in script.bodies())
    assert sizes == [500, 1000, 1000, 1000]  # one chunk failed once and was sent again
    assert {body["stream_id"] for body in script.bodies()} == {"big"}
    assert len(set(script.keys)) == 3  # one Idempotency-Key per chunk, reused by its retry
    assert len(sleeps) == 1

    assert sorted(a.index for a in result.anomalies) == [0, 999, 1000, 1999, 2000, 2499]
    for anomaly in result.anomalies:
        assert anomaly.event == events[anomaly.index]
    assert sorted(o.index for o in result.value_outliers) == [0, 1000, 2000]
    assert result.total_events == 2500
    assert result.anomaly_count == 6
    assert len(result.batch_ids) == 3
    assert result.batch_id == result.batch_ids[-1]
    assert result.processing_time == "30ms"


def test_chunks_also_respect_the_body_size_limit(both: Make) -> None:
    events = [{"blob": "x" * 3_000_000, "n": i} for i in range(5)]
    script = echo_server()
    result = both(script.transport)("detect", events=events)
    assert [len(body["events"]) for body in script.bodies()] == [3, 2]
    assert all(len(r.content) <= 10_000_000 for r in script.requests)
    assert sorted(a.index for a in result.anomalies) == [0, 2, 3, 4]


def test_an_event_too_large_for_any_request_is_refused_before_sending(both: Make) -> None:
    script = echo_server()
    with pytest.raises(DriftlockValidationError) as caught:
        both(script.transport)("detect", events=[{"a": 1}, {"blob": "x" * 10_000_001}])
    assert caught.value.event_index == 1
    assert "too large for any request" in str(caught.value)
    assert script.requests == []


def test_bad_events_are_refused_before_any_request(both: Make) -> None:
    script = echo_server()
    client = both(script.transport)
    with pytest.raises(DriftlockValidationError) as caught:
        client("detect", events=[{"ok": 1}, {"body": {"amount": float("nan")}}])
    assert (caught.value.event_index, caught.value.field_path) == (1, "body.amount")
    with pytest.raises(DriftlockValidationError):
        client("detect", events=[])
    assert script.requests == []


def test_the_async_client_sends_chunks_concurrently_within_its_bound() -> None:
    in_flight = 0
    peak = 0

    async def handle(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        count = len(json.loads(request.content)["events"])
        return json_response(200, ok_detect_body(total=count))

    async def run() -> int:
        client = DriftlockClient(
            api_key=KEY, base_url=BASE_URL, transport=httpx.MockTransport(handle), max_concurrency=2
        )
        async with client:
            result = await client.detect(events=numbered(4500))
        return result.total_events

    assert asyncio.run(run()) == 4500
    assert peak == 2


def test_a_failing_chunk_fails_the_detect_and_cancels_the_rest(sleeps: list[float]) -> None:
    calls = 0

    async def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return json_response(400, {"error": {"code": "invalid_argument", "message": "no"}})
        await asyncio.sleep(0.01)
        return json_response(200, ok_detect_body())

    async def run() -> None:
        client = DriftlockClient(
            api_key=KEY, base_url=BASE_URL, transport=httpx.MockTransport(handle), max_concurrency=1
        )
        async with client:
            await client.detect(events=numbered(3500))

    with pytest.raises(DriftlockError) as caught:
        asyncio.run(run())
    assert caught.value.status_code == 400  # type: ignore[attr-defined]
    assert calls < 4  # of four chunks, the ones queued behind the failure were never sent


def test_enabled_false_sends_nothing(both: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script(httpx.ConnectError("must not be called"))
    result = both(script.transport, enabled=False)("detect", stream_id="s", events=[{"a": 1}])
    assert result.anomalies == []
    assert result.total_events == 0
    assert result.status == "disabled"

    monkeypatch.setenv("DRIFTLOCK_ENABLED", "false")
    assert both(script.transport)("detect", events=[{"a": 1}]).status == "disabled"
    assert script.requests == []


def test_detect_sync_honours_enabled_false() -> None:
    script = Script(httpx.ConnectError("must not be called"))
    client = DriftlockClient(api_key=KEY, transport=script.transport, enabled=False)
    assert client.detect_sync(events=[{"a": 1}]).status == "disabled"
    assert script.requests == []


def test_with_options_shares_the_pool_and_overrides_settings(sleeps: list[float]) -> None:
    script = Script(json_response(503, {}), json_response(200, {"ok": True}))
    root = DriftlockSyncClient(api_key=KEY, base_url=BASE_URL, transport=script.transport)
    quick = root.with_options(timeout=1.5, max_retries=0, headers={"X-Trace": "on"})
    assert (quick.timeout.read, quick.max_retries) == (1.5, 0)
    assert (root.timeout.read, root.max_retries) == (10.0, 3)

    with pytest.raises(InternalServerError):
        quick.health()  # no retries on the derived client
    assert root.health().ok  # the root still retries
    first, second = script.requests[0], script.requests[1]
    assert first.headers["x-trace"] == "on"
    assert first.extensions["timeout"]["read"] == 1.5
    assert "x-trace" not in second.headers
    assert second.extensions["timeout"]["read"] == 10.0

    quick.close()  # closing a derived client leaves the shared pool open
    assert root.health().ok
    root.close()
    with pytest.raises(DriftlockError, match="closed"):
        quick.health()


def test_async_with_options_shares_the_pool() -> None:
    script = Script(json_response(200, {"ok": True}))

    async def run() -> None:
        async with DriftlockClient(api_key=KEY, transport=script.transport) as root:
            derived = root.with_options(headers={"X-Trace": "on"})
            assert (await derived.health()).ok
            assert derived.detect_sync(events=[{"a": 1}]) is not None

    script.steps = [
        lambda r: json_response(
            200, {"ok": True} if r.url.path.endswith("healthz") else ok_detect_body()
        )
    ]
    asyncio.run(run())
    assert [r.headers["x-trace"] for r in script.requests] == ["on", "on"]


def test_a_users_http_client_is_used_and_left_open(sleeps: list[float]) -> None:
    script = Script(json_response(200, {"ok": True}))
    mine = httpx.Client(transport=script.transport, headers={"X-Mine": "1"})
    client = DriftlockSyncClient(api_key=KEY, base_url=BASE_URL, http_client=mine)
    assert client.health().ok
    client.close()
    assert not mine.is_closed
    request = script.requests[0]
    assert request.headers["x-api-key"] == KEY
    assert request.url == f"{BASE_URL}/healthz"
    mine.close()


def test_an_async_users_http_client_is_used_and_left_open() -> None:
    script = Script(json_response(200, {"ok": True}))

    async def run() -> bool:
        mine = httpx.AsyncClient(transport=script.transport)
        async with DriftlockClient(api_key=KEY, http_client=mine) as client:
            assert (await client.health()).ok
        still_open = not mine.is_closed
        await mine.aclose()
        return still_open

    assert asyncio.run(run())
    assert script.requests[0].headers["x-api-key"] == KEY


def test_a_closed_client_says_so(both: Make) -> None:
    client = both(Script(json_response(200, {"ok": True})).transport)
    client.close()
    with pytest.raises(DriftlockError, match="closed"):
        client("health")


def test_context_managers_close_the_pool() -> None:
    with DriftlockSyncClient(api_key=KEY) as client:
        pass
    assert client._http.is_closed

    async def run() -> DriftlockClient:
        async with DriftlockClient(api_key=KEY) as aclient:
            aclient.detect_sync  # noqa: B018 - the twin is created lazily, on first detect_sync
        return aclient

    assert asyncio.run(run())._http.is_closed


def test_detect_sync_works_from_plain_code_threads_and_inside_a_running_loop(
    engine_name: str,
) -> None:
    client = DriftlockClient(base_url=f"local://{engine_name}")
    events = [{"type": "t", "n": 1}]
    assert client.detect_sync(stream_id="s", events=events).total_events == 1

    results: list[int] = []

    def in_thread() -> None:
        results.append(client.detect_sync(stream_id="s", events=events).total_events)

    async def main() -> int:
        # A loop runs in this thread while other threads call detect_sync.
        threads = [threading.Thread(target=in_thread) for _ in range(4)]
        for thread in threads:
            thread.start()
        await asyncio.sleep(0)
        both = await asyncio.gather(
            asyncio.to_thread(client.detect_sync, stream_id="s", events=events),
            client.detect(stream_id="s", events=events),
        )
        for thread in threads:
            await asyncio.to_thread(thread.join)
        inline = client.detect_sync(stream_id="s", events=events)  # blocks the loop, but works
        await client.aclose()
        return inline.calibration.events_ingested + sum(r.total_events for r in both)

    assert asyncio.run(main()) == 8 + 2
    assert results == [1, 1, 1, 1]


def test_fastapi_background_tasks_can_run_client_detect(engine_name: str) -> None:
    from starlette.background import BackgroundTasks

    client = DriftlockClient(base_url=f"local://{engine_name}")

    async def main() -> int:
        tasks = BackgroundTasks()
        tasks.add_task(client.detect, stream_id="logs", events=[{"type": "log", "body": {"a": 1}}])
        await tasks()
        check = await client.detect(stream_id="logs", events=[{"type": "log"}])
        await client.aclose()
        return check.calibration.events_ingested

    assert asyncio.run(main()) == 2
