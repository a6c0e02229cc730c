"""Unit tests for the √2 log-scale latency histogram: bucket placement and quantiles read back from it.

The quantile guarantee checked here is the one the module documents: an estimate lies in the same
√2-wide bucket as the exact sample quantile (the order statistic of rank ⌈q·n⌉, numpy's
``inverted_cdf`` method), so it is within a factor √2 of it, except in the open last bucket where it
is only bounded by the bucket's lower edge and the observed maximum.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sre_agent.engine.histogram import BUCKETS, bucket_index, bucket_lower_ms, bucket_upper_ms, quantiles

SQRT2 = math.sqrt(2.0)
LAST = BUCKETS - 1
OPEN_BUCKET_FROM_MS = 2.0 ** (LAST / 2)
QS = (0.5, 0.9, 0.95, 0.99)
REL = 1e-9  # float slack on bucket edges


def histogram_of(latencies_ms: np.ndarray) -> np.ndarray:
    """Counts per bucket of ``latencies_ms``, as Snowflake would push them down."""
    return np.bincount(bucket_index(latencies_ms), minlength=BUCKETS).astype(np.float64)


def lognormal_sample(seed: int, size: int, median_ms: float, sigma: float) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(math.log(median_ms), sigma, size)


samples = st.builds(
    lognormal_sample,
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(50, 5000),
    median_ms=st.floats(10.0, 100_000.0),
    sigma=st.floats(0.2, 1.5),
)


# --- bucket_index -------------------------------------------------------------------------------


def test_bucket_index_puts_zero_and_one_ms_in_bucket_zero() -> None:
    assert bucket_index([0.0, 0.5, 1.0]).tolist() == [0, 0, 0]


@pytest.mark.parametrize("k", range(BUCKETS))
def test_bucket_index_puts_lower_edge_of_bucket_k_in_bucket_k(k: int) -> None:
    assert int(bucket_index(2.0 ** (k / 2))) == k


@pytest.mark.parametrize("k", range(LAST))
def test_bucket_index_puts_value_just_below_upper_edge_in_bucket_k(k: int) -> None:
    assert int(bucket_index(2.0 ** ((k + 1) / 2) * (1 - 1e-9))) == k


@pytest.mark.parametrize("ms", [OPEN_BUCKET_FROM_MS * 1.01, 1e9, 1e12, 1e300])
def test_bucket_index_puts_huge_latencies_in_last_bucket(ms: float) -> None:
    assert int(bucket_index(ms)) == LAST


def test_bucket_bounds_are_consecutive_sqrt2_steps_with_open_last_bucket() -> None:
    assert bucket_lower_ms(0) == 0.0
    for k in range(1, LAST):
        assert bucket_upper_ms(k) / bucket_lower_ms(k) == pytest.approx(SQRT2)
        assert bucket_upper_ms(k - 1) == bucket_lower_ms(k)
    assert math.isinf(bucket_upper_ms(LAST))


@settings(max_examples=100, deadline=None)
@given(ms=st.floats(0.0, 1e12))
def test_bucket_index_places_value_between_bucket_bounds(ms: float) -> None:
    k = int(bucket_index(ms))
    assert 0 <= k <= LAST
    assert ms >= bucket_lower_ms(k) * (1 - REL)
    assert ms < bucket_upper_ms(k) * (1 + REL)


# --- quantiles ----------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(latencies=samples)
def test_quantiles_are_within_one_bucket_width_of_exact_sample_quantile(latencies: np.ndarray) -> None:
    hist = histogram_of(latencies)
    observed_max = float(latencies.max())
    for q in QS:
        estimate = float(quantiles(hist, q, observed_max)[0])
        exact = float(np.quantile(latencies, q, method="inverted_cdf"))
        if exact < OPEN_BUCKET_FROM_MS:
            assert exact / (SQRT2 * (1 + REL)) <= estimate <= exact * SQRT2 * (1 + REL), (q, exact, estimate)
        else:  # the open last bucket is bounded by its lower edge and the observed maximum only
            assert OPEN_BUCKET_FROM_MS <= estimate <= observed_max, (q, exact, estimate)


@settings(max_examples=100, deadline=None)
@given(latencies=samples)
def test_quantiles_never_exceed_observed_maximum(latencies: np.ndarray) -> None:
    hist = histogram_of(latencies)
    observed_max = float(latencies.max())
    estimates = np.array([quantiles(hist, q, observed_max)[0] for q in (*QS, 1.0)])
    assert (estimates <= observed_max).all()


@settings(max_examples=100, deadline=None)
@given(
    counts=st.lists(st.integers(0, 1000), min_size=BUCKETS, max_size=BUCKETS).filter(any),
    cap=st.floats(0.0, 1e8),
    q=st.floats(0.01, 1.0),
)
def test_quantiles_are_capped_at_given_maximum_for_any_histogram(counts: list[int], cap: float, q: float) -> None:
    assert quantiles(np.array(counts), q, cap)[0] <= cap


def test_quantiles_cap_each_row_at_its_own_maximum() -> None:
    hist = np.zeros((2, BUCKETS))
    hist[:, 20] = 10  # 1024-1448 ms
    out = quantiles(hist, 0.99, np.array([1100.0, 1400.0]))
    assert out[0] <= 1100.0
    assert 1100.0 < out[1] <= 1400.0


def test_quantile_in_open_last_bucket_reaches_observed_maximum() -> None:
    hist = np.zeros(BUCKETS)
    hist[LAST] = 4
    assert quantiles(hist, 1.0, 5e7)[0] == pytest.approx(5e7)
    assert OPEN_BUCKET_FROM_MS <= quantiles(hist, 0.5, 5e7)[0] < 5e7


def test_quantiles_of_all_zero_row_is_nan() -> None:
    hist = np.zeros((3, BUCKETS))
    hist[1, 10] = 5
    out = quantiles(hist, 0.5, np.array([100.0, 100.0, 100.0]))
    assert math.isnan(out[0])
    assert not math.isnan(out[1])
    assert math.isnan(out[2])


def test_quantiles_of_all_zero_histogram_without_maxima_is_nan() -> None:
    assert math.isnan(quantiles(np.zeros(BUCKETS), 0.9)[0])


@pytest.mark.parametrize("q", [0.0, -0.1, 1.0000001, 2.0, math.nan])
def test_quantiles_reject_q_outside_zero_one(q: float) -> None:
    hist = np.ones(BUCKETS)
    with pytest.raises(ValueError, match="quantile"):
        quantiles(hist, q)


def test_quantiles_accept_q_equal_to_one() -> None:
    hist = np.zeros(BUCKETS)
    hist[10] = 1
    assert quantiles(hist, 1.0)[0] == pytest.approx(bucket_upper_ms(10))


def test_quantile_of_single_bucket_stays_inside_that_bucket() -> None:
    hist = np.zeros(BUCKETS)
    hist[20] = 100
    for q in (0.01, *QS, 1.0):
        assert bucket_lower_ms(20) <= quantiles(hist, q)[0] <= bucket_upper_ms(20)


@settings(max_examples=100, deadline=None)
@given(
    counts=st.lists(st.integers(0, 50), min_size=BUCKETS, max_size=BUCKETS).filter(any),
    qs=st.lists(st.floats(0.001, 1.0), min_size=2, max_size=8),
    with_cap=st.booleans(),
)
def test_quantiles_are_monotone_in_q(counts: list[int], qs: list[float], with_cap: bool) -> None:
    hist = np.array(counts, dtype=np.float64)
    top = max(i for i, c in enumerate(counts) if c)
    cap = (bucket_lower_ms(top) * 1.2 + 1.0) if with_cap else None
    ordered = sorted(qs)
    estimates = [float(quantiles(hist, q, cap)[0]) for q in ordered]
    assert all(a <= b * (1 + REL) for a, b in pairwise(estimates))
