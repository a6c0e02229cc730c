"""Write the SLO compliance report: one self-contained HTML file (inline CSS and SVG; opens offline, prints), a
Markdown summary for chat and JSON for machines.

Every value that came from config or the store (SLO names, descriptions, labels, alert rules) is HTML-escaped.
"""

from __future__ import annotations

from dataclasses import asdict
from html import escape
from pathlib import Path
from typing import Any

from sre_agent.alerting.intervals import FiringInterval
from sre_agent.figures.slo_budget import BudgetUse
from sre_agent.figures.text import pct, pct_text, utc_minute
from sre_agent.reports.html import Column, cards, jsonable, md_cell, num, page, table, write_report
from sre_agent.reports.slo.data import MET, MISSED, NO_DATA, SloReport, SloSection
from sre_agent.reports.svg import line_chart

SUMMARY: list[Column] = [
    ("name", "SLO", None),
    ("objective_percent", "objective %", 3),
    ("compliance_percent", "month compliance %", 3),
    ("status", "month", None),
    ("left_percent", "budget left %", 1),
    ("slo_window", "of its period", None),
    ("state", "state", None),
    ("incident_count", "alerts", 0),
]
INCIDENTS: list[Column] = [
    ("start", "firing from", None),
    ("end", "to", None),
    ("peak_severity", "peak", None),
    ("used_percent", "budget used %", 2),
    ("of", "of", None),
    ("window", "bad events counted (data time)", None),
    ("fingerprint", "fingerprint", None),
]
NO_SLO_DATA = "No SLO data in the store for this period."


def _interval(i: FiringInterval) -> dict[str, Any]:
    data = asdict(i)
    data.pop("evidence")
    data["peak_severity"] = i.peak_severity.value
    return data


def _section(s: SloSection) -> dict[str, Any]:
    data = asdict(s)
    data["incidents"] = [_interval(i) for i in s.incidents]
    return data


def to_json(report: SloReport) -> dict[str, Any]:
    """The whole report as JSON-ready data."""
    out: dict[str, Any] = {
        "report": "slo",
        "period": report.period,
        "start": report.start,
        "end": report.end,
        "time_zone": report.time_zone,
        "generated_at": report.generated_at,
        "as_of": report.as_of,
        "data_until": report.data_until,
        "summary": {status: report.count(status) for status in (MET, MISSED, NO_DATA)},
        "slos": [_section(s) for s in report.slos],
        "notes": report.notes,
    }
    result: dict[str, Any] = jsonable(out)
    return result


def _when(value: Any) -> str:
    return "still firing" if value is None else utc_minute(value)


def _use(s: SloSection) -> BudgetUse | None:
    return BudgetUse.from_json(s.budget) if s.budget else None


def _left(s: SloSection) -> float | None:
    use = _use(s)
    return None if use is None or use.remaining is None else use.remaining * 100


def _incident_rows(s: SloSection) -> list[dict[str, Any]]:
    rows = []
    for i in s.incidents:
        row = _interval(i)
        row["start"], row["end"] = _when(i.start), _when(i.end)
        used = BudgetUse.from_json(i.budget_used) if i.budget_used else None
        row["used_percent"] = None if used is None or used.consumed is None else used.consumed * 100
        row["of"] = used.of_what() if used else "unknown"
        if used is not None and i.end is None:
            row["of"] += f" (so far, to {utc_minute(used.as_of)})"
        row["window"] = used.window_text() if used else ""
        rows.append(row)
    return rows


def _slo_html(report: SloReport, s: SloSection) -> str:
    status_class = {MET: "ok", MISSED: "bad"}.get(s.status, "warn")
    use = _use(s)
    month = f"{report.period} ({report.time_zone})"
    figures = [
        (f"compliance, {month}", pct_text(s.compliance_percent, 3), f"objective {num(s.objective_percent, 3)} %"),
        (
            f"events, {month}",
            f"{num(s.bad, 0)} bad of {num(s.total, 0)}",
            f"the objective allows {num(s.allowed_bad, 1)} bad",
        ),
    ]
    if use is not None:
        figures.append(
            (
                f"error budget left, {s.slo_window}",
                pct(use.remaining, 1),
                f"at {utc_minute(use.as_of)}; {pct(use.consumed, 1)} used of {num(use.allowed_bad, 1)} bad events "
                + ("(extrapolated)" if use.extrapolated else ""),
            )
        )
        figures.append(("state", s.state or "unknown", f"at {utc_minute(use.as_of)}"))
    labels = ", ".join(f"{k}={v}" for k, v in sorted(s.labels.items())) or "none"
    parts = [
        f"<h2>{escape(s.name)} — <span class={status_class}>{escape(s.status)}</span></h2>",
        f"<p>{escape(s.description)}</p>" if s.description else "",
        f"<p class=note>SLI: {escape(s.sli)} · {escape(s.budgeting_method)} · service {escape(s.service)} · "
        f"owner {escape(s.owner)}{' · domain ' + escape(s.domain) if s.domain else ''} · period {escape(s.slo_window)}"
        f" · labels {escape(labels)}</p>",
        cards(figures),
    ]
    daily = [d["budget_remaining_percent"] for d in s.daily]
    if s.total > 0 and any(v is not None for v in daily):
        days = [d["day"].isoformat() for d in s.daily]
        title = f"{s.name}: error budget left ({s.slo_window}) at the end of each day of {report.period}, %"
        parts.append(f"<h3>{escape(title)}</h3>")
        parts.append(line_chart(days, {s.name: daily}, "% left", title, 0.0, "budget exhausted"))
    parts.append(f"<h3>Alert firing intervals and the budget their burn used ({len(s.incidents)})</h3>")
    parts.append(table(_incident_rows(s), INCIDENTS, empty="No alert of this SLO fired in this period."))
    parts += [f"<p class=note>{escape(n)}</p>" for n in s.notes]
    return "".join(parts)


