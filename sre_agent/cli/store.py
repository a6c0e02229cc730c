"""The state store as the read commands open it: it must exist, and when it does not, say which config to pass."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sre_agent.config.loader import LoadedConfig
from sre_agent.errors import UsageError
from sre_agent.store.db import Database

DEMO_CONFIG = Path("demo-output") / "agent.yaml"
"""Where `make demo` leaves the config of its replayed store (relative to the folder it ran in)."""


def open_store(loaded: LoadedConfig) -> Database:
    """The configured state store for reading (reading never creates one).

    Raises:
        UsageError: there is none yet; the message names the demo's config when one is here, else how to fill it.
    """
    path = loaded.resolve(loaded.config.spec.store.path)
    if path.exists():
        return Database.existing(path)
    hint = (
        f"the demo's store is read with its config: add `-c {DEMO_CONFIG}` (or export SRE_AGENT_CONFIG={DEMO_CONFIG})"
        if DEMO_CONFIG.exists() and DEMO_CONFIG.resolve() != loaded.path.resolve()
        else "run `sre-agent once` or `sre-agent run` with this config first, or pass another with -c"
    )
    raise UsageError(f"no state store at {path}: the agent has not run with {loaded.path} yet; {hint}")


CLOCK_KEY = "clock"
"""``evaluation_state`` key a replayed store (the demo's) sets to ``simulated``: its time is the replay's."""


def mark_simulated(db: Database) -> None:
    """Record that ``db`` was filled by a replay with a simulated clock (the demo)."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO evaluation_state (key, value) VALUES (?, 'simulated') "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (CLOCK_KEY,),
        )


def store_now(db: Database, wall: datetime) -> datetime:
    """The instant a command that records a step or a silence takes as "now": the wall clock, except for a
    replayed store, whose clock stopped at its last evaluation (a step stamped with today's date would lie after
    every later instant of the replayed week)."""
    from sre_agent.model import from_epoch

    rows = {r["key"]: r["value"] for r in db.read("SELECT key, value FROM evaluation_state")}
    if rows.get(CLOCK_KEY) == "simulated" and rows.get("last_instant") is not None:
        return from_epoch(int(rows["last_instant"]))
    return wall
