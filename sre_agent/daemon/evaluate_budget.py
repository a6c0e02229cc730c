"""CostBudget rules in the daemon: each budget's hourly spend, judged at every instant, one alert per signal.

A budget's hourly spend comes from the store: billed warehouse credits (WAREHOUSE_METERING_HISTORY, cloud
services with the daily 10 % adjustment) for account and warehouse scopes; for a domain scope, the hourly-share
attribution of those credits (``query_cost`` rollup) plus the idle hours of the warehouses the domain owns.
Days that can no longer change are kept in memory per budget; each pass recomputes only the days still landing.
The *frontier* is the end of the newest metered hour: spend to date counts the hours before it and the forecast
covers the rest. A firing alert carries its evidence and the drivers of the change: warehouses (with their idle
share), and with ``spec.cost`` the query patterns, users and roles, over the last 24 hours against the same 24
hours a week earlier.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import numpy as np
import polars as pl

from sre_agent.alerting.fingerprint import fingerprint
from sre_agent.alerting.lifecycle import Instance, RulePolicy, step
from sre_agent.config.budget import AzureScope, CostBudgetDoc, budget_lookback
from sre_agent.config.cost import CostSettings
from sre_agent.config.specs import NoDataPolicy
from sre_agent.daemon.eval_context import EvalContext
from sre_agent.engine.budget import DAY, WEEK, Verdict, judge
from sre_agent.engine.cost import NANO, attribute, billed_credits
from sre_agent.engine.rollups import AZURE_COST, QUERY_COST, WAREHOUSE_METERING
from sre_agent.engine.spend import F64, HOUR, HourlySpend, Money, SpendCache
from sre_agent.engine.threshold import DataView
from sre_agent.figures.spend import idle_shares
from sre_agent.figures.text import pct, utc_minute
from sre_agent.model import AlertState, Condition, ConditionState, EventKind, from_epoch, iso
from sre_agent.store.rollups import RollupStore

TOP = 3
"""Drivers listed per kind."""
STATES = {"breach": ConditionState.BREACH, "ok": ConditionState.OK, "unknown": ConditionState.NO_DATA}
SIGNAL_POLICY = {
    "actual": RulePolicy(on_no_data=NoDataPolicy.KEEP_LAST, no_data_timeout=timedelta(hours=6)),
    "forecast": RulePolicy(keep_firing_for=timedelta(hours=1), no_data_timeout=timedelta(hours=6)),
    "burn_rate": RulePolicy(keep_firing_for=timedelta(hours=1), no_data_timeout=timedelta(hours=6)),
    "anomaly": RulePolicy(no_data_timeout=timedelta(days=1)),
}
"""Spend to date only grows within a period (it resolves at the next); forecasts and burn rates get an hour of
hysteresis; a spend anomaly is a day's verdict and holds until the next day is judged."""


