"""Which query patterns and warehouses of the optimization report changed inside an incident: the state store's
incidents whose scope names their warehouse or service (the domain only when it names neither, as alerts are
grouped), and the figures that moved inside the incident's window against the rest of the report window.

A pattern changed when, inside the window, its credits, failures or elapsed time per run (hourly, from the store's
attributed usage) or its rows produced, spill per run or p95 (per UTC day overlapping the window, from
QUERY_HISTORY) reached ``incident_change_factor`` times their level outside it, and rose by more than noise (the
MIN_* constants below). A warehouse changed when its billed credits per hour did, or one of its patterns changed
inside the same incident. An incident still open ends at the report window's end; one without a level outside
its window (it spans the whole report) links nothing. Days are UTC days: an incident of a few hours compares the
whole days it touches, and one pattern can change inside two incidents of the same day (both are listed, the
larger change first).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from sre_agent.config.optimize import OptimizeThresholds
from sre_agent.figures.text import credits, human_bytes, human_ms, pct, utc_minute
from sre_agent.reports.optimize.findings import GB
from sre_agent.store.db import Database
from sre_agent.store.incidents import IncidentStatus, IncidentStore

HOUR = 3600
DAY = 86_400
MIN_FAILED_RUNS = 10
"""Failed runs inside a window below which a higher failure share is noise, not a change."""
MIN_FAILED_SHARE = 0.01
"""A pattern that never failed outside the window changed when at least this share of its runs inside failed."""
MIN_ROWS_INCREASE = 1000.0
MIN_P95_INCREASE_S = 5.0
MIN_ELAPSED_INCREASE_MS = 1000.0
"""Increases smaller than these (rows per run, p95 seconds, mean elapsed ms per run) are not a change whatever the
ratio: 1 → 3 rows per run, or 0.2 → 0.5 s, tell nothing about an incident."""


@dataclass(frozen=True)
class IncidentWindow:
    """An incident as the report matches it: its window (epoch s) and scope."""

    id: str
    title: str
    start: int
    end: int
    open: bool
    warehouses: frozenset[str]
    services: frozenset[str]
    domains: frozenset[str]

    def scopes(self, warehouse: object, service: object, domain: object) -> bool:
        """The incident's scope names this warehouse or service (its domain when the scope names neither)."""
        if self.warehouses or self.services:
            return warehouse in self.warehouses or service in self.services
        return domain in self.domains

    def link(self, changed: list[tuple[float, str]], via: Sequence[tuple[float, str]] = ()) -> dict[str, Any]:
        """The JSON record of a link: the incident, its window, and what changed (largest change first; changes of
        the subject's parts — ``via`` — after its own)."""
        ordered = sorted(changed, key=lambda c: -c[0]) + sorted(via, key=lambda c: -c[0])
        return {
            "incident": self.id,
            "title": self.title,
            "window_start": utc_minute(self.start),
            "window_end": None if self.open else utc_minute(self.end),
            "changed": [text for _, text in ordered],
            "factor": round(max(c[0] for c in ordered), 3),
        }


def incident_windows(db: Database, lo: int, hi: int) -> list[IncidentWindow]:
    """The incidents of the store whose window overlaps ``[lo, hi)``, oldest first."""
    out = []
    for inc in IncidentStore(db).all(include_resolved=True, since=lo):  # active in the window
        start = int(inc.started_at.timestamp())
        still_open = inc.status != IncidentStatus.RESOLVED or inc.resolved_at is None
        end = hi if still_open or inc.resolved_at is None else int(inc.resolved_at.timestamp())
        if start < hi and end > lo:
            scope = {k: frozenset(v) for k, v in inc.scope.items()}
            empty: frozenset[str] = frozenset()
            out.append(
                IncidentWindow(inc.id, inc.title, start, end, still_open,
                               scope.get("warehouse", empty), scope.get("service", empty), scope.get("domain", empty))
            )  # fmt: skip
    return sorted(out, key=lambda w: (w.start, w.id))


def _ratio(inside: float, outside: float, factor: float, floor: float = 0.0, rise: float = 0.0) -> float | None:
    """inside / outside when it reaches ``factor`` and rose by at least ``rise`` (an outside level of 0 counts once
    inside reaches ``floor`` > 0)."""
    if outside > 0:
        changed = inside / outside >= factor and inside >= floor and inside - outside >= rise
        return inside / outside if changed else None
    return factor if floor > 0 and inside >= floor else None


def _when(w: IncidentWindow) -> str:
    return f"{utc_minute(w.start)} to {'now' if w.open else utc_minute(w.end)}"


