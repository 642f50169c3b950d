"""Fixtures for the command line's tests: settings isolated from the developer's machine,
fresh engines, and a way to run ``python -m driftlock`` as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServedEngine

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No DRIFTLOCK_* variable from the outside, and a config directory of the test's own
    (returned), so neither the developer's environment nor ~/.config leak in."""
    for name in list(os.environ):
        if name.startswith("DRIFTLOCK_"):
            monkeypatch.delenv(name)
    config_home = tmp_path / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    return config_home


@pytest.fixture
def local_url() -> str:
    """A ``local://`` URL naming an engine no other test uses."""
    return f"local://cli-{uuid.uuid4().hex}"


@pytest.fixture
def served_env(served_engine: ServedEngine) -> dict[str, str]:
    """The environment of a process pointed at the served engine with its key."""
    return {
        **os.environ,
        "DRIFTLOCK_BASE_URL": served_engine.url,
        "DRIFTLOCK_API_KEY": served_engine.api_key,
    }


@pytest.fixture
def run_cli(tmp_path: Path) -> Run:
    """Run ``python -m driftlock ARGS`` in ``tmp_path`` with pipes for stdin, stdout, stderr."""

    def run(
        *args: str, env: Mapping[str, str] | None = None, stdin: str = ""
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "driftlock", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else None,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )

    return run


def write_jsonl(path: Path, events: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``events`` as JSON Lines to ``path``."""
    path.write_text("".join(json.dumps(event) + "\n" for event in events), encoding="utf-8")
    return path
