"""The Django middleware over real HTTP: the test project under uvicorn (ASGI) in this process,
the example project under uvicorn and under ``manage.py runserver`` in child processes, with
Driftlock served by the engine (or stalled)."""

from __future__ import annotations

import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.integrations.django_site import setup

setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.test import override_settings  # noqa: E402

import driftlock.django  # noqa: E402
from tests.conftest import ServedEngine  # noqa: E402
from tests.integrations.django_site import views  # noqa: E402
from tests.integrations.support import ingested, recorder, wait_for_sync  # noqa: E402
from tests.integrations.test_fastapi_http import StalledDriftlock  # noqa: E402
from tests.integrations.wsgi_support import (  # noqa: E402
    ROOT,
    free_port,
    free_socket,
    sdk_env,
    server_process,
    stop,
)
from tests.support.server import serve_asgi  # noqa: E402

EXAMPLE = ROOT / "examples" / "django_project"


def get_all(url: str, paths: list[str]) -> list[httpx.Response]:
    """GET every path at once, from 16 client threads."""
    with httpx.Client(base_url=url, timeout=60) as client, ThreadPoolExecutor(16) as pool:
        return list(pool.map(client.get, paths))


def test_under_uvicorn_events_arrive_and_excluded_paths_do_not(
    served_engine: ServedEngine,
) -> None:
    settings = {
        "API_KEY": served_engine.api_key,
        "BASE_URL": served_engine.url,
        "STREAM_ID": "django-asgi",
        "EXCLUDE_PATHS": ["/admin/", "/health/"],
        "FLUSH_INTERVAL": 0.05,
    }
    with override_settings(DRIFTLOCK=settings), serve_asgi(get_asgi_application()) as url:
        paths = [f"/items/{i}/" for i in range(15)] + [f"/async/items/{i}/" for i in range(8)]
        responses = get_all(url, [*paths, "/health/", "/admin/stats/"])
        assert [r.status_code for r in responses] == [200] * 25
        assert responses[20].json() == {"item_id": 5}
        wait_for_sync(lambda: driftlock.django.stats().sent == 23, "delivery")
        assert driftlock.django.stats().captured == 23
        driftlock.django.close()
    assert ingested(served_engine.url, served_engine.api_key, "django-asgi") == 23


def test_under_uvicorn_a_stalled_driftlock_holds_no_request_and_the_bound_holds(
    served_engine: ServedEngine,
) -> None:
    stalled = StalledDriftlock(served_engine.url)
    with serve_asgi(stalled) as driftlock_url:
        settings = {
            "API_KEY": served_engine.api_key,
            "BASE_URL": driftlock_url,
            "STREAM_ID": "django-stalled",
            "BATCH_SIZE": 10,
            "MAX_QUEUE_SIZE": 50,
        }
        with override_settings(DRIFTLOCK=settings), serve_asgi(get_asgi_application()) as url:
            get_all(url, [f"/items/{i}/" for i in range(10)])
            assert stalled.arrived.wait(30)
            # Driftlock holds the sender's request; a burst of 200 requests all complete.
            burst = get_all(url, [f"/async/items/{i}/" for i in range(200)])
            assert [r.json()["item_id"] for r in burst] == list(range(200))
            assert not stalled.release.is_set()
            stats = driftlock.django.stats()
            assert (stats.captured, stats.queued, stats.dropped) == (210, 50, 160)
            stalled.release.set()
            assert driftlock.django.flush(timeout=30)
            assert driftlock.django.stats().sent == 50
            driftlock.django.close()
    assert ingested(served_engine.url, served_engine.api_key, "django-stalled") == 50


def test_under_uvicorn_a_stream_is_sent_as_it_comes_and_timed_until_sent(
    served_engine: ServedEngine,
) -> None:
    events: list[dict[str, Any]] = []
    settings = {
        "API_KEY": served_engine.api_key,
        "BASE_URL": served_engine.url,
        "EVENT_HOOK": recorder(events),
    }
    views.stream_gate.clear()
    with (
        override_settings(DRIFTLOCK=settings),
        serve_asgi(get_asgi_application()) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        with client.stream("GET", "/async-stream/?wait=1") as response:
            chunks = response.iter_raw()
            assert next(chunks) == b"chunk 0\n"  # the rest does not exist yet
            assert events == []
            views.stream_gate.set()
            assert b"".join(chunks) == b"chunk 1\nchunk 2\n"
        wait_for_sync(lambda: len(events) == 1, "the event")
        driftlock.django.close()
    assert events[0]["body"]["response_bytes"] == len(b"chunk 0\nchunk 1\nchunk 2\n")
    assert events[0]["body"]["route"] == "/async-stream/"


def example_env(served: ServedEngine, stream_id: str) -> dict[str, str]:
    return sdk_env(
        served.url,
        served.api_key,
        DRIFTLOCK_STREAM_ID=stream_id,
        DRIFTLOCK_FLUSH_INTERVAL="3600",  # everything waits for the exit flush
    )


def serve_requests(url: str) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(1, 21):
            assert client.get(f"/items/{i}/").status_code == 200
        assert client.get("/async/").json() == {"status": "ok"}
        stats = client.get("/driftlock/stats/").json()
        assert (stats["captured"], stats["queued"]) == (21, 21)


def test_the_example_under_uvicorn_flushes_when_it_stops(served_engine: ServedEngine) -> None:
    sock = free_socket()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(EXAMPLE),
        "--fd",
        str(sock.fileno()),
        "--lifespan",
        "off",  # Django speaks HTTP only
        "--log-level",
        "warning",
        "django_project.asgi:application",
    ]
    env = example_env(served_engine, "django-example-asgi")
    with server_process(command, env=env, sock=sock, probe="/health/") as (server, url):
        serve_requests(url)
        # Ctrl-C: uvicorn shuts down gracefully, then re-raises the SIGINT it caught, which
        # ends the interpreter normally (a re-raised SIGTERM would kill it, atexit unrun).
        assert stop(server, signal.SIGINT) == 0
    assert ingested(served_engine.url, served_engine.api_key, "django-example-asgi") == 21


def test_the_example_under_runserver_flushes_when_it_stops(served_engine: ServedEngine) -> None:
    port = free_port()
    command = [
        sys.executable,
        str(EXAMPLE / "manage.py"),
        "runserver",
        f"127.0.0.1:{port}",
        "--noreload",
    ]
    env = example_env(served_engine, "django-example-wsgi")
    with server_process(command, env=env, port=port, probe="/health/") as (server, url):
        serve_requests(url)
        assert stop(server, signal.SIGINT) == 0  # Ctrl-C
    assert ingested(served_engine.url, served_engine.api_key, "django-example-wsgi") == 21
