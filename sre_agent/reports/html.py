"""Pieces every report shares: the stylesheet, number formatting, escaped HTML tables, the page shell, JSON
conversion and writing the HTML / Markdown / JSON files of one report.

A report's HTML is one self-contained file: inline CSS and SVG, no script, font, image link or network fetch, and
it prints. Every value that came from Snowflake, Azure or config goes through :func:`html.escape` here or in the
report's own renderer.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from html import escape
from pathlib import Path
from typing import Any

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1100px;
color:#1a1a1a;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #ddd}
.meta{color:#555;font-size:.9rem}.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem .9rem;min-width:150px}
.card b{display:block;font-size:1.25rem}.card span{color:#555;font-size:.85rem}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.6rem 0}
th,td{border-bottom:1px solid #eee;padding:.3rem .5rem;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;font-size:.82rem;white-space:pre-wrap;word-break:break-all}
.chart{width:100%;height:auto}.bad{color:#b00020;font-weight:600}.warn{color:#9a6700;font-weight:600}
.ok{color:#1b7f3b}.note{color:#555;font-size:.85rem}
.fill{border:2px dashed #9a6700;background:#fffbea;padding:.5rem .8rem;margin:.6rem 0}
.fill::before{content:"TO FILL IN";display:block;font-size:.75rem;font-weight:700;color:#9a6700}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}table,svg{break-inside:avoid}}
"""

Column = tuple[str, str, int | None]
"""A table column: field, heading, digits (None: text)."""


def num(value: Any, digits: int = 2) -> str:
    """``value`` with thousands separators and ``digits`` decimals; an em dash for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value):,.{digits}f}"


def jsonable(value: Any) -> Any:
    """``value`` with datetimes as ISO strings, NaN as null and floats rounded to 6 decimals (stable JSON)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], empty: str = "No data.") -> str:
    """An HTML table of ``columns`` over ``rows`` (every text cell escaped; numbers right-aligned)."""
    if not rows:
        return f'<p class="note">{escape(empty)}</p>'
    head = "".join(f'<th class="{"n" if d is not None else ""}">{escape(h)}</th>' for _, h, d in columns)
    body = []
    for row in rows:
        cells = []
        for name, _, digits in columns:
            value = row.get(name)
            if digits is None:
                cells.append(f"<td>{escape('' if value is None else str(value))}</td>")
            else:
                cells.append(f'<td class="n">{num(value, digits)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def cards(items: Iterable[tuple[str, str, str]]) -> str:
    """Summary cards: (caption, figure, detail) each."""
    inner = "".join(
        f"<div class=card><span>{escape(a)}</span><b>{escape(b)}</b><span>{escape(c)}</span></div>" for a, b, c in items
    )
    return f"<div class=cards>{inner}</div>"


def page(title: str, body: str) -> str:
    """The HTML document around ``body`` (``title`` is escaped here; ``body`` must already be)."""
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>{body}</body></html>\n"
    )


def md_cell(value: Any) -> str:
    """``value`` for a Markdown table cell: pipes escaped, newlines folded, at most 200 characters."""
    text = "" if value is None else str(value)
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= 200 else text[:199] + "…"


def write_report(out: Path, stem: str, html_text: str, markdown: str, data: Mapping[str, Any]) -> dict[str, Path]:
    """Write ``<stem>.html``, ``<stem>.md`` and ``<stem>.json`` into ``out`` (created); return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    files = {"html": out / f"{stem}.html", "markdown": out / f"{stem}.md", "json": out / f"{stem}.json"}
    write_atomically(files["html"], html_text)
    write_atomically(files["markdown"], markdown)
    write_atomically(files["json"], json.dumps(jsonable(dict(data)), indent=2) + "\n")
    return files


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``: a reader (or a second
    writer) sees the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
