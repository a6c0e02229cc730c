"""kill -9 at the worst moments: a restart resumes from the store with nothing lost and nothing doubled."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DRIVER = Path(__file__).with_name("crash_driver.py")


def _run(state: Path, failpoint: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SRE_AGENT_FAILPOINT"}
    if failpoint:
        env["SRE_AGENT_FAILPOINT"] = failpoint
    env["PYTHONPATH"] = str(DRIVER.parent) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, str(DRIVER), str(state)], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def _events(state: Path) -> list[tuple[str, str, str, int]]:
    conn = sqlite3.connect(state / "state.db")
    try:
        rows = conn.execute("SELECT rule, fingerprint, kind, at FROM alert_events ORDER BY event_id").fetchall()
    finally:
        conn.close()
    return [tuple(r) for r in rows]


def _notifications(state: Path) -> list[tuple[str, str, str]]:
    lines = [json.loads(x) for x in (state / "alerts.jsonl").read_text().splitlines() if x.strip()]
    return [(x["fingerprint"], x["transition"], x["at"], x["notification"]["sent_at"]) for x in lines]


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same replay, never interrupted."""
    state = tmp_path_factory.mktemp("clean")
    done = _run(state, None)
    assert done.returncode == 0, done.stderr
    return state


@pytest.mark.parametrize(
    "failpoints",
    [
        ["evaluate.before_commit:6"],
        ["deliver.after_send:1", "deliver.after_send:1"],
        ["poll.after_replace:4", "evaluate.before_commit:3"],
        ["notify.after_enqueue:2", "deliver.after_send:2"],
    ],
    ids=[
        "mid-evaluation",
        "after-send-before-ack-twice",
        "mid-poll-then-mid-evaluation",
        "mid-notification-then-after-send",
    ],
)
def test_kill_9_then_restart_ends_exactly_like_an_uninterrupted_run(clean_run: Path, tmp_path: Path, failpoints):
    """Transitions and notifications after crashes + restarts equal the clean run's, with no duplicate line."""
    for failpoint in failpoints:
        crashed = _run(tmp_path, failpoint)
        assert crashed.returncode == -signal.SIGKILL, f"{failpoint} should have killed the process: {crashed.stderr}"
    finished = _run(tmp_path, None)
    assert finished.returncode == 0, finished.stderr
    assert _events(tmp_path) == _events(clean_run)
    notified = _notifications(tmp_path)
    assert notified == _notifications(clean_run)
    assert len(notified) == len(set(notified)), "a crash between send and acknowledgement must not re-send"
    assert any(kind == "firing" for _, kind, _, _ in notified)
