"""Unit tests for the pure SLO engine (``sre_agent.engine.slo``) and the backtest replay built on it.

The figures come from the SRE Workbook, "Alerting on SLOs" (see ``/work/shared/reference/slo.md``):
burn rate = error ratio / (1 − SLO); the multiwindow, multi-burn-rate tiers 1h/5m ×14.4 (page),
6h/30m ×6 (page), 1d/2h ×3 (ticket) and 3d/6h ×1 (ticket) at 99.9 % over 30 days; a tier fires when
both of its windows burn over the factor. Every expected number is derived independently in the test.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sre_agent.backtest import replay
from sre_agent.config.slo import SloDoc
from sre_agent.engine import slo as engine
from sre_agent.engine.slo import Coverage, RawMinutes, SloEvents, at_instant, build_events, evaluate_slo
from sre_agent.figures.slo_budget import period_use, window_use

MIN = 60
HOUR = 3600
DAY = 86_400
S = 1_767_225_600  # 2026-01-01T00:00:00Z: start of every synthetic history
T = S + 4 * DAY  # incident onset: four clean days before it (the 3d window is fully covered)
RATE = 1000  # events per minute


# --- helpers ------------------------------------------------------------------------------------


def slo(name: str = "test-slo", **spec: Any) -> SloDoc:
    """An SLO document: 99.9 % availability over a rolling 30 days (Occurrences, default tiers) unless overridden."""
    body: dict[str, Any] = {
        "service": "svc",
        "owner": "team",
        "sli": {"kind": "availability"},
        "objective": 99.9,
        "period": {"rolling": "30d"},
    }
    body.update(spec)
    return SloDoc.model_validate(
        {"apiVersion": "sre-agent/v1", "kind": "SLO", "metadata": {"name": name}, "spec": body}
    )


def raw(start: int, good: Any, total: Any, last_ok: Any = None) -> RawMinutes:
    """Stored rows, one per minute from ``start``."""
    g = np.asarray(good, dtype=np.float64)
    t = np.asarray(total, dtype=np.float64)
    ok = np.zeros(len(g), dtype=np.int64) if last_ok is None else np.asarray(last_ok, dtype=np.int64)
    return RawMinutes(start + MIN * np.arange(len(g), dtype=np.int64), g, t, ok)


def covered(start: int, end: int) -> Coverage:
    """Polls read everything of ``[start, end)`` and it is final."""
    return Coverage(start, end, end)


def events_for(doc: SloDoc, start: int, good: Any, total: Any) -> SloEvents:
    """Events of a fully covered, final history of per-minute good/total counts starting at ``start``."""
    end = start + MIN * len(good)
    return build_events(doc.spec, raw(start, good, total), start, end, covered(start, end))


def every_minute(lo: int, hi: int) -> np.ndarray:
    """Instants ``lo, lo + 60, …, hi`` (inclusive)."""
    return np.arange(lo, hi + 1, MIN, dtype=np.int64)


def steady(start: int, end: int, rate: int = RATE) -> tuple[np.ndarray, np.ndarray]:
    """All-good traffic of ``rate`` events per minute over ``[start, end)``."""
    n = (end - start) // MIN
    return np.full(n, float(rate)), np.full(n, float(rate))


def minute_of(start: int, at: int) -> int:
    return (at - start) // MIN


def first(mask: np.ndarray, instants: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(instants[hits[0]]) if len(hits) else None


def tier_result(result: engine.SloResult, label: str) -> engine.TierResult:
    return next(r for r in result.tiers if r.tier.label == label)


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def brute_window(start: int, good: list[int], total: list[int], t: int, w: int) -> tuple[int, int]:
    """Σgood and Σtotal of the minutes whose start lies in ``[t − w, t)``, by a plain loop."""
    g = tt = 0
    for i in range(len(good)):
        bucket = start + MIN * i
        if t - w <= bucket < t:
            g += good[i]
            tt += total[i]
    return g, tt


# --- 1. event-weighted window SLIs --------------------------------------------------------------


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[int], list[int], int, int, int, list[int]]:
    n = draw(st.integers(min_value=1, max_value=150))
    total = draw(st.lists(st.one_of(st.just(0), st.integers(0, 20)), min_size=n, max_size=n))
    good = [draw(st.integers(0, t)) for t in total]
    long = draw(st.integers(min_value=2, max_value=200))
    short = draw(st.integers(min_value=1, max_value=long - 1))
    final = draw(st.integers(0, n))  # minutes final (and visible) so far
    seconds = draw(st.lists(st.integers(0, MIN * n + 600), min_size=1, max_size=20))
    return good, total, long, short, final, sorted(seconds)


@settings(max_examples=300, deadline=None)
@given(histories())
def test_window_sli_is_sum_good_over_sum_total_of_exactly_the_window(
    case: tuple[list[int], list[int], int, int, int, list[int]],
) -> None:
    good, total, long, short, final, seconds = case
    doc = slo(
        objective=99,
        period={"rolling": "90d"},
        alerting={"tiers": [{"severity": "page", "long": f"{long}m", "short": f"{short}m", "burn_rate": 2}]},
    )
    end = S + MIN * len(good)
    frontier = S + MIN * final
    events = build_events(doc.spec, raw(S, good, total), S, end, Coverage(S, frontier, frontier))
    instants = np.array([S + x for x in seconds], dtype=np.int64)
    result = evaluate_slo(doc.spec, events, instants)
    assert set(result.windows) == {engine.format_duration(timedelta(minutes=m)) for m in (long, short)}
    for minutes in (long, short):
        w = result.windows[engine.format_duration(timedelta(minutes=minutes))]
        for k, instant in enumerate(instants.tolist()):
            # Windows end at the last whole minute before the instant, and never after the data frontier.
            t = min(instant, frontier) // MIN * MIN
            assert result.anchors[k] == t
            g, tt = brute_window(S, good, total, t, minutes * MIN)
            assert w.good[k] == g
            assert w.total[k] == tt
            if tt == 0:
                assert math.isnan(w.sli[k])
                assert math.isnan(w.burn[k])
                assert not w.known[k]
            else:
                assert w.sli[k] == pytest.approx(g / tt, rel=1e-12, abs=0)
                assert w.burn[k] == pytest.approx((1 - g / tt) / 0.01, rel=1e-9, abs=1e-9)
                # Known exactly when the whole window lies inside the polled history.
                assert bool(w.known[k]) == (t - minutes * MIN >= S)


def test_window_sli_is_event_weighted_not_the_mean_of_minute_ratios() -> None:
    doc = slo(alerting={"tiers": [{"severity": "page", "long": "10m", "short": "2m", "burn_rate": 14.4}]})
    # 8 quiet minutes, then 99/100 good and 0/1 good.
    good = [0] * 8 + [99, 0]
    total = [0] * 8 + [100, 1]
    events = events_for(doc, S, good, total)
    result = evaluate_slo(doc.spec, events, np.array([S + 10 * MIN], dtype=np.int64))
    short = result.windows["2m"]
    assert short.good[0] == 99
    assert short.total[0] == 101
    assert short.sli[0] == pytest.approx(99 / 101, rel=1e-15)  # 0.980…, event-weighted
    assert short.sli[0] != pytest.approx((0.99 + 0.0) / 2)  # not 0.495, the mean of the two minute ratios
    assert result.windows["10m"].sli[0] == pytest.approx(99 / 101, rel=1e-15)  # quiet minutes weigh nothing


def test_window_at_an_instant_inside_a_minute_covers_only_whole_minutes_before_it() -> None:
    doc = slo(alerting={"tiers": [{"severity": "page", "long": "10m", "short": "2m", "burn_rate": 14.4}]})
    total = list(range(1, 13))
    events = events_for(doc, S, total, total)
    result = evaluate_slo(doc.spec, events, np.array([S + 11 * MIN + 30], dtype=np.int64))
    assert int(result.anchors[0]) == S + 11 * MIN
    assert result.windows["2m"].total[0] == 10 + 11  # minutes 9 and 10; minute 11 has not ended
    assert result.windows["10m"].total[0] == sum(range(2, 12))  # minutes 1..10


# --- 2. Workbook figures at 99.9 % over 30 days -------------------------------------------------


def outage_history(error_ratio: float, onset: int, minutes: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Steady traffic from ``S`` to ``end``; ``error_ratio`` of the events of ``minutes`` minutes from ``onset`` bad."""
    good, total = steady(S, end)
    a = minute_of(S, onset)
    good[a : a + minutes] = RATE * (1 - error_ratio)
    return good, total


