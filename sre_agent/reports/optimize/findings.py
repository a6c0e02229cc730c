"""Findings of the optimization report: which thresholds a query pattern or a warehouse crossed, with the numbers.

Pure functions over one pattern's aggregate row (the ``optimize_pattern_stats`` statement plus its attributed
credits), its per-day rows, a warehouse's load, and the rows of ``GET_QUERY_OPERATOR_STATS``. Every finding carries
its value, the threshold that fired and the evidence behind it (reference/snowflake.md §6).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sre_agent.config.optimize import OptimizeThresholds

GB = 1e9
"""Bytes per GB as the report shows spill and scans (decimal, as Snowsight does)."""


@dataclass(frozen=True)
class Finding:
    """One crossed threshold: what, about which pattern or warehouse, by how much, and why we believe it."""

    kind: str
    subject: str
    """The query pattern (parameterized hash) or the warehouse."""
    title: str
    value: float
    threshold: float
    unit: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready record."""
        return {
            "kind": self.kind,
            "subject": self.subject,
            "title": self.title,
            "value": self.value,
            "threshold": self.threshold,
            "unit": self.unit,
            "evidence": self.evidence,
        }


def _f(row: Mapping[str, Any], key: str) -> float:
    value = row.get(key)
    return 0.0 if value is None else float(value)


def _per(total: float, count: float) -> float:
    return total / count if count > 0 else 0.0


def spill_findings(p: Mapping[str, Any], t: OptimizeThresholds) -> list[Finding]:
    """Remote and local spill per spilling run above their thresholds (#5, #6)."""
    out = []
    for where, limit in (("remote", t.remote_spill_gb_per_run), ("local", t.local_spill_gb_per_run)):
        runs = _f(p, f"{where}_spill_runs")
        per_run = _per(_f(p, f"spill_{where}_bytes_sum"), runs) / GB
        if per_run > limit:
            out.append(
                Finding(
                    f"{where}_spill",
                    str(p["pattern"]),
                    f"{per_run:,.1f} GB spilled to {where} storage per spilling run ({int(runs)} runs)",
                    round(per_run, 3),
                    limit,
                    "GB/run",
                    {
                        "spilling_runs": int(runs),
                        "runs": int(_f(p, "runs")),
                        "spilled_gb": _f(p, f"spill_{where}_bytes_sum") / GB,
                    },
                )
            )
    return out


def pruning_finding(p: Mapping[str, Any], t: OptimizeThresholds) -> Finding | None:
    """Partitions scanned close to the total on big tables by slow runs (#7)."""
    runs = _f(p, "runs")
    total = _f(p, "partitions_total_sum")
    ratio = _per(_f(p, "partitions_scanned_sum"), total)
    per_run_total = _per(total, runs)
    mean_s = _per(_f(p, "elapsed_ms_sum"), runs) / 1000
    if ratio > t.pruning_scan_ratio and per_run_total > t.pruning_min_partitions and mean_s > t.pruning_min_elapsed_s:
        return Finding(
            "poor_pruning",
            str(p["pattern"]),
            f"scans {ratio:.0%} of {per_run_total:,.0f} partitions per run, {mean_s:,.0f} s per run",
            round(ratio, 4),
            t.pruning_scan_ratio,
            "scanned/total",
            {
                "partitions_total_per_run": round(per_run_total),
                "mean_elapsed_s": round(mean_s, 1),
                "min_partitions": t.pruning_min_partitions,
                "min_elapsed_s": t.pruning_min_elapsed_s,
            },
        )
    return None


