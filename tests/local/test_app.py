"""Every operation of the embedded engine's app, in-process: results, errors and validation."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftlock.local.app import MAX_BODY_BYTES, DriftlockApp, RateLimiter
from driftlock.local.detector import PROFILES
from driftlock.local.engine import Engine
from tests.local.helpers import KEY, detect, feed, incident_prefix, local_client, normal_events

# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def app() -> Iterator[DriftlockApp]:
    engine = Engine()
    yield DriftlockApp(engine, api_key=KEY)
    engine.close()


@pytest.fixture
def client(app: DriftlockApp) -> Iterator[httpx.Client]:
    with local_client(app) as c:
        yield c


@pytest.fixture(scope="module")
def incidents() -> dict[str, Any]:
    """One engine fed the start of an incident stream (an odd event carries a password)."""
    stream = incident_prefix()
    events = [dict(e) for e in stream.events]
    odd = stream.isolated[0].indices[0]
    events[odd]["password"] = "hunter2"
    engine = Engine()
    app = DriftlockApp(engine, api_key=KEY)
    with local_client(app) as c:
        found = feed(c, "web", events)
    return {"app": app, "found": found, "odd": odd, "events": events, "truth": stream}


@pytest.fixture
def anomaly_client(incidents: dict[str, Any]) -> Iterator[httpx.Client]:
    with local_client(incidents["app"]) as c:
        yield c


def error_of(response: httpx.Response, status: int, code: str) -> str:
    """Check the error envelope and return its message."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["request_id"] == response.headers["x-request-id"]
    message: str = error["message"]
    assert message
    return message


def ingested(client: httpx.Client, stream: str) -> int:
    """How many events the stream has received (sending one more, on a scratch copy)."""
    answer = detect(client, stream, [{"probe": True}])
    count: int = answer["calibration"]["events_ingested"]
    return count - 1


# --- health, profiles, routing -----------------------------------------------------------------


def test_health_and_readiness_need_no_key(app: DriftlockApp) -> None:
    with local_client(app, key=None) as anonymous:
        health = anonymous.get("/healthz")
        ready = anonymous.get("/readyz")
    assert health.status_code == 200
    assert health.json()["ok"] is True
    assert health.headers["x-request-id"].startswith("req_")
    assert ready.json() == {"ready": True, "database": "connected"}


def test_profiles_list_the_three_presets(client: httpx.Client) -> None:
    profiles = client.get("/v1/profiles").json()["profiles"]
    assert set(profiles) == {"sensitive", "balanced", "strict"}
    assert profiles["balanced"]["baseline_size"] == PROFILES["balanced"].baseline_size
    assert profiles["strict"]["pvalue_threshold"] == PROFILES["strict"].p_value_threshold


def test_unknown_route_is_404_and_wrong_method_is_405(client: httpx.Client) -> None:
    error_of(client.get("/v1/nothing-here"), 404, "not_found")
    response = client.put("/v1/detect", json={})
    error_of(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"
    assert client.delete("/v1/streams/x/profile").headers["allow"] == "GET, PATCH"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/detect"),
        ("GET", "/v1/anomalies"),
        ("GET", "/v1/anomalies/some-id"),
        ("POST", "/v1/anomalies/export"),
        ("POST", "/v1/anomalies/some-id/export"),
        ("POST", "/v1/anomalies/some-id/feedback"),
        ("GET", "/v1/streams/s/profile"),
        ("PATCH", "/v1/streams/s/profile"),
        ("GET", "/v1/streams/s/tuning"),
        ("GET", "/v1/streams/s/anchor"),
        ("DELETE", "/v1/streams/s/anchor"),
        ("GET", "/v1/streams/s/anchor/details"),
        ("POST", "/v1/streams/s/reset-anchor"),
        ("GET", "/v1/profiles"),
    ],
)
def test_every_keyed_operation_refuses_a_missing_or_wrong_key(
    app: DriftlockApp, method: str, path: str
) -> None:
    for key in (None, "", "dlk_wrong.key"):
        with local_client(app, key=key) as c:
            error_of(c.request(method, path, json={"events": [{}]}), 401, "unauthorized")