def hourly_changes(hours: pl.DataFrame, w: IncidentWindow, factor: float) -> list[tuple[float, str]]:
    """Credits, failure share and elapsed time per run of one pattern's hourly usage (bucket, queries, failed,
    elapsed_ms, credits) inside ``w`` against outside it."""
    if hours.is_empty():
        return []
    inside = (pl.col("bucket") + HOUR > w.start) & (pl.col("bucket") < w.end)
    sums = {
        name: hours.filter(cond).select(pl.col("queries", "failed", "elapsed_ms", "credits").sum()).row(0, named=True)
        for name, cond in (("in", inside), ("out", ~inside))
    }
    a, b = sums["in"], sums["out"]
    if not (a["queries"] or 0) or not (b["queries"] or 0):
        return []
    out = []
    figures: list[tuple[str, str, Callable[[float], str], float, float]] = [
        ("credits per run", "credits", lambda v: credits(v, 4), 0.0, 0.0),
        ("failed share of runs", "failed", lambda v: pct(v, 1), MIN_FAILED_SHARE, 0.0),
        ("mean elapsed per run", "elapsed_ms", human_ms, 0.0, MIN_ELAPSED_INCREASE_MS),
    ]
    for label, column, fmt, floor, rise in figures:
        mine, base = float(a[column] or 0) / a["queries"], float(b[column] or 0) / b["queries"]
        if column == "failed" and float(a["failed"] or 0) < MIN_FAILED_RUNS:
            continue
        ratio = _ratio(mine, base, factor, floor, rise)
        if ratio is not None:
            out.append((ratio, f"{label} {fmt(mine)} from {_when(w)} against {fmt(base)} outside"))
    return out


def _overlaps(day: object, w: IncidentWindow) -> bool:
    start = int(datetime.fromisoformat(str(day)).replace(tzinfo=UTC).timestamp())
    return start < w.end and start + DAY > w.start


def daily_changes(
    days: Sequence[Mapping[str, Any]], w: IncidentWindow, t: OptimizeThresholds
) -> list[tuple[float, str]]:
    """Rows produced and spill per run and p95 of one pattern on the UTC days overlapping ``w`` against the median
    of its other days (spill from nothing counts from ``remote_spill_gb_per_run``)."""
    runs = [d for d in days if float(d.get("runs") or 0) > 0]
    during = [d for d in runs if _overlaps(d["day"], w)]
    before = [d for d in runs if not _overlaps(d["day"], w)]
    if not during or not before:
        return []
    figures: list[tuple[str, str, float, Callable[[float], str], float, float]] = [
        ("rows per run", "rows_produced_sum", 1.0, lambda v: f"{v:,.0f}", 0.0, MIN_ROWS_INCREASE),
        ("spill per run", "spill_bytes_sum", GB, lambda v: human_bytes(v * GB), t.remote_spill_gb_per_run, 0.0),
        ("p95", "p95_elapsed_ms", 1000.0, lambda v: human_ms(v * 1000), 0.0, MIN_P95_INCREASE_S),
    ]
    out = []
    for label, column, unit, fmt, floor, rise in figures:
        per_run = column != "p95_elapsed_ms"

        def value(d: Mapping[str, Any], column: str = column, unit: float = unit, per_run: bool = per_run) -> float:
            return float(d.get(column) or 0) / (float(d["runs"]) if per_run else 1.0) / unit

        base = statistics.median(value(d) for d in before)
        worst = max(during, key=value)
        ratio = _ratio(value(worst), base, t.incident_change_factor, floor, rise)
        if ratio is not None:
            text = f"{label} {fmt(value(worst))} on {worst['day']} (UTC) against a median of {fmt(base)}"
            out.append((ratio, text))
    return out


def pattern_links(
    p: Mapping[str, Any], hours: pl.DataFrame, days: Sequence[Mapping[str, Any]], windows: Sequence[IncidentWindow],
    t: OptimizeThresholds,
) -> list[dict[str, Any]]:  # fmt: skip
    """The incidents inside which pattern ``p`` changed, the largest change first."""
    links = []
    for w in windows:
        if w.scopes(p.get("top_warehouse"), p.get("top_service"), p.get("top_domain")):
            changed = hourly_changes(hours, w, t.incident_change_factor) + daily_changes(days, w, t)
            if changed:
                links.append(w.link(changed))
    return sorted(links, key=lambda x: -x["factor"])


def warehouse_links(
    warehouse: str, billed: pl.DataFrame, lo: int, hi: int, windows: Sequence[IncidentWindow],
    patterns: Mapping[str, list[dict[str, Any]]], owners: Mapping[str, str], factor: float,
) -> list[dict[str, Any]]:  # fmt: skip
    """The incidents inside which ``warehouse``'s billed credits per hour changed (``billed``: bucket, warehouse,
    credits) or one of its patterns (``owners``: pattern → its warehouse; ``patterns``: pattern → its links) did."""
    mine = billed.filter(pl.col("warehouse") == warehouse) if billed.height else billed
    links = []
    for w in windows:
        if not w.scopes(warehouse, None, None):
            continue
        changed: list[tuple[float, str]] = []
        first, last = max(w.start, lo) // HOUR, -(-min(w.end, hi) // HOUR)
        inside_h = max(1, last - first)  # the hourly buckets the window touches
        outside_h = (hi - lo) // HOUR - inside_h
        if mine.height and outside_h > 0:
            during = (pl.col("bucket") + HOUR > w.start) & (pl.col("bucket") < w.end)
            a = float(mine.filter(during)["credits"].sum()) / inside_h
            b = float(mine.filter(~during)["credits"].sum()) / outside_h
            ratio = _ratio(a, b, factor)
            if ratio is not None:
                changed.append((ratio, f"{credits(a)} per hour from {_when(w)} against {credits(b)} outside"))
        via = [
            (link["factor"], f"its pattern {pattern[:12]}: {link['changed'][0]}")
            for pattern, found in patterns.items()
            for link in found
            if owners.get(pattern) == warehouse and link["incident"] == w.id
        ]
        if changed or via:
            links.append(w.link(changed, via))
    return sorted(links, key=lambda x: -x["factor"])
