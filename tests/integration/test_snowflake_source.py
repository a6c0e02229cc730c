"""The Snowflake source: pushed-down rollups are exact, deduplicated, and incremental polling loses nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from support import config_for, connect_to, open_test_agent, seed

from sre_agent.daemon.poll import poll_due
from sre_agent.engine.histogram import BUCKETS, bucket_index
from sre_agent.engine.rollups import HIST_COLUMNS, WAREHOUSE_METERING
from sre_agent.simulate.schema import SIM_SCHEMA
from sre_agent.sources.snowflake import SnowflakeSource
from sre_agent.sources.snowflake_sql import all_queries

pytestmark = pytest.mark.integration
FAR_FUTURE = datetime(2030, 1, 1, tzinfo=UTC)


def _raw_queries(account) -> pl.DataFrame:
    arrow = account._shared().duck_conn.execute(f"SELECT * FROM {SIM_SCHEMA}.QUERY_HISTORY").to_arrow_table()
    return pl.from_arrow(arrow)


def _expected_rollup(raw: pl.DataFrame, start: datetime, end: datetime, thresholds: list[int]) -> pl.DataFrame:
    """The per-minute rollup computed directly from the raw rows, independently of the SQL."""
    q = raw.filter((pl.col("END_TIME") >= start) & (pl.col("END_TIME") < end)).unique("QUERY_ID")
    q = q.with_columns(
        pl.col("END_TIME").dt.truncate("1m").dt.epoch("s").alias("bucket"),
        pl.col("WAREHOUSE_NAME").fill_null("(none)").alias("warehouse"),
        pl.col("QUERY_TAG").str.json_path_match("$.service").fill_null("(untagged)").alias("service"),
        pl.col("QUERY_TAG").str.json_path_match("$.domain").fill_null("(untagged)").alias("domain"),
        (pl.col("EXECUTION_STATUS") == "SUCCESS").alias("ok"),
    )
    idx = bucket_index(q["TOTAL_ELAPSED_TIME"].to_numpy())
    q = q.with_columns(pl.Series("idx", np.where(q["ok"].to_numpy(), idx, -1)))
    aggs = [
        pl.len().alias("queries"),
        (~pl.col("ok")).sum().alias("failed"),
        pl.col("ok").sum().alias("succeeded"),
        pl.when(pl.col("ok")).then(pl.col("TOTAL_ELAPSED_TIME")).otherwise(0).sum().alias("elapsed_ms_sum"),
        pl.col("QUEUED_OVERLOAD_TIME").sum().alias("queued_overload_ms_sum"),
        pl.col("BYTES_SPILLED_TO_REMOTE_STORAGE").sum().alias("spill_remote_bytes_sum"),
        (pl.col("ERROR_MESSAGE") == "SQL execution canceled").sum().alias("cancelled"),
    ]
    aggs += [(pl.col("idx") == k).sum().alias(HIST_COLUMNS[k]) for k in range(BUCKETS)]
    aggs += [(pl.col("ok") & (pl.col("TOTAL_ELAPSED_TIME") <= t)).sum().alias(f"le_{t}") for t in thresholds]
    return q.group_by("bucket", "warehouse", "service", "domain").agg(aggs)


def test_query_rollup_equals_a_direct_computation_over_the_raw_rows(account):
    """Counts, failures, sums, cancellations, every histogram bucket and the exact latency counts match."""
    history = seed(account, days=1, queries_per_day=6000)
    account.set_clock(FAR_FUTURE)
    thresholds = [1000, 30000]
    source = SnowflakeSource(connect_to(account), thresholds)
    window = (history.start + timedelta(hours=9), history.start + timedelta(hours=15))
    try:
        got = source.fetch("query", *window)
    finally:
        source.close()
    expected = _expected_rollup(_raw_queries(account), *window, thresholds)
    keys = ["bucket", "warehouse", "service", "domain"]
    assert got.height == expected.height > 100
    joined = got.join(expected, on=keys, how="full", suffix="_expected", coalesce=True)
    assert joined.height == got.height, "same series-minutes on both sides"
    for column in [
        "queries",
        "failed",
        "succeeded",
        "elapsed_ms_sum",
        "queued_overload_ms_sum",
        "spill_remote_bytes_sum",
        "cancelled",
        *HIST_COLUMNS,
    ]:
        assert (joined[column] == joined[f"{column}_expected"]).all(), column
    le = got.select(*keys, pl.col("le_counts").str.json_decode(pl.Struct({"1000": pl.Int64, "30000": pl.Int64})))
    le = le.unnest("le_counts").join(expected.select(*keys, "le_1000", "le_30000"), on=keys)
    assert (le["1000"] == le["le_1000"]).all()
    assert (le["30000"] == le["le_30000"]).all()


def test_duplicate_query_id_rows_are_counted_once(account):
    """ACCOUNT_USAGE can return a query twice; the rollup deduplicates on QUERY_ID."""
    history = seed(account, days=1, queries_per_day=3000, incidents=False)
    account.set_clock(FAR_FUTURE)
    raw = _raw_queries(account)
    duplicates = raw.sample(500, seed=1)
    account.load("QUERY_HISTORY", duplicates)
    assert account.row_count("QUERY_HISTORY") == raw.height + 500
    source = SnowflakeSource(connect_to(account), [1000])
    try:
        got = source.fetch("query", history.start, history.end + timedelta(hours=6))
    finally:
        source.close()
    assert int(got["queries"].sum()) == raw.height


def test_metering_rollup_reports_the_views_hourly_credits(account):
    """The metering family returns one row per warehouse-hour with the view's own credits."""
    history = seed(account, days=1, queries_per_day=3000, incidents=False)
    account.set_clock(FAR_FUTURE)
    source = SnowflakeSource(connect_to(account), [])
    try:
        got = source.fetch("warehouse_metering", history.start, history.end)
    finally:
        source.close()
    raw = pl.from_arrow(
        account._shared().duck_conn.execute(f"SELECT * FROM {SIM_SCHEMA}.WAREHOUSE_METERING_HISTORY").to_arrow_table()
    )
    assert got.height == raw.height
    assert float(got["credits_used"].sum()) == pytest.approx(float(raw["CREDITS_USED"].cast(pl.Float64).sum()))
    assert set(got.columns) >= {"bucket", "warehouse", *WAREHOUSE_METERING.measure_names}


