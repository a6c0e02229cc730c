"""An SLO's error budget as users see it: one definition for every view.

The *error budget* of an SLO's period is ``(1 − objective) × the events the period holds`` bad events. Until a
calendar period is over (or a rolling one fully polled) the period's events are extrapolated from the rate so far
(:func:`sre_agent.engine.slo.evaluate_slo`), so one bad hour early in the month costs what it will cost at its end.

Two figures are shares of that budget, and each says which:

- **period** — consumed and remaining of the SLO's own period (rolling 28 d, a calendar month …) at an instant:
  what ``slo status``, the metrics, the console and the SLO report show as "budget left".
- **alert** (or any **window**) — the bad events whose *data time* falls in a window, as a share of the period's
  budget at the window's end. For an alert the window runs from where its burn began (:func:`burn_start`, found in
  the data when it fired) to where its windows ended when it resolved. Data time, not wall-clock time: a lagged SLI
  (freshness, judged 45 minutes back) fires well after its bad minutes happened, and those minutes are its incident.

An alert's figure is computed once, when it resolves, and stored in the resolve's evidence (``budget_used``); every
later view (post-mortem, SLO report, ``alerts show``) reads that record. While an alert still fires, views compute it
with the same function up to the newest data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from sre_agent.config.durations import format_duration
from sre_agent.config.slo import AlertTier, SloSpec
from sre_agent.engine import slo as engine
from sre_agent.figures.text import pct, utc_minute
from sre_agent.model import from_epoch, iso, to_epoch

PERIOD, ALERT, WINDOW = "period", "alert", "window"


def period_name(spec: SloSpec) -> str:
    """The SLO's own compliance period in words: ``rolling 28d`` or ``calendar month (America/New_York)``."""
    period = spec.period
    if period.rolling is not None:
        return f"rolling {format_duration(period.rolling)}"
    return f"calendar {period.calendar} ({period.time_zone})"


@dataclass(frozen=True)
class BudgetUse:
    """A share of one SLO's error budget and everything it is measured against (epoch seconds)."""

    scope: str
    """``period`` (the SLO's own period to date), ``alert`` (an alert's burn) or ``window`` (a stated window)."""
    consumed: float | None
    """Share of the period's error budget the bad events used (1.0 = all of it; None: no events to judge)."""
    remaining: float | None
    """Share of the period's budget left at ``as_of`` (negative: overspent; None: unknown)."""
    bad: float
    """Bad events (or time slices) in the window."""
    events: float
    """Events (or time slices) in the window."""
    allowed_bad: float
    """The period's error budget in bad events: (1 − objective) × ``base_events``."""
    base_events: float
    """The events the period is expected to hold (what the budget is a share of)."""
    extrapolated: bool
    """``base_events`` is extrapolated from the part of the period seen so far."""
    period: str
    """The SLO's period in words (:func:`period_name`)."""
    period_start: int
    period_end: int
    data_from: int
    """Start of the window of data time the bad events were counted in."""
    data_to: int
    as_of: int
    """The instant the figure was computed for (the period's budget is the one at that instant)."""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready record (what evidence stores and reports print): instants as ISO 8601 UTC."""
        out: dict[str, Any] = {}
        for key in self.__dataclass_fields__:  # every field is a scalar: no deep copy (asdict) needed
            value = getattr(self, key)
            if key in _INSTANTS:
                out[key] = iso(from_epoch(value))
            elif isinstance(value, float):
                out[key] = round(value, 9) if math.isfinite(value) else None
            else:
                out[key] = value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BudgetUse:
        """The record :meth:`to_json` wrote."""
        values = {k: data[k] for k in cls.__dataclass_fields__}
        for key in _INSTANTS:
            values[key] = to_epoch(datetime.fromisoformat(str(values[key]).replace("Z", "+00:00")))
        return cls(**values)

    def of_what(self) -> str:
        """What the share is a share of, in words: ``the rolling 28d error budget``."""
        return f"the {self.period} error budget"

    def window_text(self) -> str:
        """The data-time window the bad events were counted in."""
        return f"{utc_minute(self.data_from)} – {utc_minute(self.data_to)}"

    def used_text(self, digits: int = 2) -> str:
        """``88.86 % of the rolling 28d error budget`` (``unknown`` without events)."""
        return f"{pct(self.consumed, digits)} of {self.of_what()}"

    def left_text(self, digits: int = 2) -> str:
        """``5.57 % of the rolling 28d error budget left``."""
        return f"{pct(self.remaining, digits)} of {self.of_what()} left"


_INSTANTS = ("period_start", "period_end", "data_from", "data_to", "as_of")


def _num(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else float(value)


def period_use(spec: SloSpec, result: engine.SloResult, k: int) -> BudgetUse:
    """The SLO's own period to date at instant ``k`` of ``result``: bad events so far against its budget."""
    good, total = float(result.period_good[k]), float(result.period_total[k])
    base = float(result.period_expected[k])
    remaining = _num(float(result.budget_remaining[k]))
    return BudgetUse(
        scope=PERIOD,
        consumed=None if remaining is None else 1.0 - remaining,
        remaining=remaining,
        bad=total - good,
        events=total,
        allowed_bad=float(spec.error_budget) * base,
        base_events=base,
        extrapolated=base > total + 1e-9,
        period=period_name(spec),
        period_start=int(result.period_start[k]),
        period_end=int(result.period_end[k]),
        data_from=int(result.period_start[k]),
        data_to=int(result.anchors[k]),
        as_of=int(result.instants[k]),
    )


