"""Client settings: constructor arguments, then the environment, then the defaults.

Resolved once, when a client is built, into an immutable :class:`ClientConfig`; everything
wrong with them raises :class:`DriftlockConfigError` there rather than on the first request.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
from collections.abc import Mapping
from typing import Final

import httpx

from driftlock._version import __version__
from driftlock.exceptions import DriftlockConfigError

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_ENABLED",
    "ENV_MAX_RETRIES",
    "ENV_TIMEOUT",
    "LOCAL_API_KEY",
    "LOCAL_HTTP_BASE_URL",
    "USER_AGENT",
    "ClientConfig",
    "Secret",
    "mask_secret",
]

DEFAULT_BASE_URL: Final = "https://driftlock.net/api"
DEFAULT_TIMEOUT: Final = 10.0
DEFAULT_MAX_RETRIES: Final = 3
USER_AGENT: Final = f"driftlock-python/{__version__}"
# The in-process transport ignores the host; this one just makes URLs in logs readable.
LOCAL_HTTP_BASE_URL: Final = "http://local.driftlock"
LOCAL_SCHEME: Final = "local://"
# The embedded engine wants some key, any non-empty one, so `local://` works without one.
LOCAL_API_KEY: Final = "local"

ENV_API_KEY: Final = "DRIFTLOCK_API_KEY"
ENV_BASE_URL: Final = "DRIFTLOCK_BASE_URL"
ENV_TIMEOUT: Final = "DRIFTLOCK_TIMEOUT"
ENV_MAX_RETRIES: Final = "DRIFTLOCK_MAX_RETRIES"
ENV_ENABLED: Final = "DRIFTLOCK_ENABLED"

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class Secret(str):
    """A string whose repr hides it: the API key stays out of reprs, tracebacks with locals
    (pytest ``-l``, Sentry) and debuggers, while still working wherever a ``str`` does."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(mask_secret(self))


def mask_secret(value: str) -> str:
    """Show a secret as ``****`` plus its last four characters (all hidden when short)."""
    return "****" + value[-4:] if len(value) >= 16 else "****"


