"""DriftlockWSGIMiddleware in process: a plain WSGI app called as a server calls it, delivering
to a served engine."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest

from driftlock import DriftlockClient, DriftlockSyncClient
from driftlock._capture import InvalidOptionError
from driftlock.exceptions import DriftlockConfigError
from driftlock.wsgi import CONTEXT_KEY, EXCEPTION_KEY, ROUTE_KEY, DriftlockWSGIMiddleware
from tests.conftest import ServedEngine
from tests.integrations.support import BOOM, Boom, ingested, recorder
from tests.integrations.wsgi_support import Response, call, make_environ


class Stream:
    """A streamed response body that records how far the server got."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks

    def close(self) -> None:
        self.closed = True


def shop(environ: dict[str, Any], start_response: Any) -> Any:
    """A plain WSGI app with the kinds of responses the middleware must handle."""
    path: str = environ["PATH_INFO"]
    json_type = [("Content-Type", "application/json")]
    if path.startswith("/items/"):
        environ[ROUTE_KEY] = "/items/{item_id}"  # what a framework's router would leave
        environ[CONTEXT_KEY] = {"tenant": "acme", "status_code": -1}
        start_response("200 OK", json_type)
        return [json.dumps({"item_id": int(path[7:])}).encode()]
    if path == "/boom":
        raise BOOM
    if path == "/boom-later":
        start_response("200 OK", [])

        def failing() -> Iterator[bytes]:
            yield b"partial"
            raise BOOM

        return failing()
    if path == "/handled":  # a framework that turned an exception into a 500 itself
        environ[EXCEPTION_KEY] = "Boom"
        start_response("500 Internal Server Error", [])
        return [b"sorry"]
    if path == "/echo":
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        data = stream.read(int(length)) if length else stream.read()
        start_response("200 OK", json_type)
        return [data]
    if path == "/unread":
        start_response("200 OK", json_type)
        return [b"{}"]
    if path == "/write":
        write = start_response("200 OK", [])
        write(b"legacy ")
        return [b"and iterable"]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["test.stream"]
    start_response("404 Not Found", [])
    return [b"not found"]


def middleware(served: ServedEngine, **options: Any) -> DriftlockWSGIMiddleware:
    return DriftlockWSGIMiddleware(shop, api_key=served.api_key, base_url=served.url, **options)


