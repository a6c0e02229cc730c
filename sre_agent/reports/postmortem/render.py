"""Write a post-mortem draft: one self-contained HTML page (prints; inline SVG charts), Markdown to paste into a
wiki or ticket, and JSON. The sections only humans can write are marked "TO FILL IN"."""

from __future__ import annotations

from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from sre_agent.figures.incident_times import IncidentTimes
from sre_agent.figures.text import human_ms, utc_minute, utc_range
from sre_agent.model import from_epoch, to_epoch
from sre_agent.reports.html import cards, jsonable, md_cell, num, page, table, write_report
from sre_agent.reports.postmortem.data import Postmortem
from sre_agent.reports.svg import line_chart

HUMAN_SECTIONS = (
    ("Root cause and trigger", "What actually caused it, and what set it off. The contributing factors above are "
     "candidates found in the data, not conclusions."),
    ("Resolution", "What stopped the impact (temporary) and what will keep it from coming back (long-term)."),
    ("What went well", ""),
    ("What went badly", ""),
    ("Where we got lucky", ""),
)  # fmt: skip


def to_json(pm: Postmortem) -> dict[str, Any]:
    """The draft as JSON-ready data."""
    data = {
        "report": "postmortem",
        "status": "draft",
        "incident": pm.incident,
        "generated_at": pm.generated_at,
        "summary": pm.summary,
        "window": pm.window,
        "impact": pm.impact,
        "detection": pm.detection,
        "timeline": pm.timeline,
        "times": pm.times.to_json(),
        "contributing_factors": pm.factors,
        "charts": pm.charts,
        "runbooks": pm.runbooks,
        "action_items": pm.action_items,
        "to_fill_in": [title for title, _ in HUMAN_SECTIONS],
        "notes": pm.notes,
    }
    return dict(jsonable(data))


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _factor_value(value: float | None, unit: str) -> str:
    if value is None:
        return "none"
    if unit.startswith("ms"):
        return human_ms(value) + unit[2:]
    return f"{num(value, 1)} {unit}"


def _factor_text(f: dict[str, Any]) -> str:
    before, during = _factor_value(f["before"], f["unit"]), _factor_value(f["during"], f["unit"])
    return f"{f['subject']}: {f['name']} {before} → {during} ({f['change']})"


def _cards(t: IncidentTimes) -> list[tuple[str, str, str]]:
    """One card per span: its name, value and what it is measured between (why it is unknown, when it is)."""
    out = []
    for s in t.spans():
        if s.key == "open":
            continue
        out.append((s.name, s.text(), s.between() + (f" ({s.missing})" if s.seconds is None else "")))
    return out


def _ms(value: float | None) -> str:
    return "—" if value is None else human_ms(value)


def _impact_rows(q: dict[str, Any], b: dict[str, Any]) -> list[dict[str, str]]:
    """The impact window against the baseline, each figure in its unit at human scale."""
    return [
        {"what": "queries ended", "during": f"{q['queries']:,}", "baseline": f"{b['queries']:,}"},
        {"what": "failed queries", "during": f"{q['failed']:,}", "baseline": f"{b['failed']:,}"},
        {"what": "p95 latency", "during": _ms(q["p95_ms"]), "baseline": _ms(b["p95_ms"])},
        {
            "what": "queued per query",
            "during": _ms(q["queued_ms_per_query"]),
            "baseline": _ms(b["queued_ms_per_query"]),
        },
        {"what": "spilled", "during": f"{num(q['spill_gb'], 1)} GB", "baseline": f"{num(b['spill_gb'], 1)} GB"},
    ]


def _people_rows(people: dict[str, Any], key: str) -> list[dict[str, Any]]:
    rows = list(people.get(key, []))
    if rows:
        rows.append(
            {"name": "total", "queries": sum(r["queries"] for r in rows), "failed": sum(r["failed"] for r in rows)}
        )
    return rows


def _chart(c: dict[str, Any], pm: Postmortem) -> str:
    """One series before, during and after the impact (the impact window shaded)."""
    times = [c["start"] + i * c["step"] for i in range(len(c["values"]))]
    labels = [from_epoch(t).strftime("%m-%d %H:%M") for t in times]
    onset, end = (to_epoch(pm.window[k]) for k in ("onset", "end"))
    inside = [i for i, t in enumerate(times) if t + c["step"] > onset and t < end]
    band = (inside[0], inside[-1], "impact") if inside else None
    svg = line_chart(labels, {c["what"]: c["values"]}, c["unit"], c["title"], band=band)
    return f"<figure><figcaption><b>{escape(c['title'])}</b></figcaption>{svg}</figure>"


def _cost_html(cost: dict[str, Any]) -> str:
    if cost["credits"] is None:
        return f"<p class=note>{escape(cost['note'])}.</p>"
    money = f" ({escape(str(cost['currency']))} {num(cost['extra_cost'])})" if cost["extra_cost"] is not None else ""
    note = f" <span class=note>({escape(cost['note'])})</span>" if cost["note"] else ""
    return (
        f"<p>{num(cost['credits'])} credits over {num(cost['hours'], 1)} h in scope vs "
        f"{num(cost['baseline_credits'])} at baseline: <b>{num(cost['extra_credits'])} extra credits</b>{money}."
        f"{note}</p>"
    )


