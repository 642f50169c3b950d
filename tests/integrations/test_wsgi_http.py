"""DriftlockWSGIMiddleware over real HTTP: a WSGI server on 127.0.0.1 (wsgiref, a thread per
request), Driftlock served by the engine (or down, or stalled), the client a separate HTTP
client."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from driftlock.wsgi import DriftlockWSGIMiddleware
from tests.conftest import ServedEngine
from tests.integrations.support import ingested, recorder, wait_for_sync
from tests.integrations.test_fastapi_http import StalledDriftlock, dead_url
from tests.integrations.test_wsgi import shop
from tests.integrations.wsgi_support import (
    Response,
    call,
    free_socket,
    make_environ,
    sdk_env,
    serve_wsgi,
    server_process,
    stop,
)
from tests.support.server import serve_asgi


def get_all(url: str, paths: list[str]) -> list[httpx.Response]:
    """GET every path at once, from 16 client threads."""
    with httpx.Client(base_url=url, timeout=60) as client, ThreadPoolExecutor(16) as pool:
        return list(pool.map(client.get, paths))


def captured_all(app: DriftlockWSGIMiddleware, count: int) -> None:
    """Wait until the server closed every response: a client has its response before the
    server closes it, and the request ends (is captured) then."""
    wait_for_sync(lambda: app.stats().captured == count, f"{count} requests captured")


def test_events_arrive_and_excluded_paths_do_not(served_engine: ServedEngine) -> None:
    app = DriftlockWSGIMiddleware(
        shop,
        api_key=served_engine.api_key,
        base_url=served_engine.url,
        stream_id="wsgi-http",
        exclude_paths=["/health"],
        batch_size=10,
        flush_interval=0.05,
    )
    with serve_wsgi(app) as url:
        responses = get_all(url, [f"/items/{i}" for i in range(23)] + ["/health", "/health/db"])
        assert [r.json()["item_id"] for r in responses[:23]] == list(range(23))
        wait_for_sync(lambda: app.stats().sent == 23, "delivery")
    assert app.stats().captured == 23
    assert ingested(served_engine.url, served_engine.api_key, "wsgi-http") == 23
    app.close()


def test_driftlock_down_leaves_every_response_correct() -> None:
    app = DriftlockWSGIMiddleware(
        shop, api_key="dlk_test-key-for-a-dead-server", base_url=dead_url(), max_retries=0
    )
    with serve_wsgi(app) as url:
        responses = get_all(url, [f"/items/{i}" for i in range(60)])
        assert [r.json()["item_id"] for r in responses] == list(range(60))
        captured_all(app, 60)
        assert app.flush(timeout=30)
    stats = app.stats()
    assert (stats.captured, stats.sent, stats.failed, stats.queued) == (60, 0, 60, 0)
    app.close()


def test_a_stalled_driftlock_holds_no_request_and_the_bound_holds(
    served_engine: ServedEngine,
) -> None:
    stalled = StalledDriftlock(served_engine.url)
    with serve_asgi(stalled) as driftlock_url:
        app = DriftlockWSGIMiddleware(
            shop,
            api_key=served_engine.api_key,
            base_url=driftlock_url,
            stream_id="wsgi-stalled",
            batch_size=10,
            max_queue_size=50,
        )
        with serve_wsgi(app) as url:
            get_all(url, [f"/items/{i}" for i in range(10)])
            assert stalled.arrived.wait(30)
            # Driftlock now holds the sender's request; a burst of 300 requests all complete.
            burst = get_all(url, [f"/items/{i}" for i in range(300)])
            assert [r.json()["item_id"] for r in burst] == list(range(300))
            assert not stalled.release.is_set()
            captured_all(app, 310)
            stats = app.stats()
            assert (stats.captured, stats.queued, stats.dropped) == (310, 50, 260)
            stalled.release.set()
            assert app.flush(timeout=30)
        assert app.stats().sent == 50
        app.close()
    assert ingested(served_engine.url, served_engine.api_key, "wsgi-stalled") == 50


def test_a_request_arriving_while_the_queue_is_full_reaches_the_app_untouched(
    served_engine: ServedEngine,
) -> None:
    given: list[tuple[Any, Any]] = []  # what the app got from its server, and what it answered

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        answer = shop(environ, start_response)
        given.append((start_response, answer))
        return answer

    stalled = StalledDriftlock(served_engine.url)
    with serve_asgi(stalled) as driftlock_url:
        middleware = DriftlockWSGIMiddleware(
            app,
            api_key=served_engine.api_key,
            base_url=driftlock_url,
            stream_id="wsgi-full",
            batch_size=2,
            max_queue_size=2,
        )
        server = Response()
        answer = middleware(make_environ("/items/1"), server.start_response)
        assert given[-1][0] != server.start_response  # captured: the response is observed
        assert given[-1][1] is not answer
        answer.close()  # type: ignore[attr-defined]
        call(middleware, path="/items/2")
        assert stalled.arrived.wait(30)  # both events are in flight: the queue is full
        server = Response()
        answer = middleware(make_environ("/items/3"), server.start_response)
        assert given[-1] == (server.start_response, answer)  # the server's own, both ways
        assert list(answer) == [b'{"item_id": 3}']
        stats = middleware.stats()
        assert (stats.captured, stats.queued, stats.dropped) == (3, 2, 1)
        stalled.release.set()
        assert middleware.flush(timeout=30)
        call(middleware, path="/items/4")  # room again: captured again
        assert middleware.flush(timeout=30)
        assert (middleware.stats().sent, middleware.stats().dropped) == (3, 1)
        middleware.close()
    assert ingested(served_engine.url, served_engine.api_key, "wsgi-full") == 3


def test_streaming_is_not_buffered_over_http(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    go_on = threading.Event()

    def live(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"first\n"
        go_on.wait(60)  # the client must have seen "first" before the rest exists
        yield b"second\n"

    app = DriftlockWSGIMiddleware(
        live,
        api_key=served_engine.api_key,
        base_url=served_engine.url,
        event_hook=recorder(events),
    )
    with (
        serve_wsgi(app) as url,
        httpx.Client(base_url=url, timeout=60) as client,
        client.stream("GET", "/live") as response,
    ):
        chunks = response.iter_raw()
        assert next(chunks) == b"first\n"
        go_on.set()
        assert list(chunks) == [b"second\n"]
    wait_for_sync(lambda: len(events) == 1, "the event")
    assert events[0]["body"]["response_bytes"] == len(b"first\nsecond\n")
    app.close()


SERVER = """
import json, sys, socket
from wsgiref.simple_server import WSGIServer, WSGIRequestHandler
from driftlock.wsgi import DriftlockWSGIMiddleware
from tests.integrations.test_wsgi import shop

