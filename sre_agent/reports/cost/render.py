"""Write the cost report: one self-contained HTML file (inline CSS and SVG; opens offline, prints), a Markdown
summary for chat, JSON for machines and one CSV file per table for spreadsheets.

Every value that came from Snowflake or from config (warehouse, user, role, pattern names…) is HTML-escaped.
"""

from __future__ import annotations

from datetime import date, datetime, time
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from sre_agent.reports.cost.data import report_day_range
from sre_agent.reports.cost.model import TOP, CostReport
from sre_agent.reports.html import Column, jsonable, num, page, write_report
from sre_agent.reports.svg import budget_chart, hbars, stacked_bars


def _money(report: CostReport, credits: float | None) -> str:
    if credits is None or report.credit_price is None:
        return "—"
    return f"{report.currency} {credits * report.credit_price:,.2f}"


TABLES: tuple[str, ...] = ("daily_warehouse", "daily_domain", "warehouses", "patterns", "users", "roles")
TABLES += ("services", "domains", "storage", "serverless", "azure_daily", "platform_daily")
OWNERS: list[Column] = [("top_service", "service", None), ("top_user", "user", None), ("top_role", "role", None)]
WAREHOUSE_COLUMNS: list[Column] = [("compute", "compute", 2), ("cloud_services", "cloud services", 3)]
WAREHOUSE_COLUMNS += [("idle_credits", "idle", 2), ("idle_share", "idle share", 2), ("hours_metered", "hours on", 0)]
WAREHOUSE_COLUMNS += [("peak_hour_credits", "peak credits/h", 2), ("queries", "queries", 0)]


def to_json(report: CostReport) -> dict[str, Any]:
    """The whole report as JSON-ready data (tables as lists of records)."""
    out: dict[str, Any] = {
        "report": "cost",
        "period": report.period,
        "start": report.start,
        "end": report.end,
        "time_zone": report.time_zone,
        "currency": report.currency,
        "credit_price": report.credit_price,
        "generated_at": report.generated_at,
        "data_until": report.data_until,
        "totals": report.totals,
        "budgets": report.budgets,
        "recommendations": report.recommendations,
        "enforcement": report.enforcement,
        "gaps": report.gaps,
        "notes": report.notes,
    }
    for name in TABLES:
        out[name] = getattr(report, name).to_dicts()
    return {k: jsonable(v) for k, v in out.items()}


