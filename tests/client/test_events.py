"""Turning the caller's objects into JSON-safe events, and chunking them."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import uuid
from collections import OrderedDict
from decimal import Decimal
from typing import Any

import attrs
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftlock._events import (
    encode_chunks,
    encode_json,
    normalize_event,
    normalize_events,
    prepare,
)
from driftlock.exceptions import DriftlockValidationError


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Kind(enum.StrEnum):
    SIGNUP = "signup"


class Address(pydantic.BaseModel):
    city: str
    since: datetime.date


class User(pydantic.BaseModel):
    username: str
    age: int
    created: datetime.datetime
    address: Address
    secret: pydantic.SecretStr


@dataclasses.dataclass
class Order:
    id: uuid.UUID
    total: Decimal
    tags: set[str]


@attrs.define
class Point:
    x: float
    label: bytes


NOW = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def test_plain_dicts_are_used_as_they_are() -> None:
    events = [{"type": "t", "body": {"value": 1.5, "tags": ["a", None, True]}}]
    assert normalize_events(events) is events


def test_rich_values_become_json() -> None:
    event = {
        "when": NOW,
        "day": datetime.date(2025, 1, 2),
        "at": datetime.time(3, 4, 5),
        "id": ID,
        "price": Decimal("12.50"),
        "count": Decimal("3"),
        "color": Color.RED,
        "level": Level.HIGH,
        "kind": Kind.SIGNUP,
        "set": {"b", "a"},
        "tuple": (1, 2),
        "raw": b"\x00\xff",
        "ordered": OrderedDict(a=1),
    }
    assert normalize_event(event) == {
        "when": "2025-01-02T03:04:05+00:00",
        "day": "2025-01-02",
        "at": "03:04:05",
        "id": "12345678-1234-5678-1234-567812345678",
        "price": 12.5,
        "count": 3,
        "color": "red",
        "level": 3,
        "kind": "signup",
        "set": ["a", "b"],
        "tuple": [1, 2],
        "raw": "AP8=",
        "ordered": {"a": 1},
    }


def test_models_dataclasses_and_attrs_anywhere_in_an_event() -> None:
    user = User(
        username="ada",
        age=36,
        created=NOW,
        address=Address(city="London", since=datetime.date(2020, 5, 1)),
        secret=pydantic.SecretStr("hunter2"),
    )
    order = Order(id=ID, total=Decimal("9.99"), tags={"x"})
    event = {"type": "signup", "body": user, "order": order, "where": Point(1.5, b"hi")}
    assert normalize_events([event, user]) == [
        {
            "type": "signup",
            "body": {
                "username": "ada",
                "age": 36,
                "created": "2025-01-02T03:04:05Z",
                "address": {"city": "London", "since": "2020-05-01"},
                "secret": "**********",
            },
            "order": {"id": str(ID), "total": 9.99, "tags": ["x"]},
            "where": {"x": 1.5, "label": "aGk="},
        },
        {
            "username": "ada",
            "age": 36,
            "created": "2025-01-02T03:04:05Z",
            "address": {"city": "London", "since": "2020-05-01"},
            "secret": "**********",
        },
    ]


def test_v1_style_dict_output_is_normalised() -> None:
    # What `model.dict()` returns: a dict still holding datetimes and nested dicts.
    dumped = {"username": "ada", "created": NOW, "address": {"since": datetime.date(2020, 5, 1)}}
    assert normalize_event({"type": "signup", "body": dumped}) == {
        "type": "signup",
        "body": {
            "username": "ada",
            "created": "2025-01-02T03:04:05+00:00",
            "address": {"since": "2020-05-01"},
        },
    }


def test_a_generator_of_events_is_accepted() -> None:
    assert normalize_events({"n": i} for i in range(3)) == [{"n": 0}, {"n": 1}, {"n": 2}]


def circular() -> dict[str, Any]:
    inner: dict[str, Any] = {"name": "loop"}
    inner["self"] = inner
    return {"body": {"items": [inner]}}


def deep() -> dict[str, Any]:
    event: dict[str, Any] = {}
    node = event
    for _ in range(5000):
        node["next"] = {}
        node = node["next"]
    return event


@dataclasses.dataclass
class Node:
    child: Any = None


@dataclasses.dataclass
class HalfBuilt:
    later: int = dataclasses.field(init=False)


def node_cycle() -> Node:
    node = Node()
    node.child = node
    return node


@pytest.mark.parametrize(
    ("bad", "path", "reason"),
    [
        ({"body": {"amount": float("nan")}}, "body.amount", "nan is not valid JSON"),
        ({"items": [1.0, float("inf")]}, "items[1]", "inf is not valid JSON"),
        ({"price": Decimal("NaN")}, "price", "Decimal NaN"),
        (circular(), "body.items[0].self", "circular reference"),
        ({"wrap": node_cycle()}, "wrap.child", "circular reference"),
        ({"body": {"counts": {200: 5}}}, "body.counts", "key 200 is a int"),
        ({"body": {None: 1}}, "body", "key None"),
        ({"when": datetime.timedelta(seconds=1)}, "when", "datetime.timedelta is not JSON"),
        ({"fn": print}, "fn", "is not JSON serialisable"),
        ({"obj": HalfBuilt()}, "obj", "serialising the model failed"),
        ({"text": "\ud800"}, "text", "lone surrogate"),
        (deep(), None, "nested too deeply"),
    ],
)
def test_bad_values_name_the_event_and_the_field(
    bad: dict[str, Any], path: str | None, reason: str
) -> None:
    with pytest.raises(DriftlockValidationError) as caught:
        prepare([{"fine": 1}, {"fine": 2}, bad], {})
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.event_index == 2
    if path is not None:
        assert error.field_path == path
        assert str(error).startswith(f"event 2, field {path}: ")
    assert reason in str(error)


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([], "events is empty"),
        ({"type": "t"}, "got a single dict"),
        ("text", "got a single str"),
        (42, "got int"),
        ([{"ok": 1}, "plain text"], 'wrap plain text as {"text": ...}'),
        ([["a list"]], "each event must be a JSON object"),
    ],
)
def test_events_that_are_not_a_list_of_objects_are_refused(events: Any, message: str) -> None:
    with pytest.raises(DriftlockValidationError, match=message.replace("[", r"\[")):
        normalize_events(events)


def test_a_failing_model_serialiser_is_reported() -> None:
    class Broken(pydantic.BaseModel):
        @pydantic.model_serializer
        def boom(self) -> dict[str, Any]:
            raise RuntimeError("nope")

    with pytest.raises(DriftlockValidationError, match=r"serialising the model failed: .*nope"):
        normalize_events([{"body": Broken()}])


def test_chunks_split_by_count_with_offsets() -> None:
    events = [{"n": i} for i in range(2500)]
    chunks = encode_chunks(events, envelope={"stream_id": "s"})
    assert [(c.offset, len(c.events)) for c in chunks] == [(0, 1000), (1000, 1000), (2000, 500)]
    for chunk in chunks:
        assert json.loads(chunk.events.json) == events[chunk.offset : chunk.offset + 1000]
        body = json.loads(chunk.events.body({"stream_id": "s"}))
        assert body == {"events": list(chunk.events), "stream_id": "s"}


def test_chunks_split_by_size_with_offsets() -> None:
    events = [{"n": f"{i:02d}", "pad": "x" * 100} for i in range(50)]
    size = len(encode_json(events[0]))
    chunks = encode_chunks(events, envelope={}, max_bytes=12 + 10 * (size + 1))
    assert [c.offset for c in chunks] == [0, 10, 20, 30, 40]
    assert sum(len(c.events) for c in chunks) == 50
    for chunk in chunks:
        assert len(chunk.events.body({})) <= 12 + 10 * (size + 1)
        assert json.loads(chunk.events.json) == events[chunk.offset : chunk.offset + 10]


def test_chunks_split_by_count_then_by_size() -> None:
    events = [{"n": f"{i:04d}", "pad": "x" * 100} for i in range(1500)]
    size = len(encode_json(events[0]))
    limit = 12 + 400 * (size + 1)
    chunks = encode_chunks(events, envelope={}, max_bytes=limit)
    assert [c.offset for c in chunks] == [0, 400, 800, 1000, 1400]
    for chunk in chunks:
        assert len(chunk.events.body({})) <= limit
        assert list(chunk.events) == events[chunk.offset : chunk.offset + len(chunk.events)]
        assert json.loads(chunk.events.json) == list(chunk.events)


def test_a_body_with_other_fields_is_encoded_for_them() -> None:
    chunk = encode_chunks([{"a": 1}], envelope={"stream_id": "s"})[0]
    assert json.loads(chunk.events.body({"stream_id": "other"})) == {
        "events": [{"a": 1}],
        "stream_id": "other",
    }


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
KEYS = st.one_of(st.text(), st.integers(), st.booleans(), st.none())
ANY = st.recursive(
    JSON | st.datetimes() | st.uuids() | st.binary(max_size=8) | st.decimals(),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(KEYS, inner, max_size=3)
    ),
    max_leaves=15,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(st.text(), ANY, max_size=4), min_size=1, max_size=3))
def test_anything_either_round_trips_or_is_refused_cleanly(events: list[dict[str, Any]]) -> None:
    try:
        chunk = prepare(events, {})[0]
    except DriftlockValidationError as error:
        refused: DriftlockValidationError | None = error
    else:
        refused = None
        assert json.loads(chunk.events.json) == list(chunk.events) == normalize_events(events)
    assert refused is None or refused.event_index is not None
