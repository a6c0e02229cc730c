"""Polling benchmark: seed N queries over D days, then time the agent's backfill and steady-state cycles.

Prints: seed time, backfill cycle time, steady-state cycle time (one new minute of data), the agent's
peak RSS, and — measured in the same run on the same rows — the floor for that work on this machine: every
statement of a backfill run once straight on DuckDB over all rows. The fake Snowflake runs in its own
process (`server` sub-command) so the agent's memory is measured alone, as it would be in production.

    python benchmarks/polling.py                       # 10M queries over 30 days (several minutes)
    python benchmarks/polling.py --queries 1000000 --days 7
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FIRST_DAY = date(2026, 10, 5)  # a Monday


def _statements() -> list[tuple[str, list[object]]]:
    """(Snowflake SQL, binds) of every statement a backfill runs, over all time, on the simulator's tables."""
    from sre_agent.config.loader import load_config
    from sre_agent.simulate.schema import SIM_SCHEMA
    from sre_agent.sources import slo_sql
    from sre_agent.sources.snowflake import SnowflakeSource

    loaded = load_config(REPO / "examples" / "embedded.yaml")
    thresholds = [1000, 5000, 30000, 120000]
    source = SnowflakeSource(lambda: None, thresholds)
    window = {"window_start": datetime(2000, 1, 1, tzinfo=UTC), "window_end": datetime(2100, 1, 1, tzinfo=UTC)}
    values = {**window, **{f"le_{i}": v for i, v in enumerate(thresholds)}, "min_queries": 1}
    queries = [(q, values) for q in source.queries.values()]
    snowflake_slos = [d for d in loaded.slos if not slo_sql.from_log_analytics(d)]
    if any(slo_sql.from_query_history(d) for d in snowflake_slos):
        q = slo_sql.query_slo_rollup(snowflake_slos)
        queries.append((q.query, {**window, **q.values}))
    if any(slo_sql.from_tasks(d) for d in snowflake_slos):
        q = slo_sql.query_task_freshness(snowflake_slos)
        queries.append((q.query, {**window, **q.values}))
    out = []
    for query, binds in queries:
        sql, ordered = query.bind({k: v for k, v in binds.items() if k in query.params})
        out.append((sql.replace("SNOWFLAKE.ACCOUNT_USAGE.", f"{SIM_SCHEMA}."), ordered))
    return out


def _floor(fake) -> tuple[float, int]:
    """Seconds and result rows of every backfill statement run once, straight on DuckDB."""
    from fakesnow.dialect import parse_one

    cursor = fake.connect().cursor()
    statements = _statements()
    translated = [(cursor._transform(parse_one(sql), binds).sql(dialect="duckdb"), binds) for sql, binds in statements]
    began = time.perf_counter()
    rows = 0
    for duck_sql, binds in translated:
        rows += fake.duck_conn.cursor().execute(duck_sql, binds).to_arrow_table().num_rows
    return time.perf_counter() - began, rows