def test_without_a_configured_key_any_non_empty_key_is_accepted() -> None:
    app = DriftlockApp(Engine())
    with local_client(app, key="anything-at-all") as c:
        assert c.get("/v1/profiles").status_code == 200
    with local_client(app, key=None) as c:
        error_of(c.get("/v1/profiles"), 401, "unauthorized")


def test_an_unexpected_failure_is_a_logged_500_envelope(
    app: DriftlockApp, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("boom")

    app.engine.list_profiles = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="driftlock.local"):
        response = client.get("/v1/profiles")
    error_of(response, 500, "internal")
    assert "boom" not in response.text
    assert any("unexpected error" in r.getMessage() for r in caplog.records)


# --- detect ------------------------------------------------------------------------------------


def test_calibration_counts_every_event_including_this_request(client: httpx.Client) -> None:
    events = normal_events(80)
    first = detect(client, "cal", events[:30])
    assert first["status"] == "calibrating"
    assert first["stream_id"] == "cal"
    assert first["total_events"] == 30
    assert first["anomaly_count"] == len(first["anomalies"]) == 0
    assert first["success"] is True
    assert first["processing_time"].endswith("ms")
    calibration = first["calibration"]
    assert calibration["events_ingested"] == 30
    assert calibration["events_needed"] == 20
    assert calibration["min_baseline_size"] == 50
    assert calibration["progress_percent"] == 60
    assert calibration["detection_ready"] is first["detection_ready"] is False
    assert calibration["detection_events_needed"] == first["detection_events_needed"] > 0

    second = detect(client, "cal", events[30:])
    assert second["status"] == "ready"
    assert second["calibration"]["events_ingested"] == 80
    assert second["calibration"]["events_needed"] == 0
    assert second["calibration"]["progress_percent"] == 100
    assert second["batch_id"] != first["batch_id"]


def test_a_stream_id_is_optional(client: httpx.Client) -> None:
    answer = client.post("/v1/detect", json={"events": [{"a": 1}]}).json()
    assert answer["stream_id"] == "default"
    assert client.get("/v1/streams/default/profile").status_code == 200


def test_config_override_applies_to_the_request_only(client: httpx.Client) -> None:
    events = normal_events(70)
    answer = client.post(
        "/v1/detect",
        json={
            "stream_id": "ov",
            "events": events,
            "config_override": {"baseline_size": 40, "window_size": 10, "compressor": "lz4"},
        },
    ).json()
    assert answer["calibration"]["detection_min_events"] == 50
    assert answer["detection_ready"] is True
    assert answer["compression_algo"] == "lz4"
    plain = detect(client, "ov", normal_events(1, seed=3))
    assert plain["detection_ready"] is False
    assert plain["compression_algo"] == "zstd"
    profile = client.get("/v1/streams/ov/profile").json()
    assert profile["current_thresholds"]["baseline_size"] == PROFILES["balanced"].baseline_size


def test_an_unavailable_compressor_falls_back_and_says_so(client: httpx.Client) -> None:
    answer = client.post(
        "/v1/detect",
        json={"stream_id": "fb", "events": [{"a": 1}], "config_override": {"compressor": "openzl"}},
    ).json()
    assert answer["compression_algo"] == "zstd"
    assert answer["fallback_from_algo"] == "openzl"


