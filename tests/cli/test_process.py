"""`python -m driftlock` as a real process against a served engine: the vendor's examples as
written, exit statuses, stderr, progress bars, and the API key kept out of every output."""

from __future__ import annotations

import json
import os
import pty
import socket
import subprocess
import sys
import threading
from pathlib import Path

from tests.cli.conftest import Run, write_jsonl
from tests.conftest import ServedEngine
from tests.support.streams import clean_stream, incident_stream

SECRET = "test-secret"  # the secret part of the served engine's key (tests.conftest)


def test_the_vendor_examples_work_as_written(
    run_cli: Run, served_env: dict[str, str], tmp_path: Path
) -> None:
    write_jsonl(tmp_path / "logs.jsonl", clean_stream("log", 60).events)

    done = run_cli("detect", "--stream", "my-stream", "--json", '{"value": 100}', env=served_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Sent 1 event to stream 'my-stream'")

    done = run_cli("detect", "--stream", "logs", "--file", "./logs.jsonl", env=served_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Sent 60 events to stream 'logs'")

    done = run_cli("history", "--stream", "payment-service", "--limit", "10", env=served_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "No anomalies for stream 'payment-service'.\n"


def test_ci_gate_fails_on_anomalies_and_passes_on_clean_metrics(
    run_cli: Run, served_env: dict[str, str], tmp_path: Path
) -> None:
    write_jsonl(tmp_path / "metrics.jsonl", incident_stream("metric", 0).events)
    done = run_cli(
        "detect", "--stream", "ci-performance", "--file", "metrics.jsonl", "--fail-on-anomaly",
        env=served_env,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "anomalies detected:" in done.stdout
    assert done.stderr == ""

    write_jsonl(tmp_path / "metrics.jsonl", clean_stream("metric", 1000).events)
    done = run_cli(
        "detect", "--stream", "ci-clean", "--file", "metrics.jsonl", "--fail-on-anomaly",
        env=served_env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "No anomalies detected." in done.stdout


def test_piped_output_has_no_progress_bar_and_no_terminal_codes(
    run_cli: Run, served_env: dict[str, str], tmp_path: Path
) -> None:
    write_jsonl(tmp_path / "big.jsonl", clean_stream("log", 2100).events)
    done = run_cli("detect", "--file", "big.jsonl", env=served_env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "\x1b" not in done.stdout
    assert "Sending events" not in done.stdout


def test_a_terminal_gets_a_progress_bar_on_stderr(
    served_env: dict[str, str], tmp_path: Path
) -> None:
    write_jsonl(tmp_path / "big.jsonl", clean_stream("log", 2100).events)
    controller, terminal = pty.openpty()
    env = {**served_env, "TERM": "xterm-256color"}
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    with subprocess.Popen(
        [sys.executable, "-m", "driftlock", "detect", "--file", "big.jsonl"],
        stdout=subprocess.PIPE, stderr=terminal, text=True, env=env, cwd=tmp_path,
    ) as process:  # fmt: skip
        os.close(terminal)
        shown: list[bytes] = []
        reader = threading.Thread(target=_drain, args=(controller, shown))
        reader.start()
        out, _ = process.communicate(timeout=120)
        reader.join(timeout=30)
    os.close(controller)
    assert process.returncode == 0
    screen = b"".join(shown).decode("utf-8", "replace")
    assert "Sending events" in screen
    assert "2100/2100" in screen
    assert out.startswith("Sent 2100 events")  # results on stdout, plain: it is a pipe


def _drain(fd: int, into: list[bytes]) -> None:
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO once the child has closed the terminal
            return
        if not data:
            return
        into.append(data)


def test_api_errors_exit_3_with_one_line_and_no_key(
    run_cli: Run, served_env: dict[str, str]
) -> None:
    wrong = "dlk_00000000-0000-4000-8000-000000000000.wrong-secret-zz"
    env = {**served_env, "DRIFTLOCK_API_KEY": wrong}
    done = run_cli("detect", "--json", '{"a": 1}', env=env)
    assert done.returncode == 3
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("driftlock: detect failed: HTTP 401 unauthorized")
    assert "wrong-secret" not in done.stderr

    done = run_cli("--debug", "history", env=env)
    assert done.returncode == 3
    assert "Traceback (most recent call last)" in done.stderr
    assert "AuthenticationError" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("driftlock: anomalies.list failed: HTTP 401")
    assert "wrong-secret" not in done.stderr


def test_an_unreachable_server_is_an_api_error(run_cli: Run, served_env: dict[str, str]) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**served_env, "DRIFTLOCK_BASE_URL": f"http://127.0.0.1:{port}"}
    done = run_cli("detect", "--json", "{}", "--max-retries", "0", env=env)
    assert done.returncode == 3
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("driftlock: detect failed: ")
    assert f"http://127.0.0.1:{port}" in lines[0]


def test_usage_errors_exit_2_with_one_line(run_cli: Run, served_env: dict[str, str]) -> None:
    done = run_cli("detect", "--stream", "x", env=served_env)
    assert done.returncode == 2
    assert done.stderr == (
        "driftlock detect: error: one of the arguments --json --file is required "
        "(see driftlock detect --help)\n"
    )
    done = run_cli(env=served_env)
    assert done.returncode == 2
    assert "detect" in done.stderr
    assert "history" in done.stderr


def test_the_key_is_never_printed(
    run_cli: Run, served_env: dict[str, str], served_engine: ServedEngine, tmp_path: Path
) -> None:
    write_jsonl(tmp_path / "events.jsonl", incident_stream("log", 0).events[:1200])
    runs = [
        run_cli("config", env=served_env),
        run_cli("config", "-o", "json", env=served_env),
        run_cli("--debug", "detect", "--file", "events.jsonl", "-o", "json", env=served_env),
        run_cli("--debug", "history", "--limit", "100", env=served_env),
        run_cli("stream", "--debug", env=served_env, stdin='{"a": 1}\n'),
        run_cli("--api-key", served_engine.api_key, "config", env=served_env),
    ]
    for done in runs:
        assert done.returncode == 0, done.stderr
        assert SECRET not in done.stdout + done.stderr
    assert "dlk_…cret" in runs[0].stdout
    assert json.loads(runs[1].stdout)["settings"]["api_key"]["value"] == "dlk_…cret"
    assert "DEBUG driftlock: POST" in runs[2].stderr  # the requests were logged, keyless
