"""A FastAPI shop API monitored by Driftlock: every request becomes an event.

Run it on the embedded engine (no key, no network)::

    uvicorn examples.fastapi_app:app --port 8000

or against any Driftlock server::

    DRIFTLOCK_BASE_URL=http://127.0.0.1:8080 DRIFTLOCK_API_KEY=dlk_... \\
        uvicorn examples.fastapi_app:app --port 8000

Settings (environment): ``DRIFTLOCK_BASE_URL`` (default ``local://``), ``DRIFTLOCK_API_KEY``,
``DRIFTLOCK_STREAM_ID`` (default ``fastapi-example``), ``DRIFTLOCK_BATCH_SIZE``,
``DRIFTLOCK_FLUSH_INTERVAL`` and ``DRIFTLOCK_LATENCY_STEP_MS`` (report latencies rounded down to
this step, through an ``event_hook``; default 0, exact). ``GET /driftlock/stats`` shows the
delivery counters and ``GET /driftlock/anomalies`` what Driftlock reported so far.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException, Request, WebSocket
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from driftlock import DriftlockClient
from driftlock.exceptions import DriftlockError, RateLimitError
from driftlock.fastapi import DriftlockMiddleware, get_driftlock_client, get_driftlock_middleware

logger = logging.getLogger("driftlock.example")

# What on_anomaly saw, newest last: a real app would page someone instead.
recent_anomalies: deque[dict[str, Any]] = deque(maxlen=200)
recent_value_outliers: deque[dict[str, Any]] = deque(maxlen=200)


class Backend:
    """The shop's dependencies; `examples/demo.py` flips these to stage an incident."""

    payments_down = False
    database_delay_s = 0.0


def remember_anomalies(result: Any) -> None:
    """on_anomaly callback: runs off the event loop after a delivered batch showed anomalies."""
    for anomaly in result.anomalies:
        event = anomaly.event if isinstance(anomaly.event, dict) else {}
        body = event.get("body") or {}
        recent_anomalies.append(
            {
                "timestamp": event.get("timestamp"),
                "route": body.get("route"),
                "status_code": body.get("status_code"),
                "why": anomaly.why,
                "ncd": anomaly.metrics.ncd,
                "p_value": anomaly.metrics.p_value,
                "confidence": anomaly.metrics.confidence,
            }
        )
        logger.warning("Driftlock anomaly on %s: %s", body.get("route"), anomaly.why)
    for outlier in result.value_outliers:
        recent_value_outliers.append(
            {
                "field_path": outlier.field_path,
                "value": outlier.value,
                "expected_mean": outlier.expected_mean,
                "z_score": outlier.z_score,
            }
        )


LATENCY_STEP_MS = int(os.environ.get("DRIFTLOCK_LATENCY_STEP_MS", "0"))


