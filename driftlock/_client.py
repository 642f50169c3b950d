"""The two clients: :class:`DriftlockClient` (async, plus ``detect_sync``) and
:class:`DriftlockSyncClient`.

Both are thin shells over one :class:`~driftlock._core.ClientCore`: the core builds each
request and decides what every outcome means; a shell only sends, and sleeps when told to
retry. Their resource namespaces (``anomalies``, ``streams``, ``profiles``) are thinner still.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import httpx

from driftlock import _retry
from driftlock._config import ClientConfig
from driftlock._core import Call, ClientCore, Retry
from driftlock._http import (
    AsyncHTTPClient,
    SyncHTTPClient,
    build_async_client,
    build_sync_client,
    check_injected,
    forget_response,
)
from driftlock.exceptions import DriftlockConfigError
from driftlock.models import (
    AnchorChange,
    AnchorDetails,
    AnchorSettings,
    AnomalyDetail,
    AnomalyPage,
    AnomalyRecord,
    ConfigOverride,
    DemoDetectResult,
    DetectResult,
    ExportJob,
    FeedbackResult,
    Health,
    ProfileList,
    ProfileUpdate,
    Readiness,
    StreamProfile,
    StreamTuning,
)
from driftlock.utils import Utils
from driftlock_generated.client import AuthenticatedClient
from driftlock_generated.types import Response

__all__ = ["DriftlockClient", "DriftlockSyncClient"]

R = TypeVar("R")
H = TypeVar("H", SyncHTTPClient, AsyncHTTPClient)

DEFAULT_MAX_CONCURRENCY = 4


class _Base(Generic[H]):
    """What both clients share besides the core: settings, the generated client, repr."""

    _config: ClientConfig
    _core: ClientCore
    _http: H
    _gen: AuthenticatedClient
    _root: Self | None

    def _setup(self, config: ClientConfig, http: H, root: Self | None) -> None:
        self._config = config
        self._core = ClientCore(config)
        self._http = http
        self._root = root
        self.utils = Utils()
        # The generated client only routes calls: the injected httpx client carries the key,
        # headers and timeout (the generated layer drops them when one is injected).
        self._gen = AuthenticatedClient(
            base_url=config.http_base_url,
            token=config.headers()["X-Api-Key"],
            prefix="",
            auth_header_name="X-Api-Key",
        )

    @property
    def base_url(self) -> str:
        """The API's base URL (``local://NAME`` for the embedded engine)."""
        return self._config.base_url

    @property
    def timeout(self) -> httpx.Timeout:
        """The timeout of each attempt."""
        return self._config.timeout

    @property
    def max_retries(self) -> int:
        """How many times a failed request is retried."""
        return self._config.max_retries

    @property
    def enabled(self) -> bool:
        """False when ``detect`` sends nothing (``enabled=False`` or ``DRIFTLOCK_ENABLED``)."""
        return self._config.enabled

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self._config.base_url!r}, "
            f"timeout={self._config.timeout.read}, max_retries={self._config.max_retries}, "
            f"enabled={self._config.enabled})"
        )


