"""Unit tests of ``kind: AlertRouting`` and ``kind: Silence`` documents: every mistake is reported with the
``file:line:col`` to fix and a message that says what is wrong; the shipped routing and silence load clean.

Files are written into ``tmp_path``. The YAML is a literal in this file and each expected ``line:col``
(1-based) was counted from it by hand. Receivers are checked against the sinks of the shipped embedded
config: ``console`` and ``alerts-file``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sre_agent.alerting.matchers import alert_labels
from sre_agent.alerting.routing import build_routing, inhibited_by
from sre_agent.cli import main
from sre_agent.config.agent import AgentConfig
from sre_agent.config.loader import Documents, load_config, load_documents
from sre_agent.errors import ConfigIssue
from sre_agent.exit_codes import ExitCode

REPO = Path(__file__).resolve().parents[2]
EMBEDDED = REPO / "examples" / "embedded.yaml"

# Line numbers of these literals are what the located-error tests below count from.
ROUTING_YAML = """\
apiVersion: sre-agent/v1
kind: AlertRouting
metadata:
  name: team-routing
spec:
  route:
    receiver: alerts-file
    group_wait: 30s
    routes:
      - matchers: ['severity=~"sev1|sev2"']
        receiver: console
        continue: true
      - matchers: ['warehouse=~"RISK_.*"']
        receiver: alerts-file
        repeat_interval: 24h
  inhibit_rules:
    - source_matchers: ['rule="warehouse-queueing"', 'severity="sev2"']
      target_matchers: ['rule="risk-latency"']
      equal: [warehouse]
"""

SILENCE_YAML = """\
apiVersion: sre-agent/v1
kind: Silence
metadata:
  name: risk-rebuild
spec:
  matchers: ['warehouse="RISK_WH"', 'rule=~"risk-.*"']
  start: 2026-11-25T20:00:00Z
  end: 2026-11-25T22:00:00Z
  reason: index rebuild CHG-1234
  author: me
"""

RULE_YAML = """\
apiVersion: sre-agent/v1
kind: Threshold
metadata:
  name: risk-latency
spec:
  metric: error_rate
  window: 10m
  thresholds:
    - {severity: sev3, value: 0.1}
    - {severity: sev2, value: 0.5}
