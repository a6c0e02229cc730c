"""Silences added from the CLI, kept in the state store (the daemon reads them at every evaluation)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import datetime

from sre_agent.alerting.matchers import parse_matcher
from sre_agent.alerting.silences import Silence
from sre_agent.config.time_windows import TimeWindow
from sre_agent.model import from_epoch, to_epoch
from sre_agent.store.db import Database


class SilenceStore:
    """Add, list and expire CLI silences."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self, matchers: list[str], starts_at: datetime, ends_at: datetime, reason: str, author: str, now: datetime
    ) -> Silence:
        """Store a new silence and return it.

        Raises:
            ValueError: a matcher does not parse, ends_at is not after starts_at or not in the future,
                or the reason or author is empty.
        """
        parsed = tuple(parse_matcher(m) for m in matchers)
        if not parsed:
            raise ValueError("a silence needs at least one matcher")
        if ends_at <= starts_at:
            raise ValueError("the silence must end after it starts")
        if ends_at <= now:
            raise ValueError("the silence would already be over")
        if len(reason.strip()) < 3:
            raise ValueError("say why (--reason, at least 3 characters)")
        if not author.strip():
            raise ValueError("say who (--author)")
        silence_id = uuid.uuid4().hex[:12]
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO silences (id, matchers, starts_at, ends_at, reason, author, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    silence_id,
                    json.dumps([str(m) for m in parsed]),
                    to_epoch(starts_at),
                    to_epoch(ends_at),
                    reason.strip(),
                    author.strip(),
                    to_epoch(now),
                ),
            )
        found = self.get(silence_id)
        assert found is not None
        return found

    def get(self, silence_id: str) -> Silence | None:
        """The silence with ``silence_id`` (expired or not)."""
        rows = self.db.read("SELECT * FROM silences WHERE id = ?", (silence_id,))
        return _silence(rows[0]) if rows else None

    def all(self, now: datetime | None = None) -> list[Silence]:
        """Every stored silence, or only those not yet over at ``now``, oldest first."""
        if now is None:
            rows = self.db.read("SELECT * FROM silences ORDER BY created_at, id")
        else:
            rows = self.db.read("SELECT * FROM silences WHERE ends_at > ? ORDER BY created_at, id", (to_epoch(now),))
        return [_silence(r) for r in rows]

    def expire(self, silence_id: str, now: datetime) -> Silence:
        """End a silence now (an ended one stays listed with ``--all``).

        Raises:
            KeyError: no silence has this id (or it is already over).
        """
        at = to_epoch(now)
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE silences SET expired_at = ?, ends_at = ?, starts_at = MIN(starts_at, ?) "
                "WHERE id = ? AND ends_at > ?",
                (at, at, at - 1, silence_id, at),
            )
            if cur.rowcount == 0:
                raise KeyError(silence_id)
        found = self.get(silence_id)
        assert found is not None
        return found


def _silence(row: sqlite3.Row) -> Silence:
    window = TimeWindow(start=from_epoch(row["starts_at"]), end=from_epoch(row["ends_at"]))
    matchers = tuple(parse_matcher(m) for m in json.loads(row["matchers"]))
    return Silence(row["id"], matchers, window, row["reason"], row["author"], "cli")