def _ranked(report: SloReport) -> list[SloSection]:
    """Worst first: missed before met before no data, then by budget left (lowest first)."""
    order = {MISSED: 0, MET: 1, NO_DATA: 2}
    return sorted(report.slos, key=lambda s: (order.get(s.status, 3), _left(s) if _left(s) is not None else 1e18))


def _summary_rows(report: SloReport) -> list[dict[str, Any]]:
    return [{**asdict(s), "left_percent": _left(s), "incident_count": len(s.incidents)} for s in _ranked(report)]


def _headline(report: SloReport) -> str:
    """What to act on first, in one sentence."""
    missed = [s for s in _ranked(report) if s.status == MISSED]
    if not report.slos or report.count(NO_DATA) == len(report.slos):
        return ""
    if not missed:
        return f"Every SLO with data met its objective in {report.period}."
    worst = missed[0]
    return (
        f"{len(missed)} of {len(report.slos)} SLOs missed their objective in {report.period}; the lowest error budget "
        f"is {worst.name}'s: {pct_text(_left(worst), 1)} of its {worst.slo_window} budget left at "
        f"{utc_minute(report.as_of)}."
    )


def render_html(report: SloReport) -> str:
    """The report as one self-contained HTML document."""
    until = utc_minute(report.data_until) if report.data_until else "no data"
    incidents = sum(len(s.incidents) for s in report.slos)
    headline = _headline(report)
    sections = [
        f"<h1>SLO compliance — {escape(report.period)}</h1>",
        f"<p class=meta>{escape(report.start.date().isoformat())} to {escape(report.end.date().isoformat())} "
        f"({escape(report.time_zone)}) · budgets as of {escape(utc_minute(report.as_of))} · data until "
        f"{escape(until)} · generated {escape(utc_minute(report.generated_at))}</p>",
        f"<p><b>{escape(headline)}</b></p>" if headline else "",
        "".join(f"<p class=note>{escape(n)}</p>" for n in report.notes),
        cards(
            [
                ("SLOs", str(len(report.slos)), "configured"),
                ("missed", str(report.count(MISSED)), "month compliance < objective"),
                ("met", str(report.count(MET)), "month compliance ≥ objective"),
                ("no data", str(report.count(NO_DATA)), "no events this month"),
                ("alert intervals", str(incidents), "firing intervals of SLO alerts"),
            ]
        ),
        "<h2>Summary (worst first)</h2>",
        table(_summary_rows(report), SUMMARY, empty="No SLOs are configured."),
    ]
    if report.slos and report.count(NO_DATA) == len(report.slos):
        sections.append(f"<p class=note>{escape(NO_SLO_DATA)}</p>")
    sections += [_slo_html(report, s) for s in _ranked(report)]
    sections.append(
        "<h2>Method</h2><p class=note>Events are the SLO's as the agent evaluates them (exclusions removed; time "
        "slices for Timeslices SLOs; minutes never polled are not counted). Two scopes, named where they are shown. "
        "The month: compliance = good / total of the month's events, met when it reaches the objective. The SLO's "
        "own period (rolling or calendar): its error budget is (1 − objective) × the events the period holds "
        "(extrapolated from the part seen while the period is under way), and the budget left is what `slo status "
        "--at` shows at the same instant. An alert's figure is the bad events whose data time falls between where "
        "its burn began and where its windows ended when it resolved, as a share of that period's budget — the "
        "number its resolve notification gave; for an alert still firing, up to the report's instant.</p>"
    )
    return page(f"SLO compliance {report.period}", "".join(sections))


def render_markdown(report: SloReport) -> str:
    """A short summary for chat or a wiki."""
    until = utc_minute(report.data_until) if report.data_until else "no data"
    lines = [
        f"## SLO compliance {report.period} ({report.time_zone})",
        "",
        f"{len(report.slos)} SLOs: **{report.count(MISSED)} missed**, **{report.count(MET)} met**, "
        f"{report.count(NO_DATA)} no data; budgets as of {utc_minute(report.as_of)}, data until {until}.",
        "",
    ]
    headline = _headline(report)
    lines += [headline, ""] if headline else []
    lines += [f"_{md_cell(n)}_" for n in report.notes] + ([""] if report.notes else [])
    if report.slos and report.count(NO_DATA) == len(report.slos):
        lines += [NO_SLO_DATA, ""]
    if report.slos:
        lines += [
            "| SLO | objective | month compliance | month | budget left (its period) | alerts |",
            "|---|---:|---:|---|---:|---:|",
        ]
        for s in _ranked(report):
            lines.append(
                f"| {md_cell(s.name)} | {num(s.objective_percent, 3)} % | {pct_text(s.compliance_percent, 3)} | "
                f"{s.status} | {pct_text(_left(s), 1)} ({md_cell(s.slo_window)}) | {len(s.incidents)} |"
            )
    incidents = [(s, row) for s in _ranked(report) for row in _incident_rows(s)]
    if incidents:
        lines += ["", "Alert firing intervals and the budget their burn used:"]
        for s, row in incidents:
            lines.append(
                f"- {md_cell(s.name)}: {row['start']} – {row['end']}, peak {row['peak_severity']}, "
                f"{pct_text(row['used_percent'], 2)} of {md_cell(row['of'])} (`{row['fingerprint'][:12]}`)"
            )
    return "\n".join(lines) + "\n"


def write_slo_report(report: SloReport, out: Path) -> dict[str, Path]:
    """Write ``slo-<period>.html``, ``.md`` and ``.json`` into ``out``; return their paths by kind."""
    return write_report(out, f"slo-{report.period}", render_html(report), render_markdown(report), to_json(report))
