"""Helpers that turn your data into Driftlock events, also offered as ``client.utils``.

:func:`from_dataframe` turns a pandas DataFrame into events, one per row. pandas is optional
(the ``pandas`` extra): this module imports it only when called.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from driftlock.exceptions import DriftlockValidationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Utils", "from_dataframe"]

_PANDAS_HINT: Final = "from_dataframe needs pandas: pip install 'driftlock[pandas]'"


def from_dataframe(
    df: pd.DataFrame,
    timestamp_col: Hashable | None = None,
    body_cols: Sequence[Hashable] | None = None,
    type_col: Hashable | None = None,
) -> list[dict[str, Any]]:
    """One event per row of ``df``, in order: ``{"timestamp": ..., "type": ..., "body": {...}}``.

    ``timestamp_col`` (a column, or the index when it has that name) becomes ``timestamp``;
    ``type_col`` becomes ``type``; ``body_cols`` (by default every other column) go into
    ``body``, keyed by column name. Each key is left out when its column is not given.
    Values come out JSON-ready: NaN, NaT, None and ``pd.NA`` become null; timestamps ISO 8601
    strings (``Z`` for UTC, the offset for other zones, none for naive ones); durations
    seconds; numpy integers, floats and booleans plain Python numbers and booleans; arrays
    lists. An infinite number raises :class:`~driftlock.exceptions.DriftlockValidationError`
    naming the row and the column.
    """
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(_PANDAS_HINT) from exc
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"from_dataframe expects a pandas DataFrame, got {type(df).__name__}")
    if isinstance(body_cols, str):  # a lone name would be read as its letters
        raise TypeError(f"body_cols must be a list of column names, got {body_cols!r}")
    if body_cols is None:
        body_cols = [c for c in df.columns if c != timestamp_col and c != type_col]
    fields: list[tuple[str, list[Any]]] = []
    if timestamp_col is not None:
        fields.append(
            ("timestamp", _values(_column(df, timestamp_col, "timestamp_col"), "timestamp"))
        )
    if type_col is not None:
        fields.append(("type", _values(_column(df, type_col, "type_col"), "type")))
    body: list[tuple[str, list[Any]]] = []
    for col in body_cols:
        name = str(col)
        body.append((name, _values(_column(df, col, "body_cols"), f"body.{name}")))
    events: list[dict[str, Any]] = []
    for row in range(len(df)):
        event = {key: values[row] for key, values in fields}
        event["body"] = {name: values[row] for name, values in body}
        events.append(event)
    return events


def _column(df: pd.DataFrame, name: Hashable, argument: str) -> pd.Series[Any] | pd.Index[Any]:
    import pandas as pd

    if name in df.columns:
        column = df[name]
        if isinstance(column, pd.DataFrame):
            raise ValueError(f"{argument}: the DataFrame has several columns named {name!r}")
        return column
    if name is not None and df.index.name == name:
        return df.index
    names = ", ".join(repr(c) for c in df.columns)
    raise ValueError(f"{argument}: no column {name!r} in the DataFrame (columns: {names})")


class _Path:
    """Where a value sits, for error messages: the event (row) and the field."""

    __slots__ = ("field", "row")

    def __init__(self, field: str) -> None:
        self.field = field
        self.row = 0

    def fail(self, message: str) -> DriftlockValidationError:
        return DriftlockValidationError(message, event_index=self.row, field_path=self.field)


def _values(column: pd.Series[Any] | pd.Index[Any], field: str) -> list[Any]:
    """The column as JSON-ready Python values. Plain numpy dtypes take a fast path: their
    ``tolist`` already gives Python ints, floats and bools."""
    import numpy as np

    values: list[Any] = column.tolist()
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return values
    path = _Path(field)
    convert = _float if isinstance(dtype, np.dtype) and dtype.kind == "f" else _plain
    out: list[Any] = []
    for row, value in enumerate(values):
        path.row = row
        out.append(convert(value, path))
    return out


def _float(value: float, path: _Path) -> float | None:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return None
    raise path.fail(f"{value} is not valid JSON; use NaN or None for a missing number")


def _plain(value: Any, path: _Path) -> Any:
    """One value of any column as JSON-ready Python (unknown types are left to the client's
    event normaliser, which converts UUIDs, decimals, enums and bytes, and names the rest)."""
    import numpy as np
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):  # np.float64 included
        return _float(float(value), path)
    if isinstance(value, str):
        return str(value)  # np.str_ -> str
    if isinstance(value, np.datetime64 | np.timedelta64):
        if np.isnat(value):
            return None
        value = pd.Timestamp(value) if isinstance(value, np.datetime64) else pd.Timedelta(value)
    elif isinstance(value, np.generic):
        return _plain(value.item(), path)
    if isinstance(value, datetime.datetime):  # pd.Timestamp included
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, datetime.timedelta):  # pd.Timedelta included
        return value.total_seconds()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, pd.Period | pd.Interval):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item, path) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(item, path) for item in value]
    return value


class Utils:
    """``client.utils``: helpers that turn your data into events (see :mod:`driftlock.utils`)."""

    __slots__ = ()

    def from_dataframe(
        self,
        df: pd.DataFrame,
        timestamp_col: Hashable | None = None,
        body_cols: Sequence[Hashable] | None = None,
        type_col: Hashable | None = None,
    ) -> list[dict[str, Any]]:
        """One event per row of ``df``: see :func:`driftlock.utils.from_dataframe`."""
        return from_dataframe(
            df, timestamp_col=timestamp_col, body_cols=body_cols, type_col=type_col
        )

    def __repr__(self) -> str:
        return "Utils()"
