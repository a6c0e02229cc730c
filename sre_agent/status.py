"""`sre-agent status` and `sre-agent health`: what the store says about sources, alerts and delivery."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from sre_agent.model import from_epoch, iso
from sre_agent.sinks.render import add_plain_row
from sre_agent.store.alerts import AlertStore
from sre_agent.store.db import Database
from sre_agent.store.outbox import Outbox
from sre_agent.store.watermarks import Watermarks


def _iso(epoch: int | None) -> str | None:
    return iso(from_epoch(epoch)) if epoch is not None else None


@dataclass
class Status:
    """A snapshot of the agent's state."""

    sources: list[dict[str, Any]]
    firing: list[dict[str, Any]]
    pending: list[dict[str, Any]]
    outbox: list[dict[str, Any]]
    last_cycle: dict[str, Any] | None

    def to_json(self) -> str:
        """Serialise for `--format json`."""
        return json.dumps(asdict(self), indent=2, default=str)


def read_status(db: Database) -> Status:
    """Collect the snapshot from the store."""
    sources = [
        {
            "family": s.family,
            "last_success": _iso(s.last_success_at),
            "polled_to": _iso(s.polled_to),
            "frontier": _iso(s.frontier),
            "consecutive_failures": s.consecutive_failures,
            "last_error": s.last_error,
            "rows_last_poll": s.rows_last_poll,
        }
        for s in Watermarks(db).all()
    ]
    firing: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    for inst in sorted(AlertStore(db).active().values(), key=lambda i: (i.rule, i.fingerprint)):
        entry = {
            "rule": inst.rule,
            "fingerprint": inst.fingerprint,
            "labels": inst.labels,
            "severity": inst.severity.value if inst.severity else None,
            "since": iso(inst.active_since) if inst.active_since else None,
            "value": inst.value,
        }
        (firing if inst.state.value == "firing" else pending).append(entry)
    outbox = [
        {
            "sink": s.sink,
            "pending": s.pending,
            "dead": s.dead,
            "delivered": s.delivered,
            "dropped": s.dropped,
            "superseded": s.superseded,
            "oldest_pending": _iso(s.oldest_pending_at),
            "last_error": s.last_error,
        }
        for s in Outbox(db).stats()
    ]
    rows = db.read("SELECT * FROM cycles ORDER BY id DESC LIMIT 1")
    last = None
    if rows:
        r = rows[0]
        last = {
            "at": _iso(r["started_at"]),
            "instant": _iso(r["instant"]),
            "duration_ms": r["duration_ms"],
            "instants_evaluated": r["instants_evaluated"],
            "transitions": r["transitions"],
            "errors": json.loads(r["errors"]),
            "age_s": int(time.time()) - int(r["started_at"]),
        }
    return Status(sources, firing, pending, outbox, last)


def health(db: Database, max_age_s: int) -> tuple[bool, str]:
    """Healthy when an evaluation ran within ``max_age_s`` seconds (wall clock)."""
    rows = db.read("SELECT started_at FROM cycles ORDER BY id DESC LIMIT 1")
    if not rows:
        return False, "no evaluation recorded yet"
    age = int(time.time()) - int(rows[0]["started_at"])
    if age > max_age_s:
        return False, f"last evaluation {age}s ago (limit {max_age_s}s)"
    return True, f"last evaluation {age}s ago"


def _table(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="ellipsis")  # wraps at spaces, never inside a word
    for row in rows:
        add_plain_row(table, *row)
    return table


def render_status(status: Status, console: Console) -> None:
    """Print the snapshot as tables (sources, alerts, outbox) and the last evaluation."""
    console.print(
        _table(
            "Sources",
            ("family", "last success", "polled to", "frontier", "failures", "last error"),
            [
                (
                    s["family"],
                    s["last_success"] or "never",
                    s["polled_to"] or "—",
                    s["frontier"] or "—",
                    str(s["consecutive_failures"]),
                    (s["last_error"] or "")[:80],
                )
                for s in status.sources
            ],
        )
    )
    console.print(
        _table(
            f"Firing alerts ({len(status.firing)}), pending ({len(status.pending)})",
            ("rule", "severity", "labels", "since"),
            [
                (
                    a["rule"],
                    a["severity"] or "",
                    ", ".join(f"{k}={v}" for k, v in a["labels"].items()),
                    a["since"] or "",
                )
                for a in status.firing + status.pending
            ],
        )
    )
    console.print(
        _table(
            "Outbox",
            ("sink", "pending", "dead", "dropped", "superseded", "delivered", "oldest pending", "last error"),
            [
                (
                    o["sink"],
                    str(o["pending"]),
                    str(o["dead"]),
                    str(o["dropped"]),
                    str(o["superseded"]),
                    str(o["delivered"]),
                    o["oldest_pending"] or "—",
                    (o["last_error"] or "")[:80],
                )
                for o in status.outbox
            ],
        )
    )
    if status.last_cycle:
        c = status.last_cycle
        console.print(
            f"last evaluation {c['at']} ({c['age_s']}s ago): {c['instants_evaluated']} instant(s), "
            f"{c['transitions']} transition(s), {c['duration_ms']} ms",
            highlight=False,
        )
