"""Shutdown and crashes, with real processes: ``driftlock serve --data-dir`` as Driftlock, and
the app under uvicorn (FastAPI) or gunicorn (plain WSGI).

- SIGTERM to the app's server with events queued: they reach Driftlock within
  ``flush_timeout`` (the counters the app writes after its shutdown say so: nothing dropped).
- SIGKILL of the app loses at most what it held in its queue: Driftlock keeps what was sent.
- SIGKILL of ``driftlock serve``: restarted on the same data directory, it keeps everything it
  acknowledged (answers, idempotency records, anomalies), and resending every batch with its
  Idempotency-Key leaves each event ingested exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from driftlock import DriftlockSyncClient
from driftlock._retry import same_idempotency_key
from driftlock.exceptions import DriftlockConnectionError
from driftlock.models import DetectResult
from tests.integrations.support import ingested
from tests.local.helpers import KEY, batches, normal_events
from tests.local.test_persistence import ServeProcess

ROOT = Path(__file__).resolve().parents[2]
QUEUED = 45

UVICORN = (
    "import socket, sys, uvicorn\n"
    "sock = socket.socket(fileno=int(sys.argv[1]))\n"
    "config = uvicorn.Config('tests.reliability.shutdown_app:app', lifespan='on',"
    " log_level='warning')\n"
    "uvicorn.Server(config).run(sockets=[sock])\n"
)


@pytest.fixture(scope="module")
def driftlock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """``driftlock serve --data-dir`` for the apps of this module (one stream per test)."""
    home = tmp_path_factory.mktemp("driftlock")
    server = ServeProcess(home / "data", home / "serve.log")
    yield server
    server.stop(signal.SIGTERM)


def listening_socket() -> socket.socket:
    """A listening socket on a free port of 127.0.0.1 for a child server: requests wait in
    its backlog until the server is up, so no polling is needed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class AppProcess:
    """The app of :mod:`tests.reliability.shutdown_app` in a server process of its own."""

    def __init__(self, command: list[str], driftlock: ServeProcess, log: Path, **env: str):
        self.sock = listening_socket()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.log = log
        environment = {
            **os.environ,
            "DRIFTLOCK_BASE_URL": driftlock.url,
            "DRIFTLOCK_API_KEY": KEY,
            **env,
        }
        with log.open("w") as errors:
            self.process = subprocess.Popen(
                [arg.replace("{fd}", str(self.sock.fileno())) for arg in command],
                cwd=ROOT,
                env=environment,
                pass_fds=[self.sock.fileno()],
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        self.sock.close()  # the child has its copy

    def get_items(self, count: int) -> dict[str, int]:
        """Request ``/items/0`` ... and return the delivery counters after them."""
        with httpx.Client(base_url=self.url, timeout=60) as http:
            for i in range(count):
                assert http.get(f"/items/{i}").json() == {"item_id": i}
            stats: dict[str, int] = http.get("/stats").json()
            return stats

    def stop(self, sig: signal.Signals) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=60)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def start_app(driftlock: ServeProcess, tmp_path: Path) -> Iterator[Any]:
    started: list[AppProcess] = []

    def start(command: list[str], **env: str) -> AppProcess:
        app = AppProcess(command, driftlock, tmp_path / f"app-{len(started)}.log", **env)
        started.append(app)
        return app

    yield start
    for app in started:
        app.kill()


def test_sigterm_to_uvicorn_delivers_the_queue_within_flush_timeout(
    driftlock: ServeProcess, start_app: Any, tmp_path: Path
) -> None:
    stats_file = tmp_path / "stats.json"
    app = start_app(
        [sys.executable, "-c", UVICORN, "{fd}"],
        DRIFTLOCK_STREAM_ID="sigterm-uvicorn",
        RELIABILITY_STATS_FILE=str(stats_file),
        RELIABILITY_FLUSH_TIMEOUT="10",
    )
    stats = app.get_items(QUEUED)
    assert (stats["captured"], stats["queued"], stats["sent"]) == (QUEUED, QUEUED, 0)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert app.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    final = json.loads(stats_file.read_text())
    # Anything a flush cannot deliver within flush_timeout is counted as dropped at close.
    assert final == {
        "captured": QUEUED,
        "sent": QUEUED,
        "dropped": 0,
        "failed": 0,
        "queued": 0,
        "filtered": 0,
    }
    assert ingested(driftlock.url, KEY, "sigterm-uvicorn") == QUEUED


