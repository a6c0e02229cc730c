"""Where the cost report's totals differ from related totals, and why, in words: the headline against each budget's
spend, the agent's hourly metering against Snowflake's daily bill, and Azure's total against its budget.

Every difference is split into named parts computed from the same figures the report shows (never a second
derivation of a total), and the parts add up to the difference exactly: what no reason explains is its own part
("other"), never silently dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl

from sre_agent.config.loader import LoadedConfig
from sre_agent.figures.text import amount, utc_minute
from sre_agent.reports.cost.model import CostReport

CENT = 0.005
"""Differences below this (in the unit compared) are rounding, not a reason."""


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _line(
    what: str, total: float, other: str, value: float, unit: str, parts: list[tuple[str, float]]
) -> dict[str, Any]:
    """One reconciliation: ``total`` (the report's) against ``value`` (``other``'s), the parts of the difference and
    the sentence that says it."""
    difference = total - value
    named = [(reason, part) for reason, part in parts if abs(part) >= CENT]
    rest = difference - sum(part for _, part in named)
    if abs(rest) >= CENT:
        named.append(("other (not explained by the reasons above; check the store's coverage)", rest))
    if abs(difference) < CENT:
        text = f"{other} ({amount(value, unit)}) equals {what} ({amount(total, unit)})."
    else:
        why = "; ".join(f"{reason} ({amount(part, unit)})" for reason, part in named)
        side = "below" if difference > 0 else "above"
        text = f"{other} ({amount(value, unit)}) is {amount(abs(difference), unit)} {side} {what}: {why}."
    return {
        "what": what,
        "total": round(total, 6),
        "compared_with": other,
        "value": round(value, 6),
        "unit": unit,
        "difference": round(difference, 6),
        "parts": [{"reason": reason, "amount": round(part, 6)} for reason, part in named],
        "text": text,
    }


def _credits_after(frame: pl.DataFrame, through: int, by: str, values: list[str]) -> float:
    """Billed credits of ``frame``'s rows (daily by ``by`` for ``values``) landed after ``through`` (epoch s)."""
    if frame.is_empty() or "bucket" not in frame.columns:
        return 0.0
    rows = frame.filter(pl.col("bucket") >= through)
    if values:
        rows = rows.filter(pl.col(by).is_in(values))
    return float(rows["credits"].sum()) if rows.height else 0.0


def reconciliation(
    report: CostReport, loaded: LoadedConfig, billed: pl.DataFrame, domains: pl.DataFrame
) -> list[dict[str, Any]]:
    """Every reconciliation line of ``report``: each budget against the report's total for its scope, the daily bill
    check and Azure. ``billed`` is the month's billed warehouse credits per hour (bucket, warehouse, credits),
    ``domains`` its attribution per hour (bucket, domain, credits: queries' credits and owned idle hours)."""
    out: list[dict[str, Any]] = []
    price = report.credit_price
    t = report.totals
    by_name = {b.name: b for b in loaded.budgets}
    for b in report.budgets:
        doc = by_name.get(b["name"])
        if doc is None or b.get("spent") is None or not b.get("spent_through"):
            continue
        scope = doc.spec.scope
        unit = b["unit"]
        factor = 1.0 if unit == "credits" else (price or 0.0)
        through = _epoch(b["spent_through"])
        later = f"hours after {utc_minute(through)}, the budget's newest counted hour, still landing"
        if scope.kind == "azure":
            continue  # below, with Azure's settled days
        if unit not in ("credits", report.currency) or (unit != "credits" and price is None):
            continue
        if scope.kind == "account":
            total = float(t["credits"]) * factor
            after = _credits_after(billed, through, "warehouse", []) * factor
            parts = [("serverless credits are outside a warehouse budget", float(t["serverless_credits"]) * factor)]
            out.append(_line("the month's Snowflake total", total, f"Budget {b['name']}", float(b["spent"]), unit,
                             [*parts, (later, after)]))  # fmt: skip
        elif scope.kind == "warehouse":
            table = report.warehouses
            rows = table.filter(pl.col("warehouse").is_in(scope.warehouse)) if table.height else table
            total = (float(rows["credits"].sum()) if rows.height else 0.0) * factor
            after = _credits_after(billed, through, "warehouse", list(scope.warehouse)) * factor
            out.append(_line(f"the warehouse table's {', '.join(scope.warehouse)}", total, f"Budget {b['name']}",
                             float(b["spent"]), unit, [(later, after)]))  # fmt: skip
        elif scope.kind == "domain" and report.domains.height:
            rows = report.domains.filter(pl.col("domain").is_in(scope.domain))
            total = (float(rows["credits"].sum()) if rows.height else 0.0) * factor
            after = _credits_after(domains, through, "domain", list(scope.domain)) * factor
            out.append(_line(f"the domain table's {', '.join(scope.domain)}", total, f"Budget {b['name']}",
                             float(b["spent"]), unit, [(later, after)]))  # fmt: skip
    out += _daily_bill(report)
    out += _azure(report, loaded)
    return out


