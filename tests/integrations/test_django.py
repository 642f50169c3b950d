"""The Django middleware with Django's test clients (the WSGI and the ASGI stack), delivering to
a served engine."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.integrations.django_site import setup

setup()

from django.contrib.auth.models import User  # noqa: E402
from django.test import AsyncClient, Client, override_settings  # noqa: E402

import driftlock.django  # noqa: E402
from driftlock import DriftlockSyncClient  # noqa: E402
from driftlock._capture import InvalidOptionError  # noqa: E402
from tests.conftest import ServedEngine  # noqa: E402
from tests.integrations.support import ingested, recorder  # noqa: E402
from tests.integrations.test_fastapi_http import StalledDriftlock, dead_url  # noqa: E402
from tests.integrations.wsgi_support import ROOT  # noqa: E402
from tests.support.server import serve_asgi  # noqa: E402


@contextmanager
def driftlock_settings(served: ServedEngine | None, **options: Any) -> Iterator[None]:
    """Run the block with ``settings.DRIFTLOCK`` pointing at ``served`` plus ``options``;
    the middleware's delivery is closed (flushed) at the end."""
    base = {} if served is None else {"API_KEY": served.api_key, "BASE_URL": served.url}
    with override_settings(DRIFTLOCK={**base, **options}):
        try:
            yield
        finally:
            driftlock.django.close()


