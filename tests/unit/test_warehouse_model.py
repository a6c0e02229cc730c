"""Unit tests for the pure warehouse model (``sre_agent.simulate.warehouse_model``).

``busy_integral`` / ``per_bucket`` turn query intervals into load averages and credits,
``fluid_queue`` turns per-minute demand into queueing and cluster counts, and ``running_segments``
turns queries into billed running periods. They are checked on small hand-computed inputs and,
with hypothesis, against brute-force references.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sre_agent.simulate.warehouse_model import busy_integral, fluid_queue, per_bucket, running_segments

F = np.float64

# Intervals with whole-second endpoints, so a per-second count is an exact integral.
_interval = st.tuples(st.integers(-50, 600), st.integers(0, 300))
_intervals = st.lists(_interval, min_size=0, max_size=40)


def _arrays(intervals: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    starts = np.array([a for a, _ in intervals], dtype=F)
    ends = np.array([a + d for a, d in intervals], dtype=F)
    return starts, ends


def _per_second_concurrency(starts: np.ndarray, ends: np.ndarray, horizon: int) -> np.ndarray:
    """Number of intervals covering each second [t, t+1) for t in [0, horizon)."""
    t = np.arange(horizon, dtype=F)
    if len(starts) == 0:
        return np.zeros(horizon)
    return ((starts[:, None] <= t) & (t < ends[:, None])).sum(axis=0).astype(F)


# ------------------------------------------------------------------------------ busy_integral / per_bucket


def test_busy_integral_hand_computed() -> None:
    """Two overlapping intervals: the integral grows by the concurrency between boundaries."""
    starts = np.array([10.0, 20.0])
    ends = np.array([30.0, 25.0])
    got = busy_integral(starts, ends, np.array([0.0, 10.0, 20.0, 22.0, 25.0, 30.0, 100.0]))
    np.testing.assert_allclose(got, [0.0, 0.0, 10.0, 14.0, 20.0, 25.0, 25.0])


def test_per_bucket_splits_an_interval_across_buckets() -> None:
    """A 150 s query starting at 30 s fills 30 s, 60 s and 60 s of three one-minute buckets."""
    got = per_bucket(np.array([30.0]), np.array([180.0]), 60.0, 4)
    np.testing.assert_allclose(got, [30.0, 60.0, 60.0, 0.0])


def test_per_bucket_clips_to_the_bucket_range() -> None:
    """Time before 0 and after the last bucket is not counted."""
    got = per_bucket(np.array([-100.0, 50.0]), np.array([20.0, 1000.0]), 60.0, 2)
    np.testing.assert_allclose(got, [20.0 + 10.0, 60.0])


def test_per_bucket_empty_input_is_zero() -> None:
    """No intervals, no busy time."""
    np.testing.assert_array_equal(per_bucket(np.zeros(0), np.zeros(0), 60.0, 3), np.zeros(3))


@settings(max_examples=150, deadline=None)
@given(intervals=_intervals, bucket_s=st.sampled_from([1, 7, 60, 300]), n_buckets=st.integers(1, 20))
def test_per_bucket_equals_per_second_integration(
    intervals: list[tuple[int, int]], bucket_s: int, n_buckets: int
) -> None:
    """per_bucket equals a brute-force per-second count of overlapping intervals, bucket by bucket."""
    starts, ends = _arrays(intervals)
    horizon = bucket_s * n_buckets
    per_second = _per_second_concurrency(starts, ends, horizon)
    expected = per_second.reshape(n_buckets, bucket_s).sum(axis=1)
    np.testing.assert_allclose(per_bucket(starts, ends, float(bucket_s), n_buckets), expected, atol=1e-6)


@settings(max_examples=150, deadline=None)
@given(intervals=_intervals, boundaries=st.lists(st.integers(0, 1000), min_size=1, max_size=10))
def test_busy_integral_equals_per_second_integration(intervals: list[tuple[int, int]], boundaries: list[int]) -> None:
    """busy_integral(T) from 0 equals the per-second count summed up to each boundary T (intervals
    starting before 0 count their negative part too, as the integral starts at -inf)."""
    starts, ends = _arrays(intervals)
    shift = 50  # starts go down to -50: integrate from there
    per_second = _per_second_concurrency(starts + shift, ends + shift, 1000 + shift)
    cumulative = np.concatenate(([0.0], np.cumsum(per_second)))
    bounds = np.array(boundaries, dtype=F)
    expected = cumulative[np.array(boundaries) + shift]
    np.testing.assert_allclose(busy_integral(starts, ends, bounds), expected, atol=1e-6)


@settings(max_examples=100, deadline=None)
@given(
    intervals=st.lists(
        st.tuples(st.floats(0, 500, allow_nan=False), st.floats(0, 200, allow_nan=False)), min_size=1, max_size=30
    )
)
def test_per_bucket_total_equals_clipped_interval_lengths(intervals: list[tuple[float, float]]) -> None:
    """For fractional endpoints, the buckets add up to the intervals' total length inside the range."""
    starts = np.array([a for a, _ in intervals])
    ends = np.array([a + d for a, d in intervals])
    got = per_bucket(starts, ends, 60.0, 10)
    assert (got >= -1e-9).all()
    assert (got <= 60.0 * len(intervals) + 1e-9).all()
    expected = np.clip(np.minimum(ends, 600.0) - np.maximum(starts, 0.0), 0.0, None).sum()
    assert got.sum() == pytest.approx(expected, abs=1e-6)


