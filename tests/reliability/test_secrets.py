"""Secret hygiene: with DEBUG logging on everywhere, a distinctive API key shows up in no log
record, repr, exception text, cassette, CLI output or captured event; and what a middleware
captures has ``Authorization``, ``Cookie``, ``Set-Cookie``, ``X-Api-Key`` and the configured
body fields redacted.

Every test of this module runs under :func:`debug_logs_without_the_key`: the root logger and
``driftlock`` at DEBUG, and after the test, not one record (message, arguments, traceback)
carrying the key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import vcr
from fastapi import FastAPI, Request, Response

from driftlock import DriftlockClient, DriftlockSyncClient, cli
from driftlock.exceptions import AuthenticationError, DriftlockError, NotFoundError
from driftlock.fastapi import DriftlockMiddleware, get_driftlock_middleware
from driftlock.local.app import create_app
from driftlock.local.engine import Engine
from tests.client import scenario
from tests.client.conftest import vcr_config  # noqa: F401 - the project's cassette settings
from tests.conftest import ServedEngineFactory
from tests.integrations.support import recorder
from tests.reliability.support import FlakyDriftlock, json_answer
from tests.support.server import serve_asgi

# Every part distinctive, so that a leak of any part is found.
KEY = "dlk_5ec2e7a1-0b5e-4c1d-9f3e-7a6b5c4d3e2f.Zq7-R3L14B1L1TY-s3cr3t-Wx4v9"
WRONG_KEY = "dlk_0ddba11a-0b5e-4c1d-9f3e-000000000000.N0T-TH1S-0NE-s3cr3t-Pp2m8"
# What a mask may show is the last four characters: everything before them must never show.
FRAGMENTS = (KEY[:-4], KEY[15:-4], WRONG_KEY[:-4], WRONG_KEY[15:-4], "R3L14B1L1TY", "N0T-TH1S")
ROOT = Path(__file__).resolve().parents[2]


def leaks(text: object) -> list[str]:
    """The fragments of a key found in ``text`` (its str, or its repr for non-strings)."""
    shown = text if isinstance(text, str) else repr(text)
    return [fragment for fragment in FRAGMENTS if fragment in shown]


def assert_clean(*things: object) -> None:
    for thing in things:
        assert leaks(thing) == [], thing


def assert_clean_error(error: BaseException) -> None:
    """The exception's text, repr, attributes, pickle and chain hold no key."""
    seen: BaseException | None = error
    while seen is not None:
        assert_clean(str(seen), repr(seen), vars(seen), seen.args)
        seen = seen.__cause__ or seen.__context__
    assert_clean(pickle.dumps(error).decode("latin-1"))


