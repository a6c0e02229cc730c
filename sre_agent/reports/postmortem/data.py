"""The post-mortem draft of one incident, from the state store alone: what the agent saw, when, who was told.

Sections follow the Google SRE and PagerDuty templates (reference alerting.md §5): summary, impact (SLO error
budget consumed, queries, warehouses/services/domains/users, cost), detection (onset from the data vs the first
alert: time to detect, acknowledge, mitigate, resolve), timeline (every alert transition, notification, human
step and note), contributing factors (series of the incident's scope that changed at onset, ranked, labelled as
hypotheses), runbooks used and suggested action items. What only humans know (root cause, what went well or
badly, where we were lucky) is left as clearly marked sections to fill in.

Baselines are the same hours one week earlier (the platform's load is weekly); when the store does not reach that
far back, the same length of time just before the onset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from sre_agent.alerting.intervals import FiringInterval, firing_intervals
from sre_agent.config.loader import LoadedConfig
from sre_agent.daemon.evaluate_slo import SloReader, alert_use, slo_inputs
from sre_agent.engine import slo as slo_engine
from sre_agent.engine.rollups import QUERY, QUERY_COST, WAREHOUSE_METERING
from sre_agent.errors import UsageError
from sre_agent.figures import slo_budget
from sre_agent.model import AlertEvent, EventKind, from_epoch, iso, to_epoch
from sre_agent.reports.postmortem.factors import factors
from sre_agent.reports.postmortem.series import (
    ONSET_LOOKBACK,
    STEP,
    WEEK,
    Reader,
    Windows,
    baseline,
    impact_bounds,
    query_stats,
    series,
    slice_rows,
)
from sre_agent.store.alerts import AlertStore
from sre_agent.store.db import Database
from sre_agent.store.incidents import Incident, IncidentStore
from sre_agent.store.notifications import NotificationStore
from sre_agent.store.rollups import RollupStore
from sre_agent.store.slo_minutes import SloMinutes
from sre_agent.store.watermarks import Watermarks

CONTEXT = 3 * 3600
"""Charts show this much before the onset and after the end."""


@dataclass
class Postmortem:
    """Everything the renderers need; JSON-ready apart from datetimes."""

    incident: dict[str, Any]
    generated_at: datetime
    summary: str
    window: dict[str, Any]
    impact: dict[str, Any]
    detection: dict[str, Any]
    timeline: list[dict[str, Any]]
    factors: list[dict[str, Any]]
    charts: list[dict[str, Any]]
    runbooks: list[dict[str, str]]
    action_items: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def _timeline(
    incident: Incident, events: list[AlertEvent], notes: list[dict[str, Any]], onset: int, basis: str
) -> list[dict[str, Any]]:
    rows = [
        {"at": from_epoch(onset), "stage": "Started", "event": "impact started", "detail": f"from the data: {basis}"}
    ]
    for e in events:
        value = f" value {e.value:,.4g}" if e.value is not None else ""
        stage = "Detected" if e.kind == EventKind.FIRING and e.at == incident.detected_at else ""
        rows.append(
            {
                "at": e.at,
                "stage": stage,
                "event": f"alert {e.kind.value}",
                "detail": f"{e.rule} {e.severity.value}{value}",
            }
        )
    rows += notes
    for entry in incident.log:
        if entry.kind in ("alert",):
            continue
        stage = {"acknowledged": "Acknowledged", "mitigated": "Mitigated", "resolved": "Resolved"}.get(entry.kind, "")
        rows.append({"at": entry.at, "stage": stage, "event": entry.kind, "detail": f"{entry.text} ({entry.author})"})
    rows.sort(key=lambda r: (r["at"], 0 if r["stage"] else 1))
    return rows


def _minutes(a: datetime | int | None, b: datetime | int | None) -> float | None:
    if a is None or b is None:
        return None
    ea = a if isinstance(a, int) else to_epoch(a)
    eb = b if isinstance(b, int) else to_epoch(b)
    return round((eb - ea) / 60, 1)


def _slo_impact(
    loaded: LoadedConfig, db: Database, incident: Incident, events: list[AlertEvent], onset: int, end: int, now: int
) -> list[dict[str, Any]]:
    """Per SLO of the incident: for each of its alerts in the incident, the budget that alert's burn used (the figure
    its resolve stored, or so far while it fires); for an SLO of the scope that did not alert, the bad events of the
    impact window. Each says what it is a share of and over which data window."""
    reader = SloReader(loaded.config.spec, Watermarks(db), SloMinutes(db))
    by_slo: dict[str, list[FiringInterval]] = {}
    for interval in firing_intervals([e for e in events if "slo" in e.labels]):
        by_slo.setdefault(interval.labels["slo"], []).append(interval)
    out = []
    scope = incident.scope
    for slo in loaded.slos:
        alerted = by_slo.get(slo.name, [])
        related = (
            alerted
            or slo.spec.service in scope.get("service", [])
            or (slo.spec.domain is not None and slo.spec.domain in scope.get("domain", []))
        )
        if not related:
            continue
        uses: list[tuple[str, slo_budget.BudgetUse]] = []
        if any(i.end is None or i.budget_used is None for i in alerted) or not alerted:
            at = np.array([min(now, max(end, onset + 60)) // 60 * 60], dtype=np.int64)
            inputs = slo_inputs(reader, slo, at)
            result = slo_engine.evaluate_slo(slo.spec, inputs.events, at, inputs.stale)
        for interval in alerted:
            if interval.budget_used is not None:
                uses.append(("alert", slo_budget.BudgetUse.from_json(interval.budget_used)))
            else:  # still firing: what its burn used so far
                uses.append(("alert so far", alert_use(slo, inputs.events, result, 0, interval.evidence)))
        if not alerted:
            use = slo_budget.window_use(slo.spec, inputs.events, result, 0, onset, end)
            if not use.bad:
                continue
            uses.append(("impact window, not alerted", use))
        for basis, use in uses:
            out.append({
                "slo": slo.name,
                "service": slo.spec.service,
                "objective": float(slo.spec.objective),
                "alerted": bool(alerted),
                "basis": basis,
                "of": use.of_what(),
                "window": use.window_text(),
                "events": use.events,
                "bad_events": use.bad,
                "budget_consumed_percent": None if use.consumed is None else round(100 * use.consumed, 2),
                "budget_remaining_percent": None if use.remaining is None else round(100 * use.remaining, 2),
                "remaining_at": from_epoch(use.as_of),
                "budget_used": use.to_json(),
            })  # fmt: skip
    return out


def _pct(value: float) -> float | None:
    return None if math.isnan(value) else round(100 * float(value), 2)


def _people(reader: Reader, w: Windows) -> dict[str, Any]:
    frame = reader.frame(QUERY_COST, w.onset // 3600 * 3600, -(-w.end // 3600) * 3600)
    if frame.is_empty():
        return {"users": [], "roles": [], "note": "per-user figures need spec.cost (the query_cost rollup)"}
    out: dict[str, Any] = {}
    for dim, key in (("user", "users"), ("role", "roles")):
        agg = frame.group_by(dim).agg(pl.col("queries").sum(), pl.col("failed").sum()).sort("queries", descending=True)
        out[key] = [{"name": n, "queries": int(q), "failed": int(f)} for n, q, f in agg.head(10).iter_rows()]
    return out


def _cost(loaded: LoadedConfig, reader: Reader, w: Windows) -> dict[str, Any]:
    """Credits of the scope's warehouses in the impact hours vs the baseline's, over the hours metering has
    landed for every one of them (WAREHOUSE_METERING_HISTORY lags 1-3 hours)."""
    lo, hi = w.onset // 3600 * 3600, -(-w.end // 3600) * 3600
    now = reader.frame(WAREHOUSE_METERING, lo, hi + 6 * 3600)
    cost = loaded.config.spec.cost
    out: dict[str, Any] = {"currency": cost.currency if cost is not None else None}
    newest = now.group_by("warehouse").agg(pl.col("bucket").max())["bucket"].to_list() if now.height else []
    landed = min(min(newest) + 3600, hi) if newest else lo
    if landed <= lo:
        return {**out, "credits": None, "baseline_credits": None, "extra_credits": None, "extra_cost": None,
                "hours": 0.0, "note": "metering for the incident's hours has not landed yet"}  # fmt: skip
    # The same hours a week earlier, or the same number of whole hours just before (never overlapping them).
    shift = WEEK if w.onset - w.base_lo == WEEK else landed - lo
    during = float(slice_rows(now, lo, landed)["credits_used"].sum())
    base = reader.frame(WAREHOUSE_METERING, lo - shift, landed - shift)
    price = float(cost.credit_price) if cost is not None and cost.credit_price is not None else None
    note = "" if landed >= hi else f"metering has landed up to {iso(from_epoch(landed))} only"
    if base.is_empty():
        return {**out, "credits": round(during, 4), "baseline_credits": None, "extra_credits": None,
                "extra_cost": None, "hours": round((landed - lo) / 3600, 1),
                "note": "no metering in the store for the baseline hours: the extra cost is unknown"}  # fmt: skip
    before = float(base["credits_used"].sum())
    return {
        **out,
        "credits": round(during, 4),
        "baseline_credits": round(before, 4),
        "extra_credits": round(during - before, 4),
        "extra_cost": round((during - before) * price, 2) if price is not None else None,
        "hours": round((landed - lo) / 3600, 1),
        "note": note,
    }


def _charts(reader: Reader, w: Windows, lo: int, hi: int) -> list[dict[str, Any]]:
    frame = reader.frame(QUERY, lo, hi)
    charts = []
    for value, title, unit in (
        ("p95_ms", "p95 latency of the scope's queries", "ms"),
        ("queries", "queries per 5 minutes", "queries"),
        ("queued_ms_per_query", "queued (overload) time per query", "ms"),
        ("failed", "failed queries per 5 minutes", "queries"),
    ):
        _steps, values = series(frame, lo, hi, value)
        if any(v for v in values):
            charts.append({"title": title, "unit": unit, "start": lo, "step": STEP, "values": values})
    meter = reader.frame(WAREHOUSE_METERING, lo // 3600 * 3600, -(-hi // 3600) * 3600)
    if meter.height:
        hours = list(range(lo // 3600 * 3600, -(-hi // 3600) * 3600, 3600))
        agg = dict(meter.group_by("bucket").agg(pl.col("credits_used").sum()).iter_rows())
        values = [float(agg[h]) if h in agg else None for h in hours]
        charts.append({"title": "credits per hour (scope warehouses)", "unit": "credits", "start": hours[0],
                       "step": 3600, "values": values})  # fmt: skip
    return charts


def _action_items(
    pm_factors: list[dict[str, Any]], detection: dict[str, Any], incident: Incident
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    ttd = detection.get("time_to_detect_min")
    if ttd is not None and ttd > 15:
        first = detection.get("first_alert") or {}
        items.append({"item": f"Detect sooner: {first.get('rule', 'the first rule')} fired {ttd:.0f} min after the "
                      "onset; tune its threshold or 'for', or add a faster signal", "type": "detect",
                      "priority": "P2"})  # fmt: skip
    if incident.acknowledged_at is None:
        items.append({"item": "Acknowledge incidents in the tool (`sre-agent incidents ack`) so time to acknowledge "
                      "is measured", "type": "process", "priority": "P3"})  # fmt: skip
    seen: set[str] = set()
    grew = [f for f in pm_factors if f["ratio"] is None or f["ratio"] > 1]  # what went up is what to fix
    for f in grew[:5]:
        key = f["kind"] + f["subject"]
        if key in seen:
            continue
        seen.add(key)
        text = {
            "pattern latency": "Find why {s} slowed down ({c}): plan change, data growth or a join; fix or roll back",
            "spill": "Stop the spill on {s} ({c}): rewrite the heavy query or size up for it",
            "queueing": "Give {s} headroom for its peak ({c} queueing): multi-cluster or split the workload",
            "failures": "Fix the cause of the failures on {s} ({c}); make loaders fail fast instead of retrying",
            "resize or clusters": "Guard {s} against runaway sizing ({c} credits/h): resource monitor, AUTO_SUSPEND",
            "latency": "Keep {s} latency in bounds ({c}): see the optimization report for its top patterns",
            "pattern volume": "Throttle or cache the surge of {s} ({c} runs)",
            "volume": "Plan capacity for the surge on {s} ({c} queries)",
        }.get(f["kind"], "Investigate {s} ({c})")
        items.append({"item": text.format(s=f["subject"], c=f["change"]), "type": "prevent", "priority": "P2"})
    items.append({"item": "Review the runbook with what was learned", "type": "process", "priority": "P3"})
    for item in items:
        item.update(owner="", ticket="")
    return items


def build_postmortem(loaded: LoadedConfig, db: Database, incident_id: str, now: datetime) -> Postmortem:
    """The post-mortem draft of ``incident_id``.

    Raises:
        UsageError: no such incident in the store.
    """
    incidents = IncidentStore(db)
    incident = incidents.get(incident_id)
    if incident is None:
        raise UsageError(f"no incident {incident_id!r} in this store (see `sre-agent incidents list --all`)")
    detected = to_epoch(incident.detected_at)
    closed = incident.resolved_at or incident.last_active_at
    members = {a.fingerprint for a in incident.alerts}
    alerts = AlertStore(db)
    # Its alerts' transitions from an hour before it started (their pending) to when it closed: an alert that
    # fires again later belongs to a later incident.
    lo_events, hi_events = to_epoch(incident.started_at) - 3600, to_epoch(closed) + 60
    events = [
        e
        for fp in sorted(members)
        for e in alerts.events(fingerprint=fp, since=lo_events)
        if to_epoch(e.at) <= hi_events
    ]
    events.sort(key=lambda e: (e.at, e.event_id))
    notified = _notifications(db, members, lo_events, hi_events, {e.event_id for e in events})
    scope = incident.scope
    reader = Reader(RollupStore(db), scope)
    last_resolved = max((to_epoch(e.at) for e in events if e.kind == EventKind.RESOLVED), default=None)
    closing = [to_epoch(t) for t in (incident.resolved_at,) if t is not None]
    until = min(closing) if closing else (last_resolved or to_epoch(incident.last_active_at))
    reader.add_warehouses(detected - ONSET_LOOKBACK, max(until, detected + STEP))
    onset, basis, data_end = impact_bounds(reader, incident, detected, max(until, detected + STEP))
    if incident.mitigated_at is not None:  # a person said when the impact stopped
        end, end_basis = to_epoch(incident.mitigated_at), "mitigated (recorded)"
    elif data_end is not None:
        end, end_basis = data_end, "the scope's signals back to normal (15 minutes; metering: an hour)"
    elif (first_back := _first_alert_resolved(events)) is not None:
        # No Snowflake series moved (an Azure-side cause): the alert that detected it going quiet ends the impact;
        # slower alerts of the incident (an SLO's long window) stay firing well after.
        end, end_basis = first_back, "the first alert resolved"
    else:
        end, end_basis = until, "the last alert resolved"
    end = max(end, detected + STEP)
    base_lo, base_hi, base_basis = baseline(reader, onset, end)
    w = Windows(onset, end, base_lo, base_hi, base_basis)
    found = factors(reader, w)
    stats_now = query_stats(reader.frame(QUERY, onset, end))
    stats_base = query_stats(reader.frame(QUERY, base_lo, base_hi))
    touched = reader.frame(QUERY, onset, end)
    impact = {
        "duration_min": _minutes(onset, end),
        "queries": stats_now,
        "baseline": stats_base,
        "baseline_basis": base_basis,
        "warehouses": sorted(set(touched["warehouse"].to_list())) if touched.height else [],
        "services": sorted(set(touched["service"].to_list())) if touched.height else [],
        "domains": sorted(set(touched["domain"].to_list())) if touched.height else [],
        **_people(reader, w),
        "slos": _slo_impact(loaded, db, incident, events, onset, end, to_epoch(now)),
        "cost": _cost(loaded, reader, w),
    }
    firing = [e for e in events if e.kind == EventKind.FIRING]
    first = firing[0] if firing else None
    detection = {
        "onset": from_epoch(onset),
        "onset_basis": basis,
        "impact_end": from_epoch(end),
        "impact_end_basis": end_basis,
        "detected_at": incident.detected_at,
        "first_alert": {
            "rule": first.rule,
            "severity": first.severity.value,
            "value": first.value,
            "threshold": first.threshold,
            "labels": first.labels,
        }
        if first
        else None,
        "time_to_detect_min": _minutes(onset, detected),
        "acknowledged_at": incident.acknowledged_at,
        "acknowledged_by": incident.acknowledged_by,
        "time_to_acknowledge_min": _minutes(incident.detected_at, incident.acknowledged_at),
        "mitigated_at": incident.mitigated_at,
        "time_to_mitigate_min": _minutes(onset, incident.mitigated_at),
        "resolved_at": incident.resolved_at,
        "resolved_by": incident.resolved_by,
        "time_to_resolve_min": _minutes(incident.detected_at, incident.resolved_at),
        "notified": _first_per_receiver(notified),
        "alerts": len(members),
    }
    runbooks = sorted({(e.rule, e.annotations.get("runbook", "")) for e in events if e.annotations.get("runbook")})
    from sre_agent.store.incidents import IncidentStatus

    chart_lo = onset - CONTEXT
    chart_hi = max(end, to_epoch(closed)) + CONTEXT
    pm = Postmortem(
        incident={
            "id": incident.id,
            "title": incident.title,
            "status": incident.status.value,
            "severity": incident.severity.value,
            "scope": scope,
            "resolved": incident.status == IncidentStatus.RESOLVED,
        },
        generated_at=now,
        summary="",
        window={
            "onset": from_epoch(onset),
            "end": from_epoch(end),
            "baseline_start": from_epoch(base_lo),
            "baseline_end": from_epoch(base_hi),
            "chart_start": from_epoch(chart_lo),
        },
        impact=impact,
        detection=detection,
        timeline=_timeline(incident, events, _note_rows(notified), onset, basis),
        factors=found,
        charts=_charts(reader, w, chart_lo, chart_hi),
        runbooks=[{"rule": r, "runbook": u} for r, u in runbooks],
        action_items=_action_items(found, detection, incident),
    )
    if incident.mitigated_at is None and end_basis != "the last alert resolved":
        pm.timeline.append({"at": from_epoch(end), "stage": "Mitigated", "event": "impact ended",
                            "detail": f"from the data: {end_basis}"})  # fmt: skip
        pm.timeline.sort(key=lambda r: (r["at"], 0 if r["stage"] else 1))
    pm.summary = _summary(pm, incident)
    if incident.status != IncidentStatus.RESOLVED:
        pm.notes.append(f"The incident is still {incident.status.value}: figures run to {iso(from_epoch(end))}.")
    return pm


def _first_alert_resolved(events: list[AlertEvent]) -> int | None:
    """When the incident's first firing alert resolved (None: it had not)."""
    firing = [e for e in events if e.kind == EventKind.FIRING]
    if not firing:
        return None
    first = firing[0]
    back = [e.at for e in events if e.kind == EventKind.RESOLVED and e.fingerprint == first.fingerprint]
    later = [t for t in back if t > first.at]
    return to_epoch(min(later)) if later else None


