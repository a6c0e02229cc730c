"""Unit tests of the SQLite state store (``sre_agent.store``): schema migrations, transactions,
rollup windows, poll watermarks and alert history.

Every test opens its own store file under ``tmp_path``; instants are plain epoch seconds and no
wall clock is read. Rollup frames are built in the layout ``SnowflakeSource._to_rollup`` returns:
``bucket`` (Int64 epoch s), the dims (String), the measures (Int64 or Float64) and, for the query
rollup, ``le_counts`` (JSON text) and ``h00`` … ``h47`` (Int64).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from sre_agent.alerting.lifecycle import Instance, Transition
from sre_agent.engine.histogram import BUCKETS
from sre_agent.engine.rollups import QUERY, ROLLUPS, WAREHOUSE_LOAD, WAREHOUSE_METERING, RollupDef
from sre_agent.errors import StoreError
from sre_agent.model import AlertState, EventKind, Severity
from sre_agent.sources.snowflake import SnowflakeSource
from sre_agent.store.alerts import AlertStore
from sre_agent.store.db import SCHEMA_VERSION, Database
from sre_agent.store.migrations import MIGRATIONS
from sre_agent.store.rollups import RollupStore, table_of, value_columns
from sre_agent.store.watermarks import FamilyState, Watermarks

T0 = 1_793_606_400  # 2026-11-02T08:00:00Z, a minute boundary
MIN = 60
HIST = [f"h{i:02d}" for i in range(BUCKETS)]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "state.db")
    yield database
    database.close()


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as raw:
        return int(raw.execute("PRAGMA user_version").fetchone()[0])


# ---------------------------------------------------------------------------------------------------------------
# rollup frames in the source's layout


def query_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Query-rollup rows: each dict gives bucket, optional dims and any measures; the rest are zero."""
    data: dict[str, list[Any]] = {"bucket": [], "warehouse": [], "service": [], "domain": []}
    for m in QUERY.measures:
        data[m.name] = []
    data["le_counts"] = []
    for h in HIST:
        data[h] = []
    for row in rows:
        data["bucket"].append(row["bucket"])
        data["warehouse"].append(row.get("warehouse", "ETL_WH"))
        data["service"].append(row.get("service", "orders"))
        data["domain"].append(row.get("domain", "sales"))
        for m in QUERY.measures:
            data[m.name].append(row.get(m.name, 0 if m.integer else 0.0))
        data["le_counts"].append(json.dumps(row.get("le_counts", {})))
        hist = row.get("hist", {})
        for i, h in enumerate(HIST):
            data[h].append(hist.get(i, 0))
    schema: dict[str, pl.DataType] = {"bucket": pl.Int64(), "warehouse": pl.String(), "service": pl.String()}
    schema["domain"] = pl.String()
    schema.update({m.name: pl.Int64() if m.integer else pl.Float64() for m in QUERY.measures})
    schema["le_counts"] = pl.String()
    schema.update({h: pl.Int64() for h in HIST})
    return pl.DataFrame(data, schema=schema)


def load_frame(rows: list[tuple[int, str, float]]) -> pl.DataFrame:
    """Warehouse-load rows (bucket, warehouse, avg_running); the other averages are zero."""
    return pl.DataFrame(
        {
            "bucket": [r[0] for r in rows],
            "warehouse": [r[1] for r in rows],
            "avg_running": [r[2] for r in rows],
            "avg_queued_load": [0.0] * len(rows),
            "avg_queued_provisioning": [0.0] * len(rows),
            "avg_blocked": [0.0] * len(rows),
        },
        schema={
            "bucket": pl.Int64(),
            "warehouse": pl.String(),
            "avg_running": pl.Float64(),
            "avg_queued_load": pl.Float64(),
            "avg_queued_provisioning": pl.Float64(),
            "avg_blocked": pl.Float64(),
        },
    )


def replace(db: Database, store: RollupStore, rollup: RollupDef, start: int, end: int, frame: pl.DataFrame) -> int:
    with db.transaction() as conn:
        return store.replace(conn, rollup, start, end, frame, observed_at=T0 + 3600)


