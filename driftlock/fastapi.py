"""FastAPI (and any ASGI app): ``DriftlockMiddleware`` and the ``get_driftlock_client`` dependency.

The middleware turns every HTTP request into an ``http_request`` event and ships the events in
the background; no request ever waits on Driftlock. It is a pure ASGI middleware: what is
captured is decided by :mod:`driftlock._capture` and delivery is done by
:mod:`driftlock._batch`, both shared with the WSGI and Django integrations.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from typing import Any

try:
    import fastapi  # noqa: F401 - the extra this module belongs to
    from starlette.requests import HTTPConnection
    from starlette.routing import Mount
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without fastapi
    raise ImportError(
        "driftlock.fastapi needs FastAPI; install it with: pip install 'driftlock[fastapi]'"
    ) from exc

from driftlock._batch import (
    AnomalyCallback,
    AsyncDelivery,
    DeliveryOptions,
    DeliveryState,
    DeliveryStats,
    queue_request,
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
from driftlock._client import DriftlockClient

__all__ = ["DriftlockMiddleware", "get_driftlock_client", "get_driftlock_middleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Where the middleware leaves itself in each HTTP scope, for get_driftlock_client.
SCOPE_KEY = "driftlock.middleware"

logger = logging.getLogger("driftlock")
_perf = time.perf_counter
_wall = time.time


class DriftlockMiddleware:
    """Capture every HTTP request as a Driftlock event, delivered in the background.

    ``app.add_middleware(DriftlockMiddleware, api_key=..., stream_id=..., exclude_paths=[...])``
    or ``app = DriftlockMiddleware(app, ...)``. Options:

    - ``api_key``, ``base_url``: for the client the middleware builds (defaults: the
      environment, as for :class:`~driftlock.DriftlockClient`; ``base_url="local://"`` runs the
      embedded engine); or ``client``: your own :class:`~driftlock.DriftlockClient` (not closed
      by the middleware).
    - ``stream_id``, ``exclude_paths``, ``sample_rate``, ``capture_body``, ``max_body_bytes``,
      ``redact_fields``, ``capture_headers``, ``capture_client``, ``event_hook``: what is
      captured; see :class:`driftlock._capture.CaptureOptions`.
    - ``batch_size``, ``max_batch_size``, ``flush_interval``, ``max_queue_size``,
      ``flush_timeout``, ``max_retries``: how events are delivered; see
      :class:`driftlock._batch.DeliveryOptions`.
    - ``on_anomaly(result)``: sync or async, called with each delivered batch's
      :class:`~driftlock.models.DetectResult` that has anomalies.
    - ``enabled=False``: capture nothing (the app's handlers still get a client).

    Only ``http`` scopes are captured. Handlers add fields to their request's event with
    ``request.state.driftlock_context = {...}``. An invalid option raises
    :class:`~driftlock._capture.InvalidOptionError` (both a
    :class:`~driftlock.exceptions.DriftlockConfigError` and a ``ValueError``) naming it, and a
    missing API key a ``DriftlockConfigError``, here; at request time the middleware never raises
    into the app; a request that arrives while the queue is full reaches the app untouched (its
    event counted as dropped). The sender starts on first use in the serving event loop (so after
    any fork) and is flushed on lifespan shutdown within ``flush_timeout`` (without lifespan: when
    the event loop ends, or by :meth:`aclose`). :meth:`stats` shows the counters; for a middleware
    added with ``app.add_middleware``, ``get_driftlock_middleware(app)`` finds it.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_key: str | None = None,
        stream_id: str | None = None,
        exclude_paths: Sequence[str] = (),
        base_url: str | None = None,
        client: DriftlockClient | None = None,
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
    ) -> None:
        if not isinstance(enabled, bool):
            raise InvalidOptionError("enabled", "enabled must be True or False")
        if client is not None and (api_key is not None or base_url is not None):
            raise InvalidOptionError("client", "pass either client or api_key/base_url, not both")
        self.app = app
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
        self._wants = self.capture.path_filter  # None (the usual case) spares every request a call
        self.delivery = AsyncDelivery(
            state, self._make_sink, on_anomaly=on_anomaly, on_loop_end=self._close_client
        )
        self._state = state
        self._api_key = api_key
        self._base_url = base_url
        self._owns_client = client is None
        # Built now, so that a missing key or a bad URL fails at startup, not at first send.
        self._client: DriftlockClient = client if client is not None else self._build_client()
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._client_closed = False

    def __repr__(self) -> str:
        return f"DriftlockMiddleware(stream_id={self.capture.stream_id!r}, enabled={self.enabled})"

    # -- the client -----------------------------------------------------------------------

    def _build_client(self) -> DriftlockClient:
        return DriftlockClient(api_key=self._api_key, base_url=self._base_url)

    @property
    def client(self) -> DriftlockClient:
        """The client events are sent with; ``get_driftlock_client`` hands it to handlers."""
        if self._owns_client and self._client_closed:
            self._client = self._build_client()
            self._client_closed = False
            self._client_loop = None
        return self._client

    def _make_sink(self) -> Callable[[list[Event]], Awaitable[Any]]:
        """The sender's send function, made in the loop where the sender starts."""
        loop = asyncio.get_running_loop()
        client = self.client
        if self._owns_client and self._client_loop not in (None, loop):
            # Connections of the old client belong to a loop that is gone: start afresh.
            client = self._client = self._build_client()
        self._client_loop = loop
        # Retries are the sender's own (they must respect flush deadlines), not the client's.
        detect = client.with_options(max_retries=0).detect
        stream_id = self.capture.stream_id

        async def send(events: list[Event]) -> Any:
            return await detect(stream_id=stream_id, events=events)

        return send

    # -- public accessors -------------------------------------------------------------------

    def stats(self) -> DeliveryStats:
        """Counters: captured, sent, dropped, failed, queued (and filtered by ``event_hook``).

        ``captured == sent + dropped + failed + queued`` holds for every snapshot.
        """
        return self.delivery.stats()

    async def flush(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 - returns False, never raises
        """Deliver everything captured so far; False if ``timeout`` (default ``flush_timeout``)
        ran out first."""
        return await self.delivery.flush(timeout)

    async def aclose(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 - as flush
        """Flush, stop the sender and close the client if the middleware built it.

        Lifespan shutdown does this by itself; call it when the server runs without lifespan.
        """
        delivered = await self.delivery.aclose(timeout)
        await self._close_client()
        return delivered

    async def _close_client(self) -> None:
        if self._owns_client and not self._client_closed:
            self._client_closed = True
            try:
                await self._client.aclose()
            except Exception as exc:
                self._log.log(
                    "client_close", logging.WARNING, "Closing the Driftlock client", exc=exc
                )

    # -- ASGI -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection: capture ``http``, observe ``lifespan``, pass the rest."""
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                await self._lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        scope[SCOPE_KEY] = self
        if not self.enabled:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :] or "/"
        wants = self._wants
        if wants is not None and not wants(path):
            await self.app(scope, receive, send)
            return
        if self._state.full:  # an outage: its event would be dropped, so don't observe the request
            self.delivery.reject()
            await self.app(scope, receive, send)
            return

        # Per-request state lives in these locals and closures, never on the instance.
        start = _perf()
        wall = _wall()
        status = 0
        head_at = 0.0
        end_at = 0.0
        response_bytes = 0
        received_bytes = 0
        response_headers: Any = None
        body = BodyCapture(self.capture.max_body_bytes) if self.capture.capture_body else None
        keep_headers = self.capture.captures_headers

        async def receive_wrapper() -> Message:
            nonlocal received_bytes
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body")
                if chunk:
                    received_bytes += len(chunk)
                    if body is not None:
                        body.feed(chunk)
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal status, head_at, end_at, response_bytes, response_headers
            kind = message["type"]
            if kind == "http.response.body":
                chunk = message.get("body")
                if chunk:
                    response_bytes += len(chunk)
                if not message.get("more_body", False):
                    end_at = _perf()
            elif kind == "http.response.start":
                status = message.get("status", 0)
                head_at = _perf()
                if keep_headers:
                    response_headers = message.get("headers")
            elif kind == "http.response.pathsend":
                end_at = _perf()
            await send(message)

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except Exception as error:
            self._record(
                scope, path, root_path, start, wall, status or 500, head_at, end_at,
                response_bytes, received_bytes, body, response_headers, error,
            )  # fmt: skip
            raise
        self._record(
            scope, path, root_path, start, wall, status, head_at, end_at,
            response_bytes, received_bytes, body, response_headers, None,
        )  # fmt: skip

    def _record(
        self,
        scope: Scope,
        path: str,
        entry_root_path: str,
        start: float,
        wall: float,
        status: int,
        head_at: float,
        end_at: float,
        response_bytes: int,
        received_bytes: int,
        body: BodyCapture | None,
        response_headers: Any,
        error: BaseException | None,
    ) -> None:
        """Queue the request's record (or event); never raises (the app comes first)."""
        try:
            state = self._state
            if state.full:  # an outage: don't build what would be dropped anyway
                self.delivery.reject()
                return
            capture = self.capture
            user_agent = None
            content_length = None
            content_type = ""
            for name, value in scope["headers"]:
                if name == b"user-agent":
                    user_agent = value.decode("latin-1")
                elif name == b"content-length":
                    content_length = value
                elif name == b"content-type":
                    content_type = value.decode("latin-1")
            request_bytes = received_bytes
            if content_length is not None and content_length.isdigit():
                request_bytes = int(content_length)
            client = scope.get("client") if capture.capture_client else None
            request_state = scope.get("state")
            record = capture.record(
                wall,
                scope["method"],
                _route_template(scope, entry_root_path),
                path,
                status,
                (end_at or _perf()) - start,
                head_at - start if head_at else None,
                request_bytes,
                response_bytes,
                user_agent,
                scope.get("query_string", b""),
                client[0] if client else None,
                request_state.get("driftlock_context") if type(request_state) is dict else None,
                None if error is None else type(error).__name__,
            )
            # Headers are decoded only when an eager capture includes them.
            headers = capture.eager and capture.captures_headers
            queue_request(
                capture,
                state,
                self.delivery.submit,
                record,
                body=body,
                content_type=content_type,
                request_headers=_decoded(scope["headers"]) if headers else None,
                response_headers=_decoded(response_headers or ()) if headers else None,
            )
        except Exception as exc:
            self._log.log(
                "capture", logging.ERROR, "Driftlock could not capture a request", exc=exc
            )

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass lifespan through; flush on shutdown, then close what the middleware owns.

        The flush happens when shutdown begins, before the app's own shutdown code runs (which
        may close a client it lent us); clients are closed once the app has shut down.
        """

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                try:
                    await self.delivery.aclose()
                except Exception as exc:
                    self._log.log("shutdown", logging.ERROR, "Driftlock flush failed", exc=exc)
            return message

        async def send_wrapper(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self._close_client()
            await send(message)

        await self.app(scope, receive_wrapper, send_wrapper)


def _decoded(headers: Any) -> Iterator[tuple[str, str]]:
    for name, value in headers:
        yield name.decode("latin-1"), value.decode("latin-1")


def _route_template(scope: Scope, entry_root_path: str) -> str | None:
    """The matched route's template, e.g. ``/items/{item_id}``, mounts included; None if none."""
    route = scope.get("route")
    if route is None:
        return None
    # Mounts extend root_path by what they matched; the route's own template is relative to it.
    prefix: str = scope.get("root_path", "")[len(entry_root_path) :]
    if isinstance(route, Mount):
        return prefix + "/{path}"
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return prefix + template if isinstance(template, str) else None


