"""Budget judgement: spend to date, the end-of-period forecast, burn rates and day-over-weekday anomalies.

Everything works on one scope's hourly spend (credits per UTC hour, ``nan`` where the agent has no data) and a
*frontier*: the end of the newest hour metering has landed for every running warehouse. Spend to date is every
landed hour of the period (:func:`sre_agent.figures.spend.spend_to_date`). The forecast adds, for every hour left
after the frontier, what the same hour of the week cost on median over the last four weeks plus the last 24 hours'
excess over that profile (a warehouse left running keeps burning; a quiet day pulls the projection down), never
below zero per hour and never below the spend to date; with less than eight days of history it is the last 24
hours' run rate carried forward. Burn rates are the SLO burn-rate math with the period's amount as the budget:
spend per hour over a window divided by the amount per hour of the period.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from sre_agent.config.budget import CostBudgetSpec, Threshold, period_end, period_label, period_start
from sre_agent.engine.spend import HOUR, HourlySpend, Money
from sre_agent.figures.spend import SpendToDate, forecast_total, spend_to_date
from sre_agent.model import Severity, from_epoch, iso

DAY = 86_400
WEEK = 7 * DAY
PROFILE_WEEKS = 4


@dataclass
class Verdict:
    """One signal of one budget at one instant."""

    state: str
    """``breach``, ``ok`` or ``unknown``."""
    severity: Severity | None = None
    value: float | None = None
    threshold: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


def _r(value: float) -> float:
    return round(float(value), 4)


def _level(levels: list[Threshold], percent: float) -> Threshold | None:
    """The highest threshold ``percent`` has reached."""
    reached = [t for t in levels if percent >= float(t.percent)]
    return max(reached, key=lambda t: t.percent) if reached else None


def forecast_rest(spend: HourlySpend, frontier: int, end: int) -> tuple[float, str, dict[str, Any]]:
    """Credits projected for ``[frontier, end)``, the method's name and its parameters (memoised on ``spend``)."""
    key = (frontier, end)
    if key not in spend.projections:
        spend.projections[key] = _project(spend, frontier, end)
    return spend.projections[key]