def test_total_outage_pages_on_the_1h_5m_tier_one_evaluation_step_after_onset() -> None:
    doc = slo()
    good, total = outage_history(1.0, T, 120, T + DAY)
    events = events_for(doc, S, good, total)
    instants = every_minute(T - HOUR, T + HOUR)
    result = evaluate_slo(doc.spec, events, instants)

    assert set(result.state[instants < T]) == {"ok"}
    detected = first(result.state == "page", instants)
    assert detected == T + MIN
    assert detected - T <= 52 + 60  # Workbook: 52 s, plus one 1-minute evaluation step
    k = int(np.flatnonzero(instants == detected)[0])
    tier = engine.firing_tier(result, k, "page")
    assert tier is not None
    assert tier.tier.label == "1h/5m"
    assert tier.factor_exact == "14.4"
    snapshot = at_instant(doc.spec, result, k)
    assert snapshot["state"] == "page"
    breaching = [t for t in snapshot["tiers"] if t["state"] == "breach"]  # type: ignore[union-attr]
    assert [(t["windows"], t["factor"], t["severity"]) for t in breaching] == [("1h/5m", "14.4", "page")]
    assert snapshot["windows"]["1h"]["burn_rate"] == pytest.approx(1000 / 60)  # type: ignore[index]
    assert snapshot["windows"]["5m"]["burn_rate"] == pytest.approx(200.0)  # type: ignore[index]
    # The other tiers follow the Workbook's detection times (52 s, 2 m 10 s, 4 m 19 s, 4 m 19 s),
    # each rounded up to the next per-minute evaluation.
    onsets = {r.tier.label: first(r.state == "breach", instants) for r in result.tiers}
    assert onsets == {"1h/5m": T + MIN, "6h/30m": T + 3 * MIN, "1d/2h": T + 5 * MIN, "3d/6h": T + 5 * MIN}
    assert [r.factor_exact for r in result.tiers] == ["14.4", "6", "3", "1"]


