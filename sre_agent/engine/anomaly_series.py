"""The bucketed series a LatencyAnomaly rule judges, kept in memory between evaluation passes.

The query rollup (1 minute, per warehouse × service × domain) is folded into the rule's buckets per
``group_by`` combination: the statistic from the summed latency histograms (or the mean) and the successful
queries behind it (the mean time per query of each phase is folded too, for evidence read back from the store
when an alert fires). A matrix holds four weeks of buckets (the
furthest a baseline looks back) plus two days; the agent rebuilds it from the store when it starts or the rule
changes, and extends it with the newly polled buckets at every pass.

Buckets older than the rollup's latency horizon are **final**: judged once, and a breach stays out of every
later baseline. Younger buckets are **provisional**: judged again at every pass as more rows land, never
teaching the baseline anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from sre_agent.config.anomaly import LatencyAnomalySpec
from sre_agent.engine.anomaly import (
    DAY_S,
    DAYS,
    F64,
    I64,
    LOG_FLOOR,
    LOOKBACK_S,
    METHODS,
    WEEKS,
    AnomalyParams,
    Mask,
    judge,
    shift_flags,
    shift_level,
    sustained,
    window_counts,
)
from sre_agent.engine.histogram import quantiles
from sre_agent.engine.rollups import HIST_COLUMNS
from sre_agent.engine.threshold import PHASES

QUANTILE = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}
PHASE_NAMES = tuple(PHASES)
SHIFT_HISTORY = 288
"""Buckets the level-shift EWMA is recomputed over (α = 0.1 forgets a bucket's weight after ~50)."""


@dataclass
class Folded:
    """Rollup rows folded into the rule's buckets: one row per series key, one column per bucket."""

    keys: list[tuple[str, ...]]
    start: int
    values: F64
    """The statistic, NaN where fewer than ``min_queries`` successful queries."""
    queries: F64
    phases: F64
    """Phase × series × bucket: mean ms per query."""


def fold(frame: pl.DataFrame, spec: LatencyAnomalySpec, start: int, end: int) -> Folded:
    """Fold store rows (``start <= bucket < end``) of the query rollup into the rule's buckets."""
    step = int(spec.bucket.total_seconds())
    width = max(0, (end - start) // step)
    if frame.height:
        frame = frame.filter((pl.col("bucket") >= start) & (pl.col("bucket") < start + width * step))
    if frame.height == 0 or width == 0:
        return Folded([], start, np.empty((0, width)), np.empty((0, width)), np.empty((len(PHASES), 0, width)))
    by = list(spec.group_by)
    sums = ["succeeded", "queries", "elapsed_ms_sum", *PHASES.values(), *HIST_COLUMNS]
    grouped = (
        frame.with_columns(((pl.col("bucket") - start) // step).alias("col"))
        .group_by([*by, "col"])
        .agg(*[pl.col(c).sum() for c in sums], pl.col("elapsed_ms_max").max())
        .sort([*by, "col"])
    )
    keys = sorted({tuple(str(v) for v in row) for row in grouped.select(by).iter_rows()})
    index = {k: i for i, k in enumerate(keys)}
    rows = np.array([index[tuple(str(v) for v in r)] for r in grouped.select(by).iter_rows()], dtype=np.int64)
    cols = grouped["col"].to_numpy().astype(np.int64)
    succeeded = grouped["succeeded"].to_numpy().astype(np.float64)
    if spec.statistic == "mean":
        stat = np.divide(
            grouped["elapsed_ms_sum"].to_numpy().astype(np.float64),
            succeeded,
            out=np.full(len(succeeded), np.nan),
            where=succeeded > 0,
        )
    else:
        hist = grouped.select(HIST_COLUMNS).to_numpy().astype(np.float64)
        stat = quantiles(hist, QUANTILE[spec.statistic], grouped["elapsed_ms_max"].to_numpy().astype(np.float64))
    stat = np.where(succeeded >= spec.min_queries, stat, np.nan)
    shape = (len(keys), width)
    values, queries = np.full(shape, np.nan), np.zeros(shape)
    values[rows, cols], queries[rows, cols] = stat, succeeded
    phases = np.full((len(PHASES), *shape), np.nan)
    total = grouped["queries"].to_numpy().astype(np.float64)
    for p, measure in enumerate(PHASES.values()):
        per_query = np.divide(
            grouped[measure].to_numpy().astype(np.float64), total, out=np.full(len(total), np.nan), where=total > 0
        )
        phases[p, rows, cols] = per_query
    return Folded(keys, start, values, queries, phases)


class SeriesMatrix:
    """Series × bucket matrices of one rule with their verdicts; columns start at ``origin``."""

    def __init__(self, spec: LatencyAnomalySpec, origin: int, signature: str) -> None:
        self.spec = spec
        self.params: AnomalyParams = spec.params()
        self.signature = signature
        self.polled: tuple[int | None, ...] | None = None
        """The polling state (covered_from, polled_to, complete_before) the matrix was last brought up to."""
        self.step = self.params.step_s
        self.day = DAY_S // self.step
        self.capacity = LOOKBACK_S // self.step + 2 * self.day
        self.origin = origin - origin % self.step
        self.keys: list[tuple[str, ...]] = []
        self.index: dict[tuple[str, ...], int] = {}
        self.final = 0
        """Columns before this are final and judged."""
        self.end = 0
        """Columns before this hold data (visible buckets)."""
        self.first = np.empty(0, dtype=np.int64)
        self.seen_base = np.empty(0, dtype=np.int64)
        self._alloc(0)

    def _alloc(self, series: int) -> None:
        shape = (series, self.capacity)
        # What judging reads is float64; what only evidence reads is float32 (half the memory per series).
        self.values, self.y = np.full(shape, np.nan), np.full(shape, np.nan)
        self.queries = np.zeros(shape, dtype=np.float32)
        self.baseline, self.spread, self.z = (np.full(shape, np.nan, dtype=np.float32) for _ in range(3))
        self.usable, self.breach = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
        self.warming = np.ones(shape, dtype=bool)
        self.method = np.zeros(shape, dtype=np.int8)
        self.samples = np.zeros(shape, dtype=np.int16)
        self.level = np.full(shape, np.nan, dtype=np.float32)
        """EWMA of z behind the level-shift signal (set by :meth:`shifted`)."""

    _ARRAYS = (
        "values", "queries", "y", "baseline", "spread", "z", "level", "usable", "breach", "warming", "method", "samples"
    )  # fmt: skip

    def time(self, col: int) -> int:
        """Start (epoch s) of column ``col``."""
        return self.origin + col * self.step

    def col(self, at: int) -> int:
        """Column holding ``at`` (may be outside the matrix)."""
        return (at - self.origin) // self.step

    @property
    def times(self) -> I64:
        """Start of every column."""
        out: I64 = self.origin + np.arange(self.capacity, dtype=np.int64) * self.step
        return out

    def _add_series(self, keys: list[tuple[str, ...]]) -> None:
        new = [k for k in keys if k not in self.index]
        if not new:
            return
        extra = len(new)
        for name in self._ARRAYS:
            old = getattr(self, name)
            fill = SeriesMatrix._fill(name)
            pad = np.full((extra, self.capacity), fill, dtype=old.dtype)
            setattr(self, name, np.vstack([old, pad]))
        self.first = np.concatenate([self.first, np.full(extra, np.iinfo(np.int64).max, dtype=np.int64)])
        self.seen_base = np.concatenate([self.seen_base, np.zeros(extra, dtype=np.int64)])
        for k in new:
            self.index[k] = len(self.keys)
            self.keys.append(k)

    @staticmethod
    def _fill(name: str) -> object:
        return {"queries": 0.0, "usable": False, "breach": False, "warming": True, "method": 0, "samples": 0}.get(
            name, np.nan
        )

    def _make_room(self, end_col: int) -> None:
        """Drop whole days from the front so that ``end_col`` fits."""
        if end_col <= self.capacity:
            return
        drop = -(-(end_col - self.capacity) // self.day) * self.day
        drop = min(drop, self.capacity)
        self.seen_base += np.isfinite(self.y[:, :drop]).sum(axis=1)
        for name in self._ARRAYS:
            arr = getattr(self, name)
            arr[:, :-drop] = arr[:, drop:].copy()
            arr[:, -drop:] = SeriesMatrix._fill(name)
        self.origin += drop * self.step
        self.final = max(0, self.final - drop)
        self.end = max(0, self.end - drop)

    def write(self, block: Folded) -> None:
        """Store a folded block; its span replaces whatever those columns held (they were not final)."""
        width = block.values.shape[1]
        c0 = self.col(block.start)
        self._make_room(c0 + width)
        c0 = self.col(block.start)
        self._add_series(block.keys)
        if c0 < self.final:
            raise ValueError("a block may not rewrite final buckets")
        cols = slice(c0, c0 + width)
        for name in ("values", "queries", "y", "usable"):
            getattr(self, name)[:, cols] = SeriesMatrix._fill(name)
        rows = np.array([self.index[k] for k in block.keys], dtype=np.int64)
        if len(rows):
            self.values[rows, cols] = block.values
            self.queries[rows, cols] = block.queries
        self.y[:, cols] = np.log(np.maximum(self.values[:, cols], 1.0))
        finite = np.isfinite(self.y[:, cols])
        usable = finite.copy()
        if self.params.ignore_before is not None:
            usable &= (self.times[cols] >= self.params.ignore_before)[None, :]
        self.usable[:, cols] = usable
        starts = np.where(finite.any(axis=1), self.time(c0) + np.argmax(finite, axis=1) * self.step, self.first)
        self.first = np.minimum(self.first, starts)
        self.end = max(self.end, c0 + width)

    def judge(self, final_end: int) -> None:
        """Judge newly final columns (day by day, their breaches leave the baselines), then the provisional ones."""
        final_end = min(max(final_end, self.final), self.end)
        if not self.keys:
            self.final = final_end
            return
        times = self.times
        seen = self.seen_base[:, None] + np.cumsum(np.isfinite(self.y), axis=1, dtype=np.int32)
        floor = np.full(len(self.keys), LOG_FLOOR)
        for lo in range(self.final, final_end, self.day):
            cols = np.arange(lo, min(final_end, lo + self.day), dtype=np.int64)
            self._judge(cols, times, seen, floor)
            self.usable[:, cols] &= ~self.breach[:, cols]
        self.final = final_end
        if self.end > final_end:
            self._judge(np.arange(final_end, self.end, dtype=np.int64), times, seen, floor)

    def _judge(self, cols: I64, times: I64, seen: I64, floor: F64) -> None:
        block = judge(self.y, self.usable, cols, times, self.first, seen, floor, self.values, True, self.params)
        self.baseline[:, cols], self.spread[:, cols], self.z[:, cols] = block.baseline, block.spread, block.z
        self.breach[:, cols], self.warming[:, cols] = block.breach, block.warming
        self.method[:, cols], self.samples[:, cols] = block.method, np.minimum(block.samples, 32_767)

    def anomalous(self) -> Mask:
        """k-of-n verdict of every column (series × capacity)."""
        return sustained(self.breach, self.params.k, self.params.n)

    def changed(self, anomalous: Mask) -> Mask:
        """Level-shift verdicts, except within 2/α buckets after an anomaly (its z still weighs on the EWMA)."""
        window = max(1, round(2 / self.params.shift_alpha))
        out: Mask = self.shifted() & (window_counts(anomalous, window) == 0)
        return out

    def shifted(self) -> Mask:
        """Level-shift verdict of the last ``SHIFT_HISTORY`` columns before ``end`` (False elsewhere)."""
        out = np.zeros(self.breach.shape, dtype=bool)
        if self.params.shift_z is None or self.end == 0:
            return out
        lo = max(0, self.end - SHIFT_HISTORY)
        z = np.where(self.warming[:, lo : self.end], np.nan, self.z[:, lo : self.end])
        ratio = np.where(np.isfinite(z), self.y[:, lo : self.end] - self.baseline[:, lo : self.end], np.nan)
        level, ratio_level = shift_level(z, ratio, self.params)
        self.level[:, :] = np.nan
        self.level[:, lo : self.end] = level
        out[:, lo : self.end] = shift_flags(level, ratio_level, self.params) & np.isfinite(z)
        return out

    def position(self, series: int, at: int) -> int | None:
        """The newest judged bucket ending at or before ``at`` within the sustain window, if any."""
        last = min(self.col(at), self.end) - 1
        for col in range(last, max(-1, last - self.params.n), -1):
            if col < self.capacity and np.isfinite(self.y[series, col]):
                return col
        return None

    def baseline_columns(self, series: int, col: int) -> list[int]:
        """The earlier buckets the baseline of ``col`` was formed from (for evidence)."""
        method = METHODS[int(self.method[series, col])]
        if method == "weekly":
            candidates = [col - k * 7 * self.day for k in range(1, WEEKS + 1)]
        elif method == "daily":
            candidates = [col - k * self.day for k in range(1, DAYS + 1)]
        elif method == "rolling":
            candidates = list(range(max(0, col - self.day), col))
        else:
            return []
        return [c for c in candidates if c >= 0 and self.usable[series, c]]