def wait_findings(p: Mapping[str, Any], t: OptimizeThresholds) -> list[Finding]:
    """Queued-overload share of elapsed time (#2) and the p95 provisioning wait (#3) of a pattern."""
    out = []
    share = _per(_f(p, "queued_overload_ms_sum"), _f(p, "elapsed_ms_sum"))
    if share > t.queued_overload_share:
        out.append(
            Finding(
                "queueing",
                str(p["pattern"]),
                f"{share:.0%} of its elapsed time queued behind other queries on {p.get('top_warehouse')}",
                round(share, 4),
                t.queued_overload_share,
                "share of elapsed",
                {
                    "queued_overload_hours": round(_f(p, "queued_overload_ms_sum") / 3.6e6, 3),
                    "warehouse": p.get("top_warehouse"),
                },
            )
        )
    p95 = _f(p, "p95_provisioning_ms") / 1000
    if p95 > t.provisioning_p95_s:
        out.append(
            Finding(
                "provisioning",
                str(p["pattern"]),
                f"p95 wait for {p.get('top_warehouse')} to resume or resize: {p95:,.1f} s",
                round(p95, 3),
                t.provisioning_p95_s,
                "s (p95)",
                {"warehouse": p.get("top_warehouse")},
            )
        )
    return out


def repeat_finding(p: Mapping[str, Any], t: OptimizeThresholds) -> Finding | None:
    """Identical queries (same QUERY_HASH) re-run and scanning again: the result cache did not serve them."""
    runs = _f(p, "runs")
    repeated = _f(p, "repeated_scanning_runs")
    share = _per(repeated, runs)
    if share > t.repeat_share and repeated >= t.repeat_min_runs:
        return Finding(
            "repeated_work",
            str(p["pattern"]),
            f"{int(repeated):,} of {int(runs):,} runs repeated an identical query and scanned again",
            round(share, 4),
            t.repeat_share,
            "share of runs",
            {
                "repeated_runs": int(repeated),
                "distinct_queries": int(_f(p, "distinct_hashes")),
                "min_repeated_runs": t.repeat_min_runs,
            },
        )
    return None


def failing_finding(p: Mapping[str, Any], t: OptimizeThresholds) -> Finding | None:
    """A pattern that fails at least ``failing_per_day`` times per active day and costs credits (#21)."""
    failed = _f(p, "failed_runs")
    per_day = _per(failed, max(1.0, _f(p, "days_active")))
    if per_day >= t.failing_per_day and _f(p, "credits") > 0:
        return Finding(
            "failing",
            str(p["pattern"]),
            f"fails {per_day:,.1f} times a day ({int(failed)} of {int(_f(p, 'runs'))} runs)",
            round(per_day, 3),
            t.failing_per_day,
            "fails/day",
            {"failed_runs": int(failed), "days_active": int(_f(p, "days_active")), "credits": _f(p, "credits")},
        )
    return None


def day_findings(pattern: str, days: Sequence[Mapping[str, Any]], t: OptimizeThresholds) -> list[Finding]:
    """Latency regression of the last day (#15) and the day whose rows per run jumped (a join multiplying rows)."""
    rows = sorted(days, key=lambda d: str(d["day"]))
    out: list[Finding] = []
    if len(rows) >= 2:
        earlier = statistics.median(_f(d, "p95_elapsed_ms") for d in rows[:-1])
        last = _f(rows[-1], "p95_elapsed_ms")
        if earlier > 0 and last / earlier > t.latency_regression:
            out.append(
                Finding(
                    "latency_regression",
                    pattern,
                    f"p95 {last / 1000:,.1f} s on {rows[-1]['day']} against a median of {earlier / 1000:,.1f} s",
                    round(last / earlier, 3),
                    t.latency_regression,
                    "× earlier median",
                    {
                        "day": str(rows[-1]["day"]),
                        "p95_ms": last,
                        "baseline_p95_ms": earlier,
                        "baseline_days": len(rows) - 1,
                    },
                )
            )
    per_run = [(str(d["day"]), _per(_f(d, "rows_produced_sum"), _f(d, "runs"))) for d in rows if _f(d, "runs") > 0]
    worst: tuple[float, str, float, float] | None = None
    for i, (day, value) in enumerate(per_run):
        others = [v for j, (_, v) in enumerate(per_run) if j != i]
        base = statistics.median(others) if others else 0.0
        if base > 0 and (worst is None or value / base > worst[0]):
            worst = (value / base, day, value, base)
    if worst is not None and worst[0] > t.rows_growth:
        ratio, day, value, base = worst
        out.append(
            Finding(
                "rows_explosion",
                pattern,
                f"{value:,.0f} rows per run on {day}, {ratio:,.0f}× its other days ({base:,.0f}): a join multiplying "
                "rows",
                round(ratio, 3),
                t.rows_growth,
                "× other days",
                {
                    "day": day,
                    "rows_per_run": round(value, 1),
                    "baseline_rows_per_run": round(base, 1),
                    "baseline_days": len(per_run) - 1,
                },
            )
        )
    return out