def test_fifteen_percent_errors_for_ten_minutes_page_after_six_minutes_and_reset_five_after() -> None:
    doc = slo()
    good, total = outage_history(0.15, T, 10, T + DAY)
    events = events_for(doc, S, good, total)
    instants = every_minute(T - HOUR, T + 3 * HOUR)
    result = evaluate_slo(doc.spec, events, instants)

    paging = instants[result.state == "page"]
    # 1h window: 150 bad per bad minute must exceed 14.4 × 0.1 % × 60 000 = 864 → 6 minutes (5.76).
    assert paging.tolist() == list(range(T + 6 * MIN, T + 15 * MIN, MIN))
    assert set(result.state[result.state != "page"]) == {"ok"}
    assert set(tier_result(result, "1h/5m").state[result.state == "page"]) == {"breach"}
    for label in ("6h/30m", "1d/2h", "3d/6h"):
        assert "breach" not in set(tier_result(result, label).state)
    # At T+5m the long window is just short (750 bad of 60 000); at T+15m the 5m window holds no bad minute.
    k5 = int(np.flatnonzero(instants == T + 5 * MIN)[0])
    assert result.windows["1h"].total[k5] - result.windows["1h"].good[k5] == pytest.approx(750)
    k15 = int(np.flatnonzero(instants == T + 15 * MIN)[0])
    assert result.windows["5m"].good[k15] == result.windows["5m"].total[k15] == 5 * RATE
    assert result.windows["1h"].burn[k15] == pytest.approx(1500 / 60_000 / 0.001)  # the long window alone still burns

    backtest = replay(doc, events, instants)
    assert [(a.severity, a.windows, a.start, a.end) for a in backtest.alerts] == [
        (
            "page",
            "1h/5m",
            datetime.fromtimestamp(T + 6 * MIN, UTC),
            datetime.fromtimestamp(T + 15 * MIN, UTC),
        )
    ]
    assert backtest.notifications == 2  # firing + resolved
    assert backtest.alerts[0].peak_burn == pytest.approx(1500 / 60_000 / 0.001)


def test_slow_burn_of_five_raises_a_ticket_never_a_page() -> None:
    doc = slo()
    good, total = outage_history(0.005, T, 1440, T + 2 * DAY)
    events = events_for(doc, S, good, total)
    instants = every_minute(T - HOUR, T + 2 * DAY)
    result = evaluate_slo(doc.spec, events, instants)

    assert "page" not in set(result.state)
    # Both ticket tiers need > 4 320 bad events in their long window (3 × 0.1 % of 1 440 000,
    # 1 × 0.1 % of 4 320 000) at 5 a minute: 864 minutes is exactly at the threshold, 865 is over it.
    ticket = result.state == "ticket"
    assert first(ticket, instants) == T + 865 * MIN
    assert first(tier_result(result, "1d/2h").state == "breach", instants) == T + 865 * MIN
    assert first(tier_result(result, "3d/6h").state == "breach", instants) == T + 865 * MIN
    k864 = int(np.flatnonzero(instants == T + 864 * MIN)[0])
    assert result.state[k864] == "ok"
    assert result.windows["1d"].burn[k864] == pytest.approx(3.0)
    # The burn is 5: under both page factors (14.4 and 6).
    k_day = int(np.flatnonzero(instants == T + DAY)[0])
    assert result.windows["1h"].burn[k_day] == pytest.approx(5.0)
    assert result.windows["6h"].burn[k_day] == pytest.approx(5.0)
    # 1d/2h clears when the 2h window holds ≤ 72 bad minutes (T+1d+48m); 3d/6h when the 6h window
    # holds ≤ 72 (T+1d+288m): the ticket lasts until then.
    assert instants[ticket].tolist() == list(range(T + 865 * MIN, T + DAY + 288 * MIN, MIN))
    assert last_breach(result, "1d/2h", instants) == T + DAY + 47 * MIN
    assert last_breach(result, "3d/6h", instants) == T + DAY + 287 * MIN

    backtest = replay(doc, events, instants)
    # The alert notifies after the ticket has held for alerting.ticket_hold (10m by default).
    assert [(a.severity, a.windows, a.start, a.end) for a in backtest.alerts] == [
        (
            "ticket",
            "1d/2h",
            datetime.fromtimestamp(T + 875 * MIN, UTC),
            datetime.fromtimestamp(T + DAY + 288 * MIN, UTC),
        )
    ]


def last_breach(result: engine.SloResult, label: str, instants: np.ndarray) -> int:
    return int(instants[tier_result(result, label).state == "breach"][-1])


# --- 3. unknown, never good ---------------------------------------------------------------------


def test_no_data_at_all_is_unknown() -> None:
    doc = slo()
    events = build_events(doc.spec, RawMinutes.empty(), S, S + DAY, Coverage(None, None, None))
    instants = every_minute(S + HOUR, S + DAY)
    result = evaluate_slo(doc.spec, events, instants)
    assert set(result.state) == {"unknown"}
    assert all(set(r.state) == {"unknown"} for r in result.tiers)
    assert not any(w.known.any() for w in result.windows.values())
    assert np.isnan(result.budget_remaining).all()
    assert np.isnan(result.period_sli).all()
    snapshot = at_instant(doc.spec, result, 0)
    assert snapshot["budget_remaining"] is None
    assert snapshot["exhaustion_s"] is None


