"""Statements the reports print for a DBA to run (never executed here): identifiers quoted, literals escaped,
object names derived safely, and the warehouse sizes they refer to."""

from __future__ import annotations

import re

SIZES = [
    ("X-Small", 1),
    ("Small", 2),
    ("Medium", 4),
    ("Large", 8),
    ("X-Large", 16),
    ("2X-Large", 32),
    ("3X-Large", 64),
    ("4X-Large", 128),
    ("5X-Large", 256),
    ("6X-Large", 512),
]
"""Standard warehouse sizes and their credits per hour."""


def quote_ident(name: str) -> str:
    """``name`` (as Snowflake stores it: metering and config name objects exactly) as a double-quoted identifier,
    embedded quotes doubled — never interpolated raw."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """``value`` as a single-quoted SQL string literal, embedded quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def object_name(budget: str, suffix: str) -> str:
    """A monitor or budget name made from a budget's name: upper case, letters, digits and underscores only."""
    return re.sub(r"[^A-Z0-9_]", "_", f"{budget}_{suffix}".upper())
