"""SLO specs (``kind: SLO``): an SLI over Snowflake query history, an objective, a period and alerting tiers."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Annotated, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, field_validator, model_validator

from sre_agent.config.durations import Duration
from sre_agent.config.specs import SpecDocument, Strict
from sre_agent.config.time_windows import TimeWindow
from sre_agent.model import Severity

IDENT = r"^[A-Za-z_][A-Za-z0-9_$.\-]{0,254}$"
PATTERN_HASH = r"^[0-9a-f]{32}$"
_MAX_DECIMALS = 6


class SloFilters(Strict):
    """Which queries the SLI counts. Lists are ORed within a field and ANDed across fields."""

    warehouse: list[Annotated[str, Field(pattern=IDENT)]] = Field(default_factory=list)
    service: list[str] = Field(default_factory=list, description="QUERY_TAG service")
    domain: list[str] = Field(default_factory=list, description="QUERY_TAG domain")
    user: list[Annotated[str, Field(pattern=IDENT)]] = Field(default_factory=list)
    role: list[Annotated[str, Field(pattern=IDENT)]] = Field(default_factory=list)
    database: list[Annotated[str, Field(pattern=IDENT)]] = Field(default_factory=list)
    query_type: list[Annotated[str, Field(pattern=r"^[A-Z_]{2,64}$")]] = Field(default_factory=list)
    pattern_hash: list[Annotated[str, Field(pattern=PATTERN_HASH)]] = Field(
        default_factory=list, description="QUERY_PARAMETERIZED_HASH values"
    )

    def used(self) -> dict[str, list[str]]:
        """The filters that are set."""
        return {k: v for k, v in self.model_dump().items() if v}


class AvailabilitySli(Strict):
    """Good: queries that succeeded. Total: all queries (user cancellations ignored unless ``cancelled: bad``)."""

    kind: Literal["availability"]
    cancelled: Literal["ignore", "bad"] = "ignore"


class LatencySli(Strict):
    """Good: successful queries at or under ``threshold_ms``. Total: successful queries (failures: ignore)."""

    kind: Literal["latency"]
    threshold_ms: int = Field(gt=0)
    failures: Literal["ignore", "bad"] = "ignore"


class LatencyPercentileSli(Strict):
    """Time slices: a slice is good when the percentile of its successful queries is at or under the threshold.

    Evaluated exactly, without a histogram: the nearest-rank p-th percentile is at or under X exactly
    when at least p % of the values are at or under X, so Snowflake counts queries under the threshold
    and the slice is judged on that fraction.
    """

    kind: Literal["latency_percentile"]
    percentile: Decimal = Field(gt=0, lt=100)
    threshold_ms: int = Field(gt=0)
    min_queries: int = Field(default=1, ge=1, description="slices with fewer queries are not counted")


class FreshnessSli(Strict):
    """Time slices of one minute: good while the newest successful load is at most ``max_age`` old."""

    kind: Literal["freshness"]
    max_age: Duration
    source: Literal["copy", "task"] = Field(description="successful COPY queries, or TASK_HISTORY runs")
    task: str | None = Field(default=None, pattern=IDENT, description="TASK_HISTORY.NAME (source: task)")

    @model_validator(mode="after")
    def _task(self) -> FreshnessSli:
        if (self.source == "task") != (self.task is not None):
            raise ValueError("a freshness SLI from tasks names its task; from COPY it names none")
        if self.max_age < timedelta(minutes=1):
            raise ValueError("max_age must be at least 1m")
        return self


class KqlSli(Strict):
    """Good and total events per minute from a Log Analytics (KQL) query — for SLIs Snowflake cannot see, e.g.
    the portfolio API's requests in Application Insights or an ingestion job's logs.

    The query must return one row per minute with the time and the two counts, e.g.
    ``AppRequests | where AppRoleName == "portfolio-api" | summarize total = count(), good = countif(Success)
    by TimeGenerated = bin(TimeGenerated, 1m)``. The agent passes the poll window as the API's ``timespan``
    (never by editing the query) and reads the columns by name.
    """

    kind: Literal["kql"]
    workspace_id: str = Field(
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        description="the Log Analytics workspace (customer) id, a GUID",
    )
    query: str = Field(min_length=1, max_length=10_000, description="KQL returning per-minute good and total")
    time_column: str = Field(default="TimeGenerated", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
    good_column: str = Field(default="good", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
    total_column: str = Field(default="total", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


Sli = Annotated[
    AvailabilitySli | LatencySli | LatencyPercentileSli | FreshnessSli | KqlSli, Field(discriminator="kind")
]


class Period(Strict):
    """The compliance period: rolling (e.g. 28d) or calendar (day, week, month) in an IANA time zone."""

    rolling: Duration | None = None
    calendar: Literal["day", "week", "month"] | None = None
    time_zone: str = "UTC"

    @model_validator(mode="after")
    def _one(self) -> Period:
        if (self.rolling is None) == (self.calendar is None):
            raise ValueError("set exactly one of period.rolling or period.calendar")
        if self.rolling is not None and (self.rolling < timedelta(hours=1) or self.rolling > timedelta(days=90)):
            raise ValueError("a rolling period must be between 1h and 90d")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.time_zone!r} (use an IANA name such as Europe/London)") from exc
        return self

    @property
    def length(self) -> timedelta:
        """Nominal length used for burn factors (a calendar month counts as 30 days, as in the Workbook)."""
        if self.rolling is not None:
            return self.rolling
        return {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30)}[str(self.calendar)]

    def start(self, at: datetime) -> datetime:
        """Start of the period containing ``at`` (rolling: ``at - rolling``; calendar: its local boundary)."""
        if self.rolling is not None:
            return at - self.rolling
        tz = ZoneInfo(self.time_zone)
        local = at.astimezone(tz)
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.calendar == "week":
            day -= timedelta(days=day.weekday())
        elif self.calendar == "month":
            day = day.replace(day=1)
        # Re-localise at midnight (the offset may differ from `at`'s across a DST change).
        return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)

    def end(self, at: datetime) -> datetime:
        """End of the period containing ``at`` (rolling: ``at`` itself)."""
        if self.rolling is not None:
            return at
        start = self.start(at).astimezone(ZoneInfo(self.time_zone))
        if self.calendar == "day":
            nxt = start.date() + timedelta(days=1)
        elif self.calendar == "week":
            nxt = start.date() + timedelta(days=7)
        else:
            nxt = (start.date().replace(day=28) + timedelta(days=4)).replace(day=1)
        return datetime(nxt.year, nxt.month, nxt.day, tzinfo=ZoneInfo(self.time_zone)).astimezone(UTC)


class AlertTier(Strict):
    """One window pair: fires when the burn rate over both windows exceeds the factor."""

    severity: Literal["page", "ticket"]
    long: Duration
    short: Duration
    budget_percent: Decimal | None = Field(default=None, gt=0, le=100)
    burn_rate: Decimal | None = Field(default=None, gt=0, description="explicit factor (instead of budget_percent)")
    min_events: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> AlertTier:
        if (self.budget_percent is None) == (self.burn_rate is None):
            raise ValueError("set exactly one of budget_percent or burn_rate")
        if not timedelta(minutes=1) <= self.short < self.long:
            raise ValueError("the short window must be at least 1m and shorter than the long window")
        if self.short % timedelta(minutes=1) or self.long % timedelta(minutes=1):
            raise ValueError("windows must be whole minutes")
        return self

    def factor(self, period: timedelta) -> Decimal:
        """Burn factor for ``period``: exact (Decimal), e.g. 2 % over 1h of 28d → 13.44."""
        if self.burn_rate is not None:
            return self.burn_rate
        assert self.budget_percent is not None
        return (
            self.budget_percent / 100 * Decimal(int(period.total_seconds())) / Decimal(int(self.long.total_seconds()))
        )

    @property
    def label(self) -> str:
        """``1h/5m``-style name of the pair."""
        from sre_agent.config.durations import format_duration

        return f"{format_duration(self.long)}/{format_duration(self.short)}"


def format_factor(value: Decimal) -> str:
    """A burn factor as people write it: 14.4, 6, 13.44, 0.933333 (at most six significant digits)."""
    normal = value.normalize()
    if len(normal.as_tuple().digits) <= 6:
        return f"{normal:f}"
    return f"{float(value):.6g}"


@cache
def default_tiers() -> tuple[AlertTier, ...]:
    """The Workbook's tiers, from ``engine/burn_windows.yaml``."""
    text = resources.files("sre_agent.engine").joinpath("burn_windows.yaml").read_text(encoding="utf-8")
    return tuple(AlertTier.model_validate(t) for t in yaml.safe_load(text)["tiers"])


