"""The ``driftlock`` command line: parsing and refusals (serving is tested as a process)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from driftlock import __version__
from driftlock.cli import build_parser, main


def test_serve_options_and_defaults() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.api_key, args.rate_limit, args.data_dir) == (
        "127.0.0.1",
        8080,
        None,
        None,
        None,
    )
    args = build_parser().parse_args(
        ["serve", "--port", "9", "--api-key", "k", "--rate-limit", "5/second", "--data-dir", "d"]
    )
    assert (args.port, args.api_key, args.rate_limit, str(args.data_dir)) == (
        9,
        "k",
        "5/second",
        "d",
    )


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "serve" in capsys.readouterr().err


def test_a_bad_rate_limit_is_refused_before_serving(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--rate-limit", "lots"]) == 2
    assert "rate limit" in capsys.readouterr().err


def test_python_dash_m_driftlock_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "driftlock", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == f"driftlock {__version__}"
