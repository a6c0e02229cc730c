"""Domain types shared by the engine, alerting, sinks and reports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

Labels = dict[str, str]


class Severity(StrEnum):
    """Alert severity: sev0 is the most severe (maps 1:1 to Azure Monitor Sev0-Sev4)."""

    SEV0 = "sev0"
    SEV1 = "sev1"
    SEV2 = "sev2"
    SEV3 = "sev3"
    SEV4 = "sev4"

    @property
    def rank(self) -> int:
        """Higher is more severe (sev0 → 4, sev4 → 0)."""
        return 4 - int(self.value[-1])

    def more_severe_than(self, other: Severity) -> bool:
        """True when self outranks ``other``."""
        return self.rank > other.rank


class ConditionState(StrEnum):
    """What a rule concluded for one series at one instant."""

    BREACH = "breach"
    """The condition holds (at the severity given)."""
    OK = "ok"
    """Enough data, and the condition does not hold."""
    NO_DATA = "no_data"
    """The window is covered by polls but holds too few events to judge (quiet hours, min_events)."""
    STALE = "stale"
    """The source has not delivered data for this instant (failing or lagging): judge nothing."""


class AlertState(StrEnum):
    """Lifecycle state of one alert instance (Prometheus semantics)."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


class EventKind(StrEnum):
    """A recorded transition of an alert instance."""

    PENDING = "pending"
    PENDING_CANCELLED = "pending_cancelled"
    FIRING = "firing"
    ESCALATED = "escalated"
    DEESCALATED = "deescalated"
    REESCALATED = "reescalated"
    """Back up to a severity already notified in this incident (history only)."""
    RESOLVED = "resolved"

    @property
    def notifies(self) -> bool:
        """Whether receivers are told about this transition (pending states are history only)."""
        return self in (EventKind.FIRING, EventKind.ESCALATED, EventKind.RESOLVED)


@dataclass(frozen=True)
class Condition:
    """One evaluated condition: the input of the alert state machine for one instance at one instant."""

    rule: str
    labels: Labels
    at: datetime
    state: ConditionState
    severity: Severity | None = None
    value: float | None = None
    threshold: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertEvent:
    """One alert transition with everything a receiver or a post-mortem needs to explain it."""

    event_id: int
    fingerprint: str
    rule: str
    kind: EventKind
    severity: Severity
    labels: Labels
    annotations: dict[str, str]
    at: datetime
    starts_at: datetime
    ends_at: datetime | None
    value: float | None
    threshold: float | None
    evidence: dict[str, Any]
    origin: str = ""
    """Id of the state store that recorded the event (see Database.store_id)."""

    @property
    def dedup_key(self) -> str:
        """Idempotency key of this notification at every destination: store, alert, transition."""
        return (
            f"{self.origin}:{self.fingerprint}:{self.event_id}"
            if self.origin
            else f"{self.fingerprint}:{self.event_id}"
        )

    @property
    def status(self) -> str:
        """Receiver-facing status: ``firing`` or ``resolved``."""
        return "resolved" if self.kind is EventKind.RESOLVED else "firing"

    def to_record(self) -> dict[str, Any]:
        """Return the JSON-ready record written to JSONL, webhooks and the outbox."""
        return {
            "event_id": self.event_id,
            "fingerprint": self.fingerprint,
            "dedup_key": self.dedup_key,
            "rule": self.rule,
            "transition": self.kind.value,
            "status": self.status,
            "severity": self.severity.value,
            "labels": dict(sorted(self.labels.items())),
            "annotations": self.annotations,
            "at": iso(self.at),
            "starts_at": iso(self.starts_at),
            "ends_at": iso(self.ends_at) if self.ends_at else None,
            "value": self.value,
            "threshold": self.threshold,
            "evidence": self.evidence,
        }


def iso(instant: datetime) -> str:
    """Format an instant as ISO-8601 UTC with a ``Z`` suffix."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def from_epoch(seconds: float) -> datetime:
    """Return the UTC datetime for Unix ``seconds``."""
    return datetime.fromtimestamp(seconds, UTC)


def to_epoch(instant: datetime) -> int:
    """Return whole Unix seconds for a timezone-aware ``instant``."""
    return int(instant.timestamp())


def canonical_json(value: Any) -> str:
    """Serialise ``value`` deterministically (sorted keys, no spaces) for storage and hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
