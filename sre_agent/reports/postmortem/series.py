"""The incident's scope as series: rollup rows of its warehouses, services or domains, 5-minute (and hourly)
series of its signals, the baseline window, and where the data says the impact began and ended."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from sre_agent.engine.histogram import quantiles
from sre_agent.engine.rollups import HIST_COLUMNS, QUERY, WAREHOUSE_METERING
from sre_agent.model import to_epoch
from sre_agent.store.incidents import Incident
from sre_agent.store.rollups import RollupStore

WEEK = 7 * 86400
HOUR = 3600
STEP = 300
"""Chart and onset grain: 5 minutes."""
ONSET_LOOKBACK = 6 * 3600
"""The onset is searched at most this long before the first alert."""


def scoped(frame: pl.DataFrame, scope: dict[str, list[str]]) -> pl.DataFrame:
    """Rows of the incident's warehouses or services (any of them); of its domains only when it names neither —
    as alerts are grouped (see ``alerting/incidents.py``)."""
    dims = [d for d in ("warehouse", "service") if scope.get(d)] or ["domain"]
    terms = [pl.col(d).is_in(scope[d]) for d in dims if d in frame.columns and scope.get(d)]
    if not terms:
        return frame.clear()
    cond = terms[0]
    for term in terms[1:]:
        cond = cond | term
    return frame.filter(cond)


def p95(frame: pl.DataFrame) -> float | None:
    if frame.is_empty():
        return None
    counts = np.asarray([frame[c].sum() for c in HIST_COLUMNS], dtype=np.float64)
    value = float(quantiles(counts[None, :], 0.95)[0])
    return None if math.isnan(value) else value


@dataclass
class Windows:
    onset: int
    end: int
    base_lo: int
    base_hi: int
    basis: str


class Reader:
    """Rollup frames of the incident's scope over the chart range and the baseline."""

    def __init__(self, rollups: RollupStore, scope: dict[str, list[str]]) -> None:
        self.rollups = rollups
        self.scope = scope
        self.cache: dict[tuple[str, int, int], pl.DataFrame] = {}
        self.warehouses: set[str] = set(scope.get("warehouse", []))
        """Warehouses of the scope: named by its alerts, or running the queries of its services and domains
        (what warehouse-only rollups — load, metering — are filtered on)."""

    def frame(self, rollup: Any, lo: int, hi: int) -> pl.DataFrame:
        """Rows of ``rollup`` in [lo, hi) of the scope."""
        key = (rollup.name, lo, hi)
        if key not in self.cache:
            raw = self.rollups.load(rollup, lo, hi)
            if "service" in rollup.dims or "domain" in rollup.dims:
                self.cache[key] = scoped(raw, self.scope)
            else:
                self.cache[key] = raw.filter(pl.col("warehouse").is_in(sorted(self.warehouses)))
        return self.cache[key]

    def add_warehouses(self, lo: int, hi: int) -> None:
        """Add the warehouses that ran the scope's queries in [lo, hi) (before warehouse-only frames are read)."""
        frame = self.frame(QUERY, lo, hi)
        self.warehouses |= set(frame.filter(pl.col("queries") > 0)["warehouse"].to_list())


def slice_rows(frame: pl.DataFrame, lo: int, hi: int) -> pl.DataFrame:
    return frame.filter((pl.col("bucket") >= lo) & (pl.col("bucket") < hi))


def query_stats(frame: pl.DataFrame) -> dict[str, Any]:
    queries = int(frame["queries"].sum()) if frame.height else 0
    return {
        "queries": queries,
        "failed": int(frame["failed"].sum()) if frame.height else 0,
        "p95_ms": p95(frame),
        "queued_ms_per_query": float(frame["queued_overload_ms_sum"].sum()) / queries if queries else None,
        "spill_gb": (float(frame["spill_local_bytes_sum"].sum()) + float(frame["spill_remote_bytes_sum"].sum())) / 1e9
        if frame.height
        else 0.0,
        "spill_remote_gb": float(frame["spill_remote_bytes_sum"].sum()) / 1e9 if frame.height else 0.0,
    }


def baseline(reader: Reader, onset: int, end: int) -> tuple[int, int, str]:
    """The same hours a week earlier when the store has them, else the same length just before the onset."""
    length = max(end - onset, STEP)
    week = reader.frame(QUERY, onset - WEEK, end - WEEK)
    if week.height and int(week["queries"].sum()) > 0:
        return onset - WEEK, end - WEEK, "the same hours one week earlier"
    return onset - length, onset, "the same length of time just before the onset"


