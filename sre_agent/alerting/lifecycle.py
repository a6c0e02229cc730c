"""The per-instance alert state machine (Prometheus semantics: ``for``, ``keep_firing_for``).

inactive ─breach─▶ pending ─held for `for`─▶ firing ─clear for > keep_firing_for─▶ (resolved) inactive
                      └──────clear──────▶ inactive (pending cancelled, never notified)

A firing instance whose severity changes escalates or de-escalates in place: one incident, one key.
Only an escalation past every severity already notified in the incident notifies again; going back
up after a de-escalation (a page that cleared and returned) is recorded as ``reescalated``.
STALE conditions (the source is not delivering) change nothing: a Snowflake outage never resolves
or fires anything by itself. NO_DATA (too few events to judge) follows the rule's ``on_no_data``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sre_agent.config.specs import NoDataPolicy
from sre_agent.model import AlertState, Condition, ConditionState, EventKind, Labels, Severity


@dataclass(frozen=True)
class RulePolicy:
    """The timing and no-data behaviour of a rule, as the state machine needs it."""

    for_: timedelta = timedelta(0)
    keep_firing_for: timedelta = timedelta(0)
    on_no_data: NoDataPolicy = NoDataPolicy.KEEP_LAST
    no_data_severity: Severity = Severity.SEV4
    no_data_timeout: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class Instance:
    """State of one alert instance (rule + labels)."""

    fingerprint: str
    rule: str
    labels: Labels
    state: AlertState = AlertState.INACTIVE
    severity: Severity | None = None
    active_since: datetime | None = None
    fired_at: datetime | None = None
    last_true_at: datetime | None = None
    last_eval_at: datetime | None = None
    value: float | None = None
    threshold: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    notified_severity: Severity | None = None
    """The most severe severity receivers were told about in the current incident."""


@dataclass(frozen=True)
class Transition:
    """One state change, with the instance as it is after the change."""

    kind: EventKind
    at: datetime
    instance: Instance
    starts_at: datetime
    ends_at: datetime | None


def _effective(inst: Instance, cond: Condition, policy: RulePolicy) -> tuple[ConditionState, Severity | None]:
    if cond.state is ConditionState.NO_DATA:
        match policy.on_no_data:
            case NoDataPolicy.OK:
                return ConditionState.OK, None
            case NoDataPolicy.ALERT:
                return ConditionState.BREACH, policy.no_data_severity
            case NoDataPolicy.KEEP_LAST:
                expired = inst.last_true_at is not None and cond.at - inst.last_true_at > policy.no_data_timeout
                return (ConditionState.OK, None) if expired else (ConditionState.STALE, None)
    return cond.state, cond.severity


def step(inst: Instance, cond: Condition, policy: RulePolicy) -> tuple[Instance, list[Transition]]:
    """Advance ``inst`` by one evaluation ``cond``; return the new instance and its transitions."""
    at = cond.at
    state, severity = _effective(inst, cond, policy)
    if state is ConditionState.STALE:
        return inst, []
    observed = replace(
        inst,
        last_eval_at=at,
        value=cond.value,
        threshold=cond.threshold,
        evidence=cond.evidence or inst.evidence,
    )
    if state is ConditionState.BREACH:
        assert severity is not None
        return _on_breach(observed, at, severity, policy)
    return _on_clear(observed, at, policy)


def _on_breach(
    inst: Instance, at: datetime, severity: Severity, policy: RulePolicy
) -> tuple[Instance, list[Transition]]:
    inst = replace(inst, last_true_at=at)
    match inst.state:
        case AlertState.INACTIVE:
            if policy.for_ <= timedelta(0):
                fired = replace(
                    inst,
                    state=AlertState.FIRING,
                    severity=severity,
                    active_since=at,
                    fired_at=at,
                    notified_severity=severity,
                )
                return fired, [Transition(EventKind.FIRING, at, fired, at, None)]
            pending = replace(inst, state=AlertState.PENDING, severity=severity, active_since=at)
            return pending, [Transition(EventKind.PENDING, at, pending, at, None)]
        case AlertState.PENDING:
            assert inst.active_since is not None
            if at - inst.active_since >= policy.for_:
                fired = replace(
                    inst, state=AlertState.FIRING, severity=severity, fired_at=at, notified_severity=severity
                )
                return fired, [Transition(EventKind.FIRING, at, fired, inst.active_since, None)]
            return replace(inst, severity=severity), []
        case AlertState.FIRING:
            assert inst.severity is not None
            assert inst.active_since is not None
            if severity is inst.severity:
                return inst, []
            notified = inst.notified_severity or inst.severity
            if not severity.more_severe_than(inst.severity):
                kind = EventKind.DEESCALATED
            elif severity.more_severe_than(notified):
                kind, notified = EventKind.ESCALATED, severity
            else:  # back up to a severity receivers already have for this incident: nothing new to tell
                kind = EventKind.REESCALATED
            changed = replace(inst, severity=severity, notified_severity=notified)
            return changed, [Transition(kind, at, changed, inst.active_since, None)]
    raise AssertionError(f"unknown state {inst.state}")  # pragma: no cover


def _on_clear(inst: Instance, at: datetime, policy: RulePolicy) -> tuple[Instance, list[Transition]]:
    match inst.state:
        case AlertState.INACTIVE:
            return inst, []
        case AlertState.PENDING:
            assert inst.active_since is not None
            cleared = _reset(inst)
            return cleared, [
                Transition(
                    EventKind.PENDING_CANCELLED,
                    at,
                    replace(inst, state=AlertState.INACTIVE),
                    inst.active_since,
                    at,
                )
            ]
        case AlertState.FIRING:
            assert inst.last_true_at is not None
            assert inst.active_since is not None
            if at - inst.last_true_at <= policy.keep_firing_for:
                return inst, []
            resolved_view = replace(inst, state=AlertState.INACTIVE)
            return _reset(inst), [Transition(EventKind.RESOLVED, at, resolved_view, inst.active_since, at)]
    raise AssertionError(f"unknown state {inst.state}")  # pragma: no cover


def _reset(inst: Instance) -> Instance:
    return replace(
        inst, state=AlertState.INACTIVE, severity=None, active_since=None, fired_at=None, notified_severity=None
    )
