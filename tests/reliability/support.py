"""Fault injection for the reliability suite: real sockets on 127.0.0.1 and a switchable
Driftlock in front of a real engine.

- :func:`closed_port` and :func:`backlogged_port` give a real refused connection and a real
  connect timeout; :class:`RawServer` plays a script of raw HTTP/1.1 answers (stall, cut the
  body short, close without a word, answer).
- :class:`Recorder` is a real httpx transport (sync and async) that remembers every request the
  SDK sent, so attempts and Idempotency-Keys are counted even when no server saw them.
- :class:`Caller` drives one client kind: the sync client, the async client, or the async
  client's ``detect_sync``.
- :class:`FlakyDriftlock` is an ASGI app in front of the engine's own: it holds, refuses with
  a status, or passes each request on, as the test says.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import httpx
import uvicorn

from driftlock import DriftlockClient, DriftlockSyncClient, _retry
from driftlock._batch import DeliveryStats
from driftlock.models import DetectResult

KINDS = ("sync", "async", "detect_sync")
EVENTS: list[dict[str, Any]] = [{"type": "t", "body": {"value": 1}}]


# -- sockets -------------------------------------------------------------------------------


def closed_port() -> int:
    """A loopback port nothing listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def backlogged_port() -> Iterator[int]:
    """A loopback port whose listener never accepts and whose backlog is full: the kernel
    drops further SYNs, so a connection attempt hangs until the client's connect timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port: int = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@dataclass
class RawRequest:
    """One request as a raw server read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Step = Callable[[socket.socket, threading.Event], bool]
"""Plays one answer on a connection; returns whether the connection stays open."""


