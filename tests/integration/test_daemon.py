"""`sre-agent run`: the daemon polls, evaluates and delivers on its own, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli import _embedded_config

from sre_agent.cli import main
from sre_agent.exit_codes import ExitCode

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _wait_for(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def _count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(db, timeout=5)
        try:
            return int(conn.execute(sql).fetchone()[0] or 0)
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0  # schema not created yet


def test_the_daemon_polls_evaluates_and_drains_on_sigterm(tmp_path: Path, capsys):
    """Started on the embedded default it backfills, evaluates within seconds, answers health, exits 0 on SIGTERM."""
    config = _embedded_config(tmp_path)
    db = tmp_path / "state.db"
    daemon = subprocess.Popen(
        [sys.executable, "-m", "sre_agent", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        polled = "SELECT COUNT(*) FROM source_state WHERE polled_to IS NOT NULL AND family"
        families = f"{polled} NOT LIKE 'snowflake.slo:%'"
        # query, query_pattern (the shipped pattern-scoped anomaly rule), warehouse load and metering, query_cost,
        # database_storage and metering_daily (spec.cost); Azure metrics and cost
        assert _wait_for(lambda: _count(db, families) == 9, 120), "seven Snowflake families and two Azure ones"
        assert _wait_for(lambda: _count(db, f"{polled} LIKE 'snowflake.slo:%'") == 9, 120), "the 9 SLOs polled"
        assert _wait_for(lambda: _count(db, "SELECT COUNT(*) FROM cycles") >= 1, 60), "an evaluation ran"
        assert main(["health", "--config", str(config)]) == ExitCode.OK
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=60)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.returncode == 0, err
    assert "sre-agent running" in out
    assert _count(db, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'") == 0
    assert _count(db, "SELECT SUM(queries) FROM rollup_query") > 0
    assert _count(db, "SELECT COUNT(*) FROM rollup_azure_metric") > 0, "the simulated Azure side was polled"
    capsys.readouterr()
    assert main(["status", "--config", str(config), "--format", "json"]) == ExitCode.OK
    assert '"family": "snowflake.query"' in capsys.readouterr().out
