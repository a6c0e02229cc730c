"""Input series of a rule test → the rollups and watermarks polling would have stored, fully landed."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from sre_agent.config.loader import LoadedConfig
from sre_agent.config.slo import slo_key
from sre_agent.daemon.poll import family_key, rollup_families
from sre_agent.daemon.poll_slo import slo_watermark
from sre_agent.daemon.runtime import Agent
from sre_agent.engine.histogram import BUCKETS, bucket_index
from sre_agent.engine.rollups import AZURE_METRIC, HIST_COLUMNS, QUERY, ROLLUPS, SLO, RollupDef
from sre_agent.errors import SourceError
from sre_agent.model import to_epoch
from sre_agent.ruletest.spec import DEFAULT_START, TestCase, expand_values, parse_series
from sre_agent.sinks.base import Sink
from sre_agent.sources.snowflake import VISIBLE_SERIES, SnowflakeSource
from sre_agent.store.db import Database

LATENCY = "latency_ms"
"""Convenience series: the latency (ms) of every successful query of its bucket; fills the histogram, the
elapsed sums and the exact ≤-threshold counts the same way Snowflake's pushdown would."""
SLO_SERIES = {"slo_good": "good", "slo_total": "total", "slo_loads": "loads"}
"""Series of an SLO (label ``slo``): good and total events per minute, or successful loads (freshness)."""
DIM_DEFAULTS = {"warehouse": "(none)", "service": "(untagged)", "domain": "(untagged)"}
"""What the pushdown stores for a query without a warehouse or a query_tag service/domain."""


AZURE_VALUE = "azure_value"
"""Convenience series of an Azure metric (labels ``resource``, ``metric``): its per-minute value."""


def target(name: str) -> RollupDef | None:
    if name == LATENCY:
        return QUERY
    if name == AZURE_VALUE:
        return AZURE_METRIC
    if name in SLO_SERIES:
        return SLO
    for rollup in ROLLUPS.values():
        if rollup is not SLO and name in rollup.measure_names:
            return rollup
    return None