def test_polled_but_empty_windows_are_unknown() -> None:
    doc = slo()
    events = build_events(doc.spec, RawMinutes.empty(), S, S + 4 * DAY, covered(S, S + 4 * DAY))
    instants = every_minute(S + 3 * DAY + HOUR, S + 4 * DAY)
    result = evaluate_slo(doc.spec, events, instants)
    assert set(result.state) == {"unknown"}
    assert all(np.isnan(w.sli).all() and not w.known.any() for w in result.windows.values())


def test_windows_reaching_before_covered_from_are_unknown() -> None:
    doc = slo()
    polled = S + DAY  # the agent started polling here; nothing was read before
    good, total = steady(polled, polled + 4 * DAY)
    events = build_events(doc.spec, raw(polled, good, total), S, polled + 4 * DAY, covered(polled, polled + 4 * DAY))
    offsets = [30 * MIN, 2 * HOUR, 6 * HOUR - MIN, 6 * HOUR, 3 * DAY - MIN, 3 * DAY]
    instants = np.array([polled + o for o in offsets], np.int64)
    result = evaluate_slo(doc.spec, events, instants)
    # 30 minutes in: the 5m window is known and clean; the 1h window holds 30 clean minutes but is not known.
    assert result.windows["5m"].known[0]
    assert result.windows["1h"].total[0] == 30 * RATE
    assert result.windows["1h"].sli[0] == 1.0
    assert not result.windows["1h"].known[0]
    assert result.windows["3d"].known.tolist() == [False] * 5 + [True]
    assert result.windows["6h"].known.tolist() == [False, False, False, True, True, True]
    # A tier is ok as soon as one of its windows is known not to burn (the AND cannot hold); the SLO
    # is ok only once every tier is decided: the 3d/6h tier at 6 h.
    assert tier_result(result, "3d/6h").state.tolist() == ["unknown", "unknown", "unknown", "ok", "ok", "ok"]
    assert tier_result(result, "1d/2h").state.tolist() == ["unknown", "ok", "ok", "ok", "ok", "ok"]
    assert result.state.tolist() == ["unknown", "unknown", "unknown", "ok", "ok", "ok"]


def test_stale_instants_are_unknown_even_when_the_data_is_bad() -> None:
    doc = slo()
    good, total = outage_history(1.0, T, 60, T + DAY)
    events = events_for(doc, S, good, total)
    instants = every_minute(T + 5 * MIN, T + 10 * MIN)
    stale = np.array([False, True, True, False, True, False])
    result = evaluate_slo(doc.spec, events, instants, stale=stale)
    assert result.state.tolist() == ["page", "unknown", "unknown", "page", "unknown", "page"]
    for w in result.windows.values():
        assert not w.known[stale].any()
        assert w.known[~stale].all()
    fresh = evaluate_slo(doc.spec, events, instants)
    assert set(fresh.state) == {"page"}


