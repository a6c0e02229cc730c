"""A cost budget's hourly spend and the unit it is judged in: the data the budget engine and the spend figures share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

HOUR = 3_600
F64 = npt.NDArray[np.float64]


@dataclass
class HourlySpend:
    """Credits per hour from ``origin`` (epoch s, a whole hour); ``nan`` marks hours the agent has no data for."""

    origin: int
    values: F64
    projections: dict[tuple[int, int], tuple[float, str, dict[str, Any]]] = field(default_factory=dict)
    """Forecasts already computed for (frontier, end): the instants of a pass share them."""

    def index(self, at: int) -> int:
        """Hour index of epoch ``at`` (clipped to the array)."""
        return int(min(max((at - self.origin) // HOUR, 0), len(self.values)))

    def total(self, lo: int, hi: int) -> float:
        """Credits in ``[lo, hi)`` (unknown hours count as 0)."""
        chunk = self.values[self.index(lo) : self.index(hi)]
        return float(np.nansum(chunk)) if len(chunk) else 0.0

    def known(self, lo: int, hi: int) -> bool:
        """Whether every hour of ``[lo, hi)`` is inside the array and has data."""
        if lo < self.origin or (hi - self.origin) // HOUR > len(self.values):
            return False
        chunk = self.values[self.index(lo) : self.index(hi)]
        return bool(len(chunk)) and not bool(np.isnan(chunk).any())


@dataclass
class SpendCache:
    """A budget's hourly spend for the days that can no longer change."""

    signature: str
    origin: int
    final: F64
    landing: tuple[object, ...] = ()
    """What the days still landing were computed from (the sources' watermarks): unchanged, they are reused."""
    fresh: F64 | None = None
    frontier: int | None = None

    @property
    def end(self) -> int:
        """End (epoch s) of the cached hours."""
        return self.origin + len(self.final) * HOUR


@dataclass(frozen=True)
class Money:
    """Converts credits into the budget's unit."""

    unit: str
    """``credits`` or an ISO 4217 code."""
    price: float
    """Budget units per credit (1 for credits)."""

    def of(self, credits: float) -> float:
        """``credits`` in the budget's unit."""
        return credits * self.price
