"""Synthetic ACCOUNT_USAGE history for the capital-markets platform, one exchange-local day at a time.

Deterministic per seed: every random stream is keyed by (seed, day, pattern or warehouse), so a day
generated alone equals the same day generated inside a longer history. Each row carries
``_VISIBLE_AT``, the moment the real view would show it (QUERY_HISTORY lags up to 45 min, load and
metering up to 3 h, daily views more).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from sre_agent.simulate.batch import F64, I64, TIMEOUT_MS, ErrorTable, QueryBatch, lognormal, window_seconds
from sre_agent.simulate.incidents import Incident, IncidentKind
from sre_agent.simulate.platform import MARKET_TZ, Pattern, Platform, capital_markets_platform
from sre_agent.simulate.rows import LOAD_SCHEMA, METERING_SCHEMA, TS, VARIANTS, frame_of, query_rows, task_rows
from sre_agent.simulate.seasonality import day_rates, weekly_mean
from sre_agent.simulate.warehouse_day import simulate_warehouse

__all__ = ["TS", "VARIANTS", "DayTables", "WorkloadConfig", "day_bounds", "generate_day"]


@dataclass(frozen=True)
class WorkloadConfig:
    """What to generate: volume, seed, incidents and the platform."""

    seed: int = 42
    queries_per_day: int = 40_000
    """Average demand-driven queries per calendar day (scheduled tasks and batches come on top)."""
    incidents: tuple[Incident, ...] = ()
    platform: Platform = field(default_factory=capital_markets_platform)


@dataclass
class DayTables:
    """One exchange-local day of ACCOUNT_USAGE rows (each frame has a ``_VISIBLE_AT`` column)."""

    day: date
    start: datetime
    end: datetime
    query_history: pl.DataFrame
    warehouse_load_history: pl.DataFrame
    warehouse_metering_history: pl.DataFrame
    task_history: pl.DataFrame


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """Return the UTC start and end of the exchange-local ``day``."""
    tz = ZoneInfo(MARKET_TZ)
    start = datetime.combine(day, time(0), tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(UTC)
    return start, end


def rate_scale(cfg: WorkloadConfig) -> float:
    """Queries per minute per unit of pattern weight, so that demand averages ``queries_per_day``."""
    demand = sum(p.weight * weekly_mean(p.profile) for p in cfg.platform.patterns if not p.scheduled)
    return cfg.queries_per_day / (1440.0 * demand)


def storm_rates(platform: Platform, inc: Incident) -> dict[str, float]:
    """Queries per minute per pattern that load the storm's warehouse to ``storm_load`` × its maximum capacity.

    A storm is defined against capacity, not against normal traffic, so it saturates the warehouse
    whatever ``queries_per_day`` is.
    """
    wh = platform.warehouse(inc.warehouse)
    target = inc.storm_load * wh.max_clusters * wh.slots
    members = [platform.pattern(k) for k in inc.patterns]
    total_weight = sum(p.weight for p in members) or 1.0
    mean_factor = sum(inc.exec_factor) / 2
    out = {}
    for p in members:
        mean_exec_s = p.exec_ms / 1000.0 * float(np.exp(p.sigma**2 / 2)) * mean_factor
        out[p.key] = target * (p.weight / total_weight) * 60.0 / mean_exec_s
    return out


def local_minutes(day_start: datetime, n_min: int) -> I64:
    """Wall-clock minute of day (New York) of each minute since the local midnight ``day_start``."""
    tz = ZoneInfo(MARKET_TZ)
    out = np.empty(n_min, dtype=np.int64)
    for hour in range(0, n_min, 60):  # UTC offsets change on the hour, so one lookup per hour is enough
        local = (day_start + timedelta(minutes=hour)).astimezone(tz)
        span = min(60, n_min - hour)
        out[hour : hour + span] = local.hour * 60 + local.minute + np.arange(span)
    return out


def _arrivals(
    pattern: Pattern,
    weekday: int,
    clock: I64,
    scale: float,
    rng: np.random.Generator,
    incidents: list[Incident],
    day_start: datetime,
    storm_rate: float | None = None,
) -> F64:
    if pattern.scheduled:
        assert pattern.every_min is not None
        if pattern.weekdays_only and weekday >= 5:
            return np.zeros(0)
        lo, hi = int(pattern.hours[0] * 60), int(np.ceil(pattern.hours[1] * 60))
        # Schedules follow the wall clock (a 05:00 job runs at 05:00 on daylight-saving days too).
        due = (clock >= lo) & (clock < hi) & ((clock - lo) % pattern.every_min == 0)
        ticks = np.flatnonzero(due).astype(np.float64) * 60.0
        fan = np.tile(np.arange(pattern.fanout, dtype=np.float64) * 7.0, len(ticks))
        out: F64 = np.repeat(ticks, pattern.fanout) + fan + rng.uniform(0.0, 3.0, len(ticks) * pattern.fanout)
        return out
    n_min = len(clock)
    rates = day_rates(pattern.profile, weekday, n_min, clock) * scale * pattern.weight
    minutes = np.arange(n_min) * 60.0
    for inc in incidents:
        if pattern.key not in inc.patterns or inc.rate_factor == 1.0:
            continue
        s, e = window_seconds(inc, day_start)
        boosted = rates * inc.rate_factor
        if inc.kind is IncidentKind.QUEUE_STORM and storm_rate is not None:
            boosted = np.maximum(boosted, storm_rate)
        rates = np.where((minutes >= s) & (minutes < e), boosted, rates)
    counts = rng.poisson(rates)
    minute = np.repeat(np.arange(n_min, dtype=np.float64), counts)
    arrivals: F64 = np.sort(minute * 60.0 + rng.random(len(minute)) * 60.0)
    return arrivals


def _attributes(pi: int, p: Pattern, arrival: F64, rng: np.random.Generator, errors: ErrorTable) -> QueryBatch:
    n = len(arrival)
    bytes_scanned = lognormal(rng, p.bytes_mb * 1e6, 0.5, n)
    total = np.full(n, float(p.partitions_total))
    scanned = np.where(
        total > 0,
        np.maximum(1.0, np.round(total * np.clip(p.scan_fraction * rng.lognormal(0, 0.35, n), 0, 1))),
        0.0,
    )
    spill_local = np.where(rng.random(n) < p.spill_prob, lognormal(rng, p.spill_local_mb * 1e6, 0.6, n), 0.0)
    spill_remote = np.where((spill_local > 0) & (rng.random(n) < 0.1), spill_local * 0.05, 0.0)
    kinds = [errors.index(e.code, e.message, e.compile_time) for e in p.errors]
    weights = np.array([e.weight for e in p.errors])
    chosen = np.asarray(kinds)[rng.choice(len(kinds), n, p=weights / weights.sum())]
    error = np.where(rng.random(n) < p.error_rate, chosen, -1).astype(np.int64)
    return QueryBatch(
        pattern=np.full(n, pi, dtype=np.int64),
        arrival=arrival,
        user=rng.integers(0, len(p.users), n),
        variant=rng.integers(0, VARIANTS, n),
        compile_ms=lognormal(rng, p.compile_ms, 0.45, n),
        exec_ms=lognormal(rng, p.exec_ms, p.sigma, n),
        list_ms=lognormal(rng, p.list_files_ms, 0.4, n),
        blocked_ms=np.where(rng.random(n) < p.blocked_prob, lognormal(rng, 4000.0, 0.7, n), 0.0),
        bytes_scanned=bytes_scanned,
        partitions_total=total,
        partitions_scanned=scanned,
        cache=np.where(bytes_scanned > 0, np.clip(p.cache_share + rng.normal(0, 0.15, n), 0, 1), 0.0),
        rows=np.round(lognormal(rng, p.rows, 0.6, n)),
        rows_inserted=np.round(lognormal(rng, p.rows_inserted, 0.4, n)),
        spill_local=spill_local,
        spill_remote=spill_remote,
        error=error,
        exec_cap_ms=np.full(n, np.inf),
    )


def _apply_incidents(
    b: QueryBatch,
    p: Pattern,
    incidents: list[Incident],
    day_start: datetime,
    rng: np.random.Generator,
    errors: ErrorTable,
) -> None:
    for inc in incidents:
        if p.key not in inc.patterns:
            continue
        s, e = window_seconds(inc, day_start)
        hit = (b.arrival >= s) & (b.arrival < e)
        k = int(hit.sum())
        if not k:
            continue
        if inc.kind is IncidentKind.QUEUE_STORM:
            b.exec_ms[hit] *= rng.uniform(*inc.exec_factor, k)
            b.bytes_scanned[hit] *= sum(inc.exec_factor) / 2
            b.partitions_scanned[hit] = b.partitions_total[hit]
        if inc.kind is IncidentKind.LATENCY_REGRESSION:
            b.exec_ms[hit] *= rng.uniform(*inc.exec_factor, k)
            b.spill_local[hit] = lognormal(rng, inc.spill_local_gb * 1e9, 0.4, k)
            b.spill_remote[hit] = np.where(rng.random(k) < 0.6, lognormal(rng, inc.spill_remote_gb * 1e9, 0.6, k), 0)
            b.rows[hit] *= inc.rows_factor
            b.bytes_scanned[hit] *= 1.5
        if inc.kind is IncidentKind.STREAM_STALL:  # COPY still succeeds, but there are no new files to load
            b.rows_inserted[hit] = 0.0
            b.rows[hit] = 0.0
            b.exec_ms[hit] *= 0.2
        if inc.failure_prob > 0 and inc.error is not None:
            code = errors.index(inc.error.code, inc.error.message, inc.error.compile_time)
            b.error[hit] = np.where(rng.random(k) < inc.failure_prob, code, b.error[hit])


def _finish_errors(b: QueryBatch, errors: ErrorTable, rng: np.random.Generator) -> None:
    failed = b.error >= 0
    if not failed.any():
        return
    compile_time = np.zeros(len(b), dtype=bool)
    compile_time[failed] = np.asarray(errors.compile_time)[b.error[failed]]
    codes = np.zeros(len(b), dtype=np.int64)
    codes[failed] = np.asarray(errors.codes)[b.error[failed]]
    runtime = failed & ~compile_time
    b.exec_ms[compile_time] = 0.0
    b.exec_ms[runtime] *= rng.uniform(0.1, 1.0, int(runtime.sum()))
    b.exec_ms[codes == 630] = TIMEOUT_MS
    b.exec_cap_ms[codes == 630] = TIMEOUT_MS
    for arr in (b.rows, b.rows_inserted, b.spill_local, b.spill_remote):
        arr[failed] = 0.0
    b.bytes_scanned[compile_time] = 0.0
    b.partitions_scanned[compile_time] = 0.0


def generate_day(day: date, cfg: WorkloadConfig) -> DayTables:
    """Generate one exchange-local day of history."""
    platform = cfg.platform
    start, end = day_bounds(day)
    n_min = int((end - start).total_seconds() // 60)
    weekday = day.weekday()
    clock = local_minutes(start, n_min)
    scale = rate_scale(cfg)
    incidents = [i for i in cfg.incidents if i.start < end and i.end > start]
    errors = ErrorTable()
    batches = []
    for pi, pattern in enumerate(platform.patterns):
        rng = np.random.default_rng([cfg.seed, day.toordinal(), pi])
        storm = next(
            (
                storm_rates(platform, i)[pattern.key]
                for i in incidents
                if i.kind is IncidentKind.QUEUE_STORM and pattern.key in i.patterns
            ),
            None,
        )
        arrival = _arrivals(pattern, weekday, clock, scale, rng, incidents, start, storm)
        batch = _attributes(pi, pattern, arrival, rng, errors)
        _apply_incidents(batch, pattern, incidents, start, rng, errors)
        _finish_errors(batch, errors, rng)
        batches.append(batch)
    day_batch = QueryBatch.concat(batches)
    wh_of_pattern = np.array(
        [next(i for i, w in enumerate(platform.warehouses) if w.name == p.warehouse) for p in platform.patterns]
    )
    qh_parts = []
    load_rows: list[dict[str, object]] = []
    metering_rows: list[dict[str, object]] = []
    for wi in range(len(platform.warehouses)):
        idx = np.flatnonzero(wh_of_pattern[day_batch.pattern] == wi)
        sub = day_batch.take(idx[np.argsort(day_batch.arrival[idx], kind="stable")])
        sim = simulate_warehouse(wi, sub, platform, cfg.seed, day, start, n_min, incidents)
        load_rows.extend(sim.load_rows)
        metering_rows.extend(sim.metering_rows)
        qh_parts.append(query_rows(sub, sim, wi, platform, cfg.seed, day, start, errors))
    qh = pl.concat([p for p in qh_parts if p.height], how="vertical") if qh_parts else pl.DataFrame()
    qh = qh.sort("END_TIME")
    return DayTables(
        day,
        start,
        end,
        qh,
        frame_of(load_rows, LOAD_SCHEMA),
        frame_of(metering_rows, METERING_SCHEMA),
        task_rows(qh, platform),
    )
