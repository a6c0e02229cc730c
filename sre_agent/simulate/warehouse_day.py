"""One warehouse over one day: queueing, resumes, resizes, load history and hourly metering."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import numpy.typing as npt

from sre_agent.simulate.batch import F64, I64, QueryBatch, window_seconds
from sre_agent.simulate.incidents import Incident, IncidentKind
from sre_agent.simulate.platform import CREDITS_PER_HOUR, Platform
from sre_agent.simulate.warehouse_model import fluid_queue, per_bucket, running_segments


@dataclass
class WarehouseDay:
    """Per-query timings added by the warehouse model, and the warehouse's own rows."""

    queued_overload_ms: F64
    queued_provisioning_ms: F64
    cluster: I64
    size: npt.NDArray[np.object_]
    load_percent: F64
    load_rows: list[dict[str, object]]
    metering_rows: list[dict[str, object]]


def simulate_warehouse(
    wh_index: int,
    b: QueryBatch,
    platform: Platform,
    seed: int,
    day: date,
    day_start: datetime,
    n_min: int,
    incidents: list[Incident],
) -> WarehouseDay:
    """Run one warehouse through one day: queue waits, resumes, resizes, load history and hourly metering."""
    wh = platform.warehouses[wh_index]
    rng = np.random.default_rng([seed, day.toordinal(), 1000 + wh_index])
    n = len(b)
    day_len = n_min * 60.0
    size = np.full(n, wh.size, dtype=object)
    rate = np.full(n_min, float(wh.credits_per_hour))
    forced: list[tuple[float, float]] = []
    for inc in incidents:
        if inc.kind is IncidentKind.COST_RUNAWAY and inc.warehouse == wh.name and inc.resize_to:
            s, e = window_seconds(inc, day_start)
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
    return WarehouseDay(qo, qp, cluster, size, np.clip(np.round(100.0 / concurrency), 1, 100), load_rows, metering_rows)
