"""Reports the daemon writes by itself, into ``spec.reports.dir``, each announced through the outbox.

- every Monday from ``spec.reports.hour`` (in ``spec.cost.time_zone``, else UTC): the optimization report of the
  7 days before the newest data;
- on the 1st of a month from that hour: last month's SLO report, and its cost report when ``spec.cost`` is set;
- whenever an incident is resolved (by the agent or a person) and has no draft yet: its post-mortem draft.

A report is written once: the ``reports`` table remembers (kind, key) — the ISO week, the month or the incident
id — so a restart, or a replay over the same days, never writes or announces it twice. Writing a report never
stops a cycle: a failure is logged, kept in the cycle's errors and retried at the next cycle. Each written report
becomes one outbox record (``type: report``) for every sink that takes alerts: the JSONL file and the console
show it, Azure Monitor Logs stores it as a row (``State = Report``, never an alert), webhooks skip it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sre_agent.daemon.runtime import Agent, alert_sinks
from sre_agent.errors import SreAgentError
from sre_agent.model import iso, to_epoch

log = logging.getLogger(__name__)

OPTIMIZE_WINDOW = timedelta(days=7)


@dataclass
class ReportRun:
    """What one pass wrote (kind, key → files) and what failed (kind:key → error)."""

    written: dict[str, dict[str, str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _zone(agent: Agent) -> ZoneInfo:
    cost = agent.spec.cost
    return ZoneInfo(cost.time_zone if cost is not None else "UTC")


def _written(agent: Agent, kind: str, key: str) -> bool:
    rows = agent.db.read("SELECT 1 FROM reports WHERE kind = ? AND key = ?", (kind, key))
    return bool(rows)


def due_reports(agent: Agent, now: datetime) -> list[tuple[str, str]]:
    """(kind, key) of the scheduled reports due at ``now`` and not written yet (post-mortems excluded)."""
    settings = agent.spec.reports
    local = now.astimezone(_zone(agent))
    if local.time() < time(settings.hour):
        return []
    due: list[tuple[str, str]] = []
    if settings.weekly_optimize and local.weekday() == 0:
        year, week, _ = local.date().isocalendar()
        due.append(("optimize", f"{year}-W{week:02d}"))
    if settings.monthly and local.day == 1:
        last = (local.date().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        due.append(("slo", last))
        if agent.spec.cost is not None:
            due.append(("cost", last))
    return [(kind, key) for kind, key in due if not _written(agent, kind, key)]


def _write_optimize(agent: Agent, out: Path, now: datetime, _key: str) -> tuple[dict[str, Path], str]:
    from sre_agent.reports.optimize_data import build_optimize_report
    from sre_agent.reports.optimize_render import write_optimize_report

    report = build_optimize_report(agent.loaded, agent.db, agent.source, OPTIMIZE_WINDOW, now=now)
    files = write_optimize_report(report, out)
    top = report.top[:3]
    headline = (
        "; ".join(f"{t['title']} (saves ≈ {t['saving_credits_per_week']:,.1f} credits/week)" for t in top)
        or "no finding"
    )
    return files, f"optimization report: {headline}"


def _write_slo(agent: Agent, out: Path, now: datetime, key: str) -> tuple[dict[str, Path], str]:
    from sre_agent.reports.slo_data import build_slo_report
    from sre_agent.reports.slo_render import write_slo_report

    report = build_slo_report(agent.loaded, agent.db, key, now=now)
    files = write_slo_report(report, out)
    missed = [s.name for s in report.slos if s.status == "missed"]
    return files, f"SLO report {key}: {len(report.slos)} SLO(s), missed: {', '.join(missed) or 'none'}"


def _write_cost(agent: Agent, out: Path, now: datetime, key: str) -> tuple[dict[str, Path], str]:
    from sre_agent.reports.cost_data import build_cost_report
    from sre_agent.reports.cost_render import write_cost_report

    report = build_cost_report(agent.loaded, agent.rollups, agent.watermarks, key, now=now)
    files = write_cost_report(report, out)
    return files, f"cost report {key}: {report.totals['credits']:,.1f} credits"


WRITERS: dict[str, Callable[[Agent, Path, datetime, str], tuple[dict[str, Path], str]]] = {
    "optimize": _write_optimize,
    "slo": _write_slo,
    "cost": _write_cost,
}


def _record(agent: Agent, kind: str, key: str, files: dict[str, Path], headline: str, now: datetime) -> None:
    """Remember the report and announce it to every alert sink, in one transaction."""
    paths = {k: str(v) for k, v in files.items() if k in ("html", "markdown", "json")}
    at = to_epoch(now)
    dedup_key = f"{agent.db.store_id}:report:{kind}:{key}"
    record: dict[str, object] = {
        "type": "report",
        "kind": kind,
        "key": key,
        "summary": headline,
        "files": paths,
        "at": iso(now),
        "dedup_key": dedup_key,
    }
    with agent.db.transaction() as conn:
        _remember(conn, kind, key, at, paths)
        for sink in alert_sinks(agent.sinks):
            agent.outbox.enqueue(conn, sink, dedup_key, record, at)


def _remember(conn: sqlite3.Connection, kind: str, key: str, at: int, paths: dict[str, str]) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO reports (kind, key, written_at, files) VALUES (?, ?, ?, ?)",
        (kind, key, at, json.dumps(paths, sort_keys=True)),
    )


def write_due_reports(agent: Agent, now: datetime) -> ReportRun:
    """Write every report due at ``now`` (scheduled ones, then post-mortem drafts of resolved incidents)."""
    run = ReportRun()
    settings = agent.spec.reports
    out = agent.loaded.resolve(settings.dir)
    for kind, key in due_reports(agent, now):
        try:
            files, headline = WRITERS[kind](agent, out, now, key)
        except (SreAgentError, OSError) as exc:
            run.errors[f"{kind}:{key}"] = str(exc)
            log.error("report %s %s not written: %s", kind, key, exc)
            continue
        _record(agent, kind, key, files, headline, now)
        run.written[f"{kind}:{key}"] = {k: str(v) for k, v in files.items() if k in ("html", "markdown", "json")}
    if settings.postmortems:
        _draft_postmortems(agent, out, now, run)
    return run


def _draft_postmortems(agent: Agent, out: Path, now: datetime, run: ReportRun) -> None:
    from sre_agent.reports.postmortem_cli import draft_postmortem
    from sre_agent.store.incidents import IncidentStore

    for incident in IncidentStore(agent.db).needing_postmortem():
        if _written(agent, "postmortem", incident.id):
            continue
        try:
            files = draft_postmortem(agent.loaded, agent.db, incident.id, out, now)
        except (SreAgentError, OSError) as exc:
            run.errors[f"postmortem:{incident.id}"] = str(exc)
            log.error("post-mortem of %s not drafted: %s", incident.id, exc)
            continue
        headline = f"post-mortem draft of {incident.id} ({incident.severity.value}): {incident.title}"
        _record(agent, "postmortem", incident.id, files, headline, now)
        run.written[f"postmortem:{incident.id}"] = {k: str(v) for k, v in files.items()}
