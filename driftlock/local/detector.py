"""Per-stream compression-based anomaly detection (CBAD): the detection core of the local engine.

Every event becomes canonical, masked bytes (:mod:`driftlock.local._serialize`). A stream keeps
its recent events; once it holds ``baseline_size + window_size`` of them, four signals run. The
window is the newest ``window_size`` events, the baseline the ``baseline_size`` before it.

``event_novelty`` (every event)
    The event's compressed size given the baseline (a raw-content dictionary, reused while it
    trails the exact baseline by at most 10 events; the baseline excludes the window, so the
    events of a burst do not hide each other),
    turned into an empirical p-value against the same size for ordinary recent events: a
    rolling reservoir of unflagged scores, bootstrapped at readiness by scoring held-out folds,
    with an exponential tail fitted to its top decile where it is too small to reach the p
    needed. Catches a single odd event.
``window_burst`` (once per hop)
    The window's compression ratio against shuffled splits of baseline + window (a seeded
    permutation test), two-sided: repeated, ordinary-looking events make the window *more*
    compressible, varied odd ones less. The shuffled splits are a rolling cache, a few new ones
    per hop, aged out after one baseline + window span: a handful of compressions per hop, not
    hundreds. Events already reported are left out of both sides (an old incident still in the
    baseline would otherwise make ordinary windows look unusual), and the window must also lie
    beyond every recent window's ratio.
``field_burst`` and ``value_burst`` (once per hop)
    Masking hides numbers of 4+ digits, and compression barely notices a frequency shift (sixty
    404s on a common route cost little more than sixty 200s), so fields are profiled too: the
    masked values of low-cardinality fields (status, method, route, host...), and numbers beyond
    3 decayed standard deviations. A value far more frequent in the window than in the stream's
    decayed history (weights halve every 1000 events) fires: exact binomial tail, Bonferroni
    over the distinct values the window holds.

Calibration: every decision is a p-value derived from ``p_value_threshold``, read as the budget
of false alarms per window of clean events. Half of it goes to the per-event test (Bonferroni
over the window's events: ``p / (2 * window_size)`` per event), the other half to each hop's
window tests (``p / (2 * window_size)`` per hop, split evenly between the compression test and
the field tests). ``ncd_threshold`` is an effect-size floor on event novelty: besides being
significant, that share of the event's compressed size at least must be new, beyond the typical
event's (``(size - typical) / size >= ncd_threshold``). The window's NCD to its baseline is
reported in ``metrics`` and ``why`` but decides nothing: between a large baseline and a small
window it sits near 1 - C(window) / C(baseline) whatever the traffic. ``permutation_count``
caps the shuffled splits the window null keeps.

Reporting: each event at most once. Event novelty reports an event on arrival; a window-level
signal reports the not-yet-reported events of the hop that fired (those of the current batch)
that carry the burst: its field value or outlier, or for the compression test the events the
rest of the window explains better than the baseline does (repetitive window) or that are
individually unusual (varied window).

Drift: the first baseline becomes the stream's anchor when the stream first becomes ready for
detection (see :meth:`StreamDetector.process` for the score).

Deterministic: seeded randomness only, no clock in any decision, and a snapshot holds all state,
so restoring it and feeding the same events gives the same output.
"""

from __future__ import annotations

import array
import bisect
import functools
import math
import operator
import random
import struct
import sys
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import chain, islice, pairwise
from typing import Any, Final

from driftlock.local._compress import (
    ALGORITHMS,
    FALLBACKS,
    CompressorChoice,
    DictionaryCompressor,
    SizeCompressor,
    choose_compressor,
)
from driftlock.local._serialize import (
    REDACTED,
    canonical_json,
    is_secret_key,
    mask_volatile,
    redact_secrets,
)

__all__ = [
    "DRIFT_NCD_THRESHOLD",
    "HISTORY_CAP",
    "MAX_BASELINE_SIZE",
    "MAX_WINDOW_SIZE",
    "PROFILES",
    "AnchorInfo",
    "BatchResult",
    "Detection",
    "DetectorSettings",
    "StreamDetector",
]

MAX_BASELINE_SIZE: Final = 10_000
MAX_WINDOW_SIZE: Final = 1_000
HISTORY_CAP: Final = MAX_BASELINE_SIZE + MAX_WINDOW_SIZE
"""Events a stream keeps: what the largest allowed baseline plus window need."""
DRIFT_NCD_THRESHOLD: Final = 0.35
SNAPSHOT_VERSION: Final = 1

_RESERVOIR_CAP = 2000  # ordinary event scores kept as the per-event null
_FOLDS = 5  # held-out folds scored to bootstrap the per-event null at readiness
_NULL_PER_HOP = 3  # shuffled splits added to the window null at each hop
_DICTIONARY_MAX_LAG = 10  # events a reused baseline dictionary may trail the exact baseline
_NULL_BOOTSTRAP = 100  # shuffled splits drawn at once when the window null is (re)started
_TAIL_MIN = 8  # fewest points an exponential tail is fitted to
_OUTLIER_Z = 3.0
_OUTLIER_MIN_SAMPLES = 30
_MAX_FIELDS = 256  # field paths profiled per stream
_MAX_CATEGORIES = 64  # a field with more distinct values is not categorical
_MAX_CATEGORY_LEN = 64
_HALF_LIFE = 1000  # events after which field frequencies count half
_ANCHOR_REFERENCE_FOLDS = 4
_MEMO_MAX = 4096
_SCALARS = frozenset({str, int, float, bool, type(None)})
_SEP = b"\n"
_TOKEN_SEP = "\x1f"


# --- settings and results --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """Detection settings of a stream (a profile, or ``custom`` after overrides or tuning).

    ``hop_size`` larger than ``window_size`` acts as ``window_size``.
    """

    baseline_size: int = 400
    window_size: int = 50
    hop_size: int = 10
    ncd_threshold: float = 0.30
    p_value_threshold: float = 0.05
    permutation_count: int = 1000
    compressor: str = "zstd"
    min_baseline_size: int = 50

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.baseline_size <= MAX_BASELINE_SIZE:
            problems.append(f"baseline_size must be 1-{MAX_BASELINE_SIZE}")
        if not 1 <= self.window_size <= MAX_WINDOW_SIZE:
            problems.append(f"window_size must be 1-{MAX_WINDOW_SIZE}")
        if self.hop_size < 1:
            problems.append("hop_size must be at least 1")
        if not 0.0 <= self.ncd_threshold <= 1.0:
            problems.append("ncd_threshold must be 0-1")
        if not 0.0 < self.p_value_threshold <= 1.0:
            problems.append("p_value_threshold must be in (0, 1]")
        if self.permutation_count < 1:
            problems.append("permutation_count must be at least 1")
        if self.compressor.lower() not in (*ALGORITHMS, *FALLBACKS):
            problems.append(f"unknown compressor {self.compressor!r}")
        if self.min_baseline_size < 0:
            problems.append("min_baseline_size must not be negative")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def detection_min_events(self) -> int:
        """Events a stream must hold before detection runs: baseline plus window."""
        return self.baseline_size + self.window_size

    @property
    def effective_hop(self) -> int:
        """Events between window tests."""
        return min(self.hop_size, self.window_size)


PROFILES: Final[dict[str, DetectorSettings]] = {
    "sensitive": DetectorSettings(
        baseline_size=200, window_size=30, ncd_threshold=0.20, p_value_threshold=0.10
    ),
    "balanced": DetectorSettings(),
    "strict": DetectorSettings(
        baseline_size=800, window_size=100, ncd_threshold=0.45, p_value_threshold=0.01
    ),
}
"""The API's named profiles; a stream with overridden or tuned settings is ``custom``."""