BAD_BODIES: list[tuple[str, bytes, str]] = [
    ("not json", b"{not json", "not valid JSON"),
    ("empty body", b"", "required"),
    ("array body", b"[1, 2]", "must be a JSON object, got array"),
    ("nan", b'{"stream_id": "v", "events": [{"x": NaN}]}', "not valid JSON"),
    ("huge number", b'{"stream_id": "v", "events": [{"x": 1e999}]}', "not valid JSON"),
    ("no events", b'{"stream_id": "v"}', "events is required"),
    ("events not a list", b'{"stream_id": "v", "events": {"a": 1}}', "array"),
    ("empty events", b'{"stream_id": "v", "events": []}', "must not be empty"),
    (
        "string event",
        b'{"stream_id": "v", "events": [{}, {}, {}, "plain text"]}',
        "events[3] must be a JSON object, got string",
    ),
    ("null event", b'{"stream_id": "v", "events": [null]}', "events[0] must be a JSON object"),
    ("stream_id not a string", b'{"stream_id": 7, "events": [{}]}', "stream_id must be a string"),
    ("stream_id null", b'{"stream_id": null, "events": [{}]}', "stream_id must be a string"),
    (
        "override out of range",
        b'{"stream_id": "v", "events": [{}], "config_override": {"window_size": 2}}',
        "config_override.window_size must be between 5 and 1000",
    ),
    (
        "override wrong type",
        b'{"stream_id": "v", "events": [{}], "config_override": {"ncd_threshold": "high"}}',
        "config_override.ncd_threshold must be a number",
    ),
    (
        "override bool as int",
        b'{"stream_id": "v", "events": [{}], "config_override": {"hop_size": true}}',
        "config_override.hop_size must be an integer",
    ),
    (
        "unknown compressor",
        b'{"stream_id": "v", "events": [{}], "config_override": {"compressor": "brotli"}}',
        "config_override.compressor must be one of",
    ),
    (
        "override not an object",
        b'{"stream_id": "v", "events": [{}], "config_override": [1]}',
        "config_override must be a JSON object",
    ),
    ("lone surrogate", b'{"stream_id": "v", "events": [{"x": "\\ud800"}]}', "surrogate"),
    (
        "too deep",
        b'{"stream_id": "v", "events": [{}, ' + b'{"a": ' * 150 + b"1" + b"}" * 150 + b"]}",
        "events[1] is nested more than",
    ),
]


@pytest.mark.parametrize(
    ("body", "expected"),
    [(b, e) for _, b, e in BAD_BODIES],
    ids=[name for name, _, _ in BAD_BODIES],
)
def test_an_invalid_detect_is_refused_and_ingests_nothing(
    client: httpx.Client, body: bytes, expected: str
) -> None:
    response = client.post("/v1/detect", content=body)
    assert expected in error_of(response, 400, "invalid_argument")
    # The stream was never created, let alone fed.
    error_of(client.get("/v1/streams/v/profile"), 404, "not_found")


def test_a_bad_event_late_in_a_batch_leaves_an_existing_stream_untouched(
    client: httpx.Client,
) -> None:
    detect(client, "keep", normal_events(20))
    events: list[Any] = [*normal_events(999, seed=4)]
    events[998] = 42
    message = error_of(
        client.post("/v1/detect", json={"stream_id": "keep", "events": events}),
        400,
        "invalid_argument",
    )
    assert message == "events[998] must be a JSON object, got number"
    assert ingested(client, "keep") == 20


def test_more_than_1000_events_are_refused(client: httpx.Client) -> None:
    response = client.post("/v1/detect", json={"stream_id": "v", "events": [{}] * 1001})
    assert "1001" in error_of(response, 400, "invalid_argument")


def test_a_body_over_10_mb_is_413_everywhere(client: httpx.Client) -> None:
    big = b'{"events": [{"x": "' + b"a" * MAX_BODY_BYTES + b'"}]}'
    error_of(client.post("/v1/detect", content=big), 413, "invalid_argument")
    error_of(client.post("/v1/demo/detect", content=big), 413, "invalid_argument")
    error_of(client.post("/v1/streams/s/reset-anchor", content=big), 413, "invalid_argument")
    error_of(client.patch("/v1/streams/s/profile", content=big), 413, "invalid_argument")


def test_same_events_give_the_same_output_on_another_engine() -> None:
    events = incident_prefix(seed=2, n=900).events
    answers = []
    for _ in range(2):
        with local_client(DriftlockApp(Engine(), api_key=KEY)) as c:
            answers.append(feed(c, "same", events))
    assert answers[0] == answers[1]


# --- idempotency -------------------------------------------------------------------------------


