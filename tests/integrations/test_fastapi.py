"""DriftlockMiddleware in process (httpx's ASGITransport and raw ASGI), delivering to a served
engine; faults are injected with httpx.MockTransport in front of it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request

from driftlock import DriftlockClient
from driftlock._capture import InvalidOptionError
from driftlock.exceptions import DriftlockConfigError, DriftlockError
from driftlock.fastapi import (
    SCOPE_KEY,
    DriftlockMiddleware,
    get_driftlock_client,
    get_driftlock_middleware,
)
from tests.conftest import ServedEngine
from tests.integrations.support import (
    BOOM,
    Boom,
    Lifespan,
    ingested,
    recorder,
    shop_app,
    wait_for,
)


@asynccontextmanager
async def asgi_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def middleware_of(app: FastAPI) -> DriftlockMiddleware:
    middleware = get_driftlock_middleware(app)
    assert middleware is not None
    return middleware


@asynccontextmanager
async def proxy_client(
    served: ServedEngine, handler: Callable[[httpx.Request], Awaitable[httpx.Response | None]]
) -> AsyncIterator[DriftlockClient]:
    """A facade client whose requests meet ``handler`` (fault injection) before the engine:
    it may answer itself (or raise, or stall); when it returns None the request goes on."""
    async with httpx.AsyncClient(base_url=served.url) as upstream:

        async def route(request: httpx.Request) -> httpx.Response:
            early = await handler(request)
            if early is not None:
                return early
            response = await upstream.send(
                upstream.build_request(
                    request.method,
                    request.url.path,
                    headers=request.headers,
                    content=request.content,
                )
            )
            return httpx.Response(
                response.status_code, headers=response.headers, content=await response.aread()
            )

        transport = httpx.MockTransport(route)
        async with (
            httpx.AsyncClient(base_url=served.url, transport=transport) as http,
            DriftlockClient(
                api_key=served.api_key, base_url=served.url, http_client=http
            ) as client,
        ):
            yield client


# -- what is captured --------------------------------------------------------------------------


async def test_events_arrive_with_the_documented_shape(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    app = shop_app(
        api_key=served_engine.api_key,
        base_url=served_engine.url,
        stream_id="shape",
        event_hook=recorder(events),
    )
    async with asgi_client(app) as client:
        response = await client.get(
            "/items/42?color=red&size=m&color=blue", headers={"user-agent": "shape-test"}
        )
        assert response.json() == {"item_id": 42}
        await client.get("/api/users/ann/orders/7")
        await client.get("/admin/stats/cpu")
        await client.get("/nowhere")
        await client.get("/missing")
        assert await middleware_of(app).flush()
    body = events[0]["body"]
    assert events[0]["type"] == "http_request"
    assert events[0]["timestamp"].endswith("Z")
    assert body["method"] == "GET"
    assert body["route"] == "/items/{item_id}"
    assert body["path"] == "/items/42"
    assert body["status_code"] == 200
    assert body["duration_ms"] >= body["ttfb_ms"] >= 0
    assert body["response_bytes"] == len(response.content)
    assert body["request_bytes"] == 0
    assert body["user_agent"] == "shape-test"
    assert body["query_keys"] == ["color", "size"]
    assert body["tenant"] == "acme"  # from request.state.driftlock_context...
    assert "client" not in body
    assert "red" not in str(events)  # no query values, headers or bodies by default
    routes = [(e["body"]["route"], e["body"]["status_code"]) for e in events[1:]]
    assert routes == [
        ("/api/users/{user_id}/orders/{order_id}", 200),
        ("/admin/stats/{name}", 200),
        (None, 404),
        ("/missing", 404),
    ]
    assert ingested(served_engine.url, served_engine.api_key, "shape") == 5
    assert middleware_of(app).stats().sent == 5
    await middleware_of(app).aclose()


async def test_excluded_paths_are_not_captured(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    app = shop_app(
        api_key=served_engine.api_key,
        base_url=served_engine.url,
        stream_id="excluded",
        exclude_paths=["/docs", "/openapi.json", "/items/"],
        event_hook=recorder(events),
    )
    async with asgi_client(app) as client:
        for path in ("/docs", "/docs/oauth2-redirect", "/openapi.json", "/items/1"):
            assert (await client.get(path)).status_code == 200
        for path in ("/docsearch", "/openapi.json.bak", "/"):
            await client.get(path)
        assert await middleware_of(app).flush()
    assert [e["body"]["path"] for e in events] == ["/docsearch", "/openapi.json.bak", "/"]
    assert ingested(served_engine.url, served_engine.api_key, "excluded") == 3
    await middleware_of(app).aclose()


async def test_root_path_is_stripped_for_exclusion_and_routes(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    app = shop_app(
        api_key=served_engine.api_key,
        base_url=served_engine.url,
        exclude_paths=["/docs"],
        event_hook=recorder(events),
    )
    transport = httpx.ASGITransport(app=app, root_path="/shop")
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await client.get("/shop/docs")
        await client.get("/shop/items/3")
        await middleware_of(app).aclose()
    assert [(e["body"]["path"], e["body"]["route"]) for e in events] == [
        ("/items/3", "/items/{item_id}")
    ]


async def test_an_app_exception_is_reraised_unchanged_and_recorded_as_500(
    served_engine: ServedEngine,
) -> None:
    events: list[dict[str, Any]] = []
    app = shop_app(
        api_key=served_engine.api_key, base_url=served_engine.url, event_hook=recorder(events)
    )
    async with asgi_client(app) as client:
        with pytest.raises(Boom) as raised:
            await client.get("/boom")
        assert raised.value is BOOM
        await middleware_of(app).aclose()
    assert events[0]["body"]["status_code"] == 500
    assert events[0]["body"]["exception"] == "Boom"
    assert events[0]["body"]["route"] == "/boom"


async def test_bodies_only_when_opted_in_copied_as_read_and_redacted(
    served_engine: ServedEngine,
) -> None:
    events: list[dict[str, Any]] = []
    app = shop_app(
        api_key=served_engine.api_key,
        base_url=served_engine.url,
        capture_body=True,
        max_body_bytes=200,
        redact_fields=["email"],
        capture_headers=["authorization", "accept"],
        capture_client=True,
        event_hook=recorder(events),
    )
    payload = {"user": "ann", "password": "hunter2", "email": "a@b.c", "tags": ["x"]}
    async with asgi_client(app) as client:
        response = await client.post(
            "/echo", json=payload, headers={"authorization": "Bearer t0k3n", "accept": "*/*"}
        )
        assert response.json() == payload  # the app read the whole body itself
        await client.post("/unread", json=payload)
        await client.post("/echo", json={"big": "x" * 500})
        await middleware_of(app).aclose()
    first, unread, big = (e["body"] for e in events)
    assert first["request_body"] == {
        "user": "ann",
        "password": "[REDACTED]",
        "email": "[REDACTED]",
        "tags": ["x"],
    }
    assert first["request_headers"] == {"authorization": "[REDACTED]", "accept": "*/*"}
    assert first["client"] == "127.0.0.1"
    assert first["request_bytes"] == len(response.request.content)
    assert "hunter2" not in str(events)
    assert "t0k3n" not in str(events)
    assert "request_body" not in unread  # never pre-read on the app's behalf
    assert "request_body" not in big
    assert big["request_body_truncated"] is True


async def test_sampling_and_disabling(served_engine: ServedEngine) -> None:
    for options in ({"sample_rate": 0.0}, {"enabled": False}):
        app = shop_app(api_key=served_engine.api_key, base_url=served_engine.url, **options)
        async with asgi_client(app) as client:
            for _ in range(20):
                assert (await client.get("/")).status_code == 200
        assert middleware_of(app).stats().captured == 0
        await middleware_of(app).aclose()


# -- the ASGI contract ---------------------------------------------------------------------------


async def test_other_scopes_pass_through_untouched(served_engine: ServedEngine) -> None:
    seen: list[tuple[Any, Any, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append((dict(scope), receive, send))

    middleware = DriftlockMiddleware(
        inner, api_key=served_engine.api_key, base_url=served_engine.url
    )

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        pass

    for kind in ("websocket", "custom-protocol"):
        scope = {"type": kind, "path": "/ws"}
        await middleware(scope, receive, send)
        assert seen[-1] == (scope, receive, send)  # the very same callables, the scope as is
    assert middleware.stats().captured == 0
    await middleware.aclose()


async def test_streaming_passes_through_unbuffered(served_engine: ServedEngine) -> None:
    release = asyncio.Event()

    async def streaming(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await release.wait()  # only the client, having seen "first", lets the app go on
        await send({"type": "http.response.body", "body": b"last"})

    middleware = DriftlockMiddleware(
        streaming, api_key=served_engine.api_key, base_url=served_engine.url
    )
    received: list[bytes] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body":
            received.append(message["body"])
            release.set()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": "/s", "headers": [], "query_string": b""}
    await asyncio.wait_for(middleware(scope, receive, send), timeout=30)
    assert received == [b"first", b"last"]
    assert middleware.stats().captured == 1
    await middleware.aclose()


async def test_no_per_request_state_on_the_instance(served_engine: ServedEngine) -> None:
    app = shop_app(api_key=served_engine.api_key, base_url=served_engine.url, flush_interval=3600)
    async with asgi_client(app) as client:
        await client.get("/")  # the sender starts on first use
        middleware = middleware_of(app)
        before = dict(vars(middleware))
        await asyncio.gather(*(client.get(f"/items/{i}") for i in range(30)))
        assert vars(middleware) == before
        assert all(vars(middleware)[k] is v for k, v in before.items())
        await middleware.aclose()


async def test_request_time_failures_never_reach_the_app(
    served_engine: ServedEngine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_hook(event: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("hook bug")

    app = shop_app(
        api_key=served_engine.api_key, base_url=served_engine.url, event_hook=broken_hook
    )
    async with asgi_client(app) as client:
        with caplog.at_level(logging.ERROR, logger="driftlock"):
            assert (await client.get("/items/1")).status_code == 200
            middleware = middleware_of(app)

            def broken_offer(event: Any) -> int:
                raise RuntimeError("queue bug")

            monkeypatch.setattr(middleware.capture, "_hook", None)
            monkeypatch.setattr(middleware.delivery.state, "offer", broken_offer)
            assert (await client.get("/items/2")).status_code == 200
    assert "hook bug" in caplog.text
    assert "queue bug" in caplog.text
    stats = middleware.stats()
    assert (stats.captured, stats.filtered) == (0, 1)
    await middleware.aclose()


def test_invalid_options_raise_at_construction(served_engine: ServedEngine) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    key, url = served_engine.api_key, served_engine.url
    cases: list[tuple[str, Any]] = [
        ("sample_rate", 2),
        ("batch_size", 0),
        ("max_batch_size", 5000),
        ("max_queue_size", -5),
        ("flush_interval", 0),
        ("exclude_paths", "/docs"),
        ("on_anomaly", "not callable"),
        ("event_hook", 1),
        ("enabled", "no"),
    ]
    for option, value in cases:
        with pytest.raises(InvalidOptionError, match=option) as raised:
            DriftlockMiddleware(app, api_key=key, base_url=url, **{option: value})
        assert raised.value.option == option
        assert isinstance(raised.value, ValueError)
        assert isinstance(raised.value, DriftlockConfigError)
    with pytest.raises(InvalidOptionError, match="client"):
        DriftlockMiddleware(app, api_key=key, client=DriftlockClient(api_key=key, base_url=url))


def test_a_missing_key_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIFTLOCK_API_KEY", raising=False)
    monkeypatch.delenv("DRIFTLOCK_BASE_URL", raising=False)
    with pytest.raises(DriftlockConfigError, match="DRIFTLOCK_API_KEY"):
        DriftlockMiddleware(FastAPI())


# -- delivery ------------------------------------------------------------------------------


async def test_a_stalled_driftlock_never_holds_a_request(served_engine: ServedEngine) -> None:
    gate = asyncio.Event()
    arrived = asyncio.Event()

    async def stall(request: httpx.Request) -> None:
        arrived.set()
        await gate.wait()  # Driftlock accepted the connection and went quiet

    async with proxy_client(served_engine, stall) as driftlock:
        app = shop_app(client=driftlock, stream_id="stalled", batch_size=5, max_queue_size=40)
        await stalled_scenario(app, gate, arrived)
    assert ingested(served_engine.url, served_engine.api_key, "stalled") == 40


async def stalled_scenario(app: FastAPI, gate: asyncio.Event, arrived: asyncio.Event) -> None:
    async with asgi_client(app) as client:
        for i in range(5):
            await client.get(f"/items/{i}")
        await arrived.wait()  # the sender is now blocked inside its first batch...
        responses = await asyncio.gather(*(client.get(f"/items/{i}") for i in range(100)))
        # ...and every request still completed, correctly, while it stayed blocked.
        assert [r.json()["item_id"] for r in responses] == list(range(100))
        assert not gate.is_set()
        stats = middleware_of(app).stats()
        assert (stats.captured, stats.queued, stats.dropped, stats.sent) == (105, 40, 65, 0)
        gate.set()  # Driftlock recovers: what was held is delivered
        assert await middleware_of(app).flush(timeout=30)
        stats = middleware_of(app).stats()
        assert (stats.sent, stats.queued, stats.dropped) == (40, 0, 65)
        await middleware_of(app).aclose()


async def test_a_request_arriving_while_the_queue_is_full_reaches_the_app_untouched(
    served_engine: ServedEngine,
) -> None:
    gate = asyncio.Event()
    arrived = asyncio.Event()
    given: list[tuple[Any, Any]] = []

    async def stall(request: httpx.Request) -> None:
        arrived.set()
        await gate.wait()

    async def hello(scope: Any, receive: Any, send: Any) -> None:
        given.append((receive, send))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hello"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    answered: list[bytes] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body":
            answered.append(message["body"])

    def scope() -> dict[str, Any]:
        return {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}

    async with proxy_client(served_engine, stall) as driftlock:
        middleware = DriftlockMiddleware(
            hello, client=driftlock, stream_id="asgi-full", batch_size=2, max_queue_size=2
        )
        for _ in range(2):
            await middleware(scope(), receive, send)
            assert given[-1] != (receive, send)  # captured: the exchange is observed
        await asyncio.wait_for(arrived.wait(), 30)  # both events are in flight: the queue is full
        await middleware(scope(), receive, send)
        assert given[-1] == (receive, send)  # the server's own callables
        assert answered == [b"hello"] * 3
        stats = middleware.stats()
        assert (stats.captured, stats.queued, stats.dropped) == (3, 2, 1)
        gate.set()
        assert await middleware.flush(timeout=30)
        await middleware(scope(), receive, send)  # room again: captured again
        assert given[-1] != (receive, send)
        assert await middleware.flush(timeout=30)
        assert (middleware.stats().sent, middleware.stats().dropped) == (3, 1)
        await middleware.aclose()
    assert ingested(served_engine.url, served_engine.api_key, "asgi-full") == 3


async def test_outage_then_recovery_loses_nothing_that_was_queued(
    served_engine: ServedEngine, caplog: pytest.LogCaptureFixture
) -> None:
    state_of_server = {"down": True, "attempts": 0}

    async def flap(request: httpx.Request) -> httpx.Response | None:
        state_of_server["attempts"] += 1
        if state_of_server["down"]:
            raise httpx.ConnectError("connection refused")
        return None

    async with proxy_client(served_engine, flap) as driftlock:
        app = shop_app(client=driftlock, stream_id="flap", batch_size=10, max_retries=1000)
        middleware = middleware_of(app)
        # Quick retries keep the test short; the policy is the default one otherwise.
        state = middleware.delivery.state
        state.options = dataclasses.replace(
            state.options, retry_backoff=0.01, max_retry_backoff=0.05
        )
        async with asgi_client(app) as client:
            with caplog.at_level(logging.WARNING, logger="driftlock"):
                for i in range(25):
                    assert (await client.get(f"/items/{i}")).status_code == 200
                await wait_for(lambda: state_of_server["attempts"] >= 5, "retries")
                assert middleware.stats().queued == 25
                state_of_server["down"] = False
                assert await middleware.flush(timeout=30)
        assert middleware.stats().sent == 25
        await middleware.aclose()
    assert ingested(served_engine.url, served_engine.api_key, "flap") == 25


async def test_rejected_batches_are_counted_and_logged_without_the_key(
    served_engine: ServedEngine, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "dlk_11111111-2222-4333-8444-555555555555.not-the-right-secret"
    app = shop_app(api_key=secret, base_url=served_engine.url, stream_id="denied")
    async with asgi_client(app) as client:
        with caplog.at_level(logging.DEBUG, logger="driftlock"):
            for i in range(3):
                assert (await client.get(f"/items/{i}")).status_code == 200
            assert await middleware_of(app).flush()
    stats = middleware_of(app).stats()
    assert (stats.failed, stats.sent, stats.queued) == (3, 0, 0)
    assert "Could not deliver 3 events" in caplog.text
    assert secret not in caplog.text
    assert "not-the-right-secret" not in caplog.text
    await middleware_of(app).aclose()


# -- lifespan -----------------------------------------------------------------------------------


@pytest.mark.parametrize("own_lifespan", [False, True])
async def test_lifespan_shutdown_flushes_before_the_app_shuts_down(
    served_engine: ServedEngine, own_lifespan: bool
) -> None:
    order: list[str] = []
    if own_lifespan:

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            order.append("startup")
            yield
            order.append(f"app shutdown, queued={middleware_of(app).stats().queued}")

        app = FastAPI(lifespan=lifespan)
    else:
        app = FastAPI()

    @app.get("/ping")
    async def ping() -> str:
        return "pong"

    app.add_middleware(
        DriftlockMiddleware,
        api_key=served_engine.api_key,
        base_url=served_engine.url,
        stream_id=f"lifespan-{own_lifespan}",
        flush_interval=3600,  # nothing leaves before shutdown
    )
    async with Lifespan(app) as lifespan_driver, asgi_client(app) as client:
        for _ in range(12):
            await client.get("/ping")
        middleware = middleware_of(app)
        assert middleware.stats().queued == 12
    assert [m["type"] for m in lifespan_driver.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    if own_lifespan:
        assert order == ["startup", "app shutdown, queued=0"]
    stats = middleware.stats()
    assert (stats.sent, stats.queued) == (12, 0)
    assert ingested(served_engine.url, served_engine.api_key, f"lifespan-{own_lifespan}") == 12


# -- get_driftlock_client ----------------------------------------------------------------------


def who_app(seen: list[DriftlockClient]) -> FastAPI:
    app = FastAPI()

    @app.get("/who")
    async def who(client: DriftlockClient = Depends(get_driftlock_client)) -> str:  # noqa: B008
        seen.append(client)
        return "ok"

    return app


async def assert_closed(client: DriftlockClient) -> None:
    with pytest.raises(DriftlockError, match="closed"):
        await client.detect(events=[{"type": "after-close"}])


async def test_client_resolution_order(
    served_engine: ServedEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTLOCK_API_KEY", served_engine.api_key)
    monkeypatch.setenv("DRIFTLOCK_BASE_URL", served_engine.url)
    seen: list[DriftlockClient] = []
    from_env = who_app(seen)
    with_state = who_app(seen)
    with_state.state.driftlock_client = DriftlockClient()
    with_middleware = who_app(seen)
    with_middleware.state.driftlock_client = with_state.state.driftlock_client
    with_middleware.add_middleware(DriftlockMiddleware, exclude_paths=["/who"])
    for app in (from_env, from_env, with_state, with_middleware):
        async with asgi_client(app) as client:
            assert (await client.get("/who")).status_code == 200
    assert seen[0] is seen[1]  # one environment client, reused
    assert seen[2] is with_state.state.driftlock_client
    assert seen[3] is middleware_of(with_middleware).client  # served although excluded
    assert len({id(c) for c in seen}) == 3
    await middleware_of(with_middleware).aclose()
    await assert_closed(seen[3])  # the middleware closes the client it built
    await seen[2].aclose()


def test_the_environment_client_is_closed_at_shutdown(
    served_engine: ServedEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTLOCK_API_KEY", served_engine.api_key)
    monkeypatch.setenv("DRIFTLOCK_BASE_URL", served_engine.url)
    seen: list[DriftlockClient] = []
    app = who_app(seen)

    async def serve() -> None:
        async with asgi_client(app) as client:
            await client.get("/who")
            await client.get("/who")
            result = await seen[-1].detect(stream_id="env", events=[{"type": "open"}])
            assert result.total_events == 1

    asyncio.run(serve())  # the loop ends as a server's does at shutdown
    assert seen[0] is seen[1]
    asyncio.run(assert_closed(seen[0]))
    asyncio.run(serve())  # a new loop (a new worker process, or a new test) gets its own
    assert seen[2] is not seen[0]


async def test_dependency_overrides_work(served_engine: ServedEngine) -> None:
    mine = DriftlockClient(api_key=served_engine.api_key, base_url=served_engine.url)
    app = shop_app(api_key=served_engine.api_key, base_url=served_engine.url)

    @app.get("/which")
    async def which(
        request: Request,
        client: DriftlockClient = Depends(get_driftlock_client),  # noqa: B008
    ) -> bool:
        return client is mine

    app.dependency_overrides[get_driftlock_client] = lambda: mine
    async with asgi_client(app) as client:
        assert (await client.get("/which")).json() is True
    await middleware_of(app).aclose()
    await mine.aclose()


async def test_the_middleware_is_reachable_from_the_scope(served_engine: ServedEngine) -> None:
    app = shop_app(api_key=served_engine.api_key, base_url=served_engine.url)

    @app.get("/scope")
    async def scope_key(request: Request) -> bool:
        return request.scope[SCOPE_KEY] is get_driftlock_middleware(request.app)

    async with asgi_client(app) as client:
        assert (await client.get("/scope")).json() is True
    assert get_driftlock_middleware(FastAPI()) is None
    await middleware_of(app).aclose()


async def test_on_anomaly_hears_about_an_incident(served_engine: ServedEngine) -> None:
    alerts: list[Any] = []

    async def page_someone(result: Any) -> None:
        alerts.append(result)

    app = shop_app(
        api_key=served_engine.api_key,
        base_url=served_engine.url,
        stream_id="incident",
        batch_size=50,
        on_anomaly=page_someone,
    )
    browser = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64)"}
    async with asgi_client(app) as client:
        for i in range(600):  # calibration: ordinary browsing
            await client.get(f"/items/{i % 40}", headers=browser)
        for i in range(30):  # then a scanner probing odd paths
            await client.get(
                f"/admin/stats/{i}?cmd=cat+/etc/passwd", headers={"user-agent": "sqlmap/1.7"}
            )
        for i in range(50):
            await client.get(f"/items/{i % 40}", headers=browser)
        assert await middleware_of(app).flush(timeout=60)
    anomalies = [a for result in alerts for a in result.anomalies]
    scanner = [a for a in anomalies if a.event["body"]["user_agent"] == "sqlmap/1.7"]
    assert scanner, anomalies
    assert all(a.why for a in scanner)
    await middleware_of(app).aclose()


async def test_request_bytes_of_a_chunked_body_are_counted_as_read(
    served_engine: ServedEngine,
) -> None:
    events: list[dict[str, Any]] = []
    app = shop_app(
        api_key=served_engine.api_key, base_url=served_engine.url, event_hook=recorder(events)
    )

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"a": '
        yield b"1}"

    async with asgi_client(app) as client:
        response = await client.post(
            "/echo", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.json() == {"a": 1}
        await middleware_of(app).aclose()
    assert events[0]["body"]["request_bytes"] == 8
