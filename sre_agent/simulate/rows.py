"""Turning a simulated day into ACCOUNT_USAGE rows: QUERY_HISTORY, TASK_HISTORY and the schemas of the rest."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import polars as pl

from sre_agent.simulate.batch import F64, ErrorTable, QueryBatch
from sre_agent.simulate.ids import query_ids, stable_hash, stable_int
from sre_agent.simulate.platform import DESKS, SYMBOLS, Pattern, Platform
from sre_agent.simulate.warehouse_day import WarehouseDay

VARIANTS = 24
"""Literal variants per query pattern and day (different QUERY_HASH, same parameterized hash)."""
TS: pl.DataType = pl.Datetime("us", "UTC")


def texts_for(p: Pattern, day: date) -> tuple[list[str], list[str]]:
    """The day's query texts of a pattern, one per literal variant, and their QUERY_HASHes."""
    texts = []
    for v in range(VARIANTS):
        texts.append(
            p.template.format(
                desk=DESKS[v % len(DESKS)],
                date=day.isoformat(),
                account=100_000 + 137 * v,
                symbol=SYMBOLS[v % len(SYMBOLS)],
                n=5 + v % 5,
            )
        )
    return texts, [stable_hash(t) for t in texts]


LOAD_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "START_TIME": TS,
    "END_TIME": TS,
    "WAREHOUSE_ID": pl.Int64,
    "WAREHOUSE_NAME": pl.String,
    "AVG_RUNNING": pl.Float64,
    "AVG_QUEUED_LOAD": pl.Float64,
    "AVG_QUEUED_PROVISIONING": pl.Float64,
    "AVG_BLOCKED": pl.Float64,
    "_VISIBLE_AT": TS,
}
METERING_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "START_TIME": TS,
    "END_TIME": TS,
    "WAREHOUSE_ID": pl.Int64,
    "WAREHOUSE_NAME": pl.String,
    "CREDITS_USED": pl.Float64,
    "CREDITS_USED_COMPUTE": pl.Float64,
    "CREDITS_USED_CLOUD_SERVICES": pl.Float64,
    "CREDITS_ATTRIBUTED_COMPUTE_QUERIES": pl.Float64,
    "_VISIBLE_AT": TS,
}


def frame_of(rows: list[dict[str, object]], schema: dict[str, pl.DataType | type[pl.DataType]]) -> pl.DataFrame:
    """A frame from row dicts with a fixed schema (empty rows give an empty frame of that schema)."""
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def micros(day_start: datetime, seconds: F64) -> pl.Series:
    """UTC timestamps for seconds since ``day_start``, at microsecond precision."""
    base = int(day_start.timestamp() * 1_000_000)
    return pl.Series((base + np.round(seconds * 1e6)).astype(np.int64)).cast(TS)


