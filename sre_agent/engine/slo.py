"""SLO evaluation, pure and vectorised: event-weighted SLIs per window, burn rates, tier decisions, the
period's error budget, time to exhaustion and projected compliance — at many instants in one pass.

The input is a per-minute event series (:class:`SloEvents`). For ``Occurrences`` SLOs it holds the
good and total events of each minute; for ``Timeslices`` SLOs one event per *decided* slice, placed at
the slice's last minute (good 1 or 0). Any window's sums are then differences of two cumulative sums,
so the SLI of a window is always Σgood / Σtotal — event-weighted, never an average of ratios.

What is not known is never scored as good: minutes before the first poll, slices whose data is still
landing, windows with fewer events than ``min_events`` and instants when the source is stale are
``unknown``. Exclusions (maintenance) remove minutes from both good and total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from sre_agent.config.durations import format_duration
from sre_agent.config.slo import AlertTier, Exclusion, SloSpec, format_factor
from sre_agent.engine.frames import BoolArray
from sre_agent.engine.histogram import FloatArray
from sre_agent.model import from_epoch

I64 = npt.NDArray[np.int64]
MINUTE = 60
PROJECTION_HORIZON = timedelta(days=1)
"""Rolling periods have no end: their projection is the SLI one day ahead at the current burn."""
_MIN_OBSERVED = 3600  # extrapolate a period's events from at least an hour of them
_TIE = 1e-12  # relative slack so that an error ratio exactly at the threshold does not count as over it

PAGE, TICKET, OK, UNKNOWN = "page", "ticket", "ok", "unknown"
BREACH = "breach"


@dataclass(frozen=True)
class Coverage:
    """What polling has established for one SLO's data (epoch seconds)."""

    covered_from: int | None
    """First instant whose data was read (None: never polled)."""
    complete_before: int | None
    """Minutes ending at or before this are final (rows can no longer land in them)."""
    visible_to: int | None
    """Data is visible up to here (the newest minute the source has shown rows for, or the poll end)."""


@dataclass
class RawMinutes:
    """Stored per-minute rows of one SLO: bucket start, good, total, newest successful load (0: none)."""

    bucket: I64
    good: FloatArray
    total: FloatArray
    last_ok: I64

    @classmethod
    def empty(cls) -> RawMinutes:
        """No rows."""
        return cls(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.int64))


@dataclass
class SloEvents:
    """Per-minute events of one SLO over ``[start, start + 60 × n)``."""

    start: int
    good: FloatArray
    total: FloatArray
    excluded: BoolArray
    frontier: int
    """Windows end no later than this: newer minutes are not visible yet."""
    covered_from: int | None

    @property
    def end(self) -> int:
        """End of the series (exclusive)."""
        return self.start + MINUTE * len(self.good)


