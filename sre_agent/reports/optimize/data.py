"""The optimization report's data: per query pattern statistics read from Snowflake (two bounded aggregate
statements), attributed credits from the state store (the cost report's hourly-share attribution), findings against
the ``spec.reports.optimize`` thresholds and ranked recommendations with their statements and savings.

The window is ``[end - since, end)`` in whole UTC hours, where ``end`` is how far the store's metering has landed
(attributed cost goes no further). Query text is kept only as shown: literals redacted unless ``show_literals``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from sre_agent.config.cost import CostSettings
from sre_agent.config.durations import format_duration, parse_duration
from sre_agent.config.loader import LoadedConfig
from sre_agent.config.optimize import OptimizeThresholds
from sre_agent.engine.cost import billed_credits
from sre_agent.errors import SourceError, UsageError
from sre_agent.reports.cost.data import attributed_usage, data_frontier, with_credits
from sre_agent.reports.optimize.advice import Advisor
from sre_agent.reports.optimize.findings import Finding, operator_findings, pattern_findings
from sre_agent.reports.optimize.sql_shape import SqlShape, analyze_sql
from sre_agent.reports.optimize.warehouses import warehouse_section
from sre_agent.reports.sql_text import show_query
from sre_agent.sources.optimize_sql import OPERATOR_STATS, PATTERN_DAYS, PATTERN_STATS
from sre_agent.sources.snowflake import SnowflakeSource
from sre_agent.store.db import Database
from sre_agent.store.rollups import RollupStore
from sre_agent.store.watermarks import Watermarks

HOUR = 3600
DAY = 86_400
OFFENDERS = ("remote_spill", "local_spill", "rows_explosion", "poor_pruning")
"""Findings that make a pattern a top offender whose operator statistics are worth fetching."""
OPERATOR_STATS_NEEDS = (
    "a role that owns the query or has MONITOR on its warehouse, within 14 days of the run (GET_QUERY_OPERATOR_STATS)"
)


@dataclass
class OptimizeReport:
    """Everything the optimization report shows (JSON-ready records, ranked)."""

    generated_at: datetime
    window_start: datetime | None
    window_end: datetime | None
    since: str
    currency: str
    credit_price: float | None
    show_literals: bool
    thresholds: dict[str, Any]
    totals: dict[str, Any] = field(default_factory=dict)
    patterns: list[dict[str, Any]] = field(default_factory=list)
    warehouses: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    recommendations: list[dict[str, Any]] = field(default_factory=list)
    operator_stats: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def top(self) -> list[dict[str, Any]]:
        """The three changes that save the most (positive savings only), one per subject: two changes to the same
        pattern or warehouse do not add up (each estimate assumes the other is not made)."""
        top: list[dict[str, Any]] = []
        for r in self.recommendations:
            if r["saving_credits_per_week"] > 0 and all(t["subject"] != r["subject"] for t in top):
                top.append(r)
        return top[:3]

    def money(self, credits: float) -> float | None:
        """``credits`` in the configured currency (None without a price)."""
        return None if self.credit_price is None else round(credits * self.credit_price, 2)


def parse_since(text: str) -> timedelta:
    """``7d`` / ``24h`` → a window of whole hours, at least one hour and at most 35 days (the store's retention).

    Raises:
        UsageError: not a duration, not whole hours, or out of range.
    """
    try:
        since = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--since {text!r}: {exc}") from None
    if since < timedelta(hours=1) or since % timedelta(hours=1) or since > timedelta(days=35):
        raise UsageError(f"--since {text!r}: use whole hours between 1h and 35d, e.g. 7d or 24h")
    return since


def window_end(rollups: RollupStore, watermarks: Watermarks, now: datetime) -> int | None:
    """End of the report window (epoch s, a whole UTC hour): how far metering has landed (attributed cost ends
    there), else how far the query rollup was polled; never after ``now``. None: nothing polled yet."""
    end = data_frontier(rollups, watermarks)
    if end is None:
        end = watermarks.get("snowflake.query").polled_to
    return None if end is None else min(end, int(now.timestamp())) // HOUR * HOUR


def _numeric(frame: pl.DataFrame) -> pl.DataFrame:
    """Every numeric column as Float64 (the connector returns Decimal, int or float depending on the aggregate)."""
    numeric = [c for c, t in frame.schema.items() if t.is_numeric()]
    return frame.with_columns(pl.col(numeric).cast(pl.Float64)) if numeric else frame


def _credits(rows: pl.DataFrame) -> tuple[dict[str, float], pl.DataFrame]:
    """Attributed credits per pattern, and per pattern and UTC day."""
    if rows.is_empty():
        return {}, pl.DataFrame(schema={"pattern": pl.String, "day": pl.Date, "credits": pl.Float64})
    total = rows.group_by("pattern").agg(pl.col("credits").sum())
    daily = rows.with_columns(pl.from_epoch(pl.col("bucket"), time_unit="s").dt.date().alias("day"))
    daily = daily.group_by("pattern", "day").agg(pl.col("credits").sum())
    return dict(zip(total["pattern"].to_list(), total["credits"].to_list(), strict=True)), daily


def _pattern_record(p: dict[str, Any], rank: int, show_literals: bool, money: float | None) -> dict[str, Any]:
    """The pattern as the report shows it: derived figures, never the raw query text."""
    runs = max(1.0, p["runs"] or 0.0)
    total_parts = p["partitions_total_sum"] or 0.0
    return {
        "rank": rank,
        "pattern": p["pattern"],
        "credits": round(p["credits"], 6),
        "cost": money,
        "runs": int(p["runs"] or 0),
        "failed_runs": int(p["failed_runs"] or 0),
        "p50_elapsed_s": (p["p50_elapsed_ms"] or 0) / 1000,
        "p95_elapsed_s": (p["p95_elapsed_ms"] or 0) / 1000,
        "elapsed_hours": (p["elapsed_ms_sum"] or 0) / 3.6e6,
        "phase_hours": {
            k: (p[f"{k}_ms_sum"] or 0) / 3.6e6
            for k in ("compilation", "queued_provisioning", "queued_overload", "blocked", "execution")
        },
        "gb_scanned": (p["bytes_scanned_sum"] or 0) / 1e9,
        "scan_ratio": (p["partitions_scanned_sum"] or 0) / total_parts if total_parts else None,
        "partitions_total_per_run": total_parts / runs,
        "spill_local_gb": (p["spill_local_bytes_sum"] or 0) / 1e9,
        "spill_remote_gb": (p["spill_remote_bytes_sum"] or 0) / 1e9,
        "spilling_runs": int(max(p["local_spill_runs"] or 0, p["remote_spill_runs"] or 0)),
        "cache_share": p["cache_share"],
        "rows_per_run": (p["rows_produced_sum"] or 0) / runs,
        "distinct_queries": int(p["distinct_hashes"] or 0),
        "repeated_scanning_runs": int(p["repeated_scanning_runs"] or 0),
        **{k: p[k] for k in ("top_warehouse", "top_user", "top_role", "top_service", "top_domain", "warehouse_size")},
        "most_expensive_query_id": p["sample_query_id"],
        "query_text": show_query(p["sample_text"], show_literals),
    }


def _shape_record(shape: SqlShape) -> dict[str, Any]:
    return {
        "parsed": shape.parsed,
        "statement": shape.statement,
        "tables": [vars(u) for u in shape.tables],
        "joins": [{"table": j.table, "kind": j.kind, "keys": list(j.keys), "condition": j.has_condition}
                  for j in shape.joins],
        "group_by": shape.group_by,
        "single_table_aggregation": shape.single_table_aggregation,
    }  # fmt: skip


def build_optimize_report(
    loaded: LoadedConfig,
    db: Database,
    source: SnowflakeSource,
    since: timedelta,
    show_literals: bool = False,
    now: datetime | None = None,
) -> OptimizeReport:
    """The optimization report of the ``since`` before the newest data in the store (``now``: the clock).

    Raises:
        SourceError: the QUERY_HISTORY statements failed (operator statistics failing is reported, not raised).
    """
    now = now or datetime.now(UTC)
    spec = loaded.config.spec
    t = spec.reports.optimize
    cost = spec.cost or CostSettings()
    price = float(cost.credit_price) if cost.credit_price is not None else None
    report = OptimizeReport(
        now, None, None, format_duration(since), cost.currency, price, show_literals, t.model_dump()
    )
    rollups, watermarks = RollupStore(db), Watermarks(db)
    end = window_end(rollups, watermarks, now)
    if end is None:
        report.notes.append("the state store holds no polled data yet: no window to report on")
        return report
    lo = end - int(since.total_seconds())
    report.window_start, report.window_end = datetime.fromtimestamp(lo, UTC), datetime.fromtimestamp(end, UTC)
    if spec.cost is None:
        report.notes.append("no spec.cost in the agent config: no attributed credits, patterns ranked by elapsed time")
    if price is None:
        report.notes.append("no spec.cost.credit_price: savings in credits only")
    binds: dict[str, object] = {"window_start": ("TIMESTAMP_LTZ", report.window_start), "max_patterns": t.max_patterns}
    binds["window_end"] = ("TIMESTAMP_LTZ", report.window_end)
    stats = _numeric(source.run(PATTERN_STATS, binds))
    days = _numeric(source.run(PATTERN_DAYS, binds))
    metering, usage, att = attributed_usage(rollups, watermarks, cost, lo, end)
    by_pattern, daily = _credits(with_credits(att.rows))
    covered = max(lo, watermarks.get("snowflake.query").covered_from or lo)
    if covered > lo:
        report.notes.append(
            f"the store's query history starts at {iso_hour(covered)}: savings per week scale from there"
        )
    advisor = Advisor(t, 7 * DAY / max(HOUR, end - covered), report.money, show_literals)
    rows = [{**p, "credits": by_pattern.get(p["pattern"], 0.0)} for p in stats.to_dicts()]
    rows.sort(key=lambda p: (-p["credits"], -(p["elapsed_ms_sum"] or 0), p["pattern"]))
    if not rows:
        report.notes.append(f"no queries in QUERY_HISTORY between {iso_hour(lo)} and {iso_hour(end)}")
    day_rows = _days(days, daily)
    findings: dict[str, list[Finding]] = {}
    for p in rows:
        findings[p["pattern"]] = pattern_findings(p, day_rows.get(p["pattern"], []), t)
    _operator_stats(report, source, rows, findings, t)
    for rank, p in enumerate(rows, 1):
        shape = analyze_sql(p["sample_text"])
        record = _pattern_record(p, rank, show_literals, report.money(p["credits"]))
        record["findings"] = [f.kind for f in findings[p["pattern"]]]
        record["sql"] = _shape_record(shape)
        record["days"] = day_rows.get(p["pattern"], [])
        report.patterns.append(record)
        report.recommendations += advisor.for_pattern(p, findings[p["pattern"]], shape, record["days"])
        report.findings += [f.to_json() for f in findings[p["pattern"]]]
    report.warehouses, found, recs = warehouse_section(
        advisor, rollups, metering, usage, att, rows, findings, lo, end, price
    )
    report.findings += [f.to_json() for f in found]
    report.recommendations += recs
    report.recommendations.sort(key=lambda r: (-r["saving_credits_per_week"], r["kind"], r["subject"]))
    for i, rec in enumerate(report.recommendations, 1):
        rec["rank"] = i
    billed = float(billed_credits(metering)["credits"].sum()) if metering.height else 0.0
    attributed = sum(p["credits"] for p in rows)
    top = sum(r["saving_credits_per_week"] for r in report.top)
    report.totals = {
        "patterns": len(rows),
        "runs": int(sum(p["runs"] or 0 for p in rows)),
        "failed_runs": int(sum(p["failed_runs"] or 0 for p in rows)),
        "elapsed_hours": sum(p["elapsed_ms_sum"] or 0 for p in rows) / 3.6e6,
        "credits": round(billed, 6),
        "cost": report.money(billed),
        "attributed_credits": round(attributed, 6),
        "findings": len(report.findings),
        "recommendations": len(report.recommendations),
        "top3_saving_credits_per_week": round(top, 3),
        "top3_saving_money_per_week": report.money(top),
    }
    return report


def iso_hour(epoch: int) -> str:
    """``epoch`` as ``YYYY-MM-DD HH:MMZ``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%MZ")


def _days(days: pl.DataFrame, daily: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Per pattern, its UTC days with runs, failures, p95, rows produced, spill and attributed credits."""
    if days.is_empty():
        return {}
    joined = days.join(daily, on=["pattern", "day"], how="left").sort("pattern", "day")
    out: dict[str, list[dict[str, Any]]] = {}
    joined = joined.with_columns(pl.col("runs", "failed_runs").cast(pl.Int64))
    for row in joined.to_dicts():
        out.setdefault(row.pop("pattern"), []).append(row)
    return out


def _operator_stats(
    report: OptimizeReport, source: SnowflakeSource, rows: list[dict[str, Any]], findings: dict[str, list[Finding]],
    t: OptimizeThresholds,
) -> None:  # fmt: skip
    """Operator statistics of the most expensive run of the top offenders; failures are reported per query."""
    offenders = [p for p in rows if any(f.kind in OFFENDERS for f in findings[p["pattern"]])][: t.operator_stats_max]
    reasons = []
    for p in offenders:
        query_id = p["sample_query_id"]
        try:
            frame = source.run(OPERATOR_STATS, {"query_id": query_id})
        except SourceError as exc:
            reason = str(exc).removeprefix(f"{exc.source}: {exc.query}: ")[:200]
            reasons.append(reason)
            report.operator_stats.append({"pattern": p["pattern"], "query_id": query_id, "status": "unavailable",
                                          "reason": reason})  # fmt: skip
            continue
        found = operator_findings(frame.to_dicts(), t)
        report.operator_stats.append(
            {"pattern": p["pattern"], "query_id": query_id, "status": "fetched", "operators": frame.height,
             "findings": len(found)}
        )  # fmt: skip
        for op in found:
            condition = show_query(op.condition, report.show_literals, 300)
            title = (
                f"{op.operator_type} (step {op.step_id}, operator {op.operator_id}) emits {op.output_rows:,} rows "
                f"from {op.input_rows:,}" + (f" on {condition}" if condition else " with no join condition")
            )
            findings[p["pattern"]].append(
                Finding(op.kind, p["pattern"], title, round(op.ratio, 3), t.join_ratio, "× input rows",
                        {"query_id": query_id, "output_rows": op.output_rows, "input_rows": op.input_rows,
                         "min_output_rows": t.join_output_rows, "condition": condition})
            )  # fmt: skip
    if reasons:
        report.notes.append(
            f"operator statistics could not be fetched: {reasons[0]}; needs {OPERATOR_STATS_NEEDS}. "
            "Join findings below rest on QUERY_HISTORY (rows produced, spill) only."
        )