class SloAlerting(Strict):
    """Alerting of an SLO: its tiers (default: the Workbook's) and how they map to severities."""

    tiers: list[AlertTier] | None = None
    page_severity: Severity = Severity.SEV2
    ticket_severity: Severity = Severity.SEV3
    min_events: int = Field(default=0, ge=0, description="each window needs this many events to judge")
    ticket_hold: Duration = Field(
        default=timedelta(minutes=10),
        description="a ticket waits this long before notifying, so a page that follows replaces it",
    )

    def effective_tiers(self) -> tuple[AlertTier, ...]:
        """The configured tiers or the defaults."""
        return tuple(self.tiers) if self.tiers else default_tiers()


class Exclusion(TimeWindow):
    """Time removed from both good and total: maintenance, trading hours, known upstream outages.

    One-off: ``start`` and ``end``. Recurring: an iCalendar ``rrule`` (RFC 5545, e.g.
    ``FREQ=WEEKLY;BYDAY=SA``) anchored at ``start``, each occurrence lasting ``duration``. With
    ``time_zone`` the rule runs on that zone's wall clock (19:00 New York stays 19:00 across DST) and
    ``start``/``end`` may omit their offset.
    """

    what: ClassVar[str] = "exclusion"

    reason: str = Field(min_length=3)


