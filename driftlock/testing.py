"""A pytest plugin for testing your own Driftlock code offline, against the embedded engine.

Installed with the package (the ``pytest11`` entry point ``driftlock``), so its fixtures are
there in every test session; without the entry point, enable it with ``-p driftlock.testing``
or ``pytest_plugins = ["driftlock.testing"]`` in your top-level ``conftest.py``:

- ``driftlock_client``: a :class:`~driftlock.DriftlockClient` on a fresh in-process engine
  (``local://...``), closed after the test;
- ``driftlock_sync_client``: the same for :class:`~driftlock.DriftlockSyncClient`; both
  fixtures in one test share that test's engine;
- ``driftlock_local_url``: that engine's ``local://`` URL, for code that builds its own client
  (``monkeypatch.setenv("DRIFTLOCK_BASE_URL", driftlock_local_url)``);
- ``driftlock_server``: a real HTTP server on a free port of 127.0.0.1, one per test session
  (:class:`DriftlockServer`: ``url``, ``api_key``, ``env``), for code in other processes or
  code that insists on HTTP. Its streams live as long as the session: give each test its own
  stream ids.

The engine needs the ``local`` extra (``pip install 'driftlock[local]'``). Nothing here is
imported until a fixture is used, so the plugin costs other test sessions nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from driftlock import DriftlockClient, DriftlockSyncClient
    from driftlock.local import Engine

__all__ = [
    "DriftlockServer",
    "driftlock_client",
    "driftlock_local_url",
    "driftlock_server",
    "driftlock_sync_client",
]

# Any non-empty key works with the session server; this one has the real keys' shape.
SERVER_API_KEY = "dlk_00000000-0000-4000-8000-00000000test.driftlock-testing"
_STARTUP_TIMEOUT = 30.0
_LOCAL_HINT = "the driftlock fixtures run the embedded engine: pip install 'driftlock[local]'"


@dataclasses.dataclass(frozen=True)
class DriftlockServer:
    """The session's Driftlock server: ``url`` (``http://127.0.0.1:PORT``), an ``api_key`` it
    accepts, its ``engine``, and ``env``: the ``DRIFTLOCK_*`` variables that point a client
    or the ``driftlock`` command at it."""

    url: str
    api_key: str
    engine: Engine = dataclasses.field(repr=False)

    @property
    def env(self) -> Mapping[str, str]:
        """``DRIFTLOCK_BASE_URL`` and ``DRIFTLOCK_API_KEY`` for this server."""
        return {"DRIFTLOCK_BASE_URL": self.url, "DRIFTLOCK_API_KEY": self.api_key}


@pytest.fixture(scope="session")
def driftlock_server() -> Iterator[DriftlockServer]:
    """A Driftlock API server (the embedded engine over HTTP) for the whole test session."""
    try:
        from driftlock._serving import serve_asgi
        from driftlock.local import Engine, create_app
    except ImportError as exc:
        raise ImportError(f"{_LOCAL_HINT} ({exc})") from exc
    engine = Engine()
    try:
        with serve_asgi(create_app(engine), startup_timeout=_STARTUP_TIMEOUT) as url:
            yield DriftlockServer(url=url, api_key=SERVER_API_KEY, engine=engine)
    finally:
        engine.close()


@pytest.fixture
def driftlock_local_url() -> str:
    """The ``local://`` URL of a fresh in-process engine, private to this test."""
    try:
        import driftlock.local  # noqa: F401 -- fail here, with the hint, not in the client
    except ImportError as exc:
        raise ImportError(f"{_LOCAL_HINT} ({exc})") from exc
    return f"local://pytest-{uuid.uuid4().hex}"


@pytest.fixture
def driftlock_sync_client(driftlock_local_url: str) -> Iterator[DriftlockSyncClient]:
    """A :class:`~driftlock.DriftlockSyncClient` on this test's fresh engine."""
    from driftlock import DriftlockSyncClient

    with DriftlockSyncClient(base_url=driftlock_local_url) as client:
        yield client


@pytest.fixture
def driftlock_client(driftlock_local_url: str) -> Iterator[DriftlockClient]:
    """A :class:`~driftlock.DriftlockClient` on this test's fresh engine.

    A plain fixture, so it works with pytest-asyncio, anyio or ``asyncio.run`` alike. It is
    closed on a private event loop after the test: the in-process transport holds no
    connections tied to the test's loop.
    """
    from driftlock import DriftlockClient

    client = DriftlockClient(base_url=driftlock_local_url)
    try:
        yield client
    finally:
        _run_in_thread(client.aclose)


def _run_in_thread(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run the coroutine ``make()`` to completion on a new loop in a worker thread, so that
    no event loop the test framework keeps in this thread is disturbed."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(make())
        except BaseException as exc:  # re-raised in the calling thread
            failure.append(exc)

    worker = threading.Thread(target=run, name="driftlock-close")
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
