"""The SLO compliance report's figures for one calendar month, read from the state store (never from Snowflake).

Each SLO's events are built as the daemon builds them (:func:`sre_agent.daemon.evaluate_slo.slo_inputs`: exclusions
removed, time slices for ``Timeslices`` SLOs, only data that can no longer change). Two scopes, each named where it
is shown:

- **the month** (the report's calendar month, in ``spec.cost.time_zone``): compliance = good / total of the month's
  events, met or missed against the objective, and how many bad events the objective allows in them;
- **the SLO's own period** (rolling 28 days, a calendar month in its zone …): its error budget consumed and left at
  the report's instant — the figure ``slo status --at`` shows (:func:`sre_agent.figures.slo_budget.period_use`) —
  and the budget left at the end of each day of the month.

Each firing interval of the SLO's alert carries the budget its burn used
(:class:`sre_agent.figures.slo_budget.BudgetUse`): the record the alert's resolve stored, or, while it still fires,
the same figure up to the report's instant. Minutes the agent never polled are not counted, never scored as good.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from sre_agent.alerting.intervals import INTERVAL_KINDS, FiringInterval, firing_intervals
from sre_agent.config.durations import format_duration
from sre_agent.config.loader import LoadedConfig
from sre_agent.config.slo import SloDoc, SloSpec
from sre_agent.daemon.evaluate_slo import SloReader, alert_use, slo_inputs, slo_view
from sre_agent.engine import slo as engine
from sre_agent.figures import slo_budget
from sre_agent.model import AlertEvent, from_epoch, to_epoch
from sre_agent.reports.periods import parse_period
from sre_agent.store.alerts import AlertStore
from sre_agent.store.db import Database
from sre_agent.store.slo_minutes import SloMinutes
from sre_agent.store.watermarks import Watermarks

MET, MISSED, NO_DATA = "met", "missed", "no data"


@dataclass
class SloSection:
    """One SLO's month (compliance) and its own period's error budget at the report's instant."""

    name: str
    service: str
    owner: str
    domain: str | None
    description: str
    sli: str
    budgeting_method: str
    objective_percent: float
    slo_window: str
    """The SLO's own period in words (``rolling 28d``, ``calendar month (Europe/London)``)."""
    labels: dict[str, str]
    data_from: datetime | None
    data_until: datetime | None
    good: float = 0.0
    """Good events of the month (to ``data_until``)."""
    total: float = 0.0
    bad: float = 0.0
    compliance_percent: float | None = None
    status: str = NO_DATA
    allowed_bad: float = 0.0
    """Bad events the objective allows in the month's events: (1 − objective) × total."""
    budget: dict[str, Any] | None = None
    """The SLO's own period at the report's instant (:class:`BudgetUse` JSON, scope ``period``) — as `slo status`."""
    state: str | None = None
    """The SLO's state at the report's instant (ok, ticket, page, unknown)."""
    daily: list[dict[str, Any]] = field(default_factory=list)
    """Per local day: ``day`` and ``budget_remaining_percent`` of the own period at the day's end (None: no data)."""
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
    as_of: datetime
    """The instant the SLOs' own budgets are judged at (the month's end, or ``now`` for the month under way)."""
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
    # A finished month is judged in its last minute (at its very end a calendar period is already the next one).
    as_of = from_epoch(min(int(end.timestamp()) - engine.MINUTE, to_epoch(now)) // engine.MINUTE * engine.MINUTE)
    lo, hi = int(start.timestamp()), int(end.timestamp())
    alerts = AlertStore(db).events(INTERVAL_KINDS)
    days = local_days(start, end)
    sections = [_section(reader, slo, alerts, lo, hi, days, tz, to_epoch(as_of)) for slo in loaded.slos]
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
        as_of=as_of,
        data_until=until,
        days=days,
        slos=sections,
        notes=notes,
    )


def _day_ends(days: list[date], tz: ZoneInfo) -> list[int]:
    out = []
    for day in days:
        nxt = day + timedelta(days=1)
        out.append(int(datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).timestamp()))
    return out


def _section(
    reader: SloReader, slo: SloDoc, alerts: list[AlertEvent], lo: int, hi: int, days: list[date], tz: ZoneInfo,
    as_of: int,
) -> SloSection:  # fmt: skip
    """``slo``'s month ``[lo, hi)`` and its own period at ``as_of``."""
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
        slo_window=slo_budget.period_name(spec),
        labels=dict(slo.metadata.labels),
        data_from=None,
        data_until=None,
    )
    mine = [e for e in alerts if e.labels.get("slo") == slo.name]
    section.incidents = _overlapping(firing_intervals(mine), lo, hi)
    if view.polled_to is None or view.covered_from is None or view.polled_to <= lo or view.covered_from >= hi:
        section.notes.append("the agent has not polled this SLO's data for any part of this month")
        return section
    ends = [e for e in _day_ends(days, tz) if e <= as_of]
    instants = np.array(sorted({*ends, as_of}), dtype=np.int64)
    inputs = slo_inputs(reader, slo, instants)
    events = inputs.events
    result = engine.evaluate_slo(spec, events, instants, inputs.stale)
    k = len(instants) - 1
    first, until = max(lo, view.covered_from), min(as_of, events.frontier)
    section.data_from, section.data_until = from_epoch(first), from_epoch(until)
    _month(section, spec, events, lo, until)
    section.budget = slo_budget.period_use(spec, result, k).to_json()
    section.state = str(result.state[k])
    at = dict(zip(instants.tolist(), range(len(instants)), strict=True))
    for day, day_end in zip(days, _day_ends(days, tz), strict=True):
        left = None
        day_start = int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())
        if day_end in at and day_start < until and day_end > first:
            left = slo_budget.period_use(spec, result, at[day_end]).remaining
        section.daily.append({"day": day, "budget_remaining_percent": None if left is None else left * 100})
    for interval in section.incidents:
        if interval.end is None:  # still firing: what its burn used so far, by the figure its resolve will store
            interval.budget_used = alert_use(slo, events, result, k, interval.evidence).to_json()
    section.notes += _notes(spec, lo, hi, first, until)
    return section


def _month(section: SloSection, spec: SloSpec, events: engine.SloEvents, lo: int, until: int) -> None:
    """Good, total and bad events of ``[lo, until)``, compliance, verdict and the bad events the objective allows."""
    section.good, section.total = engine.window_sums(events, lo, until)
    section.bad = section.total - section.good
    section.status = verdict(section.good, section.total, spec.objective)
    section.allowed_bad = float(spec.error_budget) * section.total
    if section.total > 0:
        section.compliance_percent = section.good / section.total * 100


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
            f"data until {from_epoch(until).isoformat()}: the month's compliance is that of the events so far "
            "(newer minutes are still landing or not polled yet)"
        )
    if spec.budgeting_method == "Timeslices":
        notes.append(f"events are {format_duration(spec.slice_length)} time slices (good: the slice met its target)")
    if spec.exclusions:
        notes.append("excluded time (maintenance windows) counts neither as good nor as bad")
    return notes
