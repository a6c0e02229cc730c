"""Replay driver run in a subprocess by test_crash_recovery: it may be killed with SIGKILL at a failpoint.

Usage: python crash_driver.py STATE_DIR. Seeds the same deterministic history every time (the fake
account is in memory, like a real account it simply still has its data after the agent's crash),
resumes the simulated clock from the last completed cycle in the store, and replays to the end.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support import config_for, open_test_agent, replay, seed

from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake
from sre_agent.store.db import Database

STEP = timedelta(minutes=15)


def main(state: Path) -> int:
    """Run (or resume) the replay into ``state``."""
    with EmbeddedSnowflake() as server:
        history = seed(server, days=2, queries_per_day=5000, seed_value=11)
        incident = next(i for i in history.incidents if i.id.startswith("INC-1"))
        start, end = incident.start - timedelta(hours=1), incident.end + timedelta(hours=2)
        db_file = state / "state.db"
        if db_file.exists():
            db = Database(db_file)
            rows = db.read("SELECT MAX(instant) AS last FROM cycles")
            db.close()
            if rows and rows[0]["last"] is not None:
                start = datetime.fromtimestamp(rows[0]["last"], UTC) + STEP
        agent = open_test_agent(config_for(state), server)
        try:
            replay(agent, server, start, end, STEP)
        finally:
            agent.close()
    print(json.dumps({"resumed_from": start.isoformat()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