# ------------------------------------------------------------------------------------------ fluid_queue


def test_fluid_queue_hand_computed_backlog() -> None:
    """One 8-slot cluster gets 600 s of work in a minute (capacity 480 s): 120 s of backlog, so a
    query arriving then waits 120 / 8 = 15 s; the backlog drains the next minute."""
    q = fluid_queue(np.array([600.0, 0.0]), slots=8, min_clusters=1, max_clusters=1)
    np.testing.assert_allclose(q.wait_s, [15.0, 0.0])
    np.testing.assert_array_equal(q.clusters, [1, 1])
    np.testing.assert_allclose(q.utilisation, [1.0, 120.0 / 480.0])


@settings(max_examples=100, deadline=None)
@given(
    fractions=st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=60),
    slots=st.integers(1, 16),
    min_clusters=st.integers(1, 3),
    extra=st.integers(0, 3),
)
def test_fluid_queue_no_wait_below_capacity(fractions: list[float], slots: int, min_clusters: int, extra: int) -> None:
    """Demand within the running clusters' capacity never queues and never scales out."""
    capacity = min_clusters * slots * 60.0
    q = fluid_queue(np.array(fractions) * capacity, slots, min_clusters, min_clusters + extra)
    np.testing.assert_array_equal(q.wait_s, np.zeros(len(fractions)))
    np.testing.assert_array_equal(q.clusters, np.full(len(fractions), min_clusters))
    assert (q.utilisation <= 1.0 + 1e-12).all()


def test_fluid_queue_wait_grows_while_demand_exceeds_max_capacity() -> None:
    """Sustained demand above the maximum capacity makes the wait grow every minute, at max clusters."""
    slots, max_clusters = 8, 2
    demand = np.full(30, 1.5 * max_clusters * slots * 60.0)
    q = fluid_queue(demand, slots, 1, max_clusters)
    assert (np.diff(q.wait_s[1:]) > 0).all()
    assert q.wait_s[-1] > 60.0
    assert (q.clusters[1:] == max_clusters).all()
    np.testing.assert_allclose(q.utilisation, 1.0)


@settings(max_examples=200, deadline=None)
@given(
    demand=st.lists(st.floats(0.0, 5000.0, allow_nan=False), min_size=1, max_size=120),
    slots=st.integers(1, 16),
    min_clusters=st.integers(1, 3),
    extra=st.integers(0, 4),
)
def test_fluid_queue_respects_cluster_bounds_and_conserves_work(
    demand: list[float], slots: int, min_clusters: int, extra: int
) -> None:
    """Clusters stay within [min, max] and change by at most one a minute; waits and utilisation are
    sane; and the backlog implied by the wait follows backlog' = max(0, backlog + demand - capacity)."""
    max_clusters = min_clusters + extra
    q = fluid_queue(np.array(demand), slots, min_clusters, max_clusters)
    assert (q.clusters >= min_clusters).all()
    assert (q.clusters <= max_clusters).all()
    assert (np.abs(np.diff(q.clusters)) <= 1).all()
    assert (q.wait_s >= 0).all()
    assert ((q.utilisation >= 0) & (q.utilisation <= 1.0)).all()
    backlog = q.wait_s * q.clusters * slots
    previous = 0.0
    for m, d in enumerate(demand):
        expected = max(0.0, previous + d - q.clusters[m] * slots * 60.0)
        assert backlog[m] == pytest.approx(expected, rel=1e-9, abs=1e-6)
        previous = backlog[m]


