"""The embedded fake Snowflake: real connector, ACCOUNT_USAGE views with real columns, visibility lag, persistence."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import MONDAY, connect_to, seed

from sre_agent.simulate.schema import VIEWS

pytestmark = pytest.mark.integration


def _columns(cursor: object, view: str) -> list[str]:
    cursor.execute(f"SELECT * FROM SNOWFLAKE.ACCOUNT_USAGE.{view} LIMIT 0")  # type: ignore[attr-defined]
    return [d.name for d in cursor.description]  # type: ignore[attr-defined]


def test_every_account_usage_view_has_the_documented_columns(account):
    """A DBA's `SELECT *` on each view returns exactly the documented columns, in order, no simulator column."""
    conn = connect_to(account)()
    try:
        cur = conn.cursor()
        for view in VIEWS:
            assert _columns(cur, view.name) == list(view.column_names), view.name
    finally:
        conn.close()


def test_timestamp_and_number_types_round_trip_through_the_real_connector(account):
    """TIMESTAMP_LTZ values come back timezone-aware UTC, NUMBER as integers, FLOAT as floats."""
    seed(account, days=1, queries_per_day=2000, incidents=False)
    account.set_clock(datetime(2030, 1, 1, tzinfo=UTC))
    conn = connect_to(account)()
    try:
        cur = conn.cursor()
        cur.execute(
            "SELECT start_time, total_elapsed_time, percentage_scanned_from_cache "
            "FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY ORDER BY start_time LIMIT 1"
        )
        start, elapsed, cache = cur.fetchone()
    finally:
        conn.close()
    assert start.tzinfo is not None
    assert start.utcoffset() == timedelta(0)
    assert isinstance(elapsed, int)
    assert isinstance(cache, float)


def test_rows_stay_hidden_until_account_usage_would_show_them(account):
    """A query that ended at T is invisible before its simulated landing time and visible after."""
    history = seed(account, days=1, queries_per_day=3000, incidents=False)
    noon = history.start + timedelta(hours=17)  # 12:00 New York
    account.set_clock(noon)
    conn = connect_to(account)()
    try:
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*) AS n, MAX(end_time) AS newest FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY")
        visible_at_noon, newest = cur.fetchone()
        cur.execute(
            "SELECT COUNT(*) AS n FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY WHERE end_time < ?",
            (("TIMESTAMP_LTZ", noon - timedelta(minutes=45)),),
        )
        old_enough = cur.fetchone()[0]
        account.set_clock(noon + timedelta(minutes=45))
        cur.execute(
            "SELECT COUNT(*) AS n FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY WHERE end_time < ?",
            (("TIMESTAMP_LTZ", noon),),
        )
        landed_later = cur.fetchone()[0]
    finally:
        conn.close()
    total_before_noon = (
        account._shared()
        .duck_conn.execute("SELECT COUNT(*) FROM SNOWFLAKE.SIMULATOR.QUERY_HISTORY WHERE END_TIME < ?", [noon])
        .fetchone()[0]
    )
    assert newest <= noon
    assert visible_at_noon < total_before_noon, "rows that ended just before noon must still be in flight"
    assert landed_later == total_before_noon, "45 minutes later every row that ended before noon has landed"
    assert old_enough <= visible_at_noon


def test_seeding_a_week_is_a_bulk_load_not_row_by_row(account):
    """Seeding goes straight into DuckDB from Arrow: a week of 30k queries/day loads in one call per view."""
    from sre_agent.simulate.history import HistorySeeder
    from sre_agent.simulate.workload import WorkloadConfig

    stats = HistorySeeder(account, WorkloadConfig(seed=3, queries_per_day=30_000)).seed_days(MONDAY, 7)
    assert stats.queries == account.row_count("QUERY_HISTORY")
    assert stats.queries > 150_000
    assert stats.rows["METERING_DAILY_HISTORY"] > 0
    assert stats.rows["DATABASE_STORAGE_USAGE_HISTORY"] > 0


