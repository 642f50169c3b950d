"""Fixtures of the reliability suite: recorded retry waits, and clients of every kind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.reliability.support import KINDS, Caller, Delays

MakeCaller = Callable[..., Caller]


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> Delays:
    """Retry waits are recorded, not slept: bounds on them are bounds on virtual time."""
    recorded = Delays()
    recorded.install(monkeypatch)
    return recorded


@pytest.fixture(params=KINDS)
def make_caller(request: pytest.FixtureRequest) -> Iterator[MakeCaller]:
    """Build a :class:`Caller` of each kind (sync, async, async ``detect_sync``) over a
    transport; closed after the test."""
    made: list[Caller] = []

    def make(transport: Any, **options: Any) -> Caller:
        caller = Caller(request.param, transport, **options)
        made.append(caller)
        return caller

    yield make
    for caller in made:
        caller.close()
