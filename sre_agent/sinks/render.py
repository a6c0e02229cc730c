"""Human-readable values for notifications: units, durations, bytes."""

from __future__ import annotations

import math

from rich.table import Table
from rich.text import Text


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


def add_plain_row(table: Table, *cells: object) -> None:
    """Add a table row whose strings are shown as they are: label values come from Snowflake query tags
    and YAML, and a ``[`` in them must never be read as Rich markup."""
    table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in cells))  # type: ignore[arg-type]
