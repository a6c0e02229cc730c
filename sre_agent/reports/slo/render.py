"""Write the SLO compliance report: one self-contained HTML file (inline CSS and SVG; opens offline, prints), a
Markdown summary for chat and JSON for machines.

Every value that came from config or the store (SLO names, descriptions, labels, alert rules) is HTML-escaped.
"""

from __future__ import annotations

from dataclasses import asdict
from html import escape
from pathlib import Path
from typing import Any

from sre_agent.reports.html import Column, cards, jsonable, md_cell, num, page, table, write_report
from sre_agent.reports.slo.data import MET, MISSED, NO_DATA, FiringInterval, SloReport, SloSection
from sre_agent.reports.svg import line_chart

SUMMARY: list[Column] = [
    ("name", "SLO", None),
    ("service", "service", None),
    ("objective_percent", "objective %", 3),
    ("compliance_percent", "compliance %", 3),
    ("status", "status", None),
    ("good", "good", 0),
    ("total", "total", 0),
    ("budget_consumed_percent", "budget used %", 1),
    ("budget_remaining_percent", "budget left %", 1),
    ("incident_count", "incidents", 0),
]
INCIDENTS: list[Column] = [
    ("start", "start", None),
    ("end", "end", None),
    ("peak_severity", "peak severity", None),
    ("rule", "rule", None),
    ("budget_consumed_percent", "budget used %", 2),
    ("fingerprint", "fingerprint", None),
]
NO_SLO_DATA = "No SLO data in the store for this period."


def _interval(i: FiringInterval) -> dict[str, Any]:
    data = asdict(i)
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
        "data_until": report.data_until,
        "summary": {status: report.count(status) for status in (MET, MISSED, NO_DATA)},
        "slos": [_section(s) for s in report.slos],
        "notes": report.notes,
    }
    result: dict[str, Any] = jsonable(out)
    return result


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{num(value, digits)} %"


def _when(value: Any) -> str:
    return "still firing" if value is None else value.isoformat(timespec="minutes")


def _left(bad_events: float) -> str:
    if bad_events < 0:
        return f"overspent by {num(-bad_events, 1)} bad events"
    return f"{num(bad_events, 1)} more bad events allowed"


def _incident_rows(s: SloSection) -> list[dict[str, Any]]:
    rows = []
    for i in s.incidents:
        row = _interval(i)
        row["start"], row["end"] = _when(i.start), _when(i.end)
        rows.append(row)
    return rows


def _slo_html(report: SloReport, s: SloSection) -> str:
    status_class = {MET: "ok", MISSED: "bad"}.get(s.status, "warn")
    window = s.window_at_end
    rolling = ("own window", "—", "no data")
    if window:
        at = window["at"].isoformat(timespec="minutes")
        left = f"budget left {_pct(window['budget_remaining_percent'])} (of its expected events), {window['state']}"
        rolling = (f"{window['window']} at {at}", _pct(window["sli_percent"], 3), left)
    figures = [
        ("compliance", _pct(s.compliance_percent, 3), f"objective {num(s.objective_percent, 3)} %"),
        ("events", f"{num(s.good, 0)} / {num(s.total, 0)}", f"good / total, {num(s.bad, 0)} bad"),
        ("error budget used", _pct(s.budget_consumed_percent), f"{num(s.allowed_bad, 1)} bad events allowed"),
        ("error budget left", _pct(s.budget_remaining_percent), _left(s.allowed_bad - s.bad)),
        rolling,
    ]
    labels = ", ".join(f"{k}={v}" for k, v in sorted(s.labels.items())) or "none"
    parts = [
        f"<h2>{escape(s.name)} — <span class={status_class}>{escape(s.status)}</span></h2>",
        f"<p>{escape(s.description)}</p>" if s.description else "",
        f"<p class=note>SLI: {escape(s.sli)} · {escape(s.budgeting_method)} · service {escape(s.service)} · "
        f"owner {escape(s.owner)}{' · domain ' + escape(s.domain) if s.domain else ''} · window {escape(s.slo_window)}"
        f" · labels {escape(labels)}</p>",
        cards(figures),
    ]
    daily = [d["budget_consumed_percent"] for d in s.daily]
    if any(v is not None for v in daily):
        days = [d["day"].isoformat() for d in s.daily]
        title = f"{s.name}: error budget of {report.period} consumed, cumulative per day (%)"
        parts.append(line_chart(days, {s.name: daily}, "% of budget", title, 100.0, "100 % of the error budget"))
    parts.append(f"<h3>Incidents that consumed budget ({len(s.incidents)})</h3>")
    parts.append(table(_incident_rows(s), INCIDENTS, empty="No alert of this SLO fired in this period."))
    parts += [f"<p class=note>{escape(n)}</p>" for n in s.notes]
    return "".join(parts)


