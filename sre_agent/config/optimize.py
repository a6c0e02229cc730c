"""``spec.reports.optimize``: the thresholds of the weekly query-optimization report, with documented defaults.

Every default cites where it comes from (reference/snowflake.md §6, the optimization heuristics table). SnowKill's
figures are from its example configuration, not recommendations; "proposed" defaults have no upstream source and
are ours. Override any of them in the agent config; unknown fields are errors at ``file:line:col``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from sre_agent.config.specs import Strict

SizeName = Literal["X-Small", "Small", "Medium", "Large", "X-Large", "2X-Large", "3X-Large", "4X-Large"]


class OptimizeThresholds(Strict):
    """When a query pattern or a warehouse becomes a finding of the optimization report."""

    remote_spill_gb_per_run: float = Field(
        default=1.0, gt=0, description="mean remote spill of the runs that spilled (heuristic #5: SnowKill > 1 GB)"
    )
    local_spill_gb_per_run: float = Field(
        default=10.0,
        gt=0,
        description="mean local spill of the runs that spilled (heuristic #6: SnowKill alerts on a single query at "
        "50 GB; a weekly ranking looks at patterns earlier, so 10 GB — local spill is the lower severity)",
    )
    pruning_scan_ratio: float = Field(
        default=0.8, gt=0, le=1, description="partitions scanned / total above this is poor pruning (#7, proposed)"
    )
    pruning_min_partitions: int = Field(
        default=1000, ge=0, description="…only for tables with more partitions per run than this (#7, proposed)"
    )
    pruning_min_elapsed_s: float = Field(
        default=60.0, ge=0, description="…and runs slower than this on average (#7, proposed)"
    )
    queued_overload_share: float = Field(
        default=0.1, gt=0, le=1, description="queued-overload time as a share of elapsed time of a pattern (#2)"
    )
    avg_queued_load: float = Field(
        default=0.0,
        ge=0,
        description="a warehouse whose mean WAREHOUSE_LOAD avg_queued_load on some day exceeds this queues "
        "(#2: the docs flag any day with queued load > 0)",
    )
    provisioning_p95_s: float = Field(
        default=5.0, gt=0, description="p95 queued-provisioning wait of a pattern (#3, proposed)"
    )
    join_output_rows: int = Field(
        default=10_000_000, gt=0, description="a join emitting more rows than this… (#8: SnowKill > 10 M)"
    )
    join_ratio: float = Field(default=10.0, gt=1, description="…and this many times its input rows explodes (#8)")
    rows_growth: float = Field(
        default=10.0,
        gt=1,
        description="rows produced per run on a day this many times the pattern's median of its other days: the "
        "join evidence available without operator statistics (#8)",
    )
    latency_regression: float = Field(
        default=2.0, gt=1, description="p95 of the last day over the median of the earlier days' p95 (#15, proposed)"
    )
    repeat_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="share of runs repeating an identical QUERY_HASH while scanning bytes (result cache not used)",
    )
    repeat_min_runs: int = Field(default=100, ge=1, description="…with at least this many repeated runs")
    idle_share: float = Field(
        default=0.3,
        gt=0,
        le=1,
        # Snowflake's own insight fires at 50 % idle; the cost report already recommends AUTO_SUSPEND from 30 %
        # because idle credits buy nothing and AUTO_SUSPEND = 60 s is cheap to try and to undo. One default for
        # both reports, so they never disagree about the same warehouse.
        description="idle compute over total compute of a warehouse (#16; the cost report's default)",
    )
    oversized_exec_s: float = Field(
        default=5.0, gt=0, description="mean execution time under this on a large warehouse is oversized (#23)"
    )
    oversized_min_size: SizeName = Field(
        default="Large", description="…only for warehouses this size or larger (#23, proposed: ≥ Large)"
    )
    failing_per_day: float = Field(
        default=3.0, gt=0, description="failed runs per day of a pattern that costs credits (#21, proposed)"
    )
    qas_scan_gb_per_run: float = Field(
        default=10.0, gt=0, description="query acceleration: mean bytes scanned per run (large scans, §7; #11)"
    )
    qas_outlier_ratio: float = Field(default=5.0, gt=1, description="…and p95 over p50 elapsed (outliers, §7)")
    mv_min_runs_per_week: int = Field(
        default=100,
        ge=1,
        description="a materialized view pays off for an aggregation run this often (#22: MVs queried < 10/week "
        "are flagged as wasted; proposed 10× that)",
    )
    saving_floor_credits_per_week: float = Field(
        default=1.0,
        ge=0,
        description="recommendations saving less than this many credits a week (and those that buy latency with "
        "credits) are listed in the report's 'Smaller items' appendix, not among the ranked changes (proposed: a "
        "credit a week is a few dollars, less than the review of the change costs)",
    )
    incident_change_factor: float = Field(
        default=2.0,
        gt=1,
        description="a pattern's figure (credits, failures or elapsed time per run, rows or spill per run, p95) or "
        "a warehouse's credits per hour inside an incident's window at least this many times its level outside it "
        "link its recommendations to the incident (proposed, like latency_regression)",
    )
    operator_stats_max: int = Field(
        default=5, ge=0, le=20, description="operator statistics are fetched for at most this many patterns"
    )
    max_patterns: int = Field(
        default=500, ge=10, le=10_000, description="query patterns read from QUERY_HISTORY (by total elapsed time)"
    )

    @model_validator(mode="after")
    def _spill_order(self) -> OptimizeThresholds:
        if self.remote_spill_gb_per_run > self.local_spill_gb_per_run:
            raise ValueError(
                "remote_spill_gb_per_run must not exceed local_spill_gb_per_run (remote spill is the worse one)"
            )
        return self


class ReportSettings(Strict):
    """Settings of the reports the agent writes: where, when, and the optimization thresholds."""

    dir: Path = Field(default=Path("reports"), description="folder the daemon writes reports to (relative: config)")
    weekly_optimize: bool = Field(
        default=True, description="the daemon writes the optimization report of the past week every Monday"
    )
    monthly: bool = Field(default=True, description="the daemon writes last month's SLO and cost reports on the 1st")
    postmortems: bool = Field(default=True, description="the daemon drafts a post-mortem when an incident resolves")
    hour: int = Field(
        default=6, ge=0, le=23, description="scheduled reports are written from this hour (spec.cost.time_zone, or UTC)"
    )
    optimize: OptimizeThresholds = Field(default_factory=OptimizeThresholds)
