"""The cost report's figures for one calendar month, read from the state store (never from Snowflake directly).

Spend is WAREHOUSE_METERING_HISTORY's compute plus the billed part of cloud services (above 10 % of the UTC day's
compute), per local day of ``spec.cost.time_zone``; attribution to query patterns, users, roles, services and
domains is the hourly-share method of :mod:`sre_agent.engine.cost`, so every table sums to the same metered total
(the part no query can carry is listed as idle or unattributed, never dropped). Days metering has not covered are
gaps, not zeros. Budgets are judged as the daemon judges them, at the newest landed hour.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from sre_agent.config.cost import CostSettings
from sre_agent.config.loader import LoadedConfig
from sre_agent.daemon.evaluate_budget import (
    metering_frontier,
)
from sre_agent.engine.budget import DAY
from sre_agent.engine.cost import NANO, UNTAGGED, Attribution, attribute, billed_credits, storage_cost
from sre_agent.engine.rollups import (
    AZURE_COST,
    DATABASE_STORAGE,
    METERING_DAILY,
    QUERY_COST,
    WAREHOUSE_METERING,
)
from sre_agent.engine.threshold import DataView
from sre_agent.errors import UsageError
from sre_agent.figures.spend import idle_shares
from sre_agent.model import iso
from sre_agent.reports.cost.actions import recommendations
from sre_agent.reports.cost.budget_rows import budget_rows
from sre_agent.reports.cost.model import SERVERLESS, UNATTRIBUTED, CostReport
from sre_agent.reports.cost.reconcile import reconciliation
from sre_agent.reports.cost.views import view
from sre_agent.reports.periods import parse_period
from sre_agent.store import pattern_names
from sre_agent.store.rollups import RollupStore
from sre_agent.store.watermarks import Watermarks


def data_frontier(rollups: RollupStore, watermarks: Watermarks) -> int | None:
    """End (epoch s) of the hours whose metering has landed for every running warehouse: how far attributed cost
    goes (None: metering never polled)."""
    return metering_frontier(rollups, view(watermarks, WAREHOUSE_METERING))


def attributed_usage(
    rollups: RollupStore, watermarks: Watermarks, cost: CostSettings, lo: int, hi: int
) -> tuple[pl.DataFrame, pl.DataFrame, Attribution]:
    """The metering and ``query_cost`` rollups of ``[lo, hi)`` and their hourly-share attribution (hours after the
    metering view's complete horizon marked partial)."""
    complete = view(watermarks, WAREHOUSE_METERING).complete_before
    metering = rollups.load(WAREHOUSE_METERING, lo, hi).drop("observed_at")
    usage = rollups.load(QUERY_COST, lo, hi).drop("observed_at")
    return metering, usage, attribute(usage, metering, cost.warehouse_domains, complete_before=complete)


def with_credits(rows: pl.DataFrame) -> pl.DataFrame:
    """Attributed usage rows with ``credits``: their compute plus billed cloud services."""
    return rows.with_columns(((pl.col("compute_nano") + pl.col("cloud_services_nano")) / NANO).alias("credits"))


def _local_day(tz: ZoneInfo) -> pl.Expr:
    return pl.from_epoch(pl.col("bucket"), time_unit="s").dt.convert_time_zone(tz.key).dt.date().alias("day")


def _ranked(rows: pl.DataFrame, by: str, price: float | None) -> pl.DataFrame:
    """Attributed credits, queries, failures and execution hours per ``by`` value, most expensive first."""
    if rows.is_empty():
        return pl.DataFrame(schema={by: pl.String, "credits": pl.Float64, "queries": pl.Int64})
    out = rows.group_by(by).agg(
        pl.col("credits").sum(),
        pl.col("queries").sum().cast(pl.Int64),
        pl.col("failed").sum().cast(pl.Int64),
        (pl.col("exec_ms").sum() / 3_600_000).alias("exec_hours"),
    )
    out = out.with_columns(
        (pl.col("credits") * (price if price is not None else float("nan"))).alias("cost"),
        (pl.col("credits") / pl.col("queries").clip(1) * 1000).alias("credits_per_1k_queries"),
    )
    return out.sort("credits", descending=True)


def _named(patterns: pl.DataFrame, known: dict[str, pattern_names.PatternName]) -> pl.DataFrame:
    """``patterns`` with ``name``: "service · first tables (hash)" from what the optimization report recorded, else
    "service · warehouses (hash)" from the cost rollup."""
    if patterns.is_empty():
        return patterns.with_columns(pl.lit(None, pl.String).alias("name"))
    names = []
    for row in patterns.iter_rows(named=True):
        named = known.get(row["pattern"]) or pattern_names.fallback(
            row["pattern"], row.get("top_service"), row.get("warehouses")
        )
        names.append(named.text())
    return patterns.with_columns(pl.Series("name", names, dtype=pl.String))


def _owners(rows: pl.DataFrame) -> pl.DataFrame:
    """Per pattern: the service, user and role that carried most of its credits, and the warehouses it ran on."""
    if rows.is_empty():
        return pl.DataFrame(schema={"pattern": pl.String})
    parts = []
    for by in ("service", "user", "role", "domain"):
        top = (
            rows.group_by("pattern", by)
            .agg(pl.col("credits").sum())
            .sort("credits", descending=True)
            .unique("pattern", keep="first")
            .select("pattern", pl.col(by).alias(f"top_{by}"))
        )
        parts.append(top)
    warehouses = rows.group_by("pattern").agg(pl.col("warehouse").unique().sort().str.join(",").alias("warehouses"))
    out = warehouses
    for part in parts:
        out = out.join(part, on="pattern", how="left")
    return out


def build_cost_report(
    loaded: LoadedConfig,
    rollups: RollupStore,
    watermarks: Watermarks,
    period: str | None = None,
    now: datetime | None = None,
) -> CostReport:
    """The report for ``period`` (``YYYY-MM``; default: the month of the newest metered hour); ``now`` is the
    clock periods are checked against (a replay passes its simulated time).

    Raises:
        UsageError: a malformed or future period, or a config without ``spec.cost``.
    """
    cost = loaded.config.spec.cost
    if cost is None:
        raise UsageError("the cost report needs spec.cost in the agent config (prices, time zone, domain owners)")
    tz = ZoneInfo(cost.time_zone)
    price = float(cost.credit_price) if cost.credit_price is not None else None
    meter_view = view(watermarks, WAREHOUSE_METERING)
    frontier = metering_frontier(rollups, meter_view)
    now = now or datetime.now(UTC)
    start, end, label = parse_period(period, tz, datetime.fromtimestamp(frontier, UTC) if frontier else now, now)
    lo, hi = int(start.timestamp()), int(end.timestamp())
    until = min(hi, frontier) if frontier is not None else lo
    metering, usage, att = attributed_usage(rollups, watermarks, cost, lo, hi)
    billed = billed_credits(metering).with_columns(_local_day(tz))
    notes: list[str] = []

    daily_warehouse = (
        billed.group_by("day", "warehouse").agg(pl.col("credits").sum()).sort("day", "warehouse")
        if billed.height
        else pl.DataFrame(schema={"day": pl.Date, "warehouse": pl.String, "credits": pl.Float64})
    )
    rows = with_credits(att.rows).with_columns(_local_day(tz))
    idle = att.idle.with_columns(
        (pl.col("compute_nano") / NANO).alias("credits"),
        pl.col("warehouse").replace_strict(cost.warehouse_domains, default=UNTAGGED).alias("domain"),
        _local_day(tz),
    )
    by_domain = pl.concat(
        [rows.select("day", "domain", "credits"), idle.select("day", "domain", "credits")], how="vertical"
    )
    daily_domain = by_domain.group_by("day", "domain").agg(pl.col("credits").sum())
    # What no query and no idle hour carries (cloud services of days without query credits): its own series.
    remainder = (
        daily_warehouse.group_by("day")
        .agg(pl.col("credits").sum().alias("total"))
        .join(daily_domain.group_by("day").agg(pl.col("credits").sum().alias("owned")), on="day", how="left")
        .select("day", pl.lit(UNATTRIBUTED).alias("domain"), (pl.col("total") - pl.col("owned").fill_null(0.0)))
        .rename({"total": "credits"})
        .filter(pl.col("credits") > 1e-6)
    )
    daily_domain = pl.concat([daily_domain, remainder], how="vertical")
    # UTC days the agent's hourly metering covers whole (the daily check compares only those).
    first_full = -(-max(lo, meter_view.covered_from or lo) // DAY) * DAY
    full = (first_full, until // DAY * DAY)
    serverless, check = _serverless(rollups, start, end, billed, full)
    if serverless.height:  # serverless items (no warehouse, no query): their own series in both charts
        extra = serverless.group_by("day").agg(pl.col("credits").sum()).with_columns(pl.lit(SERVERLESS).alias("name"))
        daily_warehouse = pl.concat(
            [daily_warehouse, extra.select("day", pl.col("name").alias("warehouse"), "credits")]
        )
        daily_domain = pl.concat([daily_domain, extra.select("day", pl.col("name").alias("domain"), "credits")])
    daily_warehouse = daily_warehouse.sort("day", "warehouse")
    daily_domain = daily_domain.sort("day", "domain")

    warehouses = warehouse_table(billed, att.warehouse_idle, att.idle, usage, price)
    patterns = _ranked(rows, "pattern", price)
    patterns = patterns.join(_owners(rows), on="pattern", how="left") if patterns.height else patterns
    patterns = _named(patterns, pattern_names.names(rollups.db))
    serverless_credits = float(serverless["credits"].sum()) if serverless.height else 0.0
    total_credits = (float(billed["credits"].sum()) if billed.height else 0.0) + serverless_credits
    storage = _storage(rollups, lo, hi, cost.storage_price_per_tb_month)
    storage_money = float(storage["cost"].sum()) if storage.height and price is not None else None
    if cost.storage_price_per_tb_month is None:
        notes.append("no spec.cost.storage_price_per_tb_month: storage in TB only, not priced")
    if price is None:
        notes.append("no spec.cost.credit_price: figures in credits only")
    totals = {
        "credits": round(total_credits, 6),
        "compute_credits": round(float(billed["compute"].sum()) if billed.height else 0.0, 6),
        "cloud_services_billed_credits": round(
            float((billed["credits"] - billed["compute"]).sum()) if billed.height else 0.0, 6
        ),
        "idle_credits": round(
            float(att.warehouse_idle["idle_nano"].sum()) / NANO if att.warehouse_idle.height else 0, 6
        ),
        "attributed_credits": round(float(rows["credits"].sum()) if rows.height else 0.0, 6),
        "cost": None if price is None else round(total_credits * price, 2),
        "storage_tb_average": round(float(storage["tb"].sum()), 6) if storage.height else 0.0,
        "storage_cost": None if storage_money is None else round(storage_money, 2),
        "serverless_credits": round(serverless_credits, 6),
        "queries": int(usage["queries"].sum()) if usage.height else 0,
        "reconciliation": att.reconcile(),
        "snowflake_daily_check": check,
    }
    gaps = _gaps(billed, att.unmetered, meter_view, lo, until, tz)
    budgets, enforcement = budget_rows(loaded, rollups, watermarks, frontier, hi, price)
    report = CostReport(
        period=label,
        start=start,
        end=end,
        time_zone=tz.key,
        currency=cost.currency,
        credit_price=price,
        generated_at=now,
        data_until=datetime.fromtimestamp(until, UTC) if frontier is not None else None,
        covered_from=datetime.fromtimestamp(meter_view.covered_from, UTC) if meter_view.covered_from else None,
        totals=totals,
        daily_warehouse=daily_warehouse,
        daily_domain=daily_domain,
        warehouses=warehouses,
        patterns=patterns,
        users=_ranked(rows, "user", price),
        roles=_ranked(rows, "role", price),
        services=_ranked(rows, "service", price),
        serverless=_serverless_table(serverless, price),
        domains=_domain_table(daily_domain, rows, price),
        storage=storage,
        gaps=gaps,
        budgets=budgets,
        enforcement=enforcement,
        notes=notes,
    )
    report.recommendations = recommendations(report, rollups, lo, until)
    _azure(report, rollups, watermarks)
    hourly = pl.concat([rows.select("bucket", "domain", "credits"), idle.select("bucket", "domain", "credits")])
    report.reconciliation = reconciliation(report, loaded, billed, hourly)
    return report


def _azure(report: CostReport, rollups: RollupStore, watermarks: Watermarks) -> None:
    """Azure spend of the month (Cost Management, UTC days) and, in one currency, the platform's daily spend."""
    lo = int(datetime(report.start.year, report.start.month, report.start.day, tzinfo=UTC).timestamp())
    frame = rollups.load(AZURE_COST, lo, int(report.end.timestamp()))
    if frame.is_empty():
        if watermarks.get("azure.cost").polled_to is not None:
            report.notes.append("Azure Cost Management returned no cost for this month at the configured scope")
        return
    daily = frame.select(
        pl.from_epoch(pl.col("bucket"), time_unit="s").dt.date().alias("day"),
        "service", "resource_group", "tag", "currency", "cost",
    ).filter((pl.col("day") >= report.start.date()) & (pl.col("day") < report.end.date()))  # fmt: skip
    report.azure_daily = daily.sort("day", "service", "resource_group", "tag")
    currencies = sorted(set(daily["currency"].to_list()) - {""})
    azure_total = float(daily["cost"].sum())
    report.totals["azure_cost"] = round(azure_total, 2)
    report.totals["azure_currency"] = ", ".join(currencies)
    if report.credit_price is None or currencies != [report.currency]:
        why = "no credit price" if report.credit_price is None else f"Azure bills in {', '.join(currencies)}"
        report.notes.append(f"Snowflake and Azure are not added up ({why}; no exchange rates are applied)")
        return
    snowflake = (
        report.daily_warehouse.group_by("day")
        .agg((pl.col("credits").sum() * report.credit_price).alias("cost"))
        .select("day", pl.lit("Snowflake").alias("source"), "cost")
    )
    azure = daily.group_by("day", "service").agg(pl.col("cost").sum())
    prefixed = pl.concat_str(pl.lit("Azure "), pl.col("service"))
    named = pl.when(pl.col("service").str.starts_with("Azure")).then(pl.col("service")).otherwise(prefixed)
    azure = azure.select("day", named.alias("source"), "cost")
    report.platform_daily = pl.concat([snowflake, azure]).sort("day", "source")
    report.totals["platform_cost"] = round(float(report.platform_daily["cost"].sum()), 2)


def warehouse_table(
    billed: pl.DataFrame, warehouse_idle: pl.DataFrame, unowned_idle: pl.DataFrame, usage: pl.DataFrame,
    price: float | None,
) -> pl.DataFrame:  # fmt: skip
    """Per warehouse: billed credits, compute, idle (Snowflake's estimate, :func:`sre_agent.figures.spend.idle_shares`
    over the hours of ``billed``; ``warehouse_idle`` is kept for callers), hours metered, peak hourly credits."""
    if billed.is_empty():
        return pl.DataFrame(schema={"warehouse": pl.String, "credits": pl.Float64})
    out = billed.group_by("warehouse").agg(
        pl.col("credits").sum(),
        pl.col("compute").sum(),
        (pl.col("credits") - pl.col("compute")).sum().alias("cloud_services"),
        (pl.col("compute") > 0).sum().cast(pl.Int64).alias("hours_metered"),
        pl.col("compute").max().alias("peak_hour_credits"),
    )
    # One definition of idle (figures.spend): compute no query was attributed, over the frame's hours.
    shares = idle_shares(billed, int(billed["bucket"].min()), int(billed["bucket"].max()) + 3600)  # type: ignore[arg-type]
    idle = pl.DataFrame(
        {"warehouse": list(shares), "idle_credits": [s.idle_credits for s in shares.values()]},
        schema={"warehouse": pl.String, "idle_credits": pl.Float64},
    )
    empty = unowned_idle.group_by("warehouse").agg((pl.col("compute_nano").sum() / NANO).alias("empty_hour_credits"))
    ran = (
        usage.group_by("warehouse").agg(
            pl.col("queries").sum().cast(pl.Int64), (pl.col("exec_ms").sum() / 3_600_000).alias("exec_hours")
        )
        if usage.height
        else pl.DataFrame(schema={"warehouse": pl.String, "queries": pl.Int64, "exec_hours": pl.Float64})
    )
    out = out.join(idle, on="warehouse", how="left").join(empty, on="warehouse", how="left")
    out = out.join(ran, on="warehouse", how="left").with_columns(
        pl.col("idle_credits", "empty_hour_credits", "exec_hours").fill_null(0.0), pl.col("queries").fill_null(0)
    )
    return out.with_columns(
        (pl.col("idle_credits") / pl.col("compute").clip(1e-9)).alias("idle_share"),
        (pl.col("credits") * (price if price is not None else float("nan"))).alias("cost"),
    ).sort("credits", descending=True)


def _domain_table(daily_domain: pl.DataFrame, rows: pl.DataFrame, price: float | None) -> pl.DataFrame:
    """Per domain: credits (attributed, plus idle of the warehouses it owns), queries."""
    if daily_domain.is_empty():
        return pl.DataFrame(schema={"domain": pl.String, "credits": pl.Float64})
    credits = daily_domain.group_by("domain").agg(pl.col("credits").sum())
    queries = rows.group_by("domain").agg(pl.col("queries").sum().cast(pl.Int64)) if rows.height else None
    out = credits.join(queries, on="domain", how="left") if queries is not None else credits
    return out.with_columns((pl.col("credits") * (price if price is not None else float("nan"))).alias("cost")).sort(
        "credits", descending=True
    )


def _serverless(
    rollups: RollupStore, start: datetime, end: datetime, billed: pl.DataFrame, full: tuple[int, int]
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Serverless credits per UTC day and service type (METERING_DAILY_HISTORY, days of the month), and Snowflake's
    own billed warehouse credits against the agent's for the UTC days both cover fully."""
    lo = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())
    frame = rollups.load(METERING_DAILY, lo, int(end.timestamp()))
    empty = pl.DataFrame(schema={"day": pl.Date, "service_type": pl.String, "credits": pl.Float64})
    if frame.is_empty():
        return empty, {}
    daily = frame.select(
        pl.from_epoch(pl.col("bucket"), time_unit="s").dt.date().alias("day"),
        "service_type",
        pl.col("credits_billed").alias("credits"),
    ).filter((pl.col("day") >= start.date()) & (pl.col("day") < end.date()))
    serverless = daily.filter(pl.col("service_type") != "WAREHOUSE_METERING")
    ours = billed.with_columns(pl.from_epoch(pl.col("bucket"), time_unit="s").dt.date().alias("utc_day"))
    ours = ours.group_by("utc_day").agg(pl.col("credits").sum(), pl.len().alias("rows"))
    theirs = daily.filter(pl.col("service_type") == "WAREHOUSE_METERING").rename({"day": "utc_day"})
    both = theirs.join(ours, on="utc_day", how="inner", suffix="_agent")
    first, last = (datetime.fromtimestamp(t, UTC).date() for t in full)
    both = both.filter((pl.col("utc_day") >= first) & (pl.col("utc_day") < last))
    check = {
        "days": both.height,
        "warehouse_credits_billed_by_snowflake": round(float(both["credits"].sum()), 6) if both.height else 0.0,
        "warehouse_credits_billed_by_agent": round(float(both["credits_agent"].sum()), 6) if both.height else 0.0,
    }
    return serverless.sort("day", "service_type"), check


def _serverless_table(serverless: pl.DataFrame, price: float | None) -> pl.DataFrame:
    """Per serverless service type: credits billed in the month and their cost."""
    if serverless.is_empty():
        return pl.DataFrame(schema={"service_type": pl.String, "credits": pl.Float64, "cost": pl.Float64})
    out = serverless.group_by("service_type").agg(pl.col("credits").sum())
    cost = pl.col("credits") * (price if price is not None else float("nan"))
    return out.with_columns(cost.alias("cost")).sort("credits", descending=True)


def _storage(rollups: RollupStore, lo: int, hi: int, price: Any) -> pl.DataFrame:
    """Per database: average TB over the days of the period and its cost (TB × price ÷ days in month, per day)."""
    frame = rollups.load(DATABASE_STORAGE, lo // DAY * DAY, hi)
    if frame.is_empty():
        return pl.DataFrame(schema={"database": pl.String, "tb": pl.Float64, "cost": pl.Float64})
    daily = storage_cost(frame.drop("observed_at"), float(price) if price is not None else None)
    days = daily["bucket"].n_unique()
    return (
        daily.group_by("database")
        .agg((pl.col("tb").sum() / days).alias("tb"), pl.col("cost").sum())
        .sort("tb", descending=True)
    )


def _gaps(
    billed: pl.DataFrame, unmetered: pl.DataFrame, view: DataView, lo: int, until: int, tz: ZoneInfo
) -> list[dict[str, Any]]:
    """Days the store has no metering for (before coverage, or never landed), and hours with queries but no
    metering row yet: shown as gaps, never as zero spend."""
    gaps: list[dict[str, Any]] = []
    if view.covered_from is not None and view.covered_from > lo:
        gaps.append(
            {
                "from": iso(datetime.fromtimestamp(lo, UTC)),
                "to": iso(datetime.fromtimestamp(min(view.covered_from, until), UTC)),
                "reason": "before the agent's first poll (backfill): no metering in the store",
            }
        )
    if until > lo and (view.polled_to is None or billed.is_empty()):
        gaps.append(
            {
                "from": iso(datetime.fromtimestamp(lo, UTC)),
                "to": iso(datetime.fromtimestamp(until, UTC)),
                "reason": "no metering rows in the store",
            }
        )
    if unmetered.height:
        for row in unmetered.group_by("warehouse").agg(pl.col("bucket").min(), pl.len()).iter_rows(named=True):
            gaps.append(
                {
                    "from": iso(datetime.fromtimestamp(row["bucket"], UTC)),
                    "to": None,
                    "warehouse": row["warehouse"],
                    "hours": row["len"],
                    "reason": "queries ran but metering has not landed for these hours yet",
                }
            )
    return gaps


def report_day_range(report: CostReport) -> list[date]:
    """Every local day of the report's month."""
    days = []
    day = report.start.date()
    while day < report.end.date():
        days.append(day)
        day += timedelta(days=1)
    return days
