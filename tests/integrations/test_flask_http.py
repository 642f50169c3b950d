"""The Flask example over real HTTP under gunicorn's sync workers, delivering to a served engine:
forked workers each deliver their own events, and flush them when they exit."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil

from tests.conftest import ServedEngine
from tests.integrations.support import ingested
from tests.integrations.wsgi_support import free_socket, sdk_env, server_process, stop


def test_gunicorn_preload_workers_each_deliver_their_own_at_exit(
    served_engine: ServedEngine,
) -> None:
    sock = free_socket()
    env = sdk_env(
        served_engine.url,
        served_engine.api_key,
        DRIFTLOCK_STREAM_ID="flask-gunicorn",
        DRIFTLOCK_FLUSH_INTERVAL="3600",  # everything waits for the workers' exit flush
    )
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--preload",  # the app is imported once, in the master, then forked
        "--workers",
        "2",
        "--worker-class",
        "sync",
        "--bind",
        f"fd://{sock.fileno()}",
        "--log-level",
        "warning",
        "examples.flask_app:app",
    ]
    with server_process(command, env=env, sock=sock, probe="/driftlock/stats") as (server, url):
        paths = [f"/items/{i % 50 + 1}" for i in range(40)] + ["/checkout"] * 20
        with httpx.Client(base_url=url, timeout=30) as client, ThreadPoolExecutor(4) as pool:
            # /checkout keeps a worker busy for a while: the other one takes the next request.
            assert all(r.status_code == 200 for r in pool.map(client.get, paths))
        workers = psutil.Process(server.pid).children()
        assert len(workers) == 2
        # Each worker started a delivery thread of its own (a sync worker has one otherwise).
        assert all(worker.num_threads() == 2 for worker in workers)
        assert stop(server) == 0
    # Every event once: none lost at exit, none sent twice by a forked copy of the queue.
    assert ingested(served_engine.url, served_engine.api_key, "flask-gunicorn") == 60
