"""An incident's times as users see them — its stages and the spans between them (TTD, TTA, TTM, TTR, the tail)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sre_agent.figures.text import human_duration
from sre_agent.model import from_epoch, iso

STARTED = "Started"
"""Onset: where the data says the impact began. The post-mortem reads it from the scope's rollups
(``reports/postmortem/series.py`` ``impact_bounds``): the start of the run of 5-minute steps (metering: hours)
before the first alert in which a signal of the scope (p95 latency, queueing, failures, remote spill, credits per
hour) stayed above twice its level a week (else a day) earlier — the earliest such signal, never after Detected.
Without one, where the opening alert's condition began. (Google SRE and Datadog: "impact start".)"""
DETECTED = "Detected"
"""The incident's first alert firing (the incident's ``detected_at``; FireHydrant: the alert's timestamp)."""
ACKNOWLEDGED = "Acknowledged"
"""A person's recorded acknowledgement (``sre-agent incidents ack``, back-datable with ``--at``). Never inferred."""
MITIGATED = "Mitigated"
"""A person's record that the impact stopped (``incidents mitigate``). Never inferred: the data's end of impact is
Impact ended."""
IMPACT_ENDED = "Impact ended"
"""The end of user impact: the recorded mitigation when there is one (a person's word wins); else where the data
says the scope's signals came back (the first calm 15 minutes — metering: an hour — after the first alert, for
every signal that was elevated; the incident's end when one was still elevated then); else, when no series of the
scope moved (an Azure-side cause), the first alert resolving; else the last alert resolving; else the incident
resolving; else the end of the data (still going). Never earlier than one 5-minute step after Detected, so the
impact window is never empty."""
ALERTS_RESOLVED = "Alerts resolved"
"""The last of the incident's alerts resolving (unknown while one still fires)."""
RESOLVED = "Resolved"
"""The incident resolved: by a person (``incidents resolve``) or by the agent once every alert had resolved and
none fired again for the grouping's quiet period."""


def firing_order(at: datetime, severity: str, rule: str) -> tuple[datetime, str, str]:
    """The order in which alerts caught an incident, and so which one is "the first alert" (Detected): first firing
    first; at the same instant the most severe (``sev1`` before ``sev2``), then by rule name. The post-mortem, the
    demo's scorecard and every other view that names a first alert sort with this key."""
    return (at, str(severity), rule)


STEP = 300
"""The impact window is at least this long (the grain of the onset and end)."""
NOT_YET = "not yet: the data ends here"
"""Impact ended's basis while the impact is still going (its instant is the end of the data)."""


@dataclass(frozen=True)
class Instant:
    """One stage of an incident: when (epoch seconds; None: not known or not recorded), read from what, by whom."""

    stage: str
    at: int | None
    basis: str
    by: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready record: the instant as ISO 8601 UTC."""
        at = None if self.at is None else iso(from_epoch(self.at))
        return {"stage": self.stage, "at": at, "basis": self.basis, "by": self.by}


@dataclass(frozen=True)
class Span:
    """A span between two stages: ``seconds`` = end − start (None when either is unknown)."""

    key: str
    """``impact``, ``ttd``, ``tta``, ``ttm``, ``ttr``, ``tail`` or ``open``."""
    name: str
    start: str
    """The stage it is measured from."""
    end: str
    """The stage it is measured to."""
    seconds: int | None
    reference: str
    """Which incident-metric convention it follows, and its reference point."""
    missing: str = ""
    """Why it is unknown (when ``seconds`` is None)."""

    def text(self) -> str:
        """``2h 20m`` (``—`` when unknown)."""
        return human_duration(self.seconds)

    def between(self) -> str:
        """``Detected → Impact ended``: what it is measured against."""
        return f"{self.start} → {self.end}"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready record (minutes rounded to 0.1)."""
        minutes = None if self.seconds is None else round(self.seconds / 60, 1)
        return {"key": self.key, "name": self.name, "from": self.start, "to": self.end, "minutes": minutes,
                "text": self.text(), "reference": self.reference, "missing": self.missing}  # fmt: skip


_SPANS = (
    ("impact", "impact", STARTED, IMPACT_ENDED, "how long users were affected"),
    ("ttd", "time to detect", STARTED, DETECTED, "Google SRE and Datadog time to detect: from the impact's start"),
    ("tta", "time to acknowledge", DETECTED, ACKNOWLEDGED, "PagerDuty MTTA: from the alert (trigger) to the ack"),
    ("ttm", "time to mitigate", STARTED, MITIGATED, "Google SRE time to mitigate: from the impact's start"),
    ("ttr", "time to restore", DETECTED, IMPACT_ENDED, "Datadog time to repair (detection → last impact), Atlassian "
     "time to recovery (until the service works again): not until the incident is closed"),
    ("tail", "alerts' tail", IMPACT_ENDED, ALERTS_RESOLVED, "alerts still firing after the impact ended (a slow "
     "burn-rate tier's long window still above its factor); not part of TTR"),
    ("open", "incident open", DETECTED, RESOLVED, "PagerDuty MTTR and Datadog time to resolve: the incident's "
     "lifetime, the alerts' tail included"),
)  # fmt: skip