def signature(budget: CostBudgetDoc, warehouse_domains: dict[str, str]) -> str:
    """Changes whenever what the spend series depends on does."""
    text = json.dumps([budget.spec.scope.model_dump(mode="json"), warehouse_domains], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


SIGNALS = ("actual", "forecast", "burn_rate", "anomaly")


def budget_labels(agent_labels: dict[str, str], budget: CostBudgetDoc) -> dict[str, str]:
    """The labels every alert of ``budget`` carries (``signal`` comes on top): scope and period, and the
    warehouse or domain when the scope is a single one (so routing and incident matching see it)."""
    scope = budget.spec.scope
    labels = {**agent_labels, **budget.metadata.labels, "scope": scope.describe(), "period": budget.spec.period}
    if len(scope.warehouse) == 1:
        labels["warehouse"] = scope.warehouse[0]
    if len(scope.domain) == 1:
        labels["domain"] = scope.domain[0]
    return labels


def _floor_day(at: int) -> int:
    return at // DAY * DAY


def scope_spend(
    rollups: RollupStore, cost: CostSettings | None, budget: CostBudgetDoc, lo: int, hi: int, covered_from: int | None
) -> F64:
    """Credits per hour of ``[lo, hi)`` for the budget's scope (``lo`` a UTC midnight); ``nan`` before coverage."""
    scope = budget.spec.scope
    hours = max(0, (hi - lo) // HOUR)
    out = np.zeros(hours, dtype=np.float64)
    if hours == 0:
        return out
    if scope.azure is not None:
        frame = azure_frame(rollups, scope.azure, lo, hi, cost.currency if cost is not None else "")
        # A day's cost spread over its 24 hours: Cost Management has no finer grain.
        hourly = frame.select(
            (pl.col("bucket") + pl.int_ranges(0, 24) * HOUR).alias("bucket"), (pl.col("cost") / 24).alias("credits")
        ).explode("bucket")
        return _fill(out, hourly, lo, hours, covered_from)
    metering = rollups.load(WAREHOUSE_METERING, lo, hi)
    if scope.kind == "domain":
        domains = cost.warehouse_domains if cost is not None else {}
        usage = rollups.load(QUERY_COST, lo, hi)
        att = attribute(usage.drop("observed_at"), metering.drop("observed_at"), domains)
        rows = att.rows.filter(pl.col("domain").is_in(scope.domain)).select(
            "bucket", ((pl.col("compute_nano") + pl.col("cloud_services_nano")) / NANO).alias("credits")
        )
        owned = [w for w, d in domains.items() if d in scope.domain]
        idle = att.idle.filter(pl.col("warehouse").is_in(owned)).select(
            "bucket", (pl.col("compute_nano") / NANO).alias("credits")
        )
        frame = pl.concat([rows, idle])
    else:
        frame = billed_credits(metering)
        if scope.kind == "warehouse":
            frame = frame.filter(pl.col("warehouse").is_in(scope.warehouse))
    return _fill(out, frame, lo, hours, covered_from)


def _fill(out: F64, frame: pl.DataFrame, lo: int, hours: int, covered_from: int | None) -> F64:
    """Add ``frame``'s (bucket, credits) rows into the hourly array; hours before coverage become ``nan``."""
    if frame.height:
        idx = ((frame["bucket"].to_numpy() - lo) // HOUR).astype(np.int64)
        keep = (idx >= 0) & (idx < hours)
        out += np.bincount(idx[keep], weights=frame["credits"].to_numpy()[keep], minlength=hours)[:hours]
    if covered_from is not None and covered_from > lo:
        out[: min(hours, max(0, -(-(covered_from - lo) // HOUR)))] = np.nan
    return out


def azure_frame(rollups: RollupStore, scope: AzureScope, lo: int, hi: int, currency: str) -> pl.DataFrame:
    """Daily Azure cost rows (bucket, service, cost) of ``scope`` in ``currency`` (other currencies left out)."""
    frame = rollups.load(AZURE_COST, lo // DAY * DAY, hi)
    for label in ("service", "resource_group", "tag"):
        wanted = getattr(scope, label)
        if wanted:
            frame = frame.filter(pl.col(label).is_in(wanted))
    return frame.filter(pl.col("currency") == currency).select("bucket", "service", "cost")


def source_view(budget: CostBudgetDoc) -> str:
    """The rollup a budget's spend comes from (its frontier and staleness): Azure cost or warehouse metering."""
    return AZURE_COST.name if budget.spec.scope.kind == "azure" else WAREHOUSE_METERING.name


AZURE_DAY_SETTLES = 12 * HOUR
"""A UTC day of Azure cost counts once it ended this long before the poll (Cost Management fills days in for
hours; today's and a just-ended day's partial cost would read as a sudden drop)."""


def azure_frontier(rollups: RollupStore, view: DataView) -> int | None:
    """End of the newest settled Azure cost day in the store."""
    if view.polled_to is None:
        return None
    settled = (view.polled_to - AZURE_DAY_SETTLES) // DAY * DAY
    recent = rollups.load(AZURE_COST, settled - 7 * DAY, settled)
    newest = int(recent["bucket"].max()) + DAY if recent.height else settled  # type: ignore[arg-type]
    return min(settled, max(newest, (view.complete_before or settled) // DAY * DAY))


def metering_frontier(rollups: RollupStore, view: DataView, warehouses: list[str] | None = None) -> int | None:
    """End of the hours metering has landed for every warehouse (of ``warehouses``) still running.

    Rows of one hour land warehouse by warehouse, 1-3 hours late: the frontier is the oldest of the running
    warehouses' newest hours, so no hour is counted while some of its rows are missing. Warehouses whose newest
    row is older than the view's complete horizon are suspended (or idle), and the frontier is never older than
    that horizon.
    """
    if view.polled_to is None:
        return None
    complete = (view.complete_before or view.polled_to) // HOUR * HOUR
    recent = rollups.load(WAREHOUSE_METERING, complete - DAY, view.polled_to + HOUR)
    if warehouses:
        recent = recent.filter(pl.col("warehouse").is_in(warehouses))
    newest = recent.group_by("warehouse").agg(pl.col("bucket").max()).filter(pl.col("bucket") >= complete)
    if newest.is_empty():
        return complete
    return max(complete, int(newest["bucket"].min()) + HOUR)  # type: ignore[arg-type]


def budget_frontier(rollups: RollupStore, budget: CostBudgetDoc, view: DataView) -> int | None:
    """Where ``budget``'s complete data ends: the newest settled Azure day, or the metering frontier of its
    warehouses (all of them for the account and domains); ``view`` is its source's (see :func:`source_view`)."""
    if budget.spec.scope.kind == "azure":
        return azure_frontier(rollups, view)
    return metering_frontier(rollups, view, budget.spec.scope.warehouse or None)


def budget_spend(ctx: EvalContext, budget: CostBudgetDoc, views: dict[str, DataView]) -> tuple[HourlySpend, int] | None:
    """The budget's hourly spend up to its frontier (cached days plus the days still landing), and the frontier."""
    if source_view(budget) not in views:
        return None
    meter = views[source_view(budget)]
    relevant = [meter]
    if budget.spec.scope.kind == "domain" and QUERY_COST.name in views:
        relevant.append(views[QUERY_COST.name])
    cost = ctx.agent.spec.cost
    current = signature(budget, cost.warehouse_domains if cost is not None else {})
    landing = (current, *((v.covered_from, v.polled_to) for v in relevant))
    cache = ctx.agent.budget_spend.get(budget.name)
    if cache is not None and cache.landing == landing and cache.fresh is not None and cache.frontier is not None:
        return HourlySpend(cache.origin, np.concatenate([cache.final, cache.fresh])), cache.frontier
    frontier = budget_frontier(ctx.agent.rollups, budget, meter)
    if frontier is None:
        return None
    finals = [v.complete_before for v in relevant]
    final_until = _floor_day(min(f for f in finals if f is not None)) if all(f is not None for f in finals) else 0
    covered = max((v.covered_from for v in relevant if v.covered_from is not None), default=None)
    origin = _floor_day(frontier - int(budget_lookback(budget.spec).total_seconds()) - DAY)
    if cache is None or cache.signature != current or cache.origin > origin:
        cache = SpendCache(current, origin, np.zeros(0, dtype=np.float64))
    elif origin - cache.origin >= WEEK:  # drop what no window looks at any more
        cache = SpendCache(current, origin, cache.final[(origin - cache.origin) // HOUR :])
    # Rows up to the newest one landed (spend to date counts them); the frontier bounds what is judged as complete.
    landed = max(frontier, ((meter.polled_to or frontier) // HOUR + 1) * HOUR)
    fresh = scope_spend(ctx.agent.rollups, cost, budget, cache.end, max(cache.end, landed), covered)
    values = np.concatenate([cache.final, fresh])
    if final_until > cache.end:
        keep = min(len(values), (final_until - cache.origin) // HOUR)
        cache = SpendCache(current, cache.origin, values[:keep].copy())
    cache.landing, cache.fresh, cache.frontier = landing, values[len(cache.final) :], frontier
    ctx.agent.budget_spend[budget.name] = cache
    return HourlySpend(cache.origin, values), frontier


def budget_money(budget: CostBudgetDoc, cost: CostSettings | None) -> Money:
    """The unit ``budget`` is judged in: Azure spend is already money; Snowflake credits become money at the
    configured price for a currency amount."""
    if budget.spec.scope.kind == "azure" and cost is not None:
        return Money(cost.currency, 1.0)  # Azure spend is already money
    if budget.spec.unit == "currency" and cost is not None and cost.credit_price is not None:
        return Money(cost.currency, float(cost.credit_price))
    return Money("credits", 1.0)


def _compare(now: pl.DataFrame, before: pl.DataFrame, by: str, value: str) -> list[dict[str, Any]]:
    """``by`` values ranked by how much ``value`` grew (now − a week before); those that grew, top ``TOP``."""
    a = now.group_by(by).agg(pl.col(value).sum().alias("now"))
    b = before.group_by(by).agg(pl.col(value).sum().alias("before"))
    joined = a.join(b, on=by, how="full", coalesce=True).fill_null(0.0)
    joined = joined.with_columns((pl.col("now") - pl.col("before")).alias("delta")).filter(pl.col("delta") > 0)
    return [
        {by: r[by], value: round(r["now"], 3), "week_before": round(r["before"], 3), "delta": round(r["delta"], 3)}
        for r in joined.sort("delta", descending=True).head(TOP).iter_rows(named=True)
    ]


def drivers(ctx: EvalContext, budget: CostBudgetDoc, frontier: int) -> dict[str, Any]:
    """What drove the change: the last 24 hours against the same 24 hours a week earlier (credits)."""
    agent = ctx.agent
    scope = budget.spec.scope
    windows = {"now": (frontier - DAY, frontier), "before": (frontier - WEEK - DAY, frontier - WEEK)}
    out: dict[str, Any] = {"window": f"{iso(from_epoch(frontier - DAY))} – {iso(from_epoch(frontier))}"}
    cost = agent.spec.cost
    if scope.azure is not None:
        currency = cost.currency if cost is not None else ""
        days = {k: azure_frame(agent.rollups, scope.azure, lo, hi, currency) for k, (lo, hi) in windows.items()}
        out["services"] = _compare(days["now"], days["before"], "service", "cost")
        return out
    metering = {k: billed_credits(agent.rollups.load(WAREHOUSE_METERING, lo, hi)) for k, (lo, hi) in windows.items()}
    if scope.kind == "warehouse":
        metering = {k: f.filter(pl.col("warehouse").is_in(scope.warehouse)) for k, f in metering.items()}
    if scope.kind != "domain":
        ranked = _compare(metering["now"], metering["before"], "warehouse", "credits")
        idle = idle_shares(metering["now"], *windows["now"])
        for r in ranked:
            share = idle[r["warehouse"]].share if r["warehouse"] in idle else None
            r["idle_share"] = None if share is None else round(share, 3)
        out["warehouses"] = ranked
    if cost is None:
        return out
    frames = {}
    for k, (lo, hi) in windows.items():
        usage = agent.rollups.load(QUERY_COST, lo, hi).drop("observed_at")
        meter = agent.rollups.load(WAREHOUSE_METERING, lo, hi).drop("observed_at")
        rows = attribute(usage, meter, cost.warehouse_domains).rows
        if scope.kind == "warehouse":
            rows = rows.filter(pl.col("warehouse").is_in(scope.warehouse))
        elif scope.kind == "domain":
            rows = rows.filter(pl.col("domain").is_in(scope.domain))
        frames[k] = rows.with_columns(
            ((pl.col("compute_nano") + pl.col("cloud_services_nano")) / NANO).alias("credits")
        )
    if scope.kind == "domain":
        out["warehouses"] = _compare(frames["now"], frames["before"], "warehouse", "credits")
    for by in ("pattern", "user", "role"):
        out[f"{by}s"] = _compare(frames["now"], frames["before"], by, "credits")
    return out


def _drivers_at(ctx: EvalContext, budget: CostBudgetDoc, frontier: int, at: int) -> dict[str, Any]:
    """The drivers an alert states at instant ``at`` (a transition or a reminder): up to the last whole hour at or
    before it that the spend's ``frontier`` has reached."""
    return drivers(ctx, budget, min(frontier, at // HOUR * HOUR))


def _summary(budget: CostBudgetDoc, signal: str, inst: Instance, kind: EventKind) -> str:
    spec = budget.spec
    ev = inst.evidence
    unit = ev.get("unit", spec.unit)
    where = f"{budget.name} ({spec.scope.describe()}, {ev.get('period', spec.period)})"
    amount = f"{_fmt(ev.get('amount'))} {unit}"
    if kind is EventKind.RESOLVED:
        return f"budget {where}: {signal.replace('_', ' ')} back within bounds"
    spent = f"{_fmt(ev.get('spent'))} {unit} spent to {_minute(ev.get('spent_through'))}"
    if signal == "actual":
        return f"budget {where}: {spent}, {_fmt(ev.get('percent'))}% of {amount}"
    if signal == "forecast":
        return (
            f"budget {where} heading over: projected {_fmt(ev.get('forecast'))} {unit} by "
            f"{_minute(ev.get('period_end'))} "
            f"({_fmt(ev.get('forecast_percent'))}% of {amount}; {spent})" + _top_driver(ev)
        )
    if signal == "burn_rate":
        tier: dict[str, Any] = next((t for t in ev.get("tiers", []) if t.get("breach")), {})
        return (
            f"budget {where} burning at {_fmt(tier.get('burn_long'))}× its allowance over {tier.get('windows', '?')} "
            f"(> {_fmt(tier.get('factor'))}×)" + _top_driver(ev)
        )
    return (
        f"budget {where}: {ev.get('weekday')} {ev.get('day')} spent {_fmt(ev.get('day_spend'))} {unit}, "
        f"{_fmt(ev.get('ratio'))}× a usual {ev.get('weekday')} ({_fmt(ev.get('usual'))})" + _top_driver(ev)
    )


def _minute(value: Any) -> str:
    """An ISO instant of the evidence as ``2026-11-05 21:00Z`` (``?`` when absent)."""
    return utc_minute(datetime.fromisoformat(str(value).replace("Z", "+00:00"))) if value else "?"


def budget_annotations(
    runbook_url: str, budget: CostBudgetDoc, signal: str, inst: Instance, kind: EventKind
) -> dict[str, str]:
    """A budget alert's annotations for ``inst`` as evaluated (its summary from its evidence), for ``kind``."""
    out = {"summary": _summary(budget, signal, inst, kind), "description": budget.spec.description}
    if budget.spec.runbook:
        out["runbook"] = runbook_url.format(id=budget.spec.runbook)
    return out


def _top_driver(ev: dict[str, Any]) -> str:
    drivers = ev.get("drivers") or {}
    services = drivers.get("services") or []
    if services:
        return f"; top driver Azure {services[0]['service']} +{_fmt(services[0]['delta'])} {ev.get('unit', '')} a day"
    top = drivers.get("warehouses") or []
    if not top:
        return ""
    first = top[0]
    idle = f", {pct(first['idle_share'], 0)} idle" if first.get("idle_share") is not None else ""
    return f"; top driver {first['warehouse']} +{_fmt(first['delta'])} credits in the last 24 h{idle}"


def _fmt(value: Any) -> str:
    if value is None:
        return "?"
    number = float(value)
    return f"{number:,.0f}" if abs(number) >= 100 else f"{number:,.2f}".rstrip("0").rstrip(".")


def advance_budget(ctx: EvalContext, budget: CostBudgetDoc, views: dict[str, DataView]) -> None:
    """Judge every signal of ``budget`` at every instant of the pass; record the alert transitions."""
    agent = ctx.agent
    spec = budget.spec
    found = budget_spend(ctx, budget, views)
    view = views.get(source_view(budget))
    stale = view.stale(ctx.instants) if view is not None else np.ones(len(ctx.instants), dtype=bool)
    if spec.scope.kind == "domain" and QUERY_COST.name in views:
        stale |= views[QUERY_COST.name].stale(ctx.instants)
    tz = spec.zone(agent.spec.cost.time_zone if agent.spec.cost is not None else "UTC")
    money = budget_money(budget, agent.spec.cost)
    static = budget_labels(agent.spec.labels, budget)
    signals = ["actual"] + [s for s in SIGNALS[1:] if getattr(spec, s) is not None]
    instances = {}
    for signal in signals:
        labels = {**static, "signal": signal}
        fp = fingerprint(budget.name, labels)
        instances[signal] = ctx.instances.get(fp) or Instance(fp, budget.name, labels)

    def refresh(inst: Instance, at: int) -> Instance:
        """A reminder's drivers: the 24 hours before its instant's metering frontier, not the firing-time ones."""
        if found is None or "drivers" not in inst.evidence:
            return inst
        return replace(inst, evidence={**inst.evidence, "drivers": _drivers_at(ctx, budget, found[1], at)})

    # A verdict depends on the instant only through its hour and the hour of the second before it (spend is
    # hourly; the period is that of the last elapsed second), so the instants of one hour share one judgement.
    judged: dict[tuple[int, int], dict[str, Verdict]] = {}
    for k, t in enumerate(ctx.instants.tolist()):
        verdicts: dict[str, Verdict] = {}
        if found is not None and not stale[k]:
            key = (t // HOUR, (t - 1) // HOUR)
            if key not in judged:
                judged[key] = judge(spec, found[0], t, found[1], tz, money)
            verdicts = judged[key]
        for signal in signals:
            inst = instances[signal]
            verdict = verdicts.get(signal, Verdict("ok")) if found is not None and not stale[k] else None
            if verdict is None:
                cond = Condition(budget.name, inst.labels, from_epoch(t), ConditionState.STALE)
            elif verdict.state == "ok" and inst.state is AlertState.INACTIVE:
                continue
            else:
                cond = Condition(
                    budget.name, inst.labels, from_epoch(t), STATES[verdict.state], verdict.severity, verdict.value,
                    verdict.threshold, verdict.evidence,
                )  # fmt: skip
            if inst.state is AlertState.FIRING and "drivers" in inst.evidence and cond.evidence:
                # The drivers found when it fired (their own window says when) stay with it while it fires.
                cond = replace(cond, evidence={**cond.evidence, "drivers": inst.evidence["drivers"]})
            new, transitions = step(inst, cond, SIGNAL_POLICY[signal])
            annotate = partial(budget_annotations, agent.spec.runbook_url, budget, signal)
            for tr in transitions:
                if tr.kind in (EventKind.FIRING, EventKind.ESCALATED) and found is not None:
                    why = _drivers_at(ctx, budget, found[1], t)
                    new = replace(new, evidence={**tr.instance.evidence, "drivers": why})
                    tr = replace(tr, instance=new)  # noqa: PLW2901 - the recorded transition carries the drivers
                ctx.transitions.append((tr, annotate(tr.instance, tr.kind)))
            instances[signal] = ctx.keep(inst, new)
            ctx.observe(t, instances[signal], annotate, refresh)