def get_driftlock_middleware(app: Any) -> DriftlockMiddleware | None:
    """The :class:`DriftlockMiddleware` installed on ``app`` (a Starlette/FastAPI app), if any.

    For ``app.add_middleware(DriftlockMiddleware, ...)``, where the instance is built by the
    framework: ``get_driftlock_middleware(app).stats()``.
    """
    if getattr(app, "middleware_stack", False) is None:
        # Starlette builds its stack on the first call; building it here is what it would do.
        app.middleware_stack = app.build_middleware_stack()
    node = getattr(app, "middleware_stack", app)
    for _ in range(100):  # a chain of middlewares; the bound guards against a cycle
        if isinstance(node, DriftlockMiddleware):
            return node
        node = getattr(node, "app", None)
        if node is None:
            break
    return None


# One client built from the environment per process and event loop (in a server: one).
_env_clients: dict[asyncio.AbstractEventLoop, tuple[DriftlockClient, asyncio.Task[None]]] = {}


async def _keep_until_shutdown(loop: asyncio.AbstractEventLoop, client: DriftlockClient) -> None:
    """Close ``client`` when the loop shuts down (asyncio.run and uvicorn cancel leftover tasks)."""
    try:
        await asyncio.Event().wait()
    finally:
        if _env_clients.get(loop, (None,))[0] is client:
            del _env_clients[loop]
        with contextlib.suppress(Exception):
            await client.aclose()


