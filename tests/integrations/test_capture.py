"""The framework-free capture core: options, exclusion, sampling, redaction, events, hooks."""

from __future__ import annotations

import datetime
import json
import logging
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftlock._capture import (
    REDACTED,
    BodyCapture,
    Capture,
    CaptureOptions,
    LogLimiter,
    is_sensitive_name,
    query_keys,
    redact,
)
from driftlock._events import EncodedEvents, encode_json
from driftlock._events import prepare as prepare_chunks
from driftlock.exceptions import DriftlockConfigError

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def build(capture: Capture, **overrides: Any) -> dict[str, Any]:
    extras = {
        key: overrides.pop(key)
        for key in ("body", "content_type", "request_headers", "response_headers")
        if key in overrides
    }
    record = record_of(capture, **overrides)
    return capture.build_event(record, **extras) if extras else capture.event(record)


def record_of(capture: Capture, **overrides: Any) -> tuple[Any, ...]:
    values: dict[str, Any] = {
        "wall_start": 1_767_225_600.25,
        "method": "GET",
        "route": "/items/{item_id}",
        "path": "/items/7",
        "status_code": 200,
        "duration": 0.0123456,
        "ttfb": 0.01,
        "request_bytes": 0,
        "response_bytes": 17,
        "user_agent": "pytest",
        "query_string": b"",
        "client": None,
        "context": None,
        "exception": None,
        **overrides,
    }
    return capture.record(**values)


# -- options -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("sample_rate", 2),
        ("sample_rate", -0.1),
        ("sample_rate", "1"),
        ("sample_rate", True),
        ("stream_id", ""),
        ("stream_id", 3),
        ("exclude_paths", "/docs"),
        ("exclude_paths", ["docs"]),
        ("exclude_paths", [None]),
        ("max_body_bytes", 0),
        ("max_body_bytes", 1.5),
        ("redact_fields", "password"),
        ("redact_fields", [""]),
        ("capture_headers", "authorization"),
        ("capture_body", "yes"),
        ("capture_client", 1),
        ("event_hook", 42),
    ],
)
def test_invalid_options_raise_naming_the_option(option: str, value: Any) -> None:
    with pytest.raises(DriftlockConfigError, match=option):
        CaptureOptions(**{option: value})


def test_config_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        CaptureOptions(sample_rate=2)


def test_stream_id_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLOCK_STREAM_ID", "from-env")
    assert CaptureOptions().stream_id == "from-env"
    assert CaptureOptions(stream_id="explicit").stream_id == "explicit"
    monkeypatch.delenv("DRIFTLOCK_STREAM_ID")
    assert CaptureOptions().stream_id == "http-requests"


# -- exclusion and sampling --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        ("/docs", True),
        ("/docs/", True),
        ("/docs/oauth2-redirect", True),
        ("/docsearch", False),
        ("/doc", False),
        ("/openapi.json", True),
        ("/openapi.json5", False),
        ("/", False),
        ("/items/docs", False),
    ],
)
def test_exclusion_is_exact_or_on_a_segment_boundary(path: str, excluded: bool) -> None:
    capture = Capture(CaptureOptions(exclude_paths=["/docs", "/openapi.json"]))
    assert capture.excluded(path) is excluded
    assert capture.wants(path) is not excluded


def test_exclusion_entries_are_normalised() -> None:
    capture = Capture(CaptureOptions(exclude_paths=["/static/", "/"]))
    assert capture.excluded("/static")
    assert capture.excluded("/static/app.js")
    assert capture.excluded("/")  # the root page only...
    assert not capture.excluded("/items")  # ...not everything below it


segment = st.text(alphabet="abcdo.-_", min_size=1, max_size=6)


@given(
    prefix=st.lists(segment, min_size=1, max_size=3),
    path=st.lists(segment, min_size=1, max_size=4),
)
def test_exclusion_property(prefix: list[str], path: list[str]) -> None:
    excluded = "/" + "/".join(prefix)
    candidate = "/" + "/".join(path)
    capture = Capture(CaptureOptions(exclude_paths=[excluded]))
    expected = path[: len(prefix)] == prefix
    assert capture.excluded(candidate) is expected