class SloSpec(Strict):
    """Spec of an SLO."""

    service: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    domain: str | None = None
    description: str = ""
    runbook: str | None = None
    sli: Sli
    filters: SloFilters = Field(default_factory=SloFilters)
    objective: Decimal = Field(description="percent of good events (or slices), 0 < objective < 100")
    period: Period
    budgeting_method: Literal["Occurrences", "Timeslices"] = "Occurrences"
    timeslice: Duration | None = Field(default=None, description="Timeslices: slice length (default 5m)")
    timeslice_target: Decimal | None = Field(
        default=None, gt=0, le=1, description="Timeslices with a ratio SLI: a slice is good at this ratio or above"
    )
    alerting: SloAlerting = Field(default_factory=SloAlerting)
    exclusions: list[Exclusion] = Field(default_factory=list)

    @field_validator("objective", mode="before")
    @classmethod
    def _objective_text(cls, value: object) -> object:
        # YAML gives 99.9 as a float: take the digits as written (YamlFloat keeps them), so noise such as
        # 99.90000000000001 (a computed value pasted in) is refused below rather than silently rounded.
        if isinstance(value, float):
            text = getattr(value, "text", None) or repr(value)
            try:
                return Decimal(text.replace("_", ""))
            except ArithmeticError:
                return Decimal(repr(value))
        return value

    @field_validator("objective")
    @classmethod
    def _objective(cls, value: Decimal) -> Decimal:
        if not Decimal(0) < value < Decimal(100):
            raise ValueError("objective must be a percentage strictly between 0 and 100 (e.g. 99.9)")
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > _MAX_DECIMALS:
            raise ValueError(
                f"objective {value} has more than {_MAX_DECIMALS} decimals (float noise?): write it as e.g. 99.9"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SloSpec:
        problems = []
        kind = self.sli.kind
        if kind in ("latency_percentile", "freshness") and self.budgeting_method != "Timeslices":
            problems.append(f"a {kind} SLI counts time slices: set budgeting_method: Timeslices")
        if kind == "kql" and self.filters.used():
            problems.append("filters select Snowflake queries; a kql SLI selects its events in its query")
        if (
            kind in ("availability", "latency", "kql")
            and self.budgeting_method == "Timeslices"
            and (self.timeslice_target is None)
        ):
            problems.append("Timeslices with a ratio SLI needs timeslice_target (e.g. 0.99)")
        if self.timeslice_target is not None and self.budgeting_method != "Timeslices":
            problems.append("timeslice_target only applies to budgeting_method: Timeslices")
        if kind == "freshness" and self.timeslice not in (None, timedelta(minutes=1)):
            problems.append("a freshness SLI uses 1m slices")
        slice_length = self.slice_length
        if slice_length % timedelta(minutes=1) or slice_length > timedelta(hours=1):
            problems.append("timeslice must be whole minutes, at most 1h")
        period = self.period.length
        for i, tier in enumerate(self.alerting.effective_tiers()):
            if tier.long > period:
                problems.append(f"alerting tier {i} ({tier.label}) has a long window longer than the period")
            if self.budgeting_method == "Timeslices" and tier.short < slice_length:
                problems.append(f"alerting tier {i} ({tier.label}) has a short window shorter than a time slice")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def slice_length(self) -> timedelta:
        """Length of a time slice (Timeslices budgeting)."""
        if self.sli.kind == "freshness":
            return timedelta(minutes=1)
        return self.timeslice or timedelta(minutes=5)

    @property
    def error_budget(self) -> Decimal:
        """Allowed bad fraction: 1 - objective/100, exact."""
        return 1 - self.objective / 100


class SloDoc(SpecDocument):
    """A ``kind: SLO`` document."""

    kind: Literal["SLO"]
    spec: SloSpec


def slo_key(doc: SloDoc) -> str:
    """Name + a hash of what defines the SLI's data: a changed filter or threshold starts a new series."""
    data = doc.spec.model_dump_json(include={"sli", "filters"})
    digest = hashlib.sha256(data.encode()).hexdigest()[:10]
    return f"{doc.name}@{digest}"
