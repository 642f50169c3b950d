"""Fuzzing with hypothesis: hostile events, hostile answers, hostile request bodies.

- Events: arbitrary nested structures of every kind the SDK converts (and some it must
  refuse), through every client kind to the embedded engine (``local://``). Each either
  arrives exactly in the JSON form the SDK promises (checked against an independent reference
  conversion, with types: ``1``, ``1.0`` and ``True`` differ), or is refused with
  ``DriftlockValidationError`` before any request. Nothing else may be raised.
- Answers: every operation, through every client kind, given arbitrary statuses, headers and
  bodies (real answers recorded from the engine, mutated): a result or a ``DriftlockError``,
  never a raw exception.
- Request bodies: every operation of ``openapi.yaml`` against the served engine, with the cases
  schemathesis generates (positive and negative) and bodies it does not (arbitrary bytes and
  JSON, deep nesting, huge numbers, NaN, lone surrogates, type confusion): never a 5xx, always
  the API's error envelope. ``tests/local/test_contract.py`` checks the documented responses;
  this extends it to bodies outside the schema.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import datetime
import enum
import json
import math
import re
import uuid
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import httpx
import pydantic
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from driftlock.exceptions import DriftlockError, DriftlockValidationError
from driftlock.local._serialize import redact_secrets
from driftlock.local.app import create_app
from driftlock.local.engine import Engine
from driftlock.local.transport import get_engine
from tests.local.helpers import KEY, feed, incident_prefix, local_client
from tests.reliability.support import KINDS, Caller, Delays
from tests.support.server import serve_asgi

ROOT = Path(__file__).resolve().parents[2]
MAX_DEPTH = 100  # objects and arrays an event may nest (the API's limit)
FUZZ = settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- events: the reference conversion --------------------------------------------------------


class Refused(Exception):
    """The SDK must refuse this input."""


def reference(value: Any, level: int) -> Any:
    """The JSON form of ``value`` as the SDK documents it, written independently of the SDK;
    ``level`` is the nesting level a container here would have (the event itself is 1)."""
    if value is None or type(value) is bool:
        return value
    if isinstance(value, enum.Enum):
        return reference(value.value, level)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Refused("NaN or infinity")
        return float(value)
    if isinstance(value, str):
        text = str.__str__(value)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise Refused("lone surrogate") from None
        return text
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise Refused("Decimal NaN")
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, pydantic.BaseModel):
        return reference(value.model_dump(mode="json"), level)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return reference(fields, level)
    if attrs.has(type(value)):
        return reference({a.name: getattr(value, a.name) for a in attrs.fields(type(value))}, level)
    if not isinstance(value, Mapping | list | tuple | set | frozenset):
        raise Refused(f"not serialisable: {type(value).__name__}")
    if level > MAX_DEPTH:
        raise Refused("nested too deeply")
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise Refused("a key that is not a string")
            out[str.__str__(key)] = reference(item, level + 1)
        return out
    if isinstance(value, set | frozenset):
        try:
            value = sorted(value)
        except TypeError:
            value = list(value)
    return [reference(item, level + 1) for item in value]


def reference_event(event: Any) -> dict[str, Any]:
    converted = reference(event, 1)
    if type(converted) is not dict:
        raise Refused("an event must be an object")
    return converted


def canonical(value: Any) -> str:
    """JSON text that tells 1, 1.0 and True apart."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


# -- events: what hypothesis builds ----------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class Point:
    x: Any
    y: Any


@attrs.define
class Tagged:
    name: Any
    tags: Any


class Order(pydantic.BaseModel):
    id: uuid.UUID
    at: datetime.datetime
    amount: Decimal
    items: list[str]
    extra: dict[str, int]


def deep(levels: int) -> dict[str, Any]:
    """An event whose objects and lists nest ``levels`` deep in all."""
    value: Any = "leaf"
    for i in range(levels - 1):
        value = {"d": value} if i % 2 else [value]
    return {"deep": value}


