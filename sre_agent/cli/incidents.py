"""`sre-agent incidents list|show|ack|mitigate|note|resolve`: the human side of an incident, in the state store.

The agent opens incidents and groups alerts into them; these commands record what people did and when, with the
author (``--author``, default the login name) and an optional back-dated ``--at`` (when it happened, if it is
recorded later). Steps must stay in order: started ≤ acknowledged ≤ mitigated ≤ resolved, none in the future.
"""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from sre_agent.cli.store import open_store, store_now
from sre_agent.clock import SystemClock
from sre_agent.config.loader import LoadedConfig
from sre_agent.errors import UsageError
from sre_agent.exit_codes import ExitCode
from sre_agent.figures import incident_times
from sre_agent.model import from_epoch, iso, to_epoch
from sre_agent.sinks.render import add_plain_row
from sre_agent.store.incidents import Incident, IncidentStatus, IncidentStore

_ORDER = [IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.MITIGATED, IncidentStatus.RESOLVED]
_STEP = {"ack": IncidentStatus.ACKNOWLEDGED, "mitigate": IncidentStatus.MITIGATED, "resolve": IncidentStatus.RESOLVED}


def find(store: IncidentStore, incident_id: str) -> Incident:
    """The incident ``incident_id`` or a usage error naming how to list them."""
    found = store.get(incident_id)
    if found is None:
        raise UsageError(f"no incident {incident_id!r} in this store (see `sre-agent incidents list --all`)")
    return found


def incident_json(i: Incident) -> dict[str, Any]:
    """An incident as JSON-ready data."""
    return {
        "id": i.id,
        "title": i.title,
        "status": i.status.value,
        "severity": i.severity.value,
        "scope": i.scope,
        "started_at": iso(i.started_at),
        "detected_at": iso(i.detected_at),
        "acknowledged_at": iso(i.acknowledged_at) if i.acknowledged_at else None,
        "acknowledged_by": i.acknowledged_by,
        "mitigated_at": iso(i.mitigated_at) if i.mitigated_at else None,
        "mitigated_by": i.mitigated_by,
        "resolved_at": iso(i.resolved_at) if i.resolved_at else None,
        "resolved_by": i.resolved_by,
        "postmortem": i.postmortem,
        "alerts": [
            {
                "fingerprint": a.fingerprint,
                "rule": a.rule,
                "labels": a.labels,
                "joined_at": iso(a.joined_at),
                "firing": a.firing,
            }
            for a in i.alerts
        ],
        "log": [{"at": iso(e.at), "author": e.author, "kind": e.kind, "text": e.text} for e in i.log],
    }


def recorded_times(i: Incident, now: datetime) -> incident_times.IncidentTimes:
    """The incident's stages and spans from its own record (the figures layer's definitions; the onset and the data's
    end of impact are the post-mortem's)."""

    def at(value: datetime | None) -> int | None:
        return None if value is None else to_epoch(value)

    return incident_times.recorded_times(
        to_epoch(i.detected_at),
        (at(i.acknowledged_at), i.acknowledged_by),
        (at(i.mitigated_at), i.mitigated_by),
        (at(i.resolved_at), i.resolved_by),
        to_epoch(now),
    )


def _check_order(incident: Incident, status: IncidentStatus, at: datetime, now: datetime) -> None:
    if incident.status == IncidentStatus.RESOLVED:
        raise UsageError(f"{incident.id} is already resolved ({iso(incident.resolved_at or now)}); add a note instead")
    if _ORDER.index(status) <= _ORDER.index(incident.status) and status != IncidentStatus.RESOLVED:
        raise UsageError(f"{incident.id} is already {incident.status.value}")
    if at > now:
        raise UsageError(f"--at {iso(at)} is in the future")
    earlier = [("started", incident.started_at), ("acknowledged", incident.acknowledged_at)]
    earlier.append(("mitigated", incident.mitigated_at))
    for name, when in earlier:
        if when is not None and at < when:
            raise UsageError(f"{incident.id} {name} at {iso(when)}: it cannot be {status.value} earlier ({iso(at)})")


