"""Property-based contract tests: every operation of ``openapi.yaml`` against the served app.

Schemathesis generates valid and invalid requests from the spec (fixed seed, derandomised) and
checks every response: a documented status, the documented schema and headers, and never a 5xx.
The server holds a stream with real anomalies, so generated ids sometimes hit existing ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis import CheckFunction, GenerationMode, Response
from schemathesis.specs.openapi.checks import positive_data_acceptance

from driftlock.local.app import DriftlockApp
from driftlock.local.engine import Engine
from tests.local.helpers import KEY, feed, incident_prefix, local_client
from tests.support.server import serve_asgi

SPEC = Path(__file__).resolve().parents[2] / "openapi.yaml"

schema = schemathesis.openapi.from_path(SPEC)
schema.config.update(headers={"X-Api-Key": KEY})
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=50,
    deterministic=True,
)
schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    engine = Engine()
    app = DriftlockApp(engine, api_key=KEY)
    with local_client(app) as client:
        feed(client, "default", incident_prefix(seed=1, n=800).events)
    with serve_asgi(app) as url:
        yield url
    engine.close()


# Refusals the API requires although the request is schema-valid: `Event` is untyped in
# openapi.yaml on purpose (see the comment there) but must be a JSON object; the embedded engine
# exports no PDF; the demo takes at most 200 events; a reset needs a calibrated stream (412).
REQUIRED_REFUSALS = re.compile(
    r"events\[\d+\] must be a JSON object|export format 'pdf' is not supported"
    r"|the demo accepts at most 200 events|is still calibrating"
)


def excused_checks(case: schemathesis.Case[Any], response: Response) -> list[CheckFunction]:
    """The checks that a documented behaviour of the engine legitimately fails."""
    excused: list[CheckFunction] = []
    if response.status_code in (400, 412) and REQUIRED_REFUSALS.search(response.text):
        excused.append(positive_data_acceptance)
    return excused


@schema.parametrize()
def test_every_response_conforms_to_the_spec(case: schemathesis.Case[Any], base_url: str) -> None:
    response = case.call(base_url=base_url)
    case.validate_response(response, excluded_checks=excused_checks(case, response))
