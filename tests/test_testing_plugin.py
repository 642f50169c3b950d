"""`driftlock.testing`: a user's own test files, run by pytester, using each fixture."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

# Block the plugin under its entry-point name so that enabling it by module name works both
# before and after the package's `pytest11` entry point is installed.
PLUGIN = ("-p", "no:driftlock", "-p", "driftlock.testing")


@pytest.fixture(autouse=True)
def users_settings(pytester: pytest.Pytester) -> None:
    """The users' project settings: pytest-asyncio (installed here) configured as it asks."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def test_sync_client_fixture_gets_a_fresh_engine_and_is_closed_after(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest
        from driftlock import DriftlockError, DriftlockSyncClient

        used = []

        def test_detects(driftlock_sync_client):
            assert isinstance(driftlock_sync_client, DriftlockSyncClient)
            assert driftlock_sync_client.base_url.startswith("local://")
            events = [{"route": "/", "status": 200}] * 3
            result = driftlock_sync_client.detect(stream_id="orders", events=events)
            assert result.calibration.events_ingested == 3
            used.append(driftlock_sync_client)

        def test_the_next_test_starts_from_scratch(driftlock_sync_client):
            result = driftlock_sync_client.detect(stream_id="orders", events=[{"route": "/"}])
            assert result.calibration.events_ingested == 1

        def test_the_first_client_was_closed():
            with pytest.raises(DriftlockError, match="closed"):
                used[0].detect(stream_id="orders", events=[{"route": "/"}])
        """
    )
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=3)


def test_async_client_fixture_works_with_or_without_an_async_plugin(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import asyncio
        import pytest
        from driftlock import DriftlockClient

        def test_with_asyncio_run(driftlock_client):
            assert isinstance(driftlock_client, DriftlockClient)

            async def go():
                return await driftlock_client.detect(stream_id="s", events=[{"v": 1}])

            assert asyncio.run(go()).calibration.events_ingested == 1

        @pytest.mark.asyncio
        async def test_with_pytest_asyncio(driftlock_client):
            result = await driftlock_client.detect(stream_id="s", events=[{"v": 1}, {"v": 2}])
            assert result.calibration.events_ingested == 2
            assert driftlock_client.detect_sync(stream_id="s", events=[{"v": 3}]).total_events == 1
        """
    )
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=2)


def test_both_clients_and_the_users_own_code_share_the_tests_engine(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import asyncio
        from driftlock import DriftlockSyncClient

        def app_code():
            # The user's application builds its client from the environment.
            with DriftlockSyncClient() as client:
                return client.detect(stream_id="shared", events=[{"n": 3}])

        def test_shared(driftlock_client, driftlock_sync_client, driftlock_local_url, monkeypatch):
            assert driftlock_client.base_url == driftlock_local_url
            assert driftlock_sync_client.base_url == driftlock_local_url
            monkeypatch.setenv("DRIFTLOCK_BASE_URL", driftlock_local_url)
            driftlock_sync_client.detect(stream_id="shared", events=[{"n": 1}])
            asyncio.run(driftlock_client.detect(stream_id="shared", events=[{"n": 2}]))
            assert app_code().calibration.events_ingested == 3
        """
    )
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=1)


def test_server_fixture_is_one_http_server_for_the_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import subprocess
        import sys

        import httpx
        from driftlock import DriftlockSyncClient

        seen = set()

        def test_http(driftlock_server):
            assert driftlock_server.url.startswith("http://127.0.0.1:")
            assert httpx.get(driftlock_server.url + "/healthz").status_code == 200
            with DriftlockSyncClient(
                base_url=driftlock_server.url, api_key=driftlock_server.api_key
            ) as client:
                result = client.detect(stream_id="http-test", events=[{"a": 1}])
            assert result.calibration.events_ingested == 1
            seen.add(driftlock_server.url)

        def test_same_server_same_streams(driftlock_server):
            assert driftlock_server.url in seen
            with DriftlockSyncClient(**{
                "base_url": driftlock_server.env["DRIFTLOCK_BASE_URL"],
                "api_key": driftlock_server.env["DRIFTLOCK_API_KEY"],
            }) as client:
                result = client.detect(stream_id="http-test", events=[{"a": 2}])
            assert result.calibration.events_ingested == 2

        def test_other_processes_reach_it(driftlock_server, tmp_path):
            done = subprocess.run(
                [sys.executable, "-m", "driftlock", "detect", "--stream", "cli",
                 "--json", '{"a": 1}'],
                env={**driftlock_server.env, "XDG_CONFIG_HOME": str(tmp_path)},
                capture_output=True, text=True, check=False, timeout=60,
            )
            assert done.returncode == 0, done.stderr
            assert done.stdout.startswith("Sent 1 event to stream 'cli'")
        """
    )
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=3)


def test_fixtures_are_listed_with_their_documentation(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest(*PLUGIN, "--fixtures")
    listing = result.stdout.str()
    assert "driftlock_server [session scope]" in listing
    for name, doc in [
        ("driftlock_server", "A Driftlock API server"),
        ("driftlock_client", ":class:`~driftlock.DriftlockClient` on this test's fresh engine"),
        ("driftlock_sync_client", "DriftlockSyncClient` on this test's fresh engine"),
        ("driftlock_local_url", "The ``local://`` URL of a fresh in-process engine"),
    ]:
        assert f"\n{name} " in listing
        assert doc in listing
