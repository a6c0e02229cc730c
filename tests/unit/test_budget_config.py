"""``kind: CostBudget`` documents: what loads, and every impossible budget as an error at ``file:line:col``.

The YAML is written literally where the position matters; expected lines and columns are counted by hand.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sre_agent.cli import main
from sre_agent.config.loader import load_config
from sre_agent.errors import ConfigError, ConfigIssue

AGENT = """\
apiVersion: sre-agent/v1
kind: AgentConfig
metadata:
  name: test
spec:
  snowflake:
    embedded: {seed: 1}
  rules: [rules]
  runbooks: runbooks
  inventory:
    warehouses: [INGEST_WH, RISK_WH]
    domains: [risk, equity-trading]
"""
COST = """\
  cost:
    currency: EUR
    credit_price: 2.75
    time_zone: Europe/London
"""

BUDGET = """\
apiVersion: sre-agent/v1
kind: CostBudget
metadata:
  name: {name}
spec:
  scope:
    {scope}
  period: month
  amount: {amount}
  unit: {unit}
"""


def _project(tmp_path: Path, budgets: str, cost: bool = True) -> Path:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "runbooks").mkdir(exist_ok=True)
    (tmp_path / "agent.yaml").write_text(AGENT + (COST if cost else ""), encoding="utf-8")
    (tmp_path / "rules" / "budgets.yaml").write_text(budgets, encoding="utf-8")
    return tmp_path / "agent.yaml"


def _budget(name: str = "b1", scope: str = "warehouse: [RISK_WH]", amount: str = "100", unit: str = "credits") -> str:
    return BUDGET.format(name=name, scope=scope, amount=amount, unit=unit)


def _errors(path: Path) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [i for i in caught.value.issues if i.severity == "error"]


def _at(issue: ConfigIssue) -> tuple[str, int, int]:
    return Path(issue.file).name, issue.line, issue.column


def test_budgets_of_each_scope_load_with_their_defaults(tmp_path: Path) -> None:
    text = "---\n".join(
        [
            _budget("acct", scope="{}", amount="5000", unit="currency"),
            _budget("risk-wh", scope="warehouse: [RISK_WH]"),
            _budget("risk-domain", scope="domain: [risk]"),
        ]
    )
    loaded = load_config(_project(tmp_path, text))
    budgets = {b.name: b.spec for b in loaded.budgets}
    assert {n: s.scope.describe() for n, s in budgets.items()} == {
        "acct": "account",
        "risk-wh": "warehouse=RISK_WH",
        "risk-domain": "domain=risk",
    }
    spec = budgets["acct"]
    assert [(float(t.percent), t.severity.value) for t in spec.actual] == [
        (50, "sev4"),
        (75, "sev4"),
        (90, "sev3"),
        (100, "sev2"),
    ]
    assert spec.forecast is not None
    assert [float(t.percent) for t in spec.forecast.thresholds] == [110]
    assert spec.burn_rate is not None
    tiers = [(t.label, float(t.factor(timedelta(days=30)))) for t in spec.burn_rate.tiers]
    assert tiers == [("6h/1h", 6.0), ("1d/6h", 3.0)], "5 % of a month in 6 h is 6x, as the SLO math has it"
    assert spec.zone(loaded.config.spec.cost.time_zone).key == "Europe/London"  # type: ignore[union-attr]


def test_forecast_min_history_takes_the_duration_forms_every_other_field_takes(tmp_path: Path) -> None:
    """``min_history: 6h`` as the docs write it (it once took only ISO 8601 or seconds)."""
    text = _budget() + "  forecast:\n    min_history: 36h\n"
    [budget] = load_config(_project(tmp_path, text)).budgets
    assert budget.spec.forecast is not None
    assert budget.spec.forecast.min_history == timedelta(hours=36)
    bad = _budget() + "  forecast:\n    min_history: soon\n"
    [issue] = _errors(_project(tmp_path, bad))
    assert issue.path == "spec.forecast.min_history"


def test_a_currency_amount_without_a_credit_price_is_located_at_the_amount(tmp_path: Path) -> None:
    path = _project(tmp_path, _budget(amount="36000", unit="currency"), cost=False)
    [issue] = _errors(path)
    assert _at(issue) == ("budgets.yaml", 9, 11)
    assert issue.path == "spec.amount"
    assert "no spec.cost.credit_price" in issue.message


def test_overlapping_budgets_for_the_same_scope_and_period_name_the_first(tmp_path: Path) -> None:
    text = _budget("first") + "---\n" + _budget("second", amount="200")
    [issue] = _errors(_project(tmp_path, text))
    assert _at(issue) == ("budgets.yaml", 18, 5), "the second document's scope"
    assert "'second' overlaps 'first'" in issue.message
    assert "warehouse=RISK_WH per month" in issue.message


def test_a_daily_and_a_monthly_budget_on_one_scope_do_not_overlap(tmp_path: Path) -> None:
    text = _budget("monthly") + "---\n" + _budget("daily", amount="10").replace("period: month", "period: day")
    assert [b.name for b in load_config(_project(tmp_path, text)).budgets] == ["monthly", "daily"]


def test_a_budget_starting_in_the_future_is_located_at_starts(tmp_path: Path) -> None:
    later = (datetime.now(UTC) + timedelta(days=40)).date()
    path = _project(tmp_path, _budget() + f"  starts: {later.isoformat()}\n")
    [issue] = _errors(path)
    assert _at(issue) == ("budgets.yaml", 11, 11)
    assert f"starts {later} is in the future" in issue.message


@pytest.mark.parametrize(
    ("amount", "column", "fragment"),
    [("-5", 11, "greater than 0"), ("0", 11, "greater than 0"), ("lots", 11, "valid decimal")],
)
def test_negative_zero_or_non_numeric_amounts_are_located_errors(
    tmp_path: Path, amount: str, column: int, fragment: str
) -> None:
    [issue] = _errors(_project(tmp_path, _budget(amount=amount)))
    assert _at(issue) == ("budgets.yaml", 9, column)
    assert fragment in issue.message


def test_an_unknown_domain_is_located_at_the_list_item(tmp_path: Path) -> None:
    [issue] = _errors(_project(tmp_path, _budget(scope="domain: [risk, fixed-income]")))
    assert _at(issue) == ("budgets.yaml", 7, 20)
    assert issue.path == "spec.scope.domain[1]"
    assert "unknown domain 'fixed-income'; known: risk, equity-trading" in issue.message


def test_a_domain_budget_needs_the_cost_attribution(tmp_path: Path) -> None:
    [issue] = _errors(_project(tmp_path, _budget(scope="domain: [risk]"), cost=False))
    assert issue.path == "spec.scope.domain"
    assert "needs spec.cost" in issue.message


@pytest.mark.parametrize(
    ("extra", "path", "fragment"),
    [
        ("  actual:\n    - {percent: 90, severity: sev2}\n    - {percent: 100, severity: sev4}\n", "spec", "lower"),
        (
            "  burn_rate:\n    tiers:\n      - {severity: page, long: 90m, short: 30m, burn_rate: 6}\n",
            "spec",
            "whole hours",
        ),
        ("  forecast:\n    thresholds: [{percent: 110}]\n", "spec.forecast.thresholds[0].severity", "missing"),
        ("  period_days: 30\n", "spec.period_days", "unknown field"),
        ("  time_zone: Mars/Olympus\n", "spec.time_zone", "unknown time zone"),
        ("  anomaly: {weeks: 1}\n", "spec.anomaly.weeks", "greater than or equal to 2"),
    ],
)
def test_impossible_budget_settings_are_located_errors(tmp_path: Path, extra: str, path: str, fragment: str) -> None:
    [issue] = _errors(_project(tmp_path, _budget() + extra))
    assert issue.path == path
    assert fragment in issue.message


def test_a_static_label_may_not_shadow_a_budget_label(tmp_path: Path) -> None:
    text = _budget().replace("  name: b1\n", "  name: b1\n  labels: {signal: x}\n")
    [issue] = _errors(_project(tmp_path, text))
    assert issue.path == "metadata.labels.signal"
    assert "clashes" in issue.message


def test_retention_must_cover_a_month_and_the_forecast_profile(tmp_path: Path) -> None:
    path = _project(tmp_path, _budget())
    path.write_text(AGENT + COST + "  store:\n    retention: 20d\n", encoding="utf-8")
    [issue] = _errors(path)
    assert issue.path == "spec.store.retention"
    assert "31 days" in issue.message


def test_validate_counts_budgets_and_prints_file_line_col(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _project(tmp_path, _budget(amount="-1"))
    assert main(["validate", "--config", str(path)]) == 3
    out = " ".join(capsys.readouterr().out.split())
    assert f"{tmp_path / 'rules' / 'budgets.yaml'}:9:11" in out.replace("\n", "")
    (tmp_path / "rules" / "budgets.yaml").write_text(textwrap.dedent(_budget()), encoding="utf-8")
    assert main(["validate", "--config", str(path)]) == 0
    assert "1 budget(s)" in capsys.readouterr().out


SUB = "scope: /subscriptions/00000000-1111-2222-3333-444444444444"


@pytest.mark.parametrize(
    ("block", "path", "fragment"),
    [
        ("scope: /subscriptions/nope", "spec.azure.cost.scope", "should match pattern"),
        (
            SUB + "\n      group_by: [ServiceName, ResourceGroupName, 'tag:team']",
            "spec.azure.cost.group_by",
            "at most 2 items",
        ),
        (
            SUB + "\n      group_by: ['tag:a', 'tag:b']",
            "spec.azure.cost",
            "more than one tag",
        ),
        (
            SUB + "\n      group_by: [MeterCategory]",
            "spec.azure.cost.group_by[0]",
            "should match pattern",
        ),
        (
            SUB + "\n      endpoint: http://management.azure.com",
            "spec.azure.cost.endpoint",
            "https URL",
        ),
    ],
)
def test_impossible_azure_cost_settings_are_located(tmp_path: Path, block: str, path: str, fragment: str) -> None:
    config = _project(tmp_path, _budget())
    config.write_text(AGENT + COST + "  azure:\n    cost:\n      " + block + "\n", encoding="utf-8")
    issues = _errors(config)
    assert [i.path for i in issues] == [path], issues
    assert fragment in issues[0].message


AZURE_COST = "  azure:\n    cost:\n      " + SUB + "\n"


def test_an_azure_budget_is_money_with_daily_windows(tmp_path: Path) -> None:
    text = _budget(scope="azure: {service: [Stream Analytics]}", amount="9000", unit="currency")
    path = _project(tmp_path, text)
    path.write_text(AGENT + COST + AZURE_COST, encoding="utf-8")
    [budget] = load_config(path).budgets
    assert budget.spec.scope.describe() == "azure:service=Stream Analytics"
    assert budget.spec.burn_rate is None, "the hourly default tiers cannot judge daily costs: off unless written"
    daily = text + "  burn_rate:\n    tiers: [{severity: ticket, long: 3d, short: 1d, budget_percent: 20}]\n"
    (tmp_path / "rules" / "budgets.yaml").write_text(daily, encoding="utf-8")
    [budget] = load_config(path).budgets
    assert budget.spec.burn_rate is not None
    assert [t.label for t in budget.spec.burn_rate.tiers] == ["3d/1d"]


@pytest.mark.parametrize(
    ("budget", "agent", "path", "fragment"),
    [
        (_budget(scope="azure: {}", unit="credits"), AGENT + COST + AZURE_COST, "spec", "needs unit: currency"),
        (_budget(scope="azure: {}", unit="currency"), AGENT + COST, "spec.scope.azure", "needs azure.cost"),
        (
            _budget(scope="azure: {}", unit="currency")
            + "  burn_rate:\n    tiers: [{severity: page, long: 6h, short: 1h, burn_rate: 6}]\n",
            AGENT + COST + AZURE_COST,
            "spec",
            "whole days",
        ),
        (
            _budget(scope="{azure: {}, warehouse: [RISK_WH]}", unit="currency"),
            AGENT + COST + AZURE_COST,
            "spec.scope",
            "not several",
        ),
    ],
)
def test_impossible_azure_budgets_are_located(
    tmp_path: Path, budget: str, agent: str, path: str, fragment: str
) -> None:
    config = _project(tmp_path, budget)
    config.write_text(agent, encoding="utf-8")
    issues = _errors(config)
    assert [i.path for i in issues] == [path], issues
    assert fragment in issues[0].message


def test_day_and_week_budgets_have_no_default_burn_rate_and_low_factors_are_refused(tmp_path: Path) -> None:
    daily = _budget(amount="20").replace("period: month", "period: day")
    [budget] = load_config(_project(tmp_path, daily)).budgets
    assert budget.spec.burn_rate is None, "a month's 6h/1h tier would page a day budget at 20 % of its allowance"
    low = daily + "  burn_rate:\n    tiers: [{severity: page, long: 6h, short: 1h, budget_percent: 5}]\n"
    (tmp_path / "rules" / "budgets.yaml").write_text(low, encoding="utf-8")
    [issue] = _errors(tmp_path / "agent.yaml")
    assert issue.path == "spec"
    assert "factor 0.2 ≤ 1" in issue.message


def test_an_azure_filter_on_a_dimension_not_polled_is_located(tmp_path: Path) -> None:
    path = _project(tmp_path, _budget(scope="azure: {tag: [risk]}", unit="currency"))
    path.write_text(AGENT + COST + AZURE_COST, encoding="utf-8")
    [issue] = _errors(path)
    assert issue.path == "spec.scope.azure.tag"
    assert "azure.cost.group_by has no tag:<key>" in issue.message
