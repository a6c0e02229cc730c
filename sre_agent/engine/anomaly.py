"""Robust seasonal anomaly detection for one regular series (pure numpy): what is unusual *for this slot*.

For each bucket the baseline is the median of the same slot in earlier weeks (up to 4), else on earlier days
(up to 14), else of the previous 24 hours; the spread is 1.4826 × MAD of the same samples, floored (0.05 in log
units). Latency is judged in log space (multiplicative, right-skewed) whenever every value is positive. A
bucket *breaches* when its robust z passes the threshold in the rule's direction **and** the effect is large
enough (relative and absolute); it is *anomalous* when at least k of the last n buckets breached and it breached
itself. Breaching buckets never enter later baselines (an incident does not teach the detector that slow is
normal), nor does history before ``ignore_before``. No verdict before the warm-up.

Score in [0, 1]: ``z' / (z' + threshold)`` with ``z'`` the deviation in the rule's direction — 0.5 exactly at
the threshold, towards 1 as the deviation grows, 0 for none.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

DAY_S = 86_400
MAD_SCALE = 1.4826
"""MAD × this estimates the standard deviation of normal data."""
LOG_FLOOR = 0.05
"""Smallest spread in log units (≈ ±5 %): a perfectly flat history must not make every wiggle an anomaly."""
WEEKS, DAYS = 4, 14
MIN_SEASONAL, MIN_ROLLING = 3, 12


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


@dataclass
class Detection:
    """Per bucket: baseline, band, robust z, score, verdict and why."""

    baseline: F64
    lower: F64
    upper: F64
    z: F64
    score: F64
    breach: npt.NDArray[np.bool_]
    anomaly: npt.NDArray[np.bool_]
    reason: list[str]
    method: list[str]
    log_scale: bool


def _candidates(
    y: F64, usable: npt.NDArray[np.bool_], i: int, day: int, span_days: float, seasonality: str
) -> tuple[F64, str]:
    def pick(offsets: range, unit: int) -> F64:
        idx = [i - o * unit for o in offsets if i - o * unit >= 0]
        return y[[j for j in idx if usable[j]]]

    if seasonality in ("auto", "weekly") and (seasonality == "weekly" or span_days >= 21):
        weekly = pick(range(1, WEEKS + 1), 7 * day)
        if len(weekly) >= MIN_SEASONAL:
            return weekly, "weekly"
    daily = pick(range(1, DAYS + 1), day)
    if len(daily) >= MIN_SEASONAL:
        return daily, "daily"
    lo = max(0, i - day)
    recent = y[lo:i][usable[lo:i]]
    if len(recent) >= MIN_ROLLING:
        return recent, "rolling"
    return np.empty(0), "none"


def detect(times: I64, values: F64, params: AnomalyParams) -> Detection:
    """Judge every bucket of a regular series (``times`` ascending, ``params.step_s`` apart; NaN = missing).

    Raises:
        ValueError: the step does not divide a day, or the times are not regular.
    """
    if params.step_s <= 0 or DAY_S % params.step_s:
        raise ValueError(f"the interval ({params.step_s}s) must divide a day")
    if len(times) > 1 and np.any(np.diff(times) != params.step_s):
        raise ValueError("times must be ascending and exactly one interval apart (missing buckets as NaN)")
    n = len(values)
    finite = np.isfinite(values)
    log_scale = bool(finite.any() and np.all(values[finite] > 0))
    y = np.full(n, np.nan)
    y[finite] = np.log(values[finite]) if log_scale else values[finite]
    typical = float(np.median(np.abs(y[finite]))) if finite.any() else 0.0
    floor = LOG_FLOOR if log_scale else max(LOG_FLOOR * typical, 1e-9)
    day = DAY_S // params.step_s
    usable = finite.copy()
    if params.ignore_before is not None:
        usable &= times >= params.ignore_before
    first = int(times[np.argmax(finite)]) if finite.any() else 0

    baseline, spread, z = (np.full(n, np.nan) for _ in range(3))
    breach = np.zeros(n, dtype=bool)
    anomaly = np.zeros(n, dtype=bool)
    reason: list[str] = []
    method: list[str] = []
    recent: deque[bool] = deque(maxlen=params.n)
    seen = 0
    for i in range(n):
        span_days = (int(times[i]) - first) / DAY_S
        sample, how = _candidates(y, usable, i, day, span_days, params.seasonality)
        method.append(how)
        if len(sample):
            center = float(np.median(sample))
            baseline[i] = center
            spread[i] = max(MAD_SCALE * float(np.median(np.abs(sample - center))), floor)
        if not finite[i]:
            reason.append("missing")
            recent.append(False)
            continue
        seen += 1
        if np.isnan(baseline[i]):
            reason.append("no_baseline")
            recent.append(False)
            continue
        z[i] = (y[i] - baseline[i]) / spread[i]
        base_v = float(np.exp(baseline[i])) if log_scale else float(baseline[i])
        value = float(values[i])
        above = z[i] >= params.z and value >= params.relative * base_v and value - base_v >= params.absolute
        below = z[i] <= -params.z and value * params.relative <= base_v and base_v - value >= params.absolute
        hit = {"above": above, "below": below, "both": above or below}[params.direction]
        warming = int(times[i]) - first < params.warm_up_s or seen < params.min_buckets
        if warming:
            reason.append("warm_up")
            recent.append(False)
            continue
        breach[i] = hit
        recent.append(bool(hit))
        if hit:
            usable[i] = False  # an unusual bucket never becomes part of "usual"
        anomaly[i] = hit and sum(recent) >= params.k
        reason.append("anomaly" if anomaly[i] else ("breach" if hit else "ok"))
    deviation = {"above": z, "below": -z, "both": np.abs(z)}[params.direction]
    positive = np.where(np.isfinite(deviation), np.maximum(deviation, 0.0), np.nan)
    score = positive / (positive + params.z)
    width = params.z * spread
    lower, upper = baseline - width, baseline + width
    if log_scale:
        baseline, lower, upper = np.exp(baseline), np.exp(lower), np.exp(upper)
    return Detection(baseline, lower, upper, z, score, breach, anomaly, reason, method, log_scale)
