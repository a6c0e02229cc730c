"""Cost attribution on the embedded Snowflake: the pushed-down hour split equals one computed from the raw rows, and
every metered credit lands on a query series or on the unattributed idle — exactly, hour by hour and in total."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from support import MONDAY, config_for, connect_to, open_test_agent

from sre_agent.config.cost import CostSettings
from sre_agent.daemon.poll import poll_due
from sre_agent.engine.cost import NANO, attribute, storage_cost
from sre_agent.engine.rollups import DATABASE_STORAGE, QUERY_COST, WAREHOUSE_METERING
from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake
from sre_agent.simulate.history import HistorySeeder
from sre_agent.simulate.workload import WorkloadConfig, day_bounds, generate_day
from sre_agent.sources import snowflake_sql as sql
from sre_agent.sources.snowflake import SnowflakeSource

WORKLOAD = WorkloadConfig(seed=3, queries_per_day=6000)


@pytest.fixture
def server(account: EmbeddedSnowflake) -> EmbeddedSnowflake:
    """The session's embedded account holding two days of history, all of it visible."""
    HistorySeeder(account, WORKLOAD).seed_days(MONDAY, 2)
    account.set_clock(datetime(2026, 11, 6, tzinfo=UTC))
    return account


def _reference(day_frames: list[pl.DataFrame], start: datetime, end: datetime) -> pl.DataFrame:
    """Execution ms per hour and warehouse from the raw rows, split in polars."""
    ms = [pl.col(c).fill_null(0) for c in ("QUEUED_OVERLOAD_TIME", "COMPILATION_TIME", "QUEUED_PROVISIONING_TIME")]
    ms += [pl.col(c).fill_null(0) for c in ("QUEUED_REPAIR_TIME", "LIST_EXTERNAL_FILES_TIME")]
    q = pl.concat(day_frames).filter(pl.col("WAREHOUSE_SIZE").is_not_null())
    q = q.with_columns(
        pl.min_horizontal(pl.col("START_TIME") + pl.duration(milliseconds=sum(ms)), "END_TIME").alias("x")
    )
    q = q.with_columns(pl.datetime_ranges(pl.col("x").dt.truncate("1h"), pl.col("END_TIME"), "1h").alias("h"))
    q = q.explode("h").with_columns(
        (pl.min_horizontal("END_TIME", pl.col("h") + pl.duration(hours=1)) - pl.max_horizontal("x", "h"))
        .dt.total_milliseconds()
        .clip(0)
        .alias("piece")
    )
    q = q.filter((pl.col("h") >= start) & (pl.col("h") < end))
    return q.group_by(pl.col("h").dt.epoch("s").alias("bucket"), pl.col("WAREHOUSE_NAME").alias("warehouse")).agg(
        pl.col("piece").sum().alias("expected")
    )


def test_the_pushed_down_hour_split_equals_one_computed_from_the_rows(server: EmbeddedSnowflake) -> None:
    start, _ = day_bounds(MONDAY)
    end = start + timedelta(days=1)
    source = SnowflakeSource(connect_to(server), [])
    got = source.fetch("query_cost", start, end)
    frames = [generate_day(MONDAY + timedelta(days=d), WORKLOAD).query_history for d in range(2)]
    expected = _reference(frames, start, end)
    per_hour = got.group_by("bucket", "warehouse").agg(pl.col("exec_ms").sum())
    joined = expected.join(per_hour, on=["bucket", "warehouse"], how="full", coalesce=True).fill_null(0)
    assert joined.height > 24, "several warehouses, every hour of the day"
    worst = joined.select((pl.col("expected") - pl.col("exec_ms")).abs().max()).item()
    assert worst <= 5, "the same split, up to the millisecond truncation of each piece"
    queries = got["queries"].sum()
    ended = pl.concat(frames).filter((pl.col("END_TIME") >= start) & (pl.col("END_TIME") < end)).height
    assert queries == ended, "each query is counted once, in the hour it ended"
    assert set(got.columns) >= {"pattern", "user", "role", "service", "domain"}