def test_a_retried_detect_returns_the_first_answer_and_ingests_nothing_twice(
    client: httpx.Client,
) -> None:
    body = {"stream_id": "idem", "events": normal_events(10)}
    headers = {"Idempotency-Key": "retry-1"}
    first = client.post("/v1/detect", json=body, headers=headers)
    again = client.post("/v1/detect", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert ingested(client, "idem") == 10


def test_an_idempotency_key_reused_with_another_body_is_a_conflict(client: httpx.Client) -> None:
    headers = {"Idempotency-Key": "retry-2"}
    ok = client.post("/v1/detect", json={"stream_id": "c", "events": [{"a": 1}]}, headers=headers)
    assert ok.status_code == 200
    clash = client.post(
        "/v1/detect", json={"stream_id": "c", "events": [{"a": 2}]}, headers=headers
    )
    assert "Idempotency-Key" in error_of(clash, 409, "conflict")
    assert ingested(client, "c") == 1


def test_idempotency_keys_belong_to_their_api_key() -> None:
    app = DriftlockApp(Engine())
    body = {"stream_id": "shared", "events": [{"a": 1}]}
    for key in ("dlk_a.one", "dlk_b.two"):
        with local_client(app, key=key) as c:
            answer = c.post("/v1/detect", json=body, headers={"Idempotency-Key": "k"})
            assert "idempotent-replayed" not in answer.headers
    with local_client(app) as c:
        assert ingested(c, "shared") == 2


def test_an_overlong_idempotency_key_is_refused(client: httpx.Client) -> None:
    response = client.post(
        "/v1/detect", json={"events": [{}]}, headers={"Idempotency-Key": "k" * 256}
    )
    assert "255" in error_of(response, 400, "invalid_argument")


# --- demo --------------------------------------------------------------------------------------


def test_the_demo_is_stateless_and_needs_no_key(app: DriftlockApp) -> None:
    events = incident_prefix(seed=3, n=200).events
    with local_client(app, key=None) as anonymous:
        first = anonymous.post("/v1/demo/detect", json={"events": events})
        second = anonymous.post("/v1/demo/detect", json={"events": events})
    assert first.status_code == 200, first.text
    one, two = first.json(), second.json()
    assert one["calibration"]["events_ingested"] == two["calibration"]["events_ingested"] == 200
    assert one["anomalies"] == two["anomalies"]
    assert one["detection_ready"] is True
    assert one["demo"]["limit_per_minute"] == 10
    assert one["demo"]["max_events_per_request"] == 200
    assert one["demo"]["remaining_calls"] == two["demo"]["remaining_calls"] + 1
    with local_client(app) as c:
        assert c.get("/v1/anomalies").json()["total"] == 0
        error_of(c.get("/v1/streams/demo/profile"), 404, "not_found")


def test_the_demo_takes_at_most_200_events(client: httpx.Client) -> None:
    response = client.post("/v1/demo/detect", json={"events": [{}] * 201})
    assert "at most 200" in error_of(response, 400, "invalid_argument")


def test_the_demo_allows_10_calls_a_minute_per_client(app: DriftlockApp) -> None:
    with local_client(app, key=None) as anonymous:
        answers = [anonymous.post("/v1/demo/detect", json={"events": [{}]}) for _ in range(11)]
    assert [a.status_code for a in answers] == [200] * 10 + [429]
    message = error_of(answers[-1], 429, "rate_limit_exceeded")
    assert "demo" in message
    retry = answers[-1].json()["error"]["retry_after_seconds"]
    assert int(answers[-1].headers["retry-after"]) == retry >= 1


# --- rate limit --------------------------------------------------------------------------------


def test_the_rate_limit_counts_per_api_key_and_spares_health() -> None:
    app = DriftlockApp(Engine(), rate_limit="2/minute")
    with local_client(app, key="dlk_a.one") as a, local_client(app, key="dlk_b.two") as b:
        codes = [a.get("/v1/anomalies").status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        refused = a.get("/v1/anomalies")
        error_of(refused, 429, "rate_limit_exceeded")
        assert int(refused.headers["retry-after"]) == refused.json()["error"]["retry_after_seconds"]
        assert b.get("/v1/anomalies").status_code == 200
        assert all(a.get("/healthz").status_code == 200 for _ in range(5))


# --- anomalies ---------------------------------------------------------------------------------


def test_an_incident_stream_yields_stored_anomalies(
    incidents: dict[str, Any], anomaly_client: httpx.Client
) -> None:
    found = incidents["found"]
    truth = incidents["truth"]
    assert found, "the incident stream produced no anomaly"
    positions = {a["position"] for a in found}
    assert positions & truth.anomalous
    listing = anomaly_client.get("/v1/anomalies", params={"stream_id": "web", "limit": 100})
    body = listing.json()
    assert body["total"] == len(found)
    assert [a["id"] for a in body["anomalies"]] == [a["id"] for a in reversed(found)][:100]
    first = body["anomalies"][0]
    assert first["status"] == "open"
    assert set(first) >= {"id", "stream_id", "detected_at", "ncd", "p_value", "confidence"}


def test_anomaly_events_are_stored_and_returned_redacted(
    incidents: dict[str, Any], anomaly_client: httpx.Client
) -> None:
    hit = [a for a in incidents["found"] if a["position"] == incidents["odd"]]
    assert hit, "the isolated odd event was not reported"
    assert hit[0]["event"]["password"] == "[REDACTED]"
    detail = anomaly_client.get(f"/v1/anomalies/{hit[0]['id']}").json()
    assert detail["event"]["password"] == "[REDACTED]"
    assert detail["metrics"] == hit[0]["metrics"]
    assert detail["explanation"] == hit[0]["why"]
    assert "hunter2" not in json.dumps(detail)


def test_anomaly_listing_pages_and_filters(
    incidents: dict[str, Any], anomaly_client: httpx.Client
) -> None:
    total = len(incidents["found"])
    everything = anomaly_client.get("/v1/anomalies", params={"limit": 100}).json()["anomalies"]
    page = anomaly_client.get("/v1/anomalies", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == total
    assert page["limit"] == 1
    assert page["offset"] == 1
    assert page["anomalies"] == everything[1:2]
    assert anomaly_client.get("/v1/anomalies", params={"stream_id": "other"}).json()["total"] == 0
    assert anomaly_client.get("/v1/anomalies", params={"status": "open"}).json()["total"] == total
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert anomaly_client.get("/v1/anomalies", params={"from": later}).json()["total"] == 0
    assert anomaly_client.get("/v1/anomalies", params={"to": earlier}).json()["total"] == 0
    assert anomaly_client.get("/v1/anomalies", params={"from": earlier}).json()["total"] == total
    for edge in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        assert anomaly_client.get("/v1/anomalies", params={"from": edge}).status_code == 200
    ancient = anomaly_client.get("/v1/anomalies", params={"from": "0001-01-01T00:00:00+01:00"})
    assert ancient.json()["total"] == total
    far = anomaly_client.get("/v1/anomalies", params={"offset": str(10**30)}).json()
    assert (far["anomalies"], far["total"], far["offset"]) == ([], total, 10**30)
    default = anomaly_client.get("/v1/anomalies").json()
    assert default["limit"] == 50
    assert default["offset"] == 0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"limit": "0"}, "limit must be between 1 and 100"),
        ({"limit": "101"}, "limit must be between 1 and 100"),
        ({"limit": "ten"}, "limit must be an integer"),
        ({"offset": "-1"}, "offset must be at least 0"),
        ({"from": "yesterday"}, "from must be an ISO 8601 date-time"),
        ({"status": "closed"}, "status must be one of open, acknowledged, resolved"),
    ],
)
def test_anomaly_listing_validates_its_query(
    client: httpx.Client, params: dict[str, str], expected: str
) -> None:
    assert expected in error_of(client.get("/v1/anomalies", params=params), 400, "invalid_argument")


