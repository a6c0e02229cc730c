"""Every SQL statement the agent runs against Snowflake, as data: a name, a docs link, bind parameters.

Rules for this file: values are always bind parameters (``:name`` here, sent as qmark binds, so
Snowflake parses them as data, never as SQL); identifiers come only from this file; every projected
expression is aliased (the fake and the real Snowflake then agree on column names); the statements
are valid Snowflake SQL — the fake accepts a looser dialect, so keep them to documented syntax.
``sre-agent sql`` prints all of them for a DBA's review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sre_agent.engine.histogram import BUCKETS

_PARAM = re.compile(r"(?<=[\s(,=<>])\:([a-z_][a-z0-9_]*)")


@dataclass(frozen=True)
class NamedQuery:
    """One statement the agent can issue."""

    name: str
    description: str
    docs: str
    sql: str
    """Snowflake SQL with ``:name`` placeholders."""

    @property
    def params(self) -> tuple[str, ...]:
        """Placeholder names, in the order they appear."""
        return tuple(_PARAM.findall(self.sql))

    def bind(self, values: dict[str, object]) -> tuple[str, list[object]]:
        """Return (qmark SQL, positional binds) for ``values``.

        Raises:
            KeyError: a placeholder has no value.
        """
        order = self.params
        missing = [p for p in order if p not in values]
        if missing:
            raise KeyError(f"query {self.name}: no value for {', '.join(missing)}")
        return _PARAM.sub("?", self.sql), [values[p] for p in order]


_QH_DOCS = "https://docs.snowflake.com/en/sql-reference/account-usage/query_history"


_LAT_IDX = f"""        IFF(execution_status = 'SUCCESS',
            CAST(LEAST(FLOOR(2 * LN(GREATEST(total_elapsed_time, 1)) / LN(2)), {BUCKETS - 1}) AS INTEGER),
            -1) AS lat_idx,"""
"""The latency histogram bucket of a successful query (-1 for the others): the formula of engine/histogram."""
_DEDUPED = """    FROM (
        SELECT *
        FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY
        WHERE end_time >= :window_start AND end_time < :window_end
        QUALIFY ROW_NUMBER() OVER (PARTITION BY query_id ORDER BY end_time DESC) = 1
    ) AS q"""
"""QUERY_HISTORY rows of the poll window, one per QUERY_ID."""
_PHASE_SUMS = """        SUM(compilation_time) AS compilation_ms_sum,
        SUM(queued_provisioning_time) AS queued_provisioning_ms_sum,
        SUM(queued_repair_time) AS queued_repair_ms_sum,
        SUM(queued_overload_time) AS queued_overload_ms_sum,
        SUM(transaction_blocked_time) AS blocked_ms_sum,
        SUM(execution_time) AS execution_ms_sum,
        SUM(COALESCE(list_external_files_time, 0)) AS list_files_ms_sum"""
_PHASE_TOTALS = """    SUM(elapsed_ms_sum) AS elapsed_ms_sum,
    MAX(elapsed_ms_max) AS elapsed_ms_max,
    SUM(compilation_ms_sum) AS compilation_ms_sum,
    SUM(queued_provisioning_ms_sum) AS queued_provisioning_ms_sum,
    SUM(queued_repair_ms_sum) AS queued_repair_ms_sum,
    SUM(queued_overload_ms_sum) AS queued_overload_ms_sum,
    SUM(blocked_ms_sum) AS blocked_ms_sum,
    SUM(execution_ms_sum) AS execution_ms_sum,
    SUM(list_files_ms_sum) AS list_files_ms_sum"""
_HIST_LIST = """    LISTAGG(IFF(lat_idx >= 0, TO_VARCHAR(lat_idx) || ':' || TO_VARCHAR(succeeded), NULL), ',')
        WITHIN GROUP (ORDER BY lat_idx) AS hist"""
"""Pieces the per-minute and the per-pattern rollups share (fixed SQL, no values)."""


def query_rollup(thresholds_ms: list[int]) -> NamedQuery:
    """Per-minute rollup of QUERY_HISTORY by warehouse and QUERY_TAG service/domain.

    The inner level groups by latency bucket so the outer level can return the histogram as one
    compact ``index:count`` list per row; exact counts under each configured latency threshold
    ride along as ``le_<i>`` columns (thresholds are bound, never formatted into the SQL).
    """
    le_inner = "".join(
        f",\n        COUNT_IF(execution_status = 'SUCCESS' AND total_elapsed_time <= :le_{i}) AS le_{i}"
        for i in range(len(thresholds_ms))
    )
    le_outer = "".join(f",\n    SUM(le_{i}) AS le_{i}" for i in range(len(thresholds_ms)))
    sql = f"""
