"""The httpx clients the generated layer sends through.

Each Driftlock client owns one of these, carrying its headers, API key, timeout and base URL
(the generated layer drops those when a client is injected). They keep no cookies, and add
four things to httpx:

- the API key is added to each request as it is built (where a client header would go), not
  kept among the client's headers, and each request's headers are :class:`MaskedHeaders`:
  httpx masks only ``Authorization`` in a repr, and these requests reach code the SDK does not
  own (a user's event hooks and transports, tracebacks printed with locals);
- a detect body whose events arrive as :class:`EncodedEvents` is sent from the bytes encoded
  during validation instead of being encoded a second time;
- every response is remembered in a context variable, so that when the generated layer fails
  to parse one (an HTML error page, a truncated body), the core can still see its status,
  headers and body;
- a client can forward to another client's pool (``with_options``, a user's own httpx client)
  through :class:`ForwardTransport`, which never follows redirects (httpx would carry the key
  along to wherever one points).
"""

from __future__ import annotations

import contextvars
from typing import Any, Final

import httpx

from driftlock._config import ClientConfig, Secret, mask_secret
from driftlock._events import EncodedEvents
from driftlock.exceptions import DriftlockConfigError

__all__ = [
    "AsyncForwardTransport",
    "AsyncHTTPClient",
    "ForwardTransport",
    "MaskedHeaders",
    "SyncHTTPClient",
    "build_async_client",
    "build_sync_client",
    "check_injected",
    "forget_response",
    "last_response",
]

_last_response: contextvars.ContextVar[httpx.Response | None] = contextvars.ContextVar(
    "driftlock_last_response", default=None
)


def last_response() -> httpx.Response | None:
    """The response most recently received in this thread or task (None after a reset)."""
    return _last_response.get()


def forget_response() -> None:
    """Reset :func:`last_response` before an attempt."""
    _last_response.set(None)


def _remember(response: httpx.Response) -> None:
    _last_response.set(response)


async def _aremember(response: httpx.Response) -> None:
    _last_response.set(response)


def _encoded_body(json: Any) -> bytes | None:
    if type(json) is dict:
        events = json.get("events")
        if type(events) is EncodedEvents:
            return events.body({key: value for key, value in json.items() if key != "events"})
    return None


_MASKED: Final = frozenset({"x-api-key", "authorization", "proxy-authorization"})


class MaskedHeaders(httpx.Headers):
    """``httpx.Headers`` whose repr (and str) masks ``X-Api-Key``, ``Authorization`` and
    ``Proxy-Authorization`` to their last four characters. Everything else is httpx's: the
    values themselves, as sent, are still there for whoever asks for them by name."""

    def __repr__(self) -> str:
        items = [
            (name, mask_secret(value) if name in _MASKED else value)
            for name, value in self.multi_items()
        ]
        as_dict = dict(items)
        shown: object = as_dict if len(as_dict) == len(items) else items
        encoding = "" if self.encoding == "ascii" else f", encoding={self.encoding!r}"
        return f"{type(self).__name__}({shown!r}{encoding})"

    def copy(self) -> MaskedHeaders:
        """A copy, masked as well."""
        return MaskedHeaders(self, encoding=self.encoding)


