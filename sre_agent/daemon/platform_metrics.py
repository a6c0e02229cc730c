"""Snowflake platform metrics from the stored rollups: latency percentiles, failures, queueing, spill, credits.

Computed once per evaluation cycle over the trailing 15 minutes of **complete** data — minutes older than
both the query family's frontier and the view's landing horizon (ACCOUNT_USAGE rows land up to 45 minutes
late), so a published value is never revised — and time-stamped with the cycle (Azure only accepts points
from the last 20 minutes). How far behind the data is shows up as ``agent_source_lag_seconds``. Credits are
those of the newest metering hour past its own landing horizon.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from sre_agent.daemon.poll import family_key
from sre_agent.daemon.runtime import Agent
from sre_agent.engine.histogram import quantiles
from sre_agent.engine.rollups import HIST_COLUMNS, QUERY, WAREHOUSE_METERING
from sre_agent.model import from_epoch, iso

WINDOW_S = 15 * 60
"""Trailing window of the query metrics."""
PERCENTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


def _complete_until(agent: Agent, family: str, now: int, horizon_s: int, grain_s: int) -> int | None:
    frontier = agent.watermarks.get(family_key(family)).frontier
    if frontier is None:
        return None
    end = min(frontier, now - horizon_s)
    return end - end % grain_s


def _point(name: str, value: float, **dims: str) -> dict[str, Any]:
    return {"name": name, "dims": dims, "value": float(value)}


def _query_points(frame: pl.DataFrame) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    by_service = (
        frame.group_by("warehouse", "service")
        .agg(
            pl.col("queries", "failed", *HIST_COLUMNS).sum(),
            pl.col("elapsed_ms_max").max(),
        )
        .sort("warehouse", "service")
    )
    hist = by_service.select(HIST_COLUMNS).to_numpy().astype(np.float64)
    maxima = by_service["elapsed_ms_max"].to_numpy().astype(np.float64)
    estimates = {label: quantiles(hist, q, maxima) for label, q in PERCENTILES.items()}
    for i, row in enumerate(by_service.select("warehouse", "service", "queries", "failed").iter_rows()):
        warehouse, service, queries, failed = row
        points.append(_point("snowflake_queries", queries, warehouse=warehouse, service=service))
        points.append(_point("snowflake_failed_queries", failed, warehouse=warehouse, service=service))
        for label, values in estimates.items():
            if np.isfinite(values[i]):
                points.append(
                    _point(
                        "snowflake_query_latency_ms", values[i], warehouse=warehouse, service=service, percentile=label
                    )
                )
    by_warehouse = (
        frame.group_by("warehouse")
        .agg(
            pl.col(
                "queries", "queued_overload_ms_sum", "queued_queries", "spill_local_bytes_sum", "spill_remote_bytes_sum"
            ).sum()
        )
        .sort("warehouse")
    )
    for warehouse, queries, queued_ms, queued, local, remote in by_warehouse.iter_rows():
        if queries:
            points.append(_point("snowflake_queued_overload_ms", queued_ms / queries, warehouse=warehouse))
        points.append(_point("snowflake_queued_queries", queued, warehouse=warehouse))
        points.append(_point("snowflake_spill_bytes", local, warehouse=warehouse, storage="local"))
        points.append(_point("snowflake_spill_bytes", remote, warehouse=warehouse, storage="remote"))
    return points


def platform_metrics_record(agent: Agent, now: int) -> dict[str, Any] | None:
    """The platform's metrics at ``now`` as one metric record (``source: snowflake``); None without data."""
    points: list[dict[str, Any]] = []
    query_end = _complete_until(
        agent, "query", now, int(QUERY.latency_horizon.total_seconds()), int(QUERY.grain.total_seconds())
    )
    if query_end is not None:
        frame = agent.rollups.load(QUERY, query_end - WINDOW_S, query_end)
        if frame.height:
            points += _query_points(frame)
    hour = int(WAREHOUSE_METERING.grain.total_seconds())
    metering_end = _complete_until(
        agent, "warehouse_metering", now, int(WAREHOUSE_METERING.latency_horizon.total_seconds()), hour
    )
    if metering_end is not None:
        frame = agent.rollups.load(WAREHOUSE_METERING, metering_end - hour, metering_end)
        credits = frame.group_by("warehouse").agg(pl.col("credits_used").sum()).sort("warehouse")
        points += [_point("snowflake_credits_used", c, warehouse=w) for w, c in credits.iter_rows()]
    if not points:
        return None
    minute = now - now % 60
    return {
        "type": "metrics",
        "source": "snowflake",
        "dedup_key": f"metrics:snowflake:{minute}",
        "at": iso(from_epoch(now)),
        "window_end": iso(from_epoch(query_end)) if query_end is not None else None,
        "points": points,
    }
