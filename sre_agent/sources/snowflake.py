"""The Snowflake source: runs the pushed-down rollup queries and returns rollup frames."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from sre_agent.config.slo import SloDoc
from sre_agent.engine.histogram import BUCKETS
from sre_agent.engine.rollups import (
    DATABASE_STORAGE,
    HIST_COLUMNS,
    METERING_DAILY,
    QUERY,
    QUERY_COST,
    QUERY_PATTERN,
    WAREHOUSE_LOAD,
    WAREHOUSE_METERING,
    RollupDef,
)
from sre_agent.errors import SourceError
from sre_agent.sources import slo_sql
from sre_agent.sources import snowflake_sql as sql
from sre_agent.store.rollups import BUCKET, LE

log = logging.getLogger(__name__)

FAMILIES: dict[str, RollupDef] = {
    "query": QUERY,
    "warehouse_load": WAREHOUSE_LOAD,
    "warehouse_metering": WAREHOUSE_METERING,
}
"""Query families polled from Snowflake, each feeding one rollup."""
PATTERN_FAMILY = "query_pattern"
COST_FAMILY = "query_cost"
STORAGE_FAMILY = "database_storage"
SERVERLESS_FAMILY = "metering_daily"
OPTIONAL_FAMILIES: dict[str, RollupDef] = {
    PATTERN_FAMILY: QUERY_PATTERN,
    COST_FAMILY: QUERY_COST,
    STORAGE_FAMILY: DATABASE_STORAGE,
    SERVERLESS_FAMILY: METERING_DAILY,
}
"""Families polled only when something needs them (pattern-scoped LatencyAnomaly rules; ``spec.cost``)."""


def parse_histogram(hist: pl.Series) -> np.ndarray:
    """Turn ``"3:5,7:2"`` strings into an (n, BUCKETS) count matrix."""
    n = len(hist)
    matrix = np.zeros((n, BUCKETS), dtype=np.int64)
    if n == 0:
        return matrix
    pairs = (
        pl.DataFrame({"row": np.arange(n), "hist": hist.fill_null("")})
        .with_columns(pl.col("hist").str.split(","))
        .explode("hist")
        .filter(pl.col("hist").str.len_chars() > 0)
        .with_columns(pl.col("hist").str.split_exact(":", 1).struct.rename_fields(["idx", "n"]))
        .unnest("hist")
        .with_columns(pl.col("idx").cast(pl.Float64).cast(pl.Int64), pl.col("n").cast(pl.Float64).cast(pl.Int64))
    )
    np.add.at(
        matrix,
        (pairs["row"].to_numpy(), np.clip(pairs["idx"].to_numpy(), 0, BUCKETS - 1)),
        pairs["n"].to_numpy(),
    )
    return matrix


VISIBLE_SERIES = "*"
"""SLO rollup series counting every QUERY_HISTORY row per minute (the view's visibility frontier)."""


def _slo_part(raw: pl.DataFrame, key: str, good: str, total: str, last_ok: str) -> pl.DataFrame:
    """One SLO's columns of a statement result as rollup rows (minutes where it saw nothing are dropped)."""
    frame = raw.select(
        pl.col("bucket_start").dt.epoch("s").cast(pl.Int64).alias(BUCKET),
        pl.lit(key).alias("slo"),
        pl.col(good).cast(pl.Float64).fill_null(0).round(0).cast(pl.Int64).alias("good"),
        pl.col(total).cast(pl.Float64).fill_null(0).round(0).cast(pl.Int64).alias("total"),
        pl.col(last_ok).dt.epoch("s").fill_null(0).cast(pl.Int64).alias("last_ok"),
    )
    return frame.filter((pl.col("total") > 0) | (pl.col("good") > 0) | (pl.col("last_ok") > 0))


def _message(exc: BaseException) -> str:
    """The first line of what the connector says went wrong (its ``msg`` when it has one)."""
    message = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
    return str(message).splitlines()[0][:500]


class SnowflakeSource:
    """Pushes rollups down to Snowflake through the official connector; keeps one connection open."""

    name = "snowflake"

    def __init__(self, connect: Callable[[], Any], thresholds_ms: list[int]) -> None:
        self._connect = connect
        self._conn: Any = None
        # The daemon polls families from several scheduler threads; one statement at a time on the
        # shared connection keeps reconnects and closes from racing (polls are short and infrequent).
        self._lock = threading.RLock()
        self.thresholds_ms = list(thresholds_ms)
        self.queries = {
            "query": sql.query_rollup(self.thresholds_ms),
            "warehouse_load": sql.WAREHOUSE_LOAD,
            "warehouse_metering": sql.WAREHOUSE_METERING,
            PATTERN_FAMILY: sql.QUERY_PATTERN_ROLLUP,
            COST_FAMILY: sql.QUERY_COST_ROLLUP,
            STORAGE_FAMILY: sql.DATABASE_STORAGE,
            SERVERLESS_FAMILY: sql.METERING_DAILY,
        }
        self.pattern_min_queries = 1
        """The volume filter of the pattern rollup: the smallest ``min_queries`` of the rules that use it."""
        self.unreachable: str | None = None
        """Why connecting failed in this polling pass (None: not tried, or it worked); see :meth:`begin_pass`."""

    def begin_pass(self) -> None:
        """Start a polling pass: connecting is tried again (after a failure it is tried once per pass)."""
        self.unreachable = None

    def _cursor(self) -> Any:
        if self._conn is None or getattr(self._conn, "is_closed", lambda: False)():
            if self.unreachable is not None:
                # One failed login per pass: an unreachable or black-holed account would otherwise cost every
                # family its own login timeout (minutes per cycle); the others fail at once with the same cause.
                raise ConnectionError(f"not attempted: connecting failed earlier in this poll ({self.unreachable})")
            try:
                self._conn = self._connect()
            except Exception as exc:
                self.unreachable = _message(exc)
                raise
        return self._conn.cursor()

    def run(self, query: sql.NamedQuery, values: dict[str, object]) -> pl.DataFrame:
        """Run ``query`` with bind ``values``; return its rows (lower-case columns).

        Raises:
            SourceError: connecting or running failed (the connection is dropped for the next attempt).
        """
        statement, binds = query.bind(values)
        started = time.perf_counter()
        try:
            with self._lock:
                cursor = self._cursor()
                try:
                    cursor.execute(statement, binds)
                    table = cursor.fetch_arrow_all()
                finally:
                    cursor.close()
        except Exception as exc:  # the connector raises many types; all mean "this poll failed"
            self.close()
            raise SourceError(self.name, query.name, _message(exc)) from exc
        frame = pl.DataFrame() if table is None else pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        log.debug("%s: %d rows in %.3fs", query.name, frame.height, time.perf_counter() - started)
        return frame.rename({c: c.lower() for c in frame.columns})

    def fetch(self, family: str, start: datetime, end: datetime) -> pl.DataFrame:
        """Return the rollup rows of ``family`` for buckets in ``[start, end)``, in the store's layout."""
        rollup = {**FAMILIES, **OPTIONAL_FAMILIES}[family]
        values: dict[str, object] = {
            "window_start": ("TIMESTAMP_LTZ", start),
            "window_end": ("TIMESTAMP_LTZ", end),
        }
        if family == "query":
            values.update({f"le_{i}": t for i, t in enumerate(self.thresholds_ms)})
        if family == PATTERN_FAMILY:
            values["min_queries"] = self.pattern_min_queries
        raw = self.run(self.queries[family], values)
        return self._to_rollup(rollup, raw)

    def _to_rollup(self, rollup: RollupDef, raw: pl.DataFrame) -> pl.DataFrame:
        columns: list[pl.Expr] = [pl.col("bucket_start").dt.epoch("s").cast(pl.Int64).alias(BUCKET)]
        columns += [pl.col(d).cast(pl.String) for d in rollup.dims]
        for m in rollup.measures:
            expr = pl.col(m.name).cast(pl.Float64).fill_null(0.0)
            columns.append((expr.round(0).cast(pl.Int64) if m.integer else expr).alias(m.name))
        if raw.is_empty():
            schema = {BUCKET: pl.Int64, **dict.fromkeys(rollup.dims, pl.String)}
            schema.update({m.name: pl.Int64 if m.integer else pl.Float64 for m in rollup.measures})
            if rollup.histogram:
                schema[LE] = pl.String
                schema.update(dict.fromkeys(HIST_COLUMNS, pl.Int64))
            return pl.DataFrame(schema=schema)
        out = raw.select(columns)
        if rollup.histogram:
            matrix = parse_histogram(raw["hist"])
            le = {
                str(t): pl.col(f"le_{i}").cast(pl.Float64).fill_null(0).round(0).cast(pl.Int64)
                for i, t in enumerate(self.thresholds_ms)
                if f"le_{i}" in raw.columns
            }
            le_json = (
                raw.select(pl.struct([e.alias(k) for k, e in le.items()]).struct.json_encode().alias(LE))
                if le
                else pl.DataFrame({LE: ["{}"] * raw.height})
            )
            out = pl.concat(
                [out, le_json, pl.DataFrame(matrix, schema=list(HIST_COLUMNS), orient="row")],
                how="horizontal",
            )
        return out

    def fetch_slos(self, docs: list[SloDoc], start: datetime, end: datetime) -> pl.DataFrame:
        """Per-minute SLO rollup rows (bucket, slo, good, total, last_ok) for ``docs`` in ``[start, end)``.

        Besides one series per SLO key, SLIs over QUERY_HISTORY add the series ``*``: every row seen per
        minute, which tells how far the view is visible (a quiet SLO is not a late one).
        """
        window: dict[str, object] = {
            "window_start": ("TIMESTAMP_LTZ", start),
            "window_end": ("TIMESTAMP_LTZ", end),
        }
        parts = []
        if any(slo_sql.from_query_history(d) for d in docs):
            q = slo_sql.query_slo_rollup(docs)
            raw = self.run(q.query, {**window, **q.values})
            if not raw.is_empty():
                raw = raw.with_columns(pl.lit(0).alias("zero"), pl.lit(None, pl.Datetime("us", "UTC")).alias("none"))
                parts.append(_slo_part(raw, VISIBLE_SERIES, "zero", "seen", "none"))
                parts.extend(
                    _slo_part(raw, key, f"good_{i}", f"total_{i}", f"last_ok_{i}") for i, key in enumerate(q.keys)
                )
        if any(slo_sql.from_tasks(d) for d in docs):
            q = slo_sql.query_task_freshness(docs)
            raw = self.run(q.query, {**window, **q.values})
            if not raw.is_empty():
                raw = raw.with_columns(pl.lit(0).alias("zero"))
                for i, key in enumerate(q.keys):
                    rows = raw.filter(pl.col("task") == str(q.values[f"t{i}"]))
                    parts.append(_slo_part(rows, key, "zero", "zero", "last_ok"))
        schema = {BUCKET: pl.Int64, "slo": pl.String, "good": pl.Int64, "total": pl.Int64, "last_ok": pl.Int64}
        frames = [p for p in parts if not p.is_empty()]
        return pl.concat(frames) if frames else pl.DataFrame(schema=schema)

    def check(self, start: datetime, end: datetime) -> int:
        """Run the access check; return the number of queries Snowflake reports in ``[start, end)``."""
        frame = self.run(
            sql.CHECK_ACCESS, {"window_start": ("TIMESTAMP_LTZ", start), "window_end": ("TIMESTAMP_LTZ", end)}
        )
        return int(frame.item(0, 0)) if frame.height else 0

    def close(self) -> None:
        """Close the connection (it is reopened on the next poll)."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except Exception:  # closing a broken connection may fail; nothing to do
                    log.debug("closing the Snowflake connection failed", exc_info=True)
                self._conn = None
