"""Cost figures as users see them: a budget's spend to date and forecast, and a warehouse's idle share.

- **Spend to date** of a budget's period: every landed row of the period up to the instant (metering lands 1-3 hours
  late, warehouse by warehouse, and never early: a row that landed is spent), in the budget's unit, with the newest
  hour counted (``through``) and the hour up to which every running warehouse has landed (``complete_through``).
  The ``actual`` signal, a forecast's "spent so far", the cost report's budget rows and every reminder say this
  figure.
- **Forecast** at the period's end: the spend up to the complete hour plus the projection of the hours after it,
  and never less than the spend to date (a projection cannot un-spend what has landed).
- **Idle share** of a warehouse over a window: compute credits no query was running for (Snowflake's own estimate:
  ``credits_used_compute − credits_attributed_compute_queries``) over its compute credits, with the window it was
  measured over — a month and a week give different shares, and each view says which it shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from sre_agent.engine.spend import HOUR, HourlySpend, Money
from sre_agent.figures.text import amount as amount_text
from sre_agent.figures.text import pct, utc_minute


@dataclass(frozen=True)
class SpendToDate:
    """A budget's spend in its period so far (in the budget's unit)."""

    spent: float
    unit: str
    percent: float
    """Of the budget's amount."""
    through: int
    """End of the newest hour counted (epoch s)."""
    complete_through: int
    """Every running warehouse's rows have landed up to here (the forecast's and burn rates' frontier)."""
    unknown_hours: int
    """Hours of the period before the store's data (the spend is then a lower bound)."""

    def text(self) -> str:
        """``424.31 credits spent to 2026-11-06 21:00Z (106.08 % of the budget)``."""
        return f"{amount_text(self.spent, self.unit)} spent to {utc_minute(self.through)} ({pct(self.percent / 100)})"


def spend_to_date(
    spend: HourlySpend, start: int, end: int, at: int, frontier: int, money: Money, budget_amount: float
) -> SpendToDate:
    """The spend of the period ``[start, end)`` at instant ``at``: every landed hour before ``at`` (and ``end``)."""
    landed = at // HOUR * HOUR
    through = min(landed, end)
    spent = money.of(spend.total(start, through)) if through > start else 0.0
    hours = spend.values[spend.index(start) : spend.index(through)] if through > start else spend.values[:0]
    unknown = int(np.isnan(hours).sum())  # NaN: no data for the hour
    return SpendToDate(
        spent=spent,
        unit=money.unit,
        percent=spent / budget_amount * 100 if budget_amount else 0.0,
        through=max(start, through),
        complete_through=max(start, min(frontier, through)),
        unknown_hours=unknown,
    )


def forecast_total(to_date: SpendToDate, spent_to_frontier: float, projected_rest: float) -> float:
    """The period's forecast: spend up to the complete hour plus the projection of the rest, never below the spend
    to date."""
    return max(spent_to_frontier + projected_rest, to_date.spent)


@dataclass(frozen=True)
class IdleShare:
    """How much of a warehouse's compute ran no query, over a window."""

    warehouse: str
    idle_credits: float
    compute_credits: float
    window_start: int
    window_end: int

    @property
    def share(self) -> float | None:
        """Idle credits over compute credits (None without compute)."""
        return self.idle_credits / self.compute_credits if self.compute_credits > 0 else None

    def text(self) -> str:
        """``92 % idle (2026-11-02 05:00Z – 2026-11-09 05:00Z)``."""
        return f"{pct(self.share, 0)} idle ({utc_minute(self.window_start)} – {utc_minute(self.window_end)})"


def idle_shares(billed: pl.DataFrame, lo: int, hi: int) -> dict[str, IdleShare]:
    """Per warehouse, the idle share over ``[lo, hi)`` of a :func:`sre_agent.engine.cost.billed_credits` frame
    (bucket, warehouse, compute, idle)."""
    rows = billed.filter((pl.col("bucket") >= lo) & (pl.col("bucket") < hi))
    if rows.is_empty():
        return {}
    agg = rows.group_by("warehouse").agg(pl.col("idle").sum(), pl.col("compute").sum())
    return {
        str(r["warehouse"]): IdleShare(str(r["warehouse"]), float(r["idle"]), float(r["compute"]), lo, hi)
        for r in agg.iter_rows(named=True)
    }
