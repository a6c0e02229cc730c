"""Daily and weekly shapes of demand, in exchange-local time (New York trading hours)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# (hour of day, relative rate) knots, linearly interpolated. 9:30 is the open, 16:00 the close.
_KNOTS: dict[str, tuple[tuple[float, float], ...]] = {
    "bi": (
        (0, 0.02),
        (6, 0.04),
        (7, 0.15),
        (8, 0.55),
        (9, 0.85),
        (9.5, 1.0),
        (9.6, 1.7),
        (10.1, 1.4),
        (11.5, 1.0),
        (12.5, 0.7),
        (13.5, 0.9),
        (15.5, 1.0),
        (15.9, 1.4),
        (16.3, 0.8),
        (18, 0.25),
        (20, 0.06),
        (24, 0.02),
    ),
    "ingest": (
        (0, 0.08),
        (4, 0.2),
        (7, 0.5),
        (9.4, 0.7),
        (9.5, 1.5),
        (16, 1.5),
        (16.2, 0.6),
        (20, 0.25),
        (20.1, 0.08),
        (24, 0.08),
    ),
    "risk": ((0, 0.0), (7, 0.05), (8, 1.0), (16.5, 1.0), (17, 0.2), (18, 0.0), (24, 0.0)),
    "portfolio": ((0, 0.04), (6, 0.1), (7.5, 0.6), (8.5, 1.0), (17, 1.0), (18, 0.4), (21, 0.1), (24, 0.04)),
    "office": (
        (0, 0.0),
        (7.5, 0.0),
        (9, 1.0),
        (12, 0.8),
        (13, 0.6),
        (14, 1.0),
        (17.5, 0.8),
        (19, 0.1),
        (21, 0.0),
        (24, 0.0),
    ),
    "flat": ((0, 1.0), (24, 1.0)),
}

# Weekend multipliers: markets are closed, batch and tasks keep running.
_WEEKEND: dict[str, float] = {
    "bi": 0.03,
    "ingest": 0.04,
    "risk": 0.0,
    "portfolio": 0.08,
    "office": 0.04,
    "flat": 1.0,
}

PROFILES = tuple(_KNOTS)


def day_rates(
    profile: str, weekday: int, minutes: int = 1440, local_minutes: npt.NDArray[np.int64] | None = None
) -> npt.NDArray[np.float64]:
    """Return the relative rate for each minute of a local day (``weekday``: Monday = 0).

    ``local_minutes`` gives the wall-clock minute of day of each minute; pass it on daylight-saving
    days (23 or 25 hours) so demand follows the clock, not the elapsed time.

    Raises:
        KeyError: unknown profile.
    """
    knots = _KNOTS[profile]
    hours = np.array([k[0] for k in knots])
    values = np.array([k[1] for k in knots])
    clock = np.arange(minutes) if local_minutes is None else local_minutes
    grid = (clock + 0.5) / 60.0
    rates: npt.NDArray[np.float64] = np.interp(grid, hours, values)
    if weekday >= 5:
        rates = rates * _WEEKEND[profile]
    return rates


def weekly_mean(profile: str) -> float:
    """Mean relative rate per minute over a whole week (used to turn weights into queries per day)."""
    return float(np.mean([day_rates(profile, d).mean() for d in range(7)]))