def _prepare(api_key: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments of ``build_request`` with the events' own encoding as the body and the
    key ahead of the request's headers: merged over the client's, it lands where a client
    header would (after them, before the request's own)."""
    body = _encoded_body(kwargs.get("json"))
    if body is not None:
        kwargs["json"] = None
        kwargs["content"] = body
    headers = httpx.Headers({"X-Api-Key": api_key})
    headers.update(kwargs.get("headers"))
    kwargs["headers"] = headers
    return kwargs


def _masked(request: httpx.Request) -> httpx.Request:
    request.headers = MaskedHeaders(request.headers)
    return request


class _NoCookies(httpx.Cookies):
    """A cookie store that keeps nothing."""

    def extract_cookies(self, response: httpx.Response) -> None:
        """Ignore the response's cookies."""


_NO_COOKIES = _NoCookies()


class _Stateless:
    """The API authenticates by header and sets no cookies, so the SDK's clients keep none:
    no state leaks between calls, and httpx skips parsing every response for cookies (about
    10 us a request)."""

    @property
    def cookies(self) -> httpx.Cookies:
        """Always empty."""
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        """Ignored."""


class SyncHTTPClient(_Stateless, httpx.Client):
    """``httpx.Client`` that adds ``api_key`` to each request, sends pre-encoded events as they
    are, and keeps no cookies."""

    def __init__(self, *, api_key: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._api_key = Secret(api_key)

    def build_request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Request:
        """Build a request carrying the key; a body with :class:`EncodedEvents` reuses their
        encoding."""
        return _masked(super().build_request(method, url, **_prepare(self._api_key, kwargs)))


class AsyncHTTPClient(_Stateless, httpx.AsyncClient):
    """``httpx.AsyncClient`` that adds ``api_key`` to each request, sends pre-encoded events as
    they are, and keeps no cookies."""

    def __init__(self, *, api_key: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._api_key = Secret(api_key)

    def build_request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Request:
        """Build a request carrying the key; a body with :class:`EncodedEvents` reuses their
        encoding."""
        return _masked(super().build_request(method, url, **_prepare(self._api_key, kwargs)))


class ForwardTransport(httpx.BaseTransport):
    """Sends every request through another client, so both share its connection pool (and,
    for a user's client, its proxies, TLS settings and hooks), without following redirects
    even when that client does: httpx would resend the key to wherever a redirect points (it
    drops only ``Authorization`` on the way to another host). Closing it leaves that client
    open: it belongs to someone else."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` as built (headers, timeout) through the other client."""
        return self.client.send(request, stream=True, follow_redirects=False)


class AsyncForwardTransport(httpx.AsyncBaseTransport):
    """The async twin of :class:`ForwardTransport`."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` as built (headers, timeout) through the other client."""
        return await self.client.send(request, stream=True, follow_redirects=False)


def _common(config: ClientConfig) -> dict[str, Any]:
    headers = config.headers()
    return {
        "api_key": headers.pop("X-Api-Key"),  # added to each request, not a client header
        "base_url": config.http_base_url,
        "headers": headers,
        "timeout": config.timeout,
        "follow_redirects": False,
    }


_LOCAL_HINT = (
    "base_url='local://' runs the embedded Driftlock engine, which needs the 'local' extra: "
    "pip install 'driftlock[local]'"
)


def build_sync_client(
    config: ClientConfig,
    *,
    forward_to: httpx.Client | None = None,
    transport: httpx.BaseTransport | None = None,
) -> SyncHTTPClient:
    """The sync httpx client for ``config``: over ``transport`` or ``forward_to``'s pool when
    given, else over the embedded engine (``local://``) or a fresh pool of its own."""
    if transport is None and forward_to is not None:
        transport = ForwardTransport(forward_to)
    elif transport is None and config.local_name is not None:
        try:
            from driftlock.local.transport import LocalTransport
        except ModuleNotFoundError as exc:
            raise ImportError(f"{_LOCAL_HINT} ({exc})") from exc
        transport = LocalTransport(config.local_name)
    return SyncHTTPClient(
        transport=transport, event_hooks={"response": [_remember]}, **_common(config)
    )


def build_async_client(
    config: ClientConfig,
    *,
    forward_to: httpx.AsyncClient | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncHTTPClient:
    """The async twin of :func:`build_sync_client`."""
    if transport is None and forward_to is not None:
        transport = AsyncForwardTransport(forward_to)
    elif transport is None and config.local_name is not None:
        try:
            from driftlock.local.transport import AsyncLocalTransport
        except ModuleNotFoundError as exc:
            raise ImportError(f"{_LOCAL_HINT} ({exc})") from exc
        transport = AsyncLocalTransport(config.local_name)
    return AsyncHTTPClient(
        transport=transport, event_hooks={"response": [_aremember]}, **_common(config)
    )


def check_injected(name: str, value: object, expected: type[Any]) -> None:
    """Refuse an injected ``http_client`` or transport of the wrong kind (a sync one for the
    async client, ...)."""
    if value is not None and not isinstance(value, expected):
        raise DriftlockConfigError(
            f"{name} must be an {expected.__module__}.{expected.__qualname__}, "
            f"got {type(value).__name__}"
        )
