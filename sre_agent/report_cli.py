"""`sre-agent report cost`: write the cost report of a calendar month from the state store."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from sre_agent.config.loader import LoadedConfig
from sre_agent.errors import StoreError
from sre_agent.exit_codes import ExitCode


def add_commands(sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    """Register `report` and its subcommands on the top-level subparsers."""
    report = sub.add_parser("report", help="write reports from the state store (cost)")
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


def cmd_report(args: argparse.Namespace, loaded: LoadedConfig, console: Console) -> int:
    """`report cost`."""
    from sre_agent.reports.cost_data import build_cost_report
    from sre_agent.reports.cost_render import write_cost_report
    from sre_agent.store.db import Database
    from sre_agent.store.rollups import RollupStore
    from sre_agent.store.watermarks import Watermarks

    path = loaded.resolve(loaded.config.spec.store.path)
    if not path.exists():
        raise StoreError(f"no state store at {path}: the agent has not run with this config yet")
    db = Database(path, writer=False)
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
