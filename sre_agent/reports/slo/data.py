"""The SLO compliance report's figures for one calendar month, read from the state store (never from Snowflake).

Each SLO's events are built as the daemon builds them (:func:`sre_agent.daemon.evaluate_slo.slo_inputs`: exclusions
removed, time slices for ``Timeslices`` SLOs, only data that can no longer change) and summed over the month:
compliance is good / total, the month's error budget is ``(1 - objective) × total`` bad events, and the share of it
used is :func:`sre_agent.engine.slo.budget_spent` — per day (cumulative) and per firing interval of the SLO's alert
(from the alert history). The SLO's own window (rolling 28 days, a calendar week…) at the month's end is the
engine's, as ``slo status`` shows it. Minutes the agent never polled are not counted, never scored as good.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from sre_agent.config.durations import format_duration
from sre_agent.config.loader import LoadedConfig
from sre_agent.config.slo import SloDoc, SloSpec
from sre_agent.daemon.evaluate_slo import SloReader, slo_inputs, slo_view
from sre_agent.engine import slo as engine
from sre_agent.model import AlertEvent, EventKind, Severity, from_epoch
from sre_agent.reports.periods import parse_period
from sre_agent.slo_status import snapshot
from sre_agent.store.alerts import AlertStore
from sre_agent.store.db import Database
from sre_agent.store.slo_minutes import SloMinutes
from sre_agent.store.watermarks import Watermarks

MET, MISSED, NO_DATA = "met", "missed", "no data"
INTERVAL_KINDS = (
    EventKind.FIRING,
    EventKind.ESCALATED,
    EventKind.DEESCALATED,
    EventKind.REESCALATED,
    EventKind.RESOLVED,
)
"""Alert events that open, change or close a firing interval (pending ones never notified anybody)."""


@dataclass
class FiringInterval:
    """One firing interval of an SLO's alert: from the start of its condition to its resolve (None: still firing)."""

    fingerprint: str
    rule: str
    labels: dict[str, str]
    start: datetime
    fired_at: datetime
    end: datetime | None
    peak_severity: Severity
    event_ids: list[int] = field(default_factory=list)
    budget_consumed_percent: float | None = None
    """Bad events inside the interval (clipped to the month) as a share of the month's allowed bad events."""


@dataclass
class SloSection:
    """One SLO's month: definition, events, verdict, error budget, daily consumption and incidents."""

    name: str
    service: str
    owner: str
    domain: str | None
    description: str
    sli: str
    budgeting_method: str
    objective_percent: float
    slo_window: str
    """The SLO's own compliance window (``rolling 28d``, ``month (Europe/London)``)."""
    labels: dict[str, str]
    data_from: datetime | None
    data_until: datetime | None
    good: float = 0.0
    total: float = 0.0
    bad: float = 0.0
    compliance_percent: float | None = None
    status: str = NO_DATA
    allowed_bad: float = 0.0
    budget_consumed_percent: float | None = None
    budget_remaining_percent: float | None = None
    daily: list[dict[str, Any]] = field(default_factory=list)
    """Per local day: ``day`` and ``budget_consumed_percent`` to its end (cumulative; None: no data that day)."""
    window_at_end: dict[str, Any] | None = None
    """The engine's figures for the SLO's own window at the end of the month's data."""
    incidents: list[FiringInterval] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class SloReport:
    """Everything the SLO report shows."""

    period: str
    start: datetime
    end: datetime
    time_zone: str
    generated_at: datetime
    data_until: datetime | None
    days: list[date]
    slos: list[SloSection]
    notes: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        """SLOs whose month ended with ``status`` (met, missed, no data)."""
        return sum(1 for s in self.slos if s.status == status)


def verdict(good: float, total: float, objective_percent: Any) -> str:
    """``met`` when good / total reaches the objective (compared exactly), ``missed`` below it, ``no data`` without
    events."""
    if total <= 0:
        return NO_DATA
    return MET if Fraction(good) * 100 >= Fraction(objective_percent) * Fraction(total) else MISSED


def sli_text(spec: SloSpec) -> str:
    """What the SLI counts, in one line (the SLO's own description says why)."""
    sli = spec.sli
    if sli.kind == "availability":
        text = "queries that succeed" + (" (cancelled count as bad)" if sli.cancelled == "bad" else "")
    elif sli.kind == "latency":
        text = f"successful queries finishing within {sli.threshold_ms:,} ms"
    elif sli.kind == "latency_percentile":
        text = f"{format_duration(spec.slice_length)} slices whose p{sli.percentile} is at most {sli.threshold_ms:,} ms"
    elif sli.kind == "freshness":
        text = f"minutes whose newest successful {sli.source} load is at most {format_duration(sli.max_age)} old"
    else:
        text = "good / total events per minute from a Log Analytics (KQL) query"
    if spec.budgeting_method == "Timeslices" and sli.kind in ("availability", "latency", "kql"):
        text = f"{format_duration(spec.slice_length)} slices at ≥ {spec.timeslice_target} of: {text}"
    filters = "; ".join(f"{k} in {', '.join(v)}" for k, v in spec.filters.used().items())
    return f"{text} ({filters})" if filters else text