class DriftlockSyncClient(_Base[SyncHTTPClient]):
    """The synchronous Driftlock client, for Flask and Django views, Celery tasks and scripts.

    Settings come from the arguments, else the environment (``DRIFTLOCK_API_KEY``,
    ``DRIFTLOCK_BASE_URL``, ``DRIFTLOCK_TIMEOUT``, ``DRIFTLOCK_MAX_RETRIES``,
    ``DRIFTLOCK_ENABLED``), else the defaults (``https://driftlock.net/api``, 10 s, 3 retries).
    ``base_url="local://"`` (or ``local://NAME``) runs the embedded engine in-process and needs
    no key. ``http_client`` sends through your own ``httpx.Client`` (its proxies, TLS
    settings and pool; it stays open when this client closes); ``transport`` replaces the
    connection pool with any ``httpx.BaseTransport`` (``httpx.MockTransport`` in tests). One
    connection pool per client, safe to share across threads; close it with ``close()`` or a
    ``with`` block.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        enabled: bool | None = None,
        allow_insecure: bool = False,
    ) -> None:
        config = ClientConfig.resolve(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            enabled=enabled,
            allow_insecure=allow_insecure,
        )
        check_injected("http_client", http_client, httpx.Client)
        check_injected("transport", transport, httpx.BaseTransport)
        _one_of(http_client, transport)
        http = build_sync_client(config, forward_to=http_client, transport=transport)
        self._setup(config, http, None)

    @classmethod
    def _create(
        cls, config: ClientConfig, http: SyncHTTPClient, root: DriftlockSyncClient | None
    ) -> DriftlockSyncClient:
        client = cls.__new__(cls)
        client._setup(config, http, root)
        return client

    def _setup(
        self, config: ClientConfig, http: SyncHTTPClient, root: DriftlockSyncClient | None
    ) -> None:
        super()._setup(config, http, root)
        self._gen.set_httpx_client(http)
        self.anomalies = SyncAnomalies(self)
        self.streams = SyncStreams(self)
        self.profiles = SyncProfiles(self)

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> DriftlockSyncClient:
        """A client with other settings that shares this one's connection pool (closing it
        leaves the pool open; closing this client closes the pool)."""
        return self._derive(
            self._config.replace(timeout=timeout, max_retries=max_retries, headers=headers)
        )

    def _derive(self, config: ClientConfig) -> DriftlockSyncClient:
        root = self._root or self
        return self._create(config, build_sync_client(config, forward_to=root._http), root)

    def _send(self, call: Call[R]) -> R:
        retries = 0
        while True:
            forget_response()
            start = time.perf_counter()
            # The attempt's outcome goes to the core without a name in this frame: it may hold
            # what a server reflected (the API key), and this frame is in the traceback of the
            # error the core raises.
            step = self._core.outcome(
                call, self._attempt(call), retries, time.perf_counter() - start
            )
            forget_response()  # read: holding it would keep its connection's objects alive
            if not isinstance(step, Retry):
                return step
            _retry.sleep(step.delay)
            retries += 1

    def _attempt(self, call: Call[Any]) -> Response[Any] | Exception:
        """Send ``call`` once: the generated layer's answer, or what it raised (the core maps
        everything; nothing raw escapes)."""
        try:
            return call.send(client=self._gen)
        except Exception as exc:
            return exc

    def detect(
        self,
        *,
        stream_id: str | None = None,
        events: Iterable[Any],
        config_override: ConfigOverride | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> DetectResult:
        """Send ``events`` to the stream ``stream_id`` (the default stream when None) and
        return the anomalies found among them.

        Events are dicts, Pydantic models, dataclasses or attrs instances; datetimes, UUIDs,
        decimals, enums, sets and bytes inside them are converted. More than 1000 events (or
        10 MB) are sent as several requests, one after the other, merged into one result whose
        indices refer to ``events``. Bad input raises ``DriftlockValidationError`` before any
        request. With ``enabled=False`` nothing is sent and the result is empty.

        ``idempotency_key`` makes a resend of the same call safe (a Celery task retried after
        a worker crash): see :meth:`DriftlockClient.detect`.
        """
        if not self._config.enabled:
            return DetectResult.disabled(stream_id)
        plan = self._core.detect(events, stream_id, config_override, idempotency_key)
        return self._core.merge(plan, [self._send(call) for call in plan.calls])

    def demo_detect(self, events: Iterable[Any]) -> DemoDetectResult:
        """Try detection on the public demo endpoint (no key needed there, rate limited, and
        nothing is stored)."""
        return self._send(self._core.demo_detect(events))

    def health(self) -> Health:
        """Whether the service is alive (``GET /healthz``)."""
        return self._send(self._core.health())

    def ready(self) -> Readiness:
        """Whether the service can serve requests (``GET /readyz``)."""
        return self._send(self._core.ready())

    def close(self) -> None:
        """Close the connection pool (a pool shared by ``with_options`` stays open until the
        client that created it closes; a user's ``http_client`` is never closed)."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class DriftlockClient(_Base[AsyncHTTPClient]):
    """The asyncio Driftlock client, for FastAPI and other async code; ``detect_sync`` serves
    synchronous callers (Django views, Celery tasks) from the same client.

    Settings as for :class:`DriftlockSyncClient`; ``http_client`` is an ``httpx.AsyncClient``
    and ``transport`` an ``httpx.AsyncBaseTransport``. ``detect_sync`` sends through a sync
    pool of its own, made from the same settings when first needed, or through
    ``sync_transport`` (by default ``transport`` itself when it is also a sync transport, as
    ``httpx.MockTransport`` is). ``max_concurrency`` bounds how many requests one large
    ``detect`` has in flight. Close it with ``await client.aclose()`` or ``async with``.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sync_transport: httpx.BaseTransport | None = None,
        enabled: bool | None = None,
        allow_insecure: bool = False,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    ) -> None:
        config = ClientConfig.resolve(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            enabled=enabled,
            allow_insecure=allow_insecure,
        )
        check_injected("http_client", http_client, httpx.AsyncClient)
        check_injected("transport", transport, httpx.AsyncBaseTransport)
        check_injected("sync_transport", sync_transport, httpx.BaseTransport)
        _one_of(http_client, transport)
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
            raise DriftlockConfigError(f"max_concurrency must be an int, got {max_concurrency!r}")
        if max_concurrency < 1:
            raise DriftlockConfigError(f"max_concurrency must be 1 or more, got {max_concurrency}")
        http = build_async_client(config, forward_to=http_client, transport=transport)
        self._setup(config, http, None)
        self._max_concurrency = max_concurrency
        if sync_transport is None and isinstance(transport, httpx.BaseTransport):
            sync_transport = transport
        self._sync_transport = sync_transport

    @classmethod
    def _create(
        cls, config: ClientConfig, http: AsyncHTTPClient, root: DriftlockClient
    ) -> DriftlockClient:
        client = cls.__new__(cls)
        client._setup(config, http, root)
        client._max_concurrency = root._max_concurrency
        client._sync_transport = None
        return client

    def _setup(
        self, config: ClientConfig, http: AsyncHTTPClient, root: DriftlockClient | None
    ) -> None:
        super()._setup(config, http, root)
        self._gen.set_async_httpx_client(http)
        self._twin: DriftlockSyncClient | None = None
        self._twin_lock = threading.Lock()
        self.anomalies = AsyncAnomalies(self)
        self.streams = AsyncStreams(self)
        self.profiles = AsyncProfiles(self)

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> DriftlockClient:
        """A client with other settings that shares this one's connection pools (closing it
        leaves them open; closing this client closes them)."""
        config = self._config.replace(timeout=timeout, max_retries=max_retries, headers=headers)
        root = self._root or self
        return self._create(config, build_async_client(config, forward_to=root._http), root)

    async def _send(self, call: Call[R]) -> R:
        retries = 0
        while True:
            forget_response()
            start = time.perf_counter()
            # As in the sync client: the attempt's outcome never gets a name in this frame.
            step = self._core.outcome(
                call, await self._attempt(call), retries, time.perf_counter() - start
            )
            forget_response()  # read: holding it would keep its connection's objects alive
            if not isinstance(step, Retry):
                return step
            await _retry.asleep(step.delay)
            retries += 1

    async def _attempt(self, call: Call[Any]) -> Response[Any] | Exception:
        """Send ``call`` once: the generated layer's answer, or what it raised."""
        try:
            return await call.send_async(self._gen)
        except Exception as exc:
            return exc

    async def _send_all(self, calls: list[Call[R]]) -> list[R]:
        """Send ``calls`` with at most ``max_concurrency`` in flight; the first failure
        cancels the rest and is raised as it is (not wrapped in an ExceptionGroup)."""
        if len(calls) == 1:
            return [await self._send(calls[0])]
        limit = asyncio.Semaphore(self._max_concurrency)

        async def bounded(call: Call[R]) -> R:
            async with limit:
                return await self._send(call)

        tasks = [asyncio.ensure_future(bounded(call)) for call in calls]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def detect(
        self,
        *,
        stream_id: str | None = None,
        events: Iterable[Any],
        config_override: ConfigOverride | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> DetectResult:
        """Send ``events`` to the stream ``stream_id`` (the default stream when None) and
        return the anomalies found among them.

        Events are dicts, Pydantic models, dataclasses or attrs instances; datetimes, UUIDs,
        decimals, enums, sets and bytes inside them are converted. More than 1000 events (or
        10 MB) are sent as several requests, up to ``max_concurrency`` at a time (so the
        server may ingest them out of order), merged into one result whose indices refer to
        ``events``. Bad input raises ``DriftlockValidationError`` before any request. With
        ``enabled=False`` nothing is sent and the result is empty.

        ``idempotency_key`` makes a resend of the same call safe, for code that resends it
        itself (a Celery task retried after a worker crash, a job re-run): the server ingests
        the events of a key once, and a later call with the same key and the same events
        gets the first answer back (``result.replayed`` is then True) without ingesting them
        again; the same key with other events (or another stream or ``config_override``)
        raises ``ConflictError``. Derive it from what identifies the work (a task id, a file
        name), never from the time. It must be printable ASCII without a space at either end,
        at most 255 characters; when the events are sent as several requests, request N gets
        ``f"{idempotency_key}:{N}"``, so the key must leave room for that suffix. The server
        keeps keys for a limited time (24 hours in the embedded engine and ``driftlock
        serve``). Without it, every call gets a fresh key (automatic retries always reuse
        the key of their call).
        """
        if not self._config.enabled:
            return DetectResult.disabled(stream_id)
        plan = self._core.detect(events, stream_id, config_override, idempotency_key)
        return self._core.merge(plan, await self._send_all(plan.calls))

    def detect_sync(
        self,
        *,
        stream_id: str | None = None,
        events: Iterable[Any],
        config_override: ConfigOverride | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> DetectResult:
        """``detect`` for synchronous code: blocks the calling thread, never touches an event
        loop, so it is safe from any thread, also while a loop runs elsewhere. Large lists
        are sent one request after the other. ``idempotency_key`` as for ``detect``: a
        Celery task retried after a crash passes the same key and its events are ingested
        once."""
        return self._sync_twin().detect(
            stream_id=stream_id,
            events=events,
            config_override=config_override,
            idempotency_key=idempotency_key,
        )

    def _sync_twin(self) -> DriftlockSyncClient:
        """The sync client behind ``detect_sync``, made on first use from the same settings
        (sharing the root's sync pool for clients made by ``with_options``)."""
        twin = self._twin
        if twin is None:
            with self._twin_lock:
                twin = self._twin
                if twin is None:
                    if self._root is None:
                        http = build_sync_client(self._config, transport=self._sync_transport)
                        twin = DriftlockSyncClient._create(self._config, http, None)
                    else:
                        twin = self._root._sync_twin()._derive(self._config)
                    self._twin = twin
        return twin

    async def demo_detect(self, events: Iterable[Any]) -> DemoDetectResult:
        """Try detection on the public demo endpoint (no key needed there, rate limited, and
        nothing is stored)."""
        return await self._send(self._core.demo_detect(events))

    async def health(self) -> Health:
        """Whether the service is alive (``GET /healthz``)."""
        return await self._send(self._core.health())

    async def ready(self) -> Readiness:
        """Whether the service can serve requests (``GET /readyz``)."""
        return await self._send(self._core.ready())

    async def aclose(self) -> None:
        """Close the connection pools (see :meth:`DriftlockSyncClient.close` for shared and
        user-supplied ones)."""
        with self._twin_lock:
            twin, self._twin = self._twin, None
        if twin is not None:
            twin.close()
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def _one_of(http_client: object, transport: object) -> None:
    if http_client is not None and transport is not None:
        raise DriftlockConfigError("pass http_client or transport, not both")


# --- resource namespaces ---------------------------------------------------------------------


class SyncAnomalies:
    """``client.anomalies``: stored anomalies, their exports and feedback."""

    def __init__(self, client: DriftlockSyncClient) -> None:
        self._client = client
        self._core = client._core

    def list(
        self,
        *,
        stream_id: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> AnomalyPage:
        """One page of anomalies, newest first (``limit`` 1-100)."""
        return self._client._send(
            self._core.list_anomalies(
                stream_id=stream_id, from_=from_, to=to, status=status, limit=limit, offset=offset
            )
        )

    def iter(
        self,
        *,
        stream_id: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        status: str | None = None,
        page_size: int = 100,
    ) -> Iterator[AnomalyRecord]:
        """Every matching anomaly, newest first, fetching pages as needed."""
        pager = self._core.pager(
            stream_id=stream_id, from_=from_, to=to, status=status, page_size=page_size
        )
        while pager.offset is not None:
            yield from pager.take(self._client._send(pager.call()))

    def get(self, anomaly_id: str) -> AnomalyDetail:
        """One anomaly with its event, metrics and evidence."""
        return self._client._send(self._core.get_anomaly(anomaly_id))

    def export(self, anomaly_ids: Sequence[str], *, format: str = "json") -> ExportJob:
        """Export several anomalies as one evidence bundle (json, markdown or pdf)."""
        return self._client._send(self._core.export_anomalies(anomaly_ids, format))

    def export_one(self, anomaly_id: str, *, format: str | None = None) -> ExportJob:
        """Export one anomaly as an evidence bundle."""
        return self._client._send(self._core.export_anomaly(anomaly_id, format))

    def feedback(
        self, anomaly_id: str, feedback_type: str, *, reason: str | None = None
    ) -> FeedbackResult:
        """Say whether an anomaly was real (``false_positive``, ``confirmed`` or
        ``dismissed``); the stream's thresholds adapt."""
        return self._client._send(self._core.feedback(anomaly_id, feedback_type, reason))


class AsyncAnomalies:
    """``client.anomalies`` on the async client: stored anomalies, exports and feedback."""

    def __init__(self, client: DriftlockClient) -> None:
        self._client = client
        self._core = client._core

    async def list(
        self,
        *,
        stream_id: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> AnomalyPage:
        """One page of anomalies, newest first (``limit`` 1-100)."""
        return await self._client._send(
            self._core.list_anomalies(
                stream_id=stream_id, from_=from_, to=to, status=status, limit=limit, offset=offset
            )
        )

    async def iter(
        self,
        *,
        stream_id: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        status: str | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[AnomalyRecord]:
        """Every matching anomaly, newest first, fetching pages as needed."""
        pager = self._core.pager(
            stream_id=stream_id, from_=from_, to=to, status=status, page_size=page_size
        )
        while pager.offset is not None:
            for anomaly in pager.take(await self._client._send(pager.call())):
                yield anomaly

    async def get(self, anomaly_id: str) -> AnomalyDetail:
        """One anomaly with its event, metrics and evidence."""
        return await self._client._send(self._core.get_anomaly(anomaly_id))

    async def export(self, anomaly_ids: Sequence[str], *, format: str = "json") -> ExportJob:
        """Export several anomalies as one evidence bundle (json, markdown or pdf)."""
        return await self._client._send(self._core.export_anomalies(anomaly_ids, format))

    async def export_one(self, anomaly_id: str, *, format: str | None = None) -> ExportJob:
        """Export one anomaly as an evidence bundle."""
        return await self._client._send(self._core.export_anomaly(anomaly_id, format))

    async def feedback(
        self, anomaly_id: str, feedback_type: str, *, reason: str | None = None
    ) -> FeedbackResult:
        """Say whether an anomaly was real (``false_positive``, ``confirmed`` or
        ``dismissed``); the stream's thresholds adapt."""
        return await self._client._send(self._core.feedback(anomaly_id, feedback_type, reason))


class SyncStreams:
    """``client.streams``: a stream's profile, tuning and drift anchor."""

    def __init__(self, client: DriftlockSyncClient) -> None:
        self._client = client
        self._core = client._core

    def get_profile(self, stream_id: str) -> StreamProfile:
        """The stream's detection profile and current thresholds."""
        return self._client._send(self._core.get_profile(stream_id))

    def update_profile(
        self,
        stream_id: str,
        *,
        profile: str | None = None,
        auto_tune_enabled: bool | None = None,
        adaptive_window_enabled: bool | None = None,
    ) -> ProfileUpdate:
        """Change the profile (sensitive, balanced, strict) or the tuning switches; None
        leaves a setting as it is."""
        return self._client._send(
            self._core.update_profile(
                stream_id, profile, auto_tune_enabled, adaptive_window_enabled
            )
        )

    def get_tuning(self, stream_id: str) -> StreamTuning:
        """Tuning history and feedback statistics."""
        return self._client._send(self._core.get_tuning(stream_id))

    def get_anchor(self, stream_id: str) -> AnchorSettings:
        """Drift-anchor settings and whether an anchor is active."""
        return self._client._send(self._core.get_anchor(stream_id))

    def get_anchor_details(self, stream_id: str) -> AnchorDetails:
        """The active anchor with its metrics (``anchor`` is None when there is none)."""
        return self._client._send(self._core.get_anchor_details(stream_id))

    def reset_anchor(
        self, stream_id: str, events: Iterable[Any], *, force_reset: bool = False
    ) -> AnchorChange:
        """Replace the stream's anchor with one built from ``events``."""
        return self._client._send(self._core.reset_anchor(stream_id, events, force_reset))

    def delete_anchor(self, stream_id: str) -> AnchorChange:
        """Deactivate the anchor, which turns drift detection off for the stream."""
        return self._client._send(self._core.delete_anchor(stream_id))


class AsyncStreams:
    """``client.streams`` on the async client: a stream's profile, tuning and drift anchor."""

    def __init__(self, client: DriftlockClient) -> None:
        self._client = client
        self._core = client._core

    async def get_profile(self, stream_id: str) -> StreamProfile:
        """The stream's detection profile and current thresholds."""
        return await self._client._send(self._core.get_profile(stream_id))

    async def update_profile(
        self,
        stream_id: str,
        *,
        profile: str | None = None,
        auto_tune_enabled: bool | None = None,
        adaptive_window_enabled: bool | None = None,
    ) -> ProfileUpdate:
        """Change the profile (sensitive, balanced, strict) or the tuning switches; None
        leaves a setting as it is."""
        return await self._client._send(
            self._core.update_profile(
                stream_id, profile, auto_tune_enabled, adaptive_window_enabled
            )
        )

    async def get_tuning(self, stream_id: str) -> StreamTuning:
        """Tuning history and feedback statistics."""
        return await self._client._send(self._core.get_tuning(stream_id))

    async def get_anchor(self, stream_id: str) -> AnchorSettings:
        """Drift-anchor settings and whether an anchor is active."""
        return await self._client._send(self._core.get_anchor(stream_id))

    async def get_anchor_details(self, stream_id: str) -> AnchorDetails:
        """The active anchor with its metrics (``anchor`` is None when there is none)."""
        return await self._client._send(self._core.get_anchor_details(stream_id))

    async def reset_anchor(
        self, stream_id: str, events: Iterable[Any], *, force_reset: bool = False
    ) -> AnchorChange:
        """Replace the stream's anchor with one built from ``events``."""
        return await self._client._send(self._core.reset_anchor(stream_id, events, force_reset))

    async def delete_anchor(self, stream_id: str) -> AnchorChange:
        """Deactivate the anchor, which turns drift detection off for the stream."""
        return await self._client._send(self._core.delete_anchor(stream_id))


class SyncProfiles:
    """``client.profiles``: the detection profiles a stream can use."""

    def __init__(self, client: DriftlockSyncClient) -> None:
        self._client = client
        self._core = client._core

    def list(self) -> ProfileList:
        """The profiles, by name, with their settings."""
        return self._client._send(self._core.list_profiles())


class AsyncProfiles:
    """``client.profiles`` on the async client: the detection profiles a stream can use."""

    def __init__(self, client: DriftlockClient) -> None:
        self._client = client
        self._core = client._core

    async def list(self) -> ProfileList:
        """The profiles, by name, with their settings."""
        return await self._client._send(self._core.list_profiles())
