"""Fixtures for the client tests: recorded sleeps, fault-injecting transports, cassettes."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from driftlock import DriftlockClient, DriftlockSyncClient, _retry

KEY = "dlk_12345678-1234-4321-8765-123456789abc.sup3r-s3cret"
BASE_URL = "https://api.driftlock.test/api"

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """Cassettes match requests on content, not on the recording server's port, and never
    hold the API key."""
    return {
        "match_on": ["method", "scheme", "path", "query", "body"],
        "filter_headers": ["x-api-key", "authorization"],
        "decode_compressed_response": True,
    }


@pytest.fixture
def vcr_cassette_dir() -> str:
    """Cassettes live in tests/cassettes (recorded by ``make record``)."""
    return str(Path(__file__).resolve().parent.parent / "cassettes")


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Make retry waits instant, recording each delay the clients asked for."""
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)

    async def asleep(seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr(_retry, "sleep", sleep)
    monkeypatch.setattr(_retry, "asleep", asleep)
    return delays


@pytest.fixture
def engine_name() -> str:
    """A local:// engine name no other test uses (the registry lives as long as the process)."""
    return f"client-{uuid.uuid4().hex[:10]}"


def ok_detect_body(
    total: int = 1, anomalies: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    """A well-formed detect response."""
    body: dict[str, Any] = {
        "success": True,
        "batch_id": "batch-1",
        "stream_id": "s",
        "total_events": total,
        "anomaly_count": len(anomalies or []),
        "processing_time": "5ms",
        "compression_algo": "zstd",
        "request_id": "req-1",
        "status": "ready",
        "detection_ready": True,
        "detection_events_needed": 0,
        "calibration": {
            "events_ingested": 500,
            "events_needed": 0,
            "min_baseline_size": 50,
            "progress_percent": 100,
            "detection_ready": True,
            "detection_events_needed": 0,
            "detection_min_events": 450,
        },
        "anomalies": anomalies or [],
        "drift": None,
        "value_outliers": [],
    }
    body.update(extra)
    return body


def json_response(status: int, body: Any, **headers: str) -> httpx.Response:
    """A JSON response with ``headers`` (underscores in names become dashes)."""
    named = {name.replace("_", "-"): value for name, value in headers.items()}
    return httpx.Response(status, content=json.dumps(body).encode(), headers=named)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The API's error envelope."""
    return {"error": {"code": code, "message": message, "request_id": "req-err", **extra}}


class Script:
    """A fault-injecting transport: answers requests with the given responses (or raises the
    given exceptions) in turn, repeating the last; records every request it saw."""

    def __init__(self, *steps: httpx.Response | Exception | Handler) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Record ``request`` and play the next step."""
        request.read()
        self.requests.append(request)
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            # A fresh copy each time: a response can only be read once.
            return httpx.Response(step.status_code, headers=step.headers, content=step.content)
        return step(request)

    @property
    def keys(self) -> list[str | None]:
        """The Idempotency-Key of every request seen."""
        return [r.headers.get("idempotency-key") for r in self.requests]

    def bodies(self) -> list[Any]:
        """The JSON body of every request seen."""
        return [json.loads(r.content) for r in self.requests]


class Both:
    """One operation through either client: ``client("anomalies.get", "id")`` calls the sync
    client's method, or runs the async client's coroutine to completion."""

    def __init__(self, kind: str, transport: httpx.MockTransport, **options: Any) -> None:
        self.kind = kind
        options.setdefault("api_key", KEY)
        options.setdefault("base_url", BASE_URL)
        if kind == "sync":
            self.sync: DriftlockSyncClient | None = DriftlockSyncClient(
                transport=transport, **options
            )
            self.aio: DriftlockClient | None = None
        else:
            self.sync = None
            self.aio = DriftlockClient(transport=transport, **options)

    @property
    def client(self) -> DriftlockSyncClient | DriftlockClient:
        """The client under test."""
        client = self.sync or self.aio
        assert client is not None
        return client

    def __call__(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        target: Any = self.client
        for part in operation.split("."):
            target = getattr(target, part)
        if self.sync is not None:
            return target(*args, **kwargs)
        return asyncio.run(target(*args, **kwargs))

    def close(self) -> None:
        """Close the client under test."""
        if self.sync is not None:
            self.sync.close()
        elif self.aio is not None:
            asyncio.run(self.aio.aclose())


@pytest.fixture(params=["sync", "async"])
def both(request: pytest.FixtureRequest) -> Iterator[Callable[..., Both]]:
    """Build a :class:`Both` of each kind over a transport; closed after the test."""
    made: list[Both] = []

    def make(transport: httpx.MockTransport, **options: Any) -> Both:
        client = Both(request.param, transport, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
