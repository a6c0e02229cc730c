"""The statements of the query-optimization report (``sre-agent report optimize``), as data.

The rules of :mod:`sre_agent.sources.snowflake_sql` apply: every value is a bind parameter, identifiers come only
from this file, every projected expression is aliased, the SQL is documented Snowflake syntax. Both QUERY_HISTORY
statements are bounded: one row per query pattern (``:max_patterns`` at most, by total elapsed time), or per
pattern and UTC day of those patterns; rows are deduplicated on QUERY_ID.
"""

from __future__ import annotations

from sre_agent.sources.snowflake_sql import _LABEL_EXPR, NamedQuery

_QH_DOCS = "https://docs.snowflake.com/en/sql-reference/account-usage/query_history"

_RUNS = f"""q AS (
    SELECT
        query_id,
        query_hash,
        query_text,
        {_LABEL_EXPR["pattern"]} AS pattern,
        {_LABEL_EXPR["warehouse"]} AS warehouse,
        {_LABEL_EXPR["service"]} AS service,
        {_LABEL_EXPR["domain"]} AS domain,
        COALESCE(user_name, '(unknown)') AS user_name,
        COALESCE(role_name, '(unknown)') AS role_name,
        warehouse_size,
        execution_status,
        start_time,
        end_time,
        COALESCE(total_elapsed_time, 0) AS elapsed_ms,
        COALESCE(compilation_time, 0) AS compilation_ms,
        COALESCE(queued_provisioning_time, 0) AS provisioning_ms,
        COALESCE(queued_overload_time, 0) AS overload_ms,
        COALESCE(transaction_blocked_time, 0) AS blocked_ms,
        COALESCE(execution_time, 0) AS execution_ms,
        COALESCE(bytes_scanned, 0) AS bytes_scanned,
        COALESCE(percentage_scanned_from_cache, 0) AS cache_share,
        COALESCE(partitions_scanned, 0) AS partitions_scanned,
        COALESCE(partitions_total, 0) AS partitions_total,
        COALESCE(bytes_spilled_to_local_storage, 0) AS spill_local,
        COALESCE(bytes_spilled_to_remote_storage, 0) AS spill_remote,
        COALESCE(rows_produced, 0) AS rows_produced
    FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY
    WHERE end_time >= :window_start AND end_time < :window_end
    QUALIFY ROW_NUMBER() OVER (PARTITION BY query_id ORDER BY end_time DESC) = 1
)"""
"""The window's QUERY_HISTORY rows, one per QUERY_ID, with the columns the report reads."""

_TOP = """top AS (
    SELECT pattern AS pattern
    FROM q
    GROUP BY pattern
    QUALIFY ROW_NUMBER() OVER (ORDER BY SUM(elapsed_ms) DESC, pattern) <= :max_patterns
)"""
"""The ``:max_patterns`` patterns with the most elapsed time: the bound of both statements."""

