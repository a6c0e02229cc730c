"""The optimization report's pure pieces: thresholds from YAML (and their errors at file:line:col), findings at
their thresholds, operator statistics parsed into join findings, the sqlglot reading of query text choosing search
optimization vs clustering vs a materialized view, and statements with quoted identifiers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sre_agent.config.loader import load_config
from sre_agent.config.optimize import OptimizeThresholds
from sre_agent.errors import ConfigError
from sre_agent.reports.optimize.advice import Advisor, size_step
from sre_agent.reports.optimize.findings import Finding, day_findings, operator_findings, pattern_findings
from sre_agent.reports.optimize.sql_shape import analyze_sql

AGENT = """\
apiVersion: sre-agent/v1
kind: AgentConfig
metadata:
  name: test
spec:
  snowflake:
    embedded: {seed: 1}
  rules: []
  reports:
    optimize:
"""
T = OptimizeThresholds()


def _load(tmp_path: Path, optimize: str) -> Any:
    path = tmp_path / "agent.yaml"
    path.write_text(AGENT + optimize, encoding="utf-8")
    return load_config(path)


def test_thresholds_have_the_documented_defaults_and_can_be_overridden(tmp_path: Path) -> None:
    assert (T.remote_spill_gb_per_run, T.local_spill_gb_per_run) == (1.0, 10.0)
    assert (T.pruning_scan_ratio, T.pruning_min_partitions, T.pruning_min_elapsed_s) == (0.8, 1000, 60.0)
    assert (T.join_output_rows, T.join_ratio, T.provisioning_p95_s, T.latency_regression) == (10_000_000, 10, 5, 2)
    assert (T.idle_share, T.oversized_exec_s, T.oversized_min_size, T.failing_per_day) == (0.3, 5.0, "Large", 3)
    loaded = _load(tmp_path, "      remote_spill_gb_per_run: 2\n      oversized_min_size: X-Large\n")
    t = loaded.config.spec.reports.optimize
    assert (t.remote_spill_gb_per_run, t.oversized_min_size, t.local_spill_gb_per_run) == (2.0, "X-Large", 10.0)


@pytest.mark.parametrize(
    ("body", "line", "column", "message"),
    [
        ("      remote_spil_gb_per_run: 2\n", 11, 7, "unknown field"),
        ("      pruning_scan_ratio: 1.5\n", 11, 27, "less than or equal to 1"),
        ("      idle_share: 0.1\n      oversized_min_size: Huge\n", 12, 27, "Input should be"),
        ("      remote_spill_gb_per_run: 20\n", 11, 7, "must not exceed local_spill_gb_per_run"),
    ],
)
def test_bad_thresholds_are_errors_at_file_line_column(
    tmp_path: Path, body: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, body)
    issues = [i for i in caught.value.issues if i.severity == "error"]
    assert len(issues) == 1, issues
    assert (Path(issues[0].file).name, issues[0].line, issues[0].column) == ("agent.yaml", line, column)
    assert message in issues[0].message


def _pattern(**values: float | str | None) -> dict[str, Any]:
    base: dict[str, Any] = {
        "pattern": "p1", "runs": 100.0, "failed_runs": 0.0, "days_active": 5.0, "credits": 10.0,
        "elapsed_ms_sum": 100 * 10_000.0, "queued_overload_ms_sum": 0.0, "p95_provisioning_ms": 0.0,
        "partitions_scanned_sum": 0.0, "partitions_total_sum": 0.0, "spill_local_bytes_sum": 0.0,
        "spill_remote_bytes_sum": 0.0, "local_spill_runs": 0.0, "remote_spill_runs": 0.0,
        "repeated_scanning_runs": 0.0, "distinct_hashes": 100.0, "rows_produced_sum": 100.0,
        "bytes_scanned_sum": 0.0, "p50_elapsed_ms": 10_000.0, "p95_elapsed_ms": 20_000.0,
        "top_warehouse": "RISK_WH", "warehouse_size": "Large", "top_service": "risk-engine",
        "top_user": "SVC_RISK", "top_role": "RISK",
    }  # fmt: skip
    base.update(values)
    return base


def _kinds(findings: list[Finding]) -> set[str]:
    return {f.kind for f in findings}


def test_each_finding_fires_just_above_its_threshold_and_not_at_it() -> None:
    above = _pattern(
        spill_remote_bytes_sum=2 * 1.01e9, remote_spill_runs=2.0, spill_local_bytes_sum=2 * 10.1e9,
        local_spill_runs=2.0, partitions_scanned_sum=81 * 2000.0, partitions_total_sum=100 * 2000.0,
        elapsed_ms_sum=100 * 61_000.0, queued_overload_ms_sum=100 * 61_000.0 * 0.11, p95_provisioning_ms=5001.0,
        repeated_scanning_runs=60.0, failed_runs=15.0, runs=100.0,
    )  # fmt: skip
    found = pattern_findings(above, [], T)
    assert _kinds(found) == {"remote_spill", "local_spill", "poor_pruning", "queueing", "provisioning", "failing"}
    spill = next(f for f in found if f.kind == "remote_spill")
    assert (spill.value, spill.threshold, spill.unit) == (1.01, 1.0, "GB/run")
    at = _pattern(
        spill_remote_bytes_sum=1e9, remote_spill_runs=1.0, partitions_scanned_sum=80.0, partitions_total_sum=100.0,
        p95_provisioning_ms=5000.0, failed_runs=14.0,
    )  # fmt: skip
    assert pattern_findings(at, [], T) == []
    assert "repeated_work" in _kinds(pattern_findings(_pattern(repeated_scanning_runs=100.0, runs=150.0), [], T))


def test_days_show_a_latency_regression_and_the_day_rows_exploded() -> None:
    days = [
        {"day": "2026-11-02", "runs": 10, "p95_elapsed_ms": 20_000, "rows_produced_sum": 25_000},
        {"day": "2026-11-03", "runs": 10, "p95_elapsed_ms": 21_000, "rows_produced_sum": 1_500_000},
        {"day": "2026-11-04", "runs": 10, "p95_elapsed_ms": 19_000, "rows_produced_sum": 26_000},
        {"day": "2026-11-05", "runs": 10, "p95_elapsed_ms": 41_000, "rows_produced_sum": 24_000},
    ]
    found = {f.kind: f for f in day_findings("p1", days, T)}
    assert found["latency_regression"].evidence["day"] == "2026-11-05"
    assert found["latency_regression"].value == pytest.approx(41_000 / 20_000)
    assert found["rows_explosion"].evidence["day"] == "2026-11-03"
    assert found["rows_explosion"].evidence["baseline_rows_per_run"] == 2500


OPERATOR_ROWS = [
    {"QUERY_ID": "q1", "STEP_ID": 1, "OPERATOR_ID": 0, "OPERATOR_TYPE": "Result", "PARENT_OPERATORS": None,
     "OPERATOR_STATISTICS": json.dumps({"input_rows": 2500, "output_rows": 2500}), "OPERATOR_ATTRIBUTES": "{}"},
    {"QUERY_ID": "q1", "STEP_ID": 1, "OPERATOR_ID": 3, "OPERATOR_TYPE": "Join", "PARENT_OPERATORS": "[2]",
     "OPERATOR_STATISTICS": json.dumps({"input_rows": 1_450_000, "output_rows": 87_000_000,
                                        "spilling": {"bytes_spilled_local_storage": 40_000_000_000}}),
     "OPERATOR_ATTRIBUTES": json.dumps({"join_type": "INNER",
                                        "equality_join_condition": "(F.CCY = P.CCY)",
                                        "additional_join_condition": "(F.RATE_DATE = '2026-11-03')"})},
    {"QUERY_ID": "q1", "STEP_ID": 1, "OPERATOR_ID": 5, "OPERATOR_TYPE": "Join", "PARENT_OPERATORS": "[3]",
     "OPERATOR_STATISTICS": {"input_rows": 1_000_000, "output_rows": 900_000},
     "OPERATOR_ATTRIBUTES": {"equality_join_condition": "(C.ID = P.CID)"}},
    {"QUERY_ID": "q1", "STEP_ID": 1, "OPERATOR_ID": 7, "OPERATOR_TYPE": "CartesianJoin", "PARENT_OPERATORS": "[6]",
     "OPERATOR_STATISTICS": json.dumps({"input_rows": 120, "output_rows": 600}), "OPERATOR_ATTRIBUTES": "{}"},
    {"QUERY_ID": "q1", "STEP_ID": 1, "OPERATOR_ID": 9, "OPERATOR_TYPE": "TableScan", "PARENT_OPERATORS": "[3]",
     "OPERATOR_STATISTICS": json.dumps({"output_rows": 99_000_000, "pruning": {"partitions_scanned": 40000}}),
     "OPERATOR_ATTRIBUTES": json.dumps({"table_name": "RISK.MARTS.POSITIONS"})},
]  # fmt: skip


def test_operator_statistics_become_exploding_and_cartesian_join_findings() -> None:
    found = operator_findings(OPERATOR_ROWS, T)
    assert [(f.kind, f.operator_id) for f in found] == [("exploding_join", 3), ("cartesian_join", 7)]
    join = found[0]
    assert (join.input_rows, join.output_rows) == (1_450_000, 87_000_000)
    assert join.ratio == pytest.approx(60, rel=0.01)
    assert join.condition == "(F.CCY = P.CCY) AND (F.RATE_DATE = '2026-11-03')"
    lowered = [{k.lower(): v for k, v in r.items()} for r in OPERATOR_ROWS]
    assert operator_findings(lowered, T) == found, "column case does not matter"
    assert operator_findings([{"operator_type": "Join", "operator_statistics": "not json"}], T) == []


def test_query_text_is_read_for_tables_filters_joins_and_aggregation() -> None:
    shape = analyze_sql(
        "SELECT c.counterparty_id, SUM(p.notional * f.fx_rate) AS exposure FROM RISK.MARTS.POSITIONS p "
        "JOIN REFERENCE.FX.RATES f ON f.ccy = p.ccy AND f.rate_date = '2026-11-03' "
        "JOIN REFERENCE.PARTY.COUNTERPARTIES c ON c.counterparty_id = p.counterparty_id "
        "WHERE p.desk = 'FX' AND p.as_of >= '2026-11-01' GROUP BY c.counterparty_id"
    )
    positions = shape.table("RISK.MARTS.POSITIONS")
    assert positions is not None
    assert (positions.equality, positions.ranges) == (["DESK"], ["AS_OF"])
    assert [(j.table, j.keys) for j in shape.joins] == [
        ("REFERENCE.FX.RATES", ("CCY",)),
        ("REFERENCE.PARTY.COUNTERPARTIES", ("COUNTERPARTY_ID",)),
    ]
    assert not shape.single_table_aggregation, "a join: no materialized view"
    cross = analyze_sql("SELECT * FROM a.b.pos p CROSS JOIN a.b.shocks s WHERE p.d = 1")
    assert [j.table for j in cross.joins_without_condition] == ["A.B.SHOCKS"]
    assert not analyze_sql("SELECT * FROM a, b WHERE a.k = b.k").joins_without_condition
    assert not analyze_sql("this is not sql ((").parsed


def _advice(text: str, show_literals: bool = False, **values: Any) -> list[dict[str, Any]]:
    pruning = Finding("poor_pruning", "p1", "scans 95 %", 0.95, 0.8, "scanned/total")
    advisor = Advisor(T, 1.0, lambda c: c * 2, show_literals)
    return advisor.for_pattern(_pattern(**values), [pruning], analyze_sql(text), [])


def test_point_lookups_get_search_optimization_on_equality() -> None:
    recs = _advice(
        "SELECT symbol, qty FROM CURATED.PORTFOLIO.POSITIONS WHERE account_id = 100137", rows_produced_sum=500
    )
    rec = next(r for r in recs if r["kind"] == "search_optimization")
    assert rec["statements"] == [
        'ALTER TABLE "CURATED"."PORTFOLIO"."POSITIONS" ADD SEARCH OPTIMIZATION ON EQUALITY("ACCOUNT_ID");'
    ]
    assert rec["saving_credits_per_week"] == pytest.approx(10 * (1 - 0.2 / 0.95), abs=1e-3)
    assert rec["saving_money_per_week"] == pytest.approx(rec["saving_credits_per_week"] * 2)
    assert "serverless" in rec["saving_basis"]


def test_substring_filters_get_search_optimization_on_substring() -> None:
    recs = _advice("SELECT trader_id FROM CURATED.TRADES.FILLS WHERE notes ILIKE '%AAPL%'")
    statements = [s for r in recs for s in r["statements"]]
    assert statements == ['ALTER TABLE "CURATED"."TRADES"."FILLS" ADD SEARCH OPTIMIZATION ON SUBSTRING("NOTES");']


def test_large_range_and_equality_scans_get_a_clustering_key() -> None:
    text = (
        "CREATE OR REPLACE TABLE X.Y.DAILY AS SELECT * FROM CURATED.PORTFOLIO.POSITIONS "
        "WHERE as_of_date >= '2026-11-01' AND desk = 'FX'"
    )
    recs = _advice(text, rows_produced_sum=1.0)
    rec = next(r for r in recs if r["kind"] == "clustering_key")
    assert rec["statements"] == ['ALTER TABLE "CURATED"."PORTFOLIO"."POSITIONS" CLUSTER BY ("AS_OF_DATE", "DESK");']


def test_a_repeated_aggregation_over_one_table_gets_a_materialized_view_without_literals() -> None:
    text = "SELECT venue, COUNT_IF(status = 'FILLED') AS filled, SUM(qty) AS q FROM C.T.ORDERS WHERE d = '1' "
    text += "GROUP BY venue"
    recs = _advice(text, runs=500.0, bytes_scanned_sum=500 * 2e9)
    mv = next(r for r in recs if r["kind"] == "materialized_view")
    assert mv["statements"][0].startswith('CREATE MATERIALIZED VIEW "C"."T"."ORDERS_AGG_MV" AS')
    assert 'GROUP BY "D", "VENUE";' in mv["statements"][0]  # quoted identifiers
    assert "'FILLED'" not in mv["statements"][0]
    assert "'FILLED'" in next(r for r in _advice(text, True, runs=500.0, bytes_scanned_sum=1e12)
                               if r["kind"] == "materialized_view")["statements"][0]  # fmt: skip
    few = _advice(text, runs=50.0, bytes_scanned_sum=50 * 2e9)
    assert "materialized_view" not in {r["kind"] for r in few}, "run too rarely to pay for a view"
    percentile = "SELECT desk, APPROX_PERCENTILE(pnl, 0.01) AS v FROM R.M.S GROUP BY desk"
    assert "materialized_view" not in {r["kind"] for r in _advice(percentile, runs=500.0, bytes_scanned_sum=1e12)}


def test_statements_quote_identifiers_and_latency_buys_save_nothing() -> None:
    spill = Finding("remote_spill", "p1", "spills", 3.0, 1.0, "GB/run")
    advisor = Advisor(T, 1.0, lambda c: None, False)
    evil = _pattern(top_warehouse='WH"; DROP TABLE X; --', warehouse_size="Medium")
    rec = advisor.for_pattern(evil, [spill], analyze_sql("SELECT 1"), [])[0]
    assert rec["kind"] == "scale_up"
    assert rec["saving_credits_per_week"] == 0
    assert rec["statements"] == ['ALTER WAREHOUSE "WH""; DROP TABLE X; --" SET WAREHOUSE_SIZE = \'LARGE\';']
    out = advisor.for_queueing("TRADE_WH", [], "Medium", 2.5, None)
    assert out["kind"] == "scale_out"
    assert out["saving_credits_per_week"] == pytest.approx(-10.0)
    assert "SCALING_POLICY = 'STANDARD'" in out["statements"][0]
    assert size_step("X-Large", 1) == "2X-LARGE"
    assert size_step("6X-Large", 1) is None


def test_group_by_keys_never_carry_literals_and_bad_positions_do_not_crash() -> None:
    shape = analyze_sql("SELECT IFF(cust = 'ACME Corp', 1, 0) AS k, SUM(x) AS s FROM t GROUP BY 1")
    assert shape.group_by == ["IFF(cust = ?, ?, ?)"]
    assert "ACME" not in " ".join(shape.group_by + shape.aggregates)
    assert analyze_sql("SELECT a, SUM(x) FROM t GROUP BY 3").group_by == ["?"]  # Snowflake rejects it; no crash
    assert analyze_sql("SELECT t.desk, SUM(x) FROM t GROUP BY t.desk").group_by == ["DESK"]
