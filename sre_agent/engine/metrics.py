"""The catalogue of metrics rules can be written against, each computed from window sums of a rollup."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from sre_agent.engine.histogram import FloatArray, quantiles


class MetricKind(StrEnum):
    """How a metric behaves on partial (still landing) data, which decides where windows may end."""

    ADDITIVE = "additive"
    """A sum or count: partial data can only make it smaller."""
    RATIO = "ratio"
    """A ratio or mean of events: partial data is a sample of the same population."""
    PERCENTILE = "percentile"
    """A quantile of the latency histogram: like RATIO."""
    GAUGE = "gauge"
    """A time-weighted average of a load gauge."""
    MAX = "max"
    """The largest value seen."""


@dataclass
class WindowData:
    """Window aggregates for n (series, instant) rows: summed measures, histogram, window length."""

    columns: dict[str, FloatArray]
    window_seconds: float
    hist: FloatArray | None = None
    le: dict[int, FloatArray] = field(default_factory=dict)

    def col(self, name: str) -> FloatArray:
        """Return the summed measure ``name``."""
        return self.columns[name]


@dataclass(frozen=True)
class MetricDef:
    """A metric: its rollup, unit, behaviour on partial data and how to compute it."""

    name: str
    rollup: str
    unit: str
    kind: MetricKind
    description: str
    needs: tuple[str, ...]
    events: str | None
    """Measure counting the events behind the value (what ``min_events`` guards); None for gauges."""
    compute: Callable[[WindowData, int | None], FloatArray]
    needs_histogram: bool = False
    needs_latency_threshold: bool = False


def ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    """``num / den`` element-wise, NaN where ``den`` is 0 (no events: undefined, not zero)."""
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _column(measure: str) -> Callable[[WindowData, int | None], FloatArray]:
    """The window aggregate of ``measure`` as is (a sum, or a max for MAX-combined measures)."""
    return lambda w, _p: w.col(measure)


def _mean(measure: str, events: str) -> Callable[[WindowData, int | None], FloatArray]:
    return lambda w, _p: ratio(w.col(measure), w.col(events))


def _percentile(q: float) -> Callable[[WindowData, int | None], FloatArray]:
    def compute(w: WindowData, _p: int | None) -> FloatArray:
        assert w.hist is not None
        return quantiles(w.hist, q, w.col("elapsed_ms_max"))

    return compute


def _gauge(measure: str, grain_seconds: float) -> Callable[[WindowData, int | None], FloatArray]:
    # Σ(avg over a bucket × bucket length) / window length = time-weighted mean; absent buckets are idle.
    return lambda w, _p: w.col(measure) * grain_seconds / w.window_seconds


def _slow_ratio(w: WindowData, threshold_ms: int | None) -> FloatArray:
    assert threshold_ms is not None
    under = w.le[threshold_ms]
    return ratio(w.col("succeeded") - under, w.col("succeeded"))


def _per_hour(measure: str) -> Callable[[WindowData, int | None], FloatArray]:
    return lambda w, _p: w.col(measure) * 3600.0 / w.window_seconds


def _metrics() -> dict[str, MetricDef]:
    q, load, meter, azure = "query", "warehouse_load", "warehouse_metering", "azure_metric"
    defs = [
        MetricDef(
            "query_count",
            q,
            "queries",
            MetricKind.ADDITIVE,
            "queries that ended in the window",
            ("queries",),
            "queries",
            _column("queries"),
        ),
        MetricDef(
            "failed_count",
            q,
            "queries",
            MetricKind.ADDITIVE,
            "failed queries in the window",
            ("failed",),
            "queries",
            _column("failed"),
        ),
        MetricDef(
            "error_rate",
            q,
            "ratio",
            MetricKind.RATIO,
            "failed / all queries",
            ("failed", "queries"),
            "queries",
            lambda w, _p: ratio(w.col("failed"), w.col("queries")),
        ),
        MetricDef(
            "cancel_rate",
            q,
            "ratio",
            MetricKind.RATIO,
            "cancelled / all queries",
            ("cancelled", "queries"),
            "queries",
            lambda w, _p: ratio(w.col("cancelled"), w.col("queries")),
        ),
        MetricDef(
            "latency_p50_ms",
            q,
            "ms",
            MetricKind.PERCENTILE,
            "median TOTAL_ELAPSED_TIME of successful queries",
            ("succeeded", "elapsed_ms_max"),
            "succeeded",
            _percentile(0.50),
            needs_histogram=True,
        ),
        MetricDef(
            "latency_p90_ms",
            q,
            "ms",
            MetricKind.PERCENTILE,
            "90th percentile TOTAL_ELAPSED_TIME",
            ("succeeded", "elapsed_ms_max"),
            "succeeded",
            _percentile(0.90),
            needs_histogram=True,
        ),
        MetricDef(
            "latency_p95_ms",
            q,
            "ms",
            MetricKind.PERCENTILE,
            "95th percentile TOTAL_ELAPSED_TIME",
            ("succeeded", "elapsed_ms_max"),
            "succeeded",
            _percentile(0.95),
            needs_histogram=True,
        ),
        MetricDef(
            "latency_p99_ms",
            q,
            "ms",
            MetricKind.PERCENTILE,
            "99th percentile TOTAL_ELAPSED_TIME",
            ("succeeded", "elapsed_ms_max"),
            "succeeded",
            _percentile(0.99),
            needs_histogram=True,
        ),
        MetricDef(
            "latency_mean_ms",
            q,
            "ms",
            MetricKind.RATIO,
            "mean TOTAL_ELAPSED_TIME of successful queries",
            ("elapsed_ms_sum", "succeeded"),
            "succeeded",
            _mean("elapsed_ms_sum", "succeeded"),
        ),
        MetricDef(
            "latency_max_ms",
            q,
            "ms",
            MetricKind.MAX,
            "slowest successful query",
            ("elapsed_ms_max", "succeeded"),
            "succeeded",
            _column("elapsed_ms_max"),
        ),
        MetricDef(
            "slow_query_ratio",
            q,
            "ratio",
            MetricKind.RATIO,
            "successful queries slower than latency_threshold_ms / all successful queries (exact count)",
            ("succeeded",),
            "succeeded",
            _slow_ratio,
            needs_latency_threshold=True,
        ),
        MetricDef(
            "queued_overload_mean_ms",
            q,
            "ms",
            MetricKind.RATIO,
            "mean QUEUED_OVERLOAD_TIME per query",
            ("queued_overload_ms_sum", "queries"),
            "queries",
            _mean("queued_overload_ms_sum", "queries"),
        ),
        MetricDef(
            "queued_provisioning_mean_ms",
            q,
            "ms",
            MetricKind.RATIO,
            "mean QUEUED_PROVISIONING_TIME per query",
            ("queued_provisioning_ms_sum", "queries"),
            "queries",
            _mean("queued_provisioning_ms_sum", "queries"),
        ),
        MetricDef(
            "blocked_mean_ms",
            q,
            "ms",
            MetricKind.RATIO,
            "mean TRANSACTION_BLOCKED_TIME per query",
            ("blocked_ms_sum", "queries"),
            "queries",
            _mean("blocked_ms_sum", "queries"),
        ),
        MetricDef(
            "compilation_mean_ms",
            q,
            "ms",
            MetricKind.RATIO,
            "mean COMPILATION_TIME per query",
            ("compilation_ms_sum", "queries"),
            "queries",
            _mean("compilation_ms_sum", "queries"),
        ),
        MetricDef(
            "execution_mean_ms",
            q,
            "ms",
            MetricKind.RATIO,
            "mean EXECUTION_TIME per query",
            ("execution_ms_sum", "queries"),
            "queries",
            _mean("execution_ms_sum", "queries"),
        ),
        MetricDef(
            "queued_query_ratio",
            q,
            "ratio",
            MetricKind.RATIO,
            "queries that queued for overload / all",
            ("queued_queries", "queries"),
            "queries",
            _mean("queued_queries", "queries"),
        ),
        MetricDef(
            "spill_remote_bytes",
            q,
            "bytes",
            MetricKind.ADDITIVE,
            "bytes spilled to remote storage",
            ("spill_remote_bytes_sum",),
            "queries",
            _column("spill_remote_bytes_sum"),
        ),
        MetricDef(
            "spill_local_bytes",
            q,
            "bytes",
            MetricKind.ADDITIVE,
            "bytes spilled to local storage",
            ("spill_local_bytes_sum",),
            "queries",
            _column("spill_local_bytes_sum"),
        ),
        MetricDef(
            "spilled_query_ratio",
            q,
            "ratio",
            MetricKind.RATIO,
            "queries that spilled / all",
            ("spilled_queries", "queries"),
            "queries",
            _mean("spilled_queries", "queries"),
        ),
        MetricDef(
            "bytes_scanned",
            q,
            "bytes",
            MetricKind.ADDITIVE,
            "bytes scanned",
            ("bytes_scanned_sum",),
            "queries",
            _column("bytes_scanned_sum"),
        ),
        MetricDef(
            "pruning_ratio",
            q,
            "ratio",
            MetricKind.RATIO,
            "partitions scanned / partitions total (1 = no pruning)",
            ("partitions_scanned_sum", "partitions_total_sum"),
            "queries",
            lambda w, _p: ratio(w.col("partitions_scanned_sum"), w.col("partitions_total_sum")),
        ),
        MetricDef(
            "cache_hit_ratio",
            q,
            "ratio",
            MetricKind.RATIO,
            "bytes scanned from the warehouse cache / all",
            ("cache_bytes_sum", "bytes_scanned_sum"),
            "queries",
            lambda w, _p: ratio(w.col("cache_bytes_sum"), w.col("bytes_scanned_sum")),
        ),
        MetricDef(
            "warehouse_running_avg",
            load,
            "queries",
            MetricKind.GAUGE,
            "time-weighted average running queries",
            ("avg_running",),
            None,
            _gauge("avg_running", 300),
        ),
        MetricDef(
            "warehouse_queued_load_avg",
            load,
            "queries",
            MetricKind.GAUGE,
            "time-weighted average queries queued by overload",
            ("avg_queued_load",),
            None,
            _gauge("avg_queued_load", 300),
        ),
        MetricDef(
            "warehouse_queued_provisioning_avg",
            load,
            "queries",
            MetricKind.GAUGE,
            "time-weighted average queries waiting for provisioning",
            ("avg_queued_provisioning",),
            None,
            _gauge("avg_queued_provisioning", 300),
        ),
        MetricDef(
            "warehouse_blocked_avg",
            load,
            "queries",
            MetricKind.GAUGE,
            "time-weighted average queries blocked by locks",
            ("avg_blocked",),
            None,
            _gauge("avg_blocked", 300),
        ),
        MetricDef(
            "credits_used",
            meter,
            "credits",
            MetricKind.ADDITIVE,
            "credits (compute + cloud services) in the window",
            ("credits_used",),
            None,
            _column("credits_used"),
        ),
        MetricDef(
            "credits_used_compute",
            meter,
            "credits",
            MetricKind.ADDITIVE,
            "compute credits in the window",
            ("credits_used_compute",),
            None,
            _column("credits_used_compute"),
        ),
        MetricDef(
            "credits_per_hour",
            meter,
            "credits/h",
            MetricKind.ADDITIVE,
            "credits used per hour, averaged over the window",
            ("credits_used",),
            None,
            _per_hour("credits_used"),
        ),
        MetricDef(
            "idle_credits",
            meter,
            "credits",
            MetricKind.ADDITIVE,
            "compute credits not attributed to queries (warehouse up and idle)",
            ("credits_used_compute", "credits_attributed_compute_queries"),
            None,
            lambda w, _p: np.maximum(w.col("credits_used_compute") - w.col("credits_attributed_compute_queries"), 0.0),
        ),
        MetricDef(
            "azure_value",
            azure,
            "",
            MetricKind.RATIO,
            "mean over the window of an Azure metric's per-minute value (its configured aggregation, in its own unit)",
            ("value_sum", "samples"),
            "samples",
            _mean("value_sum", "samples"),
        ),
        MetricDef(
            "azure_max",
            azure,
            "",
            MetricKind.MAX,
            "largest per-minute value of an Azure metric in the window",
            ("value_max", "samples"),
            "samples",
            _column("value_max"),
        ),
    ]
    return {m.name: m for m in defs}


METRICS: dict[str, MetricDef] = _metrics()
"""Every metric a rule may name."""