PATTERN_STATS = NamedQuery(
    "optimize_pattern_stats",
    "Per query pattern (QUERY_PARAMETERIZED_HASH, else QUERY_HASH) over the report window: runs, failures, "
    "p50/p95 elapsed (exact), phase sums, bytes, pruning, spill, cache, rows, repeated identical queries that still "
    "scanned (result cache not used), the most common warehouse/user/role/service, and the most expensive run's "
    "text, QUERY_ID and end time. At most :max_patterns patterns (by total elapsed time). Rows are deduplicated "
    "on QUERY_ID.",
    _QH_DOCS,
    f"""
WITH {_RUNS},
{_TOP},
r AS (
    SELECT
        q.*,
        ROW_NUMBER() OVER (PARTITION BY q.query_hash ORDER BY q.start_time, q.query_id) AS hash_seq
    FROM q
    JOIN top AS t ON t.pattern = q.pattern
)
SELECT
    pattern AS pattern,
    COUNT(*) AS runs,
    COUNT_IF(execution_status IN ('FAIL', 'INCIDENT')) AS failed_runs,
    COUNT(DISTINCT TO_DATE(end_time)) AS days_active,
    PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY elapsed_ms) AS p50_elapsed_ms,
    PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY elapsed_ms) AS p95_elapsed_ms,
    PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY provisioning_ms) AS p95_provisioning_ms,
    SUM(elapsed_ms) AS elapsed_ms_sum,
    SUM(compilation_ms) AS compilation_ms_sum,
    SUM(provisioning_ms) AS queued_provisioning_ms_sum,
    SUM(overload_ms) AS queued_overload_ms_sum,
    SUM(blocked_ms) AS blocked_ms_sum,
    SUM(execution_ms) AS execution_ms_sum,
    SUM(bytes_scanned) AS bytes_scanned_sum,
    SUM(partitions_scanned) AS partitions_scanned_sum,
    SUM(partitions_total) AS partitions_total_sum,
    SUM(spill_local) AS spill_local_bytes_sum,
    SUM(spill_remote) AS spill_remote_bytes_sum,
    COUNT_IF(spill_local > 0) AS local_spill_runs,
    COUNT_IF(spill_remote > 0) AS remote_spill_runs,
    SUM(bytes_scanned * cache_share) / NULLIF(SUM(bytes_scanned), 0) AS cache_share,
    SUM(rows_produced) AS rows_produced_sum,
    COUNT(DISTINCT query_hash) AS distinct_hashes,
    COUNT_IF(hash_seq > 1 AND bytes_scanned > 0) AS repeated_scanning_runs,
    MODE(warehouse) AS top_warehouse,
    MODE(user_name) AS top_user,
    MODE(role_name) AS top_role,
    MODE(service) AS top_service,
    MODE(domain) AS top_domain,
    MODE(warehouse_size) AS warehouse_size,
    MAX_BY(query_text, elapsed_ms) AS sample_text,
    MAX_BY(query_id, elapsed_ms) AS sample_query_id,
    MAX_BY(end_time, elapsed_ms) AS sample_end_time,
    MAX(elapsed_ms) AS max_elapsed_ms
FROM r
GROUP BY pattern
ORDER BY elapsed_ms_sum DESC, pattern
""".strip(),
)

PATTERN_DAYS = NamedQuery(
    "optimize_pattern_days",
    "Per query pattern and UTC day of the report window (the same :max_patterns patterns): runs, failures, p95 "
    "elapsed, rows produced and spill, for before/after comparisons (latency regressions, a join that started "
    "multiplying rows). Rows are deduplicated on QUERY_ID.",
    _QH_DOCS,
    f"""
WITH {_RUNS},
{_TOP}
SELECT
    q.pattern AS pattern,
    TO_DATE(q.end_time) AS day,
    COUNT(*) AS runs,
    COUNT_IF(q.execution_status IN ('FAIL', 'INCIDENT')) AS failed_runs,
    PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY q.elapsed_ms) AS p95_elapsed_ms,
    SUM(q.elapsed_ms) AS elapsed_ms_sum,
    SUM(q.rows_produced) AS rows_produced_sum,
    SUM(q.spill_local + q.spill_remote) AS spill_bytes_sum
FROM q
JOIN top AS t ON t.pattern = q.pattern
GROUP BY 1, 2
ORDER BY 1, 2
""".strip(),
)

OPERATOR_STATS = NamedQuery(
    "optimize_operator_stats",
    "Operator statistics of one query (the most expensive run of a top offender): operator types, input/output "
    "rows, join conditions. Needs the role that ran the query or MONITOR (or OPERATE) on its warehouse; "
    "available for 14 days.",
    "https://docs.snowflake.com/en/sql-reference/functions/get_query_operator_stats",
    """
SELECT
    query_id AS query_id,
    step_id AS step_id,
    operator_id AS operator_id,
    parent_operators AS parent_operators,
    operator_type AS operator_type,
    operator_statistics AS operator_statistics,
    execution_time_breakdown AS execution_time_breakdown,
    operator_attributes AS operator_attributes
FROM TABLE(GET_QUERY_OPERATOR_STATS(:query_id))
ORDER BY step_id, operator_id
""".strip(),
)


def optimize_queries() -> list[NamedQuery]:
    """The statements of the optimization report, for `sre-agent sql`."""
    return [PATTERN_STATS, PATTERN_DAYS, OPERATOR_STATS]
