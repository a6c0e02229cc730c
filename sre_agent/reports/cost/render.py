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

from sre_agent.figures.text import amount, pct, utc_minute
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
WAREHOUSE_COLUMNS: list[Column] = [("idle_credits", "idle credits", 2), ("idle_percent", "idle %", 0)]
WAREHOUSE_COLUMNS += [("hours_metered", "hours on", 0), ("peak_hour_credits", "peak credits/h", 1)]
WAREHOUSE_COLUMNS += [("queries", "queries", 0)]
PRINT_CSS = (
    "<style>@media print{body{font-size:10pt}table{font-size:8pt}}td{overflow-wrap:break-word}"
    "td.n{white-space:nowrap}td small{display:block;color:#555}</style>"
)
"""Tables fit a printed A4 or Letter page: long names wrap inside their cell."""


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
        "title": title(report),
        "headline": headline(report),
        "totals": report.totals,
        "budgets": report.budgets,
        "reconciliation": report.reconciliation,
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
        breaching = [k.replace("_", " ") for k, v in status.items() if v == "breach"]
        unknown = [k.replace("_", " ") for k, v in status.items() if v == "unknown"]
        states = ", ".join(breaching) or "ok"
        states += f" ({', '.join(unknown)} unknown)" if unknown else ""
        scope = b["scope"].replace("=", " ").replace(",", ", ")
        forecast = _cell(b, "forecast")
        if b.get("forecast_percent") is not None:
            forecast += f"<small>{num(b['forecast_percent'], 1)} % of amount</small>"
        rows.append(
            "<tr>"
            f"<td>{escape(b['name'])}<small>{escape(scope)} · {escape(b['period'])}</small></td>"
            f'<td class="n">{_cell(b, "amount")}</td>'
            f'<td class="n">{_cell(b, "spent")}</td><td class="n">{num(b["percent"], 1)} %</td>'
            f'<td class="n">{forecast}</td><td class="{worst}">{escape(states)}</td>'
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
        "<tr><th>budget (scope · period)</th><th class=n>amount</th><th class=n>spent to date</th>"
        "<th class=n>used</th><th class=n>forecast</th><th>breaching</th></tr>"
    )
    methods = sorted({b["forecast_method"] for b in report.budgets if b.get("forecast_method")})
    method = f'<p class="note">Forecast: {escape("; ".join(methods))}.</p>' if methods else ""
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>" + method + "".join(charts)


def _cell(b: dict[str, Any], key: str) -> str:
    """A budget figure for an HTML cell: its unit, and the money of a credit budget on a line of its own."""
    value = b.get(key)
    if value is None:
        return "—"
    money = (b.get("money") or {}).get(key)
    text = escape(amount(float(value), b["unit"]))
    return text if money is None else f"{text}<small>{escape(b['money']['currency'])} {money:,.2f}</small>"


def _in_unit(b: dict[str, Any], key: str) -> str:
    """A budget figure in its unit, and for a credit budget with a credit price also in money."""
    value = b.get(key)
    if value is None:
        return "—"
    text = amount(float(value), b["unit"])
    money = (b.get("money") or {}).get(key)
    return text if money is None else f"{text} ({b['money']['currency']} {money:,.2f})"


def title(report: CostReport) -> str:
    """What the report covers: Snowflake and Azure, or Snowflake alone, and its month."""
    month = report.start.strftime("%B %Y")
    what = "Platform cost — Snowflake and Azure" if not report.azure_daily.is_empty() else "Snowflake cost"
    return f"{what}, {month} ({report.time_zone})"


def _until(report: CostReport) -> str:
    return utc_minute(report.data_until) if report.data_until else "no data yet"


