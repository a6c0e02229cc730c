"""How figures are written, in one place: percentages, credits, money, bytes, latencies, spans and instants.

Every view (console lines, alert summaries, CLI tables, reports) formats numbers with these, so the same figure
reads the same everywhere: ``78.40 %``, ``1,976.80 credits``, ``USD 5,415.00``, ``6.8 GB``, ``2m 57s``,
``2026-11-03 15:20Z``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime


def pct(share: float | None, digits: int = 2) -> str:
    """A share (1.0 = 100 %) as ``78.40 %``; ``unknown`` for None or NaN."""
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return "unknown"
    return f"{share * 100:,.{digits}f} %"


def credits(value: float | None, digits: int = 2) -> str:
    """``1,976.80 credits`` (``unknown`` for None)."""
    return "unknown" if value is None else f"{value:,.{digits}f} credits"


def money(value: float | None, currency: str) -> str:
    """``USD 5,415.00`` (``unknown`` for None)."""
    return "unknown" if value is None else f"{currency} {value:,.2f}"


def amount(value: float | None, unit: str) -> str:
    """A budget amount in its unit: credits as :func:`credits`, a currency as :func:`money`."""
    return credits(value) if unit == "credits" else money(value, unit)


def utc_minute(epoch: float | datetime) -> str:
    """``2026-11-03 15:20Z``: an instant to the minute, in UTC."""
    at = epoch if isinstance(epoch, datetime) else datetime.fromtimestamp(epoch, UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


def human_ms(ms: float) -> str:
    """Return ``ms`` as 850 ms, 12.4 s, 3m 05s or 1h 02m."""
    # Units are chosen after rounding, so 999.6 ms reads 1.0 s and 59.96 s reads 1m 00s.
    if round(ms) < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if round(seconds, 1) < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def human_bytes(n: float) -> str:
    """Return ``n`` bytes in decimal units (kB, MB, GB, TB)."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        shown = round(n) if unit == "B" else round(n, 1)
        if abs(shown) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def human_value(value: float | None, unit: str) -> str:
    """Format a metric value with its unit."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    match unit:
        case "ms":
            return human_ms(value)
        case "ratio":
            return f"{value * 100:.1f} %"
        case "bytes":
            return human_bytes(value)
        case "credits":
            return f"{value:.2f} credits"
        case "credits/h":
            return f"{value:.1f} credits/h"
        case "queries":
            return f"{value:.1f}" if value != int(value) else f"{int(value)}"
    return f"{value:g} {unit}".strip()


def human_span(seconds: float) -> str:
    """Return a long span coarsely: 45m, 19h 23m, 3d 4h (time to budget exhaustion and the like)."""
    s = max(0, int(seconds))
    days, rest = divmod(s, 86_400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


def pct_text(percent: float | None, digits: int = 2) -> str:
    """A figure already in percent (``88.86``) as ``88.86 %``; ``unknown`` for None or NaN."""
    return pct(None if percent is None else percent / 100, digits)


def human_duration(seconds: float | None) -> str:
    """An incident's span: ``45 s``, ``15 min``, ``2h 35m``, ``1d 3h 05m``; an em dash for None."""
    if seconds is None:
        return "—"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    minutes = round(s / 60)
    if minutes < 60:
        return f"{minutes} min"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    return f"{days}d {hours}h {mins:02d}m" if days else f"{hours}h {mins:02d}m"


def utc_range(start: float | datetime, end: float | datetime) -> str:
    """``2026-11-03 12:20 – 2026-11-04 10:00 UTC`` (the end's date left out when it is the start's)."""
    a = start if isinstance(start, datetime) else datetime.fromtimestamp(start, UTC)
    b = end if isinstance(end, datetime) else datetime.fromtimestamp(end, UTC)
    a, b = a.astimezone(UTC), b.astimezone(UTC)
    tail = b.strftime("%H:%M") if a.date() == b.date() else b.strftime("%Y-%m-%d %H:%M")
    return f"{a.strftime('%Y-%m-%d %H:%M')} – {tail} UTC"
