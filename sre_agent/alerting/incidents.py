"""Group firing alerts into incidents, inside the evaluation transaction.

An alert that fires joins the open incident it shares a warehouse or a service with (its domain counts only when
it names neither: a domain is too broad to tie two warehouses' troubles together) when that incident was active
within ``spec.incidents.window`` — still firing, or its last alert resolved less than a window ago. An alert with
none of those labels is matched on the warehouse its evidence names as the top driver (an account budget), else
(an Azure resource) it joins the incident that most recently had an
alert fire within the window, if it still fires; otherwise it opens an incident of its own, which the next
labelled alert within the window adopts. Otherwise an alert opens a new incident. An incident whose alerts have
all been resolved for a window is resolved by the agent, at the time its last alert resolved; humans acknowledge,
mitigate, resolve and annotate incidents from the CLI.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

from sre_agent.model import AlertEvent, EventKind, Severity, from_epoch, to_epoch
from sre_agent.store.incidents import AGENT_AUTHOR, IncidentStatus, IncidentStore, scope_json

_SEVERITY_KINDS = (EventKind.ESCALATED, EventKind.DEESCALATED, EventKind.REESCALATED)


def incident_keys(labels: dict[str, str], group_by: list[str]) -> dict[str, set[str]]:
    """The grouping labels an alert carries (label → {value}): all of them go into an incident's scope."""
    return {k: {labels[k]} for k in group_by if labels.get(k)}


def driver_keys(evidence: dict[str, object]) -> dict[str, set[str]]:
    """The warehouse a budget alert names as its top driver (``evidence.drivers.warehouses[0]``), if any: an
    account-wide budget burning because one warehouse runs away belongs to that warehouse's incident."""
    drivers = evidence.get("drivers")
    top = drivers.get("warehouses") if isinstance(drivers, dict) else None
    if isinstance(top, list) and top and isinstance(top[0], dict) and top[0].get("warehouse"):
        return {"warehouse": {str(top[0]["warehouse"])}}
    return {}


def matching_keys(keys: dict[str, set[str]]) -> dict[str, set[str]]:
    """The labels an alert is matched on: warehouse and service; the domain only when it has neither."""
    specific = {k: v for k, v in keys.items() if k in ("warehouse", "service")}
    return specific or keys


def _title(event: AlertEvent, keys: dict[str, set[str]]) -> str:
    where = ", ".join(f"{k} {next(iter(v))}" for k, v in keys.items())
    return f"{event.rule} ({where})" if where else event.rule


