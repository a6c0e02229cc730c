"""`sre-agent report cost|slo`: write the cost or SLO compliance report of a calendar month from the state store."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from sre_agent.config.loader import LoadedConfig
from sre_agent.exit_codes import ExitCode
from sre_agent.reports.postmortem.cli import reports_dir

if TYPE_CHECKING:
    from sre_agent.store.db import Database


OUT_HELP = "output folder (default: spec.reports.dir, relative to the config file)"


def add_commands(sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    """Register `report` and its subcommands on the top-level subparsers."""
    report = sub.add_parser("report", help="write reports from the state store (cost, slo, postmortem, optimize)")
    kinds = report.add_subparsers(dest="report", required=True, metavar="REPORT")
    cost = with_config(
        kinds.add_parser(
            "cost",
            help="cost of a calendar month: spend by day, warehouse, domain, pattern, user, role; budgets vs actual "
            "vs forecast; recommendations",
            description="Write the cost report of a calendar month (in spec.cost.time_zone) from the state store the "
            "agent fills: cost-<period>.html (self-contained: inline charts, no scripts or fonts, opens offline), "
            "cost-<period>.md (summary for chat), cost-<period>.json and one CSV file per table. Needs spec.cost. "
            "Statements in the report (AUTO_SUSPEND, resource monitors, budgets) are printed, never executed.",
        )
    )
    cost.add_argument("--period", help="calendar month YYYY-MM (default: the month of the newest metered hour)")
    cost.add_argument("--out", type=Path, help=OUT_HELP)
    slo = with_config(
        kinds.add_parser(
            "slo",
            help="SLO compliance of a calendar month: per SLO good/total, compliance vs objective (met/missed), "
            "error budget used per day, the incidents that used it",
            description="Write the SLO compliance report of a calendar month (in spec.cost.time_zone, else UTC) "
            "from the state store the agent fills: slo-<period>.html (self-contained: inline charts, no scripts or "
            "fonts, opens offline), slo-<period>.md (summary for chat) and slo-<period>.json. For every SLO: its "
            "objective and SLI, good and total events in the month, compliance (met, missed or no data), the "
            "month's error budget ((1 - objective) x total) used and left, budget used per day, the SLO's own "
            "window at the month's end, and each firing interval of its alert with the budget used inside it.",
        )
    )
    slo.add_argument("--period", help="calendar month YYYY-MM (default: the month of the newest SLO data)")
    slo.add_argument("--out", type=Path, help=OUT_HELP)
    postmortem = with_config(
        kinds.add_parser(
            "postmortem",
            help="the post-mortem draft of an incident: timeline, detection, impact, error budget, contributing "
            "factors, action items; the human sections marked to fill in",
            description="Write the post-mortem draft of INCIDENT_ID (see `sre-agent incidents list --all`) from the "
            "state store: postmortem-<id>.html (self-contained, prints), postmortem-<id>.md (for a wiki or ticket) "
            "and postmortem-<id>.json. The daemon drafts it by itself when an incident resolves; run this to "
            "redraft after adding notes or steps. Onset comes from the data (the scope's p95, queueing, failures, "
            "spill), time to detect / acknowledge / mitigate / resolve from the alerts and the recorded steps.",
        )
    )
    postmortem.add_argument("incident", metavar="INCIDENT_ID", help="incident id, e.g. INC-20261103-1")
    postmortem.add_argument("--out", type=Path, help=OUT_HELP)
    _add_optimize(kinds, with_config)


def cmd_report(args: argparse.Namespace, loaded: LoadedConfig, console: Console) -> int:
    """`report cost` or `report slo`: write the report's files, print a summary."""
    handlers = {
        "cost": _report_cost,
        "slo": _report_slo,
        "postmortem": _report_postmortem,
        "optimize": _report_optimize,
    }
    return handlers[args.report](args, loaded, console)


def _open_store(loaded: LoadedConfig) -> Database:
    """The agent's state store, read-only.

    Raises:
        StoreError: the agent has not run with this config yet (no store file).
    """
    from sre_agent.store.db import Database

    return Database.existing(loaded.resolve(loaded.config.spec.store.path))


