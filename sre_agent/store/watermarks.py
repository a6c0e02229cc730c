"""Per query family poll state: what has been read, the data frontier, failures."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from sre_agent.logs import redact
from sre_agent.store.db import Database


@dataclass(frozen=True)
class FamilyState:
    """Where polling of one query family stands (all instants are epoch seconds)."""

    family: str
    covered_from: int | None = None
    polled_to: int | None = None
    frontier: int | None = None
    last_success_at: int | None = None
    last_attempt_at: int | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    rows_last_poll: int = 0


class Watermarks:
    """Reads and updates ``source_state``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, family: str) -> FamilyState:
        """Return the state of ``family`` (empty if never polled)."""
        rows = self.db.read("SELECT * FROM source_state WHERE family = ?", (family,))
        if not rows:
            return FamilyState(family)
        return FamilyState(**{k: rows[0][k] for k in rows[0].keys()})  # noqa: SIM118 - sqlite3.Row

    def all(self) -> list[FamilyState]:
        """Return every family's state."""
        return [FamilyState(**dict(r)) for r in self.db.read("SELECT * FROM source_state ORDER BY family")]

    def record_success(
        self,
        conn: sqlite3.Connection,
        family: str,
        start: int,
        end: int,
        frontier: int | None,
        rows: int,
        at: int,
    ) -> None:
        """Advance ``family`` after its window ``[start, end)`` was stored (same transaction as the rows)."""
        conn.execute(
            """
            INSERT INTO source_state (family, covered_from, polled_to, frontier, last_success_at, last_attempt_at,
                                      last_error, consecutive_failures, rows_last_poll)
            VALUES (?, ?, ?, ?, ?, ?, NULL, 0, ?)
            ON CONFLICT(family) DO UPDATE SET
                covered_from = MIN(COALESCE(source_state.covered_from, excluded.covered_from), excluded.covered_from),
                polled_to = MAX(COALESCE(source_state.polled_to, excluded.polled_to), excluded.polled_to),
                frontier = CASE WHEN excluded.frontier IS NULL THEN source_state.frontier
                                WHEN source_state.frontier IS NULL THEN excluded.frontier
                                ELSE MAX(source_state.frontier, excluded.frontier) END,
                last_success_at = excluded.last_success_at,
                last_attempt_at = excluded.last_attempt_at,
                last_error = NULL,
                consecutive_failures = 0,
                rows_last_poll = excluded.rows_last_poll
            """,
            (family, start, end, frontier, at, at, rows),
        )

    def record_failure(self, conn: sqlite3.Connection, family: str, error: str, at: int) -> None:
        """Count a failed poll of ``family`` without moving its window."""
        conn.execute(
            """
            INSERT INTO source_state (family, last_attempt_at, last_error, consecutive_failures)
            VALUES (?, ?, ?, 1)
            ON CONFLICT(family) DO UPDATE SET
                last_attempt_at = excluded.last_attempt_at,
                last_error = excluded.last_error,
                consecutive_failures = source_state.consecutive_failures + 1
            """,
            (family, at, redact(error)[:2000]),
        )
