"""Test helper shared by the engine tests: rollup frames in the store's layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from sre_agent.engine.rollups import HIST_COLUMNS, RollupDef


def store_frame(rollup: RollupDef, rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """A frame in the store layout of ``rollup``: missing dims "", measures 0, hist 0, le_counts '{}'."""
    data: dict[str, list[Any]] = {"bucket": [int(r["bucket"]) for r in rows]}
    schema: dict[str, pl.DataType] = {"bucket": pl.Int64()}
    for dim in rollup.dims:
        data[dim] = [str(r.get(dim, "")) for r in rows]
        schema[dim] = pl.String()
    for m in rollup.measures:
        data[m.name] = [r.get(m.name, 0) for r in rows]
        schema[m.name] = pl.Int64() if m.integer else pl.Float64()
    if rollup.histogram:
        data["le_counts"] = [r.get("le_counts", "{}") for r in rows]
        schema["le_counts"] = pl.String()
        for h in HIST_COLUMNS:
            data[h] = [r.get(h, 0) for r in rows]
            schema[h] = pl.Int64()
    return pl.DataFrame(data, schema=schema)