def exclusion_mask(exclusions: list[Exclusion], start: int, minutes: int) -> BoolArray:
    """Minutes of ``[start, start + 60 × minutes)`` that overlap an exclusion (a touched minute is excluded whole)."""
    mask = np.zeros(minutes, dtype=bool)
    if not exclusions or minutes == 0:
        return mask
    lo, hi = from_epoch(start), from_epoch(start + MINUTE * minutes)
    for exclusion in exclusions:
        for begin, end in exclusion.occurrences(lo, hi):
            a = max(0, (int(begin.timestamp()) - start) // MINUTE)
            b = min(minutes, -(-(int(end.timestamp()) - start) // MINUTE))
            if b > a:
                mask[a:b] = True
    return mask


def _dense(raw: RawMinutes, start: int, minutes: int) -> tuple[FloatArray, FloatArray, I64]:
    good = np.zeros(minutes)
    total = np.zeros(minutes)
    last_ok = np.zeros(minutes, dtype=np.int64)
    idx = (raw.bucket - start) // MINUTE
    keep = (idx >= 0) & (idx < minutes)
    good[idx[keep]] = raw.good[keep]
    total[idx[keep]] = raw.total[keep]
    last_ok[idx[keep]] = raw.last_ok[keep]
    return good, total, last_ok


def _ratio_target(spec: SloSpec) -> tuple[Fraction, int]:
    """A Timeslices ratio SLI's per-slice target (exact) and the fewest events a slice needs to count."""
    sli = spec.sli
    if sli.kind == "latency_percentile":
        return Fraction(sli.percentile) / 100, sli.min_queries
    assert spec.timeslice_target is not None
    return Fraction(spec.timeslice_target), 1


def build_events(spec: SloSpec, raw: RawMinutes, start: int, end: int, coverage: Coverage) -> SloEvents:
    """Turn stored per-minute rows of ``[start, end)`` (minute-aligned) into the SLO's event series."""
    minutes = max(0, (end - start) // MINUTE)
    good, total, last_ok = _dense(raw, start, minutes)
    excluded = exclusion_mask(spec.exclusions, start, minutes)
    complete = coverage.complete_before if coverage.complete_before is not None else start
    visible = coverage.visible_to if coverage.visible_to is not None else start
    frontier = max(complete, min(visible, end))
    if spec.sli.kind == "freshness":
        # A load missing from a minute the view has not finished showing would read as staleness:
        # freshness waits until rows can no longer land (ACCOUNT_USAGE: 45 minutes).
        return _freshness(spec, start, last_ok, excluded, coverage, complete)
    good[excluded] = 0.0
    total[excluded] = 0.0
    if spec.budgeting_method == "Occurrences":
        return SloEvents(start, good, total, excluded, frontier, coverage.covered_from)
    return _timeslices(spec, start, good, total, excluded, coverage, frontier)


def _timeslices(
    spec: SloSpec,
    start: int,
    good: FloatArray,
    total: FloatArray,
    excluded: BoolArray,
    coverage: Coverage,
    frontier: int,
) -> SloEvents:
    """One event per slice whose data is in and that has enough events, at the slice's last minute."""
    minutes = len(good)
    size = int(spec.slice_length.total_seconds())
    target, least = _ratio_target(spec)
    epoch = start + MINUTE * np.arange(minutes, dtype=np.int64)
    slice_of = epoch // size
    first = int(slice_of[0]) if minutes else 0
    sid = slice_of - first
    n = int(sid[-1]) + 1 if minutes else 0
    g = np.bincount(sid, weights=good, minlength=n)
    t = np.bincount(sid, weights=total, minlength=n)
    touched = np.bincount(sid, weights=excluded.astype(np.float64), minlength=n) > 0
    slice_start = (np.arange(n, dtype=np.int64) + first) * size
    slice_end = slice_start + size
    whole = (slice_start >= start) & (slice_end <= start + MINUTE * minutes)
    if coverage.covered_from is not None:
        whole &= slice_start >= coverage.covered_from
    counted = whole & ~touched & (slice_end <= frontier) & (t >= least)
    # Exact: good / total >= p / q  <=>  good × q >= p × total (counts are integers).
    good_slice = g * target.denominator >= t * target.numerator
    out_good = np.zeros(minutes)
    out_total = np.zeros(minutes)
    at = ((slice_end[counted] - MINUTE) - start) // MINUTE
    out_total[at] = 1.0
    out_good[at] = good_slice[counted].astype(np.float64)
    return SloEvents(start, out_good, out_total, excluded, frontier, coverage.covered_from)


def _freshness(
    spec: SloSpec, start: int, last_ok: I64, excluded: BoolArray, coverage: Coverage, frontier: int
) -> SloEvents:
    """One event per minute: good while the newest successful load is at most ``max_age`` old at its end."""
    assert spec.sli.kind == "freshness"
    max_age = int(spec.sli.max_age.total_seconds())
    minutes = len(last_ok)
    minute_end = start + MINUTE * (np.arange(minutes, dtype=np.int64) + 1)
    newest = np.maximum.accumulate(last_ok) if minutes else last_ok
    fresh = (newest > 0) & (minute_end - newest <= max_age)
    known_from = max(start, coverage.covered_from) if coverage.covered_from is not None else start
    # A load older than what was read could still make such a minute fresh: it is undecided, not bad.
    # Before the first load ever seen, nothing is known (a new pipeline, or a filter matching nothing).
    doubtful = ~fresh & ((minute_end - max_age < known_from) | (newest == 0))
    decided = (minute_end <= frontier) & (fresh | ~doubtful) & ~excluded
    good = (fresh & decided).astype(np.float64)
    total = decided.astype(np.float64)
    return SloEvents(start, good, total, excluded, frontier, coverage.covered_from)


@dataclass
class WindowResult:
    """One window's figures at every instant."""

    window: timedelta
    good: FloatArray
    total: FloatArray
    sli: FloatArray
    """Σgood / Σtotal (NaN without events)."""
    burn: FloatArray
    """Error ratio / error budget (NaN without events)."""
    known: BoolArray
    """Enough events (``min_events``), fully covered by polls, source fresh."""


@dataclass
class TierResult:
    """One alerting tier's decision at every instant: ``breach``, ``ok`` or ``unknown``."""

    tier: AlertTier
    factor: float
    factor_exact: str
    state: npt.NDArray[np.str_]


@dataclass
class SloResult:
    """Everything known about an SLO at each evaluated instant."""

    instants: I64
    anchors: I64
    """Where each instant's windows end (held back to the visible data)."""
    windows: dict[str, WindowResult]
    """By window label (``5m``, ``1h``, …)."""
    tiers: list[TierResult]
    state: npt.NDArray[np.str_]
    """``page``, ``ticket``, ``ok`` or ``unknown``."""
    period_start: I64
    period_end: I64
    period_good: FloatArray
    period_total: FloatArray
    period_expected: FloatArray
    """Events the whole period is expected to hold (the budget's base): the total so far, extrapolated."""
    period_sli: FloatArray
    budget_remaining: FloatArray
    """Share of the period's error budget left (1.0 = untouched; negative = overspent; NaN = unknown)."""
    period_coverage: FloatArray
    """Share of the period (so far) that polls have covered."""
    burn_now: FloatArray
    """Burn over the fastest tier's long window."""
    exhaustion_s: FloatArray
    """Seconds until the budget is gone at ``burn_now`` (inf: not burning; 0: already gone)."""
    projected_sli: FloatArray
    projection_at: I64


def _cumsum(values: FloatArray) -> FloatArray:
    out: FloatArray = np.concatenate([[0.0], np.cumsum(values)])
    return out


def _index(events: SloEvents, instants: I64) -> I64:
    idx: I64 = np.clip((instants - events.start) // MINUTE, 0, len(events.good)).astype(np.int64)
    return idx


def _window(
    events: SloEvents,
    cg: FloatArray,
    ct: FloatArray,
    anchors: I64,
    window: timedelta,
    budget: float,
    min_events: int,
    fresh: BoolArray,
) -> WindowResult:
    w = int(window.total_seconds())
    hi, lo = _index(events, anchors), _index(events, anchors - w)
    good = cg[hi] - cg[lo]
    total = ct[hi] - ct[lo]
    with np.errstate(divide="ignore", invalid="ignore"):
        sli = np.where(total > 0, good / total, np.nan)
    burn = (1.0 - sli) / budget
    covered = anchors - w >= (events.covered_from if events.covered_from is not None else np.iinfo(np.int64).max)
    covered &= anchors - w >= events.start
    known = (total >= max(1, min_events)) & covered & fresh
    return WindowResult(window, good, total, sli, burn, known)


def _tier_state(long: WindowResult, short: WindowResult, ratio: float) -> npt.NDArray[np.str_]:
    """``breach`` when both windows burn over the factor, ``ok`` when either is known not to, else unknown."""

    def over(w: WindowResult) -> BoolArray:
        bad = w.total - w.good
        result: BoolArray = bad > ratio * w.total * (1 + _TIE)
        return result

    long_over, short_over = over(long), over(short)
    breach = long.known & short.known & long_over & short_over
    fine = (long.known & ~long_over) | (short.known & ~short_over)
    state = np.full(len(breach), UNKNOWN, dtype=object)
    state[fine] = OK
    state[breach] = BREACH
    out: npt.NDArray[np.str_] = state.astype(str)
    return out


def _period_bounds(spec: SloSpec, instants: I64, anchors: I64) -> tuple[I64, I64]:
    period = spec.period
    if period.rolling is not None:
        length = int(period.rolling.total_seconds())
        return anchors - length, anchors
    starts = np.empty(len(instants), dtype=np.int64)
    ends = np.empty(len(instants), dtype=np.int64)
    cache: dict[int, tuple[int, int]] = {}
    for k, t in enumerate(instants.tolist()):
        day = t // 86_400
        if day not in cache or not cache[day][0] <= t < cache[day][1]:
            at = from_epoch(t)
            cache[day] = (int(period.start(at).timestamp()), int(period.end(at).timestamp()))
        starts[k], ends[k] = cache[day]
    return starts, ends


def evaluate_slo(spec: SloSpec, events: SloEvents, instants: I64, stale: BoolArray | None = None) -> SloResult:
    """Evaluate ``spec`` at ``instants`` (epoch s, ascending) over ``events``.

    ``stale`` marks instants whose source has not delivered (every window is then unknown).
    """
    n = len(instants)
    fresh = ~stale if stale is not None else np.ones(n, dtype=bool)
    anchors: I64 = (np.minimum(instants, events.frontier) // MINUTE) * MINUTE
    budget = float(spec.error_budget)
    cg, ct = _cumsum(events.good), _cumsum(events.total)
    tiers = spec.alerting.effective_tiers()
    period = spec.period.length
    windows: dict[str, WindowResult] = {}
    results = []
    for tier in tiers:
        guard = tier.min_events if tier.min_events is not None else spec.alerting.min_events
        for w in (tier.long, tier.short):
            label = format_duration(w)
            if label not in windows:
                windows[label] = _window(events, cg, ct, anchors, w, budget, guard, fresh)
        factor = tier.factor(period)
        ratio = float(factor * spec.error_budget)
        long, short = windows[format_duration(tier.long)], windows[format_duration(tier.short)]
        results.append(TierResult(tier, float(factor), format_factor(factor), _tier_state(long, short, ratio)))
    state = np.full(n, UNKNOWN, dtype=object)
    any_unknown = np.zeros(n, dtype=bool)
    for r in results:
        any_unknown |= r.state == UNKNOWN
    state[~any_unknown] = OK
    for severity in (TICKET, PAGE):
        for r in results:
            if r.tier.severity == severity:
                state[r.state == BREACH] = severity
    state[~fresh] = UNKNOWN

    p_start, p_end = _period_bounds(spec, instants, anchors)
    # Data can lag a calendar boundary (the view's latency): the new period then has no visible events yet.
    hi, lo = _index(events, np.maximum(anchors, p_start)), _index(events, p_start)
    period_good = cg[hi] - cg[lo]
    period_total = ct[hi] - ct[lo]
    covered_from = events.covered_from if events.covered_from is not None else np.iinfo(np.int64).max
    observed = np.maximum(anchors - np.maximum(p_start, max(covered_from, events.start)), 0)
    period_coverage = np.clip(observed / np.maximum(anchors - p_start, 1), 0.0, 1.0)
    # The budget is a share of the events the whole period holds. Until the period is over (calendar)
    # or fully covered by polls (rolling), that total is extrapolated at the rate seen so far.
    expected = period_total * (p_end - p_start) / np.maximum(observed, _MIN_OBSERVED)
    expected = np.where(observed >= p_end - p_start, period_total, np.maximum(expected, period_total))
    with np.errstate(divide="ignore", invalid="ignore"):
        period_sli = np.where(period_total > 0, period_good / period_total, np.nan)
        consumed = (period_total - period_good) / (budget * expected)
    # No events yet: untouched if polls cover the period's start (a calendar period starts at 100 %).
    untouched = (observed > 0) | (p_start >= covered_from)
    budget_remaining = np.where(period_total > 0, 1.0 - consumed, np.where(untouched, 1.0, np.nan))

    fastest = min(tiers, key=lambda t: t.long)
    now = windows[format_duration(fastest.long)]
    burn_now = np.where(now.known, now.burn, np.nan)
    length = period.total_seconds()
    with np.errstate(divide="ignore", invalid="ignore"):
        at_rate = np.where(
            np.isnan(burn_now), np.nan, np.where(burn_now > 0, budget_remaining * length / burn_now, np.inf)
        )
    exhaustion = np.where(np.isnan(budget_remaining), np.nan, np.where(budget_remaining <= 0, 0.0, at_rate))
    projected, projection_at = _project(spec, events, cg, ct, anchors, p_start, p_end, now)
    return SloResult(
        instants=instants,
        anchors=anchors,
        windows=windows,
        tiers=results,
        state=state.astype(str),
        period_start=p_start,
        period_end=p_end,
        period_good=period_good,
        period_total=period_total,
        period_expected=expected,
        period_sli=period_sli,
        budget_remaining=budget_remaining,
        period_coverage=period_coverage,
        burn_now=burn_now,
        exhaustion_s=exhaustion,
        projected_sli=projected,
        projection_at=projection_at,
    )


def _project(
    spec: SloSpec,
    events: SloEvents,
    cg: FloatArray,
    ct: FloatArray,
    anchors: I64,
    p_start: I64,
    p_end: I64,
    now: WindowResult,
) -> tuple[FloatArray, I64]:
    """SLI at the period's end (calendar) or a day ahead (rolling) if the current error ratio persists.

    Future events arrive at the period's average rate so far; events that will have left a rolling
    period by then are dropped.
    """
    rolling = spec.period.rolling is not None
    horizon = np.where(
        rolling, int(min(PROJECTION_HORIZON, spec.period.length).total_seconds()), np.maximum(p_end - anchors, 0)
    ).astype(np.int64)
    keep_from = np.where(rolling, p_start + horizon, p_start)
    lo, lo_all = _index(events, keep_from), _index(events, p_start)
    hi = _index(events, np.maximum(anchors, np.maximum(keep_from, p_start)))
    good = cg[hi] - cg[lo]
    total = ct[hi] - ct[lo]
    elapsed = np.maximum(anchors - np.maximum(p_start, events.start), MINUTE)
    rate = (ct[hi] - ct[lo_all]) / elapsed
    error_now = 1.0 - now.sli
    future = rate * horizon
    with np.errstate(divide="ignore", invalid="ignore"):
        projected = (good + future * (1.0 - error_now)) / (total + future)
    projected = np.where(np.isnan(error_now) | (total + future <= 0), np.nan, projected)
    at: I64 = anchors + horizon
    return projected, at


def at_instant(spec: SloSpec, result: SloResult, k: int) -> dict[str, object]:
    """JSON-ready figures of instant ``k``: what status, metrics, evidence and backtests show."""

    def num(value: float) -> float | None:
        return None if np.isnan(value) or np.isinf(value) else round(float(value), 9)

    windows = {
        label: {
            "sli": num(w.sli[k]),
            "burn_rate": num(w.burn[k]),
            "good": float(w.good[k]),
            "total": float(w.total[k]),
            "known": bool(w.known[k]),
        }
        for label, w in result.windows.items()
    }
    tiers = [
        {
            "severity": r.tier.severity,
            "windows": r.tier.label,
            "factor": r.factor_exact,
            "state": str(r.state[k]),
            "long_burn": windows[format_duration(r.tier.long)]["burn_rate"],
            "short_burn": windows[format_duration(r.tier.short)]["burn_rate"],
        }
        for r in result.tiers
    ]
    exhaustion = float(result.exhaustion_s[k])
    return {
        "state": str(result.state[k]),
        "instant": int(result.instants[k]),
        "window_end": int(result.anchors[k]),
        "objective": float(spec.objective),
        "period": {
            "start": int(result.period_start[k]),
            "end": int(result.period_end[k]),
            "sli": num(result.period_sli[k]),
            "good": float(result.period_good[k]),
            "total": float(result.period_total[k]),
            "expected_total": round(float(result.period_expected[k]), 1),
            "coverage": num(result.period_coverage[k]),
        },
        "budget_remaining": num(result.budget_remaining[k]),
        "burn_now": num(result.burn_now[k]),
        "exhaustion_s": None if np.isnan(exhaustion) else (None if np.isinf(exhaustion) else round(exhaustion)),
        "projected_sli": num(result.projected_sli[k]),
        "projection_at": int(result.projection_at[k]),
        "windows": windows,
        "tiers": tiers,
    }


def firing_tier(result: SloResult, k: int, severity: str) -> TierResult | None:
    """The first tier of ``severity`` in breach at instant ``k``."""
    for r in result.tiers:
        if r.tier.severity == severity and r.state[k] == BREACH:
            return r
    return None


def cumulative(events: SloEvents) -> tuple[FloatArray, FloatArray]:
    """Cumulative good and total events (index ``i`` holds the sums of the first ``i`` minutes)."""
    return _cumsum(events.good), _cumsum(events.total)


def window_sums(events: SloEvents, lo: int, hi: int) -> tuple[float, float]:
    """Good and total events whose minute starts in ``[lo, hi)`` (clipped to the series)."""
    a, b = _index(events, np.array([lo, max(lo, hi)], dtype=np.int64)).tolist()
    return float(events.good[a:b].sum()), float(events.total[a:b].sum())
