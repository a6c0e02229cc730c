"""``kind: LatencyAnomaly`` documents: what "unusual latency for this hour of this weekday" means for a scope.

The defaults are the robust-seasonal method of the alerting reference (§4.2): 5-minute buckets, log latency,
a same-slot seasonal median with a MAD spread floored at 0.05 log units, z ≥ 3 at medium sensitivity, a
minimum effect of 1.25× and 250 ms, 3 of 4 buckets to fire, 3 days and 30 buckets of warm-up.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field, model_validator

from sre_agent.config.durations import Duration
from sre_agent.config.specs import SpecDocument, Strict
from sre_agent.engine.anomaly import DAYS, WEEKS, AnomalyParams
from sre_agent.model import Severity

GroupLabel = Literal["warehouse", "service", "domain", "pattern"]

SENSITIVITY_Z = {"low": 4.0, "medium": 3.0, "high": 2.5}
"""Robust z a bucket must reach per sensitivity (Datadog 2-3 deviations, Merlion 2.5-3, Iglewicz-Hoaglin 3.5)."""


class MinEffect(Strict):
    """An anomaly must also matter: this much larger (or smaller) than the baseline, relatively and absolutely."""

    relative: float = Field(default=1.25, ge=1.0, le=100.0, description="x ≥ relative × baseline (above)")
    absolute: float = Field(default=250.0, ge=0.0, description="|x − baseline| ≥ absolute, in the value's unit (ms)")


class Sustain(Strict):
    """Fire when at least ``k`` of the last ``n`` buckets are anomalous."""

    k: int = Field(default=3, ge=1)
    n: int = Field(default=4, ge=1, le=60)


class LevelShift(Strict):
    """The second, lower-severity signal: an EWMA of the robust z that stays past ``z`` (drift, level shifts)."""

    z: float = Field(default=1.5, gt=0, le=20, description="EWMA-of-z level that counts as a shift")
    alpha: float = Field(default=0.1, gt=0, le=1, description="EWMA weight of the newest bucket")
    severity: Severity = Severity.SEV4


class AnomalyScope(Strict):
    """Which series the rule watches (label filters; empty: every series)."""

    warehouse: list[str] = Field(default_factory=list)
    service: list[str] = Field(default_factory=list)
    domain: list[str] = Field(default_factory=list)
    pattern: list[str] = Field(
        default_factory=list, description="QUERY_PARAMETERIZED_HASH values (needs `pattern` in group_by)"
    )


class LatencyAnomalySpec(Strict):
    """Spec of a ``LatencyAnomaly`` rule."""

    description: str = ""
    runbook: str | None = None
    scope: AnomalyScope = Field(default_factory=AnomalyScope)
    group_by: list[GroupLabel] = Field(
        default_factory=lambda: list[GroupLabel](["warehouse", "service"]),
        description="one series (and alert) per combination of these labels",
    )
    severity: Severity = Field(default=Severity.SEV3, description="severity of an anomaly alert")
    level_shift: LevelShift | None = Field(
        default=None, description="also raise a lower-severity `change` alert on sustained drift (off when absent)"
    )
    statistic: Literal["p50", "p90", "p95", "p99", "mean"] = "p95"
    bucket: Duration = Field(default=timedelta(minutes=5), description="must divide an hour")
    direction: Literal["above", "below", "both"] = "above"
    sensitivity: Literal["low", "medium", "high"] = "medium"
    z: float | None = Field(
        default=None, gt=0, le=20, description="explicit robust-z threshold (overrides sensitivity)"
    )
    min_effect: MinEffect = Field(default_factory=MinEffect)
    sustain: Sustain = Field(default_factory=Sustain)
    warm_up: Duration = Field(default=timedelta(days=3), description="no verdict before this much history")
    min_buckets: int = Field(default=30, ge=1, description="…and before this many buckets with data")
    min_queries: int = Field(default=20, ge=1, description="buckets with fewer queries are not judged")
    seasonality: Literal["auto", "daily", "weekly"] = "auto"
    suppress: Duration = Field(default=timedelta(minutes=120), description="no re-alert of a key within this")
    ignore_data_before: datetime | None = Field(default=None, description="history before this never forms baselines")

    @model_validator(mode="after")
    def _consistent(self) -> LatencyAnomalySpec:
        problems = []
        if self.bucket < timedelta(minutes=1) or timedelta(hours=1) % self.bucket:
            problems.append("bucket must be a whole number of minutes that divides an hour (1m, 5m, 10m, 15m, 30m, 1h)")
        if self.sustain.k > self.sustain.n:
            problems.append(f"sustain.k ({self.sustain.k}) cannot exceed sustain.n ({self.sustain.n})")
        if len(set(self.group_by)) != len(self.group_by):
            problems.append("group_by lists a label twice")
        if "pattern" in self.group_by and self.bucket % timedelta(minutes=5):
            problems.append("a pattern-scoped rule (pattern in group_by) needs a bucket of 5m or a multiple of it")
        if self.scope.pattern and "pattern" not in self.group_by:
            problems.append("scope.pattern needs pattern in group_by (one series per query pattern)")
        if self.ignore_data_before is not None and self.ignore_data_before.tzinfo is None:
            problems.append("ignore_data_before needs a time zone (e.g. 2026-11-01T00:00:00Z)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def rollup_name(self) -> str:
        """The rollup the rule reads: per pattern (5-minute grain) or per warehouse × service × domain."""
        return "query_pattern" if "pattern" in self.group_by else "query"

    @property
    def threshold_z(self) -> float:
        """The robust z a bucket must reach."""
        return self.z if self.z is not None else SENSITIVITY_Z[self.sensitivity]

    def params(self) -> AnomalyParams:
        """The detector's settings for this spec."""
        shift = self.level_shift
        return AnomalyParams(
            step_s=int(self.bucket.total_seconds()),
            z=self.threshold_z,
            direction=self.direction,
            relative=self.min_effect.relative,
            absolute=self.min_effect.absolute,
            k=self.sustain.k,
            n=self.sustain.n,
            warm_up_s=int(self.warm_up.total_seconds()),
            min_buckets=self.min_buckets,
            seasonality=self.seasonality,
            ignore_before=int(self.ignore_data_before.timestamp()) if self.ignore_data_before else None,
            shift_z=shift.z if shift else None,
            shift_alpha=shift.alpha if shift else 0.1,
        )


class LatencyAnomalyRule(SpecDocument):
    """A ``kind: LatencyAnomaly`` document."""

    kind: Literal["LatencyAnomaly"]
    spec: LatencyAnomalySpec


def anomaly_lookback(spec: LatencyAnomalySpec) -> timedelta:
    """How far back the rule's baselines look (its buckets must still be in the store)."""
    days = DAYS if spec.seasonality == "daily" else 7 * WEEKS
    return timedelta(days=days) + spec.bucket