def firing_intervals(events: list[AlertEvent]) -> list[FiringInterval]:
    """The firing intervals in ``events`` (oldest first, any number of alerts): a firing event opens one,
    escalations raise its peak severity, a resolve closes it; an interval with no resolve is still firing."""
    open_: dict[str, FiringInterval] = {}
    out: list[FiringInterval] = []
    for e in sorted(events, key=lambda e: e.event_id):
        current = open_.get(e.fingerprint)
        if e.kind is EventKind.FIRING:
            current = FiringInterval(e.fingerprint, e.rule, dict(e.labels), e.starts_at, e.at, None, e.severity)
            open_[e.fingerprint] = current
            out.append(current)
        if current is None:
            continue  # its firing predates the history the store keeps
        current.event_ids.append(e.event_id)
        if e.severity.more_severe_than(current.peak_severity) and e.kind is not EventKind.RESOLVED:
            current.peak_severity = e.severity
        if e.kind is EventKind.RESOLVED:
            current.end = e.ends_at or e.at
            del open_[e.fingerprint]
    return out


def local_days(start: datetime, end: datetime) -> list[date]:
    """Every local day from ``start`` up to (not including) ``end``'s day."""
    first, last = start.date(), end.date()
    return [first + timedelta(days=i) for i in range((last - first).days)]


def report_zone(loaded: LoadedConfig) -> ZoneInfo:
    """The zone of calendar months and days: ``spec.cost.time_zone`` (as the cost report), else UTC."""
    cost = loaded.config.spec.cost
    return ZoneInfo(cost.time_zone) if cost is not None else ZoneInfo("UTC")


def build_slo_report(loaded: LoadedConfig, db: Database, period: str | None, now: datetime | None = None) -> SloReport:
    """The report for ``period`` (``YYYY-MM``; default: the month of the newest SLO data in the store); ``now`` is
    the clock periods are checked against and the report's generation time.

    Raises:
        UsageError: a malformed period, or a month that has not started yet.
    """
    tz = report_zone(loaded)
    reader = SloReader(loaded.config.spec, Watermarks(db), SloMinutes(db))
    polled = [slo_view(reader, slo).polled_to for slo in loaded.slos]
    frontier = max((p for p in polled if p is not None), default=None)
    now = now or datetime.now(UTC)
    start, end, label = parse_period(period, tz, from_epoch(frontier - 1) if frontier else now, now)
    lo, hi = int(start.timestamp()), int(end.timestamp())
    alerts = AlertStore(db).events(INTERVAL_KINDS)
    days = local_days(start, end)
    sections = [_section(reader, slo, alerts, lo, hi, days, tz) for slo in loaded.slos]
    notes = []
    if not loaded.slos:
        notes.append("no SLOs configured (spec.slos in the agent config)")
    elif not any(s.total > 0 for s in sections):
        notes.append(f"no SLO data in the state store for {label}: the agent did not poll this month")
    until = max((s.data_until for s in sections if s.data_until is not None), default=None)
    return SloReport(
        period=label,
        start=start,
        end=end,
        time_zone=tz.key,
        generated_at=now,
        data_until=until,
        days=days,
        slos=sections,
        notes=notes,
    )