"""


# ---------------------------------------------------------------------------------------------- helpers


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def agent() -> AgentConfig:
    """The shipped embedded config: its sinks are ``console`` and ``alerts-file``."""
    return load_config(EMBEDDED).config


def load(folder: Path, agent: AgentConfig) -> Documents:
    return load_documents([folder], agent)


def located(issues: list[ConfigIssue]) -> list[tuple[int, int, str, str]]:
    return [(i.line, i.column, i.path, i.message) for i in issues]


# ---------------------------------------------------------------------------------------------- valid templates


def test_routing_and_silence_templates_are_themselves_valid(tmp_path: Path, agent: AgentConfig) -> None:
    write_text(tmp_path / "routing.yaml", ROUTING_YAML)
    write_text(tmp_path / "silence.yaml", SILENCE_YAML)
    write_text(tmp_path / "rule.yaml", RULE_YAML)

    found = load(tmp_path, agent)

    assert found.issues == []
    assert found.routing is not None
    assert found.routing.name == "team-routing"
    assert [r.name for r in found.rules] == ["risk-latency"]
    assert [(s.id, s.source) for s in found.silences] == [("git:risk-rebuild", str(tmp_path / "silence.yaml"))]
    tree = build_routing(found.routing, ["console", "alerts-file"])
    assert [r.path for r in tree.destinations({"severity": "sev2", "warehouse": "RISK_WH"})] == ["root.0", "root.1"]


# ---------------------------------------------------------------------------------------------- routing mistakes


@pytest.mark.parametrize(
    ("old", "new", "line", "column", "path", "message"),
    [
        pytest.param(
            "        receiver: console\n",
            "        receiver: pager\n",
            11,
            19,
            "spec.route.routes[0].receiver",
            "unknown receiver 'pager'; the configured sinks are: console, alerts-file",
            id="unknown-receiver",
        ),
        pytest.param(
            "  route:\n    receiver: alerts-file\n",
            "  route:\n    receiver: alert-file\n",
            7,
            15,
            "spec.route.receiver",
            "unknown receiver 'alert-file'; the configured sinks are: console, alerts-file",
            id="unknown-root-receiver",
        ),
        pytest.param(
            """'warehouse=~"RISK_.*"'""",
            """'warehouse=~"RISK_(WH"'""",
            13,
            20,
            "spec.route.routes[1].matchers[0]",
            """'warehouse=~"RISK_(WH"': invalid regex (RE2): missing ): RISK_(WH""",
            id="invalid-regex",
        ),
        pytest.param(
            """'rule="risk-latency"'""",
            """'rule=="risk-latency"'""",
            18,
            25,
            "spec.inhibit_rules[0].target_matchers[0]",
            """'rule=="risk-latency"': unbalanced quotes in the value""",
            id="bad-inhibit-matcher",
        ),
        pytest.param(
            "    group_wait: 30s\n",
            "    group_wiat: 30s\n",
            8,
            5,
            "spec.route.group_wiat",
            "unknown field",
            id="unknown-route-field",
        ),
        pytest.param(
            "      equal: [warehouse]\n",
            "      equals: [warehouse]\n",
            19,
            7,
            "spec.inhibit_rules[0].equals",
            "unknown field",
            id="unknown-inhibit-field",
        ),
        pytest.param(
            "        repeat_interval: 24h\n",
            "        repeat_interval: 24\n",
            15,
            26,
            "spec.route.routes[1].repeat_interval",
            "a duration needs a unit: write 24s or 24m, not a bare number",
            id="bare-number-duration",
        ),
        pytest.param(
            "  route:\n    receiver: alerts-file\n",
            "  route:\n",
            6,
            3,
            "spec",
            "the root route needs a receiver (the default for alerts no child route matches)",
            id="root-without-receiver",
        ),
        pytest.param(
            """      target_matchers: ['rule="risk-latency"']\n""",
            """      target_matchers: ['severity="sev2"', 'rule="warehouse-queueing"']\n""",
            17,
            7,
            "spec.inhibit_rules[0]",
            "source_matchers equal target_matchers: every source alert would inhibit itself",
            id="identical-inhibit-sides",
        ),
    ],
)
def test_routing_mistake_is_reported_at_its_line_and_column(
    tmp_path: Path, agent: AgentConfig, old: str, new: str, line: int, column: int, path: str, message: str
) -> None:
    assert old in ROUTING_YAML
    file = write_text(tmp_path / "routing.yaml", ROUTING_YAML.replace(old, new))

    issues = load(tmp_path, agent).issues

    assert located(issues) == [(line, column, path, message)]
    assert str(issues[0]) == f"{file}:{line}:{column}: {path}: {message}"


def test_inhibit_rule_whose_sides_can_match_one_alert_names_the_rules_at_the_rule(
    tmp_path: Path, agent: AgentConfig
) -> None:
    overlapping = ROUTING_YAML.replace(
        """['rule="warehouse-queueing"', 'severity="sev2"']""", """['severity="sev2"']"""
    ).replace("""['rule="risk-latency"']""", """['warehouse="RISK_WH"']""")
    file = write_text(tmp_path / "routing.yaml", overlapping)
    write_text(tmp_path / "rule.yaml", RULE_YAML)

    issues = load(tmp_path, agent).issues

    message = (
        "alerts of risk-latency can match both source_matchers and target_matchers, so one firing alert would "
        "inhibit its own kind; make the sides disjoint (e.g. by rule or severity)"
    )
    assert located(issues) == [(17, 7, "spec.inhibit_rules[0]", message)]
    assert str(issues[0]).startswith(f"{file}:17:7: spec.inhibit_rules[0]: alerts of risk-latency")


def test_inhibit_rule_disjoint_by_severity_is_accepted(tmp_path: Path, agent: AgentConfig) -> None:
    disjoint = ROUTING_YAML.replace(
        """['rule="warehouse-queueing"', 'severity="sev2"']""", """['severity="sev2"']"""
    ).replace("""['rule="risk-latency"']""", """['severity="sev3"']""")
    write_text(tmp_path / "routing.yaml", disjoint)
    write_text(tmp_path / "rule.yaml", RULE_YAML)

    assert load(tmp_path, agent).issues == []


def test_second_alert_routing_document_is_reported_at_its_kind_naming_the_first(
    tmp_path: Path, agent: AgentConfig
) -> None:
    first = write_text(tmp_path / "a-routing.yaml", ROUTING_YAML)
    second = write_text(
        tmp_path / "b-routing.yaml",
        RULE_YAML + "---\n" + ROUTING_YAML.replace("name: team-routing", "name: other-routing"),
    )

    found = load(tmp_path, agent)

    # RULE_YAML is 10 lines, `---` is line 11, so the second document's `kind:` is on line 13.
    assert located(found.issues) == [
        (13, 7, "kind", f"a second AlertRouting document (the first is in {first}): keep one")
    ]
    assert found.issues[0].file == str(second)
    assert found.routing is not None
    assert found.routing.name == "team-routing", "the first document is the one used"


def test_validate_command_prints_the_located_routing_error_and_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write_text(
        tmp_path / "routing.yaml", ROUTING_YAML.replace("        receiver: console\n", "        receiver: pager\n")
    )

    code = main(["validate", "-c", str(EMBEDDED), str(file)])

    out = capsys.readouterr().out
    assert code == ExitCode.BAD_CONFIG
    assert (
        f"{file}:11:19: spec.route.routes[0].receiver: unknown receiver 'pager'; the configured sinks are: "
        "console, alerts-file"
    ) in out
    assert "1 error(s)" in out


# ---------------------------------------------------------------------------------------------- silence mistakes

RECURRING_NO_END = """\
  rrule: FREQ=WEEKLY;BYDAY=SA
  start: 2026-11-07T06:00:00
  duration: 4h
  time_zone: America/New_York
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "column", "path", "message"),
    [
        pytest.param(
            "  end: 2026-11-25T22:00:00Z\n",
            "  end: 2026-11-25T19:00:00Z\n",
            6,
            3,
            "spec",
            "end must be after start",
            id="end-before-start",
        ),
        pytest.param(
            "  start: 2026-11-25T20:00:00Z\n  end: 2026-11-25T22:00:00Z\n",
            RECURRING_NO_END,
            6,
            3,
            "spec",
            "every silence expires: end the rrule with COUNT= or UNTIL=",
            id="recurring-without-expiry",
        ),
        pytest.param(
            "  end: 2026-11-25T22:00:00Z\n",
            "",
            6,
            3,
            "spec",
            "a one-off silence has start and end; a recurring one has rrule and duration",
            id="no-end",
        ),
        pytest.param(
            """'rule=~"risk-.*"'""",
            """'rule=~"risk-(.*"'""",
            6,
            37,
            "spec.matchers[1]",
            """'rule=~"risk-(.*"': invalid regex (RE2): missing ): risk-(.*""",
            id="invalid-regex",
        ),
        pytest.param(
            "  author: me\n",
            "  author: me\n  ticket: CHG-1234\n",
            11,
            3,
            "spec.ticket",
            "unknown field",
            id="unknown-field",
        ),
        pytest.param(
            "  reason: index rebuild CHG-1234\n",
            "",
            6,
            3,
            "spec.reason",
            "required field is missing",
            id="no-reason",
        ),
    ],
)
def test_silence_mistake_is_reported_at_its_line_and_column(
    tmp_path: Path, agent: AgentConfig, old: str, new: str, line: int, column: int, path: str, message: str
) -> None:
    assert old in SILENCE_YAML
    file = write_text(tmp_path / "silence.yaml", SILENCE_YAML.replace(old, new))

    found = load(tmp_path, agent)

    assert located(found.issues) == [(line, column, path, message)]
    assert str(found.issues[0]) == f"{file}:{line}:{column}: {path}: {message}"
    assert found.silences == []


