"""The framework-free delivery core: bounded queue, exact counters, batching, retries, drivers."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from driftlock._batch import (
    BATCH_READY,
    DROPPED,
    QUEUED,
    AsyncDelivery,
    Batch,
    DeliveryOptions,
    DeliveryState,
    DeliveryStats,
    json_safe,
)
from driftlock._capture import Event
from tests.integrations.support import (
    api_error,
    connection_error,
    rate_limit_error,
    validation_error,
    wait_for,
)


def events(n: int, start: int = 0) -> list[Event]:
    return [{"type": "t", "body": {"i": i}} for i in range(start, start + n)]


def balanced(stats: DeliveryStats) -> bool:
    return stats.captured == stats.sent + stats.dropped + stats.failed + stats.queued


# -- options -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("batch_size", 0),
        ("batch_size", 1001),
        ("batch_size", 2.5),
        ("batch_size", True),
        ("max_batch_size", 1001),
        ("max_batch_size", 99),  # below batch_size (100)
        ("max_batch_size", 2.5),
        ("max_queue_size", 0),
        ("max_retries", -1),
        ("flush_interval", 0),
        ("flush_interval", -1),
        ("flush_interval", math.inf),
        ("flush_interval", "1"),
        ("flush_timeout", 0),
        ("retry_backoff", math.nan),
        ("max_retry_backoff", 0),
    ],
)
def test_invalid_options_raise_naming_the_option(option: str, value: Any) -> None:
    with pytest.raises(ValueError, match=option):
        DeliveryOptions(**{option: value})


# -- the state -------------------------------------------------------------------------------


def test_queue_bound_batches_and_counters() -> None:
    state = DeliveryState(DeliveryOptions(batch_size=3, max_queue_size=5))
    answers = [state.offer(e) for e in events(7)]
    assert answers == [QUEUED, QUEUED, BATCH_READY, QUEUED, QUEUED, DROPPED, DROPPED]
    assert state.stats() == DeliveryStats(
        captured=7, sent=0, dropped=2, failed=0, queued=5, filtered=0
    )
    assert state.full
    first = state.take(partial=False)
    assert first is not None
    assert [e["body"]["i"] for e in first.events] == [0, 1, 2]
    assert state.take(partial=False) is None  # two left: not a full batch
    second = state.take(partial=True)
    assert second is not None
    assert len(second.events) == 2
    assert state.stats().queued == 5  # in flight still counts as queued
    assert state.full
    state.delivered(first)
    assert not state.full  # room again: the next request is captured
    state.delivered(first)  # settling twice counts once
    state.give_up(second, RuntimeError("x"))
    assert state.stats() == DeliveryStats(
        captured=7, sent=3, dropped=2, failed=2, queued=0, filtered=0
    )
    assert state.take(partial=True) is None


@pytest.mark.parametrize(
    ("max_batch_size", "sizes"), [(None, [100] * 25), (1000, [1000, 1000, 500])]
)
def test_a_backlog_grows_the_batches_only_up_to_max_batch_size(
    max_batch_size: int | None, sizes: list[int]
) -> None:
    # Driftlock answering slower than the app fills batches: with max_batch_size, the backlog
    # goes in bigger requests instead of waiting (and, once the queue is full, being dropped).
    options = DeliveryOptions(batch_size=100, max_batch_size=max_batch_size, max_queue_size=5000)
    state = DeliveryState(options)
    for e in events(2500):
        state.offer(e)
    taken = []
    while (batch := state.take(partial=False)) is not None:
        taken.append(len(batch.events))
        state.delivered(batch)
    assert taken == sizes
    assert state.stats().sent == 2500


def test_full_follows_what_is_held_as_it_is_settled_and_discarded() -> None:
    state = DeliveryState(DeliveryOptions(batch_size=2, max_queue_size=2))

    def fill() -> None:
        assert not state.full
        assert [state.offer({"a": i}) for i in range(3)] == [QUEUED, BATCH_READY, DROPPED]
        assert state.full

    fill()
    failed = state.take(partial=False)
    assert failed is not None
    assert state.full  # in flight still counts
    state.give_up(failed, RuntimeError("x"))
    fill()
    sent = state.take(partial=False)
    assert sent is not None
    state.delivered(sent)
    fill()
    assert state.discard() == 2
    assert not state.full
    assert state.stats() == DeliveryStats(
        captured=9, sent=2, dropped=5, failed=2, queued=0, filtered=0
    )


def test_reject_and_filtered_keep_the_equation() -> None:
    state = DeliveryState(DeliveryOptions(max_queue_size=1))
    state.offer({"a": 1})
    state.reject()
    state.note_filtered()
    stats = state.stats()
    assert (stats.captured, stats.dropped, stats.queued, stats.filtered) == (2, 1, 1, 1)
    assert balanced(stats)
    assert stats.as_dict()["filtered"] == 1


def test_transient_failures_back_off_then_fail(caplog: pytest.LogCaptureFixture) -> None:
    options = DeliveryOptions(max_retries=3, retry_backoff=1.0, max_retry_backoff=3.0)
    state = DeliveryState(options)
    for e in events(2):
        state.offer(e)
    batch = state.take(partial=True)
    assert batch is not None
    delays = [state.attempt_failed(batch, connection_error()) for _ in range(3)]
    assert 0.5 <= delays[0] <= 1.0  # type: ignore[operator]
    assert 1.0 <= delays[1] <= 2.0  # type: ignore[operator]
    assert 1.5 <= delays[2] <= 3.0  # type: ignore[operator]  # capped at max_retry_backoff
    with caplog.at_level(logging.WARNING, logger="driftlock"):
        assert state.attempt_failed(batch, connection_error()) is None
    assert state.stats().failed == 2
    assert "after 4 attempt(s)" in caplog.text


@pytest.mark.parametrize(
    ("error", "delay"),
    [
        (lambda: rate_limit_error(2.0), 2.0),
        (lambda: rate_limit_error(600.0), 30.0),  # Retry-After honoured up to the cap
        (lambda: api_error(503), None),  # backoff: checked as a range below
        (lambda: api_error(408), None),
    ],
)
def test_retryable_errors(error: Callable[[], Exception], delay: float | None) -> None:
    state = DeliveryState(DeliveryOptions())
    state.offer({"a": 1})
    batch = state.take(partial=True)
    assert batch is not None
    answer = state.attempt_failed(batch, error())
    assert answer is not None
    if delay is None:
        assert 0.25 <= answer <= 0.5
    else:
        assert answer == delay


@pytest.mark.parametrize(
    "error",
    [lambda: api_error(400), lambda: api_error(401), lambda: api_error(404), lambda: KeyError("x")],
)
def test_permanent_errors_fail_at_once(error: Callable[[], Exception]) -> None:
    state = DeliveryState(DeliveryOptions(max_retries=5))
    state.offer({"a": 1})
    batch = state.take(partial=True)
    assert batch is not None
    assert state.attempt_failed(batch, error()) is None
    assert state.stats().failed == 1


def test_invalid_events_are_reduced_to_json_once() -> None:
    state = DeliveryState(DeliveryOptions())
    circular: dict[str, Any] = {"a": 1}
    circular["self"] = circular
    for event in ({"ok": 1}, {"when": object(), "x": math.nan}, circular):
        state.offer(event)
    batch = state.take(partial=True)
    assert batch is not None
    assert state.attempt_failed(batch, validation_error()) == 0.0
    assert len(batch.events) == 2
    assert batch.events[1]["x"] is None
    assert isinstance(batch.events[1]["when"], str)
    assert state.stats().failed == 1  # the circular one could not be saved
    assert state.attempt_failed(batch, validation_error()) is None  # only once
    stats = state.stats()
    assert stats.failed == 3
    assert balanced(stats)


def test_json_safe() -> None:
    odd: dict[Any, Any] = {"a": (1, 2), 3: {4}}
    assert json_safe(odd) == {"a": [1, 2], "3": str({4})}
    assert json_safe({"x": math.inf}) == {"x": None}


def test_requeue_keeps_order_and_discard_counts_drops() -> None:
    state = DeliveryState(DeliveryOptions(batch_size=2))
    for e in events(5):
        state.offer(e)
    a = state.take(partial=False)
    b = state.take(partial=False)
    assert a is not None
    assert b is not None
    state.requeue_in_flight()
    again = state.take(partial=False)
    assert again is a  # the same events and Idempotency-Key, first
    assert [e["body"]["i"] for e in again.events] == [0, 1]
    assert state.take(partial=False) is b
    assert state.discard() == 5
    stats = state.stats()
    assert (stats.dropped, stats.queued) == (5, 0)
    assert state.completed == state.accepted == 5


class DeliveryMachine(RuleBasedStateMachine):
    """Any interleaving of the state's operations keeps the equation and the queue bound."""

    @initialize(size=st.integers(1, 5), bound=st.integers(1, 12), retries=st.integers(0, 2))
    def start(self, size: int, bound: int, retries: int) -> None:
        self.state = DeliveryState(
            DeliveryOptions(batch_size=size, max_queue_size=bound, max_retries=retries)
        )
        self.batches: list[Batch] = []
        self.offered = 0

    @rule(n=st.integers(1, 8))
    def offer(self, n: int) -> None:
        for e in events(n, self.offered):
            self.state.offer(e)
        self.offered += n

    @rule()
    def reject(self) -> None:
        self.state.reject()
        self.offered += 1

    @rule(partial=st.booleans())
    def take(self, partial: bool) -> None:
        batch = self.state.take(partial=partial)
        if batch is not None:
            assert 1 <= len(batch.events) <= self.state.options.batch_size
            self.batches.append(batch)

    @precondition(lambda self: self.batches)
    @rule(data=st.data())
    def settle(self, data: st.DataObject) -> None:
        batch = data.draw(st.sampled_from(self.batches))
        action = data.draw(st.sampled_from(["sent", "transient", "permanent", "requeue"]))
        if action == "sent":
            self.state.delivered(batch)
        elif action == "transient":
            self.state.attempt_failed(batch, connection_error())
        elif action == "permanent":
            self.state.attempt_failed(batch, api_error(400))
        else:
            self.state.requeue(batch)

    @rule()
    def discard(self) -> None:
        self.state.discard()

    @invariant()
    def equation_and_bound(self) -> None:
        stats = self.state.stats()
        assert balanced(stats)
        assert stats.captured == self.offered
        assert stats.queued <= self.state.options.max_queue_size  # batches in flight included
        assert self.state.completed <= self.state.accepted


