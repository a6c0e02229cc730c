"""Notification routing (``kind: AlertRouting``) and silences (``kind: Silence``) as engineers write them in YAML.

The shapes follow Alertmanager's: a route tree with ``matchers``, ``receiver``, ``group_by``,
``group_wait`` / ``group_interval`` / ``repeat_interval`` and ``continue``; ``inhibit_rules`` with
``source_matchers`` / ``target_matchers`` / ``equal``. Receivers are the agent's sinks, by name.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from sre_agent.alerting.matchers import parse_matcher
from sre_agent.config.durations import Duration
from sre_agent.config.specs import SpecDocument, Strict
from sre_agent.config.time_windows import TimeWindow

DEFAULT_GROUP_BY = ("rule", "warehouse", "database")
"""Alerts of one rule on one warehouse/database form one notification group unless a route says otherwise."""
DEFAULT_GROUP_WAIT = timedelta(seconds=30)
DEFAULT_GROUP_INTERVAL = timedelta(minutes=5)
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)
GROUP_BY_ALL = "..."


def _matcher(text: str) -> str:
    parse_matcher(text)
    return text


MatcherText = Annotated[str, AfterValidator(_matcher)]


class RouteSpec(Strict):
    """One node of the route tree; unset fields are inherited from the parent."""

    receiver: str | None = Field(default=None, description="a sink name")
    matchers: list[MatcherText] = Field(default_factory=list, description='e.g. severity=~"sev1|sev2"')
    group_by: list[str] | None = Field(default=None, description='labels; ["..."] groups by every label')
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    continue_: bool = Field(default=False, alias="continue", description="keep matching later siblings")
    routes: list[RouteSpec] = Field(default_factory=list)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _timers(self) -> RouteSpec:
        for name in ("group_interval", "repeat_interval"):
            value = getattr(self, name)
            if value is not None and value <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        if self.group_wait is not None and self.group_wait < timedelta(0):
            raise ValueError("group_wait must not be negative")
        if self.group_by and GROUP_BY_ALL in self.group_by and len(self.group_by) > 1:
            raise ValueError('group_by: ["..."] (every label) stands alone')
        return self


class InhibitRule(Strict):
    """While an alert matching ``source_matchers`` fires, alerts matching ``target_matchers`` with the same
    values of the ``equal`` labels are not notified (they are still recorded)."""

    source_matchers: list[MatcherText] = Field(min_length=1)
    target_matchers: list[MatcherText] = Field(min_length=1)
    equal: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _disjoint(self) -> InhibitRule:
        if set(self.source_matchers) == set(self.target_matchers):
            raise ValueError("source_matchers equal target_matchers: every source alert would inhibit itself")
        return self


class RoutingSpec(Strict):
    """The route tree and the inhibition rules."""

    route: RouteSpec
    inhibit_rules: list[InhibitRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _root(self) -> RoutingSpec:
        if self.route.receiver is None:
            raise ValueError("the root route needs a receiver (the default for alerts no child route matches)")
        if self.route.matchers:
            raise ValueError("the root route matches every alert: put matchers on child routes")
        if self.route.continue_:
            raise ValueError("continue does not apply to the root route")
        return self


class RoutingDoc(SpecDocument):
    """A ``kind: AlertRouting`` document (at most one per config)."""

    kind: Literal["AlertRouting"]
    spec: RoutingSpec


class SilenceSpec(TimeWindow):
    """Mute alerts matching ``matchers`` during a one-off or recurring window. Every silence expires."""

    what: ClassVar[str] = "silence"

    matchers: list[MatcherText] = Field(min_length=1)
    reason: str = Field(min_length=3)
    author: str = Field(min_length=1)

    @model_validator(mode="after")
    def _expires(self) -> SilenceSpec:
        if self.expires_at() is None:
            raise ValueError("every silence expires: end the rrule with COUNT= or UNTIL=")
        return self


class SilenceDoc(SpecDocument):
    """A ``kind: Silence`` document."""

    kind: Literal["Silence"]
    spec: SilenceSpec
