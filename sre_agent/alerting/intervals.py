"""Firing intervals of alerts from their recorded history: from the start of the condition to the resolve.

An interval carries what its alert's resolve stored (for an SLO alert, the budget its burn used), so that reports
and post-mortems show the figure the resolve notification gave.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sre_agent.model import AlertEvent, EventKind, Severity

INTERVAL_KINDS = (
    EventKind.FIRING,
    EventKind.ESCALATED,
    EventKind.DEESCALATED,
    EventKind.REESCALATED,
    EventKind.RESOLVED,
)
"""Alert events that open, change or close a firing interval (pending ones never notified anybody)."""


@dataclass
class FiringInterval:
    """One firing interval of an SLO's alert: from the start of its condition to its resolve (None: still firing)."""

    fingerprint: str
    rule: str
    labels: dict[str, str]
    start: datetime
    fired_at: datetime
    end: datetime | None
    peak_severity: Severity
    event_ids: list[int] = field(default_factory=list)
    budget_used: dict[str, Any] | None = None
    """What the alert's burn used of the SLO's budget (:class:`BudgetUse` JSON): stored by its resolve, or up to the
    report's instant while it fires."""
    evidence: dict[str, Any] = field(default_factory=dict, repr=False)
    """The evidence of its newest event (where its burn began, for a still firing alert)."""


def firing_intervals(events: list[AlertEvent]) -> list[FiringInterval]:
    """The firing intervals in ``events`` (oldest first, any number of alerts): a firing event opens one,
    escalations raise its peak severity, a resolve closes it (with the budget its burn used, when it stored one); an
    interval with no resolve is still firing."""
    open_: dict[str, FiringInterval] = {}
    out: list[FiringInterval] = []
    for e in sorted(events, key=lambda e: e.event_id):
        current = open_.get(e.fingerprint)
        if e.kind is EventKind.FIRING:
            current = FiringInterval(e.fingerprint, e.rule, dict(e.labels), e.starts_at, e.at, None, e.severity)
            open_[e.fingerprint] = current
            out.append(current)
        if current is None:
            continue  # its firing predates the history the store keeps
        current.event_ids.append(e.event_id)
        current.evidence = e.evidence
        if e.severity.more_severe_than(current.peak_severity) and e.kind is not EventKind.RESOLVED:
            current.peak_severity = e.severity
        if e.kind is EventKind.RESOLVED:
            current.end = e.ends_at or e.at
            current.budget_used = e.evidence.get("budget_used")
            del open_[e.fingerprint]
    return out
