"""Write the optimization report: one self-contained HTML file (inline CSS and SVG, no script), a short Markdown
summary for chat or a wiki, and JSON. Every value from Snowflake (query text, names, join conditions) is escaped;
query text was already made printable, bounded and (unless ``--show-literals``) stripped of literals.

The page leads with the signal: the three top changes, then the ranked recommendations (saving × confidence,
incident-linked ones marked), the patterns, warehouses and operator statistics, and last the "Smaller items"
appendix. Tables keep to a few narrow columns that wrap between words (hashes are shortened, kinds written as
words), so the page fits its 1100 px column; a pattern's other figures are in its own section. Only the tables of
long identifiers (operator statistics: query ids, errors) may break inside a word.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from sre_agent.figures.text import credits, money, pct
from sre_agent.reports.html import Column, cards, jsonable, md_cell, num, page, table, write_report
from sre_agent.reports.optimize.data import OptimizeReport
from sre_agent.reports.optimize.ranking import MAIN
from sre_agent.reports.optimize.result_cache import SUBJECT as CACHE
from sre_agent.reports.svg import hbars

TOP_PATTERNS = 15
"""Patterns in the HTML tables (the JSON holds every pattern read)."""
WRAP_CSS = ".wrap td:not(.n),.hash{overflow-wrap:anywhere}.tag{font-size:.8rem;color:#9a3412}"
"""Cells of a ``wrap`` table (query ids, error texts) and a full pattern hash may break anywhere; numbers never."""
PATTERN_COLUMNS: list[Column] = [
    ("rank", "#", 0), ("short", "pattern", None), ("owner", "service · warehouse", None), ("credits", "credits", 2),
    ("runs", "runs", 0), ("p95_elapsed_s", "p95 s", 1), ("flags", "findings", None), ("incident", "incident", None),
]  # fmt: skip
WAREHOUSE_COLUMNS: list[Column] = [
    ("warehouse", "warehouse", None), ("credits", "credits", 2), ("idle_credits", "idle", 2),
    ("idle_share", "idle share", 2), ("queries", "queries", 0), ("peak_hour_credits", "peak credits/h", 2),
    ("flags", "findings", None), ("incident", "incident", None),
]  # fmt: skip
REC_COLUMNS: list[Column] = [
    ("rank", "#", 0), ("kind", "change", None), ("subject_short", "subject", None),
    ("saving_credits_per_week", "credits/week", 2), ("confidence", "confidence", 2), ("incident", "incident", None),
    ("title", "what", None),
]  # fmt: skip
COVER_COLUMNS: list[Column] = [
    ("short", "pattern", None), ("service", "service", None), ("runs", "runs", 0), ("repeated_runs", "re-runs", 0),
    ("explained_by_writes", "explained by writes", 0), ("saving_credits_per_week", "credits/week", 2),
    ("incident", "incident", None), ("cause", "causes", None),
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
    value = rec.get("saving_money_per_week")
    priced = f" ({money(value, report.currency)})" if value is not None else ""
    return f"{credits(float(rec['saving_credits_per_week']))}/week{priced}"


def _short(pattern: str) -> str:
    return pattern[:12]


def _incident_html(links: list[dict[str, Any]]) -> str:
    """The incidents a subject changed in, with what changed (at most three figures each)."""
    if not links:
        return ""
    items = "".join(
        f"<li><b>{escape(link['incident'])}</b> ({escape(link['title'])}; from {escape(link['window_start'])}"
        f"{' to ' + escape(link['window_end']) if link['window_end'] else ', still open'}): "
        f"{escape('; '.join(link['changed'][:3]))}</li>"
        for link in links
    )
    return f"<p>Changed inside an incident:</p><ul>{items}</ul>"


def _covers_html(rec: dict[str, Any]) -> str:
    rows = [
        {**c, "short": _short(c["pattern"]), "cause": "; ".join(c["causes"]), "incident": c.get("incident") or ""}
        for c in rec.get("covers", [])
    ]
    return f"<p>Patterns covered:</p>{table(rows, COVER_COLUMNS)}" if rows else ""


def _rec_html(report: OptimizeReport, rec: dict[str, Any], open_: bool = False) -> str:
    because = "".join(f"<li>{escape(str(b))}</li>" for b in rec.get("because", []))
    statements = "\n\n".join(rec.get("statements", [])) or "-- no statement: see the text above"
    body = (
        f"<p><b>Saves ≈ {escape(_saving(report, rec))}</b> — {escape(rec['saving_basis'])}</p>"
        f"<p class=note>Confidence {escape(pct(rec['confidence'], 0))} ({escape(rec['confidence_basis'])}); rank "
        f"key {num(rec['rank_key'], 2)} = saving × confidence{' × 2 (incident)' if rec.get('incident') else ''}.</p>"
        + _incident_html(rec.get("incidents", []))
        + (f"<p>Because:</p><ul>{because}</ul>" if because and not rec.get("covers") else "")
        + _covers_html(rec)
        + f"<p class=note>Printed, never executed. Subject: {escape(rec['subject'])}</p><pre>{escape(statements)}</pre>"
    )
    tag = f" <span class=tag>[{escape(rec['incident'])}]</span>" if rec.get("incident") else ""
    head = f"<summary>#{rec['rank']} {escape(rec['title'])}{tag}</summary>"
    return f"<details{' open' if open_ else ''}>{head}{body}</details>"


def _pattern_html(p: dict[str, Any], findings: list[dict[str, Any]], currency: str) -> str:
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
    cost = f" ({escape(money(p['cost'], currency))})" if p.get("cost") is not None else ""
    return (
        f"<h3>#{p['rank']} {escape(str(p['top_service']))} on {escape(str(p['top_warehouse']))} — "
        f"pattern <span class=hash>{escape(p['pattern'])}</span></h3>"
        f"<p class=meta>{p['runs']:,} runs ({p['failed_runs']:,} failed), {escape(credits(p['credits']))}{cost}, "
        f"p50 {num(p['p50_elapsed_s'], 1)} s, p95 {num(p['p95_elapsed_s'], 1)} s; {num(p['gb_scanned'], 1)} GB "
        f"scanned, {num(p['spill_local_gb'], 1)} GB spilled locally and {num(p['spill_remote_gb'], 1)} GB remotely, "
        f"{num(p['rows_per_run'], 0)} rows per run; user {escape(str(p['top_user']))}, role "
        f"{escape(str(p['top_role']))}; most expensive run {escape(str(p['most_expensive_query_id']))}</p>"
        + _incident_html(p.get("incidents", []))
        + f"<ul>{items}</ul><p class=note>Tables read: {escape(tables or 'not readable from the text')}</p>"
        f"<pre>{escape(p['query_text'])}</pre>" + table(day_rows, days)
    )


def _rec_rows(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Table rows of recommendations: kinds in words, pattern hashes shortened (the details carry them whole)."""
    return [
        {**r, "kind": r["kind"].replace("_", " "), "incident": r.get("incident") or "",
         "subject_short": r["subject"] if "warehouse" in r or r["subject"] == CACHE else _short(r["subject"])}
        for r in recs
    ]  # fmt: skip


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
    parts.append("<h2>The three changes to make first</h2>")
    top = report.top
    parts.append("".join(_rec_html(report, r, True) for r in top) or "<p>No change with a positive saving found.</p>")
    t = report.totals
    if t:
        parts.append(
            cards(
                [
                    ("credits in the window", num(t["credits"]), money(t["cost"], report.currency)),
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
    main = [r for r in report.recommendations if r.get("section", MAIN) == MAIN]
    parts.append("<h2>Recommendations, by saving × confidence</h2>")
    parts.append(
        "<p class=note>Each saving is weighed by the confidence of its estimate (measured from the data, or resting "
        "on an assumed share); a change whose subject changed inside an incident counts twice. Items saving less "
        f"than {escape(credits(t.get('saving_floor_credits_per_week', 0.0)))}/week are under Smaller items.</p>"
    )
    parts.append(table(_rec_rows(main), REC_COLUMNS, "No recommendations."))
    parts.append("".join(_rec_html(report, r) for r in main if r not in top))
    parts.append("<h2>Query patterns, by attributed cost</h2>")
    rows = [
        {**p, "short": _short(p["pattern"]), "owner": f"{p['top_service']} · {p['top_warehouse']}",
         "flags": ", ".join(p["findings"]), "incident": ", ".join(x["incident"] for x in p.get("incidents", []))}
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
            found = [f for f in report.findings if f["subject"] == p["pattern"]]
            parts.append(_pattern_html(p, found, report.currency))
    parts.append("<h2>Warehouses</h2>")
    whs = [
        {**w, "flags": ", ".join(w.get("findings", [])), "incident": ", ".join(w.get("incidents", []))}
        for w in report.warehouses
    ]
    parts.append(table(whs, WAREHOUSE_COLUMNS, "No metering in the window."))
    if report.operator_stats:
        parts.append("<h2>Operator statistics</h2>")
        columns: list[Column] = [("pattern", "pattern", None), ("query_id", "query", None), ("status", "status", None)]
        columns += [("cause", "cause", None), ("reason", "reason", None)]
        stats = [{**o, "pattern": _short(o["pattern"])} for o in report.operator_stats]
        parts.append(f"<div class=wrap>{table(stats, columns)}</div>")
    if report.smaller:
        parts.append("<h2>Smaller items</h2>")
        parts.append(
            f"<p class=note>Saving less than {escape(credits(t.get('saving_floor_credits_per_week', 0.0)))}/week "
            "(spec.reports.optimize.saving_floor_credits_per_week), or buying latency with credits (a saving of 0 "
            "or below); ranked the same way.</p>"
        )
        parts.append(table(_rec_rows(report.smaller), REC_COLUMNS))
        parts.append("".join(_rec_html(report, r) for r in report.smaller))
    parts.append("<h2>Thresholds</h2>")
    limits = [{"name": k, "value": str(v)} for k, v in report.thresholds.items()]
    parts.append(table(limits, [("name", "spec.reports.optimize", None), ("value", "value", None)]))
    return page("Query optimization report", "".join(parts)).replace("</style>", WRAP_CSS + "</style>", 1)


def render_markdown(report: OptimizeReport) -> str:
    """A short Markdown summary: the three top changes, notes, the top patterns."""
    lines = ["# Query optimization report", ""]
    if report.window_start and report.window_end:
        lines.append(f"Window {report.window_start:%Y-%m-%d %H:%M} → {report.window_end:%Y-%m-%d %H:%M} UTC.")
    lines += [f"> {' '.join(n.split())}" for n in report.notes] + ["", "## The three changes to make first", ""]
    for r in report.top:
        tag = f" [{md_cell(r['incident'])}]" if r.get("incident") else ""
        saves = f"saves ≈ {md_cell(_saving(report, r))} (confidence {pct(r['confidence'], 0)})"
        lines.append(f"{r['rank']}. **{md_cell(r['title'])}**{tag} — {saves}.")
        lines.append(f"   {md_cell(r['saving_basis'])}")
        lines += [""] + ["        " + s for st in r["statements"] for s in st.splitlines()] + [""]
    if not report.top:
        lines.append("No change with a positive saving found.")
    if report.smaller:
        lines += ["", f"{len(report.smaller)} smaller items (under the floor, or buying latency) are in the HTML."]
    lines += ["", "## Top patterns", "", "| # | service | warehouse | pattern | credits | runs | findings | incident |"]
    lines.append("|---|---|---|---|---:|---:|---|---|")
    for p in report.patterns[:10]:
        cells = [p["rank"], p["top_service"], p["top_warehouse"], _short(p["pattern"]), f"{p['credits']:,.2f}"]
        cells += [f"{p['runs']:,}", ", ".join(p["findings"]), ", ".join(x["incident"] for x in p.get("incidents", []))]
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    if not report.patterns:
        lines.append("| — | no queries in the window | | | | | | |")
    return "\n".join(lines) + "\n"


def write_optimize_report(report: OptimizeReport, out: Path) -> dict[str, Path]:
    """Write ``optimize-<day of window end>.html``, ``.md`` and ``.json`` into ``out``; return their paths."""
    return write_report(out, _stem(report), render_html(report), render_markdown(report), to_json(report))
