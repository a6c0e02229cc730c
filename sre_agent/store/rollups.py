"""Rollup rows in the store: replaced bucket range by bucket range, read back as polars frames."""

from __future__ import annotations

import json
import sqlite3

import polars as pl

from sre_agent.engine.rollups import HIST_COLUMNS, RollupDef
from sre_agent.store.db import Database
from sre_agent.store.series import labels_json, series_id

BUCKET = "bucket"
OBSERVED = "observed_at"
LE = "le_counts"


def table_of(rollup: RollupDef) -> str:
    """Return the store table holding ``rollup``."""
    return f"rollup_{rollup.name}"


def value_columns(rollup: RollupDef) -> list[str]:
    """Columns stored per row besides series, bucket and observation time."""
    cols = list(rollup.measure_names)
    if rollup.histogram:
        cols += [LE, *HIST_COLUMNS]
    return cols


class RollupStore:
    """Reads and writes one kind of rollup rows; writes happen inside the caller's transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _series_ids(self, conn: sqlite3.Connection, rollup: RollupDef, combos: list[tuple[object, ...]]) -> list[int]:
        # Looked up inside the caller's transaction every time (a poll has tens of series): an id cached
        # across a rolled-back transaction could point at another series after SQLite reuses it.
        ids = []
        for combo in combos:
            key = (rollup.name, labels_json(rollup, combo))
            conn.execute("INSERT OR IGNORE INTO series(rollup, labels) VALUES (?, ?)", key)
            row = conn.execute("SELECT series_id FROM series WHERE rollup = ? AND labels = ?", key).fetchone()
            ids.append(int(row[0]))
        return ids

    def replace(
        self,
        conn: sqlite3.Connection,
        rollup: RollupDef,
        start: int,
        end: int,
        frame: pl.DataFrame,
        observed_at: int,
        series: list[tuple[object, ...]] | None = None,
    ) -> int:
        """Replace every row with ``start <= bucket < end`` by the rows of ``frame``; return rows written.

        Re-reading a window and replacing it whole is what makes late rows safe: a bucket is always
        the aggregate of everything visible at the last poll that covered it, never a sum of polls.
        ``series`` (dimension values) limits the replacement to those series (SLOs are polled per SLO).
        """
        table = table_of(rollup)
        if series is None:
            conn.execute(f"DELETE FROM {table} WHERE {BUCKET} >= ? AND {BUCKET} < ?", (start, end))
        else:
            for sid in self._series_ids(conn, rollup, series):
                conn.execute(
                    f"DELETE FROM {table} WHERE series_id = ? AND {BUCKET} >= ? AND {BUCKET} < ?", (sid, start, end)
                )
        if frame.is_empty():
            return 0
        dims = list(rollup.dims)
        combos = frame.select(dims).unique(maintain_order=True)
        ids = self._series_ids(conn, rollup, combos.rows())
        keyed = combos.with_columns(pl.Series("series_id", ids, dtype=pl.Int64))
        rows = frame.join(keyed, on=dims, how="left")
        columns = ["series_id", BUCKET, OBSERVED, *value_columns(rollup)]
        rows = rows.with_columns(pl.lit(observed_at, dtype=pl.Int64).alias(OBSERVED)).select(columns)
        placeholders = ", ".join("?" for _ in columns)
        conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows.iter_rows())
        return rows.height

    def load(self, rollup: RollupDef, start: int, end: int, where: dict[str, list[str]] | None = None) -> pl.DataFrame:
        """Return rows with ``start <= bucket < end`` as a frame: bucket, observed_at, dims, values.

        ``where`` keeps only series whose labels are in the given lists.
        """
        table = table_of(rollup)
        values = value_columns(rollup)
        sql = (
            f"SELECT r.series_id, r.{BUCKET}, r.{OBSERVED}, {', '.join('r.' + c for c in values)} "
            f"FROM {table} r WHERE r.{BUCKET} >= ? AND r.{BUCKET} < ? ORDER BY r.series_id, r.{BUCKET}"
        )
        rows = self.db.read_tuples(sql, (start, end))
        schema: dict[str, pl.DataType] = {"series_id": pl.Int64(), BUCKET: pl.Int64(), OBSERVED: pl.Int64()}
        for name in rollup.measure_names:
            schema[name] = pl.Int64() if rollup.measure(name).integer else pl.Float64()
        if rollup.histogram:
            schema[LE] = pl.String()
            schema.update({c: pl.Int64() for c in HIST_COLUMNS})
        frame = pl.DataFrame(rows, schema=schema, orient="row")
        series = self.series(rollup)
        frame = frame.join(series, on="series_id", how="left")
        for label, allowed in (where or {}).items():
            frame = frame.filter(pl.col(label).is_in(allowed))
        return frame.select(["series_id", BUCKET, OBSERVED, *rollup.dims, *values])

    def series_id(self, rollup: RollupDef, values: tuple[object, ...]) -> int | None:
        """Id of the series with these dimension values, if it exists."""
        return series_id(self.db, rollup, values)

    def series(self, rollup: RollupDef) -> pl.DataFrame:
        """Return every known series of ``rollup`` with its dimension values."""
        rows = self.db.read("SELECT series_id, labels FROM series WHERE rollup = ?", (rollup.name,))
        data: dict[str, list[object]] = {"series_id": [], **{d: [] for d in rollup.dims}}
        for row in rows:
            labels = json.loads(row["labels"])
            data["series_id"].append(int(row["series_id"]))
            for d in rollup.dims:
                data[d].append(labels.get(d, ""))
        schema = {"series_id": pl.Int64(), **{d: pl.String() for d in rollup.dims}}
        return pl.DataFrame(data, schema=schema)

    def prune(self, conn: sqlite3.Connection, rollup: RollupDef, before: int) -> int:
        """Delete rows older than ``before``; return how many."""
        cur = conn.execute(f"DELETE FROM {table_of(rollup)} WHERE {BUCKET} < ?", (before,))
        return int(cur.rowcount)
