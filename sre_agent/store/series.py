"""Series of a rollup in the store: one id per (rollup, dimension values), the values kept as canonical JSON.

Free of polars, so that commands that only look a series up (`validate`'s traffic check) stay light.
"""

from __future__ import annotations

import json

from sre_agent.engine.rollups import RollupDef
from sre_agent.store.db import Database
from sre_agent.text import printable


def labels_json(rollup: RollupDef, values: tuple[object, ...]) -> str:
    """The stored form of a series' dimension values: sorted keys, values as one-line printable strings (a
    QUERY_TAG service holding ESC or NUL never reaches a terminal or a report through an alert's labels)."""
    return json.dumps(
        {d: printable(str(v), keep_lines=False) for d, v in zip(rollup.dims, values, strict=True)}, sort_keys=True
    )


def series_id(db: Database, rollup: RollupDef, values: tuple[object, ...]) -> int | None:
    """Id of the series of ``rollup`` with these dimension values, if it exists."""
    rows = db.read(
        "SELECT series_id FROM series WHERE rollup = ? AND labels = ?", (rollup.name, labels_json(rollup, values))
    )
    return int(rows[0]["series_id"]) if rows else None
