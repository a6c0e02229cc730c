"""Durations as engineers write them in YAML (``90s``, ``15m``, ``6h``, ``28d``, ``1h30m``)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_FULL = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w))+$")
MAX_SECONDS = 100 * 366 * 86400
"""No duration in a config is longer than a century (``99999999999999999999d`` is a typo, not an overflow)."""


def parse_duration(text: str) -> timedelta:
    """Return the timedelta for ``text`` such as ``15m`` or ``1h30m``.

    Raises:
        ValueError: the text is not a sequence of ``<integer><unit>`` parts (units ms, s, m, h, d, w).
    """
    value = text.strip()
    if not _FULL.match(value):
        raise ValueError(f"invalid duration {text!r}: use e.g. 30s, 15m, 6h, 28d or 1h30m")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(value))
    if seconds > MAX_SECONDS:
        raise ValueError(f"duration {text!r} is longer than 100 years")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """Return the shortest ``1h30m``-style text for ``delta`` (whole seconds)."""
    total = int(delta.total_seconds())
    if total == 0:
        return "0s"
    sign = "-" if total < 0 else ""
    total = abs(total)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return sign + "".join(parts)


def _coerce(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool):
        raise ValueError("a duration must be text such as 15m, not a boolean")
    if isinstance(value, int | float):
        raise ValueError(f"a duration needs a unit: write {value}s or {value}m, not a bare number")
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(_coerce),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
"""A pydantic field type: accepts ``15m``-style text, serialises back to it."""