class IncidentTracker:
    """Applies one evaluation's alert events to the incidents (call inside its transaction)."""

    def __init__(self, group_by: list[str], window: timedelta) -> None:
        self.group_by = group_by
        self.window = int(window.total_seconds())

    def apply(self, conn: sqlite3.Connection, events: list[AlertEvent], now: int) -> list[str]:
        """Fold ``events`` into the incidents; resolve incidents quiet for a window; return the ids resolved."""
        resolved: list[str] = []
        for event in sorted(events, key=lambda e: (e.at, e.event_id)):
            # A batch (catching up after downtime) groups as the minute-by-minute evaluation would have: quiet
            # incidents are resolved as of each event before it is placed.
            resolved += self._resolve_quiet(conn, to_epoch(event.at), now)
            if event.kind == EventKind.FIRING:
                self._firing(conn, event, now)
            elif event.kind in _SEVERITY_KINDS:
                self._touch(conn, event, now, firing=True)
            elif event.kind == EventKind.RESOLVED:
                self._touch(conn, event, now, firing=False)
        return resolved + self._resolve_quiet(conn, now, now)

    def _memberships(self, conn: sqlite3.Connection, fingerprint: str) -> list[str]:
        rows = conn.execute(
            "SELECT a.incident_id FROM incident_alerts a JOIN incidents i ON i.id = a.incident_id "
            "WHERE a.fingerprint = ? AND i.status != 'resolved'",
            (fingerprint,),
        ).fetchall()
        return [r[0] for r in rows]

    def _touch(self, conn: sqlite3.Connection, event: AlertEvent, now: int, firing: bool) -> None:
        at = to_epoch(event.at)
        for incident_id in self._memberships(conn, event.fingerprint):
            conn.execute(
                "UPDATE incident_alerts SET firing = ? WHERE incident_id = ? AND fingerprint = ?",
                (int(firing), incident_id, event.fingerprint),
            )
            self._bump(conn, incident_id, at, event.severity if firing else None, now)

    def _bump(self, conn: sqlite3.Connection, incident_id: str, at: int, severity: Severity | None, now: int) -> None:
        row = conn.execute("SELECT severity FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        worst = Severity(row[0])
        if severity is not None and severity.more_severe_than(worst):
            worst = severity
        conn.execute(
            "UPDATE incidents SET last_active_at = MAX(last_active_at, ?), severity = ?, updated_at = ? WHERE id = ?",
            (at, worst.value, now, incident_id),
        )

    def _candidate(self, conn: sqlite3.Connection, keys: dict[str, set[str]], at: int) -> str | None:
        rows = conn.execute(
            "SELECT i.id, i.scope, i.last_active_at, "
            "EXISTS (SELECT 1 FROM incident_alerts a WHERE a.incident_id = i.id AND a.firing = 1) AS firing, "
            "(SELECT MAX(a.joined_at) FROM incident_alerts a WHERE a.incident_id = i.id) AS last_joined "
            "FROM incidents i WHERE i.status != 'resolved' ORDER BY i.last_active_at DESC, i.id DESC"
        ).fetchall()
        recent = at - self.window
        active = [r for r in rows if r["firing"] or r["last_active_at"] >= recent]
        if not keys:  # nothing to match on: the incident where an alert fired last, within the window
            for row in active:
                if row["firing"] and (row["last_joined"] or 0) >= recent:
                    return str(row["id"])
            return None
        match = matching_keys(keys)
        for row in active:
            scope: dict[str, list[str]] = json.loads(row["scope"])
            if any(values & set(scope.get(label, [])) for label, values in match.items()):
                return str(row["id"])
        for row in active:  # an incident opened by unlabelled alerts adopts the first labelled one
            if not json.loads(row["scope"]) and (row["last_joined"] or 0) >= recent:
                return str(row["id"])
        return None

    def _firing(self, conn: sqlite3.Connection, event: AlertEvent, now: int) -> None:
        at = to_epoch(event.at)
        members = self._memberships(conn, event.fingerprint)
        if members:  # fires again within its incident (after a short resolve): same incident
            self._touch(conn, event, now, firing=True)
            return
        keys = incident_keys(event.labels, self.group_by) or driver_keys(event.evidence)
        incident_id = self._candidate(conn, keys, at)
        if incident_id is None:
            incident_id = self._open(conn, event, keys, now)
        else:
            scope = {k: set(v) for k, v in json.loads(conn.execute(
                "SELECT scope FROM incidents WHERE id = ?", (incident_id,)).fetchone()[0]).items()}  # fmt: skip
            for label, values in keys.items():
                scope.setdefault(label, set()).update(values)
            # started_at stays the opening alert's: a slow alert pending for hours must not move the start back.
            conn.execute("UPDATE incidents SET scope = ? WHERE id = ?", (scope_json(scope), incident_id))
            self._bump(conn, incident_id, at, event.severity, now)
        conn.execute(
            "INSERT INTO incident_alerts (incident_id, fingerprint, rule, labels, joined_at, firing) "
            "VALUES (?, ?, ?, ?, ?, 1)",
            (incident_id, event.fingerprint, event.rule, json.dumps(event.labels, sort_keys=True), at),
        )
        IncidentStore.log(
            conn, incident_id, at, now, AGENT_AUTHOR, "alert", f"{event.rule} fired ({event.severity.value})"
        )

    def _open(self, conn: sqlite3.Connection, event: AlertEvent, keys: dict[str, set[str]], now: int) -> str:
        day = from_epoch(to_epoch(event.at)).strftime("%Y%m%d")
        count = conn.execute("SELECT COUNT(*) FROM incidents WHERE id LIKE ?", (f"INC-{day}-%",)).fetchone()[0]
        incident_id = f"INC-{day}-{int(count) + 1}"
        at = to_epoch(event.at)
        conn.execute(
            "INSERT INTO incidents (id, title, status, severity, scope, started_at, detected_at, last_active_at, "
            "updated_at) VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?)",
            (
                incident_id,
                _title(event, keys),
                event.severity.value,
                scope_json(keys),
                min(to_epoch(event.starts_at), at),
                at,
                at,
                now,
            ),
        )
        IncidentStore.log(conn, incident_id, at, now, AGENT_AUTHOR, "opened", f"opened by {event.rule}")
        return incident_id

    def _resolve_quiet(self, conn: sqlite3.Connection, at: int, now: int) -> list[str]:
        """Resolve the incidents whose alerts have all been resolved for a window as of ``at``: at the time the last
        one resolved, or at the last human step if later (a mitigation recorded after the alerts ended)."""
        rows = conn.execute(
            "SELECT id, MAX(last_active_at, COALESCE(acknowledged_at, 0), COALESCE(mitigated_at, 0)) AS closed "
            "FROM incidents i WHERE status != 'resolved' AND last_active_at <= ? "
            "AND NOT EXISTS (SELECT 1 FROM incident_alerts a WHERE a.incident_id = i.id AND a.firing = 1)",
            (at - self.window,),
        ).fetchall()
        for row in rows:
            conn.execute(
                "UPDATE incidents SET status = ?, resolved_at = ?, resolved_by = ?, updated_at = ? WHERE id = ?",
                (IncidentStatus.RESOLVED.value, row["closed"], AGENT_AUTHOR, now, row["id"]),
            )
            minutes = self.window // 60
            IncidentStore.log(
                conn, row["id"], row["closed"], now, AGENT_AUTHOR, "resolved",
                f"every alert resolved (closed after {minutes} min without one firing again)",
            )  # fmt: skip
        return [str(r["id"]) for r in rows]
