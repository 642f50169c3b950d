"""The thread driver (ThreadDelivery) over the shared delivery state: batching, waking, flush,
retries, close, at-exit flush, fork, and sending on the caller's thread."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import threading
from typing import Any

import pytest

from driftlock._batch import (
    BATCH_READY,
    DeliveryOptions,
    DeliveryState,
    ThreadDelivery,
    _close_at_exit,
)
from driftlock._capture import Event, InvalidOptionError
from tests.integrations.support import (
    api_error,
    connection_error,
    validation_error,
    wait_for_sync,
)
from tests.integrations.wsgi_support import ROOT


def events(n: int, start: int = 0) -> list[Event]:
    return [{"type": "t", "body": {"i": i}} for i in range(start, start + n)]


class Sink:
    """A destination that records batches and the threads that sent them; faults are scripted
    per call, and ``gate`` (when given) holds every call until it is set."""

    def __init__(self, faults: list[Exception] | None = None, gate: threading.Event | None = None):
        self.batches: list[list[Event]] = []
        self.threads: list[str] = []
        self.faults = list(faults or [])
        self.gate = gate
        self.entered = threading.Event()
        self.result: Any = None

    def __call__(self, batch: list[Event]) -> Any:
        self.entered.set()
        self.threads.append(threading.current_thread().name)
        if self.gate is not None:
            self.gate.wait(60)
        if self.faults:
            raise self.faults.pop(0)
        self.batches.append(list(batch))
        return self.result

    @property
    def delivered(self) -> int:
        return sum(len(b) for b in self.batches)


def driver(sink: Sink, *, background: bool = True, **options: Any) -> ThreadDelivery:
    on_anomaly = options.pop("on_anomaly", None)
    return ThreadDelivery(
        DeliveryState(DeliveryOptions(**options)),
        lambda: sink,
        on_anomaly=on_anomaly,
        background=background,
    )


def test_nothing_starts_before_the_first_event() -> None:
    delivery = driver(Sink())
    assert delivery._thread is None
    delivery.submit({"a": 1})
    assert delivery._thread is not None
    assert delivery._thread.daemon
    delivery.close()


def test_a_full_batch_goes_at_once_and_a_partial_one_on_the_interval() -> None:
    sink = Sink()
    delivery = driver(sink, batch_size=5, flush_interval=3600)
    for e in events(12):
        delivery.submit(e)
    wait_for_sync(lambda: sink.delivered == 10, "two full batches")
    assert [len(b) for b in sink.batches] == [5, 5]
    assert delivery.stats().queued == 2  # a partial batch waits for the interval...
    assert delivery.flush(timeout=30)  # ...or a flush
    assert [len(b) for b in sink.batches] == [5, 5, 2]
    assert sink.threads == ["driftlock-delivery"] * 3
    delivery.close()

    quick = Sink()
    delivery = driver(quick, batch_size=100, flush_interval=0.05)
    delivery.submit({"a": 1})
    wait_for_sync(lambda: quick.delivered == 1, "the interval's partial batch")
    delivery.close()


def test_submit_never_waits_for_a_blocked_sender() -> None:
    gate = threading.Event()
    sink = Sink(gate=gate)
    delivery = driver(sink, batch_size=2, max_queue_size=6)
    for e in events(2):
        delivery.submit(e)
    assert sink.entered.wait(30)  # the sender is inside its first send, and stays there
    for e in events(100, 2):
        delivery.submit(e)  # every call returns while the sender is blocked
    stats = delivery.stats()
    assert (stats.captured, stats.queued, stats.dropped, stats.sent) == (102, 6, 96, 0)
    gate.set()
    assert delivery.flush(timeout=30)
    stats = delivery.stats()
    assert (stats.sent, stats.queued, stats.dropped) == (6, 0, 96)
    delivery.close()


def test_flush_waits_for_retries() -> None:
    sink = Sink(faults=[connection_error(), api_error(503)])
    delivery = driver(sink, retry_backoff=0.01, flush_interval=3600)
    for e in events(3):
        delivery.submit(e)
    assert delivery.flush(timeout=30)
    assert sink.delivered == 3
    assert delivery.stats().sent == 3
    delivery.close()


def test_retries_give_up_and_count(caplog: pytest.LogCaptureFixture) -> None:
    sink = Sink(faults=[api_error(401)])
    delivery = driver(sink)
    with caplog.at_level(logging.WARNING, logger="driftlock"):
        delivery.submit({"a": 1})
        assert delivery.flush(timeout=30)
    stats = delivery.stats()
    assert (stats.captured, stats.failed, stats.sent) == (1, 1, 0)
    assert "Could not deliver 1 events" in caplog.text
    delivery.close()


def test_invalid_events_are_sent_as_plain_json() -> None:
    sink = Sink(faults=[validation_error()])
    delivery = driver(sink)
    delivery.submit({"tags": {1}, "bad": float("nan")})
    assert delivery.flush(timeout=30)
    assert sink.batches == [[{"tags": "{1}", "bad": None}]]
    delivery.close()


def test_on_anomaly_runs_on_the_sender_thread_sync_or_async() -> None:
    class Result:
        anomalies = ("one",)

    seen: list[tuple[str, str]] = []

    def sync_callback(result: Any) -> None:
        seen.append(("sync", threading.current_thread().name))

    async def async_callback(result: Any) -> None:
        asyncio.get_running_loop()  # an event loop of its own
        seen.append(("async", threading.current_thread().name))

    def failing(result: Any) -> None:
        raise RuntimeError("pager down")

    for callback in (sync_callback, async_callback, failing):
        sink = Sink()
        sink.result = Result()
        delivery = driver(sink, on_anomaly=callback)
        delivery.submit({"a": 1})
        assert delivery.flush(timeout=30)  # waits for the callback too
        delivery.close()
    assert seen == [("sync", "driftlock-delivery"), ("async", "driftlock-delivery")]
    with pytest.raises(InvalidOptionError, match="on_anomaly"):
        driver(Sink(), on_anomaly="not callable")


def test_close_drops_what_it_cannot_deliver_in_time_and_a_later_submit_restarts() -> None:
    gate = threading.Event()
    sink = Sink(gate=gate)
    delivery = driver(sink, batch_size=2)
    for e in events(5):
        delivery.submit(e)
    assert sink.entered.wait(30)
    assert not delivery.close(timeout=0.05)  # Driftlock holds the first batch
    stats = delivery.stats()
    assert (stats.captured, stats.dropped, stats.queued, stats.sent) == (5, 5, 0, 0)
    gate.set()  # the old thread's send completes: it was counted already, and nothing changes
    wait_for_sync(lambda: sink.delivered == 2, "the stalled send")
    assert delivery.stats() == stats
    delivery.submit({"after": "close"})
    assert delivery.flush(timeout=30)
    assert sink.batches[-1] == [{"after": "close"}]
    delivery.close()


def test_the_exit_hook_flushes_open_deliveries() -> None:
    sink = Sink()
    delivery = driver(sink, flush_interval=3600)
    for e in events(4):
        delivery.submit(e)
    _close_at_exit()
    assert sink.delivered == 4
    assert delivery._thread is None


def test_a_process_that_exits_normally_flushes_first() -> None:
    code = (
        "import sys, time\n"
        "from driftlock._batch import DeliveryOptions, DeliveryState, ThreadDelivery\n"
        "def sink(batch):\n"
        "    time.sleep(0.2)\n"  # a slow Driftlock: the exit waits for it
        "    print(len(batch), flush=True)\n"
        "delivery = ThreadDelivery(DeliveryState(DeliveryOptions(flush_interval=3600)),\n"
        "                          lambda: sink)\n"
        "for i in range(7):\n"
        "    delivery.submit({'i': i})\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["7"]


def test_without_a_thread_the_caller_sends_once() -> None:
    sink = Sink(faults=[connection_error()])
    delivery = driver(sink, background=False)
    delivery.submit({"a": 1})  # Driftlock refuses: one attempt, counted, nothing raised
    delivery.submit({"b": 2})
    assert delivery._thread is None
    assert sink.threads == [threading.current_thread().name] * 2
    assert sink.batches == [[{"b": 2}]]
    stats = delivery.stats()
    assert (stats.captured, stats.sent, stats.failed, stats.queued) == (2, 1, 1, 0)
    assert delivery.flush(timeout=0.01)
    delivery.close()


def test_the_state_says_when_a_batch_is_due() -> None:
    state = DeliveryState(DeliveryOptions(batch_size=2, flush_interval=10))
    assert state.next_batch(100.0) == 10.0  # nothing queued: wait one interval
    assert state.offer({"a": 1}) != BATCH_READY
    assert state.next_batch(104.0) == 6.0  # a partial batch waits for the interval
    assert not isinstance(state.next_batch(104.0, flushing=True), float)  # unless flushing
    state.offer({"b": 2})
    assert state.next_batch(105.0) == 5.0
    batch = state.next_batch(110.0)  # the interval passed
    assert not isinstance(batch, float)
    assert batch.events == [{"b": 2}]
    assert state.next_batch(110.0) == 10.0


@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")  # Python 3.12+
def test_a_forked_child_runs_its_own_thread_and_queue() -> None:
    sink = Sink()
    delivery = driver(sink, flush_interval=3600)
    for e in events(3):
        delivery.submit(e)  # the parent's thread started; its three events wait
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: nothing inherited but the code
        try:
            delivery.submit({"child": 1})
            delivery.flush(timeout=30)
            os.write(write, repr((sink.batches, delivery.stats().as_dict())).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        report = pipe.read()
    os.waitpid(pid, 0)
    assert report == repr(
        (
            [[{"child": 1}]],
            {"captured": 1, "sent": 1, "dropped": 0, "failed": 0, "queued": 0, "filtered": 0},
        )
    )
    assert delivery.stats().queued == 3  # the parent still holds its own, and sends them once
    assert delivery.flush(timeout=30)
    assert sink.batches == [events(3)]
    delivery.close()
