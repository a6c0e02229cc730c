"""`sre-agent test`: replay rule unit-test files through the daemon's own evaluator and state machine.

Each test case gets a throwaway state store. Its input series are written as the rollups polling
would have stored (fully landed: every bucket complete), then the agent's ``evaluate`` runs every
``evaluation_interval`` from t = 0 to each ``eval_time`` — the same code, state machine (``for``,
``keep_firing_for``, SLO tiers, ticket hold) and store the daemon uses — and the alerts standing at
that instant are compared with ``exp_alerts``. Like promtool, only the alerts of the named rule are
checked, firing ones always and pending ones when a case expects one.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from sre_agent.config.durations import format_duration
from sre_agent.config.loader import LoadedConfig, load_documents, validation_issues
from sre_agent.config.slo import SloDoc, slo_key
from sre_agent.config.yaml_source import Loc, YamlDocument, load_yaml_file
from sre_agent.daemon.evaluate import evaluate
from sre_agent.daemon.poll import family_key
from sre_agent.daemon.poll_slo import slo_watermark
from sre_agent.daemon.runtime import Agent
from sre_agent.engine.histogram import BUCKETS, bucket_index
from sre_agent.engine.rollups import HIST_COLUMNS, QUERY, ROLLUPS, SLO, RollupDef
from sre_agent.errors import ConfigError, ConfigIssue, SourceError
from sre_agent.model import AlertState, to_epoch
from sre_agent.ruletest.spec import DEFAULT_START, RuleTestFile, TestCase, expand_values, parse_series
from sre_agent.sources.snowflake import FAMILIES, VISIBLE_SERIES, SnowflakeSource
from sre_agent.store.db import Database

LATENCY = "latency_ms"
"""Convenience series: the latency (ms) of every successful query of its bucket; fills the histogram, the
elapsed sums and the exact ≤-threshold counts the same way Snowflake's pushdown would."""
SLO_SERIES = {"slo_good": "good", "slo_total": "total", "slo_loads": "loads"}
"""Series of an SLO (label ``slo``): good and total events per minute, or successful loads (freshness)."""
DIM_DEFAULTS = {"warehouse": "(none)", "service": "(untagged)", "domain": "(untagged)"}
"""What the pushdown stores for a query without a warehouse or a query_tag service/domain."""


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
    except Exception as exc:  # pydantic ValidationError, located per field
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            raise ConfigError(validation_issues(doc, exc)) from None
        raise
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
    loaded = replace(base, rules=found.rules, slos=found.slos, routing=None, silences=[], rule_files=found.origin)
    names = {r.name for r in found.rules} | {s.name for s in found.slos}
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


def _target(name: str) -> RollupDef | None:
    if name == LATENCY:
        return QUERY
    if name in SLO_SERIES:
        return SLO
    for rollup in ROLLUPS.values():
        if rollup is not SLO and name in rollup.measure_names:
            return rollup
    return None