@dataclasses.dataclass(frozen=True, slots=True)
class ClientConfig:
    """The resolved settings of one client; ``with_options`` derives new ones by ``replace``."""

    api_key: Secret | None
    base_url: str
    timeout: httpx.Timeout
    max_retries: int
    default_headers: Mapping[str, str]
    enabled: bool
    # `local://NAME` selects the embedded engine NAME ("" for `local://`); None means HTTP.
    local_name: str | None

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        enabled: bool | None = None,
        allow_insecure: bool = False,
    ) -> ClientConfig:
        """Resolve arguments > environment > defaults and check them."""
        env = os.environ
        url = base_url if base_url is not None else env.get(ENV_BASE_URL) or DEFAULT_BASE_URL
        url = url.strip()
        local_name = _local_name(url)
        if local_name is None:
            url = _check_http_url(url.rstrip("/"), allow_insecure)
        key = api_key if api_key is not None else env.get(ENV_API_KEY)
        if key is not None:
            key = key.strip()
        if not key:
            if local_name is None:
                raise DriftlockConfigError(
                    "no API key: pass api_key=... or set DRIFTLOCK_API_KEY "
                    "(or use base_url='local://' for the embedded engine, which needs no key)"
                )
            key = None
        elif any(ch in key for ch in "\r\n") or not key.isascii():
            raise DriftlockConfigError("the API key must be a single line of ASCII characters")
        return cls(
            api_key=Secret(key) if key else None,
            base_url=url,
            timeout=_timeout(timeout if timeout is not None else env.get(ENV_TIMEOUT)),
            max_retries=_max_retries(
                max_retries if max_retries is not None else env.get(ENV_MAX_RETRIES)
            ),
            default_headers=_headers(default_headers),
            enabled=enabled if enabled is not None else _enabled(env.get(ENV_ENABLED)),
            local_name=local_name,
        )

    def replace(
        self,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ClientConfig:
        """A copy with a new timeout, retry count or extra headers (merged over the old ones)."""
        return dataclasses.replace(
            self,
            timeout=self.timeout if timeout is None else _timeout(timeout),
            max_retries=self.max_retries if max_retries is None else _max_retries(max_retries),
            default_headers={**self.default_headers, **_headers(headers)},
        )

    @property
    def http_base_url(self) -> str:
        """The URL httpx sends to (the local engine's placeholder for ``local://``)."""
        return LOCAL_HTTP_BASE_URL if self.local_name is not None else self.base_url

    def headers(self) -> dict[str, str]:
        """The headers every request carries: user agent, user headers, then the key."""
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        headers.update(self.default_headers)
        headers["X-Api-Key"] = self.api_key or LOCAL_API_KEY
        return headers

    def __repr__(self) -> str:
        key = "None" if self.api_key is None else repr(self.api_key)
        return (
            f"ClientConfig(base_url={self.base_url!r}, api_key={key}, "
            f"timeout={self.timeout.read}, max_retries={self.max_retries}, "
            f"enabled={self.enabled})"
        )


def _local_name(url: str) -> str | None:
    if not url.lower().startswith(LOCAL_SCHEME):
        return None
    name = url[len(LOCAL_SCHEME) :].strip("/")
    if "/" in name or "?" in name or "#" in name:
        raise DriftlockConfigError(
            f"invalid local engine URL {url!r}: use local:// or local://NAME"
        )
    return name


def _check_http_url(url: str, allow_insecure: bool) -> str:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise DriftlockConfigError(f"invalid base_url {url!r}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise DriftlockConfigError(
            f"invalid base_url {url!r}: expected https://HOST[/PATH], http://127.0.0.1:PORT "
            "or local://"
        )
    if parsed.username or parsed.password:
        raise DriftlockConfigError("base_url must not carry credentials; pass api_key instead")
    if parsed.query or parsed.fragment:
        raise DriftlockConfigError(f"base_url {url!r} must not have a query or a fragment")
    if parsed.scheme == "http" and not allow_insecure and not _is_loopback(parsed.host):
        raise DriftlockConfigError(
            f"refusing plain http:// to {parsed.host}: the API key would travel unencrypted. "
            "Use https://, or pass allow_insecure=True if you really mean it"
        )
    return url


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _timeout(value: float | str | httpx.Timeout | None) -> httpx.Timeout:
    if isinstance(value, httpx.Timeout):
        return value
    if value is None:
        return httpx.Timeout(DEFAULT_TIMEOUT)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise DriftlockConfigError(
            f"timeout must be a number of seconds or an httpx.Timeout, got {value!r}"
        ) from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise DriftlockConfigError(f"timeout must be a positive number of seconds, got {value!r}")
    return httpx.Timeout(seconds)


def _max_retries(value: int | str | None) -> int:
    if value is None:
        return DEFAULT_MAX_RETRIES
    if isinstance(value, bool):
        raise DriftlockConfigError(f"max_retries must be a whole number, got {value!r}")
    try:
        retries = int(value)
    except (TypeError, ValueError):
        raise DriftlockConfigError(f"max_retries must be a whole number, got {value!r}") from None
    if retries < 0:
        raise DriftlockConfigError(f"max_retries must be 0 or more, got {value!r}")
    return retries


def _enabled(value: str | None) -> bool:
    if value is None or not value.strip():
        return True
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise DriftlockConfigError(f"DRIFTLOCK_ENABLED must be true or false, got {value!r}")


def _headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    if not headers:
        return {}
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise DriftlockConfigError("default_headers must map header names to strings")
        if any(ch in name + value for ch in "\r\n") or not (name + value).isascii():
            raise DriftlockConfigError(f"header {name!r} must be a single line of ASCII")
        checked[name] = value
    return checked
