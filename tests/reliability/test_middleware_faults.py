"""Every middleware through Driftlock outages: down, slow, flapping, rate limiting.

Each scenario serves a real app on 127.0.0.1 (FastAPI and Django under uvicorn, a plain WSGI
app and Flask under a threaded WSGI server) and sends a burst of requests while Driftlock
misbehaves, then lets Driftlock recover. In every one:

- every response of the app is correct;
- no request waits on Driftlock, shown structurally: the burst completes while Driftlock holds
  the sender's request unanswered (or refuses every connection);
- memory stays bounded: a thread samples the counters throughout, and every snapshot has at
  most ``max_queue_size`` events held and balances ``captured == sent + dropped + failed +
  queued``, with counters that never go back;
- drops are logged once per interval, with their running count;
- once Driftlock is back, everything still held is delivered, and the engine holds exactly
  what was sent: nothing lost, nothing twice (a resend after a timeout repeats the batch's
  Idempotency-Key).

The last tests send hostile requests (bodies and contexts a client or a handler controls)
and check that one bad event never costs the others their delivery.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
import types
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import flask
import httpx
import pytest
from fastapi import FastAPI, Request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integrations.django_site import setup

setup()  # Django configured once per process, as the integration tests do

from django.core.asgi import get_asgi_application  # noqa: E402
from django.test import override_settings  # noqa: E402

import driftlock.django  # noqa: E402
from driftlock import DriftlockClient, DriftlockSyncClient, _capture  # noqa: E402
from driftlock._batch import DeliveryState, DeliveryStats  # noqa: E402
from driftlock.fastapi import DriftlockMiddleware, get_driftlock_middleware  # noqa: E402
from driftlock.flask import Driftlock  # noqa: E402
from driftlock.local.app import create_app  # noqa: E402
from driftlock.local.transport import get_engine  # noqa: E402
from driftlock.wsgi import DriftlockWSGIMiddleware  # noqa: E402
from tests.conftest import ServedEngine  # noqa: E402
from tests.integrations.support import ingested, shop_app  # noqa: E402
from tests.integrations.wsgi_support import serve_wsgi  # noqa: E402
from tests.reliability.support import (  # noqa: E402
    FlakyDriftlock,
    Sampler,
    closed_port,
    json_answer,
    serve_on_port,
)
from tests.support.server import serve_asgi  # noqa: E402

BOUND = 50  # max_queue_size
FIRST = 10  # requests before the burst: one full batch, which the sender takes at once
BURST = 200
QUEUE_FULL = "Driftlock queue full (max_queue_size=50)"


# -- the hosts: every integration, over real HTTP ------------------------------------------


@dataclasses.dataclass
class Host:
    """One app with a Driftlock integration, served on 127.0.0.1."""

    name: str
    url: str
    stats: Callable[[], DeliveryStats]
    state: Callable[[], DeliveryState]
    flush: Callable[[float], Awaitable[bool]]
    close: Callable[[], Awaitable[None]]
    item_path: str  # "/items/{}" with the framework's spelling

    async def get_all(self, numbers: range) -> None:
        """Request every item at once; every answer must be right."""
        # 16 at a time: wsgiref's listen backlog is short, and SYNs beyond it are retried late.
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(base_url=self.url, timeout=30, limits=limits) as http:
            paths = [self.item_path.format(n) for n in numbers]
            answers = await asyncio.gather(*(http.get(path) for path in paths))
        assert [a.status_code for a in answers] == [200] * len(numbers)
        assert [a.json() for a in answers] == [{"item_id": n} for n in numbers]


OPTIONS: dict[str, Any] = {
    "batch_size": 10,
    "max_queue_size": BOUND,
    "flush_interval": 0.05,
    "max_retries": 1_000_000,
}


def quick_retries(state: DeliveryState) -> None:
    """Retry every 10 to 50 ms (the retry policy is otherwise the default one)."""
    state.options = dataclasses.replace(state.options, retry_backoff=0.01, max_retry_backoff=0.05)


@contextmanager
def fastapi_host(driftlock_url: str, api_key: str, stream: str, timeout: float) -> Iterator[Host]:
    client = DriftlockClient(api_key=api_key, base_url=driftlock_url, timeout=timeout)
    app = shop_app(client=client, stream_id=stream, **OPTIONS)
    middleware = get_driftlock_middleware(app)
    assert middleware is not None
    quick_retries(middleware.delivery.state)

    async def close() -> None:
        await middleware.aclose()
        await client.aclose()

    with serve_asgi(app) as url:
        yield Host(
            "fastapi",
            url,
            middleware.stats,
            lambda: middleware.delivery.state,
            middleware.flush,
            close,
            "/items/{}",
        )


def wsgi_items(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    item_id = int(environ["PATH_INFO"].rsplit("/", 1)[1])
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"item_id": item_id}).encode()]


def flask_items() -> Any:
    app = flask.Flask("reliability")

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    return app


def sync_host(name: str, url: str, middleware: DriftlockWSGIMiddleware, path: str) -> Host:
    async def flush(limit: float) -> bool:
        return await asyncio.to_thread(middleware.flush, limit)

    async def close() -> None:
        await asyncio.to_thread(middleware.close)

    return Host(
        name, url, middleware.stats, lambda: middleware.monitor.delivery.state, flush, close, path
    )


@contextmanager
def wsgi_host(driftlock_url: str, api_key: str, stream: str, timeout: float) -> Iterator[Host]:
    client = DriftlockSyncClient(api_key=api_key, base_url=driftlock_url, timeout=timeout)
    middleware = DriftlockWSGIMiddleware(wsgi_items, client=client, stream_id=stream, **OPTIONS)
    quick_retries(middleware.monitor.delivery.state)
    with client, serve_wsgi(middleware) as url:
        yield sync_host("wsgi", url, middleware, "/items/{}")


@contextmanager
def flask_host(driftlock_url: str, api_key: str, stream: str, timeout: float) -> Iterator[Host]:
    client = DriftlockSyncClient(api_key=api_key, base_url=driftlock_url, timeout=timeout)
    app = flask_items()
    Driftlock(app, client=client, stream_id=stream, **OPTIONS)
    middleware = app.extensions["driftlock"]
    quick_retries(middleware.monitor.delivery.state)
    with client, serve_wsgi(app) as url:
        yield sync_host("flask", url, middleware, "/items/{}")


@contextmanager
def django_host(driftlock_url: str, api_key: str, stream: str, timeout: float) -> Iterator[Host]:
    client = DriftlockSyncClient(api_key=api_key, base_url=driftlock_url, timeout=timeout)
    settings = {"CLIENT": client, "STREAM_ID": stream, **{k.upper(): v for k, v in OPTIONS.items()}}
    with client, override_settings(DRIFTLOCK=settings):
        # The settings' monitor (made on first use), for its retry policy.
        state = driftlock.django._current().monitor.delivery.state
        quick_retries(state)

        async def flush(limit: float) -> bool:
            return await asyncio.to_thread(driftlock.django.flush, limit)

        async def close() -> None:
            await asyncio.to_thread(driftlock.django.close)

        with serve_asgi(get_asgi_application()) as url:
            yield Host(
                "django", url, driftlock.django.stats, lambda: state, flush, close, "/items/{}/"
            )


HOSTS = {"fastapi": fastapi_host, "wsgi": wsgi_host, "flask": flask_host, "django": django_host}


async def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 15
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen"
        await asyncio.sleep(0.005)


@contextmanager
def a_minute_later(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The log limiter's clock jumps past its interval (nothing else is affected)."""
    real = time.monotonic
    shifted = types.SimpleNamespace(**{name: getattr(time, name) for name in dir(time)})
    shifted.monotonic = lambda: real() + 61.0
    with monkeypatch.context() as patch:
        patch.setattr(_capture, "time", shifted)
        yield


