"""The post-mortem's timeline: its stages, every alert transition (named, with units), notification and human step."""

from __future__ import annotations

from typing import Any

from sre_agent.figures import incident_times as times
from sre_agent.figures.text import amount, human_ms, human_value
from sre_agent.model import AlertEvent, EventKind, from_epoch, to_epoch
from sre_agent.store.db import Database
from sre_agent.store.incidents import Incident
from sre_agent.store.notifications import NotificationStore

_HUMAN_STAGES = {"acknowledged": times.ACKNOWLEDGED, "mitigated": times.MITIGATED, "resolved": times.RESOLVED}


def alert_names(incident: Incident) -> dict[str, str]:
    """Fingerprint → the alert's name: its rule, with the labels that tell several alerts of one rule apart
    (``query-pattern-latency-anomaly (pattern=a876165dd2…)``)."""
    by_rule: dict[str, list[dict[str, str]]] = {}
    for a in incident.alerts:
        by_rule.setdefault(a.rule, []).append(a.labels)
    out = {}
    for a in incident.alerts:
        siblings = by_rule[a.rule]
        differ = sorted(k for k in a.labels if len({s.get(k) for s in siblings}) > 1)
        parts = [f"{k}={v if len(v) <= 12 else v[:10] + '…'}" for k in differ if (v := a.labels[k])]
        out[a.fingerprint] = f"{a.rule} ({', '.join(parts)})" if parts else a.rule
    return out


def _azure_unit(metric_names: list[str]) -> str:
    """The unit an Azure Monitor metric's name says (``OutputWatermarkDelaySeconds``: s; ``…Utilization``: %)."""
    names = [n.lower() for n in metric_names]
    if names and all(n.endswith("seconds") for n in names):
        return "s"
    if names and all(n.endswith(("utilization", "percent", "percentage")) for n in names):
        return "%"
    return ""


def _with_unit(value: float, unit: str) -> str:
    if unit == "s":
        return human_ms(value * 1000)
    if unit == "%":
        return f"{value:,.1f} %"
    return human_value(value, unit) if unit else f"{value:,.4g}"


def value_text(e: AlertEvent, azure_metrics: dict[str, list[str]]) -> str:
    """The value an alert transition carried, in its unit at human scale, with what it is compared with:
    ``2m 50s (> 2m 00s over 15m)``, ``burn rate 23.2× over 1h/5m (alerts at 13.44×)``, ``forecast 481 % of the
    400 credits budget (alerts at 110 %)``. ``azure_metrics``: rule → the Azure metric names it reads (their names
    carry the unit that the evidence lacks)."""
    ev, value, threshold = e.evidence, e.value, e.threshold
    if value is None:
        return ""
    if "slo" in e.labels or "burn_now" in ev:  # an SLO's burn-rate tier
        tier = ev.get("firing_tier") or {}
        over = f" over {tier['windows']}" if tier.get("windows") else ""
        limit = f" (alerts at {threshold:g}×)" if threshold is not None else ""
        return f"burn rate {value:,.1f}×{over}{limit}"
    signal = e.labels.get("signal")
    if signal and "amount" in ev:  # a cost budget
        unit = str(ev.get("unit", ""))
        budget = f"the {amount(float(ev['amount']), unit)} budget"
        limit = "" if threshold is None else f" (alerts at {threshold:g} %)"
        if signal == "actual":
            return f"{value:,.0f} % of {budget} spent{limit}"
        if signal == "forecast":
            return f"forecast {value:,.0f} % of {budget}{limit}"
        if signal == "burn_rate":
            limit = "" if threshold is None else f" (alerts at {threshold:g}×)"
            return f"spending {value:,.1f}× {budget}'s hourly allowance{limit}"
        limit = "" if threshold is None else f" (alerts at {amount(threshold, unit)})"
        return f"{amount(value, unit)} in a day{limit}"
    if "baseline_ms" in ev:  # a latency anomaly: the bucket's p95 against the same slot in earlier weeks
        bound = "" if threshold is None else f", bound {human_ms(threshold)}"
        return f"p95 {human_ms(value)} vs usual {human_ms(float(ev['baseline_ms']))}{bound}"
    unit = str(ev.get("unit") or "") or _azure_unit(azure_metrics.get(e.rule, []))
    shown = _with_unit(value, unit)
    if not unit and azure_metrics.get(e.rule):
        shown += f" ({', '.join(azure_metrics[e.rule])})"
    if threshold is None:
        return shown
    window = f" over {ev['window']}" if ev.get("window") else ""
    return f"{shown} ({ev.get('op', 'vs')} {_with_unit(threshold, unit)}{window})"


