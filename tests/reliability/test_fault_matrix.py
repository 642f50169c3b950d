"""The fault matrix: one test per fault, each through every client kind (the sync client, the
async client, and the async client's ``detect_sync``).

Transport faults use real sockets on 127.0.0.1 (a closed port, a listener whose backlog is
full, a raw server that stalls or hangs up mid-answer); answers use ``httpx.MockTransport``.
Each test asserts the exception (or the result), the number of attempts, the virtual time
spent waiting (waits are recorded, not slept) and one Idempotency-Key on every attempt. No
raw ``ValueError``, ``TypeError``, ``KeyError`` or ``JSONDecodeError`` may escape: each
``pytest.raises`` checks the exact class, and every class is a ``DriftlockError``.
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import httpx
import pytest

from driftlock.exceptions import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DriftlockAPIError,
    DriftlockConnectionError,
    DriftlockError,
    DriftlockResponseError,
    DriftlockTimeoutError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from tests.client.conftest import Script, error_body, json_response, ok_detect_body
from tests.reliability.conftest import MakeCaller
from tests.reliability.support import Delays as Clock
from tests.reliability.support import (
    RawServer,
    Recorder,
    answer,
    backlogged_port,
    backoff_bounds,
    closed_port,
    cut_short,
    hang_up,
    one_key,
    stall,
)

RETRIES = 3  # the default
ATTEMPTS = RETRIES + 1
# The most a client may wait in total before giving up after RETRIES backed-off retries.
BACKOFF_TOTAL = sum(backoff_bounds(i)[1] for i in range(RETRIES))
OK = json.dumps(ok_detect_body()).encode()


def check_backoff(clock: Clock, retries: int) -> None:
    """``retries`` waits, each within the documented jittered backoff."""
    assert len(clock.waits) == retries
    for retry, wait in enumerate(clock.waits):
        low, high = backoff_bounds(retry)
        assert low <= wait <= high
    assert clock.total <= BACKOFF_TOTAL


def raises_exactly(kind: type[DriftlockError], call: Any) -> Any:
    """Run ``call``; it must raise exactly ``kind`` (a DriftlockError)."""
    assert issubclass(kind, DriftlockError)
    with pytest.raises(DriftlockError) as caught:
        call()
    assert type(caught.value) is kind, repr(caught.value)
    return caught.value


# -- transport faults, over real sockets ---------------------------------------------------


def test_connection_refused(make_caller: MakeCaller, delays: Clock) -> None:
    recorder = Recorder()
    caller = make_caller(recorder, base_url=f"http://127.0.0.1:{closed_port()}")
    error = raises_exactly(DriftlockConnectionError, caller.detect)
    assert "detect" in str(error)
    assert "127.0.0.1" in str(error)
    one_key(recorder.keys, ATTEMPTS)
    check_backoff(delays, RETRIES)


def test_connect_timeout(make_caller: MakeCaller, delays: Clock) -> None:
    recorder = Recorder()
    with backlogged_port() as port:
        caller = make_caller(recorder, base_url=f"http://127.0.0.1:{port}", timeout=0.1)
        error = raises_exactly(DriftlockTimeoutError, caller.detect)
    assert "ConnectTimeout" in str(error)
    one_key(recorder.keys, ATTEMPTS)
    check_backoff(delays, RETRIES)


def test_read_timeout(make_caller: MakeCaller, delays: Clock) -> None:
    with RawServer(stall) as server:
        caller = make_caller(Recorder(), base_url=server.url, timeout=0.1)
        error = raises_exactly(DriftlockTimeoutError, caller.detect)
        assert "ReadTimeout" in str(error)
        one_key(server.keys, ATTEMPTS)  # every attempt reached the server
    check_backoff(delays, RETRIES)


def test_server_closes_mid_response(make_caller: MakeCaller, delays: Clock) -> None:
    # The body cut short after the headers, then no answer at all, then a good answer.
    with RawServer(cut_short(), hang_up, answer(200, OK)) as server:
        caller = make_caller(Recorder(), base_url=server.url)
        result = caller.detect()
        assert result.success is True
        assert result.batch_id == "batch-1"
        one_key(server.keys, 3)
    check_backoff(delays, 2)


def test_server_closes_mid_response_every_time(make_caller: MakeCaller, delays: Clock) -> None:
    with RawServer(cut_short()) as server:
        caller = make_caller(Recorder(), base_url=server.url)
        error = raises_exactly(DriftlockConnectionError, caller.detect)
        assert "RemoteProtocolError" in str(error)
        one_key(server.keys, ATTEMPTS)
    check_backoff(delays, RETRIES)


# -- rate limits -------------------------------------------------------------------------------


def rate_limited(**headers: str) -> httpx.Response:
    return json_response(429, error_body("rate_limit_exceeded", "slow down"), **headers)


def test_429_with_retry_after_in_seconds(make_caller: MakeCaller, delays: Clock) -> None:
    script = Script(
        rate_limited(retry_after="3"),
        rate_limited(retry_after="7"),
        json_response(200, ok_detect_body()),
    )
    assert make_caller(script.transport).detect().success is True
    one_key(script.keys, 3)
    assert delays.waits == [3.0, 7.0]


def test_429_with_retry_after_as_an_http_date(make_caller: MakeCaller, delays: Clock) -> None:
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    script = Script(rate_limited(retry_after=when), json_response(200, ok_detect_body()))
    assert make_caller(script.transport).detect().success is True
    one_key(script.keys, 2)
    assert len(delays.waits) == 1
    assert 2.0 <= delays.total <= 5.0  # the date has whole seconds; the test takes some time


def test_429_without_retry_after(make_caller: MakeCaller, delays: Clock) -> None:
    script = Script(rate_limited(), rate_limited(), json_response(200, ok_detect_body()))
    assert make_caller(script.transport).detect().success is True
    one_key(script.keys, 3)
    check_backoff(delays, 2)


def test_429_every_time(make_caller: MakeCaller, delays: Clock) -> None:
    script = Script(rate_limited(retry_after="2"))
    error = raises_exactly(RateLimitError, make_caller(script.transport).detect)
    assert (error.status_code, error.retry_after, error.code) == (429, 2.0, "rate_limit_exceeded")
    one_key(script.keys, ATTEMPTS)
    assert delays.waits == [2.0] * RETRIES


def test_429_asking_for_more_than_a_minute_is_raised_at_once(
    make_caller: MakeCaller, delays: Clock
) -> None:
    script = Script(rate_limited(retry_after="3600"))
    error = raises_exactly(RateLimitError, make_caller(script.transport).detect)
    assert error.retry_after == 3600.0
    one_key(script.keys, 1)
    assert delays.waits == []


# -- server errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_then_success(make_caller: MakeCaller, delays: Clock, status: int) -> None:
    failure = json_response(status, error_body("internal", "try again"))
    script = Script(failure, failure, json_response(200, ok_detect_body()))
    assert make_caller(script.transport).detect().success is True
    one_key(script.keys, 3)
    check_backoff(delays, 2)


def test_5xx_every_time(make_caller: MakeCaller, delays: Clock) -> None:
    script = Script(
        json_response(500, error_body("internal", "boom")),
        json_response(502, error_body("bad_gateway", "upstream")),
        json_response(503, error_body("service_unavailable", "busy")),
        json_response(504, error_body("gateway_timeout", "slow upstream")),
    )
    error = raises_exactly(InternalServerError, make_caller(script.transport).detect)
    assert (error.status_code, error.code, error.message) == (
        504,
        "gateway_timeout",
        "slow upstream",
    )
    one_key(script.keys, ATTEMPTS)
    check_backoff(delays, RETRIES)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
    ],
)
def test_client_errors_are_never_retried(
    make_caller: MakeCaller, delays: Clock, status: int, kind: type[DriftlockAPIError]
) -> None:
    script = Script(json_response(status, error_body("invalid_argument", "events[0]: bad")))
    error = raises_exactly(kind, make_caller(script.transport).detect)
    assert (error.status_code, error.code, error.message) == (
        status,
        "invalid_argument",
        "events[0]: bad",
    )
    assert error.request_id == "req-err"
    one_key(script.keys, 1)
    assert delays.waits == []


# -- unreadable answers ----------------------------------------------------------------------


def test_malformed_json(make_caller: MakeCaller, delays: Clock) -> None:
    script = Script(httpx.Response(200, content=b'{"success": true, "batch_id": "b'))
    error = raises_exactly(DriftlockResponseError, make_caller(script.transport).detect)
    assert "the body is not JSON" in str(error)
    assert error.status_code == 200
    one_key(script.keys, 1)  # the server may have ingested: a resend would not be safe to judge
    assert delays.waits == []


def test_malformed_json_in_a_server_error_is_retried(
    make_caller: MakeCaller, delays: Clock
) -> None:
    script = Script(httpx.Response(500, content=b"{not json"), json_response(200, ok_detect_body()))
    assert make_caller(script.transport).detect().success is True
    one_key(script.keys, 2)
    check_backoff(delays, 1)


def test_an_html_error_page_from_a_proxy(make_caller: MakeCaller, delays: Clock) -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    script = Script(httpx.Response(502, content=page, headers={"content-type": "text/html"}))
    error = raises_exactly(InternalServerError, make_caller(script.transport).detect)
    assert error.message == "the server answered with a non-JSON body (text/html)"
    assert error.body == page.decode()
    assert error.code is None
    one_key(script.keys, ATTEMPTS)
    check_backoff(delays, RETRIES)


def test_an_html_page_with_a_success_status(make_caller: MakeCaller, delays: Clock) -> None:
    # A captive portal or a misrouted load balancer answering 200 with its own page.
    page = b"<html><body>Please log in to the network</body></html>"
    script = Script(httpx.Response(200, content=page, headers={"content-type": "text/html"}))
    error = raises_exactly(DriftlockResponseError, make_caller(script.transport).detect)
    assert error.body == page.decode()
    one_key(script.keys, 1)
    assert delays.waits == []


def test_an_unknown_status(make_caller: MakeCaller, delays: Clock) -> None:
    script = Script(httpx.Response(520, content=b"web server returned an unknown error"))
    error = raises_exactly(InternalServerError, make_caller(script.transport).detect)
    assert error.status_code == 520
    assert "HTTP 520" in str(error)
    one_key(script.keys, 1)
    assert delays.waits == []


def without(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != name}


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        (without(ok_detect_body(), "batch_id"), "'batch_id' is missing"),
        (without(ok_detect_body(), "calibration"), "'calibration' is missing"),
        (ok_detect_body(batch_id=None), "batch_id: expected a string"),
        ({**ok_detect_body(), "anomalies": None}, None),
        (ok_detect_body(total_events="many"), "total_events: expected an integer, got str"),
        (ok_detect_body(success="yes"), "success: expected true or false, got str"),
        (ok_detect_body(calibration=[1]), None),
        (ok_detect_body(anomalies=[{"index": "0"}]), "'id' is missing"),
        (ok_detect_body(anomalies={"0": {}}), None),
        ({**ok_detect_body(), "value_outliers": None}, None),
        (ok_detect_body(drift="none"), "drift: expected an object or null"),
    ],
    ids=[
        "missing-batch_id",
        "missing-calibration",
        "null-batch_id",
        "null-anomalies",
        "str-total_events",
        "str-success",
        "list-calibration",
        "str-index",
        "dict-anomalies",
        "null-value_outliers",
        "str-drift",
    ],
)
def test_200_with_missing_null_or_wrong_typed_fields(
    make_caller: MakeCaller, delays: Clock, body: dict[str, Any], mentions: str | None
) -> None:
    script = Script(json_response(200, body))
    error = raises_exactly(DriftlockResponseError, make_caller(script.transport).detect)
    assert "the response could not be read" in str(error)
    if mentions is not None:
        assert mentions in str(error)
    assert error.status_code == 200
    assert error.operation == "detect"
    one_key(script.keys, 1)
    assert delays.waits == []


def test_200_with_extra_and_optional_null_fields(make_caller: MakeCaller, delays: Clock) -> None:
    body = without(
        ok_detect_body(request_id=None, drift=None, brand_new={"n": [1]}), "value_outliers"
    )
    script = Script(json_response(200, body))
    result = make_caller(script.transport).detect()
    one_key(script.keys, 1)
    assert delays.waits == []
    assert result.request_id is None
    assert result.drift is None
    assert result.value_outliers == []
    assert result.extra == {"brand_new": {"n": [1]}}


def test_an_unknown_enum_value(make_caller: MakeCaller, delays: Clock) -> None:
    # Response enums are open: a value a newer server adds is kept, never fatal.
    body = ok_detect_body(status="warming_up", compression_algo="brotli")
    script = Script(json_response(200, body))
    caller = make_caller(script.transport)
    result = caller.detect()
    one_key(script.keys, 1)
    assert delays.waits == []
    assert (result.status, result.compression_algo) == ("warming_up", "brotli")
    listed = {
        "anomalies": [
            {
                "id": "a1",
                "stream_id": "s",
                "detected_at": "2026-01-02T03:04:05Z",
                "status": "snoozed",
                "ncd": 0.5,
                "p_value": 0.01,
                "confidence": 0.99,
                "explanation": "odd",
            }
        ],
        "total": 1,
        "limit": 50,
        "offset": 0,
    }
    script.steps = [json_response(200, listed)]
    assert caller.call("anomalies.list").anomalies[0].status == "snoozed"


def test_a_huge_valid_response(make_caller: MakeCaller, delays: Clock) -> None:
    anomaly = {
        "id": "a",
        "index": 0,
        "detected": True,
        "why": "x" * 200,
        "event": {"blob": "y" * 1000},
        "metrics": {"ncd": 0.9, "p_value": 0.001, "confidence_level": 0.999},
    }
    anomalies = [{**anomaly, "id": f"a{i}"} for i in range(5000)]  # about 6.5 MB
    script = Script(json_response(200, ok_detect_body(anomalies=anomalies)))
    result = make_caller(script.transport).detect()
    assert len(result.anomalies) == result.anomaly_count == 5000
    one_key(script.keys, 1)
    assert delays.waits == []


def test_a_huge_error_page(make_caller: MakeCaller, delays: Clock) -> None:
    page = b"<html>" + b"<p>upstream error</p>" * 1_000_000 + b"</html>"  # 21 MB
    script = Script(httpx.Response(503, content=page, headers={"content-type": "text/html"}))
    error = raises_exactly(InternalServerError, make_caller(script.transport).detect)
    assert isinstance(error.body, str)
    assert len(error.body) <= 2000  # a snippet is kept, not the page
    assert len(str(error)) < 300
    one_key(script.keys, ATTEMPTS)
    check_backoff(delays, RETRIES)


def test_a_huge_unreadable_success_body(make_caller: MakeCaller, delays: Clock) -> None:
    script = Script(httpx.Response(200, content=b"\xff\xfe garbage " * 1_000_000))  # 12 MB
    error = raises_exactly(DriftlockResponseError, make_caller(script.transport).detect)
    assert len(error.body) <= 2000
    assert len(str(error)) < 300
    one_key(script.keys, 1)
    assert delays.waits == []
