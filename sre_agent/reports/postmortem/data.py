"""The post-mortem draft of one incident, from the state store alone: what users saw, when, who was told.

Sections follow the Google SRE and PagerDuty templates (reference alerting.md §5): a title naming the symptom and a
summary leading with it (``headline.py``), impact (the one query count, who ran those queries, SLO error budget,
cost: ``impact.py``), detection (the incident's stages and spans, defined once in
:mod:`sre_agent.figures.incident_times`), timeline (``timeline.py``), contributing factors (``factors.py``),
runbooks and suggested action items. What only humans know is left as marked sections to fill in.

Baselines are the same hours one week earlier (the platform's load is weekly); when the store does not reach that
far back, the same length of time just before the onset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from sre_agent.alerting.intervals import FiringInterval, firing_intervals
from sre_agent.config.loader import LoadedConfig
from sre_agent.config.slo import SloDoc
from sre_agent.daemon.evaluate_slo import SloReader, alert_use, slo_inputs
from sre_agent.engine import slo as slo_engine
from sre_agent.engine.rollups import QUERY
from sre_agent.errors import UsageError
from sre_agent.figures import incident_times as times
from sre_agent.figures import slo_budget
from sre_agent.model import AlertEvent, EventKind, from_epoch, iso, to_epoch
from sre_agent.reports.postmortem import headline, impact, timeline
from sre_agent.reports.postmortem.factors import factors
from sre_agent.reports.postmortem.series import (
    ONSET_LOOKBACK,
    STEP,
    Reader,
    Windows,
    baseline,
    impact_bounds,
    query_stats,
)
from sre_agent.store.alerts import AlertStore
from sre_agent.store.db import Database
from sre_agent.store.incidents import Incident, IncidentStatus, IncidentStore
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
    times: times.IncidentTimes
    notes: list[str] = field(default_factory=list)


def _evaluated(reader: SloReader, slo: SloDoc, at: int) -> tuple[slo_engine.SloEvents, slo_engine.SloResult]:
    """``slo``'s events and the engine's result at instant ``at`` (floored to the minute), as the daemon sees them."""
    instants = np.array([at // 60 * 60], dtype=np.int64)
    inputs = slo_inputs(reader, slo, instants)
    return inputs.events, slo_engine.evaluate_slo(slo.spec, inputs.events, instants, inputs.stale)


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
        for interval in alerted:
            if interval.budget_used is not None:  # what its resolve stored and said
                uses.append(("alert", slo_budget.BudgetUse.from_json(interval.budget_used)))
            elif interval.end is None:  # still firing: what its burn used so far
                slo_events, result = _evaluated(reader, slo, now)
                uses.append(("alert so far", alert_use(slo, slo_events, result, 0, interval.evidence)))
            else:  # resolved by a version that did not store it: from the alert's start (lagged data undercounts)
                slo_events, result = _evaluated(reader, slo, to_epoch(interval.end))
                began = {"alert_window": {"data_from": iso(interval.start)}}
                uses.append(("alert, from its start", alert_use(slo, slo_events, result, 0, began)))
        if not alerted:
            slo_events, result = _evaluated(reader, slo, max(end, onset + 60))
            use = slo_budget.window_use(slo.spec, slo_events, result, 0, onset, end)
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


def _events(db: Database, incident: Incident) -> list[AlertEvent]:
    """The incident's alerts' transitions from an hour before it started (their pending) to a minute after it
    closed: an alert that fires again later belongs to a later incident."""
    closed = incident.resolved_at or incident.last_active_at
    lo, hi = to_epoch(incident.started_at) - 3600, to_epoch(closed) + 60
    alerts = AlertStore(db)
    members = sorted({a.fingerprint for a in incident.alerts})
    events = [e for fp in members for e in alerts.events(fingerprint=fp, since=lo) if to_epoch(e.at) <= hi]
    events.sort(key=lambda e: (e.at, e.event_id))
    return events


def _azure_metrics(loaded: LoadedConfig) -> dict[str, list[str]]:
    """Rule → the Azure Monitor metric names it reads (their names carry the unit the evidence lacks)."""
    return {r.metadata.name: list(r.spec.where.get("metric", [])) for r in loaded.rules if "azure" in r.spec.metric}


def _first_alert(first: AlertEvent | None, names: dict[str, str], azure: dict[str, list[str]]) -> dict[str, Any] | None:
    if first is None:
        return None
    return {"rule": first.rule, "name": names.get(first.fingerprint, first.rule), "severity": first.severity.value,
            "value": first.value, "threshold": first.threshold, "value_text": timeline.value_text(first, azure),
            "labels": first.labels}  # fmt: skip


def _scope_text(scope: dict[str, list[str]]) -> str:
    """The scope as the rollups are filtered on it (``series.scoped``): its warehouses or services, else domains."""
    dims = [d for d in ("warehouse", "service") if scope.get(d)] or ["domain"]
    return " or ".join(f"{d} {', '.join(scope[d])}" for d in dims if scope.get(d)) or "the whole account"


def build_postmortem(loaded: LoadedConfig, db: Database, incident_id: str, now: datetime) -> Postmortem:
    """The post-mortem draft of ``incident_id``.

    Raises:
        UsageError: no such incident in the store.
    """
    incident = IncidentStore(db).get(incident_id)
    if incident is None:
        raise UsageError(f"no incident {incident_id!r} in this store (see `sre-agent incidents list --all`)")
    detected = to_epoch(incident.detected_at)
    closed = incident.resolved_at or incident.last_active_at
    members = {a.fingerprint for a in incident.alerts}
    events = _events(db, incident)
    lo_events, hi_events = to_epoch(incident.started_at) - 3600, to_epoch(closed) + 60
    sent = timeline.notifications(db, members, lo_events, hi_events, {e.event_id for e in events})
    names = timeline.alert_names(incident)
    scope = incident.scope
    reader = Reader(RollupStore(db), scope)
    last_resolved = max((to_epoch(e.at) for e in events if e.kind == EventKind.RESOLVED), default=None)
    until = to_epoch(incident.resolved_at) if incident.resolved_at else (last_resolved or to_epoch(closed))
    reader.add_warehouses(detected - ONSET_LOOKBACK, max(until, detected + STEP))
    onset, basis, data_end = impact_bounds(reader, incident, detected, max(until, detected + STEP))
    mitigated = to_epoch(incident.mitigated_at) if incident.mitigated_at else None
    resolved = to_epoch(incident.resolved_at) if incident.resolved_at else None
    first_back = timeline.first_alert_resolved(events)
    ended = times.impact_end(detected, mitigated, data_end, first_back, last_resolved, resolved, until)
    end = ended.at
    assert end is not None
    when = times.incident_times(
        times.Instant(times.STARTED, onset, basis),
        detected,
        (to_epoch(incident.acknowledged_at) if incident.acknowledged_at else None, incident.acknowledged_by),
        (mitigated, incident.mitigated_by),
        ended,
        timeline.alerts_resolved(events, names),
        (resolved, incident.resolved_by),
        to_epoch(now),
    )
    base_lo, base_hi, base_basis = baseline(reader, onset, end)
    w = Windows(onset, end, base_lo, base_hi, base_basis)
    found = factors(reader, w)
    stats_now = impact.queries_in_scope(reader, w)
    touched = reader.frame(QUERY, onset, end)
    figures = {
        "duration_min": when.span("impact").to_json()["minutes"],
        "queries": stats_now,
        "baseline": query_stats(reader.frame(QUERY, base_lo, base_hi)),
        "baseline_basis": base_basis,
        "warehouses": sorted(set(touched["warehouse"].to_list())) if touched.height else [],
        "services": sorted(set(touched["service"].to_list())) if touched.height else [],
        "domains": sorted(set(touched["domain"].to_list())) if touched.height else [],
        "people": impact.people(reader, w, stats_now["queries"]),
        "slos": _slo_impact(loaded, db, incident, events, onset, end, to_epoch(now)),
        "cost": impact.cost(loaded, reader, w),
    }
    firing = [e for e in events if e.kind == EventKind.FIRING]
    first = min(firing, key=lambda e: times.firing_order(e.at, e.severity, e.rule)) if firing else None
    azure = _azure_metrics(loaded)
    spans = {s.key: s.to_json()["minutes"] for s in when.spans()}
    detection = {
        "onset": from_epoch(onset),
        "onset_basis": basis,
        "impact_end": from_epoch(end),
        "impact_end_basis": ended.basis,
        "detected_at": incident.detected_at,
        "first_alert": _first_alert(first, names, azure),
        "acknowledged_at": incident.acknowledged_at,
        "acknowledged_by": incident.acknowledged_by,
        "mitigated_at": incident.mitigated_at,
        "mitigated_by": incident.mitigated_by,
        "resolved_at": incident.resolved_at,
        "resolved_by": incident.resolved_by,
        "alerts_resolved_at": from_epoch(when.alerts_resolved.at) if when.alerts_resolved.at else None,
        "alerts_resolved_basis": when.alerts_resolved.basis,
        "time_to_detect_min": spans["ttd"],
        "time_to_acknowledge_min": spans["tta"],
        "time_to_mitigate_min": spans["ttm"],
        "time_to_restore_min": spans["ttr"],
        "alerts_tail_min": spans["tail"],
        "open_min": spans["open"],
        "notified": timeline.first_per_receiver(sent),
        "alerts": len(members),
    }
    runbooks = sorted({(e.rule, e.annotations.get("runbook", "")) for e in events if e.annotations.get("runbook")})
    chart_lo = onset - CONTEXT
    chart_hi = max(end, to_epoch(closed)) + CONTEXT
    symptom = headline.symptom(loaded, incident, figures, events, detection["first_alert"]["value_text"]
                               if first else "")  # fmt: skip
    pm = Postmortem(
        incident={
            "id": incident.id,
            "title": headline.title(symptom, incident.id),
            "alert_title": incident.title,
            "symptom": symptom.to_json(),
            "status": incident.status.value,
            "severity": incident.severity.value,
            "scope": scope,
            "resolved": incident.status == IncidentStatus.RESOLVED,
        },
        generated_at=now,
        summary=headline.summary(symptom, when, figures, detection, found[0] if found else None, incident),
        window={
            "onset": from_epoch(onset),
            "end": from_epoch(end),
            "baseline_start": from_epoch(base_lo),
            "baseline_end": from_epoch(base_hi),
            "chart_start": from_epoch(chart_lo),
        },
        impact=figures,
        detection=detection,
        timeline=timeline.timeline(incident, events, sent, when, names, azure),
        factors=found,
        charts=impact.charts(reader, chart_lo, chart_hi, _scope_text(scope)),
        runbooks=[{"rule": r, "runbook": u} for r, u in runbooks],
        action_items=_action_items(found, detection, incident),
        times=when,
    )
    if incident.status != IncidentStatus.RESOLVED:
        pm.notes.append(f"The incident is still {incident.status.value}: figures run to {iso(from_epoch(end))}.")
    return pm
