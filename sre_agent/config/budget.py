"""``kind: CostBudget`` documents: how much a scope may spend per calendar period, and when to warn.

A budget watches the Snowflake credits of a scope (the account, some warehouses, or a domain) over a calendar
day, week or month in a time zone. It can alert on four signals, each its own alert:

* ``actual``: spend to date crossed a share of the amount (default 50/75/90/100 %, sev4/sev4/sev3/sev2);
* ``forecast``: the projected end-of-period spend exceeds a share of the amount (default 110 %, as Snowflake
  budgets notify), so the alert comes *before* the budget is blown;
* ``burn_rate``: spend over a window runs at a multiple of the period's allowance — the SLO burn-rate tiers,
  with the amount as the error budget (default: 5 % of a month in 6 h, i.e. 6×, confirmed over 1 h, pages);
* ``anomaly``: a complete day spent far more than the same weekday usually does.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from sre_agent.config.durations import Duration
from sre_agent.config.slo import AlertTier
from sre_agent.config.specs import SpecDocument, Strict
from sre_agent.model import Severity

Signal = Literal["actual", "forecast", "burn_rate", "anomaly"]


class AzureScope(Strict):
    """Azure spend at the ``azure.cost`` scope, narrowed to services, resource groups or tag values (empty: all)."""

    service: list[str] = Field(default_factory=list, description="ServiceName values, e.g. Stream Analytics")
    resource_group: list[str] = Field(default_factory=list)
    tag: list[str] = Field(default_factory=list, description="values of the tag in azure.cost.group_by")

    def describe(self) -> str:
        """``azure`` or ``azure:service=Event Hubs,Storage;tag=risk``."""
        parts = [f"{k}={','.join(sorted(v))}" for k, v in self.model_dump().items() if v]
        return "azure" + (":" + ";".join(parts) if parts else "")


class BudgetScope(Strict):
    """What the budget covers: every warehouse of the account (empty), some warehouses, some domains, or Azure."""

    warehouse: list[str] = Field(default_factory=list, description="warehouse names (WAREHOUSE_METERING_HISTORY)")
    domain: list[str] = Field(
        default_factory=list,
        description="domains (QUERY_TAG or spec.cost.warehouse_domains; their attributed credits plus the idle "
        "hours of the warehouses they own); needs spec.cost",
    )
    azure: AzureScope | None = Field(default=None, description="Azure spend (azure.cost), in money")

    @model_validator(mode="after")
    def _one_kind(self) -> BudgetScope:
        if sum(bool(x) for x in (self.warehouse, self.domain, self.azure is not None)) > 1:
            raise ValueError("a scope is warehouses, domains or azure, not several (write one budget each)")
        if len(set(self.warehouse)) != len(self.warehouse) or len(set(self.domain)) != len(self.domain):
            raise ValueError("a scope lists a name twice")
        return self

    @property
    def kind(self) -> str:
        """``account``, ``warehouse``, ``domain`` or ``azure``."""
        if self.azure is not None:
            return "azure"
        return "warehouse" if self.warehouse else "domain" if self.domain else "account"

    def describe(self) -> str:
        """The scope as it appears in alert labels and reports: ``account``, ``warehouse=A,B``, ``domain=risk``."""
        if self.kind == "account":
            return "account"
        if self.azure is not None:
            return self.azure.describe()
        names = self.warehouse or self.domain
        return f"{self.kind}={','.join(sorted(names))}"


class Threshold(Strict):
    """Alert when the measured share of the amount reaches ``percent``."""

    percent: Decimal = Field(gt=0, le=1000)
    severity: Severity


def _default_actual() -> list[Threshold]:
    return [
        Threshold(percent=Decimal(50), severity=Severity.SEV4),
        Threshold(percent=Decimal(75), severity=Severity.SEV4),
        Threshold(percent=Decimal(90), severity=Severity.SEV3),
        Threshold(percent=Decimal(100), severity=Severity.SEV2),
    ]


def _default_forecast() -> list[Threshold]:
    return [Threshold(percent=Decimal(110), severity=Severity.SEV3)]


def _default_tiers() -> list[AlertTier]:
    return [
        AlertTier(severity="page", long=timedelta(hours=6), short=timedelta(hours=1), budget_percent=Decimal(5)),
        AlertTier(severity="ticket", long=timedelta(days=1), short=timedelta(hours=6), budget_percent=Decimal(10)),
    ]


class Forecast(Strict):
    """How the end-of-period spend is projected and when the projection alerts."""

    thresholds: list[Threshold] = Field(default_factory=_default_forecast)
    min_history: Duration = Field(
        default=timedelta(hours=6), description="no forecast before this much of the period has landed"
    )


class BurnRate(Strict):
    """Burn-rate tiers: the SLO math with the period's amount as the budget (both windows must burn)."""

    tiers: list[AlertTier] = Field(default_factory=_default_tiers)
    page_severity: Severity = Severity.SEV2
    ticket_severity: Severity = Severity.SEV3