def step_latencies(event: dict[str, Any]) -> dict[str, Any]:
    """event_hook: latencies rounded down to LATENCY_STEP_MS.

    Sub-millisecond jitter differs on every run; in steps, the same traffic makes the same events
    (what lets `examples/demo.py` show the same findings every time).
    """
    body = event["body"]
    for key in ("duration_ms", "ttfb_ms"):
        if body.get(key) is not None:
            body[key] = int(body[key] // LATENCY_STEP_MS * LATENCY_STEP_MS)
    return event


app = FastAPI(title="Driftlock FastAPI example")
app.add_middleware(
    DriftlockMiddleware,
    base_url=os.environ.get("DRIFTLOCK_BASE_URL", "local://"),
    stream_id=os.environ.get("DRIFTLOCK_STREAM_ID", "fastapi-example"),
    exclude_paths=["/docs", "/openapi.json", "/driftlock"],
    batch_size=int(os.environ.get("DRIFTLOCK_BATCH_SIZE", "100")),
    flush_interval=float(os.environ.get("DRIFTLOCK_FLUSH_INTERVAL", "1.0")),
    on_anomaly=remember_anomalies,
    event_hook=step_latencies if LATENCY_STEP_MS > 0 else None,
)


class Item(BaseModel):
    """An item of the shop's catalogue."""

    name: str
    price: float
    quantity: int = 1


class Signup(BaseModel):
    """A new user's sign-up form."""

    username: str
    email: str
    age: int


Client = Annotated[DriftlockClient, Depends(get_driftlock_client)]

CATALOGUE = {i: Item(name=f"item-{i}", price=round(5 + i * 1.5, 2)) for i in range(1, 51)}


@app.get("/")
async def index() -> dict[str, str]:
    """Health of the shop itself."""
    return {"message": "Hello from the Driftlock example shop"}


@app.get("/items/{item_id}")
async def read_item(item_id: int, request: Request) -> Item:
    """One catalogue item; unknown ids are 404s (a burst of them is worth an alert)."""
    item = CATALOGUE.get(item_id)
    request.state.driftlock_context = {"item_found": item is not None}
    if item is None:
        raise HTTPException(status_code=404, detail="no such item")
    return item


@app.post("/items/")
async def create_item(item: Item, client: Client) -> dict[str, Any]:
    """Create an item, checking its payload against the stream of past creations first."""
    result = await client.detect(
        stream_id="fastapi-example-items", events=[{"type": "create_item", "body": item}]
    )
    if result.anomalies:
        raise HTTPException(status_code=422, detail="this item looks unlike any other")
    return {"item": item.model_dump(), "status": "created"}


@app.post("/signup")
async def signup(
    form: Signup,
    background_tasks: BackgroundTasks,
    client: Client,
) -> dict[str, str]:
    """Accept a sign-up at once; its detection runs after the response is sent."""
    background_tasks.add_task(
        client.detect,
        stream_id="fastapi-example-signups",
        events=[{"type": "signup", "body": form.model_dump()}],
    )
    return {"status": "accepted", "username": form.username}


@app.get("/checkout")
async def checkout(request: Request, cart_size: int = 1) -> dict[str, Any]:
    """A slower route (it waits on the database and the payment provider)."""
    await asyncio.sleep(0.002 + Backend.database_delay_s)
    request.state.driftlock_context = {"cart_size": cart_size}
    if Backend.payments_down:
        raise HTTPException(status_code=503, detail="payment provider unavailable")
    return {"status": "paid", "cart_size": cart_size}


@app.get("/report")
async def report(client: Client) -> dict[str, Any]:
    """Ask Driftlock directly; a rate limit or an outage must not break the page."""
    try:
        result = await client.detect(
            stream_id="fastapi-example-reports", events=[{"type": "report", "body": {"n": 1}}]
        )
    except RateLimitError as exc:
        return {"status": "skipped", "retry_after": exc.retry_after}
    except DriftlockError:
        return {"status": "skipped"}
    return {"status": "checked", "anomalies": result.anomaly_count}


@app.get("/export")
async def export(rows: int = 5) -> StreamingResponse:
    """A streamed CSV: passes through the middleware unbuffered."""

    async def lines() -> AsyncIterator[bytes]:
        yield b"id,name,price\n"
        for i in range(1, rows + 1):
            item = CATALOGUE.get(i)
            if item is not None:
                yield f"{i},{item.name},{item.price}\n".encode()

    return StreamingResponse(lines(), media_type="text/csv")


@app.websocket("/ws")
async def echo(websocket: WebSocket) -> None:
    """Websockets are not captured: they pass through untouched."""
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


@app.get("/driftlock/stats")
async def driftlock_stats(request: Request) -> dict[str, int]:
    """The middleware's delivery counters (this path is excluded from capture)."""
    middleware = get_driftlock_middleware(request.app)
    return middleware.stats().as_dict() if middleware is not None else {}


@app.get("/driftlock/anomalies")
async def driftlock_anomalies() -> list[dict[str, Any]]:
    """What Driftlock reported for this app's traffic so far."""
    return list(recent_anomalies)


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
