"""Cost budgets through the agent on the embedded Snowflake: the cost runaway (INC-4, TRANSFORM_WH resized to
3X-Large and left running from Thursday 15:00 New York) raises a forecast and a burn-rate alert before the budget
is spent, with the evidence and drivers an on-call needs; quiet budgets stay quiet; a restart does not page twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from support import MONDAY, config_for, open_test_agent, replay, seed

from sre_agent.config.budget import CostBudgetDoc
from sre_agent.config.cost import CostSettings
from sre_agent.config.loader import LoadedConfig
from sre_agent.model import AlertEvent, EventKind
from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake

NY = ZoneInfo("America/New_York")
COST = CostSettings(
    currency="USD",
    credit_price=3,
    time_zone="America/New_York",
    warehouse_domains={"TRANSFORM_WH": "data-platform", "RISK_WH": "risk"},
)


def _budget(name: str, amount: float, **spec: Any) -> CostBudgetDoc:
    return CostBudgetDoc.model_validate(
        {
            "apiVersion": "sre-agent/v1",
            "kind": "CostBudget",
            "metadata": {"name": name},
            "spec": {"amount": amount, "period": "month", "runbook": "cost-budget", **spec},
        }
    )


BUDGETS = [
    _budget("transform", 400, scope={"warehouse": ["TRANSFORM_WH"]}, anomaly={"min_ratio": 2}),
    _budget("data-platform", 1500, scope={"domain": ["data-platform"]}, unit="currency"),
    _budget("risk-wh", 10_000, scope={"warehouse": ["RISK_WH"]}),
]


@pytest.fixture(scope="module")
def history(embedded_server: EmbeddedSnowflake) -> EmbeddedSnowflake:
    """Monday to Friday with the scripted incidents (INC-4 among them), seeded once for the module."""
    embedded_server.reset()
    seed(embedded_server, 5, queries_per_day=5000)
    return embedded_server


def _config(tmp: Path) -> LoadedConfig:
    loaded = config_for(tmp, poll_interval=timedelta(minutes=30), cost=COST)
    spec = loaded.config.spec
    snowflake = spec.snowflake.model_copy(update={"backfill": timedelta(days=5)})
    config = loaded.config.model_copy(update={"spec": spec.model_copy(update={"snowflake": snowflake})})
    return LoadedConfig(config, loaded.path, [], loaded.rule_files, loaded.warnings, budgets=BUDGETS)


def _local(*args: int) -> datetime:
    return datetime(2026, 11, *args, tzinfo=NY)  # type: ignore[misc]


def _fired(events: list[AlertEvent], rule: str) -> dict[str, AlertEvent]:
    """The first firing event per signal of ``rule``."""
    out: dict[str, AlertEvent] = {}
    for e in sorted(events, key=lambda e: e.at):
        if e.rule == rule and e.kind is EventKind.FIRING:
            out.setdefault(e.labels["signal"], e)
    return out


def test_the_cost_runaway_is_forecast_and_burn_alerted_before_the_budget_is_spent(
    history: EmbeddedSnowflake, tmp_path: Path
) -> None:
    assert MONDAY.isoformat() == "2026-11-02"
    agent = open_test_agent(_config(tmp_path), history)
    try:
        replay(agent, history, _local(5, 12), _local(6, 8), step=timedelta(minutes=30))
        events = agent.alerts.events()
    finally:
        agent.close()
    transform = _fired(events, "transform")
    assert {"forecast", "burn_rate", "actual"} <= set(transform), transform
    start = _local(5, 15)
    assert transform["burn_rate"].at - start <= timedelta(hours=4), "metering lands 1-3 h late, then one poll"
    assert transform["forecast"].at - start <= timedelta(hours=4)
    spent = [
        e for e in events if e.rule == "transform" and e.labels["signal"] == "actual" and e.severity.value == "sev2"
    ]
    assert spent, "the runaway does blow the budget overnight"
    assert transform["forecast"].at < spent[0].at - timedelta(hours=3), "the forecast warned hours before"

    forecast = transform["forecast"].evidence
    assert forecast["unit"] == "credits"
    assert forecast["amount"] == 400
    assert forecast["forecast"] > 440
    assert forecast["forecast_percent"] > 110
    assert forecast["forecast_method"] == "last 24 h run rate", "five days of history: no weekly profile yet"
    assert forecast["period"] == "2026-11"
    assert forecast["period_end"].startswith("2026-12-01T05:00")
    top = forecast["drivers"]["warehouses"][0]
    assert top["warehouse"] == "TRANSFORM_WH"
    assert top["idle_share"] > 0.8, "a warehouse left running: most of its compute ran no query"
    assert top["delta"] > 50
    burn = transform["burn_rate"]
    tier = burn.evidence["tiers"][0]
    assert tier["windows"] == "6h/1h"
    assert tier["burn_short"] > 100, "64 credits in an hour vs ~0.55 allowed"
    settled = [
        e
        for e in events
        if e.rule == "transform"
        and e.labels["signal"] == "burn_rate"
        and e.kind in (EventKind.DEESCALATED, EventKind.RESOLVED)
    ]
    assert not settled, "while it runs at 64 credits an hour the page holds (no hour counted half-landed)"
    assert "burning at" in burn.annotations["summary"]
    assert "top driver TRANSFORM_WH" in burn.annotations["summary"]
    assert burn.annotations["runbook"].endswith("cost-budget.md")
    assert burn.labels["warehouse"] == "TRANSFORM_WH"
    assert burn.labels["scope"] == "warehouse=TRANSFORM_WH"

    domain = _fired(events, "data-platform")
    assert "forecast" in domain, "the domain owns TRANSFORM_WH's idle time (warehouse_domains)"
    ev = domain["forecast"].evidence
    assert ev["unit"] == "USD"
    assert ev["amount"] == 1500
    assert domain["forecast"].labels["domain"] == "data-platform"
    assert {"patterns", "users", "roles", "warehouses"} <= set(ev["drivers"]), "attribution names who ran what"
    assert not [e for e in events if e.rule == "risk-wh" and e.kind is EventKind.FIRING], "a quiet budget stays quiet"


def test_a_restart_mid_runaway_does_not_page_again(history: EmbeddedSnowflake, tmp_path: Path) -> None:
    loaded = _config(tmp_path)
    agent = open_test_agent(loaded, history)
    try:
        replay(agent, history, _local(5, 14), _local(5, 20), step=timedelta(minutes=30))
    finally:
        agent.close()
    agent = open_test_agent(loaded, history)  # a new process: the spend cache is rebuilt from the store
    try:
        replay(agent, history, _local(5, 20, 30), _local(6, 2), step=timedelta(minutes=30))
        events = agent.alerts.events()
    finally:
        agent.close()
    firing = [e for e in events if e.rule == "transform" and e.kind is EventKind.FIRING]
    per_signal = [e.labels["signal"] for e in firing]
    assert "burn_rate" in per_signal
    assert len(per_signal) == len(set(per_signal)), f"each signal fired once across the restart: {per_signal}"


def test_an_azure_budget_forecasts_from_daily_costs(history: EmbeddedSnowflake, tmp_path: Path) -> None:
    """Azure spend (the simulated Cost Management source): a USD 20,000 month for a platform that spends about
    USD 28,500 is forecast over 110 % from the first days of November, with the services that drive it."""
    from sre_agent.config.azure import AzureCostSourceConfig, AzureSettings

    cost = AzureCostSourceConfig(
        simulated=True, scope="/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-capital-markets"
    )
    loaded = config_for(tmp_path, poll_interval=timedelta(minutes=30), cost=COST, azure=False)
    spec = loaded.config.spec.model_copy(update={"azure": AzureSettings(cost=cost)})
    budget = _budget("azure", 20_000, scope={"azure": {}}, unit="currency")
    config = loaded.config.model_copy(update={"spec": spec})
    agent = open_test_agent(LoadedConfig(config, loaded.path, [], loaded.rule_files, budgets=[budget]), history)
    try:
        replay(agent, history, _local(5, 12), _local(5, 13), step=timedelta(minutes=30))
        events = agent.alerts.events()
    finally:
        agent.close()
    fired = _fired(events, "azure")
    assert set(fired) == {"forecast"}, "no hourly burn-rate tiers on daily costs; 4 days are 17 % of the amount"
    ev = fired["forecast"].evidence
    assert ev["unit"] == "USD"
    assert 110 < ev["forecast_percent"] < 200
    from sre_agent.simulate.azure_cost import SimulatedAzureCost

    days = SimulatedAzureCost(cost, 42).fetch(_local(1, 0), _local(5, 12)).group_by("bucket").agg(pl.col("cost").sum())
    by_day = dict(zip(days["bucket"].to_list(), days["cost"].to_list(), strict=True))
    first = int(_local(1, 0).timestamp()) // 86_400 * 86_400  # 1 Nov UTC: 20 of its hours are in New York's month
    expected = by_day[first] * 20 / 24 + sum(v for k, v in by_day.items() if first < k < first + 4 * 86_400)
    assert ev["spent"] == pytest.approx(expected, abs=0.01), "a day's cost spread evenly over its hours"
    assert ev["data_until"].startswith("2026-11-05T00:00"), "Wednesday is the newest published Azure day"
    assert fired["forecast"].labels["scope"] == "azure"
    services = ev["drivers"]["services"]
    assert services, "Azure services compared with the same day a week earlier"
    assert {"service", "cost", "week_before", "delta"} <= set(services[0])


def test_a_signal_switched_off_while_firing_is_closed(history: EmbeddedSnowflake, tmp_path: Path) -> None:
    loaded = _config(tmp_path)
    agent = open_test_agent(loaded, history)
    try:
        replay(agent, history, _local(5, 14), _local(5, 19), step=timedelta(minutes=30))
        assert "forecast" in _fired(agent.alerts.events(), "transform")
    finally:
        agent.close()
    quiet = _budget("transform", 400, scope={"warehouse": ["TRANSFORM_WH"]}, anomaly={"min_ratio": 2}, forecast=None)
    budgets = [quiet, *BUDGETS[1:]]
    agent = open_test_agent(LoadedConfig(loaded.config, loaded.path, [], loaded.rule_files, budgets=budgets), history)
    try:
        replay(agent, history, _local(5, 19, 30), _local(5, 20), step=timedelta(minutes=30))
        events = agent.alerts.events()
    finally:
        agent.close()
    closed = [e for e in events if e.rule == "transform" and e.kind is EventKind.RESOLVED]
    assert [e.labels["signal"] for e in closed] == ["forecast"], "the others still judge and still fire"
    assert "changed" in closed[0].annotations["summary"]