text = st.text(max_size=12) | st.sampled_from(["\ud800", "a\udfffb", "\x00", "ü€😀", ""])
keys = st.text(max_size=8)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(),  # NaN and infinities included: refused
    text,
    st.datetimes(timezones=st.none() | st.just(datetime.UTC)),
    st.dates(),
    st.times(),
    st.uuids(),
    st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=3),
    st.sampled_from([Decimal("NaN"), Decimal("Infinity"), Decimal("-0"), Decimal("1E+3")]),
    st.binary(max_size=8),
    st.sampled_from(Color),
    st.sampled_from(Level),
)
orders = st.builds(
    Order,
    id=st.uuids(),
    at=st.datetimes(timezones=st.just(datetime.UTC)),
    amount=st.decimals(min_value=0, max_value=10**6, places=2),
    items=st.lists(st.text(max_size=5), max_size=3),
    extra=st.dictionaries(st.text(max_size=4), st.integers(-5, 5), max_size=2),
)


def containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.frozensets(st.integers() | st.text(max_size=3), max_size=3),
        st.dictionaries(keys, inner, max_size=4),
        st.dictionaries(st.integers() | st.tuples(st.integers()), inner, min_size=1, max_size=2),
        st.builds(Point, inner, inner),
        st.builds(Tagged, text, st.lists(inner, max_size=2)),
        orders,
    )


values = st.recursive(scalars, containers, max_leaves=24)
events = st.one_of(
    st.dictionaries(keys, values, max_size=6),  # the common case: a dict of anything
    st.builds(Point, values, values),
    st.builds(Tagged, text, st.lists(values, max_size=3)),
    orders,
    st.integers(95, 105).map(deep),  # around the depth limit
    values,  # top-level values that are not objects: refused
)


@pytest.fixture(scope="module")
def callers() -> Iterator[dict[str, tuple[Caller, list[Any]]]]:
    """A client of each kind on an engine of its own, with the events the engine received."""
    made = {}
    for kind in KINDS:
        name = f"fuzz-events-{kind}-{uuid.uuid4().hex[:8]}"
        engine = get_engine(name)
        received: list[Any] = []
        detect = engine.detect

        def spy(batch: Any, _detect: Any = detect, _into: list[Any] = received, **kw: Any) -> Any:
            _into.extend(batch)
            return _detect(batch, **kw)

        engine.detect = spy  # type: ignore[method-assign]
        made[kind] = (Caller(kind, None, base_url=f"local://{name}", max_retries=0), received)
    yield made
    for caller, _ in made.values():
        caller.close()


@pytest.mark.parametrize("kind", KINDS)
@settings(FUZZ, max_examples=120)
@given(batch=st.lists(events, min_size=1, max_size=12))
def test_events_round_trip_or_are_refused(
    callers: dict[str, tuple[Caller, list[Any]]], kind: str, batch: list[Any]
) -> None:
    caller, received = callers[kind]
    try:
        expected: list[dict[str, Any]] | None = [reference_event(event) for event in batch]
    except (Refused, RecursionError):
        expected = None
    received.clear()
    try:
        result = caller.detect(batch)
    except DriftlockValidationError as refused:
        error: DriftlockValidationError | None = refused
    else:
        error = None
    if error is not None:
        assert expected is None, f"refused valid input: {error}"
        assert received == []  # refused before any request
        return
    assert expected is not None, "sent input the SDK must refuse"
    assert [canonical(event) for event in received] == [canonical(e) for e in expected]
    assert result.total_events == len(batch)
    for anomaly in result.anomalies:  # what the engine returns: the event, secrets redacted
        assert canonical(anomaly.event) == canonical(redact_secrets(expected[anomaly.index]))


@pytest.mark.parametrize("kind", KINDS)
def test_the_depth_limit_is_the_engines(
    callers: dict[str, tuple[Caller, list[Any]]], kind: str
) -> None:
    caller, received = callers[kind]
    received.clear()
    assert caller.detect([deep(MAX_DEPTH)]).total_events == 1
    with pytest.raises(DriftlockValidationError, match="nested too deeply") as refused:
        caller.detect([{"ok": 1}, deep(MAX_DEPTH + 1)])
    assert refused.value.event_index == 1
    path = refused.value.field_path
    assert path is not None
    assert path.startswith("deep")
    assert path.count(".") + path.count("[") == MAX_DEPTH - 1  # the 101st level is named
    assert len(received) == 1


# -- answers: every operation, anything the server (or a proxy) may say -----------------------