async def outage(
    host: Host,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    stuck: Callable[[], bool],
) -> None:
    """The outage half of a scenario: the burst, the bound, the drops and their log.

    ``stuck()`` says the sender is stuck on Driftlock (its request held, or refused again)."""
    await host.get_all(range(FIRST))
    await wait_until(stuck, "the sender reaching Driftlock")
    with caplog.at_level(logging.WARNING, logger="driftlock"):
        await host.get_all(range(BURST))
    assert stuck(), "Driftlock answered during the burst"
    # A request is recorded just after its answer went out: let the last ones land.
    await wait_until(lambda: host.stats().captured == FIRST + BURST, "capture")
    during = host.stats()
    dropped = FIRST + BURST - BOUND
    assert (during.captured, during.queued, during.dropped) == (FIRST + BURST, BOUND, dropped)
    assert (during.sent, during.failed) == (0, 0)
    logged = [r.getMessage() for r in caplog.records if QUEUE_FULL in r.getMessage()]
    assert logged == [f"{QUEUE_FULL}: 1 events dropped so far"]  # once per interval

    with a_minute_later(monkeypatch), caplog.at_level(logging.WARNING, logger="driftlock"):
        await host.get_all(range(1))
        await wait_until(lambda: host.stats().dropped == dropped + 1, "the drop")
    logged = [r.getMessage() for r in caplog.records if QUEUE_FULL in r.getMessage()]
    assert logged[-1] == (
        f"{QUEUE_FULL}: {dropped + 1} events dropped so far "
        f"({dropped - 1} similar messages suppressed)"
    )


