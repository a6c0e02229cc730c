"""Hourly-share attribution (pure): exact largest-remainder splits, idle hours, metering gaps, the daily 10 % cloud
services adjustment, the warehouse → domain map, and the cost settings' checks."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sre_agent.config.cost import CostSettings
from sre_agent.engine.cost import NANO, TIB, allocate, attribute, storage_cost

H = 3600
DAY = 86_400


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(min_value=0, max_value=10**15),
    weights=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=40).filter(lambda w: sum(w) > 0),
)
def test_allocation_is_exact_and_within_one_nano_of_proportional(total: int, weights: list[int]) -> None:
    frame = pl.DataFrame({"g": [1] * len(weights), "total": [total] * len(weights), "w": weights})
    out = allocate(frame, ["g"], "total", "w", "share")
    assert out["share"].sum() == total
    ideal = [total * w / sum(weights) for w in weights]
    assert all(abs(s - i) <= 1.0 + 1e-6 * i for s, i in zip(out["share"], ideal, strict=True))
    assert all(s == 0 for s, w in zip(out["share"], weights, strict=True) if w == 0 and total < 10**12)


def _usage(rows: list[tuple[int, str, str, int, float]]) -> pl.DataFrame:
    """(bucket, warehouse, domain, exec_ms, cloud services credits) rows of the query_cost rollup."""
    return pl.DataFrame(
        {
            "bucket": [r[0] for r in rows],
            "warehouse": [r[1] for r in rows],
            "service": ["svc"] * len(rows),
            "domain": [r[2] for r in rows],
            "pattern": [f"p{i}" for i in range(len(rows))],
            "user": ["U"] * len(rows),
            "role": ["R"] * len(rows),
            "exec_ms": [r[3] for r in rows],
            "queries": [1] * len(rows),
            "failed": [0] * len(rows),
            "elapsed_ms": [r[3] for r in rows],
            "cloud_services_credits": [r[4] for r in rows],
        }
    )


def _metering(rows: list[tuple[int, str, float, float, float]]) -> pl.DataFrame:
    """(bucket, warehouse, compute, cloud services, attributed to queries) rows of WAREHOUSE_METERING_HISTORY."""
    return pl.DataFrame(
        {
            "bucket": [r[0] for r in rows],
            "warehouse": [r[1] for r in rows],
            "credits_used_compute": [r[2] for r in rows],
            "credits_used_cloud_services": [r[3] for r in rows],
            "credits_attributed_compute_queries": [r[4] for r in rows],
        }
    )


def test_an_hour_is_split_by_execution_time_and_idle_hours_and_gaps_stay_apart() -> None:
    usage = _usage(
        [
            (0, "WH", "risk", 30_000, 0.01),  # three quarters of hour 0 …
            (0, "WH", "risk", 10_000, 0.01),  # … and one quarter
            (2 * H, "WH", "risk", 5_000, 0.0),  # hour 2 has no metering row yet: a gap, not free
        ]
    )
    metering = _metering([(0, "WH", 4.0, 0.02, 3.0), (H, "WH", 1.0, 0.0, 0.0)])  # hour 1: metered, nobody ran
    result = attribute(usage, metering)
    hour0 = result.rows.filter(pl.col("bucket") == 0).sort("exec_ms", descending=True)
    assert hour0["compute_nano"].to_list() == [3 * NANO, 1 * NANO], "idle inside the hour is spread by share"
    assert result.idle.rows() == [(H, "WH", 1 * NANO, False)], "an hour with no query stays unattributed idle"
    assert result.unmetered.select("bucket", "warehouse", "exec_ms").rows() == [(2 * H, "WH", 5_000)]
    assert result.warehouse_idle.filter(pl.col("bucket") == 0)["idle_nano"].item() == 1 * NANO
    totals = result.reconcile()
    assert totals["compute_difference"] == 0
    assert totals["compute_metered"] == 5 * NANO


def test_cloud_services_are_billed_above_ten_percent_of_the_days_compute_and_split_by_use() -> None:
    usage = _usage([(0, "WH", "d", 1_000, 0.3), (H, "WH", "d", 1_000, 0.1), (DAY, "WH", "d", 1_000, 0.05)])
    metering = _metering(
        [
            (0, "WH", 1.0, 0.3, 1.0),
            (H, "WH", 1.0, 0.2, 1.0),  # day 1: 0.5 used, 10 % of 2.0 compute free → 0.3 billable
            (DAY, "WH", 1.0, 0.05, 1.0),  # day 2: 0.05 used < 0.1 free → nothing billable
        ]
    )
    result = attribute(usage, metering)
    daily = result.daily_cloud_services.sort("day")
    assert daily["billable_nano"].to_list() == [int(0.3 * NANO), 0]
    day1 = result.rows.filter(pl.col("bucket") < DAY).sort("bucket")["cloud_services_nano"].to_list()
    assert day1 == [int(0.225 * NANO), int(0.075 * NANO)], "0.3 billable split 3:1 by the queries' own credits"
    assert result.reconcile()["cloud_services_unattributed"] == 0


def test_untagged_usage_takes_the_domain_of_its_warehouse() -> None:
    usage = _usage(
        [(0, "ADHOC_WH", "(untagged)", 1, 0.0), (0, "ADHOC_WH", "risk", 1, 0.0), (0, "X", "(untagged)", 1, 0)]
    )
    result = attribute(usage, _metering([(0, "ADHOC_WH", 1.0, 0, 0)]), {"ADHOC_WH": "data-platform"})
    assert sorted(result.rows["domain"].to_list()) == ["(untagged)", "data-platform", "risk"]
    assert sorted(result.rows["warehouse"].to_list()) == ["ADHOC_WH", "ADHOC_WH", "X"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("credit_price", -2, "greater than 0"),
        ("currency", "euro", "should match pattern"),
        ("time_zone", "Mars/Olympus", "unknown time zone"),
        ("storage_price_per_tb_month", -1, "greater than or equal to 0"),
    ],
)
def test_impossible_cost_settings_are_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CostSettings.model_validate({field: value})


def test_storage_is_priced_per_tb_month_day_by_day_and_left_unpriced_without_a_price() -> None:
    feb = int(datetime(2027, 1, 31, tzinfo=UTC).timestamp())  # the last day of January; the next is in February
    frame = pl.DataFrame(
        {
            "bucket": [feb, feb + DAY],
            "database": ["RISK", "RISK"],
            "database_bytes": [2.0 * TIB, 2.0 * TIB],
            "failsafe_bytes": [0.5 * TIB, 0.5 * TIB],
            "hybrid_bytes": [0.0, 0.0],
        }
    )
    priced = storage_cost(frame, 31.0)
    assert priced["tb"].to_list() == [2.5, 2.5]
    assert priced["cost"].to_list() == pytest.approx([2.5 * 31 / 31, 2.5 * 31 / 28]), "January 31 days, February 28"
    assert storage_cost(frame, None)["cost"].is_null().all(), "no price: TB only, never a made-up amount"


def test_hours_still_landing_are_marked_partial() -> None:
    usage = _usage([(0, "WH", "d", 1_000, 0.0), (H, "WH", "d", 1_000, 0.0)])
    metering = _metering([(0, "WH", 1.0, 0.0, 1.0), (H, "WH", 1.0, 0.0, 1.0)])
    result = attribute(usage, metering, complete_before=H + H // 2)
    assert result.rows.sort("bucket")["partial"].to_list() == [False, True]
