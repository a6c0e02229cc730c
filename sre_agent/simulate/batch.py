"""Per-query arrays the generator works on, and small shared helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from sre_agent.simulate.incidents import Incident

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
TIMEOUT_MS = 3_600_000.0
"""STATEMENT_TIMEOUT_IN_SECONDS of the platform's warehouses (3600 s): error 630 queries run exactly this long."""


@dataclass
class QueryBatch:
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
    def concat(cls, batches: list[QueryBatch]) -> QueryBatch:
        """Concatenate batches column by column."""
        names = cls.__dataclass_fields__
        return cls(**{n: np.concatenate([getattr(b, n) for b in batches]) for n in names})

    def take(self, index: npt.NDArray[np.intp]) -> QueryBatch:
        """The rows at ``index``, in that order."""
        names = type(self).__dataclass_fields__
        return type(self)(**{n: getattr(self, n)[index] for n in names})

    def __len__(self) -> int:
        return len(self.arrival)


class ErrorTable:
    """Error codes and messages seen during one day, indexed."""

    def __init__(self) -> None:
        self.codes: list[int] = []
        self.messages: list[str] = []
        self.compile_time: list[bool] = []
        self._index: dict[tuple[int, str], int] = {}

    def index(self, code: int, message: str, compile_time: bool) -> int:
        """Return the index of an error kind, adding it on first use."""
        key = (code, message)
        if key not in self._index:
            self._index[key] = len(self.codes)
            self.codes.append(code)
            self.messages.append(message)
            self.compile_time.append(compile_time)
        return self._index[key]


def lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> F64:
    """n lognormal draws with the given median (zeros when the median is not positive)."""
    if median <= 0:
        return np.zeros(n)
    return rng.lognormal(np.log(median), sigma, n)


def window_seconds(inc: Incident, day_start: datetime) -> tuple[float, float]:
    """The incident's start and end in seconds since ``day_start``."""
    return (inc.start - day_start).total_seconds(), (inc.end - day_start).total_seconds()
