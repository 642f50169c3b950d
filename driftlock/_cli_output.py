"""The command line's output: rich tables on a terminal, plain text when piped, or JSON.

``--output table`` (the default) is for people: rich tables and colours when stdout is a
terminal (and rich is installed: the ``cli`` extra), aligned plain-text columns otherwise, so
``grep`` and ``awk`` work. ``--output json`` prints one JSON document, ``jsonl`` one compact
JSON object per line. Progress bars and notes go to stderr, and only to a terminal.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from driftlock.models import Anomaly, ValueOutlier

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "Output",
    "anomaly_record",
    "number",
    "outlier_record",
    "progress",
]


def number(value: float | None, digits: int = 3) -> str:
    """A metric for a table cell: fixed decimals, or two significant digits when tiny."""
    if value is None:
        return "-"
    if value != 0 and abs(value) < 10**-digits:
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


def _json_default(value: object) -> Any:
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def anomaly_record(anomaly: Anomaly, line: int | None, stream_id: str) -> dict[str, Any]:
    """One detected anomaly for JSON output, located by its input ``line``."""
    return {
        "line": line,
        "stream_id": stream_id,
        "id": anomaly.id,
        "why": anomaly.why,
        "confidence": anomaly.metrics.confidence_level,
        "ncd": anomaly.metrics.ncd,
        "p_value": anomaly.metrics.p_value,
        "metrics": anomaly.metrics.to_dict(),
        "event": anomaly.event,
    }


def outlier_record(outlier: ValueOutlier, line: int | None) -> dict[str, Any]:
    """One value outlier for JSON output, located by its input ``line`` when known."""
    record: dict[str, Any] = {"line": line}
    record.update(outlier.to_dict())
    record.pop("index", None)
    return record


def _rich_console(stream: TextIO) -> Console | None:
    """A rich console on ``stream`` when it is a terminal and rich is installed."""
    if not stream.isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:  # the `cli` extra is not installed: plain text it is
        return None
    return Console(file=stream, highlight=False)


class Output:
    """Where a command's results go, in the chosen ``mode`` (table, json or jsonl)."""

    def __init__(self, mode: str, stdout: TextIO) -> None:
        self.mode = mode
        self.stdout = stdout
        self.console = _rich_console(stdout) if mode == "table" else None

    @property
    def human(self) -> bool:
        """Whether the output is for people (``--output table``)."""
        return self.mode == "table"

    def document(self, value: Any) -> None:
        """Print ``value`` as one indented JSON document."""
        text = json.dumps(value, indent=2, ensure_ascii=False, default=_json_default)
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def record(self, value: Any) -> None:
        """Print ``value`` as one compact JSON line, at once (consumers may be waiting)."""
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def line(self, text: str = "", *, style: str | None = None) -> None:
        """Print a line of text (styled on a terminal), at once."""
        if self.console is not None:
            from rich.text import Text

            self.console.print(Text(text, style=style or ""))
        else:
            self.stdout.write(text + "\n")
            self.stdout.flush()

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """Print rows under ``headers``: a rich table on a terminal, else aligned columns
        (the last one unpadded, as it usually holds free text)."""
        if self.console is not None:
            from rich.table import Table
            from rich.text import Text

            table = Table(*headers, show_lines=False, header_style="bold")
            for row in rows:
                table.add_row(*(Text(cell) for cell in row))  # Text: data is never markup
            self.console.print(table)
            return
        widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
        for row in [list(headers), *rows]:
            cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
            self.stdout.write("  ".join([*cells, row[-1]]).rstrip() + "\n")
        self.stdout.flush()


@contextmanager
def progress(stderr: TextIO, total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on ``stderr`` while the block runs, when it is a terminal (and rich is
    installed); yields a function that advances it. Nothing at all when piped."""
    console = _rich_console(stderr)
    if console is None:
        yield lambda done: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        # Leave sys.stdout alone: results are printed after the bar, not through it.
        redirect_stdout=False,
        redirect_stderr=False,
    )
    with bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.advance(task, done)
