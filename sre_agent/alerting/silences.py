"""Silences at run time: those from git (``kind: Silence``) and those added with ``sre-agent silence add``.

A silenced alert is still evaluated and recorded; only its notifications are held back. A firing
alert whose silence ends is notified then (Alertmanager re-evaluates only on the next change), and a
resolve is always sent to a receiver that was told the alert fired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sre_agent.alerting.matchers import Matcher, matches_all, parse_matcher
from sre_agent.config.routing import SilenceDoc
from sre_agent.config.time_windows import TimeWindow
from sre_agent.model import Labels


@dataclass(frozen=True)
class Silence:
    """One silence: matchers, when it applies, and who set it why."""

    id: str
    matchers: tuple[Matcher, ...]
    window: TimeWindow
    reason: str
    author: str
    source: str
    """``cli`` or the file it was declared in."""

    def applies(self, labels: Labels, at: datetime) -> bool:
        """Return whether this silence mutes ``labels`` at ``at``."""
        return self.window.active_at(at) and matches_all(self.matchers, labels)

    @property
    def ends_at(self) -> datetime | None:
        """When the silence stops applying for good."""
        return self.window.expires_at()


def from_doc(doc: SilenceDoc, source: str) -> Silence:
    """The run-time silence of a ``kind: Silence`` document (id ``git:<name>``)."""
    spec = doc.spec
    window = TimeWindow(
        start=spec.start, end=spec.end, rrule=spec.rrule, duration=spec.duration, time_zone=spec.time_zone
    )
    return Silence(
        f"git:{doc.name}",
        tuple(parse_matcher(m) for m in spec.matchers),
        window,
        spec.reason,
        spec.author,
        source,
    )


def silenced_by(silences: list[Silence], labels: Labels, at: datetime) -> str | None:
    """Return the id of the first silence muting ``labels`` at ``at``, if any."""
    for silence in silences:
        if silence.applies(labels, at):
            return silence.id
    return None
