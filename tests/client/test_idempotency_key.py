"""``detect(..., idempotency_key=...)``: a resend by the caller's own code ingests once.

Everything runs against the real engine: in-process through ``local://NAME`` (each test its own
engine, so the engine's counters are the test's alone), or served over HTTP on 127.0.0.1.
``httpx.MockTransport`` only wraps the engine's own transport, to lose or refuse a request
(fault injection) and to see which Idempotency-Key each request carried.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from driftlock import (
    ConflictError,
    DetectResult,
    DriftlockClient,
    DriftlockConnectionError,
    DriftlockSyncClient,
    DriftlockValidationError,
)
from driftlock._retry import same_idempotency_key
from driftlock.local.transport import LocalTransport, get_engine
from tests.conftest import ServedEngine

FORMS = ["DriftlockSyncClient.detect", "DriftlockClient.detect", "DriftlockClient.detect_sync"]


def detect(
    form: str, base_url: str, transport: httpx.MockTransport | None = None, **kwargs: Any
) -> DetectResult:
    """One detect through ``form`` on a client of its own (as a retried task in a fresh worker
    process would have), closed afterwards."""
    options: dict[str, Any] = {"base_url": base_url}
    if base_url.startswith("http://"):
        options["allow_insecure"] = True
    if transport is not None:
        options["transport"] = transport
    if form == "DriftlockSyncClient.detect":
        with DriftlockSyncClient(**options) as client:
            return client.detect(**kwargs)

    async def run() -> DetectResult:
        async with DriftlockClient(**options) as client:
            if form == "DriftlockClient.detect":
                return await client.detect(**kwargs)
            return client.detect_sync(**kwargs)

    return asyncio.run(run())


def served_detect(form: str, served: ServedEngine, **kwargs: Any) -> DetectResult:
    """``detect`` against the engine served over HTTP, with the key it accepts."""
    options: dict[str, Any] = {"base_url": served.url, "api_key": served.api_key}
    if form == "DriftlockSyncClient.detect":
        with DriftlockSyncClient(allow_insecure=True, **options) as client:
            return client.detect(**kwargs)

    async def run() -> DetectResult:
        async with DriftlockClient(allow_insecure=True, **options) as client:
            if form == "DriftlockClient.detect":
                return await client.detect(**kwargs)
            return client.detect_sync(**kwargs)

    return asyncio.run(run())


def events(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"n": i, "amount": 10.0 + i % 7, "kind": "order"} for i in range(start, count)]


class Wire:
    """The engine ``name``'s own transport, seen through an ``httpx.MockTransport``: records
    every request's Idempotency-Key, and ``fail(request, attempt)`` may lose a request before
    the engine sees it (return an exception or a response to answer with instead) or, with
    ``after=True``, lose the engine's answer after it acted."""

    def __init__(
        self,
        name: str,
        fail: Callable[[httpx.Request, int], httpx.Response | Exception | None] | None = None,
        *,
        after: bool = False,
    ) -> None:
        self.engine = LocalTransport(name)
        self.fail = fail
        self.after = after
        self.keys: list[str | None] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        key = request.headers.get("idempotency-key")
        self.keys.append(key)
        attempt = self.keys.count(key)
        injected = self.fail(request, attempt) if self.fail is not None else None
        if injected is not None and not self.after:
            if isinstance(injected, Exception):
                raise injected
            return injected
        answer = self.engine.handle_request(request)
        if isinstance(injected, Exception):
            raise injected  # the engine acted; its answer never arrives
        return answer


def ingested(name: str, stream_id: str) -> int:
    """How many events the engine ``name`` has ingested into ``stream_id``."""
    return get_engine(name).events_ingested(stream_id)


# --- resending the same call ------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_a_resend_with_the_same_key_ingests_once_and_returns_the_first_result(
    form: str, engine_name: str
) -> None:
    url = f"local://{engine_name}"
    batch = events(40)
    first = detect(form, url, stream_id="orders", events=batch, idempotency_key="task-1")
    again = detect(form, url, stream_id="orders", events=batch, idempotency_key="task-1")

    assert ingested(engine_name, "orders") == 40
    assert first.replayed is False
    assert again.replayed is True
    assert again == first  # the first answer, with its request id and batch id
    assert again.request_id == first.request_id
    assert again.batch_id == first.batch_id
    assert {**again.to_dict(), "replayed": False} == first.to_dict()
    assert again.calibration.events_ingested == 40

    # The next call with a new key ingests as usual, after the 40 ingested once.
    later = detect(form, url, stream_id="orders", events=events(45, 40), idempotency_key="task-2")
    assert later.replayed is False
    assert later.calibration.events_ingested == 45


