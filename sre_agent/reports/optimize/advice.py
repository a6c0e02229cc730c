"""What to change for each finding of the optimization report: the statement a DBA would run (printed, never
executed; identifiers quoted) and an estimated saving per week with the assumption it rests on.

Changes that cost credits to buy latency (scale out, query acceleration, a longer auto-suspend) say so and carry a
saving of 0 or below, never a made-up gain. No statement sets a parameter to Snowflake's default (that changes
nothing): where the default is the advice, the statement checks the current value instead. Every recommendation
carries a confidence (below) that the ranking multiplies its saving by. Accelerator choice follows
reference/snowflake.md §7: search optimization for point lookups and substrings, clustering keys for range/equality
filters that prune badly, materialized views for a repeated aggregation over one table, query acceleration for
outliers with large scans.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sre_agent.config.optimize import OptimizeThresholds
from sre_agent.reports.optimize.findings import GB, Finding
from sre_agent.reports.optimize.sql_shape import SqlShape, TableUse
from sre_agent.reports.statements import SIZES, object_name, quote_ident, quote_literal

PRUNED_SHARE = 0.2
"""Assumed share of partitions a well-pruned (clustered or search-optimized) run still reads."""
MV_COST_SHARE = 0.5
"""Assumed cost of a run served by a materialized view, as a share of today's (refresh not included)."""
CACHE_HIT_SHARE = 0.1
"""Assumed share of the repeated identical runs not explained by writes to their tables that the result cache could
serve once its cause is found (the other causes — a role without the privileges, a session turning reuse off,
results older than 24 h — are not in QUERY_HISTORY)."""
MV_MIN_SCAN_GB = 1.0
"""Bytes scanned per run above which an aggregation's result is small next to its base table (§7)."""
POINT_LOOKUP_ROWS = 10_000
"""Rows per run at or under which a filtered query is a selective point lookup (search optimization territory)."""

MEASURED = 0.8
"""Confidence in a saving the window's data shows was spent on exactly this waste: the failed runs' credits, the
credits above a pattern's own median per-run cost. Not 1: the waste may not recur at the same rate."""
MEASURED_BOUND = 0.6
"""Confidence in a measured upper bound: all idle compute of a warehouse (each resume bills 60 s and gaps shorter
than the new AUTO_SUSPEND stay billed), one more cluster for every interval queries queued in."""
PARTLY_ASSUMED = 0.4
"""Confidence when the waste is measured but the share the change removes is assumed (PRUNED_SHARE of partitions
after clustering or search optimization, half the credit rate one size down) and its upkeep is left out."""
ASSUMED = 0.25
"""Confidence when the saving rests on an assumed share (MV_COST_SHARE, CACHE_HIT_SHARE), the ≈ 0 of a move, or
leaves out the feature's own serverless cost."""
CONFIDENCE: dict[str, tuple[float, str]] = {
    "resize_or_rewrite": (MEASURED, "measured: the credits above the pattern's own per-run baseline"),
    "fix_or_stop": (MEASURED, "measured: the credits of the failed runs"),
    "auto_suspend": (MEASURED_BOUND, "measured upper bound: the warehouse's idle credits"),
    "scale_out": (MEASURED_BOUND, "measured upper bound: one more cluster while queries queued"),
    "downsize": (PARTLY_ASSUMED, "measured compute, assumed halving one size down"),
    "clustering_key": (PARTLY_ASSUMED, f"measured scan share, assumed {PRUNED_SHARE:.0%} read after the change"),
    "search_optimization": (PARTLY_ASSUMED, f"measured scan share, assumed {PRUNED_SHARE:.0%} read after the change"),
    "materialized_view": (ASSUMED, f"assumed: a run on the view costs {MV_COST_SHARE:.0%} of today's"),
    "result_cache": (ASSUMED, f"assumed: the result cache serves {CACHE_HIT_SHARE:.0%} of the unexplained re-runs"),
}
"""Confidence of each recommendation kind's saving, and what it rests on; kinds not listed (≈ 0 savings: scale up,
split, query acceleration, longer auto-suspend, add a filter) are ASSUMED."""

Money = Callable[[float], float | None]


def confidence(kind: str) -> tuple[float, str]:
    """The confidence of a recommendation kind's saving (0–1) and what it rests on."""
    return CONFIDENCE.get(kind, (ASSUMED, "assumed: the saving is an estimate of ≈ 0 or a cost"))


def _table(name: str) -> str:
    """``DB.SCHEMA.TABLE`` as written in a query (case-insensitive there) → quoted upper-case parts."""
    return ".".join(quote_ident(part) for part in name.upper().split("."))


