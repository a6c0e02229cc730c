"""Query text made safe to show: literals redacted (by default), control and binary characters replaced, length
bounded. Parsing is sqlglot's (the Snowflake dialect), the SQL parser fakesnow itself is built on; text it cannot
parse falls back to a lexical redaction of quoted strings and numbers, so nothing is ever shown unredacted by
accident.

The result is plain text: renderers still HTML-escape it.
"""

from __future__ import annotations

import logging
import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sre_agent.logs import redact
from sre_agent.text import printable

logging.getLogger("sqlglot").setLevel(logging.ERROR)
"""sqlglot warns with the whole statement it cannot fully parse: query text (literals included) stays out of
the logs whoever configured them."""

MAX_CHARS = 2000
"""Longest query text a report shows (the rest is cut with a note of how much)."""

_STRING = re.compile(r"'(?:[^'\\]|\\.|'')*'?|\$\$.*?(?:\$\$|$)", re.S)
_NUMBER = re.compile(r"(?<![\w.$])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w$])")
_COMMENT = re.compile(r"--[^\n]*|//[^\n]*|/\*.*?(?:\*/|$)", re.S)


def _lexical(text: str) -> str:
    text = _COMMENT.sub("", text)
    text = _STRING.sub("?", text)
    return _NUMBER.sub("?", text)


_LITERALS = (exp.Literal, exp.RawString, exp.National, exp.HexString, exp.ByteString, exp.BitString)
"""Every kind of constant sqlglot models: strings, numbers, $$dollar-quoted$$, N'…', X'…'/0x…, b'…'."""


def redact_literals(text: str) -> str:
    """``text`` with every literal (string, number, date) replaced by ``?`` and comments dropped."""
    try:
        statements = sqlglot.parse(text, read="snowflake")
    except (SqlglotError, RecursionError, ValueError):
        return _lexical(text)
    parts = []
    for statement in statements:
        if statement is None:
            continue
        redacted = statement.transform(
            lambda node: exp.Placeholder() if isinstance(node, _LITERALS) and not _is_type_arg(node) else node
        )
        parts.append(redacted.sql(dialect="snowflake", comments=False))
    joined = ";\n".join(parts)
    # A parse that kept text sqlglot does not model (an unsupported statement passed through as a command) could
    # still hold literals: the lexical pass catches them.
    return _lexical(joined) if any(isinstance(s, exp.Command) for s in statements if s is not None) else joined


def _is_type_arg(node: exp.Expression) -> bool:
    """A literal that is part of a type (``NUMBER(38, 2)``) or an interval unit is not data."""
    return isinstance(node.parent, exp.DataTypeParam | exp.DataType)


def show_query(text: str | None, show_literals: bool = False, max_chars: int = MAX_CHARS) -> str:
    """Query text as a report shows it: printable, literals redacted unless ``show_literals``, credentials always,
    at most ``max_chars`` characters."""
    if not text:
        return ""
    clean = printable(text)
    # Credentials (password=…, a URL's user:password@, a bearer token) are masked even with literals shown, and in
    # text the parser cannot read, where an unquoted password is no literal.
    shown = redact(clean if show_literals else redact_literals(clean))
    if len(shown) > max_chars:
        shown = f"{shown[:max_chars]}… ({len(shown) - max_chars:,} more characters)"
    return shown
