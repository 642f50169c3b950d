"""Framework-free background delivery: a bounded queue, batching, retries, exact counters.

Two layers, so that every integration shares the logic and only the waiting differs:

- :class:`DeliveryState` is the sans-I/O core: the bounded queue, the counters, which events
  form the next batch, whether and when a failed batch is retried. It never blocks, sleeps or
  does I/O, and it is thread-safe, so the request path of any server can feed it.
- A driver owns the waiting and the I/O. :class:`AsyncDelivery` is the asyncio driver for ASGI
  apps (one task in the serving event loop); :class:`ThreadDelivery` is the thread driver for
  WSGI and Django apps (one daemon thread per process). Both run the same cycle, decided by the
  state: :meth:`DeliveryState.next_batch` (a batch to send, or how long to wait), send it, then
  :meth:`DeliveryState.after_attempt` (done, or how long to wait before retrying). The drivers
  differ only in how they wait and send: ``await`` or a blocking call.

The counters obey ``captured == sent + dropped + failed + queued`` at every moment (see
:class:`DeliveryStats`): every change happens under one lock, in one step.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import inspect
import json
import logging
import os
import random
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from driftlock._capture import (
    BodyCapture,
    Capture,
    Event,
    InvalidOptionError,
    LogLimiter,
    Record,
    check_int,
    check_seconds,
)
from driftlock._events import MAX_BODY_BYTES, MAX_EVENT_DEPTH
from driftlock._retry import same_idempotency_key
from driftlock.exceptions import (
    DriftlockAPIError,
    DriftlockConnectionError,
    DriftlockTimeoutError,
    DriftlockValidationError,
    RateLimitError,
)

__all__ = [
    "BATCH_READY",
    "DROPPED",
    "MAX_BATCH_SIZE",
    "QUEUED",
    "AnomalyCallback",
    "AsyncDelivery",
    "AsyncSink",
    "Batch",
    "DeliveryOptions",
    "DeliveryState",
    "DeliveryStats",
    "SyncSink",
    "ThreadDelivery",
    "json_safe",
    "queue_request",
    "reset_in_forked_children",
]

MAX_BATCH_SIZE = 1000
"""The API accepts at most this many events per detect request."""

# What DeliveryState.offer answers.
DROPPED = 0
QUEUED = 1
BATCH_READY = 2  # queued, and a full batch is waiting: wake the sender

# Batches the async sender has on the wire at once: while Driftlock works on one, the next is
# prepared and sent, so that neither side waits for the other.
_MAX_IN_FLIGHT = 2
_QUEUE_FULL = "queue_full"  # the log key of drops: an outage drops every request

AnomalyCallback = Callable[[Any], Any]
"""``on_anomaly(result)``: sync, or async (returning an awaitable)."""


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    """How captured events are delivered; validated at construction (errors name the option).

    - ``batch_size``: events per detect request (1-1000); a full batch is sent at once.
    - ``max_batch_size``: how far a batch may grow while more events wait (Driftlock answering
      slower than the app fills batches): up to this many per request (``batch_size`` to
      1000; default ``batch_size``, no growth). Growing lets delivery keep up with the traffic
      instead of dropping, at the cost of the app's CPU for every event delivered.
    - ``flush_interval``: a partial batch waits at most this long (seconds).
    - ``max_queue_size``: events held at most; beyond it new events are dropped and counted.
    - ``flush_timeout``: how long a flush at shutdown may take (seconds).
    - ``max_retries``: retries of a batch after a transient failure (connection, timeout, 408,
      429, 5xx), with exponential backoff from ``retry_backoff`` up to ``max_retry_backoff``
      seconds and jitter; ``Retry-After`` is honoured up to ``max_retry_backoff``.
    """

    batch_size: int = 100
    max_batch_size: int | None = None
    flush_interval: float = 1.0
    max_queue_size: int = 10_000
    flush_timeout: float = 5.0
    max_retries: int = 3
    retry_backoff: float = 0.5
    max_retry_backoff: float = 30.0

    def __post_init__(self) -> None:
        check_int("batch_size", self.batch_size, 1, MAX_BATCH_SIZE)
        if self.max_batch_size is not None:
            check_int("max_batch_size", self.max_batch_size, self.batch_size, MAX_BATCH_SIZE)
        check_int("max_queue_size", self.max_queue_size, 1)
        check_int("max_retries", self.max_retries, 0)
        for name in ("flush_interval", "flush_timeout", "retry_backoff", "max_retry_backoff"):
            check_seconds(name, getattr(self, name))


@dataclass(frozen=True, slots=True)
class DeliveryStats:
    """A consistent snapshot of the delivery counters.

    ``captured == sent + dropped + failed + queued`` holds for every snapshot:

    - ``captured``: events handed to the queue (after exclusion, sampling and ``event_hook``);
    - ``sent``: events in batches Driftlock accepted;
    - ``dropped``: events discarded without a complete delivery attempt: the queue was full
      when they arrived (such a request is not observed at all, so ``event_hook`` never sees
      it), or they were still held when a close ran out of ``flush_timeout``;
    - ``failed``: events whose batch was given up: a permanent error (e.g. 401, 400), or a
      transient one that outlasted the retries;
    - ``queued``: events held right now, waiting in the queue or in a batch being sent or
      waiting to be retried.

    ``filtered`` (outside the equation) counts events the ``event_hook`` dropped or failed on;
    they were never captured.
    """

    captured: int
    sent: int
    dropped: int
    failed: int
    queued: int
    filtered: int

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)


class Batch:
    """Events taken from the queue together; settled exactly once (sent, failed or dropped)."""

    __slots__ = ("attempts", "events", "key", "sanitised", "settled")

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.attempts = 0
        self.sanitised = False
        self.settled = False
        # The Idempotency-Key of every attempt: a resend after an answer that was lost (a
        # timeout) is then the same request, and the server ingests the events only once.
        self.key = str(uuid.uuid4())


def json_safe(event: Event) -> Event | None:
    """``event`` reduced to plain JSON the API accepts, or None if hopeless (too large for any
    request, circular): odd values become strings, NaN and infinities null, lone surrogates
    ``?``, and what nests deeper than the API allows ``TOO_DEEP``.

    Used off the request path, when the client refused a batch as invalid: one bad value put in
    ``driftlock_context``, by an ``event_hook`` or in a captured request body must not cost the
    whole batch.
    """
    try:
        text = json.dumps(event, default=str, skipkeys=True, ensure_ascii=False)
        # Lone surrogates (from a "\ud800" escape in a client's JSON) cannot be encoded: "?".
        raw = text.encode("utf-8", "replace")
        if len(raw) > MAX_BODY_BYTES - 1024:
            return None
        # NaN and Infinity are not JSON: json.dumps writes them, parse_constant turns them to null.
        result = json.loads(raw, parse_constant=lambda _: None)
    except (ValueError, TypeError, RecursionError):  # circular references, odd keys
        return None
    return _clip_depth(result, 1) if isinstance(result, dict) else None


TOO_DEEP = "[nested too deeply]"


def _clip_depth(value: Any, depth: int) -> Any:
    """Parsed JSON with objects and arrays below ``MAX_EVENT_DEPTH`` replaced by ``TOO_DEEP``."""
    kind = type(value)
    if kind is dict:
        if depth > MAX_EVENT_DEPTH:
            return TOO_DEEP
        return {key: _clip_depth(item, depth + 1) for key, item in value.items()}
    if kind is list:
        if depth > MAX_EVENT_DEPTH:
            return TOO_DEEP
        return [_clip_depth(item, depth + 1) for item in value]
    return value


def _retry_after(exc: BaseException) -> float | None:
    """How long Driftlock asked us to wait, if it did."""
    value = getattr(exc, "retry_after", None)
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def _transient(exc: BaseException) -> bool:
    """Whether a failed send may succeed when repeated."""
    if isinstance(
        exc,
        RateLimitError | DriftlockConnectionError | DriftlockTimeoutError | OSError | TimeoutError,
    ):
        return True
    if isinstance(exc, DriftlockAPIError):
        status = exc.status_code
        return status is not None and (status >= 500 or status == 408)
    return False


class DeliveryState:
    """The sans-I/O delivery core shared by every driver; see the module docstring.

    ``prepare(items) -> events`` turns queued items into events when a batch is taken, so that
    the request path can queue something cheaper than an event (see
    :meth:`driftlock._capture.Capture.prepare`).
    """

    def __init__(
        self,
        options: DeliveryOptions,
        *,
        log: LogLimiter | None = None,
        prepare: Callable[[list[Any]], list[Event]] | None = None,
    ) -> None:
        self.options = options
        self.log = log or LogLimiter()
        self._prepare = prepare
        self._init_state()
        _after_fork_reset.add(self)

    def _init_state(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Any] = deque()
        self._in_flight: list[Batch] = []
        # Batches whose sender went away before they settled: sent again first, as they are.
        self._resend: deque[Batch] = deque()
        self._captured = 0
        self._sent = 0
        self._dropped = 0
        self._failed = 0
        self._queued = 0
        # Whether the queue is full: adapters read it on every request, before building
        # anything (a plain attribute, kept in step with _queued under the lock).
        self.full = False
        self._filtered = 0
        # Accepted events settle in order, so "everything accepted before now is settled"
        # is `completed >= accepted-at-the-time`: what a flush waits for.
        self._accepted = 0
        self._completed = 0
        # When a partial batch is next due (time.monotonic()); set by the first next_batch.
        self._next_tick: float | None = None

    def _after_fork_in_child(self) -> None:
        # The parent's events are the parent's to send; a lock held by another thread at fork
        # time would never be released here.
        self._init_state()

    # -- request path -------------------------------------------------------------------

    def offer(self, event: Any) -> int:
        """Queue ``event`` (an event, or what ``prepare`` turns into one); answers DROPPED,
        QUEUED or BATCH_READY. Never blocks, never raises."""
        with self._lock:
            self._captured += 1
            queue = self._queue
            # The bound covers batches in flight too: never more than max_queue_size held.
            if self._queued < self.options.max_queue_size:
                queue.append(event)
                self._queued += 1
                self.full = self._queued >= self.options.max_queue_size
                self._accepted += 1
                return BATCH_READY if len(queue) == self.options.batch_size else QUEUED
            self._dropped += 1
            dropped = self._dropped
        self._log_drop(dropped)
        return DROPPED

    def reject(self) -> None:
        """Count one captured event dropped for lack of room, without building it."""
        with self._lock:
            self._captured += 1
            self._dropped += 1
            dropped = self._dropped
        self._log_drop(dropped)

    def _log_drop(self, dropped: int) -> None:
        if not self.log.allows(_QUEUE_FULL):  # a flood of drops: skip formatting the message
            return
        self.log.log(
            _QUEUE_FULL,
            logging.WARNING,
            "Driftlock queue full (max_queue_size=%d): %d events dropped so far",
            self.options.max_queue_size,
            dropped,
        )

    def note_filtered(self) -> None:
        """Count an event the ``event_hook`` dropped (it is not captured)."""
        with self._lock:
            self._filtered += 1

    # -- driver side ----------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Events held right now (``queued``)."""
        return self._queued

    @property
    def accepted(self) -> int:
        """Events ever accepted into the queue; a flush waits until :attr:`completed` reaches it."""
        return self._accepted

    @property
    def completed(self) -> int:
        """Accepted events settled so far (sent, failed, or dropped at close), in order."""
        return self._completed

    def take(self, *, partial: bool) -> Batch | None:
        """The next batch: a full one, or (``partial=True``) whatever is queued; else None.

        A backlog goes in batches of up to ``max_batch_size``. Its items go through
        ``prepare`` (outside the lock: that is the sender's work).
        """
        with self._lock:
            while self._resend:
                again = self._resend.popleft()
                if not again.settled:
                    return again
            queue = self._queue
            available = len(queue)
            size = self.options.batch_size
            if available == 0 or (available < size and not partial):
                return None
            popleft = queue.popleft
            limit = self.options.max_batch_size or size
            batch = Batch([popleft() for _ in range(min(available, limit))])
            self._in_flight.append(batch)
        if self._prepare is not None:
            try:
                batch.events = self._prepare(batch.events)
            except Exception as exc:  # a bug, not a delivery problem: count it, keep going
                self.give_up(batch, exc)
                return None
        return batch

    def next_batch(self, now: float, *, flushing: bool = False) -> Batch | float:
        """What a driver does next: send the returned batch, or wait at most the returned
        number of seconds (a full batch, a flush or :meth:`close <ThreadDelivery.close>` may
        wake it earlier).

        A full batch is due at once; a partial one once per ``flush_interval``, or at once
        while ``flushing``. ``now`` is ``time.monotonic()``.
        """
        interval = self.options.flush_interval
        next_tick = self._next_tick
        if next_tick is None:
            next_tick = self._next_tick = now + interval
        due = flushing or now >= next_tick
        batch = self.take(partial=due)
        if batch is not None:
            return batch
        if due:
            next_tick = self._next_tick = now + interval
        return max(0.0, next_tick - now)

    def after_attempt(
        self, batch: Batch, error: BaseException | None, *, retry: bool = True
    ) -> float | None:
        """Settle one send attempt of ``batch`` (``error`` is None when Driftlock accepted it):
        None when the batch is done (delivered or given up), else the seconds to wait before
        sending it again.

        ``retry=False`` (a last attempt at shutdown, or a send on the request path) allows only
        an immediate resend (invalid events reduced to plain JSON), never a backoff.
        """
        if error is None:
            self.delivered(batch)
            return None
        delay = self.attempt_failed(batch, error)
        if delay and not retry:
            self.give_up(batch, error)
            return None
        return delay

    def _settle(self, batch: Batch) -> int:
        """Mark ``batch`` settled; returns its size, or 0 when it already was. Lock held."""
        if batch.settled:
            return 0
        batch.settled = True
        self._in_flight.remove(batch)
        size = len(batch.events)
        self._queued -= size
        self.full = self._queued >= self.options.max_queue_size
        self._completed += size
        return size

    def delivered(self, batch: Batch) -> None:
        """Driftlock accepted ``batch``."""
        with self._lock:
            self._sent += self._settle(batch)

    def attempt_failed(self, batch: Batch, exc: BaseException) -> float | None:
        """Record a failed send: seconds to wait before retrying ``batch``, or None if given up.

        Given-up batches are counted as failed and logged (rate-limited, without secrets).
        """
        batch.attempts += 1
        options = self.options
        if isinstance(exc, DriftlockValidationError) and not batch.sanitised:
            # An odd value from a hook or a handler's context: send the events as plain JSON.
            safe = [e for e in map(json_safe, batch.events) if e is not None]
            with self._lock:
                lost = len(batch.events) - len(safe)
                if lost and not batch.settled:
                    self._failed += lost
                    self._queued -= lost
                    self.full = self._queued >= self.options.max_queue_size
                    self._completed += lost
                batch.events = safe
            batch.sanitised = True
            batch.key = str(uuid.uuid4())  # another body: another request
            if safe:
                return 0.0
        elif _transient(exc) and batch.attempts <= options.max_retries:
            backoff = min(
                options.max_retry_backoff, options.retry_backoff * 2 ** (batch.attempts - 1)
            )
            delay = _retry_after(exc)
            if delay is None:
                delay = backoff * (0.5 + random.random() / 2)
            return min(delay, options.max_retry_backoff)
        self.give_up(batch, exc)
        return None

    def give_up(self, batch: Batch, exc: BaseException) -> None:
        """Count ``batch`` as failed (no more attempts) and log it, rate-limited."""
        with self._lock:
            size = self._settle(batch)
            self._failed += size
            failed = self._failed
        if size:
            self.log.log(
                f"failed:{type(exc).__name__}",
                logging.WARNING,
                "Could not deliver %d events to Driftlock after %d attempt(s), "
                "%d undelivered so far",
                size,
                batch.attempts,
                failed,
                exc=exc,
            )

    def requeue(self, batch: Batch) -> None:
        """Have an unsettled ``batch`` sent again before anything else (its sender went away),
        as it is: with the same Idempotency-Key, so that Driftlock ingests it once even if the
        lost attempt reached it."""
        with self._lock:
            if not batch.settled and batch not in self._resend:
                self._resend.append(batch)

    def requeue_in_flight(self) -> None:
        """Requeue every batch in flight, oldest first: their sender died with its event loop."""
        for batch in list(self._in_flight):
            self.requeue(batch)

    def discard(self) -> int:
        """Drop everything held (queue and batches in flight), counted as dropped; returns it."""
        with self._lock:
            lost = self._queued
            for batch in list(self._in_flight):
                self._settle(batch)
            self._queue.clear()
            self._resend.clear()
            self._completed += self._queued
            self._queued = 0
            self.full = False
            self._dropped += lost
        if lost:
            self.log.log(
                "discard",
                logging.WARNING,
                "Driftlock delivery closed with %d events undelivered (flush_timeout=%ss)",
                lost,
                self.options.flush_timeout,
            )
        return lost

    def stats(self) -> DeliveryStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            return DeliveryStats(
                captured=self._captured,
                sent=self._sent,
                dropped=self._dropped,
                failed=self._failed,
                queued=self._queued,
                filtered=self._filtered,
            )