def test_a_persisted_account_survives_a_restart(tmp_path: Path):
    """With db_path the seeded account is still there after the server (a separate process here) restarts."""
    script = textwrap.dedent(f"""
        import json, sys
        from datetime import date
        from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake
        from sre_agent.simulate.history import HistorySeeder
        from sre_agent.simulate.workload import WorkloadConfig
        from pathlib import Path
        with EmbeddedSnowflake(db_path=Path({str(tmp_path)!r})) as server:
            if sys.argv[1] == "seed":
                HistorySeeder(server, WorkloadConfig(seed=1, queries_per_day=1000)).seed_days(date(2026, 11, 2), 1)
            print(json.dumps({{"rows": server.row_count("QUERY_HISTORY")}}))
    """)
    first = subprocess.run([sys.executable, "-c", script, "seed"], capture_output=True, text=True, check=True)
    second = subprocess.run([sys.executable, "-c", script, "read"], capture_output=True, text=True, check=True)
    seeded = json.loads(first.stdout.strip().splitlines()[-1])["rows"]
    assert seeded > 0
    assert json.loads(second.stdout.strip().splitlines()[-1])["rows"] == seeded
    assert (tmp_path / "SNOWFLAKE.db").exists()


def test_only_one_embedded_server_per_process(account):
    """fakesnow keeps its state in module globals: a second server in the same process is refused clearly."""
    from sre_agent.errors import EmbeddedSnowflakeError
    from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake

    with pytest.raises(EmbeddedSnowflakeError, match="already running"):
        EmbeddedSnowflake().start()


def test_translation_cache_keeps_results_correct_across_new_bind_values(account):
    """The fake-only translation cache reuses a statement's translation: new binds must still give new results."""
    from sre_agent.sources.snowflake import SnowflakeSource

    history = seed(account, days=1, queries_per_day=3000, incidents=False)
    account.set_clock(datetime(2030, 1, 1, tzinfo=UTC))
    source = SnowflakeSource(connect_to(account), [1000])
    try:
        a = source.fetch("query", history.start, history.start + timedelta(hours=12))
        b = source.fetch("query", history.start, history.start + timedelta(hours=12))
        c = source.fetch("query", history.start + timedelta(hours=12), history.end)
    finally:
        source.close()
    cursor_module = __import__("fakesnow.cursor", fromlist=["_"])
    assert getattr(cursor_module, "_sre_agent_cached", False), "the cache is installed in the embedded server"
    # Float sums may differ in the last bit (parallel aggregation order); everything else is exact.
    from polars.testing import assert_frame_equal

    assert_frame_equal(a, b, check_exact=False, rel_tol=1e-12)
    assert a.height > 0
    assert c.height > 0
    assert int(a["queries"].sum()) + int(c["queries"].sum()) == account.row_count("QUERY_HISTORY")


def test_cached_column_descriptions_match_fakesnows_own_and_follow_a_table_change(account):
    """The description cache answers what fakesnow's own DESCRIBE would, and a DDL statement empties it."""
    conn = connect_to(account)()
    try:
        cur = conn.cursor()
        cur.execute("CREATE SCHEMA IF NOT EXISTS SNOWFLAKE.SCRATCH")
        cur.execute("CREATE OR REPLACE TABLE SNOWFLAKE.SCRATCH.SHAPE (A INTEGER, B VARCHAR)")
        sql = "SELECT A, B, A * ? AS C FROM SNOWFLAKE.SCRATCH.SHAPE WHERE A > ?"

        def shape(*binds: object) -> list[tuple[object, ...]]:
            cur.execute(sql, binds)
            return [(d.name, d.type_code, d.precision, d.scale) for d in cur.description]

        first = shape(2, 0)  # a miss: fakesnow's own DESCRIBE
        assert shape(3, 1) == first  # a hit: the cached answer
        assert [name for name, *_ in first] == ["A", "B", "C"]
        cur.execute("CREATE OR REPLACE TABLE SNOWFLAKE.SCRATCH.SHAPE (A INTEGER, B INTEGER)")
        after = shape(2, 0)
        assert after[1][1] != first[1][1], "B is a number now: the DDL emptied the cache"
    finally:
        conn.close()
