"""What polling has established for a rollup, as the cost report reads it (no staleness: a report is hindsight)."""

from __future__ import annotations

from sre_agent.engine.rollups import RollupDef
from sre_agent.engine.threshold import DataView
from sre_agent.store.watermarks import Watermarks


def view(watermarks: Watermarks, rollup: RollupDef, key: str | None = None) -> DataView:
    """The view of ``rollup`` (its family watermark, or ``key``)."""
    state = watermarks.get(key or f"snowflake.{rollup.name}")
    return DataView(state.covered_from, state.polled_to, int(rollup.latency_horizon.total_seconds()), 0)
