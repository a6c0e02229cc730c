"""Score alerts against the ground truth of scripted incidents: what was caught, how fast, what was noise."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sre_agent.figures.incident_times import firing_order
from sre_agent.model import AlertEvent, EventKind
from sre_agent.simulate.incidents import Incident

MATCH_LABELS = ("warehouse", "service", "domain", "resource")


@dataclass
class Detection:
    """The first alert that caught an incident."""

    rule: str
    fingerprint: str
    severity: str
    at: datetime
    labels: dict[str, str]


@dataclass
class IncidentScore:
    """Outcome for one incident."""

    incident: Incident
    detections: list[Detection] = field(default_factory=list)

    @property
    def caught(self) -> bool:
        """True when at least one alert fired for it."""
        return bool(self.detections)

    @property
    def ordered(self) -> list[Detection]:
        """The detections in the order they caught the incident (``figures.incident_times.firing_order``: first
        firing first; at the same instant the most severe, then by rule)."""
        return sorted(self.detections, key=lambda d: firing_order(d.at, d.severity, d.rule))

    @property
    def first(self) -> Detection | None:
        """The first alert: the earliest detection in that order."""
        return self.ordered[0] if self.detections else None

    @property
    def delay(self) -> timedelta | None:
        """Time from incident start to the first firing notification."""
        first = self.first
        return None if first is None else first.at - self.incident.start


@dataclass
class Scorecard:
    """Every incident's outcome plus the alerts that matched no incident."""

    incidents: list[IncidentScore]
    unexpected: list[AlertEvent]

    @property
    def recall(self) -> float:
        """Share of incidents caught."""
        return sum(s.caught for s in self.incidents) / len(self.incidents) if self.incidents else 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "incidents": [
                {
                    "id": s.incident.id,
                    "kind": s.incident.kind.value,
                    "caught": s.caught,
                    "detection_delay_s": s.delay.total_seconds() if s.delay is not None else None,
                    "detections": [
                        {"rule": d.rule, "severity": d.severity, "at": d.at.isoformat(), "labels": d.labels}
                        for d in s.ordered
                    ],
                }
                for s in self.incidents
            ],
            "recall": self.recall,
            "unexpected_alerts": [
                {"rule": e.rule, "severity": e.severity.value, "at": e.at.isoformat(), "labels": e.labels}
                for e in self.unexpected
            ],
        }


LABEL_WEIGHTS = {"resource": 8, "warehouse": 4, "service": 2, "domain": 1}
"""How specific a shared label is: an alert naming the same Azure resource beats one sharing only a domain."""


def _affinity(event: AlertEvent, incident: Incident, grace: timedelta) -> int | None:
    """How specifically ``event`` fits ``incident``: the weight of the labels they share (None: no match)."""
    if not incident.start - timedelta(minutes=5) <= event.at <= incident.end + grace:
        return None
    wanted = {
        "warehouse": incident.warehouse,
        "service": incident.service,
        "domain": incident.domain,
        "resource": incident.azure_resource,
    }
    shared = sum(LABEL_WEIGHTS[k] for k in MATCH_LABELS if event.labels.get(k) and event.labels.get(k) == wanted[k])
    if not shared:  # an account-wide alert (a cost budget) names the warehouse that drove it in its evidence
        top = ((event.evidence.get("drivers") or {}).get("warehouses") or [{}])[0]
        shared = LABEL_WEIGHTS["warehouse"] if top.get("warehouse") == incident.warehouse else 0
    return shared or None


def score(
    events: list[AlertEvent],
    incidents: list[Incident],
    ignore_rules: tuple[str, ...] = (),
    grace: timedelta = timedelta(hours=6),
) -> Scorecard:
    """Match each firing alert to the incident it fits best by time (start … end + ``grace``) and shared
    warehouse/service/domain/resource labels.

    ``grace`` covers data that lands late: metering arrives hours after the fact.
    """
    firing = [e for e in events if e.kind is EventKind.FIRING and e.rule not in ignore_rules]
    scores = [IncidentScore(i) for i in incidents]
    matched: set[int] = set()
    for event in firing:  # an alert counts for the incident(s) whose labels it shares most specifically
        fits = [(fit, s) for s in scores if (fit := _affinity(event, s.incident, grace)) is not None]
        if not fits:
            continue
        best = max(fit for fit, _ in fits)
        for fit, s in fits:
            if fit == best:
                s.detections.append(
                    Detection(event.rule, event.fingerprint, event.severity.value, event.at, event.labels)
                )
        matched.add(event.event_id)
    unexpected = [e for e in firing if e.event_id not in matched]
    return Scorecard(scores, unexpected)