def test_an_unknown_anomaly_is_404_everywhere(client: httpx.Client) -> None:
    error_of(client.get("/v1/anomalies/nope"), 404, "not_found")
    error_of(client.post("/v1/anomalies/nope/export", json={}), 404, "not_found")
    feedback = client.post("/v1/anomalies/nope/feedback", json={"feedback_type": "confirmed"})
    error_of(feedback, 404, "not_found")
    export = client.post("/v1/anomalies/export", json={"anomaly_ids": ["nope"]})
    assert "nope" in error_of(export, 404, "not_found")


# --- exports -----------------------------------------------------------------------------------


def test_exports_are_completed_inline_as_json_or_markdown(
    incidents: dict[str, Any], anomaly_client: httpx.Client
) -> None:
    ids = [a["id"] for a in incidents["found"][:3]]
    job = anomaly_client.post("/v1/anomalies/export", json={"anomaly_ids": ids})
    assert job.status_code == 202
    body = job.json()
    assert body["status"] == "completed"
    assert body["format"] == "json"
    assert body["anomaly_count"] == len(ids)
    bundle = json.loads(body["content"])
    assert [a["id"] for a in bundle["anomalies"]] == ids
    assert "hunter2" not in body["content"]

    one = anomaly_client.post(f"/v1/anomalies/{ids[0]}/export", json={"format": "markdown"})
    assert one.status_code == 202
    markdown = one.json()["content"]
    assert markdown.startswith("# Driftlock anomaly evidence")
    assert ids[0] in markdown

    bare = anomaly_client.post(f"/v1/anomalies/{ids[0]}/export")
    assert bare.status_code == 202
    assert bare.json()["format"] == "json"


