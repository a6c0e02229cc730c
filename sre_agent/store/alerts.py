"""Alert instances and their full transition history (what post-mortems are built from)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from sre_agent.alerting.lifecycle import Instance, Transition
from sre_agent.model import AlertEvent, AlertState, EventKind, Severity, canonical_json, from_epoch, to_epoch
from sre_agent.store.db import Database


def _ts(value: int | None) -> Any:
    return None if value is None else from_epoch(value)


def _instance(row: sqlite3.Row) -> Instance:
    return Instance(
        fingerprint=row["fingerprint"],
        rule=row["rule"],
        labels=json.loads(row["labels"]),
        state=AlertState(row["state"]),
        severity=Severity(row["severity"]) if row["severity"] else None,
        active_since=_ts(row["active_since"]),
        fired_at=_ts(row["fired_at"]),
        last_true_at=_ts(row["last_true_at"]),
        last_eval_at=_ts(row["last_eval_at"]),
        value=row["value"],
        threshold=row["threshold"],
        evidence=json.loads(row["evidence"]),
        notified_severity=Severity(row["notified_severity"]) if row["notified_severity"] else None,
    )


def _epoch(value: Any) -> int | None:
    return None if value is None else to_epoch(value)


class AlertStore:
    """Reads and writes ``alert_instances`` and ``alert_events``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def active(self) -> dict[str, Instance]:
        """Return every pending or firing instance, by fingerprint."""
        rows = self.db.read("SELECT * FROM alert_instances WHERE state != 'inactive'")
        return {r["fingerprint"]: _instance(r) for r in rows}

    def instances(self, include_inactive: bool = False) -> list[Instance]:
        """Every known instance (by default only pending and firing ones), most recently updated first."""
        where = "" if include_inactive else "WHERE state != 'inactive'"
        rows = self.db.read(f"SELECT * FROM alert_instances {where} ORDER BY updated_at DESC, fingerprint")
        return [_instance(r) for r in rows]

    def find(self, prefix: str) -> list[str]:
        """Fingerprints starting with ``prefix`` (a git-style short id)."""
        rows = self.db.read(
            "SELECT fingerprint FROM alert_instances WHERE substr(fingerprint, 1, ?) = ? ORDER BY fingerprint",
            (len(prefix), prefix),
        )
        return [r["fingerprint"] for r in rows]

    def get(self, fingerprint: str) -> Instance | None:
        """Return the instance with ``fingerprint``, if known."""
        rows = self.db.read("SELECT * FROM alert_instances WHERE fingerprint = ?", (fingerprint,))
        return _instance(rows[0]) if rows else None

    def save(self, conn: sqlite3.Connection, inst: Instance, at: int, summary: str = "") -> None:
        """Insert or update ``inst``; ``summary`` is its summary as of this evaluation (firing alerts)."""
        conn.execute(
            """
            INSERT INTO alert_instances (fingerprint, rule, labels, state, severity, active_since, fired_at,
                                         last_true_at, last_eval_at, value, threshold, evidence, updated_at,
                                         notified_severity, summary)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(fingerprint) DO UPDATE SET
                state = excluded.state, severity = excluded.severity, active_since = excluded.active_since,
                fired_at = excluded.fired_at, last_true_at = excluded.last_true_at,
                last_eval_at = excluded.last_eval_at, value = excluded.value, threshold = excluded.threshold,
                evidence = excluded.evidence, updated_at = excluded.updated_at,
                notified_severity = excluded.notified_severity, summary = excluded.summary
            """,
            (
                inst.fingerprint,
                inst.rule,
                canonical_json(inst.labels),
                inst.state.value,
                inst.severity.value if inst.severity else None,
                _epoch(inst.active_since),
                _epoch(inst.fired_at),
                _epoch(inst.last_true_at),
                _epoch(inst.last_eval_at),
                inst.value,
                inst.threshold,
                canonical_json(inst.evidence),
                at,
                inst.notified_severity.value if inst.notified_severity else None,
                summary,
            ),
        )

    def summaries(self) -> dict[str, str]:
        """Fingerprint → the summary of its latest evaluation (firing alerts; empty when none was recorded)."""
        rows = self.db.read("SELECT fingerprint, summary FROM alert_instances WHERE summary != ''")
        return {r["fingerprint"]: r["summary"] for r in rows}

    def append(self, conn: sqlite3.Connection, t: Transition, annotations: dict[str, str]) -> AlertEvent:
        """Record transition ``t``; return it as an AlertEvent carrying its new event id."""
        inst = t.instance
        severity = inst.severity or Severity.SEV4
        cur = conn.execute(
            """
            INSERT INTO alert_events (fingerprint, rule, kind, severity, labels, annotations, at, starts_at, ends_at,
                                      value, threshold, evidence)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            (
                inst.fingerprint,
                inst.rule,
                t.kind.value,
                severity.value,
                canonical_json(inst.labels),
                canonical_json(annotations),
                to_epoch(t.at),
                to_epoch(t.starts_at),
                _epoch(t.ends_at),
                inst.value,
                inst.threshold,
                canonical_json(inst.evidence),
            ),
        )
        event_id = int(cur.lastrowid or 0)
        return AlertEvent(
            event_id,
            inst.fingerprint,
            inst.rule,
            t.kind,
            severity,
            dict(inst.labels),
            annotations,
            t.at,
            t.starts_at,
            t.ends_at,
            inst.value,
            inst.threshold,
            inst.evidence,
            self.db.store_id,
        )

    def events(
        self, kinds: tuple[EventKind, ...] | None = None, since: int | None = None, fingerprint: str | None = None
    ) -> list[AlertEvent]:
        """Return recorded events, oldest first (optionally only some kinds / since an instant / of one alert)."""
        sql = "SELECT * FROM alert_events WHERE 1 = 1"
        params: list[object] = []
        if fingerprint is not None:
            sql += " AND fingerprint = ?"
            params.append(fingerprint)
        if kinds:
            sql += f" AND kind IN ({', '.join('?' for _ in kinds)})"
            params += [k.value for k in kinds]
        if since is not None:
            sql += " AND at >= ?"
            params.append(since)
        rows = self.db.read(sql + " ORDER BY event_id", params)
        origin = self.db.store_id
        return [
            AlertEvent(
                r["event_id"],
                r["fingerprint"],
                r["rule"],
                EventKind(r["kind"]),
                Severity(r["severity"]),
                json.loads(r["labels"]),
                json.loads(r["annotations"]),
                from_epoch(r["at"]),
                from_epoch(r["starts_at"]),
                _ts(r["ends_at"]),
                r["value"],
                r["threshold"],
                json.loads(r["evidence"]),
                origin,
            )
            for r in rows
        ]
