"""Declared schemas of the rollups the sources push down and the store keeps.

A rollup is a per-bucket aggregate of one Snowflake view for one set of dimensions. Its measures
add up across buckets and series (sums and counts; ``max`` measures combine by max), which is what
makes any window an O(1) difference of cumulative sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sre_agent.engine.histogram import BUCKETS


class Combine(StrEnum):
    """How a measure combines across buckets and series."""

    SUM = "sum"
    MAX = "max"


@dataclass(frozen=True)
class Measure:
    """One aggregated column of a rollup."""

    name: str
    description: str
    integer: bool = True
    combine: Combine = Combine.SUM


@dataclass(frozen=True)
class RollupDef:
    """A rollup: which view it comes from, its grain, dimensions and measures."""

    name: str
    view: str
    grain: timedelta
    dims: tuple[str, ...]
    measures: tuple[Measure, ...]
    latency_horizon: timedelta
    """How late rows of the view can land (ACCOUNT_USAGE latency); younger buckets are incomplete."""
    histogram: bool = False
    description: str = ""

    @property
    def measure_names(self) -> tuple[str, ...]:
        """Names of the measures, in storage order."""
        return tuple(m.name for m in self.measures)

    def measure(self, name: str) -> Measure:
        """Return the measure called ``name``.

        Raises:
            KeyError: no such measure.
        """
        for m in self.measures:
            if m.name == name:
                return m
        raise KeyError(f"rollup {self.name} has no measure {name!r}")


HIST_COLUMNS = tuple(f"h{i:02d}" for i in range(BUCKETS))
"""Column names of the latency histogram buckets."""

_LATENCY = (
    Measure("elapsed_ms_sum", "TOTAL_ELAPSED_TIME of successful queries, ms"),
    Measure("elapsed_ms_max", "largest TOTAL_ELAPSED_TIME of a successful query, ms", combine=Combine.MAX),
    Measure("compilation_ms_sum", "COMPILATION_TIME, ms"),
    Measure("queued_provisioning_ms_sum", "QUEUED_PROVISIONING_TIME (warehouse resume/resize), ms"),
    Measure("queued_repair_ms_sum", "QUEUED_REPAIR_TIME, ms"),
    Measure("queued_overload_ms_sum", "QUEUED_OVERLOAD_TIME (warehouse saturated), ms"),
    Measure("blocked_ms_sum", "TRANSACTION_BLOCKED_TIME (locks), ms"),
    Measure("execution_ms_sum", "EXECUTION_TIME, ms"),
    Measure("list_files_ms_sum", "LIST_EXTERNAL_FILES_TIME (COPY from external stages), ms"),
)
"""Elapsed time and its phases: what the per-minute and the per-pattern query rollups share."""

QUERY = RollupDef(
    name="query",
    view="SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY",
    grain=timedelta(minutes=1),
    dims=("warehouse", "service", "domain"),
    latency_horizon=timedelta(minutes=45),
    histogram=True,
    description="Per minute (by END_TIME) per warehouse and service/domain (from the JSON QUERY_TAG).",
    measures=(
        Measure("queries", "queries that ended in the bucket (deduplicated on QUERY_ID)"),
        Measure("failed", "queries with EXECUTION_STATUS FAIL or INCIDENT"),
        Measure("cancelled", "failed queries whose ERROR_MESSAGE is 'SQL execution canceled'"),
        Measure("succeeded", "queries with EXECUTION_STATUS SUCCESS (the latency histogram counts these)"),
        *_LATENCY,
        Measure("queued_queries", "queries with QUEUED_OVERLOAD_TIME > 0"),
        Measure("bytes_scanned_sum", "BYTES_SCANNED"),
        Measure("cache_bytes_sum", "BYTES_SCANNED × PERCENTAGE_SCANNED_FROM_CACHE", integer=False),
        Measure("partitions_scanned_sum", "PARTITIONS_SCANNED"),
        Measure("partitions_total_sum", "PARTITIONS_TOTAL"),
        Measure("spill_local_bytes_sum", "BYTES_SPILLED_TO_LOCAL_STORAGE"),
        Measure("spill_remote_bytes_sum", "BYTES_SPILLED_TO_REMOTE_STORAGE"),
        Measure("spilled_queries", "queries that spilled to local or remote storage"),
        Measure("rows_produced_sum", "ROWS_PRODUCED"),
        Measure("cloud_services_credits_sum", "CREDITS_USED_CLOUD_SERVICES", integer=False),
    ),
)

QUERY_PATTERN = RollupDef(
    name="query_pattern",
    view="SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY",
    grain=timedelta(minutes=5),
    dims=("warehouse", "service", "domain", "pattern"),
    latency_horizon=timedelta(minutes=45),
    histogram=True,
    description="Per 5 minutes (by END_TIME) per warehouse and query pattern (QUERY_PARAMETERIZED_HASH), only "
    "buckets with enough successful queries (the volume filter of the pattern-scoped LatencyAnomaly rules). "
    "Polled only when such a rule exists.",
    measures=(
        Measure("queries", "queries that ended in the bucket (deduplicated on QUERY_ID)"),
        Measure("succeeded", "queries with EXECUTION_STATUS SUCCESS (the latency histogram counts these)"),
        *_LATENCY,
    ),
)

QUERY_COST = RollupDef(
    name="query_cost",
    view="SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY",
    grain=timedelta(hours=1),
    dims=("warehouse", "service", "domain", "pattern", "user", "role"),
    latency_horizon=timedelta(hours=6),
    description="Per hour per warehouse, service, domain, query pattern, user and role: execution time inside the "
    "hour (a query running across hours is split), for the hourly-share credit attribution; queries, failures, "
    "elapsed time and cloud services credits of the queries that ended in the hour. Polled when spec.cost is set.",
    measures=(
        Measure("exec_ms", "execution time inside the hour of queries run on a warehouse, ms"),
        Measure("queries", "queries that ended in the hour"),
        Measure("failed", "of those, queries with EXECUTION_STATUS FAIL or INCIDENT"),
        Measure("elapsed_ms", "TOTAL_ELAPSED_TIME of the queries that ended in the hour, ms"),
        Measure(
            "cloud_services_credits", "CREDITS_USED_CLOUD_SERVICES of the queries that ended in the hour", integer=False
        ),
    ),
)

WAREHOUSE_LOAD = RollupDef(
    name="warehouse_load",
    view="SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_LOAD_HISTORY",
    grain=timedelta(minutes=5),
    dims=("warehouse",),
    latency_horizon=timedelta(hours=3),
    description="The view's own 5-minute load averages per warehouse.",
    measures=(
        Measure("avg_running", "average running queries in the interval", integer=False),
        Measure("avg_queued_load", "average queries queued because the warehouse was overloaded", integer=False),
        Measure("avg_queued_provisioning", "average queries queued while provisioning", integer=False),
        Measure("avg_blocked", "average queries blocked by a transaction lock", integer=False),
    ),
)

WAREHOUSE_METERING = RollupDef(
    name="warehouse_metering",
    view="SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY",
    grain=timedelta(hours=1),
    dims=("warehouse",),
    latency_horizon=timedelta(hours=6),
    description="The view's own hourly credits per warehouse (cloud services before the 10 % adjustment).",
    measures=(
        Measure("credits_used", "compute + cloud services credits", integer=False),
        Measure("credits_used_compute", "warehouse compute credits", integer=False),
        Measure("credits_used_cloud_services", "cloud services credits, before adjustment", integer=False),
        Measure(
            "credits_attributed_compute_queries",
            "compute credits attributed to queries (no idle)",
            integer=False,
        ),
    ),
)

DATABASE_STORAGE = RollupDef(
    name="database_storage",
    view="SNOWFLAKE.ACCOUNT_USAGE.DATABASE_STORAGE_USAGE_HISTORY",
    grain=timedelta(days=1),
    dims=("database",),
    latency_horizon=timedelta(hours=3),
    description="The view's own daily average bytes per database (summed over days: byte-days, what storage is "
    "billed on). Polled when spec.cost is set.",
    measures=(
        Measure("database_bytes", "average bytes of the day, Time Travel included", integer=False),
        Measure("failsafe_bytes", "average Fail-safe bytes of the day", integer=False),
        Measure("hybrid_bytes", "average hybrid table bytes of the day", integer=False),
    ),
)

METERING_DAILY = RollupDef(
    name="metering_daily",
    view="SNOWFLAKE.ACCOUNT_USAGE.METERING_DAILY_HISTORY",
    grain=timedelta(days=1),
    dims=("service_type",),
    latency_horizon=timedelta(hours=12),
    description="The view's own daily credits per service type (UTC days): warehouses, and the serverless items "
    "(AUTO_CLUSTERING, MATERIALIZED_VIEW, PIPE, SEARCH_OPTIMIZATION, SERVERLESS_TASK…) with the cloud services "
    "adjustment and what was billed. Polled when spec.cost is set.",
    measures=(
        Measure("credits_used_compute", "compute credits", integer=False),
        Measure("credits_used_cloud_services", "cloud services credits, before adjustment", integer=False),
        Measure("credits_adjustment_cloud_services", "the daily 10 % adjustment (≤ 0)", integer=False),
        Measure("credits_billed", "credits billed: compute + cloud services + adjustment", integer=False),
    ),
)

SLO = RollupDef(
    name="slo",
    view="SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY",
    grain=timedelta(minutes=1),
    dims=("slo",),
    latency_horizon=timedelta(minutes=45),
    description="Per minute per SLO (name@definition-hash): good and total events pushed down with the SLO's "
    "filters, and the newest successful load for freshness SLIs.",
    measures=(
        Measure("good", "events the SLI counts as good"),
        Measure("total", "events the SLI counts"),
        Measure("last_ok", "end of the newest successful load in the minute (epoch s; 0 if none)", combine=Combine.MAX),
    ),
)

AZURE_METRIC = RollupDef(
    name="azure_metric",
    view="Azure Monitor platform metrics (metrics:getBatch)",
    grain=timedelta(minutes=1),
    dims=("resource", "metric"),
    latency_horizon=timedelta(minutes=10),
    description="Per minute per configured Azure resource and metric: the configured aggregation's value "
    "(e.g. Maximum of Stream Analytics OutputWatermarkDelaySeconds). Minutes without a value are absent.",
    measures=(
        Measure("value_sum", "the minute's value (summed when combined)", integer=False),
        Measure("samples", "minutes with a value"),
        Measure("value_max", "the minute's value (largest when combined)", integer=False, combine=Combine.MAX),
    ),
)

AZURE_COST = RollupDef(
    name="azure_cost",
    view="Azure Cost Management (query.usage, daily)",
    grain=timedelta(days=1),
    dims=("service", "resource_group", "tag", "currency"),
    latency_horizon=timedelta(days=3),
    description="Per UTC day: Azure cost at the configured scope per service, resource group and/or tag value (the "
    "ones in azure.cost.group_by; the others empty), in the billing currency. Recent days are restated.",
    measures=(Measure("cost", "cost in the billing currency", integer=False),),
)

ROLLUPS: dict[str, RollupDef] = {
    r.name: r
    for r in (
        QUERY,
        QUERY_PATTERN,
        QUERY_COST,
        WAREHOUSE_LOAD,
        WAREHOUSE_METERING,
        DATABASE_STORAGE,
        METERING_DAILY,
        SLO,
        AZURE_METRIC,
        AZURE_COST,
    )
}
"""Every rollup the agent knows, by name."""
