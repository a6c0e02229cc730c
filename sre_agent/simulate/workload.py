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
import numpy.typing as npt
import polars as pl

from sre_agent.simulate.ids import query_ids, stable_hash, stable_int
from sre_agent.simulate.incidents import Incident, IncidentKind
from sre_agent.simulate.platform import (
    CREDITS_PER_HOUR,
    DESKS,
    MARKET_TZ,
    SYMBOLS,
    Pattern,
    Platform,
    capital_markets_platform,
)
from sre_agent.simulate.seasonality import day_rates, weekly_mean
from sre_agent.simulate.warehouse_model import fluid_queue, per_bucket, running_segments

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
VARIANTS = 24
TIMEOUT_MS = 3_600_000.0
"""STATEMENT_TIMEOUT_IN_SECONDS of the platform's warehouses (3600 s): error 630 queries run exactly this long."""
TS: pl.DataType = pl.Datetime("us", "UTC")


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


@dataclass
class _Batch:
    """Per-query arrays of one pattern (or, concatenated, of a whole day)."""

    pattern: I64
    arrival: F64
    user: I64
    variant: I64
    compile_ms: F64
    exec_ms: F64
    list_ms: F64
    blocked_ms: F64
    bytes_scanned: F64
    partitions_total: F64
    partitions_scanned: F64
    cache: F64
    rows: F64
    rows_inserted: F64
    spill_local: F64
    spill_remote: F64
    error: I64
    """Index into the day's error table, -1 for success."""
    exec_cap_ms: F64
    """Execution time a query cannot exceed (its statement timeout); inf when it has none."""

    @classmethod
    def concat(cls, batches: list[_Batch]) -> _Batch:
        names = cls.__dataclass_fields__
        return cls(**{n: np.concatenate([getattr(b, n) for b in batches]) for n in names})

    def take(self, index: npt.NDArray[np.intp]) -> _Batch:
        names = type(self).__dataclass_fields__
        return type(self)(**{n: getattr(self, n)[index] for n in names})

    def __len__(self) -> int:
        return len(self.arrival)


class _Errors:
    """Error codes and messages seen during one day, indexed."""

    def __init__(self) -> None:
        self.codes: list[int] = []
        self.messages: list[str] = []
        self.compile_time: list[bool] = []
        self._index: dict[tuple[int, str], int] = {}

    def index(self, code: int, message: str, compile_time: bool) -> int:
        key = (code, message)
        if key not in self._index:
            self._index[key] = len(self.codes)
            self.codes.append(code)
            self.messages.append(message)
            self.compile_time.append(compile_time)
        return self._index[key]


def _lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> F64:
    if median <= 0:
        return np.zeros(n)
    return rng.lognormal(np.log(median), sigma, n)


def _window(inc: Incident, day_start: datetime) -> tuple[float, float]:
    return (inc.start - day_start).total_seconds(), (inc.end - day_start).total_seconds()


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
        s, e = _window(inc, day_start)
        boosted = rates * inc.rate_factor
        if inc.kind is IncidentKind.QUEUE_STORM and storm_rate is not None:
            boosted = np.maximum(boosted, storm_rate)
        rates = np.where((minutes >= s) & (minutes < e), boosted, rates)
    counts = rng.poisson(rates)
    minute = np.repeat(np.arange(n_min, dtype=np.float64), counts)
    arrivals: F64 = np.sort(minute * 60.0 + rng.random(len(minute)) * 60.0)
    return arrivals


