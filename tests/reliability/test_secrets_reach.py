"""Secret hygiene beyond messages and reprs: what reaches a user's own code and tools.

:mod:`tests.reliability.test_secrets` checks the text of exceptions, log records, reprs and
cassettes. This module checks the places an error tracker or a debugger looks at, and the
objects the SDK hands to code it does not own:

- a traceback rendered with every frame's locals (``pytest -l``, Sentry, ``traceback``'s
  ``capture_locals``), for each way a call fails, through the sync client, the async client and
  its ``detect_sync``;
- a log record rendered with the stack it was logged from, locals included (an error tracker's
  logging integration does this), for the clients, a middleware and the in-process engine;
- the requests (and their responses) the hooks and transports of a user's own ``http_client``
  receive: their headers print without the key, yet the key is what was sent;
- a user's ``http_client`` that follows redirects: the key never travels to where a redirect
  points.

A server or proxy that reflects the key it received (in a body, a header, an error message) is
among the failures: what it sent back must not surface through a traceback or a log either.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import traceback
from collections.abc import Iterator
from types import FrameType
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from driftlock import DriftlockClient, DriftlockSyncClient
from driftlock.exceptions import (
    AuthenticationError,
    DriftlockAPIError,
    DriftlockConnectionError,
    DriftlockError,
    DriftlockTimeoutError,
    InternalServerError,
)
from driftlock.fastapi import DriftlockMiddleware, get_driftlock_middleware
from driftlock.local.transport import get_engine
from tests.conftest import ServedEngineFactory
from tests.reliability.conftest import MakeCaller
from tests.reliability.support import Delays, RawServer, closed_port, stall
from tests.support.server import serve_asgi

KEY = "dlk_00000000-0000-4000-8000-000000000000.s3cr3tvalue"
OTHER_KEY = "dlk_11111111-1111-4111-8111-111111111111.n0t-th3-0ne"
# A mask may show the last four characters; everything before them must never show.
FRAGMENTS = (KEY[:-4], "s3cr3tv")
# The frames an error tracker would show for the SDK's work: the SDK, its generated layer, and
# the libraries under it (not the test's own frames, nor pytest's).
LIBRARY_DIRS = (
    "/driftlock/",
    "/driftlock_generated/",
    "/httpx/",
    "/httpcore/",
    "/h11/",
    "/anyio/",
    "/starlette/",
    "/asyncio/",
)


def leaks(text: str) -> list[str]:
    return [fragment for fragment in FRAGMENTS if fragment in text]


def in_library(frame: FrameType) -> bool:
    return any(part in frame.f_code.co_filename for part in LIBRARY_DIRS)


def render(frames: Iterator[tuple[FrameType, int]]) -> str:
    """``frames`` of the SDK and the libraries under it, with their locals."""
    mine = ((frame, line) for frame, line in frames if in_library(frame))
    return "".join(traceback.StackSummary.extract(mine, capture_locals=True).format())


def with_locals(error: BaseException) -> str:
    """The traceback of ``error`` and of the exceptions chained to it, with the locals of
    every frame of the SDK and the libraries under it (the test's own frames hold the key)."""
    parts = []
    seen: BaseException | None = error
    while seen is not None:
        parts.append(f"{seen!r}\n{render(traceback.walk_tb(seen.__traceback__))}")
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


class LocalsLog(logging.Handler):
    """Renders each record as an error tracker's logging integration does: the stack the
    record was logged from and the record's own traceback, with every frame's locals.

    Records logged by the uvicorn threads serving a stand-in Driftlock are left out: they are
    the server's logs, not the application's.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.rendered: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if threading.current_thread().name.startswith("uvicorn-"):
            return
        text = render(traceback.walk_stack(None))
        if record.exc_info is not None and record.exc_info[1] is not None:
            text += with_locals(record.exc_info[1])
        self.rendered.append(f"{record.name}: {record.getMessage()}\n{text}")

    def assert_clean(self) -> None:
        assert self.rendered, "nothing was logged"
        for text in self.rendered:
            assert leaks(text) == [], text


@contextlib.contextmanager
def rendering_locals(*names: str) -> Iterator[LocalsLog]:
    """DEBUG on for the loggers ``names``, every record rendered with locals."""
    handler = LocalsLog()
    loggers = [logging.getLogger(name) for name in names]
    levels = [each.level for each in loggers]
    for each in loggers:
        each.setLevel(logging.DEBUG)
        each.addHandler(handler)
    yield handler
    for each, level in zip(loggers, levels, strict=True):
        each.removeHandler(handler)
        each.setLevel(level)


@pytest.fixture
def locals_log() -> Iterator[LocalsLog]:
    """DEBUG on for driftlock, httpx and httpcore, every record rendered with locals."""
    with rendering_locals("driftlock", "httpx", "httpcore") as handler:
        yield handler


# -- servers that reflect the key -------------------------------------------------------------


def echoing(kind: str) -> Any:
    """An ASGI server (or a proxy in front of Driftlock) that reflects the key it received:
    in a 401 error envelope, or as the request id of a 503."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        while (await receive()).get("more_body", False):
            pass
        key = dict(scope["headers"]).get(b"x-api-key", b"")
        if kind == "envelope":
            text = key.decode()
            status = 401
            headers = [(b"content-type", b"application/json")]
            body = json.dumps(
                {"error": {"code": text, "message": f"bad key {text}", "request_id": text}}
            ).encode()
        else:
            status, headers, body = 503, [(b"x-request-id", key)], b"busy"
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def refusing_proxy(request: httpx.Request) -> httpx.Response:
    """A transport whose proxy names the key in its error (fault injection)."""
    raise httpx.ConnectError(f"proxy refused X-Api-Key: {request.headers['x-api-key']}")


# -- tracebacks with locals ---------------------------------------------------------------------

# How the call fails, and the exception it raises.
FAILURES = {
    "wrong key": AuthenticationError,
    "engine fault": InternalServerError,
    "connection refused": DriftlockConnectionError,
    "timeout": DriftlockTimeoutError,
    "key echoed in the body": AuthenticationError,
    "key echoed as request id": InternalServerError,
    "key echoed by a proxy": DriftlockConnectionError,
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failed_call_traceback_with_locals_shows_no_key(
    failure: str,
    make_caller: MakeCaller,
    served_engine_factory: ServedEngineFactory,
    delays: Delays,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options: dict[str, Any] = {"api_key": KEY, "max_retries": 1}
    transport: Any = None
    with contextlib.ExitStack() as stack:
        if failure == "wrong key":
            options["base_url"] = served_engine_factory(api_key=OTHER_KEY).url
        elif failure == "engine fault":
            served = served_engine_factory()

            def broken(*args: Any, **kwargs: Any) -> Any:
                raise RuntimeError("engine bug")

            monkeypatch.setattr(served.engine, "detect", broken)
            options["base_url"] = served.url
        elif failure == "connection refused":
            options["base_url"] = f"http://127.0.0.1:{closed_port()}"
        elif failure == "timeout":
            options["base_url"] = stack.enter_context(RawServer(stall)).url
            options["timeout"] = 0.2
        elif failure == "key echoed by a proxy":
            transport = httpx.MockTransport(refusing_proxy)
        else:
            kind = "envelope" if "body" in failure else "request-id"
            options["base_url"] = stack.enter_context(serve_asgi(echoing(kind)))
        caller = make_caller(transport, **options)
        with pytest.raises(DriftlockError) as caught:
            caller.detect()
    assert isinstance(caught.value, FAILURES[failure])
    assert leaks(with_locals(caught.value)) == []


# -- log records with the stack's locals ----------------------------------------------------------


@pytest.mark.parametrize(
    "failure", ["key echoed in the body", "key echoed as request id", "key echoed by a proxy"]
)
def test_debug_log_records_with_stack_locals_show_no_key(
    failure: str, make_caller: MakeCaller, delays: Delays
) -> None:
    # The SDK's records and httpx's. Not httpcore's: at DEBUG it logs the answer's headers as
    # received, so a server reflecting the key in one shows in httpcore's own message (and its
    # frames hold the raw bytes read), which no client of httpcore can change.
    options: dict[str, Any] = {"api_key": KEY, "max_retries": 1}
    with rendering_locals("driftlock", "httpx") as log:
        if failure == "key echoed by a proxy":
            caller = make_caller(httpx.MockTransport(refusing_proxy), **options)
            with pytest.raises(DriftlockConnectionError):
                caller.detect()
        else:
            kind = "envelope" if "body" in failure else "request-id"
            with serve_asgi(echoing(kind)) as url:
                caller = make_caller(None, base_url=url, **options)
                with pytest.raises(DriftlockAPIError):
                    caller.detect()
    log.assert_clean()


async def test_a_middleware_logging_a_refused_delivery_shows_no_key_in_stack_locals(
    served_engine_factory: ServedEngineFactory, locals_log: LocalsLog
) -> None:
    served = served_engine_factory(api_key=OTHER_KEY)
    app = FastAPI()
    app.add_middleware(DriftlockMiddleware, api_key=KEY, base_url=served.url, stream_id="s")

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ok": "yes"}

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app"
    ) as http:
        assert (await http.get("/ping")).status_code == 200
    middleware = get_driftlock_middleware(app)
    assert middleware is not None
    assert await middleware.flush(timeout=30)
    assert middleware.stats().failed == 1  # refused, and logged
    await middleware.aclose()
    assert any("Could not deliver" in text for text in locals_log.rendered)
    locals_log.assert_clean()


def test_an_in_process_engine_failure_logs_no_key_in_its_traceback(
    locals_log: LocalsLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = get_engine("secrets-reach")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("engine bug")

    monkeypatch.setattr(engine, "detect", broken)
    with (
        DriftlockSyncClient(api_key=KEY, base_url="local://secrets-reach", max_retries=0) as client,
        pytest.raises(InternalServerError) as caught,
    ):
        client.detect(stream_id="s", events=[{"a": 1}])
    assert any("unexpected error" in text for text in locals_log.rendered)
    locals_log.assert_clean()
    assert leaks(with_locals(caught.value)) == []


# -- a user's own http_client ---------------------------------------------------------------------


def test_requests_seen_by_your_sync_http_client_hooks_print_without_the_key(
    served_engine_factory: ServedEngineFactory,
) -> None:
    served = served_engine_factory(api_key=KEY)
    shown: list[str] = []
    sent: list[str] = []

    def on_request(request: httpx.Request) -> None:
        sent.append(request.headers["x-api-key"])
        shown.extend([repr(request.headers), str(request.headers), repr(request.headers.copy())])

    def on_response(response: httpx.Response) -> None:
        shown.append(repr(response.request.headers))

    hooks = {"request": [on_request], "response": [on_response]}
    with (
        httpx.Client(event_hooks=hooks) as mine,
        DriftlockSyncClient(api_key=KEY, base_url=served.url, http_client=mine) as client,
    ):
        assert client.detect(stream_id="s", events=[{"a": 1}]).success
        assert client.with_options(timeout=5).health().ok
    assert sent == [KEY, KEY]  # the key went out as it is: the server accepted it
    assert len(shown) == 8
    for text in shown:
        assert leaks(text) == [], text
        assert "x-api-key" in text.lower()


def test_requests_seen_by_your_async_http_client_hooks_print_without_the_key(
    served_engine_factory: ServedEngineFactory,
) -> None:
    served = served_engine_factory(api_key=KEY)
    shown: list[str] = []
    sent: list[str] = []

    async def on_request(request: httpx.Request) -> None:
        sent.append(request.headers["x-api-key"])
        shown.extend([repr(request.headers), repr(request.headers.copy())])

    async def on_response(response: httpx.Response) -> None:
        shown.append(repr(response.request.headers))

    async def run() -> None:
        hooks = {"request": [on_request], "response": [on_response]}
        async with (
            httpx.AsyncClient(event_hooks=hooks) as mine,
            DriftlockClient(api_key=KEY, base_url=served.url, http_client=mine) as client,
        ):
            assert (await client.detect(stream_id="s", events=[{"a": 1}])).success

    asyncio.run(run())
    assert sent == [KEY]
    assert len(shown) == 3
    for text in shown:
        assert leaks(text) == [], text


def redirecting_to(target: str) -> Any:
    """An ASGI server answering every request with a 307 to ``target``."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while (await receive()).get("more_body", False):
            pass
        location = (target + scope["path"]).encode()
        await send(
            {"type": "http.response.start", "status": 307, "headers": [(b"location", location)]}
        )
        await send({"type": "http.response.body", "body": b""})

    return app


def recording(seen: list[dict[bytes, bytes]]) -> Any:
    """An ASGI server remembering the headers of every request, answering 200 ``{}``."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while (await receive()).get("more_body", False):
            pass
        seen.append(dict(scope["headers"]))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def test_a_redirect_never_takes_the_key_elsewhere_through_your_http_client() -> None:
    # Your client follows redirects (for your own calls); the SDK's requests through it must
    # not: httpx drops Authorization on a redirect to another origin, but not X-Api-Key.
    seen: list[dict[bytes, bytes]] = []
    with (
        serve_asgi(recording(seen)) as elsewhere,
        serve_asgi(redirecting_to(elsewhere)) as url,  # another port: another origin
        httpx.Client(follow_redirects=True) as mine,
        DriftlockSyncClient(api_key=KEY, base_url=url, http_client=mine, max_retries=0) as client,
        pytest.raises(DriftlockAPIError) as caught,
    ):
        client.detect(stream_id="s", events=[{"a": 1}])
    assert caught.value.status_code == 307
    assert seen == []
    assert leaks(str(caught.value)) == []
