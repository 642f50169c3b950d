"""`driftlock history` and `driftlock config`, in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from driftlock import DriftlockSyncClient
from driftlock.cli import main
from tests.support.streams import incident_stream

Capture = pytest.CaptureFixture[str]
KEY = "dlk_6f1c2a9e-1111-4222-8333-444455556666.s3cr3t-tail-wxyz"


@pytest.fixture
def with_anomalies(local_url: str) -> str:
    """``local_url``'s engine after detecting on an incident stream (stream ``payments``)."""
    with DriftlockSyncClient(base_url=local_url) as client:
        result = client.detect(stream_id="payments", events=incident_stream("log", 0).events)
        client.detect(stream_id="other", events=incident_stream("metric", 0).events)
    assert result.anomaly_count > 150
    return local_url


def history(capsys: Capture, url: str, *argv: str) -> list[dict[str, Any]]:
    assert main(["--base-url", url, "history", "--output", "json", *argv]) == 0
    anomalies: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["anomalies"]
    return anomalies


def test_history_lists_the_newest_anomalies_of_a_stream(
    with_anomalies: str, capsys: Capture
) -> None:
    assert (
        main(["--base-url", with_anomalies, "history", "--stream", "payments", "--limit", "10"])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:6] == ["DETECTED", "AT", "STATUS", "CONFIDENCE", "NCD", "P-VALUE"]
    assert len(lines) == 11

    records = history(capsys, with_anomalies, "--stream", "payments", "--limit", "10")
    assert len(records) == 10
    assert {r["stream_id"] for r in records} == {"payments"}
    assert [r["detected_at"] for r in records] == sorted(
        (r["detected_at"] for r in records), reverse=True
    )


def test_history_pages_past_the_api_page_size(with_anomalies: str, capsys: Capture) -> None:
    records = history(capsys, with_anomalies, "--stream", "payments", "--limit", "150")
    assert len(records) == len({r["id"] for r in records}) == 150


def test_history_filters_by_status_and_stream(with_anomalies: str, capsys: Capture) -> None:
    assert {r["status"] for r in history(capsys, with_anomalies, "--status", "open")} == {"open"}
    both = history(capsys, with_anomalies, "--limit", "1000")
    assert {r["stream_id"] for r in both} == {"payments", "other"}

    argv = ["--base-url", with_anomalies, "history", "--stream", "payments", "--status", "resolved"]
    assert main(argv) == 0
    assert capsys.readouterr().out == "No anomalies for stream 'payments' with status resolved.\n"


