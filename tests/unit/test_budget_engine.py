"""The budget judgement on hand-built hourly spend: spend to date, forecast, burn rate, spend anomalies."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from sre_agent.config.budget import CostBudgetSpec, period_end, period_label, period_start
from sre_agent.engine.budget import DAY, forecast_rest, judge
from sre_agent.engine.spend import HOUR, HourlySpend, Money

UTC_ZONE = ZoneInfo("UTC")
NY = ZoneInfo("America/New_York")
CREDITS = Money("credits", 1.0)
ORIGIN = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp())


def _spec(**fields: Any) -> CostBudgetSpec:
    return CostBudgetSpec.model_validate({"amount": 720, **fields})


def _flat(rate: float, days: int) -> HourlySpend:
    return HourlySpend(ORIGIN, np.full(days * 24, rate))


def _at(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())  # type: ignore[misc]


def test_a_finished_period_is_judged_at_its_end_not_the_next() -> None:
    spend = _flat(1.0, 70)
    end = _at(2026, 11, 1)
    verdict = judge(_spec(), spend, end, end, UTC_ZONE, CREDITS)["actual"]
    assert verdict.evidence["period"] == "2026-10"
    assert verdict.evidence["spent"] == 31 * 24, "every hour of October, the last one included"


def test_calendar_periods_follow_the_time_zone_and_dst() -> None:
    at = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)  # still 31 October in New York
    start = period_start("month", at, NY)
    assert start == datetime(2026, 10, 1, tzinfo=NY)
    assert period_end("month", start) == datetime(2026, 11, 1, tzinfo=NY)
    assert period_label("month", start) == "2026-10"
    week = period_start("week", datetime(2026, 11, 5, 12, tzinfo=UTC), NY)
    assert (week.date().isoformat(), period_label("week", week)) == ("2026-11-02", "2026-W45")
    day = period_start("day", datetime(2026, 11, 1, 12, tzinfo=UTC), NY)
    hours = (period_end("day", day).timestamp() - day.timestamp()) / HOUR
    assert hours == 25, "the day clocks fall back has 25 hours"


def test_spend_to_date_reaches_the_highest_threshold_crossed() -> None:
    spend = _flat(1.0, 70)  # 1 credit an hour; November has 720 hours: the amount is one month at that rate
    at = _at(2026, 11, 23, 0)  # 22 days into the month: 528 credits = 73.3 %
    verdict = judge(_spec(), spend, at, at, UTC_ZONE, CREDITS)["actual"]
    assert (verdict.state, verdict.severity, verdict.threshold) == ("breach", "sev4", 50.0)
    assert verdict.evidence["spent"] == 528.0
    assert verdict.evidence["period"] == "2026-11"
    later = judge(_spec(), spend, _at(2026, 11, 28, 12), _at(2026, 11, 28, 12), UTC_ZONE, CREDITS)["actual"]
    assert (later.severity, later.threshold) == ("sev3", 90.0)


def test_the_frontier_bounds_spend_and_the_rest_is_forecast() -> None:
    spend = _flat(1.0, 70)
    at = _at(2026, 11, 10, 12)
    frontier = at - 3 * HOUR  # metering has landed up to three hours ago
    verdicts = judge(_spec(), spend, at, frontier, UTC_ZONE, CREDITS)
    assert verdicts["actual"].evidence["spent"] == 9 * 24 + 12, "spend to date counts every landed row"
    forecast = verdicts["forecast"]
    assert forecast.evidence["spent"] == 9 * 24 + 12, "one spend to date: the forecast says the actual's figure"
    assert forecast.evidence["forecast_from"] == "2026-11-10T09:00:00Z", "the projection starts at the frontier"
    assert forecast.evidence["spent_through"] == "2026-11-10T12:00:00Z"
    assert forecast.state == "ok"
    assert forecast.evidence["forecast"] == pytest.approx(720.0), "a steady rate projects the amount exactly"
    assert forecast.evidence["forecast_method"].startswith("median of the same hour of the week")
    assert forecast.evidence["hours_left"] == 720 - (9 * 24 + 9)


def test_a_forecast_is_never_below_the_spend_to_date() -> None:
    """Rows landed after the frontier are spent: a projection of quiet hours cannot bring the forecast under them."""
    values = np.zeros(70 * 24)
    at = _at(2026, 11, 10, 12)
    values[(at - ORIGIN) // HOUR - 2] = 500.0  # an expensive hour landed after the frontier
    frontier = at - 3 * HOUR
    verdicts = judge(_spec(), HourlySpend(ORIGIN, values), at, frontier, UTC_ZONE, CREDITS)
    assert verdicts["actual"].evidence["spent"] == 500
    assert verdicts["forecast"].evidence["forecast"] == 500, "the quiet profile projects nothing more"


def test_a_warehouse_left_running_is_forecast_over_budget_within_hours() -> None:
    values = np.full(60 * 24, 0.5)
    spend = HourlySpend(ORIGIN, values)
    frontier = _at(2026, 11, 5, 20)
    i = spend.index(frontier)
    values[i - 3 : i] = 64.0  # three hours at 64 credits
    verdict = judge(_spec(amount=400), spend, frontier, frontier, UTC_ZONE, CREDITS)["forecast"]
    assert verdict.state == "breach"
    assert verdict.severity == "sev3"
    excess = verdict.evidence["forecast_parameters"]["excess_per_hour"]
    assert excess == pytest.approx(3 * 63.5 / 24, rel=1e-3), "the last 24 h excess over the usual hours"
    assert verdict.evidence["forecast_percent"] > 110


def test_weekly_seasonality_keeps_a_busy_weekday_from_looking_like_a_runaway() -> None:
    hours = np.arange(70 * 24)
    weekday = ((ORIGIN // DAY + hours // 24 + 3) % 7) < 5  # 1970-01-01 was a Thursday
    values = np.where(weekday, 2.0, 0.1)
    spend = HourlySpend(ORIGIN, values.astype(np.float64))
    frontier = _at(2026, 11, 12, 0)  # after a Wednesday
    rest, method, _ = forecast_rest(spend, frontier, _at(2026, 12, 1, 0))
    expected = float(values[spend.index(frontier) : spend.index(_at(2026, 12, 1, 0))].sum())
    assert rest == pytest.approx(expected), method
    linear = 2.0 * 24 * 19
    assert rest < 0.8 * linear, "a 24 h run rate would have projected weekday spend onto the weekends"


def test_little_history_falls_back_to_the_run_rate() -> None:
    spend = HourlySpend(ORIGIN, np.full(5 * 24, 2.0))
    rest, method, params = forecast_rest(spend, ORIGIN + 5 * DAY, ORIGIN + 6 * DAY)
    assert (rest, method, params) == (48.0, "last 24 h run rate", {"rate_per_hour": 2.0})


def test_burn_rate_pages_only_when_both_windows_burn() -> None:
    values = np.full(40 * 24, 1.0)
    spend = HourlySpend(ORIGIN, values)
    at = _at(2026, 11, 3, 0)
    i = spend.index(at)
    values[i - 1] = 100.0  # one hour at 100x the allowance: short window burns, 6 h window at 17.5x
    verdict = judge(_spec(), spend, at, at, UTC_ZONE, CREDITS)["burn_rate"]
    assert (verdict.state, verdict.severity) == ("breach", "sev2")
    page = verdict.evidence["tiers"][0]
    assert (page["windows"], page["factor"], page["burn_long"], page["burn_short"]) == ("6h/1h", 6.0, 17.5, 100.0)
    values[i - 1] = 1.0
    values[i - 7] = 100.0  # the spike left the short window
    calm = judge(_spec(), spend, at, at, UTC_ZONE, CREDITS)["burn_rate"]
    assert calm.state == "ok"


def test_unknown_hours_make_burn_rate_unknown_not_ok() -> None:
    values = np.full(40 * 24, np.nan)
    verdict = judge(_spec(), HourlySpend(ORIGIN, values), _at(2026, 11, 3), _at(2026, 11, 3), UTC_ZONE, CREDITS)
    assert verdict["burn_rate"].state == "unknown"
    assert verdict["actual"].state == "unknown", "below every threshold on a lower bound is not known to be fine"
    assert "not in the store" in verdict["actual"].evidence["reason"]


def test_missing_hours_still_breach_when_what_is_known_already_does() -> None:
    values = np.full(70 * 24, 2.0)
    spend = HourlySpend(ORIGIN, values)
    at = _at(2026, 11, 20)
    values[spend.index(_at(2026, 11, 1)) : spend.index(_at(2026, 11, 3))] = np.nan
    verdict = judge(_spec(), spend, at, at, UTC_ZONE, CREDITS)["actual"]
    assert verdict.state == "breach", "17 known days at 2 credits/h are 94 % already"
    assert verdict.evidence["unknown_hours"] == 48


def test_a_day_far_above_its_usual_weekday_is_an_anomaly() -> None:
    values = np.full(50 * 24, 1.0)
    spend = HourlySpend(ORIGIN, values)
    thursday = _at(2026, 11, 5)
    values[spend.index(thursday) : spend.index(thursday) + 24] = 3.0
    spec = _spec(anomaly={"min_ratio": 2})
    verdict = judge(spec, spend, thursday + DAY + HOUR, thursday + DAY, UTC_ZONE, CREDITS)["anomaly"]
    assert (verdict.state, verdict.severity) == ("breach", "sev4")
    assert verdict.evidence["weekday"] == "Thursday"
    assert verdict.evidence["same_weekday"] == [24.0, 24.0, 24.0, 24.0]
    assert verdict.evidence["ratio"] == 3.0
    friday = judge(spec, spend, thursday + 2 * DAY + HOUR, thursday + 2 * DAY, UTC_ZONE, CREDITS)["anomaly"]
    assert friday.state == "ok"


def test_currency_budgets_convert_credits_at_the_configured_price() -> None:
    spend = _flat(1.0, 70)
    at = _at(2026, 11, 16, 0)
    verdict = judge(_spec(amount=Decimal(2160), unit="currency"), spend, at, at, UTC_ZONE, Money("EUR", 3.0))
    assert verdict["actual"].evidence["spent"] == 15 * 24 * 3.0
    assert verdict["actual"].evidence["unit"] == "EUR"
    assert verdict["actual"].evidence["percent"] == 50.0


def test_periods_before_starts_are_not_judged() -> None:
    spend = _flat(1.0, 70)
    at = _at(2026, 10, 20)
    assert judge(_spec(starts="2026-11-01"), spend, at, at, UTC_ZONE, CREDITS) == {}
    assert judge(_spec(starts="2026-10-15"), spend, at, at, UTC_ZONE, CREDITS) != {}
