"""Robust seasonal anomaly detection, vectorised over many regular series (pure numpy).

For each bucket the baseline is the median of the same slot in earlier weeks (up to 4), else on earlier days
(up to 14), else of the previous 24 hours; the spread is 1.4826 × MAD of the same samples, floored (0.05 in log
units). Latency is judged in log space (multiplicative, right-skewed) whenever every value is positive. A
bucket *breaches* when its robust z passes the threshold in the rule's direction **and** the effect is large
enough (relative and absolute); it is *anomalous* when at least k of the last n buckets breached and it breached
itself. Breaching buckets never enter later baselines (an incident does not teach the detector that slow is
normal), nor does history before ``ignore_before``. No verdict before the warm-up.

Many series at once: values sit in a series × bucket matrix and buckets are judged a day at a time. Seasonal
baselines only look at least a day back, so judging a day's buckets together is exact; the 24-hour rolling
fallback (used while a series has fewer than 3 earlier days) sees breaches of earlier days only. Cost is
linear in series × buckets.

A second, lower-severity signal catches level shifts and slow drift the robust band tolerates: an EWMA
(α = 0.1) of the robust z (winsorised at the threshold), flagged ``shift`` when it stays past ``shift_z`` and
the EWMA of the ratio to the baseline meets the minimum relative effect.

The spread has two floors: 0.05 log units, and the series' own bucket-to-bucket noise over the previous calendar day
(so three same-slot samples that agree by chance cannot make a p95 of a dozen queries look anomalous).

Score in [0, 1]: ``z' / (z' + threshold)`` with ``z'`` the deviation in the rule's direction — 0.5 exactly at
the threshold, towards 1 as the deviation grows, 0 for none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

DAY_S = 86_400
MAD_SCALE = 1.4826
"""MAD × this estimates the standard deviation of normal data."""
LOG_FLOOR = 0.05
"""Smallest spread in log units (≈ ±5 %): a perfectly flat history must not make every wiggle an anomaly."""
WEEKS, DAYS = 4, 14
MIN_SEASONAL, MIN_ROLLING = 3, 12
WEEKLY_AFTER_DAYS = 21
"""``seasonality: auto`` uses weekly slots once a series has this much history (3 seasons)."""
LOOKBACK_S = WEEKS * 7 * DAY_S
"""The furthest back a baseline ever looks."""
METHODS = ("none", "rolling", "daily", "weekly")
"""Baseline methods, by code."""


@dataclass(frozen=True)
class AnomalyParams:
    """What the detector needs from a rule."""

    step_s: int
    z: float = 3.0
    direction: str = "above"
    relative: float = 1.25
    absolute: float = 250.0
    k: int = 3
    n: int = 4
    warm_up_s: int = 3 * DAY_S
    min_buckets: int = 30
    seasonality: str = "auto"
    ignore_before: int | None = None
    shift_z: float | None = None
    """EWMA-of-z level for the level-shift signal (None: off)."""
    shift_alpha: float = 0.1

    @property
    def day(self) -> int:
        """Buckets per day."""
        return DAY_S // self.step_s


@dataclass
class Judged:
    """Verdicts for a block of buckets (series × columns)."""

    baseline: F64
    """In the transformed (log) scale."""
    spread: F64
    z: F64
    breach: Mask
    warming: Mask
    method: npt.NDArray[np.int8]
    samples: I64
    """How many earlier buckets formed the baseline."""


def _median0(stack: F64) -> tuple[F64, I64]:
    """Median over axis 0 ignoring NaN, and the count of values (NaN median where none)."""
    ordered = np.sort(stack, axis=0)  # NaN sorts last
    count = np.isfinite(stack).sum(axis=0)
    lo = np.clip((count - 1) // 2, 0, None)
    hi = np.clip(count // 2, 0, None)
    a = np.take_along_axis(ordered, lo[None], axis=0)[0]
    b = np.take_along_axis(ordered, hi[None], axis=0)[0]
    median = np.where(count > 0, (a + b) / 2.0, np.nan)
    return median, count.astype(np.int64)


def _seasonal(y: F64, usable: Mask, cols: I64, period: int, count: int) -> F64:
    """Values at ``cols - period × k`` (k = 1 … count) where usable, NaN elsewhere: shape count × S × m."""
    out = np.full((count, y.shape[0], len(cols)), np.nan)
    for k in range(1, count + 1):
        src = cols - k * period
        ok = src >= 0
        idx = np.where(ok, src, 0)
        out[k - 1] = np.where(usable[:, idx] & ok[None, :], y[:, idx], np.nan)
    return out


def _spread(stack: F64, center: F64, floor: F64) -> F64:
    mad, _ = _median0(np.abs(stack - center[None]))
    return np.maximum(MAD_SCALE * mad, floor)


def noise(y: F64, usable: Mask, lo: int, hi: int) -> F64:
    """Each series' bucket-to-bucket noise over columns ``[lo, hi)``: 1.4826 × MAD of first differences / √2.

    Few same-slot samples can agree by chance and make a narrow band; a p95 over a dozen queries jumps
    around far more than that. This robust estimate of the series' own short-term noise (sampling noise
    included, the seasonal level cancelled by differencing) is a second floor under the spread.
    """
    block = np.where(usable[:, lo:hi], y[:, lo:hi], np.nan)
    if block.shape[1] < 2:
        return np.zeros(y.shape[0])
    diffs = np.abs(np.diff(block, axis=1)).T
    mad, count = _median0(diffs)
    out: F64 = np.where(count >= MIN_ROLLING, MAD_SCALE * mad / np.sqrt(2.0), 0.0)
    return out


def judge(
    y: F64,
    usable: Mask,
    cols: I64,
    times: I64,
    first: I64,
    seen: I64,
    floor: F64,
    values: F64,
    log_scale: bool,
    params: AnomalyParams,
) -> Judged:
    """Judge columns ``cols`` (ascending, spanning at most a day) of every series.

    ``y`` is the transformed series × bucket matrix (NaN = missing), ``usable`` the buckets allowed in baselines,
    ``times`` the start of each column (epoch s), ``first`` when each series' data began (epoch s), ``seen`` the
    running count of buckets with data (series × bucket), ``floor`` each series' minimum spread and ``values``
    the untransformed matrix (for the minimum effect).
    """
    day = params.day
    n_series, m = y.shape[0], len(cols)
    floors = np.empty((n_series, m))
    day_of = times[cols] // DAY_S
    for d in np.unique(day_of):  # the previous calendar day's noise: the same whatever the chunking
        here = day_of == d
        day_start = int(cols[here][0]) - int(times[cols[here][0]] % DAY_S) // params.step_s
        floors[:, here] = np.maximum(floor, noise(y, usable, max(0, day_start - day), max(0, day_start)))[:, None]
    span_days = (times[cols][None, :] - first[:, None]) / DAY_S
    baseline = np.full((n_series, m), np.nan)
    spread = np.full((n_series, m), np.nan)
    samples = np.zeros((n_series, m), dtype=np.int64)
    method = np.zeros((n_series, m), dtype=np.int8)
    todo = np.ones((n_series, m), dtype=bool)
    seasons = [(7 * day, WEEKS, METHODS.index("weekly")), (day, DAYS, METHODS.index("daily"))]
    if params.seasonality == "daily":
        seasons = seasons[1:]
    for period, count_max, code in seasons:  # weekly slots first (if wanted), then daily for the rest
        if not todo.any():
            break
        stack = _seasonal(y, usable, cols, period, count_max)
        center, count = _median0(stack)
        take = (count >= MIN_SEASONAL) & todo
        if code == METHODS.index("weekly") and params.seasonality == "auto":
            take &= span_days >= WEEKLY_AFTER_DAYS
        if take.any():
            baseline[take], spread[take] = center[take], _spread(stack, center, floors)[take]
            samples[take], method[take] = count[take], code
            todo &= ~take
    for j in np.flatnonzero(todo.any(axis=0)):
        c = int(cols[j])
        lo = max(0, c - day)
        window = np.where(usable[:, lo:c], y[:, lo:c], np.nan).T  # window × S
        if window.shape[0] == 0:
            continue
        center, count = _median0(window)
        take = (count >= MIN_ROLLING) & todo[:, j]
        if take.any():
            mad, _ = _median0(np.abs(window - center[None]))
            baseline[take, j] = center[take]
            spread[take, j] = np.maximum(MAD_SCALE * mad, floors[:, j])[take]
            samples[take, j], method[take, j] = count[take], 1
    x = y[:, cols]
    z = (x - baseline) / spread
    base_v = np.exp(baseline) if log_scale else baseline
    value = values[:, cols]
    with np.errstate(invalid="ignore"):
        above = (z >= params.z) & (value >= params.relative * base_v) & (value - base_v >= params.absolute)
        below = (z <= -params.z) & (value * params.relative <= base_v) & (base_v - value >= params.absolute)
    hit = {"above": above, "below": below, "both": above | below}[params.direction]
    warming = (span_days * DAY_S < params.warm_up_s) | (seen[:, cols] < params.min_buckets)
    breach = hit & ~warming & np.isfinite(x)
    return Judged(baseline, spread, z, breach, warming, method, samples)


def window_counts(flags: Mask, n: int) -> I64:
    """How many of the last ``n`` positions (this one included) are set, along the last axis."""
    counts = np.cumsum(flags, axis=-1, dtype=np.int64)
    before = np.zeros_like(counts)
    before[..., n:] = counts[..., :-n]
    out: I64 = counts - before
    return out


def sustained(breach: Mask, k: int, n: int) -> Mask:
    """k-of-n along the last axis: a bucket that breached with at least k breaches among the last n buckets."""
    out: Mask = breach & (window_counts(breach, n) >= k)
    return out


def ewma(z: F64, alpha: float, start: F64 | None = None) -> F64:
    """EWMA along the last axis over finite values (NaN carries the previous level); ``start`` seeds it."""
    out = np.full(z.shape, np.nan)
    level = np.full(z.shape[0], np.nan) if start is None else start.copy()
    for j in range(z.shape[1]):
        value = z[:, j]
        fresh = np.isfinite(value)
        level = np.where(fresh & np.isnan(level), value, level)
        level = np.where(fresh, alpha * value + (1 - alpha) * level, level)
        out[:, j] = level
    return out


def shift_level(z: F64, ratio: F64, params: AnomalyParams) -> tuple[F64, F64]:
    """EWMAs of the robust z (winsorised at the anomaly threshold: one spike must not read as a shift) and of
    the log ratio to the baseline."""
    clipped = np.clip(z, -params.z, params.z)
    return ewma(clipped, params.shift_alpha), ewma(ratio, params.shift_alpha)


def shift_flags(level: F64, ratio: F64, params: AnomalyParams) -> Mask:
    """Where the EWMAs say the level moved in the rule's direction by at least the minimum relative effect
    (never when the signal is off). ``ratio`` is the EWMA of the log ratio to the baseline."""
    if params.shift_z is None:
        return np.zeros(level.shape, dtype=bool)
    effect = np.log(params.relative)
    with np.errstate(invalid="ignore"):
        up = (level >= params.shift_z) & (ratio >= effect)
        down = (level <= -params.shift_z) & (ratio <= -effect)
    out: Mask = {"above": up, "below": down, "both": up | down}[params.direction]
    return out


def transform(values: F64) -> tuple[F64, bool, float]:
    """Log-transform when every finite value is positive; return the values, whether logged, and the floor."""
    finite = np.isfinite(values)
    log_scale = bool(finite.any() and np.all(values[finite] > 0))
    y = np.full(values.shape, np.nan)
    y[finite] = np.log(values[finite]) if log_scale else values[finite]
    typical = float(np.median(np.abs(y[finite]))) if finite.any() else 0.0
    floor = LOG_FLOOR if log_scale else max(LOG_FLOOR * typical, 1e-9)
    return y, log_scale, floor


@dataclass
class Detection:
    """Per bucket: baseline, band, robust z, score, verdict and why."""

    baseline: F64
    lower: F64
    upper: F64
    z: F64
    score: F64
    breach: Mask
    anomaly: Mask
    shift: Mask
    reason: list[str]
    method: list[str]
    log_scale: bool


def detect(times: I64, values: F64, params: AnomalyParams) -> Detection:
    """Judge every bucket of one regular series (``times`` ascending, ``params.step_s`` apart; NaN = missing).

    Raises:
        ValueError: the step does not divide a day, or the times are not regular.
    """
    if params.step_s <= 0 or DAY_S % params.step_s:
        raise ValueError(f"the interval ({params.step_s}s) must divide a day")
    if len(times) > 1 and np.any(np.diff(times) != params.step_s):
        raise ValueError("times must be ascending and exactly one interval apart (missing buckets as NaN)")
    n = len(values)
    y1, log_scale, floor = transform(np.asarray(values, dtype=np.float64))
    y, raw = y1[None, :], np.asarray(values, dtype=np.float64)[None, :]
    finite = np.isfinite(y)
    usable = finite.copy()
    if params.ignore_before is not None:
        usable &= (times >= params.ignore_before)[None, :]
    first = np.array([int(times[np.argmax(finite[0])]) if finite.any() else 0], dtype=np.int64)
    seen = np.cumsum(finite, axis=1)
    baseline, spread, z = (np.full((1, n), np.nan) for _ in range(3))
    breach = np.zeros((1, n), dtype=bool)
    warming = np.ones((1, n), dtype=bool)
    method = np.zeros((1, n), dtype=np.int8)
    for lo in range(0, n, params.day):
        cols = np.arange(lo, min(n, lo + params.day), dtype=np.int64)
        block = judge(y, usable, cols, times, first, seen, np.array([floor]), raw, log_scale, params)
        baseline[:, cols], spread[:, cols], z[:, cols] = block.baseline, block.spread, block.z
        breach[:, cols], warming[:, cols], method[:, cols] = block.breach, block.warming, block.method
        usable[:, cols] &= ~block.breach  # an unusual bucket never becomes part of "usual"
    anomaly = sustained(breach, params.k, params.n)
    judged = np.where(warming, np.nan, z)
    level, ratio = shift_level(judged, np.where(np.isfinite(judged), y - baseline, np.nan), params)
    shift = shift_flags(level, ratio, params) & ~warming & finite
    reason = []
    for i in range(n):
        if not finite[0, i]:
            reason.append("missing")
        elif np.isnan(baseline[0, i]):
            reason.append("no_baseline")
        elif warming[0, i]:
            reason.append("warm_up")
        else:
            reason.append("anomaly" if anomaly[0, i] else ("breach" if breach[0, i] else "ok"))
    deviation = {"above": z, "below": -z, "both": np.abs(z)}[params.direction][0]
    with np.errstate(invalid="ignore"):
        positive = np.where(np.isfinite(deviation), np.maximum(deviation, 0.0), np.nan)
    score = positive / (positive + params.z)
    width = params.z * spread[0]
    center = baseline[0]
    lower, upper = center - width, center + width
    if log_scale:
        center, lower, upper = np.exp(center), np.exp(lower), np.exp(upper)
    return Detection(
        center,
        lower,
        upper,
        z[0],
        score,
        breach[0],
        anomaly[0],
        shift[0],
        reason,
        [METHODS[int(c)] for c in method[0]],
        log_scale,
    )
