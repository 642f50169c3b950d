"""httpx transports that send requests to the embedded engine in-process, without a socket.

``base_url="local://"`` uses the engine named ``""`` and ``local://NAME`` the engine ``NAME``;
each name has one engine (and one app) per process, kept in a registry, so every client
pointed at the same name sees the same streams and anomalies::

    client = httpx.Client(transport=LocalTransport("ci"), base_url="http://local.driftlock")

The sync transport answers on the caller's thread. The async one runs the request in a worker
thread, so detection never blocks the event loop; the engine's locks make concurrent requests
safe.
"""

from __future__ import annotations

import threading
from functools import partial

import anyio.to_thread
import httpx

from driftlock.local.app import DriftlockApp, RequestHeaders, Response
from driftlock.local.engine import Engine

__all__ = ["AsyncLocalTransport", "LocalTransport", "get_app", "get_engine"]

_apps: dict[str, DriftlockApp] = {}
_apps_lock = threading.Lock()


def get_app(name: str = "") -> DriftlockApp:
    """The process-wide app (and in-memory engine) called ``name``, created on first use."""
    with _apps_lock:
        app = _apps.get(name)
        if app is None:
            app = _apps[name] = DriftlockApp(Engine())
        return app


def get_engine(name: str = "") -> Engine:
    """The process-wide in-memory engine called ``name`` (``local://NAME``)."""
    return get_app(name).engine


def _dispatch(app: DriftlockApp, request: httpx.Request, body: bytes) -> httpx.Response:
    url = request.url
    headers = RequestHeaders((name.lower(), value) for name, value in request.headers.items())
    answer: Response = app.handle(
        request.method,
        url.raw_path.split(b"?", 1)[0].decode("ascii"),
        url.query.decode("ascii"),
        headers,
        body,
        client="local",
    )
    return httpx.Response(
        answer.status, headers=answer.headers, content=answer.body, request=request
    )


class LocalTransport(httpx.BaseTransport):
    """A sync httpx transport answered by the in-process engine called ``name``.

    ``app`` serves a given app instead (for example one with an API key or a rate limit).
    """

    def __init__(self, name: str = "", *, app: DriftlockApp | None = None) -> None:
        self.name = name
        self.app = app if app is not None else get_app(name)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Dispatch ``request`` to the engine's app on the calling thread."""
        return _dispatch(self.app, request, request.read())


class AsyncLocalTransport(httpx.AsyncBaseTransport):
    """An async httpx transport answered by the in-process engine called ``name``.

    ``app`` serves a given app instead (for example one with an API key or a rate limit).
    """

    def __init__(self, name: str = "", *, app: DriftlockApp | None = None) -> None:
        self.name = name
        self.app = app if app is not None else get_app(name)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Dispatch ``request`` in a worker thread, keeping the event loop free."""
        body = await request.aread()
        return await anyio.to_thread.run_sync(partial(_dispatch, self.app, request, body))
