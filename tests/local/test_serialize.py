"""Events to canonical bytes: redaction of secrets, canonical JSON and masking."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftlock.local._serialize import (
    _ENCODER,
    _VOLATILE,
    REDACTED,
    _replace,
    canonical_json,
    is_secret_key,
    mask_volatile,
    redact_secrets,
    serialize_event,
)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("at 2024-05-01T12:00:00.123Z ok", "at <ts> ok"),
        ("at 2024-05-01T12:00:00+02:00 ok", "at <ts> ok"),
        ("at 2024-05-01 12:00:00 ok", "at <ts> ok"),
        ("on 2024-05-01", "on <ts>"),
        ("id 123e4567-e89b-12d3-a456-426614174000.", "id <uuid>."),
        ("id 123E4567-E89B-12D3-A456-426614174000", "id <uuid>"),
        ("sha d41d8cd98f00b204e9800998ecf8427e", "sha <hex>"),
        ("trace 4bf92f3577b34da6", "trace <hex>"),
        (
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9P",
            "Bearer <jwt>",
        ),
        ("from 10.1.2.3:8080", "from <ip>:<num>"),
        ("from 2001:db8::8a2e:370:7334 and ::1", "from <ip> and <ip>"),
        ("from fe80:0:0:0:202:b3ff:fe1e:8329", "from <ip>"),
        ("blob QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0123== end", "blob <b64> end"),
        ("took 12345 ms", "took <num> ms"),
        ("ratio 0.123456", "ratio 0.<num>"),
        ("/api/users/98765/orders", "/api/users/<num>/orders"),
        ("this_is_a_long_snake_case_identifier_2024", "this_is_a_long_snake_case_identifier_<num>"),
    ],
)
def test_volatile_tokens_are_masked(text: str, masked: str) -> None:
    assert mask_volatile(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "status 200 in 42 ms",
        "GET /api/users/123",
        "std::vector and Foo::bar",
        "12:00:00",
        "Mozilla/5.0 (X11; Linux x86_64)",
        "/static/app.js",
        "a_very_long_but_ordinary_word_sequence",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask_volatile(text) == text


def test_serialised_event_is_masked_compact_json_on_one_line() -> None:
    event = {
        "ts": "2024-05-01T12:00:00Z",
        "request_id": "123e4567-e89b-12d3-a456-426614174000",
        "status": 503,
        "bytes": 48213,
        "ip": "192.168.1.20",
        "path": "/api/orders/77",
    }
    assert serialize_event(event) == (
        b'{"bytes":<num>,"ip":"<ip>","path":"/api/orders/77",'
        b'"request_id":"<uuid>","status":503,"ts":"<ts>"}'
    )


def test_canonical_json_is_compact_sorted_and_keeps_unicode() -> None:
    assert canonical_json({"b": 1, "a": {"d": [1, 2], "c": "café"}}) == (
        '{"a":{"c":"café","d":[1,2]},"b":1}'
    )
    assert serialize_event({"city": "Zürich"}) == '{"city":"Zürich"}'.encode()


def test_canonical_json_accepts_non_json_values() -> None:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    text = canonical_json({"when": when, "tags": ("a", "b"), "raw": b"x", "set": {2, 1}})
    assert json.loads(text) == {
        "raw": "x",
        "set": [1, 2],
        "tags": ["a", "b"],
        "when": "2024-05-01T12:00:00+00:00",
    }


def test_canonical_json_accepts_keys_of_mixed_types() -> None:
    assert canonical_json({"b": 1, 2: "x", "a": {3: None}}) == '{"2":"x","a":{"3":null},"b":1}'


def test_events_differing_only_in_volatile_tokens_serialise_alike() -> None:
    one = {"ts": "2024-05-01T12:00:00.001Z", "id": "123e4567-e89b-12d3-a456-426614174000"}
    two = {"id": "00000000-0000-4000-8000-000000000000", "ts": "2025-01-09T23:59:59.999Z"}
    assert serialize_event(one) == serialize_event(two)


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "Password",
        "PASSWD",
        "token",
        "secret",
        "api_key",
        "apikey",
        "Authorization",
        "cookie",
        "Set-Cookie",
        "X-Api-Key",
        "x_api_key",
        "refresh_token",
        "client_secret",
        "db_password",
    ],
)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["user", "path", "tokens_used", "secretary", "cookie_count", "key"])
def test_ordinary_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_secrets_are_redacted_at_any_depth_without_mutating() -> None:
    event: dict[str, Any] = {
        "user": "ann",
        "Password": "hunter2",
        "headers": {"Authorization": "Bearer abc", "Accept": "json", "Cookie": ["a", "b"]},
        "attempts": [{"token": "t1", "ok": False}, {"note": "fine"}],
    }
    original = json.loads(json.dumps(event))
    redacted = redact_secrets(event)
    assert redacted == {
        "user": "ann",
        "Password": REDACTED,
        "headers": {"Authorization": REDACTED, "Accept": "json", "Cookie": REDACTED},
        "attempts": [{"token": REDACTED, "ok": False}, {"note": "fine"}],
    }
    assert event == original
    assert redacted["attempts"][1] is event["attempts"][1]  # untouched parts are shared


def test_an_event_without_secrets_is_returned_as_is() -> None:
    event = {"user": "ann", "nested": {"path": "/x"}, "items": [1, 2]}
    assert redact_secrets(event) is event


def test_secrets_never_reach_the_serialised_bytes() -> None:
    data = serialize_event({"api_key": "sk-live-123", "nested": {"secret": "s3cr3t"}})
    assert b"sk-live" not in data
    assert b"s3cr3t" not in data
    assert data.count(REDACTED.encode()) == 2


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=12), json_values, max_size=6))
def test_any_json_event_serialises_to_one_line_deterministically(event: dict[str, Any]) -> None:
    data = serialize_event(event)
    assert b"\n" not in data
    assert data == serialize_event(json.loads(json.dumps(event)))
    text = data.decode("utf-8", "surrogatepass")
    assert mask_volatile(text) == text  # masking is idempotent


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_masking_leaves_no_long_digit_run_and_is_idempotent(text: str) -> None:
    masked = mask_volatile(text)
    assert re.search(r"\d{4,}", masked) is None
    assert mask_volatile(masked) == masked


# Masking works piece by piece between quotes, with memos and a fast path for timestamps: it
# must give what one pass of the volatile-token pattern over the whole text gives.
volatile_text = st.lists(
    st.sampled_from(
        [
            '"',
            ":",
            ",",
            "{",
            "}",
            " ",
            "-",
            ".",
            "T",
            "Z",
            "+",
            "/",
            "=",
            "_",
            "a",
            "f",
            "x",
            "eyJ",
            "2024-05-01",
            "T12:00:00",
            ".123Z",
            "+02:00",
            "12345",
            "7",
            "::1",
            "fe80::1",
            "10.0.0.1",
            "deadbeefdeadbeef",
            "123e4567-e89b-12d3-a456-426614174000",
            "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0123",
            "\u0662\u0660\u0662\u0664",
            "\\u00e9",
        ]
    ),
    max_size=30,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(volatile_text, st.text()))
def test_masking_by_pieces_matches_one_pass_over_the_whole_text(text: str) -> None:
    whole = _VOLATILE.sub(_replace, text)
    assert mask_volatile(text) == whole
    assert mask_volatile(text) == whole  # again, with the pieces now memoised


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ('"2024-05-01T12:00:00.123Z"', '"<ts>"'),
        ('"2024-05-01 12:00"', '"<ts>"'),
        ('"2024-05-01T12:00:00+0200"', '"<ts>"'),
        (
            '"\u0662\u0660\u0662\u0664-\u0660\u0665-\u0660\u0661"',
            '"\u0662\u0660\u0662\u0664-\u0660\u0665-\u0660\u0661"',
        ),
        ('"2024-05-01T12:00:00.123Zx"', '"<ts>x"'),
    ],
)
def test_whole_timestamps_mask_like_any_other(text: str, masked: str) -> None:
    assert mask_volatile(text) == masked == _VOLATILE.sub(_replace, text)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=12), json_values, max_size=6))
def test_canonical_json_is_what_the_json_encoder_writes(event: dict[str, Any]) -> None:
    assert canonical_json(event) == _ENCODER.encode(event)


def test_canonical_json_reports_a_cycle_like_the_json_encoder() -> None:
    event: dict[str, Any] = {"a": 1}
    event["self"] = event
    with pytest.raises(ValueError, match="Circular reference"):
        canonical_json(event)
