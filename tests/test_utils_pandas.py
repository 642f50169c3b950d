"""`from_dataframe`: real DataFrames in, events the API takes out."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import numpy as np
import pandas as pd
import pytest

from driftlock import DriftlockClient, DriftlockSyncClient, DriftlockValidationError
from driftlock.utils import from_dataframe


@pytest.fixture
def local_url() -> str:
    return f"local://pandas-{uuid.uuid4().hex}"


def vendor_frame() -> pd.DataFrame:
    """The DataFrame of the vendor's pandas example, with its timestamps filled in."""
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2025-01-01T12:00:00Z", periods=5, freq="min"),
            "value": [10, 12, 11, 100, 10],
            "category": ["A", "A", "A", "A", "A"],
        }
    )


def test_the_vendor_example_shape() -> None:
    with DriftlockSyncClient(base_url="local://") as client:
        events = client.utils.from_dataframe(
            vendor_frame(), timestamp_col="timestamp", body_cols=["value", "category"]
        )
    assert events[0] == {
        "timestamp": "2025-01-01T12:00:00Z",
        "body": {"value": 10, "category": "A"},
    }
    assert [e["body"]["value"] for e in events] == [10, 12, 11, 100, 10]
    assert events[4]["timestamp"] == "2025-01-01T12:04:00Z"


async def test_the_vendor_example_detects_with_the_async_client(local_url: str) -> None:
    events = from_dataframe(
        vendor_frame(), timestamp_col="timestamp", body_cols=["value", "category"]
    )
    async with DriftlockClient(base_url=local_url) as client:
        result = await client.detect(stream_id="pandas-stream", events=events)
    assert (result.success, result.total_events) == (True, 5)


def test_a_large_frame_goes_through_the_sync_client(local_url: str) -> None:
    rng = np.random.default_rng(7)
    df = pd.DataFrame(
        {
            "ts": pd.date_range("2024-05-01", periods=1500, freq="s", tz="UTC"),
            "latency_ms": rng.lognormal(3.5, 0.3, 1500).round(1),
            "status": rng.choice([200, 200, 200, 404], 1500),
            "route": rng.choice(["/", "/api/items", "/login"], 1500),
        }
    )
    df.loc[1400, "latency_ms"] = 9000.0
    events = from_dataframe(df, timestamp_col="ts", type_col="route")
    with DriftlockSyncClient(base_url=local_url) as client:
        result = client.detect(stream_id="frame", events=events)
    assert result.total_events == 1500
    assert any(o.index == 1400 and o.field_path == "body.latency_ms" for o in result.value_outliers)


def test_missing_values_become_null() -> None:
    df = pd.DataFrame(
        {
            "f": [1.5, np.nan],
            "t": pd.to_datetime(["2025-01-01", None]),
            "s": ["a", None],
            "o": [object(), None],
            "ni": pd.array([1, None], dtype="Int64"),
            "nb": pd.array([True, None], dtype="boolean"),
            "nf": pd.array([0.5, None], dtype="Float64"),
            "c": pd.Categorical(["x", None]),
            "d": pd.to_timedelta(["1s", None]),
        }
    )
    body = from_dataframe(df.drop(columns="o"))[1]["body"]
    assert body == dict.fromkeys(["f", "t", "s", "ni", "nb", "nf", "c", "d"])
    assert from_dataframe(df[["o"]])[1] == {"body": {"o": None}}


def test_timestamps_are_iso_8601_with_their_zone() -> None:
    moments = pd.to_datetime(["2025-03-01T08:30:00.250Z", "2025-07-01T23:59:59Z"], format="ISO8601")
    df = pd.DataFrame(
        {
            "utc": moments,
            "paris": moments.tz_convert("Europe/Paris"),
            "naive": moments.tz_localize(None),
            "nanos": pd.to_datetime(["2025-01-01 00:00:00.000000001", None]),
            "date": [pd.Timestamp("2025-01-02").date(), None],
        }
    )
    events = from_dataframe(df, timestamp_col="utc")
    assert [e["timestamp"] for e in events] == [
        "2025-03-01T08:30:00.250000Z",
        "2025-07-01T23:59:59Z",
    ]
    assert [e["body"]["paris"] for e in events] == [
        "2025-03-01T09:30:00.250000+01:00",
        "2025-07-02T01:59:59+02:00",
    ]
    assert [e["body"]["naive"] for e in events] == [
        "2025-03-01T08:30:00.250000",
        "2025-07-01T23:59:59",
    ]
    assert events[0]["body"]["nanos"] == "2025-01-01T00:00:00.000000001"
    assert events[0]["body"]["date"] == "2025-01-02"


