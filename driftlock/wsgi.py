"""Any WSGI app: ``DriftlockWSGIMiddleware``, and the :class:`RequestMonitor` that the Flask and
Django integrations share with it.

Every HTTP request becomes an ``http_request`` event, shipped by one background thread per
process; no request ever waits on Driftlock. What is captured is decided by
:mod:`driftlock._capture` and delivery is done by :mod:`driftlock._batch`, as for the FastAPI
middleware: the adapters here only read WSGI environs and responses.

Frameworks add what only they know through three environ keys, read when the request ends:
``driftlock.route`` (the matched route template), ``driftlock.context`` (a dict of fields to add
to the event) and ``driftlock.exception`` (the name of an exception the framework turned into a
response itself). Any WSGI framework can set them; an adapter may also override
:meth:`DriftlockWSGIMiddleware.describe` to find them its own way (the Flask extension does).
"""

from __future__ import annotations

import difflib
import inspect
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from driftlock._batch import (
    AnomalyCallback,
    DeliveryOptions,
    DeliveryState,
    DeliveryStats,
    SyncSink,
    ThreadDelivery,
    queue_request,
    reset_in_forked_children,
)
from driftlock._capture import (
    DEFAULT_MAX_BODY_BYTES,
    BodyCapture,
    Capture,
    CaptureOptions,
    Event,
    EventHook,
    InvalidOptionError,
    LogLimiter,
)
from driftlock._client import DriftlockSyncClient

__all__ = [
    "CONTEXT_KEY",
    "EXCEPTION_KEY",
    "OPTION_NAMES",
    "ROUTE_KEY",
    "DriftlockWSGIMiddleware",
    "RequestMonitor",
    "check_option_names",
]

ROUTE_KEY = "driftlock.route"
CONTEXT_KEY = "driftlock.context"
EXCEPTION_KEY = "driftlock.exception"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

logger = logging.getLogger("driftlock")
_perf = time.perf_counter
_wall = time.time


