"""Operator statistics of the optimization report's top offenders (GET_QUERY_OPERATOR_STATS of each one's most
expensive run), turned into join findings; when they cannot be fetched, the cause is said — only the one that
applies, read from Snowflake's error (or from the run's age, which needs no call)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sre_agent.config.optimize import OptimizeThresholds
from sre_agent.errors import SourceError
from sre_agent.figures.text import utc_minute
from sre_agent.reports.optimize.findings import Finding, operator_findings
from sre_agent.reports.sql_text import show_query
from sre_agent.sources.optimize_sql import OPERATOR_STATS
from sre_agent.sources.snowflake import SnowflakeSource

OFFENDERS = ("remote_spill", "local_spill", "rows_explosion", "poor_pruning")
"""Findings that make a pattern a top offender whose operator statistics are worth fetching."""
RETENTION = timedelta(days=14)
"""GET_QUERY_OPERATOR_STATS serves queries that completed in the last 14 days."""
UNSUPPORTED, PRIVILEGES, TOO_OLD, OTHER = "unsupported", "privileges", "too_old", "error"

_TOO_OLD = ("14 days", "too old", "older than", "retention", "no longer available", "expired")
_PRIVILEGES = ("003001", "insufficient privileges", "not authorized", "access control", "permission denied")
_UNSUPPORTED = (
    "001003", "002140", "syntax error", "parser error", "sql compilation error", "unknown function", "catalog error",
    "not supported", "unsupported", "not implemented",
)  # fmt: skip


def error_cause(message: str) -> str:
    """The cause of a failed GET_QUERY_OPERATOR_STATS call, read from Snowflake's message: ``too_old`` (the 14-day
    limit), ``privileges`` (access control, "not authorized" — checked before compilation errors, which also say
    it for an object the role cannot see), ``unsupported`` (a SQL compilation or parser error: the function does
    not exist there) or ``error`` (anything else)."""
    text = message.lower()
    for cause, words in ((TOO_OLD, _TOO_OLD), (PRIVILEGES, _PRIVILEGES), (UNSUPPORTED, _UNSUPPORTED)):
        if any(w in text for w in words):
            return cause
    return OTHER


def cause_text(cause: str, warehouses: Sequence[str]) -> str:
    """What ``cause`` means for the reader, and what would fix it (``warehouses``: those of the queries)."""
    if cause == UNSUPPORTED:
        return (
            "this Snowflake does not support GET_QUERY_OPERATOR_STATS (e.g. the embedded fake Snowflake, which has "
            "no table functions); nothing to grant"
        )
    if cause == PRIVILEGES:
        grants = " ".join(f'GRANT MONITOR ON WAREHOUSE "{w}" TO ROLE <agent role>;' for w in sorted(set(warehouses)))
        return (
            "the agent's role may not read these queries' statistics: it needs MONITOR (or OPERATE) on their "
            f"warehouse, or to be the role that ran them — {grants}"
        )
    if cause == TOO_OLD:
        return (
            f"GET_QUERY_OPERATOR_STATS keeps a query for {RETENTION.days} days and these runs are older; a report "
            f"over the last {RETENTION.days} days (--since {RETENTION.days}d) can fetch them"
        )
    return "Snowflake returned an error the report does not recognise"


def _ended(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def fetch_operator_stats(
    source: SnowflakeSource, rows: Sequence[Mapping[str, Any]], findings: dict[str, list[Finding]],
    t: OptimizeThresholds, now: datetime, show_literals: bool,
) -> tuple[list[dict[str, Any]], list[str]]:  # fmt: skip
    """Operator statistics of the top offenders' most expensive runs: their records (fetched or unavailable with
    the cause) and one note per cause; join findings are appended to ``findings``."""
    offenders = [p for p in rows if any(f.kind in OFFENDERS for f in findings[p["pattern"]])][: t.operator_stats_max]
    records: list[dict[str, Any]] = []
    failed: dict[str, list[tuple[Mapping[str, Any], str]]] = {}
    """Per cause, the offenders and what was said (by Snowflake, or by us for a run past the 14 days)."""
    for p in offenders:
        query_id = p["sample_query_id"]
        ended = _ended(p.get("sample_end_time"))
        if ended is not None and ended < now - RETENTION:
            reason = f"not asked: the run ended {utc_minute(ended)}, more than {RETENTION.days} days before "
            reason += utc_minute(now)
            failed.setdefault(TOO_OLD, []).append((p, reason))
            records.append({"pattern": p["pattern"], "query_id": query_id, "status": "unavailable",
                            "cause": TOO_OLD, "reason": reason})  # fmt: skip
            continue
        try:
            frame = source.run(OPERATOR_STATS, {"query_id": query_id})
        except SourceError as exc:
            reason = str(exc).removeprefix(f"{exc.source}: {exc.query}: ")[:200]
            cause = error_cause(reason)
            failed.setdefault(cause, []).append((p, reason))
            records.append({"pattern": p["pattern"], "query_id": query_id, "status": "unavailable", "cause": cause,
                            "reason": reason})  # fmt: skip
            continue
        found = operator_findings(frame.to_dicts(), t)
        records.append(
            {"pattern": p["pattern"], "query_id": query_id, "status": "fetched", "operators": frame.height,
             "findings": len(found)}
        )  # fmt: skip
        for op in found:
            condition = show_query(op.condition, show_literals, 300)
            title = (
                f"{op.operator_type} (step {op.step_id}, operator {op.operator_id}) emits {op.output_rows:,} rows "
                f"from {op.input_rows:,}" + (f" on {condition}" if condition else " with no join condition")
            )
            findings[p["pattern"]].append(
                Finding(op.kind, p["pattern"], title, round(op.ratio, 3), t.join_ratio, "× input rows",
                        {"query_id": query_id, "output_rows": op.output_rows, "input_rows": op.input_rows,
                         "min_output_rows": t.join_output_rows, "condition": condition})
            )  # fmt: skip
    notes = []
    for cause, items in failed.items():
        warehouses = [str(p.get("top_warehouse")) for p, _ in items]
        first = items[0][1]
        said = f" {first[0].upper()}{first[1:]}." if first.startswith("not asked") else f" Snowflake said: {first}."
        notes.append(
            f"operator statistics could not be fetched for {len(items)} of {len(offenders)} top offenders: "
            f"{cause_text(cause, warehouses)}.{said} Join findings rest on QUERY_HISTORY (rows produced, spill) only."
        )
    return records, notes