async def recovered(host: Host, served: ServedEngine, stream: str, sampler: Sampler) -> None:
    """The recovery half: what was held is delivered, once."""
    assert await host.flush(60)
    after = host.stats()
    assert (after.queued, after.failed, after.sent) == (0, 0, BOUND)
    assert after.captured == FIRST + BURST + 1 == after.sent + after.dropped
    sampler.check(BOUND)
    await host.close()
    assert ingested(served.url, served.api_key, stream) == BOUND


hosts = pytest.mark.parametrize("kind", sorted(HOSTS))


@hosts
async def test_driftlock_down(
    kind: str,
    served_engine: ServedEngine,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = closed_port()
    stream = f"down-{kind}"
    with HOSTS[kind](f"http://127.0.0.1:{port}", served_engine.api_key, stream, 10.0) as host:
        refused = 0
        state = host.state()
        attempt_failed = state.attempt_failed

        def count(batch: Any, exc: BaseException) -> float | None:
            nonlocal refused
            refused += 1
            return attempt_failed(batch, exc)

        state.attempt_failed = count  # type: ignore[method-assign]
        with Sampler(host.stats) as sampler:
            await outage(host, caplog, monkeypatch, lambda: refused > 0)
            so_far = refused
            await wait_until(lambda: refused > so_far, "another refused attempt")  # still down
            engine_app = create_app(served_engine.engine, api_key=served_engine.api_key)
            with serve_on_port(engine_app, port):  # Driftlock is back where it was
                await recovered(host, served_engine, stream, sampler)


@hosts
async def test_driftlock_slow(
    kind: str,
    served_engine: ServedEngine,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Driftlock holds every request; the client gives up after 0.3 s and the batch is resent,
    # while the engine later answers every held copy: it must ingest the batch once.
    front = FlakyDriftlock(create_app(served_engine.engine, api_key=served_engine.api_key))
    front.gate.clear()
    stream = f"slow-{kind}"
    with (
        serve_asgi(front) as driftlock_url,
        HOSTS[kind](driftlock_url, served_engine.api_key, stream, 0.3) as host,
        Sampler(host.stats) as sampler,
    ):
        await outage(host, caplog, monkeypatch, front.held.is_set)
        assert not front.gate.is_set()
        await wait_until(lambda: front.count >= 2, "a resend while held")
        front.gate.set()
        await recovered(host, served_engine, stream, sampler)


@hosts
async def test_driftlock_flapping(
    kind: str,
    served_engine: ServedEngine,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = (502, {"content-type": "text/html"}, b"<html><h1>502 Bad Gateway</h1></html>")
    busy = json_answer(503, {"error": {"code": "unavailable", "message": "restarting"}})
    # Two answers in three fail, alternately at the proxy and at Driftlock itself.
    flaps = {1: page, 2: busy, 0: None}
    front = FlakyDriftlock(
        create_app(served_engine.engine, api_key=served_engine.api_key),
        lambda n: flaps[n % 3],
    )
    front.gate.clear()
    stream = f"flapping-{kind}"
    with (
        serve_asgi(front) as driftlock_url,
        HOSTS[kind](driftlock_url, served_engine.api_key, stream, 10.0) as host,
        Sampler(host.stats) as sampler,
    ):
        await outage(host, caplog, monkeypatch, front.held.is_set)
        front.gate.set()
        await recovered(host, served_engine, stream, sampler)
    assert front.count >= 3 * (BOUND // 10) - 1  # every batch met failures first


@hosts
async def test_driftlock_answering_429(
    kind: str,
    served_engine: ServedEngine,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The engine's own rate limiter: 429 with Retry-After once two requests a second are spent.
    limited = create_app(served_engine.engine, api_key=served_engine.api_key, rate_limit="2/second")
    front = FlakyDriftlock(limited)
    front.gate.clear()
    stream = f"rate-limited-{kind}"
    with (
        serve_asgi(front) as driftlock_url,
        HOSTS[kind](driftlock_url, served_engine.api_key, stream, 10.0) as host,
        Sampler(host.stats) as sampler,
    ):
        await outage(host, caplog, monkeypatch, front.held.is_set)
        with caplog.at_level(logging.DEBUG, logger="driftlock"):
            front.gate.set()
            await recovered(host, served_engine, stream, sampler)
        statuses = [
            int(r.getMessage().split(" -> ")[1].split()[0])
            for r in caplog.records
            if r.name == "driftlock" and "/v1/detect -> " in r.getMessage()
        ]
    assert 429 in statuses  # the limiter did refuse some of them


# -- hostile input through the middleware ------------------------------------------------------


def hostile_app(contexts: dict[str, Any], **options: Any) -> FastAPI:
    app = FastAPI()
    app.add_middleware(DriftlockMiddleware, **options)

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        case = request.headers.get("x-case")
        if case in contexts:
            request.state.driftlock_context = contexts[case]
        return {"read": len(await request.body())}

    return app


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


class Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


json_text = st.text(max_size=20) | st.sampled_from(["\ud800", "x\udfffy", "\x00", "é" * 5])
bodies = st.one_of(
    st.binary(max_size=200),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | json_text,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_text, inner, max_size=4),
        max_leaves=20,
    ).map(lambda value: repr(value).encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            b'{"a": "\\ud800"}',
            b'{"password": "x", "nested": [{"\\udc00": NaN}]}',
            b'{"big": 1e999, "small": -1e999}',
            b"[" * 3000 + b"]" * 3000,
            b'{"a":' * 120 + b"1" + b"}" * 120,
            b'{"a": 1' + b"0" * 5000 + b"}",
            b"\xff\xfe\x00{",
        ]
    ),
    st.integers(0, 400).map(lambda depth: str(nested(depth)).replace("'", '"').encode()),
)
contexts = st.one_of(
    st.none(),
    st.dictionaries(
        st.text(max_size=8),
        st.one_of(
            st.floats(),
            json_text,
            st.sets(st.integers(), max_size=3),
            st.binary(max_size=8),
            st.integers(-(10**30), 10**30),
            st.just(Opaque()),
            st.integers(95, 130).map(nested),
            st.dictionaries(st.integers(), st.integers(), max_size=2),
        ),
        max_size=4,
    ),
)
content_types = st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "application/vnd.x+json", ""]
)


