"""What the cost report holds: its tables (polars frames) and small records, shared by its data, actions and
renderers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

TOP = 15
"""Rows of the ranked tables in the HTML and Markdown (the CSV files hold every row)."""
UNATTRIBUTED = "(unattributed)"
SERVERLESS = "(serverless)"


@dataclass
class CostReport:
    """Everything the cost report shows, as tables (polars frames) and small records."""

    period: str
    start: datetime
    end: datetime
    time_zone: str
    currency: str
    credit_price: float | None
    generated_at: datetime
    data_until: datetime | None
    covered_from: datetime | None
    """Where the store's metering starts (days before it are gaps, not zero spend)."""
    totals: dict[str, Any]
    daily_warehouse: pl.DataFrame
    daily_domain: pl.DataFrame
    warehouses: pl.DataFrame
    patterns: pl.DataFrame
    users: pl.DataFrame
    roles: pl.DataFrame
    services: pl.DataFrame
    domains: pl.DataFrame
    storage: pl.DataFrame
    serverless: pl.DataFrame
    azure_daily: pl.DataFrame = field(default_factory=pl.DataFrame)
    """day, service, resource_group, tag, currency, cost: Azure spend from Cost Management (UTC days)."""
    platform_daily: pl.DataFrame = field(default_factory=pl.DataFrame)
    """day, source, cost: Snowflake (credits × price) and each Azure service in one currency, when they share one."""
    gaps: list[dict[str, Any]] = field(default_factory=list)
    budgets: list[dict[str, Any]] = field(default_factory=list)
    recommendations: list[dict[str, Any]] = field(default_factory=list)
    reconciliation: list[dict[str, Any]] = field(default_factory=list)
    """Each total that differs from a related one, with the parts of the difference and a sentence saying why."""
    enforcement: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def money(self, credits: float) -> float | None:
        """``credits`` in the configured currency (None without a price)."""
        return None if self.credit_price is None else credits * self.credit_price
