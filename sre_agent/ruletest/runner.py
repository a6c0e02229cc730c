"""`sre-agent test`: replay rule unit-test files through the daemon's own evaluator and state machine.

Each test case gets a throwaway state store. Its input series are written as the rollups polling
would have stored (fully landed: every bucket complete), then the agent's ``evaluate`` runs every
``evaluation_interval`` from t = 0 to each ``eval_time`` — the same code, state machine (``for``,
``keep_firing_for``, SLO tiers, ticket hold) and store the daemon uses — and the alerts standing at
that instant are compared with ``exp_alerts``. Like promtool, only the alerts of the named rule are
checked, firing ones always and pending ones when a case expects one.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from pydantic import ValidationError

from sre_agent.config.durations import format_duration
from sre_agent.config.loader import LoadedConfig, load_documents, validation_issues
from sre_agent.config.slo import SloDoc
from sre_agent.config.yaml_source import Loc, YamlDocument, load_yaml_file
from sre_agent.daemon.evaluate import evaluate
from sre_agent.engine.rollups import ROLLUPS, SLO
from sre_agent.errors import ConfigError, ConfigIssue
from sre_agent.model import AlertState, to_epoch
from sre_agent.ruletest.inputs import AZURE_VALUE, LATENCY, SLO_SERIES, offline_agent, target, write_inputs
from sre_agent.ruletest.spec import DEFAULT_START, RuleTestFile, TestCase, parse_series


@dataclass
class CaseResult:
    """One alert check of one test case."""

    file: str
    line: int
    column: int
    test: str
    eval_time: timedelta
    alertname: str
    expected: list[str]
    got: list[str]

    @property
    def ok(self) -> bool:
        """True when the alerts match exactly."""
        return sorted(self.expected) == sorted(self.got)

    def diff(self) -> str:
        """The readable mismatch report."""
        head = (
            f"{self.file}:{self.line}:{self.column}: {self.test or 'test'}: {self.alertname} "
            f"at eval_time {format_duration(self.eval_time)}"
        )
        expected = "\n".join(f"    {a}" for a in sorted(self.expected)) or "    (no alert)"
        got = "\n".join(f"    {a}" for a in sorted(self.got)) or "    (no alert)"
        missing = sorted(set(self.expected) - set(self.got))
        extra = sorted(set(self.got) - set(self.expected))
        notes = [f"  missing: {m}" for m in missing] + [f"  unexpected: {e}" for e in extra]
        return "\n".join([head, "  expected:", expected, "  got:", got, *notes])


@dataclass
class FileResult:
    """Outcome of one test file."""

    path: Path
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def failures(self) -> list[CaseResult]:
        """Checks that did not match."""
        return [c for c in self.cases if not c.ok]


def _describe(labels: dict[str, str], severity: str | None, state: str) -> str:
    body = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{{{body}}}" + (f" {severity}" if severity else "") + f" {state}"


@dataclass
class _Loaded:
    doc: YamlDocument
    spec: RuleTestFile
    loaded: LoadedConfig
    names: set[str]


def _load(path: Path, base: LoadedConfig) -> _Loaded:
    docs, issues = load_yaml_file(path)
    if issues:
        raise ConfigError(issues)
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        raise ConfigError([ConfigIssue(str(path), 1, 1, "", "a rule test file is one mapping (rule_files, tests)")])
    doc = docs[0]
    try:
        spec = RuleTestFile.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(validation_issues(doc, exc)) from None
    paths = []
    problems: list[ConfigIssue] = []
    for i, name in enumerate(spec.rule_files):
        target = (path.parent / name).resolve()
        if not target.is_file():
            problems.append(doc.issue(("rule_files", i), f"no such file: {target}"))
        paths.append(target)
    if problems:
        raise ConfigError(problems)
    found = load_documents(paths, base.config)
    errors = [i for i in found.issues if i.severity == "error"]
    if errors:
        raise ConfigError(found.issues)
    # Only what the rule files define is evaluated (the agent config's own rules, anomalies and budgets are not).
    loaded = replace(
        base,
        rules=found.rules,
        slos=found.slos,
        anomalies=found.anomalies,
        budgets=found.budgets,
        routing=None,
        silences=[],
        rule_files=found.origin,
    )
    names = {d.name for d in [*found.rules, *found.slos, *found.anomalies, *found.budgets]}
    for i, case in enumerate(spec.tests):
        for j, check in enumerate(case.alert_rule_test):
            if check.alertname not in names:
                problems.append(
                    doc.issue(
                        ("tests", i, "alert_rule_test", j, "alertname"),
                        f"unknown rule {check.alertname!r}; the rule files define: {', '.join(sorted(names))}",
                    )
                )
    problems += _series_problems(doc, spec, found.slos)
    if problems:
        raise ConfigError(problems)
    return _Loaded(doc, spec, loaded, names)


def _series_problems(doc: YamlDocument, spec: RuleTestFile, slos: list[SloDoc]) -> list[ConfigIssue]:
    problems = []
    slo_names = {s.name for s in slos}
    for i, case in enumerate(spec.tests):
        interval = case.interval or spec.evaluation_interval
        for k, item in enumerate(case.input_series):
            loc: Loc = ("tests", i, "input_series", k, "series")
            name, labels = parse_series(item.series)
            rollup = target(name)
            if rollup is None:
                known = sorted({m for r in ROLLUPS.values() if r is not SLO for m in r.measure_names})
                problems.append(
                    doc.issue(
                        loc,
                        f"unknown series {name!r}; use {LATENCY}, {AZURE_VALUE}, {', '.join(SLO_SERIES)} or a measure: "
                        f"{', '.join(known)}",
                    )
                )
                continue
            unknown = sorted(set(labels) - set(rollup.dims))
            if unknown:
                problems.append(
                    doc.issue(loc, f"{name} has no label(s) {', '.join(unknown)}; its labels: {', '.join(rollup.dims)}")
                )
            if rollup is SLO and labels.get("slo") not in slo_names:
                problems.append(
                    doc.issue(
                        loc,
                        f'{name} needs slo="<name>" naming an SLO of the rule files '
                        f"({', '.join(sorted(slo_names)) or 'none'})",
                    )
                )
            if interval % rollup.grain:
                problems.append(
                    doc.issue(
                        loc,
                        f"{name} is stored in {format_duration(rollup.grain)} buckets: give this test "
                        f"interval: {format_duration(rollup.grain)} (or a multiple)",
                    )
                )
    return problems


Standing = list[tuple[dict[str, str], str, str]]
"""Alerts of one rule at one instant: labels (global labels left out), severity, state."""


def run_case(loaded: LoadedConfig, case: TestCase, evaluation: timedelta) -> list[Standing]:
    """Replay ``case``; return, per alert check (in file order), the alerts of its rule standing at its eval time."""
    step = int(evaluation.total_seconds())
    checks = sorted(enumerate(case.alert_rule_test), key=lambda ic: ic[1].eval_time)
    span = int(max(c.eval_time for c in case.alert_rule_test).total_seconds()) + step
    global_labels = dict(loaded.config.spec.labels)
    with tempfile.TemporaryDirectory(prefix="sre-agent-test-") as folder:
        agent = offline_agent(loaded, Path(folder) / "state.db")
        try:
            start = write_inputs(agent, case, evaluation, to_epoch(case.start or DEFAULT_START) + span)
            evaluated = start - step
            out: dict[int, Standing] = {}
            for index, check in checks:
                at = start + int(check.eval_time.total_seconds())
                instants = list(range(evaluated + step, at + 1, step))
                if instants:
                    evaluate(agent, instants)
                    evaluated = instants[-1]
                pending = any(e.state == "pending" for e in check.exp_alerts)
                standing: Standing = []
                for inst in agent.alerts.instances():
                    if inst.rule != check.alertname or (inst.state is AlertState.PENDING and not pending):
                        continue
                    labels = {k: v for k, v in inst.labels.items() if global_labels.get(k) != v}
                    standing.append((labels, inst.severity.value if inst.severity else "", inst.state.value))
                out[index] = standing
            return [out[i] for i in range(len(case.alert_rule_test))]
        finally:
            agent.db.close()


def run_file(path: Path, base: LoadedConfig) -> FileResult:
    """Run every test of ``path``. Severity is compared when every expected alert of a check gives one.

    Raises:
        ConfigError: the file, its rule files or its series are invalid (located issues).
    """
    found = _load(path, base)
    result = FileResult(path)
    spec = found.spec
    for i, case in enumerate(spec.tests):
        standing = run_case(found.loaded, case, spec.evaluation_interval)
        for j, check in enumerate(case.alert_rule_test):
            line, column = found.doc.locate(("tests", i, "alert_rule_test", j))
            with_severity = all(e.severity is not None for e in check.exp_alerts)
            expected = [
                _describe(e.exp_labels, e.severity.value if e.severity and with_severity else None, e.state)
                for e in check.exp_alerts
            ]
            got = [_describe(labels, sev if with_severity else None, state) for labels, sev, state in standing[j]]
            result.cases.append(
                CaseResult(str(path), line, column, case.name, check.eval_time, check.alertname, expected, got)
            )
    return result