def _frames(case: TestCase, start: int, interval: int, loaded: LoadedConfig) -> tuple[dict[str, pl.DataFrame], int]:
    """The rollup rows the case's input series stand for, and the end (epoch s) of the data."""
    cells: dict[str, dict[tuple[Any, ...], dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    slo_keys = {s.name: slo_key(s) for s in loaded.slos}
    end = start
    for item in case.input_series:
        name, labels = parse_series(item.series)
        rollup = target(name)
        assert rollup is not None
        if rollup is SLO:
            dims: tuple[str, ...] = (slo_keys[labels["slo"]],)
        else:
            dims = tuple(labels.get(d, DIM_DEFAULTS.get(d, "")) for d in rollup.dims)
        for i, value in enumerate(expand_values(item.values)):
            at = start + i * interval
            end = max(end, at + int(rollup.grain.total_seconds()))
            if value is not None:
                cells[rollup.name][(*dims, at)][SLO_SERIES.get(name, name)] = value
    frames = {}
    thresholds = loaded.latency_thresholds_ms()
    for rollup_name, rows in cells.items():
        rollup = ROLLUPS[rollup_name]
        records = []
        for key, given in rows.items():
            record: dict[str, Any] = dict(zip(rollup.dims, key[:-1], strict=True))
            record["bucket"] = key[-1]
            record.update(_measures(rollup, given, thresholds))
            records.append(record)
        frames[rollup_name] = pl.DataFrame(records)
    if loaded.slos:
        # The pushdown's visibility series: every minute of the test is visible in QUERY_HISTORY.
        minutes = range(start, end, 60)
        n = len(minutes)
        visible = pl.DataFrame(
            {
                "slo": [VISIBLE_SERIES] * n,
                "bucket": list(minutes),
                "good": [0] * n,
                "total": [1] * n,
                "last_ok": [0] * n,
            },
            schema={"slo": pl.String, "bucket": pl.Int64, "good": pl.Int64, "total": pl.Int64, "last_ok": pl.Int64},
        )
        frames["slo"] = pl.concat([frames["slo"], visible], how="diagonal") if "slo" in frames else visible
    return frames, end


def _measures(rollup: RollupDef, given: dict[str, float], thresholds: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in rollup.measures:
        value = given.get(m.name, 0.0)
        out[m.name] = round(value) if m.integer else float(value)
    if rollup is SLO:
        loads = int(given.get("loads", 0))
        if loads:
            out["good"], out["total"] = out["good"] or loads, out["total"] or loads
        bucket_end = 59
        out["last_ok"] = bucket_end if loads else 0  # made absolute by the caller
        return out
    if rollup is AZURE_METRIC:
        if AZURE_VALUE in given:
            value = float(given[AZURE_VALUE])
            out.update(value_sum=value, samples=1, value_max=value)
        return out
    if rollup is not QUERY:
        return out
    if "succeeded" not in given:
        out["succeeded"] = max(0, out["queries"] - out["failed"] - out["cancelled"])
    hist = [0] * BUCKETS
    le: dict[str, int] = {}
    latency = given.get(LATENCY)
    if latency is not None and out["succeeded"]:
        hist[int(bucket_index([latency])[0])] = out["succeeded"]
        if "elapsed_ms_sum" not in given:
            out["elapsed_ms_sum"] = round(latency * out["succeeded"])  # the pushdown sums successes only
        if "execution_ms_sum" not in given:
            out["execution_ms_sum"] = round(latency * out["succeeded"])
        out["elapsed_ms_max"] = round(max(latency, given.get("elapsed_ms_max", 0)))
        le = {str(t): out["succeeded"] if latency <= t else 0 for t in thresholds}
    out["le_counts"] = json.dumps(le, sort_keys=True)
    out.update(dict(zip(HIST_COLUMNS, hist, strict=True)))
    return out


def _unreachable() -> Any:
    raise SourceError("snowflake", "connect", "rule tests do not poll Snowflake")


def _seed(agent: Agent, frames: dict[str, pl.DataFrame], start: int, end: int) -> None:
    """Store the frames as fully polled rollups; mark every family and SLO polled well past the data."""
    with agent.db.transaction() as conn:
        for name, rows in frames.items():
            rollup = ROLLUPS[name]
            frame = rows
            if rollup is SLO:
                frame = rows.with_columns(
                    pl.when(pl.col("last_ok") > 0)
                    .then(pl.col("bucket") + pl.col("last_ok"))
                    .otherwise(0)
                    .alias("last_ok")
                )
            agent.rollups.replace(conn, rollup, start, end + 86_400, frame, end)
        for family, rollup in rollup_families(agent).items():
            done = end + int(rollup.latency_horizon.total_seconds())
            agent.watermarks.record_success(conn, family_key(family), start, done, end, 0, done)
        for slo in agent.loaded.slos:
            done = end + int(SLO.latency_horizon.total_seconds())
            agent.watermarks.record_success(conn, slo_watermark(slo_key(slo)), start, done, end, 0, done)


def offline_agent(loaded: LoadedConfig, store: Path, sinks: list[Sink] | None = None) -> Agent:
    """An agent on ``store`` that evaluates what is stored and never polls (its source refuses to connect)."""
    spec = loaded.config.spec
    spec = spec.model_copy(update={"store": spec.store.model_copy(update={"path": store})})
    config = replace(loaded, config=loaded.config.model_copy(update={"spec": spec}))
    source = SnowflakeSource(_unreachable, loaded.latency_thresholds_ms())
    azure = _NoAzure() if spec.azure is not None and spec.azure.metrics is not None else None
    return Agent(config, Database(store), source, sinks or [], azure)


class _NoAzure:
    """The Azure metrics source of a rule test: its rollup is written by the test, never polled."""

    def fetch(self, start: datetime, end: datetime) -> pl.DataFrame:
        raise SourceError("azure_metrics", "getBatch", "rule tests do not poll Azure")

    def close(self) -> None:
        return


def write_inputs(agent: Agent, case: TestCase, evaluation: timedelta, until: int) -> int:
    """Store ``case``'s input series as polled, complete rollups (and mark every family and SLO polled past
    ``until`` and the data); return t = 0 (epoch s)."""
    start = to_epoch(case.start or DEFAULT_START)
    interval = int((case.interval or evaluation).total_seconds())
    frames, data_end = _frames(case, start, interval, agent.loaded)
    _seed(agent, frames, start, max(data_end, until))
    return start
