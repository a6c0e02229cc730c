"""`sre-agent test`: the promtool notation, the shipped rule tests, readable diffs and located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sre_agent.cli import main
from sre_agent.config.loader import load_config
from sre_agent.exit_codes import ExitCode
from sre_agent.ruletest.spec import expand_values, parse_series

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules" / "snowflake-latency.yaml"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1+2x3", [1, 3, 5, 7]),
        ("5x2", [5, 5, 5]),
        ("10-1x2 _ 4", [10, 9, 8, None, 4]),
        ("_x2 stale 1e3", [None, None, None, 1000.0]),
        ("-2+0.5x1", [-2, -1.5]),
        ("7", [7]),
    ],
)
def test_expanding_notation_matches_promtool(text: str, expected: list[float | None]) -> None:
    assert expand_values(text) == expected


@pytest.mark.parametrize("bad", ["1+2", "1x", "x3", "1++2x3", "abc"])
def test_unreadable_values_name_the_term(bad: str) -> None:
    with pytest.raises(ValueError, match=r"cannot read|needs a count"):
        expand_values(bad)


def test_series_selector_parses_labels_with_escapes() -> None:
    name, labels = parse_series('queries{warehouse="RISK_WH", service="a \\"b\\""}')
    assert name == "queries"
    assert labels == {"warehouse": "RISK_WH", "service": 'a "b"'}
    assert parse_series("credits_used") == ("credits_used", {})
    with pytest.raises(ValueError, match="cannot read the labels"):
        parse_series("queries{warehouse=RISK_WH}")


def test_the_shipped_rule_tests_pass(capsys: pytest.CaptureFixture[str]) -> None:
    """Every example rule and SLO is covered by tests/rules, and they pass (`make test` runs them here)."""
    code = main(["test", str(REPO / "tests" / "rules")])
    out = capsys.readouterr().out
    assert code == ExitCode.OK, out
    assert "FAIL" not in out
    text = "".join(p.read_text() for p in (REPO / "tests" / "rules").glob("*.yaml"))
    loaded = load_config(REPO / "examples" / "embedded.yaml")
    for name in [r.name for r in loaded.rules] + [s.name for s in loaded.slos]:
        assert f"alertname: {name}" in text, f"{name} has no rule test"


def _write(tmp: Path, body: str) -> Path:
    path = tmp / "latency.test.yaml"
    path.write_text(f"rule_files: [{RULES}]\n" + body)
    return path


GOOD_SERIES = """\
    input_series:
      - series: 'queries{warehouse="RISK_WH", service="risk-engine", domain="risk"}'
        values: '5x59'
      - series: 'latency_ms{warehouse="RISK_WH", service="risk-engine", domain="risk"}'
        values: '25000x9 150000x49'
"""


def test_a_mismatch_exits_1_with_a_readable_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(
        tmp_path,
        "tests:\n  - name: wrong severity\n"
        + GOOD_SERIES
        + """\
    alert_rule_test:
      - eval_time: 40m
        alertname: risk-engine-latency-p95
        exp_alerts:
          - exp_labels: {team: risk-platform, warehouse: RISK_WH, service: risk-engine}
            severity: sev3