def test_events_arrive_with_the_documented_shape(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    app = middleware(served_engine, stream_id="wsgi-shape", event_hook=recorder(events))
    response = call(
        app,
        path="/items/42",
        query="color=red&size=m&color=blue",
        headers={"User-Agent": "shape-test"},
    )
    assert json.loads(response.body) == {"item_id": 42}
    assert call(app, path="/nowhere").status.startswith("404")
    assert call(app, path="/handled").status.startswith("500")
    assert app.flush()
    body = events[0]["body"]
    assert events[0]["type"] == "http_request"
    assert events[0]["timestamp"].endswith("Z")
    assert body["method"] == "GET"
    assert body["route"] == "/items/{item_id}"
    assert body["path"] == "/items/42"
    assert body["status_code"] == 200
    assert body["duration_ms"] >= body["ttfb_ms"] >= 0
    assert body["response_bytes"] == len(response.body)
    assert body["request_bytes"] == 0
    assert body["user_agent"] == "shape-test"
    assert body["query_keys"] == ["color", "size"]
    assert body["tenant"] == "acme"  # the context adds fields...
    assert "client" not in body
    assert "red" not in str(events)  # no query values, headers or bodies by default
    rest = [
        (e["body"]["route"], e["body"]["status_code"], e["body"].get("exception"))
        for e in events[1:]
    ]
    assert rest == [(None, 404, None), (None, 500, "Boom")]
    assert app.stats().sent == 3
    assert ingested(served_engine.url, served_engine.api_key, "wsgi-shape") == 3
    app.close()


def test_excluded_paths_sampling_and_disabling(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    app = middleware(
        served_engine, exclude_paths=["/items/", "/health"], event_hook=recorder(events)
    )
    for path in ("/items/1", "/health", "/health/db", "/healthz", "/items"):
        call(app, path=path)
    app.close()
    assert [e["body"]["path"] for e in events] == ["/healthz"]
    for options in ({"sample_rate": 0.0}, {"enabled": False}):
        quiet = middleware(served_engine, **options)
        for _ in range(10):
            assert call(quiet, path="/items/1").status == "200 OK"
        assert quiet.stats().captured == 0
        quiet.close()


def test_app_exceptions_pass_through_unchanged_and_are_recorded(
    served_engine: ServedEngine,
) -> None:
    events: list[dict[str, Any]] = []
    app = middleware(served_engine, event_hook=recorder(events))
    with pytest.raises(Boom) as raised:
        call(app, path="/boom")
    assert raised.value is BOOM
    with pytest.raises(Boom) as raised:
        call(app, path="/boom-later")  # after the status went out
    assert raised.value is BOOM
    app.close()
    assert [(e["body"]["status_code"], e["body"]["exception"]) for e in events] == [
        (500, "Boom"),
        (200, "Boom"),
    ]
    assert events[1]["body"]["response_bytes"] == len(b"partial")


def test_a_streamed_body_is_timed_until_the_server_closes_it(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    app = middleware(served_engine, event_hook=recorder(events))
    stream = Stream([b"first\n", b"second\n"])
    response = Response()
    result = app(make_environ("/stream") | {"test.stream": stream}, response.start_response)
    chunks = iter(result)
    assert next(chunks) == b"first\n"
    assert events == []  # still sending
    assert list(chunks) == [b"second\n"]
    assert events == []  # everything handed over, not yet closed by the server
    result.close()  # type: ignore[attr-defined]
    assert stream.closed  # the app's own close ran
    assert len(events) == 1
    body = events[0]["body"]
    assert body["response_bytes"] == len(b"first\nsecond\n")
    assert body["duration_ms"] >= body["ttfb_ms"]
    result.close()  # type: ignore[attr-defined]  # a second close records nothing more
    assert app.stats().captured == 1
    app.close()


def test_write_callable_and_chunked_bodies_are_counted(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    app = middleware(served_engine, event_hook=recorder(events))
    assert call(app, path="/write").body == b"legacy and iterable"
    payload = b'{"chunked": true}'
    assert call(app, path="/echo", method="POST", body=payload, chunked=True).body == payload
    app.close()
    assert events[0]["body"]["response_bytes"] == len(b"legacy and iterable")
    assert events[1]["body"]["request_bytes"] == len(payload)


def test_bodies_and_headers_only_when_opted_in_and_redacted(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    app = middleware(
        served_engine,
        capture_body=True,
        max_body_bytes=200,
        redact_fields=["email"],
        capture_headers=["authorization", "accept", "content-type"],
        capture_client=True,
        event_hook=recorder(events),
    )
    payload = {"user": "ann", "password": "hunter2", "email": "a@b.c", "tags": ["x"]}
    raw = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "Authorization": "Bearer t0k3n", "Accept": "*/*"}
    response = call(app, path="/echo", method="POST", body=raw, headers=headers)
    assert json.loads(response.body) == payload  # the app read the whole body itself
    call(app, path="/unread", method="POST", body=raw, headers=headers)
    call(app, path="/echo", method="POST", body=b'{"big": "' + b"x" * 500 + b'"}', headers=headers)
    app.close()
    first, unread, big = (e["body"] for e in events)
    assert first["request_body"] == {
        "user": "ann",
        "password": "[REDACTED]",
        "email": "[REDACTED]",
        "tags": ["x"],
    }
    assert first["request_headers"] == {
        "authorization": "[REDACTED]",
        "accept": "*/*",
        "content-type": "application/json",
    }
    assert first["response_headers"] == {"content-type": "application/json"}
    assert first["client"] == "127.0.0.1"
    assert first["request_bytes"] == len(raw)
    assert "hunter2" not in str(events)
    assert "t0k3n" not in str(events)
    assert "request_body" not in unread  # never read on the app's behalf
    assert big["request_body_truncated"] is True


def test_paths_are_decoded_as_utf8(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    app = middleware(served_engine, exclude_paths=["/café"], event_hook=recorder(events))
    call(app, path="/café")
    call(app, path="/naïve")
    app.close()
    assert [e["body"]["path"] for e in events] == ["/naïve"]


def test_request_time_failures_never_reach_the_app(
    served_engine: ServedEngine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_hook(event: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("hook bug")

    app = middleware(served_engine, event_hook=broken_hook)
    with caplog.at_level(logging.ERROR, logger="driftlock"):
        assert call(app, path="/items/1").status == "200 OK"

        def broken_offer(event: Any) -> int:
            raise RuntimeError("queue bug")

        monkeypatch.setattr(app.monitor.capture, "_hook", None)
        monkeypatch.setattr(app.monitor.delivery.state, "offer", broken_offer)
        assert call(app, path="/items/2").status == "200 OK"
    assert "hook bug" in caplog.text
    assert "queue bug" in caplog.text
    stats = app.stats()
    assert (stats.captured, stats.filtered) == (0, 1)
    app.close()


def test_invalid_options_raise_at_construction(
    served_engine: ServedEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, url = served_engine.api_key, served_engine.url
    cases: list[tuple[str, Any]] = [
        ("sample_rate", 2),
        ("batch_size", 0),
        ("max_queue_size", -5),
        ("flush_interval", 0),
        ("exclude_paths", "/docs"),
        ("on_anomaly", "not callable"),
        ("event_hook", 1),
        ("enabled", "no"),
    ]
    for option, value in cases:
        with pytest.raises(InvalidOptionError, match=option) as raised:
            DriftlockWSGIMiddleware(shop, api_key=key, base_url=url, **{option: value})
        assert raised.value.option == option
        assert isinstance(raised.value, ValueError)
    with pytest.raises(InvalidOptionError, match="did you mean exclude_paths=") as raised:
        DriftlockWSGIMiddleware(shop, api_key=key, base_url=url, exclude_path=["/docs"])
    assert raised.value.option == "exclude_path"
    with pytest.raises(InvalidOptionError, match="DriftlockSyncClient"):
        DriftlockWSGIMiddleware(shop, client=DriftlockClient(api_key=key, base_url=url))
    with (
        DriftlockSyncClient(api_key=key, base_url=url) as client,
        pytest.raises(InvalidOptionError, match="not both"),
    ):
        DriftlockWSGIMiddleware(shop, client=client, api_key=key)
    monkeypatch.delenv("DRIFTLOCK_API_KEY", raising=False)
    monkeypatch.delenv("DRIFTLOCK_BASE_URL", raising=False)
    with pytest.raises(DriftlockConfigError, match="DRIFTLOCK_API_KEY"):
        DriftlockWSGIMiddleware(shop)


def test_a_client_of_your_own_is_used_and_left_open(served_engine: ServedEngine) -> None:
    with DriftlockSyncClient(api_key=served_engine.api_key, base_url=served_engine.url) as client:
        app = DriftlockWSGIMiddleware(shop, client=client, stream_id="wsgi-own-client")
        assert app.client is client
        call(app, path="/items/7")
        assert app.close()
        # Still open: the app's own calls go on.
        assert client.detect(stream_id="wsgi-own-client", events=[{"type": "x"}]).total_events
    assert ingested(served_engine.url, served_engine.api_key, "wsgi-own-client") == 2


def test_close_flushes_and_a_later_request_starts_again(served_engine: ServedEngine) -> None:
    app = middleware(served_engine, stream_id="wsgi-reopen", flush_interval=3600)
    for i in range(5):
        call(app, path=f"/items/{i}")
    assert app.stats().queued == 5
    first_client = app.client
    assert app.close()
    assert app.stats().sent == 5
    call(app, path="/items/5")  # a new thread and a new client
    assert app.client is not first_client
    assert app.close()
    assert ingested(served_engine.url, served_engine.api_key, "wsgi-reopen") == 6


@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")  # Python 3.12+
def test_a_forked_child_delivers_its_own_events_and_the_parents_go_once(
    served_engine: ServedEngine,
) -> None:
    app = middleware(served_engine, stream_id="wsgi-fork", flush_interval=3600)
    for i in range(5):
        call(app, path=f"/items/{i}")  # the parent's sender started; its events wait
    parent_client = app.client
    pid = os.fork()
    if pid == 0:  # the child serves requests of its own, then exits as a worker does
        status = 1
        try:
            for i in range(3):
                call(app, path=f"/items/{100 + i}")
            stats = app.stats()
            if app.client is not parent_client and app.close() and stats.captured == 3:
                status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert app.stats().queued == 5
    assert app.close()
    assert ingested(served_engine.url, served_engine.api_key, "wsgi-fork") == 8