WITH b AS (
    SELECT
        TIME_SLICE(end_time, 1, 'MINUTE') AS bucket_start,
        COALESCE(warehouse_name, '(none)') AS warehouse,
        SUBSTR(COALESCE(TRY_PARSE_JSON(query_tag):service::VARCHAR, '(untagged)'), 1, 100) AS service,
        SUBSTR(COALESCE(TRY_PARSE_JSON(query_tag):domain::VARCHAR, '(untagged)'), 1, 100) AS domain,
{_LAT_IDX}
        COUNT(*) AS queries,
        COUNT_IF(execution_status IN ('FAIL', 'INCIDENT')) AS failed,
        COUNT_IF(error_message = 'SQL execution canceled') AS cancelled,
        COUNT_IF(execution_status = 'SUCCESS') AS succeeded,
        SUM(IFF(execution_status = 'SUCCESS', total_elapsed_time, 0)) AS elapsed_ms_sum,
        MAX(IFF(execution_status = 'SUCCESS', total_elapsed_time, 0)) AS elapsed_ms_max,
{_PHASE_SUMS},
        COUNT_IF(queued_overload_time > 0) AS queued_queries,
        SUM(COALESCE(bytes_scanned, 0)) AS bytes_scanned_sum,
        SUM(COALESCE(bytes_scanned, 0) * COALESCE(percentage_scanned_from_cache, 0)) AS cache_bytes_sum,
        SUM(COALESCE(partitions_scanned, 0)) AS partitions_scanned_sum,
        SUM(COALESCE(partitions_total, 0)) AS partitions_total_sum,
        SUM(COALESCE(bytes_spilled_to_local_storage, 0)) AS spill_local_bytes_sum,
        SUM(COALESCE(bytes_spilled_to_remote_storage, 0)) AS spill_remote_bytes_sum,
        COUNT_IF(COALESCE(bytes_spilled_to_local_storage, 0) + COALESCE(bytes_spilled_to_remote_storage, 0) > 0)
            AS spilled_queries,
        SUM(COALESCE(rows_produced, 0)) AS rows_produced_sum,
        SUM(COALESCE(credits_used_cloud_services, 0)) AS cloud_services_credits_sum{le_inner}
{_DEDUPED}
    GROUP BY 1, 2, 3, 4, 5
)
SELECT
    bucket_start AS bucket_start,
    warehouse AS warehouse,
    service AS service,
    domain AS domain,
    SUM(queries) AS queries,
    SUM(failed) AS failed,
    SUM(cancelled) AS cancelled,
    SUM(succeeded) AS succeeded,
{_PHASE_TOTALS},
    SUM(queued_queries) AS queued_queries,
    SUM(bytes_scanned_sum) AS bytes_scanned_sum,
    SUM(cache_bytes_sum) AS cache_bytes_sum,
    SUM(partitions_scanned_sum) AS partitions_scanned_sum,
    SUM(partitions_total_sum) AS partitions_total_sum,
    SUM(spill_local_bytes_sum) AS spill_local_bytes_sum,
    SUM(spill_remote_bytes_sum) AS spill_remote_bytes_sum,
    SUM(spilled_queries) AS spilled_queries,
    SUM(rows_produced_sum) AS rows_produced_sum,
    SUM(cloud_services_credits_sum) AS cloud_services_credits_sum,
{_HIST_LIST}{le_outer}
FROM b
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
""".strip()
    return NamedQuery(
        "query_rollup",
        "Per-minute query counts, errors, phase sums, spill, cache, a √2 log-scale latency histogram and exact "
        "counts under the configured latency thresholds, per warehouse and QUERY_TAG service/domain. Rows are "
        "deduplicated on QUERY_ID.",
        _QH_DOCS,
        sql,
    )


WAREHOUSE_LOAD = NamedQuery(
    "warehouse_load",
    "5-minute load averages per warehouse (duplicates averaged).",
    "https://docs.snowflake.com/en/sql-reference/account-usage/warehouse_load_history",
    """