def headline(report: CostReport) -> list[str]:
    """What finance must act on, first: spend to date, budgets over or forecast over, the biggest saving."""
    t = report.totals
    lines = []
    snowflake = f"Snowflake {num(t['credits'])} credits" + (
        f" ({report.currency} {num(t['cost'])})" if t.get("cost") is not None else ""
    )
    azure = f"; Azure {t.get('azure_currency')} {num(t['azure_cost'])}" if t.get("azure_cost") is not None else ""
    platform = f"Platform {report.currency} {num(t['platform_cost'])}: " if t.get("platform_cost") is not None else ""
    month = report.start.strftime("%B %Y")
    # Hours after the frontier count as far as they have landed (the reconciliation says how much they are).
    lines.append(
        f"{month} to date (metering complete through {_until(report)}, later hours as landed): "
        f"{platform}{snowflake}{azure}."
    )
    over = [b for b in report.budgets if (b.get("percent") or 0) >= 100]
    heading = [b for b in report.budgets if b not in over and (b.get("forecast_percent") or 0) >= 100]
    for b in over:
        lines.append(
            f"Over budget: {b['name']} ({b['scope']}) has spent {_in_unit(b, 'spent')}, {num(b['percent'], 1)} % of "
            f"{_in_unit(b, 'amount')}; forecast {num(b['forecast_percent'], 1)} %."
        )
    for b in heading:
        lines.append(
            f"Forecast over budget: {b['name']} ({b['scope']}) heads for {_in_unit(b, 'forecast')}, "
            f"{num(b['forecast_percent'], 1)} % of {_in_unit(b, 'amount')}."
        )
    if not over and not heading and report.budgets:
        lines.append("Every budget is within its amount and forecast to stay so.")
    if report.recommendations:
        r = report.recommendations[0]
        money = f" ({report.currency} {num(r['saving_money'])})" if r.get("saving_money") is not None else ""
        lines.append(f"Biggest saving: {r['title']} — up to {num(r['saving_credits'])} credits{money}.")
    return lines


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
        ("Snowflake total", f"{num(t['credits'])} credits", _money(report, t["credits"])),
        ("warehouse compute", f"{num(t['compute_credits'])} credits", "metered per hour"),
        ("serverless", f"{num(t['serverless_credits'])} credits", "clustering, MVs, pipes, search optimization…"),
        ("cloud services billed", f"{num(t['cloud_services_billed_credits'])} credits", "above 10 % of compute"),
        (
            "idle inside metered hours",
            f"{num(t['idle_credits'])} credits",
            f"{pct(idle_share, 0)} of compute: warehouse up, no query running",
        ),
        ("storage", f"{num(t['storage_tb_average'], 3)} TB", _num_money(report, t["storage_cost"])),
        ("queries", f"{t['queries']:,}", "ended in the period"),
    ]
    card_html = "".join(
        f"<div class=card><span>{escape(a)}</span><b>{escape(b)}</b><span>{escape(c)}</span></div>" for a, b, c in cards
    )
    notes = "".join(f"<p class=note>{escape(n)}</p>" for n in report.notes)
    patterns = report.patterns.head(10)
    pattern_chart = (
        hbars(
            [str(r.get("name") or r["pattern"][:12]) for r in patterns.iter_rows(named=True)],
            [float(c) for c in patterns["credits"].to_list()],
            "credits",
            "Top query patterns by attributed credits",
        )
        if patterns.height
        else ""
    )
    money_cols: list[Column] = [("credits", "credits", 2), ("cost", report.currency, 2)]
    who: list[Column] = [("queries", "queries", 0), ("failed", "failed", 0), ("exec_hours", "execution h", 1)]
    recon = t["reconciliation"]
    gaps = (
        "".join(
            f"<li>{escape(_when(g.get('from')))} – {escape(_when(g.get('to')) if g.get('to') else 'now')}"
            f"{' ' + escape(g['warehouse']) if g.get('warehouse') else ''}: {escape(g['reason'])}</li>"
            for g in report.gaps
        )
        or "<li>none</li>"
    )
    window = f"{report.start.date().isoformat()} – {_until(report)}"
    reconciled = "".join(f"<li>{escape(r['text'])}</li>" for r in report.reconciliation) or "<li>nothing differs</li>"
    sections = [
        PRINT_CSS,
        f"<h1>{escape(title(report))}</h1>",
        f"<p class=meta>{escape(report.start.date().isoformat())} to {escape(report.end.date().isoformat())} "
        f"({escape(report.time_zone)}) · data until {escape(_until(report))} · {escape(price)} · generated "
        f"{escape(utc_minute(report.generated_at))}</p>",
        "".join(f"<p><b>{escape(line)}</b></p>" for line in headline(report)),
        notes,
        f"<div class=cards>{card_html}</div>",
        *_platform(report),
        "<h2>Budgets: spend to date, forecast and amount</h2>",
        _budget_section(report),
        "<h2>How the totals fit together</h2>",
        f"<ul>{reconciled}</ul>",
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
        _table(
            report.patterns,
            [("name", "pattern (service · tables, hash)", None), *money_cols, *who, ("top_user", "user", None)],
        ),
        f"<h2>Warehouses ({escape(window)})</h2>",
        _table(
            report.warehouses.with_columns((pl.col("idle_share") * 100).alias("idle_percent"))
            if report.warehouses.height
            else report.warehouses,
            [("warehouse", "warehouse", None), *money_cols, *WAREHOUSE_COLUMNS],
        ),
        '<p class="note">Idle: compute no query was attributed (Snowflake\'s estimate: credits_used_compute − '
        "credits_attributed_compute_queries) over the warehouse's compute, in the window above. The optimization "
        "report shows the same share over its own window (the last 7 days).</p>",
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
        f"<p class=note>Attribution: warehouse compute metered {num(recon['compute_metered'] / 1e9, 2)} credits = "
        f"{num(recon['compute_attributed'] / 1e9, 2)} carried by the queries of each hour (their share of the hour "
        "includes its idle minutes) + "
        f"{num(recon['compute_idle_unattributed'] / 1e9, 2)} in hours in which no query ran at all (no one to carry "
        f"them) — difference {num(recon['compute_difference'] / 1e9, 6)} credits. Not the same as the idle figure "
        "above: that is Snowflake's estimate of idle time inside every metered hour.</p>",
        "<p class=note>Method: WAREHOUSE_METERING_HISTORY credits per hour; each hour's compute split over the "
        "queries that ran in it by execution time (hourly share), so a warehouse's idle time inside an hour lands "
        "on the queries that kept it up; cloud services billed above 10 % of each UTC day's compute. Prices come "
        "from spec.cost, never built in.</p>",
    ]
    return page(title(report), "".join(sections))


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


