"""Notification groups and their timers (Alertmanager's ``group_wait``, ``group_interval``, ``repeat_interval``).

A group is one receiver × one route × one set of group-label values. Its first notification waits
``group_wait`` (so alerts of one incident arriving together go out together, and an alert that
resolves within the wait is never sent); after that the group ticks every ``group_interval`` and
sends what changed since the last notification — alerts that started firing, escalated or resolved —
and, when nothing changed for ``repeat_interval``, repeats the alerts still firing. Resolves go to
every receiver that was told the alert fired, silenced or not. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

NEW = "new"
UPDATE = "update"
REPEAT = "repeat"


@dataclass
class Member:
    """One alert in a group, as the receiver knows it."""

    fingerprint: str
    rule: str
    status: str
    """``firing`` or ``resolved``."""
    severity: str
    labels: dict[str, str]
    """Matcher labels (the alert's labels plus rule, alertname and severity)."""
    record: dict[str, Any]
    """The newest notifying record of the alert (what the receiver gets)."""
    changed: bool = True
    """Something the receiver has not been told yet."""
    notified: bool = False
    """The receiver was told this alert fired (so it gets the resolve)."""
    held: str | None = None
    """Why a pending change is held back right now (``silenced by …``, ``inhibited by …``)."""
    routed: bool = True
    """The alert's current labels still route to this group (else: no repeats here, only its resolve)."""
    last_sent_at: int | None = None
    """When this receiver was last told about the alert (its repeat timer)."""


@dataclass
class Group:
    """One notification group of one receiver."""

    receiver: str
    key: str
    route: str
    labels: dict[str, str]
    group_wait_s: int
    group_interval_s: int
    repeat_interval_s: int
    created_at: int
    next_flush_at: int
    flushed: bool = False
    last_sent_at: int | None = None
    seq: int = 0
    members: dict[str, Member] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready state (the store keeps it between cycles and restarts)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Group:
        """Rebuild a group saved with ``to_json``."""
        members = {fp: Member(**m) for fp, m in data.pop("members").items()}
        return cls(**data, members=members)

    def observe(self, member: Member, resolved: bool, notify: bool) -> None:
        """Take in an alert's new state: ``notify`` marks a change the receiver must hear about
        (firing, escalation, resolve); otherwise (a silent de-escalation) only its record is refreshed."""
        known = self.members.get(member.fingerprint)
        if resolved:
            if known is None:
                return
            if not known.notified:
                del self.members[member.fingerprint]  # resolved inside group_wait or while muted: nothing to say
                return
            known.status, known.record, known.changed = "resolved", member.record, True
            return
        if known is None:
            self.members[member.fingerprint] = member
            return
        if known.status == "resolved":
            # Fired again before its resolve went out: the receiver still believes it fires, so it is
            # owed the next resolve; the new firing record goes out with the next tick.
            member.notified = known.notified
            self.members[member.fingerprint] = member
            return
        if not known.notified and known.record.get("transition") == "firing":
            # Not yet sent: the receiver's first word on this alert stays "firing", at the newest severity.
            member.record = {**member.record, "transition": "firing"}
        known.severity, known.labels, known.record = member.severity, member.labels, member.record
        known.changed = known.changed or notify


@dataclass
class Flush:
    """One notification of one group: the records to send (with why) and the alerts held back."""

    group: Group
    at: int
    seq: int
    sent: list[tuple[Member, str]]
    """Each member sent with its reason: ``new`` (the group's first notification), ``update`` or ``repeat``."""
    held: list[Member]
    """Members whose hold began at this flush (the history records them once)."""

    @property
    def members(self) -> list[Member]:
        """The members sent, in order."""
        return [member for member, _ in self.sent]

    @property
    def reason(self) -> str:
        """Why the notification went out: ``new`` or ``update`` if anything changed, else ``repeat``."""
        reasons = {reason for _, reason in self.sent}
        return next((r for r in (NEW, UPDATE, REPEAT) if r in reasons), "")


def flush(group: Group, at: int, hold: Callable[[Member], str | None]) -> Flush | None:
    """Send what is due in ``group`` at ``at`` (epoch s); ``hold`` says why a firing member is muted, if it is.

    Changed members go out (firing ones only where the alert still routes and is not muted; resolves
    to whoever was told it fired); a firing member the receiver has not heard of for
    ``repeat_interval`` is said again — per member, so a busy group does not starve its repeats.
    Returns None when no timer is due or nothing is to be said. Mutates ``group``: sent members are
    marked notified, resolved ones leave it.
    """
    if at < group.next_flush_at:
        return None
    group.next_flush_at = at + group.group_interval_s
    newly_held: list[Member] = []
    changed: list[Member] = []
    repeats: list[Member] = []
    for member in list(group.members.values()):
        if member.status != "firing":
            if member.changed and member.notified:
                changed.append(member)
            continue
        if not member.routed:
            # Its labels now route elsewhere: nothing to tell this receiver until the resolve.
            member.changed = False
            if not member.notified:
                del group.members[member.fingerprint]
            continue
        why = hold(member)
        if why is not None:
            if member.changed and member.held != why:
                newly_held.append(member)
            member.held = why
            continue
        member.held = None
        if member.changed:
            changed.append(member)
        elif member.notified and at - (member.last_sent_at or 0) >= group.repeat_interval_s:
            repeats.append(member)
    if not changed and not repeats:
        return Flush(group, at, group.seq, [], newly_held) if newly_held else None
    reason = UPDATE if group.flushed else NEW
    group.seq += 1
    group.flushed = True
    group.last_sent_at = at
    for member in [*changed, *repeats]:
        member.changed = False
        member.last_sent_at = at
        if member.status == "firing":
            member.notified = True
        else:
            del group.members[member.fingerprint]
    # A resolve is always an update: the receiver heard of the alert before.
    sent = [(m, reason if m.status == "firing" else UPDATE) for m in changed] + [(m, REPEAT) for m in repeats]
    return Flush(group, at, group.seq, sent, newly_held)