def test_history_without_a_stream_shows_each_anomalys_stream(
    with_anomalies: str, capsys: Capture
) -> None:
    assert main(["--base-url", with_anomalies, "history", "--limit", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["DETECTED", "AT", "STREAM", "STATUS"]


def test_history_jsonl_is_one_record_per_line(with_anomalies: str, capsys: Capture) -> None:
    argv = ["--base-url", with_anomalies, "-o", "jsonl", "history", "--stream", "other"]
    assert main([*argv, "--limit", "5"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 5
    assert all(r["stream_id"] == "other" for r in records)


def test_history_rejects_an_unknown_status(local_url: str, capsys: Capture) -> None:
    assert main(["--base-url", local_url, "history", "--status", "closed"]) == 2
    assert "invalid choice: 'closed'" in capsys.readouterr().err


# --- config ----------------------------------------------------------------------------------


def config_json(capsys: Capture, *argv: str) -> dict[str, Any]:
    assert main(["config", "--output", "json", *argv]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def test_config_shows_defaults_and_where_the_file_would_be(
    isolated_settings: Path, capsys: Capture
) -> None:
    assert main(["config"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["SETTING", "VALUE", "SOURCE"]
    rows = {line.split()[0]: line.split(maxsplit=1)[1] for line in out[1:6]}
    assert rows["base_url"].split() == ["https://driftlock.net/api", "default"]
    assert rows["api_key"].split() == ["(not", "set)", "not", "set"]
    assert rows["timeout"].split() == ["10.0", "default"]
    assert rows["max_retries"].split() == ["3", "default"]
    assert rows["output"].split() == ["table", "default"]
    assert out[6] == f"Config file: {isolated_settings / 'driftlock' / 'config.json'} (none yet)"


def test_config_names_each_source_and_masks_the_key(
    monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    assert main(["config", "set", "timeout", "7"]) == 0
    assert main(["config", "set", "max_retries", "1"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("DRIFTLOCK_API_KEY", KEY)
    monkeypatch.setenv("DRIFTLOCK_TIMEOUT", "8")
    monkeypatch.setenv("DRIFTLOCK_BASE_URL", "http://127.0.0.1:9")

    assert main(["config", "--timeout", "9"]) == 0
    out = capsys.readouterr().out
    assert KEY not in out
    assert "s3cr3t" not in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:6]}
    assert rows == {
        "base_url": ["http://127.0.0.1:9", "environment", "(DRIFTLOCK_BASE_URL)"],
        "api_key": ["dlk_…wxyz", "environment", "(DRIFTLOCK_API_KEY)"],
        "timeout": ["9.0", "argument", "(--timeout)"],
        "max_retries": ["1", "config", "file"],
        "output": ["table", "default"],
    }

    settings = config_json(capsys, "--api-key", "short-key")["settings"]
    assert settings["api_key"] == {"value": "…", "source": "argument (--api-key)"}
    assert settings["timeout"] == {"value": 8.0, "source": "environment (DRIFTLOCK_TIMEOUT)"}


def test_config_set_output_changes_the_default_output(
    local_url: str, isolated_settings: Path, capsys: Capture
) -> None:
    assert main(["config", "set", "output", "json"]) == 0
    path = isolated_settings / "driftlock" / "config.json"
    assert capsys.readouterr().out == f"output = json (saved in {path})\n"
    assert json.loads(path.read_text()) == {"output": "json"}

    assert main(["--base-url", local_url, "history"]) == 0
    assert json.loads(capsys.readouterr().out) == {"stream_id": None, "anomalies": []}
    assert main(["--base-url", local_url, "history", "-o", "table"]) == 0
    assert capsys.readouterr().out == "No anomalies.\n"

    assert main(["config", "unset", "output"]) == 0
    assert capsys.readouterr().out == f"output removed from {path}\n"
    assert json.loads(path.read_text()) == {}
    assert main(["config", "unset", "output"]) == 0
    assert capsys.readouterr().out == f"output was not set in {path}\n"


def test_the_output_format_can_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    monkeypatch.setenv("DRIFTLOCK_OUTPUT", "jsonl")
    assert main(["config"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[-1] == {
        "setting": "output",
        "value": "jsonl",
        "source": "environment (DRIFTLOCK_OUTPUT)",
    }


def test_local_engines_need_no_key(local_url: str, capsys: Capture) -> None:
    settings = config_json(capsys, "--base-url", local_url)["settings"]
    assert settings["api_key"] == {"value": None, "source": "not needed for local://"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["config", "set", "api_key", "dlk_x"], "the API key is not stored in the config file"),
        (["config", "set", "colour", "red"], "unknown setting 'colour'"),
        (["config", "set", "output", "yaml"], "output must be one of table, json, jsonl"),
        (["config", "set", "timeout", "0"], "timeout must be a positive number"),
        (["config", "set", "base-url", "ftp://x"], "base_url: invalid base_url 'ftp://x'"),
    ],
)
def test_config_set_refuses_bad_settings(
    argv: list[str], message: str, isolated_settings: Path, capsys: Capture
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert message in err[0]
    assert not (isolated_settings / "driftlock" / "config.json").exists()


def test_bad_settings_from_the_environment_or_the_file_name_their_source(
    isolated_settings: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    monkeypatch.setenv("DRIFTLOCK_MAX_RETRIES", "lots")
    assert main(["config"]) == 2
    assert capsys.readouterr().err == (
        "driftlock: DRIFTLOCK_MAX_RETRIES must be a whole number, 0 or more, got 'lots'\n"
    )
    monkeypatch.delenv("DRIFTLOCK_MAX_RETRIES")
    path = isolated_settings / "driftlock" / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text("{oops")
    assert main(["config"]) == 2
    assert capsys.readouterr().err.startswith(f"driftlock: the config file {path} is not valid")
