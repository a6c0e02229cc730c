"""Incidents in the state store: the incident rows, their member alerts and their log (what happened, when, who).

The daemon opens, extends and resolves incidents inside the evaluation transaction (see
``alerting/incidents.py``); humans acknowledge, mitigate, resolve and annotate them from the CLI. Every change
is a row in ``incident_log`` with its author, so a post-mortem's timeline is read back, never reconstructed.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sre_agent.model import Severity, canonical_json, from_epoch, to_epoch
from sre_agent.store.db import Database


class IncidentStatus(StrEnum):
    """Where an incident stands (each step later than the one before)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"


AGENT_AUTHOR = "sre-agent"
"""The author of the steps the agent takes by itself (opening, grouping, resolving when alerts end)."""


@dataclass(frozen=True)
class IncidentAlert:
    """One alert of an incident."""

    fingerprint: str
    rule: str
    labels: dict[str, str]
    joined_at: datetime
    firing: bool


@dataclass(frozen=True)
class LogEntry:
    """One line of an incident's log."""

    at: datetime
    recorded_at: datetime
    author: str
    kind: str
    text: str


@dataclass(frozen=True)
class Incident:
    """An incident as stored."""

    id: str
    title: str
    status: IncidentStatus
    severity: Severity
    scope: dict[str, list[str]]
    started_at: datetime
    detected_at: datetime
    last_active_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    mitigated_at: datetime | None = None
    mitigated_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    postmortem: str | None = None
    alerts: list[IncidentAlert] = field(default_factory=list)
    log: list[LogEntry] = field(default_factory=list)

    @property
    def firing(self) -> list[IncidentAlert]:
        """Its alerts that still fire."""
        return [a for a in self.alerts if a.firing]


def _ts(value: int | None) -> datetime | None:
    return None if value is None else from_epoch(value)


def _incident(row: sqlite3.Row, alerts: list[IncidentAlert], log: list[LogEntry]) -> Incident:
    return Incident(
        id=row["id"],
        title=row["title"],
        status=IncidentStatus(row["status"]),
        severity=Severity(row["severity"]),
        scope=json.loads(row["scope"]),
        started_at=from_epoch(row["started_at"]),
        detected_at=from_epoch(row["detected_at"]),
        last_active_at=from_epoch(row["last_active_at"]),
        acknowledged_at=_ts(row["acknowledged_at"]),
        acknowledged_by=row["acknowledged_by"],
        mitigated_at=_ts(row["mitigated_at"]),
        mitigated_by=row["mitigated_by"],
        resolved_at=_ts(row["resolved_at"]),
        resolved_by=row["resolved_by"],
        postmortem=row["postmortem"],
        alerts=alerts,
        log=log,
    )