def test_recurring_silence_ending_with_count_is_accepted(tmp_path: Path, agent: AgentConfig) -> None:
    counted = RECURRING_NO_END.replace("BYDAY=SA", "BYDAY=SA;COUNT=4")
    write_text(
        tmp_path / "silence.yaml",
        SILENCE_YAML.replace("  start: 2026-11-25T20:00:00Z\n  end: 2026-11-25T22:00:00Z\n", counted),
    )

    found = load(tmp_path, agent)

    assert found.issues == []
    assert [s.id for s in found.silences] == ["git:risk-rebuild"]
    assert found.silences[0].ends_at is not None
    assert found.silences[0].ends_at.isoformat() == "2026-11-28T15:00:00+00:00", "4th Saturday, 10:00 EST"


def test_duplicate_silence_name_names_the_first_file(tmp_path: Path, agent: AgentConfig) -> None:
    first = write_text(tmp_path / "a.yaml", SILENCE_YAML)
    write_text(tmp_path / "b.yaml", SILENCE_YAML)

    found = load(tmp_path, agent)

    assert located(found.issues) == [
        (4, 9, "metadata.name", f"duplicate silence name 'risk-rebuild' (first in {first})")
    ]
    assert len(found.silences) == 1


# ---------------------------------------------------------------------------------------------- shipped files


def test_shipped_routing_and_silence_load_with_the_shipped_rules_and_slos_without_any_issue(
    agent: AgentConfig,
) -> None:
    routing = REPO / "examples" / "routing" / "embedded.yaml"
    found = load_documents([REPO / "rules", routing, REPO / "slo_definitions"], agent, REPO / "runbooks")

    assert found.issues == []
    assert found.routing is not None
    assert found.routing.name == "capital-markets-platform"
    assert [(s.id, Path(s.source).name) for s in found.silences] == [("git:reporting-weekend-rebuild", "silences.yaml")]
    tree = build_routing(found.routing, [s.name for s in agent.spec.sinks])
    assert tree.receivers <= {"console", "alerts-file"}


def test_shipped_routing_pages_the_console_files_everything_and_inhibits_latency_behind_queueing(
    agent: AgentConfig,
) -> None:
    found = load_documents([REPO / "examples" / "routing" / "embedded.yaml"], agent)
    assert found.routing is not None
    tree = build_routing(found.routing, ["console", "alerts-file"])
    queueing = alert_labels("warehouse-queueing", {"warehouse": "RISK_WH"}, "sev2")
    latency = alert_labels("risk-engine-latency-p95", {"warehouse": "RISK_WH"}, "sev3")

    page = [(r.receivers, r.repeat_interval_s) for r in tree.destinations(queueing)]
    ticket = [(r.receivers, r.repeat_interval_s) for r in tree.destinations(latency)]

    assert page == [(("console",), 4 * 3600), (("alerts-file",), 4 * 3600)]
    assert ticket == [(("alerts-file",), 24 * 3600)]
    assert inhibited_by(tree, "lat", latency, {"q": queueing}) == "q"
    assert inhibited_by(tree, "lat", {**latency, "warehouse": "INGEST_WH"}, {"q": queueing}) is None
