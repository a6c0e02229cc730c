"""`sre-agent report cost|slo`: write the cost or SLO compliance report of a calendar month from the state store."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from sre_agent.config.loader import LoadedConfig
from sre_agent.errors import StoreError
from sre_agent.exit_codes import ExitCode

if TYPE_CHECKING:
    from sre_agent.store.db import Database


def add_commands(sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    """Register `report` and its subcommands on the top-level subparsers."""
    report = sub.add_parser("report", help="write reports from the state store (cost, slo)")
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
    cost.add_argument("--out", type=Path, default=Path("reports"), help="output folder (default: ./reports)")
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
    slo.add_argument("--out", type=Path, default=Path("reports"), help="output folder (default: ./reports)")


def cmd_report(args: argparse.Namespace, loaded: LoadedConfig, console: Console) -> int:
    """`report cost` or `report slo`: write the report's files, print a summary."""
    handlers = {"cost": _report_cost, "slo": _report_slo}
    return handlers[args.report](args, loaded, console)


def _open_store(loaded: LoadedConfig) -> Database:
    """The agent's state store, read-only.

    Raises:
        StoreError: the agent has not run with this config yet (no store file).
    """
    from sre_agent.store.db import Database

    path = loaded.resolve(loaded.config.spec.store.path)
    if not path.exists():
        raise StoreError(f"no state store at {path}: the agent has not run with this config yet")
    return Database(path, writer=False)


def _report_slo(args: argparse.Namespace, loaded: LoadedConfig, console: Console) -> int:
    """`report slo`."""
    from sre_agent.reports.slo_data import build_slo_report
    from sre_agent.reports.slo_render import write_slo_report

    db = _open_store(loaded)
    try:
        report = build_slo_report(loaded, db, args.period)
    finally:
        db.close()
    files = write_slo_report(report, args.out)
    summary = f"{report.count('met')} met, {report.count('missed')} missed, {report.count('no data')} no data"
    console.print(f"slo {report.period}: {len(report.slos)} SLOs, {summary}, data until {report.data_until}")
    for note in report.notes:
        console.print(f"  {note}", markup=False, highlight=False)
    for s in report.slos:
        compliance = "—" if s.compliance_percent is None else f"{s.compliance_percent:.3f} %"
        used = "—" if s.budget_consumed_percent is None else f"{s.budget_consumed_percent:.1f} %"
        console.print(
            f"  {s.name}: {compliance} vs {s.objective_percent:g} % ({s.status}), budget used {used}, "
            f"{len(s.incidents)} incident(s)",
            markup=False,
            highlight=False,
        )
    for kind in ("html", "markdown", "json"):
        console.print(f"  {kind}: {files[kind]}")
    return ExitCode.OK


def _report_cost(args: argparse.Namespace, loaded: LoadedConfig, console: Console) -> int:
    """`report cost`."""
    from sre_agent.reports.cost_data import build_cost_report
    from sre_agent.reports.cost_render import write_cost_report
    from sre_agent.store.rollups import RollupStore
    from sre_agent.store.watermarks import Watermarks

    db = _open_store(loaded)
    try:
        report = build_cost_report(loaded, RollupStore(db), Watermarks(db), args.period)
    finally:
        db.close()
    files = write_cost_report(report, args.out)
    t = report.totals
    money = f" ({report.currency} {t['cost']:,.2f})" if t["cost"] is not None else ""
    console.print(f"cost {report.period}: {t['credits']:,.2f} credits{money}, data until {report.data_until}")
    for b in report.budgets:
        breaching = [k for k, v in b["status"].items() if v == "breach"]
        console.print(f"  budget {b['name']}: {b['percent'] or 0:.1f} % used, signals: {', '.join(breaching) or 'ok'}")
    for kind in ("html", "markdown", "json"):
        console.print(f"  {kind}: {files[kind]}")
    console.print(f"  csv: {len([k for k in files if k.startswith('csv:')])} files in {args.out}")
    return ExitCode.OK
