"""Retries, backoff, Retry-After and error mapping, by fault injection (httpx.MockTransport).

Every test runs through both clients (the ``both`` fixture). Waits are recorded, not slept.
"""

from __future__ import annotations

import email.utils
import logging
import pickle
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from driftlock import __version__
from driftlock.exceptions import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DriftlockAPIError,
    DriftlockConnectionError,
    DriftlockError,
    DriftlockResponseError,
    DriftlockTimeoutError,
    DriftlockValidationError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from tests.client.conftest import (
    BASE_URL,
    KEY,
    Both,
    Script,
    error_body,
    json_response,
    ok_detect_body,
)

Make = Callable[..., Both]
EVENTS = [{"type": "t", "body": {"value": 1}}]


def detect(client: Both) -> Any:
    return client("detect", stream_id="s", events=EVENTS)


def backoff_bounds(retry: int) -> tuple[float, float]:
    """The range the jittered wait before retry ``retry`` (0-based) must fall in."""
    base = min(0.5 * 2**retry, 8.0)
    return 0.75 * base, base


def test_5xx_answers_are_retried_with_growing_waits_and_one_idempotency_key(
    both: Make, sleeps: list[float]
) -> None:
    script = Script(
        json_response(503, error_body("service_unavailable", "busy")),
        httpx.Response(502, content=b"<html><h1>Bad gateway</h1></html>"),
        httpx.Response(500, content=b""),
        json_response(504, error_body("internal", "slow")),
        json_response(200, ok_detect_body()),
    )
    client = both(script.transport, max_retries=4)

    result = detect(client)

    assert result.success is True
    assert len(script.requests) == 5
    assert len(set(script.keys)) == 1
    assert script.keys[0]
    assert len(sleeps) == 4
    for retry, delay in enumerate(sleeps):
        low, high = backoff_bounds(retry)
        assert low <= delay <= high


def test_backoff_doubles_to_8_seconds_then_gives_up_with_the_last_error(
    both: Make, sleeps: list[float]
) -> None:
    script = Script(json_response(503, error_body("service_unavailable", "down for upgrade")))
    client = both(script.transport, max_retries=6)

    with pytest.raises(InternalServerError) as caught:
        detect(client)

    assert len(script.requests) == 7
    assert [backoff_bounds(i)[1] for i in range(6)] == [0.5, 1, 2, 4, 8, 8]
    for retry, delay in enumerate(sleeps):
        low, high = backoff_bounds(retry)
        assert low <= delay <= high
    error = caught.value
    assert error.status_code == 503
    assert error.code == "service_unavailable"
    assert error.message == "down for upgrade"
    assert error.request_id == "req-err"


def test_max_retries_zero_means_one_attempt(both: Make, sleeps: list[float]) -> None:
    script = Script(json_response(500, error_body("internal", "boom")))
    client = both(script.transport, max_retries=0)
    with pytest.raises(InternalServerError):
        detect(client)
    assert len(script.requests) == 1
    assert sleeps == []


def test_retry_after_in_seconds_is_honoured(both: Make, sleeps: list[float]) -> None:
    script = Script(
        json_response(429, error_body("rate_limit_exceeded", "slow down"), retry_after="3"),
        json_response(200, ok_detect_body()),
    )
    detect(both(script.transport))
    assert sleeps == [3.0]


def test_retry_after_as_an_http_date_is_honoured(both: Make, sleeps: list[float]) -> None:
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    script = Script(
        json_response(503, error_body("service_unavailable", "later"), retry_after=when),
        json_response(200, ok_detect_body()),
    )
    detect(both(script.transport))
    assert len(sleeps) == 1
    assert 3.0 <= sleeps[0] <= 5.0


def test_retry_after_seconds_in_the_body_is_honoured(both: Make, sleeps: list[float]) -> None:
    body = error_body("rate_limit_exceeded", "slow down", retry_after_seconds=2)
    script = Script(json_response(429, body), json_response(200, ok_detect_body()))
    detect(both(script.transport))
    assert sleeps == [2.0]


def test_a_wait_over_60_seconds_is_not_waited_for(both: Make, sleeps: list[float]) -> None:
    script = Script(json_response(429, error_body("rate_limit_exceeded", "x"), retry_after="120"))
    with pytest.raises(RateLimitError) as caught:
        detect(both(script.transport))
    assert len(script.requests) == 1
    assert sleeps == []
    assert caught.value.retry_after == 120.0


