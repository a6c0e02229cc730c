"""How a warehouse turns demand into queueing, resumes, load averages and credits.

Queueing is a per-minute fluid queue: each cluster runs ``slots`` queries at once; demand beyond the
running clusters' capacity becomes backlog that new queries wait behind (QUEUED_OVERLOAD_TIME).
Multi-cluster warehouses add a cluster per minute while there is backlog (Standard scaling policy)
up to MAX_CLUSTER_COUNT. The warehouse runs from the first query after a suspension until
AUTO_SUSPEND seconds after the last one; each resume bills at least 60 s and makes the first query
wait for provisioning. Load averages and credits are exact integrals of the query intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass
class QueueResult:
    """Per-minute outcome of the fluid queue for one warehouse."""

    wait_s: F64
    """Seconds a query arriving in the minute waits behind the backlog."""
    clusters: I64
    """Clusters running in the minute."""
    utilisation: F64
    """Demand / capacity in the minute, capped at 1."""


def fluid_queue(demand_s: F64, slots: int, min_clusters: int, max_clusters: int) -> QueueResult:
    """Run the per-minute fluid queue over ``demand_s`` (execution seconds arriving per minute)."""
    n = len(demand_s)
    wait = np.zeros(n)
    clusters = np.zeros(n, dtype=np.int64)
    util = np.zeros(n)
    backlog = 0.0
    current = min_clusters
    for m in range(n):
        load = backlog + float(demand_s[m])
        target = min(max(int(np.ceil(load / 60.0 / slots)), min_clusters), max_clusters)
        # Standard scaling: start a cluster as soon as work queues, shed them one at a time.
        current = min(target, current + 1) if target > current else max(target, current - 1)
        capacity = current * slots * 60.0
        util[m] = min(1.0, load / capacity) if capacity else 1.0
        backlog = max(0.0, load - capacity)
        wait[m] = backlog / (current * slots)
        clusters[m] = current
    return QueueResult(wait, clusters, util)


def busy_integral(starts: F64, ends: F64, boundaries: F64) -> F64:
    """Return ∫ concurrency dt from 0 to each boundary for the intervals ``[starts, ends)``.

    F(T) = Σ_{a<T} (T − a) − Σ_{b<T} (T − b): exact, vectorised, O((n + k) log n).
    """
    a = np.sort(starts)
    b = np.sort(ends)
    ca = np.concatenate(([0.0], np.cumsum(a)))
    cb = np.concatenate(([0.0], np.cumsum(b)))
    na = np.searchsorted(a, boundaries, side="left")
    nb = np.searchsorted(b, boundaries, side="left")
    return (na * boundaries - ca[na]) - (nb * boundaries - cb[nb])


def per_bucket(starts: F64, ends: F64, bucket_s: float, n_buckets: int) -> F64:
    """Return the seconds of concurrency inside each bucket of ``bucket_s`` seconds."""
    bounds = np.arange(n_buckets + 1, dtype=np.float64) * bucket_s
    return np.diff(busy_integral(starts, ends, bounds))


@dataclass
class RunningSegments:
    """Periods the warehouse was up: from a resume to its suspension."""

    starts: F64
    ends: F64
    first_query: I64
    """Index (in the arrival-sorted input) of the query that resumed the warehouse."""


def running_segments(
    arrivals: F64, finishes: F64, auto_suspend_s: float, forced: list[tuple[float, float]] | None = None
) -> RunningSegments:
    """Merge query intervals into running periods, with AUTO_SUSPEND tails and the 60 s minimum.

    ``arrivals`` must be sorted. ``forced`` are periods the warehouse is kept up regardless of
    queries (auto-suspend disabled).
    """
    if len(arrivals) == 0 and not forced:
        return RunningSegments(np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64))
    prev_end = np.maximum.accumulate(finishes) if len(finishes) else finishes
    new = np.ones(len(arrivals), dtype=bool)
    if len(arrivals) > 1:
        new[1:] = arrivals[1:] > prev_end[:-1] + auto_suspend_s
    first = np.flatnonzero(new)
    seg_start = arrivals[first]
    last = np.concatenate((first[1:] - 1, [len(arrivals) - 1])) if len(first) else first
    seg_end = prev_end[last] + auto_suspend_s if len(first) else np.zeros(0)
    seg_end = np.maximum(seg_end, seg_start + 60.0)
    starts = list(seg_start)
    ends = list(seg_end)
    firsts = [int(i) for i in first]
    for lo, hi in forced or []:
        starts.append(lo)
        ends.append(hi)
        firsts.append(-1)
    order = np.argsort(starts, kind="stable")
    s = np.asarray(starts)[order]
    e = np.asarray(ends)[order]
    f = np.asarray(firsts, dtype=np.int64)[order]
    # Overlapping periods (a forced period covering queries) are one running period.
    merged_s: list[float] = []
    merged_e: list[float] = []
    merged_f: list[int] = []
    for lo, hi, q in zip(s, e, f, strict=True):
        if merged_e and lo <= merged_e[-1]:
            merged_e[-1] = max(merged_e[-1], float(hi))
            continue
        merged_s.append(float(lo))
        merged_e.append(float(hi))
        merged_f.append(int(q))
    return RunningSegments(np.asarray(merged_s), np.asarray(merged_e), np.asarray(merged_f, dtype=np.int64))