SELECT
    start_time AS bucket_start,
    warehouse_name AS warehouse,
    AVG(avg_running) AS avg_running,
    AVG(avg_queued_load) AS avg_queued_load,
    AVG(avg_queued_provisioning) AS avg_queued_provisioning,
    AVG(avg_blocked) AS avg_blocked
FROM SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_LOAD_HISTORY
WHERE start_time >= :window_start AND start_time < :window_end
GROUP BY 1, 2
ORDER BY 1, 2
""".strip(),
)

WAREHOUSE_METERING = NamedQuery(
    "warehouse_metering",
    "Hourly credits per warehouse (duplicates collapsed with MAX: a row is restated, never split).",
    "https://docs.snowflake.com/en/sql-reference/account-usage/warehouse_metering_history",
    """
SELECT
    start_time AS bucket_start,
    warehouse_name AS warehouse,
    MAX(credits_used) AS credits_used,
    MAX(credits_used_compute) AS credits_used_compute,
    MAX(credits_used_cloud_services) AS credits_used_cloud_services,
    MAX(COALESCE(credits_attributed_compute_queries, 0)) AS credits_attributed_compute_queries
FROM SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY
WHERE start_time >= :window_start AND start_time < :window_end
GROUP BY 1, 2
ORDER BY 1, 2
""".strip(),
)

CHECK_ACCESS = NamedQuery(
    "check_access",
    "Connectivity and privilege check run by `sre-agent check`: one row proves the role can read ACCOUNT_USAGE.",
    "https://docs.snowflake.com/en/sql-reference/account-usage#enabling-the-snowflake-database-usage-for-other-roles",
    """
SELECT COUNT(*) AS queries_last_hour
FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY
WHERE end_time >= :window_start AND end_time < :window_end
""".strip(),
)


def all_queries(thresholds_ms: list[int]) -> list[NamedQuery]:
    """Every statement the agent can issue, for `sre-agent sql`."""
    return [query_rollup(thresholds_ms), WAREHOUSE_LOAD, WAREHOUSE_METERING, CHECK_ACCESS]


def pattern_queries() -> list[NamedQuery]:
    """Statements of pattern-scoped anomaly rules (only issued when such a rule exists)."""
    return [QUERY_PATTERN_ROLLUP]


_LABEL_EXPR = {
    "warehouse": "COALESCE(warehouse_name, '(none)')",
    "service": "SUBSTR(COALESCE(TRY_PARSE_JSON(query_tag):service::VARCHAR, '(untagged)'), 1, 100)",
    "domain": "SUBSTR(COALESCE(TRY_PARSE_JSON(query_tag):domain::VARCHAR, '(untagged)'), 1, 100)",
    "pattern": "COALESCE(query_parameterized_hash, query_hash, '(unknown)')",
}

QUERY_PATTERN_ROLLUP = NamedQuery(
    "query_pattern_rollup",
    "5-minute latency histogram, phase sums and counts per warehouse and query pattern (QUERY_PARAMETERIZED_HASH), "
    "only buckets with at least :min_queries successful queries (the volume filter of pattern-scoped anomaly "
    "rules). Rows are deduplicated on QUERY_ID.",
    _QH_DOCS,
    f"""