def test_pdf_exports_are_refused_naming_the_supported_formats(
    incidents: dict[str, Any], anomaly_client: httpx.Client
) -> None:
    anomaly_id = incidents["found"][0]["id"]
    for response in (
        anomaly_client.post(f"/v1/anomalies/{anomaly_id}/export", json={"format": "pdf"}),
        anomaly_client.post(
            "/v1/anomalies/export", json={"anomaly_ids": [anomaly_id], "format": "pdf"}
        ),
    ):
        message = error_of(response, 400, "invalid_argument")
        assert "json" in message
        assert "markdown" in message


def test_export_requests_are_validated(client: httpx.Client) -> None:
    for body in ({}, {"anomaly_ids": "a"}, {"anomaly_ids": [1]}):
        error_of(client.post("/v1/anomalies/export", json=body), 400, "invalid_argument")
    bad_format = client.post("/v1/anomalies/export", json={"anomaly_ids": [], "format": "xml"})
    assert "format must be one of" in error_of(bad_format, 400, "invalid_argument")
    empty = client.post("/v1/anomalies/export", json={"anomaly_ids": []})
    assert empty.status_code == 202
    assert empty.json()["anomaly_count"] == 0


# --- feedback and tuning -----------------------------------------------------------------------


def test_feedback_sets_the_status_and_tunes_thresholds_within_bounds() -> None:
    stream = incident_prefix(seed=1)
    app = DriftlockApp(Engine(), api_key=KEY)
    with local_client(app) as c:
        found = feed(c, "tune", stream.events)
        assert len(found) >= 2
        before = c.get("/v1/streams/tune/profile").json()["current_thresholds"]

        fp = c.post(
            f"/v1/anomalies/{found[0]['id']}/feedback",
            json={"feedback_type": "false_positive", "reason": "deploy"},
        )
        assert fp.status_code == 200
        assert fp.json()["anomaly_status"] == "resolved"
        assert fp.json()["anomaly_id"] == found[0]["id"]
        ok = c.post(f"/v1/anomalies/{found[1]['id']}/feedback", json={"feedback_type": "confirmed"})
        assert ok.json()["anomaly_status"] == "acknowledged"
        statuses = {a["id"]: a["status"] for a in c.get("/v1/anomalies").json()["anomalies"]}
        assert statuses[found[0]["id"]] == "resolved"
        assert statuses[found[1]["id"]] == "acknowledged"

        profile = c.get("/v1/streams/tune/profile").json()
        assert profile["profile"] == "custom"
        after = profile["current_thresholds"]
        assert after["ncd_threshold"] != before["ncd_threshold"]

        for _ in range(40):
            c.post(
                f"/v1/anomalies/{found[0]['id']}/feedback", json={"feedback_type": "false_positive"}
            )
        limits = c.get("/v1/streams/tune/profile").json()["current_thresholds"]
        assert limits["ncd_threshold"] == 0.8
        assert limits["pvalue_threshold"] == 0.001

        tuning = c.get("/v1/streams/tune/tuning").json()
        stats = tuning["feedback_stats"]
        assert stats["total_feedback"] == 42
        assert stats["false_positives"] == 41
        assert stats["confirmed"] == 1
        assert stats["dismissed"] == 0
        assert stats["false_positive_rate"] == pytest.approx(41 / 42)
        history = tuning["tune_history"]
        assert history, "tuning left no history"
        assert {h["tune_type"] for h in history} == {"ncd_threshold", "p_value_threshold"}
        assert all(
            0.1 <= h["new_value"] <= 0.8 for h in history if h["tune_type"] == "ncd_threshold"
        )
        assert tuning["current_settings"]["profile"] == "custom"