def _stage_rows(pm: Postmortem) -> list[dict[str, str]]:
    return [{"stage": i.stage, "at": _when(from_epoch(i.at)) if i.at is not None else "—",
             "basis": i.basis + (f" (by {i.by})" if i.by else "")} for i in pm.times.instants()]  # fmt: skip


def _span_rows(pm: Postmortem) -> list[dict[str, str]]:
    return [{"span": s.name, "value": s.text(), "between": s.between(), "reference": s.reference}
            for s in pm.times.spans()]  # fmt: skip


def render_html(pm: Postmortem) -> str:
    """The draft as one self-contained HTML document."""
    inc, d, i = pm.incident, pm.detection, pm.impact
    q, b, cost, people = i["queries"], i["baseline"], i["cost"], i["people"]
    head = [
        f"<h1>Post-mortem (draft): {escape(inc['title'])}</h1>",
        f"<p class=meta>Status: <b>draft</b> · severity {escape(inc['severity'])} · incident "
        f"{escape(inc['status'])} · opened by {escape(inc['alert_title'])} · authors: sre-agent (draft) + "
        f"<span class=warn>owner to fill in</span> · generated "
        f"{escape(utc_minute(pm.generated_at))}</p>",
        *[f"<p class=note>{escape(n)}</p>" for n in pm.notes],
        "<h2>Summary</h2>",
        f"<p>{escape(pm.summary)}</p>",
        cards(_cards(pm.times)),
    ]
    slo_rows = [{**s, "left_at": utc_minute(s["remaining_at"])} for s in i["slos"]]
    window = utc_range(pm.window["onset"], pm.window["end"])
    impact = [
        "<h2>Impact</h2>",
        f"<p>Warehouses: {escape(', '.join(i['warehouses']) or '—')} · services: "
        f"{escape(', '.join(i['services']) or '—')} · domains: {escape(', '.join(i['domains']) or '—')}</p>",
        table(
            _impact_rows(q, b),
            [
                ("what", "the scope's queries", None),
                ("during", f"impact window {window}", None),
                ("baseline", "baseline", None),
            ],
        ),
        f"<p class=note>Queries: those of the scope that ended in the impact window (Started → Impact ended), "
        f"from the per-minute query rollup. Baseline: {escape(i['baseline_basis'])}.</p>",
        "<h3>Error budget consumed</h3>",
        table(
            slo_rows,
            [
                ("slo", "SLO", None),
                ("objective", "objective %", 3),
                ("basis", "counted for", None),
                ("window", "bad events counted (data time)", None),
                ("bad_events", "bad events", 0),
                ("budget_consumed_percent", "budget used %", 2),
                ("of", "of", None),
                ("budget_remaining_percent", "left %", 2),
                ("left_at", "left at", None),
            ],
            "No SLO of this scope lost error budget.",
        ),
        "<h3>Who was affected</h3>",
        table(
            _people_rows(people, "users"),
            [("name", "user", None), ("queries", "queries", 0), ("failed", "failed", 0)],
            people.get("note") or "No per-user data.",
        ),
        f"<p class=note>{escape(people['note'])}</p>" if people.get("users") else "",
        "<h3>Cost</h3>",
        _cost_html(cost),
    ]
    first = d["first_alert"] or {}
    detection = [
        "<h2>Detection</h2>",
        f"<p>Impact began at <b>{_when(d['onset'])}</b> ({escape(d['onset_basis'])}); the first alert "
        f"<b>{escape(str(first.get('name', '—')))}</b> ({escape(str(first.get('severity', '—')))}, "
        f"{escape(str(first.get('value_text', '')))}) fired at {_when(d['detected_at'])}: time to detect "
        f"{escape(pm.times.span('ttd').text())}.</p>",
        table(_stage_rows(pm), [("stage", "stage", None), ("at", "when", None), ("basis", "read from", None)]),
        table(
            _span_rows(pm),
            [
                ("span", "span", None),
                ("value", "value", None),
                ("between", "measured", None),
                ("reference", "defined as", None),
            ],
        ),
        table(
            [{**n, "at": _when(n["at"])} for n in d["notified"]],
            [("receiver", "receiver notified", None), ("at", "first told", None), ("severity", "severity", None)],
            "Nobody was notified.",
        ),
    ]
    timeline = [
        "<h2>Timeline (UTC)</h2>",
        table(
            [{**r, "at": _when(r["at"]) if isinstance(r["at"], datetime) else r["at"]} for r in pm.timeline],
            [
                ("at", "time", None),
                ("stage", "stage", None),
                ("event", "event", None),
                ("alert", "alert", None),
                ("detail", "detail", None),
            ],
        ),
    ]
    factors = [
        "<h2>Contributing factors (candidates from the data)</h2>",
        "<p class=note>Series of the incident's scope whose level changed between the baseline and the impact "
        "window, largest change first. Hypotheses to confirm, not conclusions.</p>",
        "<ol>" + "".join(f"<li>{escape(_factor_text(f))}{' — ' + escape(f['hint']) if f.get('hint') else ''}</li>"
                         for f in pm.factors) + "</ol>" if pm.factors else "<p>No series in scope moved.</p>",
        "<h3>Before and after</h3>",
        "".join(_chart(c, pm) for c in pm.charts) or "<p class=note>No data to chart.</p>",
    ]  # fmt: skip
    runbooks = [
        "<h2>Runbooks used</h2>",
        table(pm.runbooks, [("rule", "alert", None), ("runbook", "runbook", None)], "No runbook was linked."),
    ]
    actions = [
        "<h2>Action items (suggested)</h2>",
        table(
            pm.action_items,
            [
                ("item", "item", None),
                ("type", "type", None),
                ("priority", "priority", None),
                ("owner", "owner", None),
                ("ticket", "ticket", None),
            ],
        ),
    ]
    human = ["<h2>To be written by the team</h2>"]
    for title, hint in HUMAN_SECTIONS:
        human.append(f"<h3>{escape(title)}</h3><div class=fill>{escape(hint)}</div>")
    body = "".join([*head, *impact, *detection, *timeline, *factors, *runbooks, *actions, *human])
    return page(f"Post-mortem {inc['id']}", body)