def totals(frame: pl.DataFrame, column: str = "queries") -> dict[int, Any]:
    return dict(zip(frame["bucket"].to_list(), frame[column].to_list(), strict=True))


# ---------------------------------------------------------------------------------------------------------------
# db.py + migrations.py


def test_fresh_store_is_migrated_to_current_schema_version(tmp_path: Path) -> None:
    """A new file gets every migration and records SCHEMA_VERSION in PRAGMA user_version."""
    path = tmp_path / "nested" / "state.db"
    database = Database(path)
    tables = {r["name"] for r in database.read("SELECT name FROM sqlite_master WHERE type = 'table'")}
    database.close()

    assert SCHEMA_VERSION == len(MIGRATIONS) >= 1
    assert user_version(path) == SCHEMA_VERSION
    assert {"series", "source_state", "alert_instances", "alert_events", "outbox", "cycles"} <= tables
    assert {table_of(r) for r in ROLLUPS.values()} <= tables


def test_reopening_a_migrated_store_is_a_noop(tmp_path: Path) -> None:
    """Opening an up-to-date store runs no migration and keeps its data."""
    path = tmp_path / "state.db"
    first = Database(path)
    with first.transaction() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
    first_id = first.store_id
    first.close()

    second = Database(path)
    try:
        assert second.migrate() == SCHEMA_VERSION
        assert [tuple(r) for r in second.read("SELECT key, value FROM meta WHERE key = 'k'")] == [("k", "v")]
        assert second.store_id == first_id, "the store keeps its id across opens"
    finally:
        second.close()
    assert user_version(path) == SCHEMA_VERSION