def test_min_events_guard_keeps_a_single_failure_at_night_from_paging() -> None:
    # Night traffic: one query a minute; one of them fails.
    total = np.ones(4 * DAY // MIN + 120)
    good = total.copy()
    fail = minute_of(S, T)
    good[fail] = 0
    instants = every_minute(T, T + 10 * MIN)

    unguarded = slo()
    result = evaluate_slo(unguarded.spec, events_for(unguarded, S, good, total), instants)
    # 1 bad of 60 is a burn of 16.7 over the hour, 200 over 5 minutes: without a guard it pages.
    assert result.state[1] == "page"

    guarded = slo(alerting={"min_events": 100})
    result = evaluate_slo(guarded.spec, events_for(guarded, S, good, total), instants)
    assert "page" not in set(result.state)
    k = 1
    for label in ("5m", "1h", "30m"):
        assert result.windows[label].total[k] < 100
        assert not result.windows[label].known[k]
    assert result.windows["6h"].known[k]  # 360 events
    assert tier_result(result, "1h/5m").state[k] == "unknown"
    assert tier_result(result, "6h/30m").state[k] == "ok"  # 1 bad of 360 is a burn of 2.8 < 6
    assert result.state[k] == "unknown"

    per_tier = slo(
        alerting={
            "tiers": [
                {"severity": "page", "long": "1h", "short": "5m", "budget_percent": 2, "min_events": 100},
                {"severity": "page", "long": "6h", "short": "30m", "budget_percent": 5},
            ]
        }
    )
    result = evaluate_slo(per_tier.spec, events_for(per_tier, S, good, total), instants)
    assert "page" not in set(result.state)
    assert tier_result(result, "1h/5m").state[k] == "unknown"


# --- 4. Timeslices ------------------------------------------------------------------------------


def p95_slo(threshold_ms: int = 500, min_queries: int = 10, percentile: float = 95) -> SloDoc:
    return slo(
        sli={
            "kind": "latency_percentile",
            "percentile": percentile,
            "threshold_ms": threshold_ms,
            "min_queries": min_queries,
        },
        objective=99,
        budgeting_method="Timeslices",
    )


def slice_events(doc: SloDoc, per_slice: list[tuple[int, int]], size: int = 5) -> SloEvents:
    """One slice of ``size`` minutes per (good, total), all of it in the slice's first minute."""
    good = np.zeros(size * len(per_slice))
    total = np.zeros(size * len(per_slice))
    for i, (g, t) in enumerate(per_slice):
        good[size * i] = g
        total[size * i] = t
    return events_for(doc, S, good, total)


def test_p95_slice_is_good_exactly_when_95_percent_of_queries_are_under_the_threshold() -> None:
    doc = p95_slo(min_queries=10)
    events = slice_events(doc, [(19, 20), (18, 20), (9, 9), (0, 0), (20, 20), (95, 100), (94, 100)])
    slice_ends = S + 5 * MIN * np.arange(1, 8)
    # One event per slice at its last minute; the 9-query and empty slices are not counted.
    assert np.flatnonzero(events.total).tolist() == [4, 9, 24, 29, 34]
    assert events.good[[4, 9, 24, 29, 34]].tolist() == [1.0, 0.0, 1.0, 1.0, 0.0]
    result = evaluate_slo(doc.spec, events, np.array([slice_ends[-1]], np.int64))
    assert result.windows["1h"].good[0] == 3
    assert result.windows["1h"].total[0] == 5
    assert result.windows["5m"].sli[0] == 0.0  # the last slice (94/100) is bad
    assert result.windows["30m"].sli[0] == pytest.approx(2 / 4)  # slices 2-7: two good of four counted


def test_p95_slices_spread_over_several_minutes_are_judged_on_the_whole_slice() -> None:
    doc = p95_slo(min_queries=10)
    # 10 + 10 queries in two minutes of one slice: 10/10 and 9/10 good → 19/20 good: a good slice
    # (the minute ratios 1.0 and 0.9 do not matter).
    good = [10, 9, 0, 0, 0, 10, 8, 0, 0, 0]
    total = [10, 10, 0, 0, 0, 10, 10, 0, 0, 0]
    events = events_for(doc, S, good, total)
    assert events.total.tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
    assert events.good.tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0]


def test_slices_not_yet_complete_or_before_coverage_are_not_counted() -> None:
    doc = p95_slo(min_queries=1)
    good = np.full(30, 5.0)
    total = np.full(30, 5.0)
    # Polled from minute 3 (mid-slice), final before minute 22 (mid-slice).
    events = build_events(
        doc.spec, raw(S, good, total), S, S + 30 * MIN, Coverage(S + 3 * MIN, S + 22 * MIN, S + 22 * MIN)
    )
    # Slices [5,10), [10,15), [15,20) only.
    assert np.flatnonzero(events.total).tolist() == [9, 14, 19]


@st.composite
def latency_slices(draw: st.DrawFn) -> tuple[list[list[list[int]]], int, int]:
    threshold = draw(st.integers(1, 1000))
    min_queries = draw(st.integers(1, 8))
    slices = draw(
        st.lists(
            st.lists(st.lists(st.integers(0, 1200), max_size=12), min_size=5, max_size=5),
            min_size=1,
            max_size=12,
        )
    )
    return slices, threshold, min_queries