def _types(value: Any) -> Any:
    """The exact Python types inside ``value``."""
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value)


def test_numpy_values_become_plain_python() -> None:
    df = pd.DataFrame(
        {
            "i8": np.array([1, 2], dtype=np.int8),
            "u64": np.array([2**63, 1], dtype=np.uint64),
            "f32": np.array([0.5, 1.5], dtype=np.float32),
            "b": np.array([True, False]),
            "mixed": pd.Series([np.int64(5), np.float64(2.5)], dtype=object),
            "flags": [np.bool_(True), np.bool_(False)],
            "s": [np.str_("x"), "y"],
            "arr": [np.array([1, 2]), np.array([np.nan, 0.5])],
            "nested": [{"k": np.int16(3), "when": np.datetime64("2025-01-01T00:00")}, {}],
            "dt64": [np.datetime64("NaT"), np.timedelta64(90, "s")],
        }
    )
    first, second = (event["body"] for event in from_dataframe(df))
    assert first == {
        "i8": 1,
        "u64": 2**63,
        "f32": 0.5,
        "b": True,
        "mixed": 5,
        "flags": True,
        "s": "x",
        "arr": [1, 2],
        "nested": {"k": 3, "when": "2025-01-01T00:00:00"},
        "dt64": None,
    }
    assert second["dt64"] == 90.0
    assert second["arr"] == [None, 0.5]
    assert _types(first) == {
        "i8": int,
        "u64": int,
        "f32": float,
        "b": bool,
        "mixed": int,
        "flags": bool,
        "s": str,
        "arr": [int, int],
        "nested": {"k": int, "when": str},
        "dt64": type(None),
    }
    json.dumps(from_dataframe(df), allow_nan=False)  # strict JSON, no NaN anywhere


def test_column_selection() -> None:
    df = pd.DataFrame(
        {"when": ["t0", "t1"], "kind": ["login", "logout"], "user": [1, 2], "ms": [5, 6]}
    )
    assert from_dataframe(df)[0] == {"body": {"when": "t0", "kind": "login", "user": 1, "ms": 5}}
    assert from_dataframe(df, timestamp_col="when", type_col="kind")[1] == {
        "timestamp": "t1",
        "type": "logout",
        "body": {"user": 2, "ms": 6},
    }
    assert from_dataframe(df, body_cols=["ms"], type_col="kind")[0] == {
        "type": "login",
        "body": {"ms": 5},
    }
    indexed = df.set_index(pd.DatetimeIndex(["2025-01-01", "2025-01-02"], name="at"))
    assert from_dataframe(indexed, timestamp_col="at", body_cols=[])[1] == {
        "timestamp": "2025-01-02T00:00:00",
        "body": {},
    }
    numbered = pd.DataFrame({0: [1], 1: ["a"]})
    assert from_dataframe(numbered) == [{"body": {"0": 1, "1": "a"}}]
    assert from_dataframe(df.iloc[0:0]) == []


def test_infinity_is_refused_with_its_row_and_column() -> None:
    df = pd.DataFrame({"value": [1.0, 2.0, np.inf]})
    with pytest.raises(DriftlockValidationError) as caught:
        from_dataframe(df)
    assert (caught.value.event_index, caught.value.field_path) == (2, "body.value")
    assert str(caught.value).startswith("event 2, field body.value: inf is not valid JSON")


def test_bad_arguments_are_explained() -> None:
    df = pd.DataFrame({"a": [1], "b": [2]})
    with pytest.raises(
        ValueError, match=r"timestamp_col: no column 'ts' in the DataFrame \(columns: 'a', 'b'\)"
    ):
        from_dataframe(df, timestamp_col="ts")
    with pytest.raises(TypeError, match="body_cols must be a list of column names"):
        from_dataframe(df, body_cols="a")
    with pytest.raises(TypeError, match="expects a pandas DataFrame, got list"):
        from_dataframe([{"a": 1}])  # type: ignore[arg-type]
    twice = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(ValueError, match="several columns named 'a'"):
        from_dataframe(twice)


def test_without_pandas_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'driftlock\[pandas\]'"):
        from_dataframe(object())  # type: ignore[arg-type]


def test_driftlock_imports_without_pandas() -> None:
    code = (
        "import sys; sys.modules['pandas'] = None; sys.modules['numpy'] = None\n"
        "import driftlock, driftlock.utils\n"
        "print(driftlock.utils.Utils())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "Utils()\n", "")
