"""Hourly-share credit attribution: every metered warehouse credit lands on the queries that ran in its hour.

The method of dbt-snowflake-monitoring's ``cost_per_query`` (reference: snowflake.md §5). A warehouse-hour's
compute credits (WAREHOUSE_METERING_HISTORY) are split over the series of the ``query_cost`` rollup by their
share of execution time inside that hour (queueing, compilation, provisioning and file listing excluded), so
idle time within the hour is spread over the queries that ran in it; hours metered with no execution at all
stay unattributed idle. Cloud services are billed per day only above 10 % of that day's compute: the billable
part is split by each series' own cloud services credits.

Amounts are allocated in integer nano-credits (Snowflake keeps credits as NUMBER(38, 9)) with the
largest-remainder method, so attributed + unattributed equals metered **exactly**, hour by hour.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

NANO = 1_000_000_000
"""Nano-credits per credit: the precision of Snowflake's credit columns."""
CLOUD_SERVICES_FREE = 0.10
"""Cloud services are free up to this share of the day's warehouse compute."""
DAY_S = 86_400
HOUR_S = 3_600
TIB = 1024**4
"""Bytes per TB as storage is priced (binary, as Snowflake's own storage cost queries divide)."""
USAGE_DIMS = ("warehouse", "service", "domain", "pattern", "user", "role")
UNTAGGED = "(untagged)"


@dataclass
class Attribution:
    """Credits per usage series and hour, what stayed unattributed, and the totals they reconcile to."""

    rows: pl.DataFrame
    """bucket, the usage dims, exec_ms, queries, failed, elapsed_ms, compute_nano, cloud_services_nano."""
    idle: pl.DataFrame
    """bucket, warehouse, compute_nano: metered hours without any execution (nobody to charge)."""
    unmetered: pl.DataFrame
    """bucket, warehouse, exec_ms: hours with execution but no metering row yet (shown as gaps, not zeros)."""
    warehouse_idle: pl.DataFrame
    """bucket, warehouse, idle_nano: Snowflake's own idle estimate (compute − credits_attributed_compute_queries)."""
    daily_cloud_services: pl.DataFrame
    """day (epoch s, UTC), used_nano, compute_nano, billable_nano, attributed_nano."""
    metered_compute_nano: int
    metered_cloud_services_billable_nano: int

    def reconcile(self) -> dict[str, int]:
        """Attributed + unattributed against metered, per kind (nano-credits; the differences must be 0)."""
        attributed = int(self.rows["compute_nano"].sum()) if self.rows.height else 0
        idle = int(self.idle["compute_nano"].sum()) if self.idle.height else 0
        cs_attributed = (
            int(self.daily_cloud_services["attributed_nano"].sum()) if self.daily_cloud_services.height else 0
        )
        cs_unattributed = self.metered_cloud_services_billable_nano - cs_attributed
        return {
            "compute_metered": self.metered_compute_nano,
            "compute_attributed": attributed,
            "compute_idle_unattributed": idle,
            "compute_difference": self.metered_compute_nano - attributed - idle,
            "cloud_services_billable": self.metered_cloud_services_billable_nano,
            "cloud_services_attributed": cs_attributed,
            "cloud_services_unattributed": cs_unattributed,
        }


def _nano(column: str) -> pl.Expr:
    return (pl.col(column).cast(pl.Float64).fill_null(0.0) * NANO).round(0).cast(pl.Int64)


