"""`driftlock serve --data-dir` as a real process: killed and restarted, it loses nothing."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from driftlock.local.app import DriftlockApp
from driftlock.local.engine import Engine
from tests.local.helpers import KEY, batches, feed, incident_prefix, local_client

ROOT = Path(__file__).resolve().parents[2]


class ServeProcess:
    """``python -m driftlock serve`` on a free port, its log in a file."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.log = log
        self._log_file = log.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "driftlock",
                "serve",
                "--port",
                "0",
                "--data-dir",
                str(data_dir),
                "--api-key",
                KEY,
                "--log-level",
                "info",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
        )
        self.url = self._wait_for_url()
        self.client = httpx.Client(base_url=self.url, headers={"X-Api-Key": KEY}, timeout=30)

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            match = re.search(r"running on (http://127\.0\.0\.1:\d+)", self.log.read_text())
            if match:
                return match.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop(signal.SIGKILL)
        raise RuntimeError(f"driftlock serve did not start:\n{self.log.read_text()}")

    def stop(self, sig: signal.Signals) -> int:
        """Send ``sig`` and wait for the exit status."""
        if hasattr(self, "client"):
            self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=20)
        finally:
            self._log_file.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    started: list[ServeProcess] = []

    def start() -> ServeProcess:
        process = ServeProcess(tmp_path / "data", tmp_path / f"serve-{len(started)}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        if process.process.poll() is None:
            process.stop(signal.SIGKILL)


def state_of(client: httpx.Client, stream: str) -> dict[str, Any]:
    """Everything the API says about a stream and its anomalies."""
    anomalies = client.get("/v1/anomalies", params={"limit": 100}).json()
    return {
        "anomalies": anomalies,
        "details": [client.get(f"/v1/anomalies/{a['id']}").json() for a in anomalies["anomalies"]],
        "profile": client.get(f"/v1/streams/{stream}/profile").json(),
        "tuning": client.get(f"/v1/streams/{stream}/tuning").json(),
        "anchor": client.get(f"/v1/streams/{stream}/anchor").json(),
        "anchor_details": client.get(f"/v1/streams/{stream}/anchor/details").json(),
    }


def test_a_killed_server_restarts_with_everything_it_acknowledged(serve: Any) -> None:
    stream = incident_prefix(seed=1)
    head, tail = stream.events[:1200], stream.events[1200:]

    first = serve()
    found = feed(first.client, "web", head)
    assert found, "no anomaly to persist"
    feedback = first.client.post(
        f"/v1/anomalies/{found[0]['id']}/feedback", json={"feedback_type": "false_positive"}
    )
    assert feedback.status_code == 200
    retry = {"stream_id": "side", "events": [{"n": 1}, {"n": 2}]}
    replayed = first.client.post("/v1/detect", json=retry, headers={"Idempotency-Key": "once"})
    assert replayed.status_code == 200
    before = state_of(first.client, "web")
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL

    second = serve()
    assert state_of(second.client, "web") == before
    again = second.client.post("/v1/detect", json=retry, headers={"Idempotency-Key": "once"})
    assert again.json() == replayed.json()
    continued = [
        second.client.post("/v1/detect", json={"stream_id": "web", "events": batch}).json()
        for batch in batches(tail)
    ]
    assert continued[0]["calibration"]["events_ingested"] == len(head) + 100
    side = second.client.post("/v1/detect", json={"stream_id": "side", "events": [{"n": 3}]})
    assert side.json()["calibration"]["events_ingested"] == 3
    assert second.stop(signal.SIGTERM) == 0

    third = serve()
    assert third.client.get("/v1/streams/side/profile").status_code == 200
    listed = third.client.get("/v1/anomalies", params={"stream_id": "web", "limit": 100}).json()
    assert listed["total"] >= before["anomalies"]["total"]
    assert third.stop(signal.SIGINT) == 0


def test_a_restarted_stream_continues_exactly_as_an_uninterrupted_one(serve: Any) -> None:
    stream = incident_prefix(seed=1)
    head, tail = stream.events[:1000], stream.events[1000:]

    first = serve()
    feed(first.client, "web", head)
    first.stop(signal.SIGKILL)
    second = serve()
    resumed = feed(second.client, "web", tail)
    second.stop(signal.SIGTERM)

    with local_client(DriftlockApp(Engine(), api_key=KEY)) as straight:
        feed(straight, "web", head)
        expected = feed(straight, "web", tail)
    assert resumed == expected


def test_the_data_directory_holds_one_sqlite_database(serve: Any, tmp_path: Path) -> None:
    server = serve()
    server.client.post("/v1/detect", json={"events": [{"a": 1}]})
    server.stop(signal.SIGTERM)
    assert (tmp_path / "data" / "driftlock.sqlite3").is_file()
    assert os.path.getsize(tmp_path / "data" / "driftlock.sqlite3") > 0


def _reopened_snapshot(data_dir: Path, stream: str) -> dict[str, Any]:
    engine = Engine(data_dir)
    try:
        state = engine._stream(stream, create=False)
        assert state is not None
        return state.detector.snapshot()
    finally:
        engine.close()


@pytest.mark.parametrize("batch", [1, 100, 1000])
def test_a_reopened_data_directory_holds_the_whole_detector_state(
    tmp_path: Path, batch: int
) -> None:
    events = incident_prefix(seed=2, n=2600).events
    engine = Engine(tmp_path)
    for start in range(0, len(events) if batch > 1 else 700, batch):
        engine.detect(events[start : start + batch], stream_id="web")
        if start == 300:
            engine.reset_anchor("web", events[:80])
    state = engine._stream("web", create=False)
    assert state is not None
    expected = state.detector.snapshot()
    engine.close()
    assert _reopened_snapshot(tmp_path, "web") == expected

    # Saves write the bulky parts apart, only as far as they are new.
    with sqlite3.connect(tmp_path / "driftlock.sqlite3") as db:
        (saved,) = db.execute("SELECT detector FROM streams WHERE name = 'web'").fetchone()
        (chunks,) = db.execute("SELECT COUNT(*) FROM field_tokens").fetchone()
    assert not {"history", "anchor_events"} & set(json.loads(saved))
    assert "recent" not in json.loads(saved)["fields"]
    assert chunks <= len(expected["fields"]["recent"]) // batch + 2


def test_a_stream_saved_whole_by_an_earlier_version_continues_exactly(tmp_path: Path) -> None:
    events = incident_prefix(seed=1).events
    engine = Engine(tmp_path)
    for chunk in batches(events[:900]):
        engine.detect(chunk, stream_id="web")
    state = engine._stream("web", create=False)
    assert state is not None
    whole = state.detector.snapshot()
    engine.close()
    # The earlier layout: everything but the history in the stream's row, no side tables.
    with sqlite3.connect(tmp_path / "driftlock.sqlite3") as db:
        db.execute("DELETE FROM field_tokens")
        db.execute("DELETE FROM anchor_events")
        row = {key: value for key, value in whole.items() if key != "history"}
        db.execute("UPDATE streams SET detector = ? WHERE name = 'web'", (json.dumps(row),))
    assert _reopened_snapshot(tmp_path, "web") == whole

    resumed = Engine(tmp_path)
    straight = Engine()
    for chunk in batches(events[:900]):
        straight.detect(chunk, stream_id="web")
    for chunk in batches(events[900:]):
        got, expected = (e.detect(chunk, stream_id="web") for e in (resumed, straight))
        assert got["anomalies"] == expected["anomalies"]
        assert got["value_outliers"] == expected["value_outliers"]
    resumed.close()
    got_state = _reopened_snapshot(tmp_path, "web")
    expected_state = straight._streams["web"].detector.snapshot()
    for state in (got_state, expected_state):
        state["anchor"].pop("created_at")  # the wall clock at calibration
    assert got_state == expected_state
