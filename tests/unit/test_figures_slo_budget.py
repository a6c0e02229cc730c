"""The error-budget figures every view shows: of what each is a share, over which data window, and where an alert's
burn began — lagged SLIs included (their bad minutes happen long before their alert fires)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from test_slo_engine import slo

from sre_agent.config.slo import SloDoc
from sre_agent.engine import slo as engine
from sre_agent.figures.slo_budget import BudgetUse, burn_start, period_name, period_use, tier_of, use_text, window_use

MIN = 60
HOUR = 3600
DAY = 86_400
S = 1_767_225_600  # 2026-01-01T00:00:00Z


def _slo(**spec: Any) -> SloDoc:
    """99.9 % availability over a rolling 30 days unless overridden (the engine tests' SLO)."""
    return slo("s", **spec)


def _events(doc: SloDoc, good: np.ndarray, total: np.ndarray, frontier: int | None = None) -> engine.SloEvents:
    """Per-minute events from ``S``; minutes from ``frontier`` on are not visible yet (a lagging view)."""
    n = len(good)
    raw = engine.RawMinutes(S + MIN * np.arange(n, dtype=np.int64), good, total, np.zeros(n, dtype=np.int64))
    end = S + MIN * n
    seen = end if frontier is None else frontier
    return engine.build_events(doc.spec, raw, S, end, engine.Coverage(S, seen, seen))


def _steady(days: int, rate: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    total = np.full(days * 1440, rate)
    return total.copy(), total


def test_the_burn_began_where_the_run_of_burning_short_windows_began() -> None:
    """An outage from T: the page fires 20 minutes later; walking back over burning 5-minute windows finds T."""
    doc = _slo()
    good, total = _steady(31)
    onset = 30 * 1440 + 600  # minute index of the outage (30 days of clean history before it)
    good[onset : onset + 40] = 0
    events = _events(doc, good, total)
    t = S + onset * MIN
    fast = tier_of(doc.spec, "1h/5m")
    assert burn_start(doc.spec, events, t + 20 * MIN, fast) == t
    assert burn_start(doc.spec, events, t + 3 * MIN, fast) == t, "within the first short window too"
    # Background errors below the budget's rate do not extend the burn backwards.
    good[onset - 120 : onset] = 99.95  # 0.05 % bad: half the budget rate
    events = _events(doc, good, total)
    assert burn_start(doc.spec, events, t + 20 * MIN, fast) == t
    slow = tier_of(doc.spec, "6h/30m")
    assert burn_start(doc.spec, events, t + 40 * MIN, slow) == t
    # A burn older than the tier's long window is cut at the long window.
    good[onset : onset + 90] = 0
    events = _events(doc, good, total)
    assert burn_start(doc.spec, events, t + 80 * MIN, fast) == t + 20 * MIN
    assert burn_start(doc.spec, events, t + 80 * MIN, slow) == t


def test_a_burn_already_fading_at_the_anchor_starts_at_the_long_window() -> None:
    doc = _slo()
    good, total = _steady(31)
    onset = 30 * 1440 + 600
    good[onset : onset + 10] = 0
    events = _events(doc, good, total)
    anchor = S + (onset + 40) * MIN  # 30 minutes after the outage ended: no short window burns at the anchor
    assert burn_start(doc.spec, events, anchor, tier_of(doc.spec, "1h/5m")) == anchor - HOUR


def test_a_lagged_slis_bad_minutes_are_counted_in_data_time() -> None:
    """A freshness SLO judges minutes 45 minutes back: its alert fires at 13:45 on bad minutes of 13:00. The burn's
    window (from its data, not the alert's clock) holds them, so the budget its burn used is not 0."""
    doc = _slo(objective=99, period={"rolling": "7d"})
    good, total = _steady(8, rate=1.0)
    onset = 7 * 1440 + 780  # 13:00 of day 8
    good[onset : onset + 30] = 0  # 30 stale minutes
    seen = S + (onset + 30) * MIN  # what the view has settled when the alert fires, 45 minutes later
    events = _events(doc, good, total, frontier=seen)
    fired = seen + 45 * MIN
    result = engine.evaluate_slo(doc.spec, events, np.array([fired], np.int64))
    assert int(result.anchors[0]) == seen, "windows end where the data is settled"
    start = burn_start(doc.spec, events, int(result.anchors[0]), tier_of(doc.spec, "1h/5m"))
    assert start == S + onset * MIN
    use = window_use(doc.spec, events, result, 0, start, fired + 6 * HOUR, "alert")
    assert (use.bad, use.data_to) == (30, seen), "counted up to where the windows end, never past the data"
    assert use.consumed == pytest.approx(30 / (0.01 * 7 * 1440))
    wall_clock = window_use(doc.spec, events, result, 0, fired, fired + 6 * HOUR)
    assert wall_clock.bad == 0, "counting from the alert's clock time would find nothing"


def test_period_and_window_figures_say_what_they_are_a_share_of() -> None:
    doc = _slo(period={"calendar": "month", "time_zone": "America/New_York"})
    assert period_name(doc.spec) == "calendar month (America/New_York)"
    assert period_name(_slo().spec) == "rolling 30d"
    good, total = _steady(3)
    good[2000:2010] = 0  # 1,000 bad events on 2 January
    events = _events(doc, good, total)
    at = np.array([S + 3 * DAY], np.int64)
    result = engine.evaluate_slo(doc.spec, events, at)
    period = period_use(doc.spec, result, 0)
    assert period.scope == "period"
    assert period.extrapolated, "January is under way: its events are extrapolated to the month"
    assert period.bad == 1000
    assert period.consumed == pytest.approx(1000 / period.allowed_bad)
    assert period.remaining == pytest.approx(1 - period.consumed)
    assert period.used_text(1).endswith("of the calendar month (America/New_York) error budget")
    window = window_use(doc.spec, events, result, 0, S + 2000 * MIN, S + 2010 * MIN)
    assert window.consumed == pytest.approx(period.consumed), "the window holds every bad event"
    assert window.remaining == period.remaining
    assert "bad events 2026-01-02 09:20Z – 2026-01-02 09:30Z" in use_text(window)


def test_a_figure_survives_the_evidence_round_trip() -> None:
    doc = _slo()
    good, total = _steady(31)
    good[44_000:44_010] = 0
    events = _events(doc, good, total)
    result = engine.evaluate_slo(doc.spec, events, np.array([S + 31 * DAY], np.int64))
    use = window_use(doc.spec, events, result, 0, S + 44_000 * MIN, S + 44_100 * MIN, "alert")
    data = use.to_json()
    assert data["data_from"] == "2026-01-31T13:20:00Z"
    back = BudgetUse.from_json(data)
    assert back.data_from == use.data_from
    assert back.used_text() == use.used_text()
    assert back.consumed == pytest.approx(use.consumed, abs=1e-9)
