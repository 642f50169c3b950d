"""`driftlock stream`: in-process for the formats, as a real process for reading a live pipe."""

from __future__ import annotations

import io
import json
import os
import queue
import re
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from subprocess import PIPE
from typing import Any

import pytest

from driftlock import DriftlockSyncClient
from driftlock._cli_input import parse_nginx_line
from driftlock.cli import main
from tests.cli.conftest import Run
from tests.conftest import ServedEngine
from tests.support.streams import Event, incident_stream

Capture = pytest.CaptureFixture[str]
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def nginx_line(event: Event) -> str:
    """A log event of the synthetic streams as nginx would have logged it."""
    moment = datetime.fromisoformat(event["ts"].replace("Z", "+00:00"))
    when = f"{moment:%d}/{_MONTHS[moment.month - 1]}/{moment:%Y:%H:%M:%S} +0000"
    request = f"{event['method']} {event['path']} HTTP/1.1"
    return (
        f'{event["ip"]} - - [{when}] "{request}" {event["status"]} {event["bytes"]} '
        f'"-" "{event["user_agent"]}"'
    )


def stream_in_process(
    capsys: Capture, monkeypatch: pytest.MonkeyPatch, stdin: str, *argv: str
) -> tuple[int, list[dict[str, Any]], str]:
    """``driftlock --output jsonl stream ARGV`` with ``stdin``: status, records, stderr."""
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["--output", "jsonl", "stream", *argv])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_json_lines_anomalies_are_reported_with_their_line_numbers(
    local_url: str, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = incident_stream("log", 0).events
    lines = [json.dumps(e) for e in events]
    lines.insert(10, "{broken")
    code, records, err = stream_in_process(
        capsys, monkeypatch, "\n".join(lines) + "\n", "--base-url", local_url, "--stream", "web"
    )

    assert code == 0
    assert "driftlock: line 11 of <stdin>: invalid JSON" in err
    assert err.splitlines()[-1] == (
        f"driftlock: stream 'web': {len(events)} events sent, {len(records)} anomalies, "
        "1 bad line skipped"
    )
    assert records
    for record in records:
        assert json.loads(lines[record["line"] - 1]) == record["event"]
        assert record["stream_id"] == "web"


def test_nginx_access_logs_become_events(
    local_url: str, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = incident_stream("log", 3, bursts=["scanner"])
    lines = [nginx_line(e) for e in stream.events]
    code, records, err = stream_in_process(
        capsys, monkeypatch, "\n".join(lines) + "\n", "--base-url", local_url, "--format", "nginx"
    )

    assert code == 0
    assert f"{len(lines)} events sent" in err
    scanner = set(stream.bursts[0].indices)
    assert any(r["line"] - 1 in scanner for r in records)
    for record in records:
        event, source = record["event"], stream.events[record["line"] - 1]
        assert event["remote_addr"] == source["ip"]
        assert event["status"] == source["status"]
        assert event["body_bytes_sent"] == source["bytes"]
        assert event["http_user_agent"] == source["user_agent"]
        assert event["time"] == source["ts"][:19] + "Z"
        # A path with a space is no "METHOD PATH PROTOCOL": the request line is kept whole.
        if " " in source["path"]:
            assert event["request"] == f"{source['method']} {source['path']} HTTP/1.1"
        else:
            assert (event["method"], event["path"]) == (source["method"], source["path"])


def test_nginx_fields_missing_values_and_custom_suffixes(
    local_url: str, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = (
        '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 '
        '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"\n'
        '198.51.100.7 - - [01/May/2024:12:00:01 +0000] "\\x16\\x03\\x01\\x00" 400 157 "-" "-"\n'
        '198.51.100.8 - - [01/May/2024:12:00:02 +0000] "GET /x HTTP/1.1" 304 - rt=0.003\n'
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(log))
    assert main(["--base-url", local_url, "stream", "--format", "nginx"]) == 0
    assert "3 events sent, 0 anomalies" in capsys.readouterr().err

    first, tls, common = (parse_nginx_line(line) for line in log.splitlines())
    assert first == {
        "remote_addr": "127.0.0.1",
        "remote_user": "frank",
        "time": "2000-10-10T13:55:36-07:00",
        "method": "GET",
        "path": "/apache_pb.gif",
        "protocol": "HTTP/1.0",
        "status": 200,
        "body_bytes_sent": 2326,
        "http_referer": "http://www.example.com/start.html",
        "http_user_agent": "Mozilla/4.08 [en] (Win98; I ;Nav)",
    }
    assert tls["request"] == "\\x16\\x03\\x01\\x00"
    assert (tls["http_referer"], tls["http_user_agent"], tls["remote_user"]) == (None, None, None)
    assert (common["body_bytes_sent"], common["extra"]) == (0, "rt=0.003")
    assert "http_user_agent" not in common


def test_text_lines_become_text_events(
    local_url: str, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = incident_stream("log", 4, bursts=["error_burst"])
    lines = [
        f"{e['ts']} {e['method']} {e['path']} {e['status']} {e['duration_ms']}ms "
        f"{e.get('error', '')}".rstrip()
        for e in stream.events
    ]
    code, records, _ = stream_in_process(
        capsys, monkeypatch, "\n".join(lines) + "\n", "--base-url", local_url, "--format", "text"
    )
    assert code == 0
    assert records
    for record in records:
        assert record["event"] == {"text": lines[record["line"] - 1]}
    assert any(record["line"] - 1 in stream.bursts[0].indices for record in records)


def test_strict_stops_at_a_bad_line_after_sending_the_lines_before_it(
    local_url: str, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = '{"a": 1}\n{"a": 2}\n{"a": 3}\nnope\n{"a": 5}\n'
    code, _, err = stream_in_process(
        capsys, monkeypatch, stdin, "--base-url", local_url, "--stream", "s", "--strict"
    )
    assert code == 2
    assert err.splitlines() == [
        "driftlock: line 4 of <stdin>: invalid JSON: Expecting value (column 1) "
        "(--strict: stopped here; the lines before it were processed)"
    ]
    with DriftlockSyncClient(base_url=local_url) as client:
        after = client.detect(stream_id="s", events=[{"a": 6}])
    assert after.calibration.events_ingested == 4


def test_fail_on_anomaly_applies_at_the_end_of_the_input(
    local_url: str, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = "".join(json.dumps(e) + "\n" for e in incident_stream("metric", 5).events)
    code, records, _ = stream_in_process(
        capsys, monkeypatch, stdin, "--base-url", local_url, "--fail-on-anomaly"
    )
    assert records
    assert code == 1


def test_human_output_names_lines_and_calibration(
    local_url: str, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "sys.stdin",
        io.StringIO("".join(json.dumps(e) + "\n" for e in incident_stream("log", 6).events)),
    )
    assert main(["--base-url", local_url, "stream", "--stream", "h"]) == 0
    captured = capsys.readouterr()
    first = captured.out.splitlines()[0]
    assert re.fullmatch(r"line \d+: ANOMALY \(confidence 1\.00, NCD 0\.\d+, p \S+\): .+", first)
    assert captured.err.splitlines()[:2] == [
        "driftlock: stream 'h': Baseline calibrated; detection starts after 350 more events.",
        "driftlock: stream 'h': detection is ready",
    ]


# --- as a real process, reading a live pipe ---------------------------------------------------


def _reader(pipe: Any, into: queue.Queue[str | None]) -> None:
    for line in pipe:
        into.put(line)
    into.put(None)


def test_anomalies_are_reported_while_the_input_is_still_open(
    served_env: dict[str, str], served_engine: ServedEngine, tmp_path: Path
) -> None:
    stream = incident_stream("log", 0)
    first_burst = stream.bursts[0]
    command = [sys.executable, "-m", "driftlock", "stream", "--stream", "live", "-o", "jsonl",
               "--batch-size", "1000", "--flush-interval", "0.05"]  # fmt: skip
    with subprocess.Popen(
        command, stdin=PIPE, stdout=PIPE, stderr=PIPE, text=True, env=served_env, cwd=tmp_path
    ) as process:
        assert process.stdin is not None
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_reader, args=(process.stdout, lines), daemon=True).start()
        # Everything up to the end of the first burst, and the pipe stays open.
        for event in stream.events[: first_burst.stop]:
            process.stdin.write(json.dumps(event) + "\n")
        process.stdin.flush()
        first = lines.get(timeout=60)
        still_running = process.poll() is None
        process.stdin.close()
        code = process.wait(timeout=60)
        err = process.stderr.read() if process.stderr else ""
    assert first is not None, err
    assert still_running  # the anomaly came out before the input ended
    assert json.loads(first)["line"] <= first_burst.stop
    assert code == 0
    assert f"{first_burst.stop} events sent" in err


def test_what_is_left_is_flushed_at_the_end_of_the_input(
    run_cli: Run, served_env: dict[str, str], served_engine: ServedEngine
) -> None:
    stdin = "".join(json.dumps({"n": i, "kind": "tick"}) + "\n" for i in range(30))
    done = run_cli(
        "stream", "--stream", "eof", "--batch-size", "1000", "--flush-interval", "3600",
        env=served_env, stdin=stdin,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "driftlock: stream 'eof': Calibrating the baseline: 30 of 50 events.",
        "driftlock: stream 'eof': 30 events sent, 0 anomalies",
    ]
    with DriftlockSyncClient(base_url=served_engine.url, api_key=served_engine.api_key) as client:
        assert client.detect(stream_id="eof", events=[{"n": 30}]).calibration.events_ingested == 31


def test_the_vendor_pipe_example(served_env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("".join(nginx_line(e) + "\n" for e in incident_stream("log", 7).events[:120]))
    done = subprocess.run(
        "cat access.log | driftlock stream --format nginx",
        shell=True, capture_output=True, text=True, env={**served_env, "PATH": _venv_path()},
        cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        done.stderr.splitlines()[-1] == "driftlock: stream 'default': 120 events sent, 0 anomalies"
    )


def _venv_path() -> str:
    """PATH with the interpreter's own bin directory first, where ``driftlock`` is installed."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
