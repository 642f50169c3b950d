"""DriftlockMiddleware over real HTTP: the app under uvicorn on 127.0.0.1, Driftlock served by the
engine (or down, or stalled), the client a separate HTTP client."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from driftlock.fastapi import DriftlockMiddleware, get_driftlock_middleware
from tests.conftest import ServedEngine
from tests.integrations.support import (
    ingested,
    recorder,
    shop_app,
    wait_for,
    wait_for_sync,
)
from tests.support.server import serve_asgi

ROOT = Path(__file__).resolve().parents[2]


def middleware_of(app: Any) -> DriftlockMiddleware:
    middleware = get_driftlock_middleware(app)
    assert middleware is not None
    return middleware


def dead_url() -> str:
    """A loopback URL where nothing listens (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class StalledDriftlock:
    """An HTTP server in front of the engine that holds every detect until released."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.release = threading.Event()
        self.arrived = threading.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.arrived.set()
        await asyncio.to_thread(self.release.wait, 60)
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k != b"host"}
        async with httpx.AsyncClient(base_url=self.upstream) as upstream:
            response = await upstream.post(scope["path"], content=body, headers=headers)
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": response.content})


@asynccontextmanager
async def http_client(url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield client


async def test_events_arrive_and_excluded_paths_do_not(served_engine: ServedEngine) -> None:
    app = shop_app(
        api_key=served_engine.api_key,
        base_url=served_engine.url,
        stream_id="over-http",
        exclude_paths=["/docs", "/openapi.json"],
        batch_size=10,
        flush_interval=0.05,
    )
    with serve_asgi(app) as url:
        async with http_client(url) as client:
            for i in range(23):
                assert (await client.get(f"/items/{i}")).json() == {"item_id": i}
            for path in ("/docs", "/docs/oauth2-redirect", "/openapi.json"):
                assert (await client.get(path)).status_code == 200
            assert (await client.get("/docsearch")).status_code == 404
        middleware = middleware_of(app)
        await wait_for(lambda: middleware.stats().sent == 24, "delivery")
    assert ingested(served_engine.url, served_engine.api_key, "over-http") == 24


def test_nothing_is_lost_when_the_server_stops_without_lifespan(
    served_engine: ServedEngine,
) -> None:
    # serve_asgi runs uvicorn with lifespan="off": the loop's end is the only signal left.
    app = shop_app(
        api_key=served_engine.api_key,
        base_url=served_engine.url,
        stream_id="no-lifespan",
        flush_interval=3600,
    )
    with serve_asgi(app) as url:
        with httpx.Client(base_url=url) as client:
            for i in range(40):
                client.get(f"/items/{i}")
        assert middleware_of(app).stats().queued == 40
    stats = middleware_of(app).stats()
    assert (stats.sent, stats.queued) == (40, 0)
    assert ingested(served_engine.url, served_engine.api_key, "no-lifespan") == 40


def test_sigterm_flushes_the_example_app(served_engine: ServedEngine) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = {
        **os.environ,
        "DRIFTLOCK_BASE_URL": served_engine.url,
        "DRIFTLOCK_API_KEY": served_engine.api_key,
        "DRIFTLOCK_STREAM_ID": "sigterm",
        "DRIFTLOCK_FLUSH_INTERVAL": "3600",  # everything waits for the shutdown flush
    }
    launcher = (
        "import socket, sys, uvicorn\n"
        "sock = socket.socket(fileno=int(sys.argv[1]))\n"
        "config = uvicorn.Config('examples.fastapi_app:app', lifespan='on', log_level='warning')\n"
        "uvicorn.Server(config).run(sockets=[sock])\n"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", launcher, str(sock.fileno())],
        cwd=ROOT,
        env=env,
        pass_fds=[sock.fileno()],
    )
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            # The listening socket exists already: requests queue until the app is up.
            assert client.get("/driftlock/stats").json()["captured"] == 0  # excluded
            for i in range(1, 31):
                assert client.get(f"/items/{i}").status_code == 200
            stats = client.get("/driftlock/stats").json()
            assert (stats["captured"], stats["queued"]) == (30, 30)
        server.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert server.wait(timeout=60) in (0, -signal.SIGTERM)
    finally:
        sock.close()
        if server.poll() is None:
            server.kill()
            server.wait()
    assert ingested(served_engine.url, served_engine.api_key, "sigterm") == 30


async def test_driftlock_down_leaves_every_response_correct() -> None:
    app = shop_app(api_key="dlk_test-key-for-a-dead-server", base_url=dead_url(), max_retries=0)
    with serve_asgi(app) as url:
        async with http_client(url) as client:
            responses = await asyncio.gather(*(client.get(f"/items/{i}") for i in range(60)))
        assert [r.json()["item_id"] for r in responses] == list(range(60))
        middleware = middleware_of(app)
        assert await middleware_flush_elsewhere(middleware)
    stats = middleware.stats()
    assert (stats.captured, stats.sent, stats.failed, stats.queued) == (60, 0, 60, 0)


async def middleware_flush_elsewhere(middleware: DriftlockMiddleware) -> bool:
    """Flush from the test's loop a sender that lives in the server thread's loop."""
    return await middleware.flush(timeout=30)


async def test_a_stalled_driftlock_holds_no_request_and_the_bound_holds(
    served_engine: ServedEngine,
) -> None:
    stalled = StalledDriftlock(served_engine.url)
    with serve_asgi(stalled) as driftlock_url:
        app = shop_app(
            api_key=served_engine.api_key,
            base_url=driftlock_url,
            stream_id="stalled-http",
            batch_size=10,
            max_queue_size=50,
        )
        with serve_asgi(app) as url:
            async with http_client(url) as client:
                for i in range(10):
                    await client.get(f"/items/{i}")
                await asyncio.to_thread(stalled.arrived.wait, 30)
                # Driftlock now holds the sender's request; a burst of 300 requests all complete.
                burst = await asyncio.gather(*(client.get(f"/items/{i}") for i in range(300)))
                assert [r.json()["item_id"] for r in burst] == list(range(300))
                assert not stalled.release.is_set()
                stats = middleware_of(app).stats()
                assert (stats.captured, stats.queued, stats.dropped) == (310, 50, 260)
                stalled.release.set()
                middleware = middleware_of(app)
                wait_for_sync(lambda: middleware.stats().queued == 0, "recovery")
    assert middleware.stats().sent == 50
    assert ingested(served_engine.url, served_engine.api_key, "stalled-http") == 50


async def test_streaming_is_not_buffered_over_http(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    app = shop_app(
        api_key=served_engine.api_key, base_url=served_engine.url, event_hook=recorder(events)
    )
    go_on = threading.Event()

    @app.get("/live")
    async def live() -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"first\n"
            # The client must have seen "first" before the rest exists.
            await asyncio.to_thread(go_on.wait, 60)
            yield b"second\n"

        return StreamingResponse(body(), media_type="text/plain")

    with serve_asgi(app) as url:
        async with http_client(url) as client, client.stream("GET", "/live") as response:
            chunks = response.aiter_raw()
            assert await anext(chunks) == b"first\n"
            go_on.set()
            assert [c async for c in chunks] == [b"second\n"]
        await wait_for(lambda: len(events) == 1, "the event")
    assert events[0]["body"]["response_bytes"] == len(b"first\nsecond\n")
    assert events[0]["body"]["duration_ms"] >= events[0]["body"]["ttfb_ms"]


def test_websockets_and_lifespan_under_the_test_client(served_engine: ServedEngine) -> None:
    app = shop_app(
        api_key=served_engine.api_key,
        base_url=served_engine.url,
        stream_id="ws",
        flush_interval=3600,
    )
    with TestClient(app) as client:
        with client.websocket_connect("/ws") as websocket:
            websocket.send_text("ping")
            assert websocket.receive_text() == "ping"
        assert client.get("/").status_code == 200
        assert middleware_of(app).stats().captured == 1  # the websocket is not an event
    stats = middleware_of(app).stats()  # the lifespan shutdown flushed
    assert (stats.captured, stats.sent) == (1, 1)
    assert ingested(served_engine.url, served_engine.api_key, "ws") == 1


@pytest.mark.parametrize("fastapi_missing", [True])
def test_a_clear_install_hint_without_fastapi(fastapi_missing: bool) -> None:
    code = (
        "import sys\n"
        "sys.modules['fastapi'] = None\n"  # as if the extra were not installed
        "try:\n"
        "    import driftlock.fastapi\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "import driftlock\n"  # the core keeps working
        "print(driftlock.DriftlockClient.__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "pip install 'driftlock[fastapi]'" in out
    assert out.strip().endswith("DriftlockClient")


def test_gunicorn_preload_workers_each_deliver_their_own(served_engine: ServedEngine) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = {
        **os.environ,
        "DRIFTLOCK_BASE_URL": served_engine.url,
        "DRIFTLOCK_API_KEY": served_engine.api_key,
        "DRIFTLOCK_STREAM_ID": "gunicorn",
        "DRIFTLOCK_FLUSH_INTERVAL": "3600",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",  # uvicorn.workers moved to a package
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--preload",  # the app is imported once, in the master, then forked
        "--workers",
        "2",
        "--worker-class",
        "uvicorn.workers.UvicornWorker",
        "--bind",
        f"fd://{sock.fileno()}",
        "--log-level",
        "warning",
        "examples.fastapi_app:app",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, pass_fds=[sock.fileno()])
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            for i in range(1, 61):
                # A new connection each time, so that both workers get some.
                response = client.get(f"/items/{i % 50 + 1}", headers={"connection": "close"})
                assert response.status_code == 200
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
    finally:
        sock.close()
        if server.poll() is None:
            server.kill()
            server.wait()
    # Every event once: none lost at shutdown, none sent twice by a forked copy of the queue.
    assert ingested(served_engine.url, served_engine.api_key, "gunicorn") == 60


async def hello(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


async def request(middleware: DriftlockMiddleware) -> None:
    """One GET / through ``middleware``, called as a server calls it."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    await middleware(scope, receive, send)


@contextmanager
def left_by_a_closed_loop(served: ServedEngine, stream_id: str) -> Iterator[DriftlockMiddleware]:
    """A middleware whose first two requests ran in an event loop that was then closed without
    stopping the sender (a test's loop, say), while their batch, the whole queue, was in flight
    to a Driftlock that held it. Driftlock answers from now on."""
    stalled = StalledDriftlock(served.url)
    with serve_asgi(stalled) as driftlock_url:
        middleware = DriftlockMiddleware(
            hello,
            api_key=served.api_key,
            base_url=driftlock_url,
            stream_id=stream_id,
            batch_size=2,
            max_queue_size=2,
        )
        first = asyncio.new_event_loop()
        first.run_until_complete(request(middleware))
        first.run_until_complete(request(middleware))
        assert first.run_until_complete(asyncio.to_thread(stalled.arrived.wait, 30))
        first.close()
        stalled.release.set()
        yield middleware


def test_a_full_queue_left_behind_by_a_closed_event_loop_drains_in_the_next(
    served_engine: ServedEngine,
) -> None:
    with left_by_a_closed_loop(served_engine, "loop-gone-full") as middleware:

        async def in_the_next_loop() -> None:
            await request(middleware)  # meets the full queue: dropped, and a sender starts here...
            await wait_for(lambda: middleware.stats().sent == 2, "the held batch sent again")
            await request(middleware)  # ...so that requests are captured again
            assert await middleware.flush(timeout=30)
            await middleware.aclose()

        asyncio.run(in_the_next_loop())
    stats = middleware.stats()
    assert (stats.captured, stats.sent, stats.dropped, stats.queued) == (4, 3, 1, 0)
    # The batch the first loop sent reached Driftlock too: its resend, with the same
    # Idempotency-Key, is not ingested twice.
    assert ingested(served_engine.url, served_engine.api_key, "loop-gone-full") == 3


def test_a_flush_in_another_loop_takes_over_what_a_closed_loop_held(
    served_engine: ServedEngine,
) -> None:
    with left_by_a_closed_loop(served_engine, "loop-gone-flush") as middleware:
        assert asyncio.run(middleware.aclose(timeout=30))
    assert middleware.stats().sent == 2
    assert ingested(served_engine.url, served_engine.api_key, "loop-gone-flush") == 2
