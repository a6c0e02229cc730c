"""Checks of ``CostBudget`` documents a schema cannot express: inventory names, prices, dates, overlaps."""

from __future__ import annotations

from datetime import UTC, datetime

from sre_agent.config.agent import AgentConfig
from sre_agent.config.budget import CostBudgetDoc
from sre_agent.config.yaml_source import YamlDocument
from sre_agent.errors import ConfigIssue

BUDGET_LABELS = frozenset({"scope", "signal", "period", "warehouse", "domain"})
"""Labels every budget alert carries."""


def check_budget(budget: CostBudgetDoc, doc: YamlDocument, config: AgentConfig | None) -> list[ConfigIssue]:
    """Issues of one budget against the agent config (``None``: the checks that need no config)."""
    spec = budget.spec
    issues: list[ConfigIssue] = []
    for label in sorted(set(budget.metadata.labels) & BUDGET_LABELS):
        message = f"static label {label!r} clashes with the budget alert label of the same name"
        issues.append(doc.issue(("metadata", "labels", label), message, key=True))
    zone = spec.zone(config.spec.cost.time_zone if config is not None and config.spec.cost else "UTC")
    today = datetime.now(UTC).astimezone(zone).date()
    if spec.starts is not None and spec.starts > today:
        message = (
            f"starts {spec.starts} is in the future (today is {today} in {zone.key}): a budget is judged from its "
            "first period on; add it when that period begins, or set starts to a past date"
        )
        issues.append(doc.issue(("spec", "starts"), message))
    if config is None:
        return issues
    scope = {k: v for k, v in spec.scope.model_dump().items() if v and k != "azure"}
    issues.extend(config.spec.inventory.unknown(doc, ("spec", "scope"), scope))
    cost = config.spec.cost
    if spec.scope.azure is not None:
        source = config.spec.azure.cost if config.spec.azure is not None else None
        if source is None:
            message = "an azure budget needs azure.cost in the agent config (the Cost Management source)"
            issues.append(doc.issue(("spec", "scope", "azure"), message))
        else:
            grouped = {"service": "ServiceName", "resource_group": "ResourceGroupName"}
            for label, values in spec.scope.azure.model_dump().items():
                needed = grouped.get(label)
                has = (
                    any(g.startswith("tag:") for g in source.group_by) if needed is None else needed in source.group_by
                )
                if values and not has:
                    what = needed or "tag:<key>"
                    message = f"filters on {label}, but azure.cost.group_by has no {what}: its spend would read 0"
                    issues.append(doc.issue(("spec", "scope", "azure", label), message))
        if cost is None:
            message = "an azure budget needs spec.cost (its currency and the time zone of its periods)"
            issues.append(doc.issue(("spec", "scope", "azure"), message))
        return issues
    if spec.scope.domain and cost is None:
        message = "a domain budget needs spec.cost in the agent config (it reads the hourly cost attribution)"
        issues.append(doc.issue(("spec", "scope", "domain"), message))
    if spec.unit == "currency" and (cost is None or cost.credit_price is None):
        message = (
            f"amount {spec.amount} is in currency, but no spec.cost.credit_price is configured to turn credits "
            "into money: set the price of a credit under your contract, or write the amount in credits"
        )
        issues.append(doc.issue(("spec", "amount"), message))
    return issues


def overlapping_budgets(budgets: list[CostBudgetDoc], docs: list[YamlDocument]) -> list[ConfigIssue]:
    """Two budgets on the same scope and period would alert twice on the same money: the second is an error."""
    first: dict[tuple[str, str], tuple[CostBudgetDoc, YamlDocument]] = {}
    issues = []
    for budget, doc in zip(budgets, docs, strict=True):
        key = (budget.spec.scope.describe(), budget.spec.period)
        if key in first:
            other, other_doc = first[key]
            message = (
                f"budget {budget.name!r} overlaps {other.name!r} ({other_doc.file}): both watch {key[0]} per "
                f"{key[1]}; keep one, or give one a different scope or period"
            )
            issues.append(doc.issue(("spec", "scope"), message))
        else:
            first[key] = (budget, doc)
    return issues
