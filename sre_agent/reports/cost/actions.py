"""What the cost report tells people to do, tied to money: recommendations with their evidence and estimated
savings, and the statements that would enforce each budget inside Snowflake or Azure (printed, never executed;
identifiers quoted, literals escaped)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import polars as pl

from sre_agent.config.budget import CostBudgetDoc
from sre_agent.engine.rollups import QUERY
from sre_agent.figures.text import pct, utc_minute
from sre_agent.reports.cost.model import CostReport
from sre_agent.reports.statements import SIZES, object_name, quote_ident, quote_literal
from sre_agent.store.rollups import RollupStore

IDLE_SHARE = 0.3
"""A warehouse idle for more than this share of its compute gets an auto-suspend recommendation."""
OVERSIZED_EXEC_S = 5.0
"""Mean execution time under which a quiet warehouse above X-Small is oversized (heuristic #23)."""


def enforcement(budget: CostBudgetDoc, price: float | None, month: date | None = None) -> dict[str, Any]:
    """The statements a DBA can run to have Snowflake itself enforce ``budget`` (printed, never executed)."""
    spec = budget.spec
    if spec.scope.kind == "azure":
        return _azure_enforcement(budget, month or datetime.now(UTC).date().replace(day=1))
    credits = float(spec.amount) if spec.unit == "credits" else (float(spec.amount) / price if price else None)
    if credits is None:
        return {"budget": budget.name, "statements": [], "note": "no credit price: cannot express it in credits"}
    quota = int(np.ceil(credits))
    monitor = quote_ident(object_name(budget.name, "monitor"))
    frequency = {"day": "DAILY", "week": "WEEKLY", "month": "MONTHLY"}[spec.period]
    notify = sorted({int(t.percent) for t in spec.actual if t.percent < 100})[:5]
    triggers = " ".join(f"ON {p} PERCENT DO NOTIFY" for p in notify)
    triggers += " ON 100 PERCENT DO SUSPEND ON 110 PERCENT DO SUSPEND_IMMEDIATE"
    note = (
        "Resource monitors reset at 00:00 UTC (not in the budget's time zone), count cloud services before the 10 % "
        "adjustment and are not precise: keep the agent's alerts as the early warning. Only ACCOUNTADMIN creates them."
    )
    if spec.scope.kind == "domain":
        name = quote_ident(object_name(budget.name, "budget"))
        statements = [
            f"CREATE SNOWFLAKE.CORE.BUDGET <database>.<schema>.{name}();",
            f"CALL <database>.<schema>.{name}!SET_SPENDING_LIMIT({quota});",
            "-- then add the domain's objects, or a tag that marks them:",
        ]
        statements += [
            f"CALL <database>.<schema>.{name}!ADD_RESOURCE_TAG(SYSTEM$REFERENCE('TAG', '<domain tag>', 'SESSION', "
            f"'APPLYBUDGET'), {quote_literal(domain)});"
            for domain in spec.scope.domain
        ]
        note = (
            "A domain spans warehouses: a custom budget (monthly, 00:00 UTC on the 1st) with the domain's tag is "
            "Snowflake's own equivalent; it notifies and does not suspend. Replace <database>.<schema> and the tag."
        )
        return {"budget": budget.name, "statements": statements, "note": note}
    head = (
        f"CREATE RESOURCE MONITOR {monitor} WITH CREDIT_QUOTA = {quota} FREQUENCY = {frequency} "
        f"START_TIMESTAMP = IMMEDIATELY TRIGGERS {triggers};"
    )
    if spec.scope.kind == "account":
        return {
            "budget": budget.name,
            "statements": [head, f"ALTER ACCOUNT SET RESOURCE_MONITOR = {monitor};"],
            "note": note,
        }
    if len(spec.scope.warehouse) > 1:
        note = "One monitor's quota is shared by all its warehouses. " + note
    tail = [f"ALTER WAREHOUSE {quote_ident(w)} SET RESOURCE_MONITOR = {monitor};" for w in spec.scope.warehouse]
    return {"budget": budget.name, "statements": [head, *tail], "note": note}


def _azure_enforcement(budget: CostBudgetDoc, month: date) -> dict[str, Any]:
    """The Azure CLI command for a Cost Management budget like ``budget`` (Azure budgets are monthly or longer)."""
    spec = budget.spec
    if spec.period != "month":
        note = f"Azure budgets have monthly, quarterly or annual grains: no equivalent of a {spec.period} budget."
        return {"budget": budget.name, "statements": [], "note": note}
    name = re.sub(r"[^A-Za-z0-9_-]", "-", budget.name)
    until = month.replace(year=month.year + 1)
    statement = (
        f"az consumption budget create --budget-name {name} --amount {spec.amount} --category cost "
        f"--time-grain Monthly --start-date {month.isoformat()} --end-date {until.isoformat()}"
    )
    note = (
        "Run at the azure.cost scope (add --resource-group for a resource group); notifications at the budget's "
        "thresholds are set on the budget in the portal or with its REST API. Service or tag filters go in its "
        "filter. The agent never runs it."
    )
    return {"budget": budget.name, "statements": [statement], "note": note}


def recommendations(report: CostReport, rollups: RollupStore, lo: int, until: int) -> list[dict[str, Any]]:
    """Changes tied to money, with their evidence and an estimated saving (printed, never executed)."""
    return warehouse_recommendations(
        report.warehouses, float(report.totals["credits"]), report.money, rollups, lo, until
    )


def warehouse_recommendations(
    warehouses: pl.DataFrame,
    total_credits: float,
    money: Callable[[float], float | None],
    rollups: RollupStore,
    lo: int,
    until: int,
    idle_share: float = IDLE_SHARE,
    oversized_exec_s: float = OVERSIZED_EXEC_S,
    oversized_min_size: str = "Small",
) -> list[dict[str, Any]]:
    """Idle (→ AUTO_SUSPEND) and oversized (→ one size down) warehouses of the cost report's warehouse table over
    ``[lo, until)``, with evidence, saving (``money`` prices credits) and statement, largest saving first.

    A warehouse is idle above ``idle_share`` of its compute; oversized when its mean execution is under
    ``oversized_exec_s`` on a warehouse at least ``oversized_min_size`` (judged from its peak hourly credits)."""
    recs: list[dict[str, Any]] = []
    total = total_credits or 1.0
    smallest = [n for n, _ in SIZES].index(oversized_min_size)
    latency = rollups.load(QUERY, lo, until) if until > lo else pl.DataFrame()
    per_wh: dict[str, dict[str, float]] = {}
    if latency.height:
        agg = latency.group_by("warehouse").agg(
            pl.col("queued_overload_ms_sum", "spill_remote_bytes_sum", "spill_local_bytes_sum", "elapsed_ms_sum").sum(),
            pl.col("succeeded").sum(),
        )
        per_wh = {r["warehouse"]: r for r in agg.iter_rows(named=True)}
    for row in warehouses.iter_rows(named=True):
        wh = row["warehouse"]
        idle_credits = float(row["idle_credits"])
        if row["idle_share"] >= idle_share and idle_credits >= max(1.0, 0.005 * total):
            recs.append(
                {
                    "kind": "idle",
                    "warehouse": wh,
                    "title": f"{wh}: {pct(row['idle_share'], 0)} of its compute ran no query "
                    f"({utc_minute(lo)} – {utc_minute(until)})",
                    "evidence": {
                        "idle_share": round(float(row["idle_share"]), 4),
                        "window": f"{utc_minute(lo)} – {utc_minute(until)}",
                        "idle_credits": round(idle_credits, 3),
                        "compute_credits": round(float(row["compute"]), 3),
                        "hours_metered": row["hours_metered"],
                        "credits_in_hours_without_queries": round(float(row["empty_hour_credits"]), 3),
                    },
                    "saving_credits": round(idle_credits, 3),
                    "saving_money": money(idle_credits),
                    "saving_basis": "upper bound: all idle compute of the period (each resume bills a minute)",
                    "statements": [f"ALTER WAREHOUSE {quote_ident(wh)} SET AUTO_SUSPEND = 60;"],
                }
            )
            continue
        stats = per_wh.get(wh)
        size = next((name for name, rate in reversed(SIZES) if float(row["peak_hour_credits"]) >= rate * 0.95), None)
        if stats is None or size is None or [n for n, _ in SIZES].index(size) < smallest or row["queries"] == 0:
            continue
        queued = float(stats["queued_overload_ms_sum"]) / max(1.0, float(stats["elapsed_ms_sum"]))
        spill = float(stats["spill_remote_bytes_sum"]) + float(stats["spill_local_bytes_sum"])
        mean_exec_s = float(row["exec_hours"]) * 3600 / max(1, int(row["queries"]))
        running = float(row["exec_hours"]) / max(1, int(row["hours_metered"]))
        quiet = queued < 0.01 and spill == 0 and running < 1.0
        if quiet and mean_exec_s < oversized_exec_s and float(row["compute"]) >= 0.02 * total:
            smaller = SIZES[[n for n, _ in SIZES].index(size) - 1][0]
            saving = float(row["compute"]) / 2
            recs.append(
                {
                    "kind": "oversized",
                    "warehouse": wh,
                    "title": f"{wh}: short queries, less than one running on average, no queueing or spill, on a "
                    f"{size}-class warehouse",
                    "evidence": {
                        "size_from_peak_hour": size,
                        "peak_hour_credits": round(float(row["peak_hour_credits"]), 3),
                        "mean_execution_s": round(mean_exec_s, 3),
                        "average_running_queries": round(running, 3),
                        "queued_overload_share": round(queued, 5),
                        "spilled_bytes": spill,
                        "queries": row["queries"],
                    },
                    "saving_credits": round(saving, 3),
                    "saving_money": money(saving),
                    "saving_basis": "estimate: one size down halves the credit rate if the queries stay within the "
                    "hour they ran in; try it on a copy of the workload first",
                    "statements": [f"ALTER WAREHOUSE {quote_ident(wh)} SET WAREHOUSE_SIZE = '{smaller.upper()}';"],
                }
            )
    return sorted(recs, key=lambda r: -float(r["saving_credits"]))
