"""Fixtures shared by every test package: a real Driftlock engine served over HTTP."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from driftlock.local.app import create_app
from driftlock.local.engine import Engine
from tests.support.server import serve_asgi

TEST_API_KEY = "dlk_00000000-0000-4000-8000-000000000000.test-secret"

# Tests stop servers with SIGINT, as Ctrl-C does. A shell that starts the suite in the background
# without job control makes it ignore SIGINT, and child processes inherit that: handle it here,
# so that they start with the default again (a handler, unlike SIG_IGN, is reset by exec).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@dataclass(frozen=True)
class ServedEngine:
    """A running `driftlock serve` equivalent: its base URL, its engine and the key it accepts."""

    url: str
    engine: Engine
    api_key: str


ServedEngineFactory = Callable[..., ServedEngine]


@pytest.fixture
def served_engine_factory() -> Iterator[ServedEngineFactory]:
    """Start engines with custom options: ``factory(api_key=..., rate_limit=..., data_dir=...)``.

    ``api_key=None`` accepts any non-empty key (``.api_key`` is still a usable one). Every server
    started here stops at the end of the test.
    """
    with ExitStack() as stack:

        def factory(
            *,
            api_key: str | None = None,
            rate_limit: str | None = None,
            data_dir: Path | None = None,
        ) -> ServedEngine:
            engine = Engine(data_dir=data_dir)
            stack.callback(engine.close)
            app = create_app(engine, api_key=api_key, rate_limit=rate_limit)
            url = stack.enter_context(serve_asgi(app))
            return ServedEngine(url=url, engine=engine, api_key=api_key or TEST_API_KEY)

        yield factory


@pytest.fixture
def served_engine(served_engine_factory: ServedEngineFactory) -> ServedEngine:
    """A fresh in-memory engine served on 127.0.0.1 that requires ``.api_key``."""
    return served_engine_factory(api_key=TEST_API_KEY)