def _daily_bill(report: CostReport) -> list[dict[str, Any]]:
    check = report.totals.get("snowflake_daily_check") or {}
    if not check.get("days"):
        return []
    ours = float(check["warehouse_credits_billed_by_agent"])
    theirs = float(check["warehouse_credits_billed_by_snowflake"])
    reason = (
        f"the agent's hourly WAREHOUSE_METERING_HISTORY rows of those {check['days']} UTC days differ from the day's "
        "bill: rows that landed after the agent's last poll of them, or Snowflake's daily cloud-services adjustment"
    )
    what = f"the agent's hourly metering over the {check['days']} UTC days Snowflake has billed"
    return [_line(what, ours, "Snowflake's METERING_DAILY_HISTORY", theirs, "credits", [(reason, ours - theirs)])]


def _azure(report: CostReport, loaded: LoadedConfig) -> list[dict[str, Any]]:
    """Azure's month total (every day in the store) against each Azure budget's spend (settled days in its scope)."""
    if report.azure_daily.is_empty():
        return []
    out = []
    total = float(report.azure_daily["cost"].sum())
    by_name = {b.name: b for b in loaded.budgets}
    for b in report.budgets:
        doc = by_name.get(b["name"])
        if doc is None or doc.spec.scope.kind != "azure" or doc.spec.scope.azure is None or b.get("spent") is None:
            continue
        scope = doc.spec.scope.azure
        frame = report.azure_daily
        inside = pl.lit(True)
        for label in ("service", "resource_group", "tag"):
            wanted = getattr(scope, label)
            if wanted:
                inside = inside & pl.col(label).is_in(wanted)
        in_scope = frame.filter(inside & (pl.col("currency") == b["unit"]))
        outside = total - float(in_scope["cost"].sum())
        through = _epoch(b["spent_through"]) if b.get("spent_through") else None
        start = _epoch(b["period_start"])
        before = unsettled = 0.0
        for day, cost in in_scope.group_by("day").agg(pl.col("cost").sum()).iter_rows():
            lo = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
            if through is not None and lo >= through:
                unsettled += float(cost)
            else:  # a day's cost is spread over its hours: those before the budget's month are not its
                before += float(cost) * min(max(start - lo, 0), 86_400) / 86_400
        parts = [
            ("services, resource groups or tags outside the budget's scope (or another currency)", outside),
            (
                f"hours of UTC days before the budget's month begins ({utc_minute(start)}: Azure bills whole UTC days, "
                "a budget spreads a day over its hours)",
                before,
            ),
            (
                f"days from {utc_minute(through) if through else '?'} on, which Cost Management has not settled (a "
                "budget counts a day 12 h after it ends)",
                unsettled,
            ),
        ]
        out.append(_line("the month's Azure total", total, f"Budget {b['name']}", float(b["spent"]), b["unit"], parts))
    return out