@pytest.fixture(autouse=True)
def debug_logs_without_the_key(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """DEBUG on for every logger; after the test, no record may carry the key."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="driftlock")
    yield
    handler = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        text = handler.format(record)  # message, arguments and traceback
        assert leaks(text) == [], text
        assert leaks(repr(record.args)) == [], record.args
    assert leaks(caplog.text) == []


@pytest.fixture(autouse=True)
def no_key_in_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("DRIFTLOCK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


# -- the clients -------------------------------------------------------------------------------


def test_every_operation_through_both_clients(
    served_engine_factory: ServedEngineFactory,
) -> None:
    served = served_engine_factory(api_key=KEY)
    with DriftlockSyncClient(api_key=KEY, base_url=served.url) as client:
        scenario.run_sync(client, "secret-sync")
        assert_clean(client, client.with_options(timeout=3), client._config, client._gen)
        assert_clean(client.detect(stream_id="secret-sync", events=[{"a": 1}]))

    async def run() -> None:
        async with DriftlockClient(api_key=KEY, base_url=served.url) as client:
            await scenario.run_async(client, "secret-async")
            result = client.detect_sync(stream_id="secret-async", events=[{"a": 1}])
            assert_clean(client, client.with_options(max_retries=1), result, result.to_dict())

    asyncio.run(run())


def test_errors_and_retries_against_the_engine(
    served_engine_factory: ServedEngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("driftlock._retry.sleep", lambda seconds: None)
    served = served_engine_factory(api_key=KEY)
    wrong = DriftlockSyncClient(api_key=WRONG_KEY, base_url=served.url)
    with wrong, pytest.raises(AuthenticationError) as denied:
        wrong.detect(events=[{"a": 1}])
    assert_clean_error(denied.value)

    # Driftlock answers 503 twice (retried, logged at INFO), then the engine answers.
    busy = json_answer(503, {"error": {"code": "unavailable", "message": "busy"}})
    front = FlakyDriftlock(
        create_app(served.engine, api_key=KEY), lambda n: busy if n <= 2 else None
    )
    with serve_asgi(front) as url, DriftlockSyncClient(api_key=KEY, base_url=url) as client:
        assert client.with_options(timeout=5).health().ok
        assert front.count == 3
        with pytest.raises(NotFoundError) as missing:
            client.anomalies.get("nope")
    assert_clean_error(missing.value)


def echo(kind: str) -> Any:
    """A server (or a proxy in front of it) that reflects the key it received back."""

    def handler(request: httpx.Request) -> httpx.Response:
        key = request.headers["x-api-key"]
        if kind == "redirect":
            return httpx.Response(302, headers={"location": f"https://login.test/?k={key}"})
        if kind == "request-id":
            return httpx.Response(503, headers={"x-request-id": key}, content=b"busy")
        if kind == "request-id-on-success":
            return httpx.Response(200, headers={"x-request-id": key}, content=b"{}")
        if kind == "content-type":
            return httpx.Response(502, headers={"content-type": key}, content=b"<html>")
        if kind == "envelope":
            body = {"error": {"code": key, "message": f"bad key {key}", "request_id": key}}
            return httpx.Response(401, json=body)
        if kind == "html":
            return httpx.Response(500, content=f"<html>key={key}</html>".encode())
        if kind == "transport":
            raise httpx.ConnectError(f"proxy refused {key}")
        raise httpx.ReadError(f"reset while sending X-Api-Key: {key}")

    return handler


@pytest.mark.parametrize(
    "kind",
    [
        "redirect",
        "request-id",
        "request-id-on-success",
        "content-type",
        "envelope",
        "html",
        "transport",
        "read",
    ],
)
def test_a_server_echoing_the_key_cannot_leak_it(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("driftlock._retry.sleep", lambda seconds: None)
    transport = httpx.MockTransport(echo(kind))
    with (
        DriftlockSyncClient(
            api_key=KEY, base_url="https://api.driftlock.test", transport=transport, max_retries=1
        ) as client,
        pytest.raises(DriftlockError) as caught,
    ):
        client.detect(events=[{"a": 1}])
    assert_clean_error(caught.value)


# -- the middleware ---------------------------------------------------------------------------


def secretive_app(**options: Any) -> FastAPI:
    app = FastAPI()
    app.add_middleware(DriftlockMiddleware, **options)

    @app.post("/login")
    async def login(request: Request, response: Response) -> dict[str, str]:
        await request.body()
        response.set_cookie("session", KEY)
        return {"ok": "yes"}

    return app


async def test_middleware_delivery_redacts_and_never_logs_the_key(
    served_engine_factory: ServedEngineFactory,
) -> None:
    served = served_engine_factory(api_key=KEY)
    received: list[dict[str, Any]] = []
    engine_detect = served.engine.detect

    def spy(events: Any, **kwargs: Any) -> Any:
        received.extend(events)
        return engine_detect(events, **kwargs)

    served.engine.detect = spy  # type: ignore[method-assign]
    captured: list[dict[str, Any]] = []
    app = secretive_app(
        api_key=KEY,
        base_url=served.url,
        stream_id="secrets",
        capture_body=True,
        capture_headers=True,
        redact_fields=["card_pan"],
        event_hook=recorder(captured),
    )
    headers = {
        "Authorization": f"Bearer {KEY}",
        "Cookie": f"session={KEY}; theme=dark",
        "X-Api-Key": KEY,
        "X-Team": "payments",
    }
    body = {
        "user": "ada",
        "password": KEY,
        "api_key": KEY,
        "card_pan": KEY,
        "nested": [{"card_pan": KEY, "amount": 12}, {"Authorization": KEY}],
    }
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        answer = await http.post(f"/login?api_key={KEY}", json=body, headers=headers)
        assert answer.json() == {"ok": "yes"}
        assert KEY in answer.headers["set-cookie"]  # the app's answer itself is untouched
        form = await http.post(
            "/login", data={"password": KEY, "card_pan": KEY, "note": "hi"}, headers=headers
        )
        assert form.status_code == 200
    middleware = get_driftlock_middleware(app)
    assert middleware is not None
    assert await middleware.flush(timeout=30)
    assert middleware.stats().sent == 2
    await middleware.aclose()

    assert len(captured) == len(received) == 2
    assert_clean(captured, received, middleware, middleware.stats())
    first = received[0]["body"]
    for name in ("authorization", "cookie", "x-api-key"):
        assert first["request_headers"][name] == "[REDACTED]"
    assert first["request_headers"]["x-team"] == "payments"
    assert first["response_headers"]["set-cookie"] == "[REDACTED]"
    assert first["query_keys"] == ["api_key"]
    assert first["request_body"] == {
        "user": "ada",
        "password": "[REDACTED]",
        "api_key": "[REDACTED]",
        "card_pan": "[REDACTED]",
        "nested": [{"card_pan": "[REDACTED]", "amount": 12}, {"Authorization": "[REDACTED]"}],
    }
    assert received[1]["body"]["request_body"] == {
        "password": "[REDACTED]",
        "card_pan": "[REDACTED]",
        "note": "hi",
    }


async def test_a_refused_delivery_logs_without_the_key(
    served_engine_factory: ServedEngineFactory,
) -> None:
    served = served_engine_factory(api_key=KEY)
    app = secretive_app(api_key=WRONG_KEY, base_url=served.url, stream_id="refused")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        assert (await http.post("/login", json={})).status_code == 200
    middleware = get_driftlock_middleware(app)
    assert middleware is not None
    assert await middleware.flush(timeout=30)
    assert middleware.stats().failed == 1
    assert_clean(middleware, middleware.client)
    await middleware.aclose()


# -- the command line ------------------------------------------------------------------------


def test_cli_config_and_errors_never_print_the_key(
    served_engine_factory: ServedEngineFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served = served_engine_factory(api_key=KEY)
    monkeypatch.setenv("DRIFTLOCK_API_KEY", KEY)
    monkeypatch.setenv("DRIFTLOCK_BASE_URL", served.url)
    outputs = []
    for argv in (
        ["config"],
        ["config", "--output", "json"],
        ["config", "--output", "jsonl", "--api-key", WRONG_KEY],
        ["--debug", "detect", "--json", '{"a": 1}', "--output", "json"],
        ["--debug", "--api-key", WRONG_KEY, "detect", "--json", '{"a": 1}'],
        ["config", "set", "api_key", KEY],
    ):
        code = cli.main(argv)
        out, err = capsys.readouterr()
        outputs.append((argv[:3], code, out, err))
        assert_clean(out, err)
    assert [code for _, code, _, _ in outputs] == [0, 0, 0, 0, 3, 2]
    shown = json.loads(outputs[1][2])["settings"]["api_key"]
    assert shown["value"] == f"dlk_\N{HORIZONTAL ELLIPSIS}{KEY[-4:]}"  # masked
    assert "Traceback" in outputs[4][3]  # --debug printed the traceback, without the key


# -- cassettes -------------------------------------------------------------------------------


def test_a_recorded_cassette_holds_no_key(
    served_engine_factory: ServedEngineFactory, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    served = served_engine_factory(api_key=KEY)
    cassette = tmp_path / "secret.yaml"
    settings = request.getfixturevalue("vcr_config")  # the project's, from tests/client
    recording = vcr.VCR(**settings).use_cassette(str(cassette), record_mode="all")
    with recording, DriftlockSyncClient(api_key=KEY, base_url=served.url) as client:
        client.detect(stream_id="cassette", events=[{"a": 1}])
        with pytest.raises(NotFoundError):
            client.anomalies.get("missing")

        async def also_async() -> None:
            async with DriftlockClient(api_key=KEY, base_url=served.url) as aio:
                await aio.health()

        asyncio.run(also_async())
    text = cassette.read_text()
    assert text.count("uri: ") == 3
    assert_clean(text)
    assert "x-api-key" not in text.lower()


def test_the_committed_cassettes_hold_no_key() -> None:
    cassettes = sorted((ROOT / "tests" / "cassettes").glob("*.yaml"))
    assert cassettes
    for path in cassettes:
        text = path.read_text()
        assert "x-api-key" not in text.lower(), path
        assert "dlk_" not in text, path  # the key `make record` used is not there either


def test_an_engine_of_its_own_keeps_the_key_out_of_its_logs() -> None:
    # The embedded engine logs unexpected failures; its answer to a bad key never names it.
    engine = Engine()
    app = create_app(engine, api_key=KEY)
    answer = app.handle("GET", "/v1/profiles", headers={"x-api-key": WRONG_KEY})
    assert answer.status == 401
    assert_clean(answer.body.decode(), answer.headers)
    engine.close()