def test_events_carry_the_route_the_context_and_the_shape(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    with driftlock_settings(served_engine, STREAM_ID="django-shape", EVENT_HOOK=recorder(events)):
        client = Client()
        response = client.get("/items/42/?color=red&size=m", headers={"user-agent": "dj-test"})
        assert response.json() == {"item_id": 42}
        for path in ("/api/users/ann/orders/7/", "/legacy/2024/", "/nowhere/", "/"):
            client.get(path)
        assert driftlock.django.flush()
        assert driftlock.django.stats().sent == 5
    body = events[0]["body"]
    assert events[0]["type"] == "http_request"
    assert body["method"] == "GET"
    assert body["route"] == "/items/<int:item_id>/"
    assert body["path"] == "/items/42/"
    assert body["status_code"] == 200
    assert body["duration_ms"] >= body["ttfb_ms"] >= 0
    assert body["response_bytes"] == len(response.content)
    assert body["user_agent"] == "dj-test"
    assert body["query_keys"] == ["color", "size"]
    assert body["tenant"] == "acme"  # request.driftlock_context adds fields...
    assert body["status_code"] != -1  # ...but never replaces captured ones
    assert "red" not in str(events)
    assert [(e["body"]["route"], e["body"]["status_code"]) for e in events[1:]] == [
        ("/api/users/<str:user_id>/orders/<int:order_id>/", 200),
        ("/^legacy/(?P<year>[0-9]{4})/$", 200),
        (None, 404),
        ("/", 200),
    ]
    assert ingested(served_engine.url, served_engine.api_key, "django-shape") == 5


async def test_the_async_stack_awaits_the_middleware_directly(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    on_loop: list[bool] = []

    def hook(event: dict[str, Any]) -> dict[str, Any]:
        try:
            asyncio.get_running_loop()  # called from the middleware's own code...
            on_loop.append(True)  # ...which runs in the event loop: no sync_to_async hop
        except RuntimeError:
            on_loop.append(False)
        events.append(event)
        return event

    with driftlock_settings(served_engine, STREAM_ID="django-async", EVENT_HOOK=hook):
        client = AsyncClient()
        assert (await client.get("/async/items/3/")).json() == {"item_id": 3}
        assert (await client.get("/items/4/")).json() == {"item_id": 4}  # a sync view
        assert driftlock.django.flush()
    assert on_loop == [True, True]
    assert events[0]["body"]["route"] == "/async/items/<int:item_id>/"
    assert events[0]["body"]["stack"] == "async"
    assert events[1]["body"]["tenant"] == "acme"
    assert ingested(served_engine.url, served_engine.api_key, "django-async") == 2


def test_the_user_id_when_the_request_looked_the_user_up(served_engine: ServedEngine) -> None:
    user = User.objects.create_user(username=f"ann-{threading.get_ident()}", password="pw")
    events: list[dict[str, Any]] = []
    with driftlock_settings(served_engine, EVENT_HOOK=recorder(events)):
        client = Client()
        client.get("/whoami/")  # anonymous
        client.force_login(user)
        assert client.get("/whoami/").json() == {"user": user.username}
        client.get("/items/1/")  # the view never asked who the user is: no query of ours
    with driftlock_settings(served_engine, EVENT_HOOK=recorder(events), CAPTURE_USER=False):
        client = Client()  # a new handler: Django reads middleware settings when it loads them
        client.force_login(user)
        client.get("/whoami/")
    assert [e["body"].get("user_id") for e in events] == [None, user.pk, None, None]
    assert events[2]["body"]["tenant"] == "acme"


def test_view_exceptions_are_recorded_as_500_by_name(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    with driftlock_settings(served_engine, EVENT_HOOK=recorder(events)):
        client = Client(raise_request_exception=False)
        assert client.get("/boom/").status_code == 500
        assert client.get("/nowhere/").status_code == 404
    assert [(e["body"]["status_code"], e["body"].get("exception")) for e in events] == [
        (500, "Boom"),
        (404, None),
    ]
    assert events[0]["body"]["route"] == "/boom/"


def test_sync_mode_sends_before_the_response_is_returned(served_engine: ServedEngine) -> None:
    with driftlock_settings(served_engine, STREAM_ID="django-sync-mode", ASYNC_MODE=False):
        client = Client()
        for i in range(3):
            client.get(f"/items/{i}/")
            # Already at Driftlock when the response comes back: nothing queued, no thread.
            assert driftlock.django.stats().sent == i + 1
        async_client = AsyncClient()
        asyncio.run(async_client.get("/async/items/9/"))
        assert driftlock.django.stats().sent == 4
    assert ingested(served_engine.url, served_engine.api_key, "django-sync-mode") == 4


def test_sync_mode_with_driftlock_down_answers_every_request() -> None:
    with driftlock_settings(None, API_KEY="dlk_test-key", BASE_URL=dead_url(), ASYNC_MODE=False):
        client = Client()
        for i in range(5):
            assert client.get(f"/items/{i}/").json() == {"item_id": i}
        stats = driftlock.django.stats()
        assert (stats.captured, stats.failed, stats.queued) == (5, 5, 0)


@pytest.fixture
def observed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests the middleware observed (timed, then recorded or dropped)."""
    paths: list[str] = []
    finish = driftlock.django.DriftlockMiddleware._finish

    def noting(self: Any, request: Any, *rest: Any) -> None:
        paths.append(request.path_info)
        finish(self, request, *rest)

    monkeypatch.setattr(driftlock.django.DriftlockMiddleware, "_finish", noting)
    return paths


@contextmanager
def full_queue_settings(served: ServedEngine, stream_id: str) -> Iterator[StalledDriftlock]:
    """Settings whose queue (two events) is full once two requests' events are in flight to a
    Driftlock that holds them until ``release`` is set."""
    stalled = StalledDriftlock(served.url)
    with (
        serve_asgi(stalled) as driftlock_url,
        driftlock_settings(
            served, BASE_URL=driftlock_url, STREAM_ID=stream_id, BATCH_SIZE=2, MAX_QUEUE_SIZE=2
        ),
    ):
        yield stalled


def test_a_request_arriving_while_the_queue_is_full_reaches_the_view_unobserved(
    served_engine: ServedEngine, observed: list[str]
) -> None:
    with full_queue_settings(served_engine, "django-full") as stalled:
        client = Client()
        for i in range(2):
            client.get(f"/items/{i}/")
        assert stalled.arrived.wait(30)  # both events are in flight: the queue is full
        assert client.get("/items/2/").json() == {"item_id": 2}
        stats = driftlock.django.stats()
        assert (stats.captured, stats.queued, stats.dropped) == (3, 2, 1)
        stalled.release.set()
        assert driftlock.django.flush(timeout=30)
        client.get("/items/3/")  # room again: captured again
        assert driftlock.django.flush(timeout=30)
        assert (driftlock.django.stats().sent, driftlock.django.stats().dropped) == (3, 1)
    assert observed == ["/items/0/", "/items/1/", "/items/3/"]
    assert ingested(served_engine.url, served_engine.api_key, "django-full") == 3


async def test_a_request_arriving_while_the_queue_is_full_reaches_an_async_view_unobserved(
    served_engine: ServedEngine, observed: list[str]
) -> None:
    with full_queue_settings(served_engine, "django-full-async") as stalled:
        client = AsyncClient()
        for i in range(2):
            await client.get(f"/async/items/{i}/")
        assert await asyncio.to_thread(stalled.arrived.wait, 30)
        assert (await client.get("/async/items/2/")).json() == {"item_id": 2}
        stats = driftlock.django.stats()
        assert (stats.captured, stats.queued, stats.dropped) == (3, 2, 1)
        stalled.release.set()
        assert driftlock.django.flush(timeout=30)
    assert observed == ["/async/items/0/", "/async/items/1/"]
    assert ingested(served_engine.url, served_engine.api_key, "django-full-async") == 2


async def test_streamed_responses_are_timed_until_sent(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    with driftlock_settings(served_engine, EVENT_HOOK=recorder(events)):
        response = await AsyncClient().get("/async-stream/")
        assert b"".join([chunk async for chunk in response]) == b"chunk 0\nchunk 1\nchunk 2\n"
        response.close()
        sync_response = Client().get("/stream/")
        assert events[1:] == []  # not sent yet
        assert b"".join(sync_response.streaming_content) == b"first\nsecond\n"
        sync_response.close()
        download = Client().get("/download/")  # a file: handed to the server as it is
        assert len(events) == 3
        assert b"".join(download.streaming_content) == b"x" * 1000
        download.close()
    assert [(e["body"]["route"], e["body"]["response_bytes"]) for e in events] == [
        ("/async-stream/", len(b"chunk 0\nchunk 1\nchunk 2\n")),
        ("/stream/", len(b"first\nsecond\n")),
        ("/download/", 1000),
    ]


def test_bodies_the_view_read_and_headers_redacted(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    payload = {"user": "ann", "password": "hunter2", "email": "a@b.c"}
    with driftlock_settings(
        served_engine,
        CAPTURE_BODY=True,
        REDACT_FIELDS=["email"],
        CAPTURE_HEADERS=["authorization", "content-type"],
        CAPTURE_CLIENT=True,
        EVENT_HOOK=recorder(events),
    ):
        client = Client()
        headers = {"authorization": "Bearer t0k3n"}
        response = client.post("/echo/", payload, content_type="application/json", headers=headers)
        assert response.json() == payload
        client.post("/unread/", payload, content_type="application/json")
    echoed, unread = (e["body"] for e in events)
    assert echoed["request_body"] == {
        "user": "ann",
        "password": "[REDACTED]",
        "email": "[REDACTED]",
    }
    assert echoed["request_headers"] == {
        "authorization": "[REDACTED]",
        "content-type": "application/json",
    }
    assert echoed["response_headers"]["content-type"] == "application/json"
    assert echoed["request_bytes"] == len(json.dumps(payload))
    assert echoed["client"] == "127.0.0.1"
    assert "request_body" not in unread  # never read on the app's behalf
    assert "hunter2" not in str(events)
    assert "t0k3n" not in str(events)


def test_excluded_paths_and_sampling(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    with driftlock_settings(
        served_engine, EXCLUDE_PATHS=["/admin/", "/health/"], EVENT_HOOK=recorder(events)
    ):
        client = Client()
        for path in ("/health/", "/admin/stats/", "/items/1/"):
            client.get(path)
    assert [e["body"]["path"] for e in events] == ["/items/1/"]
    with driftlock_settings(served_engine, SAMPLE_RATE=0.0):
        Client().get("/items/1/")
        assert driftlock.django.stats().captured == 0


def test_settings_are_checked_and_named(served_engine: ServedEngine) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"EXCLUDE_PATH": ["/admin/"]}, "DRIFTLOCK['EXCLUDE_PATH'] is not a Driftlock option; "
         "did you mean DRIFTLOCK['EXCLUDE_PATHS']?"),
        ({"SAMPLE_RATE": 2}, "DRIFTLOCK['SAMPLE_RATE']: sample_rate must be between 0 and 1"),
        ({"ASYNC_MODE": "yes"}, "DRIFTLOCK['ASYNC_MODE'] must be True or False"),
    ]  # fmt: skip
    base = {"API_KEY": served_engine.api_key, "BASE_URL": served_engine.url}
    for options, message in cases:
        with (
            override_settings(DRIFTLOCK=base | options),
            pytest.raises(InvalidOptionError) as raised,
        ):
            Client().get("/")  # Django loads the middleware: it refuses to start
        assert message in str(raised.value)
    with override_settings(DRIFTLOCK=["not", "a", "dict"]), pytest.raises(InvalidOptionError):
        Client().get("/")


def test_disabled_removes_the_middleware_and_hooks_load_by_dotted_path(
    served_engine: ServedEngine,
) -> None:
    with driftlock_settings(served_engine, ENABLED=False):
        assert Client().get("/items/1/").status_code == 200
        assert driftlock.django.stats().captured == 0
    with driftlock_settings(
        served_engine, EVENT_HOOK="tests.integrations.test_django.drop_everything"
    ):
        Client().get("/items/1/")
        stats = driftlock.django.stats()
        assert (stats.captured, stats.filtered) == (0, 1)


def drop_everything(event: dict[str, Any]) -> None:
    """An ``EVENT_HOOK`` given by its dotted path."""


def test_one_monitor_per_settings_value_and_its_client(served_engine: ServedEngine) -> None:
    with driftlock_settings(served_engine, STREAM_ID="django-shared", FLUSH_INTERVAL=3600):
        for _ in range(3):
            Client().get("/")  # three handlers, one queue and one sender thread
        assert driftlock.django.stats().queued == 3
        client = driftlock.django.get_client()
        assert isinstance(client, DriftlockSyncClient)
        assert client.detect(stream_id="django-views", events=[{"type": "x"}]).total_events == 1
    assert ingested(served_engine.url, served_engine.api_key, "django-shared") == 3


def test_a_clear_install_hint_without_django() -> None:
    code = (
        "import sys\n"
        "sys.modules['django'] = None\n"  # as if the extra were not installed
        "try:\n"
        "    import driftlock.django\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "import driftlock\n"
        "print(driftlock.DriftlockSyncClient.__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "pip install 'driftlock[django]'" in out
    assert out.strip().endswith("DriftlockSyncClient")