def _when(value: Any) -> str:
    """An instant of the report's records as ``2026-11-03 15:20Z``."""
    if isinstance(value, str):
        try:
            return utc_minute(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return value  # not an instant: shown as it is (escaped by the caller)
    return utc_minute(value) if isinstance(value, datetime) else str(value)


def _num_money(report: CostReport, value: float | None) -> str:
    return f"{report.currency} {value:,.2f}" if value is not None else "not priced"


def render_markdown(report: CostReport) -> str:
    """A short summary for chat or a wiki."""
    t = report.totals
    lines = [f"## {title(report)}", "", *[f"**{line}**" for line in headline(report)], ""]
    lines += [
        f"Idle inside metered hours: {num(t['idle_credits'])} credits; storage {num(t['storage_tb_average'], 3)} TB "
        f"({_num_money(report, t['storage_cost'])}).",
        "",
    ]
    if report.budgets:
        lines += ["| budget | scope | spent to date | used | forecast | signals |", "|---|---|---:|---:|---:|---|"]
        for b in report.budgets:
            breaching = [k for k, v in b["status"].items() if v == "breach"]
            lines.append(
                f"| {b['name']} | {b['scope']} | {_in_unit(b, 'spent')} | {num(b['percent'], 1)} % | "
                f"{_in_unit(b, 'forecast')} ({num(b['forecast_percent'], 1)} %) | {', '.join(breaching) or 'ok'} |"
            )
        lines.append("")
    if report.reconciliation:
        lines += ["How the totals fit together:", *[f"- {r['text']}" for r in report.reconciliation], ""]
    if report.warehouses.height:
        lines.append("Top warehouses: " + ", ".join(
            f"{r['warehouse']} {num(r['credits'])}" for r in report.warehouses.head(5).iter_rows(named=True)
        ))  # fmt: skip
    if report.patterns.height:
        top = report.patterns.head(5).iter_rows(named=True)
        lines.append("Top patterns: " + ", ".join(f"{r.get('name') or r['pattern']} {num(r['credits'])}" for r in top))
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
    flat = []
    for b in report.budgets:
        row = {k: v for k, v in b.items() if k not in ("status", "cumulative", "money")}
        money = b.get("money") or {}
        row.update({f"money_{k}": v for k, v in money.items() if k != "currency"}, currency=money.get("currency"))
        flat.append(row)
    budgets = pl.DataFrame(flat)
    path = out / f"{stem}-budgets.csv"
    spreadsheet_safe(budgets).write_csv(path)
    files["csv:budgets"] = path
    return files
