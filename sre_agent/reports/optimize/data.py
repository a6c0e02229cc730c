"""The optimization report's data: per query pattern statistics read from Snowflake (two bounded aggregate
statements), attributed credits from the state store (the cost report's hourly-share attribution), findings against
the ``spec.reports.optimize`` thresholds, the incidents of the store the patterns and warehouses changed in, and
recommendations with their statements, savings and confidence, ranked by saving × confidence (ranking.py).

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
from sre_agent.engine.cost import billed_credits
from sre_agent.errors import UsageError
from sre_agent.reports.cost.data import attributed_usage, data_frontier, with_credits
from sre_agent.reports.optimize.advice import Advisor
from sre_agent.reports.optimize.findings import Finding, pattern_findings
from sre_agent.reports.optimize.incidents import incident_windows, pattern_links, warehouse_links
from sre_agent.reports.optimize.operator_stats import fetch_operator_stats
from sre_agent.reports.optimize.ranking import MAIN, rank
from sre_agent.reports.optimize.result_cache import cache_entry, result_cache_rec, table_writes
from sre_agent.reports.optimize.sql_shape import SqlShape, analyze_sql
from sre_agent.reports.optimize.warehouses import warehouse_section
from sre_agent.reports.sql_text import show_query
from sre_agent.sources.optimize_sql import PATTERN_DAYS, PATTERN_STATS
from sre_agent.sources.snowflake import SnowflakeSource
from sre_agent.store import pattern_names
from sre_agent.store.db import Database
from sre_agent.store.rollups import RollupStore
from sre_agent.store.watermarks import Watermarks

HOUR = 3600
DAY = 86_400


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
        """The first three ranked changes above the floor (positive savings only), one per subject: two changes to
        the same pattern or warehouse do not add up (each estimate assumes the other is not made)."""
        top: list[dict[str, Any]] = []
        for r in self.recommendations:
            main = r.get("section", MAIN) == MAIN and r["saving_credits_per_week"] > 0
            if main and all(t["subject"] != r["subject"] for t in top):
                top.append(r)
        return top[:3]

    @property
    def smaller(self) -> list[dict[str, Any]]:
        """The recommendations under the floor (or saving nothing): the report's "Smaller items" appendix."""
        return [r for r in self.recommendations if r.get("section", MAIN) != MAIN]

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
        "most_expensive_run_ended": p.get("sample_end_time"),
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


def _name_patterns(db: Database, rows: list[dict[str, Any]], shapes: dict[str, SqlShape], at: int) -> None:
    """Record what each pattern is (service, warehouse, statement, tables: never its text) for the reports that see
    only its hash."""
    named = [
        pattern_names.PatternName(
            str(p["pattern"]), str(p.get("top_service") or ""), str(p.get("top_warehouse") or ""),
            shapes[p["pattern"]].statement, tuple(u.table for u in shapes[p["pattern"]].tables),
        )
        for p in rows
    ]  # fmt: skip
    if named:
        with db.transaction() as conn:
            pattern_names.record(conn, named, at)


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
    credited = with_credits(att.rows)
    by_pattern, daily = _credits(credited)
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
    report.operator_stats, notes = fetch_operator_stats(source, rows, findings, t, now, show_literals)
    report.notes += notes
    shapes = {p["pattern"]: analyze_sql(p["sample_text"]) for p in rows}
    _name_patterns(db, rows, shapes, end)
    writes, roles = table_writes(rows, shapes), _roles(usage)
    windows = incident_windows(db, lo, end)
    hourly = _by_pattern(credited)
    links: dict[str, list[dict[str, Any]]] = {}
    cached: list[dict[str, Any]] = []
    for i, p in enumerate(rows, 1):
        pattern, shape = p["pattern"], shapes[p["pattern"]]
        record = _pattern_record(p, i, show_literals, report.money(p["credits"]))
        record["findings"] = [f.kind for f in findings[pattern]]
        record["sql"] = _shape_record(shape)
        record["days"] = day_rows.get(pattern, [])
        links[pattern] = record["incidents"] = pattern_links(p, hourly.get(pattern, _NO_HOURS), record["days"],
                                                             windows, t)  # fmt: skip
        report.patterns.append(record)
        report.recommendations += _linked(
            advisor.for_pattern(p, findings[pattern], shape, record["days"]), links[pattern]
        )
        report.findings += [f.to_json() for f in findings[pattern]]
        repeated = next((f for f in findings[pattern] if f.kind == "repeated_work"), None)
        if repeated is not None and shape.statement == "SELECT":  # only a SELECT's result is cached
            entry = cache_entry(p, repeated, shape, writes, roles.get(pattern, 1), t)
            if entry is not None:  # the result-cache item marks its patterns' incidents, is not raised by them
                cached.append({**entry, "incident": links[pattern][0]["incident"] if links[pattern] else None})
    cache = result_cache_rec(advisor, cached)
    report.recommendations += [cache] if cache is not None else []
    report.warehouses, found, recs = warehouse_section(
        advisor, rollups, metering, usage, att, rows, findings, lo, end, price
    )
    report.findings += [f.to_json() for f in found]
    bill = billed_credits(metering)
    owners = {p["pattern"]: str(p.get("top_warehouse")) for p in rows}
    by_wh = {
        wh: warehouse_links(wh, bill, lo, end, windows, links, owners, t.incident_change_factor)
        for wh in {str(r["warehouse"]) for r in recs} | {str(w["warehouse"]) for w in report.warehouses}
    }
    for rec in recs:
        _linked([rec], by_wh[str(rec["warehouse"])])
    for row in report.warehouses:
        row["incidents"] = [link["incident"] for link in by_wh[str(row["warehouse"])]]
    # Ranked by saving × confidence (incident-linked × 2); under the floor to the appendix (ranking.py).
    report.recommendations = rank([*report.recommendations, *recs], t.saving_floor_credits_per_week)
    billed = float(bill["credits"].sum()) if bill.height else 0.0
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
        "smaller_items": len(report.smaller),
        "saving_floor_credits_per_week": t.saving_floor_credits_per_week,
        "incidents_linked": sorted({r["incident"] for r in report.recommendations if r["incident"]}),
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


_NO_HOURS = pl.DataFrame(
    schema={
        "bucket": pl.Int64,
        "queries": pl.Int64,
        "failed": pl.Int64,
        "elapsed_ms": pl.Float64,
        "credits": pl.Float64,
    }
)


def _by_pattern(credited: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Attributed usage rows (with credits) per pattern: the hourly figures incident links compare."""
    if credited.is_empty():
        return {}
    return {str(key[0]): frame for key, frame in credited.partition_by("pattern", as_dict=True).items()}


def _roles(usage: pl.DataFrame) -> dict[str, int]:
    """Per pattern, the roles its queries ran under in the window (the ``query_cost`` rollup's role dimension)."""
    if usage.is_empty() or "role" not in usage.columns:
        return {}
    counts = usage.filter(pl.col("queries") > 0).group_by("pattern").agg(pl.col("role").n_unique().alias("roles"))
    return dict(zip(counts["pattern"].to_list(), counts["roles"].to_list(), strict=True))


def _linked(recs: list[dict[str, Any]], links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``recs`` marked with the incidents their subject changed in (``incident``: the one it changed most in)."""
    for rec in recs:
        rec["incidents"] = links
        rec["incident"] = links[0]["incident"] if links else None
    return recs
