"""Argument types of the command line: durations, dates, instants, label matchers, report windows.

Light on imports on purpose: the parser is built for every command, `--help` and `--version` included, so what a
type needs (pydantic-backed duration parsing, the optimization report's window rules) is imported when the type
first converts a value.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta
from typing import Any


def duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``7d``, ``1w`` (argparse type; a bad value exits 2 with the reason)."""
    from sre_agent.config.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def day(text: str) -> date:
    """``YYYY-MM-DD``."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from exc


def _iso(text: str, expected: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from exc


def instant(text: str) -> datetime:
    """An ISO 8601 instant with a time zone, in UTC (argparse type of every `--at`/`--start`/`--end`)."""
    value = _iso(text, "an ISO 8601 instant")
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone (e.g. 2026-11-25T22:00:00Z)")
    return value.astimezone(UTC)


def utc_instant(text: str) -> datetime:
    """An ISO instant; without a zone it is read as UTC (``slo status --at``)."""
    value = _iso(text, "an ISO instant such as 2026-11-05T14:00:00Z")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def matcher(text: str) -> str:
    """A label matcher as amtool writes them: ``name="v"``, ``name!=v``, ``name=~"re"``, ``name!~re``."""
    from sre_agent.alerting.matchers import parse_matcher

    try:
        return str(parse_matcher(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def since(text: str) -> Any:
    """``report optimize --since``: a window in whole hours (``7d``, ``36h``)."""
    from sre_agent.errors import UsageError
    from sre_agent.reports.optimize.data import parse_since

    try:
        return parse_since(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
