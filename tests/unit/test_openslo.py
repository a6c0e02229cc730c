"""Unit tests of OpenSLO v1 import and export (``sre_agent.config.openslo``) and ``sre-agent slo export --openslo``.

Documents are written into ``tmp_path``. Where the position of a problem matters, the YAML is a literal in the
test and the expected ``line:col`` (1-based) is that of a unique fragment of the literal, found with :func:`_at`.
"""

from __future__ import annotations

import textwrap
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from sre_agent.cli import main
from sre_agent.config.loader import Documents, load_documents
from sre_agent.config.openslo import from_openslo, to_openslo
from sre_agent.config.slo import SloDoc
from sre_agent.config.yaml_source import load_yaml_file
from sre_agent.errors import ConfigIssue
from sre_agent.exit_codes import ExitCode

REPO = Path(__file__).resolve().parents[2]
SLO_DIR = REPO / "slo_definitions"
PORTFOLIO = SLO_DIR / "portfolio-api.openslo.yaml"
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


# ---------------------------------------------------------------------------------------------- helpers


def _errors(found: Documents) -> list[ConfigIssue]:
    return [i for i in found.issues if i.severity == "error"]


def _at(text: str, fragment: str, value: str | None = None) -> tuple[int, int]:
    """1-based (line, column) of ``value`` (default: the fragment itself) on the one line holding ``fragment``."""
    hits = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(hits) == 1, f"fragment {fragment!r} must occur on exactly one line, found {len(hits)}"
    number, line = hits[0]
    start = line.index(fragment)
    column = line.index(value, start) if value is not None else start
    return number, column + 1


def _shipped() -> dict[str, SloDoc]:
    found = load_documents([SLO_DIR])
    assert _errors(found) == []
    return {slo.name: slo for slo in found.slos}


SHIPPED = _shipped()


def _round_trip(slo: SloDoc, folder: Path) -> SloDoc:
    """``to_openslo`` → YAML text → file → ``load_documents``: the re-imported SLO."""
    path = folder / f"{slo.name}.openslo.yaml"
    path.write_text(yaml.safe_dump_all(to_openslo(slo), sort_keys=False), encoding="utf-8")
    found = load_documents([path])
    assert _errors(found) == [], [str(i) for i in found.issues]
    assert [s.name for s in found.slos] == [slo.name]
    return found.slos[0]


