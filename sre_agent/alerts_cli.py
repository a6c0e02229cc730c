"""The alert history and silence commands: `alerts list|show` and `silence add|list|expire`."""

from __future__ import annotations

import argparse
import getpass
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from sre_agent.alerting.matchers import parse_matcher
from sre_agent.alerting.silences import Silence
from sre_agent.clock import SystemClock
from sre_agent.config.loader import LoadedConfig
from sre_agent.errors import UsageError
from sre_agent.exit_codes import ExitCode
from sre_agent.model import iso
from sre_agent.sinks.render import add_plain_row
from sre_agent.store.alerts import AlertStore
from sre_agent.store.db import Database
from sre_agent.store.notifications import NotificationStore
from sre_agent.store.silences import SilenceStore

_HEX = re.compile(r"^[0-9a-f]{4,16}$")


def instant(text: str) -> datetime:
    """An ISO 8601 instant with a time zone, in UTC (argparse type of every `--at`/`--start`/`--end`)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 instant, got {text!r}") from exc
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone (e.g. 2026-11-25T22:00:00Z)")
    return value.astimezone(UTC)


def _matcher(text: str) -> str:
    try:
        return str(parse_matcher(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_commands(
    sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser], duration: Any
) -> None:
    """Register `alerts` and `silence` on the top-level subparsers."""
    alerts = sub.add_parser("alerts", help="alert instances and their full history (from the state store)")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ALERTS_COMMAND")
    listing = with_config(alerts_sub.add_parser("list", help="firing and pending alerts (--all: every alert)"))
    listing.add_argument("--all", action="store_true", help="include resolved alerts")
    listing.add_argument("--rule", default=None, help="only this rule or SLO")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    show = with_config(
        alerts_sub.add_parser(
            "show",
            help="one alert: every transition with its evidence, and what each receiver was told",
        )
    )
    show.add_argument("fingerprint", help="the alert's fingerprint (a unique prefix of 4+ hex digits is enough)")
    show.add_argument("--format", choices=["table", "json"], default="table")

    silence = sub.add_parser(
        "silence",
        help="mute alerts by label matchers for a while (alerts are still recorded)",
        description="Silences from the CLI live in the state store; those in git are `kind: Silence` documents "
        "in the rule folders. Every silence expires.",
    )
    silence_sub = silence.add_subparsers(dest="silence_command", required=True, metavar="SILENCE_COMMAND")
    add = with_config(
        silence_sub.add_parser(
            "add",
            help="add a silence",
            description="Example: sre-agent silence add 'warehouse=\"RISK_WH\"' 'rule=~\"risk-.*\"' --duration 2h "
            '--reason "index rebuild CHG-1234"',
        )
    )
    add.add_argument("matchers", nargs="+", type=_matcher, help='label matchers: name="v", !=, =~"re", !~"re"')
    add.add_argument("--duration", type=duration, default=None, help="how long from --start (e.g. 2h)")
    add.add_argument("--start", type=instant, default=None, help="ISO instant (default now)")
    add.add_argument("--end", type=instant, default=None, help="ISO instant (instead of --duration)")
    add.add_argument("--reason", required=True, help="why (shown with every held notification)")
    add.add_argument("--author", default=None, help="who (default: the login name)")
    add.add_argument("--format", choices=["table", "json"], default="table")
    lst = with_config(silence_sub.add_parser("list", help="active and upcoming silences (--all: expired too)"))
    lst.add_argument("--all", action="store_true")
    lst.add_argument("--format", choices=["table", "json"], default="table")
    expire = with_config(silence_sub.add_parser("expire", help="end a CLI silence now"))
    expire.add_argument("id", help="the silence id (`silence list`)")


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
    now = SystemClock().now()
    db = Database(loaded.resolve(loaded.config.spec.store.path), writer=False)
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
            try:
                ended = store.expire(args.id, now)
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
        table.add_column(column, overflow="fold")
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
        rows: list[dict[str, Any]] = []
        for inst in store.instances(include_inactive=args.all):
            if args.rule and inst.rule != args.rule:
                continue
            last = store.events(fingerprint=inst.fingerprint)[-1:]
            rows.append(
                {
                    "fingerprint": inst.fingerprint,
                    "rule": inst.rule,
                    "state": inst.state.value,
                    "severity": inst.severity.value if inst.severity else None,
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
        table = Table(title=f"Alerts ({len(rows)})" + ("" if args.all else ", firing and pending"))
        for column in ("fingerprint", "rule", "state", "severity", "labels", "last transition", "sent", "summary"):
            table.add_column(column, overflow="fold")
        for r in rows:
            add_plain_row(
                table,
                r["fingerprint"],
                r["rule"],
                r["state"],
                r["severity"] or "",
                ", ".join(f"{k}={v}" for k, v in r["labels"].items()),
                f"{r['last_transition']} {r['last_transition_at']}" if r["last_transition"] else "",
                str(r["notifications"]),
                r["summary"],
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
        table.add_column(column, overflow="fold")
    for e in events:
        value = "" if e.value is None else f"{e.value:g}" + ("" if e.threshold is None else f" (thr {e.threshold:g})")
        add_plain_row(table, iso(e.at), e.kind.value, e.severity.value, value, e.annotations.get("summary", ""))
    console.print(table)
    sent = Table(title=f"Notifications ({len([n for n in log if n.action != 'held'])} sent)")
    for column in ("at", "receiver", "action", "status", "severity", "detail"):
        sent.add_column(column, overflow="fold")
    for n in log:
        add_plain_row(
            sent, iso(datetime.fromtimestamp(n.at, UTC)), n.receiver, n.action, n.status, n.severity, n.detail or ""
        )
    console.print(sent)
    if events:
        console.print("Evidence of the last transition:", style="bold")
        console.print_json(json.dumps(events[-1].evidence, default=str))
    return ExitCode.OK