def _has_anomalies(result: Any) -> bool:
    """Whether a delivered batch's ``result`` calls for ``on_anomaly``."""
    return bool(getattr(result, "anomalies", None))


def _call_sync(log: LogLimiter, callback: AnomalyCallback, result: Any) -> None:
    """Run a sync ``on_anomaly``; what it raises is logged (rate-limited), never propagated."""
    try:
        callback(result)
    except Exception as exc:
        log.log("on_anomaly", logging.ERROR, "on_anomaly raised", exc=exc)


def queue_request(
    capture: Capture,
    state: DeliveryState,
    submit: Callable[[Any], None],
    record: Record,
    *,
    body: BodyCapture | None = None,
    content_type: str = "",
    request_headers: Iterable[tuple[str, str]] | None = None,
    response_headers: Iterable[tuple[str, str]] | None = None,
) -> None:
    """Hand a finished request to a driver's ``submit``: its record as is (the sender builds
    the event), or, when ``capture.eager``, its event with the opt-in parts, after the
    ``event_hook`` (an event the hook drops is counted as filtered).

    Adapters check :attr:`DeliveryState.full` first and :meth:`DeliveryState.reject` instead,
    so that an outage costs no work on the request path.
    """
    if not capture.eager:
        submit(record)
        return
    event = capture.finish(
        capture.build_event(
            record,
            body=body,
            content_type=content_type,
            request_headers=request_headers,
            response_headers=response_headers,
        )
    )
    if event is None:
        state.note_filtered()
    else:
        submit(event)