@pytest.mark.parametrize(
    ("options", "every"),
    [
        (CaptureOptions(), True),
        (CaptureOptions(exclude_paths=["/health"]), False),
        (CaptureOptions(sample_rate=0.5), False),
    ],
)
def test_capturing_every_request_is_known_up_front(options: CaptureOptions, every: bool) -> None:
    capture = Capture(options)
    assert (capture.path_filter is None) is every
    if every:
        assert all(capture.wants(path) for path in ("/", "/health", "/a/b"))
    else:
        assert capture.path_filter == capture.wants


def test_sampling_extremes_and_share() -> None:
    never = Capture(CaptureOptions(sample_rate=0.0))
    always = Capture(CaptureOptions(sample_rate=1.0))
    assert not any(never.wants("/") for _ in range(1000))
    assert all(always.wants("/") for _ in range(1000))
    half = Capture(CaptureOptions(sample_rate=0.5))
    taken = sum(half.wants("/") for _ in range(10_000))
    assert 4_000 < taken < 6_000  # binomial(10k, 0.5): 20 standard deviations of slack


# -- the event ---------------------------------------------------------------------------------


def test_event_shape_and_defaults_capture_no_values() -> None:
    capture = Capture(CaptureOptions())
    event = build(capture, query_string=b"q=secret-search&page=2&q=again&a%20b=1")
    assert event["type"] == "http_request"
    assert ISO_UTC.match(event["timestamp"])
    assert event["timestamp"] == "2026-01-01T00:00:00.250Z"
    assert event["body"] == {
        "method": "GET",
        "route": "/items/{item_id}",
        "path": "/items/7",
        "status_code": 200,
        "duration_ms": 12.346,
        "ttfb_ms": 10.0,
        "request_bytes": 0,
        "response_bytes": 17,
        "user_agent": "pytest",
        "query_keys": ["a b", "page", "q"],
    }
    assert "secret-search" not in json.dumps(event)
    json.dumps(event, allow_nan=False)  # plain JSON, nothing to convert later


def test_client_only_when_opted_in() -> None:
    assert "client" not in build(Capture(CaptureOptions()), client="10.0.0.1")["body"]
    opted = build(Capture(CaptureOptions(capture_client=True)), client="10.0.0.1")
    assert opted["body"]["client"] == "10.0.0.1"


def test_context_adds_fields_but_never_replaces_captured_ones() -> None:
    event = build(
        Capture(CaptureOptions()), context={"tenant": "acme", "status_code": 999, "plan": "pro"}
    )
    assert event["body"]["tenant"] == "acme"
    assert event["body"]["plan"] == "pro"
    assert event["body"]["status_code"] == 200


def test_an_odd_context_is_ignored_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    class Odd:
        def __bool__(self) -> bool:
            return True

        def items(self) -> Any:
            raise RuntimeError("no items")

    event = build(Capture(CaptureOptions()), context=Odd())
    assert event["body"]["status_code"] == 200
    assert "driftlock_context" in caplog.text


def test_exception_name_is_recorded() -> None:
    event = build(Capture(CaptureOptions()), status_code=500, exception="KeyError")
    assert event["body"]["exception"] == "KeyError"


def test_headers_only_when_asked_and_sensitive_ones_redacted() -> None:
    pairs = [
        ("Authorization", "Bearer abc"),
        ("Cookie", "session=1"),
        ("X-Api-Key", "dlk_secret"),
        ("Accept", "application/json"),
        ("X-Request-Id", "r1"),
    ]
    none = build(Capture(CaptureOptions()))
    assert "request_headers" not in none["body"]
    some = Capture(CaptureOptions(capture_headers=["accept", "authorization"]))
    assert some.headers(pairs) == {"authorization": REDACTED, "accept": "application/json"}
    every = Capture(CaptureOptions(capture_headers=True, redact_fields=["x-request-id"]))
    response = [("Set-Cookie", "id=1"), ("Set-Cookie", "b=2"), ("Content-Type", "text/plain")]
    event = build(every, request_headers=pairs, response_headers=response)
    assert event["body"]["request_headers"] == {
        "authorization": REDACTED,
        "cookie": REDACTED,
        "x-api-key": REDACTED,
        "accept": "application/json",
        "x-request-id": REDACTED,
    }
    assert event["body"]["response_headers"] == {
        "set-cookie": f"{REDACTED}, {REDACTED}",
        "content-type": "text/plain",
    }


