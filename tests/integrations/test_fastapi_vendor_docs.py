"""Every example of the vendor's FastAPI page works as written against a served engine.

Each test rebuilds one section's app with the same calls, arguments and idioms the page uses
(``Depends(...)`` defaults, ``BackgroundTasks``, ``.dict()``, a module-level client, catching
``RateLimitError``); the only change is the environment pointing the SDK at our local server.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel

from driftlock import DriftlockClient
from driftlock.exceptions import RateLimitError
from driftlock.fastapi import DriftlockMiddleware, get_driftlock_client, get_driftlock_middleware
from tests.conftest import ServedEngine, ServedEngineFactory
from tests.integrations.support import ingested


@pytest.fixture
def any_key_engine(
    served_engine_factory: ServedEngineFactory, monkeypatch: pytest.MonkeyPatch
) -> ServedEngine:
    """An engine that accepts any key, with the SDK's environment pointing at it."""
    served = served_engine_factory(api_key=None)
    monkeypatch.setenv("DRIFTLOCK_BASE_URL", served.url)
    monkeypatch.setenv("DRIFTLOCK_API_KEY", served.api_key)
    return served


def test_middleware_integration(any_key_engine: ServedEngine) -> None:
    app = FastAPI()
    app.add_middleware(
        DriftlockMiddleware,
        api_key="a-key-of-your-own",
        stream_id="vendor-middleware",
        exclude_paths=["/docs", "/openapi.json"],
    )

    @app.get("/")
    async def root() -> dict[str, str]:
        return {"message": "Hello there"}

    with TestClient(app) as client:
        assert client.get("/").json() == {"message": "Hello there"}
        assert client.get("/docs").status_code == 200
        assert client.get("/openapi.json").status_code == 200
    middleware = get_driftlock_middleware(app)
    assert middleware is not None
    assert middleware.stats().sent == 1
    assert ingested(any_key_engine.url, any_key_engine.api_key, "vendor-middleware") == 1


def test_dependency_injection(any_key_engine: ServedEngine) -> None:
    app = FastAPI()

    @app.post("/items/")
    async def create_item(
        item: dict[str, Any],
        client: DriftlockClient = Depends(get_driftlock_client),  # noqa: B008
    ) -> dict[str, Any]:
        result = await client.detect(
            stream_id="vendor-items", events=[{"type": "create_item", "body": item}]
        )
        if result.anomalies:
            raise HTTPException(status_code=400, detail="Anomaly detected")
        return {"item": item, "status": "created"}

    with TestClient(app) as client:
        response = client.post("/items/", json={"name": "lamp", "price": 12.5})
        assert response.json() == {"item": {"name": "lamp", "price": 12.5}, "status": "created"}
    assert ingested(any_key_engine.url, any_key_engine.api_key, "vendor-items") == 1


def test_background_tasks(any_key_engine: ServedEngine) -> None:
    app = FastAPI()

    @app.post("/logs/")
    async def log_event(
        event: dict[str, Any],
        background_tasks: BackgroundTasks,
        client: DriftlockClient = Depends(get_driftlock_client),  # noqa: B008
    ) -> dict[str, str]:
        background_tasks.add_task(
            client.detect, stream_id="vendor-logs", events=[{"type": "log", "body": event}]
        )
        return {"status": "accepted"}

    with TestClient(app) as client:
        for level in ("info", "warn", "error"):
            response = client.post("/logs/", json={"level": level, "msg": "disk"})
            assert response.json() == {"status": "accepted"}
    assert ingested(any_key_engine.url, any_key_engine.api_key, "vendor-logs") == 3


class User(BaseModel):
    username: str
    email: str
    age: int


@pytest.mark.filterwarnings("ignore:The `dict` method is deprecated")  # pydantic v2 on .dict()
def test_pydantic_models(any_key_engine: ServedEngine) -> None:
    app = FastAPI()
    serialisations = {
        "dict": lambda user: user.dict(),
        "model_dump": lambda user: user.model_dump(),
        "model": lambda user: user,  # the model itself as the event body
    }

    @app.post("/users/{how}")
    async def create_user(
        how: str,
        user: User,
        client: DriftlockClient = Depends(get_driftlock_client),  # noqa: B008
    ) -> User:
        await client.detect(
            stream_id="vendor-signups",
            events=[{"type": "signup", "body": serialisations[how](user)}],
        )
        return user

    new_user = {"username": "ann", "email": "ann@example.com", "age": 31}
    with TestClient(app) as client:
        for how in serialisations:
            assert client.post(f"/users/{how}", json=new_user).json() == new_user
    assert ingested(any_key_engine.url, any_key_engine.api_key, "vendor-signups") == 3


def test_global_configuration(any_key_engine: ServedEngine) -> None:
    client = DriftlockClient(api_key="another-key-of-yours", timeout=5.0)

    def get_client() -> DriftlockClient:
        return client

    app = FastAPI()

    @app.get("/check")
    async def check(
        client: DriftlockClient = Depends(get_client),  # noqa: B008
    ) -> dict[str, int]:
        result = await client.detect(stream_id="vendor-global", events=[{"type": "check"}])
        return {"total": result.total_events}

    with TestClient(app) as test_client:
        assert test_client.get("/check").json() == {"total": 1}
        assert test_client.portal is not None
        test_client.portal.call(client.aclose)  # in the loop that used it, as a shutdown would
    assert client.timeout.read == 5.0


def test_error_handling(
    served_engine_factory: ServedEngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    limited = served_engine_factory(api_key=None, rate_limit="2/minute")
    monkeypatch.setenv("DRIFTLOCK_BASE_URL", limited.url)
    monkeypatch.setenv("DRIFTLOCK_API_KEY", limited.api_key)
    monkeypatch.setenv("DRIFTLOCK_MAX_RETRIES", "0")  # surface the 429 at once
    outcomes: list[str] = []
    app = FastAPI()

    @app.get("/data")
    async def get_data(
        client: DriftlockClient = Depends(get_driftlock_client),  # noqa: B008
    ) -> dict[str, str]:
        try:
            await client.detect(stream_id="vendor-errors", events=[{"type": "read"}])
            outcomes.append("detected")
        except RateLimitError:
            # Log warning but proceed
            outcomes.append("rate limited")
        return {"data": "..."}

    with TestClient(app) as client:
        for _ in range(4):
            assert client.get("/data").json() == {"data": "..."}
    assert outcomes == ["detected", "detected", "rate limited", "rate limited"]
