"""Series of a rollup in the store: one id per (rollup, dimension values), the values kept as canonical JSON.

Free of polars, so that commands that only look a series up (`validate`'s traffic check) stay light.
"""

from __future__ import annotations

import json

from sre_agent.engine.rollups import RollupDef
from sre_agent.store.db import Database


def labels_json(rollup: RollupDef, values: tuple[object, ...]) -> str:
    """The stored form of a series' dimension values (sorted keys, values as strings)."""
    return json.dumps({d: str(v) for d, v in zip(rollup.dims, values, strict=True)}, sort_keys=True)


def series_id(db: Database, rollup: RollupDef, values: tuple[object, ...]) -> int | None:
    """Id of the series of ``rollup`` with these dimension values, if it exists."""
    rows = db.read(
        "SELECT series_id FROM series WHERE rollup = ? AND labels = ?", (rollup.name, labels_json(rollup, values))
    )
    return int(rows[0]["series_id"]) if rows else None