@settings(max_examples=300, deadline=None)
@given(latency_slices())
def test_p95_slice_verdict_equals_nearest_rank_percentile_of_its_latencies(
    case: tuple[list[list[list[int]]], int, int],
) -> None:
    slices, threshold, min_queries = case
    doc = p95_slo(threshold_ms=threshold, min_queries=min_queries)
    good, total = [], []
    for minutes in slices:
        for latencies in minutes:
            good.append(sum(1 for x in latencies if x <= threshold))
            total.append(len(latencies))
    events = events_for(doc, S, good, total)
    for i, minutes in enumerate(slices):
        latencies = np.sort(np.array([x for m in minutes for x in m], dtype=np.int64))
        at = 5 * i + 4
        n = len(latencies)
        if n < min_queries:
            assert events.total[at] == 0
            continue
        rank = -(-95 * n // 100)  # ceil(0.95 · n), exactly
        p95 = latencies[rank - 1]
        assert events.total[at] == 1
        assert events.good[at] == float(p95 <= threshold)
    assert events.total.sum() == sum(1 for m in slices if sum(len(x) for x in m) >= min_queries)


def test_ratio_timeslices_use_the_timeslice_target() -> None:
    doc = slo(budgeting_method="Timeslices", timeslice="1m", timeslice_target=0.99, objective=99)
    good = [99, 98, 0, 1, 990]
    total = [100, 100, 0, 1, 1000]
    events = events_for(doc, S, good, total)
    assert events.total.tolist() == [1, 1, 0, 1, 1]
    assert events.good.tolist() == [1, 0, 0, 1, 1]
    doc5 = slo(budgeting_method="Timeslices", timeslice_target=0.9, objective=99)
    # 5-minute slices: 45/50 good is exactly 0.9 (good), 44/50 is not.
    events5 = slice_events(doc5, [(45, 50), (44, 50)])
    assert events5.good[[4, 9]].tolist() == [1.0, 0.0]
    assert events5.total.sum() == 2


# --- 5. Freshness -------------------------------------------------------------------------------


def freshness_slo(**spec: Any) -> SloDoc:
    return slo(
        sli={"kind": "freshness", "source": "copy", "max_age": "5m"},
        objective=99,
        budgeting_method="Timeslices",
        period={"calendar": "month"},
        **spec,
    )


def test_freshness_minutes_are_good_while_the_newest_load_is_at_most_max_age_old() -> None:
    doc = freshness_slo()
    last_ok = np.zeros(30, dtype=np.int64)
    last_ok[3] = S + 3 * MIN  # a load at the very start of minute 3
    last_ok[12] = S + 12 * MIN + 50
    zeros = np.zeros(30)
    coverage = Coverage(S, S + 25 * MIN, S + 30 * MIN)
    events = build_events(doc.spec, raw(S, zeros, zeros, last_ok), S, S + 30 * MIN, coverage)
    good = [0] * 30
    total = [0] * 30
    # Minutes 0-2: before the first load ever seen → undecided (not counted).
    # Minutes 3-7: each ends at most 300 s after the load at S+3m (minute 7 exactly 300 s) → good.
    # Minutes 8-11: 360…540 s old at their ends → bad.
    # Minutes 12-16: the load at S+12m50s is at most 300 s old at their ends (minute 16: 250 s) → good.
    # Minutes 17-24: bad (minute 17: 310 s; minute 24 ends at complete_before).
    # Minutes 25-29: not final yet → undecided.
    for i in [*range(3, 8), *range(12, 17)]:
        good[i] = total[i] = 1
    for i in [*range(8, 12), *range(17, 25)]:
        total[i] = 1
    assert events.total.tolist() == total
    assert events.good.tolist() == good
    assert events.frontier == S + 25 * MIN

    result = evaluate_slo(doc.spec, events, np.array([S + 25 * MIN, S + 30 * MIN], np.int64))
    assert result.anchors.tolist() == [S + 25 * MIN, S + 25 * MIN]  # windows end at complete_before
    assert result.windows["30m"].good.tolist() == [10, 10]
    assert result.windows["30m"].total.tolist() == [22, 22]
    assert result.windows["5m"].sli.tolist() == [0.0, 0.0]


def test_freshness_with_no_load_ever_seen_is_unknown() -> None:
    doc = freshness_slo()
    zeros = np.zeros(4 * 1440)
    events = build_events(doc.spec, raw(S, zeros, zeros, zeros), S, S + 4 * DAY, covered(S, S + 4 * DAY))
    assert events.total.sum() == 0
    result = evaluate_slo(doc.spec, events, every_minute(S + 3 * DAY, S + 4 * DAY))
    assert set(result.state) == {"unknown"}


def test_freshness_excluded_minutes_are_not_counted() -> None:
    doc = freshness_slo(
        exclusions=[{"reason": "loads pause at night", "start": iso(S + 10 * MIN), "end": iso(S + 20 * MIN)}]
    )
    last_ok = np.zeros(30, dtype=np.int64)
    last_ok[0] = S + 1
    zeros = np.zeros(30)
    events = build_events(doc.spec, raw(S, zeros, zeros, last_ok), S, S + 30 * MIN, covered(S, S + 30 * MIN))
    assert events.good.tolist() == [1] * 5 + [0] * 25
    assert events.total.tolist() == [1] * 10 + [0] * 10 + [1] * 10


# --- 6. exclusions ------------------------------------------------------------------------------


def test_an_outage_inside_an_exclusion_neither_pages_nor_spends_budget() -> None:
    maintenance = {"reason": "planned maintenance", "start": iso(T - 10 * MIN), "end": iso(T + 40 * MIN)}
    doc = slo(exclusions=[maintenance])
    good, total = outage_history(1.0, T, 30, T + DAY)
    events = events_for(doc, S, good, total)
    excluded = np.flatnonzero(events.excluded)
    assert excluded.tolist() == list(range(minute_of(S, T - 10 * MIN), minute_of(S, T + 40 * MIN)))
    assert events.total[excluded].sum() == 0
    assert events.good[excluded].sum() == 0
    assert events.total.sum() == total.sum() - 50 * RATE  # removed from both good and total
    assert events.good.sum() == events.total.sum()

    instants = every_minute(T - HOUR, T + 3 * HOUR)
    result = evaluate_slo(doc.spec, events, instants)
    assert "page" not in set(result.state)
    assert "ticket" not in set(result.state)
    assert result.budget_remaining.tolist() == [1.0] * len(instants)
    assert result.period_sli.tolist() == [1.0] * len(instants)
    assert set(result.state) == {"ok"}
    # Inside the exclusion the 5m window holds no events (unknown); the 1h window, known and clean,
    # keeps the 1h/5m tier ok.
    inside = (instants > T - 5 * MIN) & (instants <= T + 40 * MIN)
    assert not result.windows["5m"].known[inside].any()
    assert np.isnan(result.windows["5m"].sli[inside]).all()
    assert result.windows["1h"].known.all()
    k = int(np.flatnonzero(instants == T + HOUR)[0])
    assert result.windows["1h"].total[k] == 20 * RATE  # 40 of its minutes are excluded
    assert replay(doc, events, instants).alerts == []

    # The same history without the exclusion pages and spends budget.
    plain = slo()
    result = evaluate_slo(plain.spec, events_for(plain, S, good, total), instants)
    assert first(result.state == "page", instants) == T + MIN
    assert result.budget_remaining[-1] < 1.0


def test_a_recurring_exclusion_removes_every_occurrence() -> None:
    weekly = {"reason": "nightly batch window", "start": iso(S + 2 * HOUR), "rrule": "FREQ=DAILY", "duration": "30m"}
    doc = slo(exclusions=[weekly])
    good, total = steady(S, S + 4 * DAY)
    events = events_for(doc, S, good, total)
    expected = [minute_of(S, S + d * DAY + 2 * HOUR) + m for d in range(4) for m in range(30)]
    assert np.flatnonzero(events.excluded).tolist() == expected


# --- 7. error budget ----------------------------------------------------------------------------

M = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())  # a month boundary
APRIL = int(datetime(2026, 4, 1, tzinfo=UTC).timestamp())
FEB = int(datetime(2026, 2, 1, tzinfo=UTC).timestamp())


