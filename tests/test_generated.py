"""The generated client: complete, importable, and guarded against drift.

`make generate` is how a platform engineer follows an API change, so the workflow itself is
tested: hand edits are caught, and a new operation adds its module and changes nothing else.
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHECK_SCRIPT = ROOT / "scripts" / "check_generated.py"
PACKAGE = "driftlock_generated"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _operations() -> list[tuple[str, str]]:
    spec: dict[str, Any] = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    return [
        (operation["tags"][0], operation["operationId"])
        for item in spec["paths"].values()
        for operation in item.values()
    ]


@pytest.mark.parametrize(("tag", "operation_id"), _operations())
def test_every_operation_has_sync_and_async_functions(tag: str, operation_id: str) -> None:
    module = importlib.import_module(f"{PACKAGE}.api.{tag}.{_snake(operation_id)}")
    for function in ("sync", "sync_detailed", "asyncio", "asyncio_detailed"):
        assert callable(getattr(module, function)), f"{module.__name__}.{function}"


def test_the_authenticated_client_sends_the_key_as_x_api_key() -> None:
    from driftlock_generated import AuthenticatedClient

    client = AuthenticatedClient(
        base_url="http://127.0.0.1:9",
        token="dlk_test.secret",
        prefix="",
        auth_header_name="X-Api-Key",
    )
    assert client.get_httpx_client().headers["X-Api-Key"] == "dlk_test.secret"


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The spec, generator config and generated package, copied where a test may change them."""
    for name in ("openapi.yaml", "generator-config.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(
        ROOT / PACKAGE, tmp_path / PACKAGE, ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK_SCRIPT), "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_committed_code_matches_the_spec(project_copy: Path) -> None:
    done = _check(project_copy)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_hand_edit_is_reported_with_its_diff(project_copy: Path) -> None:
    target = project_copy / PACKAGE / "models" / "detect_response.py"
    target.write_text(target.read_text().replace("anomaly_count: int", "anomaly_count: str", 1))
    done = _check(project_copy)
    assert done.returncode == 1
    assert "-    anomaly_count: str" in done.stdout
    assert "+    anomaly_count: int" in done.stdout


def test_a_stray_file_is_reported(project_copy: Path) -> None:
    (project_copy / PACKAGE / "api" / "helpers.py").write_text("X = 1\n")
    done = _check(project_copy)
    assert done.returncode == 1
    assert "only in driftlock_generated/ (not generated): api/helpers.py" in done.stdout


def test_a_new_operation_adds_its_module_and_changes_nothing_else(project_copy: Path) -> None:
    spec_path = project_copy / "openapi.yaml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["paths"]["/v1/streams"] = {
        "get": {
            "tags": ["streams"],
            "operationId": "listStreams",
            "responses": {
                "200": {
                    "description": "Streams.",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/StreamList"}}
                    },
                }
            },
        }
    }
    spec["components"]["schemas"]["StreamList"] = {
        "type": "object",
        "required": ["streams"],
        "properties": {"streams": {"type": "array", "items": {"type": "string"}}},
    }
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    done = _check(project_copy)
    assert done.returncode == 1
    reported = {line for line in done.stdout.splitlines() if line.startswith(("---", "missing"))}
    assert reported == {
        "missing from driftlock_generated/ (generated): api/streams/list_streams.py",
        "missing from driftlock_generated/ (generated): models/stream_list.py",
        f"--- {PACKAGE}/models/__init__.py (committed)",
    }
