"""Django: ``DriftlockMiddleware``, configured by the ``DRIFTLOCK`` settings dict.

Add ``"driftlock.django.DriftlockMiddleware"`` to ``MIDDLEWARE`` and every request becomes an
event. The middleware serves both stacks natively (WSGI and ASGI: no thread hop per request on
either); what is captured is decided by :mod:`driftlock._capture` and delivery is done by
:mod:`driftlock._batch`, through the same :class:`~driftlock.wsgi.RequestMonitor` as the WSGI
middleware.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

try:
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction
    from django.conf import settings  # type: ignore[import-untyped]
    from django.core.exceptions import MiddlewareNotUsed  # type: ignore[import-untyped]
    from django.utils.functional import LazyObject  # type: ignore[import-untyped]
    from django.utils.module_loading import import_string  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without django
    raise ImportError(
        "driftlock.django needs Django; install it with: pip install 'driftlock[django]'"
    ) from exc

from driftlock._batch import DeliveryStats
from driftlock._capture import BodyCapture, InvalidOptionError
from driftlock._client import DriftlockSyncClient
from driftlock.wsgi import OPTION_NAMES, RequestMonitor, check_option_names

__all__ = ["SETTING", "DriftlockMiddleware", "close", "flush", "get_client", "stats"]

SETTING = "DRIFTLOCK"
"""The name of the settings dict: ``settings.DRIFTLOCK = {"API_KEY": ..., ...}``."""

_DJANGO_ONLY = frozenset({"async_mode", "capture_user"})
# Settings that may name an object by its dotted path, as Django settings usually do.
_IMPORTABLE = frozenset({"client", "event_hook", "on_anomaly"})
_EXCEPTION_ATTR = "_driftlock_exception"

_perf = time.perf_counter
_wall = time.time


class _Configured:
    """The monitor for one ``DRIFTLOCK`` settings value, and the Django-only settings."""

    __slots__ = ("capture_user", "monitor", "source")

    def __init__(self, source: object, monitor: RequestMonitor, capture_user: bool) -> None:
        self.source = source
        self.monitor = monitor
        self.capture_user = capture_user


_NO_SETTINGS: Mapping[str, Any] = {}
_configured: dict[int, _Configured] = {}
_configured_lock = threading.Lock()


def _current() -> _Configured:
    """The monitor of the current ``settings.DRIFTLOCK``: one per process and settings value,
    however many handlers Django builds (a test client builds one per client)."""
    source = getattr(settings, SETTING, _NO_SETTINGS)
    entry = _configured.get(id(source))
    if entry is not None and entry.source is source:
        return entry
    with _configured_lock:
        entry = _configured.get(id(source))
        if entry is None or entry.source is not source:
            # The entry keeps `source` alive, so its id cannot be reused by another dict.
            entry = _configured[id(source)] = _configure(source)
    return entry


def _setting(name: str) -> str:
    return f"{SETTING}[{name.upper()!r}]"


def _configure(source: object) -> _Configured:
    if not isinstance(source, Mapping):
        raise InvalidOptionError(SETTING, f"settings.{SETTING} must be a dict, got {source!r}")
    options: dict[str, Any] = {}
    for key, value in source.items():
        if not isinstance(key, str):
            raise InvalidOptionError(SETTING, f"settings.{SETTING} keys must be strings")
        options[key.lower()] = value
    check_option_names(options, _setting, OPTION_NAMES | _DJANGO_ONLY)
    async_mode = options.pop("async_mode", True)
    capture_user = options.pop("capture_user", True)
    for name, flag in (("async_mode", async_mode), ("capture_user", capture_user)):
        if not isinstance(flag, bool):
            raise InvalidOptionError(name, f"{_setting(name)} must be True or False")
    for name in _IMPORTABLE & options.keys():
        if isinstance(options[name], str):
            options[name] = import_string(options[name])
    try:
        monitor = RequestMonitor(**options, background=async_mode)
    except InvalidOptionError as error:
        raise InvalidOptionError(error.option, f"{_setting(error.option)}: {error}") from None
    return _Configured(source, monitor, capture_user)


class DriftlockMiddleware:
    """Capture every request of a Django project as a Driftlock event.

    Settings (``settings.DRIFTLOCK``, every key optional): ``API_KEY``, ``STREAM_ID``,
    ``EXCLUDE_PATHS``, ``ASYNC_MODE``, and the other options of
    :class:`~driftlock.wsgi.DriftlockWSGIMiddleware` in upper case (``BASE_URL``,
    ``SAMPLE_RATE``, ``BATCH_SIZE``, ``MAX_BATCH_SIZE``, ``FLUSH_INTERVAL``, ``MAX_QUEUE_SIZE``,
    ``FLUSH_TIMEOUT``, ``CAPTURE_BODY``, ``MAX_BODY_BYTES``, ``REDACT_FIELDS``, ``CAPTURE_HEADERS``,
    ``CAPTURE_CLIENT``, ``MAX_RETRIES``, ``ENABLED``; ``EVENT_HOOK``, ``ON_ANOMALY`` and
    ``CLIENT`` as objects or dotted paths), plus ``CAPTURE_USER``. Unset, the client's settings
    come from the environment (``DRIFTLOCK_API_KEY``, ``DRIFTLOCK_BASE_URL``, ...).

    - ``ASYNC_MODE=True`` (default): events go to a background thread (one per process, its queue
      bounded: a request that arrives while it is full reaches the view untouched, its event counted
      as dropped) and are flushed at interpreter exit within ``FLUSH_TIMEOUT``. (A bare uvicorn
      stopped by SIGTERM ends its process by re-raising the signal, which skips interpreter exit for
      every program: Django has no lifespan to flush in. Stop it with SIGINT, or run it under
      gunicorn's uvicorn workers, to keep the queued events.)
      ``False``: each request's event is sent, one attempt, after the response is built and
      before it is returned (on the ASGI stack from a worker thread, so that the event loop
      goes on serving); a failure is counted and logged, never raised.
    - The route is ``request.resolver_match.route`` as a path (``/items/<int:item_id>/``);
      ``request.driftlock_context = {...}`` adds fields; a streamed response is timed until
      it was sent (a ``FileResponse``, or any response with ``ASYNC_MODE=False``, until it is
      handed to the server).
    - ``CAPTURE_USER=True`` (default): when ``AuthenticationMiddleware`` ran and the request's
      user was looked up while serving it (by the view, a decorator, a permission check), an
      authenticated user's primary key is added as ``user_id``. The middleware never makes a
      database query of its own for it.

    Invalid settings raise :class:`~driftlock._capture.InvalidOptionError` naming the key when
    Django loads the middleware; ``ENABLED=False`` removes it (``MiddlewareNotUsed``). At
    request time the middleware never raises into the app. :func:`stats`, :func:`flush` and
    :func:`get_client` serve the current settings.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        configured = _current()
        if not configured.monitor.enabled:
            raise MiddlewareNotUsed("DRIFTLOCK['ENABLED'] is False")
        self.get_response = get_response
        self.monitor = configured.monitor
        self._wants = self.monitor.capture.path_filter  # None (the usual case) spares a call
        self._state = self.monitor.delivery.state
        self.capture_user = configured.capture_user
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            # Django then awaits this middleware directly: no sync_to_async on the ASGI stack.
            markcoroutinefunction(self)

    def __repr__(self) -> str:
        return f"DriftlockMiddleware(stream_id={self.monitor.capture.stream_id!r})"

    def __call__(self, request: Any) -> Any:
        """Serve one request on the WSGI stack (on the ASGI stack: a coroutine)."""
        if self.is_async:
            return self.__acall__(request)
        wants = self._wants
        if wants is not None and not wants(request.path_info):
            return self.get_response(request)
        state = self._state
        if state.full:  # an outage: its event would be dropped, so don't observe the request
            state.reject()
            return self.get_response(request)
        start = _perf()
        wall = _wall()
        response = self.get_response(request)
        self._finish(request, response, start, wall)
        return response

    async def __acall__(self, request: Any) -> Any:
        """Serve one request on the ASGI stack."""
        wants = self._wants
        if wants is not None and not wants(request.path_info):
            return await self.get_response(request)
        state = self._state
        if state.full:  # as in __call__
            state.reject()
            return await self.get_response(request)
        start = _perf()
        wall = _wall()
        response = await self.get_response(request)
        if self.monitor.delivery.background:
            self._finish(request, response, start, wall)
        else:  # ASYNC_MODE=False sends now: a blocking call, kept off the event loop
            await asyncio.to_thread(self._finish, request, response, start, wall)
        return response

    def process_exception(self, request: Any, exception: Exception) -> None:
        """Note the name of an exception the view raised (Django turns it into a response)."""
        setattr(request, _EXCEPTION_ATTR, type(exception).__name__)

    def _finish(self, request: Any, response: Any, start: float, wall: float) -> None:
        """Queue the request's event, now or, for a streamed response, once it was sent.
        Never raises (the app comes first)."""
        monitor = self.monitor
        try:
            state = self._state
            if state.full:  # an outage: don't build what would be dropped anyway
                state.reject()
                return
            built = _perf()
            if (
                response.streaming
                and monitor.delivery.background  # ASYNC_MODE=False sends before returning
                and getattr(response, "file_to_stream", None) is None
            ):

                def sent(response_bytes: int) -> None:
                    try:
                        self._record(request, response, start, wall, built, response_bytes)
                    except Exception as exc:
                        monitor.log_failure(exc)

                stream_class = _AsyncStream if response.is_async else _SyncStream
                response.streaming_content = stream_class(response.streaming_content, sent)
                return
            length = response.get("Content-Length")
            if length is not None and length.isdigit():
                response_bytes = int(length)
            else:
                response_bytes = 0 if response.streaming else len(response.content)
            self._record(request, response, start, wall, built, response_bytes)
        except Exception as exc:
            monitor.log_failure(exc)

    def _record(
        self,
        request: Any,
        response: Any,
        start: float,
        wall: float,
        built: float,
        response_bytes: int,
    ) -> None:
        capture = self.monitor.capture
        meta = request.META
        match = request.resolver_match
        route = getattr(match, "route", None)
        context = getattr(request, "driftlock_context", None)
        if self.capture_user:
            user_id = _user_id(request)
            if user_id is not None:
                # The view's own fields win over ours, as they do over every captured field.
                context = (
                    {"user_id": user_id, **context}
                    if isinstance(context, Mapping)
                    else context or {"user_id": user_id}
                )
        status = response.status_code
        length = meta.get("CONTENT_LENGTH")
        record = capture.record(
            wall,
            request.method,
            None if route is None else "/" + route,
            request.path_info,
            status,
            _perf() - start,
            built - start,
            int(length) if length and length.isdigit() else 0,
            response_bytes,
            meta.get("HTTP_USER_AGENT"),
            meta.get("QUERY_STRING", ""),
            meta.get("REMOTE_ADDR") if capture.capture_client else None,
            context,
            getattr(request, _EXCEPTION_ATTR, None) if status >= 500 else None,
        )
        monitor = self.monitor
        if not monitor.eager:
            monitor.delivery.submit(record)  # built later, by the sender, if it is sent
            return
        body = None
        if capture.capture_body:
            # Only what the app read itself (Django keeps it in `_body`): never read for it.
            raw = request.__dict__.get("_body")
            body = BodyCapture(capture.max_body_bytes)
            if isinstance(raw, bytes):
                body.feed(raw)
        headers = monitor.keeps_headers
        monitor.queue(
            record,
            body=body,
            content_type=meta.get("CONTENT_TYPE", ""),
            request_headers=request.headers.items() if headers else None,
            response_headers=response.items() if headers else None,
        )


def _user_id(request: Any) -> Any:
    """The authenticated user's primary key, if the user was looked up during the request."""
    found = request.__dict__
    user = found.get("_cached_user") or found.get("_acached_user")
    if user is None:
        user = found.get("user")  # set by something other than AuthenticationMiddleware
        if user is None or isinstance(user, LazyObject):
            return None
    if not getattr(user, "is_authenticated", False):
        return None
    pk = getattr(user, "pk", None)
    return pk if pk is None or isinstance(pk, int | str) else str(pk)


class _Stream:
    """A streamed response's content, counted; ``sent(bytes)`` runs once, when the server has
    taken the last chunk or closes the response."""

    __slots__ = ("_chunks", "_done", "_sent", "count")

    def __init__(self, chunks: Any, sent: Callable[[int], None]) -> None:
        self._chunks = chunks
        self._sent = sent
        self._done = False
        self.count = 0

    def close(self) -> None:
        """Called by ``response.close()``: the request ends if it had not yet."""
        if not self._done:
            self._done = True
            self._sent(self.count)


class _SyncStream(_Stream):
    __slots__ = ()

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            chunk: bytes = next(self._chunks)
        except StopIteration:
            self.close()
            raise
        self.count += len(chunk)
        return chunk


class _AsyncStream(_Stream):
    __slots__ = ()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk: bytes = await anext(self._chunks)
        except StopAsyncIteration:
            self.close()
            raise
        self.count += len(chunk)
        return chunk


def get_client() -> DriftlockSyncClient:
    """The :class:`~driftlock.DriftlockSyncClient` configured by ``settings.DRIFTLOCK`` (the one
    the middleware sends with), for views and tasks."""
    return _current().monitor.client


def stats() -> DeliveryStats:
    """The middleware's delivery counters (see :meth:`~driftlock.wsgi.RequestMonitor.stats`)."""
    return _current().monitor.stats()


def flush(timeout: float | None = None) -> bool:
    """Deliver everything captured so far; False if ``timeout`` (default ``FLUSH_TIMEOUT``) ran
    out first. Interpreter exit does this by itself."""
    return _current().monitor.flush(timeout)


def close(timeout: float | None = None) -> bool:
    """Flush, stop the delivery thread and close the client it built (a later request starts
    them again)."""
    return _current().monitor.close(timeout)