OPERATIONS: dict[str, tuple[str, str, tuple[Any, ...], dict[str, Any]]] = {
    "health": ("GET", r"/healthz$", (), {}),
    "ready": ("GET", r"/readyz$", (), {}),
    "profiles.list": ("GET", r"/v1/profiles$", (), {}),
    "demo_detect": ("POST", r"/v1/demo/detect$", ([{"a": 1}],), {}),
    "detect": ("POST", r"/v1/detect$", (), {"stream_id": "s", "events": [{"a": 1}]}),
    "anomalies.list": ("GET", r"/v1/anomalies\?", (), {}),
    "anomalies.get": ("GET", r"/v1/anomalies/[0-9a-f-]{36}$", ("a1",), {}),
    "anomalies.export_one": ("POST", r"/v1/anomalies/[^/]+/export$", ("a1",), {}),
    "anomalies.export": ("POST", r"/v1/anomalies/export$", (["a1"],), {}),
    "anomalies.feedback": ("POST", r"/feedback$", ("a1", "confirmed"), {}),
    "streams.get_profile": ("GET", r"/profile$", ("s",), {}),
    "streams.update_profile": ("PATCH", r"/profile$", ("s",), {"profile": "strict"}),
    "streams.get_tuning": ("GET", r"/tuning$", ("s",), {}),
    "streams.get_anchor": ("GET", r"/anchor$", ("s",), {}),
    "streams.get_anchor_details": ("GET", r"/anchor/details$", ("s",), {}),
    "streams.reset_anchor": ("POST", r"/reset-anchor$", ("s", [{"a": 1}]), {}),
    "streams.delete_anchor": ("DELETE", r"/anchor$", ("s",), {}),
}


def recorded_answers() -> dict[str, tuple[int, Any]]:
    """The smallest successful answer of each operation in the committed cassette."""
    path = ROOT / "tests" / "cassettes" / "test_every_operation_sync_replayed.yaml"
    found: dict[str, tuple[int, Any]] = {}
    for interaction in yaml.safe_load(path.read_text())["interactions"]:
        request, response = interaction["request"], interaction["response"]
        status = response["status"]["code"]
        if not 200 <= status < 300:
            continue
        body = json.loads(response["body"]["string"])
        for name, (method, pattern, _, _) in OPERATIONS.items():
            if request["method"] == method and re.search(pattern, request["uri"]):
                if name not in found or len(json.dumps(body)) < len(json.dumps(found[name][1])):
                    found[name] = (status, body)
                break
    assert set(found) == set(OPERATIONS), set(OPERATIONS) - set(found)
    return found


ANSWERS = recorded_answers()


def paths_in(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths_in(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:2]):
            yield from paths_in(item, (*at, index))


def mutated(body: Any, at: tuple[Any, ...], new: Any, delete: bool) -> Any:
    if not at:
        return new
    copied = copy.deepcopy(body)
    parent = copied
    for step in at[:-1]:
        parent = parent[step]
    if delete:
        del parent[at[-1]]
    else:
        parent[at[-1]] = new
    return copied


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


@st.composite
def answers(draw: st.DrawFn, operation: str) -> httpx.Response:
    status, body = ANSWERS[operation]
    choice = draw(st.sampled_from(["mutated", "mutated", "json", "bytes", "envelope", "real"]))
    if choice == "mutated":
        at = draw(st.sampled_from(sorted(set(paths_in(body)), key=repr)))
        content = json.dumps(mutated(body, at, draw(json_values), draw(st.booleans()))).encode()
    elif choice == "json":
        content = json.dumps(draw(json_values)).encode()
    elif choice == "bytes":
        content = draw(st.binary(max_size=64))
    elif choice == "envelope":
        envelope = {"code": draw(json_values), "message": draw(json_values)}
        envelope["retry_after_seconds"] = draw(json_values)
        content = json.dumps({"error": envelope}).encode()
    else:
        content = json.dumps(body).encode()
    status = draw(
        st.just(status) | st.sampled_from([200, 201, 204, 301, 400, 404, 408, 429, 500, 503, 520])
    )
    header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=16)
    headers = draw(
        st.dictionaries(
            st.sampled_from(["retry-after", "content-type", "x-request-id", "location"]),
            header_text | st.sampled_from(["1e400", "nan", "-3", "Wed, 21 Oct 2015 07:28:00 GMT"]),
            max_size=3,
        )
    )
    return httpx.Response(status, content=content, headers=headers)


@pytest.fixture(scope="module")
def no_waits() -> Iterator[Delays]:
    """Retry waits recorded, not slept, for the whole module."""
    with pytest.MonkeyPatch.context() as patch:
        delays = Delays()
        delays.install(patch)
        yield delays