def test_calendar_month_budget_starts_full_at_the_month_boundary_after_a_bad_month() -> None:
    doc = slo(period={"calendar": "month"})
    start = M - 5 * DAY
    good, total = steady(start, M + 2 * DAY)
    bad = minute_of(start, M - 12 * HOUR)
    good[bad : bad + 12 * 60] = RATE * 0.98  # 2 % errors for the last 12 hours of February
    events = events_for(doc, start, good, total)
    instants = np.array([M - MIN, M + MIN, M + HOUR, M + DAY], np.int64)
    result = evaluate_slo(doc.spec, events, instants)

    assert result.period_start.tolist() == [FEB, M, M, M]
    assert result.period_end.tolist() == [M, APRIL, APRIL, APRIL]
    # February: 14 400 bad events; its 28 days are extrapolated from the 5 days − 1 minute seen.
    feb_total = (5 * 1440 - 1) * RATE
    feb_bad = 12 * 60 * 20 - 20  # the minute before M is not in a window ending at M − 1 min
    feb_expected = feb_total * (M - FEB) / (5 * DAY - MIN)
    assert result.period_expected[0] == pytest.approx(feb_expected, rel=1e-12)
    assert result.budget_remaining[0] == pytest.approx(1 - feb_bad / (0.001 * feb_expected), rel=1e-9)
    assert result.budget_remaining[0] < 1.0
    # March: no bad event yet → the whole budget, although the last hour of February was bad.
    assert result.budget_remaining[1:].tolist() == [1.0, 1.0, 1.0]
    assert result.period_sli[1:].tolist() == [1.0, 1.0, 1.0]
    assert result.state[1] == "page"  # burn windows still see February's errors; the budget does not
    assert at_instant(doc.spec, result, 1)["budget_remaining"] == 1.0


def test_calendar_budget_extrapolates_the_period_total_from_the_rate_so_far() -> None:
    doc = slo(period={"calendar": "month"})
    good, total = steady(M, M + 2 * DAY)
    a = minute_of(M, M + 12 * HOUR)
    good[a : a + 10] = 0  # a 10-minute total outage: 10 000 bad events
    events = events_for(doc, M, good, total)
    result = evaluate_slo(doc.spec, events, np.array([M + DAY], np.int64))
    expected = 1440 * RATE * 31  # 1 440 000 events in one day of the 31-day March
    assert result.period_expected[0] == pytest.approx(expected, rel=1e-12)
    assert result.budget_remaining[0] == pytest.approx(1 - 10_000 / (0.001 * expected), rel=1e-12)
    assert result.period_coverage[0] == 1.0


ROLLING_RATE = 100


def rolling_history(outage_minutes: int) -> tuple[SloDoc, SloEvents, int]:
    """31 days at 100 events a minute; a total outage of ``outage_minutes`` from ``S + 30d + 12h``."""
    doc = slo()
    good, total = steady(S, S + 31 * DAY, ROLLING_RATE)
    onset = S + 30 * DAY + 12 * HOUR
    a = minute_of(S, onset)
    good[a : a + outage_minutes] = 0
    return doc, events_for(doc, S, good, total), onset


