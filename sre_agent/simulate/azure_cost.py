"""Daily Azure spend of the synthetic platform, for the embedded default's ``azure.cost: {simulated: true}``.

Stands in for Cost Management behind the daemon's cost poller interface (``fetch(start, end)`` → ``azure_cost``
rollup rows): the platform's Azure services with a weekday/weekend level and seeded noise, in USD, in one
resource group. A day is visible once it has ended plus eight hours (Cost Management's usual delay).
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from sre_agent.config.azure import AzureCostSourceConfig
from sre_agent.sources.azure_cost import COST_DIMS, GROUP_DIMS, empty_cost_frame

VISIBLE_AFTER = timedelta(hours=8)
DAILY_USD = {
    "Azure Kubernetes Service": (410.0, 380.0),
    "Stream Analytics": (290.0, 120.0),
    "Storage": (165.0, 160.0),
    "Event Hubs": (96.0, 40.0),
    "Log Analytics": (62.0, 35.0),
    "Key Vault": (4.0, 3.0),
}
"""Service → (weekday, weekend) USD per day."""


class SimulatedAzureCost:
    """Daily costs per service of the synthetic platform (deterministic in the seed)."""

    def __init__(self, config: AzureCostSourceConfig, seed: int) -> None:
        self.config = config
        self.seed = seed
        self.resource_group = (
            config.scope.rsplit("/resourceGroups/", 1)[-1] if "/resourceGroups/" in config.scope else ""
        )
        self.grouped = {GROUP_DIMS[g] for g in config.group_by if g in GROUP_DIMS}
        """The labels Cost Management fills for ``group_by`` (the others come back empty)."""

    def fetch(self, start: datetime, end: datetime) -> pl.DataFrame:
        """Rows for the UTC days in ``[start, end)`` that have ended at least eight hours before ``end``."""
        first = start.date()
        last = (end - VISIBLE_AFTER).date() - timedelta(days=1)
        rows = []
        day = first
        while day <= last:
            rng = np.random.default_rng([self.seed, day.toordinal(), 11])
            bucket = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
            for service, (weekday, weekend) in DAILY_USD.items():
                base = weekday if day.weekday() < 5 else weekend
                noise = float(rng.normal(1.0, 0.04)) * (1 + (zlib.crc32(service.encode()) % 7) / 100)
                labels = {"service": service, "resource_group": self.resource_group}
                kept = {k: v if k in self.grouped else "" for k, v in labels.items()}
                rows.append({"bucket": bucket, **kept, "tag": "", "currency": "USD", "cost": round(base * noise, 2)})
            day += timedelta(days=1)
        if not rows:
            return empty_cost_frame()
        frame = pl.DataFrame(rows, schema=empty_cost_frame().schema)
        return frame.group_by("bucket", *COST_DIMS).agg(pl.col("cost").sum()).sort("bucket", *COST_DIMS)

    def close(self) -> None:
        """Nothing to release."""