def series(frame: pl.DataFrame, lo: int, hi: int, value: str, step: int = STEP) -> tuple[list[int], list[float | None]]:
    """A series of ``value`` (a measure, or p95_ms / queued_ms_per_query computed per step) over [lo, hi)."""
    steps = list(range(lo - lo % step, hi, step))
    if frame.is_empty():
        return steps, [None] * len(steps)
    grouped = frame.with_columns((pl.col("bucket") // step * step).alias("step")).group_by("step")
    if value == "p95_ms":
        agg = grouped.agg([pl.col(c).sum() for c in HIST_COLUMNS])
        counts = agg.select(HIST_COLUMNS).to_numpy().astype(np.float64)
        values = quantiles(counts, 0.95) if len(counts) else np.zeros(0)
        found = dict(zip(agg["step"].to_list(), values.tolist(), strict=True))
    elif value == "queued_ms_per_query":
        agg = grouped.agg(pl.col("queued_overload_ms_sum").sum(), pl.col("queries").sum())
        found = {
            s: (q / n if n else None)
            for s, q, n in zip(agg["step"], agg["queued_overload_ms_sum"], agg["queries"], strict=True)
        }
    else:
        agg = grouped.agg(pl.col(value).sum())
        found = dict(zip(agg["step"].to_list(), agg[value].to_list(), strict=True))
    out: list[float | None] = []
    for s in steps:
        v = found.get(s)
        out.append(None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v))
    return steps, out


HOUR = 3600
_SIGNALS = (
    (QUERY, STEP, "p95_ms", "p95 latency", 100.0),
    (QUERY, STEP, "queued_ms_per_query", "queueing", 1000.0),
    (QUERY, STEP, "failed", "failed queries", 2.0),
    (QUERY, STEP, "spill_remote_bytes_sum", "remote spill", 1e8),
    (WAREHOUSE_METERING, HOUR, "credits_used", "credits per hour", 1.0),
)
"""Series of the scope the onset and the end of impact are read from: (rollup, step, value, what, floor of
"elevated")."""


def _run_back(high: list[bool], i: int) -> int:
    """Start of the run of elevated steps ending at ``i`` (a gap of one step allowed)."""
    gap, start = 0, i
    while i >= 0:
        if high[i]:
            start, gap = i, 0
        else:
            gap += 1
            if gap > 1:
                break
        i -= 1
    return start


def _run_forward(high: list[bool], i: int, quiet: int = 3) -> int | None:
    """First step after ``i`` that starts ``quiet`` steps in a row not elevated (None: still elevated)."""
    calm = 0
    for k in range(i, len(high)):
        calm = 0 if high[k] else calm + 1
        if calm == quiet:
            return k - quiet + 1
    return None


def impact_bounds(reader: Reader, incident: Incident, first_alert: int, until: int) -> tuple[int, str, int | None]:
    """Where the data says the impact began and ended.

    Onset: the start of the run of steps (5 minutes; metering: hours) before the first alert in which the scope's
    p95 latency, queueing, failures, remote spill or credits per hour stayed above twice their level over the same
    hours a week earlier (the day before when the store does not reach back a week; a gap of one step allowed); the
    earliest over the signals elevated when the alert fired. End: the first calm 15 minutes (metering: hour) after
    the first alert for every one of those signals (the "last anomalous bucket" of the post-mortem templates); past
    ``until`` when one is still elevated there (the caller decides what ends the impact then). Without an elevated
    signal, the onset is the first alert's own start and the end unknown.
    """
    onsets: list[tuple[int, str]] = []
    ends: list[int] = []
    for rollup, step, value, what, floor in _SIGNALS:
        lo = (first_alert - ONSET_LOOKBACK) // step * step
        hi = -(-(max(until, first_alert) + STEP) // step) * step
        steps, now = series(reader.frame(rollup, lo, hi), lo, hi, value, step)
        before: list[float | None] = []
        label = "the day before"
        for back, when in ((WEEK, "a week earlier"), (86400, "the day before")):
            earlier = reader.frame(rollup, lo - back, first_alert + step - back)
            if earlier.height:
                _, before = series(earlier, lo - back, first_alert + step - back, value, step)
                label = when
                break
        base_values = [v for v in before if v is not None]
        level = max(2 * float(np.median(base_values)) if base_values else 0.0, floor)
        high = [v is not None and v > level for v in now]
        at_alert = next((k for k, t in enumerate(steps) if t + step > first_alert), len(steps) - 1)
        # Hourly metering lands 1-3 hours late: the hours before the alert's may be all there is.
        back = 1 if step == STEP else 3
        elevated = [k for k in range(max(0, at_alert - back), at_alert + 1) if high[k]]
        if not elevated:
            continue  # not elevated when the alert fired: not this signal
        start = _run_back(high, elevated[-1])
        onsets.append((steps[start], f"{what} above twice its level {label}"))
        calm = _run_forward(high, elevated[-1], quiet=3 if step == STEP else 1)
        ends.append(steps[calm] if calm is not None else hi)
    if not onsets:
        started = min(to_epoch(incident.started_at), first_alert)
        return started, "the first alert's condition (no series in the scope moved earlier)", None
    at, basis = min(onsets)
    return min(at, first_alert), basis, max(ends)
