"""SQLite storage for the embedded engine: streams, anomalies, feedback, tuning and idempotency.

One connection per engine, guarded by a lock. With a path the database is a file in WAL mode and
every change is committed before the engine answers; without one it is an in-memory database,
so both modes share the same queries.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

__all__ = ["AnomalyFilter", "AnomalyRow", "EventLog", "Storage", "StreamRow", "TuneRow"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS streams (
    name TEXT PRIMARY KEY,
    profile TEXT NOT NULL,
    auto_tune INTEGER NOT NULL,
    adaptive_window INTEGER NOT NULL,
    anchor_enabled INTEGER NOT NULL,
    detector TEXT NOT NULL,
    history_from INTEGER
);
CREATE TABLE IF NOT EXISTS history (
    stream TEXT NOT NULL,
    idx INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (stream, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS field_tokens (
    stream TEXT NOT NULL,
    first_idx INTEGER NOT NULL,
    last_idx INTEGER NOT NULL,
    tokens TEXT NOT NULL,
    PRIMARY KEY (stream, first_idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS anchor_events (
    stream TEXT PRIMARY KEY,
    anchor_id TEXT NOT NULL,
    events TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS anomalies (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    stream_id TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS anomalies_by_stream ON anomalies (stream_id, seq);
CREATE TABLE IF NOT EXISTS feedback (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id TEXT NOT NULL,
    anomaly_id TEXT NOT NULL,
    feedback_type TEXT NOT NULL,
    reason TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_by_stream ON feedback (stream_id);
CREATE TABLE IF NOT EXISTS tune_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id TEXT NOT NULL,
    tune_type TEXT NOT NULL,
    old_value REAL NOT NULL,
    new_value REAL NOT NULL,
    reason TEXT NOT NULL,
    confidence REAL NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tune_history_by_stream ON tune_history (stream_id, seq);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS idempotency_by_age ON idempotency (created_at);
"""


# History lines are stored as bytes: events may hold unpaired surrogates, which SQLite text
# cannot carry.
_TEXT_CODEC: Final = ("utf-8", "surrogatepass")


class EventLog(Protocol):
    """The bulky parts of a detector's state, which :meth:`Storage.save_stream` writes only as
    far as they are new: its event history, the field tokens of its newest events, and the
    events of its drift anchor (see ``StreamDetector.snapshot(bulk=False)``)."""

    events_ingested: int

    @property
    def history_start(self) -> int: ...

    def history_since(self, index: int) -> list[bytes]: ...

    @property
    def tokens_start(self) -> int: ...

    def tokens_since(self, index: int) -> list[list[str]]: ...

    @property
    def anchor(self) -> Any: ...  # with an ``id`` when not None

    @property
    def anchor_events(self) -> list[bytes]: ...


@dataclass(slots=True)
class StreamRow:
    """A stream's persisted state: its settings switches and its detector's snapshot (the
    whole of it when loaded; without its bulky parts when saved, see :class:`EventLog`)."""

    name: str
    profile: str
    auto_tune: bool
    adaptive_window: bool
    anchor_enabled: bool
    detector: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AnomalyRow:
    """A stored anomaly; ``data`` holds the scores, explanation, event and metrics."""

    id: str
    stream_id: str
    detected_at: str
    status: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TuneRow:
    """One threshold change made by feedback tuning."""

    tune_type: str
    old_value: float
    new_value: float
    reason: str
    confidence: float
    created_at: str


@dataclass(frozen=True, slots=True)
class AnomalyFilter:
    """Filters and paging of an anomaly listing; instants are fixed-width ISO 8601 UTC text."""

    stream_id: str | None = None
    since: str | None = None
    until: str | None = None
    status: str | None = None
    limit: int = 50
    offset: int = 0