def test_rolling_budget_remaining_exhaustion_and_the_budget_a_window_used() -> None:
    doc, events, onset = rolling_history(10)
    instants = np.array([onset, onset + 10 * MIN, onset + 3 * HOUR], np.int64)
    result = evaluate_slo(doc.spec, events, instants)
    period_total = 30 * 1440 * ROLLING_RATE  # 4 320 000 events: the rolling period is fully covered
    allowed = 0.001 * period_total  # 4 320 bad events
    assert result.period_expected.tolist() == [period_total] * 3
    assert result.period_coverage.tolist() == [1.0] * 3
    assert result.budget_remaining[0] == 1.0
    remaining = 1 - 1000 / allowed
    assert result.budget_remaining[1] == pytest.approx(remaining, rel=1e-12)  # 0.768518…
    assert result.budget_remaining[2] == pytest.approx(remaining, rel=1e-12)
    assert result.period_sli[1] == pytest.approx(1 - 1000 / period_total, rel=1e-12)

    # burn_now: the 1h window (fastest tier's long window) holds 1 000 bad of 6 000.
    assert result.burn_now[1] == pytest.approx((1000 / 6000) / 0.001, rel=1e-12)
    assert result.exhaustion_s[1] == pytest.approx(remaining * 30 * DAY / (1000 / 6000 / 0.001), rel=1e-9)
    assert result.exhaustion_s[1] == pytest.approx(11_952.0, rel=1e-9)
    # Clean hour: not burning → infinite (reported as None).
    assert result.burn_now[0] == 0.0
    assert result.burn_now[2] == 0.0
    assert math.isinf(result.exhaustion_s[2])
    assert at_instant(doc.spec, result, 2)["exhaustion_s"] is None
    assert at_instant(doc.spec, result, 1)["exhaustion_s"] == 11_952

    used = window_use(doc.spec, events, result, 1, onset, onset + 10 * MIN)
    assert used.consumed == pytest.approx(1000 / allowed, rel=1e-9)
    assert used.consumed == pytest.approx(1 - result.budget_remaining[1], rel=1e-9), "the only bad events"
    assert (used.bad, used.allowed_bad, used.base_events) == (1000, allowed, period_total)
    assert period_use(doc.spec, result, 1).consumed == pytest.approx(used.consumed, rel=1e-9)
    # A part of the incident spends its share; an interval without bad events spends nothing.
    assert window_use(doc.spec, events, result, 2, onset, onset + 4 * MIN).consumed == pytest.approx(400 / allowed)
    assert window_use(doc.spec, events, result, 2, onset - HOUR, onset).consumed == 0.0


def test_exhausted_budget_has_zero_time_to_exhaustion() -> None:
    doc, events, onset = rolling_history(50)  # 5 000 bad events > the 4 320 allowed
    result = evaluate_slo(doc.spec, events, np.array([onset + 50 * MIN, onset + 3 * HOUR], np.int64))
    assert result.budget_remaining[0] == pytest.approx(1 - 5000 / 4320, rel=1e-12)
    assert result.budget_remaining[0] < 0
    assert result.exhaustion_s.tolist() == [0.0, 0.0]
    assert at_instant(doc.spec, result, 0)["exhaustion_s"] == 0


def test_budget_remaining_of_timeslices_counts_bad_slices() -> None:
    doc = slo(budgeting_method="Timeslices", timeslice_target=0.99, objective=99, period={"rolling": "7d"})
    start = S
    good, total = steady(start, start + 7 * DAY)
    a = minute_of(start, start + 3 * DAY)
    good[a : a + 60] = 0  # one bad hour: 12 bad 5-minute slices
    events = events_for(doc, start, good, total)
    result = evaluate_slo(doc.spec, events, np.array([start + 7 * DAY], np.int64))
    slices = 7 * 288
    assert result.period_total[0] == slices
    assert result.period_good[0] == slices - 12
    assert result.budget_remaining[0] == pytest.approx(1 - 12 / (0.01 * slices), rel=1e-12)


# --- bugs: each test below fails on the current package ------------------------------------------


def test_exhausted_budget_is_zero_seconds_from_exhaustion_even_when_the_fast_window_is_empty() -> None:
    """``SloResult.exhaustion_s`` is documented as "0: already gone". After an incident that overspent
    the budget, traffic stops: the 1h window is empty (burn_now unknown), the budget is still known to
    be overspent, so the time to exhaustion is 0 — not unknown."""
    doc = slo()
    good, total = steady(S, S + 31 * DAY, ROLLING_RATE)
    onset = S + 30 * DAY + 12 * HOUR
    a = minute_of(S, onset)
    good[a : a + 50] = 0  # 5 000 bad events > the 4 320 allowed
    good[a + 50 : a + 170] = 0
    total[a + 50 : a + 170] = 0  # then two hours without a single query
    events = events_for(doc, S, good, total)
    result = evaluate_slo(doc.spec, events, np.array([onset + 50 * MIN + 2 * HOUR], np.int64))
    allowed = 0.001 * (30 * 1440 - 120) * ROLLING_RATE  # the period holds 120 quiet minutes
    assert result.budget_remaining[0] == pytest.approx(1 - 5000 / allowed, rel=1e-12)  # known and overspent
    assert math.isnan(result.burn_now[0])  # the 1h window holds no events
    assert result.exhaustion_s[0] == 0.0


def test_calendar_period_figures_are_never_negative_while_data_lags_the_period_boundary() -> None:
    """Calendar periods are chosen from the instant, but sums end at the anchor (held back to the data
    frontier). In the first minutes of a month, before March data is final, the period's good and total
    come out negative."""
    doc = slo(period={"calendar": "month"})
    start = M - 5 * DAY
    good, total = steady(start, M + DAY)
    lag = M - 45 * MIN  # ACCOUNT_USAGE lag: rows up to here are final and visible
    events = build_events(doc.spec, raw(start, good, total), start, M + DAY, Coverage(start, lag, lag))
    result = evaluate_slo(doc.spec, events, np.array([M + 10 * MIN], np.int64))
    assert int(result.anchors[0]) == lag
    period = at_instant(doc.spec, result, 0)["period"]
    assert isinstance(period, dict)
    assert period["total"] >= 0
    assert period["good"] >= 0
    assert period["expected_total"] >= 0
