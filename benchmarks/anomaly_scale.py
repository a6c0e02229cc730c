"""Latency-anomaly cost against the number of series: the first build (four weeks judged) and one steady pass.

Synthetic p95 series (a trading-hours plateau, lognormal noise, missing buckets) for S series × 29 days of
5-minute buckets go through the daemon's own ``SeriesMatrix``: written a day at a time and judged (the first
pass after a start), then one more 5-minute bucket written and the whole sustain/level-shift state recomputed
(what every later pass does). Prints wall time, the cost per series-bucket and per series, peak RSS, and each
size's time as a multiple of the smallest size's time scaled by the series ratio (1.0 = exactly linear).

    python benchmarks/anomaly_scale.py                       # 100, 300 and 1 000 series
    python benchmarks/anomaly_scale.py --series 100 10000
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sre_agent.config.anomaly import LatencyAnomalySpec, LevelShift  # noqa: E402
from sre_agent.engine.anomaly_series import PHASE_NAMES, Folded, SeriesMatrix  # noqa: E402

STEP = 300
DAY = 86_400 // STEP
DAYS = 29
START = 1_791_158_400  # a Monday, 00:00 UTC


def day_block(series: int, day: int, rng: np.random.Generator) -> Folded:
    """One day of 5-minute p95 values for ``series`` series (10 % of buckets missing)."""
    hours = (np.arange(DAY) * STEP // 3600)[None, :]
    level = np.where((hours >= 13) & (hours < 21), 800.0, 300.0) * rng.uniform(0.5, 2.0, (series, 1))
    values = level * np.exp(rng.normal(0, 0.2, (series, DAY)))
    values[rng.random((series, DAY)) < 0.1] = np.nan
    queries = np.where(np.isfinite(values), 40.0, 0.0)
    phases = np.full((len(PHASE_NAMES), series, DAY), 10.0)
    keys = [("WH", f"s{i:05d}") for i in range(series)]
    return Folded(keys, START + day * DAY * STEP, values, queries, phases)


def measure(series: int) -> tuple[float, float]:
    """Seconds for the first build and for one steady pass."""
    spec = LatencyAnomalySpec(group_by=["warehouse", "pattern"], bucket=timedelta(minutes=5), level_shift=LevelShift())
    rng = np.random.default_rng(series)
    matrix = SeriesMatrix(spec, START, "bench")
    took = 0.0
    for d in range(DAYS):
        block = day_block(series, d, rng)  # made outside the clock, one day at a time
        began = time.perf_counter()
        matrix.write(block)
        matrix.judge(matrix.col(block.start + DAY * STEP))
        took += time.perf_counter() - began
    began = time.perf_counter()
    anomalous = matrix.anomalous()
    matrix.changed(anomalous)
    build = took + time.perf_counter() - began
    nxt = day_block(series, DAYS, rng)
    one = Folded(nxt.keys, nxt.start, nxt.values[:, :1], nxt.queries[:, :1], nxt.phases[:, :, :1])
    began = time.perf_counter()
    matrix.write(one)
    matrix.judge(matrix.col(one.start + STEP))
    anomalous = matrix.anomalous()
    matrix.changed(anomalous)
    steady = time.perf_counter() - began
    return build, steady


def main() -> int:
    """Print the scaling table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, nargs="+", default=[100, 300, 1000])
    args = parser.parse_args()
    print(f"{DAYS} days of 5-minute buckets per series ({DAYS * DAY:,} buckets), judged as after a start\n")
    header = (
        f"{'series':>7} {'first build':>12} {'µs/series-bucket':>17} {'steady pass':>12} {'ms/series':>10} "
        f"{'linearity':>9} {'peak RSS':>9}"
    )
    print(header)
    print("-" * len(header))
    base: tuple[int, float] | None = None
    for n in sorted(args.series):
        build, steady = measure(n)
        if base is None:
            base = (n, build)
        linear = build / (base[1] * n / base[0])
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{n:>7,} {build:>11.2f}s {build / (n * DAYS * DAY) * 1e6:>17.2f} {steady:>11.3f}s "
            f"{steady / n * 1e3:>10.3f} {linear:>9.2f} {rss:>7.0f}MB",
            flush=True,
        )
    print(
        "\nlinearity: first-build time ÷ (smallest size's time × series ratio); 1.0 is exactly linear. "
        "Peak RSS is the process's high-water mark so far (it includes the previous sizes)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
