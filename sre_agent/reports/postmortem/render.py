"""Write a post-mortem draft: one self-contained HTML page (prints; inline SVG charts), Markdown to paste into a
wiki or ticket, and JSON. The sections only humans can write are marked "TO FILL IN"."""

from __future__ import annotations

from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from sre_agent.figures.text import utc_minute
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


def _mins(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f} min" if value < 120 else f"{value / 60:,.1f} h"


def _factor_text(f: dict[str, Any]) -> str:
    before = num(f["before"], 1) if f["before"] is not None else "none"
    return f"{f['subject']}: {f['metric']} {before} → {num(f['during'], 1)} {f['unit']} ({f['change']})"


def _chart(c: dict[str, Any], pm: Postmortem) -> str:
    """One series before, during and after the impact (the impact window shaded)."""
    times = [c["start"] + i * c["step"] for i in range(len(c["values"]))]
    labels = [from_epoch(t).strftime("%m-%d %H:%M") for t in times]
    onset, end = (to_epoch(pm.window[k]) for k in ("onset", "end"))
    inside = [i for i, t in enumerate(times) if t + c["step"] > onset and t < end]
    band = (inside[0], inside[-1], "impact") if inside else None
    return line_chart(labels, {c["title"]: c["values"]}, c["unit"], c["title"], band=band)


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


def render_html(pm: Postmortem) -> str:
    """The draft as one self-contained HTML document."""
    inc, d, i = pm.incident, pm.detection, pm.impact
    q, b, cost = i["queries"], i["baseline"], i["cost"]
    head = [
        f"<h1>Post-mortem (draft): {escape(inc['id'])} — {escape(inc['title'])}</h1>",
        f"<p class=meta>Status: <b>draft</b> · severity {escape(inc['severity'])} · incident "
        f"{escape(inc['status'])} · authors: sre-agent (draft) + <span class=warn>owner to fill in</span> · "
        f"generated {escape(pm.generated_at.isoformat(timespec='seconds'))}</p>",
        *[f"<p class=note>{escape(n)}</p>" for n in pm.notes],
        "<h2>Summary</h2>",
        f"<p>{escape(pm.summary)}</p>",
        cards(
            [
                ("impact", _mins(i["duration_min"]), f"from {_when(d['onset'])}"),
                ("time to detect", _mins(d["time_to_detect_min"]), "onset → first alert"),
                ("time to acknowledge", _mins(d["time_to_acknowledge_min"]), "first alert → ack"),
                ("time to mitigate", _mins(d["time_to_mitigate_min"]), "onset → mitigated"),
                ("time to resolve", _mins(d["time_to_resolve_min"]), "first alert → resolved"),
            ]
        ),
    ]
    slo_rows = [{**s, "left_at": utc_minute(s["remaining_at"])} for s in i["slos"]]
    impact = [
        "<h2>Impact</h2>",
        f"<p>Warehouses: {escape(', '.join(i['warehouses']) or '—')} · services: "
        f"{escape(', '.join(i['services']) or '—')} · domains: {escape(', '.join(i['domains']) or '—')}</p>",
        table(
            [
                {"what": "queries", "during": q["queries"], "baseline": b["queries"]},
                {"what": "failed queries", "during": q["failed"], "baseline": b["failed"]},
                {"what": "p95 latency (ms)", "during": q["p95_ms"], "baseline": b["p95_ms"]},
                {
                    "what": "queued per query (ms)",
                    "during": q["queued_ms_per_query"],
                    "baseline": b["queued_ms_per_query"],
                },
                {"what": "spilled (GB)", "during": q["spill_gb"], "baseline": b["spill_gb"]},
            ],
            [("what", "in scope", None), ("during", "during the incident", 1), ("baseline", "baseline", 1)],
        ),
        f"<p class=note>Baseline: {escape(i['baseline_basis'])}.</p>",
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
            i.get("users", []),
            [("name", "user", None), ("queries", "queries", 0), ("failed", "failed", 0)],
            i.get("note") or "No per-user data.",
        ),
        "<h3>Cost</h3>",
        _cost_html(cost),
    ]
    first = d["first_alert"] or {}
    detection = [
        "<h2>Detection</h2>",
        f"<p>Impact began at <b>{_when(d['onset'])}</b> ({escape(d['onset_basis'])}); the first alert "
        f"<b>{escape(str(first.get('rule', '—')))}</b> ({escape(str(first.get('severity', '—')))}) fired at "
        f"{_when(d['detected_at'])}: time to detect {_mins(d['time_to_detect_min'])}. Acknowledged "
        f"{_when(d['acknowledged_at'])}{' by ' + escape(d['acknowledged_by']) if d['acknowledged_by'] else ''}; "
        f"mitigated {_when(d['mitigated_at'])}; resolved {_when(d['resolved_at'])}"
        f"{' by ' + escape(d['resolved_by']) if d['resolved_by'] else ''}.</p>",
        table(
            d["notified"],
            [("receiver", "receiver notified", None), ("at", "first told", None), ("severity", "severity", None)],
            "Nobody was notified.",
        ),
    ]
    timeline = [
        "<h2>Timeline (UTC)</h2>",
        table(
            [{**r, "at": _when(r["at"]) if isinstance(r["at"], datetime) else r["at"]} for r in pm.timeline],
            [("at", "time", None), ("stage", "stage", None), ("event", "event", None), ("detail", "detail", None)],
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
    inc, d = pm.incident, pm.detection
    lines = [
        f"# Post-mortem (draft): {inc['id']} — {inc['title']}",
        "",
        f"Status: **draft** · severity {inc['severity']} · authors: sre-agent (draft) + _owner to fill in_",
        "",
        "## Summary",
        "",
        pm.summary,
        "",
        f"Time to detect {_mins(d['time_to_detect_min'])} · acknowledge {_mins(d['time_to_acknowledge_min'])} · "
        f"mitigate {_mins(d['time_to_mitigate_min'])} · resolve {_mins(d['time_to_resolve_min'])}",
        "",
        "## Impact",
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
    lines += [cost_line, "", "## Timeline (UTC)", "",
              "| time | stage | event | detail |", "|---|---|---|---|"]  # fmt: skip
    for r in pm.timeline:
        at = _when(r["at"]) if isinstance(r["at"], datetime) else str(r["at"])
        lines.append(f"| {at} | {r['stage']} | {md_cell(r['event'])} | {md_cell(r['detail'])} |")
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