def _summary_rows(report: SloReport) -> list[dict[str, Any]]:
    return [{**asdict(s), "incident_count": len(s.incidents)} for s in report.slos]


def render_html(report: SloReport) -> str:
    """The report as one self-contained HTML document."""
    until = report.data_until.isoformat() if report.data_until else "no data"
    incidents = sum(len(s.incidents) for s in report.slos)
    sections = [
        f"<h1>SLO compliance — {escape(report.period)}</h1>",
        f"<p class=meta>{escape(report.start.date().isoformat())} to {escape(report.end.date().isoformat())} "
        f"({escape(report.time_zone)}) · data until {escape(until)} · generated "
        f"{escape(report.generated_at.isoformat(timespec='seconds'))}</p>",
        "".join(f"<p class=note>{escape(n)}</p>" for n in report.notes),
        cards(
            [
                ("SLOs", str(len(report.slos)), "configured"),
                ("met", str(report.count(MET)), "compliance ≥ objective"),
                ("missed", str(report.count(MISSED)), "compliance < objective"),
                ("no data", str(report.count(NO_DATA)), "no events this month"),
                ("incidents", str(incidents), "alert firing intervals"),
            ]
        ),
        "<h2>Summary</h2>",
        table(_summary_rows(report), SUMMARY, empty="No SLOs are configured."),
    ]
    if report.slos and report.count(NO_DATA) == len(report.slos):
        sections.append(f"<p class=note>{escape(NO_SLO_DATA)}</p>")
    sections += [_slo_html(report, s) for s in report.slos]
    sections.append(
        "<h2>Method</h2><p class=note>Events are the SLO's as the agent evaluates them (exclusions removed; time "
        "slices for Timeslices SLOs; minutes never polled are not counted). Compliance = good / total over the "
        "month; the month's error budget = (1 − objective) × total bad events; budget used = bad / allowed. An "
        "incident is one firing interval of the SLO's burn-rate alert (start of its condition to its resolve); its "
        "budget is the bad events inside it (alert time; the data behind an alert lands up to 45 minutes late), "
        "clipped to the month, over the month's allowed bad events. The SLO's "
        "own window is judged by the engine at the end of the month's data, as `slo status` shows it.</p>"
    )
    return page(f"SLO compliance {report.period}", "".join(sections))


def render_markdown(report: SloReport) -> str:
    """A short summary for chat or a wiki."""
    until = report.data_until.isoformat() if report.data_until else "no data"
    lines = [
        f"## SLO compliance {report.period} ({report.time_zone})",
        "",
        f"{len(report.slos)} SLOs: **{report.count(MET)} met**, **{report.count(MISSED)} missed**, "
        f"{report.count(NO_DATA)} no data; data until {until}.",
        "",
    ]
    lines += [f"_{md_cell(n)}_" for n in report.notes] + ([""] if report.notes else [])
    if report.slos and report.count(NO_DATA) == len(report.slos):
        lines += [NO_SLO_DATA, ""]
    if report.slos:
        lines += [
            "| SLO | objective | compliance | status | budget used | incidents |",
            "|---|---:|---:|---|---:|---:|",
        ]
        for s in report.slos:
            lines.append(
                f"| {md_cell(s.name)} | {num(s.objective_percent, 3)} % | {_pct(s.compliance_percent, 3)} | "
                f"{s.status} | {_pct(s.budget_consumed_percent)} | {len(s.incidents)} |"
            )
    incidents = [(s, i) for s in report.slos for i in s.incidents]
    if incidents:
        lines += ["", "Incidents that consumed budget:"]
        for s, i in incidents:
            lines.append(
                f"- {md_cell(s.name)}: {_when(i.start)} – {_when(i.end)}, peak {i.peak_severity.value}, "
                f"{_pct(i.budget_consumed_percent, 2)} of the month's budget (`{i.fingerprint[:12]}`)"
            )
    return "\n".join(lines) + "\n"


def write_slo_report(report: SloReport, out: Path) -> dict[str, Path]:
    """Write ``slo-<period>.html``, ``.md`` and ``.json`` into ``out``; return their paths by kind."""
    return write_report(out, f"slo-{report.period}", render_html(report), render_markdown(report), to_json(report))