def allocate(frame: pl.DataFrame, group: list[str], total: str, weight: str, out: str) -> pl.DataFrame:
    """Split the integer ``total`` of each ``group`` over its rows by ``weight`` (largest remainder: exact).

    A group without weight, or without a total, gets 0 on every row (nothing ran to charge, or nothing to split).
    """
    if frame.is_empty():
        return frame.with_columns(pl.lit(0, dtype=pl.Int64).alias(out))
    weights = pl.col(weight).cast(pl.Float64).fill_null(0.0)
    payable = (weights.sum().over(group) > 0) & pl.col(total).is_not_null()
    share = pl.when(payable).then(pl.col(total).cast(pl.Float64) * weights / weights.sum().over(group)).otherwise(0.0)
    staged = frame.with_columns(share.alias("_x")).with_columns(
        pl.col("_x").floor().cast(pl.Int64).alias("_base"),
        (pl.col("_x") - pl.col("_x").floor()).alias("_frac"),
    )
    staged = staged.with_columns(
        pl.when(payable).then(pl.col(total) - pl.col("_base").sum().over(group)).otherwise(0).alias("_left"),
        pl.col("_frac").rank("ordinal", descending=True).over(group).alias("_rank"),
    )
    bump = (pl.col("_rank") <= pl.col("_left")).cast(pl.Int64)
    return staged.with_columns((pl.col("_base") + bump).alias(out)).drop("_x", "_base", "_frac", "_left", "_rank")


def with_domains(usage: pl.DataFrame, warehouse_domains: dict[str, str]) -> pl.DataFrame:
    """Fill the domain of untagged usage from the configured warehouse → domain map."""
    if not warehouse_domains or usage.is_empty():
        return usage
    mapped = pl.col("warehouse").replace_strict(warehouse_domains, default=None, return_dtype=pl.String)
    untagged = pl.col("domain") == UNTAGGED
    filled = pl.when(untagged & mapped.is_not_null()).then(mapped).otherwise(pl.col("domain"))
    return usage.with_columns(filled.alias("domain"))


