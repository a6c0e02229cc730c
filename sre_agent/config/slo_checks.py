"""Semantic checks of SLOs beyond the schema: tiers that can never fire, objectives alerting cannot defend,
filters naming things the account does not have, and — with traffic history — SLOs where one bad event pages."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sre_agent.config.agent import AgentConfig
from sre_agent.config.durations import format_duration
from sre_agent.config.slo import SloDoc, format_factor
from sre_agent.config.yaml_source import YamlDocument
from sre_agent.errors import ConfigIssue

DEFENSIBLE = timedelta(minutes=15)
"""A budget a full outage exhausts faster than this is gone before ACCOUNT_USAGE (up to 45 min late) shows it."""


def slo_lookback(slo: SloDoc) -> timedelta:
    """How much history evaluating ``slo`` needs: its period (a calendar month may be 31 days) and windows."""
    period = slo.spec.period.length + (timedelta(days=1) if slo.spec.period.calendar == "month" else timedelta(0))
    longest = max(t.long for t in slo.spec.alerting.effective_tiers())
    return max(period, longest) + timedelta(days=1)


def check_slo(slo: SloDoc, doc: YamlDocument, config: AgentConfig | None) -> list[ConfigIssue]:
    """Warnings (and errors) about ``slo`` that its schema cannot express."""
    issues: list[ConfigIssue] = []
    spec = slo.spec
    budget = spec.error_budget
    period = spec.period.length
    most = Decimal(1) / budget  # a 100 % error rate burns at most this fast
    for tier in spec.alerting.effective_tiers():
        factor = tier.factor(period)
        if factor >= most:
            message = (
                f"tier {tier.severity} {tier.label} can never fire: its burn factor {format_factor(factor)} needs more "
                f"than a 100 % error rate (at most {format_factor(most)}x at objective {spec.objective} %); lower its "
                "budget_percent or use a longer window"
            )
            issues.append(doc.issue(("spec", "alerting"), message, severity="warning"))
    exhaustion = period * float(budget)
    interval = config.spec.evaluation.interval if config is not None else timedelta(minutes=1)
    gone = f"a full outage exhausts the whole {format_duration(period)} budget in {exhaustion.total_seconds():.0f} s"
    if exhaustion <= interval:
        message = f"{gone}, within one evaluation interval ({format_duration(interval)}): alerting cannot defend it"
        issues.append(doc.issue(("spec", "objective"), message, severity="warning"))
    elif exhaustion < DEFENSIBLE:
        message = (
            f"{gone}: ACCOUNT_USAGE shows queries minutes to 45 min late, so the page comes after the budget is "
            "gone; consider a lower objective or a longer period"
        )
        issues.append(doc.issue(("spec", "objective"), message, severity="warning"))
    if config is not None:
        issues.extend(config.spec.inventory.unknown(doc, ("spec", "filters"), spec.filters.used(), "warning"))
    return issues


def one_failure_pages(slo: SloDoc, events_per_minute: float) -> str | None:
    """A warning when, at this traffic, one bad event would page; else None.

    The Workbook's rule of thumb is "expected events per window × (1 − objective) < 1". Exactly: a
    page tier fires on one bad event when that event alone puts the error ratio of both its windows
    over the tier's factor × budget, counting a window as at least ``min_events`` events (fewer are
    not judged). Time slices count slices, not queries.
    """
    spec = slo.spec
    budget = float(spec.error_budget)

    def expected(window: timedelta) -> float:
        minutes = window.total_seconds() / 60
        if spec.budgeting_method == "Timeslices":
            return minutes / (spec.slice_length.total_seconds() / 60)
        return events_per_minute * minutes

    paging = []
    for tier in spec.alerting.effective_tiers():
        if tier.severity != "page":
            continue
        guard = tier.min_events if tier.min_events is not None else spec.alerting.min_events
        ratio = float(tier.factor(spec.period.length)) * budget
        short, long = max(expected(tier.short), guard, 1.0), max(expected(tier.long), guard, 1.0)
        if 1 / short > ratio and 1 / long > ratio:
            paging.append((tier, ratio, long))
    if paging:
        # The guard that stops it on every such tier: one failure among `need` events is under each ratio.
        need = max(int(1 / ratio) + 1 for _, ratio, _ in paging)
        tier, ratio, long = paging[0]
        return (
            f"one bad event would page on {', '.join(t.label for t, _, _ in paging)}: at about "
            f"{expected(tier.long):.1f} events per {format_duration(tier.long)} (traffic in the store), one failure "
            f"is a {100 / long:.2g} % error ratio, over the tier's {ratio * 100:.2g} % "
            f"({format_factor(tier.factor(spec.period.length))}x the {budget * 100:g} % budget); set "
            f"alerting.min_events to at least {need}, use longer windows, or ticket instead of paging"
        )
    return None