def _plain_name(text: str) -> bool:
    """A bare column name (quoted when printed) rather than an expression (printed as redacted)."""
    return text.replace("_", "").replace("$", "").isalnum() and not text[:1].isdigit()


def _cols(columns: Sequence[str]) -> str:
    return ", ".join(quote_ident(c.upper()) for c in columns)


def size_step(size: str | None, step: int) -> str | None:
    """The warehouse size ``step`` sizes from ``size`` (None beyond the ends or for an unknown size)."""
    names = [n.upper() for n, _ in SIZES]
    key = (size or "").upper().replace("XSMALL", "X-SMALL").replace("XLARGE", "X-LARGE")
    if key not in names or not 0 <= names.index(key) + step < len(names):
        return None
    return names[names.index(key) + step]


def credits_per_hour(size: str | None) -> float:
    """The credit rate of a standard warehouse of ``size`` (0 if unknown)."""
    return next((float(rate) for name, rate in SIZES if name.upper() == (size or "").upper()), 0.0)


def excess_over_baseline(days: Sequence[Mapping[str, Any]]) -> tuple[float, float, str | None]:
    """Credits above the median per-run cost of a pattern's days: (excess, baseline per run, worst day)."""
    priced = [d for d in days if float(d.get("runs") or 0) > 0 and d.get("credits") is not None]
    if len(priced) < 2:
        return 0.0, 0.0, None
    per_run = [float(d["credits"]) / float(d["runs"]) for d in priced]
    base = statistics.median(per_run)
    extra = [max(0.0, float(d["credits"]) - float(d["runs"]) * base) for d in priced]
    worst = priced[max(range(len(extra)), key=lambda i: extra[i])]
    return sum(extra), base, str(worst["day"])


