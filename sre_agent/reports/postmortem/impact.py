"""The post-mortem's impact figures: the one query count, who ran those queries, the extra cost, and the charts."""

from __future__ import annotations

from typing import Any

import polars as pl

from sre_agent.config.loader import LoadedConfig
from sre_agent.engine.rollups import QUERY, QUERY_COST, WAREHOUSE_METERING
from sre_agent.figures.text import utc_range
from sre_agent.model import from_epoch, iso
from sre_agent.reports.postmortem.series import HOUR, STEP, WEEK, Reader, Windows, query_stats, series, slice_rows

TOP = 10
"""Users and roles listed by name; the rest are one "(others)" row so the table adds up."""


def queries_in_scope(reader: Reader, w: Windows) -> dict[str, Any]:
    """The incident's query figures — the one query count of the post-mortem: the scope's queries that ended in the
    impact window [Started, Impact ended), from the per-minute query rollup (count, failed, p95, queueing, spill)."""
    return query_stats(reader.frame(QUERY, w.onset, w.end))


def _hours(w: Windows) -> tuple[int, int]:
    return w.onset // HOUR * HOUR, -(-w.end // HOUR) * HOUR


def _ranked(frame: pl.DataFrame, dim: str, plural: str) -> list[dict[str, Any]]:
    agg = frame.group_by(dim).agg(pl.col("queries").sum(), pl.col("failed").sum())
    agg = agg.sort(["queries", dim], descending=[True, False])
    rows = [{"name": n, "queries": int(q), "failed": int(f)} for n, q, f in agg.head(TOP).iter_rows()]
    rest = agg.slice(TOP)
    if rest.height:
        rows.append({"name": f"({rest.height} other {plural})", "queries": int(rest["queries"].sum()),
                     "failed": int(rest["failed"].sum())})  # fmt: skip
    return rows


def people(reader: Reader, w: Windows, in_window: int) -> dict[str, Any]:
    """Users and roles that ran the scope's queries, and how their total relates to the query count.

    The query_cost rollup is hourly, so this table covers the whole hours around the impact window; the note says
    how its total splits into the ``in_window`` queries and those of the same hours before the onset and after the
    impact ended (and by how much the hourly rollup has not caught up, when it lags the per-minute one)."""
    lo, hi = _hours(w)
    frame = reader.frame(QUERY_COST, lo, hi)
    out: dict[str, Any] = {"hours_from": from_epoch(lo), "hours_to": from_epoch(hi), "in_window": in_window}
    if frame.is_empty():
        return {**out, "users": [], "roles": [], "queries": None,
                "note": "per-user figures need spec.cost (the query_cost rollup)"}  # fmt: skip
    minute = reader.frame(QUERY, lo, hi)
    before = int(slice_rows(minute, lo, w.onset)["queries"].sum())
    after = int(slice_rows(minute, w.end, hi)["queries"].sum())
    total = int(frame["queries"].sum())
    note = (
        f"Per user and role over the whole hours {utc_range(lo, hi)} (the query_cost rollup is hourly): "
        f"{before + in_window + after:,} queries = the {in_window:,} of the impact window + {before:,} that ended in "
        f"those hours before the onset + {after:,} after the impact ended."
    )
    if total != before + in_window + after:
        gap = before + in_window + after - total
        note += (
            f" The hourly rollup holds {total:,}: {abs(gap):,} {'fewer' if gap > 0 else 'more'} "
            "(its rows land up to 6 h after the hour)."
        )
    return {
        **out,
        "queries": total,
        "before_onset": before,
        "after_end": after,
        "users": _ranked(frame, "user", "users"),
        "roles": _ranked(frame, "role", "roles"),
        "note": note,
    }