# -- redaction and bodies --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "Password",
        "new_password",
        "client_secret",
        "api_key",
        "X-Api-Key",
        "apiKey",
        "access_token",
        "Authorization",
        "Set-Cookie",
        "credit_card",
        "cardNumber",
        "cvv",
        "ssn",
    ],
)
def test_sensitive_names(name: str) -> None:
    assert is_sensitive_name(name)


@pytest.mark.parametrize("name", ["author", "username", "email", "price", "spinner", "tokenizer_"])
def test_ordinary_names(name: str) -> None:
    assert is_sensitive_name(name) is (name == "tokenizer_")  # "token" inside: redacted, safe side


def test_redact_walks_nested_data_and_keeps_the_original() -> None:
    data = {
        "user": {"name": "ann", "password": "hunter2", "cards": [{"card_number": "4111"}]},
        "items": [1, {"token": "t"}],
        "note": "password is not a key here",
    }
    result = redact(data, frozenset({"name"}))
    assert result == {
        "user": {"name": REDACTED, "password": REDACTED, "cards": [{"card_number": REDACTED}]},
        "items": [1, {"token": REDACTED}],
        "note": "password is not a key here",
    }
    assert data["user"]["password"] == "hunter2"  # type: ignore[index]


def test_json_body_is_captured_redacted() -> None:
    capture = Capture(CaptureOptions(capture_body=True, redact_fields=["email"]))
    body = BodyCapture(capture.max_body_bytes)
    for chunk in (b'{"user": "ann", "pass', b'word": "x", "email": "a@b.c", "n": [1, 2]}'):
        body.feed(chunk)
    event = build(capture, body=body, content_type="application/json; charset=utf-8")
    assert event["body"]["request_body"] == {
        "user": "ann",
        "password": REDACTED,
        "email": REDACTED,
        "n": [1, 2],
    }


def test_form_body_and_vendor_json_types() -> None:
    capture = Capture(CaptureOptions(capture_body=True))
    form = BodyCapture(1024)
    form.feed(b"user=ann&tag=a&tag=b&password=x&empty=")
    event = build(capture, body=form, content_type="application/x-www-form-urlencoded")
    assert event["body"]["request_body"] == {
        "user": "ann",
        "tag": ["a", "b"],
        "password": REDACTED,
        "empty": "",
    }
    problem = BodyCapture(1024)
    problem.feed(b'{"detail": "x"}')
    assert problem.parse("application/problem+json") == {"detail": "x"}


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("text/plain", b"hello"),
        ("multipart/form-data; boundary=x", b"--x\r\n"),
        ("application/octet-stream", b"\x00\x01"),
        ("application/json", b"{not json"),
        ("application/json", b"\xff\xfe"),
        ("application/x-www-form-urlencoded", b"\xff=\xfe"),
        ("", b"{}"),
    ],
)
def test_other_or_invalid_bodies_are_left_out(content_type: str, raw: bytes) -> None:
    capture = Capture(CaptureOptions(capture_body=True))
    body = BodyCapture(1024)
    body.feed(raw)
    event = build(capture, body=body, content_type=content_type)
    assert "request_body" not in event["body"]


def test_body_over_the_cap_is_dropped_and_flagged() -> None:
    body = BodyCapture(10)
    body.feed(b'{"a": ')
    body.feed(b'"0123456789"}')
    body.feed(b"more")
    assert body.truncated
    event = build(
        Capture(CaptureOptions(capture_body=True)), body=body, content_type="application/json"
    )
    assert event["body"]["request_body_truncated"] is True
    assert "request_body" not in event["body"]


