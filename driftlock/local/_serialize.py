"""Events to canonical bytes: secret redaction, compact JSON and masking of volatile tokens.

The detector compares events by how well they compress against each other, so two events that
differ only by a timestamp, a request id or an address must serialise to the same bytes. Every
event goes through :func:`serialize_event`: secrets are redacted, the event becomes compact JSON
with sorted keys (one line), and volatile tokens are replaced by short placeholders.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime, time
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

__all__ = [
    "REDACTED",
    "canonical_json",
    "is_secret_key",
    "mask_volatile",
    "redact_secrets",
    "serialize_event",
]

REDACTED = "[REDACTED]"

# Keys compared case-insensitively, with "-" read as "_" (so "X-Api-Key" matches "x_api_key").
_SECRET_KEYS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "token",
        "secret",
        "api_key",
        "apikey",
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "x_api_key",
        "access_token",
        "refresh_token",
        "id_token",
        "auth_token",
        "session_token",
        "client_secret",
        "private_key",
    }
)
_SECRET_SUFFIXES = ("_password", "_passwd", "_token", "_secret", "_api_key", "_apikey")

# Memo of key -> is secret. Event keys repeat endlessly, so this turns the check into one dict
# lookup; it stops growing at a bound so that hostile keys cannot exhaust memory.
_KEY_MEMO: dict[str, bool] = {}
_KEY_MEMO_MAX = 8192


def is_secret_key(key: str) -> bool:
    """Whether values under ``key`` are redacted (case-insensitive, ``-`` read as ``_``)."""
    known = _KEY_MEMO.get(key)
    if known is not None:
        return known
    norm = key.lower().replace("-", "_")
    secret = norm in _SECRET_KEYS or norm.endswith(_SECRET_SUFFIXES)
    if len(_KEY_MEMO) < _KEY_MEMO_MAX:
        _KEY_MEMO[key] = secret
    return secret


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _redact_value(value: Any) -> Any:
    """``value`` with secrets redacted; the very same object when nothing needed redacting."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, Mapping):
        return _redact_mapping(value)
    if isinstance(value, list | tuple):
        changed = False
        items = []
        for item in value:
            new = _redact_value(item)
            changed = changed or new is not item
            items.append(new)
        return items if changed else value
    return value


def _redact_mapping(event: Mapping[Any, Any]) -> Mapping[Any, Any]:
    out: dict[Any, Any] | None = None
    memo = _KEY_MEMO
    for key, value in event.items():
        # The memo answers for almost every key, and most values are plain scalars: both
        # checks stay cheap on the hot path (an isinstance against Mapping is not).
        secret = memo.get(key) if type(key) is str else None
        if secret is None:
            secret = isinstance(key, str) and is_secret_key(key)
        if secret:
            new: Any = REDACTED
        elif type(value) in _SCALARS:
            continue
        elif isinstance(value, Mapping | list | tuple):
            new = _redact_value(value)
        else:
            continue
        if new is not value:
            if out is None:
                out = dict(event)
            out[key] = new
    return event if out is None else out


