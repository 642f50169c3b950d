"""The app over real HTTP (uvicorn on 127.0.0.1): auth, rate limit, idempotency, big bodies."""

from __future__ import annotations

import httpx
import pytest

from driftlock.local.engine import EngineError
from tests.conftest import ServedEngine, ServedEngineFactory
from tests.local.helpers import normal_events


def test_with_an_api_key_only_that_key_is_accepted(served_engine: ServedEngine) -> None:
    with httpx.Client(base_url=served_engine.url) as client:
        ok = client.get("/v1/profiles", headers={"X-Api-Key": served_engine.api_key})
        wrong = client.get("/v1/profiles", headers={"X-Api-Key": "dlk_other.key"})
        missing = client.post("/v1/detect", json={"events": [{}]})
        public = client.get("/healthz")
    assert ok.status_code == 200
    for refused in (wrong, missing):
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
        assert refused.json()["error"]["request_id"] == refused.headers["x-request-id"]
    assert public.status_code == 200
    assert public.headers["x-request-id"]
    assert int(public.headers["content-length"]) == len(public.content)


def test_without_an_api_key_any_non_empty_key_is_accepted(
    served_engine_factory: ServedEngineFactory,
) -> None:
    served = served_engine_factory()
    with httpx.Client(base_url=served.url) as client:
        assert client.get("/v1/profiles", headers={"X-Api-Key": "whatever"}).status_code == 200
        assert client.get("/v1/profiles", headers={"X-Api-Key": ""}).status_code == 401
        assert client.get("/v1/profiles").status_code == 401
        demo = client.post("/v1/demo/detect", json={"events": normal_events(5)})
        assert demo.status_code == 200
        assert demo.json()["demo"]["remaining_calls"] == 9


def test_past_the_rate_limit_a_429_says_when_to_retry(
    served_engine_factory: ServedEngineFactory,
) -> None:
    served = served_engine_factory(rate_limit="3/minute")
    headers = {"X-Api-Key": served.api_key}
    with httpx.Client(base_url=served.url, headers=headers) as client:
        codes = [client.get("/v1/anomalies").status_code for _ in range(3)]
        refused = client.post("/v1/detect", json={"stream_id": "r", "events": [{}]})
        health = client.get("/healthz")
    assert codes == [200, 200, 200]
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert int(refused.headers["retry-after"]) == error["retry_after_seconds"] >= 1
    assert health.status_code == 200
    # The refused detect ingested nothing: the stream does not exist.
    assert served.engine.list_anomalies(stream_id="r")["total"] == 0
    with pytest.raises(EngineError) as missing:
        served.engine.get_profile("r")
    assert missing.value.status == 404


def test_a_retried_detect_over_http_ingests_once(served_engine: ServedEngine) -> None:
    body = {"stream_id": "idem", "events": normal_events(25)}
    headers = {"X-Api-Key": served_engine.api_key, "Idempotency-Key": "abc-123"}
    with httpx.Client(base_url=served_engine.url, headers=headers) as client:
        first = client.post("/v1/detect", json=body)
        again = client.post("/v1/detect", json=body)
        clash = client.post("/v1/detect", json={**body, "events": normal_events(3)})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "conflict"
    after = served_engine.engine.detect([{}], stream_id="idem")
    assert after["calibration"]["events_ingested"] == 26


def test_an_oversized_body_is_refused_before_it_is_read(served_engine: ServedEngine) -> None:
    payload = b'{"events": [{"x": "' + b"a" * (10 * 1024 * 1024) + b'"}]}'
    with httpx.Client(base_url=served_engine.url, timeout=30) as client:
        response = client.post(
            "/v1/detect", content=payload, headers={"X-Api-Key": served_engine.api_key}
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "invalid_argument"


def test_a_bad_event_over_http_names_its_index(served_engine: ServedEngine) -> None:
    with httpx.Client(base_url=served_engine.url) as client:
        response = client.post(
            "/v1/detect",
            json={"stream_id": "v", "events": [{}, {}, "text"]},
            headers={"X-Api-Key": served_engine.api_key},
        )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "events[2] must be a JSON object, got string"


def test_unknown_routes_and_methods_over_http(served_engine: ServedEngine) -> None:
    with httpx.Client(base_url=served_engine.url) as client:
        missing = client.get("/v2/detect")
        wrong = client.get("/v1/detect", headers={"X-Api-Key": served_engine.api_key})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "POST"
