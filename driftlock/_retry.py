"""When to retry a failed request, and how long to wait first.

Retried: connection errors, timeouts, and HTTP 408, 429, 500, 502, 503 and 504, at most
``max_retries`` times. The wait doubles from 0.5 s up to 8 s, less up to a quarter at random so
that clients failing together do not retry together; a wait the server asks for (``Retry-After``
in seconds or as an HTTP date, or the error body's ``retry_after_seconds``) is used instead,
up to 60 s. A server asking for longer gets its answer raised at once, with ``retry_after`` set.

Operations that are not idempotent (feedback) are retried only when the server cannot have
acted on the request: no connection was made, or it answered 408, 429 or 503.

``sleep`` and ``asleep`` are looked up on this module at each wait, so tests can replace them.

Every logical ``detect`` carries one Idempotency-Key, the same on every retry, so the server
ingests its events once. A caller that resends the same events itself (a middleware retrying a
batch) keeps that promise with :func:`same_idempotency_key`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import math
import random
import time
import uuid
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Final

__all__ = [
    "INITIAL_DELAY",
    "MAX_DELAY",
    "MAX_RETRY_AFTER",
    "RETRY_STATUSES",
    "asleep",
    "backoff_delay",
    "chunk_key_suffix",
    "idempotency_keys",
    "parse_retry_after",
    "same_idempotency_key",
    "should_retry_status",
    "sleep",
]

INITIAL_DELAY: Final = 0.5
MAX_DELAY: Final = 8.0
MAX_RETRY_AFTER: Final = 60.0
RETRY_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})
# Statuses that say the request was not acted on, so even a non-idempotent one may be resent.
_NOT_PROCESSED: Final = frozenset({408, 429, 503})


def backoff_delay(retry_number: int) -> float:
    """The wait before retry ``retry_number`` (0 for the first): 0.5 s doubling to 8 s, minus
    up to 25 % jitter."""
    base = min(INITIAL_DELAY * 2.0 ** min(retry_number, 16), MAX_DELAY)
    return base * (1.0 - 0.25 * random.random())


def should_retry_status(status_code: int, *, idempotent: bool) -> bool:
    """Whether an answer with ``status_code`` is worth retrying."""
    if idempotent:
        return status_code in RETRY_STATUSES
    return status_code in _NOT_PROCESSED


def parse_retry_after(
    headers: Mapping[str, str] | None, body_seconds: float | None = None
) -> float | None:
    """Seconds the server asked to wait: ``Retry-After`` (delta-seconds or an HTTP date),
    else the body's ``retry_after_seconds``; None when neither says (or says nonsense)."""
    value = headers.get("retry-after") if headers is not None else None
    if value is not None:
        value = value.strip()
        seconds: float | None
        try:
            seconds = float(value)
        except ValueError:
            seconds = _http_date_delay(value)
        if seconds is not None and math.isfinite(seconds):
            return max(seconds, 0.0)
    if body_seconds is not None and math.isfinite(body_seconds):
        return max(float(body_seconds), 0.0)
    return None


def _http_date_delay(value: str) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when.timestamp() - time.time()


def sleep(seconds: float) -> None:
    """Block for ``seconds`` (the sync client's wait between attempts)."""
    time.sleep(seconds)


async def asleep(seconds: float) -> None:
    """Wait ``seconds`` without blocking the event loop (the async client's wait)."""
    await asyncio.sleep(seconds)


_resent_key: ContextVar[str | None] = ContextVar("driftlock_idempotency_key", default=None)


@contextlib.contextmanager
def same_idempotency_key(key: str) -> Iterator[None]:
    """Within the block, a ``detect`` uses ``key`` as its Idempotency-Key (``key:N`` for the
    N-th request of one sent as several) instead of a fresh one.

    For callers that resend the same events themselves: each resend then repeats the first
    request, and the server answers it without ingesting the events twice.
    """
    token = _resent_key.set(key)
    try:
        yield
    finally:
        _resent_key.reset(token)


def idempotency_keys(count: int, key: str | None = None) -> list[str]:
    """The Idempotency-Keys of one logical detect sent as ``count`` requests: derived from
    ``key`` (the caller's ``idempotency_key``) when given, else from the one
    :func:`same_idempotency_key` set, else fresh ones. A derived key is ``key`` itself for a
    single request and ``key:N`` for the N-th of several (see :func:`chunk_key_suffix`)."""
    if key is None:
        key = _resent_key.get()
    if key is None:
        return [str(uuid.uuid4()) for _ in range(count)]
    return [key] if count == 1 else [f"{key}{chunk_key_suffix(i)}" for i in range(count)]


def chunk_key_suffix(index: int) -> str:
    """What is appended to a caller's key for request ``index`` of a detect sent as several."""
    return f":{index}"