def _series_problems(doc: YamlDocument, spec: RuleTestFile, slos: list[SloDoc]) -> list[ConfigIssue]:
    problems = []
    slo_names = {s.name for s in slos}
    for i, case in enumerate(spec.tests):
        interval = case.interval or spec.evaluation_interval
        for k, item in enumerate(case.input_series):
            loc: Loc = ("tests", i, "input_series", k, "series")
            name, labels = parse_series(item.series)
            rollup = _target(name)
            if rollup is None:
                known = sorted({m for r in ROLLUPS.values() if r is not SLO for m in r.measure_names})
                problems.append(
                    doc.issue(
                        loc,
                        f"unknown series {name!r}; use {LATENCY}, {', '.join(SLO_SERIES)} or a measure: "
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


def _frames(case: TestCase, start: int, interval: int, loaded: LoadedConfig) -> tuple[dict[str, pl.DataFrame], int]:
    """The rollup rows the case's input series stand for, and the end (epoch s) of the data."""
    cells: dict[str, dict[tuple[Any, ...], dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    slo_keys = {s.name: slo_key(s) for s in loaded.slos}
    end = start
    for item in case.input_series:
        name, labels = parse_series(item.series)
        rollup = _target(name)
        assert rollup is not None
        if rollup is SLO:
            dims: tuple[str, ...] = (slo_keys[labels["slo"]],)
        else:
            dims = tuple(labels.get(d, DIM_DEFAULTS.get(d, "")) for d in rollup.dims)
        for i, value in enumerate(expand_values(item.values)):
            at = start + i * interval
            end = max(end, at + int(rollup.grain.total_seconds()))
            if value is not None:
                cells[rollup.name][(*dims, at)][SLO_SERIES.get(name, name)] = value
    frames = {}
    thresholds = loaded.latency_thresholds_ms()
    for rollup_name, rows in cells.items():
        rollup = ROLLUPS[rollup_name]
        records = []
        for key, given in rows.items():
            record: dict[str, Any] = dict(zip(rollup.dims, key[:-1], strict=True))
            record["bucket"] = key[-1]
            record.update(_measures(rollup, given, thresholds))
            records.append(record)
        frames[rollup_name] = pl.DataFrame(records)
    if loaded.slos:
        # The pushdown's visibility series: every minute of the test is visible in QUERY_HISTORY.
        minutes = range(start, end, 60)
        visible = pl.DataFrame(
            {"slo": [VISIBLE_SERIES] * len(minutes), "bucket": list(minutes), "good": 0, "total": 1, "last_ok": 0}
        )
        frames["slo"] = pl.concat([frames["slo"], visible], how="diagonal") if "slo" in frames else visible
    return frames, end


def _measures(rollup: RollupDef, given: dict[str, float], thresholds: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in rollup.measures:
        value = given.get(m.name, 0.0)
        out[m.name] = round(value) if m.integer else float(value)
    if rollup is SLO:
        loads = int(given.get("loads", 0))
        if loads:
            out["good"], out["total"] = out["good"] or loads, out["total"] or loads
        bucket_end = 59
        out["last_ok"] = bucket_end if loads else 0  # made absolute by the caller
        return out
    if rollup is not QUERY:
        return out
    if "succeeded" not in given:
        out["succeeded"] = max(0, out["queries"] - out["failed"] - out["cancelled"])
    hist = [0] * BUCKETS
    le: dict[str, int] = {}
    latency = given.get(LATENCY)
    if latency is not None and out["succeeded"]:
        hist[int(bucket_index([latency])[0])] = out["succeeded"]
        if "elapsed_ms_sum" not in given:
            out["elapsed_ms_sum"] = round(latency * out["queries"])
        if "execution_ms_sum" not in given:
            out["execution_ms_sum"] = round(latency * out["queries"])
        out["elapsed_ms_max"] = round(max(latency, given.get("elapsed_ms_max", 0)))
        le = {str(t): out["succeeded"] if latency <= t else 0 for t in thresholds}
    out["le_counts"] = json.dumps(le, sort_keys=True)
    out.update(dict(zip(HIST_COLUMNS, hist, strict=True)))
    return out


def _unreachable() -> Any:
    raise SourceError("snowflake", "connect", "rule tests do not poll Snowflake")


def _seed(agent: Agent, frames: dict[str, pl.DataFrame], start: int, end: int) -> None:
    """Store the frames as fully polled rollups; mark every family and SLO polled well past the data."""
    with agent.db.transaction() as conn:
        for name, rows in frames.items():
            rollup = ROLLUPS[name]
            frame = rows
            if rollup is SLO:
                frame = rows.with_columns(
                    pl.when(pl.col("last_ok") > 0)
                    .then(pl.col("bucket") + pl.col("last_ok"))
                    .otherwise(0)
                    .alias("last_ok")
                )
            agent.rollups.replace(conn, rollup, start, end + 86_400, frame, end)
        for family, rollup in FAMILIES.items():
            done = end + int(rollup.latency_horizon.total_seconds())
            agent.watermarks.record_success(conn, family_key(family), start, done, end, 0, done)
        for slo in agent.loaded.slos:
            done = end + int(SLO.latency_horizon.total_seconds())
            agent.watermarks.record_success(conn, slo_watermark(slo_key(slo)), start, done, end, 0, done)


Standing = list[tuple[dict[str, str], str, str]]
"""Alerts of one rule at one instant: labels (global labels left out), severity, state."""


def run_case(loaded: LoadedConfig, case: TestCase, evaluation: timedelta) -> list[Standing]:
    """Replay ``case``; return, per alert check (in file order), the alerts of its rule standing at its eval time."""
    interval = int((case.interval or evaluation).total_seconds())
    start_dt: datetime = case.start or DEFAULT_START
    start = to_epoch(start_dt)
    frames, data_end = _frames(case, start, interval, loaded)
    step = int(evaluation.total_seconds())
    checks = sorted(enumerate(case.alert_rule_test), key=lambda ic: ic[1].eval_time)
    last_eval = start + int(max(c.eval_time for c in case.alert_rule_test).total_seconds())
    end = max(data_end, last_eval + step)
    global_labels = dict(loaded.config.spec.labels)
    with tempfile.TemporaryDirectory(prefix="sre-agent-test-") as folder:
        store = Path(folder) / "state.db"
        spec = loaded.config.spec
        spec = spec.model_copy(update={"store": spec.store.model_copy(update={"path": store})})
        config = replace(loaded, config=loaded.config.model_copy(update={"spec": spec}))
        agent = Agent(config, Database(store), SnowflakeSource(_unreachable, loaded.latency_thresholds_ms()), [])
        try:
            _seed(agent, frames, start, end)
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