def app(environ, start_response):
    if environ["PATH_INFO"] == "/stats":  # excluded: answers once every request before ended
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(monitored.stats().as_dict()).encode()]
    return monitored(environ, start_response)

monitored = DriftlockWSGIMiddleware(
    shop, stream_id="wsgi-exit", flush_interval=3600, exclude_paths=["/stats"]
)

class Server(WSGIServer):
    def server_bind(self):  # the socket is inherited, already bound and listening
        self.server_name, self.server_port = self.server_address

server = Server(("127.0.0.1", 0), WSGIRequestHandler, bind_and_activate=False)
server.socket = socket.socket(fileno=int(sys.argv[1]))
server.server_bind()
server.setup_environ()
server.set_app(app)
try:
    server.serve_forever(poll_interval=0.05)
except KeyboardInterrupt:  # Ctrl-C: the interpreter then exits normally
    pass
"""


def test_a_server_that_exits_normally_flushes_at_interpreter_exit(
    served_engine: ServedEngine,
) -> None:
    sock = free_socket()
    command = [sys.executable, "-c", SERVER, str(sock.fileno())]
    env = sdk_env(served_engine.url, served_engine.api_key)
    with server_process(command, env=env, sock=sock, probe="/stats") as (server, url):
        with httpx.Client(base_url=url, timeout=30) as client:
            for i in range(1, 21):
                assert client.get(f"/items/{i}").status_code == 200
            # One request at a time: the previous ones have ended when this one is answered.
            stats = client.get("/stats").json()
        assert (stats["captured"], stats["queued"]) == (20, 20)
        assert stop(server, signal.SIGINT) == 0
    # Only the exit flushed them: the interval is an hour.
    assert ingested(served_engine.url, served_engine.api_key, "wsgi-exit") == 20