@pytest.fixture(scope="module")
def hostile_engine() -> tuple[str, list[dict[str, Any]]]:
    """A ``local://`` engine for the hostile requests, and the events it received."""
    name = f"reliability-hostile-{time.monotonic_ns()}"
    received: list[dict[str, Any]] = []
    engine = get_engine(name)
    detect = engine.detect

    def spy(events: Any, **kwargs: Any) -> Any:
        received.extend(events)
        return detect(events, **kwargs)

    engine.detect = spy  # type: ignore[method-assign]
    return f"local://{name}", received


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(st.tuples(bodies, content_types, contexts), min_size=1, max_size=6))
def test_hostile_requests_never_cost_other_events(
    hostile_engine: tuple[str, list[dict[str, Any]]], requests: list[tuple[bytes, str, Any]]
) -> None:
    local, received = hostile_engine
    received.clear()
    cases = {str(i): context for i, (_, _, context) in enumerate(requests)}
    app = hostile_app(
        cases, base_url=local, stream_id="hostile", capture_body=True, batch_size=1000
    )

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            for i, (body, content_type, _) in enumerate(requests):
                headers = {"content-type": content_type, "x-case": str(i)}
                answer = await http.post("/raw", content=body, headers=headers)
                assert answer.json() == {"read": len(body)}
            for i in range(3):  # ordinary requests in the same batch
                assert (await http.post("/raw", json={"n": i})).status_code == 200
        middleware = get_driftlock_middleware(app)
        assert middleware is not None
        assert await middleware.flush(timeout=30)
        stats = middleware.stats()
        assert (stats.captured, stats.sent, stats.failed) == (len(requests) + 3,) * 2 + (0,)
        await middleware.aclose()

    asyncio.run(run())
    assert len(received) == len(requests) + 3
    assert [e["body"]["request_body"] for e in received[-3:]] == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_an_event_that_cannot_be_sent_costs_only_itself() -> None:
    circular: dict[str, Any] = {}
    circular["self"] = circular
    cases = {"loop": {"ring": circular}, "huge": {"blob": "x" * 11_000_000}}
    app = hostile_app(cases, base_url=f"local://hopeless-{time.monotonic_ns()}", batch_size=100)

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            for case in ("a", "loop", "b", "huge", "c"):
                answer = await http.post("/raw", content=b"{}", headers={"x-case": case})
                assert answer.status_code == 200
        middleware = get_driftlock_middleware(app)
        assert middleware is not None
        assert await middleware.flush(timeout=30)
        stats = middleware.stats()
        assert (stats.captured, stats.sent, stats.failed, stats.queued) == (5, 3, 2, 0)
        await middleware.aclose()

    asyncio.run(run())