def test_store_written_by_a_newer_agent_is_refused(tmp_path: Path) -> None:
    """A schema ahead of the code raises StoreError naming both versions instead of touching the file."""
    path = tmp_path / "state.db"
    Database(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")

    with pytest.raises(StoreError, match=rf"schema v{SCHEMA_VERSION + 1}.*knows v{SCHEMA_VERSION}.*upgrade the agent"):
        Database(path)
    assert user_version(path) == SCHEMA_VERSION + 1


def test_store_uses_wal_and_foreign_keys(db: Database) -> None:
    """The file is in WAL mode (readers never block the agent) with foreign keys enforced."""
    assert db.read("PRAGMA journal_mode")[0][0] == "wal"
    assert db.read("PRAGMA foreign_keys")[0][0] == 1


def test_transaction_rolls_back_on_exception(db: Database) -> None:
    """An exception inside the block writes nothing and propagates unchanged."""

    class Boom(Exception):
        pass

    def failing_block() -> None:
        with db.transaction() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
            raise Boom

    with pytest.raises(Boom):
        failing_block()

    assert db.read("SELECT * FROM meta WHERE key = 'k'") == []
    with db.transaction() as conn:  # the connection is usable again afterwards
        conn.execute("INSERT INTO meta (key, value) VALUES ('k2', 'v2')")
    assert len(db.read("SELECT * FROM meta WHERE key LIKE 'k%'")) == 1


def test_transaction_commits_on_success(db: Database) -> None:
    """A block that completes is committed: another connection to the file sees the row."""
    with db.transaction() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")

    assert db.path is not None
    with sqlite3.connect(db.path) as other:
        assert other.execute("SELECT value FROM meta WHERE key = 'k'").fetchall() == [("v",)]


def _columns(db: Database, table: str) -> list[tuple[str, str]]:
    return [(r["name"], r["type"]) for r in db.read(f"PRAGMA table_info({table})")]


def test_frozen_query_rollup_table_matches_engine_declaration(db: Database) -> None:
    """rollup_query holds exactly QUERY's measures, le_counts and h00..h47, in that order."""
    names = [name for name, _ in _columns(db, "rollup_query")]

    assert names == ["series_id", "bucket", "observed_at", *QUERY.measure_names, "le_counts", *HIST]


@pytest.mark.parametrize("rollup", [WAREHOUSE_LOAD, WAREHOUSE_METERING], ids=lambda r: r.name)
def test_frozen_warehouse_rollup_tables_match_engine_declarations(db: Database, rollup: RollupDef) -> None:
    """The warehouse rollup tables hold exactly the declared measures, in order, and no histogram."""
    names = [name for name, _ in _columns(db, f"rollup_{rollup.name}")]

    assert names == ["series_id", "bucket", "observed_at", *rollup.measure_names]


@pytest.mark.parametrize("rollup", list(ROLLUPS.values()), ids=lambda r: r.name)
def test_frozen_measure_column_types_match_integer_flag(db: Database, rollup: RollupDef) -> None:
    """Integer measures are INTEGER columns and fractional ones REAL, so nothing is truncated on write."""
    types = dict(_columns(db, table_of(rollup)))

    assert {m.name: types[m.name] for m in rollup.measures} == {
        m.name: "INTEGER" if m.integer else "REAL" for m in rollup.measures
    }


# ---------------------------------------------------------------------------------------------------------------
# rollups.py


def test_replace_writes_rows_and_load_returns_them_with_dims(db: Database) -> None:
    """Rows written by replace come back with their dims, values and observation time."""
    store = RollupStore(db)
    frame = query_frame(
        [
            {"bucket": T0, "queries": 5, "failed": 1, "cache_bytes_sum": 2.5},
            {"bucket": T0 + MIN, "warehouse": "BI_WH", "service": "dash", "domain": "finance", "queries": 3},
        ]
    )

    written = replace(db, store, QUERY, T0, T0 + 2 * MIN, frame)
    out = store.load(QUERY, T0, T0 + 2 * MIN)

    assert written == 2
    assert out.columns == ["series_id", "bucket", "observed_at", *QUERY.dims, *value_columns(QUERY)]
    rows = {r["bucket"]: r for r in out.iter_rows(named=True)}
    assert (rows[T0]["warehouse"], rows[T0]["service"], rows[T0]["domain"]) == ("ETL_WH", "orders", "sales")
    assert (rows[T0]["queries"], rows[T0]["failed"], rows[T0]["cache_bytes_sum"]) == (5, 1, 2.5)
    assert (rows[T0 + MIN]["warehouse"], rows[T0 + MIN]["queries"]) == ("BI_WH", 3)
    assert set(out["observed_at"].to_list()) == {T0 + 3600}
    assert out.schema["queries"] == pl.Int64
    assert out.schema["cache_bytes_sum"] == pl.Float64


def test_load_returns_histogram_and_le_counts(db: Database) -> None:
    """The latency histogram columns and the le_counts JSON survive the round trip."""
    store = RollupStore(db)
    frame = query_frame(
        [{"bucket": T0, "succeeded": 4, "le_counts": {"1000": 3, "5000": 4}, "hist": {0: 1, 20: 2, 47: 1}}]
    )

    replace(db, store, QUERY, T0, T0 + MIN, frame)
    row = store.load(QUERY, T0, T0 + MIN).row(0, named=True)

    assert json.loads(row["le_counts"]) == {"1000": 3, "5000": 4}
    assert [row[h] for h in HIST] == [{0: 1, 20: 2, 47: 1}.get(i, 0) for i in range(BUCKETS)]


def test_replace_accepts_the_layout_produced_by_the_snowflake_source(db: Database) -> None:
    """A frame from SnowflakeSource._to_rollup (raw query result -> store layout) stores and loads back."""
    raw = pl.DataFrame(
        {
            "bucket_start": [datetime.fromtimestamp(T0, UTC)],
            "warehouse": ["ETL_WH"],
            "service": ["orders"],
            "domain": ["sales"],
            **{m.name: [7] for m in QUERY.measures},
            "hist": ["3:5,7:2"],
            "le_0": [6],
        }
    )
    frame = SnowflakeSource(lambda: None, [1000])._to_rollup(QUERY, raw)
    store = RollupStore(db)

    replace(db, store, QUERY, T0, T0 + MIN, frame)
    row = store.load(QUERY, T0, T0 + MIN).row(0, named=True)

    assert (row["bucket"], row["queries"], row["h03"], row["h07"]) == (T0, 7, 5, 2)
    assert json.loads(row["le_counts"]) == {"1000": 6}


def test_replacing_a_window_with_late_rows_gives_new_totals_not_a_sum(db: Database) -> None:
    """Re-polling a window with more rows (late arrivals) leaves the new aggregate, never old + new."""
    store = RollupStore(db)
    start, end = T0, T0 + 3 * MIN
    replace(
        db, store, QUERY, start, end, query_frame([{"bucket": T0, "queries": 5}, {"bucket": T0 + MIN, "queries": 2}])
    )

    late = query_frame(
        [{"bucket": T0, "queries": 7}, {"bucket": T0 + MIN, "queries": 2}, {"bucket": T0 + 2 * MIN, "queries": 4}]
    )
    written = replace(db, store, QUERY, start, end, late)

    assert written == 3
    assert totals(store.load(QUERY, start, end)) == {T0: 7, T0 + MIN: 2, T0 + 2 * MIN: 4}


def test_replace_deletes_exactly_the_window_for_every_series(db: Database) -> None:
    """Buckets in [start, end) go for all series, even ones absent from the new frame; the rest stay."""
    store = RollupStore(db)
    before = query_frame(
        [
            {"bucket": T0 - MIN, "queries": 1},
            {"bucket": T0, "queries": 2},
            {"bucket": T0 + MIN, "queries": 3, "warehouse": "BI_WH"},
            {"bucket": T0 + 2 * MIN, "queries": 4},
        ]
    )
    replace(db, store, QUERY, T0 - MIN, T0 + 3 * MIN, before)

    written = replace(db, store, QUERY, T0, T0 + 2 * MIN, query_frame([]))

    assert written == 0
    assert totals(store.load(QUERY, T0 - 10 * MIN, T0 + 10 * MIN)) == {T0 - MIN: 1, T0 + 2 * MIN: 4}


def test_replace_touches_only_its_own_rollup_table(db: Database) -> None:
    """Replacing a window of one rollup leaves other rollups' rows in the same window alone."""
    store = RollupStore(db)
    replace(db, store, WAREHOUSE_LOAD, T0, T0 + 300, load_frame([(T0, "ETL_WH", 1.5)]))

    replace(db, store, QUERY, T0, T0 + 300, query_frame([]))

    assert totals(store.load(WAREHOUSE_LOAD, T0, T0 + 300), "avg_running") == {T0: 1.5}


def test_series_ids_are_stable_per_label_set(db: Database) -> None:
    """The same labels map to the same series id across windows and store instances; new labels get new ids."""
    first = RollupStore(db)
    replace(db, first, QUERY, T0, T0 + MIN, query_frame([{"bucket": T0}]))
    replace(
        db,
        first,
        QUERY,
        T0 + MIN,
        T0 + 2 * MIN,
        query_frame([{"bucket": T0 + MIN}, {"bucket": T0 + MIN, "warehouse": "BI_WH"}]),
    )
    second = RollupStore(db)  # empty cache: reads the ids back from the series table
    replace(db, second, QUERY, T0 + 2 * MIN, T0 + 3 * MIN, query_frame([{"bucket": T0 + 2 * MIN}]))

    out = second.load(QUERY, T0, T0 + 3 * MIN)
    etl = out.filter(pl.col("warehouse") == "ETL_WH")["series_id"].unique().to_list()
    bi = out.filter(pl.col("warehouse") == "BI_WH")["series_id"].unique().to_list()

    assert len(etl) == 1
    assert len(bi) == 1
    assert etl != bi
    assert out.filter(pl.col("warehouse") == "ETL_WH").height == 3
    assert second.series(QUERY).sort("series_id")["warehouse"].to_list() == ["ETL_WH", "BI_WH"]


def test_series_of_different_rollups_are_kept_apart(db: Database) -> None:
    """The same warehouse in two rollups is two series; series() lists only the asked rollup's."""
    store = RollupStore(db)
    replace(db, store, WAREHOUSE_LOAD, T0, T0 + 300, load_frame([(T0, "ETL_WH", 1.0)]))
    metering = pl.DataFrame(
        {"bucket": [T0], "warehouse": ["ETL_WH"], **{m: [1.0] for m in WAREHOUSE_METERING.measure_names}}
    )
    replace(db, store, WAREHOUSE_METERING, T0, T0 + 3600, metering)

    load_ids = store.series(WAREHOUSE_LOAD)["series_id"].to_list()
    metering_ids = store.series(WAREHOUSE_METERING)["series_id"].to_list()

    assert len(load_ids) == len(metering_ids) == 1
    assert load_ids != metering_ids


def test_rolled_back_replace_leaves_no_stale_series_ids(db: Database) -> None:
    """After a rolled-back replace, later rows of those labels are still stored under the right labels."""
    store = RollupStore(db)

    def failed_poll() -> None:
        with db.transaction() as conn:
            store.replace(conn, WAREHOUSE_LOAD, T0, T0 + 300, load_frame([(T0, "ETL_WH", 1.0)]), T0)
            raise RuntimeError("the poll failed after writing its rows")

    with pytest.raises(RuntimeError):
        failed_poll()
    replace(db, store, WAREHOUSE_LOAD, T0 + 300, T0 + 600, load_frame([(T0 + 300, "BI_WH", 2.0)]))

    replace(db, store, WAREHOUSE_LOAD, T0 + 600, T0 + 900, load_frame([(T0 + 600, "ETL_WH", 3.0)]))
    out = store.load(WAREHOUSE_LOAD, T0, T0 + 900)

    # Regression (fixed): RollupStore._series_cache keeps the series id assigned inside the rolled-back
    # transaction;
    # SQLite then hands the same id to BI_WH, so ETL_WH's later rows are stored (and loaded) as BI_WH.
    assert dict(zip(out["bucket"].to_list(), out["warehouse"].to_list(), strict=True)) == {
        T0 + 300: "BI_WH",
        T0 + 600: "ETL_WH",
    }


def test_load_honours_where(db: Database) -> None:
    """``where`` keeps only the series whose labels are in the given lists (every key must match)."""
    store = RollupStore(db)
    frame = query_frame(
        [
            {"bucket": T0, "warehouse": "ETL_WH", "service": "orders", "queries": 1},
            {"bucket": T0, "warehouse": "BI_WH", "service": "orders", "queries": 2},
            {"bucket": T0, "warehouse": "BI_WH", "service": "dash", "queries": 3},
            {"bucket": T0, "warehouse": "ML_WH", "service": "dash", "queries": 4},
        ]
    )
    replace(db, store, QUERY, T0, T0 + MIN, frame)

    by_warehouse = store.load(QUERY, T0, T0 + MIN, where={"warehouse": ["BI_WH", "ML_WH"]})
    by_both = store.load(QUERY, T0, T0 + MIN, where={"warehouse": ["BI_WH"], "service": ["dash"]})

    assert sorted(by_warehouse["queries"].to_list()) == [2, 3, 4]
    assert by_both["queries"].to_list() == [3]


def test_load_window_is_half_open(db: Database) -> None:
    """load(start, end) returns buckets with start <= bucket < end."""
    store = RollupStore(db)
    replace(db, store, QUERY, T0, T0 + 3 * MIN, query_frame([{"bucket": T0 + i * MIN, "queries": i} for i in range(3)]))

    assert sorted(store.load(QUERY, T0 + MIN, T0 + 2 * MIN)["bucket"].to_list()) == [T0 + MIN]


def test_load_of_an_empty_window_has_the_full_schema(db: Database) -> None:
    """No rows still yields a frame with every column, so callers need no special case."""
    out = RollupStore(db).load(QUERY, T0, T0 + MIN)

    assert out.height == 0
    assert out.columns == ["series_id", "bucket", "observed_at", *QUERY.dims, *value_columns(QUERY)]


def test_prune_deletes_only_buckets_before_the_cutoff(db: Database) -> None:
    """prune(before) removes buckets < before in that rollup and reports how many."""
    store = RollupStore(db)
    replace(db, store, QUERY, T0, T0 + 3 * MIN, query_frame([{"bucket": T0 + i * MIN, "queries": i} for i in range(3)]))
    replace(db, store, WAREHOUSE_LOAD, T0, T0 + 300, load_frame([(T0, "ETL_WH", 1.0)]))

    with db.transaction() as conn:
        pruned = store.prune(conn, QUERY, T0 + MIN)

    assert pruned == 1
    assert sorted(store.load(QUERY, 0, T0 + 10 * MIN)["bucket"].to_list()) == [T0 + MIN, T0 + 2 * MIN]
    assert store.load(WAREHOUSE_LOAD, 0, T0 + 300).height == 1


# ---------------------------------------------------------------------------------------------------------------
# watermarks.py


def test_unknown_family_has_empty_state(db: Database) -> None:
    """A family never polled reads as an empty FamilyState."""
    assert Watermarks(db).get("snowflake.query") == FamilyState("snowflake.query")


def test_record_success_keeps_the_widest_window_and_resets_failures(db: Database) -> None:
    """covered_from is the minimum ever polled, polled_to the maximum; a success clears the failures."""
    marks = Watermarks(db)
    with db.transaction() as conn:
        marks.record_success(conn, "q", start=1000, end=2000, frontier=1900, rows=5, at=2010)
        marks.record_failure(conn, "q", "timeout", at=2100)
        marks.record_failure(conn, "q", "timeout again", at=2200)
        # an overlapping re-read that starts earlier but ends before the newest poll
        marks.record_success(conn, "q", start=500, end=1500, frontier=1400, rows=3, at=2300)

    state = marks.get("q")

    assert (state.covered_from, state.polled_to, state.frontier) == (500, 2000, 1900)
    assert (state.consecutive_failures, state.last_error) == (0, None)
    assert (state.last_success_at, state.last_attempt_at, state.rows_last_poll) == (2300, 2300, 3)


def test_record_success_advances_polled_to(db: Database) -> None:
    """A newer window moves polled_to and frontier forward without moving covered_from."""
    marks = Watermarks(db)
    with db.transaction() as conn:
        marks.record_success(conn, "q", 1000, 2000, 1900, 5, 2010)
        marks.record_success(conn, "q", 1700, 2600, 2500, 4, 2610)

    state = marks.get("q")

    assert (state.covered_from, state.polled_to, state.frontier, state.rows_last_poll) == (1000, 2600, 2500, 4)


def test_record_failure_counts_consecutive_failures_without_moving_the_window(db: Database) -> None:
    """Failures increment the counter and keep the last error; covered_from/polled_to/frontier stay put."""
    marks = Watermarks(db)
    with db.transaction() as conn:
        marks.record_success(conn, "q", 1000, 2000, 1900, 5, 2010)
    for i in range(3):
        with db.transaction() as conn:
            marks.record_failure(conn, "q", f"error {i}", at=3000 + i)

    state = marks.get("q")

    assert state.consecutive_failures == 3
    assert state.last_error == "error 2"
    assert state.last_attempt_at == 3002
    assert (state.covered_from, state.polled_to, state.frontier, state.last_success_at) == (1000, 2000, 1900, 2010)


def test_record_failure_before_any_success_leaves_no_window(db: Database) -> None:
    """A family that has only failed has a failure count but no polled window."""
    marks = Watermarks(db)
    with db.transaction() as conn:
        marks.record_failure(conn, "q", "x" * 5000, at=100)

    state = marks.get("q")

    assert (state.covered_from, state.polled_to, state.last_success_at) == (None, None, None)
    assert state.consecutive_failures == 1
    assert state.last_error == "x" * 2000  # long connector messages are truncated


def test_success_without_data_keeps_the_frontier_unknown(db: Database) -> None:
    """Polls that saw no rows (frontier None) do not invent a data frontier."""
    marks = Watermarks(db)
    with db.transaction() as conn:
        marks.record_success(conn, "q", 1000, 2000, None, 0, 2010)
        marks.record_success(conn, "q", 2000, 3000, None, 0, 3010)

    # Regression (fixed): store/watermarks.py record_success's upsert
    # computes
    # MAX(COALESCE(frontier, 0), COALESCE(excluded.frontier, 0)), so the second data-less poll turns
    # NULL into 0 and `sre-agent status` reports the frontier as 1970-01-01T00:00:00Z.
    assert marks.get("q").frontier is None


def test_all_lists_every_family_by_name(db: Database) -> None:
    """all() returns one state per family, sorted by family name."""
    marks = Watermarks(db)
    with db.transaction() as conn:
        marks.record_success(conn, "warehouse_load", 0, 10, None, 0, 10)
        marks.record_failure(conn, "query", "boom", 10)

    assert [s.family for s in marks.all()] == ["query", "warehouse_load"]


# ---------------------------------------------------------------------------------------------------------------
# alerts.py

EPOCH = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def at(minute: int) -> datetime:
    return EPOCH + timedelta(minutes=minute)


def instance(fp: str = "fp-1", state: AlertState = AlertState.FIRING, **kw: Any) -> Instance:
    fields: dict[str, Any] = {
        "rule": "warehouse-queueing",
        "labels": {"warehouse": "ETL_WH", "team": "data-platform"},
        "state": state,
        "severity": Severity.SEV2,
        "active_since": at(0),
        "fired_at": at(5),
        "last_true_at": at(9),
        "last_eval_at": at(10),
        "value": 12.5,
        "threshold": 10.0,
        "evidence": {"window": "15m", "top": [{"query_id": "01b2", "ms": 5400}], "ratio": 0.25},
    }
    fields.update(kw)
    return Instance(fingerprint=fp, **fields)


def test_saved_instance_round_trips(db: Database) -> None:
    """save() then get()/active() returns the same instance: datetimes, labels, severity, evidence."""
    alerts = AlertStore(db)
    inst = instance()
    with db.transaction() as conn:
        alerts.save(conn, inst, at=1)

    assert alerts.get("fp-1") == inst
    assert alerts.active() == {"fp-1": inst}
    assert alerts.get("fp-1").active_since.tzinfo is not None  # type: ignore[union-attr]
    assert alerts.get("missing") is None


def test_active_excludes_inactive_instances_and_save_updates(db: Database) -> None:
    """Saving an instance again overwrites it; inactive ones are not returned by active()."""
    alerts = AlertStore(db)
    pending = instance("fp-p", AlertState.PENDING, fired_at=None)
    with db.transaction() as conn:
        alerts.save(conn, instance("fp-1"), at=1)
        alerts.save(conn, pending, at=1)
        alerts.save(conn, instance("fp-1", AlertState.INACTIVE, severity=None, active_since=None, fired_at=None), at=2)

    assert alerts.active() == {"fp-p": pending}
    resolved = alerts.get("fp-1")
    assert resolved is not None
    assert (resolved.state, resolved.severity, resolved.active_since) == (AlertState.INACTIVE, None, None)


def _transition(kind: EventKind, minute: int, inst: Instance, ends: int | None = None) -> Transition:
    return Transition(kind, at(minute), inst, at(0), at(ends) if ends is not None else None)


def test_appended_events_round_trip_oldest_first(db: Database) -> None:
    """events() returns what append() returned, oldest first, with datetimes, labels and JSON intact."""
    alerts = AlertStore(db)
    notes = {"summary": "ETL_WH is queueing", "runbook": "runbooks/warehouse-queueing.md"}
    with db.transaction() as conn:
        fired = alerts.append(conn, _transition(EventKind.FIRING, 5, instance()), notes)
        escalated = alerts.append(conn, _transition(EventKind.ESCALATED, 8, instance(severity=Severity.SEV1)), notes)
        resolved = alerts.append(
            conn, _transition(EventKind.RESOLVED, 20, instance(state=AlertState.INACTIVE), ends=20), notes
        )

    events = alerts.events()

    assert events == [fired, escalated, resolved]
    assert fired.event_id < escalated.event_id < resolved.event_id
    assert (fired.kind, fired.severity, fired.at, fired.starts_at, fired.ends_at) == (
        EventKind.FIRING,
        Severity.SEV2,
        at(5),
        at(0),
        None,
    )
    assert events[2].ends_at == at(20)
    assert events[0].labels == {"warehouse": "ETL_WH", "team": "data-platform"}
    assert events[0].annotations == notes
    assert events[0].evidence["top"] == [{"query_id": "01b2", "ms": 5400}]


def test_event_without_severity_is_recorded_as_sev4(db: Database) -> None:
    """A transition of an instance with no severity (cancelled pending) is stored as sev4."""
    alerts = AlertStore(db)
    with db.transaction() as conn:
        alerts.append(conn, _transition(EventKind.PENDING_CANCELLED, 3, instance(severity=None), ends=3), {})

    assert [e.severity for e in alerts.events()] == [Severity.SEV4]


def test_events_can_be_filtered_by_kind_and_since(db: Database) -> None:
    """``kinds`` keeps only those transitions and ``since`` drops events before an instant."""
    alerts = AlertStore(db)
    with db.transaction() as conn:
        alerts.append(conn, _transition(EventKind.PENDING, 1, instance("a")), {})
        alerts.append(conn, _transition(EventKind.FIRING, 5, instance("a")), {})
        alerts.append(conn, _transition(EventKind.FIRING, 7, instance("b")), {})
        alerts.append(conn, _transition(EventKind.RESOLVED, 30, instance("a"), ends=30), {})

    firing = alerts.events(kinds=(EventKind.FIRING,))
    notifying = alerts.events(kinds=(EventKind.FIRING, EventKind.RESOLVED))
    recent = alerts.events(since=int(at(7).timestamp()))

    assert [(e.fingerprint, e.kind) for e in firing] == [("a", EventKind.FIRING), ("b", EventKind.FIRING)]
    assert [e.kind for e in notifying] == [EventKind.FIRING, EventKind.FIRING, EventKind.RESOLVED]
    assert [(e.fingerprint, e.kind) for e in recent] == [("b", EventKind.FIRING), ("a", EventKind.RESOLVED)]


def test_rolled_back_append_records_no_event(db: Database) -> None:
    """An event appended in a failed transaction is not in the history."""
    alerts = AlertStore(db)

    def failed_cycle() -> None:
        with db.transaction() as conn:
            alerts.append(conn, _transition(EventKind.FIRING, 5, instance()), {})
            raise RuntimeError

    with pytest.raises(RuntimeError):
        failed_cycle()

    assert alerts.events() == []


def test_a_sqlite_error_inside_a_transaction_becomes_a_store_error(db: Database) -> None:
    """Disk full, constraint violations …: callers catch one error type and the transaction is rolled back."""

    def duplicate() -> None:
        with db.transaction() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES ('dup', '1')")
            conn.execute("INSERT INTO meta (key, value) VALUES ('dup', '2')")

    with pytest.raises(StoreError, match="UNIQUE"):
        duplicate()
    assert db.read("SELECT * FROM meta WHERE key = 'dup'") == []


def test_each_store_has_its_own_id_for_dedup_keys(tmp_path: Path) -> None:
    """A store recreated from scratch gets a new id, so its event 1 is not mistaken for an old store's event 1."""
    first, second = Database(tmp_path / "a.db"), Database(tmp_path / "b.db")
    try:
        assert first.store_id != second.store_id
        assert len(first.store_id) == 12
    finally:
        first.close()
        second.close()


def test_a_second_writer_on_the_same_store_is_refused(tmp_path: Path) -> None:
    """Two agents writing one store would notify twice: the second is refused with the first one's pid."""
    path = tmp_path / "state.db"
    first = Database(path)
    try:
        with pytest.raises(StoreError, match=r"in use by another sre-agent process \(pid \d+\)"):
            Database(path)
        reader = Database(path, writer=False)  # status / health may read at any time
        reader.close()
    finally:
        first.close()
    Database(path).close()  # released on close


def test_a_hostile_query_tag_value_is_stored_printable_so_no_view_can_print_its_escape_sequences(
    db: Database,
) -> None:
    """ESC sequences (clear screen, set the terminal title), NUL, a bidi override and a newline in a QUERY_TAG
    service become U+FFFD once, in the store: every alert, CLI table and report reading the series sees that."""
    hostile = "risk\x1b[2J\x1b]0;owned\x07\x00\u202eeng\nine"
    rollups = RollupStore(db)
    with db.transaction() as conn:
        rollups.replace(conn, QUERY, 0, 120, query_frame([{"bucket": 60, "service": hostile, "queries": 3}]), 200)

    [service] = rollups.load(QUERY, 0, 120)["service"].to_list()
    assert service == "risk\ufffd[2J\ufffd]0;owned\ufffd\ufffd\ufffdeng\ufffdine"
    assert all(ch.isprintable() for ch in service)
    assert rollups.series_id(QUERY, ("ETL_WH", hostile, "sales")) is not None, "the raw value still finds it"