class Advisor:
    """Turns one report's findings into recommendations (``weekly`` scales window figures to a week)."""

    def __init__(self, t: OptimizeThresholds, weekly: float, money: Money, show_literals: bool) -> None:
        self.t = t
        self.weekly = weekly
        self.money = money
        self.show_literals = show_literals

    def rec(
        self, kind: str, subject: str, title: str, saving: float, basis: str, statements: list[str],
        findings: Sequence[Finding], **extra: Any,
    ) -> dict[str, Any]:  # fmt: skip
        """One recommendation record (``saving`` in credits over the window; stored per week), with the confidence of
        its kind; the incident links and the rank are added by the report."""
        weekly = round(saving * self.weekly, 3)
        sure, why = confidence(kind)
        return {
            "kind": kind,
            "subject": subject,
            "title": title,
            "saving_credits_per_week": weekly,
            "saving_money_per_week": self.money(weekly),
            "saving_basis": basis,
            "confidence": sure,
            "confidence_basis": why,
            "incident": None,
            "incidents": [],
            "statements": statements,
            "because": [f.title for f in findings],
            "evidence": {f.kind: {"value": f.value, "threshold": f.threshold, "unit": f.unit, **f.evidence}
                         for f in findings},
            **extra,
        }  # fmt: skip

    def for_pattern(
        self, p: Mapping[str, Any], findings: Sequence[Finding], shape: SqlShape, days: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Recommendations for one query pattern (``p``: its aggregate row with ``credits``)."""
        by = {f.kind: f for f in findings}
        out: list[dict[str, Any]] = []
        join = [by[k] for k in ("rows_explosion", "exploding_join", "cartesian_join") if k in by]
        spill = [by[k] for k in ("remote_spill", "local_spill") if k in by]
        if join:
            out.append(self._rewrite(p, join + spill, shape, days))
        elif spill:
            out.append(self._scale_up(p, spill))
        if "poor_pruning" in by:
            out.extend(self._access_path(p, by["poor_pruning"], shape))
        mv = self._materialized_view(p, shape)
        if mv is not None:
            out.append(mv)
        qas = self._acceleration(p, shape)
        if qas is not None:
            out.append(qas)
        if "failing" in by:
            out.append(self._fix_or_stop(p, by["failing"]))
        return out  # repeated identical runs: one result-cache item for all patterns (result_cache.py)

    def _rewrite(
        self, p: Mapping[str, Any], findings: list[Finding], shape: SqlShape, days: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Resize-or-rewrite for a join that multiplies rows: find the duplicated keys, or scale up as a stop-gap."""
        excess, base, worst = excess_over_baseline(days)
        wh, size = str(p.get("top_warehouse")), p.get("warehouse_size")
        bigger = size_step(size, 1)
        statements = []
        for join in shape.joins:
            if join.keys:
                statements.append(
                    f"-- rewrite: join {join.table} on its full key, or deduplicate it first; duplicated keys:\n"
                    f"SELECT {_cols(join.keys)}, COUNT(*) AS copies FROM {_table(join.table)} "
                    f"GROUP BY {_cols(join.keys)} HAVING COUNT(*) > 1 ORDER BY copies DESC LIMIT 100;"
                )
            else:
                statements.append(f"-- rewrite: the join with {join.table} has no condition (Cartesian product)")
        if not statements:
            statements.append("-- rewrite: check the join keys of the query below (a duplicated key multiplies rows)")
        if bigger is not None:
            statements.append(
                f"-- stop-gap while the rewrite ships (doubles the credit rate; revert afterwards):\n"
                f"ALTER WAREHOUSE {quote_ident(wh)} SET WAREHOUSE_SIZE = {quote_literal(bigger)};"
            )
        basis = (
            f"the rewrite restores the pattern's median per-run cost ({base:.4f} credits/run over its days; worst day "
            f"{worst}): the credits above it in the window, scaled to a week, if the explosion persists. The "
            "stop-gap resize costs more, not less."
            if worst
            else "no earlier days to compare with: saving not estimated (0)"
        )
        title = f"Fix the exploding join of {p.get('top_service')} on {wh} (rewrite; resize only as a stop-gap)"
        return self.rec("resize_or_rewrite", str(p["pattern"]), title, excess, basis, statements, findings)

    def _scale_up(self, p: Mapping[str, Any], findings: list[Finding]) -> dict[str, Any]:
        wh = str(p.get("top_warehouse"))
        bigger = size_step(p.get("warehouse_size"), 1)
        statements = (
            [f"ALTER WAREHOUSE {quote_ident(wh)} SET WAREHOUSE_SIZE = {quote_literal(bigger)};"]
            if bigger
            else ["-- already the largest size: split the work into smaller batches"]
        )
        basis = (
            "≈ 0: one size up doubles the credit rate and spilling runs usually finish more than twice as fast, so "
            "cost is roughly neutral; the gain is latency (or move the pattern to a Snowpark-optimized warehouse)"
        )
        title = f"Give {p.get('top_service')} more memory: scale {wh} up (it spills)"
        return self.rec("scale_up", str(p["pattern"]), title, 0.0, basis, statements, findings)

    def _access_path(self, p: Mapping[str, Any], finding: Finding, shape: SqlShape) -> list[dict[str, Any]]:
        """Search optimization for point lookups/substrings, else a clustering key, on the filtered tables."""
        out = []
        ratio = max(float(finding.value), PRUNED_SHARE)
        saving_share = 1 - PRUNED_SHARE / ratio
        credits = float(p.get("credits") or 0)
        rows_per_run = float(p.get("rows_produced_sum") or 0) / max(1.0, float(p.get("runs") or 0))
        filtered = [u for u in shape.tables if u.equality or u.ranges or u.substring]
        for use in filtered:
            lookup = shape.statement == "SELECT" and rows_per_run <= POINT_LOOKUP_ROWS
            kind, statement, why = self._path_for(use, rows_per_run, lookup)
            basis = (
                f"scan-bound: compute follows partitions read; reading {PRUNED_SHARE:.0%} instead of {ratio:.0%} "
                f"saves {saving_share:.0%} of the pattern's credits, shared over {len(filtered)} table(s). "
                f"{why} Not included: the serverless cost of building and maintaining it."
            )
            title = f"{'Search optimization' if kind == 'search_optimization' else 'Clustering key'} on {use.table}"
            saving = credits * saving_share / len(filtered)
            out.append(self.rec(kind, str(p["pattern"]), title, saving, basis, [statement], [finding], table=use.table))
        if not out:
            basis = "the query text names no filter column (or could not be read): add a selective WHERE first"
            out.append(self.rec("add_filter", str(p["pattern"]), "Filter the scan", 0.0, basis, [], [finding]))
        return out

    @staticmethod
    def _path_for(use: TableUse, rows_per_run: float, lookup: bool) -> tuple[str, str, str]:
        table = _table(use.table)
        if use.substring:
            on = ", ".join(f"SUBSTRING({quote_ident(c)})" for c in use.substring)
            why = "LIKE '%…%' filters are what search optimization's SUBSTRING path serves (§7)."
            return "search_optimization", f"ALTER TABLE {table} ADD SEARCH OPTIMIZATION ON {on};", why
        if use.equality and lookup:
            on = ", ".join(f"EQUALITY({quote_ident(c)})" for c in use.equality)
            why = f"Equality/IN filters returning few rows ({rows_per_run:,.0f}/run) are point lookups (§7)."
            return "search_optimization", f"ALTER TABLE {table} ADD SEARCH OPTIMIZATION ON {on};", why
        keys = list(dict.fromkeys([*use.ranges, *use.equality]))[:3]
        why = "Range and equality filters shared by the runs prune well on a clustering key (§7); order the key "
        why += "from lowest to highest cardinality."
        return "clustering_key", f"ALTER TABLE {table} CLUSTER BY ({_cols(keys)});", why

    def _materialized_view(self, p: Mapping[str, Any], shape: SqlShape) -> dict[str, Any] | None:
        runs_week = float(p.get("runs") or 0) * self.weekly
        scan_gb = float(p.get("bytes_scanned_sum") or 0) / max(1.0, float(p.get("runs") or 0)) / GB
        candidate = shape.statement == "SELECT" and shape.single_table_aggregation and shape.view_aggregates
        if not candidate or runs_week < self.t.mv_min_runs_per_week or scan_gb < MV_MIN_SCAN_GB:
            return None
        use = shape.tables[0]
        names = [quote_ident(c.upper()) for c in (*use.equality, *use.ranges)]
        group_by = shape.literal_group_by if self.show_literals else shape.group_by
        groups = [quote_ident(g) if _plain_name(g) else g for g in group_by]
        keys = list(dict.fromkeys([*names, *groups]))
        aggs = list(shape.literal_aggregates if self.show_literals else shape.aggregates)
        name = quote_ident(object_name(use.table.split(".")[-1], "agg_mv"))
        parent = ".".join(quote_ident(x) for x in use.table.upper().split(".")[:-1])
        target = f"{parent}.{name}" if parent else name
        statement = (
            f"CREATE MATERIALIZED VIEW {target} AS\nSELECT {', '.join([*keys, *aggs])}\n"
            f"FROM {_table(use.table)}\nGROUP BY {', '.join(keys)};"
        )
        basis = (
            f"assumes a run served by the view costs {MV_COST_SHARE:.0%} of today's ({runs_week:,.0f} runs/week of "
            "one aggregation over one table); the view pays off only if the base table changes rarely. Not included: "
            "serverless refresh and storage."
        )
        title = f"Materialized view of the aggregation over {use.table}"
        saving = float(p.get("credits") or 0) * (1 - MV_COST_SHARE)
        return self.rec("materialized_view", str(p["pattern"]), title, saving, basis, [statement], [], table=use.table)

    def _acceleration(self, p: Mapping[str, Any], shape: SqlShape) -> dict[str, Any] | None:
        runs = max(1.0, float(p.get("runs") or 0))
        scan_gb = float(p.get("bytes_scanned_sum") or 0) / runs / GB
        p50, p95 = float(p.get("p50_elapsed_ms") or 0), float(p.get("p95_elapsed_ms") or 0)
        outliers = p50 > 0 and p95 / p50 > self.t.qas_outlier_ratio
        if not (shape.has_filter and scan_gb > self.t.qas_scan_gb_per_run and outliers):
            return None
        wh = quote_ident(str(p.get("top_warehouse")))
        statement = (  # 8 is the default scale factor of an explicit enable: not set, a lower cap is the choice
            "-- eligible time first: SELECT * FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_ACCELERATION_ELIGIBLE WHERE "
            f"warehouse_name = {quote_literal(str(p.get('top_warehouse')))} ORDER BY "
            "eligible_query_acceleration_time DESC LIMIT 20;\n"
            f"ALTER WAREHOUSE {wh} SET ENABLE_QUERY_ACCELERATION = TRUE;\n"
            "-- QUERY_ACCELERATION_MAX_SCALE_FACTOR defaults to 8 (up to 8× the warehouse's rate): set a lower cap "
            "to bound the serverless cost"
        )
        basis = (
            "0 or below: query acceleration bills serverless credits for the scans it offloads; it cuts the "
            f"outliers' latency (p95 {p95 / 1000:,.1f} s vs p50 {p50 / 1000:,.1f} s), not cost. Check eligibility "
            "in QUERY_ACCELERATION_ELIGIBLE first."
        )
        title = f"Query acceleration for the outliers of {p.get('top_service')} ({scan_gb:,.1f} GB scanned per run)"
        return self.rec("query_acceleration", str(p["pattern"]), title, 0.0, basis, [statement], [])

    def _fix_or_stop(self, p: Mapping[str, Any], finding: Finding) -> dict[str, Any]:
        runs = max(1.0, float(p.get("runs") or 0))
        saving = float(p.get("credits") or 0) * float(p.get("failed_runs") or 0) / runs
        statement = (
            "SELECT query_id, start_time, error_code, error_message\n"
            "FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY\n"
            f"WHERE query_parameterized_hash = {quote_literal(str(p['pattern']))} AND execution_status = 'FAIL'\n"
            "ORDER BY start_time DESC LIMIT 20;\n-- then fix the job, or stop it: ALTER TASK <task> SUSPEND;"
        )
        basis = "the failed runs' share of the pattern's attributed credits (work paid for and thrown away)"
        title = f"Fix or stop the failing job of {p.get('top_service')} ({p.get('top_user')})"
        return self.rec("fix_or_stop", str(p["pattern"]), title, saving, basis, [statement], [finding])

    def for_queueing(
        self,
        warehouse: str,
        findings: Sequence[Finding],
        size: str | None,
        queued_hours: float,
        dominant: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """Scale out (multi-cluster) a queueing warehouse, or split off the pattern that dominates it."""
        if dominant is not None:
            name = quote_ident(object_name(str(dominant.get("top_service") or "pattern"), "dedicated_wh"))
            chosen = (size or "SMALL").upper()  # X-Small is CREATE WAREHOUSE's default size: not repeated
            sized = "" if chosen in ("X-SMALL", "XSMALL") else f"WAREHOUSE_SIZE = {quote_literal(chosen)} "
            statements = [  # AUTO_RESUME = TRUE is the default; AUTO_SUSPEND 60 (default 600) and suspended start
                f"CREATE WAREHOUSE {name} WITH {sized}AUTO_SUSPEND = 60 INITIALLY_SUSPENDED = TRUE;",
                f"GRANT USAGE ON WAREHOUSE {name} TO ROLE {quote_ident(str(dominant.get('top_role')))};",
                f"-- then run pattern {dominant.get('pattern')} of {dominant.get('top_service')} on it (USE WAREHOUSE "
                "in its job or connection)",
            ]
            basis = (
                "≈ 0: the same work moves to its own warehouse (a second warehouse may add idle minutes); the gain is "
            )
            basis += "that the rest of the workload stops queueing behind it"
            title = f"Split {dominant.get('top_service')} off {warehouse}: it dominates a queueing warehouse"
            return self.rec("split_workload", warehouse, title, 0.0, basis, statements, findings, warehouse=warehouse)
        extra = queued_hours * credits_per_hour(size)
        statement = (  # MIN_CLUSTER_COUNT = 1 and SCALING_POLICY = STANDARD are the defaults: checked, not set
            f"-- today's max_cluster_count and scaling_policy: SHOW WAREHOUSES LIKE {quote_literal(warehouse)};\n"
            "-- one cluster more than today's max_cluster_count; 3 assumes 1 or 2 today:\n"
            f"ALTER WAREHOUSE {quote_ident(warehouse)} SET MAX_CLUSTER_COUNT = 3;\n"
            "-- only if scaling_policy is ECONOMY (it waits for 6 minutes of queued work before adding a cluster):\n"
            f"-- ALTER WAREHOUSE {quote_ident(warehouse)} SET SCALING_POLICY = 'STANDARD';"
        )
        basis = (
            f"negative, at most: one more cluster running for every 5-minute interval queries queued in "
            f"({queued_hours:,.1f} h) at the warehouse's rate ({size or 'size unknown'}); the gain is latency. "
            "Multi-cluster needs Enterprise edition."
        )
        title = f"Scale {warehouse} out (multi-cluster) instead of up: queries queue, they do not spill"
        return self.rec("scale_out", warehouse, title, -extra, basis, [statement], findings, warehouse=warehouse)

    def for_provisioning(self, warehouse: str, findings: Sequence[Finding]) -> dict[str, Any]:
        """A longer auto-suspend for a warehouse whose queries wait for it to resume."""
        statement = f"ALTER WAREHOUSE {quote_ident(warehouse)} SET AUTO_SUSPEND = 300;"
        basis = (
            "0 or below: a longer AUTO_SUSPEND keeps the warehouse (and its cache) warm between runs and may bill "
            "more idle minutes; each resume bills 60 s anyway. The gain is latency."
        )
        title = f"{warehouse}: queries wait for it to resume; suspend it less eagerly"
        return self.rec("auto_suspend_longer", warehouse, title, 0.0, basis, [statement], findings, warehouse=warehouse)