def _notifications(db: Database, members: set[str], lo: int, hi: int, events: set[int]) -> list[dict[str, Any]]:
    """What receivers were told about the incident's transitions (reminders: within its time)."""
    store = NotificationStore(db)
    rows = []
    for fp in sorted(members):
        for n in store.of(fp):
            if n.event_id in events or (lo <= n.at <= hi and n.action == "repeat"):
                rows.append({"at": n.at, "receiver": n.receiver, "action": n.action, "status": n.status,
                             "severity": n.severity, "detail": n.detail, "fingerprint": fp})  # fmt: skip
    rows.sort(key=lambda r: (r["at"], r["receiver"]))
    return rows


def _first_per_receiver(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    first: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["action"] != "held" and r["receiver"] not in first:
            first[r["receiver"]] = {"receiver": r["receiver"], "at": from_epoch(r["at"]), "severity": r["severity"]}
    return list(first.values())


def _note_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        what = "held" if r["action"] == "held" else f"notified ({r['action']}, {r['status']})"
        detail = f"{r['receiver']} {r['severity']}" + (f": {r['detail']}" if r["detail"] else "")
        out.append({"at": from_epoch(r["at"]), "stage": "", "event": what, "detail": detail})
    return out


def _summary(pm: Postmortem, incident: Incident) -> str:
    d, i = pm.detection, pm.impact
    parts = [
        f"{incident.title}: impact from {iso(d['onset'])} to {iso(pm.window['end'])} "
        f"({_duration(i['duration_min'])}), {len(incident.alerts)} alert(s), severity {incident.severity.value}."
    ]
    q, b = i["queries"], i["baseline"]
    if q["queries"]:
        p95 = (
            f", p95 {q['p95_ms'] / 1000:,.1f} s (baseline {b['p95_ms'] / 1000:,.1f} s)"
            if q["p95_ms"] and b["p95_ms"]
            else ""
        )
        parts.append(f"{q['queries']:,} queries in scope, {q['failed']:,} failed{p95}.")
    for s in i["slos"]:
        if s["budget_consumed_percent"] is not None and s["alerted"]:
            parts.append(f"SLO {s['slo']}: its alert's burn used {s['budget_consumed_percent']:.2f} % of {s['of']}.")
    c = i["cost"]
    if c["extra_credits"] is not None and c["extra_credits"] > 1:
        money = f" ({c['currency']} {c['extra_cost']:,.2f})" if c["extra_cost"] is not None else ""
        parts.append(f"{c['extra_credits']:,.1f} credits above baseline{money}.")
    if d["time_to_detect_min"] is not None:
        parts.append(f"Detected {_duration(d['time_to_detect_min'])} after the onset.")
    if pm.factors:
        top = pm.factors[0]
        parts.append(f"Largest change: {top['subject']} {top['metric']} {top['change']}.")
    return " ".join(parts)


def _duration(minutes: float | None) -> str:
    if minutes is None:
        return "—"
    if minutes < 90:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"