def test_every_metered_credit_is_attributed_or_idle_exactly(server: EmbeddedSnowflake, tmp_path: Path) -> None:
    cost = CostSettings(credit_price=3, warehouse_domains={"ADHOC_WH": "data-platform"})
    loaded = config_for(tmp_path)
    spec = loaded.config.spec.model_copy(update={"cost": cost})
    loaded = type(loaded)(
        loaded.config.model_copy(update={"spec": spec}), loaded.path, [], loaded.rule_files, loaded.warnings
    )
    agent = open_test_agent(loaded, server)
    try:
        report = poll_due(agent, datetime(2026, 11, 4, 6, tzinfo=UTC), force=True)
        assert not report.errors, report.errors
        assert report.rows.get("query_cost", 0) > 0, "spec.cost makes the agent poll the cost rollup"
        lo, hi = (int(t.timestamp()) for t in day_bounds(MONDAY))
        hi += 86_400
        usage = agent.rollups.load(QUERY_COST, lo, hi)
        metering = agent.rollups.load(WAREHOUSE_METERING, lo, hi)
        storage = agent.rollups.load(DATABASE_STORAGE, lo, hi)
    finally:
        agent.close()
    assert report.rows.get("database_storage", 0) > 0, "spec.cost also polls daily storage"
    stored = storage_cost(storage, 23.0)
    assert stored.height == storage.height > 0
    assert stored["database"].n_unique() >= 2
    first = stored.row(0, named=True)
    raw = storage.row(0, named=True)
    tb = (raw["database_bytes"] + raw["failsafe_bytes"] + raw["hybrid_bytes"]) / 1024**4
    assert first["tb"] == pytest.approx(tb)
    assert first["cost"] == pytest.approx(tb * 23.0 / 30), "November has 30 days"
    result = attribute(usage, metering, cost.warehouse_domains, complete_before=hi - 2 * 3600)
    totals = result.reconcile()
    assert totals["compute_difference"] == 0
    metered = metering["credits_used_compute"].sum()
    assert totals["compute_metered"] == round(metered * NANO)
    assert totals["compute_attributed"] > 0.9 * totals["compute_metered"], "the simulated warehouses suspend when idle"
    assert result.warehouse_idle["idle_nano"].sum() > 0, "idle inside hours is spread, and reported on its own"
    per_hour = result.rows.group_by("bucket", "warehouse").agg(pl.col("compute_nano").sum())
    hourly = (
        metering.select("bucket", "warehouse", (pl.col("credits_used_compute") * NANO).round(0).cast(pl.Int64))
        .join(per_hour, on=["bucket", "warehouse"], how="inner")
        .filter(pl.col("compute_nano") > 0)
    )
    assert (hourly["credits_used_compute"] == hourly["compute_nano"]).all(), "exact hour by hour, not only in total"
    cs = result.daily_cloud_services
    assert (cs["attributed_nano"] <= cs["billable_nano"]).all()
    assert (
        totals["cloud_services_attributed"] + totals["cloud_services_unattributed"] == totals["cloud_services_billable"]
    )
    adhoc = result.rows.filter(pl.col("warehouse") == "ADHOC_WH")
    assert adhoc.height > 0
    assert set(adhoc["domain"]) == {"data-platform"}, "untagged ad hoc queries belong to the mapped domain"
    assert result.unmetered.height == 0 or result.unmetered["bucket"].min() >= hi - 6 * 3600
    partial = result.rows.filter(pl.col("partial"))
    assert partial.height > 0
    assert partial["bucket"].min() == hi - 2 * 3600, "hours ending after the landing horizon are marked partial"


def test_query_cost_statement_binds_every_value() -> None:
    assert set(sql.QUERY_COST_ROLLUP.params) == {"window_start", "window_end"}