def test_rate_limit_exhausted_raises_with_retry_after(both: Make, sleeps: list[float]) -> None:
    script = Script(json_response(429, error_body("rate_limit_exceeded", "x"), retry_after="1"))
    with pytest.raises(RateLimitError) as caught:
        detect(both(script.transport, max_retries=2))
    assert len(script.requests) == 3
    assert sleeps == [1.0, 1.0]
    assert caught.value.retry_after == 1.0
    assert caught.value.code == "rate_limit_exceeded"


def test_a_429_without_retry_after_backs_off(both: Make, sleeps: list[float]) -> None:
    script = Script(
        json_response(429, error_body("rate_limit_exceeded", "x")),
        json_response(200, ok_detect_body()),
    )
    detect(both(script.transport))
    assert len(sleeps) == 1
    assert 0.375 <= sleeps[0] <= 0.5


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (412, DriftlockAPIError),
        (413, DriftlockAPIError),
        (422, UnprocessableEntityError),
    ],
)
def test_client_errors_map_to_their_class_and_are_not_retried(
    both: Make, sleeps: list[float], status: int, kind: type[DriftlockAPIError]
) -> None:
    script = Script(json_response(status, error_body("invalid_argument", "events[0]: bad")))
    with pytest.raises(kind) as caught:
        detect(both(script.transport))
    error = caught.value
    assert type(error) is kind
    assert len(script.requests) == 1
    assert sleeps == []
    assert error.status_code == status
    assert error.operation == "detect"
    assert error.code == "invalid_argument"
    assert error.message == "events[0]: bad"
    assert error.request_id == "req-err"
    assert error.body == error_body("invalid_argument", "events[0]: bad")
    assert str(error) == (
        f"detect failed: HTTP {status} invalid_argument: events[0]: bad (request id req-err)"
    )


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (httpx.ConnectError("connection refused"), DriftlockConnectionError),
        (httpx.ConnectTimeout("connect timed out"), DriftlockTimeoutError),
        (httpx.ReadTimeout("read timed out"), DriftlockTimeoutError),
        (
            httpx.RemoteProtocolError("peer closed connection mid-response"),
            DriftlockConnectionError,
        ),
        (httpx.ReadError("connection reset"), DriftlockConnectionError),
    ],
)
def test_transport_failures_are_retried_then_raised(
    both: Make, sleeps: list[float], failure: Exception, kind: type[DriftlockError]
) -> None:
    script = Script(failure)
    with pytest.raises(kind) as caught:
        detect(both(script.transport, max_retries=2))
    assert type(caught.value) is kind
    assert len(script.requests) == 3
    assert len(sleeps) == 2
    assert len(set(script.keys)) == 1
    assert "detect" in str(caught.value)
    assert isinstance(caught.value, DriftlockConnectionError)


def test_a_transport_failure_then_success_returns_the_result(
    both: Make, sleeps: list[float]
) -> None:
    script = Script(httpx.ConnectError("refused"), json_response(200, ok_detect_body()))
    assert detect(both(script.transport)).status == "ready"
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    ("response", "mentions"),
    [
        (httpx.Response(200, content=b"<html>maintenance</html>"), "the body is not JSON"),
        (httpx.Response(200, content=b""), "the body is empty"),
        (json_response(200, [1]), "the body is not a JSON object"),
        (json_response(200, {"success": True}), "the required field 'batch_id' is missing"),
        (
            json_response(200, ok_detect_body(total_events="many")),
            "total_events: expected an integer, got str",
        ),
        (json_response(200, ok_detect_body(calibration=None)), "TypeError"),
        (json_response(200, {**ok_detect_body(), "anomalies": None}), "TypeError"),
        (json_response(200, ok_detect_body(calibration=[])), "events_ingested' is missing"),
        (json_response(200, ok_detect_body(anomalies=[{"id": "a"}])), "'index' is missing"),
        (json_response(200, ok_detect_body(drift=7)), "drift: expected an object or null"),
        (json_response(201, ok_detect_body()), "body: expected DetectResponse"),
    ],
)
def test_unreadable_success_answers_raise_a_response_error(
    both: Make, sleeps: list[float], response: httpx.Response, mentions: str
) -> None:
    script = Script(response)
    with pytest.raises(DriftlockResponseError) as caught:
        detect(both(script.transport))
    assert caught.value.status_code == response.status_code
    assert mentions in str(caught.value)
    assert len(script.requests) == 1
    assert sleeps == []


def test_a_proxys_html_error_page_is_a_server_error(both: Make, sleeps: list[float]) -> None:
    page = httpx.Response(
        502,
        content=b"<html><body>502 Bad Gateway</body></html>",
        headers={"content-type": "text/html"},
    )
    script = Script(page)
    with pytest.raises(InternalServerError) as caught:
        detect(both(script.transport, max_retries=1))
    error = caught.value
    assert error.status_code == 502
    assert error.code is None
    assert error.message == "the server answered with a non-JSON body (text/html)"
    assert error.body == "<html><body>502 Bad Gateway</body></html>"
    assert len(script.requests) == 2


