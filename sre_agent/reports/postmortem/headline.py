"""The post-mortem's title and summary: what users saw (the largest user-visible change), then the numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sre_agent.config.durations import format_duration
from sre_agent.config.loader import LoadedConfig
from sre_agent.figures import incident_times as times
from sre_agent.figures.text import human_ms, utc_range
from sre_agent.model import AlertEvent, EventKind
from sre_agent.store.incidents import Incident

MIN_RATIO = 1.5
"""A change smaller than this many times its usual level is not the symptom."""


@dataclass(frozen=True)
class Symptom:
    """What users saw: the largest user-visible change of the impact window against its baseline."""

    kind: str
    """``latency``, ``errors``, ``freshness``, ``cost``, or ``alert`` (no series moved: the first alert's own)."""
    what: str
    """In words: ``queries slow``."""
    detail: str
    """Its numbers: ``p95 2m 57s vs 25.3 s``."""
    score: float
    """log2 of how many times its usual (or allowed) level it reached: what ranks the candidates."""
    who: str
    where: str
    """`` on RISK_WH`` or empty."""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready record."""
        return {"kind": self.kind, "what": self.what, "detail": self.detail, "score": round(self.score, 3),
                "who": self.who, "where": self.where.strip()}  # fmt: skip


def _names(values: list[str], most: int = 2) -> str:
    return ", ".join(values) if len(values) <= most else f"{', '.join(values[:most])} and {len(values) - most} more"


def _log2(ratio: float) -> float:
    return math.log2(ratio) if ratio > 0 and math.isfinite(ratio) else 10.0


def _freshness(
    loaded: LoadedConfig, events: list[AlertEvent], slos: list[dict[str, Any]]
) -> list[tuple[str, str, float]]:
    """(what, detail, score) of each freshness SLO of the incident that alerted: its stale minutes when the alert's
    budget figure counted them, else its peak burn rate (how many times the allowed rate of stale minutes)."""
    ages = {s.name: format_duration(s.spec.sli.max_age) for s in loaded.slos if s.spec.sli.kind == "freshness"}
    out = []
    for name, age in ages.items():
        burns = [e.value for e in events if e.labels.get("slo") == name and e.value is not None
                 and e.kind in (EventKind.FIRING, EventKind.ESCALATED, EventKind.DEESCALATED)]  # fmt: skip
        if not burns:
            continue
        stale = [s for s in slos if s["slo"] == name and s["alerted"] and s["bad_events"] and s["events"]]
        detail = (
            f"{stale[0]['bad_events']:,.0f} of {stale[0]['events']:,.0f} minutes over {age} old, {name}"
            if stale
            else f"{name} over {age} old, burn {max(burns):,.0f}× budget"
        )
        out.append(("data late", detail, _log2(max(burns))))
    return out


def symptom(
    loaded: LoadedConfig, incident: Incident, impact: dict[str, Any], events: list[AlertEvent], first: str
) -> Symptom:
    """The largest user-visible change, ranked by how many times its usual level it reached (at least
    :data:`MIN_RATIO`): p95 latency against the baseline's, the failed share of queries against the baseline's,
    a freshness SLO's stale minutes (its burn rate: times the allowed rate), the credits against the baseline's.
    Without one, the first alert's own condition (``first``: its value text)."""
    q, b, cost = impact["queries"], impact["baseline"], impact["cost"]
    scope = incident.scope
    services = scope.get("service") or (impact["services"] if len(impact["services"]) <= 2 else [])
    warehouses = scope.get("warehouse") or (impact["warehouses"] if len(impact["warehouses"]) <= 2 else [])
    who = _names(services or scope.get("domain") or warehouses or ["the platform"])
    on = f" on {_names(warehouses)}" if warehouses and services else ""
    found: list[Symptom] = []
    if q["p95_ms"] and b["p95_ms"] and q["p95_ms"] - b["p95_ms"] >= 250:
        ratio = q["p95_ms"] / b["p95_ms"]
        if ratio >= MIN_RATIO:
            detail = f"p95 {human_ms(q['p95_ms'])} vs {human_ms(b['p95_ms'])}"
            found.append(Symptom("latency", "queries slow", detail, _log2(ratio), who, on))
    if q["queries"] and q["failed"] >= 3:
        share = q["failed"] / q["queries"]
        usual = b["failed"] / b["queries"] if b["queries"] else 0.0
        if share >= MIN_RATIO * max(usual, 0.001):
            detail = f"{100 * share:.1f} % failed vs {100 * usual:.1f} %"
            found.append(Symptom("errors", "queries failing", detail, _log2(share / max(usual, 0.001)), who, on))
    for what, detail, score in _freshness(loaded, events, impact["slos"]):
        found.append(Symptom("freshness", what, detail, score, who, ""))
    if cost["extra_credits"] is not None and cost["extra_credits"] > 1 and cost["baseline_credits"]:
        ratio = cost["credits"] / cost["baseline_credits"]
        if ratio >= MIN_RATIO:
            money = f", {cost['currency']} {cost['extra_cost']:,.0f}" if cost["extra_cost"] is not None else ""
            times_usual = f"×{ratio:,.0f}" if ratio >= 10 else f"×{ratio:,.1f}"
            detail = f"{cost['extra_credits']:,.0f} credits above baseline, {times_usual}{money}"
            payer = _names(impact["warehouses"] or warehouses) or who
            found.append(Symptom("cost", "credits burning", detail, _log2(ratio), payer, ""))
    if found:
        return max(found, key=lambda s: s.score)
    return Symptom("alert", incident.title.split(" (")[0], first, 0.0, who, on)


def title(s: Symptom, incident_id: str) -> str:
    """``risk-engine: queries slow (p95 2m 57s vs 25.3 s) on RISK_WH — INC-20261103-1``."""
    return f"{s.who}: {s.what} ({s.detail}){s.where} — {incident_id}"


def summary(
    s: Symptom,
    when: times.IncidentTimes,
    impact: dict[str, Any],
    detection: dict[str, Any],
    top_factor: dict[str, Any] | None,
    incident: Incident,
) -> str:
    """The summary paragraph: what users saw and when, the one query count, how fast it was detected and restored
    (the alerts' tail apart), the error budget and cost, the largest change in the data."""
    start, end = when.started.at, when.impact_ended.at
    assert start is not None
    assert end is not None
    span = when.span
    parts = [f"{s.who} saw {s.what}{s.where} ({s.detail}) during {utc_range(start, end)} ({span('impact').text()})."]
    q = impact["queries"]
    parts.append(f"{q['queries']:,} queries of the scope ended in that window, {q['failed']:,} failed.")
    first = (detection.get("first_alert") or {}).get("name")
    if first:
        parts.append(f"The first alert, {first}, fired {span('ttd').text()} after the onset (time to detect).")
    parts.append(f"Impact ended {span('ttr').text()} after it (time to restore): {when.impact_ended.basis}.")
    tail, quiet = span("tail"), when.alerts_resolved
    if tail.seconds:
        parts.append(f"Alerts kept firing {tail.text()} after that (the alerts' tail, not counted in TTR): "
                     f"{quiet.basis}.")  # fmt: skip
    elif quiet.at is None and incident.resolved_at is None:
        parts.append(f"Alerts {quiet.basis}.")
    for slo in impact["slos"]:
        if slo["budget_consumed_percent"] is not None and slo["alerted"]:
            parts.append(f"SLO {slo['slo']}: its alert's burn used {slo['budget_consumed_percent']:.2f} % of "
                         f"{slo['of']}.")  # fmt: skip
    c = impact["cost"]
    if c["extra_credits"] is not None and c["extra_credits"] > 1:
        money = f" ({c['currency']} {c['extra_cost']:,.2f})" if c["extra_cost"] is not None else ""
        parts.append(f"{c['extra_credits']:,.1f} credits above baseline{money}.")
    parts.append(f"{len(incident.alerts)} alert(s), severity {incident.severity.value}.")
    if top_factor:
        parts.append(f"Largest change in the data: {top_factor['subject']} {top_factor['name']} "
                     f"{top_factor['change']}.")  # fmt: skip
    return " ".join(parts)
