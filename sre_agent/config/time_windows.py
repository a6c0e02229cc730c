"""Time windows written in YAML: one-off (start/end) or recurring (RFC 5545 RRULE + duration) on a wall clock.

Shared by SLO exclusions (time removed from good and total) and silences (time alerts are muted).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule as RRule  # noqa: N812 - the class, named as dateutil documents it
from dateutil.rrule import rrulestr
from pydantic import Field, model_validator

from sre_agent.config.durations import Duration
from sre_agent.config.specs import Strict


class TimeWindow(Strict):
    """One-off: ``start`` and ``end``. Recurring: an iCalendar ``rrule`` (e.g. ``FREQ=WEEKLY;BYDAY=SA``)
    anchored at ``start``, each occurrence lasting ``duration``. With ``time_zone`` the rule runs on that
    zone's wall clock (19:00 New York stays 19:00 across DST) and ``start``/``end`` may omit their offset.
    """

    what: ClassVar[str] = "window"
    """How error messages name the window (``exclusion``, ``silence``)."""

    start: datetime | None = None
    end: datetime | None = None
    rrule: str | None = Field(default=None, description="iCalendar RRULE; `start` anchors it")
    duration: Duration | None = None
    time_zone: str | None = Field(default=None, description="IANA zone of start/end and of the rule's wall clock")

    def _zone(self) -> ZoneInfo | None:
        return ZoneInfo(self.time_zone) if self.time_zone else None

    def _local(self, value: datetime | None) -> datetime | None:
        zone = self._zone()
        if value is None or zone is None:
            return value
        return value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(zone)

    @model_validator(mode="after")
    def _shape(self) -> TimeWindow:
        what = self.what
        if self.time_zone is not None:
            try:
                ZoneInfo(self.time_zone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {self.time_zone!r} (use an IANA name)") from exc
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None and self.time_zone is None:
                raise ValueError(f"{name} needs a time zone (e.g. 2026-11-07T02:00:00Z) or set time_zone")
        if self.rrule is None:
            if self.start is None or self.end is None or self.duration is not None:
                raise ValueError(f"a one-off {what} has start and end; a recurring one has rrule and duration")
            start, end = self._local(self.start), self._local(self.end)
            assert start is not None
            assert end is not None
            if end <= start:
                raise ValueError("end must be after start")
            return self
        if self.duration is None or self.duration <= timedelta(0):
            raise ValueError(f"a recurring {what} (rrule) needs a positive duration")
        if self.end is not None:
            raise ValueError(f"a recurring {what} takes rrule + duration (and start), not end")
        if self.start is None:
            raise ValueError(f"a recurring {what} needs start: the first occurrence, which anchors the rule")
        if "DTSTART" in self.rrule.upper():
            raise ValueError("put the rule's anchor in start, not DTSTART inside the rrule")
        try:
            self.occurrences(datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 1, 2, tzinfo=UTC))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"invalid rrule: {exc}") from exc
        return self

    def _rule(self) -> RRule:
        start = self._local(self.start)
        assert self.rrule is not None
        assert start is not None
        rule = rrulestr(self.rrule, dtstart=start)
        assert isinstance(rule, RRule)
        return rule

    def occurrences(self, lo: datetime, hi: datetime) -> list[tuple[datetime, datetime]]:
        """Intervals (UTC) of this window overlapping ``[lo, hi)``."""
        start, end = self._local(self.start), self._local(self.end)
        if self.rrule is None:
            assert start is not None
            assert end is not None
            return [(start.astimezone(UTC), end.astimezone(UTC))] if start < hi and end > lo else []
        assert self.duration is not None
        out = []
        for found in self._rule().between(lo - self.duration, hi, inc=True):
            begin = found.astimezone(UTC)
            if begin < hi and begin + self.duration > lo:
                out.append((begin, begin + self.duration))
        return out

    def starts_at(self) -> datetime | None:
        """The first start (UTC), ``start`` read on ``time_zone``'s wall clock when it has no offset."""
        start = self._local(self.start)
        return None if start is None else start.astimezone(UTC)

    def active_at(self, at: datetime) -> bool:
        """Return whether ``at`` falls inside an occurrence (start inclusive, end exclusive)."""
        return any(lo <= at < hi for lo, hi in self.occurrences(at, at + timedelta(seconds=1)))

    def expires_at(self) -> datetime | None:
        """End (UTC) of the last occurrence; None for a recurring rule without COUNT or UNTIL."""
        if self.rrule is None:
            end = self._local(self.end)
            assert end is not None
            return end.astimezone(UTC)
        rule = self._rule()
        upper = self.rrule.upper()
        if "COUNT=" not in upper and "UNTIL=" not in upper:
            return None
        last = None
        for last in rule:  # noqa: B007 - finite by COUNT/UNTIL; only the last one matters
            pass
        assert self.duration is not None
        return None if last is None else last.astimezone(UTC) + self.duration
