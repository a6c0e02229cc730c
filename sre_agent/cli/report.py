"""`sre-agent report cost|slo`: write the cost or SLO compliance report of a calendar month from the state store."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rich.console import Console

from sre_agent.cli.store import open_store
from sre_agent.config.loader import LoadedConfig
from sre_agent.errors import UsageError
from sre_agent.exit_codes import ExitCode
from sre_agent.reports.postmortem.cli import reports_dir

if TYPE_CHECKING:
    pass


_POLLED_PERIOD = "pick a period the agent polled (--period YYYY-MM)"


def _nothing_written(reason: str, next_step: str) -> UsageError:
    """A report command that found no data for its window: it writes nothing, so an existing report stays."""
    return UsageError(f"{reason}: nothing written (an existing report is kept); {next_step}")


def cmd_report(args: argparse.Namespace, loaded: LoadedConfig, console: Console) -> int:
    """`report cost` or `report slo`: write the report's files, print a summary."""
    handlers = {
        "cost": _report_cost,
        "slo": _report_slo,
        "postmortem": _report_postmortem,
        "optimize": _report_optimize,
    }
    return handlers[args.report](args, loaded, console)


def _report_postmortem(args: argparse.Namespace, loaded: LoadedConfig, console: Console) -> int:
    """`report postmortem INCIDENT_ID`: (re)draft the post-mortem and record its path on the incident."""
    from datetime import UTC, datetime

    from sre_agent.reports.postmortem.cli import draft_postmortem

    db = open_store(loaded)
    try:
        files = draft_postmortem(loaded, db, args.incident, args.out, datetime.now(UTC))
    finally:
        db.close()
    console.print(f"post-mortem draft of {args.incident.upper()}", markup=False, highlight=False)
    for kind in ("html", "markdown", "json"):
        console.print(f"  {kind}: {files[kind]}", markup=False, highlight=False)
    return ExitCode.OK


def _report_slo(args: argparse.Namespace, loaded: LoadedConfig, console: Console) -> int:
    """`report slo`."""
    from sre_agent.figures.slo_budget import BudgetUse
    from sre_agent.figures.text import pct_text, utc_minute
    from sre_agent.reports.slo.data import build_slo_report
    from sre_agent.reports.slo.render import write_slo_report

    db = open_store(loaded)
    try:
        report = build_slo_report(loaded, db, args.period)
    finally:
        db.close()
    if all(s.status == "no data" for s in report.slos):
        raise _nothing_written(f"no SLO data in the state store for {report.period}", _POLLED_PERIOD)
    files = write_slo_report(report, reports_dir(loaded, args.out))
    summary = f"{report.count('met')} met, {report.count('missed')} missed, {report.count('no data')} no data"
    console.print(f"slo {report.period}: {len(report.slos)} SLOs, {summary}, data until {report.data_until}")
    for note in report.notes:
        console.print(f"  {note}", markup=False, highlight=False)
    for s in report.slos:
        compliance = pct_text(s.compliance_percent, 3)
        use = BudgetUse.from_json(s.budget) if s.budget else None
        left = use.left_text(1) if use else "budget unknown"
        console.print(
            f"  {s.name}: {report.period} compliance {compliance} vs {s.objective_percent:g} % ({s.status}); {left} "
            f"at {utc_minute(report.as_of)}; {len(s.incidents)} alert interval(s)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    for kind in ("html", "markdown", "json"):
        console.print(f"  {kind}: {files[kind]}")
    return ExitCode.OK


def _report_cost(args: argparse.Namespace, loaded: LoadedConfig, console: Console) -> int:
    """`report cost`."""
    from sre_agent.reports.cost.data import build_cost_report
    from sre_agent.reports.cost.render import write_cost_report
    from sre_agent.store.rollups import RollupStore
    from sre_agent.store.watermarks import Watermarks

    db = open_store(loaded)
    try:
        report = build_cost_report(loaded, RollupStore(db), Watermarks(db), args.period)
    finally:
        db.close()
    if report.daily_warehouse.is_empty() and report.azure_daily.is_empty():
        raise _nothing_written(f"no metering in the state store for {report.period}", _POLLED_PERIOD)
    out = reports_dir(loaded, args.out)
    files = write_cost_report(report, out)
    t = report.totals
    money = f" ({report.currency} {t['cost']:,.2f})" if t["cost"] is not None else ""
    console.print(f"cost {report.period}: {t['credits']:,.2f} credits{money}, data until {report.data_until}")
    for b in report.budgets:
        breaching = [k for k, v in b["status"].items() if v == "breach"]
        console.print(f"  budget {b['name']}: {b['percent'] or 0:.1f} % used, signals: {', '.join(breaching) or 'ok'}")
    for kind in ("html", "markdown", "json"):
        console.print(f"  {kind}: {files[kind]}")
    console.print(f"  csv: {len([k for k in files if k.startswith('csv:')])} files in {out}")
    return ExitCode.OK


def _report_optimize(args: argparse.Namespace, loaded: LoadedConfig, console: Console) -> int:
    """`report optimize`: the store first (no store, nothing written), then Snowflake as the daemon connects."""
    from sre_agent.cli.snowflake import snowflake_source
    from sre_agent.reports.optimize.data import build_optimize_report
    from sre_agent.reports.optimize.render import write_optimize_report

    db = open_store(loaded)
    try:
        with snowflake_source(loaded) as (source, _):
            report = build_optimize_report(loaded, db, source, args.since, args.show_literals)
    finally:
        db.close()
    t = report.totals
    if not t.get("patterns"):
        embedded = (
            " The embedded Snowflake `report optimize` starts is a fresh account (its `history` before now); a demo's "
            "account ended with its run, and the demo wrote its week's report itself (demo-output/reports/)."
            if loaded.config.spec.snowflake.embedded is not None
            else ""
        )
        if report.window_end is None:
            raise _nothing_written(
                "the state store holds no polled data yet", "run the agent first (sre-agent run, or once)"
            )
        raise UsageError(
            f"no query patterns in QUERY_HISTORY from {report.since} to {report.window_end}: nothing written (an "
            f"existing report is kept).{embedded}"
        )
    files = write_optimize_report(report, reports_dir(loaded, args.out))
    console.print(
        f"optimize {report.since} to {report.window_end}: {t.get('patterns', 0)} patterns, "
        f"{t.get('findings', 0)} findings, {t.get('recommendations', 0)} recommendations",
        markup=False,
    )
    for rec in report.top:
        console.print(
            f"  {rec['rank']}. {rec['title']}: ≈ {rec['saving_credits_per_week']:,.2f} credits/week",
            markup=False,
            highlight=False,
        )
    for note in report.notes:
        console.print(f"  {note}", markup=False, highlight=False)
    for kind in ("html", "markdown", "json"):
        console.print(f"  {kind}: {files[kind]}")
    return ExitCode.OK
