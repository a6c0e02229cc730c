"""``spec.cost``: what a credit and a terabyte cost under your contract, and who owns each warehouse.

Prices are never built in: Snowflake's list price depends on edition, cloud, region and contract (capacity vs
on-demand), so the agent reports credits always and money only with a configured price.
"""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from sre_agent.config.specs import Strict


class CostSettings(Strict):
    """Prices and ownership for cost attribution, budgets and the cost report."""

    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code of the prices below")
    credit_price: Decimal | None = Field(
        default=None, gt=0, description="price of one Snowflake credit (your edition, region and contract)"
    )
    storage_price_per_tb_month: Decimal | None = Field(
        default=None, ge=0, description="price of one TB stored for a month (capacity or on-demand rate)"
    )
    edition: str | None = Field(default=None, description="informational: Standard, Enterprise, Business Critical…")
    region: str | None = Field(default=None, description="informational: e.g. azure-westeurope")
    time_zone: str = Field(default="UTC", description="IANA zone of calendar periods (days, weeks, months)")
    warehouse_domains: dict[str, str] = Field(
        default_factory=dict,
        description="warehouse → owning domain, for queries whose QUERY_TAG names no domain",
    )

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as America/New_York)") from exc
        return value
