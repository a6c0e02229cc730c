"""Reports the daemon writes by itself, into ``spec.reports.dir``, each announced through the outbox.

- each week, from Monday ``spec.reports.hour`` (in ``spec.cost.time_zone``, else UTC): the optimization report of
  the 7 days before the newest data;
- each month, from the 1st at that hour: last month's SLO report, and its cost report when ``spec.cost`` is set;
- whenever an incident is resolved (by the agent or a person): its post-mortem draft.

A scheduled report is due from its boundary until it is written, if the agent was already running at the boundary
(a daemon down all Monday writes the week's report when it comes back; a new install does not write last month's;
the agent keeps a week of cycle records, so a report missed for more than a week is not caught up).
The ``reports`` table remembers (kind, key) — the ISO week, the month or the incident id — so a restart, or a
replay over the same days, never writes or announces a report twice; a draft, the incident's link to it and its
announcement are recorded in one transaction. Writing a report never stops a cycle: any failure is logged, kept
in the cycle's errors and retried (scheduled reports an hour later: they read a week of history). The
optimization report reads Snowflake through its own connection, so it never holds up the polls. Each written
report becomes one outbox record (``type: report``) for every sink that announces reports: the console prints a
line, Azure Monitor Logs stores a row (``State = Report``, never taken for an alert); the JSONL notification file,
webhooks and pagers are not told.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path

from sre_agent.daemon.runtime import Agent, report_sinks
from sre_agent.model import from_epoch, iso, to_epoch
from sre_agent.reports.postmortem.cli import reports_dir
from sre_agent.reports.slo.data import report_zone
from sre_agent.sources.snowflake import SnowflakeSource
from sre_agent.store.incidents import IncidentStore

log = logging.getLogger(__name__)

OPTIMIZE_WINDOW = timedelta(days=7)
RETRY_AFTER = 3600
"""A scheduled report that failed is tried again this many seconds later."""


@dataclass
class ReportRun:
    """What one pass wrote (kind:key → files) and what failed (kind:key → error)."""

    written: dict[str, dict[str, str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _written(agent: Agent, kind: str, key: str) -> bool:
    return bool(agent.db.read("SELECT 1 FROM reports WHERE kind = ? AND key = ?", (kind, key)))


def _running_since(agent: Agent) -> int | None:
    """When the agent's first cycle ran (its install), or None before any."""
    rows = agent.db.read("SELECT MIN(instant) AS first FROM cycles")
    return int(rows[0]["first"]) if rows and rows[0]["first"] is not None else None


def due_reports(agent: Agent, now: datetime) -> list[tuple[str, str]]:
    """(kind, key) of the scheduled reports due at ``now``: the last week's and the last month's boundaries that
    have passed while the agent was running, and whose reports are not written yet."""
    settings = agent.spec.reports
    zone = report_zone(agent.loaded)
    local = now.astimezone(zone)
    since = _running_since(agent)
    due: list[tuple[str, str, datetime]] = []
    if settings.weekly_optimize:
        monday = datetime.combine(local.date() - timedelta(days=local.weekday()), time(settings.hour), zone)
        if monday > local:
            monday -= timedelta(days=7)
        year, week, _ = monday.date().isocalendar()
        due.append(("optimize", f"{year}-W{week:02d}", monday))
    if settings.monthly:
        first = datetime.combine(local.date().replace(day=1), time(settings.hour), zone)
        if first > local:
            first = datetime.combine((first.date() - timedelta(days=1)).replace(day=1), time(settings.hour), zone)
        month = (first.date() - timedelta(days=1)).strftime("%Y-%m")
        due.append(("slo", month, first))
        if agent.spec.cost is not None:
            due.append(("cost", month, first))
    at = to_epoch(now)
    return [
        (kind, key)
        for kind, key, boundary in due
        if since is not None
        and since <= to_epoch(boundary)
        and agent.report_retry_at.get(f"{kind}:{key}", 0) <= at
        and not _written(agent, kind, key)
    ]


def _write_optimize(agent: Agent, out: Path, now: datetime, _key: str) -> tuple[dict[str, Path], str]:
    from sre_agent.reports.optimize.data import build_optimize_report
    from sre_agent.reports.optimize.render import write_optimize_report

    own = SnowflakeSource(agent.connect, agent.loaded.latency_thresholds_ms()) if agent.connect else None
    try:
        report = build_optimize_report(agent.loaded, agent.db, own or agent.source, OPTIMIZE_WINDOW, now=now)
    finally:
        if own is not None:
            own.close()
    files = write_optimize_report(report, out)
    top = report.top[:3]
    saves = "; ".join(f"{t['title']} (saves ≈ {t['saving_credits_per_week']:,.1f} credits/week)" for t in top)
    return files, f"optimization report: {saves or 'no saving found'}"


