"""Every Python example of the vendor's SDK page runs, as written, against the embedded engine.

The page is reference data kept outside the repository (``../shared/reference/vendor-docs``),
read here at test time. Placeholders are filled in: a literal ``[...]`` list of events becomes
real events and ``client.detect(...)`` gets real arguments. The pandas example belongs to the
``client.utils.from_dataframe`` issue and is left out here.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from driftlock import DetectResult, DriftlockClient
from tests.client.scenario import events
from tests.conftest import ServedEngineFactory

PAGE = (
    Path(__file__).resolve().parents[3] / "shared" / "reference" / "vendor-docs" / "python-sdk.md"
)
EVENTS = "[{'type': 'temperature', 'body': {'value': 21.5, 'unit': 'C'}}]"


def examples() -> dict[str, str]:
    """The page's Python blocks, by the heading they sit under."""
    assert PAGE.exists(), f"the vendor's docs are expected at {PAGE}"
    found: dict[str, str] = {}
    heading = ""
    for part in re.split(
        r"(^## [^\n]*$|^```python\n.*?^```$)", PAGE.read_text(), flags=re.M | re.S
    ):
        if part.startswith("## "):
            heading = part[3:].strip()
        elif part.startswith("```python"):
            found[heading] = part.removeprefix("```python\n").removesuffix("```")
    return found


def test_the_page_has_the_examples_this_file_runs() -> None:
    assert set(examples()) == {
        "Quick Start",
        "Synchronous Usage",
        "Configuration",
        "Pandas Integration",
        "Error Handling",
        "Logging",
    }


@pytest.fixture
def local_engine(monkeypatch: pytest.MonkeyPatch, engine_name: str) -> str:
    monkeypatch.delenv("DRIFTLOCK_API_KEY", raising=False)
    monkeypatch.setenv("DRIFTLOCK_BASE_URL", f"local://{engine_name}")
    return engine_name


def test_quick_start(local_engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(examples()["Quick Start"], namespace)
    assert capsys.readouterr().out == "No anomalies detected.\n"


def test_quick_start_reporting_anomalies(
    local_engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A stream of web requests first, so that the page's temperature reading stands out.
    DriftlockClient().detect_sync(stream_id="sensor-data", events=events()[:700])
    exec(examples()["Quick Start"], {"__name__": "__main__"})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Detected 1 anomalies:"
    assert re.fullmatch(r"- .+ \(Confidence: 0\.\d+\)", out[1])


def test_synchronous_usage(local_engine: str) -> None:
    code = examples()["Synchronous Usage"]
    assert "events=[...]" in code
    namespace: dict[str, Any] = {}
    exec(code.replace("events=[...]", f"events={EVENTS}"), namespace)
    result = namespace["result"]
    assert isinstance(result, DetectResult)
    assert result.total_events == 1
    assert result.stream_id == "sync-stream"


def test_configuration() -> None:
    namespace: dict[str, Any] = {"DriftlockClient": DriftlockClient}  # the Quick Start's import
    exec(examples()["Configuration"], namespace)
    client = namespace["client"]
    assert isinstance(client, DriftlockClient)
    assert (client.timeout.read, client.max_retries) == (10.0, 3)
    assert client.base_url == "https://driftlock-api-o6kjgrsowq-uc.a.run.app"


def run_error_handling(client: DriftlockClient) -> None:
    code = examples()["Error Handling"]
    assert "client.detect(...)" in code
    code = code.replace("client.detect(...)", f"client.detect(stream_id='docs', events={EVENTS})")
    compiled = compile(code, "error-handling", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)

    async def main() -> None:
        async with client:
            await eval(compiled, {"client": client})

    asyncio.run(main())


def test_error_handling_rate_limited(
    served_engine_factory: ServedEngineFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    served = served_engine_factory(rate_limit="1/minute")
    client = DriftlockClient(api_key=served.api_key, base_url=served.url, max_retries=0)
    client.detect_sync(stream_id="docs", events=[{"type": "first"}])  # uses up the minute
    run_error_handling(client)
    assert re.fullmatch(
        r"Rate limit exceeded\. Retry in \d+(\.\d+)? seconds\.\n", capsys.readouterr().out
    )


def test_error_handling_other_api_errors(
    served_engine_factory: ServedEngineFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    served = served_engine_factory(api_key="dlk_right.key")
    run_error_handling(DriftlockClient(api_key="dlk_wrong.key", base_url=served.url))
    assert capsys.readouterr().out == "API Error: the API key is not valid\n"


def test_logging() -> None:
    logger = logging.getLogger("driftlock")
    level = logger.level
    try:
        exec(examples()["Logging"], {})
        assert logger.getEffectiveLevel() == logging.DEBUG
    finally:
        logger.setLevel(level)