def test_feedback_without_auto_tune_changes_no_threshold() -> None:
    stream = incident_prefix(seed=1)
    app = DriftlockApp(Engine(), api_key=KEY)
    with local_client(app) as c:
        found = feed(c, "manual", stream.events)
        patched = c.patch("/v1/streams/manual/profile", json={"auto_tune_enabled": False})
        assert patched.json()["auto_tune_enabled"] is False
        before = c.get("/v1/streams/manual/profile").json()
        answer = c.post(
            f"/v1/anomalies/{found[0]['id']}/feedback", json={"feedback_type": "dismissed"}
        ).json()
        assert answer["anomaly_status"] == "resolved"
        assert c.get("/v1/streams/manual/profile").json() == before
        tuning = c.get("/v1/streams/manual/tuning").json()
        assert tuning["tune_history"] == []
        assert tuning["feedback_stats"]["dismissed"] == 1


@pytest.mark.parametrize(
    "body", [{}, {"feedback_type": "maybe"}, {"feedback_type": "confirmed", "reason": 3}]
)
def test_feedback_requests_are_validated(
    incidents: dict[str, Any], anomaly_client: httpx.Client, body: dict[str, Any]
) -> None:
    anomaly_id = incidents["found"][0]["id"]
    response = anomaly_client.post(f"/v1/anomalies/{anomaly_id}/feedback", json=body)
    error_of(response, 400, "invalid_argument")


# --- profiles ----------------------------------------------------------------------------------


def test_profile_patch_creates_the_stream_and_switches_presets(client: httpx.Client) -> None:
    error_of(client.get("/v1/streams/new/profile"), 404, "not_found")
    error_of(client.get("/v1/streams/new/tuning"), 404, "not_found")
    patched = client.patch("/v1/streams/new/profile", json={"profile": "strict"})
    assert patched.json() == {
        "success": True,
        "profile": "strict",
        "auto_tune_enabled": True,
        "adaptive_window_enabled": False,
        "message": patched.json()["message"],
    }
    profile = client.get("/v1/streams/new/profile").json()
    assert profile["profile"] == "strict"
    assert profile["current_thresholds"] == {
        "ncd_threshold": PROFILES["strict"].ncd_threshold,
        "pvalue_threshold": PROFILES["strict"].p_value_threshold,
        "baseline_size": PROFILES["strict"].baseline_size,
        "window_size": PROFILES["strict"].window_size,
    }
    assert set(profile["profile_descriptions"]) == {"sensitive", "balanced", "strict"}
    answer = detect(client, "new", [{"a": 1}])
    assert answer["calibration"]["detection_min_events"] == (
        PROFILES["strict"].baseline_size + PROFILES["strict"].window_size
    )
    client.patch("/v1/streams/new/profile", json={"adaptive_window_enabled": True})
    assert client.get("/v1/streams/new/profile").json()["adaptive_window_enabled"] is True


def test_a_stream_name_may_hold_any_character(client: httpx.Client) -> None:
    name = "team/a b?c#d%e"
    assert detect(client, name, [{"a": 1}])["stream_id"] == name
    assert client.get("/v1/streams/team%2Fa%20b%3Fc%23d%25e/profile").status_code == 200


@pytest.mark.parametrize(
    "body",
    [{"profile": "paranoid"}, {"auto_tune_enabled": "yes"}, {"adaptive_window_enabled": 1}, [1]],
)
def test_profile_patches_are_validated(client: httpx.Client, body: Any) -> None:
    error_of(client.patch("/v1/streams/p/profile", json=body), 400, "invalid_argument")
    error_of(client.get("/v1/streams/p/profile"), 404, "not_found")


# --- anchors -----------------------------------------------------------------------------------


