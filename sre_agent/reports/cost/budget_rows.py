"""The cost report's budget rows: each CostBudget judged as the daemon judges it (:func:`sre_agent.engine.budget.judge`)
at the newest landed hour within the report's month, its cumulative daily spend, and the statements that would
enforce it inside Snowflake or Azure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sre_agent.config.budget import budget_lookback, period_end, period_start
from sre_agent.config.loader import LoadedConfig
from sre_agent.daemon.evaluate_budget import budget_frontier, budget_money, scope_spend, source_view
from sre_agent.engine.budget import DAY, judge
from sre_agent.engine.rollups import AZURE_COST, QUERY_COST, WAREHOUSE_METERING
from sre_agent.engine.spend import HourlySpend
from sre_agent.reports.cost.actions import enforcement
from sre_agent.reports.cost.views import view
from sre_agent.store.rollups import RollupStore
from sre_agent.store.watermarks import Watermarks


def budget_rows(
    loaded: LoadedConfig,
    rollups: RollupStore,
    watermarks: Watermarks,
    frontier: int | None,
    hi: int,
    price: float | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each budget judged at the newest landed hour within the report's month, plus its cumulative daily spend."""
    cost = loaded.config.spec.cost
    assert cost is not None
    out: list[dict[str, Any]] = []
    statements: list[dict[str, Any]] = []
    if frontier is None:
        return out, [enforcement(b, price) for b in loaded.budgets]
    views = {
        WAREHOUSE_METERING.name: view(watermarks, WAREHOUSE_METERING),
        AZURE_COST.name: view(watermarks, AZURE_COST, "azure.cost"),
    }
    for budget in loaded.budgets:
        spec = budget.spec
        tz = spec.zone(cost.time_zone)
        seen = views[source_view(budget)]
        own = budget_frontier(rollups, budget, seen)
        if own is None:
            continue  # its source (Azure cost) never polled: nothing to judge
        at = min(own, hi)  # a finished month: judged at its very end
        origin = (at - int(budget_lookback(spec).total_seconds()) - 2 * DAY) // DAY * DAY
        covered = seen.covered_from
        if spec.scope.kind == "domain":
            qc = view(watermarks, QUERY_COST)
            covered = max(c for c in (covered, qc.covered_from, origin) if c is not None)
        values = scope_spend(rollups, cost, budget, origin, at, covered)
        money = budget_money(budget, cost)
        spend = HourlySpend(origin, values)
        verdicts = judge(spec, spend, at, at, tz, money)
        start = period_start(spec.period, datetime.fromtimestamp(at - 1, UTC), tz)
        p_lo = int(start.timestamp())
        cumulative = []
        day = start
        while int(day.timestamp()) < at:
            nxt = datetime.combine(day.date() + timedelta(days=1), datetime.min.time(), tzinfo=tz)
            cumulative.append(
                {"day": day.date().isoformat(), "spent": money.of(spend.total(p_lo, min(int(nxt.timestamp()), at)))}
            )
            day = nxt
        actual = verdicts.get("actual")
        forecast = verdicts.get("forecast")
        in_money = price if money.unit == "credits" and price is not None else None  # a credit budget's money too
        spent = actual.evidence.get("spent") if actual else None
        projected = forecast.evidence.get("forecast") if forecast else None
        out.append(
            {
                "name": budget.name,
                "scope": spec.scope.describe(),
                "period": spec.period,
                "amount": float(spec.amount),
                "unit": money.unit,
                "money": None
                if in_money is None
                else {
                    "currency": cost.currency,
                    "amount": round(float(spec.amount) * in_money, 2),
                    "spent": None if spent is None else round(spent * in_money, 2),
                    "forecast": None if projected is None else round(projected * in_money, 2),
                },
                "spent": spent,
                "spent_through": actual.evidence.get("spent_through") if actual else None,
                "percent": actual.evidence.get("percent") if actual else None,
                "forecast": projected,
                "forecast_percent": forecast.evidence.get("forecast_percent") if forecast else None,
                "forecast_method": forecast.evidence.get("forecast_method") if forecast else None,
                "period_start": start.isoformat(),
                "period_end": period_end(spec.period, start).isoformat(),
                "status": {k: v.state for k, v in verdicts.items()},
                "cumulative": cumulative,
            }
        )
        statements.append(enforcement(budget, price, start.date().replace(day=1)))
    return out, statements