TestDeliveryMachine = DeliveryMachine.TestCase
TestDeliveryMachine.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)


def test_every_snapshot_balances_under_threads() -> None:
    state = DeliveryState(DeliveryOptions(batch_size=7, max_queue_size=50))
    stop = threading.Event()
    bad: list[DeliveryStats] = []

    def produce() -> None:
        for e in events(20_000):
            state.offer(e)

    def consume() -> None:
        while not stop.is_set():
            batch = state.take(partial=True)
            if batch is not None:
                if batch.events[0]["body"]["i"] % 3:
                    state.delivered(batch)
                else:
                    state.give_up(batch, RuntimeError("x"))

    def watch() -> None:
        while not stop.is_set():
            stats = state.stats()
            if not balanced(stats):
                bad.append(stats)

    workers = [threading.Thread(target=f) for f in (consume, watch)]
    producers = [threading.Thread(target=produce) for _ in range(2)]
    for t in workers + producers:
        t.start()
    for t in producers:
        t.join()
    stop.set()
    for t in workers:
        t.join()
    assert bad == []
    final = state.stats()
    assert final.captured == 40_000
    assert balanced(final)


@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")  # Python 3.12+
def test_a_forked_child_starts_empty() -> None:
    state = DeliveryState(DeliveryOptions())
    for e in events(3):
        state.offer(e)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it holds, then leave at once
        stats = state.stats()
        state.offer({"child": 1})
        os.write(write, f"{stats.captured},{stats.queued},{state.stats().queued}".encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        report = pipe.read()
    os.waitpid(pid, 0)
    assert report == "0,0,1"
    assert state.stats().queued == 3  # the parent keeps its own


# -- the asyncio driver ----------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")  # Python 3.12+
def test_a_forked_child_runs_its_own_sender() -> None:
    sink = Sink()
    delivery = driver(sink, flush_interval=3600)

    async def parent_traffic() -> None:
        for e in events(5):
            delivery.submit(e)  # the sender starts here, in the parent's loop

    asyncio.run(parent_traffic())  # ends with the parent's last delivery attempt
    for e in events(3, 100):
        delivery.state.offer(e)  # held by the parent when it forks
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:

        async def child_traffic() -> None:
            delivery.submit({"child": 1})
            await delivery.aclose()

        asyncio.run(child_traffic())
        os.write(write, repr([b for b in sink.batches[1:]]).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        report = pipe.read()
    os.waitpid(pid, 0)
    assert report == "[[{'child': 1}]]"  # only its own event, from a sender of its own
    assert delivery.stats().queued == 3  # the parent still holds its three


class Sink:
    """An in-memory destination that records batches; faults are scripted per call."""

    def __init__(self, faults: list[Exception] | None = None, gate: asyncio.Event | None = None):
        self.batches: list[list[Event]] = []
        self.calls = 0
        self.faults = list(faults or [])
        self.gate = gate
        self.result: Any = None

    async def __call__(self, batch: list[Event]) -> Any:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.faults:
            raise self.faults.pop(0)
        self.batches.append(list(batch))
        return self.result

    @property
    def delivered(self) -> int:
        return sum(len(b) for b in self.batches)


def driver(sink: Sink, **options: Any) -> AsyncDelivery:
    on_anomaly = options.pop("on_anomaly", None)
    return AsyncDelivery(
        DeliveryState(DeliveryOptions(**options)), lambda: sink, on_anomaly=on_anomaly
    )


async def test_a_full_batch_goes_at_once_and_a_partial_one_on_the_interval() -> None:
    sink = Sink()
    delivery = driver(sink, batch_size=5, flush_interval=3600)
    for e in events(5):
        delivery.submit(e)
    await wait_for(lambda: sink.delivered == 5)  # long before the interval
    delivery.submit({"late": 1})
    await asyncio.sleep(0.05)
    assert sink.delivered == 5  # a partial batch waits...
    assert await delivery.flush()  # ...unless flushed
    assert sink.batches[-1] == [{"late": 1}]
    await delivery.aclose()

    timed = Sink()
    delivery = driver(timed, batch_size=100, flush_interval=0.05)
    delivery.submit({"a": 1})
    await wait_for(lambda: timed.delivered == 1)
    await delivery.aclose()


async def test_submit_never_waits_for_a_blocked_sender() -> None:
    gate = asyncio.Event()  # never set: Driftlock hangs
    sink = Sink(gate=gate)
    delivery = driver(sink, batch_size=10, max_queue_size=50, flush_timeout=0.1)
    for e in events(200):
        delivery.submit(e)  # synchronous: returning at all proves no network wait
    await wait_for(lambda: sink.calls == 2)  # the sender is stuck sending its first two batches
    stats = delivery.stats()
    assert (stats.captured, stats.queued, stats.dropped) == (200, 50, 150)
    assert not await delivery.aclose()  # the flush times out...
    stats = delivery.stats()
    assert (stats.sent, stats.queued, stats.dropped) == (0, 0, 200)  # ...and says so
    assert balanced(stats)


class GatedSink:
    """A destination where each call waits for its own gate (released by the test, in any
    order); calls listed in ``failing`` then raise a connection error."""

    def __init__(self, failing: frozenset[int] = frozenset(), hang: frozenset[int] = frozenset()):
        self.failing = failing
        self.hang = hang  # calls that never return (until cancelled)
        self.gates: dict[int, asyncio.Event] = {}
        self.batches: list[list[Event]] = []
        self.calls = 0

    def gate(self, call: int) -> asyncio.Event:
        return self.gates.setdefault(call, asyncio.Event())

    async def __call__(self, batch: list[Event]) -> Any:
        self.calls += 1
        call = self.calls
        if call in self.hang:
            await asyncio.Event().wait()
        elif not self.hang:  # with hanging calls, the others answer at once
            await self.gate(call).wait()
        if call in self.failing:
            raise connection_error()
        self.batches.append(list(batch))
        return None


def first_values(batches: list[list[Event]]) -> list[int]:
    return [batch[0]["body"]["i"] for batch in batches]


async def test_two_batches_are_sent_at_once_and_settle_in_order() -> None:
    sink = GatedSink()
    delivery = driver(sink, batch_size=10, flush_interval=3600)
    for e in events(10):
        delivery.submit(e)
    await wait_for(lambda: sink.calls == 1)
    flushed = asyncio.ensure_future(delivery.flush(timeout=10))
    await asyncio.sleep(0)  # the flush starts: it covers the first batch only
    for e in events(20, 10):
        delivery.submit(e)
    await wait_for(lambda: sink.calls == 2)  # the second batch goes while the first is out
    await asyncio.sleep(0.05)
    assert sink.calls == 2  # never more than two at once

    sink.gate(2).set()  # Driftlock answers the second batch first...
    await wait_for(lambda: len(sink.batches) == 1)
    await asyncio.sleep(0.05)
    stats = delivery.stats()
    assert (stats.sent, stats.queued) == (0, 30)  # ...which waits for the first to settle
    assert not flushed.done()  # so a flush of the first batch is still waiting

    sink.gate(1).set()
    assert await flushed
    await wait_for(lambda: sink.calls == 3)
    assert delivery.stats().sent == 20
    sink.gate(3).set()
    assert await delivery.aclose()
    assert first_values(sink.batches) == [10, 0, 20]
    stats = delivery.stats()
    assert (stats.sent, stats.queued) == (30, 0)
    assert balanced(stats)


async def test_a_retried_batch_still_settles_before_the_next() -> None:
    sink = GatedSink(failing=frozenset({1}))  # the first attempt of the first batch fails
    delivery = driver(sink, batch_size=10, retry_backoff=0.01)
    for e in events(20):
        delivery.submit(e)
    await wait_for(lambda: sink.calls == 2)
    sink.gate(2).set()
    await wait_for(lambda: len(sink.batches) == 1)
    sink.gate(1).set()  # fails: retried as call 3
    await wait_for(lambda: sink.calls == 3)
    await asyncio.sleep(0.05)
    assert delivery.stats().sent == 0  # the second batch waits for the first's retry
    sink.gate(3).set()
    assert await delivery.aclose()
    assert first_values(sink.batches) == [10, 0]
    stats = delivery.stats()
    assert (stats.sent, stats.failed, stats.queued) == (20, 0, 0)


def test_batches_on_the_wire_when_the_loop_ends_are_resent_in_order() -> None:
    # No lifespan shutdown: the loop cancels the sender while Driftlock holds two batches.
    sink = GatedSink(hang=frozenset({1, 2}))
    delivery = driver(sink, batch_size=10, flush_interval=3600, flush_timeout=10)

    async def traffic() -> None:
        for e in events(35):
            delivery.submit(e)
        await wait_for(lambda: sink.calls == 2)

    asyncio.run(traffic())  # ends with the sender's last delivery attempt
    assert first_values(sink.batches) == [0, 10, 20, 30]
    assert sum(len(b) for b in sink.batches) == 35
    stats = delivery.stats()
    assert (stats.sent, stats.queued, stats.dropped) == (35, 0, 0)


async def test_flush_waits_for_retries() -> None:
    sink = Sink(faults=[connection_error(), api_error(502)])
    delivery = driver(sink, batch_size=10, retry_backoff=0.01, max_retries=3)
    for e in events(4):
        delivery.submit(e)
    assert await delivery.flush(timeout=10)
    assert sink.calls == 3
    assert delivery.stats().sent == 4
    await delivery.aclose()


async def test_retries_give_up_and_count(caplog: pytest.LogCaptureFixture) -> None:
    sink = Sink(faults=[connection_error() for _ in range(10)])
    delivery = driver(sink, retry_backoff=0.001, max_retries=2)
    delivery.submit({"a": 1})
    with caplog.at_level(logging.WARNING, logger="driftlock"):
        assert await delivery.flush(timeout=10)
    assert sink.calls == 3
    stats = delivery.stats()
    assert (stats.failed, stats.queued) == (1, 0)
    assert "Could not deliver 1 events" in caplog.text
    await delivery.aclose()


async def test_invalid_events_are_sent_as_plain_json() -> None:
    sink = Sink(faults=[validation_error()])
    delivery = driver(sink)
    delivery.submit({"when": object()})
    assert await delivery.flush(timeout=10)
    assert isinstance(sink.batches[0][0]["when"], str)


class Result:
    def __init__(self, anomalies: list[Any]) -> None:
        self.anomalies = anomalies


async def test_on_anomaly_sync_runs_off_the_loop_and_async_in_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[tuple[str, Any]] = []
    loop_thread = threading.current_thread()

    def sync_callback(result: Any) -> None:
        seen.append(("sync", threading.current_thread() is loop_thread))
        raise RuntimeError("pager down")

    async def async_callback(result: Any) -> None:
        seen.append(("async", result.anomalies))

    for callback in (sync_callback, async_callback):
        sink = Sink()
        sink.result = Result(["odd"])
        delivery = driver(sink, on_anomaly=callback)
        delivery.submit({"a": 1})
        with caplog.at_level(logging.ERROR, logger="driftlock"):
            assert await delivery.flush(timeout=10)
        await delivery.aclose()
    quiet = Sink()
    quiet.result = Result([])
    delivery = driver(quiet, on_anomaly=async_callback)
    delivery.submit({"a": 1})
    await delivery.aclose()
    assert seen == [("sync", False), ("async", ["odd"])]
    assert "pager down" in caplog.text


def test_the_sender_moves_to_a_new_loop_and_loses_nothing() -> None:
    sink = Sink()
    delivery = driver(sink, flush_interval=3600, flush_timeout=5)

    async def first() -> None:
        for e in events(3):
            delivery.submit(e)

    # asyncio.run cancels the sender when its loop ends: it makes a last delivery attempt.
    asyncio.run(first())
    assert sink.delivered == 3

    async def second() -> None:
        for e in events(2, 3):
            delivery.submit(e)
        assert await delivery.aclose()

    asyncio.run(second())
    assert sink.delivered == 5
    assert balanced(delivery.stats())


async def test_flush_from_another_thread_s_loop() -> None:
    sink = Sink()
    delivery = driver(sink, flush_interval=3600)
    for e in events(3):
        delivery.submit(e)

    def other_thread() -> bool:
        return asyncio.run(delivery.flush(timeout=10))

    assert await asyncio.to_thread(other_thread)
    assert sink.delivered == 3
    await delivery.aclose()


async def test_callbacks_must_be_callable() -> None:
    with pytest.raises(ValueError, match="on_anomaly"):
        AsyncDelivery(DeliveryState(DeliveryOptions()), Sink, on_anomaly=3)  # type: ignore[arg-type]
