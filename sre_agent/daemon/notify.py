"""From recorded transitions to deliveries: silences, inhibition, routing, grouping → outbox, in the evaluation's
transaction.

Instants are replayed in order: the transitions of an instant update which alerts fire (the sources
of inhibition) and join their notification groups; then every group whose timer is due flushes. So a
replay of many minutes yields exactly the notifications a minute-by-minute daemon would have sent.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import defaultdict
from typing import Any

from sre_agent.alerting.grouping import REPEAT, Flush, Group, Member, flush
from sre_agent.alerting.lifecycle import Instance
from sre_agent.alerting.matchers import alert_labels
from sre_agent.alerting.routing import Route, Routing, inhibited_by
from sre_agent.alerting.silences import Silence, silenced_by
from sre_agent.daemon.eval_context import EvalContext
from sre_agent.daemon.runtime import Agent, alert_sinks
from sre_agent.failpoints import failpoint
from sre_agent.model import AlertEvent, AlertState, EventKind, Labels, from_epoch, iso, to_epoch

log = logging.getLogger(__name__)

_NOTIFYING = (EventKind.FIRING, EventKind.ESCALATED, EventKind.RESOLVED)
_SILENT_CHANGES = (EventKind.DEESCALATED, EventKind.REESCALATED)


class Dispatcher:
    """Groups of one evaluation pass: loaded once, advanced instant by instant, saved with the pass."""

    def __init__(self, agent: Agent, active_before: dict[str, Instance], ctx: EvalContext | None = None) -> None:
        self.agent = agent
        self.ctx = ctx
        """The pass's evaluations: a reminder says what its alert's rule found at the reminder's instant."""
        self.routing: Routing = agent.routing
        self.silences: list[Silence] = list(agent.loaded.silences)
        self.receivers = set(alert_sinks(agent.sinks))
        self.groups: dict[tuple[str, str], Group] = {}
        self.touched: set[tuple[str, str]] = set()
        self.closed: list[Group] = []
        for key, group in agent.notifications.groups().items():
            if group.receiver in self.receivers:
                self.groups[key] = group
            else:  # the sink was removed from the config: nobody is left to tell
                log.warning("dropping notification group %s of removed receiver %s", group.key, group.receiver)
                self.closed.append(group)
        self.firing: dict[str, Labels] = {
            fp: alert_labels(inst.rule, inst.labels, inst.severity.value if inst.severity else None)
            for fp, inst in active_before.items()
            if inst.state is AlertState.FIRING
        }
        self.records = 0

    def run(self, conn: sqlite3.Connection, events: list[AlertEvent], instants: list[int]) -> int:
        """Process ``events`` (recorded, oldest first) and every due group timer at ``instants``; return the
        number of deliveries enqueued."""
        first = min([*instants, *(to_epoch(e.at) for e in events)], default=None)
        if first is not None:
            self.silences += self.agent.silence_store.all(from_epoch(first))
        by_instant: dict[int, list[AlertEvent]] = defaultdict(list)
        for event in events:
            by_instant[to_epoch(event.at)].append(event)
        for at in sorted(set(instants) | set(by_instant)):
            for event in by_instant.get(at, []):
                self._observe(event)
            self._flush_due(conn, at)
        # A group that emptied and opened again within the pass is open: it must not be deleted.
        closed = [g for g in self.closed if (g.receiver, g.key) not in self.groups]
        self.agent.notifications.save_groups(
            conn,
            [self.groups[k] for k in self.touched if k in self.groups],
            closed,
            max(instants, default=0),
        )
        return self.records

    def _observe(self, event: AlertEvent) -> None:
        labels = alert_labels(event.rule, event.labels, event.severity.value)
        if event.kind is EventKind.RESOLVED:
            self.firing.pop(event.fingerprint, None)
        elif event.kind in (*_NOTIFYING, *_SILENT_CHANGES):
            self.firing[event.fingerprint] = labels
        else:
            return
        record = event.to_record()
        member_of = {key for key, group in self.groups.items() if event.fingerprint in group.members}
        routed: set[tuple[str, str]] = set()
        # Every change but a resolve is routed on the alert's current labels and severity: an escalation
        # may reach new receivers (the paging route), a de-escalation moves the alert to the ticket route's
        # timers. A resolve goes to every group holding the alert.
        if event.kind is not EventKind.RESOLVED:
            for route in self.routing.destinations(labels):
                for receiver in route.receivers:
                    if receiver not in self.receivers:
                        log.warning("route %s names receiver %s, which is not a configured sink", route.path, receiver)
                        continue
                    key = (receiver, route.group_key(labels))
                    routed.add(key)
                    self._open_group(key, route, labels, to_epoch(event.at))
        notify = event.kind in _NOTIFYING
        for key in routed | member_of:
            group = self.groups[key]
            member = Member(event.fingerprint, event.rule, event.status, event.severity.value, labels, record)
            if event.kind is EventKind.RESOLVED:
                group.observe(member, resolved=True, notify=True)
            elif key not in routed:
                # No longer routed here: the group keeps the alert quietly (no repeats) until its resolve.
                group.observe(member, resolved=False, notify=False)
                group.members[event.fingerprint].routed = False
            elif (
                event.fingerprint in group.members or notify or (told := self._told(key[0], event.fingerprint)) is None
            ):
                # A change to tell, or news to this receiver (it has not heard of the alert yet: for it
                # the alert starts firing now, at its current severity).
                news = event.fingerprint not in group.members
                if news and not notify:
                    member.record = {**record, "transition": EventKind.FIRING.value}
                group.observe(member, resolved=False, notify=notify or news)
                group.members[event.fingerprint].routed = True
            else:
                # A silent change moves an alert the receiver already knows into this group: it is told
                # nothing now; repeats and the resolve follow this route.
                member.changed, member.notified, member.last_sent_at = False, True, told.last_sent_at
                group.observe(member, resolved=False, notify=False)
            self.touched.add(key)

    def _open_group(self, key: tuple[str, str], route: Route, labels: Labels, at: int) -> None:
        """Open the group ``key`` on ``route`` unless it exists (then refresh its timers from the route)."""
        if key in self.groups:
            group = self.groups[key]
            group.group_interval_s, group.repeat_interval_s = route.group_interval_s, route.repeat_interval_s
            return
        self.groups[key] = Group(
            key[0],
            key[1],
            route.path,
            route.group_labels(labels),
            route.group_wait_s,
            route.group_interval_s,
            route.repeat_interval_s,
            created_at=at,
            next_flush_at=at + route.group_wait_s,
        )

    def _told(self, receiver: str, fingerprint: str) -> Member | None:
        """How ``receiver`` knows ``fingerprint`` fires (its member in one of its groups), if it does."""
        for key, group in self.groups.items():
            member = group.members.get(fingerprint)
            if key[0] == receiver and member is not None and member.notified:
                return member
        return None

    def _hold(self, at: int) -> Any:
        when = from_epoch(at)

        def hold(member: Member) -> str | None:
            silence = silenced_by(self.silences, member.labels, when)
            if silence is not None:
                return f"silenced by {silence}"
            source = inhibited_by(self.routing, member.fingerprint, member.labels, self.firing)
            return None if source is None else f"inhibited by {source}"

        return hold

    def _flush_due(self, conn: sqlite3.Connection, at: int) -> None:
        hold = self._hold(at)
        for key in sorted(self.groups):
            group = self.groups[key]
            if at < group.next_flush_at:
                continue
            done = flush(group, at, hold)
            self.touched.add(key)
            if done is not None:
                self._enqueue(conn, done)
            if not group.members:
                self.closed.append(group)
                del self.groups[key]

    def _reminder(self, fingerprint: str, record: dict[str, Any], at: int) -> dict[str, Any]:
        """``record`` (the alert's last transition) re-evaluated for a reminder sent at ``at``: evidence, value,
        threshold, severity and summary as the rule found them at the newest evaluation at or before ``at`` (the
        evidence's own instant is ``evaluated_at``), the summary saying since when the alert fires."""
        ctx = self.ctx
        seen = ctx.as_of(fingerprint, at) if ctx is not None else None
        if seen is None and ctx is not None and fingerprint in ctx.instances:
            inst = ctx.instances[fingerprint]  # not evaluated in this pass (stale source): as last evaluated
            seen = (to_epoch(inst.last_eval_at), inst) if inst.last_eval_at is not None else None
        since = str(record.get("starts_at", ""))[:16].replace("T", " ")
        annotations = dict(record.get("annotations") or {})
        if seen is None:
            annotations["summary"] = f"still firing since {since}Z (as at {record.get('at')}): " + annotations.get(
                "summary", ""
            )
            return {**record, "annotations": annotations}
        when, inst = seen
        if inst.last_eval_at is not None:  # a stale instant keeps the evidence of the last judged one
            when = to_epoch(inst.last_eval_at)
        refresh = ctx.refreshers.get(fingerprint) if ctx is not None else None
        if refresh is not None:
            inst = refresh(inst, when)
        annotate = ctx.annotators.get(fingerprint) if ctx is not None else None
        if annotate is not None:
            annotations.update(annotate(inst, EventKind.FIRING))
        annotations["summary"] = f"still firing since {since}Z: {annotations.get('summary', '')}"
        return {
            **record,
            "severity": inst.severity.value if inst.severity else record.get("severity"),
            "value": inst.value,
            "threshold": inst.threshold,
            "evidence": inst.evidence,
            "annotations": annotations,
            "evaluated_at": iso(from_epoch(when)),
        }

    def _enqueue(self, conn: sqlite3.Connection, done: Flush) -> None:
        group = done.group
        notification = {
            # created_at tells apart the incidents of a group key that closed and opened again.
            "id": f"{group.receiver}:{group.key}:{group.created_at}:{done.seq}",
            "receiver": group.receiver,
            "group_key": group.key,
            "group_labels": group.labels,
            "sent_at": iso(from_epoch(done.at)),
            "alerts": len(done.sent),
        }
        logged: list[tuple[Member, str]] = []
        for member, reason in done.sent:
            record: dict[str, Any] = {**member.record, "notification": {**notification, "reason": reason}}
            if reason == REPEAT:
                # No transition happened: the alert is still firing, said again with what it shows now.
                record = {**self._reminder(member.fingerprint, record, done.at), "transition": "repeat"}
                record["dedup_key"] = f"{member.record['dedup_key']}:repeat:{done.at}"
            # The same transition reaching one receiver through two of its groups is one delivery.
            if self.agent.outbox.enqueue(conn, group.receiver, record["dedup_key"], record, done.at):
                logged.append((member, reason))
                self.records += 1
            failpoint("notify.after_enqueue")
        self.agent.notifications.log(conn, done, logged)
