"""`driftlock detect`, run in-process through `main(argv)` against `local://` engines."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from driftlock import DriftlockSyncClient
from driftlock.cli import main
from tests.cli.conftest import write_jsonl
from tests.conftest import ServedEngineFactory
from tests.support.streams import clean_stream, incident_stream

Capture = pytest.CaptureFixture[str]


def run_json(capsys: Capture, *argv: str) -> tuple[int, dict[str, Any], str]:
    """Run with ``--output json``: the status, the parsed document and stderr."""
    code = main(["--output", "json", *argv])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def ingested(url: str, stream: str) -> int:
    """How many events ``stream`` holds, by sending it one more (which counts itself)."""
    with DriftlockSyncClient(base_url=url) as client:
        result = client.detect(stream_id=stream, events=[{"probe": True}])
    return result.calibration.events_ingested - 1


def test_the_vendor_walkthrough_works_as_written(
    local_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    monkeypatch.setenv("DRIFTLOCK_BASE_URL", local_url)
    monkeypatch.chdir(tmp_path)
    Path("test-events.json").write_text('{"latency": 100}\n{"latency": 102}\n{"latency": 98}\n')

    assert main(["detect", "--stream", "test-stream", "--file", "test-events.json"]) == 0
    out = capsys.readouterr().out
    assert "Sent 3 events to stream 'test-stream'" in out
    assert "Calibrating the baseline: 3 of 50 events." in out

    assert main(["detect", "--stream", "test-stream", "--json", '{"latency": 5000}']) == 0
    out = capsys.readouterr().out
    assert "Sent 1 event to stream 'test-stream'" in out
    assert "4 of 50 events" in out


def test_a_single_json_event(local_url: str, capsys: Capture) -> None:
    code, doc, err = run_json(
        capsys,
        "--base-url",
        local_url,
        "detect",
        "--stream",
        "my-stream",
        "--json",
        '{"value": 100}',
    )
    assert (code, err) == (0, "")
    assert (doc["stream_id"], doc["events_sent"], doc["anomalies"]) == ("my-stream", 1, [])
    assert doc["calibration"]["events_ingested"] == 1


def test_json_accepts_an_array_of_events(local_url: str, capsys: Capture) -> None:
    code, doc, _ = run_json(
        capsys, "--base-url", local_url, "detect", "--json", '[{"a": 1}, {"a": 2}]'
    )
    assert (code, doc["events_sent"]) == (0, 2)


def _incident_file(path: Path) -> tuple[Path, list[int], int]:
    """The log incident stream as JSON Lines with bad lines mixed in: the file, the 1-based
    numbers of the bad lines, and the number of valid events."""
    events = incident_stream("log", 0).events
    bad = {5: "{not json", 40: "[1, 2, 3]", 41: "", 700: '{"latency": NaN}', 1500: '"text"'}
    lines: list[str] = []
    bad_numbers = []
    for event in events:
        while len(lines) + 1 in bad:
            text = bad[len(lines) + 1]
            if text:  # blank lines are skipped without a word
                bad_numbers.append(len(lines) + 1)
            lines.append(text)
        lines.append(json.dumps(event))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, bad_numbers, len(events)


def test_anomalies_are_reported_at_their_lines_and_bad_lines_are_skipped(
    local_url: str, tmp_path: Path, capsys: Capture
) -> None:
    path, bad_numbers, n_events = _incident_file(tmp_path / "logs.jsonl")
    code, doc, err = run_json(
        capsys, "--base-url", local_url, "detect", "--stream", "logs", "--file", str(path)
    )

    assert code == 0
    # Each bad line named on stderr, by number, and skipped; every valid line still sent.
    reported = [line for line in err.splitlines() if line.startswith("driftlock: line ")]
    assert [int(line.split()[2]) for line in reported] == bad_numbers
    assert all(line.endswith("(skipped)") and str(path) in line for line in reported)
    assert "invalid JSON" in reported[0]
    assert "expected a JSON object" in reported[1]
    assert "NaN is not valid JSON" in reported[2]
    assert (doc["events_sent"], doc["bad_lines"]) == (n_events, len(bad_numbers))
    assert doc["calibration"]["events_ingested"] == n_events

    # Each anomaly points at the very line that holds its event.
    file_lines = path.read_text().splitlines()
    assert doc["anomaly_count"] == len(doc["anomalies"]) > 0
    for anomaly in doc["anomalies"]:
        assert json.loads(file_lines[anomaly["line"] - 1]) == anomaly["event"]
        assert anomaly["why"]
        assert 0 <= anomaly["p_value"] <= 1
    # Every burst of the incident stream is caught.
    stream = incident_stream("log", 0)
    events_by_line = {json.dumps(e, sort_keys=True) for e in stream.events}
    found = {json.dumps(a["event"], sort_keys=True) for a in doc["anomalies"]}
    assert found <= events_by_line
    for burst in stream.bursts:
        burst_events = {json.dumps(stream.events[i], sort_keys=True) for i in burst.indices}
        assert found & burst_events, burst.kind


def test_fail_on_anomaly_sets_the_exit_status(
    local_url: str, tmp_path: Path, capsys: Capture
) -> None:
    incidents = write_jsonl(tmp_path / "incidents.jsonl", incident_stream("metric", 1).events)
    clean = write_jsonl(tmp_path / "clean.jsonl", clean_stream("metric", 1000, seed=1).events)
    base = ["--base-url", local_url, "detect", "--fail-on-anomaly"]

    assert main([*base, "--stream", "ci-bad", "--file", str(incidents)]) == 1
    assert "anomalies detected" in capsys.readouterr().out
    assert main([*base, "--stream", "ci-good", "--file", str(clean)]) == 0
    assert "No anomalies detected." in capsys.readouterr().out
    # Without the flag, findings are not a failure.
    assert main([*base[:-1], "--stream", "ci-bad-2", "--file", str(incidents)]) == 0


def test_strict_stops_at_the_first_bad_line_before_sending_anything(
    local_url: str, tmp_path: Path, capsys: Capture
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"a": 1}\n{"a": 2\n{"a": 3}\n[]\n')
    argv = ["--base-url", local_url, "detect", "--stream", "s", "--file", str(path), "--strict"]

    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"driftlock: line 2 of {path}: invalid JSON")
    assert err[0].endswith("(--strict: stopped here; nothing was sent)")
    assert ingested(local_url, "s") == 0


def test_events_are_sent_in_batches_of_at_most_1000(
    local_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    sizes: list[int] = []
    real_detect = DriftlockSyncClient.detect

    def counting_detect(self: DriftlockSyncClient, **kwargs: Any) -> Any:
        sizes.append(len(kwargs["events"]))
        return real_detect(self, **kwargs)

    monkeypatch.setattr(DriftlockSyncClient, "detect", counting_detect)
    path = write_jsonl(tmp_path / "big.jsonl", clean_stream("log", 2500).events)

    code, doc, _ = run_json(capsys, "--base-url", local_url, "detect", "--file", str(path))
    assert code == 0
    assert sizes == [1000, 1000, 500]
    assert doc["events_sent"] == doc["calibration"]["events_ingested"] == 2500


def test_file_dash_reads_stdin(
    local_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO('{"a": 1}\n\n{"a": 2}\nnot json\n'))
    code, doc, err = run_json(capsys, "--base-url", local_url, "detect", "--file", "-")
    assert (code, doc["events_sent"], doc["bad_lines"]) == (0, 2, 1)
    assert "driftlock: line 4 of <stdin>: invalid JSON" in err


def test_jsonl_output_is_one_anomaly_per_line(
    local_url: str, tmp_path: Path, capsys: Capture
) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", incident_stream("metric", 2).events)
    code = main(["--base-url", local_url, "detect", "--file", str(path), "--output", "jsonl"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out
    records = [json.loads(line) for line in out]
    assert all(
        {"line", "why", "confidence", "ncd", "p_value", "event"} <= r.keys() for r in records
    )
    assert [r["line"] for r in records] == sorted(r["line"] for r in records)


def test_piped_table_output_is_plain_text(local_url: str, tmp_path: Path, capsys: Capture) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", incident_stream("metric", 2).events)
    assert main(["--base-url", local_url, "detect", "--file", str(path)]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("LINE"))
    assert header.split() == ["LINE", "CONFIDENCE", "NCD", "P-VALUE", "WHY"]
    assert "\x1b[" not in out
    assert "│" not in out


class FakeTerminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_rich_table(
    local_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", incident_stream("metric", 2).events)
    terminal = FakeTerminal()
    monkeypatch.setattr("sys.stdout", terminal)
    assert main(["--base-url", local_url, "detect", "--file", str(path)]) == 0
    out = terminal.getvalue()
    assert "┏━" in out
    assert "CONFIDENCE" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["detect", "--file", "missing.jsonl"], "cannot read missing.jsonl: No such file"),
        (["detect", "--json", "{oops"], "--json: invalid JSON: Expecting property name"),
        (["detect", "--json", "[1]"], "--json: item 1: expected a JSON object, got a JSON number"),
        (["detect", "--json", "[]"], "--json: the array is empty"),
        (["detect"], "one of the arguments --json --file is required"),
        (["detect", "--json", "{}", "--file", "x"], "not allowed with argument"),
        (["detect", "--json", "{}", "--timeout", "soon"], "--timeout must be a positive number"),
        (["detect", "--json", "{}", "--max-retries", "-1"], "--max-retries must be a whole number"),
        (["--output", "yaml", "detect", "--json", "{}"], "invalid choice: 'yaml'"),
        (["stream", "--batch-size", "5000"], "must be a whole number from 1 to 1000"),
    ],
)
def test_usage_and_input_errors_exit_2_with_one_line(
    argv: list[str], message: str, local_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    monkeypatch.setenv("DRIFTLOCK_BASE_URL", local_url)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("driftlock")
    assert message in lines[0]


def test_an_empty_input_is_an_error(local_url: str, tmp_path: Path, capsys: Capture) -> None:
    (tmp_path / "empty.jsonl").write_text("\n\n")
    assert main(["--base-url", local_url, "detect", "--file", str(tmp_path / "empty.jsonl")]) == 2
    assert "no events to send" in capsys.readouterr().err


def test_without_an_api_key_the_real_service_is_refused_before_any_request(
    tmp_path: Path, capsys: Capture
) -> None:
    assert main(["detect", "--json", "{}"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "driftlock: no API key: set DRIFTLOCK_API_KEY or pass --api-key "
        "(or use --base-url local:// for the embedded engine, which needs none)"
    ]


def test_nginx_logs_can_be_detected_from_a_file(
    local_url: str, tmp_path: Path, capsys: Capture
) -> None:
    path = tmp_path / "access.log"
    path.write_text(
        '203.0.113.9 - - [01/May/2024:12:00:01 +0000] "GET /index.html HTTP/1.1" 200 512 '
        '"-" "curl/8.5.0"\nnot a log line\n'
    )
    code, doc, err = run_json(
        capsys, "--base-url", local_url, "detect", "--format", "nginx", "--file", str(path)
    )
    assert (code, doc["events_sent"], doc["bad_lines"]) == (0, 1, 1)
    assert f"line 2 of {path}: not in nginx's combined log format (skipped)" in err


def test_a_failure_after_some_batches_says_how_many_events_went_through(
    served_engine_factory: ServedEngineFactory, tmp_path: Path, capsys: Capture
) -> None:
    served = served_engine_factory(rate_limit="2/minute")
    path = write_jsonl(tmp_path / "big.jsonl", clean_stream("log", 2500).events)
    argv = ["--base-url", served.url, "--api-key", served.api_key, "--max-retries", "0"]

    assert main([*argv, "detect", "--stream", "limited", "--file", str(path)]) == 3
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("driftlock: detect failed: HTTP 429 rate_limit_exceeded")
    assert err[0].endswith("(2000 events sent before it)")


def test_without_rich_a_terminal_gets_plain_text(
    local_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rich.console", None)  # the `cli` extra not installed
    path = write_jsonl(tmp_path / "m.jsonl", incident_stream("metric", 2).events)
    terminal = FakeTerminal()
    monkeypatch.setattr("sys.stdout", terminal)
    assert main(["--base-url", local_url, "detect", "--file", str(path)]) == 0
    out = terminal.getvalue()
    assert "LINE  CONFIDENCE  NCD" in out
    assert "┏" not in out


def test_a_bug_is_one_line_too_unless_debugging(
    local_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    def broken(self: DriftlockSyncClient, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(DriftlockSyncClient, "detect", broken)
    argv = ["--base-url", local_url, "detect", "--json", "{}"]
    assert main(argv) == 4
    assert capsys.readouterr().err == (
        "driftlock: internal error: RuntimeError: boom (run with --debug for the traceback)\n"
    )
    assert main(["--debug", *argv]) == 4
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert err.endswith("driftlock: internal error: RuntimeError: boom\n")