@dataclass(frozen=True)
class IncidentTimes:
    """Every stage of one incident (the module's constants define each) and the spans between them."""

    started: Instant
    detected: Instant
    acknowledged: Instant
    mitigated: Instant
    impact_ended: Instant
    alerts_resolved: Instant
    resolved: Instant
    as_of: int
    """The instant the figures were computed at (an open incident's impact may still be going)."""

    def instants(self) -> list[Instant]:
        """The stages in their order."""
        return [self.started, self.detected, self.acknowledged, self.mitigated, self.impact_ended,
                self.alerts_resolved, self.resolved]  # fmt: skip

    def stage(self, name: str) -> Instant:
        """The stage called ``name`` (one of the module's constants)."""
        return next(i for i in self.instants() if i.stage == name)

    def span(self, key: str) -> Span:
        """The span ``key`` (``impact``, ``ttd``, ``tta``, ``ttm``, ``ttr``, ``tail``, ``open``)."""
        k, name, start, end, reference = next(s for s in _SPANS if s[0] == key)
        a, b = self.stage(start), self.stage(end)
        if a.at is None or b.at is None:
            unknown = a if a.at is None else b
            return Span(k, name, start, end, None, reference, f"{unknown.stage.lower()}: {unknown.basis}")
        return Span(k, name, start, end, max(0, b.at - a.at), reference)

    def spans(self) -> list[Span]:
        """Every span, in the order of :data:`_SPANS`."""
        return [self.span(s[0]) for s in _SPANS]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready record: stages and spans (``as_of`` is the report's own generation time)."""
        return {
            "stages": [i.to_json() for i in self.instants()],
            "spans": {s.key: s.to_json() for s in self.spans()},
        }


def impact_end(
    detected: int,
    mitigated: int | None,
    data_end: int | None,
    first_alert_resolved: int | None,
    last_alert_resolved: int | None,
    resolved: int | None,
    until: int,
) -> Instant:
    """Impact ended (:data:`IMPACT_ENDED`): the first known of the recorded mitigation, the data's calm (``data_end``;
    ``until`` when that is later), the first alert resolving, the last alert resolving, the incident resolving and
    ``until`` (the incident's end: its resolve, else its last resolve or activity); at least one step after
    ``detected``."""
    if mitigated is not None:
        at, basis = mitigated, "mitigated (recorded)"
    elif data_end is not None and data_end <= until:
        at, basis = data_end, "the scope's signals back to normal (15 calm minutes; metering: an hour)"
    elif data_end is not None:
        at, basis = until, "the incident's end (the scope's signals still elevated then)"
    elif first_alert_resolved is not None:
        # No Snowflake series moved (an Azure-side cause): the alert that detected it going quiet ends the impact;
        # slower alerts of the incident (an SLO's long window) stay firing well after.
        at, basis = first_alert_resolved, "the first alert resolved (no series of the scope moved)"
    elif last_alert_resolved is not None:
        at, basis = last_alert_resolved, "the last alert resolved"
    elif resolved is not None:
        at, basis = resolved, "the incident resolved"
    else:
        at, basis = until, NOT_YET
    return Instant(IMPACT_ENDED, max(at, detected + STEP), basis)


def incident_times(
    started: Instant,
    detected: int,
    acknowledged: tuple[int | None, str | None],
    mitigated: tuple[int | None, str | None],
    ended: Instant,
    alerts_resolved: Instant,
    resolved: tuple[int | None, str | None],
    as_of: int,
) -> IncidentTimes:
    """The incident's stages from the onset (``started``), the recorded human steps ((at, by) each), the impact's end
    (:func:`impact_end`) and the last alert's resolve."""
    return IncidentTimes(
        started=started,
        detected=Instant(DETECTED, detected, "the first alert fired"),
        acknowledged=_recorded(ACKNOWLEDGED, *acknowledged),
        mitigated=_recorded(MITIGATED, *mitigated),
        impact_ended=ended,
        alerts_resolved=alerts_resolved,
        resolved=_recorded(RESOLVED, *resolved, missing="the incident is not resolved"),
        as_of=as_of,
    )


def recorded_times(
    detected: int,
    acknowledged: tuple[int | None, str | None],
    mitigated: tuple[int | None, str | None],
    resolved: tuple[int | None, str | None],
    as_of: int,
) -> IncidentTimes:
    """The stages the incident record holds by itself (``incidents show``): the onset and the data's end of impact
    are the post-mortem's to find, so only the spans that do not need them are known — and equal the post-mortem's
    (TTA, incident open; TTR when a mitigation is recorded)."""
    elsewhere = "read from the data by the post-mortem (`sre-agent report postmortem`)"
    ended = (
        impact_end(detected, mitigated[0], None, None, None, None, as_of)
        if mitigated[0] is not None
        else Instant(IMPACT_ENDED, None, elsewhere)
    )
    return incident_times(
        Instant(STARTED, None, elsewhere), detected, acknowledged, mitigated, ended,
        Instant(ALERTS_RESOLVED, None, "see the post-mortem"), resolved, as_of,
    )  # fmt: skip


def _recorded(stage: str, at: int | None, by: str | None, missing: str = "not recorded") -> Instant:
    if at is None:
        return Instant(stage, None, missing)
    return Instant(stage, at, "recorded", by)
