"""Unit tests for threshold rules evaluated over rollup windows: verdicts, data quality states and anchors.

Frames are built in the store layout (``bucket``, dims, measures, ``le_counts``, ``h00``…``h47``) and
converted with ``RollupArrays.from_frame``, exactly as the daemon does before ``evaluate_threshold``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from rollup_frames import store_frame

from sre_agent.config.specs import ThresholdRule
from sre_agent.engine.frames import RollupArrays
from sre_agent.engine.histogram import bucket_lower_ms, bucket_upper_ms
from sre_agent.engine.rollups import QUERY, WAREHOUSE_LOAD, WAREHOUSE_METERING, RollupDef
from sre_agent.engine.threshold import DataView, anchor_matrix, evaluate_threshold, load_range

SQRT2 = math.sqrt(2.0)
T = 1_767_312_000  # 2026-01-02T00:00:00Z: the "now" of most tests, a multiple of every grain
DAY = 86_400
SETTLED = DataView(covered_from=T - DAY, polled_to=T, horizon=0, stale_after=600)
"""Polled up to T, every bucket before T complete, a day of coverage."""


def rule(metric: str, thresholds: dict[str, float], window: str = "15m", **spec: Any) -> ThresholdRule:
    """A Threshold rule on ``metric`` with ``{severity: value}`` levels."""
    return ThresholdRule.model_validate(
        {
            "apiVersion": "sre-agent/v1",
            "kind": "Threshold",
            "metadata": {"name": "test-rule"},
            "spec": {
                "metric": metric,
                "window": window,
                "thresholds": [{"severity": s, "value": v} for s, v in thresholds.items()],
                **spec,
            },
        }
    )


def evaluate(
    r: ThresholdRule,
    rollup: RollupDef,
    rows: Sequence[dict[str, Any]],
    instants: Sequence[int] = (T,),
    view: DataView = SETTLED,
) -> list[dict[str, Any]]:
    data = RollupArrays.from_frame(store_frame(rollup, rows), rollup)
    result = evaluate_threshold(r, data, np.array(instants, dtype=np.int64), view)
    return result.to_dicts()


def one(results: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(results) == 1, results
    return results[0]


def by_label(results: list[dict[str, Any]], label: str) -> dict[str, dict[str, Any]]:
    return {r[label]: r for r in results}


def minutes(start: int, end: int, step: int = 60, **values: Any) -> list[dict[str, Any]]:
    """One query-rollup row per bucket in ``[start, end)``, all with ``values``."""
    return [{"bucket": b, **values} for b in range(start, end, step)]


# --- (1) severity levels ------------------------------------------------------------------------

COUNT_LEVELS = {"sev3": 10, "sev2": 100}


@pytest.mark.parametrize(
    ("queries", "state", "severity", "threshold"),
    [
        (150, "breach", "sev2", 100.0),
        (101, "breach", "sev2", 100.0),
        (100, "breach", "sev3", 10.0),
        (50, "breach", "sev3", 10.0),
        (10, "ok", None, 10.0),
        (5, "ok", None, 10.0),
    ],
)
def test_upward_rule_picks_most_severe_level_exceeded(
    queries: int, state: str, severity: str | None, threshold: float
) -> None:
    out = one(evaluate(rule("query_count", COUNT_LEVELS), QUERY, [{"bucket": T - 60, "queries": queries}]))
    assert (out["state"], out["severity"], out["threshold"], out["value"]) == (state, severity, threshold, queries)


@pytest.mark.parametrize(
    ("queries", "state", "severity", "threshold"),
    [
        (1, "breach", "sev2", 2.0),
        (2, "breach", "sev3", 10.0),
        (5, "breach", "sev3", 10.0),
        (10, "ok", None, 10.0),
        (20, "ok", None, 10.0),
    ],
)
def test_downward_rule_picks_most_severe_level_undercut(
    queries: int, state: str, severity: str | None, threshold: float
) -> None:
    r = rule("query_count", {"sev3": 10, "sev2": 2}, op="<")
    out = one(evaluate(r, QUERY, [{"bucket": T - 60, "queries": queries}]))
    assert (out["state"], out["severity"], out["threshold"]) == (state, severity, threshold)


def test_three_levels_resolve_to_the_middle_one_between_them() -> None:
    r = rule("error_rate", {"sev3": 0.05, "sev2": 0.2, "sev1": 0.5})
    out = one(evaluate(r, QUERY, [{"bucket": T - 60, "queries": 100, "failed": 30}]))
    assert (out["state"], out["severity"], out["threshold"]) == ("breach", "sev2", 0.2)


# --- (2) min_events -----------------------------------------------------------------------------


@pytest.mark.parametrize(("queries", "state"), [(10, "no_data"), (19, "no_data"), (20, "breach"), (40, "breach")])
def test_fewer_events_than_min_events_gives_no_data(queries: int, state: str) -> None:
    r = rule("error_rate", {"sev3": 0.1}, min_events=20)
    out = one(evaluate(r, QUERY, [{"bucket": T - 60, "queries": queries, "failed": queries // 2}]))
    assert out["state"] == state
    assert out["events"] == queries
    assert out["threshold"] == 0.1
    assert out["severity"] is None if state == "no_data" else out["severity"] == "sev3"


def test_ratio_without_events_gives_no_data_even_without_min_events() -> None:
    out = one(evaluate(rule("error_rate", {"sev3": 0.1}), QUERY, [{"bucket": T - 3600, "queries": 5, "failed": 5}]))
    assert out["state"] == "no_data"
    assert math.isnan(out["value"])


# --- (3) coverage -------------------------------------------------------------------------------


@pytest.mark.parametrize(("covered_from", "state"), [(T - 600, "no_data"), (T - 899, "no_data"), (T - 900, "breach")])
def test_window_starting_before_covered_from_gives_no_data(covered_from: int, state: str) -> None:
    view = DataView(covered_from=covered_from, polled_to=T, horizon=0, stale_after=600)
    out = one(evaluate(rule("query_count", COUNT_LEVELS), QUERY, [{"bucket": T - 60, "queries": 500}], view=view))
    assert out["window_start"] == T - 900
    assert out["state"] == state


# --- (4) staleness ------------------------------------------------------------------------------


def test_instants_more_than_stale_after_past_polled_to_are_stale() -> None:
    view = DataView(covered_from=T - DAY, polled_to=T, horizon=0, stale_after=300)
    results = evaluate(
        rule("query_count", COUNT_LEVELS),
        QUERY,
        [{"bucket": T - 60, "queries": 500}],
        instants=[T, T + 300, T + 360, T + 3600],
        view=view,
    )
    states = {r["instant"]: (r["state"], r["severity"]) for r in results}
    assert states == {
        T: ("breach", "sev2"),
        T + 300: ("breach", "sev2"),
        T + 360: ("stale", None),
        T + 3600: ("stale", None),
    }


def test_everything_is_stale_before_the_first_poll() -> None:
    view = DataView(covered_from=None, polled_to=None, horizon=2700, stale_after=300)
    results = evaluate(
        rule("query_count", COUNT_LEVELS),
        QUERY,
        [{"bucket": T - 60, "queries": 500}],
        instants=[T - 3600, T, T + 3600],
        view=view,
    )
    assert [r["state"] for r in results] == ["stale", "stale", "stale"]
    assert [r["severity"] for r in results] == [None, None, None]


# --- (5) anchors --------------------------------------------------------------------------------

HORIZON = 2700
LAGGING = DataView(covered_from=T - DAY, polled_to=T, horizon=HORIZON, stale_after=600)
"""Polled up to T, but buckets after T - 45 min may still grow."""


def test_window_ends_at_group_newest_bucket_when_it_is_after_complete_point() -> None:
    rows = minutes(T - 1500, T - 540, warehouse="late", queries=1)  # newest bucket T - 600
    r = rule("query_count", COUNT_LEVELS, group_by=["warehouse"])
    out = one(evaluate(r, QUERY, rows, view=LAGGING))
    assert (out["window_start"], out["window_end"]) == (T - 540 - 900, T - 540)
    assert out["value"] == 15
    assert out["buckets"] == 15


def test_window_of_silent_series_ends_at_complete_point_and_reads_zero() -> None:
    rows = [
        {"bucket": T - 600, "warehouse": "live", "queries": 7},
        {"bucket": T - 3960, "warehouse": "silent", "queries": 500},  # stopped long before T - horizon
    ]
    r = rule("query_count", COUNT_LEVELS, group_by=["warehouse"])
    out = by_label(evaluate(r, QUERY, rows, view=LAGGING), "warehouse")
    assert out["live"]["window_end"] == T - 540
    assert out["silent"]["window_end"] == T - HORIZON
    assert (out["silent"]["value"], out["silent"]["buckets"], out["silent"]["state"]) == (0, 0, "ok")


def test_window_never_ends_after_the_instant() -> None:
    rows = minutes(T - 1800, T - 540, queries=1)
    r = rule("query_count", COUNT_LEVELS)
    results = evaluate(r, QUERY, rows, instants=[T - 1200, T - 630, T], view=LAGGING)
    # anchors are floored to the grain: an instant inside a minute ends the window at that minute's start
    assert [x["window_end"] for x in results] == [T - 1200, T - 660, T - 540]


def test_window_never_ends_after_polled_to() -> None:
    rows = [{"bucket": T + 120, "queries": 1}, {"bucket": T - 60, "queries": 2}]  # a row ahead of the poll
    results = evaluate(rule("query_count", COUNT_LEVELS), QUERY, rows, instants=[T + 300], view=LAGGING)
    assert one(results)["window_end"] == T
    assert one(results)["value"] == 2


def test_additive_metric_compared_downward_only_reads_complete_buckets() -> None:
    complete = minutes(T - 3600, T - HORIZON, queries=100)  # 15 complete minutes
    partial = [{"bucket": T - 600, "queries": 1}]  # still landing
    rows = complete + partial
    down = one(evaluate(rule("query_count", {"sev3": 10}, op="<"), QUERY, rows, view=LAGGING))
    assert (down["window_start"], down["window_end"]) == (T - HORIZON - 900, T - HORIZON)
    assert (down["value"], down["state"]) == (1500, "ok")
    up = one(evaluate(rule("query_count", {"sev3": 10}, op=">"), QUERY, rows, view=LAGGING))
    assert (up["window_end"], up["value"]) == (T - 540, 1)


def test_ratio_metric_compared_downward_reads_partial_buckets() -> None:
    rows = [{"bucket": T - 600, "queries": 10, "partitions_scanned_sum": 1, "partitions_total_sum": 10}]
    out = one(evaluate(rule("pruning_ratio", {"sev3": 0.5}, op="<"), QUERY, rows, view=LAGGING))
    assert out["window_end"] == T - 540
    assert out["value"] == pytest.approx(0.1)


def test_anchor_matrix_holds_each_group_between_complete_point_and_polled_to() -> None:
    r = rule("query_count", COUNT_LEVELS)
    latest_end = np.array([T - 5000, T - 1200, T + 600], dtype=np.int64)
    anchors = anchor_matrix(r, np.array([T - 1800, T, T + 900], dtype=np.int64), LAGGING, latest_end)
    assert anchors.tolist() == [
        [T - HORIZON, T - HORIZON, T - HORIZON],  # silent group: never before the complete point
        [T - 1800, T - 1200, T - 1200],  # its newest bucket, never after the instant
        [T - 1800, T, T],  # rows ahead of the poll: never after polled_to
    ]


def test_load_range_covers_every_window_evaluated() -> None:
    r = rule("query_count", COUNT_LEVELS, window="30m")
    instants = np.array([T - 7200, T, T + 600], dtype=np.int64)
    lo, hi = load_range([r], instants, LAGGING)
    anchors = anchor_matrix(r, instants, LAGGING, np.array([T - 9000, T - 60, T], dtype=np.int64))
    assert lo <= int(anchors.min()) - 1800
    assert hi >= int(anchors.max())


# --- (6) where and group_by ---------------------------------------------------------------------

SPREAD = [
    {"bucket": T - 60, "warehouse": "a", "service": "x", "queries": 1},
    {"bucket": T - 60, "warehouse": "a", "service": "y", "queries": 2},
    {"bucket": T - 120, "warehouse": "b", "service": "x", "queries": 4},
    {"bucket": T - 60, "warehouse": "c", "service": "y", "queries": 8},
]


def test_where_keeps_only_matching_series() -> None:
    r = rule("query_count", COUNT_LEVELS, where={"warehouse": ["a", "b"]})
    assert one(evaluate(r, QUERY, SPREAD))["value"] == 7


def test_where_on_two_labels_requires_both() -> None:
    r = rule("query_count", COUNT_LEVELS, where={"warehouse": ["a", "c"], "service": ["y"]})
    assert one(evaluate(r, QUERY, SPREAD))["value"] == 10


def test_where_matching_nothing_gives_empty_result() -> None:
    r = rule("query_count", COUNT_LEVELS, where={"warehouse": ["nope"]}, group_by=["service"])
    data = RollupArrays.from_frame(store_frame(QUERY, SPREAD), QUERY)
    result = evaluate_threshold(r, data, np.array([T], dtype=np.int64), SETTLED)
    assert result.height == 0
    assert {"instant", "service", "state", "value", "window_end"} <= set(result.columns)


def test_group_by_splits_results_per_label_value() -> None:
    out = evaluate(rule("query_count", COUNT_LEVELS, group_by=["warehouse"]), QUERY, SPREAD)
    assert {r["warehouse"]: r["value"] for r in out} == {"a": 3, "b": 4, "c": 8}


def test_group_by_two_labels_gives_one_result_per_combination() -> None:
    out = evaluate(rule("query_count", COUNT_LEVELS, group_by=["warehouse", "service"]), QUERY, SPREAD)
    assert {(r["warehouse"], r["service"]): r["value"] for r in out} == {
        ("a", "x"): 1,
        ("a", "y"): 2,
        ("b", "x"): 4,
        ("c", "y"): 8,
    }


def test_without_group_by_all_series_add_up() -> None:
    assert one(evaluate(rule("query_count", COUNT_LEVELS), QUERY, SPREAD))["value"] == 15


def test_rule_on_another_rollup_is_rejected() -> None:
    data = RollupArrays.from_frame(store_frame(WAREHOUSE_LOAD, [{"bucket": T - 300}]), WAREHOUSE_LOAD)
    with pytest.raises(ValueError, match="query"):
        evaluate_threshold(rule("query_count", COUNT_LEVELS), data, np.array([T]), SETTLED)


# --- (7) latency percentiles --------------------------------------------------------------------


def hist_rows(count: int = 100, index: int = 20, max_ms: int = 1400) -> list[dict[str, Any]]:
    return minutes(
        T - 600,
        T,
        queries=count,
        succeeded=count,
        elapsed_ms_max=max_ms,
        elapsed_ms_sum=count * 1000,
        **{f"h{index:02d}": count},
    )


@pytest.mark.parametrize("metric", ["latency_p50_ms", "latency_p90_ms", "latency_p95_ms", "latency_p99_ms"])
def test_latency_percentiles_read_the_histogram(metric: str) -> None:
    out = one(evaluate(rule(metric, {"sev3": 5000}), QUERY, hist_rows()))
    assert 1000 / SQRT2 <= out["value"] <= 1000 * SQRT2
    assert bucket_lower_ms(20) <= out["value"] <= min(bucket_upper_ms(20), 1400)
    assert out["events"] == 1000
    assert out["state"] == "ok"


def test_latency_percentile_breaches_when_histogram_moves_up() -> None:
    rows = hist_rows(index=26, max_ms=11000)  # 8192-11585 ms
    out = one(evaluate(rule("latency_p95_ms", {"sev3": 5000}), QUERY, rows))
    assert 8192 <= out["value"] <= 11000
    assert (out["state"], out["severity"]) == ("breach", "sev3")


def test_latency_percentile_of_window_without_successes_is_no_data() -> None:
    rows = [{"bucket": T - 60, "queries": 5, "failed": 5}]
    out = one(evaluate(rule("latency_p95_ms", {"sev3": 5000}), QUERY, rows))
    assert out["state"] == "no_data"
    assert math.isnan(out["value"])


def test_latency_max_is_max_over_window_not_sum() -> None:
    rows = [
        {"bucket": T - 120, "succeeded": 1, "elapsed_ms_max": 3000},
        {"bucket": T - 60, "succeeded": 1, "elapsed_ms_max": 2000},
    ]
    assert one(evaluate(rule("latency_max_ms", {"sev3": 4000}), QUERY, rows))["value"] == 3000


# --- (8) slow_query_ratio -----------------------------------------------------------------------


def slow_rows(le_text: str = '{"1000": 80, "5000": 95}') -> list[dict[str, Any]]:
    return minutes(T - 600, T, queries=100, succeeded=100, le_counts=le_text)


def test_slow_query_ratio_uses_exact_counts_under_threshold() -> None:
    out = one(evaluate(rule("slow_query_ratio", {"sev3": 0.1}, latency_threshold_ms=1000), QUERY, slow_rows()))
    assert out["value"] == pytest.approx(0.2)
    assert (out["state"], out["severity"]) == ("breach", "sev3")
    other = one(evaluate(rule("slow_query_ratio", {"sev3": 0.1}, latency_threshold_ms=5000), QUERY, slow_rows()))
    assert other["value"] == pytest.approx(0.05)
    assert other["state"] == "ok"


def test_slow_query_ratio_is_no_data_when_a_bucket_in_window_lacks_the_threshold() -> None:
    rows = [*slow_rows(), {"bucket": T - 300, "queries": 10, "succeeded": 10, "le_counts": json.dumps({"500": 3})}]
    out = one(evaluate(rule("slow_query_ratio", {"sev3": 0.1}, latency_threshold_ms=1000), QUERY, rows))
    assert out["state"] == "no_data"
    assert math.isnan(out["value"])


def test_slow_query_ratio_ignores_buckets_lacking_threshold_outside_window() -> None:
    rows = [*slow_rows(), {"bucket": T - 3600, "queries": 10, "succeeded": 10, "le_counts": "{}"}]
    out = one(evaluate(rule("slow_query_ratio", {"sev3": 0.1}, latency_threshold_ms=1000), QUERY, rows))
    assert out["value"] == pytest.approx(0.2)


# --- (9) error rate -----------------------------------------------------------------------------


def test_error_rate_is_failed_over_all_queries_in_window() -> None:
    rows = [
        {"bucket": T - 120, "queries": 20, "failed": 2},
        {"bucket": T - 60, "queries": 30, "failed": 3},
        {"bucket": T - 3600, "queries": 10, "failed": 10},  # outside the window
    ]
    out = one(evaluate(rule("error_rate", {"sev3": 0.05}), QUERY, rows))
    assert out["value"] == pytest.approx(0.1)
    assert out["events"] == 50
    assert (out["state"], out["severity"]) == ("breach", "sev3")


# --- (10) gauges --------------------------------------------------------------------------------


def test_gauge_is_time_weighted_mean_over_window() -> None:
    rows = [{"bucket": T - 300, "warehouse": "wh", "avg_running": 2.0}]
    out = one(evaluate(rule("warehouse_running_avg", {"sev3": 5}, window="10m"), WAREHOUSE_LOAD, rows))
    assert out["value"] == pytest.approx(1.0)
    assert out["buckets"] == 1


def test_gauge_with_every_bucket_present_is_plain_mean() -> None:
    rows = [
        {"bucket": T - 900, "avg_queued_load": 1.0},
        {"bucket": T - 600, "avg_queued_load": 2.0},
        {"bucket": T - 300, "avg_queued_load": 6.0},
    ]
    out = one(evaluate(rule("warehouse_queued_load_avg", {"sev3": 2}, window="15m"), WAREHOUSE_LOAD, rows))
    assert out["value"] == pytest.approx(3.0)
    assert (out["state"], out["severity"]) == ("breach", "sev3")


# --- (11) credits per hour ----------------------------------------------------------------------


@pytest.mark.parametrize(("window", "expected"), [("1h", 5.0), ("2h", 4.0), ("3h", 8.0 / 3), ("4h", 2.0)])
def test_credits_per_hour_scales_window_sum_to_an_hour(window: str, expected: float) -> None:
    rows = [{"bucket": T - 7200, "credits_used": 3.0}, {"bucket": T - 3600, "credits_used": 5.0}]
    out = one(evaluate(rule("credits_per_hour", {"sev3": 100}, window=window), WAREHOUSE_METERING, rows))
    assert out["value"] == pytest.approx(expected)


def test_credits_used_is_plain_window_sum() -> None:
    rows = [{"bucket": T - 7200, "credits_used": 3.0}, {"bucket": T - 3600, "credits_used": 5.0}]
    assert one(evaluate(rule("credits_used", {"sev3": 100}, window="2h"), WAREHOUSE_METERING, rows))["value"] == 8.0


# --- (12) phase means ---------------------------------------------------------------------------

PHASE_MEASURES = {
    "compilation": "compilation_ms_sum",
    "queued_overload": "queued_overload_ms_sum",
    "queued_provisioning": "queued_provisioning_ms_sum",
    "queued_repair": "queued_repair_ms_sum",
    "blocked": "blocked_ms_sum",
    "list_external_files": "list_files_ms_sum",
    "execution": "execution_ms_sum",
}


def test_query_results_carry_phase_means_and_spilled_bytes() -> None:
    first = {m: 10 * (i + 1) for i, m in enumerate(PHASE_MEASURES.values())}
    second = {m: 1000 * (i + 1) for i, m in enumerate(PHASE_MEASURES.values())}
    rows = [
        {"bucket": T - 120, "queries": 10, **first, "spill_local_bytes_sum": 5, "spill_remote_bytes_sum": 1},
        {"bucket": T - 60, "queries": 30, **second, "spill_local_bytes_sum": 7, "spill_remote_bytes_sum": 2},
    ]
    out = one(evaluate(rule("error_rate", {"sev3": 0.1}), QUERY, rows))
    for phase, measure in PHASE_MEASURES.items():
        assert out[f"phase_{phase}_ms"] == pytest.approx((first[measure] + second[measure]) / 40), phase
    assert (out["spill_local_bytes"], out["spill_remote_bytes"]) == (12, 3)


def test_phase_means_are_nan_without_queries() -> None:
    out = one(evaluate(rule("query_count", COUNT_LEVELS), QUERY, [{"bucket": T - 3600, "queries": 3}]))
    assert all(math.isnan(out[f"phase_{p}_ms"]) for p in PHASE_MEASURES)


def test_non_query_rollups_carry_no_phase_columns() -> None:
    rows = [{"bucket": T - 300, "avg_running": 1.0}]
    out = one(evaluate(rule("warehouse_running_avg", {"sev3": 5}), WAREHOUSE_LOAD, rows))
    assert not any(k.startswith("phase_") for k in out)


# --- (13) one call over many instants equals one call per instant --------------------------------

METRIC_LEVELS: dict[str, tuple[dict[str, float], dict[str, float], dict[str, Any]]] = {
    # metric: (levels for '>', levels for '<', extra spec)
    "query_count": ({"sev3": 50, "sev2": 200}, {"sev3": 50, "sev2": 10}, {}),
    "error_rate": ({"sev3": 0.1, "sev2": 0.3}, {"sev3": 0.5, "sev2": 0.2}, {}),
    "latency_p95_ms": ({"sev3": 1000, "sev2": 5000}, {"sev3": 1000, "sev2": 100}, {}),
    "latency_max_ms": ({"sev3": 2000}, {"sev3": 2000}, {}),
    "slow_query_ratio": ({"sev3": 0.2}, {"sev3": 0.8}, {"latency_threshold_ms": 1000}),
    "compilation_mean_ms": ({"sev3": 50}, {"sev3": 50}, {}),
}

random_rows = st.lists(
    st.fixed_dictionaries(
        {
            "slot": st.integers(-60, 0),
            "warehouse": st.sampled_from(["a", "b", "c"]),
            "service": st.sampled_from(["x", "y"]),
            "queries": st.integers(0, 40),
            "fail_share": st.floats(0, 1),
            "hist_index": st.integers(0, 40),
            "fast_share": st.floats(0, 1),
            "le_known": st.integers(0, 9),
            "compilation_ms_sum": st.integers(0, 5000),
        }
    ),
    min_size=1,
    max_size=40,
)


def query_rows_from(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for r in raw:
        failed = int(r["queries"] * r["fail_share"])
        succeeded = r["queries"] - failed
        fast = int(succeeded * r["fast_share"])
        idx = r["hist_index"]
        rows.append(
            {
                "bucket": T + 60 * r["slot"],
                "warehouse": r["warehouse"],
                "service": r["service"],
                "queries": r["queries"],
                "failed": failed,
                "succeeded": succeeded,
                "elapsed_ms_max": int(bucket_lower_ms(idx) * 1.2) + 1 if succeeded else 0,
                "compilation_ms_sum": r["compilation_ms_sum"],
                f"h{idx:02d}": succeeded,
                "le_counts": json.dumps({"1000": fast}) if r["le_known"] else "{}",
            }
        )
    return rows


@settings(max_examples=60, deadline=None)
@given(
    raw=random_rows,
    metric=st.sampled_from(sorted(METRIC_LEVELS)),
    upward=st.booleans(),
    window_min=st.integers(1, 30),
    group_by=st.sampled_from([[], ["warehouse"], ["warehouse", "service"]]),
    min_events=st.sampled_from([0, 0, 5, 30]),
    polled=st.one_of(st.none(), st.integers(-20, 5)),
    horizon_min=st.integers(0, 40),
    covered_min=st.one_of(st.none(), st.integers(10, 90)),
    stale_after=st.sampled_from([60, 300, 900]),
    instant_offsets=st.lists(st.integers(-3600, 1200), min_size=1, max_size=8, unique=True),
)
def test_many_instants_in_one_call_equal_one_call_per_instant(
    raw: list[dict[str, Any]],
    metric: str,
    upward: bool,
    window_min: int,
    group_by: list[str],
    min_events: int,
    polled: int | None,
    horizon_min: int,
    covered_min: int | None,
    stale_after: int,
    instant_offsets: list[int],
) -> None:
    up_levels, down_levels, extra = METRIC_LEVELS[metric]
    r = rule(
        metric,
        up_levels if upward else down_levels,
        window=f"{window_min}m",
        op=">" if upward else "<",
        group_by=group_by,
        min_events=min_events,
        **extra,
    )
    view = DataView(
        covered_from=None if covered_min is None else T - 60 * covered_min,
        polled_to=None if polled is None else T + 60 * polled,
        horizon=60 * horizon_min,
        stale_after=stale_after,
    )
    data = RollupArrays.from_frame(store_frame(QUERY, query_rows_from(raw)), QUERY)
    instants = np.array([T + o for o in instant_offsets], dtype=np.int64)
    order = ["instant", *group_by]

    together = evaluate_threshold(r, data, instants, view).sort(order)
    singles = [evaluate_threshold(r, data, instants[i : i + 1], view) for i in range(len(instants))]
    # dtypes may differ per call (see test_severity_column_is_string_when_nothing_breaches)
    one_by_one = pl.concat(singles, how="vertical_relaxed").sort(order)
    assert_frame_equal(together, one_by_one, check_dtypes=False)

    lo, hi = load_range([r], instants, view)
    assert (together["window_start"] >= lo).all()
    assert (together["window_end"] <= hi).all()
    assert (together["window_end"] <= together["instant"]).all()


# --- result schema ------------------------------------------------------------------------------


def test_severity_column_is_string_when_nothing_breaches() -> None:
    # Regression (fixed): sre_agent/engine/threshold.py:166 builds the result with pl.DataFrame(columns, ...)
    # where
    # "severity" is a list of None when no row breaches, so polars infers dtype Null; the same call
    # with one breaching row (and _empty()) gives String. The schema must not depend on the verdicts.
    r = rule("query_count", COUNT_LEVELS)
    data = RollupArrays.from_frame(store_frame(QUERY, [{"bucket": T - 60, "queries": 1}]), QUERY)
    quiet = evaluate_threshold(r, data, np.array([T], dtype=np.int64), SETTLED)
    assert quiet["state"].to_list() == ["ok"]
    assert quiet.schema["severity"] == pl.String