WITH b AS (
    SELECT
        TIME_SLICE(end_time, 5, 'MINUTE') AS bucket_start,
        {_LABEL_EXPR["warehouse"]} AS warehouse,
        {_LABEL_EXPR["service"]} AS service,
        {_LABEL_EXPR["domain"]} AS domain,
        {_LABEL_EXPR["pattern"]} AS pattern,
{_LAT_IDX}
        COUNT(*) AS queries,
        COUNT_IF(execution_status = 'SUCCESS') AS succeeded,
        SUM(IFF(execution_status = 'SUCCESS', total_elapsed_time, 0)) AS elapsed_ms_sum,
        MAX(IFF(execution_status = 'SUCCESS', total_elapsed_time, 0)) AS elapsed_ms_max,
{_PHASE_SUMS}
{_DEDUPED}
    GROUP BY 1, 2, 3, 4, 5, 6
)
SELECT
    bucket_start AS bucket_start,
    warehouse AS warehouse,
    service AS service,
    domain AS domain,
    pattern AS pattern,
    SUM(queries) AS queries,
    SUM(succeeded) AS succeeded,
{_PHASE_TOTALS},
{_HIST_LIST}
FROM b
GROUP BY 1, 2, 3, 4, 5
HAVING SUM(succeeded) >= :min_queries
ORDER BY 1, 2, 3, 4, 5
""".strip(),
)


def latency_contributors(labels: tuple[str, ...]) -> NamedQuery:
    """Successful queries of one series (``labels`` ⊆ warehouse/service/domain/pattern) per pattern and user, now vs
    before.

    Two windows are read at once: ``now`` (the anomalous buckets) and ``base`` (the same slot the baseline came
    from). Only the fixed label expressions above enter the SQL; every value is bound.
    """
    unknown = set(labels) - set(_LABEL_EXPR)
    if unknown:
        raise ValueError(f"no label expression for {', '.join(sorted(unknown))}")
    filters = "".join(f"\n  AND {_LABEL_EXPR[label]} = :{label}" for label in labels)
    sql = f"""
SELECT
    COALESCE(query_parameterized_hash, query_hash, '(unknown)') AS pattern,
    COALESCE(user_name, '(unknown)') AS user_name,
    IFF(end_time >= :now_start, 'now', 'base') AS period,
    COUNT(DISTINCT query_id) AS runs,
    SUM(total_elapsed_time) AS total_ms,
    SUM(execution_time) AS execution_ms,
    SUM(queued_overload_time + queued_provisioning_time) AS queued_ms
FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY
WHERE execution_status = 'SUCCESS'
  AND ((end_time >= :now_start AND end_time < :now_end) OR (end_time >= :base_start AND end_time < :base_end)){filters}
GROUP BY 1, 2, 3
"""
    return NamedQuery(
        "latency_contributors",
        "Per query pattern and user: runs and total/execution/queued time of successful queries in the anomalous "
        "buckets and in the baseline slot (drill-down when a LatencyAnomaly alert fires).",
        _QH_DOCS,
        sql,
    )


_HOUR_OFFSETS = " UNION ALL ".join(f"SELECT {k} AS k" for k in range(49))
"""0 … 48: a query can run at most 48 hours (STATEMENT_TIMEOUT_IN_SECONDS defaults to 2 days)."""

QUERY_COST_ROLLUP = NamedQuery(
    "query_cost_rollup",
    "Hourly execution time per warehouse, service, domain, query pattern, user and role, for the hourly-share "
    "credit attribution: each query's execution (after queueing, compilation, provisioning and listing files) is "
    "split over the hours it overlaps (a query inside one hour is one piece; only the others are joined with the "
    "hour offsets). Queries ending in the hour are counted with their elapsed time and cloud services credits. Rows "
    "are deduplicated on QUERY_ID.",
    "https://docs.snowflake.com/en/sql-reference/account-usage/query_history",
    f"""