AsyncSink = Callable[[list[Event]], Awaitable[Any]]
"""Sends one batch in one request (usually ``client.detect`` bound to a stream); returns the
detect result and raises on failure."""


def _is_async_callable(func: object) -> bool:
    while hasattr(func, "func"):  # functools.partial
        func = func.func
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )


class AsyncDelivery:
    """The asyncio driver: one task in the serving event loop sends batches from the state.

    :meth:`submit` is what the request path calls: it queues and returns, starting the task on
    first use in the running loop (so it lives in the serving process, after any fork, and in
    the loop that will use the client). Once per ``flush_interval`` the task sends what is
    queued; a full batch wakes it at once.

    ``sink_factory()`` is called in the loop where the sender starts and returns the send
    function for that loop. ``on_anomaly(result)`` runs for delivered batches with anomalies
    (sync callbacks in a worker thread). When the loop shuts down without :meth:`aclose`
    (a server without lifespan), the sender makes one bounded last delivery attempt and then
    awaits ``on_loop_end()`` to release what is bound to the loop.
    """

    def __init__(
        self,
        state: DeliveryState,
        sink_factory: Callable[[], AsyncSink],
        *,
        on_anomaly: AnomalyCallback | None = None,
        on_loop_end: Callable[[], Awaitable[None]] | None = None,
        name: str = "driftlock-delivery",
    ) -> None:
        if on_anomaly is not None and not callable(on_anomaly):
            raise InvalidOptionError("on_anomaly", "on_anomaly must be callable or None")
        self.state = state
        self._sink_factory = sink_factory
        self._on_anomaly = on_anomaly
        self._on_anomaly_async = on_anomaly is not None and _is_async_callable(on_anomaly)
        self._on_loop_end = on_loop_end
        self._name = name
        self._start_lock = threading.Lock()
        self._reset()
        _after_fork_reset.add(self)

    def _reset(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._flushing = 0
        self._closing = False
        self._callbacks: set[asyncio.Future[Any]] = set()

    def _after_fork_in_child(self) -> None:
        self._start_lock = threading.Lock()
        self._reset()

    # -- request path -------------------------------------------------------------------

    def reject(self) -> None:
        """Count an event dropped for lack of room (:meth:`DeliveryState.reject`); call it from
        a running event loop. As :meth:`submit` does, it starts a sender in this loop if the
        previous one's loop is gone: that sender's queue would otherwise stay full for good."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._adopt(loop)
        self.state.reject()

    def submit(self, event: Any) -> None:
        """Queue ``event`` for delivery; call it from a running event loop. Never blocks."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._adopt(loop)
        if self.state.offer(event) == BATCH_READY:
            self._wake_sender(loop)

    def _wake_sender(self, loop: asyncio.AbstractEventLoop) -> None:
        owner = self._loop
        if owner is loop or owner is None:
            self._wake.set()
        else:  # the sender lives in another thread's loop
            with contextlib.suppress(RuntimeError):  # that loop just closed
                owner.call_soon_threadsafe(self._wake.set)

    def _adopt(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the sender in ``loop`` unless a live one runs in another loop."""
        with self._start_lock:
            owner, task = self._loop, self._task
            if owner is loop:
                return
            if owner is not None and not owner.is_closed() and task is not None and not task.done():
                return
            sink = self._sink_factory()
            if task is not None and not task.done():
                with contextlib.suppress(RuntimeError):  # its loop is closed
                    task.cancel()
            # No sender is alive any more: batches it had in flight go back to the queue.
            self.state.requeue_in_flight()
            # Events and Futures bind to the loop that first waits on them: make new ones.
            self._wake = asyncio.Event()
            self._progress = asyncio.Event()
            self._callbacks = set()
            self._closing = False
            self._loop = loop
            self._task = loop.create_task(self._run(sink), name=self._name)

    # -- the sender ---------------------------------------------------------------------

    async def _run(self, sink: AsyncSink) -> None:
        state = self.state
        # Sends in progress, oldest first; each settles only after the one before it.
        sending: deque[asyncio.Task[None]] = deque()
        try:
            while True:
                while sending and sending[0].done():
                    sending.popleft()
                wait: float | None = None
                if len(sending) < _MAX_IN_FLIGHT:
                    batch = state.next_batch(time.monotonic(), flushing=self._flushing > 0)
                    if isinstance(batch, Batch):
                        after = sending[-1] if sending else None
                        sending.append(asyncio.create_task(self._send(batch, sink, after)))
                        continue
                    wait = batch
                # A full batch, a flush, or a send that ends (freeing room) wakes us.
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
        except asyncio.CancelledError:
            for task in sending:
                task.cancel()
            await asyncio.gather(*sending, return_exceptions=True)
            # Whatever was being sent goes back to the queue, in order.
            state.requeue_in_flight()
            if not self._closing:
                # The loop is shutting down without a lifespan shutdown (e.g. --lifespan off):
                # one bounded, retry-free attempt to deliver what is held, then clean up.
                if state.pending:
                    await self._last_chance(sink)
                if self._on_loop_end is not None:
                    with contextlib.suppress(Exception):
                        await self._on_loop_end()
            raise

    async def _send(self, batch: Batch, sink: AsyncSink, after: asyncio.Task[None] | None) -> None:
        """Deliver ``batch``; its first attempt is settled only once ``after`` (the send of the
        batch before it) is done, so that batches settle in the order they were queued."""
        try:
            await self._deliver(batch, sink, after=after)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not stop delivery for good
            self.state.give_up(batch, exc)
        self._progress.set()
        self._wake.set()

    async def _deliver(
        self,
        batch: Batch,
        sink: AsyncSink,
        *,
        retry: bool = True,
        after: asyncio.Future[Any] | None = None,
    ) -> None:
        state = self.state
        while True:
            result: Any = None
            error: Exception | None = None
            try:
                with same_idempotency_key(batch.key):
                    result = await sink(batch.events)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = exc
            if after is not None:
                await asyncio.wait((after,))
                after = None
            delay = state.after_attempt(batch, error, retry=retry)
            if delay is None:
                callback = self._on_anomaly
                if error is None and callback is not None and _has_anomalies(result):
                    try:
                        self._dispatch(callback, result)
                    except Exception as exc:
                        state.log.log("on_anomaly", logging.ERROR, "on_anomaly not run", exc=exc)
                return
            if delay:
                await asyncio.sleep(delay)

    async def _last_chance(self, sink: AsyncSink) -> None:
        state = self.state
        with contextlib.suppress(Exception):  # TimeoutError included
            async with asyncio.timeout(state.options.flush_timeout):
                while (batch := state.take(partial=True)) is not None:
                    await self._deliver(batch, sink, retry=False)
        state.discard()

    def _dispatch(self, callback: AnomalyCallback, result: Any) -> None:
        """Run ``on_anomaly(result)`` off the sender's path."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any]
        if self._on_anomaly_async:
            future = loop.create_task(self._call_async(callback, result))
        else:
            # A sync callback may block (an HTTP call to a pager): keep it off the event loop.
            future = loop.run_in_executor(None, _call_sync, self.state.log, callback, result)
        self._callbacks.add(future)
        future.add_done_callback(self._callbacks.discard)

    async def _call_async(self, callback: AnomalyCallback, result: Any) -> None:
        try:
            await callback(result)
        except Exception as exc:
            self.state.log.log("on_anomaly", logging.ERROR, "on_anomaly raised", exc=exc)

    # -- flush and close ------------------------------------------------------------------

    def stats(self) -> DeliveryStats:
        """A consistent snapshot of the counters (callable from any thread)."""
        return self.state.stats()

    async def flush(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 - returns False, never raises
        """Deliver everything queued before this call; False if ``timeout`` ran out first.

        Waits for retries too, and for ``on_anomaly`` callbacks. ``timeout`` defaults to
        ``flush_timeout``. Callable from any event loop.
        """
        if timeout is None:
            timeout = self.state.options.flush_timeout
        loop = asyncio.get_running_loop()
        owner = self._loop
        if owner is not None and owner is not loop and not owner.is_closed():
            return await _in_loop(owner, self._flush_here(timeout), timeout)
        return await self._flush_here(timeout)

    async def _flush_here(self, limit: float) -> bool:
        state = self.state
        target = state.accepted
        loop = asyncio.get_running_loop()
        task = self._task
        # Events are held, and the sender died, or its loop closed without stopping it (flush
        # runs here only when that loop is gone): take them over.
        if state.completed < target and (self._loop is not loop or task is None or task.done()):
            self._loop = None
            self._adopt(loop)
        self._flushing += 1
        self._wake.set()
        try:
            async with asyncio.timeout(limit):
                while state.completed < target:
                    self._progress.clear()
                    await self._progress.wait()
                if self._callbacks:
                    await asyncio.wait(set(self._callbacks))
            return True
        except TimeoutError:
            return False
        finally:
            self._flushing -= 1

    async def aclose(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 - as flush
        """Flush within ``timeout`` (default ``flush_timeout``), then stop the sender.

        What could not be delivered in time is counted as dropped and logged. Returns whether
        everything was delivered. A later :meth:`submit` starts a new sender.
        """
        loop = asyncio.get_running_loop()
        owner = self._loop
        if owner is not None and owner is not loop and not owner.is_closed():
            limit = self.state.options.flush_timeout if timeout is None else timeout
            return await _in_loop(owner, self._close_here(timeout), limit)
        return await self._close_here(timeout)

    async def _close_here(self, limit: float | None) -> bool:
        delivered = await self._flush_here(
            self.state.options.flush_timeout if limit is None else limit
        )
        task = self._task
        self._closing = True
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.state.discard()
        for future in list(self._callbacks):
            future.cancel()
        self._loop = None
        self._task = None
        return delivered


async def _in_loop(
    loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, bool], limit: float
) -> bool:
    """Run ``work`` in ``loop`` (another thread's) and wait for it; False if that takes much
    longer than ``limit`` (a loop that stopped running never gets to it)."""
    future = asyncio.run_coroutine_threadsafe(work, loop)
    try:
        async with asyncio.timeout(limit + 1.0):
            return await asyncio.wrap_future(future)
    except TimeoutError:
        future.cancel()
        return False


SyncSink = Callable[[list[Event]], Any]
"""Sends one batch in one request from a plain thread (usually ``DriftlockSyncClient.detect``
bound to a stream); returns the detect result and raises on failure."""


class ThreadDelivery:
    """The thread driver: one daemon thread per process sends batches from the state.

    For WSGI servers and Django, whose request threads have no event loop to lend.
    :meth:`submit` is what the request path calls: it queues and returns, starting the thread
    on first use (so it lives in the serving process: a forked child starts a thread and a
    queue of its own, and the parent's events stay the parent's). Once per ``flush_interval``
    the thread sends what is queued; a full batch wakes it at once. Deliveries still open when
    the interpreter exits normally are closed then (flushed within ``flush_timeout``).

    With ``background=False`` there is no thread: :meth:`submit` sends on the calling thread,
    one attempt, before it returns (Django's ``ASYNC_MODE=False``).

    ``sink_factory()`` makes the send function when it is first needed after a start (so a
    forked child makes its own, with connections of its own). ``on_anomaly(result)`` runs on
    the sending thread for delivered batches with anomalies (an async callback in an event
    loop of its own).
    """

    def __init__(
        self,
        state: DeliveryState,
        sink_factory: Callable[[], SyncSink],
        *,
        on_anomaly: AnomalyCallback | None = None,
        background: bool = True,
        name: str = "driftlock-delivery",
    ) -> None:
        if on_anomaly is not None and not callable(on_anomaly):
            raise InvalidOptionError("on_anomaly", "on_anomaly must be callable or None")
        self.state = state
        self.background = background
        self._sink_factory = sink_factory
        self._on_anomaly = on_anomaly
        self._on_anomaly_async = on_anomaly is not None and _is_async_callable(on_anomaly)
        self._name = name
        self._reset()
        _after_fork_reset.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()  # guards starting and stopping the thread, and the sink
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._progress = threading.Condition()  # notified whenever a batch settles
        self._flushing = 0
        self._sink: SyncSink | None = None

    def _after_fork_in_child(self) -> None:
        # The parent's thread does not exist here, and a lock it held would never be released.
        self._reset()

    # -- request path -------------------------------------------------------------------

    def submit(self, event: Any) -> None:
        """Queue ``event`` for delivery (without a background thread: send it now, once).

        In background mode it never blocks beyond a short lock, and never raises for a
        delivery problem.
        """
        if not self.background:
            self.state.offer(event)
            self._drain()
            return
        if self._thread is None:
            self._start()
        if self.state.offer(event) == BATCH_READY:
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            # Each thread has its own stop signal: a stopped one may still be finishing a send.
            stop = self._stop = threading.Event()
            thread = threading.Thread(target=self._run, args=(stop,), name=self._name, daemon=True)
            thread.start()
            self._thread = thread
        _open_deliveries.add(self)

    def _drain(self) -> None:
        """Send what is queued on the calling thread: one attempt per batch, no backoff."""
        while (batch := self.state.take(partial=True)) is not None:
            self._send(batch, self._stop, retry=False)

    # -- the sender ---------------------------------------------------------------------

    def _run(self, stop: threading.Event) -> None:
        state = self.state
        while not stop.is_set():
            # Cleared before looking at the queue: a batch that fills up after this wakes us.
            self._wake.clear()
            batch = state.next_batch(time.monotonic(), flushing=self._flushing > 0)
            if isinstance(batch, Batch):
                self._send(batch, stop, retry=True)
            else:
                self._wake.wait(batch)

    def _send(self, batch: Batch, stop: threading.Event, *, retry: bool) -> None:
        """Send ``batch`` until it is settled, or until ``stop`` (then :meth:`close` counts it)."""
        state = self.state
        try:
            sink = self._get_sink()
            while True:
                result: Any = None
                error: Exception | None = None
                try:
                    with same_idempotency_key(batch.key):
                        result = sink(batch.events)
                except Exception as exc:
                    error = exc
                delay = state.after_attempt(batch, error, retry=retry)
                if delay is None:
                    callback = self._on_anomaly
                    if error is None and callback is not None and _has_anomalies(result):
                        self._dispatch(callback, result)
                    break
                if delay and stop.wait(delay):
                    break
        except Exception as exc:  # a bug, or no client: it must not stop delivery for good
            state.give_up(batch, exc)
        with self._progress:
            self._progress.notify_all()

    def _get_sink(self) -> SyncSink:
        sink = self._sink
        if sink is None:
            with self._lock:
                sink = self._sink
                if sink is None:
                    sink = self._sink = self._sink_factory()
        return sink

    def _dispatch(self, callback: AnomalyCallback, result: Any) -> None:
        """Run ``on_anomaly(result)`` on this thread (an async one in a loop of its own)."""
        if self._on_anomaly_async:
            _call_sync(self.state.log, lambda r: asyncio.run(callback(r)), result)
        else:
            _call_sync(self.state.log, callback, result)

    # -- flush and close ------------------------------------------------------------------

    def stats(self) -> DeliveryStats:
        """A consistent snapshot of the counters (callable from any thread)."""
        return self.state.stats()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued before this call is settled; False if ``timeout``
        (default ``flush_timeout``) ran out first. Waits for retries and ``on_anomaly`` too.
        Callable from any thread but the sender's."""
        state = self.state
        limit = state.options.flush_timeout if timeout is None else timeout
        target = state.accepted
        with self._progress:
            self._flushing += 1
        self._wake.set()
        try:
            with self._progress:
                return self._progress.wait_for(lambda: state.completed >= target, limit)
        finally:
            with self._progress:
                self._flushing -= 1

    def close(self, timeout: float | None = None) -> bool:
        """Flush within ``timeout`` (default ``flush_timeout``), then stop the thread.

        What could not be delivered in time is counted as dropped and logged. Returns whether
        everything was delivered. The thread is not waited for: a send still in progress ends
        on its own, its batch already counted. A later :meth:`submit` starts a new thread.
        """
        delivered = self.flush(timeout)
        with self._lock:
            self._stop.set()
            self._thread = None
            self._sink = None
        self._wake.set()
        _open_deliveries.discard(self)
        self.state.discard()
        return delivered


_open_deliveries: weakref.WeakSet[ThreadDelivery] = weakref.WeakSet()


def _close_at_exit() -> None:
    """Close the thread deliveries still open when the interpreter exits normally (atexit runs
    while their daemon threads still live)."""
    for delivery in list(_open_deliveries):
        try:
            delivery.close()
        except Exception as exc:
            delivery.state.log.log(
                "atexit", logging.ERROR, "Driftlock flush at exit failed", exc=exc
            )


atexit.register(_close_at_exit)


class _ForkResettable(Protocol):
    def _after_fork_in_child(self) -> None: ...


_after_fork_reset: weakref.WeakSet[_ForkResettable] = weakref.WeakSet()


def reset_in_forked_children(item: _ForkResettable) -> None:
    """Have ``item._after_fork_in_child()`` called in every child process forked from now on,
    for as long as ``item`` lives (what the state and the drivers here do for themselves)."""
    _after_fork_reset.add(item)


def _reset_after_fork() -> None:
    for item in list(_after_fork_reset):
        item._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
