"""Delivery under receiver faults, as the hardening suite found them (issue 18, items 1-5): attempts are per record,
an alert's states arrive in order and a stale one is never sent, Retry-After is clamped, one sink's failure never
stops another, and a crash mid-batch re-sends nothing that was acknowledged.

Time is simulated (``now`` in epoch seconds, seeded jitter); the receivers are in-memory destinations that fail as
told. Nothing sleeps.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sre_agent.config.agent import DeliverySettings
from sre_agent.errors import SinkError
from sre_agent.sinks.delivery import deliver
from sre_agent.sinks.http_failures import retry_after_seconds
from sre_agent.store.db import Database
from sre_agent.store.outbox import Outbox

NOW = 1_793_610_000  # 2026-11-02T09:00:00Z
SETTINGS = DeliverySettings(max_attempts=8, max_backoff=timedelta(minutes=10), max_retry_after=timedelta(hours=1))


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    db = Database(tmp_path / "state.db")
    yield Outbox(db)
    db.close()


def notify(outbox: Outbox, sink: str, fingerprint: str, event_id: int, at: int, status: str = "firing") -> str:
    key = f"{fingerprint}:{event_id}"
    payload = {"event_id": event_id, "fingerprint": fingerprint, "status": status, "at": at}
    with outbox.db.transaction() as conn:
        outbox.enqueue(conn, sink, key, payload, at)
    return key


class Receiver:
    """Keeps what it received, in order; fails the calls ``fail(call)`` says, with ``retry_after``."""

    per_record = True

    def __init__(self, name: str, fail: Any = None, retry_after: float | None = None, retryable: bool = True) -> None:
        self.name = name
        self.fail = fail or (lambda call: False)
        self.retry_after = retry_after
        self.retryable = retryable
        self.calls = 0
        self.got: list[dict[str, Any]] = []

    def send(self, records: list[dict[str, Any]]) -> None:
        self.calls += 1
        if self.fail(self.calls):
            raise SinkError(self.name, "HTTP 503", retryable=self.retryable, retry_after=self.retry_after)
        self.got.extend(records)

    def close(self) -> None:
        pass


def drain(outbox: Outbox, sinks: list[Any], start: int, passes: int = 5000, step: int = 10) -> int:
    """Run the delivery loop every ``step`` seconds until nothing is pending (or ``passes`` ran); return the time."""
    now = start
    for _ in range(passes):
        deliver(outbox, sinks, now, SETTINGS, random.Random(now))
        if not outbox.db.read("SELECT 1 FROM outbox WHERE status = 'pending' LIMIT 1"):
            return now
        now += step
    raise AssertionError("the outbox did not drain")


def test_at_a_30_percent_transient_fault_rate_nothing_is_dead_lettered_and_each_record_arrives_once_in_order(
    outbox: Outbox,
) -> None:
    rng = random.Random(7)
    receiver = Receiver("hook", fail=lambda call: rng.random() < 0.3)
    sent = {}
    for alert in range(20):  # 20 alerts, each firing, a reminder and resolved: 60 notifications
        for step, status in enumerate(("firing", "firing", "resolved")):
            at = NOW + alert * 7 + step * 120
            sent[notify(outbox, "hook", f"fp{alert:02d}", step + 1, at, status)] = (f"fp{alert:02d}", at)
    drain(outbox, [receiver], NOW + 400)

    keys = [r["dedup_key"] for r in receiver.got]
    assert sorted(keys) == sorted(sent), "every notification arrived exactly once"
    assert outbox.stats()[0].dead == 0
    assert receiver.calls > len(sent), "the receiver did fail some calls"
    for alert in range(20):
        fp = f"fp{alert:02d}"
        mine = [r["at"] for r in receiver.got if r["fingerprint"] == fp]
        assert mine == sorted(mine), f"{fp}'s states arrived out of order"
        assert (
            receiver.got[max(i for i, r in enumerate(receiver.got) if r["fingerprint"] == fp)]["status"] == "resolved"
        )


def test_a_newer_state_waits_while_an_older_state_of_the_same_alert_backs_off(outbox: Outbox) -> None:
    receiver = Receiver("hook", fail=lambda call: call == 1, retry_after=300)
    notify(outbox, "hook", "fpA", 1, NOW, "firing")
    report = deliver(outbox, [receiver], NOW, SETTINGS, random.Random(0))
    assert report.retried == 1
    notify(outbox, "hook", "fpA", 2, NOW + 60, "resolved")
    notify(outbox, "hook", "fpB", 1, NOW + 60, "firing")

    deliver(outbox, [receiver], NOW + 60, SETTINGS, random.Random(0))
    assert [(r["fingerprint"], r["status"]) for r in receiver.got] == [("fpB", "firing")], "fpA's resolve waited"

    drain(outbox, [receiver], NOW + 61)
    assert [(r["fingerprint"], r["status"]) for r in receiver.got] == [
        ("fpB", "firing"),
        ("fpA", "firing"),
        ("fpA", "resolved"),
    ]


def test_outbox_retry_never_sends_a_state_older_than_one_already_delivered(outbox: Outbox) -> None:
    refuses_first = Receiver("hook", fail=lambda call: call == 1, retryable=False)
    notify(outbox, "hook", "fpA", 1, NOW, "firing")
    notify(outbox, "hook", "fpA", 2, NOW + 60, "resolved")
    report = deliver(outbox, [refuses_first], NOW + 60, SETTINGS, random.Random(0))
    assert (report.dead, report.delivered) == (1, 1)

    assert outbox.requeue_dead("hook", NOW + 120) == 1
    report = deliver(outbox, [refuses_first], NOW + 120, SETTINGS, random.Random(0))

    assert (report.superseded, report.delivered) == (1, 0)
    assert [r["status"] for r in refuses_first.got] == ["resolved"], "the stale 'firing' was never sent after it"
    [stats] = outbox.stats()
    assert (stats.pending, stats.dead, stats.superseded) == (0, 0, 1)


@pytest.mark.parametrize(
    "header", ["inf", "1e12", "nan", "Fri, 31 Dec 9999 23:59:59 GMT", "-5", "not a number"], ids=str
)
def test_retry_after_is_clamped_and_a_failing_sink_never_stops_the_next_one(outbox: Outbox, header: str) -> None:
    hook = Receiver("hook", fail=lambda call: True, retry_after=retry_after_seconds(header))
    jsonl = Receiver("jsonl")
    for sink in ("hook", "jsonl"):
        for i in range(5):
            notify(outbox, sink, f"fp{i}", 1, NOW)

    report = deliver(outbox, [hook, jsonl], NOW, SETTINGS, random.Random(0))

    assert len(jsonl.got) == 5, "the sink after the failing one delivered everything"
    assert hook.calls == 1, "a failing receiver is tried once per pass"
    [wait] = [
        r["next_attempt_at"] - NOW
        for r in outbox.db.read("SELECT next_attempt_at FROM outbox WHERE sink = 'hook' AND attempts = 1")
    ]
    assert 1 <= wait <= SETTINGS.max_retry_after.total_seconds()
    assert report.retried == 1
    assert not any("Overflow" in e for e in report.errors)


def test_a_kill_mid_batch_re_sends_only_the_record_whose_answer_was_not_recorded(tmp_path: Path) -> None:
    """SIGKILL right after the second record is sent, before it is acknowledged: on restart the first record
    (acknowledged) is not sent again, the second is (at-least-once), the rest once."""
    state, received = tmp_path / "state.db", tmp_path / "received.txt"
    script = textwrap.dedent(
        f"""
        from datetime import timedelta
        from pathlib import Path
        from sre_agent.config.agent import DeliverySettings
        from sre_agent.sinks.delivery import deliver
        from sre_agent.store.db import Database
        from sre_agent.store.outbox import Outbox

        class Appends:  # a receiver that does not deduplicate (Teams, Logic Apps), one request per record
            name = "hook"
            per_record = True
            def send(self, records):
                with open({str(received)!r}, "a") as f:
                    f.writelines(r["dedup_key"] + "\\n" for r in records)
            def close(self):
                pass

        db = Database(Path({str(state)!r}))
        outbox = Outbox(db)
        if not db.read("SELECT 1 FROM outbox LIMIT 1"):
            with db.transaction() as conn:
                for i in range(5):
                    outbox.enqueue(conn, "hook", f"fp{{i}}:1", {{"event_id": 1, "fingerprint": f"fp{{i}}"}}, {NOW})
        deliver(outbox, [Appends()], {NOW}, DeliverySettings())
        """
    )
    env = {**os.environ, "SRE_AGENT_FAILPOINT": "deliver.after_send:2"}
    killed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    assert killed.returncode == -9, killed.stderr
    env.pop("SRE_AGENT_FAILPOINT")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr

    lines = received.read_text().split()
    assert {k: lines.count(k) for k in sorted(set(lines))} == {
        "fp0:1": 1,
        "fp1:1": 2,
        "fp2:1": 1,
        "fp3:1": 1,
        "fp4:1": 1,
    }