# -- event_hook ------------------------------------------------------------------------------


def test_event_hook_can_change_drop_or_fail(caplog: pytest.LogCaptureFixture) -> None:
    def tag(event: dict[str, Any]) -> dict[str, Any]:
        event["body"]["region"] = "eu"
        return event

    event = build(Capture(CaptureOptions()))
    assert Capture(CaptureOptions(event_hook=tag)).finish(event) is event
    assert event["body"]["region"] == "eu"
    assert Capture(CaptureOptions(event_hook=lambda e: None)).finish(event) is None

    def boom(event: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("hook bug")

    with caplog.at_level(logging.ERROR, logger="driftlock"):
        assert Capture(CaptureOptions(event_hook=boom)).finish(event) is None
        assert Capture(CaptureOptions(event_hook=lambda e: "text")).finish(event) is None  # type: ignore[arg-type,return-value]
    assert "hook bug" in caplog.text
    assert "must return a dict" in caplog.text


# -- small parts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        (b"", []),
        (b"a=1&b=2&a=3", ["a", "b"]),
        ("x&&y=", ["x", "y"]),
        (b"na%6De=1&plus+key=2", ["name", "plus key"]),
    ],
)
def test_query_keys(query: bytes | str, keys: list[str]) -> None:
    assert query_keys(query) == keys


def test_log_limiter_suppresses_counts_and_scrubs(caplog: pytest.LogCaptureFixture) -> None:
    limiter = LogLimiter(interval=3600, secrets=["dlk_very-secret-key", "short"])
    with caplog.at_level(logging.WARNING, logger="driftlock"):
        for _ in range(5):
            limiter.log("k", logging.WARNING, "failed with %s", "dlk_very-secret-key")
        limiter.log("other", logging.WARNING, "a short word", exc=ValueError("dlk_very-secret-key"))
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["failed with ***", "a short word: ValueError: ***"]
    limiter._next["k"] = 0.0  # the interval has passed
    with caplog.at_level(logging.WARNING, logger="driftlock"):
        limiter.log("k", logging.WARNING, "again")
    assert caplog.records[-1].getMessage() == "again (4 similar messages suppressed)"


def test_log_limiter_allows_once_per_interval_and_counts_what_it_refuses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = LogLimiter(interval=3600)
    assert limiter.allows("k")  # asking does not use up the interval
    assert limiter.allows("k")
    with caplog.at_level(logging.WARNING, logger="driftlock"):
        limiter.log("k", logging.WARNING, "first")
        assert [limiter.allows("k") for _ in range(3)] == [False] * 3
        assert limiter.allows("other")
        limiter._next["k"] = 0.0  # the interval has passed
        assert limiter.allows("k")
        limiter.log("k", logging.WARNING, "second")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["first", "second (3 similar messages suppressed)"]


# -- the sender's encoding of a batch ----------------------------------------------------------


ODD_TEXT = 'é "quoted" \\ back\tslash \x00\x1f \u2028 😀 </script>'


@pytest.mark.parametrize("capture_client", [False, True])
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "method": st.sampled_from(["GET", "POST", "Ünïcode"]),
                "route": st.none() | st.text(max_size=12),
                "path": st.text(max_size=20),
                "status_code": st.integers(0, 599),
                "duration": st.floats(0, 100),
                "ttfb": st.none() | st.floats(0, 100),
                "request_bytes": st.integers(0, 10**12),
                "response_bytes": st.integers(0, 10**12),
                "user_agent": st.none() | st.text(max_size=12),
                "query_string": st.sampled_from([b"", "", "a=1&b=2", b"x%22y=1&%C3%A9=2"]),
                "client": st.none() | st.just("10.0.0.1"),
                "exception": st.none() | st.just("KeyError"),
                "wall_start": st.floats(0, 4_000_000_000),
            }
        ),
        min_size=1,
        max_size=5,
    )
)
def test_a_batch_is_encoded_as_its_events_would_be(
    capture_client: bool, fields: list[dict[str, Any]]
) -> None:
    capture = Capture(CaptureOptions(capture_client=capture_client))
    records = [record_of(capture, **f) for f in fields]
    batch = capture.prepare(list(records))
    events = [capture.event(r) for r in records]
    if isinstance(batch, EncodedEvents):
        assert batch.json == encode_json(events)
        assert list(batch) == records  # what goes back to the queue if the sender dies
    else:  # only text JSON cannot carry (lone surrogates) makes the sender fall back
        assert batch == events
        with pytest.raises(UnicodeEncodeError):
            encode_json(events)


