"""An incident's stages and spans are defined once (figures/incident_times.py): each span is measured between the
stages it names, TTR stops at the impact's end with the alerts' tail apart, and what is unknown says why."""

from __future__ import annotations

from datetime import UTC, datetime

from sre_agent.figures import incident_times as t
from sre_agent.figures.text import human_duration, utc_range


def _at(hhmm: str, day: int = 3) -> int:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return int(datetime(2026, 11, day, hour, minute, tzinfo=UTC).timestamp())


def _inc1(acked: int | None = None, mitigated: int | None = None) -> t.IncidentTimes:
    """INC-1 of the demo: onset 15:20, first alert 15:35, the data calm from 17:55, the slow SLO tier's alert
    resolving at 07:00 the next morning, when the incident closed."""
    detected = _at("15:35")
    ended = t.impact_end(detected, mitigated, _at("17:55"), _at("18:30"), _at("07:00", 4), _at("07:00", 4),
                         _at("07:00", 4))  # fmt: skip
    return t.incident_times(
        t.Instant(t.STARTED, _at("15:20"), "p95 latency above twice its level a week earlier"),
        detected,
        (acked, "dana" if acked else None),
        (mitigated, "dana" if mitigated else None),
        ended,
        t.Instant(t.ALERTS_RESOLVED, _at("07:00", 4), "risk-calculation-latency resolved last"),
        (_at("07:00", 4), "sre-agent"),
        _at("08:00", 4),
    )


def test_time_to_restore_stops_at_the_impact_end_and_the_alerts_tail_is_apart() -> None:
    times = _inc1()
    assert times.impact_ended.at == _at("17:55")
    ttr, tail, opened = times.span("ttr"), times.span("tail"), times.span("open")
    assert (ttr.start, ttr.end, ttr.text()) == (t.DETECTED, t.IMPACT_ENDED, "2h 20m")
    assert (tail.start, tail.end, tail.text()) == (t.IMPACT_ENDED, t.ALERTS_RESOLVED, "13h 05m")
    assert (opened.start, opened.end, opened.text()) == (t.DETECTED, t.RESOLVED, "15h 25m")
    assert ttr.seconds is not None
    assert tail.seconds is not None
    assert ttr.seconds + tail.seconds == opened.seconds  # the incident's lifetime = restore + the tail (+ quiet)
    assert "not part of TTR" in tail.reference


def test_each_span_is_measured_between_the_stages_it_names() -> None:
    times = _inc1(acked=_at("15:39"), mitigated=_at("17:50"))
    expected = {
        "impact": (t.STARTED, t.IMPACT_ENDED, 150),
        "ttd": (t.STARTED, t.DETECTED, 15),
        "tta": (t.DETECTED, t.ACKNOWLEDGED, 4),
        "ttm": (t.STARTED, t.MITIGATED, 150),
        "ttr": (t.DETECTED, t.IMPACT_ENDED, 135),
    }
    for key, (start, end, minutes) in expected.items():
        span = times.span(key)
        assert (span.start, span.end, span.to_json()["minutes"]) == (start, end, minutes), key
        assert span.seconds == times.stage(end).at - times.stage(start).at  # type: ignore[operator]
    assert [s.key for s in times.spans()] == ["impact", "ttd", "tta", "ttm", "ttr", "tail", "open"]
    assert [i.stage for i in times.instants()] == [t.STARTED, t.DETECTED, t.ACKNOWLEDGED, t.MITIGATED,
                                                   t.IMPACT_ENDED, t.ALERTS_RESOLVED, t.RESOLVED]  # fmt: skip


def test_a_recorded_mitigation_is_the_impacts_end_and_nothing_else_is_called_mitigated() -> None:
    recorded = _inc1(mitigated=_at("17:50"))
    assert recorded.impact_ended.at == recorded.mitigated.at == _at("17:50")
    assert recorded.impact_ended.basis == "mitigated (recorded)"
    from_data = _inc1()
    assert from_data.mitigated.at is None  # the data's end of impact is Impact ended, never Mitigated
    assert from_data.span("ttm").seconds is None
    assert from_data.span("ttm").missing == "mitigated: not recorded"
    assert from_data.span("tta").missing == "acknowledged: not recorded"