def test_incremental_polls_of_late_data_equal_one_poll_after_everything_landed(account, tmp_path: Path):
    """Polling every 15 minutes while rows land up to 45 min late stores exactly what one final poll stores.

    This is the late-data guarantee: overlapping re-reads replace whole buckets, so nothing below the
    newest row seen is missed and nothing is counted twice.
    """
    history = seed(account, days=1, queries_per_day=5000, incidents=False)
    live = open_test_agent(config_for(tmp_path / "live"), account)
    try:
        t = history.start + timedelta(hours=8)
        stop = history.start + timedelta(hours=14)
        while t <= stop:
            account.set_clock(t)
            poll_due(live, t, ["query"])
            t += timedelta(minutes=15)
        # Three hours later every row that ended before `stop` has landed; one more poll closes the overlap.
        later = stop + timedelta(hours=3)
        account.set_clock(later)
        poll_due(live, later, ["query"])
    finally:
        live.close()
    final = open_test_agent(config_for(tmp_path / "final"), account)
    try:
        poll_due(final, later, ["query"])
    finally:
        final.close()
    lo, hi = int((history.start + timedelta(hours=8)).timestamp()), int(stop.timestamp())
    incremental = _rows_by_labels(tmp_path / "live" / "state.db", lo, hi)
    single = _rows_by_labels(tmp_path / "final" / "state.db", lo, hi)
    assert len(incremental) > 100
    assert incremental.keys() == single.keys()
    for key, row in incremental.items():
        # Integers exactly; float sums up to their last bit (summation order is not fixed).
        other = single[key]
        for a, b in zip(row, other, strict=True):
            assert (a == pytest.approx(b, rel=1e-12)) if isinstance(a, float) else a == b, key


def _rows_by_labels(path: Path, lo: int, hi: int) -> dict[tuple[str, int], tuple[object, ...]]:
    """Rollup rows keyed by (series labels, bucket), without ids and observation times."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        cursor = conn.execute(
            "SELECT s.labels, r.* FROM rollup_query r JOIN series s USING (series_id) WHERE bucket >= ? AND bucket < ?",
            (lo, hi),
        )
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        conn.close()
    skip = {names.index("series_id"), names.index("observed_at"), names.index("labels")}
    bucket = names.index("bucket")
    return {(row[0], row[bucket]): tuple(v for i, v in enumerate(row) if i not in skip) for row in rows}


def test_a_long_backfill_is_read_in_chunks_each_committed(account, tmp_path: Path):
    """A first poll over several days runs one query per chunk and advances the watermark per chunk."""
    history = seed(account, days=3, queries_per_day=2000, incidents=False)
    account.set_clock(history.end + timedelta(hours=1))
    agent = open_test_agent(config_for(tmp_path), account)
    try:
        report = poll_due(agent, history.end, ["query"])
        state = agent.watermarks.get("snowflake.query")
        stored = agent.db.read("SELECT SUM(queries) AS n FROM rollup_query")[0]["n"]
    finally:
        agent.close()
    assert report.rows["query"] > 0
    assert state.polled_to == int(history.end.timestamp())
    assert state.covered_from == int((history.end - timedelta(days=3)).timestamp())
    assert stored == account.row_count("QUERY_HISTORY")


def test_every_statement_the_agent_can_run_executes_with_binds_and_aliases_every_column(account):
    """`sre-agent sql` prints these; each runs on the fake with bind values and returns lower-case aliases."""
    import sqlglot
    from sqlglot import exp

    account.set_clock(FAR_FUTURE)
    source = SnowflakeSource(connect_to(account), [1000, 5000])
    values: dict[str, object] = {
        "window_start": ("TIMESTAMP_LTZ", datetime(2026, 11, 2, tzinfo=UTC)),
        "window_end": ("TIMESTAMP_LTZ", datetime(2026, 11, 3, tzinfo=UTC)),
        "le_0": 1000,
        "le_1": 5000,
    }
    try:
        for query in all_queries([1000, 5000]):
            assert query.docs.startswith("https://docs.snowflake.com/")
            parsed = sqlglot.parse_one(query.bind(values)[0], read="snowflake")
            for select in parsed.find_all(exp.Select):
                for projection in select.expressions:
                    assert isinstance(projection, exp.Alias | exp.Star), f"{query.name}: unaliased {projection.sql()}"
            assert "'2026" not in query.sql, "values are bound, never formatted into SQL"
            frame = source.run(query, values)
            assert all(c == c.lower() for c in frame.columns)
    finally:
        source.close()


def test_histogram_text_from_snowflake_is_parsed_into_counts():
    """The `index:count` list pushed down per row becomes the 48 histogram columns."""
    from sre_agent.sources.snowflake import parse_histogram

    matrix = parse_histogram(pl.Series(["3:5,7:2", None, "", "47:1"]))
    assert matrix.shape == (4, BUCKETS)
    assert matrix[0, 3] == 5
    assert matrix[0, 7] == 2
    assert matrix[1].sum() == 0
    assert matrix[3, 47] == 1
    assert int(matrix.sum()) == 8