def _attributes(pi: int, p: Pattern, arrival: F64, rng: np.random.Generator, errors: _Errors) -> _Batch:
    n = len(arrival)
    bytes_scanned = _lognormal(rng, p.bytes_mb * 1e6, 0.5, n)
    total = np.full(n, float(p.partitions_total))
    scanned = np.where(
        total > 0,
        np.maximum(1.0, np.round(total * np.clip(p.scan_fraction * rng.lognormal(0, 0.35, n), 0, 1))),
        0.0,
    )
    spill_local = np.where(rng.random(n) < p.spill_prob, _lognormal(rng, p.spill_local_mb * 1e6, 0.6, n), 0.0)
    spill_remote = np.where((spill_local > 0) & (rng.random(n) < 0.1), spill_local * 0.05, 0.0)
    kinds = [errors.index(e.code, e.message, e.compile_time) for e in p.errors]
    weights = np.array([e.weight for e in p.errors])
    chosen = np.asarray(kinds)[rng.choice(len(kinds), n, p=weights / weights.sum())]
    error = np.where(rng.random(n) < p.error_rate, chosen, -1).astype(np.int64)
    return _Batch(
        pattern=np.full(n, pi, dtype=np.int64),
        arrival=arrival,
        user=rng.integers(0, len(p.users), n),
        variant=rng.integers(0, VARIANTS, n),
        compile_ms=_lognormal(rng, p.compile_ms, 0.45, n),
        exec_ms=_lognormal(rng, p.exec_ms, p.sigma, n),
        list_ms=_lognormal(rng, p.list_files_ms, 0.4, n),
        blocked_ms=np.where(rng.random(n) < p.blocked_prob, _lognormal(rng, 4000.0, 0.7, n), 0.0),
        bytes_scanned=bytes_scanned,
        partitions_total=total,
        partitions_scanned=scanned,
        cache=np.where(bytes_scanned > 0, np.clip(p.cache_share + rng.normal(0, 0.15, n), 0, 1), 0.0),
        rows=np.round(_lognormal(rng, p.rows, 0.6, n)),
        rows_inserted=np.round(_lognormal(rng, p.rows_inserted, 0.4, n)),
        spill_local=spill_local,
        spill_remote=spill_remote,
        error=error,
        exec_cap_ms=np.full(n, np.inf),
    )


def _apply_incidents(
    b: _Batch,
    p: Pattern,
    incidents: list[Incident],
    day_start: datetime,
    rng: np.random.Generator,
    errors: _Errors,
) -> None:
    for inc in incidents:
        if p.key not in inc.patterns:
            continue
        s, e = _window(inc, day_start)
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
            b.spill_local[hit] = _lognormal(rng, inc.spill_local_gb * 1e9, 0.4, k)
            b.spill_remote[hit] = np.where(rng.random(k) < 0.6, _lognormal(rng, inc.spill_remote_gb * 1e9, 0.6, k), 0)
            b.rows[hit] *= inc.rows_factor
            b.bytes_scanned[hit] *= 1.5
        if inc.failure_prob > 0 and inc.error is not None:
            code = errors.index(inc.error.code, inc.error.message, inc.error.compile_time)
            b.error[hit] = np.where(rng.random(k) < inc.failure_prob, code, b.error[hit])


def _finish_errors(b: _Batch, errors: _Errors, rng: np.random.Generator) -> None:
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


@dataclass
class _WarehouseDay:
    """Per-query timings added by the warehouse model, and the warehouse's own rows."""

    queued_overload_ms: F64
    queued_provisioning_ms: F64
    cluster: I64
    size: npt.NDArray[np.object_]
    load_percent: F64
    load_rows: list[dict[str, object]]
    metering_rows: list[dict[str, object]]