def test_impact_end_falls_back_from_the_data_to_the_alerts_to_the_end_of_the_data() -> None:
    detected, until = _at("15:35"), _at("19:00")
    data = t.impact_end(detected, None, _at("17:55"), _at("18:30"), _at("18:40"), None, until)
    assert (data.at, data.basis.startswith("the scope's signals back to normal")) == (_at("17:55"), True)
    still = t.impact_end(detected, None, _at("20:00"), _at("18:30"), _at("18:40"), None, until)
    assert (still.at, still.basis) == (until, "the incident's end (the scope's signals still elevated then)")
    azure = t.impact_end(detected, None, None, _at("18:30"), _at("18:40"), None, until)
    assert (azure.at, azure.basis) == (_at("18:30"), "the first alert resolved (no series of the scope moved)")
    last = t.impact_end(detected, None, None, None, _at("18:40"), None, until)
    assert (last.at, last.basis) == (_at("18:40"), "the last alert resolved")
    going = t.impact_end(detected, None, None, None, None, None, until)
    assert (going.at, going.basis) == (until, t.NOT_YET)


def test_the_impact_window_is_never_empty() -> None:
    detected = _at("15:35")
    early = t.impact_end(detected, None, _at("15:30"), None, None, None, _at("19:00"))
    assert early.at == detected + t.STEP


def test_the_incident_record_alone_gives_the_spans_it_can_and_the_same_numbers() -> None:
    full = _inc1(acked=_at("15:39"), mitigated=_at("17:50"))
    alone = t.recorded_times(_at("15:35"), (_at("15:39"), "dana"), (_at("17:50"), "dana"),
                             (_at("07:00", 4), "sre-agent"), _at("08:00", 4))  # fmt: skip
    for key in ("tta", "ttr", "open"):
        assert alone.span(key).seconds == full.span(key).seconds, key
    for key in ("impact", "ttd", "ttm", "tail"):
        assert alone.span(key).seconds is None
        assert "post-mortem" in alone.span(key).missing
    unmitigated = t.recorded_times(_at("15:35"), (None, None), (None, None), (None, None), _at("16:00"))
    assert unmitigated.span("ttr").seconds is None
    assert unmitigated.span("open").missing == "resolved: the incident is not resolved"


def test_times_are_json_with_instants_in_utc() -> None:
    data = _inc1().to_json()
    assert data["stages"][0] == {"stage": "Started", "at": "2026-11-03T15:20:00Z",
                                 "basis": "p95 latency above twice its level a week earlier", "by": None}  # fmt: skip
    assert data["spans"]["ttr"]["minutes"] == 140.0
    assert data["spans"]["ttr"]["text"] == "2h 20m"
    assert data["spans"]["tta"]["minutes"] is None


def test_durations_and_ranges_read_at_human_scale() -> None:
    assert [human_duration(s) for s in (None, 0, 45, 900, 9300, 47100, 90000 + 300)] == [
        "—", "0 s", "45 s", "15 min", "2h 35m", "13h 05m", "1d 1h 05m"
    ]  # fmt: skip
    assert utc_range(_at("15:20"), _at("17:55")) == "2026-11-03 15:20 – 17:55 UTC"
    assert utc_range(_at("12:20"), _at("10:00", 4)) == "2026-11-03 12:20 – 2026-11-04 10:00 UTC"


def test_the_first_alert_is_the_earliest_then_the_most_severe_then_by_rule() -> None:
    """INC-4 of the demo: a budget's forecast (sev3), its burn rate (sev2) and the warehouse's credit burn (sev2)
    fire at the same minute; the first alert is a sev2, and of the two the one first by name; a later sev1 is not."""
    at = datetime(2026, 11, 5, 22, 30, tzinfo=UTC)
    later = datetime(2026, 11, 5, 22, 35, tzinfo=UTC)
    alerts = [
        (at, "sev3", "transform-wh-monthly"),
        (at, "sev2", "warehouse-credit-burn"),
        (later, "sev1", "account-monthly"),
        (at, "sev2", "transform-wh-monthly"),
    ]
    ordered = sorted(alerts, key=lambda a: t.firing_order(*a))
    assert ordered == [alerts[3], alerts[1], alerts[0], alerts[2]]