class IncidentStore:
    """Reads and writes ``incidents``, ``incident_alerts`` and ``incident_log``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _alerts(self, incident_id: str) -> list[IncidentAlert]:
        rows = self.db.read(
            "SELECT * FROM incident_alerts WHERE incident_id = ? ORDER BY joined_at, fingerprint", (incident_id,)
        )
        return [
            IncidentAlert(
                r["fingerprint"], r["rule"], json.loads(r["labels"]), from_epoch(r["joined_at"]), bool(r["firing"])
            )
            for r in rows
        ]

    def _log(self, incident_id: str) -> list[LogEntry]:
        rows = self.db.read("SELECT * FROM incident_log WHERE incident_id = ? ORDER BY at, id", (incident_id,))
        return [
            LogEntry(from_epoch(r["at"]), from_epoch(r["recorded_at"]), r["author"], r["kind"], r["text"]) for r in rows
        ]

    def get(self, incident_id: str) -> Incident | None:
        """The incident ``incident_id`` (case-insensitive) with its alerts and log, if it exists."""
        rows = self.db.read("SELECT * FROM incidents WHERE id = ? COLLATE NOCASE", (incident_id.strip(),))
        if not rows:
            return None
        found = rows[0]["id"]
        return _incident(rows[0], self._alerts(found), self._log(found))

    def all(self, include_resolved: bool = False, since: int | None = None) -> list[Incident]:
        """Incidents, newest detection first (by default only unresolved ones); alerts and log included."""
        sql = "SELECT * FROM incidents WHERE 1 = 1"
        params: list[object] = []
        if not include_resolved:
            sql += " AND status != 'resolved'"
        if since is not None:
            sql += " AND last_active_at >= ?"
            params.append(since)
        rows = self.db.read(sql + " ORDER BY detected_at DESC, id DESC", params)
        return [_incident(r, self._alerts(r["id"]), self._log(r["id"])) for r in rows]

    def needing_postmortem(self) -> list[Incident]:
        """Resolved incidents whose post-mortem the daemon has not drafted and announced yet, oldest first (a draft
        written by hand earlier, while the incident was open, does not count)."""
        rows = self.db.read(
            "SELECT * FROM incidents i WHERE status = 'resolved' AND NOT EXISTS "
            "(SELECT 1 FROM reports r WHERE r.kind = 'postmortem' AND r.key = i.id) ORDER BY resolved_at, id"
        )
        return [_incident(r, self._alerts(r["id"]), self._log(r["id"])) for r in rows]

    @staticmethod
    def log(
        conn: sqlite3.Connection, incident_id: str, at: int, recorded_at: int, author: str, kind: str, text: str
    ) -> None:
        """Append a log entry (inside the caller's transaction)."""
        conn.execute(
            "INSERT INTO incident_log (incident_id, at, recorded_at, author, kind, text) VALUES (?, ?, ?, ?, ?, ?)",
            (incident_id, at, recorded_at, author, kind, text),
        )

    def step(
        self,
        incident_id: str,
        kind: IncidentStatus | str,
        author: str,
        at: datetime,
        now: datetime,
        text: str,
        expected: IncidentStatus | None = None,
    ) -> None:
        """Record a human step: ``acknowledged``, ``mitigated`` or ``resolved`` sets the status and its time and
        author; ``note`` only logs ``text``. A status step applies only while the incident is still ``expected``
        (what the caller checked the order against).

        Raises:
            ValueError: the incident changed meanwhile (the daemon resolved it, someone else stepped first).
        """
        kind = str(kind)
        with self.db.transaction() as conn:
            if kind in (IncidentStatus.ACKNOWLEDGED, IncidentStatus.MITIGATED, IncidentStatus.RESOLVED):
                column = {"acknowledged": "acknowledged", "mitigated": "mitigated", "resolved": "resolved"}[kind]
                sql = f"UPDATE incidents SET status = ?, {column}_at = ?, {column}_by = ?, updated_at = ? WHERE id = ?"
                params: list[object] = [kind, to_epoch(at), author, to_epoch(now), incident_id]
                if expected is not None:
                    sql += " AND status = ?"
                    params.append(expected.value)
                if conn.execute(sql, params).rowcount == 0:
                    row = conn.execute("SELECT status FROM incidents WHERE id = ?", (incident_id,)).fetchone()
                    raise ValueError(f"{incident_id} changed meanwhile: it is now {row[0] if row else 'gone'}")
            self.log(conn, incident_id, to_epoch(at), to_epoch(now), author, kind, text)

    @staticmethod
    def record_postmortem(conn: sqlite3.Connection, incident_id: str, path: str, at: int) -> None:
        """Link the incident to its post-mortem draft and log it (inside the caller's transaction)."""
        conn.execute("UPDATE incidents SET postmortem = ?, updated_at = ? WHERE id = ?", (path, at, incident_id))
        IncidentStore.log(conn, incident_id, at, at, AGENT_AUTHOR, "postmortem", f"draft written: {path}")

    def set_postmortem(self, incident_id: str, path: str, now: datetime) -> None:
        """Record where the incident's post-mortem draft was written."""
        with self.db.transaction() as conn:
            self.record_postmortem(conn, incident_id, path, to_epoch(now))


def scope_json(scope: dict[str, set[str]]) -> str:
    """Canonical JSON of a scope (label → sorted values)."""
    return canonical_json({k: sorted(v) for k, v in scope.items() if v})