def query_rows(
    b: QueryBatch,
    sim: WarehouseDay,
    wi: int,
    platform: Platform,
    seed: int,
    day: date,
    day_start: datetime,
    errors: ErrorTable,
) -> pl.DataFrame:
    """QUERY_HISTORY rows for one warehouse's queries of one day (with ``_VISIBLE_AT``)."""
    n = len(b)
    if n == 0:
        return pl.DataFrame()
    wh = platform.warehouses[wi]
    rng = np.random.default_rng([seed, day.toordinal(), 2000 + wi])
    patterns = platform.patterns
    pidx = b.pattern
    texts: list[str] = []
    hashes: list[str] = []
    for p in patterns:
        t, h = texts_for(p, day)
        texts.extend(t)
        hashes.extend(h)
    text_idx = pidx * VARIANTS + b.variant
    total_ms = sim.queued_overload_ms + b.compile_ms + sim.queued_provisioning_ms + b.list_ms + b.blocked_ms + b.exec_ms
    total_ms = np.round(total_ms)
    end_s = b.arrival + total_ms / 1000.0
    failed = b.error >= 0
    err = np.maximum(b.error, 0)
    compile_fail = failed & np.asarray([*errors.compile_time, False])[err]
    services = {s.name: s for s in platform.services}
    tag_of = [
        f'{{"service":"{p.service}","domain":"{services[p.service].domain}"}}' if services[p.service].tagged else None
        for p in patterns
    ]
    offsets = np.cumsum([0] + [len(p.users) for p in patterns])
    all_users = np.array([u for p in patterns for u in p.users], dtype=object)
    user_names = all_users[offsets[pidx] + b.user]
    session_of = np.array([stable_int(u, 1 << 20) for u in all_users.tolist()], dtype=np.int64)
    query_type = np.array([p.query_type for p in patterns], dtype=object)[pidx]
    query_type = np.where(compile_fail, "UNKNOWN", query_type)
    exec_ms = np.round(b.exec_ms)
    cs = np.round((b.compile_ms * 5e-7 + 1e-6), 9)
    salt = stable_int(wh.name, 1 << 30)
    df = pl.DataFrame(
        {
            "QUERY_ID": query_ids(day.toordinal(), np.arange(n, dtype=np.uint64) + np.uint64(wi << 40), salt),
            "QUERY_TEXT": pl.Series(np.asarray(texts, dtype=object)[text_idx], dtype=pl.String),
            "DATABASE_ID": np.array([platform.databases.get(p.database, 0) for p in patterns])[pidx],
            "DATABASE_NAME": pl.Series(np.array([p.database for p in patterns], dtype=object)[pidx], dtype=pl.String),
            "SCHEMA_ID": np.array([stable_int(p.database + p.schema, 900) + 100 for p in patterns])[pidx],
            "SCHEMA_NAME": pl.Series(np.array([p.schema for p in patterns], dtype=object)[pidx], dtype=pl.String),
            "QUERY_TYPE": pl.Series(query_type, dtype=pl.String),
            "SESSION_ID": session_of[offsets[pidx] + b.user] + (day.toordinal() << 20),
            "USER_NAME": pl.Series(user_names, dtype=pl.String),
            "ROLE_NAME": pl.Series(np.array([p.role for p in patterns], dtype=object)[pidx], dtype=pl.String),
            "WAREHOUSE_ID": np.full(n, wh.warehouse_id),
            "WAREHOUSE_NAME": pl.Series([wh.name] * n, dtype=pl.String),
            "WAREHOUSE_SIZE": pl.Series(sim.size, dtype=pl.String),
            "WAREHOUSE_TYPE": pl.Series(["STANDARD"] * n, dtype=pl.String),
            "CLUSTER_NUMBER": sim.cluster,
            "QUERY_TAG": pl.Series(np.array(tag_of, dtype=object)[pidx], dtype=pl.String),
            "EXECUTION_STATUS": pl.Series(np.where(failed, "FAIL", "SUCCESS"), dtype=pl.String),
            "ERROR_CODE": np.where(failed, np.asarray([*errors.codes, 0])[err], 0).astype(np.int64),
            "ERROR_MESSAGE": pl.Series(np.asarray([*errors.messages, ""], dtype=object)[err], dtype=pl.String),
            "START_TIME": micros(day_start, b.arrival),
            "END_TIME": micros(day_start, end_s),
            "TOTAL_ELAPSED_TIME": total_ms.astype(np.int64),
            "BYTES_SCANNED": np.round(b.bytes_scanned).astype(np.int64),
            "PERCENTAGE_SCANNED_FROM_CACHE": np.round(b.cache, 4),
            "BYTES_WRITTEN_TO_RESULT": (b.rows * 96).astype(np.int64),
            "ROWS_PRODUCED": b.rows.astype(np.int64),
            "ROWS_INSERTED": b.rows_inserted.astype(np.int64),
            "PARTITIONS_SCANNED": b.partitions_scanned.astype(np.int64),
            "PARTITIONS_TOTAL": b.partitions_total.astype(np.int64),
            "BYTES_SPILLED_TO_LOCAL_STORAGE": np.round(b.spill_local).astype(np.int64),
            "BYTES_SPILLED_TO_REMOTE_STORAGE": np.round(b.spill_remote).astype(np.int64),
            "COMPILATION_TIME": np.round(b.compile_ms).astype(np.int64),
            "EXECUTION_TIME": exec_ms.astype(np.int64),
            "QUEUED_PROVISIONING_TIME": np.round(sim.queued_provisioning_ms).astype(np.int64),
            "QUEUED_REPAIR_TIME": np.zeros(n, dtype=np.int64),
            "QUEUED_OVERLOAD_TIME": np.round(sim.queued_overload_ms).astype(np.int64),
            "TRANSACTION_BLOCKED_TIME": np.round(b.blocked_ms).astype(np.int64),
            "LIST_EXTERNAL_FILES_TIME": np.round(b.list_ms).astype(np.int64),
            "CREDITS_USED_CLOUD_SERVICES": cs,
            "RELEASE_VERSION": pl.Series(["9.38.2"] * n, dtype=pl.String),
            "QUERY_LOAD_PERCENT": sim.load_percent.astype(np.int64),
            "IS_CLIENT_GENERATED_STATEMENT": np.zeros(n, dtype=bool),
            "ROLE_TYPE": pl.Series(["ROLE"] * n, dtype=pl.String),
            "QUERY_HASH": pl.Series(np.asarray(hashes, dtype=object)[text_idx], dtype=pl.String),
            "QUERY_HASH_VERSION": np.full(n, 2),
            "QUERY_PARAMETERIZED_HASH": pl.Series(
                np.array([stable_hash("param:" + p.key) for p in patterns], dtype=object)[pidx],
                dtype=pl.String,
            ),
            "QUERY_PARAMETERIZED_HASH_VERSION": np.full(n, 1),
            "USER_TYPE": pl.Series(
                np.array(
                    ["SERVICE" if u.startswith("SVC_") else "PERSON" for u in all_users.tolist()],
                    dtype=object,
                )[offsets[pidx] + b.user],
                dtype=pl.String,
            ),
            "_VISIBLE_AT": micros(day_start, end_s + np.clip(rng.lognormal(np.log(540.0), 0.55, n), 90.0, 2700.0)),
        }
    )
    fail = pl.col("EXECUTION_STATUS") == "FAIL"
    return df.with_columns(
        pl.when(fail).then(pl.col("ERROR_CODE")).alias("ERROR_CODE"),
        pl.when(fail).then(pl.col("ERROR_MESSAGE")).alias("ERROR_MESSAGE"),
    )