def answer(status: int, body: bytes, content_type: str = "application/json") -> Step:
    """A complete HTTP/1.1 answer; the connection is kept alive."""

    def step(conn: socket.socket, stop: threading.Event) -> bool:
        head = (
            f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        conn.sendall(head.encode() + body)
        return True

    return step


def cut_short(declared: int = 4096, sent: bytes = b'{"success": true, "batch_') -> Step:
    """Headers promising ``declared`` bytes, then part of the body, then the close."""

    def step(conn: socket.socket, stop: threading.Event) -> bool:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {declared}"
        conn.sendall(head.encode() + b"\r\n\r\n" + sent)
        return False

    return step


def hang_up(conn: socket.socket, stop: threading.Event) -> bool:
    """Close without sending a byte."""
    return False


def stall(conn: socket.socket, stop: threading.Event) -> bool:
    """Never answer (until the server stops)."""
    stop.wait(30)
    return False


class RawServer:
    """A TCP server on 127.0.0.1 that answers the n-th request with the n-th step (the last
    one repeats), recording every request it read."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[RawRequest] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._connections: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while not self._stop.is_set():
                try:
                    request, buffer = _read_request(conn, buffer)
                except OSError:
                    return
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                    step = self.steps[min(len(self.requests), len(self.steps)) - 1]
                try:
                    if not step(conn, self._stop):
                        return
                except OSError:
                    return

    @property
    def keys(self) -> list[str | None]:
        """The Idempotency-Key of every request read."""
        return [r.headers.get("idempotency-key") for r in self.requests]

    def close(self) -> None:
        """Stop accepting, release stalled answers, close every connection."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self._listener.close()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _read_request(conn: socket.socket, buffer: bytes) -> tuple[RawRequest | None, bytes]:
    while b"\r\n\r\n" not in buffer:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        rest += chunk
    return RawRequest(method, path, headers, rest[:length]), rest[length:]


# -- the client side -----------------------------------------------------------------------


class Recorder(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """httpx's real transports, sync and async, remembering every request sent through them."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._sync = httpx.HTTPTransport()
        self._async = httpx.AsyncHTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._sync.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self._async.handle_async_request(request)

    def close(self) -> None:
        self._sync.close()

    async def aclose(self) -> None:
        await self._async.aclose()

    @property
    def keys(self) -> list[str | None]:
        """The Idempotency-Key of every request sent."""
        return [r.headers.get("idempotency-key") for r in self.requests]


class Caller:
    """One client of ``kind`` ("sync", "async" or "detect_sync") over ``transport``."""

    def __init__(self, kind: str, transport: Any, **options: Any) -> None:
        self.kind = kind
        options.setdefault("api_key", "dlk_reliability-suite-key")
        options.setdefault("base_url", "https://api.driftlock.test/api")
        self.sync: DriftlockSyncClient | None = None
        self.aio: DriftlockClient | None = None
        # One loop for every call: the async pool's connections belong to the loop they
        # were made in.
        self.loop = asyncio.new_event_loop()
        if kind == "sync":
            self.sync = DriftlockSyncClient(transport=transport, **options)
        else:
            self.aio = DriftlockClient(transport=transport, **options)

    def detect(self, events: list[dict[str, Any]] | None = None) -> DetectResult:
        """``detect`` of ``events`` (one small event by default) to stream ``s``."""
        events = EVENTS if events is None else events
        if self.sync is not None:
            return self.sync.detect(stream_id="s", events=events)
        assert self.aio is not None
        if self.kind == "detect_sync":
            return self.aio.detect_sync(stream_id="s", events=events)
        return self.loop.run_until_complete(self.aio.detect(stream_id="s", events=events))

    def call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Any other operation (``"anomalies.get"``): sync, or the async client's."""
        target: Any = self.sync or self.aio
        for part in operation.split("."):
            target = getattr(target, part)
        if self.sync is not None:
            return target(*args, **kwargs)
        return self.loop.run_until_complete(target(*args, **kwargs))

    def close(self) -> None:
        if self.sync is not None:
            self.sync.close()
        elif self.aio is not None:
            self.loop.run_until_complete(self.aio.aclose())
        self.loop.close()


@dataclass
class Delays:
    """The waits the clients asked for between attempts (recorded, never slept)."""

    waits: list[float] = field(default_factory=list)

    def install(self, monkeypatch: Any) -> None:
        async def asleep(seconds: float) -> None:
            self.waits.append(seconds)

        monkeypatch.setattr(_retry, "sleep", self.waits.append)
        monkeypatch.setattr(_retry, "asleep", asleep)

    @property
    def total(self) -> float:
        """The virtual time spent waiting."""
        return sum(self.waits)


def backoff_bounds(retry: int) -> tuple[float, float]:
    """The documented range of the jittered wait before retry ``retry`` (0-based)."""
    base = min(0.5 * 2**retry, 8.0)
    return 0.75 * base, base


def one_key(keys: list[str | None], attempts: int) -> str:
    """Assert ``attempts`` requests carried one and the same Idempotency-Key (a UUID)."""
    assert len(keys) == attempts
    assert len(set(keys)) == 1
    key = keys[0]
    assert key is not None
    uuid.UUID(key)
    return key


# -- a Driftlock that misbehaves on demand --------------------------------------------------


Behaviour = Callable[[int], "tuple[int, dict[str, str], bytes] | None"]
"""Given the request's number (1-based), an answer to give instead of the engine's, or None to
let the engine answer."""


class FlakyDriftlock:
    """ASGI app in front of the engine's ASGI app.

    While :attr:`gate` is closed every request is held (read in full, then left waiting):
    Driftlock accepted it and went quiet. Once open, :attr:`behaviour` decides each answer. A
    request is read in full before anything else, so a held request the client gave up on is
    still processed by the engine afterwards, as a slow server would.
    """

    def __init__(self, engine_app: Any, behaviour: Behaviour | None = None) -> None:
        self.engine_app = engine_app
        self.behaviour = behaviour
        self.gate = threading.Event()
        self.gate.set()
        self.held = threading.Event()  # set once a request is waiting at the closed gate
        self.count = 0
        self._lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.engine_app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        with self._lock:
            self.count += 1
            number = self.count
        if not self.gate.is_set():
            self.held.set()
            await anyio.to_thread.run_sync(self.gate.wait, 60)
        early = self.behaviour(number) if self.behaviour is not None else None
        if early is not None:
            status, headers, content = early
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
                }
            )
            await send({"type": "http.response.body", "body": content})
            return
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                await asyncio.Event().wait()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.engine_app(scope, replay, send)


def json_answer(status: int, body: Any, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """An answer for :attr:`FlakyDriftlock.behaviour`."""
    return status, {"content-type": "application/json", **headers}, json.dumps(body).encode()


@contextlib.contextmanager
def serve_on_port(app: Any, port: int) -> Iterator[str]:
    """Serve ``app`` with uvicorn on ``port`` of 127.0.0.1 (a port handed out earlier by
    :func:`closed_port`: Driftlock coming back where it was down)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # see serve_asgi
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class Sampler:
    """Snapshots of a delivery's counters, taken from a thread of its own as fast as it can
    while traffic runs: the equation must hold in every one of them."""

    def __init__(self, stats: Callable[[], DeliveryStats]) -> None:
        self._stats = stats
        self.snapshots: list[DeliveryStats] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.snapshots.append(self._stats())
            time.sleep(0.0005)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def check(self, bound: int) -> None:
        """Every snapshot balances and holds at most ``bound`` events; counters only grow."""
        assert len(self.snapshots) > 10
        previous = self.snapshots[0]
        for snap in self.snapshots:
            assert snap.captured == snap.sent + snap.dropped + snap.failed + snap.queued, snap
            assert 0 <= snap.queued <= bound, snap
            for name in ("captured", "sent", "dropped", "failed"):
                assert getattr(snap, name) >= getattr(previous, name), (previous, snap)
            previous = snap