def test_a_documented_error_with_a_broken_body_keeps_its_status(
    both: Make, sleeps: list[float]
) -> None:
    # 500 is documented for detect: the generated layer tries to parse it and fails.
    script = Script(httpx.Response(500, content=b"{not json"), json_response(200, ok_detect_body()))
    assert detect(both(script.transport)).success
    assert len(script.requests) == 2


@pytest.mark.parametrize(
    ("status", "kind", "retried"),
    [
        (520, InternalServerError, False),
        (418, DriftlockAPIError, False),
        (408, DriftlockAPIError, True),
    ],
)
def test_undocumented_statuses_are_mapped(
    both: Make, sleeps: list[float], status: int, kind: type[DriftlockAPIError], retried: bool
) -> None:
    script = Script(httpx.Response(status, content=b"odd"))
    with pytest.raises(kind) as caught:
        detect(both(script.transport, max_retries=1))
    assert caught.value.status_code == status
    assert len(script.requests) == (2 if retried else 1)


def test_a_redirect_is_reported_not_followed(both: Make, sleeps: list[float]) -> None:
    script = Script(httpx.Response(302, headers={"location": "https://elsewhere.test/"}))
    with pytest.raises(DriftlockAPIError) as caught:
        detect(both(script.transport))
    assert caught.value.status_code == 302
    assert "redirect" in caught.value.message


def test_newer_fields_and_other_metric_spellings_are_read(both: Make) -> None:
    anomaly = {
        "id": "a1",
        "index": 0,
        "detected": True,
        "why": "odd",
        "event": EVENTS[0],
        "metrics": {"NCD": 0.7, "PValue": 0.001, "confidence": 0.999, "NewScore": 3},
        "severity": "high",
    }
    body = ok_detect_body(anomalies=[anomaly], shiny_new_field={"x": 1})
    script = Script(json_response(200, body))
    result = detect(both(script.transport))
    found = result.anomalies[0]
    assert (found.metrics.ncd, found.metrics.p_value) == (0.7, 0.001)
    assert found.metrics.confidence == found.metrics.confidence_level == 0.999
    assert found.metrics.extra == {"NewScore": 3}
    assert found.extra == {"severity": "high"}
    assert result.extra == {"shiny_new_field": {"x": 1}}


def test_optional_fields_may_be_missing_or_null(both: Make) -> None:
    body = ok_detect_body()
    for name in ("request_id", "drift", "value_outliers"):
        del body[name]
    result = detect(both(Script(json_response(200, body)).transport))
    assert result.request_id is None
    assert result.drift is None
    assert result.value_outliers == []


def test_feedback_is_not_resent_once_the_server_may_have_acted(
    both: Make, sleeps: list[float]
) -> None:
    script = Script(json_response(500, error_body("internal", "oops")))
    client = both(script.transport)
    with pytest.raises(InternalServerError):
        client("anomalies.feedback", "a1", "confirmed")
    assert len(script.requests) == 1

    script = Script(
        json_response(503, error_body("service_unavailable", "busy")),
        json_response(200, {"success": True, "anomaly_id": "a1"}),
    )
    assert both(script.transport)("anomalies.feedback", "a1", "confirmed").anomaly_id == "a1"
    assert len(script.requests) == 2


def test_other_operations_are_retried_too(both: Make, sleeps: list[float]) -> None:
    script = Script(httpx.ConnectError("refused"), json_response(200, {"ok": True}))
    assert both(script.transport)("health").ok is True
    assert len(script.requests) == 2


def test_every_error_pickles(both: Make, sleeps: list[float]) -> None:
    script = Script(json_response(429, error_body("rate_limit_exceeded", "x"), retry_after="99"))
    with pytest.raises(RateLimitError) as caught:
        detect(both(script.transport))
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is RateLimitError
    assert (copy.status_code, copy.retry_after, copy.message) == (429, 99.0, "x")
    assert str(copy) == str(caught.value)


def test_requests_carry_the_key_user_agent_and_json_body(both: Make) -> None:
    script = Script(json_response(200, ok_detect_body()))
    client = both(script.transport, default_headers={"X-Team": "payments"})
    client("detect", stream_id="s", events=EVENTS, config_override={"window_size": 50})
    request = script.requests[0]
    assert request.url == f"{BASE_URL}/v1/detect"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["user-agent"] == f"driftlock-python/{__version__}"
    assert request.headers["x-team"] == "payments"
    assert request.headers["content-type"] == "application/json"
    assert script.bodies()[0] == {
        "events": EVENTS,
        "stream_id": "s",
        "config_override": {"window_size": 50},
    }


