"""The SLO report's pure pieces: the met/missed verdict (exact at the objective), firing intervals from an alert's
history, the local days of a month across a DST change, and the line chart of budget consumed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from sre_agent.alerting.intervals import firing_intervals
from sre_agent.model import AlertEvent, EventKind, Severity
from sre_agent.reports.slo.data import MET, MISSED, NO_DATA, local_days, verdict
from sre_agent.reports.svg import line_chart

T0 = datetime(2026, 11, 3, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("good", "total", "objective", "expected"),
    [
        (999.0, 1000.0, Decimal("99.9"), MET),  # exactly at the objective: met (no float noise)
        (998.0, 1000.0, Decimal("99.9"), MISSED),
        (9_999_999.0, 10_000_000.0, Decimal("99.99999"), MET),
        (9_999_998.0, 10_000_000.0, Decimal("99.99999"), MISSED),
        (1.0, 1.0, Decimal("99.5"), MET),
        (0.0, 0.0, Decimal("99.5"), NO_DATA),
    ],
)
def test_verdict_compares_compliance_with_the_objective_exactly(
    good: float, total: float, objective: Decimal, expected: str
) -> None:
    assert verdict(good, total, objective) == expected


def _event(event_id: int, kind: EventKind, severity: Severity, minutes: int, fp: str = "aaaa") -> AlertEvent:
    at = T0 + timedelta(minutes=minutes)
    ends = at if kind is EventKind.RESOLVED else None
    return AlertEvent(event_id, fp, "slo-x", kind, severity, {"slo": "slo-x"}, {}, at, T0, ends, None, None, {})


def test_an_escalated_then_resolved_alert_is_one_interval_at_its_peak_severity() -> None:
    events = [
        _event(1, EventKind.FIRING, Severity.SEV3, 10),
        _event(2, EventKind.ESCALATED, Severity.SEV2, 20),
        _event(3, EventKind.DEESCALATED, Severity.SEV3, 40),
        _event(4, EventKind.RESOLVED, Severity.SEV3, 90),
    ]
    [interval] = firing_intervals(events)
    assert interval.start == T0, "from the start of its condition (pending), not the notification"
    assert interval.fired_at == T0 + timedelta(minutes=10)
    assert interval.end == T0 + timedelta(minutes=90)
    assert interval.peak_severity is Severity.SEV2
    assert interval.event_ids == [1, 2, 3, 4]
    assert interval.labels == {"slo": "slo-x"}


def test_two_alerts_interleaved_and_one_still_firing() -> None:
    events = [
        _event(1, EventKind.FIRING, Severity.SEV2, 0, "aaaa"),
        _event(2, EventKind.FIRING, Severity.SEV3, 5, "bbbb"),
        _event(3, EventKind.RESOLVED, Severity.SEV2, 30, "aaaa"),
        _event(4, EventKind.FIRING, Severity.SEV2, 60, "aaaa"),
    ]
    intervals = firing_intervals(events)
    assert [(i.fingerprint, i.event_ids, i.end is None) for i in intervals] == [
        ("aaaa", [1, 3], False),
        ("bbbb", [2], True),
        ("aaaa", [4], True),
    ]


def test_a_resolve_without_its_firing_in_the_history_opens_nothing() -> None:
    assert firing_intervals([_event(7, EventKind.RESOLVED, Severity.SEV2, 5)]) == []


def test_a_month_has_its_local_days_across_the_dst_change() -> None:
    tz = ZoneInfo("America/New_York")
    days = local_days(datetime(2026, 11, 1, tzinfo=tz), datetime(2026, 12, 1, tzinfo=tz))
    assert len(days) == 30
    assert (days[0].isoformat(), days[-1].isoformat()) == ("2026-11-01", "2026-11-30")


def test_the_line_chart_breaks_at_missing_days_and_draws_the_limit() -> None:
    svg = line_chart(
        ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"],
        {"<b>slo</b>": [0.0, 40.0, None, None]},
        "% of budget",
        "budget <used>",
        100.0,
        "100 % of the error budget",
    )
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert svg.count("<polyline") == 1, "one run of data; days without data draw nothing"
    assert svg.count("<circle") == 2
    assert "100 % of the error budget" in svg
    assert "<b>" not in svg
    assert "&lt;b&gt;slo&lt;/b&gt;" in svg
    assert "budget &lt;used&gt;" in svg
    assert line_chart([], {}, "%", "empty").startswith("<svg"), "no data: an empty frame, no error"
