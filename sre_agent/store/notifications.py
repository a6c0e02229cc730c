"""Notification groups (their timers survive restarts) and the log of what each receiver was told."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from sre_agent.alerting.grouping import Flush, Group, Member
from sre_agent.model import canonical_json
from sre_agent.store.db import Database


@dataclass(frozen=True)
class NotificationRow:
    """One line of the notification log."""

    at: int
    receiver: str
    group_key: str
    seq: int
    fingerprint: str
    event_id: int | None
    action: str
    status: str
    severity: str
    detail: str | None


class NotificationStore:
    """Reads and writes ``notify_groups`` and ``notifications``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def groups(self) -> dict[tuple[str, str], Group]:
        """Every open group, by (receiver, group key)."""
        rows = self.db.read("SELECT receiver, group_key, state FROM notify_groups")
        return {(r["receiver"], r["group_key"]): Group.from_json(json.loads(r["state"])) for r in rows}

    def save_groups(self, conn: sqlite3.Connection, groups: list[Group], closed: list[Group], at: int) -> None:
        """Upsert ``groups`` and delete ``closed`` (groups left without members)."""
        conn.executemany(
            "INSERT INTO notify_groups (receiver, group_key, state, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(receiver, group_key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            [(g.receiver, g.key, canonical_json(g.to_json()), at) for g in groups],
        )
        conn.executemany(
            "DELETE FROM notify_groups WHERE receiver = ? AND group_key = ?", [(g.receiver, g.key) for g in closed]
        )

    def log(self, conn: sqlite3.Connection, done: Flush, sent: list[tuple[Member, str]]) -> None:
        """Record what ``done`` delivered (``sent``: member and action) and what it held back."""
        group = done.group

        def row(m: Member, action: str, detail: str | None) -> tuple[object, ...]:
            event_id = m.record.get("event_id")
            return (
                done.at,
                group.receiver,
                group.key,
                done.seq,
                m.fingerprint,
                event_id,
                action,
                m.status,
                m.severity,
                detail,
            )

        rows = [row(m, action, None) for m, action in sent] + [row(m, "held", m.held) for m in done.held]
        conn.executemany(
            "INSERT INTO notifications (at, receiver, group_key, seq, fingerprint, event_id, action, status, severity,"
            " detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def of(self, fingerprint: str) -> list[NotificationRow]:
        """The notification log of one alert, oldest first."""
        rows = self.db.read(
            "SELECT at, receiver, group_key, seq, fingerprint, event_id, action, status, severity, detail "
            "FROM notifications WHERE fingerprint = ? ORDER BY id",
            (fingerprint,),
        )
        return [NotificationRow(**dict(r)) for r in rows]

    def counts(self) -> dict[str, int]:
        """Notifications sent per alert fingerprint (holds excluded)."""
        rows = self.db.read(
            "SELECT fingerprint, COUNT(*) AS n FROM notifications WHERE action != 'held' GROUP BY fingerprint"
        )
        return {r["fingerprint"]: int(r["n"]) for r in rows}

    def sent_by_action(self, receiver: str) -> dict[str, int]:
        """Records sent to ``receiver`` per action (new, update, repeat), and holds."""
        rows = self.db.read(
            "SELECT action, COUNT(*) AS n FROM notifications WHERE receiver = ? GROUP BY action", (receiver,)
        )
        return {r["action"]: int(r["n"]) for r in rows}
