"""Text from outside (QUERY_TAG values, warehouse and table names, query text, receivers' answers) made safe to
show: control, format (bidi overrides) and unassigned characters never reach a terminal, a report or a file.

One definition for every view: label values are cleaned when they enter the store (``store.series``), query text
and names read from it when a report shows them (``reports.sql_text``, ``reports.optimize.sql_shape``).
"""

from __future__ import annotations

import unicodedata

REPLACEMENT = "\ufffd"
_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def printable(text: str, keep_lines: bool = True) -> str:
    """``text`` with NUL, ESC and every other control, format, surrogate, private or unassigned character replaced
    by U+FFFD; carriage returns dropped; newlines and tabs kept when ``keep_lines`` (query text), else replaced
    too (a label value is one line)."""
    if text.isascii() and text.isprintable():
        return text  # the common case, at C speed
    out = []
    for ch in text:
        if ch in "\n\t" and keep_lines:
            out.append(ch)
        elif ch == "\r" and keep_lines:
            continue
        elif unicodedata.category(ch) in _UNSAFE:
            out.append(REPLACEMENT)
        else:
            out.append(ch)
    return "".join(out)
