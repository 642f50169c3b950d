"""Every example of the vendor's Django page works as written against a served engine.

The settings are the page's (its ``DRIFTLOCK`` dict, the middleware last), the views and the
Celery task are in ``django_site/vendor_*.py`` as the page writes them; the only change is the
environment pointing the SDK at our local server. The events the middleware sends pass through
a recording proxy in front of the engine, so that the tests can read them.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import sys
import types
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.integrations.django_site import setup

setup()

from django.contrib.auth.models import User  # noqa: E402
from django.test import AsyncClient, Client, override_settings  # noqa: E402

import driftlock.django  # noqa: E402
from driftlock._http import forget_response  # noqa: E402
from tests.conftest import ServedEngine, ServedEngineFactory  # noqa: E402
from tests.integrations.django_site.models import Profile  # noqa: E402
from tests.integrations.support import ingested  # noqa: E402
from tests.support.server import serve_asgi  # noqa: E402

# settings.py, as on the page (other middleware first, Driftlock last).
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "driftlock.django.DriftlockMiddleware",
]

DRIFTLOCK = {
    "API_KEY": "your-api-key",
    "STREAM_ID": "django-app",
    "EXCLUDE_PATHS": ["/admin/", "/health/"],
    "ASYNC_MODE": True,  # Use async processing to avoid blocking response
}


class RecordingDriftlock:
    """An HTTP server in front of the engine that keeps the events of every detect request."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.events: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["path"].endswith("/detect"):
            payload = json.loads(body)
            self.events[payload["stream_id"]].extend(payload["events"])
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k != b"host"}
        async with httpx.AsyncClient(base_url=self.upstream) as upstream:
            response = await upstream.request(
                scope["method"], scope["path"], content=body, headers=headers
            )
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": response.content})


@contextmanager
def celery_or_stand_in() -> Iterator[None]:
    """Celery if it is installed (the project does not install it); else a stand-in
    ``celery`` module whose ``shared_task`` runs ``.delay()`` at once, as Celery does with
    ``task_always_eager``. It stays while the task module is imported (by the URLconf)."""
    try:
        import celery  # noqa: F401
    except ImportError:
        stand_in = types.ModuleType("celery")

        def shared_task(func: Callable[..., Any]) -> Any:
            func.delay = func  # type: ignore[attr-defined]
            return func

        stand_in.shared_task = shared_task  # type: ignore[attr-defined]
        sys.modules["celery"] = stand_in
        try:
            yield
        finally:
            del sys.modules["celery"]
    else:
        yield


@pytest.fixture
def driftlock_site(
    served_engine_factory: ServedEngineFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ServedEngine, RecordingDriftlock]]:
    """The page's settings, with the SDK's environment pointing at a recorded engine that
    accepts any key; the middleware is flushed at the end."""
    served = served_engine_factory(api_key=None)
    recording = RecordingDriftlock(served.url)
    with serve_asgi(recording) as url, celery_or_stand_in():
        monkeypatch.setenv("DRIFTLOCK_BASE_URL", url)
        with override_settings(
            MIDDLEWARE=MIDDLEWARE,
            DRIFTLOCK=DRIFTLOCK,
            ROOT_URLCONF="tests.integrations.django_site.vendor_urls",
        ):
            try:
                yield served, recording
            finally:
                driftlock.django.close()


def test_middleware_configuration(driftlock_site: tuple[ServedEngine, RecordingDriftlock]) -> None:
    served, recording = driftlock_site
    client = Client()
    for path in ("/", "/admin/", "/admin/login/", "/health/", "/"):
        assert client.get(path).status_code == 200
    assert driftlock.django.flush()
    assert [e["body"]["path"] for e in recording.events["django-app"]] == ["/", "/"]
    assert ingested(served.url, served.api_key, "django-app") == 2


def test_async_support(driftlock_site: tuple[ServedEngine, RecordingDriftlock]) -> None:
    served, recording = driftlock_site
    response = asyncio.run(AsyncClient().get("/async/"))
    assert response.json() == {"status": "ok"}
    assert driftlock.django.flush()
    (event,) = recording.events["django-app"]
    assert (event["body"]["route"], event["body"]["status_code"]) == ("/async/", 200)
    assert ingested(served.url, served.api_key, "django-app") == 1


def test_manual_detection_in_views(driftlock_site: tuple[ServedEngine, RecordingDriftlock]) -> None:
    served, _ = driftlock_site
    # The page builds its client at import, from the settings and the environment of now.
    vendor_views = importlib.reload(
        importlib.import_module("tests.integrations.django_site.vendor_views")
    )
    try:
        response = Client().post("/payments/", {"amount": "42.50"})
        assert response.json() == {"status": "processed"}
    finally:
        asyncio.run(vendor_views.client.aclose())
    assert ingested(served.url, served.api_key, "payments") == 1


def test_customizing_events(driftlock_site: tuple[ServedEngine, RecordingDriftlock]) -> None:
    _, recording = driftlock_site
    user = User.objects.create_user(username="vendor-gold", password="pw")
    Profile.objects.create(user=user, tier="gold")
    client = Client()
    client.force_login(user)
    assert client.get("/context/").json() == {"status": "ok"}
    assert driftlock.django.flush()
    (event,) = recording.events["django-app"]
    assert event["body"]["user_tier"] == "gold"
    assert event["body"]["ip_address"] == "127.0.0.1"
    # Placed after AuthenticationMiddleware: the user's information is included.
    assert event["body"]["user_id"] == user.pk


def test_celery_integration(driftlock_site: tuple[ServedEngine, RecordingDriftlock]) -> None:
    served, recording = driftlock_site
    assert Client().get("/jobs/").json() == {"status": "queued"}
    # The page's task never closes its client: collect it here, where its socket's
    # ResourceWarning is expected, not in whichever test the collector would run in next
    # (the facade keeps the thread's last response, and so the socket, until told to forget).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        forget_response()
        gc.collect()
    (job,) = recording.events["background-jobs"]
    assert job["type"] == "job_metric"
    assert job["body"]["duration"] >= 0
    assert ingested(served.url, served.api_key, "background-jobs") == 1