@pytest.mark.parametrize("kind", KINDS)
@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_any_answer_gives_a_result_or_a_driftlock_error(
    kind: str, data: st.DataObject, no_waits: Delays
) -> None:
    operation = "detect" if kind == "detect_sync" else data.draw(st.sampled_from(sorted(ANSWERS)))
    answer = data.draw(answers(operation))
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            answer.status_code, headers=answer.headers, content=answer.content
        )
    )
    caller = Caller(kind, transport, max_retries=1)
    try:
        _, _, args, kwargs = OPERATIONS[operation]
        if operation == "detect":
            caller.detect(kwargs["events"])
        else:
            caller.call(operation, *args, **kwargs)
    except DriftlockError:
        pass
    finally:
        caller.close()


# -- request bodies: the served engine never answers 5xx ----------------------------------------


@pytest.fixture(scope="module")
def engine_http() -> Iterator[tuple[str, httpx.Client]]:
    """The engine served on 127.0.0.1, with a stream that has anomalies, and a client."""
    engine = Engine()
    app = create_app(engine, api_key=KEY)
    with local_client(app) as client:
        feed(client, "default", incident_prefix(seed=1, n=800).events)
    with serve_asgi(app) as url, httpx.Client(timeout=30) as http:
        yield url, http
    engine.close()


SPEC = schemathesis.openapi.from_path(ROOT / "openapi.yaml")
SPEC.config.update(headers={"X-Api-Key": KEY})
OPERATIONS_IN_SPEC = [result.ok() for result in SPEC.get_all_operations()]


def nested_json(levels: int) -> bytes:
    return b'{"events": [' + b"[" * levels + b"]" * levels + b"]}"


hostile_bodies = st.one_of(
    st.binary(max_size=64),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(
        st.sampled_from(
            [
                "events",
                "stream_id",
                "config_override",
                "format",
                "anomaly_ids",
                "profile",
                "feedback_type",
                "reason",
                "force_reset",
                "auto_tune_enabled",
            ]
        ),
        json_values,
        max_size=4,
    ).map(lambda v: json.dumps(v).encode()),
    st.sampled_from(
        [
            b'{"events": [{"a": NaN}]}',
            b'{"events": [{"a": Infinity}]}',
            b'{"events": [{"a": 1e999}]}',
            b'{"events": [{"a": "\\ud800"}]}',
            b'{"events": [{"\\udc00": 1}]}',
            b'{"events": [{"a": 1' + b"0" * 5000 + b"}]}",
            b'{"events": [' + b'{"a": 1},' * 1000 + b'{"a": 1}]}',
            b'{"events": [{}], "config_override": {"window_size": 1e308}}',
            b'{"events": [{}], "config_override": {"compressor": ["zstd"]}}',
            b'{"events": [{}], "stream_id": ""}',
            b'{"anomaly_ids": [{}], "format": null}',
            b"\xef\xbb\xbf{}",
            b"\xff\xfe{\x00}\x00",
        ]
    ),
    st.integers(90, 3000).map(nested_json),
)


@pytest.mark.parametrize("operation", OPERATIONS_IN_SPEC, ids=lambda op: op.label)
@settings(FUZZ, max_examples=25)
@given(data=st.data())
def test_no_request_body_gets_a_5xx(
    engine_http: tuple[str, httpx.Client], operation: Any, data: st.DataObject
) -> None:
    engine_url, http = engine_http
    mode = data.draw(st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]))
    case = data.draw(operation.as_strategy(generation_mode=mode))
    request = case.as_transport_kwargs(base_url=engine_url)
    request.pop("json", None)
    request.pop("data", None)
    request.pop("cookies", None)
    headers = request.pop("headers")
    if data.draw(st.booleans()):
        content = data.draw(hostile_bodies)
        headers["Content-Type"] = data.draw(
            st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"])
        )
    else:  # schemathesis's own body, as it would send it
        kwargs = case.as_transport_kwargs(base_url=engine_url)
        content = kwargs.get("data") or (
            json.dumps(kwargs["json"]).encode() if "json" in kwargs else b""
        )
    answer = http.request(content=content, headers=headers, **request)
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
    if answer.status_code >= 400:
        error = answer.json()["error"]
        assert isinstance(error["code"], str)
        assert isinstance(error["message"], str)
        assert error["request_id"] == answer.headers["x-request-id"]