class Storage:
    """The engine's database; every method is atomic and safe to call from any thread."""

    def __init__(self, path: Path | None = None) -> None:
        self.persistent = path is not None
        target = str(path) if path is not None else ":memory:"
        # Autocommit mode: transactions are opened explicitly by `atomic`.
        self._conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        self._lock = threading.RLock()
        if self.persistent:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL survives a killed process (only power loss can drop the last
            # commits), and skips an fsync per request.
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the connection; later calls fail."""
        with self._lock:
            self._conn.close()

    def ping(self) -> bool:
        """Whether the database answers a trivial query."""
        try:
            with self._lock:
                self._conn.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Group the calls made inside into one transaction, committed on exit."""
        with self._lock:
            if self._conn.in_transaction:
                yield
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # streams

    def load_stream(self, name: str) -> StreamRow | None:
        """The stored stream called ``name``, if any, with its detector's whole snapshot."""
        with self._lock:
            row = self._conn.execute(
                "SELECT name, profile, auto_tune, adaptive_window, anchor_enabled, detector,"
                " history_from FROM streams WHERE name = ?",
                (name,),
            ).fetchone()
            if row is None:
                return None
            detector = json.loads(row[5])
            if row[6] is not None:
                lines = self._conn.execute(
                    "SELECT data FROM history WHERE stream = ? AND idx >= ? ORDER BY idx",
                    (name, row[6]),
                ).fetchall()
                detector["history"] = [bytes(line[0]).decode(*_TEXT_CODEC) for line in lines]
            # Saved apart, unless the row predates that (then they are in the snapshot).
            if "recent" not in detector["fields"]:
                chunks = self._conn.execute(
                    "SELECT tokens FROM field_tokens WHERE stream = ? ORDER BY first_idx",
                    (name,),
                ).fetchall()
                tokens = [t for chunk in chunks for t in json.loads(chunk[0])]
                kept = detector["events_ingested"] - detector.pop("tokens_start")
                detector["fields"]["recent"] = tokens[len(tokens) - kept :]
            if "anchor_events" not in detector:
                anchor = self._conn.execute(
                    "SELECT events FROM anchor_events WHERE stream = ?", (name,)
                ).fetchone()
                detector["anchor_events"] = json.loads(anchor[0]) if anchor else []
        return StreamRow(
            name=row[0],
            profile=row[1],
            auto_tune=bool(row[2]),
            adaptive_window=bool(row[3]),
            anchor_enabled=bool(row[4]),
            detector=detector,
        )

    def save_stream(self, stream: StreamRow, log: EventLog) -> None:
        """Insert or replace a stream's state: ``stream.detector`` is its detector's snapshot
        without the bulky parts, which come from ``log`` and are written only as far as they
        are new.

        The event history (thousands of events) gets a row per event: the new ones are
        inserted and those the detector dropped are deleted. The field tokens of the newest
        events (up to 1000) go in chunks, one per save; the anchor's events only when the
        anchor changed.
        """
        name = stream.name
        end = log.events_ingested
        detector = dict(stream.detector)
        with self._lock:
            history_from = log.history_start
            stored = self._conn.execute(
                "SELECT MAX(idx) FROM history WHERE stream = ?", (name,)
            ).fetchone()[0]
            write_from = history_from if stored is None else max(history_from, stored + 1)
            self._conn.execute(
                "DELETE FROM history WHERE stream = ? AND (idx < ? OR idx >= ?)",
                (name, history_from, end),
            )
            self._conn.executemany(
                "INSERT OR REPLACE INTO history (stream, idx, data) VALUES (?, ?, ?)",
                [
                    (name, idx, data)
                    for idx, data in enumerate(log.history_since(write_from), write_from)
                ],
            )
            self._save_tokens(name, end, log)
            detector["tokens_start"] = log.tokens_start
            self._save_anchor_events(name, log)
            self._conn.execute(
                "INSERT OR REPLACE INTO streams (name, profile, auto_tune, adaptive_window,"
                " anchor_enabled, detector, history_from) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    stream.profile,
                    int(stream.auto_tune),
                    int(stream.adaptive_window),
                    int(stream.anchor_enabled),
                    json.dumps(detector, separators=(",", ":")),
                    history_from,
                ),
            )

    def _save_tokens(self, name: str, end: int, log: EventLog) -> None:
        """Keep chunks covering the field tokens of events ``[log.tokens_start, end)``."""
        start = log.tokens_start
        first, last = self._conn.execute(
            "SELECT MIN(first_idx), MAX(last_idx) FROM field_tokens WHERE stream = ?", (name,)
        ).fetchone()
        # Chunks are written end to end, so they cover [first, last] without gaps.
        if first is None or first > start or last < start - 1 or last >= end:
            self._conn.execute("DELETE FROM field_tokens WHERE stream = ?", (name,))
            write_from = start
        else:
            self._conn.execute(
                "DELETE FROM field_tokens WHERE stream = ? AND last_idx < ?", (name, start)
            )
            write_from = last + 1
        if write_from < end:
            self._conn.execute(
                "INSERT INTO field_tokens (stream, first_idx, last_idx, tokens)"
                " VALUES (?, ?, ?, ?)",
                (
                    name,
                    write_from,
                    end - 1,
                    json.dumps(log.tokens_since(write_from), separators=(",", ":")),
                ),
            )

    def _save_anchor_events(self, name: str, log: EventLog) -> None:
        anchor_id = "" if log.anchor is None else str(log.anchor.id)
        stored = self._conn.execute(
            "SELECT anchor_id FROM anchor_events WHERE stream = ?", (name,)
        ).fetchone()
        if stored is None or stored[0] != anchor_id:
            events = [data.decode(*_TEXT_CODEC) for data in log.anchor_events]
            self._conn.execute(
                "INSERT OR REPLACE INTO anchor_events (stream, anchor_id, events) VALUES (?, ?, ?)",
                (name, anchor_id, json.dumps(events, separators=(",", ":"))),
            )

    # anomalies

    def insert_anomalies(self, rows: Sequence[AnomalyRow]) -> None:
        """Store new anomalies, in the order given (later ones count as newer)."""
        with self._lock:
            self._conn.executemany(
                "INSERT INTO anomalies (id, stream_id, detected_at, status, data)"
                " VALUES (?, ?, ?, ?, ?)",
                [(r.id, r.stream_id, r.detected_at, r.status, json.dumps(r.data)) for r in rows],
            )

    def get_anomaly(self, anomaly_id: str) -> AnomalyRow | None:
        """One anomaly by id."""
        with self._lock:
            row = self._conn.execute(
                "SELECT id, stream_id, detected_at, status, data FROM anomalies WHERE id = ?",
                (anomaly_id,),
            ).fetchone()
        return None if row is None else _anomaly_row(row)

    def list_anomalies(self, query: AnomalyFilter) -> tuple[list[AnomalyRow], int]:
        """One page of anomalies, newest first, and the number matching the filters."""
        clauses: list[str] = []
        params: list[object] = []
        for clause, value in (
            ("stream_id = ?", query.stream_id),
            ("detected_at >= ?", query.since),
            ("detected_at <= ?", query.until),
            ("status = ?", query.status),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            (total,) = self._conn.execute(
                f"SELECT COUNT(*) FROM anomalies{where}", params
            ).fetchone()
            rows = self._conn.execute(
                f"SELECT id, stream_id, detected_at, status, data FROM anomalies{where}"
                " ORDER BY seq DESC LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            ).fetchall()
        return [_anomaly_row(r) for r in rows], int(total)

    def set_anomaly_status(self, anomaly_id: str, status: str) -> None:
        """Change an anomaly's status (open, acknowledged, resolved)."""
        with self._lock:
            self._conn.execute("UPDATE anomalies SET status = ? WHERE id = ?", (status, anomaly_id))

    # feedback and tuning

    def add_feedback(
        self, stream_id: str, anomaly_id: str, feedback_type: str, reason: str | None, at: str
    ) -> None:
        """Record one piece of feedback on an anomaly."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO feedback (stream_id, anomaly_id, feedback_type, reason, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (stream_id, anomaly_id, feedback_type, reason, at),
            )

    def feedback_counts(self, stream_id: str) -> dict[str, int]:
        """How many feedbacks of each type the stream received."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT feedback_type, COUNT(*) FROM feedback WHERE stream_id = ?"
                " GROUP BY feedback_type",
                (stream_id,),
            ).fetchall()
        return {str(kind): int(count) for kind, count in rows}

    def add_tuning(self, stream_id: str, entries: Sequence[TuneRow]) -> None:
        """Append threshold changes to the stream's tuning history."""
        with self._lock:
            self._conn.executemany(
                "INSERT INTO tune_history (stream_id, tune_type, old_value, new_value, reason,"
                " confidence, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        stream_id,
                        e.tune_type,
                        e.old_value,
                        e.new_value,
                        e.reason,
                        e.confidence,
                        e.created_at,
                    )
                    for e in entries
                ],
            )

    def tuning_history(self, stream_id: str, limit: int = 100) -> list[TuneRow]:
        """The stream's most recent threshold changes, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT tune_type, old_value, new_value, reason, confidence, created_at"
                " FROM tune_history WHERE stream_id = ? ORDER BY seq DESC LIMIT ?",
                (stream_id, limit),
            ).fetchall()
        return [TuneRow(*row) for row in rows]

    # idempotency

    def get_idempotent(self, key: str) -> tuple[str, dict[str, Any]] | None:
        """The request fingerprint and response stored under an idempotency key."""
        with self._lock:
            row = self._conn.execute(
                "SELECT fingerprint, response FROM idempotency WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else (str(row[0]), json.loads(row[1]))

    def put_idempotent(
        self, key: str, fingerprint: str, response: dict[str, Any], now: float, keep: float
    ) -> None:
        """Remember a response under a key, forgetting keys older than ``keep`` seconds."""
        with self._lock:
            self._conn.execute("DELETE FROM idempotency WHERE created_at < ?", (now - keep,))
            self._conn.execute(
                "INSERT OR REPLACE INTO idempotency (key, fingerprint, response, created_at)"
                " VALUES (?, ?, ?, ?)",
                (key, fingerprint, json.dumps(response, separators=(",", ":")), now),
            )


def _anomaly_row(row: tuple[Any, ...]) -> AnomalyRow:
    return AnomalyRow(
        id=row[0], stream_id=row[1], detected_at=row[2], status=row[3], data=json.loads(row[4])
    )