WITH q AS (
    SELECT
        {_LABEL_EXPR["warehouse"]} AS warehouse,
        {_LABEL_EXPR["service"]} AS service,
        {_LABEL_EXPR["domain"]} AS domain,
        {_LABEL_EXPR["pattern"]} AS pattern,
        COALESCE(user_name, '(unknown)') AS user_name,
        COALESCE(role_name, '(unknown)') AS role_name,
        warehouse_size IS NOT NULL AS on_warehouse,
        execution_status,
        total_elapsed_time,
        COALESCE(credits_used_cloud_services, 0) AS cs_credits,
        end_time,
        LEAST(
            end_time,
            DATEADD(
                millisecond,
                COALESCE(queued_overload_time, 0) + COALESCE(compilation_time, 0)
                    + COALESCE(queued_provisioning_time, 0) + COALESCE(queued_repair_time, 0)
                    + COALESCE(list_external_files_time, 0),
                start_time
            )
        ) AS exec_start
    FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY
    WHERE end_time >= :window_start AND start_time < :window_end
    QUALIFY ROW_NUMBER() OVER (PARTITION BY query_id ORDER BY end_time DESC) = 1
),
offsets AS ({_HOUR_OFFSETS}),
pieces AS (
    SELECT q.*, DATE_TRUNC('hour', q.exec_start) AS hour_start
    FROM q
    WHERE DATE_TRUNC('hour', q.end_time) = DATE_TRUNC('hour', q.exec_start)
    UNION ALL
    SELECT q.*, DATEADD(hour, o.k, DATE_TRUNC('hour', q.exec_start)) AS hour_start
    FROM q
    JOIN offsets AS o
      ON DATEADD(hour, o.k, DATE_TRUNC('hour', q.exec_start)) <= q.end_time
    WHERE DATE_TRUNC('hour', q.end_time) > DATE_TRUNC('hour', q.exec_start)
)
SELECT
    hour_start AS bucket_start,
    warehouse AS warehouse,
    service AS service,
    domain AS domain,
    pattern AS pattern,
    user_name AS "user",
    role_name AS role,
    SUM(IFF(on_warehouse,
            GREATEST(DATEDIFF(millisecond, GREATEST(exec_start, hour_start),
                              LEAST(end_time, DATEADD(hour, 1, hour_start))), 0),
            0)) AS exec_ms,
    COUNT_IF(end_time >= hour_start AND end_time < DATEADD(hour, 1, hour_start)) AS queries,
    COUNT_IF(end_time >= hour_start AND end_time < DATEADD(hour, 1, hour_start)
             AND execution_status IN ('FAIL', 'INCIDENT')) AS failed,
    SUM(IFF(end_time >= hour_start AND end_time < DATEADD(hour, 1, hour_start), total_elapsed_time, 0)) AS elapsed_ms,
    SUM(IFF(end_time >= hour_start AND end_time < DATEADD(hour, 1, hour_start), cs_credits, 0))
        AS cloud_services_credits
FROM pieces
WHERE hour_start >= :window_start AND hour_start < :window_end
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY 1, 2, 3, 4, 5, 6, 7
""".strip(),
)


METERING_DAILY = NamedQuery(
    "metering_daily",
    "Daily credits per service type: warehouses and the serverless items, with the cloud services adjustment and "
    "what was billed (UTC days). Duplicates collapsed with MAX (a day is restated, never split).",
    "https://docs.snowflake.com/en/sql-reference/account-usage/metering_daily_history",
    """
SELECT
    usage_date AS bucket_start,
    service_type,
    MAX(COALESCE(credits_used_compute, 0)) AS credits_used_compute,
    MAX(COALESCE(credits_used_cloud_services, 0)) AS credits_used_cloud_services,
    MIN(COALESCE(credits_adjustment_cloud_services, 0)) AS credits_adjustment_cloud_services,
    MAX(COALESCE(credits_billed, 0)) AS credits_billed
FROM SNOWFLAKE.ACCOUNT_USAGE.METERING_DAILY_HISTORY
WHERE usage_date >= CAST(:window_start AS DATE) AND usage_date < CAST(:window_end AS DATE)
GROUP BY 1, 2
ORDER BY 1, 2
""".strip(),
)

DATABASE_STORAGE = NamedQuery(
    "database_storage",
    "Daily average bytes per database (Time Travel, Fail-safe, hybrid tables): what storage is billed on. "
    "Duplicates collapsed with MAX (a day is restated, never split).",
    "https://docs.snowflake.com/en/sql-reference/account-usage/database_storage_usage_history",
    """
SELECT
    usage_date AS bucket_start,
    database_name AS database,
    MAX(COALESCE(average_database_bytes, 0)) AS database_bytes,
    MAX(COALESCE(average_failsafe_bytes, 0)) AS failsafe_bytes,
    MAX(COALESCE(average_hybrid_table_storage_bytes, 0)) AS hybrid_bytes
FROM SNOWFLAKE.ACCOUNT_USAGE.DATABASE_STORAGE_USAGE_HISTORY
WHERE usage_date >= CAST(:window_start AS DATE) AND usage_date < CAST(:window_end AS DATE)
GROUP BY 1, 2
ORDER BY 1, 2
""".strip(),
)
