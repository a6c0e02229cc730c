"""Backtesting SLO alerting: replay an SLO's tiers minute by minute over history and measure the result.

The replay drives the same engine and the same alert state machine as the daemon, so the alerts it
lists are the notifications the agent would have sent (one per incident: escalations and
de-escalations stay inside one alert). History is either the agent's store / Snowflake, or an
offline CSV (``timestamp,good,total`` — one row per minute). With labelled incidents it reports the
SRE Workbook's four qualities of an alerting strategy: precision, recall, detection time, reset time.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sre_agent.alerting.lifecycle import Instance
from sre_agent.alerting.lifecycle import step as lifecycle_step
from sre_agent.config.durations import format_duration
from sre_agent.config.slo import SloDoc
from sre_agent.daemon.evaluate_slo import slo_policy
from sre_agent.engine import slo as engine
from sre_agent.errors import SreAgentError
from sre_agent.model import Condition, ConditionState, EventKind, Severity, from_epoch, iso

_SEVERITY = {engine.PAGE: Severity.SEV2, engine.TICKET: Severity.SEV3}
_NAME = {Severity.SEV2: engine.PAGE, Severity.SEV3: engine.TICKET}


class InputError(SreAgentError):
    """An events or incidents file the backtest cannot read (with file and line)."""


@dataclass
class Alert:
    """One alert episode: from firing to resolved, through any severity changes."""

    slo: str
    severity: str
    windows: str
    start: datetime
    end: datetime | None
    changes: list[dict[str, str]] = field(default_factory=list)
    peak_burn: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "slo": self.slo,
            "severity": self.severity,
            "windows": self.windows,
            "start": iso(self.start),
            "end": iso(self.end) if self.end else None,
            "severity_changes": self.changes,
            "peak_long_window_burn": round(self.peak_burn, 3),
        }


@dataclass(frozen=True)
class Incident:
    """A labelled incident (ground truth): when it started and ended, and which SLOs it should trip."""

    id: str
    start: datetime
    end: datetime
    slos: tuple[str, ...] = ()
    """SLOs it should trip. Empty: the SLOs of ``service``, or without one every SLO of the backtest."""
    service: str | None = None


@dataclass
class Replay:
    """The result of replaying one SLO."""

    slo: SloDoc
    alerts: list[Alert]
    result: engine.SloResult
    notifications: int

    def summary(self) -> dict[str, Any]:
        """Figures of the whole replay and the final instant."""
        last = engine.at_instant(self.slo.spec, self.result, len(self.result.instants) - 1)
        return {
            "slo": self.slo.name,
            "objective_percent": float(self.slo.spec.objective),
            "from": iso(from_epoch(int(self.result.instants[0]))),
            "to": iso(from_epoch(int(self.result.instants[-1]))),
            "instants": len(self.result.instants),
            "pages": sum(a.severity == engine.PAGE for a in self.alerts),
            "tickets": sum(a.severity == engine.TICKET for a in self.alerts),
            "notifications": self.notifications,
            "final": {
                "state": last["state"],
                "period_sli": last["period"]["sli"],  # type: ignore[index]
                "budget_remaining": last["budget_remaining"],
            },
        }


def replay(slo: SloDoc, events: engine.SloEvents, instants: np.ndarray) -> Replay:
    """Evaluate ``slo`` at every instant and run its alert through the daemon's state machine."""
    result = engine.evaluate_slo(slo.spec, events, instants)
    inst = Instance("backtest", slo.name, {"slo": slo.name})
    alerts: list[Alert] = []
    notifications = 0
    current: Alert | None = None
    for k in range(len(instants)):
        state = str(result.state[k])
        at = from_epoch(int(instants[k]))
        if state in _SEVERITY:
            tier = engine.firing_tier(result, k, state)
            assert tier is not None
            cond = Condition(slo.name, inst.labels, at, ConditionState.BREACH, _SEVERITY[state])
        elif state == engine.OK:
            tier = None
            cond = Condition(slo.name, inst.labels, at, ConditionState.OK)
        else:
            tier = None
            cond = Condition(slo.name, inst.labels, at, ConditionState.NO_DATA)
        inst, transitions = lifecycle_step(inst, cond, slo_policy(slo, state))
        for tr in transitions:
            notifications += tr.kind.notifies
            severity = _NAME.get(tr.instance.severity) if tr.instance.severity else None
            windows = tier.tier.label if tier is not None else ""
            if tr.kind is EventKind.FIRING:
                current = Alert(slo.name, severity or engine.TICKET, windows, at, None)  # when it notified
                current.changes.append({"at": iso(at), "severity": current.severity, "windows": windows})
                alerts.append(current)
            elif tr.kind in (EventKind.ESCALATED, EventKind.REESCALATED, EventKind.DEESCALATED) and current:
                current.changes.append({"at": iso(at), "severity": severity or "", "windows": windows})
                if tr.kind is EventKind.ESCALATED:
                    current.severity, current.windows = severity or current.severity, windows
            elif tr.kind is EventKind.RESOLVED and current is not None:
                current.end = at
                current = None
        if current is not None and tier is not None:
            long_burn = result.windows[format_duration(tier.tier.long)].burn[k]
            if not np.isnan(long_burn):
                current.peak_burn = max(current.peak_burn, float(long_burn))
    return Replay(slo, alerts, result, notifications)


