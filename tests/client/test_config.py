"""Client settings: arguments over environment over defaults, and what is refused."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from driftlock import DriftlockClient, DriftlockConfigError, DriftlockSyncClient
from tests.client.conftest import KEY

ENV = (
    "DRIFTLOCK_API_KEY",
    "DRIFTLOCK_BASE_URL",
    "DRIFTLOCK_TIMEOUT",
    "DRIFTLOCK_MAX_RETRIES",
    "DRIFTLOCK_ENABLED",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=[DriftlockSyncClient, DriftlockClient])
def kind(request: pytest.FixtureRequest) -> type[DriftlockSyncClient | DriftlockClient]:
    return request.param  # type: ignore[no-any-return]


def test_defaults(kind: type[DriftlockSyncClient | DriftlockClient]) -> None:
    client = kind(api_key=KEY)
    assert client.base_url == "https://driftlock.net/api"
    assert client.timeout == httpx.Timeout(10.0)
    assert client.max_retries == 3
    assert client.enabled is True


def test_the_environment_fills_in_what_the_arguments_leave_out(
    kind: type[DriftlockSyncClient | DriftlockClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTLOCK_API_KEY", KEY)
    monkeypatch.setenv("DRIFTLOCK_BASE_URL", "https://eu.driftlock.test/api/")
    monkeypatch.setenv("DRIFTLOCK_TIMEOUT", "2.5")
    monkeypatch.setenv("DRIFTLOCK_MAX_RETRIES", "7")
    monkeypatch.setenv("DRIFTLOCK_ENABLED", "no")
    client = kind()
    assert client.base_url == "https://eu.driftlock.test/api"
    assert client.timeout == httpx.Timeout(2.5)
    assert client.max_retries == 7
    assert client.enabled is False

    chosen = kind(
        api_key="other", base_url="https://x.test", timeout=1, max_retries=0, enabled=True
    )
    assert (chosen.base_url, chosen.timeout.read, chosen.max_retries, chosen.enabled) == (
        "https://x.test",
        1.0,
        0,
        True,
    )


def test_an_httpx_timeout_is_used_as_given(
    kind: type[DriftlockSyncClient | DriftlockClient],
) -> None:
    timeout = httpx.Timeout(5.0, connect=1.0)
    assert kind(api_key=KEY, timeout=timeout).timeout is timeout


def test_a_missing_key_is_refused_with_both_ways_out(
    kind: type[DriftlockSyncClient | DriftlockClient],
) -> None:
    with pytest.raises(DriftlockConfigError) as caught:
        kind()
    assert "DRIFTLOCK_API_KEY" in str(caught.value)
    assert "local://" in str(caught.value)
    with pytest.raises(DriftlockConfigError):
        kind(api_key="   ")


@pytest.mark.parametrize("url", ["local://", "local://ci", "LOCAL://ci/"])
def test_the_embedded_engine_needs_no_key(
    kind: type[DriftlockSyncClient | DriftlockClient], url: str
) -> None:
    client = kind(base_url=url)
    assert client.base_url == url.strip()


def test_local_via_the_environment(monkeypatch: pytest.MonkeyPatch, engine_name: str) -> None:
    monkeypatch.setenv("DRIFTLOCK_BASE_URL", f"local://{engine_name}")
    with DriftlockSyncClient() as client:
        assert client.health().ok


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://localhost:8080/api",
        "http://[::1]:9000",
        "http://127.9.9.9",
        "http://app.localhost",
    ],
)
def test_plain_http_to_loopback_is_allowed(
    kind: type[DriftlockSyncClient | DriftlockClient], url: str
) -> None:
    assert kind(api_key=KEY, base_url=url).base_url == url


@pytest.mark.parametrize("url", ["http://driftlock.example.com/api", "http://10.0.0.5:8080"])
def test_plain_http_elsewhere_needs_allow_insecure(
    kind: type[DriftlockSyncClient | DriftlockClient], url: str
) -> None:
    with pytest.raises(DriftlockConfigError, match="unencrypted"):
        kind(api_key=KEY, base_url=url)
    assert kind(api_key=KEY, base_url=url, allow_insecure=True).base_url == url


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"base_url": "ftp://driftlock.test"}, "invalid base_url"),
        ({"base_url": "https://user:pw@driftlock.test"}, "credentials"),
        ({"base_url": "https://driftlock.test?x=1"}, "query"),
        ({"base_url": "local://a/b"}, "local://NAME"),
        ({"timeout": 0}, "positive"),
        ({"timeout": "soon"}, "timeout"),
        ({"max_retries": -1}, "0 or more"),
        ({"max_retries": True}, "whole number"),
        ({"default_headers": {"X-Bad": "a\nb"}}, "single line"),
        ({"api_key": "line\nbreak"}, "single line"),
        ({"http_client": "not a client"}, "http_client"),
    ],
)
def test_bad_settings_are_refused_at_construction(
    kind: type[DriftlockSyncClient | DriftlockClient], options: dict[str, object], message: str
) -> None:
    options.setdefault("api_key", KEY)
    with pytest.raises(DriftlockConfigError, match=message):
        kind(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DRIFTLOCK_TIMEOUT", "-1"),
        ("DRIFTLOCK_MAX_RETRIES", "many"),
        ("DRIFTLOCK_ENABLED", "maybe"),
    ],
)
def test_bad_environment_is_refused_at_construction(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(DriftlockConfigError):
        DriftlockSyncClient(api_key=KEY)


def test_a_sync_http_client_is_refused_by_the_async_client() -> None:
    with httpx.Client() as sync_http, pytest.raises(DriftlockConfigError, match="AsyncClient"):
        DriftlockClient(api_key=KEY, http_client=sync_http)  # type: ignore[arg-type]


def test_http_client_and_transport_are_exclusive() -> None:
    with httpx.Client() as mine, pytest.raises(DriftlockConfigError, match="not both"):
        DriftlockSyncClient(api_key=KEY, http_client=mine, transport=httpx.MockTransport(print))


def test_max_concurrency_must_be_positive() -> None:
    with pytest.raises(DriftlockConfigError):
        DriftlockClient(api_key=KEY, max_concurrency=0)


def test_reprs_show_settings_but_not_the_key(
    kind: type[DriftlockSyncClient | DriftlockClient],
) -> None:
    client = kind(api_key=KEY, base_url="https://x.test", timeout=3, max_retries=1)
    assert repr(client) == (
        f"{kind.__name__}(base_url='https://x.test', timeout=3.0, max_retries=1, enabled=True)"
    )
    config = repr(client._config)
    assert KEY not in config
    assert "****" + KEY[-4:] in config


def test_the_local_extra_missing_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "driftlock.local.transport", None)
    with pytest.raises(ImportError, match=r"pip install 'driftlock\[local\]'"):
        DriftlockSyncClient(base_url="local://")
    with pytest.raises(ImportError, match=r"pip install 'driftlock\[local\]'"):
        DriftlockClient(base_url="local://")


def test_the_async_client_closes_its_sync_pool_too(engine_name: str) -> None:
    async def run() -> DriftlockClient:
        client = DriftlockClient(base_url=f"local://{engine_name}")
        client.detect_sync(events=[{"a": 1}])
        twin = client._twin
        await client.aclose()
        assert twin is not None
        assert twin._http.is_closed
        return client

    assert asyncio.run(run())._http.is_closed
