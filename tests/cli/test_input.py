"""What input files look like in the wild: Windows line endings, byte-order marks, broken
bytes, JSON the API cannot take, and whole files in the wrong format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from driftlock.cli import main

Capture = pytest.CaptureFixture[str]


def detect_file(
    capsys: Capture, url: str, path: Path, *argv: str
) -> tuple[int, dict[str, Any], list[str]]:
    code = main(["--base-url", url, "-o", "json", "detect", "--file", str(path), *argv])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else {}, captured.err.splitlines()


def test_windows_files_with_a_byte_order_mark_and_crlf(
    local_url: str, tmp_path: Path, capsys: Capture
) -> None:
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n{"a": 2}\r\n')
    code, doc, err = detect_file(capsys, local_url, path)
    assert (code, doc["events_sent"], err) == (0, 2, [])


def test_undecodable_bytes_cost_only_their_line(
    local_url: str, tmp_path: Path, capsys: Capture
) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": "caf\xe9"}\n{"a": 3}\n')
    code, doc, err = detect_file(capsys, local_url, path)
    assert (code, doc["events_sent"]) == (0, 2)
    assert err == [f"driftlock: line 2 of {path}: not valid UTF-8 (skipped)"]

    code, doc, err = detect_file(capsys, local_url, path, "--format", "text")
    assert (code, doc["events_sent"], err) == (0, 3, [])


def test_json_the_api_cannot_take_is_a_bad_line(
    local_url: str, tmp_path: Path, capsys: Capture
) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text(
        '{"user": {"name": "\\ud800"}}\n{"n": Infinity}\n{"n": 1}\nnull\n' + "[" * 3000 + "\n"
    )
    code, doc, err = detect_file(capsys, local_url, path)
    assert (code, doc["events_sent"]) == (0, 1)
    assert err == [
        f"driftlock: line 1 of {path}: field user.name: string is not valid Unicode "
        "(it holds a lone surrogate) (skipped)",
        f"driftlock: line 2 of {path}: invalid JSON: Infinity is not valid JSON "
        "(use null for a missing number) (skipped)",
        f"driftlock: line 4 of {path}: expected a JSON object, got a JSON null "
        '(plain text goes in as {"text": ...}, or use --format text) (skipped)',
        f"driftlock: line 5 of {path}: invalid JSON: nested too deeply (skipped)",
    ]


def test_a_file_in_the_wrong_format_is_summarised_not_listed_in_full(
    local_url: str, tmp_path: Path, capsys: Capture
) -> None:
    path = tmp_path / "access.log"
    path.write_text("".join(f"GET /page/{i} 200\n" for i in range(250)) + '{"ok": true}\n')
    code, doc, err = detect_file(capsys, local_url, path)
    assert (code, doc["events_sent"], doc["bad_lines"]) == (0, 1, 250)
    assert len(err) == 101
    assert err[99].startswith(f"driftlock: line 100 of {path}: invalid JSON")
    assert err[100] == (
        f"driftlock: 250 bad lines skipped in all in {path} (the first 100 are listed above)"
    )
