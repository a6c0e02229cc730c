"""The one place that reads real time; everything else receives a Clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Source of the current time (always timezone-aware UTC)."""

    def now(self) -> datetime:
        """Return the current instant."""
        ...


class SystemClock:
    """Wall-clock time, for the daemon and `once`."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)


class SimulatedClock:
    """A clock moved by hand: replay, demo, backtests and tests."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """Return the simulated instant."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` and return the new instant."""
        if delta < timedelta(0):
            raise ValueError("a simulated clock only moves forward")
        self._now += delta
        return self._now

    def set(self, instant: datetime) -> None:
        """Jump to ``instant`` (must not be in the past of this clock)."""
        instant = instant.astimezone(UTC)
        if instant < self._now:
            raise ValueError(f"cannot move the clock back from {self._now} to {instant}")
        self._now = instant


def floor_to(instant: datetime, step: timedelta) -> datetime:
    """Return ``instant`` rounded down to a multiple of ``step`` since the Unix epoch."""
    seconds = int(step.total_seconds())
    epoch = int(instant.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)