def _write_slo(agent: Agent, out: Path, now: datetime, key: str) -> tuple[dict[str, Path], str]:
    from sre_agent.reports.slo.data import build_slo_report
    from sre_agent.reports.slo.render import write_slo_report

    report = build_slo_report(agent.loaded, agent.db, key, now=now)
    files = write_slo_report(report, out)
    missed = [s.name for s in report.slos if s.status == "missed"]
    return files, f"SLO report {key}: {len(report.slos)} SLO(s), missed: {', '.join(missed) or 'none'}"


def _write_cost(agent: Agent, out: Path, now: datetime, key: str) -> tuple[dict[str, Path], str]:
    from sre_agent.reports.cost.data import build_cost_report
    from sre_agent.reports.cost.render import write_cost_report

    report = build_cost_report(agent.loaded, agent.rollups, agent.watermarks, key, now=now)
    files = write_cost_report(report, out)
    return files, f"cost report {key}: {report.totals['credits']:,.1f} credits"


WRITERS: dict[str, Callable[[Agent, Path, datetime, str], tuple[dict[str, Path], str]]] = {
    "optimize": _write_optimize,
    "slo": _write_slo,
    "cost": _write_cost,
}


def _announce(
    agent: Agent, conn: sqlite3.Connection, kind: str, key: str, paths: dict[str, str], headline: str, at: int
) -> None:
    """Remember the report and queue its announcement for every sink that announces reports (inside the caller's
    transaction)."""
    conn.execute(
        "INSERT OR REPLACE INTO reports (kind, key, written_at, files) VALUES (?, ?, ?, ?)",
        (kind, key, at, json.dumps(paths, sort_keys=True)),
    )
    dedup_key = f"{agent.db.store_id}:report:{kind}:{key}"
    record: dict[str, object] = {
        "type": "report",
        "kind": kind,
        "key": key,
        "summary": headline,
        "files": paths,
        "at": iso(from_epoch(at)),
        "dedup_key": dedup_key,
    }
    for sink in report_sinks(agent.sinks):
        agent.outbox.enqueue(conn, sink, dedup_key, record, at)


def _main_files(files: dict[str, Path]) -> dict[str, str]:
    return {k: str(v) for k, v in files.items() if k in ("html", "markdown", "json")}


def write_due_reports(agent: Agent, now: datetime) -> ReportRun:
    """Write every report due at ``now`` (scheduled ones, then post-mortem drafts of resolved incidents)."""
    run = ReportRun()
    settings = agent.spec.reports
    out = reports_dir(agent.loaded)
    at = to_epoch(now)
    for kind, key in due_reports(agent, now):
        name = f"{kind}:{key}"
        try:
            files, headline = WRITERS[kind](agent, out, now, key)
        except Exception as exc:  # any failure: keep the cycle going, say why, try again later
            agent.report_retry_at[name] = at + RETRY_AFTER
            run.errors[name] = f"{type(exc).__name__}: {exc}"
            log.exception("report %s not written (retried in %d min)", name, RETRY_AFTER // 60)
            continue
        with agent.db.transaction() as conn:
            _announce(agent, conn, kind, key, _main_files(files), headline, at)
        run.written[name] = _main_files(files)
    if settings.postmortems:
        _draft_postmortems(agent, out, now, run)
    return run


def _draft_postmortems(agent: Agent, out: Path, now: datetime, run: ReportRun) -> None:
    from sre_agent.reports.postmortem.data import build_postmortem
    from sre_agent.reports.postmortem.render import write_postmortem

    at = to_epoch(now)
    for incident in IncidentStore(agent.db).needing_postmortem():
        name = f"postmortem:{incident.id}"
        try:
            draft = build_postmortem(agent.loaded, agent.db, incident.id, now)
            files = write_postmortem(draft, out)
        except Exception as exc:  # drafted again at the next cycle
            run.errors[name] = f"{type(exc).__name__}: {exc}"
            log.exception("post-mortem of %s not drafted", incident.id)
            continue
        headline = f"post-mortem draft of {incident.id} ({incident.severity.value}): {draft.incident['title']}"
        with agent.db.transaction() as conn:
            IncidentStore.record_postmortem(conn, incident.id, str(files["html"]), at)
            _announce(agent, conn, "postmortem", incident.id, _main_files(files), headline, at)
        run.written[name] = _main_files(files)
