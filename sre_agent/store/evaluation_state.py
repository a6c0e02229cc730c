"""The evaluation loop's own state in the store (``evaluation_state``): the last instant evaluated, when evaluation
resumed after the agent was down, and whether the store was filled by a replay with a simulated clock."""

from __future__ import annotations

from sre_agent.store.db import Database

LAST_INSTANT = "last_instant"
"""The newest instant evaluated (epoch s)."""
RESUMED_AT = "resumed_at"
"""The instant evaluation resumed after the agent itself was down (a paused VM, a stopped pod)."""
CLOCK = "clock"
"""``simulated`` in a store a replay filled (the demo's): its time is the replay's, not the wall clock."""


def read_int(db: Database, key: str) -> int | None:
    """The integer value of ``key`` (None: never written)."""
    rows = db.read("SELECT value FROM evaluation_state WHERE key = ?", (key,))
    return int(rows[0]["value"]) if rows else None


def last_instant(db: Database) -> int | None:
    """The newest instant evaluated (epoch s), if any."""
    return read_int(db, LAST_INSTANT)


def mark_simulated(db: Database) -> None:
    """Record that ``db`` was filled by a replay with a simulated clock (the demo)."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO evaluation_state (key, value) VALUES (?, 'simulated') "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (CLOCK,),
        )


def simulated(db: Database) -> bool:
    """Whether a replay with a simulated clock filled ``db``."""
    rows = db.read("SELECT value FROM evaluation_state WHERE key = ?", (CLOCK,))
    return bool(rows) and rows[0]["value"] == "simulated"