def _table(frame: pl.DataFrame, columns: list[Column], limit: int = TOP) -> str:
    """An HTML table of ``columns`` (name, heading, digits; None digits: text) for the first ``limit`` rows."""
    if frame.is_empty():
        return '<p class="note">No data for this period.</p>'
    present = [c for c in columns if c[0] in frame.columns]
    head = "".join(f'<th class="{"n" if d is not None else ""}">{escape(h)}</th>' for _, h, d in present)
    body = []
    for row in frame.head(limit).iter_rows(named=True):
        cells = []
        for name, _, digits in present:
            value = row[name]
            if digits is None:
                cells.append(f"<td>{escape('' if value is None else str(value))}</td>")
            else:
                cells.append(f'<td class="n">{num(value, digits)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f'<p class="note">{frame.height - limit} more in the CSV file.</p>' if frame.height > limit else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def _daily_chart(report: CostReport, frame: pl.DataFrame, by: str, title: str, unit: str = "credits") -> str:
    days = report_day_range(report)
    zone = ZoneInfo(report.time_zone)
    until = report.data_until.astimezone(zone).date() if report.data_until else days[0]
    ranked = frame.group_by(by).agg(pl.col("credits").sum()).sort("credits", descending=True)[by].to_list()
    keep = ranked[:7]
    series: dict[str, list[float | None]] = {name: [None] * len(days) for name in keep}
    if len(ranked) > 7:
        series["(other)"] = [None] * len(days)
    index = {d: i for i, d in enumerate(days)}
    for row in frame.iter_rows(named=True):
        i = index.get(row["day"])
        if i is None:
            continue
        name = row[by] if row[by] in series else "(other)"
        series[name][i] = (series[name][i] or 0.0) + float(row["credits"])
    # A day is a gap when the store has no metering for it (before the agent's first poll); a covered day
    # without rows spent nothing (warehouses suspended) and is drawn as zero.
    covered = report.covered_from.astimezone(zone) if report.covered_from else None
    gaps = [d <= until and (covered is None or datetime.combine(d, time(), zone) < covered) for d in days]
    future = [d > until for d in days]
    for values in series.values():
        for i, f in enumerate(future):
            if f:
                values[i] = None
    labels = [d.isoformat() for d in days]
    chart = stacked_bars(labels, series, unit, title, gaps)
    note = (
        '<p class="note">Hatched days: no metering in the store (a gap, not zero spend). Days after '
        f"{escape(until.isoformat())} have not landed yet.</p>"
    )
    return chart + note


def _budget_section(report: CostReport) -> str:
    if not report.budgets:
        return '<p class="note">No CostBudget rules are configured.</p>'
    rows, charts = [], []
    for b in report.budgets:
        status = b["status"]
        worst = "bad" if "breach" in status.values() else "ok"
        states = ", ".join(f"{k} {v}" for k, v in status.items())
        rows.append(
            "<tr>"
            f"<td>{escape(b['name'])}</td><td>{escape(b['scope'])}</td><td>{escape(b['period'])}</td>"
            f'<td class="n">{num(b["amount"])} {escape(b["unit"])}</td>'
            f'<td class="n">{num(b["spent"])}</td><td class="n">{num(b["percent"], 1)} %</td>'
            f'<td class="n">{num(b["forecast"])}</td><td class="n">{num(b["forecast_percent"], 1)} %</td>'
            f'<td>{escape(b["forecast_method"] or "—")}</td><td class="{worst}">{escape(states)}</td>'
            "</tr>"
        )
        if b["cumulative"]:
            days = [c["day"] for c in b["cumulative"]]
            spent = [float(c["spent"]) for c in b["cumulative"]]
            start = date.fromisoformat(b["period_start"][:10])
            end = date.fromisoformat(b["period_end"][:10])
            all_days = [(start.toordinal() + i) for i in range(end.toordinal() - start.toordinal())]
            labels = [date.fromordinal(d).isoformat() for d in all_days]
            title = f"{b['name']}: spend to date, forecast and budget ({b['unit']})"
            charts.append(f"<h3>{escape(b['name'])}</h3>")
            charts.append(
                budget_chart(labels[: max(len(days), len(labels))], spent, b["amount"], b["forecast"], b["unit"], title)
            )
    head = (
        "<tr><th>budget</th><th>scope</th><th>period</th><th class=n>amount</th><th class=n>spent</th>"
        "<th class=n>used</th><th class=n>forecast</th><th class=n>of amount</th><th>forecast method</th>"
        "<th>signals</th></tr>"
    )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>" + "".join(charts)


def _recommendations(report: CostReport) -> str:
    if not report.recommendations:
        return '<p class="note">Nothing stands out this period (no warehouse idle over 30 % of its compute).</p>'
    out = []
    for r in report.recommendations:
        saving = f"{num(r['saving_credits'])} credits"
        if r.get("saving_money") is not None:
            saving += f" ({escape(report.currency)} {num(r['saving_money'])})"
        evidence = ", ".join(f"{escape(k)} {escape(str(v))}" for k, v in r["evidence"].items())
        statements = escape("\n".join(r["statements"]))
        out.append(
            f"<h3>{escape(r['title'])}</h3><p><b>Saving:</b> {saving} — {escape(r['saving_basis'])}</p>"
            f'<p class="note">Evidence: {evidence}</p><pre>{statements}</pre>'
        )
    return "".join(out) + '<p class="note">Statements are printed for a DBA to review; the agent never runs them.</p>'


def _enforcement(report: CostReport) -> str:
    if not report.enforcement:
        return '<p class="note">No CostBudget rules are configured.</p>'
    out = []
    for e in report.enforcement:
        text = escape("\n".join(e["statements"])) if e["statements"] else "—"
        out.append(f"<h3>{escape(e['budget'])}</h3><pre>{text}</pre><p class=note>{escape(e['note'])}</p>")
    return "".join(out)


def render_html(report: CostReport) -> str:
    """The report as one self-contained HTML document."""
    t = report.totals
    price = f"{report.currency} {report.credit_price:,.2f} per credit" if report.credit_price else "no credit price"
    idle_share = t["idle_credits"] / t["compute_credits"] if t["compute_credits"] else 0.0
    cards = [
        ("total", f"{num(t['credits'])} credits", _money(report, t["credits"])),
        ("compute", f"{num(t['compute_credits'])} credits", "warehouses"),
        ("serverless", f"{num(t['serverless_credits'])} credits", "clustering, MVs, pipes, search optimization…"),
        ("cloud services billed", f"{num(t['cloud_services_billed_credits'])} credits", "above 10 % of compute"),
        ("idle", f"{num(t['idle_credits'])} credits", f"{idle_share:.0%} of compute ran no query"),
        ("storage", f"{num(t['storage_tb_average'], 3)} TB", _num_money(report, t["storage_cost"])),
        ("queries", f"{t['queries']:,}", "ended in the period"),
    ]
    card_html = "".join(
        f"<div class=card><span>{escape(a)}</span><b>{escape(b)}</b><span>{escape(c)}</span></div>" for a, b, c in cards
    )
    until = report.data_until.isoformat() if report.data_until else "no data"
    notes = "".join(f"<p class=note>{escape(n)}</p>" for n in report.notes)
    patterns = report.patterns.head(10)
    pattern_chart = (
        hbars(
            [f"{r['pattern'][:12]}… {r.get('top_service') or ''}" for r in patterns.iter_rows(named=True)],
            [float(c) for c in patterns["credits"].to_list()],
            "credits",
            "Top query patterns by attributed credits",
        )
        if patterns.height
        else ""
    )
    money_cols: list[Column] = [("credits", "credits", 2), ("cost", report.currency, 2)]
    who: list[Column] = [("queries", "queries", 0), ("failed", "failed", 0)]
    who += [("exec_hours", "execution h", 1), ("credits_per_1k_queries", "credits / 1k queries", 3)]
    recon = t["reconciliation"]
    check = t.get("snowflake_daily_check") or {}
    check_text = (
        f"Snowflake's own METERING_DAILY_HISTORY bills {num(check['warehouse_credits_billed_by_snowflake'], 6)} "
        f"warehouse credits over the {check['days']} UTC days it has published in this month; the agent's hourly "
        f"figures give {num(check['warehouse_credits_billed_by_agent'], 6)} for the same days."
        if check.get("days")
        else "METERING_DAILY_HISTORY has no day of this month yet."
    )
    gaps = (
        "".join(
            f"<li>{escape(str(g.get('from')))} – {escape(str(g.get('to') or 'now'))}"
            f"{' ' + escape(g['warehouse']) if g.get('warehouse') else ''}: {escape(g['reason'])}</li>"
            for g in report.gaps
        )
        or "<li>none</li>"
    )
    sections = [
        f"<h1>Snowflake cost — {escape(report.period)}</h1>",
        f"<p class=meta>{escape(report.start.date().isoformat())} to {escape(report.end.date().isoformat())} "
        f"({escape(report.time_zone)}) · data until {escape(until)} · {escape(price)} · generated "
        f"{escape(report.generated_at.isoformat(timespec='seconds'))}</p>",
        notes,
        f"<div class=cards>{card_html}</div>",
        *_platform(report),
        "<h2>Budgets: actual, forecast and amount</h2>",
        _budget_section(report),
        "<h2>Daily spend by warehouse</h2>",
        _daily_chart(report, report.daily_warehouse, "warehouse", "Daily credits by warehouse"),
        "<h2>Daily spend by domain</h2>",
        _daily_chart(report, report.daily_domain, "domain", "Daily credits by domain"),
        '<p class="note">Domains: QUERY_TAG, else spec.cost.warehouse_domains; idle hours belong to the '
        "warehouse's owner; (unattributed): billed cloud services no query carried.</p>",
        "<h2>Recommendations</h2>",
        _recommendations(report),
        "<h2>Query patterns (QUERY_PARAMETERIZED_HASH) by attributed credits</h2>",
        pattern_chart,
        _table(report.patterns, [("pattern", "pattern", None), *money_cols, *who, *OWNERS, ("warehouses", "on", None)]),
        "<h2>Warehouses</h2>",
        _table(report.warehouses, [("warehouse", "warehouse", None), *money_cols, *WAREHOUSE_COLUMNS]),
        "<h2>Domains</h2>",
        _table(report.domains, [("domain", "domain", None), *money_cols, ("queries", "queries", 0)]),
        "<h2>Services</h2>",
        _table(report.services, [("service", "service", None), *money_cols, *who]),
        "<h2>Users</h2>",
        _table(report.users, [("user", "user", None), *money_cols, *who]),
        "<h2>Roles</h2>",
        _table(report.roles, [("role", "role", None), *money_cols, *who]),
        "<h2>Serverless (METERING_DAILY_HISTORY)</h2>",
        _table(report.serverless, [("service_type", "service type", None), *money_cols]),
        "<h2>Storage</h2>",
        _table(report.storage, [("database", "database", None), ("tb", "average TB", 4), ("cost", report.currency, 2)]),
        "<h2>Enforce the budgets inside Snowflake</h2>",
        _enforcement(report),
        "<h2>Gaps and reconciliation</h2>",
        f"<ul>{gaps}</ul>",
        f"<p class=note>Compute metered {recon['compute_metered'] / 1e9:,.6f} credits = attributed "
        f"{recon['compute_attributed'] / 1e9:,.6f} + idle hours with no query "
        f"{recon['compute_idle_unattributed'] / 1e9:,.6f} (difference {recon['compute_difference']} nano-credits)."
        "</p>",
        f"<p class=note>{escape(check_text)}</p>",
        "<p class=note>Method: WAREHOUSE_METERING_HISTORY credits per hour; each hour's compute split over the "
        "queries that ran in it by execution time (hourly share), so a warehouse's idle time inside an hour lands "
        "on the queries that kept it up; cloud services billed above 10 % of each UTC day's compute. Prices come "
        "from spec.cost, never built in.</p>",
    ]
    return page(f"Snowflake cost {report.period}", "".join(sections))


def _platform(report: CostReport) -> list[str]:
    """Snowflake and Azure in one currency (a chart per day and the Azure tables), when Azure is configured."""
    if report.azure_daily.is_empty():
        return []
    out = ["<h2>Platform spend: Snowflake and Azure</h2>"]
    if report.platform_daily.height:
        frame = report.platform_daily.rename({"source": "name", "cost": "credits"})
        title = f"Daily spend, Snowflake and Azure ({report.currency})"
        out.append(_daily_chart(report, frame, "name", title, report.currency))
        total = report.totals.get("platform_cost")
        out.append(f"<p>Platform total: <b>{escape(report.currency)} {num(total)}</b> (Snowflake "
                   f"{_money(report, report.totals['credits'])}, Azure {escape(report.currency)} "
                   f"{num(report.totals.get('azure_cost'))}).</p>")  # fmt: skip
    money: list[Column] = [("cost", str(report.totals.get("azure_currency") or "cost"), 2)]
    for by, heading in (("service", "Azure service"), ("resource_group", "resource group"), ("tag", "tag value")):
        grouped = report.azure_daily.group_by(by).agg(pl.col("cost").sum()).filter(pl.col(by) != "")
        if grouped.height:
            out.append(f"<h3>By {escape(heading)}</h3>")
            out.append(_table(grouped.sort("cost", descending=True), [(by, heading, None), *money]))
    return out


def _num_money(report: CostReport, value: float | None) -> str:
    return f"{report.currency} {value:,.2f}" if value is not None else "not priced"


def render_markdown(report: CostReport) -> str:
    """A short summary for chat or a wiki."""
    t = report.totals
    lines = [
        f"## Snowflake cost {report.period} ({report.time_zone})",
        "",
        f"**{num(t['credits'])} credits** ({_money(report, t['credits'])}) to "
        f"{report.data_until.isoformat() if report.data_until else 'no data'}; idle {num(t['idle_credits'])} credits; "
        f"storage {num(t['storage_tb_average'], 3)} TB ({_num_money(report, t['storage_cost'])}).",
        "",
    ]
    if report.totals.get("azure_cost") is not None:
        platform = report.totals.get("platform_cost")
        both = f"; platform {report.currency} {num(platform)}" if platform is not None else ""
        lines += [f"Azure: {report.totals.get('azure_currency')} {num(report.totals['azure_cost'])}{both}.", ""]
    if report.budgets:
        lines += ["| budget | scope | spent | used | forecast | signals |", "|---|---|---:|---:|---:|---|"]
        for b in report.budgets:
            breaching = [k for k, v in b["status"].items() if v == "breach"]
            lines.append(
                f"| {b['name']} | {b['scope']} | {num(b['spent'])} {b['unit']} | {num(b['percent'], 1)} % | "
                f"{num(b['forecast'])} ({num(b['forecast_percent'], 1)} %) | {', '.join(breaching) or 'ok'} |"
            )
        lines.append("")
    if report.warehouses.height:
        lines.append("Top warehouses: " + ", ".join(
            f"{r['warehouse']} {num(r['credits'])}" for r in report.warehouses.head(5).iter_rows(named=True)
        ))  # fmt: skip
    if report.patterns.height:
        lines.append("Top patterns: " + ", ".join(
            f"`{r['pattern']}` {num(r['credits'])}" for r in report.patterns.head(5).iter_rows(named=True)
        ))  # fmt: skip
    if report.recommendations:
        lines += ["", "Recommendations:"]
        for r in report.recommendations:
            lines.append(f"- {r['title']}: save up to {num(r['saving_credits'])} credits — `{r['statements'][0]}`")
    if report.gaps:
        lines += ["", f"Gaps: {len(report.gaps)} (see the HTML report)."]
    return "\n".join(lines) + "\n"


def spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells starting with ``= + - @`` (or a tab or carriage return) prefixed with ``'``, so a spreadsheet
    shows a user, tag or service name from Snowflake instead of running it as a formula (OWASP CSV injection)."""
    risky = r"^[=+\-@\t\r]"
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(risky)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c) for c in text
    )


def write_cost_report(report: CostReport, out: Path) -> dict[str, Path]:
    """Write ``cost-<period>.html``, ``.md``, ``.json`` and ``cost-<period>-<table>.csv`` into ``out``."""
    stem = f"cost-{report.period}"
    files = write_report(out, stem, render_html(report), render_markdown(report), to_json(report))
    for name in TABLES:
        path = out / f"{stem}-{name.replace('_', '-')}.csv"
        spreadsheet_safe(getattr(report, name)).write_csv(path)
        files[f"csv:{name}"] = path
    budgets = pl.DataFrame([{k: v for k, v in b.items() if k not in ("status", "cumulative")} for b in report.budgets])
    path = out / f"{stem}-budgets.csv"
    spreadsheet_safe(budgets).write_csv(path)
    files["csv:budgets"] = path
    return files
