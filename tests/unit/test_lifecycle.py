"""Unit tests of the per-instance alert state machine (``sre_agent.alerting.lifecycle.step``).

Conditions are fed at 1-minute steps from a fixed epoch; no wall clock is read. The first scenario is
the ``keep_firing_for`` example of the Prometheus docs as promtool would check it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from sre_agent.alerting.fingerprint import fingerprint
from sre_agent.alerting.lifecycle import Instance, RulePolicy, Transition, step
from sre_agent.config.specs import NoDataPolicy
from sre_agent.model import AlertState, Condition, ConditionState, EventKind, Severity

EPOCH = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
RULE = "warehouse-queueing"
LABELS = {"warehouse": "RISK_WH", "team": "data-platform"}

BREACH, OK, NO_DATA, STALE = ConditionState.BREACH, ConditionState.OK, ConditionState.NO_DATA, ConditionState.STALE


def at(minute: int) -> datetime:
    return EPOCH + timedelta(minutes=minute)


def cond(minute: int, state: ConditionState, severity: Severity | None = None, value: float | None = None) -> Condition:
    if state is BREACH and severity is None:
        severity = Severity.SEV3
    return Condition(RULE, LABELS, at(minute), state, severity, value, threshold=10.0)


def fresh() -> Instance:
    return Instance(fingerprint(RULE, LABELS), RULE, dict(LABELS))


@dataclass
class Run:
    """States after each minute and the transitions emitted at each minute."""

    states: dict[int, AlertState] = field(default_factory=dict)
    events: dict[int, list[EventKind]] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    final: Instance | None = None


def run(series: Callable[[int], Condition], minutes: range, policy: RulePolicy, inst: Instance | None = None) -> Run:
    """Step one instance through ``series(m)`` for each minute ``m``."""
    out = Run()
    inst = inst or fresh()
    for minute in minutes:
        inst, transitions = step(inst, series(minute), policy)
        out.states[minute] = inst.state
        if transitions:
            out.events[minute] = [t.kind for t in transitions]
            out.transitions.extend(transitions)
    out.final = inst
    return out


def breaching_between(first: int, last: int, severity: Severity = Severity.SEV3) -> Callable[[int], Condition]:
    return lambda m: cond(m, BREACH, severity) if first <= m <= last else cond(m, OK)


PROMTOOL = RulePolicy(for_=timedelta(minutes=10), keep_firing_for=timedelta(minutes=5))


# ---------------------------------------------------------------------------------------------- for / keep_firing_for


def test_promtool_keep_firing_for_example_fires_at_21m_and_resolves_at_32m() -> None:
    result = run(breaching_between(11, 26), range(41), PROMTOOL)

    assert result.events == {
        11: [EventKind.PENDING],
        21: [EventKind.FIRING],
        32: [EventKind.RESOLVED],
    }
    assert result.states[10] is AlertState.INACTIVE
    assert result.states[11] is AlertState.PENDING
    assert result.states[15] is AlertState.PENDING
    assert result.states[20] is AlertState.PENDING
    assert result.states[21] is AlertState.FIRING
    assert result.states[26] is AlertState.FIRING
    assert result.states[29] is AlertState.FIRING
    assert result.states[31] is AlertState.FIRING
    assert result.states[32] is AlertState.INACTIVE
    assert all(result.states[m] is AlertState.INACTIVE for m in range(32, 41))


def test_promtool_example_firing_and_resolve_carry_the_pending_start() -> None:
    result = run(breaching_between(11, 26), range(41), PROMTOOL)
    firing, resolved = (t for t in result.transitions if t.kind.notifies)

    assert (firing.at, firing.starts_at, firing.ends_at) == (at(21), at(11), None)
    assert firing.instance.fired_at == at(21)
    assert (resolved.at, resolved.starts_at, resolved.ends_at) == (at(32), at(11), at(32))
    assert resolved.instance.state is AlertState.INACTIVE
    assert resolved.instance.severity is Severity.SEV3


def test_without_for_the_first_breach_fires_immediately() -> None:
    result = run(breaching_between(3, 5), range(8), RulePolicy())

    assert result.events == {3: [EventKind.FIRING], 6: [EventKind.RESOLVED]}
    firing = result.transitions[0]
    assert (firing.starts_at, firing.instance.active_since, firing.instance.fired_at) == (at(3), at(3), at(3))
    assert firing.instance.severity is Severity.SEV3


def test_breach_that_clears_before_for_elapses_is_cancelled_and_never_fires() -> None:
    result = run(breaching_between(2, 10), range(20), PROMTOOL)

    assert result.events == {2: [EventKind.PENDING], 11: [EventKind.PENDING_CANCELLED]}
    cancelled = result.transitions[-1]
    assert (cancelled.starts_at, cancelled.ends_at) == (at(2), at(11))
    assert cancelled.instance.state is AlertState.INACTIVE
    assert result.final is not None
    assert result.final.active_since is None
    assert not any(t.kind.notifies for t in result.transitions)


def test_breach_held_exactly_for_fires_on_the_minute_for_is_reached() -> None:
    result = run(breaching_between(0, 10), range(12), RulePolicy(for_=timedelta(minutes=10)))

    assert result.events[0] == [EventKind.PENDING]
    assert result.events[10] == [EventKind.FIRING]
    assert 9 not in result.events


def test_without_keep_firing_for_the_first_clear_resolves() -> None:
    result = run(breaching_between(0, 4), range(7), RulePolicy())

    assert result.events == {0: [EventKind.FIRING], 5: [EventKind.RESOLVED]}


def test_a_new_breach_within_keep_firing_for_keeps_the_same_incident() -> None:
    policy = RulePolicy(keep_firing_for=timedelta(minutes=5))

    def flapping(m: int) -> Condition:
        return cond(m, BREACH) if m in (0, 1, 2, 5, 6) else cond(m, OK)

    result = run(flapping, range(15), policy)

    assert result.events == {0: [EventKind.FIRING], 12: [EventKind.RESOLVED]}
    assert result.transitions[-1].starts_at == at(0)


def test_after_resolving_a_new_breach_starts_a_new_incident_with_a_new_start() -> None:
    def twice(m: int) -> Condition:
        return cond(m, BREACH) if m in (1, 2, 10) else cond(m, OK)

    result = run(twice, range(13), RulePolicy())

    assert result.events == {
        1: [EventKind.FIRING],
        3: [EventKind.RESOLVED],
        10: [EventKind.FIRING],
        11: [EventKind.RESOLVED],
    }
    assert [t.starts_at for t in result.transitions] == [at(1), at(1), at(10), at(10)]


# ---------------------------------------------------------------------------------------------- severity changes


def test_escalation_while_firing_emits_one_escalated_event_on_the_same_incident() -> None:
    def series(m: int) -> Condition:
        if m >= 10:
            return cond(m, OK)
        return cond(m, BREACH, Severity.SEV3 if m < 5 else Severity.SEV2)

    result = run(series, range(12), RulePolicy())

    assert result.events == {0: [EventKind.FIRING], 5: [EventKind.ESCALATED], 10: [EventKind.RESOLVED]}
    fired, escalated, resolved = result.transitions
    assert escalated.instance.fingerprint == fired.instance.fingerprint == fingerprint(RULE, LABELS)
    assert escalated.instance.state is AlertState.FIRING
    assert escalated.instance.severity is Severity.SEV2
    assert escalated.starts_at == fired.starts_at == at(0)
    assert (escalated.instance.active_since, escalated.instance.fired_at) == (at(0), at(0))
    assert escalated.ends_at is None
    assert all(result.states[m] is AlertState.FIRING for m in range(10))
    assert resolved.instance.fingerprint == fired.instance.fingerprint
    assert (resolved.starts_at, resolved.instance.severity) == (at(0), Severity.SEV2)


def test_repeated_breaches_at_the_same_severity_emit_nothing_after_firing() -> None:
    result = run(lambda m: cond(m, BREACH, Severity.SEV2), range(30), RulePolicy())

    assert result.events == {0: [EventKind.FIRING]}


def test_deescalation_while_firing_emits_deescalated_and_stays_firing() -> None:
    def series(m: int) -> Condition:
        return cond(m, BREACH, Severity.SEV2 if m < 3 else Severity.SEV3)

    result = run(series, range(6), RulePolicy())

    assert result.events == {0: [EventKind.FIRING], 3: [EventKind.DEESCALATED]}
    deescalated = result.transitions[-1]
    assert deescalated.instance.state is AlertState.FIRING
    assert deescalated.instance.severity is Severity.SEV3
    assert deescalated.starts_at == at(0)


def test_returning_to_an_already_notified_severity_is_recorded_but_not_notified_again() -> None:
    """sev2 fires, drops to sev3, comes back to sev2 (reescalated, silent), then sev1 escalates (notified)."""

    def series(m: int) -> Condition:
        severity = Severity.SEV2 if m < 3 or 6 <= m < 9 else Severity.SEV3 if m < 6 else Severity.SEV1
        return cond(m, BREACH, severity)

    result = run(series, range(12), RulePolicy())

    assert result.events == {
        0: [EventKind.FIRING],
        3: [EventKind.DEESCALATED],
        6: [EventKind.REESCALATED],
        9: [EventKind.ESCALATED],
    }
    assert [t.kind.notifies for t in result.transitions] == [True, False, False, True]
    assert result.final is not None
    assert result.final.notified_severity is Severity.SEV1


def test_a_new_incident_after_a_resolve_notifies_its_severity_again() -> None:
    def series(m: int) -> Condition:
        return cond(m, BREACH, Severity.SEV2) if m < 2 or m >= 4 else cond(m, OK)

    result = run(series, range(6), RulePolicy())

    assert result.events == {0: [EventKind.FIRING], 2: [EventKind.RESOLVED], 4: [EventKind.FIRING]}
    assert result.transitions[1].instance.state is AlertState.INACTIVE


def test_severity_change_while_pending_is_silent_and_fires_at_the_latest_severity() -> None:
    def series(m: int) -> Condition:
        return cond(m, BREACH, Severity.SEV3 if m < 3 else Severity.SEV1)

    result = run(series, range(6), RulePolicy(for_=timedelta(minutes=5)))

    assert result.events == {0: [EventKind.PENDING], 5: [EventKind.FIRING]}
    assert result.transitions[-1].instance.severity is Severity.SEV1


@pytest.mark.parametrize(
    ("kind", "notifies"),
    [
        (EventKind.FIRING, True),
        (EventKind.ESCALATED, True),
        (EventKind.RESOLVED, True),
        (EventKind.PENDING, False),
        (EventKind.PENDING_CANCELLED, False),
        (EventKind.DEESCALATED, False),
        (EventKind.REESCALATED, False),
    ],
)
def test_only_firing_escalated_and_resolved_notify(kind: EventKind, notifies: bool) -> None:
    assert kind.notifies is notifies


def test_event_kind_list_is_covered_by_the_notify_table() -> None:
    assert {k for k in EventKind if k.notifies} == {EventKind.FIRING, EventKind.ESCALATED, EventKind.RESOLVED}


# ---------------------------------------------------------------------------------------------- stale and no data


def test_stale_conditions_never_resolve_a_firing_alert_during_a_source_outage() -> None:
    def outage(m: int) -> Condition:
        if m < 3:
            return cond(m, BREACH, value=50.0)
        return cond(m, STALE) if m < 60 else cond(m, BREACH, value=60.0)

    result = run(outage, range(62), RulePolicy(keep_firing_for=timedelta(minutes=5)))

    assert result.events == {0: [EventKind.FIRING]}
    assert all(result.states[m] is AlertState.FIRING for m in range(62))


def test_stale_condition_returns_the_instance_unchanged() -> None:
    firing, _ = step(fresh(), cond(0, BREACH, value=42.0), RulePolicy())

    after, transitions = step(firing, cond(30, STALE, value=99.0), RulePolicy())

    assert transitions == []
    assert after == firing
    assert after.last_eval_at == at(0)
    assert after.value == 42.0


def test_stale_conditions_do_not_advance_a_pending_alert() -> None:
    policy = RulePolicy(for_=timedelta(minutes=10))
    pending, _ = step(fresh(), cond(0, BREACH), policy)

    for minute in range(1, 30):
        after, transitions = step(pending, cond(minute, STALE), policy)
        assert transitions == []
        assert after == pending
    assert pending.state is AlertState.PENDING


def test_no_data_with_ok_policy_resolves_after_keep_firing_for() -> None:
    policy = RulePolicy(keep_firing_for=timedelta(minutes=5), on_no_data=NoDataPolicy.OK)

    def quiet(m: int) -> Condition:
        return cond(m, BREACH) if m < 3 else cond(m, NO_DATA)

    result = run(quiet, range(12), policy)

    assert result.events == {0: [EventKind.FIRING], 8: [EventKind.RESOLVED]}
    assert result.transitions[-1].ends_at == at(8)


def test_no_data_with_keep_last_policy_changes_nothing() -> None:
    policy = RulePolicy(keep_firing_for=timedelta(minutes=5), on_no_data=NoDataPolicy.KEEP_LAST)

    def quiet(m: int) -> Condition:
        return cond(m, BREACH) if m < 3 else cond(m, NO_DATA)

    result = run(quiet, range(60), policy)

    assert result.events == {0: [EventKind.FIRING]}
    assert result.final is not None
    assert result.final.last_eval_at == at(2)
    assert all(result.states[m] is AlertState.FIRING for m in range(60))


def test_keep_last_resolves_a_firing_alert_once_no_data_outlasts_the_timeout() -> None:
    """Traffic that stops after an incident (night falls) resolves the alert after no_data_timeout, not before."""
    policy = RulePolicy(keep_firing_for=timedelta(minutes=5), no_data_timeout=timedelta(minutes=10))

    def quiet(m: int) -> Condition:
        return cond(m, BREACH) if m < 3 else cond(m, NO_DATA)

    result = run(quiet, range(30), policy)

    assert policy.on_no_data is NoDataPolicy.KEEP_LAST
    assert result.events == {0: [EventKind.FIRING], 13: [EventKind.RESOLVED]}
    assert all(result.states[m] is AlertState.FIRING for m in range(13))


def test_keep_last_cancels_a_pending_alert_once_no_data_outlasts_the_timeout() -> None:
    policy = RulePolicy(for_=timedelta(minutes=30), no_data_timeout=timedelta(minutes=10))

    def quiet(m: int) -> Condition:
        return cond(m, BREACH) if m < 2 else cond(m, NO_DATA)

    result = run(quiet, range(20), policy)

    assert result.events == {0: [EventKind.PENDING], 12: [EventKind.PENDING_CANCELLED]}


def test_no_data_with_keep_last_policy_starts_nothing() -> None:
    policy = RulePolicy(on_no_data=NoDataPolicy.KEEP_LAST)

    result = run(lambda m: cond(m, NO_DATA), range(10), policy)

    assert result.events == {}
    assert result.final == fresh()


def test_no_data_with_alert_policy_breaches_at_the_no_data_severity() -> None:
    policy = RulePolicy(on_no_data=NoDataPolicy.ALERT, no_data_severity=Severity.SEV2)

    result = run(lambda m: cond(m, NO_DATA), range(3), policy)

    assert result.events == {0: [EventKind.FIRING]}
    assert result.transitions[0].instance.severity is Severity.SEV2


def test_no_data_with_alert_policy_honours_for() -> None:
    policy = RulePolicy(for_=timedelta(minutes=5), on_no_data=NoDataPolicy.ALERT)

    result = run(lambda m: cond(m, NO_DATA), range(7), policy)

    assert result.events == {0: [EventKind.PENDING], 5: [EventKind.FIRING]}
    assert result.transitions[-1].instance.severity is Severity.SEV4


def test_no_data_with_ok_policy_cancels_a_pending_alert() -> None:
    policy = RulePolicy(for_=timedelta(minutes=5), on_no_data=NoDataPolicy.OK)

    result = run(lambda m: cond(m, BREACH) if m < 2 else cond(m, NO_DATA), range(4), policy)

    assert result.events == {0: [EventKind.PENDING], 2: [EventKind.PENDING_CANCELLED]}


# ---------------------------------------------------------------------------------------------- bookkeeping


def test_resolve_carries_ends_at_and_the_time_it_became_active() -> None:
    policy = RulePolicy(for_=timedelta(minutes=3), keep_firing_for=timedelta(minutes=2))

    result = run(breaching_between(5, 12), range(20), policy)

    resolved = result.transitions[-1]
    assert resolved.kind is EventKind.RESOLVED
    assert resolved.at == resolved.ends_at == at(15)
    assert resolved.starts_at == at(5)
    assert resolved.instance.fired_at == at(8)
    assert result.final is not None
    assert (result.final.state, result.final.severity, result.final.active_since) == (AlertState.INACTIVE, None, None)


def test_step_records_the_latest_value_threshold_and_evidence() -> None:
    inst, _ = step(
        fresh(), Condition(RULE, LABELS, at(0), BREACH, Severity.SEV3, 12.5, 10.0, {"top": "q1"}), RulePolicy()
    )
    inst, _ = step(inst, Condition(RULE, LABELS, at(1), BREACH, Severity.SEV3, 13.5, 10.0), RulePolicy())

    assert (inst.value, inst.threshold, inst.last_eval_at, inst.last_true_at) == (13.5, 10.0, at(1), at(1))
    assert inst.evidence == {"top": "q1"}


def test_ok_while_inactive_emits_nothing() -> None:
    result = run(lambda m: cond(m, OK), range(5), PROMTOOL)

    assert result.events == {}
    assert result.final is not None
    assert result.final.state is AlertState.INACTIVE
    assert result.final.last_eval_at == at(4)