def alerts_resolved(events: list[AlertEvent], names: dict[str, str]) -> times.Instant:
    """Alerts resolved (:data:`times.ALERTS_RESOLVED`): the last of the incident's alerts resolving, and which one
    (an SLO's: the burn-rate window that kept it firing); unknown while any still fires."""
    last: dict[str, AlertEvent] = {}
    before: dict[str, AlertEvent] = {}
    for e in events:
        if e.kind in (EventKind.PENDING, EventKind.PENDING_CANCELLED):
            continue
        if e.fingerprint in last:
            before[e.fingerprint] = last[e.fingerprint]
        last[e.fingerprint] = e
    firing = sorted(names.get(fp, e.rule) for fp, e in last.items() if e.kind != EventKind.RESOLVED)
    if firing:
        return times.Instant(times.ALERTS_RESOLVED, None, f"still firing: {', '.join(firing)}")
    if not last:
        return times.Instant(times.ALERTS_RESOLVED, None, "no alert of the incident fired")
    final = max(last.values(), key=lambda e: (e.at, e.event_id))
    basis = f"{names.get(final.fingerprint, final.rule)} resolved last"
    tier = (before[final.fingerprint].evidence.get("firing_tier") or {}) if final.fingerprint in before else {}
    if tier.get("windows"):
        basis += f" (its {tier['windows']} burn-rate window above {tier.get('factor')}× until then)"
    return times.Instant(times.ALERTS_RESOLVED, to_epoch(final.at), basis)


def first_alert_resolved(events: list[AlertEvent]) -> int | None:
    """When the incident's first firing alert resolved (None: it had not)."""
    firing = [e for e in events if e.kind == EventKind.FIRING]
    if not firing:
        return None
    first = min(firing, key=lambda e: times.firing_order(e.at, e.severity, e.rule))
    back = [e.at for e in events if e.kind == EventKind.RESOLVED and e.fingerprint == first.fingerprint]
    later = [t for t in back if t > first.at]
    return to_epoch(min(later)) if later else None


def notifications(db: Database, members: set[str], lo: int, hi: int, events: set[int]) -> list[dict[str, Any]]:
    """What receivers were told about the incident's transitions (reminders: within its time), oldest first."""
    store = NotificationStore(db)
    rows = []
    for fp in sorted(members):
        for n in store.of(fp):
            if n.event_id in events or (lo <= n.at <= hi and n.action == "repeat"):
                rows.append({"at": n.at, "receiver": n.receiver, "action": n.action, "status": n.status,
                             "severity": n.severity, "detail": n.detail, "fingerprint": fp})  # fmt: skip
    rows.sort(key=lambda r: (r["at"], r["receiver"]))
    return rows


def first_per_receiver(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each receiver's first notification (held ones left out): receiver, when, severity."""
    first: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["action"] != "held" and r["receiver"] not in first:
            first[r["receiver"]] = {"receiver": r["receiver"], "at": from_epoch(r["at"]), "severity": r["severity"]}
    return list(first.values())


def _notified_rows(rows: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    """One row per alert and message: the same notification to several receivers is one row naming them all."""
    folded: dict[tuple[Any, ...], list[str]] = {}
    for r in rows:
        key = (r["at"], r["fingerprint"], r["action"], r["status"], r["severity"], r["detail"] or "")
        folded.setdefault(key, []).append(r["receiver"])
    out = []
    for (at, fp, action, status, severity, detail), receivers in folded.items():
        what = "held" if action == "held" else f"notified ({action}, {status})"
        text = f"{', '.join(receivers)} · {severity}" + (f": {detail}" if detail else "")
        out.append({"at": from_epoch(at), "stage": "", "event": what, "alert": names.get(fp, fp[:12]),
                    "detail": text})  # fmt: skip
    return out


def timeline(
    incident: Incident,
    events: list[AlertEvent],
    sent: list[dict[str, Any]],
    when: times.IncidentTimes,
    names: dict[str, str],
    azure_metrics: dict[str, list[str]],
) -> list[dict[str, Any]]:
    """Every row of the timeline, oldest first: the stages of ``when`` (each on the row it happened in: the first
    alert firing is Detected, the last resolve Alerts resolved), alert transitions with their values, notifications
    folded across receivers, and the human steps and notes."""
    started, ended, quiet = when.started, when.impact_ended, when.alerts_resolved
    rows: list[dict[str, Any]] = [
        {"at": from_epoch(started.at or to_epoch(incident.started_at)), "stage": times.STARTED,
         "event": "impact started", "alert": "", "detail": f"from the data: {started.basis}"}
    ]  # fmt: skip
    detected = next((e for e in events if e.kind == EventKind.FIRING and e.at == incident.detected_at), None)
    last_resolve = max((e for e in events if e.kind == EventKind.RESOLVED), key=lambda e: (e.at, e.event_id),
                       default=None) if quiet.at is not None else None  # fmt: skip
    for e in events:
        stage = times.DETECTED if e is detected else times.ALERTS_RESOLVED if e is last_resolve else ""
        value = value_text(e, azure_metrics)
        rows.append({"at": e.at, "stage": stage, "event": f"alert {e.kind.value}",
                     "alert": names.get(e.fingerprint, e.rule),
                     "detail": e.severity.value + (f" · {value}" if value else "")})  # fmt: skip
    rows += _notified_rows(sent, names)
    for entry in incident.log:
        if entry.kind == "alert":
            continue
        rows.append({"at": entry.at, "stage": _HUMAN_STAGES.get(entry.kind, ""), "event": entry.kind, "alert": "",
                     "detail": f"{entry.text} ({entry.author})"})  # fmt: skip
    if when.mitigated.at is None and ended.at is not None and ended.basis != times.NOT_YET:
        rows.append({"at": from_epoch(ended.at), "stage": times.IMPACT_ENDED, "event": "impact ended", "alert": "",
                     "detail": ended.basis})  # fmt: skip
    order = [i.stage for i in when.instants()]
    rows.sort(key=lambda r: (r["at"], order.index(r["stage"]) if r["stage"] else len(order)))
    return rows