@dataclass(frozen=True, slots=True)
class Detection:
    """One reported anomaly: an event of the batch, the signal that fired and its numbers."""

    index: int
    why: str
    signal: str
    metrics: dict[str, float | bool]


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What :meth:`StreamDetector.process` found in one batch."""

    detections: list[Detection]
    value_outliers: list[dict[str, float | int | str]]
    drift: dict[str, Any] | None
    compression_algo: str
    fallback_from_algo: str | None


@dataclass(frozen=True, slots=True)
class AnchorInfo:
    """A drift anchor: a snapshot of a stream's early traffic that later windows are compared to.

    ``reference_ncd`` is the NCD between the anchor and held-out windows of the same traffic;
    the drift score measures how far the newest window's NCD has moved from it towards 1.
    """

    id: str
    created_at: datetime
    event_count: int
    compressor: str
    baseline_entropy: float
    baseline_compression_ratio: float
    drift_ncd_threshold: float
    is_active: bool
    window_size: int
    reference_ncd: float


# --- small numeric helpers -------------------------------------------------------------------


def _entropy(data: bytes) -> float:
    """Shannon entropy of ``data`` in bits per byte."""
    total = len(data)
    if not total:
        return 0.0
    return -sum(c / total * math.log2(c / total) for c in Counter(data).values())


def _tail_p(sorted_null: Sequence[float], x: float, *, upper: bool, floor: float) -> float:
    """One-sided p-value of ``x`` against a sorted null sample.

    Empirical ``(1 + #as extreme) / (n + 1)``; where fewer than the tail's ``k`` points are as
    extreme, an exponential tail fitted to the ``k`` most extreme points (a peaks-over-threshold
    fit) extrapolates, so a small sample can still resolve small p-values. ``floor`` bounds the
    fitted scale from below (ties and discrete sizes would otherwise make it zero).
    """
    n = len(sorted_null)
    if n == 0:
        return 1.0
    if upper:
        extreme = n - bisect.bisect_left(sorted_null, x)
    else:
        extreme = bisect.bisect_right(sorted_null, x)
    p_emp = (extreme + 1) / (n + 1)
    k = max(_TAIL_MIN, n // 10)
    if extreme >= k or n < 2 * _TAIL_MIN:
        return p_emp
    if upper:
        top = sorted_null[n - k :]
        threshold = top[0]
        scale = sum(top) / k - threshold
        distance = x - threshold
    else:
        top = sorted_null[:k]
        threshold = top[-1]
        scale = threshold - sum(top) / k
        distance = threshold - x
    spread = (sorted_null[(3 * n) // 4] - sorted_null[n // 4]) / 1.349
    scale = max(scale, 0.25 * spread, floor)
    return min(p_emp, k / (n + 1) * math.exp(-distance / scale))


def _binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed exactly in log space."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_term = (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )
    term = math.exp(log_term)
    total = term
    odds = p / (1.0 - p)
    for j in range(k, n):
        term *= (n - j) / (j + 1) * odds
        total += term
        if term < total * 1e-15:
            break
    return min(1.0, total)


def _format_p(p: float) -> str:
    if p < 1e-4:
        return f"{p:.1e}"
    return f"{p:.4f}".rstrip("0").rstrip(".") if p < 1 else "1"


def _ncd(c_x: int, c_y: int, c_xy: int) -> float:
    """NCD from compressed sizes, clamped to [0, 1]."""
    larger = max(c_x, c_y)
    if larger <= 0:
        return 0.0
    return min(1.0, max(0.0, (c_xy - min(c_x, c_y)) / larger))


_OUTPUTS_PER_FETCH = 256


def _generator_outputs(rng: random.Random) -> Iterator[int]:
    """``rng``'s Mersenne Twister outputs (32 bits each), in order, fetched in bulk.

    ``getrandbits(32 * count)`` packs the next ``count`` outputs least significant first.
    """
    count = _OUTPUTS_PER_FETCH
    while True:
        yield from struct.unpack(
            f"<{count}I", rng.getrandbits(32 * count).to_bytes(4 * count, "little")
        )


@functools.lru_cache(maxsize=64)
def _sample_setsize(k: int) -> int:
    """random.sample's bound on the population size up to which it tracks the pool rather
    than the picks, computed as it does."""
    setsize = 21
    if k > 5:
        setsize += 4 ** math.ceil(math.log(k * 3, 4))
    return setsize


@functools.lru_cache(maxsize=64)
def _lane_constants(n: int, count: int) -> tuple[int, int, int, int]:
    """For picks below ``n``: integers holding, in each of ``count`` 32-bit lanes, the pick
    mask, 1, ``2**16 + n - 1`` and ``n``."""

    def lanes(value: int) -> int:
        return int.from_bytes(value.to_bytes(4, "little") * count, "little")

    return lanes((1 << n.bit_length()) - 1), lanes(1), lanes(0x10000 + n - 1), lanes(n)


class _ShuffledSplits:
    """Consecutive ``sorted(rng.sample(range(n), k))`` of one generator, made faster.

    ``random.sample`` asks ``randbelow(m)`` for each pick, and ``randbelow(m)`` takes the top
    ``m.bit_length()`` bits of one 32-bit generator output per try, retrying while the value is
    ``>= m``. The same picks are made here from the same outputs, so the shuffled splits (and
    every result that depends on them) are exactly those of ``random.sample``; ``rng`` must not
    be used for anything else meanwhile.
    """

    def __init__(self, rng: random.Random, n: int, k: int) -> None:
        if not 0 <= k <= n < 0x8000:
            raise ValueError("a split needs 0 <= k <= n < 32768")
        self._rng = rng
        self._n = n
        self._k = k
        self._pooled = n <= _sample_setsize(k)
        self._outputs = _generator_outputs(rng)  # for the pool method
        self._picks = array.array("I")  # for the set method: each output's pick, n if >= n
        self._next = 0

    def draw(self) -> list[int]:
        """The next split's ``k`` indices, sorted."""
        if self._pooled:
            return self._draw_from_pool()
        n, k = self._n, self._k
        if k == 0:
            return []
        # Outputs that nearly always hold k distinct accepted picks: k plus the expected
        # repeats, over the share of outputs accepted, with a margin.
        length = int((k + k * k / (2 * n)) * (1 << n.bit_length()) / n * 1.15) + 16
        while True:
            if self._next + length > len(self._picks):
                self._fetch(4 * length)
            start = self._next
            window = self._picks[start : start + length]
            distinct = dict.fromkeys(window)
            distinct.pop(n, None)
            if len(distinct) >= k:
                break
            length *= 2
        # The first k distinct accepted picks, as sample's retries on repeats would make them.
        chosen = list(islice(distinct, k))
        self._next = start + window.index(chosen[-1]) + 1
        chosen.sort()
        return chosen

    def _fetch(self, count: int) -> None:
        """Append the picks of the next ``count`` outputs, computed for all lanes at once: a
        lane holds its output's top bits if they are below n, else n."""
        n = self._n
        bits = n.bit_length()
        mask, ones, bias, all_n = _lane_constants(n, count)
        picks = (self._rng.getrandbits(32 * count) >> (32 - bits)) & mask
        # Per lane 2**16 + n - 1 - pick, which never borrows across lanes: bit 16 is set
        # exactly where pick < n.
        accepted = ((bias - picks) >> 16) & ones
        keep = (accepted << bits) - accepted  # the pick mask where accepted, else 0
        values = array.array("I", ((picks & keep) | (all_n & ~keep)).to_bytes(4 * count, "little"))
        if sys.byteorder == "big":
            values.byteswap()
        self._picks = self._picks[self._next :] + values
        self._next = 0

    def _draw_from_pool(self) -> list[int]:
        n, k = self._n, self._k
        outputs = self._outputs
        pool = list(range(n))
        for m in range(n, n - k, -1):
            shift = 32 - m.bit_length()
            j = next(outputs) >> shift
            while j >= m:
                j = next(outputs) >> shift
            pool[j], pool[m - 1] = pool[m - 1], pool[j]
        return sorted(pool[n - k :])


def _pick(items: Sequence[bytes], indices: list[int]) -> Sequence[bytes]:
    """``[items[i] for i in indices]``, gathered in C."""
    if len(indices) > 1:
        picked: tuple[bytes, ...] = operator.itemgetter(*indices)(items)
        return picked
    return [items[i] for i in indices]


# --- the per-event null: a rolling reservoir of ordinary scores ------------------------------


class _Reservoir:
    """Recent ordinary event scores, in arrival order and sorted (for ranks)."""

    def __init__(self, key: tuple[Any, ...] | None = None, scores: Sequence[int] = ()) -> None:
        self.key = key
        self.fifo: deque[int] = deque(maxlen=_RESERVOIR_CAP)
        self.sorted: list[int] = []
        for score in scores:
            self.add(score)

    def add(self, score: int) -> None:
        if len(self.fifo) == _RESERVOIR_CAP:
            oldest = self.fifo[0]
            del self.sorted[bisect.bisect_left(self.sorted, oldest)]
        self.fifo.append(score)
        bisect.insort(self.sorted, score)

    def p_value(self, score: int) -> float:
        # One byte is the size resolution, hence the scale floor.
        return _tail_p(self.sorted, score, upper=True, floor=1.0)

    def typical(self) -> float:
        return float(self.sorted[len(self.sorted) // 2]) if self.sorted else 0.0


# --- the window null: a rolling cache of shuffled-split statistics ---------------------------


class _NullCache:
    """The window test's references, each tagged with the hop that produced it.

    ``entries``: compression ratios of shuffled splits of baseline + window (the permutation
    null). ``observed``: the ratios of the actual windows of recent hops.
    """

    def __init__(
        self,
        key: tuple[Any, ...] | None = None,
        entries: Sequence[tuple[int, float]] = (),
        observed: Sequence[tuple[int, float]] = (),
    ) -> None:
        self.key = key
        self.entries: deque[tuple[int, float]] = deque(entries)
        self.sorted: list[float] = sorted(ratio for _, ratio in entries)
        self.observed: deque[tuple[int, float]] = deque(observed)

    def add(self, hop_end: int, ratio: float) -> None:
        self.entries.append((hop_end, ratio))
        bisect.insort(self.sorted, ratio)

    def expire(self, oldest_hop: int, cap: int) -> None:
        while self.entries and (self.entries[0][0] < oldest_hop or len(self.entries) > cap):
            _, ratio = self.entries.popleft()
            del self.sorted[bisect.bisect_left(self.sorted, ratio)]
        while self.observed and self.observed[0][0] < oldest_hop:
            self.observed.popleft()

    def p_two_sided(self, ratio: float) -> float:
        upper = _tail_p(self.sorted, ratio, upper=True, floor=1e-9)
        lower = _tail_p(self.sorted, ratio, upper=False, floor=1e-9)
        return min(1.0, 2.0 * min(upper, lower))

    def beyond_recent_windows(self, ratio: float, higher: bool) -> bool:
        """Whether ``ratio`` lies beyond every recent window's (vacuously true early on)."""
        recent = [r for _, r in self.observed]
        if len(recent) < _TAIL_MIN:
            return True
        return ratio > max(recent) if higher else ratio < min(recent)

    def typical(self) -> float:
        return self.sorted[len(self.sorted) // 2] if self.sorted else 0.0


# --- field profiles: value outliers and field-value frequencies ------------------------------


class _FieldStats:
    """What a stream knows about one field path.

    Numbers get two running estimates: Welford's over the whole stream (the API's value-outlier
    rule) and a decayed one (weights halve every ``_HALF_LIFE`` events) for value bursts, so that
    one old incident does not inflate the spread forever. Values of low-cardinality fields get
    decayed frequencies.
    """

    _PERSISTED = (
        "categories",
        "decayed_mean",
        "decayed_spread",
        "decayed_weight",
        "high",
        "low",
        "m2",
        "mean",
        "n",
        "raw_values",
        "seen",
    )
    __slots__ = (*_PERSISTED, "memo", "numbers")

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.decayed_weight = 0.0
        self.decayed_mean = 0.0
        self.decayed_spread = 0.0  # decayed sum of weighted squared deviations
        self.seen = 0.0  # decayed count of events carrying the field
        self.high = 0.0  # decayed counts of decayed-3-sigma outliers above / below
        self.low = 0.0
        # Decayed frequency of each (masked) value, and the raw values seen; both None once the
        # field has shown more than _MAX_CATEGORIES distinct raw values (ids, timings, times).
        self.categories: dict[str, float] | None = {}
        self.raw_values: set[str] | None = set()
        # Derived, never persisted: raw value text -> (masked category, its token); also keyed
        # by the value itself for ints, and (in `numbers`) for floats other than 0 and NaN,
        # which saves a repr per value (0.0 and -0.0, or NaNs, are equal keys apart or not).
        self.memo: dict[str | int, tuple[str, str]] = {}
        self.numbers: dict[float, tuple[str, str]] = {}

    def halve(self) -> None:
        self.decayed_weight *= 0.5
        self.decayed_spread *= 0.5
        self.seen *= 0.5
        self.high *= 0.5
        self.low *= 0.5
        if self.categories is not None:
            for key in self.categories:
                self.categories[key] *= 0.5

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self._PERSISTED}
        if self.raw_values is not None:
            data["raw_values"] = sorted(self.raw_values)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> _FieldStats:
        stats = cls()
        for name in cls._PERSISTED:
            value = data[name]
            if name == "categories":
                value = None if value is None else {str(k): float(v) for k, v in value.items()}
            elif name == "raw_values":
                value = None if value is None else {str(v) for v in value}
            elif name == "n":
                value = int(value)
            else:
                value = float(value)
            setattr(stats, name, value)
        return stats


def _observe_number(
    stats: _FieldStats, path: str, value: float, outliers: list[dict[str, float | int | str]]
) -> str:
    """Check ``value`` against the field's stats, then fold it in.

    Appends an API value outlier (|z| > 3 against the whole-stream mean and standard deviation,
    with at least 30 earlier samples). Returns "+" or "-" when the value is beyond 3 decayed
    standard deviations (the token value bursts count), else "".
    """
    try:
        x = float(value)
    except OverflowError:
        return ""
    if not math.isfinite(x):
        return ""
    # Locals, written back once: this runs for every numeric field of every event.
    n, mean, m2 = stats.n, stats.mean, stats.m2
    if n >= _OUTLIER_MIN_SAMPLES:
        std = math.sqrt(m2 / (n - 1))
        if std > 0.0 and abs(x - mean) > _OUTLIER_Z * std:
            outliers.append(
                {
                    "field_path": path,
                    "value": value,
                    "expected_mean": mean,
                    "std_dev": std,
                    "z_score": (x - mean) / std,
                    "sample_count": n,
                }
            )
    n += 1
    delta = x - mean
    mean += delta / n
    stats.n, stats.mean, stats.m2 = n, mean, m2 + delta * (x - mean)

    direction = ""
    weight = stats.decayed_weight
    mean = stats.decayed_mean
    if weight >= _OUTLIER_MIN_SAMPLES:
        limit = _OUTLIER_Z * math.sqrt(stats.decayed_spread / weight)
        # An outlier is folded in clipped to the limit, so that a burst of extreme values
        # cannot inflate the spread it is judged by; a lasting shift still moves the estimate.
        if limit > 0.0 and x > mean + limit:
            direction, x = "+", mean + limit
            stats.high += 1.0
        elif limit > 0.0 and x < mean - limit:
            direction, x = "-", mean - limit
            stats.low += 1.0
    # West's weighted update of the decayed mean and spread (each new value has weight 1).
    weight += 1.0
    delta = x - mean
    mean += delta / weight
    stats.decayed_weight, stats.decayed_mean = weight, mean
    stats.decayed_spread += delta * (x - mean)
    return direction


@dataclass(frozen=True, slots=True)
class _FieldBurst:
    token: str
    p_value: float
    count: int
    among: int
    expected_share: float


_PathInfo = tuple[str, _FieldStats | None, bool]
"""A key's dotted path, the stats there (None until seen, or past _MAX_FIELDS), and whether
the key is secret."""


class _FieldProfiles:
    """Per-stream field profiles, and the field-value tokens of the most recent events."""

    def __init__(self) -> None:
        self.fields: dict[str, _FieldStats] = {}
        self.total = 0.0  # decayed count of events
        self.recent: deque[tuple[str, ...]] = deque(maxlen=MAX_WINDOW_SIZE)
        # Memos (derived, never persisted): masked category per raw text, parts per token, and
        # per key prefix, each string key's path info.
        self._masked: dict[str, str] = {}
        self._meta: dict[str, tuple[str, str]] = {}
        self._paths: dict[str, dict[str, _PathInfo]] = {}
        self._path_count = 0

    def observe(
        self, event: Mapping[Any, Any], index: int, outliers: list[dict[str, float | int | str]]
    ) -> tuple[tuple[str, ...], bool]:
        """Update the profiles with event number ``index`` as redaction leaves it (the value of
        a secret key counts as ``"[REDACTED]"``) and append its value outliers.

        Returns the event's tokens, and whether the event may hold secrets: False when no key
        is secret and no array holds objects or arrays, so that the event is its own redacted
        form and callers can skip :func:`redact_secrets`.
        """
        if index and index % _HALF_LIFE == 0:
            self.total *= 0.5
            for field_stats in self.fields.values():
                field_stats.halve()
        self.total += 1.0
        tokens: list[str] = []
        unsafe = self._observe_mapping(event, "", tokens, outliers)
        result = tuple(tokens)
        self.recent.append(result)
        return result, unsafe

    def _observe_mapping(
        self,
        mapping: Mapping[Any, Any],
        prefix: str,
        tokens: list[str],
        outliers: list[dict[str, float | int | str]],
    ) -> bool:
        """Observe the scalar leaves of ``mapping`` by dotted path, in order; arrays skipped.

        Returns whether ``mapping`` may hold secrets (see :meth:`observe`).
        """
        unsafe = False
        paths = self._paths.get(prefix)
        if paths is None:
            paths = {}
            if len(self._paths) < _MAX_FIELDS:
                self._paths[prefix] = paths
        for key, value in mapping.items():
            known = paths.get(key) if type(key) is str else None
            if known is None:
                known = self._path(paths, prefix, key)
            path, stats, secret = known
            kind = type(value)
            if secret:
                value, kind, unsafe = REDACTED, str, True
            elif kind not in _SCALARS:
                if kind is dict or isinstance(value, Mapping):
                    if self._observe_mapping(value, f"{path}.", tokens, outliers):
                        unsafe = True
                    continue
                if kind is list or isinstance(value, list | tuple):
                    # Redaction looks into arrays; arrays of scalars hold no keys.
                    if not unsafe and not _SCALARS.issuperset(map(type, value)):
                        unsafe = True
                    continue
            if stats is None:
                stats = self._stats(paths, key, path)
                if stats is None:
                    continue
            stats.seen += 1.0
            if kind is int or kind is float:
                direction = _observe_number(stats, path, value, outliers)
                if direction:
                    tokens.append(self._token(path, direction))
                if stats.categories is None:
                    continue
                if kind is int:
                    value_known = stats.memo.get(value)
                elif value and value == value:
                    value_known = stats.numbers.get(value)
                else:
                    value_known = None
                if value_known is None:
                    value_known = self._new_number(stats, path, value)
                    if value_known is None:
                        continue
            else:
                if stats.categories is None:
                    continue
                text = (value if kind is str else str(value))[:_MAX_CATEGORY_LEN]
                value_known = stats.memo.get(text)
                if value_known is None:
                    value_known = self._new_value(stats, path, text)
                    if value_known is None:
                        continue
            category, token = value_known
            cats = stats.categories
            cats[category] = cats.get(category, 0.0) + 1.0
            tokens.append(token)
        return unsafe

    def _path(self, paths: dict[str, _PathInfo], prefix: str, key: Any) -> _PathInfo:
        """The dotted path of ``key`` under ``prefix``, the stats held there, and whether the
        key is secret; memoised for string keys (others are rare, and 1, 1.0 and True would
        share a memo entry)."""
        path = f"{prefix}{key}" if prefix or type(key) is not str else key
        known = (path, self.fields.get(path), isinstance(key, str) and is_secret_key(key))
        if type(key) is str and self._path_count < _MEMO_MAX:
            paths[key] = known
            self._path_count += 1
        return known

    def _stats(self, paths: dict[str, _PathInfo], key: Any, path: str) -> _FieldStats | None:
        """The stats of a leaf seen at ``path`` for the first time, None past _MAX_FIELDS."""
        stats = self.fields.get(path)
        if stats is None:
            if len(self.fields) >= _MAX_FIELDS:
                return None
            stats = self.fields[path] = _FieldStats()
        known = paths.get(key) if type(key) is str else None
        if known is not None:
            paths[key] = (path, stats, known[2])
        return stats

    def _new_number(self, stats: _FieldStats, path: str, value: float) -> tuple[str, str] | None:
        """Category and token of a number not memoised by value yet (see _FieldStats.memo)."""
        text = repr(value)
        known = self._new_value(stats, path, text[:_MAX_CATEGORY_LEN])
        if known is not None and len(text) <= _MAX_CATEGORY_LEN:
            # Whole reprs only: longer ones are cut, and many values would share an entry.
            if type(value) is int:
                stats.memo[value] = known
            elif value and value == value:
                stats.numbers[value] = known
        return known

    def _new_value(self, stats: _FieldStats, path: str, text: str) -> tuple[str, str] | None:
        """Category and token of a value text not memoised yet; None once the field turns out
        not to be categorical (too many distinct raw values)."""
        raw_values = stats.raw_values
        assert raw_values is not None
        if text not in raw_values:
            if len(raw_values) >= _MAX_CATEGORIES:
                stats.categories = stats.raw_values = None
                stats.memo = {}
                stats.numbers = {}
                return None
            raw_values.add(text)
        category = self._category(text)
        known = stats.memo[text] = (category, self._token(path, f"={category}"))
        return known

    def _category(self, text: str) -> str:
        """The value as the serialiser masks it: a timestamp, an id or a 4+ digit number is
        volatile, not a value that comes in bursts. Memoised: categorical values repeat."""
        category = self._masked.get(text)
        if category is None:
            if len(self._masked) >= _MEMO_MAX:
                self._masked.clear()
            category = self._masked[text] = mask_volatile(text)
        return category

    def _token(self, path: str, rest: str) -> str:
        """A token: field path plus "=value", "+" or "-"; one shared string per token."""
        token = f"{path}{_TOKEN_SEP}{rest}"
        known = self._meta.get(token)
        if known is None:
            token = sys.intern(token)
            self._meta[token] = (path, rest)
            return token
        return token

    def bursts(
        self, next_index: int, window: int, reported: Set[int] = frozenset()
    ) -> tuple[list[_FieldBurst], int]:
        """Field values far more frequent in the newest ``window`` events than before them.

        Events in ``reported`` (global indices) are left out of the window: a burst already
        reported must not make the ordinary events that follow it look like more of it.
        Returns the bursts (most significant first, uncorrected p-values) and how many distinct
        values the window held (the Bonferroni factor).
        """
        recent = self.recent
        window = min(window, len(recent))
        start = next_index - window
        # A window (at most 1000 events) spans at most two halving periods: events of the
        # previous one count half in the decayed totals.
        older = max(0, ((next_index - 1) // _HALF_LIFE) * _HALF_LIFE - start)
        newer = window - older
        # Positions counted from the newest end, as `reversed(recent)` yields them.
        skip = {next_index - 1 - i for i in reported if start <= i < next_index}

        def tokens(first: int, stop: int) -> Iterable[str]:
            items = islice(reversed(recent), first, stop)
            if not skip:
                return chain.from_iterable(items)
            return chain.from_iterable(t for k, t in enumerate(items, first) if k not in skip)

        skipped_newer = sum(1 for k in skip if k < newer)
        skipped_older = len(skip) - skipped_newer
        # Read from the newest end: the window is a small part of `recent`. (Counts are sums of
        # whole and half units, exact in any order.)
        current = Counter(tokens(0, newer))
        weights: Mapping[str, float]
        if older:
            previous = Counter(tokens(newer, window))
            counts = current + previous
            weights = {t: current.get(t, 0) + 0.5 * previous.get(t, 0) for t in counts}
        else:
            counts = current
            weights = current
        per_field: dict[str, int] = {}
        per_field_weight: dict[str, float] = {}
        meta = self._meta
        for token, k in counts.items():
            path, rest = meta.get(token) or _split_token(token)
            if rest[0] == "=":
                per_field[path] = per_field.get(path, 0) + k
                if older:
                    per_field_weight[path] = per_field_weight.get(path, 0.0) + weights[token]
        if not older:
            per_field_weight = per_field  # type: ignore[assignment]  # the same whole numbers
        window_weight = (newer - skipped_newer) + 0.5 * (older - skipped_older)
        counted = window - len(skip)
        found: list[_FieldBurst] = []
        fields = self.fields
        for token, k in counts.items():
            if k < 3:  # two occurrences are never significant at the thresholds used here
                continue
            path, rest = meta.get(token) or _split_token(token)
            stats = fields.get(path)
            if stats is None:
                continue
            weight = weights[token]
            if rest[0] == "=":
                categories = stats.categories
                if categories is None:
                    continue
                among = per_field[path]
                before = categories.get(rest[1:], 0.0) - weight
                before_total = stats.seen - per_field_weight[path]
            else:
                among = counted
                before = (stats.high if rest == "+" else stats.low) - weight
                before_total = self.total - window_weight
            share = ((before if before > 0.0 else 0.0) + 0.5) / (
                (before_total if before_total > 0.0 else 0.0) + 1.0
            )
            # Cheap screen: nothing within three standard deviations can be significant.
            if k <= among * share + 3.0 * math.sqrt(among * share * (1.0 - share)) + 1.0:
                continue
            p = _binomial_sf(k, among, share)
            found.append(_FieldBurst(token, p, k, among, share))
        found.sort(key=lambda b: (b.p_value, b.token))
        return found, len(counts)

    def to_json(self, *, recent: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "fields": {path: stats.to_json() for path, stats in self.fields.items()},
            "total": self.total,
        }
        if recent:
            data["recent"] = [list(tokens) for tokens in self.recent]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> _FieldProfiles:
        profiles = cls()
        profiles.fields = {str(p): _FieldStats.from_json(s) for p, s in data["fields"].items()}
        profiles.total = float(data["total"])
        for tokens in data["recent"]:
            profiles.recent.append(tuple(profiles._token(*_split_token(t)) for t in tokens))
        return profiles


def _split_token(token: str) -> tuple[str, str]:
    path, _, rest = token.partition(_TOKEN_SEP)
    return path, rest


def _describe_token(token: str) -> tuple[str, str]:
    """(signal, readable value) for a field-profile token."""
    path, rest = _split_token(token)
    if rest.startswith("="):
        return "field_burst", f"{path}={rest[1:]}"
    side = "above" if rest == "+" else "below"
    return "value_burst", f"{path} more than 3 standard deviations {side} its mean"


# --- per-batch working state -----------------------------------------------------------------


@dataclass
class _Batch:
    """What one call to ``process`` needs while it runs."""

    settings: DetectorSettings
    compressor: SizeCompressor
    start: int  # global index of the batch's first event
    event_alpha: float
    window_alpha: float
    detections: list[Detection] = field(default_factory=list)
    scores: dict[int, int] = field(default_factory=dict)  # global index -> event score
    tokens: dict[int, tuple[str, ...]] = field(default_factory=dict)
    baseline_stats: dict[tuple[int, int], tuple[int, float]] = field(default_factory=dict)
    hop_metrics: dict[tuple[int, float], dict[str, float | bool]] = field(default_factory=dict)
    # The hop block being scored: its end, its prepared baseline, and the reservoir's answers,
    # which hold until the block's window tests update the reservoir.
    block_end: int = 0
    coder: DictionaryCompressor | None = None
    typical: float = 0.0
    event_p: dict[int, tuple[float, float]] = field(default_factory=dict)  # score -> p, excess


# --- the detector ----------------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(UTC)


class StreamDetector:
    """Detection state of one stream: its recent events, nulls, field profiles and drift anchor.

    Not thread-safe: the caller serialises calls per stream. ``settings`` may be replaced at
    any time (profile change, feedback tuning); per-call overrides go to :meth:`process`.
    """

    def __init__(
        self,
        settings: DetectorSettings = PROFILES["balanced"],
        *,
        seed: int = 0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.settings = settings
        self.seed = seed
        self.events_ingested = 0
        self.anchor: AnchorInfo | None = None
        self._clock = clock
        self._history: list[bytes] = []
        self._first = 0  # global index of _history[0]
        self._fields = _FieldProfiles()
        self._reservoir = _Reservoir()
        self._null = _NullCache()
        self._anchor_events: list[bytes] = []
        self._anchors_made = 0
        self._anchor_disabled = False
        self._flagged: set[int] = set()  # global indices of reported events still held
        self._pending: dict[int, int] = {}  # scores waiting for their hop's window tests
        # Derived state, rebuilt on demand (never in snapshots).
        self._compressors: dict[str, CompressorChoice] = {}
        self._dictionary: tuple[tuple[Any, ...], DictionaryCompressor] | None = None
        self._anchor_cache: tuple[str, DictionaryCompressor, int] | None = None

    # -- readiness ----------------------------------------------------------------------------

    def detection_ready(self, override: DetectorSettings | None = None) -> bool:
        """Whether the stream holds enough events (baseline + window) for detection."""
        return self.events_needed_for_detection(override) == 0

    def events_needed_for_detection(self, override: DetectorSettings | None = None) -> int:
        """Events still needed before detection runs."""
        settings = override or self.settings
        return max(0, settings.detection_min_events - self.events_ingested)

    # -- processing ---------------------------------------------------------------------------

    def process(
        self, events: Sequence[Mapping[str, Any]], override: DetectorSettings | None = None
    ) -> BatchResult:
        """Ingest ``events`` in order and report what is anomalous among them.

        Value outliers are checked from the first event; detection runs for each event once
        the stream holds baseline + window events. ``drift`` compares the newest window with
        the active anchor (None without one): ``drift_score`` is how far the window's NCD to
        the anchor has moved from the anchor's reference NCD towards 1, and drift is detected
        at ``drift_threshold`` (0.35).
        """
        settings = override or self.settings
        choice = self._compressor(settings.compressor)
        budget = settings.p_value_threshold / (2 * settings.window_size)
        batch = _Batch(
            settings=settings,
            compressor=choice.compressor,
            start=self.events_ingested,
            event_alpha=budget,
            window_alpha=budget,
        )
        value_outliers: list[dict[str, float | int | str]] = []
        need = settings.detection_min_events
        hop = settings.effective_hop
        observe = self._fields.observe
        keep = self._history.append
        tokens = batch.tokens
        for position, event in enumerate(events):
            index = self.events_ingested
            found = len(value_outliers)
            tokens[index], unsafe = observe(event, index, value_outliers)
            redacted = redact_secrets(event) if unsafe else event
            data = mask_volatile(canonical_json(redacted)).encode("utf-8", "surrogatepass")
            if len(value_outliers) > found:
                for outlier in value_outliers[found:]:
                    outlier["index"] = position
            keep(data)
            self.events_ingested = ingested = index + 1
            if ingested < need:
                continue
            if self.anchor is None and not self._anchor_disabled:
                self._take_first_anchor(settings)
            self._score_event(batch, index, data)
            if ingested % hop == 0:
                self._hop_tests(batch, ingested)
        self._trim()
        batch.detections.sort(key=lambda d: d.index)
        return BatchResult(
            detections=batch.detections,
            value_outliers=value_outliers,
            drift=self._drift(),
            compression_algo=choice.algo,
            fallback_from_algo=choice.fallback_from,
        )

    def _compressor(self, name: str) -> CompressorChoice:
        choice = self._compressors.get(name)
        if choice is None:
            choice = self._compressors[name] = choose_compressor(name)
        return choice

    def _slice(self, start: int, stop: int) -> list[bytes]:
        """Serialised events with global indices in [start, stop)."""
        return self._history[start - self._first : stop - self._first]

    def _joined(self, start: int, stop: int) -> bytes:
        return _SEP.join(self._slice(start, stop))

    def _trim(self) -> None:
        excess = len(self._history) - HISTORY_CAP
        if excess > 0:
            del self._history[:excess]
            self._first += excess
            self._flagged = {i for i in self._flagged if i >= self._first}

    # -- event novelty ------------------------------------------------------------------------

    def _block_end(self, index: int, hop: int) -> int:
        """End (exclusive) of the hop block holding event ``index``."""
        return (index // hop + 1) * hop

    def _baseline_dictionary(self, batch: _Batch, block_end: int) -> DictionaryCompressor:
        """The prepared baseline for the block that closes at ``block_end``.

        Preparing a dictionary costs as much as scoring some sixty events with it, so one
        serves consecutive hops as long as its baseline trails the exact one by at most
        ``_DICTIONARY_MAX_LAG`` events: it is the baseline of the first window of each run of
        hops (runs aligned to the stream's start, so that the choice depends on the position
        alone, not on how events were batched). It never holds the events it scores.
        """
        settings = batch.settings
        hop = settings.effective_hop
        run = 1 + _DICTIONARY_MAX_LAG // hop
        first_end = block_end - (block_end // hop) % run * hop
        if first_end >= settings.detection_min_events:
            block_end = first_end
        stop = block_end - settings.window_size
        start = stop - settings.baseline_size
        key = (start, stop, batch.compressor.name)
        if self._dictionary is None or self._dictionary[0] != key:
            prepared = batch.compressor.with_dictionary(self._joined(start, stop))
            self._dictionary = (key, prepared)
        return self._dictionary[1]

    def _ensure_reservoir(self, batch: _Batch, index: int) -> None:
        """Bootstrap the per-event null by scoring held-out folds of the events before ``index``.

        Each fold is scored against a dictionary of the other folds: sizes of ordinary events
        given a baseline they are not part of, as in live scoring.
        """
        key = (batch.settings.baseline_size, batch.compressor.name)
        if self._reservoir.key == key:
            return
        pool = self._slice(max(self._first, index - batch.settings.detection_min_events), index)
        scores: list[int] = []
        bounds = [len(pool) * f // _FOLDS for f in range(_FOLDS + 1)]
        for lo, hi in pairwise(bounds):
            if lo == hi:
                continue
            coder = batch.compressor.with_dictionary(_SEP.join(pool[:lo] + pool[hi:]))
            scores.extend(coder.size(data) for data in pool[lo:hi])
        self._reservoir = _Reservoir(key, scores)
        self._pending.clear()

    def _start_block(self, batch: _Batch, index: int) -> None:
        """Prepare the scoring of the hop block that holds event ``index``."""
        self._ensure_reservoir(batch, index)
        batch.block_end = self._block_end(index, batch.settings.effective_hop)
        batch.coder = self._baseline_dictionary(batch, batch.block_end)
        batch.typical = self._reservoir.typical()
        batch.event_p = {}

    def _score_event(self, batch: _Batch, index: int, data: bytes) -> None:
        if index >= batch.block_end:
            self._start_block(batch, index)
        assert batch.coder is not None
        score = batch.coder.size(data)
        batch.scores[index] = score
        known = batch.event_p.get(score)
        if known is None:
            excess = (score - batch.typical) / score if score > 0 else 0.0
            known = batch.event_p[score] = (self._reservoir.p_value(score), excess)
        p, excess = known
        settings = batch.settings
        if p > batch.event_alpha or excess < settings.ncd_threshold:
            # Joins the ordinary null once its hop's window tests have not flagged it either.
            self._pending[index] = score
            return
        typical = batch.typical
        block_end = batch.block_end
        self._flagged.add(index)
        stop = block_end - settings.window_size
        metrics = self._metrics(
            batch, stop - settings.baseline_size, stop, index + 1, p, batch.event_alpha
        )
        why = (
            f"event novelty: {score} bytes given the baseline vs typical {typical:.0f} "
            f"(p={_format_p(p)}); {excess:.0%} of its compressed size is new"
        )
        batch.detections.append(Detection(index - batch.start, why, "event_novelty", metrics))

    # -- window tests -------------------------------------------------------------------------

    def _hop_tests(self, batch: _Batch, end: int) -> None:
        """Window tests for the window that closes at ``end`` (exclusive global index)."""
        settings = batch.settings
        hop_events = [
            i
            for i in range(max(end - settings.effective_hop, batch.start), end)
            if i not in self._flagged
        ]
        self._field_tests(batch, end, hop_events)
        hop_events = [i for i in hop_events if i not in self._flagged]
        self._compression_test(batch, end, hop_events)
        for index in sorted(i for i in self._pending if i < end):
            score = self._pending.pop(index)
            if index not in self._flagged:
                self._reservoir.add(score)

    def _field_tests(self, batch: _Batch, end: int, hop_events: list[int]) -> None:
        """Field-value and value-outlier bursts in the window that closes at ``end``."""
        found, tested = self._fields.bursts(end, batch.settings.window_size, self._flagged)
        threshold = batch.window_alpha / 2
        # Bonferroni over the distinct values the window holds.
        firing = [b for b in found if b.p_value * tested <= threshold]
        if not firing:
            return
        for index in hop_events:
            tokens = batch.tokens.get(index, ())
            burst = next((b for b in firing if b.token in tokens), None)
            if burst is None:
                continue
            signal, what = _describe_token(burst.token)
            p = min(1.0, burst.p_value * tested)
            why = (
                f"{signal.replace('_', ' ')}: {what} in {burst.count} of {burst.among} window "
                f"events vs {burst.expected_share:.1%} before "
                f"(p={_format_p(p)} over {tested} field values)"
            )
            self._flagged.add(index)
            batch.detections.append(
                Detection(
                    index - batch.start, why, signal, self._hop_metrics(batch, end, p, threshold)
                )
            )

    def _unflagged(self, end: int, count: int) -> tuple[Sequence[int], list[bytes]]:
        """The newest ``count`` events before ``end`` that no signal has reported: their global
        indices and their serialised bytes."""
        flagged = self._flagged
        start = end - count
        if start >= self._first and (not flagged or max(flagged) < start):
            # The usual case: nothing reported in the span, which is then a plain slice.
            return range(start, end), self._slice(start, end)
        start = max(self._first, start - len(flagged))
        kept = [i for i in range(start, end) if i not in flagged][-count:]
        history, first = self._history, self._first
        return kept, [history[i - first] for i in kept]

    def _compression_test(self, batch: _Batch, end: int, hop_events: list[int]) -> None:
        """Two-sided permutation test of the window's compression ratio.

        The test looks for what the other signals have not explained: events already reported
        are left out, so the window is the newest ``window_size`` unreported events and the
        baseline the ``baseline_size`` before them. It fires when the window compresses better
        or worse than shuffled splits of baseline + window would, and beyond every recent
        window.
        """
        settings = batch.settings
        indices, pool = self._unflagged(end, settings.detection_min_events)
        if len(pool) < settings.detection_min_events:
            return
        window_bytes = _SEP.join(pool[settings.baseline_size :])
        ratio = len(window_bytes) / max(1, batch.compressor.size(window_bytes))
        null = self._refresh_null(batch, end, pool)
        p = null.p_two_sided(ratio)
        typical = null.typical()
        repetitive = ratio >= typical
        fires = p <= batch.window_alpha / 2 and null.beyond_recent_windows(ratio, repetitive)
        null.observed.append((end, ratio))
        if not fires or not hop_events:
            return
        base = settings.baseline_size
        window = list(zip(indices[base:], pool[base:], strict=True))
        members = self._burst_members(batch, window, hop_events, repetitive)
        if not members:
            return
        metrics = self._hop_metrics(batch, end, p, batch.window_alpha / 2)
        if repetitive:
            how = f"compresses {ratio / typical:.2f}x better than shuffled splits"
        else:
            how = f"compresses {typical / ratio:.2f}x worse than shuffled splits"
        why = (
            f"window burst: the window {how} of baseline and window (ratio {ratio:.2f} vs "
            f"typical {typical:.2f}, p={_format_p(p)} over {len(null.entries)} shuffles; "
            f"NCD to the baseline {metrics['ncd']:.2f})"
        )
        for index in members:
            self._flagged.add(index)
            batch.detections.append(Detection(index - batch.start, why, "window_burst", metrics))

    def _burst_members(
        self,
        batch: _Batch,
        window: list[tuple[int, bytes]],
        hop_events: list[int],
        repetitive: bool,
    ) -> list[int]:
        """The hop's events that make the window unlike its shuffles.

        For a repetitive window: events that the rest of the window explains better than the
        (much larger) baseline does. For a window of varied content: events individually
        unusual given the baseline (event novelty p below the square root of its threshold).
        """
        scored = [i for i in hop_events if i in batch.scores]
        if not repetitive:
            cut = math.sqrt(batch.event_alpha)
            reservoir = self._reservoir
            return [i for i in scored if reservoir.p_value(batch.scores[i]) <= cut]
        first = hop_events[0]
        coder = batch.compressor.with_dictionary(_SEP.join(d for i, d in window if i < first))
        own = dict(window)
        return [i for i in scored if i in own and coder.size(own[i]) < batch.scores[i]]

    def _refresh_null(self, batch: _Batch, end: int, pool: list[bytes]) -> _NullCache:
        """Add a few shuffled splits of this hop's pool to the window null; drop stale ones."""
        settings = batch.settings
        base, win = settings.baseline_size, settings.window_size
        key = (base, win, batch.compressor.name)
        if self._null.key != key:
            self._null = _NullCache(key)
        null = self._null
        cap = settings.permutation_count
        null.expire(end - base - win, cap)
        draws = max(_NULL_PER_HOP, min(_NULL_BOOTSTRAP, cap) - len(null.entries))
        splits = _ShuffledSplits(random.Random(self.seed * 1_000_003 + end), base + win, win)
        size = batch.compressor.size
        for _ in range(draws):
            sample = _SEP.join(_pick(pool, splits.draw()))
            null.add(end, len(sample) / max(1, size(sample)))
        null.expire(end - base - win, cap)
        return null

    # -- metrics ------------------------------------------------------------------------------

    def _baseline_stats(self, batch: _Batch, start: int, stop: int) -> tuple[bytes, int, float]:
        key = (start, stop)
        data = self._joined(start, stop)
        cached = batch.baseline_stats.get(key)
        if cached is None:
            cached = batch.baseline_stats[key] = (batch.compressor.size(data), _entropy(data))
        return data, cached[0], cached[1]

    def _metrics(
        self, batch: _Batch, start: int, stop: int, window_stop: int, p: float, alpha: float
    ) -> dict[str, float | bool]:
        """API metrics of the baseline [start, stop) against the window [stop, window_stop)."""
        base, c_base, base_entropy = self._baseline_stats(batch, start, stop)
        window = self._joined(stop, window_stop)
        size = batch.compressor.size
        c_window = size(window)
        c_both = size(base + _SEP + window)
        base_ratio = len(base) / max(1, c_base)
        window_ratio = len(window) / max(1, c_window)
        window_entropy = _entropy(window)
        return {
            "ncd": _ncd(c_base, c_window, c_both),
            "p_value": p,
            "confidence_level": 1.0 - p,
            "baseline_compression_ratio": base_ratio,
            "window_compression_ratio": window_ratio,
            "baseline_entropy": base_entropy,
            "window_entropy": window_entropy,
            "entropy_change": (window_entropy - base_entropy) / max(base_entropy, 0.001),
            "compression_ratio_change": (window_ratio - base_ratio) / base_ratio
            if base_ratio
            else 0.0,
            "is_statistically_significant": p <= alpha,
        }

    def _hop_metrics(
        self, batch: _Batch, end: int, p: float, alpha: float
    ) -> dict[str, float | bool]:
        key = (end, p)
        cached = batch.hop_metrics.get(key)
        if cached is None:
            stop = end - batch.settings.window_size
            cached = self._metrics(batch, stop - batch.settings.baseline_size, stop, end, p, alpha)
            batch.hop_metrics[key] = cached
        return dict(cached)

    # -- drift anchor -------------------------------------------------------------------------

    def _take_first_anchor(self, settings: DetectorSettings) -> None:
        """The first baseline becomes the anchor when the stream first becomes ready."""
        end = self.events_ingested
        pool = self._slice(end - settings.detection_min_events, end)
        self._set_anchor(pool[: settings.baseline_size], pool, settings)

    def reset_anchor(self, events: Sequence[Mapping[str, Any]]) -> AnchorInfo:
        """Replace the anchor by one built from ``events`` (serialised like ingested events).

        The events are not ingested. Drift detection is (re-)enabled.
        """
        if not events:
            raise ValueError("an anchor needs at least one event")
        data = [
            mask_volatile(canonical_json(redact_secrets(e))).encode("utf-8", "surrogatepass")
            for e in events
        ][-HISTORY_CAP:]
        self._anchor_disabled = False
        return self._set_anchor(data, data, self.settings)

    def delete_anchor(self) -> None:
        """Disable drift detection: the anchor is kept, inactive, until a reset replaces it.

        No new anchor is taken automatically after this.
        """
        self._anchor_disabled = True
        if self.anchor is not None and self.anchor.is_active:
            self.anchor = _replace_active(self.anchor, active=False)

    def _set_anchor(
        self, events: list[bytes], reference_pool: list[bytes], settings: DetectorSettings
    ) -> AnchorInfo:
        choice = self._compressor(settings.compressor)
        window = max(1, min(settings.window_size, len(reference_pool) // 2))
        joined = _SEP.join(events)
        c_anchor = max(1, choice.compressor.size(joined))
        self._anchors_made += 1
        rng = random.Random(f"{self.seed}:anchor:{self._anchors_made}")
        self.anchor = AnchorInfo(
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            created_at=self._clock(),
            event_count=len(events),
            compressor=choice.algo,
            baseline_entropy=_entropy(joined),
            baseline_compression_ratio=len(joined) / c_anchor,
            drift_ncd_threshold=DRIFT_NCD_THRESHOLD,
            is_active=True,
            window_size=window,
            reference_ncd=self._reference_ncd(choice.compressor, reference_pool, window),
        )
        self._anchor_events = events
        self._anchor_cache = None
        return self.anchor

    @staticmethod
    def _reference_ncd(compressor: SizeCompressor, pool: list[bytes], window: int) -> float:
        """Mean NCD between held-out windows of ``pool`` and the rest of it."""
        if len(pool) < 2:
            return 0.0
        folds = min(_ANCHOR_REFERENCE_FOLDS, len(pool) // window)
        values = []
        for f in range(folds):
            lo = (len(pool) - window) * f // max(1, folds - 1) if folds > 1 else len(pool) - window
            rest = _SEP.join(pool[:lo] + pool[lo + window :])
            held_out = _SEP.join(pool[lo : lo + window])
            values.append(_dictionary_ncd(compressor, rest, held_out))
        return sum(values) / len(values)

    def _drift(self) -> dict[str, Any] | None:
        anchor = self.anchor
        if anchor is None or not anchor.is_active or not self._history:
            return None
        choice = self._compressor(anchor.compressor)
        if self._anchor_cache is None or self._anchor_cache[0] != anchor.id:
            joined = _SEP.join(self._anchor_events)
            self._anchor_cache = (
                anchor.id,
                choice.compressor.with_dictionary(joined),
                choice.compressor.size(joined),
            )
        _, coder, c_anchor = self._anchor_cache
        window = _SEP.join(self._history[-anchor.window_size :])
        c_window = choice.compressor.size(window)
        ncd = _ncd(c_anchor, c_window, c_anchor + coder.size(window))
        reference = anchor.reference_ncd
        score = 0.0 if reference >= 1.0 else (ncd - reference) / (1.0 - reference)
        score = min(1.0, max(0.0, score))
        return {
            "anchor_id": anchor.id,
            "drift_score": score,
            "drift_threshold": anchor.drift_ncd_threshold,
            "drift_detected": score >= anchor.drift_ncd_threshold,
            "baseline_events": anchor.event_count,
            "window_events": min(anchor.window_size, len(self._history)),
            "anchor_created_at": anchor.created_at.isoformat(),
        }

    # -- persistence --------------------------------------------------------------------------

    def snapshot(self, *, bulk: bool = True) -> dict[str, Any]:
        """All state as JSON-able data: :meth:`restore` of it continues exactly from here.

        ``bulk=False`` leaves out the large parts that only grow by appending or change
        rarely: ``history``, ``anchor_events`` and the field profiles' ``recent`` tokens.
        Persistence writes those as far as they are new (see :meth:`history_since`,
        :meth:`tokens_since` and :attr:`anchor_events`) and puts them back before restoring.
        """
        anchor = None
        if self.anchor is not None:
            anchor = asdict(self.anchor)
            anchor["created_at"] = self.anchor.created_at.isoformat()
        data: dict[str, Any] = {
            "version": SNAPSHOT_VERSION,
            "settings": asdict(self.settings),
            "seed": self.seed,
            "events_ingested": self.events_ingested,
            "fields": self._fields.to_json(recent=bulk),
            "reservoir": {
                "key": None if self._reservoir.key is None else list(self._reservoir.key),
                "scores": list(self._reservoir.fifo),
            },
            "null": {
                "key": None if self._null.key is None else list(self._null.key),
                "entries": [list(entry) for entry in self._null.entries],
                "observed": [list(entry) for entry in self._null.observed],
            },
            "anchor": anchor,
            "anchors_made": self._anchors_made,
            "anchor_disabled": self._anchor_disabled,
            "flagged": sorted(self._flagged),
            "pending": [[i, score] for i, score in sorted(self._pending.items())],
        }
        if bulk:
            data["history"] = [d.decode("utf-8", "surrogatepass") for d in self._history]
            data["anchor_events"] = [
                d.decode("utf-8", "surrogatepass") for d in self._anchor_events
            ]
        return data

    # The bulky parts of the state, for incremental persistence (see snapshot(bulk=False)).

    @property
    def history_start(self) -> int:
        """Index of the oldest event the history still holds."""
        return self._first

    def history_since(self, index: int) -> list[bytes]:
        """Serialised events from index ``index`` (at the earliest :attr:`history_start`)."""
        return self._history[max(0, index - self._first) :]

    @property
    def tokens_start(self) -> int:
        """Index of the oldest event whose field tokens are kept (the newest 1000 at most)."""
        return self.events_ingested - len(self._fields.recent)

    def tokens_since(self, index: int) -> list[list[str]]:
        """Field tokens of the events from ``index`` (at the earliest :attr:`tokens_start`)."""
        recent = self._fields.recent
        skip = max(0, index - self.tokens_start)
        return [list(tokens) for tokens in islice(recent, skip, None)]

    @property
    def anchor_events(self) -> list[bytes]:
        """The serialised events of the (possibly inactive) drift anchor; replaced only with
        the anchor, whose id changes each time."""
        return self._anchor_events

    @classmethod
    def restore(
        cls, data: Mapping[str, Any], *, clock: Callable[[], datetime] = _utc_now
    ) -> StreamDetector:
        """A detector continuing from a :meth:`snapshot`."""
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported detector snapshot version {data.get('version')!r}")
        detector = cls(DetectorSettings(**data["settings"]), seed=int(data["seed"]), clock=clock)
        detector.events_ingested = int(data["events_ingested"])
        detector._history = [s.encode("utf-8", "surrogatepass") for s in data["history"]]
        detector._first = detector.events_ingested - len(detector._history)
        detector._fields = _FieldProfiles.from_json(data["fields"])
        reservoir = data["reservoir"]
        detector._reservoir = _Reservoir(
            None if reservoir["key"] is None else tuple(reservoir["key"]),
            [int(s) for s in reservoir["scores"]],
        )
        null = data["null"]
        detector._null = _NullCache(
            None if null["key"] is None else tuple(null["key"]),
            [(int(h), float(r)) for h, r in null["entries"]],
            [(int(h), float(r)) for h, r in null["observed"]],
        )
        if data["anchor"] is not None:
            anchor = dict(data["anchor"])
            anchor["created_at"] = datetime.fromisoformat(anchor["created_at"])
            detector.anchor = AnchorInfo(**anchor)
        detector._anchor_events = [
            s.encode("utf-8", "surrogatepass") for s in data["anchor_events"]
        ]
        detector._anchors_made = int(data["anchors_made"])
        detector._anchor_disabled = bool(data["anchor_disabled"])
        detector._flagged = {int(i) for i in data["flagged"]}
        detector._pending = {int(i): int(score) for i, score in data["pending"]}
        return detector


def _replace_active(anchor: AnchorInfo, *, active: bool) -> AnchorInfo:
    values = asdict(anchor)
    values["is_active"] = active
    return AnchorInfo(**values)


def _dictionary_ncd(compressor: SizeCompressor, x: bytes, y: bytes) -> float:
    """NCD of ``x`` and ``y`` with C(x + y) taken as C(x) + C(y given x as a dictionary)."""
    c_x = compressor.size(x)
    c_y = compressor.size(y)
    return _ncd(c_x, c_y, c_x + compressor.with_dictionary(x).size(y))
