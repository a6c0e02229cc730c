"""SQL for SLO indicators: every SLO's good/total events per minute in one scan of QUERY_HISTORY.

Each SLO's filters become a condition whose values are bind parameters (``:s<i>_<field>_<j>``); the
SLI turns the condition into conditional counts (``total_<i>``, ``good_<i>``) or, for freshness over
COPY loads, the newest successful load (``last_ok_<i>``). Freshness over Snowflake tasks reads
TASK_HISTORY in a second statement. Latency-percentile SLIs count successful queries at or under the
threshold (the slice's percentile is under the threshold exactly when enough of them are).
"""

from __future__ import annotations

from dataclasses import dataclass

from sre_agent.config.slo import SloDoc, slo_key
from sre_agent.sources.snowflake_sql import NamedQuery

_COLUMNS = {
    "warehouse": "warehouse_name",
    "service": "tag_service",
    "domain": "tag_domain",
    "user": "user_name",
    "role": "role_name",
    "database": "database_name",
    "query_type": "query_type",
    "pattern_hash": "query_parameterized_hash",
}
_OK = "execution_status = 'SUCCESS'"
_NOT_CANCELLED = "COALESCE(error_message, '') <> 'SQL execution canceled'"


@dataclass(frozen=True)
class SloQuery:
    """A statement over several SLOs, the bind values of their filters, and which column belongs to which SLO."""

    query: NamedQuery
    values: dict[str, object]
    keys: list[str]
    """``keys[i]`` is the SLO key of columns ``*_i``."""


def from_tasks(doc: SloDoc) -> bool:
    """True for freshness SLIs over TASK_HISTORY."""
    return doc.spec.sli.kind == "freshness" and doc.spec.sli.source == "task"


def from_log_analytics(doc: SloDoc) -> bool:
    """True for SLIs whose events come from a Log Analytics (KQL) query, not from Snowflake."""
    return doc.spec.sli.kind == "kql"


def from_query_history(doc: SloDoc) -> bool:
    """True for SLIs over QUERY_HISTORY (the ones that need the view's visibility series)."""
    return not from_tasks(doc) and not from_log_analytics(doc)


def _filter(i: int, doc: SloDoc, values: dict[str, object]) -> str:
    parts = []
    used = doc.spec.filters.used()
    if doc.spec.sli.kind == "freshness" and "query_type" not in used:
        used = {**used, "query_type": ["COPY"]}
    for field, items in used.items():
        names = []
        for j, item in enumerate(items):
            name = f"s{i}_{field}_{j}"
            values[name] = item
            names.append(f":{name}")
        parts.append(f"{_COLUMNS[field]} IN ({', '.join(names)})")
    return " AND ".join(parts) if parts else "TRUE"


def query_slo_rollup(docs: list[SloDoc]) -> SloQuery:
    """The per-minute SLO statement for ``docs`` (SLIs over QUERY_HISTORY only)."""
    values: dict[str, object] = {}
    selects = []
    keys = []
    for i, doc in enumerate(d for d in docs if from_query_history(d)):
        keys.append(slo_key(doc))
        where = _filter(i, doc, values)
        sli = doc.spec.sli
        if sli.kind == "availability":
            total = where if sli.cancelled == "bad" else f"{where} AND {_NOT_CANCELLED}"
            good = f"{where} AND {_OK}"
        elif sli.kind in ("latency", "latency_percentile"):
            values[f"s{i}_threshold"] = sli.threshold_ms
            failures_bad = sli.kind == "latency" and sli.failures == "bad"
            total = f"{where} AND {_NOT_CANCELLED}" if failures_bad else f"{where} AND {_OK}"
            good = f"{where} AND {_OK} AND total_elapsed_time <= :s{i}_threshold"
        else:  # freshness from COPY loads
            total = good = "FALSE"
        selects.append(f"    COUNT_IF({total}) AS total_{i}")
        selects.append(f"    COUNT_IF({good}) AS good_{i}")
        # A COPY that found no new files succeeds without loading anything: only loads with rows make data fresh.
        last_ok = f"{where} AND {_OK} AND COALESCE(rows_inserted, 0) > 0" if sli.kind == "freshness" else "FALSE"
        selects.append(f"    MAX(IFF({last_ok}, end_time, NULL)) AS last_ok_{i}")
    body = ",\n".join(["    COUNT(*) AS seen", *selects])
    sql = f"""
SELECT
    TIME_SLICE(end_time, 1, 'MINUTE') AS bucket_start,
{body}
FROM (
    SELECT end_time, warehouse_name, user_name, role_name, database_name, query_type, query_parameterized_hash,
           execution_status, error_message, total_elapsed_time, rows_inserted,
           TRY_PARSE_JSON(query_tag):service::VARCHAR AS tag_service,
           TRY_PARSE_JSON(query_tag):domain::VARCHAR AS tag_domain
    FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY
    WHERE end_time >= :window_start AND end_time < :window_end
    QUALIFY ROW_NUMBER() OVER (PARTITION BY query_id ORDER BY end_time DESC) = 1
) AS q
GROUP BY 1
ORDER BY 1
""".strip()
    return SloQuery(
        NamedQuery(
            "slo_rollup",
            "Per-minute good and total events of every SLO (each SLO's filters bound as parameters), the "
            "newest successful COPY for freshness SLOs, and all rows seen (how far the view is visible). "
            "Rows are deduplicated on QUERY_ID.",
            "https://docs.snowflake.com/en/sql-reference/account-usage/query_history",
            sql,
        ),
        values,
        keys,
    )


def query_task_freshness(docs: list[SloDoc]) -> SloQuery:
    """The per-minute newest successful run of each task named by a freshness SLO."""
    values: dict[str, object] = {}
    keys = []
    names = []
    for i, doc in enumerate(d for d in docs if from_tasks(d)):
        assert doc.spec.sli.kind == "freshness"
        keys.append(slo_key(doc))
        values[f"t{i}"] = doc.spec.sli.task
        names.append(f":t{i}")
    in_list = ", ".join(names) if names else "NULL"
    sql = f"""
SELECT
    TIME_SLICE(completed_time, 1, 'MINUTE') AS bucket_start,
    name AS task,
    MAX(completed_time) AS last_ok
FROM SNOWFLAKE.ACCOUNT_USAGE.TASK_HISTORY
WHERE completed_time >= :window_start AND completed_time < :window_end
  AND state = 'SUCCEEDED' AND name IN ({in_list})
GROUP BY 1, 2
ORDER BY 1, 2
""".strip()
    return SloQuery(
        NamedQuery(
            "slo_task_freshness",
            "Per-minute newest successful run of the tasks that freshness SLOs watch.",
            "https://docs.snowflake.com/en/sql-reference/account-usage/task_history",
            sql,
        ),
        values,
        keys,
    )
