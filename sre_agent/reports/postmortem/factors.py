"""Contributing factors of an incident: the series of its scope whose level changed most between the baseline and
the impact window (warehouse latency, queueing, failures, spill, volume, peak credits per hour, query patterns'
time per run), ranked, each a hypothesis with its numbers."""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from sre_agent.engine.rollups import QUERY, QUERY_COST, QUERY_PATTERN, WAREHOUSE_LOAD, WAREHOUSE_METERING
from sre_agent.reports.postmortem.series import Reader, Windows, query_stats


def ratio(before: float | None, during: float | None) -> float | None:
    if before is None or during is None:
        return None
    if before <= 0:
        return math.inf if during > 0 else None
    return during / before


METRIC_NAMES = {
    "p95_ms": "p95 latency",
    "queued_ms_per_query": "queueing per query",
    "failed": "failed queries",
    "spill_gb": "spilled data",
    "queries": "queries",
    "avg_queued_load": "queued load",
}
"""How a factor's metric is named in prose (the JSON keeps the rollup's column name in ``metric``)."""


def factor(
    kind: str, subject: str, metric: str, before: float | None, during: float | None, unit: str
) -> dict[str, Any] | None:
    change_ratio = ratio(before, during)
    if change_ratio is None or (0.67 < change_ratio < 1.5):
        return None
    score = 10.0 if math.isinf(change_ratio) else abs(math.log2(change_ratio)) if change_ratio > 0 else 10.0
    change = "appeared" if math.isinf(change_ratio) else f"×{change_ratio:,.1f}"
    return {
        "kind": kind,
        "subject": subject,
        "metric": metric,
        "name": METRIC_NAMES.get(metric, metric),
        "unit": unit,
        "before": before,
        "during": during,
        "ratio": None if math.isinf(change_ratio) else change_ratio,
        "change": change,
        "score": score,
    }


def factors(reader: Reader, w: Windows) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    now_q = reader.frame(QUERY, w.onset, w.end)
    base_q = reader.frame(QUERY, w.base_lo, w.base_hi)
    for wh in sorted(set(now_q["warehouse"].to_list())):
        a = query_stats(base_q.filter(pl.col("warehouse") == wh))
        b = query_stats(now_q.filter(pl.col("warehouse") == wh))
        for metric, unit, kind in (
            ("p95_ms", "ms", "latency"),
            ("queued_ms_per_query", "ms per query", "queueing"),
            ("failed", "queries", "failures"),  # (kept only when failures grew, below)
            ("spill_gb", "GB", "spill"),
            ("queries", "queries", "volume"),
        ):
            f = factor(kind, f"warehouse {wh}", metric, a[metric], b[metric], unit)
            if f is None or (metric == "spill_gb" and (b[metric] or 0) < 1.0):
                continue
            if metric == "failed" and (b[metric] < 3 or b[metric] <= a[metric]):
                continue  # a failure or two less (or more) is noise, not a factor
            out.append(f)
    out += pattern_factors(reader, w)
    load_now = reader.frame(WAREHOUSE_LOAD, w.onset, w.end)
    load_base = reader.frame(WAREHOUSE_LOAD, w.base_lo, w.base_hi)
    for wh in sorted(set(load_now["warehouse"].to_list())):
        before = load_base.filter(pl.col("warehouse") == wh)["avg_queued_load"].mean()
        during = load_now.filter(pl.col("warehouse") == wh)["avg_queued_load"].mean()
        f = factor(
            "queueing", f"warehouse {wh}", "avg_queued_load", as_float(before), as_float(during), "queries queued (avg)"
        )
        if f and (as_float(during) or 0) >= 0.1:
            out.append(f)
    hour_lo, hour_hi = w.onset // 3600 * 3600, -(-w.end // 3600) * 3600
    meter_now = reader.frame(WAREHOUSE_METERING, hour_lo, hour_hi)
    meter_base = reader.frame(WAREHOUSE_METERING, w.base_lo // 3600 * 3600, -(-w.base_hi // 3600) * 3600)
    for wh in sorted(set(meter_now["warehouse"].to_list())):
        before = meter_base.filter(pl.col("warehouse") == wh)["credits_used"].max()
        during = meter_now.filter(pl.col("warehouse") == wh)["credits_used"].max()
        f = factor(
            "resize or clusters",
            f"warehouse {wh}",
            "peak credits per hour",
            as_float(before),
            as_float(during),
            "credits/h",
        )
        if f and (as_float(during) or 0) > (as_float(before) or 0):
            f["hint"] = "a higher hourly burn than the warehouse's size allowed before: a resize or more clusters"
            out.append(f)
    out.sort(key=lambda f: (-f["score"], f["subject"], f["metric"]))
    return out[:12]


def as_float(value: Any) -> float | None:
    return None if value is None else float(value)


def pattern_factors(reader: Reader, w: Windows) -> list[dict[str, Any]]:
    """Query patterns whose per-run elapsed time or volume changed (QUERY_PATTERN, else QUERY_COST)."""
    rollup, elapsed = (QUERY_PATTERN, "elapsed_ms_sum")
    now_p = reader.frame(rollup, w.onset, w.end)
    base_p = reader.frame(rollup, w.base_lo, w.base_hi)
    if now_p.is_empty():
        rollup, elapsed = (QUERY_COST, "elapsed_ms")
        now_p = reader.frame(rollup, w.onset // 3600 * 3600, -(-w.end // 3600) * 3600)
        base_p = reader.frame(rollup, w.base_lo // 3600 * 3600, -(-w.base_hi // 3600) * 3600)
    if now_p.is_empty():
        return []

    def per_pattern(frame: pl.DataFrame) -> dict[str, tuple[int, float]]:
        agg = frame.group_by("pattern").agg(pl.col("queries").sum(), pl.col(elapsed).sum())
        return {p: (int(q), float(e)) for p, q, e in agg.iter_rows()}

    before, during = per_pattern(base_p), per_pattern(now_p)
    out = []
    for pattern, (runs, total) in during.items():
        b_runs, b_total = before.get(pattern, (0, 0.0))
        per_run = total / runs if runs else None
        b_per_run = b_total / b_runs if b_runs else None
        for metric, a, b, unit, kind in (
            ("elapsed per run", b_per_run, per_run, "ms", "pattern latency"),
            ("runs", float(b_runs), float(runs), "runs", "pattern volume"),
        ):
            f = factor(kind, f"pattern {pattern}", metric, a, b, unit)
            enough = runs >= (50 if b_runs == 0 else 20) if metric == "runs" else runs >= 3
            if f and enough:
                f["pattern"] = pattern
                out.append(f)
    return out
