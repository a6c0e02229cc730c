"""Terminal rendering helpers (the values themselves are written by :mod:`sre_agent.figures.text`)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from sre_agent.figures.text import human_bytes, human_ms, human_span, human_value

__all__ = ["add_plain_row", "human_bytes", "human_ms", "human_span", "human_value"]


def add_plain_row(table: Table, *cells: object) -> None:
    """Add a table row whose strings are shown as they are: label values come from Snowflake query tags
    and YAML, and a ``[`` in them must never be read as Rich markup."""
    table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in cells))  # type: ignore[arg-type]