def test_fluid_queue_scales_out_before_queueing() -> None:
    """On a multi-cluster warehouse, demand up to one extra cluster's capacity starts a cluster in the
    same minute instead of queueing; a single-cluster warehouse queues the same demand."""
    slots = 8
    one = slots * 60.0
    demand = np.array([0.5 * one, 1.5 * one, 1.9 * one, 2.8 * one, 2.8 * one])
    multi = fluid_queue(demand, slots, 1, 3)
    np.testing.assert_array_equal(multi.wait_s, np.zeros(len(demand)))
    np.testing.assert_array_equal(multi.clusters, [1, 2, 2, 3, 3])
    single = fluid_queue(demand, slots, 1, 1)
    assert (single.wait_s[1:] > 0).all()


def test_fluid_queue_sheds_one_cluster_per_minute() -> None:
    """When demand stops, clusters are shed one at a time down to the minimum, and the queue empties."""
    slots = 4
    demand = np.concatenate((np.full(10, 4 * slots * 60.0), np.zeros(6)))
    q = fluid_queue(demand, slots, 1, 4)
    np.testing.assert_array_equal(q.clusters[9:], [4, 3, 2, 1, 1, 1, 1])
    assert q.wait_s[-1] == 0.0


# -------------------------------------------------------------------------------------- running_segments


def test_running_segments_merges_queries_within_auto_suspend() -> None:
    """Queries less than AUTO_SUSPEND apart keep the warehouse up: one running period until
    AUTO_SUSPEND after the last one finishes."""
    seg = running_segments(np.array([0.0, 100.0, 150.0]), np.array([10.0, 110.0, 400.0]), 120.0)
    np.testing.assert_allclose(seg.starts, [0.0])
    np.testing.assert_allclose(seg.ends, [520.0])
    np.testing.assert_array_equal(seg.first_query, [0])


def test_running_segments_splits_on_gaps_longer_than_auto_suspend() -> None:
    """A gap longer than AUTO_SUSPEND suspends the warehouse; the next query resumes it."""
    seg = running_segments(np.array([0.0, 100.0, 500.0]), np.array([10.0, 110.0, 530.0]), 60.0)
    np.testing.assert_allclose(seg.starts, [0.0, 100.0, 500.0])
    np.testing.assert_allclose(seg.ends, [70.0, 170.0, 590.0])
    np.testing.assert_array_equal(seg.first_query, [0, 1, 2])


def test_running_segments_overlapping_queries_do_not_split() -> None:
    """A long query keeps the warehouse up even if later queries finish earlier."""
    seg = running_segments(np.array([0.0, 10.0, 200.0]), np.array([300.0, 20.0, 250.0]), 60.0)
    np.testing.assert_allclose(seg.starts, [0.0])
    np.testing.assert_allclose(seg.ends, [360.0])
    np.testing.assert_array_equal(seg.first_query, [0])


def test_running_segments_bill_at_least_60_seconds_per_resume() -> None:
    """Each resume bills at least 60 s even when the query and AUTO_SUSPEND are shorter."""
    seg = running_segments(np.array([0.0, 1000.0]), np.array([2.0, 1005.0]), 10.0)
    np.testing.assert_allclose(seg.starts, [0.0, 1000.0])
    np.testing.assert_allclose(seg.ends, [60.0, 1060.0])
    np.testing.assert_array_equal(seg.first_query, [0, 1])


def test_running_segments_empty() -> None:
    """No queries and no forced periods: the warehouse never runs."""
    seg = running_segments(np.zeros(0), np.zeros(0), 60.0)
    assert len(seg.starts) == len(seg.ends) == len(seg.first_query) == 0


def test_forced_period_alone_is_a_running_period_without_resume_query() -> None:
    """A forced period (auto-suspend disabled) runs the warehouse with no query resuming it."""
    seg = running_segments(np.zeros(0), np.zeros(0), 60.0, [(100.0, 900.0)])
    np.testing.assert_allclose(seg.starts, [100.0])
    np.testing.assert_allclose(seg.ends, [900.0])
    np.testing.assert_array_equal(seg.first_query, [-1])