def test_odd_characters_and_every_optional_field_encode_exactly() -> None:
    capture = Capture(CaptureOptions(capture_client=True))
    record = record_of(
        capture,
        route=None,
        path=ODD_TEXT,
        ttfb=None,
        user_agent=ODD_TEXT,
        query_string=b"%22=1&b=2&%22=3",
        client="::1",
        exception="ValueError",
    )
    batch = capture.prepare([record])
    assert isinstance(batch, EncodedEvents)
    assert json.loads(batch.json) == [capture.event(record)]
    assert batch.json == encode_json([capture.event(record)])


def test_context_and_queued_events_are_encoded_with_the_records() -> None:
    capture = Capture(CaptureOptions())
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    with_context = record_of(capture, context={"tenant": "acme", "at": when, "tags": ("a", "b")})
    queued_event = {"type": "http_request", "body": {"n": 1, "ids": {3, 1, 2}}}
    plain = record_of(capture)
    batch = capture.prepare([with_context, queued_event, plain])
    assert isinstance(batch, EncodedEvents)
    assert json.loads(batch.json) == [
        {
            **capture.event(with_context),
            "body": {
                **capture.event(plain)["body"],
                "tenant": "acme",
                "at": "2026-01-02T03:04:05+00:00",
                "tags": ["a", "b"],
            },
        },
        {"type": "http_request", "body": {"n": 1, "ids": [1, 2, 3]}},
        capture.event(plain),
    ]


@pytest.mark.parametrize("odd", [float("nan"), float("inf"), object()])
def test_a_value_json_cannot_carry_leaves_the_batch_to_the_client(odd: object) -> None:
    # The client then refuses it naming the event, and the sender sends the batch sanitised.
    capture = Capture(CaptureOptions())
    records = [record_of(capture), record_of(capture, context={"score": odd})]
    batch = capture.prepare(list(records))
    assert not isinstance(batch, EncodedEvents)
    assert batch == [capture.event(r) for r in records]


def test_a_batch_too_large_for_one_request_leaves_the_split_to_the_client() -> None:
    capture = Capture(CaptureOptions())
    big = record_of(capture, context={"blob": "x" * 4_000_000})
    batch = capture.prepare([big, big, big])
    assert not isinstance(batch, EncodedEvents)
    assert [len(chunk.events) for chunk in prepare_chunks(batch, {})] == [2, 1]


def test_an_encoded_batch_is_sent_as_encoded() -> None:
    capture = Capture(CaptureOptions(stream_id="shop"))
    batch = capture.prepare([record_of(capture), record_of(capture, status_code=503)])
    chunks = prepare_chunks(batch, {"stream_id": "shop"})
    assert [chunk.events for chunk in chunks] == [batch]
    body = chunks[0].events.body({"stream_id": "shop"})
    assert json.loads(body) == {
        "events": [capture.event(r) for r in batch],
        "stream_id": "shop",
    }


def test_a_record_value_of_an_odd_type_leaves_the_batch_to_the_client() -> None:
    capture = Capture(CaptureOptions())
    records = [record_of(capture), record_of(capture, method=None, user_agent=b"raw")]
    batch = capture.prepare(list(records))
    assert not isinstance(batch, EncodedEvents)
    assert batch == [capture.event(r) for r in records]
    chunk = prepare_chunks(batch, {})[0]  # the client converts what it can
    assert json.loads(chunk.events.json)[1]["body"]["method"] is None
