"""`make demo` (the main job end to end) finds every staged incident, the same way every run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_demo() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "examples.demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def findings(out: str) -> str:
    """The demo's output without what may differ between runs: the app's port and the time."""
    lines = out.splitlines()
    return "\n".join(line for line in lines if not line.startswith(("  app at ", "Done in ")))


def test_the_demo_finds_every_incident_and_nothing_else() -> None:
    out = run_demo()
    assert "1230 requests sent,  1230 events ingested by Driftlock" in out
    assert "Delivery: 1230 captured, 1230 sent, 0 dropped, 0 failed, 0 queued" in out
    for incident, count in (
        ("payment provider down", 30),
        ("database slow", 20),
        ("scanner probing odd paths", 30),
    ):
        assert re.search(rf"{incident}\s+found \({count} anomalies\)", out), out
    assert "false alarms in 1150 normal requests: 0" in out
    assert re.search(r"body\.duration_ms\s+\d+ outliers; worst 200 ", out), out
    assert "body.status_code" in out


def test_the_demo_shows_the_same_findings_on_every_run() -> None:
    assert findings(run_demo()) == findings(run_demo())