def _simulate_warehouse(
    wh_index: int,
    b: _Batch,
    cfg: WorkloadConfig,
    day: date,
    day_start: datetime,
    n_min: int,
    incidents: list[Incident],
) -> _WarehouseDay:
    wh = cfg.platform.warehouses[wh_index]
    rng = np.random.default_rng([cfg.seed, day.toordinal(), 1000 + wh_index])
    n = len(b)
    day_len = n_min * 60.0
    size = np.full(n, wh.size, dtype=object)
    rate = np.full(n_min, float(wh.credits_per_hour))
    forced: list[tuple[float, float]] = []
    for inc in incidents:
        if inc.kind is IncidentKind.COST_RUNAWAY and inc.warehouse == wh.name and inc.resize_to:
            s, e = _window(inc, day_start)
            if e <= 0 or s >= day_len:
                continue
            hit = (b.arrival >= s) & (b.arrival < e)
            size[hit] = inc.resize_to
            speedup = (wh.credits_per_hour / CREDITS_PER_HOUR[inc.resize_to]) ** 0.6
            b.exec_ms[hit] *= speedup
            minutes = np.arange(n_min) * 60.0
            rate = np.where((minutes >= s) & (minutes < e), float(CREDITS_PER_HOUR[inc.resize_to]), rate)
            forced.append((max(s, 0.0), min(e, day_len)))
    minute = np.minimum((b.arrival // 60).astype(np.int64), n_min - 1)
    # Work in progress per minute: each query occupies a slot for its whole execution, not all at once.
    demand = per_bucket(b.arrival, b.arrival + b.exec_ms / 1000.0, 60.0, n_min)
    queue = fluid_queue(demand, wh.slots, wh.min_clusters, wh.max_clusters)
    wait_s = queue.wait_s[minute]
    qo = np.where(wait_s > 0.2, wait_s * 1000.0 * rng.uniform(0.4, 1.6, n), 0.0)
    b.exec_ms *= 1.0 + 0.3 * queue.utilisation[minute] ** 2
    # A statement timeout is a wall: slowdown and resizes change how much work gets done, not when it stops.
    b.exec_ms = np.where(np.isfinite(b.exec_cap_ms), b.exec_cap_ms, b.exec_ms)
    before_exec = qo + b.compile_ms + b.list_ms + b.blocked_ms
    finish = b.arrival + (before_exec + b.exec_ms) / 1000.0
    seg = running_segments(b.arrival, finish, float(wh.auto_suspend_s), forced)
    qp = np.zeros(n)
    resumed = seg.first_query[seg.first_query >= 0]
    qp[resumed] = rng.uniform(600.0, 2500.0, len(resumed))
    grew = np.zeros(n_min, dtype=bool)
    grew[1:] = queue.clusters[1:] > queue.clusters[:-1]
    spin = grew[minute] & (rng.random(n) < 0.3)
    qp[spin] = np.maximum(qp[spin], rng.uniform(0.0, 1500.0, int(spin.sum())))
    cluster = np.minimum(rng.integers(1, wh.max_clusters + 1, n), queue.clusters[minute])

    # Phase intervals, seconds from the day start: queue → compile → provisioning → files → locks → execution.
    t_compile = b.arrival + qo / 1000.0
    t_prov = t_compile + b.compile_ms / 1000.0
    t_exec = t_prov + (qp + b.list_ms + b.blocked_ms) / 1000.0
    t_end = t_exec + b.exec_ms / 1000.0
    n5 = int(np.ceil(n_min / 5))
    running = per_bucket(seg.starts, np.minimum(seg.ends, day_len), 60.0, n_min)
    busy_seg = running_segments(t_exec, t_end, 0.0) if n else seg
    busy = per_bucket(busy_seg.starts, np.minimum(busy_seg.ends, day_len), 60.0, n_min) if n else np.zeros(n_min)
    busy = np.minimum(busy, running)
    load = {
        "AVG_RUNNING": per_bucket(t_exec, t_end, 300.0, n5) / 300.0,
        "AVG_QUEUED_LOAD": per_bucket(b.arrival, t_compile, 300.0, n5) / 300.0,
        "AVG_QUEUED_PROVISIONING": per_bucket(t_prov, t_prov + qp / 1000.0, 300.0, n5) / 300.0,
        "AVG_BLOCKED": per_bucket(t_exec - b.blocked_ms / 1000.0, t_exec, 300.0, n5) / 300.0,
    }
    active5 = np.add.reduceat(running, np.arange(0, n_min, 5)) > 0
    load_rows = []
    for k in np.flatnonzero(active5):
        begin = day_start + timedelta(minutes=5 * int(k))
        row: dict[str, object] = {
            "START_TIME": begin,
            "END_TIME": begin + timedelta(minutes=5),
            "WAREHOUSE_ID": wh.warehouse_id,
            "WAREHOUSE_NAME": wh.name,
        }
        row.update({name: round(float(values[k]), 3) for name, values in load.items()})
        row["_VISIBLE_AT"] = begin + timedelta(minutes=5) + timedelta(seconds=float(rng.uniform(2700, 10800)))
        load_rows.append(row)

    compute_min = running / 3600.0 * queue.clusters * rate
    attributed_min = busy / 3600.0 * queue.clusters * rate
    cs = (b.compile_ms * 5e-7 + 1e-6) * (b.exec_ms >= 0)
    hours = int(np.ceil(n_min / 60))
    compute_h = np.add.reduceat(compute_min, np.arange(0, n_min, 60))
    attributed_h = np.add.reduceat(attributed_min, np.arange(0, n_min, 60))
    cs_h = np.bincount(np.minimum((b.arrival // 3600).astype(np.int64), hours - 1), weights=cs, minlength=hours)
    metering_rows = []
    for h in range(hours):
        if compute_h[h] <= 0 and cs_h[h] <= 0:
            continue
        begin = day_start + timedelta(hours=h)
        compute = round(float(compute_h[h]), 9)
        cloud = round(float(cs_h[h]), 9)
        metering_rows.append(
            {
                "START_TIME": begin,
                "END_TIME": begin + timedelta(hours=1),
                "WAREHOUSE_ID": wh.warehouse_id,
                "WAREHOUSE_NAME": wh.name,
                "CREDITS_USED": round(compute + cloud, 9),
                "CREDITS_USED_COMPUTE": compute,
                "CREDITS_USED_CLOUD_SERVICES": cloud,
                "CREDITS_ATTRIBUTED_COMPUTE_QUERIES": round(min(float(attributed_h[h]), compute), 9),
                "_VISIBLE_AT": begin + timedelta(hours=1) + timedelta(seconds=float(rng.uniform(3600, 10800))),
            }
        )
    concurrency = np.maximum(demand / 60.0, 1.0)[minute]
    return _WarehouseDay(
        qo, qp, cluster, size, np.clip(np.round(100.0 / concurrency), 1, 100), load_rows, metering_rows
    )


def _texts(p: Pattern, day: date) -> tuple[list[str], list[str]]:
    texts = []
    for v in range(VARIANTS):
        texts.append(
            p.template.format(
                desk=DESKS[v % len(DESKS)],
                date=day.isoformat(),
                account=100_000 + 137 * v,
                symbol=SYMBOLS[v % len(SYMBOLS)],
                n=5 + v % 5,
            )
        )
    return texts, [stable_hash(t) for t in texts]


def generate_day(day: date, cfg: WorkloadConfig) -> DayTables:
    """Generate one exchange-local day of history."""
    platform = cfg.platform
    start, end = day_bounds(day)
    n_min = int((end - start).total_seconds() // 60)
    weekday = day.weekday()
    clock = local_minutes(start, n_min)
    scale = rate_scale(cfg)
    incidents = [i for i in cfg.incidents if i.start < end and i.end > start]
    errors = _Errors()
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
    day_batch = _Batch.concat(batches)
    wh_of_pattern = np.array(
        [next(i for i, w in enumerate(platform.warehouses) if w.name == p.warehouse) for p in platform.patterns]
    )
    qh_parts = []
    load_rows: list[dict[str, object]] = []
    metering_rows: list[dict[str, object]] = []
    for wi in range(len(platform.warehouses)):
        idx = np.flatnonzero(wh_of_pattern[day_batch.pattern] == wi)
        sub = day_batch.take(idx[np.argsort(day_batch.arrival[idx], kind="stable")])
        sim = _simulate_warehouse(wi, sub, cfg, day, start, n_min, incidents)
        load_rows.extend(sim.load_rows)
        metering_rows.extend(sim.metering_rows)
        qh_parts.append(_query_rows(sub, sim, wi, cfg, day, start, errors))
    qh = pl.concat([p for p in qh_parts if p.height], how="vertical") if qh_parts else pl.DataFrame()
    qh = qh.sort("END_TIME")
    return DayTables(
        day,
        start,
        end,
        qh,
        _frame(load_rows, _LOAD_SCHEMA),
        _frame(metering_rows, _METERING_SCHEMA),
        _task_rows(qh, platform),
    )


_LOAD_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "START_TIME": TS,
    "END_TIME": TS,
    "WAREHOUSE_ID": pl.Int64,
    "WAREHOUSE_NAME": pl.String,
    "AVG_RUNNING": pl.Float64,
    "AVG_QUEUED_LOAD": pl.Float64,
    "AVG_QUEUED_PROVISIONING": pl.Float64,
    "AVG_BLOCKED": pl.Float64,
    "_VISIBLE_AT": TS,
}
_METERING_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "START_TIME": TS,
    "END_TIME": TS,
    "WAREHOUSE_ID": pl.Int64,
    "WAREHOUSE_NAME": pl.String,
    "CREDITS_USED": pl.Float64,
    "CREDITS_USED_COMPUTE": pl.Float64,
    "CREDITS_USED_CLOUD_SERVICES": pl.Float64,
    "CREDITS_ATTRIBUTED_COMPUTE_QUERIES": pl.Float64,
    "_VISIBLE_AT": TS,
}


def _frame(rows: list[dict[str, object]], schema: dict[str, pl.DataType | type[pl.DataType]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def _micros(day_start: datetime, seconds: F64) -> pl.Series:
    base = int(day_start.timestamp() * 1_000_000)
    return pl.Series((base + np.round(seconds * 1e6)).astype(np.int64)).cast(TS)


def _query_rows(
    b: _Batch,
    sim: _WarehouseDay,
    wi: int,
    cfg: WorkloadConfig,
    day: date,
    day_start: datetime,
    errors: _Errors,
) -> pl.DataFrame:
    n = len(b)
    if n == 0:
        return pl.DataFrame()
    platform = cfg.platform
    wh = platform.warehouses[wi]
    rng = np.random.default_rng([cfg.seed, day.toordinal(), 2000 + wi])
    patterns = platform.patterns
    pidx = b.pattern
    texts: list[str] = []
    hashes: list[str] = []
    for p in patterns:
        t, h = _texts(p, day)
        texts.extend(t)
        hashes.extend(h)
    text_idx = pidx * VARIANTS + b.variant
    total_ms = sim.queued_overload_ms + b.compile_ms + sim.queued_provisioning_ms + b.list_ms + b.blocked_ms + b.exec_ms
    total_ms = np.round(total_ms)
    end_s = b.arrival + total_ms / 1000.0
    failed = b.error >= 0
    err = np.maximum(b.error, 0)
    compile_fail = failed & np.asarray([*errors.compile_time, False])[err]
    services = {s.name: s for s in platform.services}
    tag_of = [
        f'{{"service":"{p.service}","domain":"{services[p.service].domain}"}}' if services[p.service].tagged else None
        for p in patterns
    ]
    offsets = np.cumsum([0] + [len(p.users) for p in patterns])
    all_users = np.array([u for p in patterns for u in p.users], dtype=object)
    user_names = all_users[offsets[pidx] + b.user]
    session_of = np.array([stable_int(u, 1 << 20) for u in all_users.tolist()], dtype=np.int64)
    query_type = np.array([p.query_type for p in patterns], dtype=object)[pidx]
    query_type = np.where(compile_fail, "UNKNOWN", query_type)
    exec_ms = np.round(b.exec_ms)
    cs = np.round((b.compile_ms * 5e-7 + 1e-6), 9)
    salt = stable_int(wh.name, 1 << 30)
    df = pl.DataFrame(
        {
            "QUERY_ID": query_ids(day.toordinal(), np.arange(n, dtype=np.uint64) + np.uint64(wi << 40), salt),
            "QUERY_TEXT": pl.Series(np.asarray(texts, dtype=object)[text_idx], dtype=pl.String),
            "DATABASE_ID": np.array([platform.databases.get(p.database, 0) for p in patterns])[pidx],
            "DATABASE_NAME": pl.Series(np.array([p.database for p in patterns], dtype=object)[pidx], dtype=pl.String),
            "SCHEMA_ID": np.array([stable_int(p.database + p.schema, 900) + 100 for p in patterns])[pidx],
            "SCHEMA_NAME": pl.Series(np.array([p.schema for p in patterns], dtype=object)[pidx], dtype=pl.String),
            "QUERY_TYPE": pl.Series(query_type, dtype=pl.String),
            "SESSION_ID": session_of[offsets[pidx] + b.user] + (day.toordinal() << 20),
            "USER_NAME": pl.Series(user_names, dtype=pl.String),
            "ROLE_NAME": pl.Series(np.array([p.role for p in patterns], dtype=object)[pidx], dtype=pl.String),
            "WAREHOUSE_ID": np.full(n, wh.warehouse_id),
            "WAREHOUSE_NAME": pl.Series([wh.name] * n, dtype=pl.String),
            "WAREHOUSE_SIZE": pl.Series(sim.size, dtype=pl.String),
            "WAREHOUSE_TYPE": pl.Series(["STANDARD"] * n, dtype=pl.String),
            "CLUSTER_NUMBER": sim.cluster,
            "QUERY_TAG": pl.Series(np.array(tag_of, dtype=object)[pidx], dtype=pl.String),
            "EXECUTION_STATUS": pl.Series(np.where(failed, "FAIL", "SUCCESS"), dtype=pl.String),
            "ERROR_CODE": np.where(failed, np.asarray([*errors.codes, 0])[err], 0).astype(np.int64),
            "ERROR_MESSAGE": pl.Series(np.asarray([*errors.messages, ""], dtype=object)[err], dtype=pl.String),
            "START_TIME": _micros(day_start, b.arrival),
            "END_TIME": _micros(day_start, end_s),
            "TOTAL_ELAPSED_TIME": total_ms.astype(np.int64),
            "BYTES_SCANNED": np.round(b.bytes_scanned).astype(np.int64),
            "PERCENTAGE_SCANNED_FROM_CACHE": np.round(b.cache, 4),
            "BYTES_WRITTEN_TO_RESULT": (b.rows * 96).astype(np.int64),
            "ROWS_PRODUCED": b.rows.astype(np.int64),
            "ROWS_INSERTED": b.rows_inserted.astype(np.int64),
            "PARTITIONS_SCANNED": b.partitions_scanned.astype(np.int64),
            "PARTITIONS_TOTAL": b.partitions_total.astype(np.int64),
            "BYTES_SPILLED_TO_LOCAL_STORAGE": np.round(b.spill_local).astype(np.int64),
            "BYTES_SPILLED_TO_REMOTE_STORAGE": np.round(b.spill_remote).astype(np.int64),
            "COMPILATION_TIME": np.round(b.compile_ms).astype(np.int64),
            "EXECUTION_TIME": exec_ms.astype(np.int64),
            "QUEUED_PROVISIONING_TIME": np.round(sim.queued_provisioning_ms).astype(np.int64),
            "QUEUED_REPAIR_TIME": np.zeros(n, dtype=np.int64),
            "QUEUED_OVERLOAD_TIME": np.round(sim.queued_overload_ms).astype(np.int64),
            "TRANSACTION_BLOCKED_TIME": np.round(b.blocked_ms).astype(np.int64),
            "LIST_EXTERNAL_FILES_TIME": np.round(b.list_ms).astype(np.int64),
            "CREDITS_USED_CLOUD_SERVICES": cs,
            "RELEASE_VERSION": pl.Series(["9.38.2"] * n, dtype=pl.String),
            "QUERY_LOAD_PERCENT": sim.load_percent.astype(np.int64),
            "IS_CLIENT_GENERATED_STATEMENT": np.zeros(n, dtype=bool),
            "ROLE_TYPE": pl.Series(["ROLE"] * n, dtype=pl.String),
            "QUERY_HASH": pl.Series(np.asarray(hashes, dtype=object)[text_idx], dtype=pl.String),
            "QUERY_HASH_VERSION": np.full(n, 2),
            "QUERY_PARAMETERIZED_HASH": pl.Series(
                np.array([stable_hash("param:" + p.key) for p in patterns], dtype=object)[pidx],
                dtype=pl.String,
            ),
            "QUERY_PARAMETERIZED_HASH_VERSION": np.full(n, 1),
            "USER_TYPE": pl.Series(
                np.array(
                    ["SERVICE" if u.startswith("SVC_") else "PERSON" for u in all_users.tolist()],
                    dtype=object,
                )[offsets[pidx] + b.user],
                dtype=pl.String,
            ),
            "_VISIBLE_AT": _micros(day_start, end_s + np.clip(rng.lognormal(np.log(540.0), 0.55, n), 90.0, 2700.0)),
        }
    )
    fail = pl.col("EXECUTION_STATUS") == "FAIL"
    return df.with_columns(
        pl.when(fail).then(pl.col("ERROR_CODE")).alias("ERROR_CODE"),
        pl.when(fail).then(pl.col("ERROR_MESSAGE")).alias("ERROR_MESSAGE"),
    )


def _task_rows(qh: pl.DataFrame, platform: Platform) -> pl.DataFrame:
    tasks = {stable_hash("param:" + p.key): p for p in platform.patterns if p.task_name}
    if qh.is_empty() or not tasks:
        return pl.DataFrame()
    rows = qh.filter(pl.col("QUERY_PARAMETERIZED_HASH").is_in(list(tasks)))
    names = {h: p.task_name for h, p in tasks.items()}
    return rows.select(
        pl.col("QUERY_PARAMETERIZED_HASH").replace_strict(names, return_dtype=pl.String).alias("NAME"),
        pl.col("QUERY_TEXT"),
        pl.col("SCHEMA_NAME"),
        pl.col("SCHEMA_ID").alias("TASK_SCHEMA_ID"),
        pl.col("DATABASE_NAME"),
        pl.col("DATABASE_ID").alias("TASK_DATABASE_ID"),
        pl.col("START_TIME").dt.truncate("1m").alias("SCHEDULED_TIME"),
        pl.col("END_TIME").alias("COMPLETED_TIME"),
        pl.when(pl.col("EXECUTION_STATUS") == "SUCCESS")
        .then(pl.lit("SUCCEEDED"))
        .otherwise(pl.lit("FAILED"))
        .alias("STATE"),
        pl.col("QUERY_ID"),
        pl.col("START_TIME").alias("QUERY_START_TIME"),
        pl.col("ERROR_CODE"),
        pl.col("ERROR_MESSAGE"),
        pl.lit(1, dtype=pl.Int64).alias("GRAPH_VERSION"),
        (pl.col("START_TIME").dt.truncate("1m").dt.epoch("ms")).alias("RUN_ID"),
        pl.col("QUERY_PARAMETERIZED_HASH").alias("ROOT_TASK_ID"),
        pl.lit("SCHEDULE").alias("SCHEDULED_FROM"),
        pl.lit(1, dtype=pl.Int64).alias("ATTEMPT_NUMBER"),
        pl.col("QUERY_HASH"),
        pl.col("QUERY_HASH_VERSION"),
        pl.col("QUERY_PARAMETERIZED_HASH"),
        pl.col("QUERY_PARAMETERIZED_HASH_VERSION"),
        pl.col("_VISIBLE_AT"),
    )
