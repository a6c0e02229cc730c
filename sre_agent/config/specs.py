"""Rule specs engineers write in ``rules/*.yaml`` (``apiVersion: sre-agent/v1``), parsed once with pydantic."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sre_agent.config.durations import Duration
from sre_agent.engine.metrics import METRICS
from sre_agent.engine.rollups import ROLLUPS
from sre_agent.model import Severity

API_VERSION = "sre-agent/v1"
NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,62}$")
RESERVED_LABELS = frozenset({"alertname", "rule", "severity"})


class Strict(BaseModel):
    """Base for every spec model: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


Name = Annotated[str, Field(pattern=NAME_RE.pattern, description="lower-case RFC 1123 label, ≤ 63 chars")]


class Metadata(Strict):
    """Identity and static labels of a spec."""

    name: Name
    labels: dict[str, str] = Field(default_factory=dict, description="static labels added to every alert")
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        return check_label_names(value)


MAX_LABEL_VALUE = 1024
"""Longest static label value (every alert and notification carries it)."""


def check_label_names(value: dict[str, str]) -> dict[str, str]:
    """Return ``value`` if every key is a valid, unreserved label name.

    Raises:
        ValueError: naming the first bad label.
    """
    for key, text in value.items():
        if not LABEL_RE.match(key):
            raise ValueError(f"label name {key!r} must match {LABEL_RE.pattern}")
        if key in RESERVED_LABELS:
            raise ValueError(f"label name {key!r} is reserved (set by the agent)")
        if len(str(text)) > MAX_LABEL_VALUE:
            raise ValueError(f"label {key}: the value is {len(str(text)):,} characters, over {MAX_LABEL_VALUE:,}")
        if not str(text).isprintable():
            raise ValueError(f"label {key}: the value holds control characters")
    return value


class Op(StrEnum):
    """Comparison of a metric value against a threshold."""

    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="

    def holds(self, value: float, threshold: float) -> bool:
        """Return whether ``value op threshold``."""
        match self:
            case Op.GT:
                return value > threshold
            case Op.GE:
                return value >= threshold
            case Op.LT:
                return value < threshold
            case Op.LE:
                return value <= threshold

    @property
    def upward(self) -> bool:
        """True for > and >= (bigger is worse)."""
        return self in (Op.GT, Op.GE)


class NoDataPolicy(StrEnum):
    """What a rule does when its window is covered but too thin to judge (``min_events`` not met)."""

    KEEP_LAST = "keep_last"
    """Keep the last decision (default): thin data is no evidence of recovery. After ``no_data_timeout``
    without data a firing alert resolves and a pending one is cancelled (traffic stopped for the night)."""
    OK = "ok"
    """Treat as not breaching: a firing alert resolves after ``keep_firing_for`` (Prometheus behaviour)."""
    ALERT = "alert"
    """Treat missing data as a breach at the least severe level (for traffic that must never stop)."""


class ThresholdLevel(Strict):
    """One severity level of a threshold rule."""

    severity: Severity
    value: Decimal


class ThresholdSpec(Strict):
    """Spec of a ``Threshold`` rule: a metric over a window compared with one or more severity levels."""

    description: str = ""
    runbook: str | None = Field(default=None, description="runbook id (runbooks/<id>.md)")
    metric: str = Field(description="a metric from the catalogue (`sre-agent metrics`)")
    where: dict[str, list[str]] = Field(
        default_factory=dict, description="label filters: series whose label is in the list"
    )
    group_by: list[str] = Field(default_factory=list, description="labels that split the rule into instances")
    window: Duration
    op: Op = Op.GT
    thresholds: list[ThresholdLevel] = Field(min_length=1)
    min_events: int = Field(
        default=0, ge=0, le=1_000_000_000, description="fewer events in the window → no data, not a verdict"
    )
    latency_threshold_ms: int | None = Field(default=None, gt=0, description="for slow_query_ratio")
    for_: Duration = Field(default=timedelta(0), alias="for")
    keep_firing_for: Duration = timedelta(0)
    on_no_data: NoDataPolicy = NoDataPolicy.KEEP_LAST
    no_data_timeout: Duration = Field(
        default=timedelta(hours=1), description="keep_last: resolve/cancel after this long with no data"
    )
    limit: int | None = Field(
        default=None,
        ge=1,
        description="most alert instances the rule may raise (Prometheus' rule `limit`); beyond it the rule fails "
        "with agent-rule-error naming the label; default spec.evaluation.max_alerts_per_rule",
    )
    summary: str = Field(
        default="{metric} {value} {op} {threshold}",
        description="one line for receivers; {placeholders}: metric, value, threshold, op, window and any label",
    )

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; known: {', '.join(sorted(METRICS))}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ThresholdSpec:
        metric = METRICS[self.metric]
        rollup = ROLLUPS[metric.rollup]
        problems = []
        for label in [*self.where, *self.group_by]:
            if label not in rollup.dims:
                problems.append(
                    f"label {label!r} is not available for metric {self.metric} "
                    f"(rollup {rollup.name} has: {', '.join(rollup.dims)})"
                )
        if len(set(self.group_by)) != len(self.group_by):
            problems.append("group_by lists a label twice")
        grain = rollup.grain
        if self.window < grain or self.window % grain != timedelta(0):
            problems.append(f"window must be a positive multiple of the {metric.rollup} rollup grain ({grain})")
        if self.window > timedelta(days=35):
            problems.append("window longer than 35d: use an SLO for period-long objectives")
        if self.min_events and metric.events is None:
            problems.append(f"min_events does not apply to {self.metric} (it counts no events)")
        if metric.needs_latency_threshold and self.latency_threshold_ms is None:
            problems.append(f"metric {self.metric} needs latency_threshold_ms")
        if not metric.needs_latency_threshold and self.latency_threshold_ms is not None:
            problems.append(f"latency_threshold_ms only applies to slow_query_ratio, not {self.metric}")
        severities = [level.severity for level in self.thresholds]
        if len(set(severities)) != len(severities):
            problems.append("each severity may appear once in thresholds")
        ordered = sorted(self.thresholds, key=lambda lv: lv.severity.rank)
        for lower, higher in pairwise(ordered):
            worse = higher.value > lower.value if self.op.upward else higher.value < lower.value
            if not worse:
                problems.append(
                    f"threshold for {higher.severity} ({higher.value}) must be "
                    f"{'above' if self.op.upward else 'below'} the one for {lower.severity} ({lower.value})"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def levels_most_severe_first(self) -> list[ThresholdLevel]:
        """Return the levels ordered from the most to the least severe."""
        return sorted(self.thresholds, key=lambda lv: -lv.severity.rank)


class SpecDocument(Strict):
    """The envelope every ``sre-agent/v1`` rule and SLO document shares."""

    api_version: Literal["sre-agent/v1"] = Field(alias="apiVersion")
    metadata: Metadata

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @property
    def name(self) -> str:
        """The document's id (metadata.name): names its alerts."""
        return self.metadata.name


class ThresholdRule(SpecDocument):
    """A ``kind: Threshold`` document."""

    kind: Literal["Threshold"]
    spec: ThresholdSpec


RULE_KINDS: dict[str, type[ThresholdRule]] = {"Threshold": ThresholdRule}
"""Kinds of rule documents this version evaluates."""
