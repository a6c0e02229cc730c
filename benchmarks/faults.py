"""Delivery under faults, as the hardening suite measured it (issue 18): a flaky receiver and kills mid-delivery.

* **sink faults**: ``--alerts`` alerts, each firing, a reminder and a resolve, enqueued minutes apart into a real
  outbox; a receiver fails ``--fault-rate`` of its calls (retryable 503s, seeded); the delivery loop runs every
  10 s of simulated time until nothing is pending. Halfway, the dead letters (if any) are put back as
  ``sre-agent outbox retry`` does. Prints notifications, delivered exactly once, duplicates, dead letters, stale
  end states (an alert whose receiver holds a state older than its newest), superseded, receiver calls.
* **kills**: ``--kills`` runs, each a process delivering ``--records`` webhook-style records (one request per
  record) that is SIGKILLed right after the k-th send (the failpoint ``deliver.after_send:k``, k drawn per run),
  then restarted to finish. A receiver that does not deduplicate counts every arrival. Prints records lost and
  re-sends beyond the one record in flight at the kill (both must be 0).

    python benchmarks/faults.py                            # 200 alerts, 30 % faults, 40 kills
    python benchmarks/faults.py --alerts 50 --kills 10
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from sre_agent.config.agent import DeliverySettings
from sre_agent.errors import SinkError
from sre_agent.sinks.delivery import deliver
from sre_agent.store.db import Database
from sre_agent.store.outbox import Outbox

NOW = 1_793_610_000
SETTINGS = DeliverySettings()


class FlakyReceiver:
    """A webhook: one request per record, a seeded share of them answered with a retryable 503 (the records of a
    call before the failing one arrived); keeps what arrived, in order."""

    name = "hook"
    per_record = True

    def __init__(self, rate: float, seed: int) -> None:
        self.rng = random.Random(seed)
        self.rate = rate
        self.calls = 0
        self.got: list[dict[str, Any]] = []

    def send(self, records: list[dict[str, Any]]) -> None:
        for sent, record in enumerate(records):
            self.calls += 1
            if self.rng.random() < self.rate:
                raise SinkError(self.name, "HTTP 503", sent=sent)
            self.got.append(record)

    def close(self) -> None:
        pass


def sink_faults(alerts: int, rate: float, seed: int) -> dict[str, Any]:
    """The flaky-receiver experiment; returns its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "state.db")
        outbox = Outbox(db)
        newest: dict[str, int] = {}
        keys = []
        with db.transaction() as conn:
            for a in range(alerts):
                fp = f"fp{a:05d}"
                for step, status in enumerate(("firing", "firing", "resolved")):
                    at = NOW + a * 3 + step * 300
                    key = f"{fp}:{step + 1}"
                    outbox.enqueue(conn, "hook", key, {"event_id": step + 1, "fingerprint": fp, "status": status}, at)
                    newest[fp] = at
                    keys.append(key)
        receiver = FlakyReceiver(rate, seed)
        now, passes, requeued = NOW, 0, 0
        began = time.perf_counter()
        while True:
            deliver(outbox, [receiver], now, SETTINGS, random.Random(now))
            passes += 1
            if passes == 500:
                requeued = outbox.requeue_dead("hook", now)
            if not db.read("SELECT 1 FROM outbox WHERE status = 'pending' LIMIT 1") and passes > 500:
                break
            if passes > 20_000:
                raise SystemExit("the outbox did not drain")
            now += 10
        seconds = time.perf_counter() - began
        [stats] = outbox.stats()
        db.close()
    arrived = [r["dedup_key"] for r in receiver.got]
    last: dict[str, int] = {}
    for record in receiver.got:
        last[record["fingerprint"]] = int(record["event_id"])
    stale = sum(1 for fp in newest if last.get(fp) != 3)
    return {
        "notifications": len(keys),
        "delivered_once": sum(1 for k in set(arrived) if arrived.count(k) == 1),
        "duplicates": len(arrived) - len(set(arrived)),
        "lost": len(set(keys) - set(arrived)),
        "dead": stats.dead,
        "requeued": requeued,
        "superseded": getattr(stats, "superseded", 0),  # (older stores: no such count)
        "stale_end_states": stale,
        "receiver_calls": receiver.calls,
        "passes": passes,
        "seconds": round(seconds, 2),
    }


_CHILD = """
from pathlib import Path
from sre_agent.config.agent import DeliverySettings
from sre_agent.sinks.delivery import deliver
from sre_agent.store.db import Database
from sre_agent.store.outbox import Outbox

class Appends:
    name = "hook"
    per_record = True
    def send(self, records):
        with open({received!r}, "a") as f:
            f.writelines(r["dedup_key"] + "\\n" for r in records)
    def close(self):
        pass

db = Database(Path({state!r}))
outbox = Outbox(db)
if not db.read("SELECT 1 FROM outbox LIMIT 1"):
    with db.transaction() as conn:
        for i in range({records}):
            outbox.enqueue(conn, "hook", f"fp{{i}}:1", {{"event_id": 1, "fingerprint": f"fp{{i}}"}}, {now})
deliver(outbox, [Appends()], {now}, DeliverySettings())
"""


def kills(runs: int, records: int, seed: int) -> dict[str, Any]:
    """The kill -9 experiment; returns its figures."""
    rng = random.Random(seed)
    lost = extra = killed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            state, received = Path(tmp) / f"state{run}.db", Path(tmp) / f"received{run}.txt"
            script = textwrap.dedent(_CHILD).format(received=str(received), state=str(state), records=records, now=NOW)
            k = rng.randint(1, records)
            env = {**os.environ, "SRE_AGENT_FAILPOINT": f"deliver.after_send:{k}"}
            first = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, check=False)
            killed += first.returncode == -9
            env.pop("SRE_AGENT_FAILPOINT")
            subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, check=True)
            lines = received.read_text().split()
            counts = {key: lines.count(key) for key in set(lines)}
            lost += records - len(counts)
            extra += sum(n - 1 for n in counts.values()) - (1 if first.returncode == -9 else 0)
    return {"runs": runs, "killed": killed, "records_per_run": records, "lost": lost, "resends_beyond_in_flight": extra}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--records", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.getLogger("sre_agent").setLevel(logging.ERROR)  # each failed call is a warning: thousands of them

    faults = sink_faults(args.alerts, args.fault_rate, args.seed)
    print(f"sink faults ({args.fault_rate:.0%} of calls fail, {args.alerts} alerts × 3 states)")
    for key, value in faults.items():
        print(f"  {key:<22} {value}")
    ok = faults["lost"] == faults["duplicates"] == faults["dead"] == faults["stale_end_states"] == 0
    print(
        f"sink faults: {faults['lost']} lost, {faults['duplicates']} duplicates, {faults['dead']} dead letters, "
        f"{faults['stale_end_states']} stale end states of {faults['notifications']} (targets 0): "
        + ("ok" if ok else "FAILED")
    )
    crash = kills(args.kills, args.records, args.seed)
    print(f"kills ({crash['runs']} runs of {crash['records_per_run']} records, SIGKILL after a random send)")
    for key, value in crash.items():
        print(f"  {key:<26} {value}")
    crash_ok = crash["lost"] == crash["resends_beyond_in_flight"] == 0 and crash["killed"] == crash["runs"]
    print(
        f"kills: {crash['killed']}/{crash['runs']} killed, {crash['lost']} lost, "
        f"{crash['resends_beyond_in_flight']} re-sends of acknowledged records (targets 0): "
        + ("ok" if crash_ok else "FAILED")
    )
    return 0 if ok and crash_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
