"""Warehouse side of the optimization report: idle and oversized warehouses (the cost report's checks, with the
report's thresholds), queueing from WAREHOUSE_LOAD and from the patterns' queued time, and provisioning waits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from sre_agent.config.optimize import OptimizeThresholds
from sre_agent.engine.cost import Attribution, billed_credits
from sre_agent.engine.rollups import WAREHOUSE_LOAD
from sre_agent.reports.cost.actions import warehouse_recommendations
from sre_agent.reports.cost.data import warehouse_table
from sre_agent.reports.optimize.advice import Advisor
from sre_agent.reports.optimize.findings import Finding, queued_load_finding
from sre_agent.reports.statements import quote_literal
from sre_agent.store.rollups import RollupStore

DOMINANT_SHARE = 0.5
"""A pattern with more than this share of a queueing warehouse's elapsed time gets its own warehouse."""


def queued_hours(rollups: RollupStore, lo: int, hi: int) -> dict[str, float]:
    """Per warehouse, the hours of 5-minute WAREHOUSE_LOAD intervals in which queries queued for capacity: how long
    one more cluster would have run."""
    frame = rollups.load(WAREHOUSE_LOAD, lo, hi)
    if frame.is_empty():
        return {}
    busy = frame.filter(pl.col("avg_queued_load") > 0).group_by("warehouse").agg((pl.len() / 12).alias("hours"))
    return dict(zip(busy["warehouse"].to_list(), busy["hours"].to_list(), strict=True))


def daily_queued_load(rollups: RollupStore, lo: int, hi: int) -> dict[str, dict[str, float]]:
    """Per warehouse and UTC day, the mean of WAREHOUSE_LOAD's 5-minute avg_queued_load."""
    frame = rollups.load(WAREHOUSE_LOAD, lo, hi)
    if frame.is_empty():
        return {}
    day = pl.from_epoch(pl.col("bucket"), time_unit="s").dt.date().cast(pl.String).alias("day")
    means = frame.group_by("warehouse", day).agg(pl.col("avg_queued_load").mean())
    out: dict[str, dict[str, float]] = {}
    for row in means.iter_rows(named=True):
        out.setdefault(row["warehouse"], {})[row["day"]] = float(row["avg_queued_load"])
    return out


def _from_cost_actions(rec: Mapping[str, Any], weekly: float, advisor: Advisor, t: OptimizeThresholds) -> tuple[
    dict[str, Any], Finding
]:  # fmt: skip
    """A cost-report recommendation (idle / oversized) as the optimization report's record and finding."""
    wh, evidence = str(rec["warehouse"]), dict(rec["evidence"])
    if rec["kind"] == "idle":
        share = evidence["idle_credits"] / max(evidence["compute_credits"], 1e-9)
        finding = Finding("idle", wh, rec["title"], round(share, 4), t.idle_share, "idle share", evidence)
        kind = "auto_suspend"
    else:
        value = float(evidence["mean_execution_s"])
        finding = Finding("oversized", wh, rec["title"], value, t.oversized_exec_s, "s mean execution", evidence)
        kind = "downsize"
    statements = list(rec["statements"])
    if kind == "auto_suspend":  # already 60 s? then the idle time is gaps shorter than that, or clusters kept up
        check = f"-- today's auto_suspend (s; 0 or NULL: never): SHOW WAREHOUSES LIKE {quote_literal(wh)};"
        statements = [check, *statements]
    out = advisor.rec(kind, wh, rec["title"], float(rec["saving_credits"]), rec["saving_basis"], statements,
                      [finding], warehouse=wh)  # fmt: skip
    return out, finding


def warehouse_section(
    advisor: Advisor,
    rollups: RollupStore,
    metering: pl.DataFrame,
    usage: pl.DataFrame,
    att: Attribution,
    patterns: Sequence[Mapping[str, Any]],
    findings: Mapping[str, Sequence[Finding]],
    lo: int,
    hi: int,
    price: float | None,
) -> tuple[list[dict[str, Any]], list[Finding], list[dict[str, Any]]]:
    """The warehouse table, warehouse findings and warehouse recommendations of ``[lo, hi)``."""
    t = advisor.t
    billed = billed_credits(metering)
    table = warehouse_table(billed, att.warehouse_idle, att.idle, usage, price)
    total = float(billed["credits"].sum()) if billed.height else 0.0
    base = warehouse_recommendations(
        table, total, lambda c: c, rollups, lo, hi, t.idle_share, t.oversized_exec_s, t.oversized_min_size
    )
    recs: list[dict[str, Any]] = []
    found: list[Finding] = []
    for rec in base:
        out, finding = _from_cost_actions(rec, advisor.weekly, advisor, t)
        recs.append(out)
        found.append(finding)
    idle = {r["warehouse"] for r in base if r["kind"] == "idle"}
    load = daily_queued_load(rollups, lo, hi)
    busy_hours = queued_hours(rollups, lo, hi)
    names = sorted(set(load) | {str(p.get("top_warehouse")) for p in patterns})
    for wh in names:
        mine = [p for p in patterns if p.get("top_warehouse") == wh]
        pattern_found = [f for p in mine for f in findings.get(str(p["pattern"]), [])]
        queued = [f for f in pattern_found if f.kind == "queueing"]
        load_finding = queued_load_finding(wh, load.get(wh, {}), t)
        if load_finding is not None:
            found.append(load_finding)
        if queued:
            elapsed = sum(float(p.get("elapsed_ms_sum") or 0) for p in mine) or 1.0
            dominant = max(mine, key=lambda p: float(p.get("elapsed_ms_sum") or 0))
            share = float(dominant.get("elapsed_ms_sum") or 0) / elapsed
            others = {p.get("top_service") for p in mine if p is not dominant}
            distinct = bool(others) and dominant.get("top_service") not in others  # a workload of its own
            evidence = [*queued, *([load_finding] if load_finding else [])]
            recs.append(
                advisor.for_queueing(
                    wh,
                    evidence,
                    mine[0].get("warehouse_size"),
                    busy_hours.get(wh, 0.0),
                    dominant if share > DOMINANT_SHARE and distinct else None,
                )
            )
        waits = [f for f in pattern_found if f.kind == "provisioning"]
        if waits and wh not in idle:  # an idle warehouse is told to suspend sooner: never both
            recs.append(advisor.for_provisioning(wh, waits))
    rows = []
    for row in table.to_dicts():
        row["findings"] = [f.kind for f in found if f.subject == row["warehouse"]]
        row["queued_load_by_day"] = load.get(row["warehouse"], {})
        rows.append(row)
    return rows, found, recs
