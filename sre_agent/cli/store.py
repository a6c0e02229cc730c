"""The state store as the read commands open it: it must exist, and when it does not, say which config to pass."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sre_agent.config.loader import LoadedConfig
from sre_agent.errors import UsageError
from sre_agent.model import from_epoch
from sre_agent.store import evaluation_state
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


def store_now(db: Database, wall: datetime) -> datetime:
    """The instant a command that records a step or a silence takes as "now": the wall clock, except for a
    replayed store, whose clock stopped at its last evaluation (a step stamped with today's date would lie after
    every later instant of the replayed week)."""
    last = evaluation_state.last_instant(db)
    return from_epoch(last) if last is not None and evaluation_state.simulated(db) else wall