def cmd_incidents(args: argparse.Namespace, loaded: LoadedConfig, console: Console) -> int:
    """Run one `incidents` subcommand."""
    db = open_store(loaded)
    now = store_now(db, SystemClock().now())
    try:
        store = IncidentStore(db)
        command = args.incidents_command
        if command == "list":
            _print_list([incident_json(i) for i in store.all(include_resolved=args.all)], args.format, console)
            return ExitCode.OK
        incident = find(store, args.id)
        if command == "show":
            _print_one(incident_json(incident), recorded_times(incident, now), args.format, console)
            return ExitCode.OK
        author = args.author or getpass.getuser()
        at = args.at or now
        if command == "note":
            if at > now:
                raise UsageError(f"--at {iso(at)} is in the future")
            if not args.text.strip():
                raise UsageError("the note is empty")
            store.step(incident.id, "note", author, at, now, args.text)
            console.print(f"{incident.id}: note added by {author}", markup=False, highlight=False)
            return ExitCode.OK
        status = _STEP[command]
        _check_order(incident, status, at, now)
        try:
            store.step(incident.id, status, author, at, now, args.note or status.value, expected=incident.status)
        except ValueError as exc:
            raise UsageError(f"{exc}; see `sre-agent incidents show {incident.id}`") from None
        console.print(f"{incident.id}: {status.value} by {author} at {iso(at)}", markup=False, highlight=False)
        if status == IncidentStatus.RESOLVED and not args.no_postmortem:
            from sre_agent.reports.postmortem.cli import draft_postmortem

            files = draft_postmortem(loaded, db, incident.id, args.out, now)
            console.print(f"post-mortem draft: {files['html']} (+ .md, .json)", markup=False, highlight=False)
        return ExitCode.OK
    finally:
        db.close()


def _print_list(rows: list[dict[str, Any]], fmt: str, console: Console) -> None:
    if fmt == "json":
        console.print_json(json.dumps(rows))
        return
    table = Table(title=f"Incidents ({len(rows)})")
    for column in ("id", "status", "severity", "title", "detected", "alerts", "postmortem"):
        table.add_column(column, overflow="ellipsis")  # wraps at spaces, never inside a word
    for r in rows:
        firing = sum(1 for a in r["alerts"] if a["firing"])
        add_plain_row(
            table, r["id"], r["status"], r["severity"], r["title"], r["detected_at"],
            f"{len(r['alerts'])} ({firing} firing)", r["postmortem"] or "",
        )  # fmt: skip
    console.print(table)


def _print_one(row: dict[str, Any], times: incident_times.IncidentTimes, fmt: str, console: Console) -> None:
    if fmt == "json":
        console.print_json(json.dumps({**row, "times": times.to_json()}))
        return
    console.print(f"{row['id']}  {row['status']}  {row['severity']}  {row['title']}", markup=False, highlight=False)
    scope = "; ".join(f"{k}: {', '.join(v)}" for k, v in row["scope"].items()) or "(no warehouse/service/domain)"
    console.print(f"scope: {scope}", markup=False, highlight=False)
    console.print(
        f"  {'Alert pending':<15} {row['started_at']}  (the opening alert's condition began)",
        markup=False,
        highlight=False,
    )
    for stage in times.instants():
        if stage.at is not None:
            who = f"  by {stage.by}" if stage.by else ""
            console.print(f"  {stage.stage:<15} {iso(from_epoch(stage.at))}{who}", markup=False, highlight=False)
    known = [s for s in times.spans() if s.seconds is not None]
    if known:
        spans = " · ".join(f"{s.name} {s.text()} ({s.between()})" for s in known)
        console.print(f"  {spans}", markup=False, highlight=False)
    later = [s.name for s in times.spans() if s.seconds is None and "post-mortem" in s.missing]
    if later:
        console.print(f"  {', '.join(later)}: in the post-mortem (they need the onset or end of impact found in the "
                      "data)", markup=False, highlight=False)  # fmt: skip
    table = Table(title="alerts")
    for column in ("fingerprint", "rule", "labels", "joined", "firing"):
        table.add_column(column, overflow="ellipsis")  # wraps at spaces, never inside a word
    for a in row["alerts"]:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(a["labels"].items()))
        add_plain_row(table, a["fingerprint"][:12], a["rule"], labels, a["joined_at"], "yes" if a["firing"] else "no")
    console.print(table)
    log = Table(title="timeline")
    for column in ("at", "author", "kind", "text"):
        log.add_column(column, overflow="ellipsis")  # wraps at spaces, never inside a word
    for e in row["log"]:
        add_plain_row(log, e["at"], e["author"], e["kind"], e["text"])
    console.print(log)
    if row["postmortem"]:
        console.print(f"post-mortem: {row['postmortem']}", markup=False, highlight=False)
