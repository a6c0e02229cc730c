"""Fixed log-scale latency histogram: the bucket layout pushed down to Snowflake and the quantiles read back.

Bucket ``k`` holds latencies in ``[2**(k/2), 2**((k+1)/2))`` milliseconds (√2 wide, about ±19 %);
bucket 0 also holds 0 ms and the last bucket everything from 2**23.5 ms (≈ 3.3 h) up. Snowflake
computes the index as ``LEAST(FLOOR(2 * LN(GREATEST(ms, 1)) / LN(2)), 47)``. Histograms add up
across minutes and series, so percentiles over any window are exact up to the bucket width —
which per-minute percentiles pushed down from Snowflake could never be.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

BUCKETS = 48
"""Number of histogram buckets (fixed: changing it needs a store migration)."""

FloatArray = npt.NDArray[np.float64]


def bucket_lower_ms(index: int) -> float:
    """Return the lower bound in ms of bucket ``index`` (bucket 0 starts at 0)."""
    return 0.0 if index == 0 else 2.0 ** (index / 2)


def bucket_upper_ms(index: int) -> float:
    """Return the upper bound in ms of bucket ``index`` (the last bucket is open: +inf)."""
    return math.inf if index >= BUCKETS - 1 else 2.0 ** ((index + 1) / 2)


def bucket_index(ms: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Return the bucket index for each latency in ``ms`` (the same formula Snowflake runs)."""
    values = np.maximum(np.asarray(ms, dtype=np.float64), 1.0)
    idx = np.floor(2.0 * np.log(values) / math.log(2.0)).astype(np.int64)
    return np.clip(idx, 0, BUCKETS - 1)


_LOWER = np.array([bucket_lower_ms(i) for i in range(BUCKETS)])
_UPPER = np.array([bucket_upper_ms(i) for i in range(BUCKETS)])


def quantiles(counts: npt.ArrayLike, q: float, maxima: npt.ArrayLike | None = None) -> FloatArray:
    """Return the ``q`` quantile (0 < q ≤ 1) of each histogram row of ``counts`` (shape n × BUCKETS).

    Interpolates geometrically inside the bucket (linearly in bucket 0); the open last bucket uses
    the observed maximum as its upper bound when ``maxima`` is given, and every estimate is capped
    at that maximum. Rows with no events give NaN.
    """
    if not 0 < q <= 1:
        raise ValueError(f"quantile must be in (0, 1], got {q}")
    matrix = np.atleast_2d(np.asarray(counts, dtype=np.float64))
    n = matrix.shape[0]
    totals = matrix.sum(axis=1)
    out = np.full(n, np.nan)
    valid = totals > 0
    if not valid.any():
        return out
    cum = np.cumsum(matrix, axis=1)
    target = q * totals
    idx = np.argmax(cum >= target[:, None] - 1e-9, axis=1)
    rows = np.arange(n)
    before = np.where(idx > 0, cum[rows, np.maximum(idx - 1, 0)], 0.0)
    in_bucket = matrix[rows, idx]
    frac = np.clip(np.divide(target - before, in_bucket, out=np.ones(n), where=in_bucket > 0), 0.0, 1.0)
    lower = _LOWER[idx]
    upper = _UPPER[idx].copy()
    cap = None if maxima is None else np.asarray(maxima, dtype=np.float64)
    if cap is not None:
        upper = np.where(np.isinf(upper), np.maximum(cap, lower), upper)
    upper = np.where(np.isinf(upper), lower, upper)
    geometric = lower * np.power(np.divide(upper, lower, out=np.ones(n), where=lower > 0), frac)
    linear = lower + (upper - lower) * frac
    estimate = np.where(lower > 0, geometric, linear)
    if cap is not None:
        estimate = np.where(np.isfinite(cap), np.minimum(estimate, cap), estimate)
    out[valid] = estimate[valid]
    return out
