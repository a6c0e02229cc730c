"""The durable outbox: every delivery is written here, in the same transaction as its cause, before any send."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from sre_agent.logs import redact
from sre_agent.store.db import Database


@dataclass(frozen=True)
class OutboxItem:
    """One pending delivery to one sink."""

    id: int
    sink: str
    dedup_key: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class OutboxBacklog:
    """One sink's undelivered rows: pending, dead letters, dropped (expired or over the pending bound), superseded
    (older than a state of the same alert already delivered), and the oldest pending one's age."""

    sink: str
    pending: int
    dead: int
    dropped: int
    oldest_pending_at: int | None
    superseded: int = 0


@dataclass(frozen=True)
class OutboxStats:
    """Health of one sink's queue."""

    sink: str
    pending: int
    dead: int
    delivered: int
    oldest_pending_at: int | None
    last_error: str | None
    dropped: int = 0
    superseded: int = 0


class Outbox:
    """Enqueue, claim, acknowledge and dead-letter deliveries."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def enqueue(self, conn: sqlite3.Connection, sink: str, dedup_key: str, payload: dict[str, Any], at: int) -> bool:
        """Add a delivery unless the same (sink, dedup_key) is already queued; return whether it was added."""
        fingerprint = payload.get("fingerprint")
        cur = conn.execute(
            "INSERT OR IGNORE INTO outbox (sink, dedup_key, event_id, payload, created_at, next_attempt_at, "
            "fingerprint, state_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sink,
                dedup_key,
                payload.get("event_id"),
                json.dumps(payload, sort_keys=True),
                at,
                at,
                str(fingerprint) if fingerprint else None,
                at,
            ),
        )
        return cur.rowcount > 0

    def due(self, sink: str, now: int, limit: int) -> list[OutboxItem]:
        """Return up to ``limit`` pending items of ``sink`` that may be sent now, in the order their states happened.

        An item is due when its next attempt is, and no older state of the same alert (fingerprint) is backing off
        for this sink: a newer state never overtakes an older one (the older, when due too, comes first in the list).
        """
        rows = self.db.read(
            "SELECT o.id, o.sink, o.dedup_key, o.payload, o.attempts FROM outbox o "
            "WHERE o.status = 'pending' AND o.sink = ? AND o.next_attempt_at <= ? AND NOT EXISTS ("
            "  SELECT 1 FROM outbox p WHERE p.sink = o.sink AND p.fingerprint = o.fingerprint AND p.status = 'pending'"
            "  AND p.next_attempt_at > ? AND (p.state_at < o.state_at OR (p.state_at = o.state_at AND p.id < o.id))"
            ") ORDER BY o.state_at, o.id LIMIT ?",
            (sink, now, now, limit),
        )
        return [OutboxItem(r["id"], r["sink"], r["dedup_key"], json.loads(r["payload"]), r["attempts"]) for r in rows]

    def supersede(self, sink: str) -> int:
        """Retire ``sink``'s pending items older than a state of the same alert it already received (a dead letter
        put back by `outbox retry` after a newer state went out); return how many (status ``superseded``)."""
        with self.db.transaction() as conn:
            return int(
                conn.execute(
                    "UPDATE outbox SET status = 'superseded', "
                    "last_error = 'superseded: a newer state of this alert was already delivered' "
                    "WHERE sink = ? AND status = 'pending' AND fingerprint IS NOT NULL AND EXISTS ("
                    "  SELECT 1 FROM outbox d WHERE d.sink = outbox.sink AND d.fingerprint = outbox.fingerprint"
                    "  AND d.status = 'delivered'"
                    "  AND (d.state_at > outbox.state_at OR (d.state_at = outbox.state_at AND d.id > outbox.id)))",
                    (sink,),
                ).rowcount
            )

    def delivered(self, ids: list[int], at: int) -> None:
        """Mark items as delivered."""
        if not ids:
            return
        with self.db.transaction() as conn:
            conn.executemany(
                "UPDATE outbox SET status = 'delivered', delivered_at = ?, attempts = attempts + 1 WHERE id = ?",
                [(at, i) for i in ids],
            )

    def failed(self, ids: list[int], error: str, at: int, retry_at: int | None) -> None:
        """Record a failed attempt: retry at ``retry_at``, or dead-letter when it is None (``error`` is stored
        redacted: a receiver's answer may echo a token)."""
        if not ids:
            return
        error = redact(error)
        with self.db.transaction() as conn:
            if retry_at is None:
                conn.executemany(
                    "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ? WHERE id = ?",
                    [(error[:2000], i) for i in ids],
                )
            else:
                conn.executemany(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
                    [(error[:2000], retry_at, i) for i in ids],
                )

    def bound(self, sink: str, now: int, max_age_s: int, max_pending: int) -> int:
        """Drop ``sink``'s pending items older than ``max_age_s`` and, beyond ``max_pending``, the oldest;
        return how many were dropped (status ``dropped``, kept for ``status`` and the history)."""
        with self.db.transaction() as conn:
            aged = conn.execute(
                "UPDATE outbox SET status = 'dropped', last_error = 'dropped: older than delivery.max_age' "
                "WHERE sink = ? AND status = 'pending' AND created_at < ?",
                (sink, now - max_age_s),
            ).rowcount
            excess = conn.execute(
                "UPDATE outbox SET status = 'dropped', last_error = 'dropped: over delivery.max_pending' "
                "WHERE id IN (SELECT id FROM outbox WHERE sink = ? AND status = 'pending' ORDER BY id DESC "
                "LIMIT -1 OFFSET ?)",
                (sink, max_pending),
            ).rowcount
        return int(aged) + int(excess)

    def requeue_dead(self, sink: str, now: int) -> int:
        """Put ``sink``'s dead letters back in the queue (after the receiver was fixed); return how many.

        Each keeps its dedup key, so a receiver that did get one ignores the repeat, and its state time, so it is
        still sent in order with its alert's other states (or superseded, when a newer one was delivered).
        """
        with self.db.transaction() as conn:
            return int(
                conn.execute(
                    "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, created_at = ? "
                    "WHERE sink = ? AND status = 'dead'",
                    (now, now, sink),
                ).rowcount
            )

    def discard_dead(self, sink: str) -> int:
        """Mark ``sink``'s dead letters as discarded (seen by a human, not to be sent); return how many."""
        with self.db.transaction() as conn:
            return int(
                conn.execute(
                    "UPDATE outbox SET status = 'discarded' WHERE sink = ? AND status = 'dead'", (sink,)
                ).rowcount
            )

    def backlog(self) -> list[OutboxBacklog]:
        """What is still to be sent or was given up on, per sink (read every cycle for the agent's self-metrics).

        Reads only rows that are not delivered (the status index), so it costs the backlog's size, not the
        outbox's retention.
        """
        rows = self.db.read(
            "SELECT sink, status, COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox "
            "WHERE status IN ('pending', 'dead', 'dropped', 'superseded') GROUP BY sink, status ORDER BY sink"
        )
        found: dict[str, dict[str, Any]] = {}
        for r in rows:
            entry = found.setdefault(
                r["sink"], {"pending": 0, "dead": 0, "dropped": 0, "superseded": 0, "oldest": None}
            )
            entry[r["status"]] = int(r["n"])
            if r["status"] == "pending":
                entry["oldest"] = r["oldest"]
        return [
            OutboxBacklog(sink, e["pending"], e["dead"], e["dropped"], e["oldest"], e["superseded"])
            for sink, e in sorted(found.items())
        ]

    def stats(self) -> list[OutboxStats]:
        """Return queue health per sink: the backlog, what was delivered and the newest error."""
        delivered = {
            r["sink"]: int(r["n"])
            for r in self.db.read("SELECT sink, COUNT(*) AS n FROM outbox WHERE status = 'delivered' GROUP BY sink")
        }
        backlog = {b.sink: b for b in self.backlog()}
        out = []
        for sink in sorted(set(delivered) | set(backlog)):
            b = backlog.get(sink) or OutboxBacklog(sink, 0, 0, 0, None)
            rows = self.db.read(
                "SELECT last_error FROM outbox WHERE sink = ? AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1",
                (sink,),
            )
            last_error = rows[0]["last_error"] if rows else None
            out.append(
                OutboxStats(
                    sink,
                    b.pending,
                    b.dead,
                    delivered.get(sink, 0),
                    b.oldest_pending_at,
                    last_error,
                    b.dropped,
                    b.superseded,
                )
            )
        return out