def pattern_findings(p: Mapping[str, Any], days: Sequence[Mapping[str, Any]], t: OptimizeThresholds) -> list[Finding]:
    """Every finding of one query pattern."""
    out = spill_findings(p, t) + wait_findings(p, t) + day_findings(str(p["pattern"]), days, t)
    out += [f for f in (pruning_finding(p, t), repeat_finding(p, t), failing_finding(p, t)) if f is not None]
    return out


def queued_load_finding(warehouse: str, daily: Mapping[str, float], t: OptimizeThresholds) -> Finding | None:
    """A warehouse whose mean WAREHOUSE_LOAD avg_queued_load exceeded the threshold on some day (#2)."""
    busy = {day: load for day, load in daily.items() if load > t.avg_queued_load}
    if not busy:
        return None
    worst = max(busy, key=lambda d: busy[d])
    return Finding(
        "warehouse_queueing",
        warehouse,
        f"queries queued for lack of capacity on {len(busy)} day(s); worst {worst}: {busy[worst]:.3f} queued on "
        "average",
        round(busy[worst], 4),
        t.avg_queued_load,
        "avg queued load",
        {"days_queued": sorted(busy), "worst_day": worst},
    )


@dataclass(frozen=True)
class OperatorFinding:
    """A join the operator statistics show exploding, or a Cartesian join."""

    kind: str
    """``exploding_join`` or ``cartesian_join``."""
    step_id: int
    operator_id: int
    operator_type: str
    input_rows: int
    output_rows: int
    condition: str
    """The equality and additional join conditions as Snowflake reports them (may hold literals: redact to show)."""

    @property
    def ratio(self) -> float:
        """Output rows per input row."""
        return self.output_rows / self.input_rows if self.input_rows else float(self.output_rows)


def _variant(value: Any) -> dict[str, Any]:
    """A VARIANT column as the connector returns it (JSON text or already a dict)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip():
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def operator_findings(rows: Sequence[Mapping[str, Any]], t: OptimizeThresholds) -> list[OperatorFinding]:
    """Exploding joins (output > ``join_output_rows`` and output/input > ``join_ratio``) and Cartesian joins among
    the rows of ``GET_QUERY_OPERATOR_STATS`` (column names in any case)."""
    out = []
    for raw in rows:
        row = {str(k).lower(): v for k, v in raw.items()}
        kind = str(row.get("operator_type") or "")
        if "join" not in kind.lower():
            continue
        stats = _variant(row.get("operator_statistics"))
        attrs = _variant(row.get("operator_attributes"))
        inputs, outputs = int(stats.get("input_rows") or 0), int(stats.get("output_rows") or 0)
        parts = [str(attrs[k]) for k in ("equality_join_condition", "additional_join_condition") if attrs.get(k)]
        condition = " AND ".join(parts)
        step, op = int(row.get("step_id") or 0), int(row.get("operator_id") or 0)
        if kind == "CartesianJoin":
            out.append(OperatorFinding("cartesian_join", step, op, kind, inputs, outputs, condition))
        elif outputs > t.join_output_rows and outputs > t.join_ratio * max(inputs, 1):
            out.append(OperatorFinding("exploding_join", step, op, kind, inputs, outputs, condition))
    return out
