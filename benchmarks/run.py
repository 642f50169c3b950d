"""`make bench`: run every benchmark, check its targets, write JSON, a table and charts.

Each `benchmarks/bench_*.py` module has `run(quick: bool) -> dict`. The targets the SDK promises
live here, in one table, as functions of those results. `benchmarks/results/latest.json` gets
every figure; `benchmarks/results/<name>.png` charts each benchmark's targets as measured /
target, so a glance shows the headroom. Exit status 1 when a target is missed.

    python -m benchmarks.run [--quick] [--only engine,client]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
Figures = dict[str, Any]


@dataclass(frozen=True)
class Target:
    """One promised figure: `measure(results)` must be `at_least` (or at most) `bound`."""

    benchmark: str
    name: str
    unit: str
    bound: float
    at_least: bool
    measure: Callable[[Figures], float]

    def met(self, value: float) -> bool:
        return value >= self.bound if self.at_least else value <= self.bound


def _engine(
    profile: str, traffic: str, kind: str, batch: int, key: str
) -> Callable[[Figures], float]:
    def measure(results: Figures) -> float:
        for row in results["speed"]:
            if (row["profile"], row["traffic"], row["kind"], row["batch"]) == (
                profile,
                traffic,
                kind,
                batch,
            ):
                return float(row[key])
        raise KeyError(f"no engine figure for {profile}/{traffic}/{kind}/{batch}")

    return measure


def _quality(profile: str, traffic: str, key: str) -> Callable[[Figures], float]:
    def measure(results: Figures) -> float:
        for row in results["quality"]:
            if (row["profile"], row["traffic"]) == (profile, traffic):
                return float(row[key])
        raise KeyError(f"no quality figure for {profile}/{traffic}")

    return measure


def _path(*keys: str) -> Callable[[Figures], float]:
    def measure(results: Figures) -> float:
        value: Any = results
        for key in keys:
            value = value[key]
        return float(value)

    return measure


TARGETS: list[Target] = [
    *(
        Target("engine", f"{traffic} normal traffic, balanced, batch 100", "events/s", 5000, True,
               _engine("balanced", traffic, "normal", 100, "events_per_s"))
        for traffic in ("log", "metric")
    ),
    *(
        Target("engine", f"{traffic} incident traffic, balanced, batch 100", "events/s", 1000, True,
               _engine("balanced", traffic, "incident", 100, "events_per_s"))
        for traffic in ("log", "metric")
    ),
    *(
        Target("engine", f"{traffic}: bursts found, balanced", "share", 1.0, True,
               _quality("balanced", traffic, "burst_recall"))
        for traffic in ("log", "metric")
    ),
    *(
        Target("engine", f"{traffic}: isolated odd events found, balanced", "share", 0.8, True,
               _quality("balanced", traffic, "isolated_recall"))
        for traffic in ("log", "metric")
    ),
    *(
        Target("engine", f"{traffic}: false alarms per 1000 clean events, {profile}", "alarms",
               2.0, False, _quality(profile, traffic, "false_alarms_per_1000_clean"))
        for profile in ("sensitive", "balanced", "strict")
        for traffic in ("log", "metric")
    ),
    Target("local_app", "100-event detect p50, in-process", "ms", 30, False,
           _path("in_process", "p50_ms")),
    *(
        Target("client", f"CPU per 100-event detect via {name}, x hand-written httpx", "ratio",
               1.3, False, _path("ratios", key, "median"))
        for key, name in (("sync", "DriftlockSyncClient.detect"),
                          ("detect_sync", "DriftlockClient.detect_sync"),
                          ("async", "DriftlockClient.detect"))
    ),
    Target("asgi", "FastAPI requests/s with the middleware, x bare (median)", "ratio", 0.90,
           True, _path("variants", "driftlock", "ratio_to_bare", "median")),
    Target("asgi", "server CPU added per request (median)", "us", 20, False,
           _path("variants", "driftlock", "cpu_us_over_bare", "median")),
    Target("asgi", "p99 latency added (median)", "ms", 1.0, False,
           _path("variants", "driftlock", "p99_ms_over_bare", "median")),
    *(
        Target("wsgi", f"{name} requests/s with Driftlock, x bare (median)", "ratio", 0.95,
               True, _path("variants", f"{key}-driftlock", "ratio_to_bare", "median"))
        for key, name in (("flask", "Flask"), ("django", "Django"))
    ),
    Target("delivery", "events delivered to driftlock serve, nothing lost", "events/s", 20000,
           True, _path("throughput", "events_per_s")),
    Target("delivery", "memory growth from 50k to 100k requests, Driftlock down", "MB", 5.0,
           False, _path("memory", "growth_50k_to_100k_mb")),
]  # fmt: skip


def _benchmarks(only: set[str] | None) -> list[str]:
    names = sorted(
        path.stem.removeprefix("bench_") for path in Path(__file__).parent.glob("bench_*.py")
    )
    return [name for name in names if only is None or name in only]


def _chart(name: str, rows: list[dict[str, Any]]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Headroom as a ratio in the good direction: above 1 means the target is met. Capped, so
    # that a zero (say, no false alarm at all) does not flatten every other bar.
    ratios = [
        min(
            100.0,
            row["value"] / row["bound"]
            if row["at_least"]
            else row["bound"] / max(row["value"], 0.01),
        )
        for row in rows
    ]
    figure, axes = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.2))
    colours = ["#2a9d8f" if row["met"] else "#e63946" for row in rows]
    axes.barh([row["name"] for row in rows], ratios, color=colours)
    axes.axvline(1.0, color="black", linewidth=1)
    axes.set_xscale("log")
    axes.set_xlabel("measured vs target (right of the line: target met)")
    axes.set_title(f"driftlock benchmark: {name}")
    axes.invert_yaxis()
    figure.tight_layout()
    path = RESULTS / f"{name}.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer samples (under 2 minutes)")
    parser.add_argument("--only", help="comma-separated benchmark names, e.g. engine,client")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    RESULTS.mkdir(exist_ok=True)
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": args.quick,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "benchmarks": {},
        "targets": [],
    }
    missed = 0
    for name in _benchmarks(only):
        print(f"== {name}", flush=True)
        began = time.perf_counter()
        module = importlib.import_module(f"benchmarks.bench_{name}")
        results: Figures = module.run(args.quick)
        report["benchmarks"][name] = results | {"seconds": round(time.perf_counter() - began, 1)}
        rows = []
        for target in (t for t in TARGETS if t.benchmark == name):
            try:
                value = target.measure(results)
            except KeyError:
                print(f"  {target.name:<58} not measured in this run")
                continue
            met = target.met(value)
            missed += not met
            sign = ">=" if target.at_least else "<="
            print(
                f"  {target.name:<58} {value:>12,.3f} {target.unit:<9}"
                f" target {sign} {target.bound:g}  {'ok' if met else 'MISSED'}"
            )
            rows.append(
                {
                    "benchmark": name,
                    "name": target.name,
                    "unit": target.unit,
                    "value": value,
                    "bound": target.bound,
                    "at_least": target.at_least,
                    "met": met,
                }
            )
        report["targets"].extend(rows)
        if rows:
            print(f"  chart: {_chart(name, rows).relative_to(RESULTS.parent.parent)}")
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote benchmarks/results/latest.json; {missed} target(s) missed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