def test_sigterm_to_gunicorn_delivers_the_queue_within_flush_timeout(
    driftlock: ServeProcess, start_app: Any
) -> None:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        "1",
        "--worker-class",
        "sync",
        "--bind",
        "fd://{fd}",
        "--log-level",
        "warning",
        "tests.reliability.shutdown_app:wsgi_app",
    ]
    app = start_app(command, DRIFTLOCK_STREAM_ID="sigterm-gunicorn", RELIABILITY_FLUSH_TIMEOUT="10")
    stats = app.get_items(QUEUED)
    assert (stats["captured"], stats["queued"], stats["sent"]) == (QUEUED, QUEUED, 0)
    assert app.stop(signal.SIGTERM) == 0
    assert ingested(driftlock.url, KEY, "sigterm-gunicorn") == QUEUED
    # The worker's exit flush finished in time: nothing was reported undelivered.
    assert "undelivered" not in app.log.read_text()


def test_sigkill_of_the_app_loses_at_most_its_queue(
    driftlock: ServeProcess, start_app: Any
) -> None:
    app = start_app(
        [sys.executable, "-c", UVICORN, "{fd}"],
        DRIFTLOCK_STREAM_ID="sigkill-app",
        RELIABILITY_BATCH_SIZE="10",  # full batches go at once; the last 5 events wait
    )
    stats = app.get_items(QUEUED)
    deadline = time.monotonic() + 30
    while stats["sent"] < 40:
        assert time.monotonic() < deadline, stats
        time.sleep(0.01)
        stats = app.get_items(0)
    assert (stats["captured"], stats["sent"], stats["queued"]) == (QUEUED, 40, 5)
    assert app.stop(signal.SIGKILL) == -signal.SIGKILL
    assert ingested(driftlock.url, KEY, "sigkill-app") == 40  # lost: the 5 queued, no more


def test_sigkill_of_driftlock_serve_keeps_everything_it_acknowledged(tmp_path: Path) -> None:
    parts = list(batches(normal_events(1200, seed=7), size=20))
    keys = [f"crash-test-{i}" for i in range(len(parts))]
    acknowledged: list[DetectResult] = []
    first = ServeProcess(tmp_path / "data", tmp_path / "first.log")
    try:

        def send() -> None:
            with DriftlockSyncClient(api_key=KEY, base_url=first.url, max_retries=0) as client:
                for key, part in zip(keys, parts, strict=True):
                    try:
                        with same_idempotency_key(key):
                            acknowledged.append(client.detect(stream_id="crash", events=part))
                    except DriftlockConnectionError:
                        return  # killed: this one was in flight, unacknowledged

        sender = threading.Thread(target=send)
        sender.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 10:
            assert time.monotonic() < deadline
            assert sender.is_alive()
            time.sleep(0.001)
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        sender.join(timeout=30)
    finally:
        if first.process.poll() is None:
            first.stop(signal.SIGKILL)
    done = len(acknowledged)
    assert 10 <= done < len(parts)

    second = ServeProcess(tmp_path / "data", tmp_path / "second.log")
    try:
        with DriftlockSyncClient(api_key=KEY, base_url=second.url) as client:
            for key, part, answer in zip(keys, parts, acknowledged, strict=False):
                with same_idempotency_key(key):
                    again = client.detect(stream_id="crash", events=part)
                assert again == answer  # the first answer, kept: nothing ingested again
                for anomaly in answer.anomalies:
                    assert client.anomalies.get(anomaly.id).id == anomaly.id
            last = acknowledged[-1]
            for key, part in zip(keys[done:], parts[done:], strict=True):
                with same_idempotency_key(key):  # the one in flight may have been kept too
                    last = client.detect(stream_id="crash", events=part)
        assert last.calibration.events_ingested == 1200  # every event exactly once
    finally:
        second.stop(signal.SIGTERM)
