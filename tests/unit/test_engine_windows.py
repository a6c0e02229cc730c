"""Unit tests for grouping rollup rows and summing them over sliding windows at many anchors at once.

The vectorised cumulative-sum implementation is checked against a brute-force per-group loop over
``anchor - window <= bucket < anchor`` on random store-layout frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rollup_frames import store_frame

from sre_agent.engine.frames import RollupArrays
from sre_agent.engine.rollups import HIST_COLUMNS, QUERY, WAREHOUSE_LOAD, RollupDef
from sre_agent.engine.windows import Groups, group_rows, window_sums

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z, a multiple of every grain


def arrays(rollup: RollupDef, rows: Sequence[dict[str, Any]]) -> RollupArrays:
    return RollupArrays.from_frame(store_frame(rollup, rows), rollup)


def key_index(groups: Groups) -> dict[tuple[str, ...], int]:
    return {key: g for g, key in enumerate(groups.keys)}


def query_row(bucket: int, warehouse: str = "wh", service: str = "svc", **measures: Any) -> dict[str, Any]:
    return {"bucket": bucket, "warehouse": warehouse, "service": service, **measures}


# --- group_rows ---------------------------------------------------------------------------------


def test_group_rows_keys_one_group_per_label_combination_of_kept_rows() -> None:
    data = arrays(
        QUERY,
        [
            query_row(T0, "a", "x"),
            query_row(T0, "a", "y"),
            query_row(T0, "b", "x"),
            query_row(T0 + 60, "a", "x"),
        ],
    )
    groups = group_rows(data, ["warehouse", "service"], np.ones(data.rows, dtype=bool))
    assert sorted(groups.keys) == [("a", "x"), ("a", "y"), ("b", "x")]
    index = key_index(groups)
    assert groups.row_group.tolist() == [index[("a", "x")], index[("a", "y")], index[("b", "x")], index[("a", "x")]]


def test_group_rows_without_group_by_puts_every_kept_row_in_one_group() -> None:
    data = arrays(QUERY, [query_row(T0, "a"), query_row(T0 + 120, "b")])
    groups = group_rows(data, [], np.ones(data.rows, dtype=bool))
    assert groups.keys == [()]
    assert groups.row_group.tolist() == [0, 0]
    assert groups.latest_end.tolist() == [T0 + 180]


def test_group_rows_respects_keep_mask() -> None:
    data = arrays(QUERY, [query_row(T0, "a"), query_row(T0 + 600, "a"), query_row(T0, "b"), query_row(T0, "c")])
    keep = np.array([True, False, True, False])
    groups = group_rows(data, ["warehouse"], keep)
    assert sorted(groups.keys) == [("a",), ("b",)]
    assert groups.rows.tolist() == [0, 2]
    index = key_index(groups)
    # the dropped row at T0 + 600 must not move a's newest bucket
    assert groups.latest_end[index[("a",)]] == T0 + 60


def test_group_rows_with_nothing_kept_gives_no_groups() -> None:
    data = arrays(QUERY, [query_row(T0, "a")])
    groups = group_rows(data, ["warehouse"], np.zeros(1, dtype=bool))
    assert groups.keys == []
    assert len(groups.rows) == 0
    assert len(groups.latest_end) == 0


@pytest.mark.parametrize("rollup", [QUERY, WAREHOUSE_LOAD])
def test_group_rows_latest_end_is_newest_bucket_plus_grain_per_group(rollup: RollupDef) -> None:
    grain = int(rollup.grain.total_seconds())
    rows = [
        {"bucket": T0 + 10 * grain, "warehouse": "a"},
        {"bucket": T0 + 3 * grain, "warehouse": "a"},
        {"bucket": T0 + 1 * grain, "warehouse": "b"},
        {"bucket": T0 + 7 * grain, "warehouse": "b"},
        {"bucket": T0 + 2 * grain, "warehouse": "b"},
    ]
    groups = group_rows(arrays(rollup, rows), ["warehouse"], np.ones(len(rows), dtype=bool))
    index = key_index(groups)
    assert groups.latest_end[index[("a",)]] == T0 + 11 * grain
    assert groups.latest_end[index[("b",)]] == T0 + 8 * grain


# --- window_sums: examples ----------------------------------------------------------------------


def test_window_sums_cover_half_open_interval_ending_before_anchor() -> None:
    data = arrays(QUERY, [query_row(T0 + 60 * k, queries=10**k) for k in range(5)])
    groups = group_rows(data, [], np.ones(data.rows, dtype=bool))
    # window [T0 + 60, T0 + 240): buckets 1, 2, 3 — not the one at the anchor itself
    sums = window_sums(data, groups, {"queries": None}, np.array([[T0 + 240]]), 180)
    assert sums.columns["queries"].tolist() == [10 + 100 + 1000]
    assert sums.buckets_with_data.tolist() == [3]


def test_window_sums_row_order_is_group_major_then_instant() -> None:
    data = arrays(QUERY, [query_row(T0, "a", queries=1), query_row(T0 + 60, "b", queries=2)])
    groups = group_rows(data, ["warehouse"], np.ones(data.rows, dtype=bool))
    index = key_index(groups)
    anchors = np.array([[T0 + 60, T0 + 120], [T0 + 60, T0 + 120]])
    sums = window_sums(data, groups, {"queries": None}, anchors, 60)
    out = sums.columns["queries"].reshape(2, 2)
    assert out[index[("a",)]].tolist() == [1, 0]
    assert out[index[("b",)]].tolist() == [0, 2]


def test_window_sums_combine_duplicate_series_bucket_rows() -> None:
    data = arrays(
        QUERY,
        [
            query_row(T0, queries=3, elapsed_ms_max=100, h05=1),
            query_row(T0, queries=4, elapsed_ms_max=700, h05=2),
            query_row(T0 + 60, queries=5, elapsed_ms_max=200, h05=4),
        ],
    )
    groups = group_rows(data, ["warehouse", "service"], np.ones(data.rows, dtype=bool))
    sums = window_sums(
        data,
        groups,
        {"queries": None, "elapsed_ms_max": None},
        np.array([[T0 + 60, T0 + 120]]),
        60,
        with_hist=True,
    )
    assert sums.columns["queries"].tolist() == [7, 5]
    assert sums.columns["elapsed_ms_max"].tolist() == [700, 200]
    assert sums.buckets_with_data.tolist() == [1, 1]
    assert sums.hist is not None
    assert sums.hist[:, 5].tolist() == [3, 4]


def test_window_sums_max_measure_is_zero_for_empty_window() -> None:
    data = arrays(QUERY, [query_row(T0 + 600, elapsed_ms_max=900)])
    groups = group_rows(data, [], np.ones(data.rows, dtype=bool))
    anchors = np.array([[T0, T0 + 660, T0 + 1200]])
    sums = window_sums(data, groups, {"elapsed_ms_max": None}, anchors, 60)
    assert sums.columns["elapsed_ms_max"].tolist() == [0, 900, 0]
    assert sums.buckets_with_data.tolist() == [0, 1, 0]


def test_window_sums_accept_explicit_per_row_columns() -> None:
    data = arrays(QUERY, [query_row(T0), query_row(T0 + 60)])
    groups = group_rows(data, [], np.ones(data.rows, dtype=bool))
    sums = window_sums(data, groups, {"extra": np.array([2.5, 4.0])}, np.array([[T0 + 120]]), 120)
    assert sums.columns["extra"].tolist() == [6.5]


def test_window_sums_with_no_groups_return_empty_columns() -> None:
    data = arrays(QUERY, [query_row(T0)])
    groups = group_rows(data, [], np.zeros(1, dtype=bool))
    sums = window_sums(data, groups, {"queries": None}, np.zeros((0, 3), dtype=np.int64), 60, with_hist=True)
    assert len(sums.columns["queries"]) == 0
    assert len(sums.buckets_with_data) == 0
    assert sums.hist is not None
    assert sums.hist.shape == (0, len(HIST_COLUMNS))


# --- window_sums: against brute force -----------------------------------------------------------

WAREHOUSES = ("a", "b", "c")
SERVICES = ("x", "y")

rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "slot": st.integers(0, 40),
            "warehouse": st.sampled_from(WAREHOUSES),
            "service": st.sampled_from(SERVICES),
            "queries": st.integers(0, 1000),
            "failed": st.integers(0, 50),
            "elapsed_ms_max": st.integers(0, 10**7),
            "h03": st.integers(0, 20),
            "h30": st.integers(0, 20),
        }
    ),
    min_size=1,
    max_size=60,
)


def brute_force(
    rows: list[dict[str, Any]], group_by: list[str], key: tuple[str, ...], anchor: int, window: int
) -> dict[str, float]:
    inside = [
        r
        for r in rows
        if tuple(r[g] for g in group_by) == key and anchor - window <= r["bucket"] < anchor and r["keep"]
    ]
    return {
        "queries": sum(r["queries"] for r in inside),
        "failed": sum(r["failed"] for r in inside),
        "elapsed_ms_max": max((r["elapsed_ms_max"] for r in inside), default=0),
        "h03": sum(r["h03"] for r in inside),
        "h30": sum(r["h30"] for r in inside),
        "buckets": len({r["bucket"] for r in inside}),
    }


@settings(max_examples=100, deadline=None)
@given(
    raw=rows_strategy,
    group_by=st.sampled_from([[], ["warehouse"], ["service"], ["warehouse", "service"], ["service", "warehouse"]]),
    anchor_slots=st.lists(st.integers(-5, 50), min_size=1, max_size=6),
    window_slots=st.integers(1, 30),
    keep_seed=st.integers(0, 2**32 - 1),
    drop_some=st.booleans(),
)
def test_window_sums_equal_brute_force_per_group_and_anchor(
    raw: list[dict[str, Any]],
    group_by: list[str],
    anchor_slots: list[int],
    window_slots: int,
    keep_seed: int,
    drop_some: bool,
) -> None:
    rows = [{**r, "bucket": T0 + 60 * r["slot"]} for r in raw]
    keep = np.random.default_rng(keep_seed).random(len(rows)) < 0.7 if drop_some else np.ones(len(rows), dtype=bool)
    for r, k in zip(rows, keep, strict=True):
        r["keep"] = bool(k)
    data = arrays(QUERY, rows)
    groups = group_rows(data, group_by, keep)
    window = 60 * window_slots
    # each group gets its own shuffled anchors, as anchor_matrix produces
    rng = np.random.default_rng(keep_seed)
    anchors = np.array(
        [rng.permutation([T0 + 60 * s for s in anchor_slots]) for _ in groups.keys], dtype=np.int64
    ).reshape(len(groups.keys), len(anchor_slots))
    sums = window_sums(
        data,
        groups,
        {"queries": None, "failed": None, "elapsed_ms_max": None},
        anchors,
        window,
        with_hist=True,
    )
    assert sums.hist is not None
    expected_keys = {tuple(r[g] for g in group_by) for r in rows if r["keep"]}
    assert set(groups.keys) == expected_keys
    n_inst = len(anchor_slots)
    for g, key in enumerate(groups.keys):
        for k in range(n_inst):
            i = g * n_inst + k
            want = brute_force(rows, group_by, key, int(anchors[g, k]), window)
            got = {
                "queries": sums.columns["queries"][i],
                "failed": sums.columns["failed"][i],
                "elapsed_ms_max": sums.columns["elapsed_ms_max"][i],
                "h03": sums.hist[i, 3],
                "h30": sums.hist[i, 30],
                "buckets": sums.buckets_with_data[i],
            }
            assert got == want, (key, int(anchors[g, k]))
        newest = max(r["bucket"] for r in rows if r["keep"] and tuple(r[gb] for gb in group_by) == key)
        assert groups.latest_end[g] == newest + 60