@pytest.mark.parametrize("form", FORMS)
def test_without_a_key_every_call_is_new_and_a_resend_ingests_again(
    form: str, engine_name: str
) -> None:
    url = f"local://{engine_name}"
    wire = Wire(engine_name)
    batch = events(10)
    first = detect(form, url, wire.transport, stream_id="orders", events=batch)
    again = detect(form, url, wire.transport, stream_id="orders", events=batch)

    assert ingested(engine_name, "orders") == 20
    assert first.replayed is False
    assert again.replayed is False
    assert len(set(wire.keys)) == 2
    assert all(key is not None and uuid.UUID(key) for key in wire.keys)


@pytest.mark.parametrize("form", FORMS)
def test_the_key_is_sent_as_given_over_http_and_the_server_replays_it(
    form: str, served_engine: ServedEngine
) -> None:
    batch = events(25)
    key = "celery:import-orders:3f2c9a7e-55d1-4c9b-9c1e-0d4b2f6a8e11"
    first = served_detect(
        form, served_engine, stream_id="orders", events=batch, idempotency_key=key
    )
    again = served_detect(
        form, served_engine, stream_id="orders", events=batch, idempotency_key=key
    )

    assert served_engine.engine.events_ingested("orders") == 25
    assert (first.replayed, again.replayed) == (False, True)
    assert again == first


# --- the same key for another request ---------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_the_same_key_with_other_events_is_a_conflict_and_ingests_nothing(
    form: str, engine_name: str
) -> None:
    url = f"local://{engine_name}"
    detect(form, url, stream_id="orders", events=events(10), idempotency_key="task-1")

    with pytest.raises(ConflictError) as caught:
        detect(form, url, stream_id="orders", events=events(11), idempotency_key="task-1")
    assert caught.value.status_code == 409
    assert caught.value.code == "conflict"
    assert "Idempotency-Key" in caught.value.message

    with pytest.raises(ConflictError):  # the same events for another stream are another request
        detect(form, url, stream_id="refunds", events=events(10), idempotency_key="task-1")

    assert ingested(engine_name, "orders") == 10
    assert ingested(engine_name, "refunds") == 0


# --- automatic retries ------------------------------------------------------------------------


def lost_answer(request: httpx.Request, attempt: int) -> Exception | None:
    return httpx.ReadError("connection reset", request=request) if attempt == 1 else None


def refused(request: httpx.Request, attempt: int) -> httpx.Response | None:
    if attempt == 1:
        return httpx.Response(503, json={"error": {"code": "unavailable", "message": "busy"}})
    return None


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    ("fail", "after", "replayed"),
    [(refused, False, False), (lost_answer, True, True)],
    ids=["503-before-the-engine", "answer-lost-after-the-engine"],
)
def test_an_automatic_retry_sends_the_callers_key(
    form: str,
    fail: Callable[[httpx.Request, int], httpx.Response | Exception | None],
    after: bool,
    replayed: bool,
    engine_name: str,
    sleeps: list[float],
) -> None:
    wire = Wire(engine_name, fail, after=after)
    result = detect(
        form,
        f"local://{engine_name}",
        wire.transport,
        stream_id="orders",
        events=events(30),
        idempotency_key="task-7",
    )

    assert wire.keys == ["task-7", "task-7"]
    assert len(sleeps) == 1
    assert ingested(engine_name, "orders") == 30
    # When the first attempt's answer was lost, the retry gets it back from the server.
    assert result.replayed is replayed
    assert result.total_events == 30


def test_an_explicit_key_wins_over_same_idempotency_key(engine_name: str) -> None:
    wire = Wire(engine_name)
    with same_idempotency_key("from-the-middleware"):
        detect(
            "DriftlockSyncClient.detect",
            f"local://{engine_name}",
            wire.transport,
            events=events(5),
            idempotency_key="from-the-caller",
        )
    assert wire.keys == ["from-the-caller"]