class SpendAnomaly(Strict):
    """A complete local day against the median of the same weekday of the previous weeks."""

    weeks: int = Field(default=4, ge=2, le=8, description="same weekdays to compare with (at least 2 must exist)")
    min_ratio: Decimal = Field(default=Decimal("1.5"), gt=1, description="day ≥ this × the usual weekday")
    min_amount: Decimal = Field(
        default=Decimal(0), ge=0, description="…and at least this much more, in the budget's unit (0: 1 % of amount)"
    )
    severity: Severity = Severity.SEV4


class CostBudgetSpec(Strict):
    """Spec of a ``CostBudget``."""

    description: str = ""
    runbook: str | None = None
    scope: BudgetScope = Field(default_factory=BudgetScope)
    period: Literal["day", "week", "month"] = "month"
    time_zone: str | None = Field(default=None, description="IANA zone of the period (default: spec.cost.time_zone)")
    amount: Decimal = Field(gt=0, description="what the scope may spend per period, in `unit`")
    unit: Literal["credits", "currency"] = Field(
        default="credits", description="credits, or money in spec.cost.currency (needs spec.cost.credit_price)"
    )
    starts: date | None = Field(
        default=None, description="first day the budget applies (periods before it are not judged)"
    )
    actual: list[Threshold] = Field(default_factory=_default_actual)
    forecast: Forecast | None = Field(default_factory=Forecast, description="null: no forecast alert")
    burn_rate: BurnRate | None = Field(default_factory=BurnRate, description="null: no burn-rate alert")
    anomaly: SpendAnomaly | None = Field(default=None, description="day-over-same-weekday alert (off when absent)")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/London)") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CostBudgetSpec:
        problems = []
        for name, levels in (("actual", self.actual), ("forecast", self.forecast.thresholds if self.forecast else [])):
            percents = [t.percent for t in levels]
            if len(set(percents)) != len(percents):
                problems.append(f"{name} lists a percent twice")
            ranks = [t.severity.rank for t in sorted(levels, key=lambda t: t.percent)]
            if ranks != sorted(ranks):
                problems.append(f"{name}: a higher percent cannot have a lower severity")
        azure = self.scope.kind == "azure"
        if (azure or self.period != "month") and "burn_rate" not in self.model_fields_set:
            # The default tiers are a month's (5 % in 6 h = 6x): for a day or week they would page below the
            # allowance, and Azure costs are daily. Explicit tiers still apply.
            object.__setattr__(self, "burn_rate", None)
        if azure and self.unit != "currency":
            problems.append("Azure spend is money: an azure scope needs unit: currency")
        grain = timedelta(days=1) if azure else timedelta(hours=1)
        length = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30)}[self.period]
        for tier in self.burn_rate.tiers if self.burn_rate else []:
            if tier.long > length:
                problems.append(f"burn_rate tier {tier.label}: the long window is longer than the {self.period}")
            elif tier.factor(length) <= 1:
                problems.append(
                    f"burn_rate tier {tier.label}: factor {float(tier.factor(length)):.3g} ≤ 1 would alert while "
                    "spending within the allowance"
                )
            if tier.short % grain or tier.long % grain:
                what = "whole days (Azure costs are daily)" if azure else "whole hours (metering is hourly)"
                problems.append(f"burn_rate tier {tier.label}: windows must be {what}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def zone(self, default: str) -> ZoneInfo:
        """The period's time zone (the budget's own, else ``default``)."""
        return ZoneInfo(self.time_zone or default)


class CostBudgetDoc(SpecDocument):
    """A ``kind: CostBudget`` document."""

    kind: Literal["CostBudget"]
    spec: CostBudgetSpec


def period_start(period: str, at: datetime, tz: ZoneInfo) -> datetime:
    """Start (aware, in ``tz``) of the calendar ``period`` (day, week from Monday, month) containing ``at``."""
    local = at.astimezone(tz)
    day = local.date()
    if period == "week":
        day -= timedelta(days=day.weekday())
    elif period == "month":
        day = day.replace(day=1)
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def period_end(period: str, start: datetime) -> datetime:
    """End of the period that begins at ``start`` (the next local midnight boundary, DST-safe)."""
    day = start.date()
    if period == "day":
        nxt = day + timedelta(days=1)
    elif period == "week":
        nxt = day + timedelta(days=7)
    else:
        nxt = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime(nxt.year, nxt.month, nxt.day, tzinfo=start.tzinfo)


def period_label(period: str, start: datetime) -> str:
    """``2026-11`` (month), ``2026-W45`` (week), ``2026-11-05`` (day)."""
    if period == "month":
        return start.strftime("%Y-%m")
    if period == "week":
        year, week, _ = start.date().isocalendar()
        return f"{year}-W{week:02d}"
    return start.date().isoformat()


def budget_lookback(spec: CostBudgetSpec) -> timedelta:
    """How far back the budget reads: its longest period (31 days for a month), four weeks of forecast profile
    plus a day, the anomaly's weeks plus a day, and the longest burn-rate window."""
    period = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=31)}[spec.period]
    need = max(period, timedelta(days=29))
    if spec.anomaly is not None:
        need = max(need, timedelta(days=7 * spec.anomaly.weeks + 1))
    for tier in spec.burn_rate.tiers if spec.burn_rate else []:
        need = max(need, tier.long)
    return need
