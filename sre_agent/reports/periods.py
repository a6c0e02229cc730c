"""Report periods: a calendar month given as ``YYYY-MM`` in the report's time zone (cost and SLO reports)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sre_agent.config.budget import period_end, period_start
from sre_agent.errors import UsageError


def parse_period(
    text: str | None, tz: ZoneInfo, default: datetime, now: datetime | None = None
) -> tuple[datetime, datetime, str]:
    """``YYYY-MM`` (default: the month of ``default``) → its local start and end and label (``now``: the clock).

    Raises:
        UsageError: not a month, or a month that has not started yet.
    """
    if text is None:
        start = period_start("month", default, tz)
    else:
        match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise UsageError(f"--period {text!r}: write a calendar month as YYYY-MM, e.g. 2026-11")
        start = datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=tz)
    now = now or datetime.now(UTC)
    if start > now:
        raise UsageError(
            f"--period {start:%Y-%m} has not started yet (today is {now.astimezone(tz):%Y-%m-%d} in {tz.key}): "
            "there is nothing to report"
        )
    return start, period_end("month", start), f"{start:%Y-%m}"
