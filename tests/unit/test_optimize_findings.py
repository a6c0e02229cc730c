"""The optimization report's pure pieces: thresholds from YAML (and their errors at file:line:col), findings at
their thresholds, operator statistics parsed into join findings and their errors classified by cause, the sqlglot
reading of query text choosing search optimization vs clustering vs a materialized view, statements with quoted
identifiers that never set a Snowflake default, one result-cache item for all patterns, incident links, and the
ranking by saving × confidence with its floor."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from sre_agent.config.loader import load_config
from sre_agent.config.optimize import OptimizeThresholds
from sre_agent.errors import ConfigError
from sre_agent.reports.optimize.advice import Advisor, size_step
from sre_agent.reports.optimize.findings import (
    Finding,
    day_findings,
    operator_findings,
    pattern_findings,
    repeat_finding,
)
from sre_agent.reports.optimize.incidents import IncidentWindow, pattern_links
from sre_agent.reports.optimize.operator_stats import cause_text, error_cause, fetch_operator_stats
from sre_agent.reports.optimize.ranking import rank
from sre_agent.reports.optimize.result_cache import cache_entry, result_cache_rec, table_writes
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
    assert 'ALTER WAREHOUSE "TRADE_WH" SET MAX_CLUSTER_COUNT = 3;' in out["statements"][0]
    assert size_step("X-Large", 1) == "2X-LARGE"
    assert size_step("6X-Large", 1) is None


def test_group_by_keys_never_carry_literals_and_bad_positions_do_not_crash() -> None:
    shape = analyze_sql("SELECT IFF(cust = 'ACME Corp', 1, 0) AS k, SUM(x) AS s FROM t GROUP BY 1")
    assert shape.group_by == ["IFF(cust = ?, ?, ?)"]
    assert "ACME" not in " ".join(shape.group_by + shape.aggregates)
    assert analyze_sql("SELECT a, SUM(x) FROM t GROUP BY 3").group_by == ["?"]  # Snowflake rejects it; no crash
    assert analyze_sql("SELECT t.desk, SUM(x) FROM t GROUP BY t.desk").group_by == ["DESK"]


def _window(**scope: list[str]) -> IncidentWindow:
    start = int(datetime(2026, 11, 3, 15, 30, tzinfo=UTC).timestamp())
    sets = {k: frozenset(scope.get(k, [])) for k in ("warehouse", "service", "domain")}
    return IncidentWindow("INC-20261103-1", "remote spill", start, start + 12 * 3600, False, sets["warehouse"],
                          sets["service"], sets["domain"])  # fmt: skip


def _days(rows_on_tuesday: float) -> list[dict[str, Any]]:
    rows = {"2026-11-02": 3000.0, "2026-11-03": rows_on_tuesday, "2026-11-04": 2900.0, "2026-11-05": 3100.0}
    return [{"day": d, "runs": 1000, "rows_produced_sum": r * 1000, "spill_bytes_sum": 0, "p95_elapsed_ms": 20_000}
            for d, r in rows.items()]  # fmt: skip


def test_a_pattern_that_changed_inside_an_incident_window_is_linked_with_the_incident_id() -> None:
    p = _pattern()
    no_hours = pl.DataFrame(schema={"bucket": pl.Int64, "queries": pl.Int64, "failed": pl.Int64,
                                    "elapsed_ms": pl.Float64, "credits": pl.Float64})  # fmt: skip
    links = pattern_links(p, no_hours, _days(48_000), [_window(warehouse=["RISK_WH"])], T)
    assert [link["incident"] for link in links] == ["INC-20261103-1"]
    assert links[0]["changed"][0].startswith("rows per run 48,000 on 2026-11-03")
    assert links[0]["factor"] == pytest.approx(48_000 / 3050, abs=1e-3), "the window spans Tue and Wed"
    assert pattern_links(p, no_hours, _days(3000), [_window(warehouse=["RISK_WH"])], T) == [], "no change"
    assert pattern_links(p, no_hours, _days(48_000), [_window(warehouse=["ADHOC_WH"])], T) == [], "other scope"
    assert pattern_links(p, no_hours, _days(48_000), [_window(service=["risk-engine"])], T), "scope by service"
    late = [{**d, "day": "2026-11-06"} if d["day"] == "2026-11-03" else d for d in _days(48_000)]
    assert pattern_links(p, no_hours, late, [_window(warehouse=["RISK_WH"])], T) == [], "changed outside the window"
    start = _window().start // 3600 * 3600
    hours = pl.DataFrame(
        {"bucket": [start - 7200, start, start + 3600], "queries": [100, 100, 100], "failed": [0, 40, 35],
         "elapsed_ms": [1e6, 1e6, 1e6], "credits": [1.0, 1.0, 1.0]}
    )  # fmt: skip
    failing = pattern_links(p, hours, [], [_window(warehouse=["RISK_WH"])], T)
    assert failing[0]["changed"] == [
        "failed share of runs 37.5 % from 2026-11-03 15:30Z to 2026-11-04 03:30Z against 0.0 % outside"
    ]
    assert (
        pattern_links(p, hours.with_columns(pl.lit(3).alias("failed")), [], [_window(warehouse=["RISK_WH"])], T) == []
    )


def _recs(*items: tuple[str, float, str | None]) -> list[dict[str, Any]]:
    advisor = Advisor(T, 1.0, lambda c: None, False)
    out = []
    for i, (kind, saving, incident) in enumerate(items):
        rec = advisor.rec(kind, f"s{i}", kind, saving, "", [], [])
        rec["incident"] = incident
        out.append(rec)
    return out


def test_recommendations_rank_by_saving_times_confidence_with_incident_links_raised_and_a_floor() -> None:
    recs = _recs(
        ("materialized_view", 40.0, None),  # assumed share: 40 × 0.25 = 10
        ("resize_or_rewrite", 14.0, None),  # measured: 14 × 0.8 = 11.2
        ("fix_or_stop", 7.0, "INC-1"),  # measured, linked: 7 × 0.8 × 2 = 11.2 (ties fall to the larger saving)
        ("fix_or_stop", 3.0, "INC-2"),  # 4.8: linked, but worth far less than the view
        ("fix_or_stop", 0.5, "INC-3"),  # under the floor however linked
        ("scale_out", -4.0, "INC-4"),  # buys latency: never weighted up, always in the appendix
    )
    ordered = rank(recs, 1.0)
    assert [(r["kind"], r["saving_credits_per_week"]) for r in ordered] == [
        ("resize_or_rewrite", 14.0), ("fix_or_stop", 7.0), ("materialized_view", 40.0), ("fix_or_stop", 3.0),
        ("fix_or_stop", 0.5), ("scale_out", -4.0),
    ]  # fmt: skip
    assert [r["section"] for r in ordered] == ["main"] * 4 + ["smaller"] * 2
    assert [r["rank"] for r in ordered] == [1, 2, 3, 4, 5, 6]
    assert ordered[-1]["rank_key"] == pytest.approx(-4.0 * ordered[-1]["confidence"])
    assert [r["section"] for r in rank(recs, 20.0)].count("main") == 1, "a higher floor moves more to the appendix"


def _cache_pattern(pattern: str, user: str, **values: Any) -> dict[str, Any]:
    return _pattern(pattern=pattern, top_user=user, runs=1000.0, repeated_scanning_runs=900.0, distinct_hashes=10.0,
                    **values)  # fmt: skip


def test_identical_reruns_of_many_patterns_are_one_result_cache_item_that_checks_rather_than_sets_the_default() -> None:
    texts = {"a": "SELECT x FROM C.T.ORDERS WHERE d = 1", "b": "SELECT RANDOM() AS r, y FROM C.T.FILLS WHERE d = 2",
             "c": "SELECT z FROM C.T.PNL WHERE d = 3", "w": "INSERT INTO C.T.PNL SELECT * FROM C.T.RAW"}  # fmt: skip
    rows = [_cache_pattern("a", "SVC_A"), _cache_pattern("b", "SVC_B"), _cache_pattern("c", "SVC_A")]
    rows.append(_pattern(pattern="w", runs=200.0, failed_runs=0.0))
    shapes = {k: analyze_sql(v) for k, v in texts.items()}
    writes = table_writes(rows, shapes)
    assert writes == {"C.T.PNL": {"w": 200}}
    entries = []
    for p in rows[:3]:
        found = repeat_finding(p, T)
        assert found is not None
        entry = cache_entry(p, found, shapes[p["pattern"]], writes, 1, T)
        if entry is not None:
            entries.append(entry)
    assert [e["pattern"] for e in entries] == ["a", "b"], "c's re-runs are explained by the 200 writes to C.T.PNL"
    rec = result_cache_rec(Advisor(T, 1.0, lambda c: None, False), entries)
    assert rec is not None
    assert (rec["kind"], rec["subject"]) == ("result_cache", "result cache")
    assert [(c["pattern"], c["runs"], c["credits"]) for c in rec["covers"]] == [("a", 1000, 10.0), ("b", 1000, 10.0)]
    text = "\n".join(rec["statements"])
    assert "SHOW PARAMETERS LIKE 'USE_CACHED_RESULT' IN USER \"SVC_A\";" in text
    assert not [x for x in text.splitlines() if "SET USE_CACHED_RESULT" in x and not x.startswith("--")]
    assert "pattern b (risk-engine): replace RANDOM with a value passed in" in text
    assert result_cache_rec(Advisor(T, 1.0, lambda c: None, False), []) is None, "nothing left: no item"


@pytest.mark.parametrize(
    ("message", "cause", "says", "never"),
    [
        ('001003 (42000): Parser Error: syntax error at or near "TABLE"', "unsupported", "does not support", "GRANT"),
        ("002140 (42601): SQL compilation error: Unknown function GET_QUERY_OPERATOR_STATS", "unsupported",
         "does not support", "14 days"),
        ("003001 (42501): SQL access control error: Insufficient privileges to operate on warehouse 'RISK_WH'",
         "privileges", 'GRANT MONITOR ON WAREHOUSE "RISK_WH"', "does not support"),
        ("002003 (02000): SQL compilation error: Query '01b2' does not exist or not authorized.", "privileges",
         "MONITOR (or OPERATE)", "does not support"),
        ("Statistics of query 01b2 are no longer available: it completed more than 14 days ago", "too_old",
         "--since 14d", "GRANT"),
        ("390114 (08001): Authentication token has expired.", "too_old", "14 days", "GRANT"),
        ("000630 (57014): Statement reached its statement or warehouse timeout", "error", "not recognise", "GRANT"),
    ],
)  # fmt: skip
def test_operator_stats_errors_are_quoted_with_their_real_cause(
    message: str, cause: str, says: str, never: str
) -> None:
    assert error_cause(message) == cause
    text = cause_text(error_cause(message), ["RISK_WH"])
    assert says in text
    assert never not in text


def test_a_run_older_than_14_days_is_not_asked_for_and_said_to_be_too_old() -> None:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    p = _pattern(sample_query_id="q1", sample_end_time=now - timedelta(days=15), spill_remote_bytes_sum=5e9,
                 remote_spill_runs=1.0)  # fmt: skip
    findings = {"p1": pattern_findings(p, [], T)}
    records, notes = fetch_operator_stats(None, [p], findings, T, now, False)  # type: ignore[arg-type]
    assert records == [{"pattern": "p1", "query_id": "q1", "status": "unavailable", "cause": "too_old",
                        "reason": "not asked: the run ended 2026-11-15 00:00Z, more than 14 days before "
                        "2026-11-30 00:00Z"}]  # fmt: skip
    assert "keeps a query for 14 days" in notes[0]
    assert "GRANT" not in notes[0]


def test_no_statement_sets_a_snowflake_default() -> None:
    advisor = Advisor(T, 1.0, lambda c: None, False)
    dominant = _pattern(top_service="risk-engine", top_role="RISK")
    recs = [
        advisor.for_queueing("TRADE_WH", [], "Medium", 2.5, None),
        advisor.for_queueing("TRADE_WH", [], "X-Small", 2.5, dominant),
        advisor.for_provisioning("TRADE_WH", []),
    ]
    qas = _pattern(bytes_scanned_sum=100 * 50e9, p50_elapsed_ms=10_000.0, p95_elapsed_ms=90_000.0)
    recs += advisor.for_pattern(qas, [], analyze_sql("SELECT a FROM t WHERE b = 1"), [])
    assert {r["kind"] for r in recs} == {"scale_out", "split_workload", "auto_suspend_longer", "query_acceleration"}
    lines = [x.strip().upper() for r in recs for s in r["statements"] for x in s.splitlines()]
    run = [x for x in lines if not x.startswith("--")]
    for default in ("MIN_CLUSTER_COUNT = 1", "SCALING_POLICY", "AUTO_RESUME", "MAX_SCALE_FACTOR", "WAREHOUSE_SIZE"):
        assert not any(default in x for x in run), default
    assert 'ALTER WAREHOUSE "TRADE_WH" SET MAX_CLUSTER_COUNT = 3;' in run
    assert any("SHOW WAREHOUSES LIKE 'TRADE_WH'" in x for x in lines), "the current value is checked"


def test_a_table_name_read_from_query_text_never_carries_nul_or_escape_sequences() -> None:
    shape = analyze_sql('SELECT a FROM DB.SCH."T\x00\x1b[2JX" WHERE a = 1')
    assert shape.parsed
    assert [t.table for t in shape.tables] == ["DB.SCH.T\ufffd\ufffd[2JX"]