def redact_secrets(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """Replace the values of secret-bearing keys, at any depth, by ``"[REDACTED]"``.

    Secret keys include password, passwd, token, secret, api_key, apikey, authorization, cookie,
    set-cookie and x-api-key (case-insensitive), and keys ending in ``_token``, ``_secret`` or
    ``_password``. The input is never mutated: containers on the path to a redacted value are
    copied, and an event without secrets is returned as is (the common, fast case).
    """
    return _redact_mapping(event)


def _json_default(value: Any) -> Any:
    """Make the values that ``json`` cannot encode JSON-safe, deterministically."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | set | frozenset):
        items = list(value)
        if isinstance(value, set | frozenset):
            items.sort(key=repr)
        return items
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", "replace")
    return str(value)


_ENCODER = json.JSONEncoder(
    ensure_ascii=False,  # keeps "\\u00e9" escapes from turning into maskable 4-digit runs
    separators=(",", ":"),
    sort_keys=True,
    default=_json_default,
)


def _string_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_string_keys(v) for v in value]
    return value


# The C encoder that _ENCODER.encode builds on every call, built once. It skips the check for
# cycles: a cyclic event fails with RecursionError, and the slow path then reports it as
# _ENCODER does.
_C_ENCODE = (
    None
    if c_make_encoder is None
    else c_make_encoder(None, _json_default, encode_basestring, None, ":", ",", True, False, True)
)


def canonical_json(event: Mapping[str, Any]) -> str:
    """Compact JSON of ``event`` with sorted keys, no spaces and non-ASCII kept as is."""
    if not isinstance(event, dict):
        event = dict(event)
    if _C_ENCODE is not None:
        try:
            return "".join(_C_ENCODE(event, 0))
        except Exception:
            pass  # the slow path below gives the same text, or raises the same error
    try:
        return _ENCODER.encode(event)
    except TypeError:
        # Keys of mixed types cannot be sorted: compare them as the strings JSON makes of them.
        return _ENCODER.encode(_string_keys(event))


# One pass over the text. A base64 or JWT candidate must start a run of base64 characters and
# be long enough; the other shapes start with a hex digit or a colon. The lookaheads let the
# engine skip most positions at once (masking is on the hot path). Within a branch the more
# specific shape wins: a timestamp or a UUID before a hex run, an address before a number.
_JWT = r"(?P<jwt>eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*)"
_B64 = r"(?P<b64>[A-Za-z0-9+/_-]{24,}={0,2})"
_TS = r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_SHAPES = (
    rf"(?P<ts>{_TS})"
    r"|(?P<uuid>\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b)"
    r"|(?P<ip6>(?<![\w:.])(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}"
    r"|(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?::"
    r"(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?)(?![\w:]))"
    r"|(?P<hex>\b[0-9A-Fa-f]{16,}\b)"
    r"|(?P<ip4>\b(?:\d{1,3}\.){3}\d{1,3}\b)"
    r"|(?P<num>\d{4,})"
)
_VOLATILE = re.compile(
    rf"(?<![A-Za-z0-9+/_-])(?=[A-Za-z0-9+/_-]{{24}}|eyJ)(?:{_JWT}|{_B64})"
    rf"|(?=[0-9A-Fa-f:])(?:{_SHAPES})"
)
# A piece that is one timestamp in ASCII digits (the commonest volatile value) masks to "<ts>":
# no base64 or JWT run can start it (a '-', ':' or ' ' comes within 13 characters), and the
# greedy match of the timestamp shape from its start is the whole piece. (Other digits fail
# _VOLATILE's [0-9A-Fa-f:] lookahead, hence ASCII.)
_WHOLE_TIMESTAMP = re.compile(_TS, re.ASCII)
# Inside a long run that is not base64 (a path, a snake_case name) the other shapes still apply.
_VOLATILE_INNER = re.compile(rf"(?=[0-9A-Fa-f:])(?:{_SHAPES})")
_PLACEHOLDER = {
    "jwt": "<jwt>",
    "ts": "<ts>",
    "uuid": "<uuid>",
    "ip6": "<ip>",
    "hex": "<hex>",
    "ip4": "<ip>",
    "num": "<num>",
}
_HAS_DIGIT = re.compile(r"\d")
_HAS_UPPER = re.compile(r"[A-Z]")
_HAS_LOWER = re.compile(r"[a-z]")


def _replace(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind != "b64":
        return _PLACEHOLDER[kind or "num"]
    run = match.group()
    # Random base64 mixes digits with both cases; a long word, path or snake_case name does not.
    if _HAS_DIGIT.search(run) and _HAS_UPPER.search(run) and _HAS_LOWER.search(run):
        return "<b64>"
    return _VOLATILE_INNER.sub(_replace, run)


# Pieces of text known to hold no volatile token. JSON repeats its keys and most of its values
# endlessly, so masking mostly becomes set lookups; bounded like _KEY_MEMO, and only short
# pieces are kept.
_CLEAN: set[str] = set()
_CLEAN_MAX = 16384
_CLEAN_PIECE_MAX = 128


def mask_volatile(text: str) -> str:
    """Replace volatile tokens in ``text`` by placeholders.

    ``<ts>`` ISO-8601 dates and timestamps, ``<uuid>`` UUIDs, ``<hex>`` hex runs of 16+ digits
    (hashes, trace ids), ``<jwt>`` JSON web tokens, ``<ip>`` IPv4 and IPv6 addresses, ``<b64>``
    base64 runs of 24+ characters mixing digits, upper and lower case, ``<num>`` numbers of 4+
    digits (epoch times, ids, counters, and the 4+ digit runs of decimals).
    """
    # No token contains '"', and every boundary test the patterns make (\b, the lookarounds)
    # treats '"' exactly like the start or end of the text. So the pieces between quotes mask
    # independently, with the same result as the whole text, and most are already known clean.
    clean = _CLEAN
    pieces = text.split('"')
    for position, piece in enumerate(pieces):
        if piece in clean:
            continue
        if _WHOLE_TIMESTAMP.fullmatch(piece):
            pieces[position] = "<ts>"
            continue
        masked = _VOLATILE.sub(_replace, piece)
        if masked != piece:
            pieces[position] = masked
        elif len(piece) <= _CLEAN_PIECE_MAX:
            if len(clean) >= _CLEAN_MAX:
                clean.clear()
            clean.add(piece)
    return '"'.join(pieces)


def serialize_event(event: Mapping[str, Any]) -> bytes:
    """The bytes the detector compresses: redacted, canonical, masked JSON as UTF-8 (one line)."""
    return mask_volatile(canonical_json(redact_secrets(event))).encode("utf-8", "surrogatepass")