def test_query_inside_forced_period_does_not_resume() -> None:
    """Queries inside, or running past the end of, a forced period join it instead of resuming the
    warehouse; a query before it still resumes."""
    arrivals = np.array([0.0, 300.0, 390.0])
    finishes = np.array([10.0, 320.0, 450.0])
    seg = running_segments(arrivals, finishes, 60.0, [(200.0, 400.0)])
    np.testing.assert_allclose(seg.starts, [0.0, 200.0])
    np.testing.assert_allclose(seg.ends, [70.0, 510.0])
    np.testing.assert_array_equal(seg.first_query, [0, -1])


def test_query_resuming_before_forced_period_keeps_its_resume() -> None:
    """A query that resumed the warehouse just before the forced period began remains the resume."""
    seg = running_segments(np.array([90.0]), np.array([130.0]), 60.0, [(100.0, 400.0)])
    np.testing.assert_allclose(seg.starts, [90.0])
    np.testing.assert_allclose(seg.ends, [400.0])
    np.testing.assert_array_equal(seg.first_query, [0])


_queries = st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 400)), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(queries=_queries, auto_suspend=st.integers(60, 900))
def test_running_segments_properties(queries: list[tuple[int, int]], auto_suspend: int) -> None:
    """For any queries: periods are sorted and disjoint, start at their resuming query, last at least
    60 s, end exactly AUTO_SUSPEND after their last query finishes (or at the 60 s minimum), cover
    every query plus its AUTO_SUSPEND tail, and split only where the warehouse was idle longer than
    AUTO_SUSPEND."""
    queries = sorted(queries)
    arrivals = np.array([a for a, _ in queries], dtype=F)
    finishes = np.array([a + d for a, d in queries], dtype=F)
    seg = running_segments(arrivals, finishes, float(auto_suspend))
    assert (np.diff(seg.starts) > 0).all()
    assert (seg.starts[1:] > seg.ends[:-1]).all()
    assert (seg.ends - seg.starts >= 60.0).all()
    assert (seg.first_query >= 0).all()
    np.testing.assert_array_equal(arrivals[seg.first_query], seg.starts)
    owner = np.searchsorted(seg.starts, arrivals, side="right") - 1
    assert (owner >= 0).all()
    assert (finishes + auto_suspend <= seg.ends[owner]).all()
    for k in range(len(seg.starts)):
        mine = owner == k
        assert seg.first_query[k] == np.flatnonzero(mine)[0]
        assert seg.ends[k] == max(finishes[mine].max() + auto_suspend, seg.starts[k] + 60.0)
    # A new period starts exactly where a query arrives after the warehouse has been idle > AUTO_SUSPEND.
    last_finish = np.maximum.accumulate(finishes)
    resumes = np.concatenate(([True], arrivals[1:] > last_finish[:-1] + auto_suspend))
    np.testing.assert_array_equal(np.flatnonzero(resumes), seg.first_query)


@settings(max_examples=150, deadline=None)
@given(
    queries=_queries,
    forced=st.tuples(st.integers(0, 5000), st.integers(60, 2000)),
    auto_suspend=st.integers(60, 600),
)
def test_running_segments_with_forced_period_properties(
    queries: list[tuple[int, int]], forced: tuple[int, int], auto_suspend: int
) -> None:
    """With a forced period: the periods stay disjoint, the forced period is covered, and no query
    arriving inside the forced period is marked as resuming the warehouse."""
    queries = sorted(queries)
    arrivals = np.array([a for a, _ in queries], dtype=F)
    finishes = np.array([a + d for a, d in queries], dtype=F)
    lo, hi = float(forced[0]), float(forced[0] + forced[1])
    seg = running_segments(arrivals, finishes, float(auto_suspend), [(lo, hi)])
    assert (seg.starts[1:] > seg.ends[:-1]).all()
    covering = (seg.starts <= lo) & (seg.ends >= hi)
    assert covering.sum() == 1
    resumed = seg.first_query[seg.first_query >= 0]
    assert not ((arrivals[resumed] > lo) & (arrivals[resumed] < hi)).any()
    owner = np.searchsorted(seg.starts, arrivals, side="right") - 1
    assert (finishes + auto_suspend <= seg.ends[owner]).all()