def instants_between(start: int, end: int, step: timedelta) -> np.ndarray:
    """Evaluation instants: multiples of ``step`` in ``(start, end]``."""
    s = int(step.total_seconds())
    first = (start // s + 1) * s
    return np.arange(first, end + 1, s, dtype=np.int64)


def _parse_time(text: str, where: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"{where}: timestamp {text!r} is not ISO 8601 (e.g. 2026-11-02T14:05:00Z)") from exc
    if value.tzinfo is None:
        raise InputError(f"{where}: timestamp {text!r} has no time zone (write it in UTC, e.g. ...Z)")
    return value.astimezone(UTC)


def read_events_csv(path: Path) -> tuple[engine.RawMinutes, int, int]:
    """Read ``timestamp,good,total`` (one row per minute) into stored-row form; return rows, first, end.

    Raises:
        InputError: with file:line for a missing column, a bad number, good > total, a timestamp not
            on a whole minute, a duplicate or out-of-order minute.
    """
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    buckets: list[int] = []
    goods: list[int] = []
    totals: list[int] = []
    with handle:
        reader = csv.DictReader(handle)
        missing = {"timestamp", "good", "total"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(f"{path}:1: missing column(s) {', '.join(sorted(missing))} (need timestamp,good,total)")
        for line, row in enumerate(reader, start=2):
            where = f"{path}:{line}"
            at = _parse_time(row["timestamp"] or "", where)
            epoch = int(at.timestamp())
            if epoch % 60 or at.microsecond:
                raise InputError(f"{where}: timestamp {row['timestamp']} is not on a whole minute")
            try:
                good, total = int(row["good"]), int(row["total"])
            except (TypeError, ValueError) as exc:
                raise InputError(f"{where}: good and total must be whole numbers") from exc
            if good < 0 or total < 0 or good > total:
                raise InputError(f"{where}: need 0 <= good <= total, got good={good} total={total}")
            if buckets and epoch <= buckets[-1]:
                raise InputError(f"{where}: timestamps must increase one row per minute (repeat or out of order)")
            buckets.append(epoch)
            goods.append(good)
            totals.append(total)
    if not buckets:
        raise InputError(f"{path}: no rows")
    raw = engine.RawMinutes(
        np.array(buckets, dtype=np.int64),
        np.array(goods, dtype=np.float64),
        np.array(totals, dtype=np.float64),
        np.zeros(len(buckets), dtype=np.int64),
    )
    return raw, buckets[0], buckets[-1] + 60


def read_incidents(path: Path) -> list[Incident]:
    """Read labelled incidents: CSV (``start,end[,id][,slo][,service]``) or YAML/JSON (a list of such
    mappings, or ``{incidents: [...]}`` such as the demo's ``ground_truth.json``). ``slo`` names the SLOs
    an incident should trip (``;``-separated in CSV); ``service`` picks the SLOs of that service.

    Raises:
        InputError: unreadable file, missing fields, end not after start.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    if path.suffix.lower() == ".csv":
        rows: list[Any] = list(csv.DictReader(text.splitlines()))
        first_line = 2
    else:
        try:
            data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise InputError(f"{path}: not valid YAML/JSON: {exc}") from exc
        rows = data.get("incidents", []) if isinstance(data, dict) else data
        first_line = 1
        if not isinstance(rows, list):
            raise InputError(f"{path}: expected a list of incidents (start, end, optional id and slo)")
    out = []
    for i, row in enumerate(rows):
        where = f"{path}:{i + first_line}" if first_line == 2 else f"{path}: incident {i + 1}"
        if not isinstance(row, dict) or not row.get("start") or not row.get("end"):
            raise InputError(f"{where}: an incident needs start and end")
        start = _parse_time(str(row["start"]), where)
        end = _parse_time(str(row["end"]), where)
        if end <= start:
            raise InputError(f"{where}: end must be after start")
        slos = row.get("slo") or row.get("slos") or ()
        names = tuple(s.strip() for s in slos.split(";")) if isinstance(slos, str) else tuple(str(s) for s in slos)
        service = str(row["service"]) if row.get("service") else None
        ident = str(row.get("id") or f"incident-{i + 1}")
        out.append(Incident(ident, start, end, tuple(n for n in names if n), service))
    return out


def quality(replays: list[Replay], incidents: list[Incident], grace: timedelta = timedelta(hours=1)) -> dict[str, Any]:
    """Precision, recall, detection and reset time of the replayed alerts against labelled incidents.

    An alert counts for an incident of its SLO when it overlaps ``[start, end + grace)`` (data lands
    late and burn takes time). Precision: alerts that match an incident / all alerts. Recall:
    incidents with an alert / incidents. Detection: first matching alert's start − incident start.
    Reset: last matching alert's end − incident end.
    """
    alerts = [a for r in replays for a in r.alerts]
    names = {r.slo.name for r in replays}
    matched: set[int] = set()
    per_incident: list[dict[str, Any]] = []
    for inc in incidents:
        if inc.slos:
            targets = set(inc.slos) & names
        elif inc.service:
            targets = {r.slo.name for r in replays if r.slo.spec.service == inc.service}
        else:
            targets = names
        if not targets:
            continue  # an incident of a service none of these SLOs covers
        hits = [
            (i, a)
            for i, a in enumerate(alerts)
            if a.slo in targets and a.start < inc.end + grace and (a.end is None or a.end > inc.start)
        ]
        matched.update(i for i, _ in hits)
        detection = min((a.start for _, a in hits), default=None)
        ends = [a.end for _, a in hits]
        reset = max(e for e in ends if e is not None) if hits and None not in ends else None
        per_incident.append(
            {
                "id": inc.id,
                "start": iso(inc.start),
                "end": iso(inc.end),
                "slos": sorted(targets),
                "detected": bool(hits),
                "alerts": len(hits),
                "severity": max((a.severity for _, a in hits), key=lambda s: s == engine.PAGE, default=None),
                "detection_s": int((detection - inc.start).total_seconds()) if detection else None,
                "reset_s": int((reset - inc.end).total_seconds()) if reset else None,
            }
        )
    detected = [p for p in per_incident if p["detected"]]
    detections = [p["detection_s"] for p in detected if p["detection_s"] is not None]
    resets = [p["reset_s"] for p in detected if p["reset_s"] is not None]
    return {
        "precision": round(len(matched) / len(alerts), 4) if alerts else None,
        "recall": round(len(detected) / len(per_incident), 4) if per_incident else None,
        "detection_s": {"median": _median(detections), "max": max(detections, default=None)},
        "reset_s": {"median": _median(resets), "max": max(resets, default=None)},
        "alerts": len(alerts),
        "alerts_outside_incidents": len(alerts) - len(matched),
        "incidents": per_incident,
    }


def _median(values: list[int]) -> float | None:
    return float(np.median(values)) if values else None
