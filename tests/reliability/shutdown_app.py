"""The app :mod:`tests.reliability.test_shutdown` runs in a uvicorn process of its own.

Configured by the environment: ``DRIFTLOCK_API_KEY`` and ``DRIFTLOCK_BASE_URL`` (read by the
middlewares' clients), ``DRIFTLOCK_STREAM_ID``, ``RELIABILITY_BATCH_SIZE``,
``RELIABILITY_FLUSH_INTERVAL``, ``RELIABILITY_FLUSH_TIMEOUT`` and ``RELIABILITY_STATS_FILE``,
where the ASGI app writes its delivery counters once it has shut down. ``app`` is the ASGI app
(FastAPI), ``wsgi_app`` a plain WSGI one.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from driftlock.fastapi import DriftlockMiddleware, get_driftlock_middleware
from driftlock.wsgi import DriftlockWSGIMiddleware

OPTIONS: dict[str, Any] = {
    "batch_size": int(os.environ.get("RELIABILITY_BATCH_SIZE", "100")),
    "flush_interval": float(os.environ.get("RELIABILITY_FLUSH_INTERVAL", "3600")),
    "flush_timeout": float(os.environ.get("RELIABILITY_FLUSH_TIMEOUT", "10")),
    "exclude_paths": ["/stats"],
}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    # The middleware flushed (within flush_timeout) and closed when shutdown began, before
    # this runs: the counters are final.
    middleware = get_driftlock_middleware(app)
    assert middleware is not None
    stats_file = os.environ.get("RELIABILITY_STATS_FILE")
    if stats_file:
        text = json.dumps(middleware.stats().as_dict())
        await asyncio.to_thread(Path(stats_file).write_text, text)


app = FastAPI(lifespan=lifespan)
app.add_middleware(DriftlockMiddleware, **OPTIONS)


@app.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}


@app.get("/stats")
async def stats() -> dict[str, int]:
    middleware = get_driftlock_middleware(app)
    assert middleware is not None
    return middleware.stats().as_dict()


def _items(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    path = environ["PATH_INFO"]
    if path == "/stats":
        body = json.dumps(wsgi_app.stats().as_dict()).encode()
    elif path.startswith("/items/"):
        body = json.dumps({"item_id": int(path.rsplit("/", 1)[1])}).encode()
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


wsgi_app = DriftlockWSGIMiddleware(_items, **OPTIONS)