def render_markdown(pm: Postmortem) -> str:
    """The draft in Markdown (for a wiki page or a ticket)."""
    inc, q, b = pm.incident, pm.impact["queries"], pm.impact["baseline"]
    spans = " · ".join(f"{s.name} {s.text()} ({s.between()})" for s in pm.times.spans() if s.key != "open")
    lines = [
        f"# Post-mortem (draft): {inc['title']}",
        "",
        f"Status: **draft** · severity {inc['severity']} · opened by {inc['alert_title']} · authors: sre-agent "
        "(draft) + _owner to fill in_",
        "",
        "## Summary",
        "",
        pm.summary,
        "",
        spans,
        "",
        "## Impact",
        "",
        f"| the scope's queries | impact window {utc_range(pm.window['onset'], pm.window['end'])} | baseline |",
        "|---|---|---|",
        *[f"| {r['what']} | {r['during']} | {r['baseline']} |" for r in _impact_rows(q, b)],
        "",
    ]
    for s in pm.impact["slos"]:
        lines.append(
            f"- SLO {s['slo']} ({s['basis']}): {num(s['budget_consumed_percent'])} % of {s['of']} used "
            f"(bad events {s['window']}); {num(s['budget_remaining_percent'])} % left at "
            f"{utc_minute(s['remaining_at'])}"
        )
    c = pm.impact["cost"]
    cost_line = (
        f"- {num(c['extra_credits'])} credits above baseline" if c["extra_credits"] is not None else f"- {c['note']}"
    )
    people = pm.impact["people"]
    lines += [cost_line, ""]
    if people.get("users"):
        lines += ["| user | queries | failed |", "|---|---|---|"]
        lines += [
            f"| {md_cell(r['name'])} | {r['queries']:,} | {r['failed']:,} |" for r in _people_rows(people, "users")
        ]
    lines += ["", people["note"], "", "## Stages (UTC)", "", "| stage | when | read from |", "|---|---|---|"]
    lines += [f"| {r['stage']} | {r['at']} | {md_cell(r['basis'])} |" for r in _stage_rows(pm)]
    lines += ["", "## Timeline (UTC)", "", "| time | stage | event | alert | detail |", "|---|---|---|---|---|"]
    for r in pm.timeline:
        at = _when(r["at"]) if isinstance(r["at"], datetime) else str(r["at"])
        lines.append(
            f"| {at} | {r['stage']} | {md_cell(r['event'])} | {md_cell(r['alert'])} | {md_cell(r['detail'])} |"
        )
    lines += ["", "## Before and after (charts in the HTML draft)", ""]
    lines += [f"- {md_cell(ch['title'])}" for ch in pm.charts] or ["No data to chart."]
    lines += ["", "## Contributing factors (candidates)", ""]
    lines += [f"{k}. {md_cell(_factor_text(f))}" for k, f in enumerate(pm.factors, 1)] or ["None found in the data."]
    lines += ["", "## Action items", "", "| item | type | priority | owner | ticket |", "|---|---|---|---|---|"]
    lines += [f"| {md_cell(a['item'])} | {a['type']} | {a['priority']} |  |  |" for a in pm.action_items]
    for title, hint in HUMAN_SECTIONS:
        lines += ["", f"## {title}", "", f"> **TO FILL IN.** {hint}".rstrip()]
    return "\n".join(lines) + "\n"


def write_postmortem(pm: Postmortem, out: Path) -> dict[str, Path]:
    """Write ``postmortem-<incident id>.html``, ``.md`` and ``.json`` into ``out``."""
    return write_report(out, f"postmortem-{pm.incident['id']}", render_html(pm), render_markdown(pm), to_json(pm))