def test_anchor_lifecycle(client: httpx.Client) -> None:
    for path in ("anchor", "anchor/details"):
        error_of(client.get(f"/v1/streams/drift/{path}"), 404, "not_found")
    error_of(client.delete("/v1/streams/drift/anchor"), 404, "not_found")
    reset = {"events": normal_events(20, seed=9)}
    error_of(client.post("/v1/streams/drift/reset-anchor", json=reset), 404, "not_found")

    detect(client, "drift", normal_events(20))
    early = client.post("/v1/streams/drift/reset-anchor", json=reset)
    assert "calibrating" in error_of(early, 412, "conflict")
    forced = client.post("/v1/streams/drift/reset-anchor", json={**reset, "force_reset": True})
    assert forced.status_code == 200
    anchor_id = forced.json()["anchor_id"]

    settings = client.get("/v1/streams/drift/anchor").json()
    assert settings["has_active_anchor"] is True
    assert settings["anchor_enabled"] is True
    assert settings["anchor_id"] == anchor_id
    details = client.get("/v1/streams/drift/anchor/details").json()["anchor"]
    assert details["id"] == anchor_id
    assert details["stream_id"] == "drift"
    assert details["event_count"] == 20
    assert details["is_active"] is True

    detect(client, "drift", normal_events(500, seed=5))
    assert client.post("/v1/streams/drift/reset-anchor", json=reset).status_code == 200

    deleted = client.delete("/v1/streams/drift/anchor").json()
    assert deleted["success"] is True
    assert client.get("/v1/streams/drift/anchor").json()["has_active_anchor"] is False
    assert client.get("/v1/streams/drift/anchor").json()["anchor_enabled"] is False
    assert client.get("/v1/streams/drift/anchor/details").json()["anchor"] is None
    assert detect(client, "drift", normal_events(5, seed=6))["drift"] is None


@pytest.mark.parametrize(
    "body",
    [{}, {"events": []}, {"events": [{}, 5]}, {"events": [{}], "force_reset": "yes"}],
)
def test_reset_anchor_requests_are_validated(client: httpx.Client, body: dict[str, Any]) -> None:
    detect(client, "rv", [{"a": 1}])
    error_of(client.post("/v1/streams/rv/reset-anchor", json=body), 400, "invalid_argument")


# --- rate limiter ------------------------------------------------------------------------------


def test_rate_limits_parse_per_second_minute_and_hour() -> None:
    assert (RateLimiter.parse("60/minute").limit, RateLimiter.parse("60/minute").period) == (
        60,
        60.0,
    )
    assert RateLimiter.parse("5/second").period == 1.0
    assert RateLimiter.parse(" 7 / hour ").period == 3600.0
    for bad in ("", "fast", "0/minute", "10/fortnight", "-1/second"):
        with pytest.raises(ValueError, match="rate limit"):
            RateLimiter.parse(bad)


def test_the_limiter_allows_a_burst_then_one_per_interval() -> None:
    now = [100.0]
    limiter = RateLimiter(3, 60.0, clock=lambda: now[0])
    assert [limiter.acquire("k")[:2] for _ in range(3)] == [(True, 2), (True, 1), (True, 0)]
    allowed, remaining, wait = limiter.acquire("k")
    assert (allowed, remaining) == (False, 0)
    assert wait == pytest.approx(20.0)
    assert limiter.acquire("other")[0] is True
    now[0] += 20.0
    assert limiter.acquire("k")[0] is True
    assert limiter.acquire("k")[0] is False


# --- arbitrary events --------------------------------------------------------------------------

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_EVENTS = st.lists(
    st.dictionaries(st.text(max_size=12), _VALUES, max_size=6), min_size=1, max_size=15
)


@pytest.fixture(scope="module")
def fuzz_client() -> Iterator[httpx.Client]:
    with local_client(DriftlockApp(Engine(), api_key=KEY)) as c:
        yield c


@settings(max_examples=60, derandomize=True, deadline=None)
@given(events=_EVENTS, huge=st.sampled_from([1.5e308, -1.5e308, 10**30, 0]))
def test_any_json_events_are_answered_without_a_server_error(
    fuzz_client: httpx.Client, events: list[dict[str, Any]], huge: float
) -> None:
    # A tiny baseline makes detection, value outliers and drift run on these odd events.
    events = [*events, {"value": huge, "nested": {"value": huge}}]
    override = {"baseline_size": 10, "window_size": 5, "hop_size": 1, "permutation_count": 100}
    response = fuzz_client.post(
        "/v1/detect", json={"stream_id": "fuzz", "events": events, "config_override": override}
    )
    assert response.status_code == 200, response.text
    assert response.json()["total_events"] == len(events)


def test_events_ingested_counts_what_a_stream_received() -> None:
    engine = Engine()
    app = DriftlockApp(engine, api_key=KEY)
    assert engine.events_ingested("counted") == 0
    with local_client(app) as c:
        detect(c, "counted", normal_events(7))
        detect(c, "counted", normal_events(5))
    assert engine.events_ingested("counted") == 12
    assert engine.events_ingested("other") == 0
