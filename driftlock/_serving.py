"""Serve an ASGI app with uvicorn on 127.0.0.1 in a background thread (tests, demo, plugin)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import uvicorn

__all__ = ["serve_asgi"]


@contextmanager
def serve_asgi(
    app: Any, *, lifespan: Literal["auto", "on", "off"] = "off", startup_timeout: float = 10.0
) -> Iterator[str]:
    """Run ``app`` on a free port of 127.0.0.1 and yield its base URL (``http://127.0.0.1:N``).

    ``lifespan`` is uvicorn's setting ("off", "on" or "auto"). The socket is bound before the
    server starts, so no one else can take the port in between. Uvicorn installs signal
    handlers only in the main thread, so a worker thread leaves the caller's handlers alone.
    """
    # IPPROTO_TCP named explicitly: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    # sockets that say so, and with it on, every answer written in two parts (head, body)
    # waits for a delayed ACK, about 40 ms.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan=lifespan, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