def serve(args: argparse.Namespace) -> int:
    """Child process: seed the fake account, measure the DuckDB floor, print READY, serve until stdin closes."""
    from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake
    from sre_agent.simulate.history import HistorySeeder
    from sre_agent.simulate.workload import WorkloadConfig

    # File-backed so DuckDB compresses the rows and keeps its buffer pool bounded (10M rows do not fit in
    # memory uncompressed on a small machine); the agent's own figures do not depend on it.
    workdir = Path(tempfile.mkdtemp(prefix="sre-agent-bench-"))
    server = EmbeddedSnowflake(db_path=workdir).start()
    server._shared().duck_conn.execute(f"SET memory_limit = '{args.server_memory}'")
    began = time.perf_counter()
    seeder = HistorySeeder(server, WorkloadConfig(seed=args.seed, queries_per_day=max(1, args.queries // args.days)))
    stats = seeder.seed_days(FIRST_DAY, args.days)
    seed_s = time.perf_counter() - began

    # The floor: every statement the agent's backfill runs (each family's rollup and the SLO rollups of the shipped
    # SLOs), translated once and run directly on DuckDB over every row in one scan each (no HTTP, no chunking, no
    # visibility view, no result transfer, nothing stored or evaluated).
    fake = server._shared()
    floors = []
    rows_out = 0
    for _ in range(args.floor_repeats):
        seconds, rows_out = _floor(fake)
        floors.append(seconds)
    plain = (
        "SELECT time_bucket(INTERVAL 1 MINUTE, END_TIME) AS b, WAREHOUSE_NAME AS w, QUERY_TAG AS t, COUNT(*) AS n, "
        "SUM(TOTAL_ELAPSED_TIME) AS e, SUM(QUEUED_OVERLOAD_TIME) AS q FROM SNOWFLAKE.SIMULATOR.QUERY_HISTORY "
        "GROUP BY ALL"
    )
    t = time.perf_counter()
    fake.duck_conn.cursor().execute(plain).fetchall()
    plain_s = time.perf_counter() - t
    print(
        json.dumps(
            {
                "ready": True,
                "port": server.port,
                "queries": stats.queries,
                "seed_s": round(seed_s, 2),
                "floor_s": round(min(floors), 3),
                "floor_rows": rows_out,
                "plain_groupby_s": round(plain_s, 3),
                "server_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        ),
        flush=True,
    )
    sys.stdin.read()
    server.stop()
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _set_clock(connect, instant: datetime) -> None:
    conn = connect()
    try:
        cur = conn.cursor()
        cur.execute("DELETE FROM SNOWFLAKE.SIMULATOR.CLOCK")
        cur.execute("INSERT INTO SNOWFLAKE.SIMULATOR.CLOCK (SIM_NOW) VALUES (?)", (("TIMESTAMP_LTZ", instant),))
    finally:
        conn.close()


def drive(args: argparse.Namespace) -> int:
    """Parent process: start the server, run the agent's cycles, print the figures."""
    from sre_agent.clock import SimulatedClock
    from sre_agent.config.agent import JsonlSinkConfig, PollSettings
    from sre_agent.config.loader import LoadedConfig, load_config
    from sre_agent.daemon.cycle import run_cycle
    from sre_agent.daemon.runtime import open_agent
    from sre_agent.engine.metrics import METRICS
    from sre_agent.engine.rollups import AZURE_METRIC
    from sre_agent.simulate.workload import day_bounds
    from sre_agent.sources.snowflake_conn import connector, session_parameters

    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "server",
            "--queries",
            str(args.queries),
            "--days",
            str(args.days),
            "--seed",
            str(args.seed),
            "--floor-repeats",
            str(args.floor_repeats),
            "--server-memory",
            args.server_memory,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert child.stdout is not None
    ready = json.loads(child.stdout.readline())
    try:
        connect = connector(
            {
                "account": "fakesnow",
                "user": "bench",
                "password": "bench",
                "host": "127.0.0.1",
                "port": ready["port"],
                "protocol": "http",
                "paramstyle": "qmark",
                "session_parameters": session_parameters(None),
                "login_timeout": 30,
                "network_timeout": 600,
            }
        )
        history_end, _ = day_bounds(FIRST_DAY + timedelta(days=args.days))
        now = history_end - timedelta(hours=2)
        with tempfile.TemporaryDirectory() as tmp:
            loaded = load_config(REPO / "examples" / "embedded.yaml")
            spec = loaded.config.spec
            minute = timedelta(minutes=1)
            polls = {
                name: PollSettings(interval=minute, overlap=spec.snowflake.poll(name).overlap)
                for name in ("query", "warehouse_load", "warehouse_metering")
            }
            new_spec = spec.model_copy(
                update={
                    "snowflake": spec.snowflake.model_copy(
                        update={"polls": polls, "backfill": timedelta(days=args.days)}
                    ),
                    "store": spec.store.model_copy(update={"path": Path(tmp) / "state.db"}),
                    "azure": None,  # Snowflake polling only (the simulated Azure sources need the demo's platform)
                    "sinks": [JsonlSinkConfig(type="jsonl", name="alerts-file", path=Path(tmp) / "alerts.jsonl")],
                }
            )
            rules = [r for r in loaded.rules if METRICS[r.spec.metric].rollup != AZURE_METRIC.name]  # Snowflake only
            config = LoadedConfig(loaded.config.model_copy(update={"spec": new_spec}), loaded.path, rules)
            agent = open_agent(config, connect=connect)
            clock = SimulatedClock(now)
            _set_clock(connect, now)
            t = time.perf_counter()
            backfill = run_cycle(clock, agent)
            backfill_s = time.perf_counter() - t
            if backfill.poll.errors:
                raise SystemExit(f"backfill failed: {backfill.poll.errors}")
            steady = []
            steady_rows = 0
            for _ in range(args.steady_cycles):
                clock.advance(minute)
                _set_clock(connect, clock.now())
                t = time.perf_counter()
                result = run_cycle(clock, agent)
                steady.append(time.perf_counter() - t)
                steady_rows = result.poll.rows.get("query", 0)
            rollup_rows = agent.db.read("SELECT COUNT(*) AS n FROM rollup_query")[0]["n"]
            store_mb = (Path(tmp) / "state.db").stat().st_size / 1e6
            agent.close()
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        child.stdin.close()  # type: ignore[union-attr]
        child.wait(timeout=120)
    steady_s = statistics.median(steady)
    figures = {
        "queries": ready["queries"],
        "days": args.days,
        "seed_s": ready["seed_s"],
        "seed_rows_per_s": round(ready["queries"] / ready["seed_s"]),
        "backfill_cycle_s": round(backfill_s, 2),
        "backfill_rows_per_s": round(ready["queries"] / backfill_s),
        "backfill_rollup_rows": rollup_rows,
        "store_mb": round(store_mb, 1),
        "floor_duckdb_scan_s": ready["floor_s"],
        "plain_groupby_s": ready["plain_groupby_s"],
        "backfill_over_floor": round(backfill_s / ready["floor_s"], 2),
        "steady_cycle_s_median": round(steady_s, 3),
        "steady_cycle_s_all": [round(s, 3) for s in steady],
        "steady_rows_per_poll": steady_rows,
        "steady_over_backfill_pct": round(100 * steady_s / backfill_s, 2),
        "agent_peak_rss_mb": round(peak_rss_mb, 1),
        "server_peak_rss_mb": ready["server_rss_mb"],
        "cpu": os.cpu_count(),
    }
    print_report(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def print_report(f: dict[str, object]) -> None:
    """Human-readable figures with the targets from the issue."""

    def check(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    print(f"polling benchmark — {f['queries']:,} queries over {f['days']} days, {f['cpu']} CPUs")
    print(f"  seed (generate + bulk load)      {f['seed_s']:>9.2f} s   ({f['seed_rows_per_s']:,} rows/s)")
    print(
        f"  DuckDB floor (same SQL, 1 scan each){f['floor_duckdb_scan_s']:>6.2f} s   "
        f"(plain 6-column GROUP BY: {f['plain_groupby_s']:.2f} s)"
    )
    print(
        f"  backfill cycle                   {f['backfill_cycle_s']:>9.2f} s   ({f['backfill_rows_per_s']:,} rows/s, "
        f"{f['backfill_rollup_rows']:,} rollup rows, store {f['store_mb']} MB)"
    )
    ratio = float(f["backfill_over_floor"])  # type: ignore[arg-type]
    print(f"    backfill / floor               {ratio:>9.2f} x   target <= 3x: {check(ratio <= 3)}")
    steady = float(f["steady_cycle_s_median"])  # type: ignore[arg-type]
    pct = float(f["steady_over_backfill_pct"])  # type: ignore[arg-type]
    print(
        f"  steady-state cycle (1 new minute){steady:>8.3f} s   target <= 2 s: {check(steady <= 2)}; "
        f"{pct:.2f} % of backfill, target <= 5 %: {check(pct <= 5)}"
    )
    rss = float(f["agent_peak_rss_mb"])  # type: ignore[arg-type]
    print(f"  agent peak RSS                   {rss:>9.1f} MB  target <= 1024 MB: {check(rss <= 1024)}")
    print(f"  (fake Snowflake server peak RSS  {f['server_peak_rss_mb']} MB, a separate process)")
    print(json.dumps(f))


def main() -> int:
    """Parse arguments and run the driver or the server."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("role", nargs="?", default="drive", choices=["drive", "server"])
    parser.add_argument("--queries", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steady-cycles", type=int, default=5)
    parser.add_argument("--floor-repeats", type=int, default=2)
    parser.add_argument("--server-memory", default="6GB", help="DuckDB memory_limit of the fake Snowflake")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    return serve(args) if args.role == "server" else drive(args)


if __name__ == "__main__":
    sys.exit(main())