def attribute(
    usage: pl.DataFrame,
    metering: pl.DataFrame,
    warehouse_domains: dict[str, str] | None = None,
    complete_before: int | None = None,
) -> Attribution:
    """Attribute ``metering`` (bucket, warehouse, credits_used_compute, credits_used_cloud_services,
    credits_attributed_compute_queries) to ``usage`` (the query_cost rollup: bucket, dims, exec_ms, queries, failed,
    elapsed_ms, cloud_services_credits), hour by hour and day by day. Hours ending after ``complete_before`` (the
    metering view's landing horizon) are marked ``partial``: their figures may still grow."""
    usage = with_domains(usage, warehouse_domains or {})
    meter = metering.select(
        pl.col("bucket").cast(pl.Int64),
        pl.col("warehouse").cast(pl.String),
        _nano("credits_used_compute").alias("compute_nano"),
        _nano("credits_used_cloud_services").alias("cs_nano"),
        (_nano("credits_used_compute") - _nano("credits_attributed_compute_queries")).clip(0).alias("idle_nano"),
    )
    hours = usage.group_by("bucket", "warehouse").agg(pl.col("exec_ms").sum().alias("hour_ms"))
    rows = usage.join(hours, on=["bucket", "warehouse"], how="left").join(
        meter.select("bucket", "warehouse", "compute_nano"), on=["bucket", "warehouse"], how="left"
    )
    rows = allocate(rows, ["bucket", "warehouse"], "compute_nano", "exec_ms", "compute_share")
    rows = rows.drop("compute_nano", "hour_ms").rename({"compute_share": "compute_nano"})
    ran = hours.filter(pl.col("hour_ms") > 0).select("bucket", "warehouse")
    idle = meter.join(ran, on=["bucket", "warehouse"], how="anti").filter(pl.col("compute_nano") > 0)
    unmetered = hours.filter(pl.col("hour_ms") > 0).join(meter, on=["bucket", "warehouse"], how="anti")

    # Cloud services: billable above 10 % of the day's compute (UTC days), split by the queries' own credits.
    day = (pl.col("bucket") // DAY_S * DAY_S).alias("day")
    daily = meter.group_by(day).agg(
        pl.col("cs_nano").sum().alias("used_nano"), pl.col("compute_nano").sum().alias("day_compute_nano")
    )
    free = (pl.col("day_compute_nano").cast(pl.Float64) * CLOUD_SERVICES_FREE).round(0).cast(pl.Int64)
    daily = daily.with_columns((pl.col("used_nano") - free).clip(0).alias("billable_nano"))
    rows = rows.with_columns(day, _nano("cloud_services_credits").alias("cs_weight"))
    rows = rows.join(daily.select("day", "billable_nano"), on="day", how="left").with_columns(
        pl.col("billable_nano").fill_null(0)
    )
    rows = allocate(rows, ["day"], "billable_nano", "cs_weight", "cloud_services_nano")
    rows = rows.drop("cs_weight", "billable_nano")
    attributed_cs = rows.group_by("day").agg(pl.col("cloud_services_nano").sum().alias("attributed_nano"))
    daily = (
        daily.join(attributed_cs, on="day", how="left")
        .with_columns(pl.col("attributed_nano").fill_null(0))
        .rename({"day_compute_nano": "compute_nano"})
        .sort("day")
    )
    partial = (pl.col("bucket") + HOUR_S > complete_before) if complete_before is not None else pl.lit(False)
    return Attribution(
        rows=rows.drop("day").with_columns(partial.alias("partial")).sort("bucket", *USAGE_DIMS),
        idle=idle.select("bucket", "warehouse", "compute_nano", partial.alias("partial")).sort("bucket", "warehouse"),
        unmetered=unmetered.rename({"hour_ms": "exec_ms"}).sort("bucket", "warehouse"),
        warehouse_idle=meter.select("bucket", "warehouse", "idle_nano").sort("bucket", "warehouse"),
        daily_cloud_services=daily,
        metered_compute_nano=int(meter["compute_nano"].sum()) if meter.height else 0,
        metered_cloud_services_billable_nano=int(daily["billable_nano"].sum()) if daily.height else 0,
    )


def storage_cost(storage: pl.DataFrame, price_per_tb_month: float | None) -> pl.DataFrame:
    """Per day and database of the ``database_storage`` rollup: TB stored (database incl. Time Travel, Fail-safe,
    hybrid tables) and, with a price, the day's share of the month's bill — TB × price ÷ days in that month
    (storage is billed on the month's average of daily bytes). Without a price the cost column is null."""
    tb = (pl.col("database_bytes") + pl.col("failsafe_bytes") + pl.col("hybrid_bytes")) / TIB
    day = pl.from_epoch(pl.col("bucket"), time_unit="s")
    days_in_month = day.dt.month_end().dt.day().cast(pl.Float64)
    cost = tb * price_per_tb_month / days_in_month if price_per_tb_month is not None else pl.lit(None, pl.Float64)
    return storage.select(pl.col("bucket").cast(pl.Int64), pl.col("database"), tb.alias("tb"), cost.alias("cost")).sort(
        "bucket", "database"
    )


def billed_credits(metering: pl.DataFrame) -> pl.DataFrame:
    """Per hour and warehouse of the metering rollup: compute plus the *billed* part of cloud services.

    Cloud services are billed per UTC day above 10 % of that day's compute; each warehouse-hour carries the
    day's billed share of its own cloud services, so warehouses sum to the account's bill. Days still landing
    get the share of what has landed so far. Columns: bucket, warehouse, credits, compute, idle.
    """
    if metering.is_empty():
        schema = {"bucket": pl.Int64, "warehouse": pl.String, "credits": pl.Float64, "compute": pl.Float64}
        return pl.DataFrame(schema={**schema, "idle": pl.Float64})
    meter = metering.select(
        pl.col("bucket").cast(pl.Int64),
        pl.col("warehouse").cast(pl.String),
        pl.col("credits_used_compute").cast(pl.Float64).fill_null(0.0).alias("compute"),
        pl.col("credits_used_cloud_services").cast(pl.Float64).fill_null(0.0).alias("cs"),
        (pl.col("credits_used_compute") - pl.col("credits_attributed_compute_queries"))
        .cast(pl.Float64)
        .fill_null(0.0)
        .clip(0.0)
        .alias("idle"),
    ).with_columns((pl.col("bucket") // DAY_S).alias("_day"))
    used = pl.col("cs").sum().over("_day")
    free = pl.col("compute").sum().over("_day") * CLOUD_SERVICES_FREE
    share = pl.when(used > 0).then(((used - free).clip(0.0)) / used).otherwise(0.0)
    return meter.select(
        "bucket", "warehouse", (pl.col("compute") + pl.col("cs") * share).alias("credits"), "compute", "idle"
    ).sort("bucket", "warehouse")