def cost(loaded: LoadedConfig, reader: Reader, w: Windows) -> dict[str, Any]:
    """Credits of the scope's warehouses in the impact hours vs the baseline's, over the hours metering has
    landed for every one of them (WAREHOUSE_METERING_HISTORY lags 1-3 hours)."""
    lo, hi = _hours(w)
    now = reader.frame(WAREHOUSE_METERING, lo, hi + 6 * 3600)
    spec = loaded.config.spec.cost
    out: dict[str, Any] = {"currency": spec.currency if spec is not None else None}
    newest = now.group_by("warehouse").agg(pl.col("bucket").max())["bucket"].to_list() if now.height else []
    landed = min(min(newest) + 3600, hi) if newest else lo
    if landed <= lo:
        return {**out, "credits": None, "baseline_credits": None, "extra_credits": None, "extra_cost": None,
                "hours": 0.0, "note": "metering for the incident's hours has not landed yet"}  # fmt: skip
    # The same hours a week earlier, or the same number of whole hours just before (never overlapping them).
    shift = WEEK if w.onset - w.base_lo == WEEK else landed - lo
    during = float(slice_rows(now, lo, landed)["credits_used"].sum())
    base = reader.frame(WAREHOUSE_METERING, lo - shift, landed - shift)
    price = float(spec.credit_price) if spec is not None and spec.credit_price is not None else None
    note = "" if landed >= hi else f"metering has landed up to {iso(from_epoch(landed))} only"
    if base.is_empty():
        return {**out, "credits": round(during, 4), "baseline_credits": None, "extra_credits": None,
                "extra_cost": None, "hours": round((landed - lo) / 3600, 1),
                "note": "no metering in the store for the baseline hours: the extra cost is unknown"}  # fmt: skip
    before = float(base["credits_used"].sum())
    return {
        **out,
        "credits": round(during, 4),
        "baseline_credits": round(before, 4),
        "extra_credits": round(during - before, 4),
        "extra_cost": round((during - before) * price, 2) if price is not None else None,
        "hours": round((landed - lo) / 3600, 1),
        "note": note,
    }


_CHARTS = (
    ("p95_ms", "p95 latency of the scope's queries", "s", 1000.0),
    ("queries", "queries ended per 5 minutes", "queries", 1.0),
    ("queued_ms_per_query", "queued (overload) time per query", "s", 1000.0),
    ("failed", "failed queries per 5 minutes", "queries", 1.0),
)
"""Query series charted: (value, what it shows, unit, divisor from the rollup's unit)."""


def charts(reader: Reader, lo: int, hi: int, scope: str) -> list[dict[str, Any]]:
    """The before-and-after charts over [lo, hi): each titled with what it shows, of which scope, and its date
    range in UTC (``title``); values in ``unit`` at human scale."""
    frame = reader.frame(QUERY, lo, hi)
    out = []
    for value, what, unit, divisor in _CHARTS:
        steps, values = series(frame, lo, hi, value)
        if any(v for v in values):
            shown = [None if v is None else v / divisor for v in values]
            out.append(_chart(what, scope, unit, steps[0], STEP, shown))
    hour_lo, hour_hi = lo // HOUR * HOUR, -(-hi // HOUR) * HOUR
    meter = reader.frame(WAREHOUSE_METERING, hour_lo, hour_hi)
    if meter.height:
        hours = list(range(hour_lo, hour_hi, HOUR))
        agg = dict(meter.group_by("bucket").agg(pl.col("credits_used").sum()).iter_rows())
        values = [float(agg[h]) if h in agg else None for h in hours]
        warehouses = ", ".join(sorted(reader.warehouses)) or "the scope's warehouses"
        out.append(_chart("credits per hour", f"warehouses {warehouses}", "credits", hour_lo, HOUR, values))
    return out


def _chart(what: str, scope: str, unit: str, start: int, step: int, values: list[float | None]) -> dict[str, Any]:
    end = start + step * len(values)
    grain = "5-minute steps" if step == STEP else "hourly"
    return {
        "title": f"{what} ({unit}) — {scope} — {utc_range(start, end)}, {grain}",
        "what": what,
        "unit": unit,
        "start": start,
        "step": step,
        "from": from_epoch(start),
        "to": from_epoch(end),
        "values": values,
    }