def _section(
    reader: SloReader, slo: SloDoc, alerts: list[AlertEvent], lo: int, hi: int, days: list[date], tz: ZoneInfo
) -> SloSection:
    """``slo``'s month ``[lo, hi)``."""
    spec = slo.spec
    view = slo_view(reader, slo)
    section = SloSection(
        name=slo.name,
        service=spec.service,
        owner=spec.owner,
        domain=spec.domain,
        description=spec.description,
        sli=sli_text(spec),
        budgeting_method=spec.budgeting_method,
        objective_percent=float(spec.objective),
        slo_window=_window_name(spec),
        labels=dict(slo.metadata.labels),
        data_from=None,
        data_until=None,
    )
    mine = [e for e in alerts if e.labels.get("slo") == slo.name]
    if view.polled_to is None or view.covered_from is None or view.polled_to <= lo or view.covered_from >= hi:
        section.notes.append("the agent has not polled this SLO's data for any part of this month")
        section.incidents = _overlapping(firing_intervals(mine), lo, hi)
        return section
    last = min(hi, view.polled_to) // engine.MINUTE * engine.MINUTE
    events = slo_inputs(reader, slo, np.array([lo, last], dtype=np.int64)).events
    first, until = max(lo, view.covered_from), min(last, events.frontier)
    section.data_from, section.data_until = from_epoch(first), from_epoch(until)
    _figures(section, spec, events, lo, until)
    section.daily = _daily(spec, events, lo, first, until, section.total, days, tz)
    section.window_at_end = _window_at(reader, slo, until)
    section.incidents = _overlapping(firing_intervals(mine), lo, hi)
    for interval in section.incidents:
        a = max(lo, int(interval.start.timestamp()))
        b = min(until, int(interval.end.timestamp()) if interval.end else until)
        spent = engine.budget_spent(spec, events, a, max(a, b), section.total)
        interval.budget_consumed_percent = None if spent is None else spent * 100
    section.notes += _notes(spec, lo, hi, first, until)
    return section


def _figures(section: SloSection, spec: SloSpec, events: engine.SloEvents, lo: int, until: int) -> None:
    """Good, total and bad events of ``[lo, until)``, compliance, verdict and the month's error budget."""
    a, b = ((np.array([lo, until]) - events.start) // engine.MINUTE).clip(0, len(events.good)).tolist()
    section.good = float(events.good[a:b].sum())
    section.total = float(events.total[a:b].sum())
    section.bad = section.total - section.good
    section.status = verdict(section.good, section.total, spec.objective)
    section.allowed_bad = float(spec.error_budget) * section.total
    if section.total > 0:
        section.compliance_percent = section.good / section.total * 100
        spent = engine.budget_spent(spec, events, lo, until, section.total)
        assert spent is not None
        section.budget_consumed_percent = spent * 100
        section.budget_remaining_percent = 100 - spent * 100


def _daily(
    spec: SloSpec,
    events: engine.SloEvents,
    lo: int,
    first: int,
    until: int,
    total: float,
    days: list[date],
    tz: ZoneInfo,
) -> list[dict[str, Any]]:
    """Cumulative share of the month's error budget used by the end of each local day (None: not observed)."""
    out = []
    for day in days:
        d_lo = int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())
        nxt = day + timedelta(days=1)
        d_hi = int(datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).timestamp())
        spent = None
        if total > 0 and d_hi > first and d_lo < until:
            spent = engine.budget_spent(spec, events, lo, min(d_hi, until), total)
        out.append({"day": day, "budget_consumed_percent": None if spent is None else spent * 100})
    return out


def _window_at(reader: SloReader, slo: SloDoc, at: int) -> dict[str, Any]:
    """The SLO's own window at ``at`` as the engine (and ``slo status``) judges it."""
    s = snapshot(reader, slo, from_epoch(at))
    return {
        "at": from_epoch(int(s["instant"])),
        "window": s["period_kind"],
        "start": from_epoch(s["period"]["start"]),
        "end": from_epoch(s["period"]["end"]),
        "sli_percent": None if s["period"]["sli"] is None else s["period"]["sli"] * 100,
        "good": s["period"]["good"],
        "total": s["period"]["total"],
        "coverage_percent": None if s["period"]["coverage"] is None else s["period"]["coverage"] * 100,
        "budget_remaining_percent": None if s["budget_remaining"] is None else s["budget_remaining"] * 100,
        "state": s["state"],
    }


def _window_name(spec: SloSpec) -> str:
    period = spec.period
    if period.rolling is not None:
        return f"rolling {format_duration(period.rolling)}"
    return f"calendar {period.calendar} ({period.time_zone})"


def _overlapping(intervals: list[FiringInterval], lo: int, hi: int) -> list[FiringInterval]:
    return [i for i in intervals if i.start.timestamp() < hi and (i.end is None or i.end.timestamp() > lo)]


def _notes(spec: SloSpec, lo: int, hi: int, first: int, until: int) -> list[str]:
    notes = []
    if first > lo:
        notes.append(
            f"the store's data starts at {from_epoch(first).isoformat()}: the month before that is not counted"
        )
    if until < hi:
        notes.append(
            f"data until {from_epoch(until).isoformat()}: the month's budget is that of the events so far "
            "(newer minutes are still landing or not polled yet)"
        )
    if spec.budgeting_method == "Timeslices":
        notes.append(f"events are {format_duration(spec.slice_length)} time slices (good: the slice met its target)")
    if spec.exclusions:
        notes.append("excluded time (maintenance windows) counts neither as good nor as bad")
    return notes
