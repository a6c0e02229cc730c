"""Unit tests of the notification layer, without I/O: label matchers, the route tree, inhibition, silences
(one-off and recurring on a New York wall clock across both DST changes) and notification groups.

Group timers are driven with explicit epoch seconds: ``T0`` is when the first alert of a group arrives;
the defaults are group_wait 30 s, group_interval 5 min and repeat_interval 4 h (Alertmanager's).
US DST in the window used here: clocks fall back on Sunday 2026-11-01 and spring forward on Sunday
2027-03-14, so 06:00 New York is 10:00Z before the first date, 11:00Z between them and 10:00Z after.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sre_agent.alerting.grouping import NEW, REPEAT, UPDATE, Flush, Group, Member, flush
from sre_agent.alerting.matchers import Matcher, MatchOp, alert_labels, matches_all, parse_matcher
from sre_agent.alerting.routing import Routing, build_routing, inhibited_by
from sre_agent.alerting.silences import Silence, from_doc, silenced_by
from sre_agent.config.routing import RoutingDoc, SilenceDoc
from sre_agent.config.time_windows import TimeWindow

T0 = 1_800_000_000
"""2027-01-15T08:00:00Z: the instant the first alert of a group is observed."""
SINKS = ["console", "alerts-file"]


# ---------------------------------------------------------------------------------------------- helpers


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def routing(route: dict[str, Any], inhibit_rules: list[dict[str, Any]] | None = None) -> Routing:
    doc = RoutingDoc.model_validate(
        {
            "apiVersion": "sre-agent/v1",
            "kind": "AlertRouting",
            "metadata": {"name": "test"},
            "spec": {"route": route, "inhibit_rules": inhibit_rules or []},
        }
    )
    return build_routing(doc, SINKS)


def silence_doc(name: str = "maintenance", **spec: Any) -> SilenceDoc:
    body: dict[str, Any] = {"matchers": ['warehouse="REPORTING_WH"'], "reason": "weekly recluster", "author": "me"}
    body.update(spec)
    return SilenceDoc.model_validate(
        {"apiVersion": "sre-agent/v1", "kind": "Silence", "metadata": {"name": name}, "spec": body}
    )


def labels(rule: str = "warehouse-queueing", severity: str = "sev2", **extra: str) -> dict[str, str]:
    return alert_labels(rule, extra, severity)


def new_group(*, wait: int = 30, interval: int = 300, repeat: int = 14400, at: int = T0) -> Group:
    """A group as the dispatcher opens it when its first alert arrives at ``at``."""
    return Group(
        "console",
        "root/0123456789ab",
        "root",
        {"rule": "warehouse-queueing"},
        wait,
        interval,
        repeat,
        created_at=at,
        next_flush_at=at + wait,
    )


def member(fp: str, transition: str = "firing", severity: str = "sev2", event_id: int = 1) -> Member:
    status = "resolved" if transition == "resolved" else "firing"
    return Member(
        fp,
        "warehouse-queueing",
        status,
        severity,
        labels(severity=severity, warehouse="RISK_WH"),
        {"event_id": event_id, "transition": transition, "severity": severity},
    )


def fire(group: Group, fp: str, event_id: int = 1, severity: str = "sev2") -> None:
    group.observe(member(fp, "firing", severity, event_id), resolved=False, notify=True)


def resolve(group: Group, fp: str, event_id: int = 2) -> None:
    group.observe(member(fp, "resolved", event_id=event_id), resolved=True, notify=True)


def never(_: Member) -> str | None:
    return None


def sent(done: Flush | None) -> list[tuple[str, str, str]]:
    """(fingerprint, status, transition) of each record a flush sends."""
    assert done is not None
    return [(m.fingerprint, m.status, m.record["transition"]) for m in done.members]


# ---------------------------------------------------------------------------------------------- matchers


@pytest.mark.parametrize(
    ("text", "alert", "expected"),
    [
        pytest.param('warehouse="RISK_WH"', {"warehouse": "RISK_WH"}, True, id="eq"),
        pytest.param('warehouse="RISK_WH"', {"warehouse": "RISK_WH2"}, False, id="eq-other"),
        pytest.param('warehouse!="RISK_WH"', {"warehouse": "INGEST_WH"}, True, id="ne"),
        pytest.param('warehouse!="RISK_WH"', {"warehouse": "RISK_WH"}, False, id="ne-same"),
        pytest.param('warehouse=~"RISK.*"', {"warehouse": "RISK_WH"}, True, id="re"),
        pytest.param('warehouse=~"RISK.*"', {"warehouse": "X_RISK_WH"}, False, id="re-anchored-start"),
        pytest.param('warehouse=~"RISK"', {"warehouse": "RISK_WH"}, False, id="re-anchored-end"),
        pytest.param('severity=~"sev1|sev2"', {"severity": "sev2"}, True, id="re-alternation-whole-value"),
        pytest.param('severity=~"sev1|sev2"', {"severity": "sev21"}, False, id="re-alternation-anchored"),
        pytest.param('warehouse!~"RISK.*"', {"warehouse": "INGEST_WH"}, True, id="nre"),
        pytest.param('warehouse!~"RISK.*"', {"warehouse": "RISK_WH"}, False, id="nre-match"),
        pytest.param('team=""', {"warehouse": "RISK_WH"}, True, id="missing-is-empty"),
        pytest.param('team!=""', {"warehouse": "RISK_WH"}, False, id="missing-is-not-set"),
        pytest.param('team=~".*"', {}, True, id="missing-matches-dot-star"),
        pytest.param('team=~".+"', {}, False, id="missing-fails-dot-plus"),
        pytest.param('team!~"sre"', {}, True, id="missing-nre"),
        pytest.param("warehouse=RISK_WH", {"warehouse": "RISK_WH"}, True, id="unquoted"),
        pytest.param('  warehouse  =~  "RISK_WH"  ', {"warehouse": "RISK_WH"}, True, id="spaces"),
    ],
)
def test_matcher_semantics(text: str, alert: dict[str, str], expected: bool) -> None:
    assert parse_matcher(text).matches(alert) is expected


def test_parsed_matcher_renders_back_in_canonical_quoted_form() -> None:
    matcher = parse_matcher(" severity =~ sev1|sev2 ")

    assert (matcher.name, matcher.op, matcher.value) == ("severity", MatchOp.RE, "sev1|sev2")
    assert str(matcher) == 'severity=~"sev1|sev2"'


@pytest.mark.parametrize("value", ['say "hi"', "C:\\path\\", '\\"', 'a\\"b', "plain"])
def test_quotes_and_backslashes_survive_a_render_and_parse_round_trip(value: str) -> None:
    """CLI silences are stored as rendered matchers and parsed again by the daemon."""
    text = str(Matcher("note", MatchOp.EQ, value))

    assert parse_matcher(text).value == value


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("warehouse", "is not a matcher", id="no-operator"),
        pytest.param('="RISK_WH"', "is not a matcher", id="no-name"),
        pytest.param('1warehouse="x"', "is not a matcher", id="bad-name"),
        pytest.param(
            'warehouse=~"RISK_(WH"',
            "invalid regex (RE2): missing ): RISK_(WH",
            id="bad-regex",
        ),
        pytest.param(
            'warehouse!~"*"',
            "invalid regex (RE2): no argument for repetition operator: *",
            id="bad-negative-regex",
        ),
        pytest.param('warehouse="RISK_WH', "unbalanced quotes", id="unbalanced"),
    ],
)
def test_bad_matcher_is_rejected_with_the_text_and_the_reason(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)) as caught:
        parse_matcher(text)

    assert str(caught.value).startswith(repr(text))


def test_alert_labels_add_rule_alertname_and_severity() -> None:
    assert alert_labels("warehouse-queueing", {"warehouse": "RISK_WH"}, "sev2") == {
        "warehouse": "RISK_WH",
        "rule": "warehouse-queueing",
        "alertname": "warehouse-queueing",
        "severity": "sev2",
    }
    assert alert_labels("r", {}, None)["severity"] == ""


def test_matches_all_needs_every_matcher_and_an_empty_list_matches_everything() -> None:
    both = [parse_matcher('rule="warehouse-queueing"'), parse_matcher('warehouse=~"RISK.*"')]
    alert = labels(warehouse="RISK_WH")

    assert matches_all(both, alert)
    assert not matches_all(both, {**alert, "warehouse": "INGEST_WH"})
    assert matches_all([], {})


# ---------------------------------------------------------------------------------------------- route tree

SHIPPED_LIKE = {
    "receiver": "alerts-file",
    "group_by": ["rule", "warehouse"],
    "routes": [
        {"matchers": ['severity=~"sev1|sev2"'], "receiver": "console", "continue": True},
        {"matchers": ['severity=~"sev3|sev4"'], "receiver": "alerts-file", "repeat_interval": "24h"},
        {"receiver": "alerts-file"},
    ],
}


def test_continue_delivers_a_page_to_the_console_and_to_the_next_matching_route() -> None:
    tree = routing(SHIPPED_LIKE)

    found = tree.destinations(labels(severity="sev2", warehouse="RISK_WH"))

    assert [(r.path, r.receivers) for r in found] == [("root.0", ("console",)), ("root.2", ("alerts-file",))]


def test_first_matching_route_wins_without_continue() -> None:
    tree = routing(SHIPPED_LIKE)

    found = tree.destinations(labels(severity="sev3", warehouse="RISK_WH"))

    assert [r.path for r in found] == ["root.1"], "the catch-all after it is not reached"
    assert found[0].repeat_interval_s == 24 * 3600


def test_alert_no_child_takes_stays_at_the_parent() -> None:
    tree = routing({"receiver": "alerts-file", "routes": [{"matchers": ['severity="sev1"'], "receiver": "console"}]})

    found = tree.destinations(labels(severity="sev4"))

    assert [(r.path, r.receivers) for r in found] == [("root", ("alerts-file",))]


def test_continue_on_the_only_match_still_ends_at_that_route_not_the_parent() -> None:
    tree = routing(
        {
            "receiver": "alerts-file",
            "routes": [
                {"matchers": ['severity="sev1"'], "receiver": "console", "continue": True},
                {"matchers": ['warehouse="NOPE"'], "receiver": "alerts-file"},
            ],
        }
    )

    assert [r.path for r in tree.destinations(labels(severity="sev1"))] == ["root.0"]


def test_nested_routes_inherit_receiver_group_by_and_timers_and_the_deepest_match_wins() -> None:
    tree = routing(
        {
            "receiver": "console",
            "group_by": ["rule"],
            "group_wait": "10s",
            "group_interval": "1m",
            "repeat_interval": "1h",
            "routes": [
                {
                    "matchers": ['warehouse=~"RISK.*"'],
                    "group_wait": "0s",
                    "routes": [{"matchers": ['severity="sev1"'], "receiver": "alerts-file", "group_by": ["..."]}],
                }
            ],
        }
    )

    risk_sev2, risk_sev1 = (tree.destinations(labels(severity=s, warehouse="RISK_WH")) for s in ("sev2", "sev1"))

    assert len(risk_sev2) == 1
    mid = risk_sev2[0]
    assert (mid.path, mid.receivers, mid.group_by) == ("root.0", ("console",), ("rule",))
    assert (mid.group_wait_s, mid.group_interval_s, mid.repeat_interval_s) == (0, 60, 3600)
    assert len(risk_sev1) == 1
    leaf = risk_sev1[0]
    assert (leaf.path, leaf.receivers, leaf.group_by) == ("root.0.0", ("alerts-file",), ("...",))
    assert (leaf.group_wait_s, leaf.group_interval_s, leaf.repeat_interval_s) == (0, 60, 3600)
    assert tree.receivers == {"console", "alerts-file"}


def test_without_a_routing_document_every_alert_goes_to_every_sink_on_default_timers() -> None:
    tree = build_routing(None, SINKS)

    found = tree.destinations(labels(severity="sev4", warehouse="RISK_WH"))

    assert len(found) == 1
    root = found[0]
    assert root.receivers == ("console", "alerts-file")
    assert root.group_by == ("rule", "warehouse", "database")
    assert (root.group_wait_s, root.group_interval_s, root.repeat_interval_s) == (30, 300, 4 * 3600)
    assert tree.inhibit_rules == ()


def test_root_timers_default_when_the_document_leaves_them_out() -> None:
    root = routing({"receiver": "console"}).root

    assert (root.group_wait_s, root.group_interval_s, root.repeat_interval_s) == (30, 300, 14400)
    assert root.group_by == ("rule", "warehouse", "database")


def test_group_key_splits_by_group_by_labels_but_not_by_severity_or_other_labels() -> None:
    root = build_routing(None, SINKS).root
    risk = labels(severity="sev2", warehouse="RISK_WH", service="risk-engine")

    assert root.group_labels(risk) == {"rule": "warehouse-queueing", "warehouse": "RISK_WH"}, "database is absent"
    assert root.group_key(risk) == root.group_key({**risk, "severity": "sev3", "service": "other"})
    assert root.group_key(risk) != root.group_key({**risk, "warehouse": "INGEST_WH"})
    assert root.group_key(risk) != root.group_key({**risk, "rule": "other-rule", "alertname": "other-rule"})
    assert root.group_key(risk).startswith("root/")


def test_same_labels_on_two_routes_are_two_groups() -> None:
    tree = routing(SHIPPED_LIKE)
    page = labels(severity="sev1", warehouse="RISK_WH")

    console_route, file_route = tree.destinations(page)

    assert console_route.group_key(page) != file_route.group_key(page)


def test_group_by_all_labels_groups_by_everything_but_severity() -> None:
    tree = routing({"receiver": "console", "group_by": ["..."]})
    alert = labels(severity="sev2", warehouse="RISK_WH")

    assert tree.root.group_labels(alert) == {
        "alertname": "warehouse-queueing",
        "rule": "warehouse-queueing",
        "warehouse": "RISK_WH",
    }
    assert tree.root.group_key(alert) == tree.root.group_key({**alert, "severity": "sev1"})
    assert tree.root.group_key(alert) != tree.root.group_key({**alert, "service": "risk-engine"})


# ---------------------------------------------------------------------------------------------- inhibition

INHIBIT = [
    {
        "source_matchers": ['rule="warehouse-queueing"', 'severity="sev2"'],
        "target_matchers": ['rule=~"risk-engine-latency-p95|dashboard-latency-p95"'],
        "equal": ["warehouse"],
    }
]


def test_a_firing_source_inhibits_targets_with_the_same_equal_labels_only() -> None:
    tree = routing({"receiver": "console"}, INHIBIT)
    queueing = labels("warehouse-queueing", "sev2", warehouse="RISK_WH")
    latency_risk = labels("risk-engine-latency-p95", "sev3", warehouse="RISK_WH")
    latency_ingest = labels("risk-engine-latency-p95", "sev3", warehouse="INGEST_WH")

    assert inhibited_by(tree, "lat1", latency_risk, {"q1": queueing}) == "q1"
    assert inhibited_by(tree, "lat2", latency_ingest, {"q1": queueing}) is None, "other warehouse"
    assert inhibited_by(tree, "lat1", latency_risk, {}) is None, "nothing firing"


def test_a_source_at_another_severity_does_not_inhibit() -> None:
    tree = routing({"receiver": "console"}, INHIBIT)
    queueing_sev3 = labels("warehouse-queueing", "sev3", warehouse="RISK_WH")
    latency = labels("dashboard-latency-p95", "sev3", warehouse="RISK_WH")

    assert inhibited_by(tree, "lat", latency, {"q": queueing_sev3}) is None


def test_a_non_target_is_never_inhibited() -> None:
    tree = routing({"receiver": "console"}, INHIBIT)
    queueing = labels("warehouse-queueing", "sev2", warehouse="RISK_WH")
    credits = labels("warehouse-credit-burn", "sev3", warehouse="RISK_WH")

    assert inhibited_by(tree, "c", credits, {"q": queueing}) is None


def test_an_alert_never_inhibits_itself_but_a_twin_can() -> None:
    tree = routing(
        {"receiver": "console"},
        [{"source_matchers": ['severity="sev1"'], "target_matchers": ['warehouse=~"RISK.*"'], "equal": ["warehouse"]}],
    )
    page = labels("warehouse-queueing", "sev1", warehouse="RISK_WH")

    assert inhibited_by(tree, "self", page, {"self": page}) is None
    assert inhibited_by(tree, "self", page, {"self": page, "twin": page}) == "twin"


def test_equal_label_missing_on_both_alerts_counts_as_equal() -> None:
    tree = routing({"receiver": "console"}, INHIBIT)
    queueing = labels("warehouse-queueing", "sev2")
    latency = labels("risk-engine-latency-p95", "sev3")
    latency_elsewhere = labels("risk-engine-latency-p95", "sev3", warehouse="RISK_WH")

    assert inhibited_by(tree, "lat", latency, {"q": queueing}) == "q"
    assert inhibited_by(tree, "lat", latency_elsewhere, {"q": queueing}) is None


# ---------------------------------------------------------------------------------------------- silences


def test_one_off_silence_mutes_matching_alerts_from_start_inclusive_to_end_exclusive() -> None:
    silence = from_doc(
        silence_doc(
            "rebuild", matchers=['warehouse="RISK_WH"'], start="2026-11-25T20:00:00Z", end="2026-11-25T22:00:00Z"
        ),
        "rules/silences.yaml",
    )
    risk = labels(warehouse="RISK_WH")

    assert (silence.id, silence.source, silence.reason, silence.author) == (
        "git:rebuild",
        "rules/silences.yaml",
        "weekly recluster",
        "me",
    )
    assert silence.ends_at == utc(2026, 11, 25, 22)
    assert not silence.applies(risk, utc(2026, 11, 25, 19, 59, 59))
    assert silence.applies(risk, utc(2026, 11, 25, 20))
    assert silence.applies(risk, utc(2026, 11, 25, 21, 59, 59))
    assert not silence.applies(risk, utc(2026, 11, 25, 22))
    assert not silence.applies(labels(warehouse="INGEST_WH"), utc(2026, 11, 25, 21))


def test_one_off_silence_in_a_time_zone_reads_naive_times_on_that_wall_clock() -> None:
    silence = from_doc(
        silence_doc(start="2026-11-25T17:00:00", end="2026-11-25T18:00:00", time_zone="America/New_York"), "f"
    )
    reporting = labels(warehouse="REPORTING_WH")

    assert silence.ends_at == utc(2026, 11, 25, 23), "18:00 EST is 23:00Z"
    assert not silence.applies(reporting, utc(2026, 11, 25, 17, 30))
    assert silence.applies(reporting, utc(2026, 11, 25, 22, 30))


@pytest.fixture
def saturday_rebuild() -> Silence:
    """06:00-10:00 New York every Saturday from 2026-10-31 (still EDT) to 2027-03-20 (EDT again)."""
    return from_doc(
        silence_doc(
            rrule="FREQ=WEEKLY;BYDAY=SA;UNTIL=20270321T000000Z",
            start="2026-10-31T06:00:00",
            duration="4h",
            time_zone="America/New_York",
        ),
        "rules/silences.yaml",
    )


@pytest.mark.parametrize(
    ("at", "active"),
    [
        pytest.param(utc(2026, 10, 31, 9, 59, 59), False, id="EDT-before"),
        pytest.param(utc(2026, 10, 31, 10), True, id="EDT-06:00-is-10Z"),
        pytest.param(utc(2026, 10, 31, 13, 59, 59), True, id="EDT-last-second"),
        pytest.param(utc(2026, 10, 31, 14), False, id="EDT-end-exclusive"),
        pytest.param(utc(2026, 11, 7, 10, 30), False, id="EST-10:30Z-is-05:30-local"),
        pytest.param(utc(2026, 11, 7, 11), True, id="EST-06:00-is-11Z"),
        pytest.param(utc(2026, 11, 7, 14, 30), True, id="EST-09:30-local"),
        pytest.param(utc(2026, 11, 7, 15), False, id="EST-end"),
        pytest.param(utc(2026, 11, 8, 11), False, id="sunday"),
        pytest.param(utc(2027, 3, 13, 11), True, id="last-EST-saturday"),
        pytest.param(utc(2027, 3, 20, 10), True, id="EDT-again-06:00-is-10Z"),
        pytest.param(utc(2027, 3, 20, 14, 30), False, id="EDT-again-10:30-local"),
        pytest.param(utc(2027, 3, 27, 11), False, id="after-until"),
    ],
)
def test_recurring_silence_follows_the_new_york_wall_clock_across_dst(
    saturday_rebuild: Silence, at: datetime, active: bool
) -> None:
    assert saturday_rebuild.applies(labels(warehouse="REPORTING_WH"), at) is active


def test_recurring_silence_lists_its_occurrences_in_utc_and_expires_after_the_last(saturday_rebuild: Silence) -> None:
    window = saturday_rebuild.window

    around_fall_back = window.occurrences(utc(2026, 10, 30), utc(2026, 11, 9))
    around_spring_forward = window.occurrences(utc(2027, 3, 12), utc(2027, 3, 31))

    assert around_fall_back == [
        (utc(2026, 10, 31, 10), utc(2026, 10, 31, 14)),
        (utc(2026, 11, 7, 11), utc(2026, 11, 7, 15)),
    ]
    assert around_spring_forward == [
        (utc(2027, 3, 13, 11), utc(2027, 3, 13, 15)),
        (utc(2027, 3, 20, 10), utc(2027, 3, 20, 14)),
    ]
    assert saturday_rebuild.ends_at == utc(2027, 3, 20, 14)


def test_daily_silence_with_count_keeps_19_00_local_across_the_fall_back_night() -> None:
    window = TimeWindow(
        start=datetime(2026, 10, 31, 19),
        rrule="FREQ=DAILY;COUNT=3",
        duration=timedelta(hours=1),
        time_zone="America/New_York",
    )

    assert [lo for lo, _ in window.occurrences(utc(2026, 10, 1), utc(2026, 12, 1))] == [
        utc(2026, 10, 31, 23),
        utc(2026, 11, 2, 0),
        utc(2026, 11, 3, 0),
    ]
    assert window.expires_at() == utc(2026, 11, 3, 1)


def test_silenced_by_returns_the_first_silence_that_mutes_the_alert(saturday_rebuild: Silence) -> None:
    everything_reporting = from_doc(
        silence_doc("all-day", start="2026-11-07T00:00:00Z", end="2026-11-08T00:00:00Z"), "f"
    )
    reporting = labels(warehouse="REPORTING_WH")

    assert silenced_by([everything_reporting, saturday_rebuild], reporting, utc(2026, 11, 7, 12)) == "git:all-day"
    assert silenced_by([saturday_rebuild, everything_reporting], reporting, utc(2026, 11, 7, 12)) == "git:maintenance"
    assert silenced_by([saturday_rebuild, everything_reporting], reporting, utc(2026, 11, 7, 20)) == "git:all-day"
    assert silenced_by([saturday_rebuild], reporting, utc(2026, 11, 7, 20)) is None
    assert silenced_by([saturday_rebuild], labels(warehouse="RISK_WH"), utc(2026, 11, 7, 12)) is None
    assert silenced_by([], reporting, utc(2026, 11, 7, 12)) is None


# ---------------------------------------------------------------------------------------------- grouping


def test_group_wait_delays_the_first_notification_and_sends_companions_together() -> None:
    group = new_group()
    fire(group, "a")

    assert flush(group, T0 + 29, never) is None
    fire(group, "b")  # arrives inside the wait (T0 + 29)
    first = flush(group, T0 + 30, never)

    assert first is not None
    assert (first.reason, first.seq, first.at) == (NEW, 1, T0 + 30)
    assert sent(first) == [("a", "firing", "firing"), ("b", "firing", "firing")]
    assert first.held == []
    assert group.next_flush_at == T0 + 330
    assert all(m.notified and not m.changed for m in group.members.values())


def test_flush_before_its_timer_changes_nothing() -> None:
    group = new_group()
    fire(group, "a")

    assert flush(group, T0 + 10, never) is None
    assert group.next_flush_at == T0 + 30
    assert group.seq == 0


def test_alert_resolving_inside_group_wait_is_never_sent() -> None:
    group = new_group()
    fire(group, "a")
    resolve(group, "a")  # at T0 + 10

    assert group.members == {}
    assert flush(group, T0 + 30, never) is None
    assert group.seq == 0


def test_group_interval_batches_changes_after_the_first_notification() -> None:
    group = new_group()
    fire(group, "a")
    flush(group, T0 + 30, never)

    fire(group, "b")  # T0 + 60
    assert flush(group, T0 + 100, never) is None, "not due before T0 + 330"
    fire(group, "c")  # T0 + 200
    resolve(group, "a")  # T0 + 250
    second = flush(group, T0 + 330, never)

    assert second is not None
    assert (second.reason, second.seq) == (UPDATE, 2)
    assert sent(second) == [("a", "resolved", "resolved"), ("b", "firing", "firing"), ("c", "firing", "firing")]
    assert set(group.members) == {"b", "c"}, "a resolved member leaves the group once its resolve is sent"
    assert group.next_flush_at == T0 + 630
    assert flush(group, T0 + 630, never) is None, "nothing changed, repeat_interval not reached"


def test_repeat_interval_resends_firing_alerts_when_nothing_changed() -> None:
    group = new_group()
    fire(group, "a")
    flush(group, T0 + 30, never)

    flushes = [(at, flush(group, at, never)) for at in range(T0 + 330, T0 + 30 + 2 * 14400 + 1, 300)]
    repeats = [(at, done) for at, done in flushes if done is not None]

    assert [at for at, _ in repeats] == [T0 + 30 + 14400, T0 + 30 + 2 * 14400]
    for _, done in repeats:
        assert done is not None
        assert done.reason == REPEAT
        assert sent(done) == [("a", "firing", "firing")]
    assert [done.seq for _, done in repeats if done is not None] == [2, 3]


def test_each_alert_keeps_its_own_repeat_timer_so_a_busy_group_does_not_starve_it() -> None:
    """a was last told at T0+30 and b at T0+12030: a is repeated 4 h after its own notification although b
    changed meanwhile, and b 4 h after its own (Alertmanager would resend the whole group on b's change)."""
    group = new_group()
    fire(group, "a")
    flush(group, T0 + 30, never)
    fire(group, "b")
    update = flush(group, T0 + 30 + 300 * 40, never)  # T0 + 12030: sends b

    assert update is not None
    assert sent(update) == [("b", "firing", "firing")]
    a_due = flush(group, T0 + 30 + 14400, never)
    assert a_due is not None
    assert a_due.reason == REPEAT
    assert sent(a_due) == [("a", "firing", "firing")]
    assert flush(group, T0 + 12030 + 14400 - 300, never) is None, "b's own 4 h are not over"
    b_due = flush(group, T0 + 12030 + 14400, never)
    assert b_due is not None
    assert sent(b_due) == [("b", "firing", "firing")]


def test_escalation_before_the_first_notification_is_sent_as_firing_at_the_new_severity() -> None:
    group = new_group()
    fire(group, "a", event_id=1, severity="sev3")
    group.observe(member("a", "escalated", "sev1", event_id=2), resolved=False, notify=True)

    first = flush(group, T0 + 30, never)

    assert first is not None
    assert [(m.severity, m.record["transition"], m.record["event_id"]) for m in first.members] == [
        ("sev1", "firing", 2)
    ]


def test_escalation_after_notification_is_an_update_but_a_silent_deescalation_is_not() -> None:
    group = new_group()
    fire(group, "a", severity="sev2")
    flush(group, T0 + 30, never)

    group.observe(member("a", "deescalated", "sev3", event_id=2), resolved=False, notify=False)
    assert flush(group, T0 + 330, never) is None
    group.observe(member("a", "escalated", "sev1", event_id=3), resolved=False, notify=True)
    escalated = flush(group, T0 + 630, never)

    assert escalated is not None
    assert escalated.reason == UPDATE
    assert [(m.severity, m.record["transition"]) for m in escalated.members] == [("sev1", "escalated")]


def test_a_muted_alert_is_held_once_and_sent_when_the_hold_ends() -> None:
    group = new_group()
    fire(group, "a")
    muted = True

    def hold(_: Member) -> str | None:
        return "silenced by git:maintenance" if muted else None

    first = flush(group, T0 + 30, hold)
    assert first is not None
    assert (first.members, [m.fingerprint for m in first.held]) == ([], ["a"])
    assert first.seq == 0, "nothing was sent"
    assert group.members["a"].held == "silenced by git:maintenance"
    assert flush(group, T0 + 330, hold) is None, "the hold is recorded once, not at every tick"

    muted = False
    released = flush(group, T0 + 630, hold)

    assert released is not None
    assert (released.reason, released.seq) == (NEW, 1)
    assert sent(released) == [("a", "firing", "firing")]
    assert group.members["a"].held is None


def test_a_held_alert_is_not_repeated() -> None:
    group = new_group(repeat=600)
    fire(group, "a")
    flush(group, T0 + 30, never)

    def inhibited(_: Member) -> str:
        return "inhibited by q1"

    assert flush(group, T0 + 330, inhibited) is None
    assert flush(group, T0 + 630, inhibited) is None, "repeat is due (600 s) but the alert is muted"
    repeat = flush(group, T0 + 930, never)
    assert repeat is not None
    assert repeat.reason == REPEAT


def test_a_muted_alert_that_resolves_before_being_sent_is_never_sent() -> None:
    group = new_group()
    fire(group, "a")
    flush(group, T0 + 30, lambda _: "silenced by abc")
    resolve(group, "a")

    assert group.members == {}
    assert flush(group, T0 + 330, never) is None


def test_resolve_reaches_a_receiver_told_of_the_alert_even_while_silenced() -> None:
    group = new_group()
    fire(group, "a")
    flush(group, T0 + 30, never)
    resolve(group, "a")

    done = flush(group, T0 + 330, lambda _: "silenced by abc")

    assert done is not None
    assert sent(done) == [("a", "resolved", "resolved")]
    assert done.held == []
    assert group.members == {}


def test_resolve_after_a_flap_inside_one_group_interval_still_reaches_the_receiver() -> None:
    """Told ``a`` fired; ``a`` then resolves, fires again and resolves again before the next tick.
    The receiver still believes ``a`` fires, so the next notification must carry its resolve."""
    group = new_group()
    fire(group, "a", event_id=1)
    flush(group, T0 + 30, never)
    resolve(group, "a", event_id=2)  # T0 + 100
    fire(group, "a", event_id=3)  # T0 + 160
    resolve(group, "a", event_id=4)  # T0 + 220

    done = flush(group, T0 + 330, never)

    assert done is not None, "the receiver was told a fired and never hears it resolved"
    assert sent(done) == [("a", "resolved", "resolved")]


def test_group_state_survives_a_json_round_trip_with_its_timers() -> None:
    group = new_group()
    fire(group, "a")
    flush(group, T0 + 30, never)
    fire(group, "b")

    restored = Group.from_json(group.to_json())

    assert restored == group
    assert flush(restored, T0 + 329, never) is None
    done = flush(restored, T0 + 330, never)
    assert done is not None
    assert (done.reason, done.seq, sent(done)) == (UPDATE, 2, [("b", "firing", "firing")])


def test_regex_matchers_are_linear_time_re2_a_backtracking_pattern_meets_a_hostile_value_at_once() -> None:
    """``(x+x+)+y`` against 64 x's takes 2^64 steps in a backtracking engine; RE2 answers in linear time."""
    matcher = parse_matcher('service=~"(x+x+)+y"')
    assert not matcher.matches({"service": "x" * 64})
    assert matcher.matches({"service": "xxy"})
    assert parse_matcher('service!~"(x+x+)+y"').matches({"service": "x" * 10_000})


@pytest.mark.parametrize(
    "pattern", ["(a)\\1", "risk(?=-engine)", "(?<!x)y"], ids=["backreference", "lookahead", "lookbehind"]
)
def test_what_re2_cannot_match_in_linear_time_is_refused_with_the_parsers_reason(pattern: str) -> None:
    with pytest.raises(ValueError, match="invalid regex \\(RE2\\)"):
        parse_matcher(f'service=~"{pattern}"')
