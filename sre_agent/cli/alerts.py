"""The alert history and silence commands: `alerts list|show` and `silence add|list|expire`."""

from __future__ import annotations

import argparse
import getpass
import json
import re
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sre_agent.alerting.matchers import alert_labels, matches_all, parse_matcher
from sre_agent.alerting.silences import Silence
from sre_agent.cli.store import store_now
from sre_agent.clock import SystemClock
from sre_agent.config.loader import LoadedConfig
from sre_agent.errors import UsageError
from sre_agent.exit_codes import ExitCode
from sre_agent.figures.text import utc_minute
from sre_agent.model import iso
from sre_agent.sinks.render import add_plain_row
from sre_agent.store.alerts import AlertStore
from sre_agent.store.db import Database
from sre_agent.store.notifications import NotificationStore
from sre_agent.store.silences import SilenceStore

_HEX = re.compile(r"^[0-9a-f]{4,16}$")


def _silence_json(s: Silence, now: datetime) -> dict[str, Any]:
    ends = s.ends_at
    upcoming = s.window.occurrences(now, ends) if ends and ends > now else []
    state = "expired" if ends is not None and ends <= now else ("active" if s.window.active_at(now) else "pending")
    return {
        "id": s.id,
        "matchers": [str(m) for m in s.matchers],
        "state": state,
        "starts_at": iso(first) if (first := s.window.starts_at()) else None,
        "ends_at": iso(ends) if ends else None,
        "next": iso(upcoming[0][0]) if upcoming and state == "pending" else None,
        "recurring": s.window.rrule,
        "reason": s.reason,
        "author": s.author,
        "source": s.source,
    }


def cmd_silence(args: argparse.Namespace, loaded: LoadedConfig, console: Console) -> int:
    """`silence add|list|expire`: CLI silences are written to the state store the daemon reads."""
    db = Database(loaded.resolve(loaded.config.spec.store.path), writer=False)
    now = store_now(db, SystemClock().now())
    try:
        store = SilenceStore(db)
        if args.silence_command == "add":
            start = args.start or now
            if (args.end is None) == (args.duration is None):
                raise UsageError("give exactly one of --duration or --end: every silence expires")
            end = args.end or start + args.duration
            try:
                added = store.add(args.matchers, start, end, args.reason, args.author or getpass.getuser(), now)
            except ValueError as exc:
                raise UsageError(f"silence not added: {exc}") from exc
            _print_silences([_silence_json(added, now)], args.format, console, f"Added silence {added.id}")
            return ExitCode.OK
        if args.silence_command == "expire":
            if args.id.startswith("git:"):
                raise UsageError(f"{args.id} is declared in git: remove or edit its Silence document")
            # A unique prefix of an active silence's id is enough, as for fingerprints (`alerts show`).
            ids = [x.id for x in store.all(now) if x.id.startswith(args.id)] if len(args.id) >= 4 else [args.id]
            if len(ids) > 1:
                raise UsageError(f"{args.id} is ambiguous: {', '.join(ids[:5])}")
            try:
                ended = store.expire(ids[0] if ids else args.id, now)
            except KeyError:
                raise UsageError(f"no active silence {args.id!r} (see `sre-agent silence list --all`)") from None
            matchers = ", ".join(str(m) for m in ended.matchers)
            console.print(f"Expired silence {ended.id} ({matchers})", markup=False, highlight=False)
            return ExitCode.OK
        silences = [*loaded.silences, *store.all(None if args.all else now)]
        rows = [_silence_json(s, now) for s in silences]
        if not args.all:
            rows = [r for r in rows if r["state"] != "expired"]
        _print_silences(rows, args.format, console, f"Silences ({len(rows)})")
        return ExitCode.OK
    finally:
        db.close()


def _print_silences(rows: list[dict[str, Any]], fmt: str, console: Console, title: str) -> None:
    if fmt == "json":
        console.print_json(json.dumps(rows))
        return
    table = Table(title=title)
    for column in ("id", "matchers", "state", "starts", "ends", "reason", "author"):
        table.add_column(column, overflow="ellipsis")  # wraps at spaces, never inside a word
    for r in rows:
        add_plain_row(
            table,
            r["id"],
            "\n".join(r["matchers"]),
            r["state"] + (f" (next {r['next']})" if r["next"] else ""),
            r["starts_at"] or "",
            (r["ends_at"] or "") + (f"\n{r['recurring']}" if r["recurring"] else ""),
            r["reason"],
            r["author"],
        )
    console.print(table)


def _resolve(store: AlertStore, prefix: str) -> str:
    if not _HEX.match(prefix):
        raise UsageError(f"{prefix!r} is not a fingerprint (4 to 16 hex digits; see `sre-agent alerts list`)")
    found = store.find(prefix)
    if not found:
        raise UsageError(f"no alert with fingerprint {prefix} in this store")
    if len(found) > 1:
        raise UsageError(f"{prefix} is ambiguous: {', '.join(found[:5])}")
    return found[0]