def window_use(
    spec: SloSpec, events: engine.SloEvents, result: engine.SloResult, k: int, data_from: int, data_to: int,
    scope: str = WINDOW,
) -> BudgetUse:  # fmt: skip
    """Bad events whose data time falls in ``[data_from, data_to)`` as a share of the period's budget at instant
    ``k`` of ``result`` (its expected events), with the period's remaining budget at that instant."""
    data_to = max(data_from, min(data_to, int(result.anchors[k])))
    good, total = engine.window_sums(events, data_from, data_to)
    base = float(result.period_expected[k])
    allowed = float(spec.error_budget) * base
    bad = total - good
    return BudgetUse(
        scope=scope,
        consumed=bad / allowed if allowed > 0 else None,
        remaining=_num(float(result.budget_remaining[k])),
        bad=bad,
        events=total,
        allowed_bad=allowed,
        base_events=base,
        extrapolated=base > float(result.period_total[k]) + 1e-9,
        period=period_name(spec),
        period_start=int(result.period_start[k]),
        period_end=int(result.period_end[k]),
        data_from=data_from,
        data_to=data_to,
        as_of=int(result.instants[k]),
    )


def burn_start(spec: SloSpec, events: engine.SloEvents, anchor: int, tier: AlertTier) -> int:
    """Where the burn that made ``tier`` fire at ``anchor`` (its windows' end, data time) began.

    Walking back from ``anchor``, the burn began in the earliest of an unbroken run of the tier's short windows that
    each burned faster than the budget allows (more bad events than ``1 − objective`` of their events), at its first
    minute that burned so itself; at most the tier's long window back. A quiet window (no events) or one within
    budget ends the walk. Without such a run at ``anchor`` (a burn already fading) it is the start of the long
    window.
    """
    short = int(tier.short.total_seconds()) // engine.MINUTE
    lo = anchor - int(tier.long.total_seconds())
    good, total = engine.cumulative(events)
    j_hi = int(np.clip((anchor - events.start) // engine.MINUTE, 0, len(events.good)))
    j_lo = int(np.clip((lo - events.start) // engine.MINUTE, 0, len(events.good))) + short
    if j_hi < j_lo:
        return max(lo, events.start)
    ends = np.arange(j_lo, j_hi + 1)
    n = total[ends] - total[ends - short]
    bad = n - (good[ends] - good[ends - short])
    burning = (n > 0) & (bad > float(spec.error_budget) * n * (1 + 1e-12))
    if not burning[-1]:
        return max(lo, events.start)
    cold = np.flatnonzero(~burning)
    first = int(ends[cold[-1] + 1]) if len(cold) else int(ends[0])
    # The earliest burning window starts up to a short window before the bad data: the burn began at its first
    # minute that itself burned faster than the budget allows (else at the window's start).
    minute_total = events.total[first - short : first]
    minute_bad = minute_total - events.good[first - short : first]
    hot = np.flatnonzero((minute_total > 0) & (minute_bad > float(spec.error_budget) * minute_total * (1 + 1e-12)))
    began = first - short + (int(hot[0]) if len(hot) else 0)
    return max(lo, events.start + began * engine.MINUTE)


def tier_of(spec: SloSpec, label: str | None) -> AlertTier:
    """The alerting tier whose windows read ``label`` (``1h/5m``); the fastest tier when unknown."""
    tiers = spec.alerting.effective_tiers()
    return next((t for t in tiers if t.label == label), min(tiers, key=lambda t: t.long))


def use_text(use: BudgetUse | None, *, left: bool = True) -> str:
    """One sentence for a console line or a report cell: used, of what, over which data window, and (unless the
    caller states the period's budget left itself) left."""
    if use is None:
        return "budget used unknown"
    used = f"{use.used_text()} (bad events {use.window_text()})"
    return f"{used}; {pct(use.remaining)} left" if left else used