def _env_client() -> DriftlockClient:
    loop = asyncio.get_running_loop()
    entry = _env_clients.get(loop)
    if entry is not None:
        return entry[0]
    for old in [other for other in _env_clients if other.is_closed()]:
        del _env_clients[old]
    client = DriftlockClient()
    keeper = loop.create_task(_keep_until_shutdown(loop, client), name="driftlock-env-client")
    _env_clients[loop] = (client, keeper)
    return client


async def get_driftlock_client(request: HTTPConnection) -> DriftlockClient:
    """FastAPI dependency: the app's :class:`~driftlock.DriftlockClient`.

    In order: the client of the :class:`DriftlockMiddleware` serving the request; else
    ``app.state.driftlock_client``; else one built from the environment (``DRIFTLOCK_API_KEY``,
    ``DRIFTLOCK_BASE_URL``, ...) once per process and closed at shutdown. Tests replace it with
    ``app.dependency_overrides[get_driftlock_client] = lambda: my_client``.
    """
    middleware = request.scope.get(SCOPE_KEY)
    if isinstance(middleware, DriftlockMiddleware):
        return middleware.client
    app = request.scope.get("app")
    state = getattr(app, "state", None)
    client = getattr(state, "driftlock_client", None)
    if client is not None:
        return client  # type: ignore[no-any-return]
    return _env_client()