def cmd_alerts(args: argparse.Namespace, db: Database, console: Console) -> int:
    """`alerts list|show` from the state store."""
    store = AlertStore(db)
    notes = NotificationStore(db)
    if args.alerts_command == "list":
        counts = notes.counts()
        current = store.summaries()
        matchers = [parse_matcher(m) for m in args.matchers or []]
        states = set(args.state or [])
        rows: list[dict[str, Any]] = []
        for inst in store.instances(include_inactive=args.all or "resolved" in states):
            if args.rule and inst.rule != args.rule:
                continue
            last = store.events(fingerprint=inst.fingerprint)[-1:]
            # A resolved alert keeps the severity it last had (its instance has none once inactive).
            severity = inst.severity.value if inst.severity else (last[0].severity.value if last else None)
            state = "resolved" if inst.state.value == "inactive" else inst.state.value
            if states and state not in states:
                continue
            if matchers and not matches_all(matchers, alert_labels(inst.rule, inst.labels, severity)):
                continue
            rows.append(
                {
                    "fingerprint": inst.fingerprint,
                    "rule": inst.rule,
                    "state": state,
                    "severity": severity,
                    "labels": inst.labels,
                    "since": iso(inst.active_since) if inst.active_since else None,
                    "last_transition": last[0].kind.value if last else None,
                    "last_transition_at": iso(last[0].at) if last else None,
                    "notifications": counts.get(inst.fingerprint, 0),
                    # A firing alert's figures as of its latest evaluation, not as of when it fired.
                    "summary": current.get(inst.fingerprint)
                    or (last[0].annotations.get("summary", "") if last else ""),
                    "summary_at": iso(inst.last_eval_at)
                    if inst.fingerprint in current and inst.last_eval_at
                    else (iso(last[0].at) if last else None),
                }
            )
        if args.format == "json":
            console.print_json(json.dumps(rows))
            return ExitCode.OK
        shown = ", ".join(sorted(states)) if states else ("every state" if args.all else "firing and pending")
        where = f"; {' '.join(args.matchers)}" if args.matchers else ""
        # Labels every row shares go to the title once; identifiers never wrap (only labels and summary do).
        common = dict(set.intersection(*(set(r["labels"].items()) for r in rows))) if rows else {}
        shared = f" — all with {', '.join(f'{k}={v}' for k, v in sorted(common.items()))}" if common else ""
        table = Table(title=f"Alerts ({len(rows)}, {shown}{where}){shared}")
        for column in ("fingerprint", "rule", "state", "last change", "sent", "summary (and the alert's own labels)"):
            table.add_column(column, no_wrap=not column.startswith("summary"))
        for r in rows:
            own = ", ".join(f"{k}={v}" for k, v in r["labels"].items() if k not in common)
            summary = Text(r["summary"])
            if own:
                summary.append("\n" + own, style="dim")
            add_plain_row(
                table,
                r["fingerprint"],
                r["rule"],
                f"{r['state']} {r['severity'] or ''}".strip(),
                utc_minute(datetime.fromisoformat(r["last_transition_at"])) if r["last_transition_at"] else "",
                str(r["notifications"]),
                summary,
            )
        console.print(table)
        return ExitCode.OK
    fingerprint = _resolve(store, args.fingerprint)
    found = store.get(fingerprint)
    assert found is not None
    inst = found
    events = store.events(fingerprint=fingerprint)
    log = notes.of(fingerprint)
    if args.format == "json":
        data = {
            "fingerprint": fingerprint,
            "rule": inst.rule,
            "labels": inst.labels,
            "state": inst.state.value,
            "severity": inst.severity.value if inst.severity else None,
            "transitions": [e.to_record() for e in events],
            "notifications": [{**n.__dict__, "at": iso(datetime.fromtimestamp(n.at, UTC))} for n in log],
        }
        console.print_json(json.dumps(data, default=str))
        return ExitCode.OK
    console.print(f"{inst.rule} {fingerprint} — {inst.state.value}", style="bold", markup=False, highlight=False)
    console.print(", ".join(f"{k}={v}" for k, v in inst.labels.items()), markup=False, highlight=False)
    table = Table(title=f"Transitions ({len(events)})")
    for column in ("at", "transition", "severity", "value", "summary"):
        table.add_column(column, overflow="ellipsis")  # wraps at spaces, never inside a word
    for e in events:
        value = "" if e.value is None else f"{e.value:g}" + ("" if e.threshold is None else f" (thr {e.threshold:g})")
        add_plain_row(table, iso(e.at), e.kind.value, e.severity.value, value, e.annotations.get("summary", ""))
    console.print(table)
    sent = Table(title=f"Notifications ({len([n for n in log if n.action != 'held'])} sent)")
    for column in ("at", "receiver", "action", "status", "severity", "detail"):
        sent.add_column(column, overflow="ellipsis")  # wraps at spaces, never inside a word
    for n in log:
        add_plain_row(
            sent, iso(datetime.fromtimestamp(n.at, UTC)), n.receiver, n.action, n.status, n.severity, n.detail or ""
        )
    console.print(sent)
    if events:
        console.print("Evidence of the last transition:", style="bold")
        console.print_json(json.dumps(events[-1].evidence, default=str))
    return ExitCode.OK
