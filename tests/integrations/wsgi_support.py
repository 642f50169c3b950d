"""Helpers for the WSGI, Flask and Django tests: serving WSGI over HTTP, calling WSGI apps."""

from __future__ import annotations

import io
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx

from tests.integrations.support import PATIENCE

ROOT = Path(__file__).resolve().parents[2]


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Serve ``app`` with wsgiref (a thread per request) on a free port of 127.0.0.1."""
    server = make_server(
        "127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def make_environ(
    path: str = "/",
    *,
    method: str = "GET",
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    chunked: bool = False,
) -> dict[str, Any]:
    """A WSGI environ for one request, as a server would build it."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path.encode().decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if body and not chunked:
        environ["CONTENT_LENGTH"] = str(len(body))
    if chunked:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    return environ


class Response:
    """What a WSGI app answered: status line, headers and the chunks the server took."""

    def __init__(self) -> None:
        self.status = ""
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        self.status = status
        self.headers = headers
        return self.chunks.append

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


def call(app: Any, environ: dict[str, Any] | None = None, **request: Any) -> Response:
    """Serve one request with ``app`` as a WSGI server does: iterate, then close."""
    response = Response()
    result = app(environ or make_environ(**request), response.start_response)
    try:
        for chunk in result:
            response.chunks.append(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return response


def free_socket() -> socket.socket:
    """A listening socket on a free port of 127.0.0.1, inheritable by a child server."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def free_port() -> int:
    """A port nothing listens on right now, for servers that only take a port number."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server_process(
    command: list[str],
    *,
    env: dict[str, str],
    sock: socket.socket | None = None,
    port: int | None = None,
    probe: str = "/",
    cwd: Path = ROOT,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run a server process listening on the inherited ``sock`` (or on ``port``); yields it
    and its URL once ``probe`` answers. Leaving the block without stopping it kills it."""
    port = sock.getsockname()[1] if sock is not None else port
    url = f"http://127.0.0.1:{port}"
    fds = [sock.fileno()] if sock is not None else []
    process = subprocess.Popen(command, cwd=cwd, env=env, pass_fds=fds)
    try:
        deadline = time.monotonic() + PATIENCE
        while True:
            try:
                httpx.get(url + probe, timeout=PATIENCE)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command} did not start") from None
                time.sleep(0.1)
        yield process, url
    finally:
        if sock is not None:
            sock.close()
        if process.poll() is None:
            process.kill()
            process.wait()


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    """Signal ``process`` to stop and wait for it; its exit status."""
    process.send_signal(sig)
    return process.wait(timeout=60)


def sdk_env(url: str, api_key: str, **extra: str) -> dict[str, str]:
    """The environment of a child process pointing the SDK at a served engine."""
    return {
        **os.environ,
        "DRIFTLOCK_BASE_URL": url,
        "DRIFTLOCK_API_KEY": api_key,
        **extra,
    }
