"""A rollup frame as numpy arrays, converted once per evaluation and shared by every rule on it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

from sre_agent.engine.histogram import FloatArray
from sre_agent.engine.rollups import HIST_COLUMNS, RollupDef

I64 = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class RollupArrays:
    """Columns of a rollup frame: buckets, dimension codes, measures, histogram, exact latency counts."""

    rollup: RollupDef
    bucket: I64
    codes: dict[str, I64]
    """Dimension → integer code per row."""
    categories: dict[str, list[str]]
    """Dimension → the value of each code."""
    values: dict[str, FloatArray]
    hist: FloatArray | None
    le_json: list[str] | None = None
    _le: dict[int, tuple[FloatArray, FloatArray]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.bucket)

    @classmethod
    def from_frame(cls, frame: pl.DataFrame, rollup: RollupDef) -> RollupArrays:
        """Convert a store frame (bucket, dims, measures[, le_counts, h00…]) once."""
        codes: dict[str, I64] = {}
        categories: dict[str, list[str]] = {}
        for dim in rollup.dims:
            series = frame[dim].cast(pl.String).fill_null("") if frame.height else pl.Series(dim, [], pl.String)
            uniques, inverse = np.unique(series.to_numpy().astype(str), return_inverse=True)
            codes[dim] = inverse.astype(np.int64)
            categories[dim] = [str(u) for u in uniques]
        values = {m: frame[m].cast(pl.Float64).to_numpy() for m in rollup.measure_names}
        hist = None
        le_json = None
        if rollup.histogram:
            hist = (
                frame.select(HIST_COLUMNS).to_numpy().astype(np.float64)
                if frame.height
                else np.zeros((0, len(HIST_COLUMNS)))
            )
            le_json = frame["le_counts"].to_list() if frame.height else []
        return cls(rollup, frame["bucket"].to_numpy().astype(np.int64), codes, categories, values, hist, le_json)

    def mask(self, where: dict[str, list[str]]) -> BoolArray:
        """Rows whose labels are in the given lists."""
        keep = np.ones(self.rows, dtype=bool)
        for dim, allowed in where.items():
            wanted = [i for i, v in enumerate(self.categories[dim]) if v in set(allowed)]
            keep &= np.isin(self.codes[dim], wanted)
        return keep

    def le(self, threshold_ms: int) -> tuple[FloatArray, FloatArray]:
        """Exact count of successful queries at or under ``threshold_ms`` per row, and 1 where unknown."""
        if threshold_ms not in self._le:
            key = str(threshold_ms)
            counts = np.zeros(self.rows)
            missing = np.zeros(self.rows)
            for i, text in enumerate(self.le_json or []):
                value = json.loads(text).get(key)
                if value is None:
                    missing[i] = 1.0
                else:
                    counts[i] = float(value)
            self._le[threshold_ms] = (counts, missing)
        return self._le[threshold_ms]