def _report_postmortem(args: argparse.Namespace, loaded: LoadedConfig, console: Console) -> int:
    """`report postmortem INCIDENT_ID`: (re)draft the post-mortem and record its path on the incident."""
    from datetime import UTC, datetime

    from sre_agent.reports.postmortem.cli import draft_postmortem

    db = _open_store(loaded)
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

    db = _open_store(loaded)
    try:
        report = build_slo_report(loaded, db, args.period)
    finally:
        db.close()
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

    db = _open_store(loaded)
    try:
        report = build_cost_report(loaded, RollupStore(db), Watermarks(db), args.period)
    finally:
        db.close()
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


def _since(text: str) -> Any:
    """argparse type of ``--since`` (a bad value exits 2 with the reason)."""
    from sre_agent.errors import UsageError
    from sre_agent.reports.optimize.data import parse_since

    try:
        return parse_since(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_optimize(kinds: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    """Register `report optimize`."""
    optimize = with_config(
        kinds.add_parser(
            "optimize",
            help="weekly query optimization: the changes that save the most credits, with evidence and statements",
            description="Write the query-optimization report of the last --since (whole UTC hours) before the newest "
            "data in the state store: optimize-<day>.html (self-contained, no scripts), optimize-<day>.md (summary "
            "for chat or a wiki) and optimize-<day>.json. Query patterns (QUERY_PARAMETERIZED_HASH) are read from "
            "Snowflake with two bounded aggregate statements over ACCOUNT_USAGE.QUERY_HISTORY (see `sre-agent sql`) "
            "and ranked by the credits the cost attribution charged them (spec.cost), then by elapsed time. "
            "Findings use the thresholds of spec.reports.optimize: spill, poor pruning, queueing, provisioning "
            "waits, exploding and Cartesian joins (GET_QUERY_OPERATOR_STATS when the role may read it), rows "
            "produced jumping, latency regressions, repeated identical queries, idle and oversized warehouses, "
            "failing jobs. Each recommendation (resize or rewrite, scale up or out, split a workload, "
            "AUTO_SUSPEND, clustering key, search optimization, materialized view, query acceleration, fix or stop) "
            "carries its evidence, an estimated saving per week in credits (and money with spec.cost.credit_price) "
            "with the assumption behind it, and the statement a DBA would run: printed, never executed. Literals "
            "in query text are redacted unless --show-literals.",
        )
    )
    optimize.add_argument(
        "--since", type=_since, default=_since("7d"), help="window length in whole hours: 7d (default), 24h, 36h"
    )
    optimize.add_argument("--out", type=Path, help=OUT_HELP)
    optimize.add_argument(
        "--show-literals",
        action="store_true",
        help="show query text as written (literals may hold customer or trade data: off by default)",
    )


def _report_optimize(args: argparse.Namespace, loaded: LoadedConfig, console: Console) -> int:
    """`report optimize`: the store first (no store, nothing written), then Snowflake as the daemon connects."""
    from sre_agent.reports.optimize.data import build_optimize_report
    from sre_agent.reports.optimize.render import write_optimize_report
    from sre_agent.simulate.embedded import start_embedded
    from sre_agent.sources.snowflake import SnowflakeSource
    from sre_agent.sources.snowflake_conn import connect_kwargs, connector

    db = _open_store(loaded)
    account = None
    try:
        settings = loaded.config.spec.snowflake
        if settings.embedded is not None:
            from datetime import UTC, datetime

            account = start_embedded(settings.embedded, datetime.now(UTC))
            connect = connector(account.connect_kwargs())
        else:
            assert settings.connection is not None  # the config validator requires one of the two
            connect = connector(connect_kwargs(settings.connection))
        source = SnowflakeSource(connect, loaded.latency_thresholds_ms())
        try:
            report = build_optimize_report(loaded, db, source, args.since, args.show_literals)
        finally:
            source.close()
    finally:
        db.close()
        if account is not None:
            account.stop()
    files = write_optimize_report(report, reports_dir(loaded, args.out))
    t = report.totals
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