""",
    )
    code = main(["test", str(path)])
    out = " ".join(capsys.readouterr().out.split())
    assert code == ExitCode.ALERTS_FIRING
    assert f"FAIL {path}:10:9: wrong severity: risk-engine-latency-p95 at eval_time 40m" in out
    assert 'missing: {service="risk-engine", team="risk-platform", warehouse="RISK_WH"} sev3 firing' in out
    assert 'unexpected: {service="risk-engine", team="risk-platform", warehouse="RISK_WH"} sev2 firing' in out
    assert "0/1 check(s) passed" in out


def test_an_expectation_of_silence_fails_when_the_rule_fires(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(
        tmp_path,
        "tests:\n  - name: quiet\n"
        + GOOD_SERIES
        + "    alert_rule_test:\n      - {eval_time: 40m, alertname: risk-engine-latency-p95}\n",
    )
    assert main(["test", str(path)]) == ExitCode.ALERTS_FIRING
    out = " ".join(capsys.readouterr().out.split())
    assert "expected: (no alert)" in out


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        (
            "tests:\n  - input_series: []\n    alert_rule_test:\n      - {eval_time: 5m, alertname: no-such-rule}\n",
            ":5:36:",
            "unknown rule 'no-such-rule'; the rule files define: dashboard-latency-p95, risk-engine-latency-p95",
        ),
        (
            "tests:\n  - input_series:\n      - {series: 'querys{warehouse=\"X\"}', values: '1x3'}\n"
            "    alert_rule_test:\n      - {eval_time: 5m, alertname: risk-engine-latency-p95}\n",
            ":4:18:",
            "unknown series 'querys'",
        ),
        (
            "tests:\n  - input_series:\n      - {series: 'queries{pool=\"X\"}', values: '1x3'}\n"
            "    alert_rule_test:\n      - {eval_time: 5m, alertname: risk-engine-latency-p95}\n",
            ":4:18:",
            "queries has no label(s) pool; its labels: warehouse, service, domain",
        ),
        (
            "tests:\n  - input_series:\n      - {series: 'queries', values: '1+2'}\n"
            "    alert_rule_test:\n      - {eval_time: 5m, alertname: risk-engine-latency-p95}\n",
            ":4:37:",
            "a step needs a count",
        ),
        (
            "tests:\n  - input_series:\n      - {series: 'avg_queued_load{warehouse=\"X\"}', values: '1x3'}\n"
            "    alert_rule_test:\n      - {eval_time: 5m, alertname: risk-engine-latency-p95}\n",
            ":4:18:",
            "avg_queued_load is stored in 5m buckets: give this test interval: 5m",
        ),
        (
            "tests:\n  - alert_rule_test:\n      - {eval_time: 5m, alertname: risk-engine-latency-p95, typo: 1}\n",
            ":4:61:",
            "unknown field",
        ),
    ],
)
def test_bad_test_files_exit_3_with_file_line_col(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, where: str, message: str
) -> None:
    path = _write(tmp_path, body)
    code = main(["test", str(path)])
    err = " ".join(capsys.readouterr().err.split())
    assert code == ExitCode.BAD_CONFIG
    assert f"{path}{where}" in err
    assert message in err


def test_a_missing_rule_file_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.test.yaml"
    path.write_text("rule_files: [nope.yaml]\ntests:\n  - alert_rule_test: [{eval_time: 1m, alertname: a}]\n")
    assert main(["test", str(path)]) == ExitCode.BAD_CONFIG
    err = " ".join(capsys.readouterr().err.split())
    assert f"{path}:1:14: rule_files[0]: no such file: {tmp_path / 'nope.yaml'}" in err


def test_no_test_files_is_an_error_not_a_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(tmp_path)]) == ExitCode.BAD_CONFIG
    assert "no test files" in capsys.readouterr().err


def test_latency_ms_feeds_the_mean_of_successful_queries_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """latency_mean_ms divides the successful queries' elapsed sum by their count, as the pushdown does: half
    the queries failing must not double the mean."""
    rule = tmp_path / "mean.yaml"
    rule.write_text(
        "apiVersion: sre-agent/v1\nkind: Threshold\nmetadata: {name: mean-latency}\n"
        "spec:\n  metric: latency_mean_ms\n  group_by: [warehouse]\n  window: 5m\n"
        "  thresholds: [{severity: sev3, value: 1500}]\n"
    )
    test = tmp_path / "mean.test.yaml"
    test.write_text(
        f"rule_files: [{rule}]\ntests:\n  - input_series:\n"
        "      - {series: 'queries{warehouse=\"W\"}', values: '10x20'}\n"
        "      - {series: 'failed{warehouse=\"W\"}', values: '5x20'}\n"
        "      - {series: 'latency_ms{warehouse=\"W\"}', values: '1000x20'}\n"
        "    alert_rule_test:\n      - {eval_time: 15m, alertname: mean-latency}\n"
    )
    code = main(["test", str(test)])
    assert code == ExitCode.OK, capsys.readouterr().out


def test_a_rule_file_of_budgets_is_what_its_test_evaluates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The rules a test evaluates are its rule files' documents, budgets and anomaly rules included (the agent
    config's own are not evaluated): a budget of the file is a known alertname, and one hour of metering far under
    the month's allowance raises none of its signals."""
    path = tmp_path / "budgets.test.yaml"
    path.write_text(
        f"rule_files: [{REPO / 'rules' / 'cost-budgets.yaml'}]\n"
        """\
evaluation_interval: 1m
tests:
  - name: a quiet first hour of the month
    start: 2026-11-01T00:00:00Z
    interval: 1h
    input_series:
      - series: 'credits_used{warehouse="TRANSFORM_WH"}'
        values: '0.1x3'
    alert_rule_test:
      - eval_time: 3h
        alertname: transform-wh-monthly
"""
    )
    code = main(["test", str(path)])
    out = capsys.readouterr().out
    assert code == ExitCode.OK, out
    assert "1/1 check(s) passed" in out
