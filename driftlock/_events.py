"""Turn the caller's objects into JSON-safe events, then into request-sized encoded chunks.

Two paths. Plain dicts of plain values (str, int, finite float, bool, None, nested dicts and
lists, string keys) are checked by one tight walk and used as they are: they pay nothing for
rich types. Anything else goes through :class:`_Normalizer`, which converts models, dataclasses,
attrs classes, datetimes, UUIDs, decimals, enums, sets, tuples and bytes, and reports the first
problem with the event's index and the field's path, before any request is built.

Encoding happens here, once: the body size has to be known to respect the API's 10 MB limit,
and the encoded bytes travel with the events (:class:`EncodedEvents`) so that the HTTP layer
does not serialise them a second time. The web-framework middlewares reuse these functions.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import math
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any, Final

import attrs

from driftlock.exceptions import DriftlockValidationError

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_EVENTS_PER_REQUEST",
    "MAX_EVENT_DEPTH",
    "Chunk",
    "EncodedEvents",
    "Event",
    "encode_chunks",
    "encode_event",
    "encode_json",
    "fits_one_request",
    "json_safe",
    "normalize_event",
    "normalize_events",
    "prepare",
]

Event = dict[str, Any]

MAX_EVENTS_PER_REQUEST: Final = 1000
# The API's limit is "10 MB"; the decimal reading is the stricter one, so it is safe with both.
MAX_BODY_BYTES: Final = 10_000_000
# The API refuses an event whose objects and arrays nest deeper than this (the event itself is
# level 1) with a 400; the embedded engine applies the same limit.
MAX_EVENT_DEPTH: Final = 100

# Compact, UTF-8, strict about NaN. No circular check: every input was walked first, and a
# structure that recursed forever would have stopped that walk with a RecursionError.
_encode = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
).encode


def encode_json(value: Any) -> bytes:
    """Encode a JSON-safe value the way requests carry it (compact UTF-8, no NaN)."""
    return _encode(value).encode("utf-8")


class EncodedEvents(list[Any]):
    """Events together with their encoding as one JSON array (``json``) and the request's
    other fields (``envelope``), already encoded as the body's end (``tail``).

    A plain list to everything else; the SDK's HTTP client sends :meth:`body` instead of
    encoding the list again. Only the encoding is sent: the items are the JSON-safe events,
    or, in a middleware's batch, what its queue held for them (see
    :meth:`driftlock._capture.Capture.prepare`).
    """

    __slots__ = ("envelope", "json", "tail")

    def __init__(
        self, events: Iterable[Any], encoded: bytes, envelope: Mapping[str, Any], tail: bytes
    ) -> None:
        super().__init__(events)
        self.json = encoded
        self.envelope = envelope
        self.tail = tail

    def body(self, fields: Mapping[str, Any]) -> bytes:
        """The request body for ``fields`` (the body's fields other than ``events``)."""
        tail = self.tail if fields == self.envelope else _tail(fields)
        return b'{"events":' + self.json + tail


def _tail(envelope: Mapping[str, Any]) -> bytes:
    return b"," + encode_json(envelope)[1:] if envelope else b"}"


@dataclasses.dataclass(frozen=True, slots=True)
class Chunk:
    """One request's worth of events; ``offset`` is the position of its first event in the
    caller's list, for mapping the indices the server reports back."""

    offset: int
    events: EncodedEvents


def prepare(
    events: object, envelope: Mapping[str, Any], max_events: int = MAX_EVENTS_PER_REQUEST
) -> list[Chunk]:
    """Validate, convert and encode ``events`` into request-sized chunks (see
    :func:`encode_chunks`); every problem raises :class:`DriftlockValidationError`.

    Events already encoded (:class:`EncodedEvents`, as the middlewares' senders pass them) go
    as they are when they fit in one request.
    """
    if (
        type(events) is EncodedEvents
        and len(events) <= max_events
        and fits_one_request(events.json, envelope)
    ):
        return [Chunk(0, events)]
    return encode_chunks(normalize_events(events), envelope=envelope, max_events=max_events)


def fits_one_request(encoded: bytes, envelope: Mapping[str, Any]) -> bool:
    """Whether an encoded events array and the ``envelope`` fields make a body the API takes."""
    return len(b'{"events":') + len(encoded) + len(_tail(envelope)) <= MAX_BODY_BYTES


def encode_event(event: object, index: int) -> str:
    """One event as compact JSON text, converted first unless it is a plain dict (see
    :func:`normalize_event`); a problem raises :class:`DriftlockValidationError` naming
    ``index``."""
    value = event if _all_plain([event]) else normalize_event(event, index)
    try:
        return _encode(value)
    except (ValueError, TypeError, RecursionError) as exc:
        raise DriftlockValidationError(
            f"cannot be encoded as JSON: {exc}", event_index=index
        ) from None


def normalize_events(events: object) -> list[Event]:
    """Return ``events`` as JSON-ready dicts, or raise :class:`DriftlockValidationError`.

    Plain dicts come back as the very same objects (nothing copied); the rest are converted.
    Nesting deeper than :data:`MAX_EVENT_DEPTH` is refused here. Values only encoding can judge
    (NaN, infinities, lone surrogates) are reported by :func:`encode_chunks`, so use
    :func:`prepare` to do both.
    """
    if type(events) is list:
        items: list[Any] = events
    elif isinstance(events, Mapping | str | bytes | bytearray):
        raise DriftlockValidationError(
            f"events must be a list of events, got a single {type(events).__name__}; "
            "wrap it in a list"
        )
    elif isinstance(events, Iterable):
        items = list(events)
    else:
        raise DriftlockValidationError(
            f"events must be a list of events, got {type(events).__name__}"
        )
    if not items:
        raise DriftlockValidationError("events is empty: pass at least one event")
    if _all_plain(items):
        return items
    return [normalize_event(item, index) for index, item in enumerate(items)]


def normalize_event(obj: object, index: int = 0) -> Event:
    """Convert one event (a dict, model, dataclass or attrs instance) to a JSON-safe dict;
    errors name ``index`` as the event's position."""
    try:
        value = _Normalizer(index).convert(obj, ())
    except RecursionError:
        raise DriftlockValidationError(
            "is nested too deeply to be encoded as JSON", event_index=index
        ) from None
    if type(value) is not dict:
        raise DriftlockValidationError(
            f"each event must be a JSON object (a dict, model or dataclass), got "
            f'{type(obj).__name__}; wrap plain text as {{"text": ...}}',
            event_index=index,
        )
    return value


def json_safe(value: object, name: str) -> Any:
    """Convert an argument that is not an event (``config_override``) to JSON-safe values;
    errors name ``name`` as the field."""
    return _Normalizer(None).convert(value, (name,))


def encode_chunks(
    events: list[Event],
    *,
    envelope: Mapping[str, Any],
    max_events: int = MAX_EVENTS_PER_REQUEST,
    max_bytes: int = MAX_BODY_BYTES,
) -> list[Chunk]:
    """Split JSON-safe ``events`` into chunks of at most ``max_events`` events whose request
    body (``{"events": [...]}`` plus the ``envelope`` fields) fits in ``max_bytes``."""
    tail = _tail(envelope)
    room = max_bytes - len(tail) - len(b'{"events":')
    chunks: list[Chunk] = []
    for start in range(0, len(events), max_events):
        part = events if len(events) <= max_events else events[start : start + max_events]
        encoded = _encode_list(part, start)
        if len(encoded) <= room:
            chunks.append(Chunk(start, EncodedEvents(part, encoded, envelope, tail)))
        else:
            for offset, stop, array in _pack(part, start, room, max_bytes):
                encoded_part = EncodedEvents(
                    part[offset - start : stop - start], array, envelope, tail
                )
                chunks.append(Chunk(offset, encoded_part))
    return chunks


def _encode_list(events: list[Event], offset: int) -> bytes:
    try:
        return encode_json(events)
    except (ValueError, TypeError, RecursionError, UnicodeEncodeError):
        # Values the plain walk leaves to the encoder (NaN, infinities, lone surrogates,
        # integers past the int/str limit): find the event, and the field when possible.
        for index, event in enumerate(events):
            normalize_event(event, offset + index)
            try:
                encode_json(event)
            except (ValueError, TypeError, RecursionError, UnicodeEncodeError) as exc:
                raise DriftlockValidationError(
                    f"cannot be encoded as JSON: {exc}", event_index=offset + index
                ) from None
        raise DriftlockValidationError("the events cannot be encoded as JSON") from None


def _pack(
    events: list[Event], offset: int, room: int, max_bytes: int
) -> list[tuple[int, int, bytes]]:
    """Greedy packing by encoded size, for the rare chunk over the body limit: (first index,
    end index, encoded array) triples, indices counted in the caller's list."""
    room -= 2  # the array's brackets
    packed: list[tuple[int, int, bytes]] = []
    start, size = 0, 0
    parts: list[bytes] = []
    for index, event in enumerate(events):
        encoded = encode_json(event)
        if len(encoded) > room:
            raise DriftlockValidationError(
                f"is {len(encoded):,} bytes as JSON, too large for any request: the API takes "
                f"at most {max_bytes:,} bytes per request",
                event_index=offset + index,
            )
        if parts and size + len(encoded) + 1 > room:
            packed.append((offset + start, offset + index, b"[" + b",".join(parts) + b"]"))
            start, size, parts = index, 0, []
        size += len(encoded) + (1 if parts else 0)
        parts.append(encoded)
    packed.append((offset + start, offset + len(events), b"[" + b",".join(parts) + b"]"))
    return packed


# --- the fast path ---------------------------------------------------------------------------
# The walk checks what JSON encoding would silently change: keys that are not strings (it
# turns 1 into "1"). Exact types only: anything else (a tuple, an IntEnum, an OrderedDict, a
# datetime) takes the slow path. NaN and infinities are left to the encoder, which refuses
# them; the slow path then names the field. Nesting past MAX_EVENT_DEPTH also sends the events
# down the slow path, which names the field where the limit is crossed.


def _all_plain(events: list[Any]) -> bool:
    try:
        for event in events:
            # The events' own level inline: one call per event saved is a tenth of the walk.
            if type(event) is not dict:
                return False
            for key, value in event.items():
                if type(key) is not str:
                    return False
                kind = type(value)
                if kind is str or kind is int or kind is float:
                    continue
                if kind is dict:
                    if not _plain_dict(value, 2):
                        return False
                elif kind is list:
                    if not _plain_list(value, 2):
                        return False
                elif kind is not bool and value is not None:
                    return False
    except RecursionError:  # called with little stack left: the slow path decides
        return False
    return True


def _plain_dict(obj: dict[Any, Any], depth: int) -> bool:
    if depth > MAX_EVENT_DEPTH:
        return False
    for key, value in obj.items():
        if type(key) is not str:
            return False
        kind = type(value)
        if kind is str or kind is int or kind is float:
            continue
        if kind is dict:
            if not _plain_dict(value, depth + 1):
                return False
        elif kind is list:
            if not _plain_list(value, depth + 1):
                return False
        elif kind is not bool and value is not None:
            return False
    return True


def _plain_list(obj: list[Any], depth: int) -> bool:
    if depth > MAX_EVENT_DEPTH:
        return False
    for value in obj:
        kind = type(value)
        if kind is str or kind is int or kind is float:
            continue
        if kind is dict:
            if not _plain_dict(value, depth + 1):
                return False
        elif kind is list:
            if not _plain_list(value, depth + 1):
                return False
        elif kind is not bool and value is not None:
            return False
    return True


# --- the slow path ---------------------------------------------------------------------------

Path = tuple[str | int, ...]


def _format_path(path: Path) -> str | None:
    if not path:
        return None
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


class _Normalizer:
    """Converts one event; remembers the containers on the current path to catch cycles."""

    __slots__ = ("active", "index")

    def __init__(self, index: int | None) -> None:
        self.index = index
        self.active: set[int] = set()

    def fail(self, message: str, path: Path) -> DriftlockValidationError:
        return DriftlockValidationError(
            message, event_index=self.index, field_path=_format_path(path)
        )

    def convert(self, obj: object, path: Path) -> Any:
        kind = type(obj)
        if kind is str:
            return self.text(obj, path)  # type: ignore[arg-type]
        if kind is int or kind is bool or obj is None:
            return obj
        if kind is float:
            return self.number(obj, path)  # type: ignore[arg-type]
        if isinstance(obj, Enum):
            return self.convert(obj.value, path)
        if isinstance(obj, str):
            return self.text(str.__str__(obj), path)
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return self.number(float(obj), path)
        if isinstance(obj, Mapping | list | tuple | set | frozenset):
            return self.container(obj, path)
        converted = self.scalar(obj, path)
        if converted is not _UNCONVERTED:
            return converted
        fields = self.fields(obj, path)
        if fields is None:
            raise self.fail(
                f"a value of type {kind.__module__}.{kind.__qualname__} is not JSON "
                "serialisable; convert it to a str, number, bool, list or dict first",
                path,
            )
        self.enter(obj, path)
        try:
            return self.convert(fields, path)
        finally:
            self.active.discard(id(obj))

    def container(self, obj: Any, path: Path) -> Any:
        # An event's own fields are at depth 1; config_override (no index) has no such limit.
        if len(path) >= MAX_EVENT_DEPTH and self.index is not None:
            raise self.fail(
                f"is nested too deeply: the API accepts at most {MAX_EVENT_DEPTH} levels of "
                "objects and arrays",
                path,
            )
        self.enter(obj, path)
        try:
            if isinstance(obj, Mapping):
                out: dict[str, Any] = {}
                for key, value in obj.items():
                    name = self.key(key, path)
                    out[name] = self.convert(value, (*path, name))
                return out
            if isinstance(obj, set | frozenset):
                obj = _ordered(obj)
            return [self.convert(item, (*path, i)) for i, item in enumerate(obj)]
        finally:
            self.active.discard(id(obj))

    def enter(self, obj: object, path: Path) -> None:
        if id(obj) in self.active:
            raise self.fail("circular reference: this value contains itself", path)
        self.active.add(id(obj))

    def key(self, key: object, path: Path) -> str:
        if type(key) is str:
            return key
        if isinstance(key, str):
            return str.__str__(key)
        raise self.fail(
            f"key {key!r} is a {type(key).__name__}: keys of JSON objects must be strings", path
        )

    def text(self, value: str, path: Path) -> str:
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                message = "string is not valid Unicode (it holds a lone surrogate)"
                raise self.fail(message, path) from None
        return value

    def number(self, value: float, path: Path) -> float:
        if not math.isfinite(value):
            raise self.fail(f"{value} is not valid JSON; use None for a missing number", path)
        return value

    def scalar(self, obj: object, path: Path) -> object:
        if isinstance(obj, datetime.date | datetime.time):
            return obj.isoformat()  # datetime is a date: also covered
        if isinstance(obj, uuid.UUID):
            return str(obj)
        if isinstance(obj, Decimal):
            if not obj.is_finite():
                raise self.fail(f"Decimal {obj} is not valid JSON", path)
            return int(obj) if obj == obj.to_integral_value() else float(obj)
        if isinstance(obj, bytes | bytearray | memoryview):
            return base64.b64encode(bytes(obj)).decode("ascii")
        return _UNCONVERTED

    def fields(self, obj: object, path: Path) -> Any:
        """The fields of a model-like object as a mapping, or None when it is not one."""
        kind = type(obj)
        dump = getattr(kind, "model_dump", None)
        if callable(dump):  # Pydantic v2: its own JSON rules (aliases aside) apply
            return self.call(lambda: obj.model_dump(mode="json"), path)  # type: ignore[attr-defined]
        if callable(getattr(kind, "dict", None)) and hasattr(kind, "__fields__"):
            return self.call(obj.dict, path)  # type: ignore[attr-defined]  # Pydantic v1 API
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            names = [f.name for f in dataclasses.fields(obj)]
        elif attrs.has(kind):
            names = [a.name for a in attrs.fields(kind)]
        else:
            return None
        return self.call(lambda: {name: getattr(obj, name) for name in names}, path)

    def call(self, dump: Any, path: Path) -> Any:
        try:
            return dump()
        except Exception as exc:  # whatever the user's model raises, report where
            raise self.fail(f"serialising the model failed: {exc}", path) from exc


_UNCONVERTED: Final = object()


def _ordered(values: set[Any] | frozenset[Any]) -> list[Any]:
    # Sets have no order; sorting keeps identical events byte-identical, which compression
    # (and therefore detection) depends on. Mixed types that cannot be sorted keep set order.
    try:
        return sorted(values)
    except Exception:  # unorderable (TypeError), or a comparison that raises anything else
        return list(values)