class RequestMonitor:
    """What one app's middleware holds: the capture rules, the delivery queue and its thread,
    and the :class:`~driftlock.DriftlockSyncClient` events are sent with.

    The options are those of :class:`DriftlockWSGIMiddleware`, plus ``background``: False sends
    each request's event on the request's own thread, once, before the request ends (Django's
    ``ASYNC_MODE=False``). An invalid option raises
    :class:`~driftlock._capture.InvalidOptionError` naming it; a missing API key a
    :class:`~driftlock.exceptions.DriftlockConfigError`.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        stream_id: str | None = None,
        exclude_paths: Sequence[str] = (),
        base_url: str | None = None,
        client: DriftlockSyncClient | None = None,
        sample_rate: float = 1.0,
        batch_size: int = 100,
        max_batch_size: int | None = None,
        flush_interval: float = 1.0,
        max_queue_size: int = 10_000,
        flush_timeout: float = 5.0,
        capture_body: bool = False,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        redact_fields: Sequence[str] = (),
        capture_headers: bool | Sequence[str] = False,
        capture_client: bool = False,
        event_hook: EventHook | None = None,
        on_anomaly: AnomalyCallback | None = None,
        max_retries: int = 3,
        enabled: bool = True,
        background: bool = True,
    ) -> None:
        for name, flag in (("enabled", enabled), ("background", background)):
            if not isinstance(flag, bool):
                raise InvalidOptionError(name, f"{name} must be True or False")
        if client is not None:
            if not isinstance(client, DriftlockSyncClient):
                raise InvalidOptionError(
                    "client", f"client must be a DriftlockSyncClient, got {type(client).__name__}"
                )
            if api_key is not None or base_url is not None:
                raise InvalidOptionError(
                    "client", "pass either client or api_key/base_url, not both"
                )
        self.enabled = enabled
        # Never log the key, whichever way it was given.
        self._log = LogLimiter(secrets=[api_key or os.environ.get("DRIFTLOCK_API_KEY", "")])
        self.capture = Capture(
            CaptureOptions(
                stream_id=stream_id,
                exclude_paths=exclude_paths,
                sample_rate=sample_rate,
                capture_body=capture_body,
                max_body_bytes=max_body_bytes,
                redact_fields=redact_fields,
                capture_headers=capture_headers,
                capture_client=capture_client,
                event_hook=event_hook,
            ),
            log=self._log,
        )
        state = DeliveryState(
            DeliveryOptions(
                batch_size=batch_size,
                max_batch_size=max_batch_size,
                flush_interval=flush_interval,
                max_queue_size=max_queue_size,
                flush_timeout=flush_timeout,
                max_retries=max_retries,
            ),
            log=self._log,
            prepare=self.capture.prepare,
        )
        self.delivery = ThreadDelivery(
            state, self._make_sink, on_anomaly=on_anomaly, background=background
        )
        # Read on every request: plain attributes, not properties.
        self.eager = self.capture.eager
        self.keeps_headers = self.capture.captures_headers
        self._api_key = api_key
        self._base_url = base_url
        self._owns_client = client is None
        self._client_lock = threading.Lock()
        # Built now, so that a missing key or a bad URL fails at startup, not at first send.
        self._client = client if client is not None else self._build_client()
        # Closed, or inherited by a forked child (not ours to use or close): build another.
        self._client_stale = False
        reset_in_forked_children(self)

    def _after_fork_in_child(self) -> None:
        # The parent's connections are not the child's to use, and a lock one of its threads
        # held at fork time would never be released here.
        self._client_lock = threading.Lock()
        self._client_stale = self._owns_client

    def __repr__(self) -> str:
        return f"RequestMonitor(stream_id={self.capture.stream_id!r}, enabled={self.enabled})"

    # -- the client -------------------------------------------------------------------------

    def _build_client(self) -> DriftlockSyncClient:
        return DriftlockSyncClient(api_key=self._api_key, base_url=self._base_url)

    @property
    def client(self) -> DriftlockSyncClient:
        """The client events are sent with, also the one views get (``get_client()``).

        A client the monitor built is rebuilt in a forked child (the parent's connections are
        not the child's to use) and after :meth:`close`.
        """
        if self._client_stale:
            with self._client_lock:
                if self._client_stale:
                    self._client = self._build_client()
                    self._client_stale = False
        return self._client

    def _make_sink(self) -> SyncSink:
        """The sender's send function (made on its thread, in the process that sends)."""
        # Retries are the sender's own (they must respect flush deadlines), not the client's.
        detect = self.client.with_options(max_retries=0).detect
        stream_id = self.capture.stream_id

        def send(events: list[Event]) -> Any:
            return detect(stream_id=stream_id, events=events)

        return send

    # -- the request path -------------------------------------------------------------------

    def queue(
        self,
        record: tuple[Any, ...],
        *,
        body: BodyCapture | None = None,
        content_type: str = "",
        request_headers: Iterable[tuple[str, str]] | None = None,
        response_headers: Iterable[tuple[str, str]] | None = None,
    ) -> None:
        """Hand a finished request's record to delivery (see
        :func:`driftlock._batch.queue_request`); adapters that check :attr:`eager` first
        may :meth:`ThreadDelivery.submit <driftlock._batch.ThreadDelivery.submit>` a record
        themselves."""
        queue_request(
            self.capture,
            self.delivery.state,
            self.delivery.submit,
            record,
            body=body,
            content_type=content_type,
            request_headers=request_headers,
            response_headers=response_headers,
        )

    def log_failure(self, exc: BaseException) -> None:
        """Log (rate-limited) that a request could not be captured; the app goes on."""
        self._log.log("capture", logging.ERROR, "Driftlock could not capture a request", exc=exc)

    # -- counters, flush, close --------------------------------------------------------------

    def stats(self) -> DeliveryStats:
        """Counters: captured, sent, dropped, failed, queued (and filtered by ``event_hook``).

        ``captured == sent + dropped + failed + queued`` holds for every snapshot.
        """
        return self.delivery.stats()

    def flush(self, timeout: float | None = None) -> bool:
        """Deliver everything captured so far; False if ``timeout`` (default
        ``flush_timeout``) ran out first."""
        return self.delivery.flush(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Flush within ``timeout``, stop the sender thread and close the client if the
        monitor built it. Interpreter exit does the flush by itself."""
        delivered = self.delivery.close(timeout)
        if self._owns_client and not self._client_stale:
            self._client_stale = True
            try:
                self._client.close()
            except Exception as exc:
                self._log.log(
                    "client_close", logging.WARNING, "Closing the Driftlock client", exc=exc
                )
        return delivered


OPTION_NAMES = frozenset(inspect.signature(RequestMonitor).parameters) - {"background"}
"""The options every integration accepts (``DriftlockWSGIMiddleware``'s keyword arguments)."""


def check_option_names(
    names: Iterable[str], where: Callable[[str], str], known: frozenset[str]
) -> None:
    """Raise :class:`InvalidOptionError` for the first of ``names`` not in ``known``, with a
    suggestion; ``where(name)`` says how the user spelled it (``DRIFTLOCK['...']``, ...)."""
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {where(close[0])}?" if close else ""
            raise InvalidOptionError(name, f"{where(name)} is not a Driftlock option{hint}")


class DriftlockWSGIMiddleware:
    """Capture every HTTP request of a WSGI app as a Driftlock event, delivered in the background.

    ``app.wsgi_app = DriftlockWSGIMiddleware(app.wsgi_app, api_key=..., stream_id=...)``. The
    options and the event are those of :class:`driftlock.fastapi.DriftlockMiddleware`
    (``api_key``, ``base_url``, ``stream_id``, ``exclude_paths``, ``sample_rate``, batching,
    body, header and client capture, ``event_hook``, ``on_anomaly``, ``enabled``), except that
    ``client`` is a :class:`~driftlock.DriftlockSyncClient` (used as it is, also in forked
    workers: under ``gunicorn --preload``, let the middleware build its own, which it rebuilds
    in each worker).

    One daemon thread per process delivers, started by the first captured request (so a server that
    forks workers gets one per worker, each with its own queue). The queue holds at most
    ``max_queue_size`` events; beyond that requests are counted as dropped, never delayed, and a
    request that arrives while the queue is full reaches the app untouched (an outage of Driftlock
    costs the app next to nothing). What is queued is flushed at interpreter exit and by
    :meth:`close`, within ``flush_timeout``. A streamed response is timed until the server closes
    it, that is until it was fully sent. Exceptions of the app pass through unchanged (recorded as a
    500); the middleware itself never raises into the app.
    """

    def __init__(self, app: WSGIApp, **options: Any) -> None:
        check_option_names(options, lambda name: f"{name}=", OPTION_NAMES)
        self.app = app
        self.monitor = RequestMonitor(**options)
        # None (the usual case) spares every request a call.
        self._wants = self.monitor.capture.path_filter if self.monitor.enabled else _none_wanted
        self._state = self.monitor.delivery.state

    _exchange_class: type[_Exchange]  # what follows each request: set below _Exchange

    def __repr__(self) -> str:
        return (
            f"DriftlockWSGIMiddleware({self.app!r}, stream_id={self.monitor.capture.stream_id!r})"
        )

    @property
    def client(self) -> DriftlockSyncClient:
        """The :class:`~driftlock.DriftlockSyncClient` events are sent with."""
        return self.monitor.client

    def stats(self) -> DeliveryStats:
        """Delivery counters; see :meth:`RequestMonitor.stats`."""
        return self.monitor.stats()

    def flush(self, timeout: float | None = None) -> bool:
        """Deliver everything captured so far; False if ``timeout`` ran out first."""
        return self.monitor.flush(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Flush, stop the sender thread, close the client it built; see
        :meth:`RequestMonitor.close`."""
        return self.monitor.close(timeout)

    @staticmethod
    def describe(environ: Mapping[str, Any]) -> tuple[str | None, Any, str | None]:
        """What the framework knows about a finished request: its route template, the fields
        its handler added, and the name of an exception it turned into a response itself.

        Read from the environ keys ``driftlock.route``, ``driftlock.context`` and
        ``driftlock.exception``; a framework's adapter may find them its own way.
        """
        return environ.get(ROUTE_KEY), environ.get(CONTEXT_KEY), environ.get(EXCEPTION_KEY)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request, observing its response."""
        path = environ.get("PATH_INFO") or "/"
        if not path.isascii():
            path = _decoded_path(path)
        wants = self._wants
        if wants is not None and not wants(path):
            return self.app(environ, start_response)
        state = self._state
        if state.full:  # an outage: its event would be dropped, so don't observe the request
            state.reject()
            return self.app(environ, start_response)
        exchange = self._exchange_class(self, environ, start_response, path)
        try:
            exchange.iterable = self.app(environ, exchange.start_response)
        except Exception as error:
            exchange.finish(error)
            raise
        return exchange


def _none_wanted(path: str) -> bool:
    """The ``wants`` of a disabled middleware: no request is captured."""
    return False


def _decoded_path(path: str) -> str:
    """PATH_INFO as text: WSGI hands it over as the URL's bytes decoded as latin-1."""
    try:
        return path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return path


class _Input:
    """``wsgi.input`` as the app reads it: bytes counted, and copied to a body capture."""

    __slots__ = ("_body", "_stream", "count")

    def __init__(self, stream: Any, body: BodyCapture | None) -> None:
        self._stream = stream
        self._body = body
        self.count = 0

    def _seen(self, data: bytes) -> bytes:
        self.count += len(data)
        if self._body is not None:
            self._body.feed(data)
        return data

    def read(self, *args: Any) -> bytes:
        """Read as the server's stream does (same arguments)."""
        return self._seen(self._stream.read(*args))

    def readline(self, *args: Any) -> bytes:
        """Read a line as the server's stream does."""
        return self._seen(self._stream.readline(*args))

    def readlines(self, *args: Any) -> list[bytes]:
        """Read lines as the server's stream does."""
        return [self._seen(line) for line in self._stream.readlines(*args)]

    def __iter__(self) -> Iterator[bytes]:
        for line in self._stream:
            yield self._seen(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _Exchange:
    """One request in flight: the app's ``start_response`` and its response iterable, which
    the server receives in place of the app's and closes when the response was sent."""

    # Defaults on the class: a request sets only what it changes. Cheaper than __slots__, all
    # of which would have to be filled on every request.
    status = ""  # the status line; its code is parsed when the request ends
    head_at = 0.0
    response_bytes = 0
    response_headers: list[tuple[str, str]] | None = None
    error: BaseException | None = None
    done = False
    iterable: Iterable[bytes] = ()
    body: BodyCapture | None = None
    input: _Input | None = None
    _server_write: Callable[[bytes], object]  # set by start_response

    def __init__(
        self,
        owner: DriftlockWSGIMiddleware,
        environ: dict[str, Any],
        start_response: StartResponse,
        path: str,
    ) -> None:
        self.owner = owner
        self.environ = environ
        self.path = path
        self._server_start_response = start_response
        capture = owner.monitor.capture
        if capture.capture_body:
            self.body = BodyCapture(capture.max_body_bytes)
        # Reading through a wrapper costs a little: only to copy the body, or to count a
        # chunked one (any other body's size is its Content-Length).
        chunked = environ.get("HTTP_TRANSFER_ENCODING")
        if self.body is not None or (chunked and chunked.lower() == "chunked"):
            self.input = environ["wsgi.input"] = _Input(environ.get("wsgi.input"), self.body)
        self.wall = _wall()
        self.start = _perf()

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
    ) -> Callable[[bytes], object]:
        """The app's ``start_response``: notes the status, then calls the server's."""
        self.head_at = _perf()
        self.status = status
        self.response_headers = headers
        if exc_info is None:
            self._server_write = self._server_start_response(status, headers)
        else:
            self._server_write = self._server_start_response(status, headers, exc_info)
        return self._write

    def _write(self, data: bytes) -> object:
        """The legacy ``write()`` callable, counted."""
        self.response_bytes += len(data)
        return self._server_write(data)

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self.iterable:
                self.response_bytes += len(chunk)
                yield chunk
        except Exception as error:
            self.error = error
            raise

    def close(self) -> None:
        """Called by the server once the response was sent (or abandoned): the request ends."""
        try:
            close = getattr(self.iterable, "close", None)
            if close is not None:
                close()
        except Exception as error:
            self.error = self.error or error
            raise
        finally:
            self.finish(self.error)

    def finish(self, error: BaseException | None) -> None:
        """Queue the request's record (or event), once; never raises (the app comes first)."""
        if self.done:
            return
        self.done = True
        owner = self.owner
        monitor = owner.monitor
        try:
            state = owner._state
            if state.full:  # an outage: don't build what would be dropped anyway
                state.reject()
                return
            capture = monitor.capture
            environ = self.environ
            route, context, exception = owner.describe(environ)
            try:
                status = int(self.status[:3])
            except ValueError:  # no status: the app never started its response (or the
                status = 0  # server refuses a malformed one)
            if error is not None:
                exception = type(error).__name__
                status = status or 500
            length = environ.get("CONTENT_LENGTH")
            if length and length.isdigit():
                request_bytes = int(length)
            else:
                request_bytes = self.input.count if self.input is not None else 0
            record = capture.record(
                self.wall,
                environ.get("REQUEST_METHOD", "GET"),
                route,
                self.path,
                status,
                _perf() - self.start,
                self.head_at - self.start if self.head_at else None,
                request_bytes,
                self.response_bytes,
                environ.get("HTTP_USER_AGENT"),
                environ.get("QUERY_STRING", ""),
                environ.get("REMOTE_ADDR") if capture.capture_client else None,
                context,
                exception,
            )
            if not monitor.eager:
                monitor.delivery.submit(record)  # built later, by the sender, if it is sent
                return
            headers = monitor.keeps_headers
            monitor.queue(
                record,
                body=self.body,
                content_type=environ.get("CONTENT_TYPE", ""),
                request_headers=_environ_headers(environ) if headers else None,
                response_headers=(self.response_headers or ()) if headers else None,
            )
        except Exception as exc:
            monitor.log_failure(exc)


DriftlockWSGIMiddleware._exchange_class = _Exchange


def _environ_headers(environ: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """The request headers of a WSGI environ, as (lower-case name, value)."""
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            yield key[5:].replace("_", "-").lower(), value
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            yield key.replace("_", "-").lower(), value