def task_rows(qh: pl.DataFrame, platform: Platform) -> pl.DataFrame:
    """TASK_HISTORY rows for the queries that ran as Snowflake tasks."""
    tasks = {stable_hash("param:" + p.key): p for p in platform.patterns if p.task_name}
    if qh.is_empty() or not tasks:
        return pl.DataFrame()
    rows = qh.filter(pl.col("QUERY_PARAMETERIZED_HASH").is_in(list(tasks)))
    names = {h: p.task_name for h, p in tasks.items()}
    return rows.select(
        pl.col("QUERY_PARAMETERIZED_HASH").replace_strict(names, return_dtype=pl.String).alias("NAME"),
        pl.col("QUERY_TEXT"),
        pl.col("SCHEMA_NAME"),
        pl.col("SCHEMA_ID").alias("TASK_SCHEMA_ID"),
        pl.col("DATABASE_NAME"),
        pl.col("DATABASE_ID").alias("TASK_DATABASE_ID"),
        pl.col("START_TIME").dt.truncate("1m").alias("SCHEDULED_TIME"),
        pl.col("END_TIME").alias("COMPLETED_TIME"),
        pl.when(pl.col("EXECUTION_STATUS") == "SUCCESS")
        .then(pl.lit("SUCCEEDED"))
        .otherwise(pl.lit("FAILED"))
        .alias("STATE"),
        pl.col("QUERY_ID"),
        pl.col("START_TIME").alias("QUERY_START_TIME"),
        pl.col("ERROR_CODE"),
        pl.col("ERROR_MESSAGE"),
        pl.lit(1, dtype=pl.Int64).alias("GRAPH_VERSION"),
        (pl.col("START_TIME").dt.truncate("1m").dt.epoch("ms")).alias("RUN_ID"),
        pl.col("QUERY_PARAMETERIZED_HASH").alias("ROOT_TASK_ID"),
        pl.lit("SCHEDULE").alias("SCHEDULED_FROM"),
        pl.lit(1, dtype=pl.Int64).alias("ATTEMPT_NUMBER"),
        pl.col("QUERY_HASH"),
        pl.col("QUERY_HASH_VERSION"),
        pl.col("QUERY_PARAMETERIZED_HASH"),
        pl.col("QUERY_PARAMETERIZED_HASH_VERSION"),
        pl.col("_VISIBLE_AT"),
    )
