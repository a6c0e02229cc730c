"""Write the optimization report: one self-contained HTML file (inline CSS and SVG, no script), a short Markdown
summary for chat or a wiki, and JSON. Every value from Snowflake (query text, names, join conditions) is escaped;
query text was already made printable, bounded and (unless ``--show-literals``) stripped of literals."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from sre_agent.reports.html import Column, cards, jsonable, md_cell, num, page, table, write_report
from sre_agent.reports.optimize.data import OptimizeReport
from sre_agent.reports.svg import hbars

TOP_PATTERNS = 15
"""Patterns in the HTML tables (the JSON holds every pattern read)."""
PATTERN_COLUMNS: list[Column] = [
    ("rank", "#", 0), ("top_service", "service", None), ("top_warehouse", "warehouse", None),
    ("short", "pattern", None), ("credits", "credits", 2), ("cost", "cost", 2), ("runs", "runs", 0),
    ("p50_elapsed_s", "p50 s", 1), ("p95_elapsed_s", "p95 s", 1), ("gb_scanned", "GB scanned", 1),
    ("spill_gb", "GB spilled", 1), ("rows_per_run", "rows/run", 0), ("flags", "findings", None),
]  # fmt: skip
WAREHOUSE_COLUMNS: list[Column] = [
    ("warehouse", "warehouse", None), ("credits", "credits", 2), ("idle_credits", "idle", 2),
    ("idle_share", "idle share", 2), ("queries", "queries", 0), ("peak_hour_credits", "peak credits/h", 2),
    ("flags", "findings", None),
]  # fmt: skip
REC_COLUMNS: list[Column] = [
    ("rank", "#", 0), ("kind", "change", None), ("subject_short", "pattern / warehouse", None),
    ("saving_credits_per_week", "credits/week", 2), ("saving_money_per_week", "money/week", 2), ("title", "what", None),
]  # fmt: skip


def _stem(report: OptimizeReport) -> str:
    at = report.window_end or report.generated_at
    return f"optimize-{at:%Y-%m-%d}"


def to_json(report: OptimizeReport) -> dict[str, Any]:
    """The whole report as JSON-ready data."""
    out = {
        "report": "optimize",
        "generated_at": report.generated_at,
        "window_start": report.window_start,
        "window_end": report.window_end,
        "since": report.since,
        "currency": report.currency,
        "credit_price": report.credit_price,
        "literals_shown": report.show_literals,
        "totals": report.totals,
        "top_changes": [r["rank"] for r in report.top],
        "recommendations": report.recommendations,
        "findings": report.findings,
        "patterns": report.patterns,
        "warehouses": report.warehouses,
        "operator_stats": report.operator_stats,
        "notes": report.notes,
        "thresholds": report.thresholds,
    }
    return {k: jsonable(v) for k, v in out.items()}


def _saving(report: OptimizeReport, rec: dict[str, Any]) -> str:
    credits = float(rec["saving_credits_per_week"])
    money = rec.get("saving_money_per_week")
    priced = f" ({report.currency} {money:,.2f})" if money is not None else ""
    return f"{credits:,.2f} credits/week{priced}"


def _short(pattern: str) -> str:
    return pattern[:12]


def _rec_html(report: OptimizeReport, rec: dict[str, Any], open_: bool = False) -> str:
    because = "".join(f"<li>{escape(str(b))}</li>" for b in rec.get("because", []))
    statements = "\n\n".join(rec.get("statements", [])) or "-- no statement: see the text above"
    body = (
        f"<p><b>Saves ≈ {escape(_saving(report, rec))}</b> — {escape(rec['saving_basis'])}</p>"
        + (f"<p>Because:</p><ul>{because}</ul>" if because else "")
        + f"<p class=note>Printed, never executed. Subject: {escape(rec['subject'])}</p><pre>{escape(statements)}</pre>"
    )
    head = f"#{rec['rank']} {rec['title']}"
    return f"<details{' open' if open_ else ''}><summary>{escape(head)}</summary>{body}</details>"


def _pattern_html(p: dict[str, Any], findings: list[dict[str, Any]]) -> str:
    items = "".join(
        f"<li><b>{escape(f['kind'])}</b>: {escape(f['title'])} (value {num(f['value'], 3)} {escape(f['unit'])}, "
        f"threshold {num(f['threshold'], 3)})</li>"
        for f in findings
    )
    sql = p.get("sql") or {}
    tables = ", ".join(
        f"{t['table']} (= {','.join(t['equality']) or '—'}; range {','.join(t['ranges']) or '—'}; "
        f"substring {','.join(t['substring']) or '—'})"
        for t in sql.get("tables", [])
    )
    days: list[Column] = [("day", "day (UTC)", None), ("runs", "runs", 0), ("failed_runs", "failed", 0)]
    days += [("p95_s", "p95 s", 1), ("rows_per_run", "rows/run", 0), ("spill_gb", "GB spilled", 1)]
    days += [("credits", "credits", 2)]
    day_rows = [
        {**d, "p95_s": (d.get("p95_elapsed_ms") or 0) / 1000, "spill_gb": (d.get("spill_bytes_sum") or 0) / 1e9,
         "rows_per_run": (d.get("rows_produced_sum") or 0) / max(1, d.get("runs") or 0)}
        for d in p.get("days", [])
    ]  # fmt: skip
    return (
        f"<h3>#{p['rank']} {escape(str(p['top_service']))} on {escape(str(p['top_warehouse']))} — "
        f"pattern {escape(p['pattern'])}</h3>"
        f"<p class=meta>{p['runs']:,} runs, {num(p['credits'])} credits, p50 {num(p['p50_elapsed_s'], 1)} s, "
        f"p95 {num(p['p95_elapsed_s'], 1)} s; user {escape(str(p['top_user']))}, role {escape(str(p['top_role']))}; "
        f"most expensive run {escape(str(p['most_expensive_query_id']))}</p>"
        f"<ul>{items}</ul><p class=note>Tables read: {escape(tables or 'not readable from the text')}</p>"
        f"<pre>{escape(p['query_text'])}</pre>" + table(day_rows, days)
    )


def render_html(report: OptimizeReport) -> str:
    """The report as one self-contained HTML page."""
    window = (
        f"{report.window_start:%Y-%m-%d %H:%M} → {report.window_end:%Y-%m-%d %H:%M} UTC"
        if report.window_start and report.window_end
        else "no data"
    )
    literals = "shown (--show-literals)" if report.show_literals else "redacted"
    parts = [
        "<h1>Query optimization report</h1>",
        f"<p class=meta>Window {escape(window)} ({escape(report.since)}, ending where attributed cost ends); "
        f"generated {report.generated_at:%Y-%m-%d %H:%M} UTC; literals in query text {literals}. Statements are "
        "printed for review, never executed.</p>",
    ]
    parts += [f'<p class="note">{escape(n)}</p>' for n in report.notes]
    parts.append("<h2>The three changes that save the most</h2>")
    top = report.top
    parts.append("".join(_rec_html(report, r, True) for r in top) or "<p>No change with a positive saving found.</p>")
    t = report.totals
    if t:
        parts.append(
            cards(
                [
                    ("credits in the window", num(t["credits"]), f"{report.currency} {num(t['cost'])}"),
                    ("query patterns", f"{t['patterns']:,}", f"{t['runs']:,} runs"),
                    ("findings", f"{t['findings']:,}", f"{t['recommendations']:,} recommendations"),
                    ("top three save", num(t["top3_saving_credits_per_week"]), "credits per week"),
                ]
            )
        )
    ranked = [p for p in report.patterns if p["credits"] > 0][:10]
    if ranked:
        labels = [f"{p['top_service']} · {_short(p['pattern'])}" for p in ranked]
        parts.append(hbars(labels, [p["credits"] for p in ranked], "credits", "Attributed credits by query pattern"))
    parts.append("<h2>All recommendations, by estimated saving</h2>")
    recs = [{**r, "subject_short": r["subject"][:24]} for r in report.recommendations]
    parts.append(table(recs, REC_COLUMNS, "No recommendations."))
    parts.append("".join(_rec_html(report, r) for r in report.recommendations[len(top) :]))
    parts.append("<h2>Query patterns, by attributed cost</h2>")
    rows = [
        {**p, "short": _short(p["pattern"]), "spill_gb": p["spill_local_gb"] + p["spill_remote_gb"],
         "flags": ", ".join(p["findings"])}
        for p in report.patterns[:TOP_PATTERNS]
    ]  # fmt: skip
    parts.append(table(rows, PATTERN_COLUMNS, "No queries in the window."))
    # Patterns with more than repeated identical runs (the most common, least actionable finding) come first.
    flagged = sorted(
        (p for p in report.patterns if p["findings"]), key=lambda p: (p["findings"] == ["repeated_work"], p["rank"])
    )
    flagged = flagged[:TOP_PATTERNS]
    if flagged:
        parts.append("<h2>Patterns with findings</h2>")
        for p in flagged:
            parts.append(_pattern_html(p, [f for f in report.findings if f["subject"] == p["pattern"]]))
    parts.append("<h2>Warehouses</h2>")
    whs = [{**w, "flags": ", ".join(w.get("findings", []))} for w in report.warehouses]
    parts.append(table(whs, WAREHOUSE_COLUMNS, "No metering in the window."))
    if report.operator_stats:
        parts.append("<h2>Operator statistics</h2>")
        columns: list[Column] = [("pattern", "pattern", None), ("query_id", "query", None), ("status", "status", None)]
        parts.append(table(report.operator_stats, [*columns, ("reason", "reason", None)]))
    parts.append("<h2>Thresholds</h2>")
    limits = [{"name": k, "value": str(v)} for k, v in report.thresholds.items()]
    parts.append(table(limits, [("name", "spec.reports.optimize", None), ("value", "value", None)]))
    return page("Query optimization report", "".join(parts))


def render_markdown(report: OptimizeReport) -> str:
    """A short Markdown summary: the three biggest savings, notes, the top patterns."""
    lines = ["# Query optimization report", ""]
    if report.window_start and report.window_end:
        lines.append(f"Window {report.window_start:%Y-%m-%d %H:%M} → {report.window_end:%Y-%m-%d %H:%M} UTC.")
    lines += [f"> {' '.join(n.split())}" for n in report.notes] + ["", "## The three changes that save the most", ""]
    for r in report.top:
        lines.append(f"{r['rank']}. **{md_cell(r['title'])}** — saves ≈ {md_cell(_saving(report, r))}. ")
        lines.append(f"   {md_cell(r['saving_basis'])}")
        lines += [""] + ["        " + s for st in r["statements"] for s in st.splitlines()] + [""]
    if not report.top:
        lines.append("No change with a positive saving found.")
    lines += ["", "## Top patterns", "", "| # | service | warehouse | pattern | credits | runs | findings |"]
    lines.append("|---|---|---|---|---:|---:|---|")
    for p in report.patterns[:10]:
        cells = [p["rank"], p["top_service"], p["top_warehouse"], _short(p["pattern"]), f"{p['credits']:,.2f}"]
        cells += [f"{p['runs']:,}", ", ".join(p["findings"])]
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    if not report.patterns:
        lines.append("| — | no queries in the window | | | | | |")
    return "\n".join(lines) + "\n"


def write_optimize_report(report: OptimizeReport, out: Path) -> dict[str, Path]:
    """Write ``optimize-<day of window end>.html``, ``.md`` and ``.json`` into ``out``; return their paths."""
    return write_report(out, _stem(report), render_html(report), render_markdown(report), to_json(report))