# --- detects the SDK splits -------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_a_split_detect_resent_with_its_key_ingests_each_event_once(
    form: str, engine_name: str
) -> None:
    url = f"local://{engine_name}"
    wire = Wire(engine_name)
    batch = events(2500)
    first = detect(form, url, wire.transport, stream_id="bulk", events=batch, idempotency_key="k")
    again = detect(form, url, wire.transport, stream_id="bulk", events=batch, idempotency_key="k")

    assert ingested(engine_name, "bulk") == 2500
    # One deterministic key per request, the same on the resend.
    assert Counter(wire.keys) == {"k:0": 2, "k:1": 2, "k:2": 2}
    assert len(first.batch_ids) == 3
    assert (first.replayed, again.replayed) == (False, True)
    assert again == first
    assert again.total_events == 2500


@pytest.mark.parametrize("form", FORMS)
def test_a_resend_of_a_split_detect_that_failed_halfway_ingests_only_the_rest(
    form: str, engine_name: str, sleeps: list[float]
) -> None:
    url = f"local://{engine_name}"
    batch = events(2500)

    def third_request_never_arrives(request: httpx.Request, attempt: int) -> Exception | None:
        if request.headers["idempotency-key"] == "job:2":
            return httpx.ConnectError("connection refused", request=request)
        return None

    broken = Wire(engine_name, third_request_never_arrives)
    with pytest.raises(DriftlockConnectionError):
        detect(form, url, broken.transport, stream_id="bulk", events=batch, idempotency_key="job")
    # The third request never arrived (the async client, sending concurrently, may also have
    # cancelled one of the others when it gave up).
    assert ingested(engine_name, "bulk") in (1000, 2000)

    resent = detect(form, url, stream_id="bulk", events=batch, idempotency_key="job")

    assert ingested(engine_name, "bulk") == 2500
    assert resent.total_events == 2500
    assert resent.replayed is False  # the third request was new to the server


def test_a_split_detect_leaves_room_for_the_suffix_in_the_key(engine_name: str) -> None:
    url = f"local://{engine_name}"
    wire = Wire(engine_name)
    form = "DriftlockSyncClient.detect"

    with pytest.raises(DriftlockValidationError) as caught:
        detect(form, url, wire.transport, events=events(2500), idempotency_key="k" * 254)
    assert caught.value.field_path == "idempotency_key"
    assert "at most 253 characters" in str(caught.value)
    assert "3 requests" in str(caught.value)
    assert wire.keys == []

    detect(form, url, wire.transport, events=events(2500), idempotency_key="k" * 253)
    assert wire.keys == [f"{'k' * 253}:{i}" for i in range(3)]
    detect(form, url, wire.transport, events=events(10), idempotency_key="x" * 255)
    assert wire.keys[-1] == "x" * 255
    assert ingested(engine_name, "default") == 2510


# --- invalid keys -----------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "must be a non-empty string"),
        ("k" * 256, "must be at most 255 characters, got 256"),
        ("naïve-key", "must be printable ASCII"),
        ("line\nbreak", "must be printable ASCII"),
        ("tab\tkey", "must be printable ASCII"),
        ("\x7f", "must be printable ASCII"),
        (" leading", "must not start or end with a space"),
        ("trailing ", "must not start or end with a space"),
        (" ", "must not start or end with a space"),
        (42, "must be a string, got int"),
        (b"bytes", "must be a string, got bytes"),
        (uuid.UUID(int=1), "must be a string, got UUID"),
    ],
)
def test_an_invalid_key_is_refused_before_anything_is_sent(
    form: str, key: Any, reason: str, engine_name: str
) -> None:
    wire = Wire(engine_name)
    with pytest.raises(DriftlockValidationError) as caught:
        detect(
            form,
            f"local://{engine_name}",
            wire.transport,
            stream_id="orders",
            events=events(5),
            idempotency_key=key,
        )
    assert caught.value.field_path == "idempotency_key"
    assert str(caught.value).startswith("idempotency_key: ")
    assert reason in str(caught.value)
    assert wire.keys == []
    assert ingested(engine_name, "orders") == 0