def _differences(a: dict[str, Any], b: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {key: (a.get(key), b.get(key)) for key in sorted(a.keys() | b.keys()) if a.get(key) != b.get(key)}


# ---------------------------------------------------------------------------------------------- import


def test_shipped_portfolio_api_openslo_file_imports_as_a_28d_availability_slo_with_two_tiers() -> None:
    docs, issues = load_yaml_file(PORTFOLIO)
    assert issues == []

    converted, issues = from_openslo(docs)

    assert issues == []
    assert len(converted) == 1
    slo, source = converted[0]
    assert source.data["kind"] == "SLO"
    assert slo.name == "portfolio-api-availability"
    assert slo.metadata.labels == {"team": "portfolio-technology"}
    spec = slo.spec
    assert spec.objective == Decimal("99.5")
    assert spec.period.rolling == timedelta(days=28)
    assert spec.period.calendar is None
    assert spec.budgeting_method == "Occurrences"
    assert spec.sli.kind == "availability"
    assert spec.filters.used() == {"service": ["portfolio-api"]}
    assert spec.service == "portfolio-api"
    assert spec.description == "99.5 % of portfolio-api queries succeed over 28 days."
    # owner, domain and runbook travel in sre-agent.io/ annotations.
    assert (spec.owner, spec.domain, spec.runbook) == (
        "portfolio-technology",
        "portfolio-management",
        "slo-portfolio-api",
    )
    tiers = [(t.severity, t.long, t.short, t.budget_percent, t.burn_rate) for t in spec.alerting.effective_tiers()]
    assert tiers == [
        ("page", HOUR, 5 * MINUTE, Decimal(2), None),
        ("ticket", DAY, 2 * HOUR, Decimal(10), None),
    ]
    # The budget share, not the file's threshold, defines the factor: 28d gives the Workbook's 13.44 and 2.8.
    assert [t.factor(spec.period.length) for t in spec.alerting.tiers or []] == [Decimal("13.44"), Decimal("2.8")]


def test_shipped_folder_loads_every_slo_including_the_openslo_one() -> None:
    found = load_documents([SLO_DIR])

    assert _errors(found) == []
    assert "portfolio-api-availability" in {s.name for s in found.slos}
    assert found.origin["portfolio-api-availability"] == str(PORTFOLIO)
    assert found.origin["risk-calculation-latency"] == str(SLO_DIR / "risk.yaml")


def test_one_file_may_mix_sre_agent_and_openslo_documents(tmp_path: Path) -> None:
    native = textwrap.dedent(
        """\
        apiVersion: sre-agent/v1
        kind: SLO
        metadata: {name: native-slo}
        spec:
          service: svc
          owner: team-a
          sli: {kind: availability}
          objective: 99
          period: {rolling: 28d}
        ---
        """
    )
    path = tmp_path / "mixed.yaml"
    path.write_text(native + PORTFOLIO.read_text(encoding="utf-8"), encoding="utf-8")

    found = load_documents([path])

    assert _errors(found) == []
    assert sorted(s.name for s in found.slos) == ["native-slo", "portfolio-api-availability"]
    assert found.origin == {"native-slo": str(path), "portfolio-api-availability": str(path)}


def test_condition_without_annotations_uses_a_twelfth_of_the_lookback_and_the_threshold_as_burn_rate(
    tmp_path: Path,
) -> None:
    text = textwrap.dedent(
        """\
        apiVersion: openslo/v1
        kind: SLI
        metadata: {name: sli}
        spec:
          ratioMetric:
            counter: false
            good: {metricSource: {type: Snowflake, spec: {sli: {kind: latency, threshold_ms: 800}}}}
            total: {metricSource: {type: Snowflake, spec: {sli: {kind: latency, threshold_ms: 800}}}}
        ---
        apiVersion: openslo/v1
        kind: AlertCondition
        metadata: {name: six-hour-burn}
        spec:
          severity: critical
          condition: {kind: burnrate, op: gte, threshold: 6, lookbackWindow: 6h, alertAfter: 0m}
        ---
        apiVersion: openslo/v1
        kind: AlertPolicy
        metadata: {name: six-hour-policy}
        spec:
          conditions: [{conditionRef: six-hour-burn}]
        ---
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: calendar-slo, labels: {team: [alpha, beta]}}
        spec:
          service: svc
          indicatorRef: sli
          timeWindow:
            - duration: 1M
              calendar: {startTime: "2026-01-01 00:00:00", timeZone: Europe/London}
          objectives: [{targetPercent: 99.9}]
          alertPolicies: [{alertPolicyRef: six-hour-policy}]
        """
    )
    path = tmp_path / "slo.yaml"
    path.write_text(text, encoding="utf-8")

    found = load_documents([path])

    assert _errors(found) == []
    (slo,) = found.slos
    spec = slo.spec
    assert spec.sli.kind == "latency"
    assert spec.sli.threshold_ms == 800
    assert (spec.period.calendar, spec.period.time_zone) == ("month", "Europe/London")
    assert spec.objective == Decimal("99.9")
    # No sre-agent.io/owner annotation: the owner is the team label (a list label is joined).
    assert slo.metadata.labels == {"team": "alpha,beta"}
    assert spec.owner == "alpha,beta"
    (tier,) = spec.alerting.tiers or []
    assert (tier.severity, tier.long, tier.short) == ("page", 6 * HOUR, 30 * MINUTE)
    assert (tier.burn_rate, tier.budget_percent) == (Decimal(6), None)


# ---------------------------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_slo_round_trips_through_openslo_unchanged(name: str, tmp_path: Path) -> None:
    original = SHIPPED[name]

    back = _round_trip(original, tmp_path)

    before, after = original.spec.model_dump(), back.spec.model_dump()
    assert after == before, f"fields changed by the round trip: {_differences(before, after)}"


CUSTOM = """\
apiVersion: sre-agent/v1
kind: SLO
metadata: {name: weekly-timeslices, labels: {team: sre}}
spec:
  service: svc
  owner: own
  domain: dom
  description: Ratio time slices over a calendar week in Tokyo
  runbook: rb
  sli: {kind: availability, cancelled: bad}
  filters: {warehouse: [WH1], user: [U1], pattern_hash: [2c32db436d745be3c14821a2c2289732]}
  objective: 99.5
  period: {calendar: week, time_zone: Asia/Tokyo}
  budgeting_method: Timeslices
  timeslice: 10m
  timeslice_target: 0.995
  alerting:
    page_severity: sev1
    min_events: 5
    tiers:
      - {severity: page, long: 2h, short: 10m, burn_rate: 20}
      - {severity: ticket, long: 1d, short: 2h, budget_percent: 12.5}
  exclusions:
    - {reason: one-off maintenance, start: "2026-11-07T02:00:00Z", end: "2026-11-07T04:00:00Z"}
    - reason: weekly batch window
      rrule: FREQ=WEEKLY;BYDAY=SU
      start: "2026-01-04T01:00:00"
      time_zone: Asia/Tokyo
      duration: 90m
---
apiVersion: sre-agent/v1
kind: SLO
metadata: {name: daily-latency}
spec:
  service: svc
  owner: own
  sli: {kind: latency, threshold_ms: 250, failures: bad}
  objective: 90
  period: {calendar: day, time_zone: Europe/Amsterdam}
  alerting:
    tiers:
      - {severity: ticket, long: 6h, short: 30m, budget_percent: 50}
---
apiVersion: sre-agent/v1
kind: SLO
metadata: {name: p995-slices}
spec:
  service: svc
  owner: own
  sli: {kind: latency_percentile, percentile: 99.5, threshold_ms: 1200, min_queries: 7}
  objective: 99.123456
  period: {rolling: 7d}
  budgeting_method: Timeslices
  timeslice: 1m
  alerting:
    tiers:
      - {severity: page, long: 1h, short: 5m, budget_percent: 8}
---
apiVersion: sre-agent/v1
kind: SLO
metadata: {name: task-freshness}
spec:
  service: svc
  owner: own
  sli: {kind: freshness, source: task, task: MY_TASK, max_age: 90s}
  objective: 99
  period: {calendar: month}
  budgeting_method: Timeslices
  timeslice: 1m
  alerting:
    tiers:
      - {severity: page, long: 1h, short: 5m, budget_percent: 8}
"""


def test_calendar_time_zones_exclusions_timeslices_and_explicit_factors_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "custom.yaml"
    path.write_text(CUSTOM, encoding="utf-8")
    found = load_documents([path])
    assert _errors(found) == []
    assert len(found.slos) == 4
    out = tmp_path / "out"
    out.mkdir()

    for original in found.slos:
        back = _round_trip(original, out)

        before, after = original.spec.model_dump(), back.spec.model_dump()
        assert after == before, f"{original.name}: {_differences(before, after)}"
        assert back.metadata.labels == original.metadata.labels

    weekly = next(s for s in found.slos if s.name == "weekly-timeslices")
    back = _round_trip(weekly, out)
    assert (back.spec.period.calendar, back.spec.period.time_zone) == ("week", "Asia/Tokyo")
    assert [e.reason for e in back.spec.exclusions] == ["one-off maintenance", "weekly batch window"]
    assert back.spec.exclusions[1].rrule == "FREQ=WEEKLY;BYDAY=SU"
    assert (back.spec.budgeting_method, back.spec.timeslice, back.spec.timeslice_target) == (
        "Timeslices",
        10 * MINUTE,
        Decimal("0.995"),
    )


def test_round_trip_keeps_a_tiers_own_min_events_guard(tmp_path: Path) -> None:
    """trade-analytics-dashboard-p95 guards each tier with min_events so one slow slice cannot page."""
    original = SHIPPED["trade-analytics-dashboard-p95"]
    assert [t.min_events for t in original.spec.alerting.tiers or []] == [3, 6, 12, 24]

    back = _round_trip(original, tmp_path)

    assert [t.min_events for t in back.spec.alerting.tiers or []] == [3, 6, 12, 24]


def test_slo_export_cli_prints_openslo_documents_with_gte_burn_rate_conditions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rc = main(["slo", "export", "--openslo", str(SLO_DIR / "risk.yaml")])

    out, err = capsys.readouterr()
    assert rc == ExitCode.OK, err
    assert out.count("\n---\n") >= 1  # a multi-document stream
    docs = list(yaml.safe_load_all(out))
    assert {d["apiVersion"] for d in docs} == {"openslo/v1"}
    kinds = [d["kind"] for d in docs]
    assert set(kinds) == {"SLI", "AlertCondition", "AlertPolicy", "SLO"}
    # Two SLOs with the four default tiers each: one AlertCondition + one AlertPolicy per window pair.
    assert (kinds.count("SLO"), kinds.count("SLI"), kinds.count("AlertCondition"), kinds.count("AlertPolicy")) == (
        2,
        2,
        8,
        8,
    )
    conditions = {d["metadata"]["name"]: d for d in docs if d["kind"] == "AlertCondition"}
    for cond in conditions.values():
        assert cond["spec"]["condition"]["kind"] == "burnrate"
        assert cond["spec"]["condition"]["op"] == "gte"
    latency = [c for name, c in conditions.items() if name.startswith("risk-calculation-latency-")]
    assert sorted(
        (c["spec"]["severity"], c["spec"]["condition"]["lookbackWindow"], round(c["spec"]["condition"]["threshold"], 4))
        for c in latency
    ) == sorted([("page", "1h", 13.44), ("page", "6h", 5.6), ("ticket", "1d", 2.8), ("ticket", "3d", 0.9333)])
    policies = {d["metadata"]["name"]: d for d in docs if d["kind"] == "AlertPolicy"}
    for policy in policies.values():
        (ref,) = policy["spec"]["conditions"]
        assert ref["conditionRef"] in conditions
    slos = {d["metadata"]["name"]: d for d in docs if d["kind"] == "SLO"}
    assert set(slos) == {"risk-calculation-availability", "risk-calculation-latency"}
    sli_names = {d["metadata"]["name"] for d in docs if d["kind"] == "SLI"}
    for slo in slos.values():
        assert slo["spec"]["indicatorRef"] in sli_names
        assert slo["spec"]["timeWindow"] == [{"duration": "28d", "isRolling": True}]
        assert slo["spec"]["objectives"][0]["target"] == 0.995
        assert {p["alertPolicyRef"] for p in slo["spec"]["alertPolicies"]} <= set(policies)

    # What was printed is importable again.
    path = tmp_path / "exported.yaml"
    path.write_text(out, encoding="utf-8")
    found = load_documents([path])
    assert _errors(found) == []
    assert sorted(s.name for s in found.slos) == sorted(slos)


def test_slo_export_cli_prints_exactly_the_documents_of_to_openslo(capsys: pytest.CaptureFixture[str]) -> None:
    """Descriptions, exclusion annotations (JSON with times) and so on reach stdout unaltered."""
    rc = main(["slo", "export", "--openslo", str(SLO_DIR / "ingestion.yaml")])

    out, err = capsys.readouterr()
    assert rc == ExitCode.OK, err
    expected = [doc for name in _names_in("ingestion.yaml") for doc in to_openslo(SHIPPED[name])]
    assert list(yaml.safe_load_all(out)) == expected


def _names_in(file: str) -> list[str]:
    docs, _ = load_yaml_file(SLO_DIR / file)
    return [d.data["metadata"]["name"] for d in docs]


# ---------------------------------------------------------------------------------------------- located errors

GOOD_SOURCE = "{metricSource: {type: Snowflake, spec: {sli: {kind: availability}}}}"
BROKEN = f"""\
apiVersion: openslo/v1
kind: SLI
metadata: {{name: good-sli}}
spec:
  ratioMetric:
    counter: false
    good: {GOOD_SOURCE}
    total: {GOOD_SOURCE}
---
apiVersion: openslo/v1
kind: SLI
metadata: {{name: bad-ratio-sli}}
spec:
  ratioMetric:
    counter: false
    good: {GOOD_SOURCE}
    bad: {GOOD_SOURCE}
    total: {GOOD_SOURCE}
---
apiVersion: openslo/v1
kind: SLI
metadata: {{name: raw-sql-sli}}
spec:
  ratioMetric:
    counter: false
    good: {{metricSource: {{metricSourceRef: prod, spec: {{query: "SELECT COUNT(*) FROM RUNS WHERE OK"}}}}}}
    total: {{metricSource: {{metricSourceRef: prod, spec: {{query: "SELECT COUNT(*) FROM RUNS"}}}}}}
---
apiVersion: openslo/v1
kind: AlertCondition
metadata: {{name: fast-burn}}
spec:
  severity: page
  condition: {{kind: burnrate, op: gte, threshold: 13.44, lookbackWindow: 1h, alertAfter: 0m}}
---
apiVersion: openslo/v1
kind: AlertCondition
metadata: {{name: slow-burn}}
spec:
  severity: ticket
  condition: {{kind: burnrate, op: gte, threshold: 2.8, lookbackWindow: 1d, alertAfter: 0m}}
---
apiVersion: openslo/v1
kind: AlertCondition
metadata: {{name: budget-left}}
spec:
  severity: ticket
  condition: {{kind: budgetremaining, op: gte, threshold: 0.5, lookbackWindow: 1h}}
---
apiVersion: openslo/v1
kind: AlertCondition
metadata: {{name: readme-burn}}
spec:
  severity: page
  condition: {{kind: burnrate, op: lte, threshold: 2, lookbackWindow: 1h}}
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {{name: fine-policy}}
spec:
  conditions: [{{conditionRef: fast-burn}}]
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {{name: two-conditions}}
spec:
  conditions: [{{conditionRef: fast-burn}}, {{conditionRef: slow-burn}}]
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {{name: no-data-policy}}
spec:
  alertWhenNoData: true
  conditions: [{{conditionRef: fast-burn}}]
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {{name: budget-policy}}
spec:
  conditions: [{{conditionRef: budget-left}}]
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {{name: readme-policy}}
spec:
  conditions: [{{conditionRef: readme-burn}}]
"""


def _slo(
    name: str,
    *,
    indicator: str = "good-sli",
    method: str = "Occurrences",
    objective: str = "{target: 0.99}",
    policy: str = "fine-policy",
) -> str:
    return f"""\
---
apiVersion: openslo/v1
kind: SLO
metadata: {{name: {name}}}
spec:
  service: svc
  indicatorRef: {indicator}
  timeWindow: [{{duration: 28d, isRolling: true}}]
  budgetingMethod: {method}
  objectives: [{objective}]
  alertPolicies: [{{alertPolicyRef: {policy}}}]
"""


BROKEN += "".join(
    [
        _slo("valid-slo"),
        _slo("slo-composite", objective="{target: 0.99, compositeWeight: 1}"),
        _slo("slo-bad-ratio", indicator="bad-ratio-sli"),
        _slo("slo-raw-sql", indicator="raw-sql-sli"),
        _slo("slo-two-conditions", policy="two-conditions"),
        _slo("slo-no-data", policy="no-data-policy"),
        _slo("slo-ratio-timeslices", method="RatioTimeslices"),
        _slo("slo-unknown-sli", indicator="no-such-sli"),
        _slo("slo-unknown-policy", policy="no-such-policy"),
        _slo("slo-budget-remaining", policy="budget-policy"),
        _slo("slo-lte", policy="readme-policy"),
    ]
)

# (fragment, value at the reported column, reported path, message fragment): one per broken SLO.
EXPECTED_ISSUES = [
    ("compositeWeight: 1", "1", "spec.objectives[0].compositeWeight", "unsupported OpenSLO field 'compositeWeight'"),
    ("    bad: {", "{", "spec.ratioMetric.bad", "express the SLI as good/total"),
    (
        'spec: {query: "SELECT COUNT(*) FROM RUNS WHERE OK"}',
        "{query",
        "spec.ratioMetric.good.metricSource.spec",
        "raw queries",
    ),
    (
        "conditions: [{conditionRef: fast-burn}, {conditionRef: slow-burn}]",
        "[",
        "spec.conditions",
        "exactly one condition",
    ),
    ("alertWhenNoData: true", "true", "spec.alertWhenNoData", "state unknown"),
    ("budgetingMethod: RatioTimeslices", "RatioTimeslices", "spec.budgetingMethod", "unsupported budgetingMethod"),
    ("indicatorRef: no-such-sli", "no-such-sli", "spec.indicatorRef", "unknown SLI 'no-such-sli'"),
    ("alertPolicyRef: no-such-policy", "no-such-policy", "spec.alertPolicies[0].alertPolicyRef", "unknown AlertPolicy"),
    ("kind: budgetremaining", "budgetremaining", "spec.condition.kind", "only burnrate conditions"),
    ("op: lte", "lte", "spec.condition.op", "use op gte"),
]


def test_every_unsupported_openslo_construct_gets_its_own_located_issue_in_one_run(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")

    found = load_documents([path])

    errors = sorted(_errors(found), key=lambda i: (i.line, i.column))
    expected = sorted(
        [(*_at(BROKEN, fragment, value), where, message) for fragment, value, where, message in EXPECTED_ISSUES]
    )
    assert len(errors) == len(expected), [str(i) for i in errors]
    for issue, (line, column, where, message) in zip(errors, expected, strict=True):
        assert (issue.file, issue.line, issue.column, issue.path) == (str(path), line, column, where), str(issue)
        assert message in issue.message
    # The one valid SLO in the same file still imports.
    assert [s.name for s in found.slos] == ["valid-slo"]


def test_cli_reports_every_openslo_error_with_file_line_col_and_exits_bad_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("broken.yaml").write_text(BROKEN, encoding="utf-8")

    rc = main(["slo", "export", "--openslo", "broken.yaml"])

    out, err = capsys.readouterr()
    assert rc == ExitCode.BAD_CONFIG
    assert out == ""
    for fragment, value, where, message in EXPECTED_ISSUES:
        line, column = _at(BROKEN, fragment, value)
        assert f"broken.yaml:{line}:{column}: {where}: " in err
        assert message in err
    assert f"{len(EXPECTED_ISSUES)} config error(s)" in err


def test_invalid_window_duration_and_kind_are_located(tmp_path: Path) -> None:
    wanted = ("{name: good-sli}", "{name: fast-burn}", "{name: fine-policy}")
    base = "---\n".join(d for d in BROKEN.split("---\n") if any(name in d for name in wanted))
    text = base + (
        "---\n"
        "apiVersion: openslo/v1\n"
        "kind: CompositeSLO\n"
        "metadata: {name: composite}\n"
        "spec: {}\n"
        + _slo("slo-bad-duration").replace("duration: 28d", "duration: 4 weeks")
        + _slo("slo-100-percent", objective="{targetPercent: 100}")
    )
    path = tmp_path / "more.yaml"
    path.write_text(text, encoding="utf-8")

    found = load_documents([path])

    located = sorted((i.line, i.column, i.message) for i in _errors(found))
    assert [(line, col) for line, col, _ in located] == [
        _at(text, "kind: CompositeSLO", "CompositeSLO"),
        _at(text, "duration: 4 weeks", "4 weeks"),
        # A schema error after conversion is located at the SLO's spec (its first key, two lines below the name).
        (_at(text, "name: slo-100-percent")[0] + 2, 3),
    ]
    assert "unsupported OpenSLO kind 'CompositeSLO'" in located[0][2]
    assert "invalid duration '4 weeks'" in located[1][2]
    assert "objective must be a percentage strictly between 0 and 100" in located[2][2]


PORTFOLIO_TEXT = PORTFOLIO.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "fragment", "value"),
    [
        pytest.param(
            "sre-agent.io/short-window: 5m",
            "sre-agent.io/short-window: 5 minutes",
            "short-window: 5 minutes",
            "5 minutes",
            id="short-window-annotation",
        ),
        pytest.param("target: 0.995", "targetPercent: high", "targetPercent: high", "high", id="targetPercent"),
        pytest.param(
            "sre-agent.io/runbook: slo-portfolio-api",
            "sre-agent.io/runbook: slo-portfolio-api\n    sre-agent.io/exclusions: not json",
            "exclusions: not json",
            "not json",
            id="exclusions-annotation",
        ),
    ],
)
def test_malformed_values_in_an_openslo_file_are_located_issues_not_a_crash(
    old: str, new: str, fragment: str, value: str, tmp_path: Path
) -> None:
    text = PORTFOLIO_TEXT.replace(old, new)
    assert text != PORTFOLIO_TEXT
    path = tmp_path / "portfolio.openslo.yaml"
    path.write_text(text, encoding="utf-8")

    found = load_documents([path])  # must not raise

    errors = _errors(found)
    assert len(errors) == 1, [str(i) for i in found.issues]
    assert errors[0].file == str(path)
    assert errors[0].line == _at(text, fragment, value)[0]
    assert found.slos == []
