"""Pieces of the cost report that need no store: SQL quoting of the printed statements, CSV cells that a
spreadsheet would run as formulas."""

from __future__ import annotations

import polars as pl

from sre_agent.config.budget import CostBudgetDoc
from sre_agent.reports.cost.actions import enforcement
from sre_agent.reports.cost.render import spreadsheet_safe
from sre_agent.reports.statements import quote_ident, quote_literal


def _budget(name: str, **spec: object) -> CostBudgetDoc:
    return CostBudgetDoc.model_validate(
        {
            "apiVersion": "sre-agent/v1",
            "kind": "CostBudget",
            "metadata": {"name": name},
            "spec": {"amount": 100, **spec},
        }
    )


def test_identifiers_and_literals_are_quoted_not_interpolated() -> None:
    assert quote_ident('etl-wh"; DROP') == '"etl-wh""; DROP"'
    assert quote_literal("o'brien") == "'o''brien'"
    monitor = enforcement(_budget("2026-spend", scope={"warehouse": ["etl-wh"]}), 3.0)["statements"]
    assert monitor[0].startswith('CREATE RESOURCE MONITOR "2026_SPEND_MONITOR" WITH CREDIT_QUOTA = 100')
    assert monitor[1] == 'ALTER WAREHOUSE "etl-wh" SET RESOURCE_MONITOR = "2026_SPEND_MONITOR";'
    domain = enforcement(_budget("risk", scope={"domain": ["risk", "it's"]}), 3.0)["statements"]
    assert [s for s in domain if "ADD_RESOURCE_TAG" in s][1].endswith("'it''s');"), "one call per domain"


def test_currency_amounts_become_credit_quotas_at_the_price() -> None:
    statements = enforcement(_budget("acct", unit="currency", amount=1000), 3.0)["statements"]
    assert "CREDIT_QUOTA = 334" in statements[0], "USD 1,000 at USD 3 a credit, rounded up"
    assert statements[1] == 'ALTER ACCOUNT SET RESOURCE_MONITOR = "ACCT_MONITOR";'
    assert enforcement(_budget("acct", unit="currency", amount=1000), None)["statements"] == []


def test_csv_cells_that_start_a_formula_are_defused() -> None:
    frame = pl.DataFrame({"user": ['=HYPERLINK("x")', "+1", "-2", "@SUM(A1)", "ALICE"], "credits": [1.0] * 5})
    safe = spreadsheet_safe(frame)
    assert safe["user"].to_list() == ['\'=HYPERLINK("x")', "'+1", "'-2", "'@SUM(A1)", "ALICE"]
    assert safe["credits"].to_list() == [1.0] * 5
