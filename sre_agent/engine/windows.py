"""Window sums over rollup buckets at many instants at once, in a few vectorised numpy passes.

Rows are sorted by (group, bucket) and summed into one cumulative table; the sum over
``[anchor - window, anchor)`` of a group is then the difference of two rows of that table, found
by binary search. One evaluation at ``now`` costs O(groups) after the sort, and a replay over days
is the same pass with more anchors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sre_agent.engine.frames import BoolArray, RollupArrays
from sre_agent.engine.histogram import FloatArray
from sre_agent.engine.rollups import Combine

I64 = npt.NDArray[np.int64]
_SHIFT = 34  # bucket offsets (seconds since the first bucket) stay below 2**34 (≈ 544 years)


@dataclass
class Groups:
    """The series groups of a rule: one per distinct value of its ``group_by`` labels among kept rows."""

    keys: list[tuple[str, ...]]
    row_group: I64
    """Kept row → group index."""
    rows: npt.NDArray[np.intp]
    """Indices of the kept rows in the arrays."""
    latest_end: I64
    """Per group: end of its newest bucket (epoch s)."""


def group_rows(data: RollupArrays, group_by: list[str], keep: BoolArray) -> Groups:
    """Split the kept rows of ``data`` into groups by ``group_by``."""
    rows = np.flatnonzero(keep)
    grain = int(data.rollup.grain.total_seconds())
    if len(rows) == 0:
        return Groups([], np.zeros(0, np.int64), rows, np.zeros(0, np.int64))
    if group_by:
        stacked = np.stack([data.codes[g][rows] for g in group_by], axis=1)
        unique, inverse = np.unique(stacked, axis=0, return_inverse=True)
        keys = [tuple(data.categories[g][c] for g, c in zip(group_by, row, strict=True)) for row in unique.tolist()]
        gid = inverse.reshape(-1).astype(np.int64)
    else:
        keys = [()]
        gid = np.zeros(len(rows), dtype=np.int64)
    latest = np.full(len(keys), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(latest, gid, data.bucket[rows] + grain)
    return Groups(keys, gid, rows, latest)


@dataclass
class WindowSums:
    """Aggregates per (group, instant) row: row ``g * n_instants + k``."""

    columns: dict[str, FloatArray]
    hist: FloatArray | None
    buckets_with_data: I64


def window_sums(
    data: RollupArrays,
    groups: Groups,
    measures: dict[str, FloatArray | None],
    anchors: I64,
    window_s: int,
    with_hist: bool = False,
) -> WindowSums:
    """Aggregate ``measures`` over ``[anchor - window_s, anchor)`` for every group and its anchors.

    ``anchors`` has shape (groups, instants). ``measures`` maps a name to its per-row values (None:
    take the rollup measure of that name). Measures the rollup combines by max are maxed, every
    other column summed; a window without buckets gives zeros.
    """
    rollup = data.rollup

    def combine(name: str) -> Combine:
        return rollup.measure(name).combine if name in rollup.measure_names else Combine.SUM

    def column(name: str) -> FloatArray:
        given = measures[name]
        return data.values[name] if given is None else given

    sum_cols = [m for m in measures if combine(m) is Combine.SUM]
    max_cols = [m for m in measures if combine(m) is Combine.MAX]
    n_groups, n_instants = anchors.shape if anchors.ndim == 2 else (0, 0)
    n = n_groups * n_instants
    if n == 0 or len(groups.rows) == 0:
        width = data.hist.shape[1] if (with_hist and data.hist is not None) else 0
        return WindowSums(
            {m: np.zeros(n) for m in measures},
            np.zeros((n, width)) if with_hist else None,
            np.zeros(n, dtype=np.int64),
        )
    rows = groups.rows
    buckets = data.bucket[rows]
    base = int(buckets.min())
    key = (groups.row_group << _SHIFT) | (buckets - base)
    order = np.argsort(key, kind="stable")
    key = key[order]
    unique_key, starts = np.unique(key, return_index=True)
    parts = [column(m)[rows][order][:, None] for m in sum_cols]
    if with_hist and data.hist is not None:
        parts.append(data.hist[rows][order])
    matrix = np.hstack(parts) if parts else np.zeros((len(rows), 0))
    summed = np.add.reduceat(matrix, starts, axis=0) if matrix.shape[1] else np.zeros((len(starts), 0))
    cum = np.vstack([np.zeros((1, summed.shape[1])), np.cumsum(summed, axis=0)])

    group_of = np.repeat(np.arange(n_groups, dtype=np.int64), n_instants)
    flat = anchors.reshape(-1)
    hi = np.searchsorted(unique_key, (group_of << _SHIFT) | np.clip(flat - base, 0, None), side="left")
    lo = np.searchsorted(unique_key, (group_of << _SHIFT) | np.clip(flat - window_s - base, 0, None), side="left")
    sums = cum[hi] - cum[lo]
    out = {name: sums[:, j] for j, name in enumerate(sum_cols)}
    hist = sums[:, len(sum_cols) :] if with_hist else None
    if max_cols:
        maxed = np.maximum.reduceat(np.stack([column(m)[rows][order] for m in max_cols], axis=1), starts, axis=0)
        padded = np.vstack([maxed, np.zeros((1, maxed.shape[1]))])
        bounds = np.empty(2 * n, dtype=np.int64)
        bounds[0::2], bounds[1::2] = lo, np.maximum(hi, lo)
        reduced = np.maximum.reduceat(padded, bounds, axis=0)[0::2]
        empty = hi <= lo
        for j, name in enumerate(max_cols):
            out[name] = np.where(empty, 0.0, reduced[:, j])
    return WindowSums(out, hist, (hi - lo).astype(np.int64))