def test_retries_log_at_info_and_exchanges_at_debug_without_the_key(
    both: Make, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    script = Script(
        json_response(503, error_body("service_unavailable", "busy"), x_request_id="req-a"),
        json_response(200, ok_detect_body(), x_request_id="req-b"),
    )
    caplog.set_level(logging.DEBUG, logger="driftlock")
    detect(both(script.transport))

    records = [r for r in caplog.records if r.name == "driftlock"]
    infos = [r.getMessage() for r in records if r.levelno == logging.INFO]
    debugs = [r.getMessage() for r in records if r.levelno == logging.DEBUG]
    assert len(infos) == 1
    assert infos[0].startswith("Retrying detect in ")
    assert "(retry 1 of 3)" in infos[0]
    assert "HTTP 503" in infos[0]
    assert debugs[0].startswith(f"POST {BASE_URL}/v1/detect -> 503 in ")
    assert debugs[0].endswith("(request id req-a)")
    assert debugs[1].startswith(f"POST {BASE_URL}/v1/detect -> 200 in ")
    assert KEY not in caplog.text


def test_the_key_never_shows_in_reprs_or_errors(both: Make, sleeps: list[float]) -> None:
    # A server that echoes the key back must not put it in our exception.
    script = Script(json_response(401, error_body("unauthorized", f"bad key {KEY}")))
    client = both(script.transport)
    with pytest.raises(AuthenticationError) as caught:
        detect(client)
    for text in (str(caught.value), repr(caught.value), repr(caught.value.body)):
        assert KEY not in text
    assert KEY not in repr(client.client)
    assert KEY not in repr(client.client._config)
    assert KEY not in repr(client.client._gen)


@pytest.mark.parametrize(
    ("operation", "args", "kwargs", "field"),
    [
        ("detect", (), {"stream_id": "", "events": EVENTS}, "stream_id"),
        ("detect", (), {"stream_id": 5, "events": EVENTS}, "stream_id"),
        ("detect", (), {"events": EVENTS, "config_override": [1]}, "config_override"),
        ("detect", (), {"events": EVENTS, "config_override": {"compressor": "rar"}}, None),
        ("detect", (), {"events": EVENTS, "config_override": {"x": float("nan")}}, None),
        ("anomalies.get", ("",), {}, "anomaly_id"),
        ("anomalies.list", (), {"limit": 0}, "limit"),
        ("anomalies.list", (), {"limit": "5"}, "limit"),
        ("anomalies.list", (), {"offset": -1}, "offset"),
        ("anomalies.list", (), {"status": "closed"}, "status"),
        ("anomalies.list", (), {"from_": "yesterday"}, "from_"),
        ("anomalies.export", ("a1",), {}, None),
        ("anomalies.export", ([],), {}, None),
        ("anomalies.export", (["a1"],), {"format": "docx"}, "format"),
        ("anomalies.export_one", ("a1",), {"format": "docx"}, "format"),
        ("anomalies.feedback", ("a1", "great"), {}, "feedback_type"),
        ("anomalies.feedback", ("a1", "confirmed"), {"reason": 3}, "reason"),
        ("streams.update_profile", ("s",), {"profile": "paranoid"}, "profile"),
        ("streams.update_profile", ("s",), {"auto_tune_enabled": "yes"}, "auto_tune_enabled"),
        ("streams.reset_anchor", ("s", []), {}, None),
        ("streams.reset_anchor", ("s", [{"a": 1}]), {"force_reset": 1}, "force_reset"),
        ("streams.get_profile", (None,), {}, "stream_id"),
        ("demo_detect", ([{"a": 1}] * 1001,), {}, None),
    ],
)
def test_bad_arguments_are_refused_before_any_request(
    both: Make, operation: str, args: tuple[Any, ...], kwargs: dict[str, Any], field: str | None
) -> None:
    script = Script(json_response(200, {}))
    with pytest.raises(DriftlockValidationError) as caught:
        both(script.transport)(operation, *args, **kwargs)
    if field is not None:
        assert caught.value.field_path is not None
        assert caught.value.field_path.startswith(field)
    assert script.requests == []


def test_a_connection_failure_is_logged_with_its_url(
    both: Make, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="driftlock")
    with pytest.raises(DriftlockConnectionError):
        both(Script(httpx.ConnectError("refused")).transport, max_retries=0)("health")
    debugs = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert debugs[-1].startswith(f"GET {BASE_URL}/healthz -> DriftlockConnectionError in ")
