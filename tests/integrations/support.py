"""Helpers for the integration tests: waiting on conditions, errors, server-side counters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, HTTPException, Request, WebSocket
from fastapi.responses import StreamingResponse

from driftlock.exceptions import (
    DriftlockAPIError,
    DriftlockConnectionError,
    DriftlockValidationError,
    RateLimitError,
)
from driftlock.fastapi import DriftlockMiddleware

PATIENCE = 15.0  # seconds a condition may take on a loaded machine before the test fails


async def wait_for(condition: Callable[[], bool], what: str = "condition") -> None:
    """Poll ``condition`` in a running loop until it holds (a bound, not a timing claim)."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {PATIENCE} s")
        await asyncio.sleep(0.005)


def wait_for_sync(condition: Callable[[], bool], what: str = "condition") -> None:
    """:func:`wait_for` for plain threads."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {PATIENCE} s")
        time.sleep(0.005)


def ingested(base_url: str, api_key: str, stream_id: str) -> int:
    """How many events the served engine holds for ``stream_id``, from its own counters.

    A detect of one probe event returns the stream's ``calibration.events_ingested`` (the probe
    included); the probe then counts once in every later call, so callers compare differences
    or call this once per stream.
    """
    response = httpx.post(
        f"{base_url}/v1/detect",
        json={"stream_id": stream_id, "events": [{"type": "probe"}]},
        headers={"X-Api-Key": api_key},
        timeout=30,
    )
    response.raise_for_status()
    return int(response.json()["calibration"]["events_ingested"]) - 1


def connection_error() -> Exception:
    return DriftlockConnectionError("connection refused")


def validation_error() -> Exception:
    return DriftlockValidationError("event 1: not JSON")


def api_error(status: int) -> Exception:
    return DriftlockAPIError(f"detect failed with {status}", status_code=status)


def rate_limit_error(retry_after: float | None) -> Exception:
    return RateLimitError("rate limited", retry_after=retry_after)


class Boom(Exception):
    """What the test app's failing route raises."""


BOOM = Boom("the handler failed")


def recorder(events: list[dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """An ``event_hook`` that keeps a copy of every captured event and lets it through."""

    def hook(event: dict[str, Any]) -> dict[str, Any]:
        events.append(event)
        return event

    return hook


def shop_app(**options: Any) -> FastAPI:
    """A small FastAPI app with the kinds of routes the middleware must handle."""
    app = FastAPI()
    app.add_middleware(DriftlockMiddleware, **options)

    @app.get("/")
    async def index() -> dict[str, str]:
        return {"message": "hello"}

    @app.get("/items/{item_id}")
    async def item(item_id: int, request: Request) -> dict[str, int]:
        request.state.driftlock_context = {"tenant": "acme", "status_code": -1}
        return {"item_id": item_id}

    @app.get("/missing")
    async def missing() -> None:
        raise HTTPException(status_code=404, detail="nope")

    @app.get("/boom")
    async def boom() -> None:
        raise BOOM

    @app.post("/echo")
    async def echo(payload: dict[str, Any]) -> dict[str, Any]:
        return payload

    @app.post("/unread")
    async def unread() -> dict[str, str]:
        return {"read": "nothing"}

    @app.get("/stream")
    async def stream(chunks: int = 3) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            for i in range(chunks):
                yield f"chunk {i}\n".encode()

        return StreamingResponse(body(), media_type="text/plain")

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    users = APIRouter(prefix="/api/users")

    @users.get("/{user_id}/orders/{order_id}")
    async def order(user_id: str, order_id: int) -> dict[str, str]:
        return {"user": user_id}

    app.include_router(users)
    admin = FastAPI()

    @admin.get("/stats/{name}")
    async def stat(name: str) -> dict[str, str]:
        return {"name": name}

    app.mount("/admin", admin)
    return app


class Lifespan:
    """Drive an ASGI app's lifespan protocol, as a server does around its requests.

    ``async with Lifespan(app):`` sends startup and waits for it to complete; leaving the block
    sends shutdown and waits for ``lifespan.shutdown.complete``.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.task: asyncio.Task[None] | None = None

    async def _send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def _wait_for(self, kind: str) -> None:
        await wait_for(lambda: any(m["type"].startswith(kind) for m in self.sent), kind)
        failed = [m for m in self.sent if m["type"].endswith(".failed")]
        assert not failed, failed

    async def __aenter__(self) -> Lifespan:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self.task = asyncio.create_task(self.app(scope, self.inbox.get, self._send))
        await self.inbox.put({"type": "lifespan.startup"})
        await self._wait_for("lifespan.startup.")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        await self._wait_for("lifespan.shutdown.")
        assert self.task is not None
        await self.task