def _project(spend: HourlySpend, frontier: int, end: int) -> tuple[float, str, dict[str, Any]]:
    hours = max(0, (end - frontier) // HOUR)
    last24 = spend.total(frontier - DAY, frontier)
    if hours == 0:
        return 0.0, "none (period over)", {}
    # The profile: median of each hour of the week over the whole weeks before the last 24 hours (nan-aware), so
    # what happens now is compared with, not folded into, the usual week, and one odd week does not move it.
    anchor = frontier - DAY
    known = np.flatnonzero(~np.isnan(spend.values[: spend.index(anchor)]))
    first = spend.origin + int(known[0]) * HOUR if len(known) else anchor
    weeks = min(PROFILE_WEEKS, (anchor - first) // WEEK)
    lo = spend.index(anchor - weeks * WEEK)
    flat = spend.values[lo : lo + weeks * 168]
    if weeks < 1 or len(flat) < weeks * 168:
        rate = last24 / 24
        return rate * hours, "last 24 h run rate", {"rate_per_hour": _r(rate)}
    block = flat.reshape(weeks, 168)
    with warnings.catch_warnings():  # an hour of the week no week has data for: 0, said below
        warnings.simplefilter("ignore", RuntimeWarning)
        profile = np.nan_to_num(np.nanmedian(block, axis=0), nan=0.0)
    # Hour k of the profile is the hour of the week of anchor + k hours: k 0-23 are the last 24 hours, and
    # frontier + j hours is k = 24 + j (mod one week).
    excess = (last24 - float(profile[:24].sum())) / 24
    future = np.resize(np.roll(profile, -24), hours)
    projected = np.clip(future + excess, 0.0, None)
    params = {"weeks": int(weeks), "profile_rest": _r(float(future.sum())), "excess_per_hour": _r(excess)}
    return float(projected.sum()), "median of the same hour of the week (last 4 weeks) + last 24 h excess", params


def judge(
    spec: CostBudgetSpec, spend: HourlySpend, at: int, frontier: int, tz: ZoneInfo, money: Money
) -> dict[str, Verdict]:
    """Every enabled signal of the budget at instant ``at``. Spend to date counts every row in ``spend`` before
    ``at`` (rows land late, never early); the forecast, burn rates and anomalies look only at hours before
    ``frontier``, where every running warehouse's rows have landed."""
    landed = at // HOUR * HOUR
    frontier = min(frontier, landed)
    # The period of the last elapsed second: at a period's very end (a report on a finished month) that period.
    start_dt = period_start(spec.period, from_epoch(at - 1), tz)
    end_dt = period_end(spec.period, start_dt)
    start, end = int(start_dt.timestamp()), int(end_dt.timestamp())
    amount = float(spec.amount)
    base: dict[str, Any] = {
        "period": period_label(spec.period, start_dt),
        "period_start": iso(start_dt),
        "period_end": iso(end_dt),
        "amount": amount,
        "unit": money.unit,
        "data_until": iso(from_epoch(frontier)),
    }
    if spec.starts is not None and end_dt.date() <= spec.starts:
        return {}
    out: dict[str, Verdict] = {}
    covered = spend.origin <= start and frontier > start
    to_date = spend_to_date(spend, start, end, at, frontier, money, float(spec.amount))
    percent = to_date.percent
    base["spent_through"] = iso(from_epoch(to_date.through))
    actual_ev = {**base, "spent": _r(to_date.spent), "percent": _r(percent)}
    missing = to_date.unknown_hours
    if missing:  # the store starts after the period does (a new agent, a short backfill): a lower bound
        actual_ev["unknown_hours"] = missing
        base["unknown_hours"] = missing
    level = _level(spec.actual, percent)
    if not covered:
        out["actual"] = Verdict("unknown", evidence={**actual_ev, "reason": "the period's start is not in the store"})
    elif missing and level is None:  # below every threshold on a lower bound: not known to be fine
        reason = f"{missing} hour(s) of the period are not in the store (backfill shorter than the period)"
        out["actual"] = Verdict("unknown", evidence={**actual_ev, "reason": reason})
    else:
        threshold = float(level.percent) if level else float(min(t.percent for t in spec.actual))
        out["actual"] = Verdict(
            "breach" if level else "ok", level.severity if level else None, _r(percent), threshold, actual_ev
        )
    if spec.forecast is not None:
        out["forecast"] = _forecast(spec, spend, start, end, frontier, money, covered, base, to_date)
    if spec.burn_rate is not None:
        out["burn_rate"] = _burn(spec, spend, start, end, frontier, money, base)
    if spec.anomaly is not None:
        out["anomaly"] = _anomaly(spec, spend, frontier, tz, money, base)
    return out


def _forecast(
    spec: CostBudgetSpec,
    spend: HourlySpend,
    start: int,
    end: int,
    frontier: int,
    money: Money,
    covered: bool,
    base: dict[str, Any],
    to_date: SpendToDate,
) -> Verdict:
    assert spec.forecast is not None
    amount = float(spec.amount)
    if not covered or frontier - start < spec.forecast.min_history.total_seconds():
        reason = f"less than {spec.forecast.min_history} of the period has landed"
        return Verdict("unknown", evidence={**base, "reason": reason})
    rest, method, params = forecast_rest(spend, frontier, end)
    spent_front = money.of(spend.total(start, frontier)) if frontier > start else 0.0
    projected = forecast_total(to_date, spent_front, money.of(rest))
    percent = projected / amount * 100
    evidence = {
        **base,
        "spent": _r(to_date.spent),
        "percent": _r(to_date.percent),
        "forecast_from": iso(from_epoch(frontier)),
        "forecast": _r(projected),
        "forecast_percent": _r(percent),
        "forecast_method": method,
        "forecast_parameters": params,
        "hours_left": (end - frontier) // HOUR,
    }
    level = _level(spec.forecast.thresholds, percent)
    if level is None and base.get("unknown_hours"):
        reason = "hours of the period are missing from the store: the forecast would be too low to trust"
        return Verdict("unknown", evidence={**evidence, "reason": reason})
    threshold = float(level.percent) if level else float(min(t.percent for t in spec.forecast.thresholds))
    return Verdict("breach" if level else "ok", level.severity if level else None, _r(percent), threshold, evidence)


def _burn(
    spec: CostBudgetSpec, spend: HourlySpend, start: int, end: int, frontier: int, money: Money, base: dict[str, Any]
) -> Verdict:
    assert spec.burn_rate is not None
    period = timedelta(seconds=end - start)
    allowance = float(spec.amount) / (period.total_seconds() / HOUR)
    tiers = []
    worst: tuple[Severity, float, float] | None = None
    known_ok = False
    for tier in spec.burn_rate.tiers:
        factor = float(tier.factor(period))
        rates: dict[str, float | None] = {}
        for name, window in (("long", tier.long), ("short", tier.short)):
            w = int(window.total_seconds())
            if not spend.known(frontier - w, frontier):
                rates[name] = None
                continue
            rates[name] = money.of(spend.total(frontier - w, frontier)) / (w / HOUR) / allowance
        both = rates["long"] is not None and rates["short"] is not None
        breach = both and all((r or 0.0) > factor for r in rates.values())
        known_ok |= any(r is not None and r <= factor for r in rates.values())
        severity = spec.burn_rate.page_severity if tier.severity == "page" else spec.burn_rate.ticket_severity
        tiers.append(
            {
                "windows": tier.label,
                "factor": _r(factor),
                "burn_long": None if rates["long"] is None else _r(rates["long"]),
                "burn_short": None if rates["short"] is None else _r(rates["short"]),
                "severity": severity.value,
                "breach": breach,
            }
        )
        if breach and (worst is None or severity.more_severe_than(worst[0])):
            worst = (severity, float(rates["long"] or 0.0), factor)
    evidence = {**base, "allowance_per_hour": _r(allowance), "tiers": tiers}
    if worst is not None:
        return Verdict("breach", worst[0], _r(worst[1]), _r(worst[2]), evidence)
    if known_ok:
        longs = [float(t["burn_long"]) for t in tiers if t["burn_long"] is not None]  # type: ignore[arg-type]
        return Verdict("ok", None, longs[0] if longs else None, None, evidence)
    return Verdict("unknown", evidence={**evidence, "reason": "the windows are not covered by landed metering"})


def _anomaly(
    spec: CostBudgetSpec, spend: HourlySpend, frontier: int, tz: ZoneInfo, money: Money, base: dict[str, Any]
) -> Verdict:
    """The newest complete local day against the median of the same weekday of the previous weeks."""
    assert spec.anomaly is not None
    cfg = spec.anomaly
    day_end = period_start("day", from_epoch(frontier), tz)
    day_start = period_start("day", day_end - timedelta(hours=12), tz)
    lo, hi = int(day_start.timestamp()), int(day_end.timestamp())
    if not spend.known(lo, hi):
        return Verdict("unknown", evidence={**base, "reason": "the last complete day is not fully in the store"})
    value = money.of(spend.total(lo, hi))
    samples = []
    for week in range(1, cfg.weeks + 1):
        s = _shift_days(day_start, -7 * week)
        e = _shift_days(day_end, -7 * week)
        if spend.known(int(s.timestamp()), int(e.timestamp())):
            samples.append(money.of(spend.total(int(s.timestamp()), int(e.timestamp()))))
    evidence = {
        **base,
        "day": day_start.date().isoformat(),
        "weekday": day_start.strftime("%A"),
        "day_spend": _r(value),
        "same_weekday": [_r(s) for s in samples],
    }
    if len(samples) < 2:
        return Verdict("unknown", evidence={**evidence, "reason": "fewer than 2 earlier weeks of the same weekday"})
    usual = float(np.median(samples))
    min_amount = float(cfg.min_amount) or float(spec.amount) / 100
    ratio = value / usual if usual > 0 else float("inf")
    evidence.update(usual=_r(usual), ratio=_r(ratio) if np.isfinite(ratio) else None, min_amount=_r(min_amount))
    breach = ratio >= float(cfg.min_ratio) and value - usual >= min_amount
    return Verdict(
        "breach" if breach else "ok", cfg.severity if breach else None, _r(value), _r(usual * float(cfg.min_ratio)),
        evidence,
    )  # fmt: skip


def _shift_days(at: datetime, days: int) -> datetime:
    """``at`` moved by whole local days (midnight stays midnight across DST)."""
    local = at.date() + timedelta(days=days)
    return datetime(local.year, local.month, local.day, tzinfo=at.tzinfo)
