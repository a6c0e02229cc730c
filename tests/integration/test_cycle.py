"""One cycle, end to end: poll → rollups → rules → transitions → outbox → sinks, on the embedded Snowflake."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from support import config_for, open_test_agent, replay, seed

from sre_agent.clock import SimulatedClock
from sre_agent.daemon.cycle import evaluate_until
from sre_agent.daemon.poll import poll_due
from sre_agent.model import EventKind

pytestmark = pytest.mark.integration


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_latency_incident_fires_once_escalates_resolves_once_with_its_evidence(account, tmp_path: Path):
    """The risk join explosion (Tue 10:20-12:50 New York) is caught with phase and contributor evidence."""
    history = seed(account, days=2, queries_per_day=8000)
    incident = next(i for i in history.incidents if i.id.startswith("INC-1"))
    agent = open_test_agent(config_for(tmp_path), account)
    try:
        replay(agent, account, incident.start - timedelta(hours=2), incident.end + timedelta(hours=2))
        events = agent.alerts.events()
        outbox = agent.outbox.stats()
    finally:
        agent.close()
    firing = [e for e in events if e.kind is EventKind.FIRING and e.rule == "risk-engine-latency-p95"]
    assert len(firing) == 1
    alert = firing[0]
    assert alert.labels["warehouse"] == "RISK_WH"
    assert alert.labels["service"] == "risk-engine"
    assert incident.start < alert.at < incident.end
    phases = alert.evidence["phase_mean_ms"]
    assert phases["execution"] == max(phases.values()), "the regression is in execution, and the evidence says so"
    assert alert.evidence["events"] >= 20
    assert alert.evidence["window"] == "15m"
    resolved = [e for e in events if e.kind is EventKind.RESOLVED and e.fingerprint == alert.fingerprint]
    assert len(resolved) == 1
    assert resolved[0].at > incident.end
    assert resolved[0].starts_at == alert.starts_at

    lines = _jsonl(tmp_path / "alerts.jsonl")
    assert len({line["dedup_key"] for line in lines}) == len(lines), "no notification twice"
    by_fingerprint: dict[str, list[str]] = defaultdict(list)
    for line in lines:
        by_fingerprint[line["fingerprint"]].append(line["transition"])
    for transitions in by_fingerprint.values():
        assert transitions[0] == "firing"
        assert transitions[-1] == "resolved"
        assert transitions.count("firing") == 1
    assert all(o.pending == 0 and o.dead == 0 for o in outbox)
    first = next(line for line in lines if line["fingerprint"] == alert.fingerprint)
    assert first["annotations"]["runbook"].endswith("snowflake-query-latency.md")
    assert "RISK_WH" in first["annotations"]["summary"]


def test_an_ordinary_trading_day_raises_no_alert(account, tmp_path: Path):
    """Market open, lunch, the end-of-day risk batch and the overnight jobs of a normal Monday stay quiet."""
    history = seed(account, days=1, queries_per_day=8000, incidents=False)
    agent = open_test_agent(config_for(tmp_path), account)
    try:
        results = replay(agent, account, history.start + timedelta(hours=6), history.end)
        notifications = [e for r in results for e in r.notifications]
    finally:
        agent.close()
    assert notifications == []
    assert not (tmp_path / "alerts.jsonl").exists() or _jsonl(tmp_path / "alerts.jsonl") == []


def test_replay_at_poll_cadence_equals_a_daemon_evaluating_every_minute(account, tmp_path: Path):
    """run_cycle every 15 minutes yields exactly the transitions of per-minute evaluation with polls every 15."""
    history = seed(account, days=2, queries_per_day=6000)
    incident = next(i for i in history.incidents if i.id.startswith("INC-1"))
    start, end = incident.start - timedelta(minutes=30), incident.start + timedelta(hours=2)

    replayed = open_test_agent(config_for(tmp_path / "replay"), account)
    try:
        replay(replayed, account, start, end, timedelta(minutes=15))
        a = [(e.rule, e.fingerprint, e.kind, e.at, e.severity) for e in replayed.alerts.events()]
    finally:
        replayed.close()

    minutely = open_test_agent(config_for(tmp_path / "minutely"), account)
    try:
        clock = SimulatedClock(start)
        while clock.now() <= end:
            now = clock.now()
            account.set_clock(now)
            if (now - start) % timedelta(minutes=15) == timedelta(0):
                poll_due(minutely, now)
            evaluate_until(minutely, now)
            clock.advance(timedelta(minutes=1))
        b = [(e.rule, e.fingerprint, e.kind, e.at, e.severity) for e in minutely.alerts.events()]
    finally:
        minutely.close()
    assert a, "the incident produced transitions"
    assert a == b


def test_the_source_health_self_alert_is_silent_while_polls_succeed(account, tmp_path: Path):
    """agent-source-unhealthy never fires when every poll succeeds on time."""
    history = seed(account, days=1, queries_per_day=3000, incidents=False)
    agent = open_test_agent(config_for(tmp_path), account)
    try:
        replay(agent, account, history.start + timedelta(hours=9), history.start + timedelta(hours=12))
        events = [e for e in agent.alerts.events() if e.rule == "agent-source-unhealthy"]
    finally:
        agent.close()
    assert events == []


def _first_hour_of_inc1(account, tmp_path: Path):
    """Seed two days, replay the first hour of INC-1 with the Snowflake rules; return the config, the incident and
    the alerts active at the end (the agent is closed: a later agent on the same store takes over)."""
    history = seed(account, days=2, queries_per_day=8000)
    incident = next(i for i in history.incidents if i.id.startswith("INC-1"))
    loaded = config_for(tmp_path)
    agent = open_test_agent(loaded, account)
    try:
        replay(agent, account, incident.start, incident.start + timedelta(hours=1))
        active = list(agent.alerts.active().values())
    finally:
        agent.close()
    return loaded, incident, active


def test_alerts_of_a_removed_rule_are_closed_with_a_resolve(account, tmp_path: Path):
    """Deleting a rule from git closes its firing alerts (one resolve), instead of leaving them firing forever."""
    from sre_agent.config.loader import LoadedConfig

    loaded, incident, active = _first_hour_of_inc1(account, tmp_path)
    firing = [i for i in active if i.rule == "warehouse-remote-spill"]
    assert firing, "the incident fired the spill rule"

    without = LoadedConfig(loaded.config, loaded.path, [r for r in loaded.rules if r.name != "warehouse-remote-spill"])
    later = open_test_agent(without, account)
    try:
        replay(
            later,
            account,
            incident.start + timedelta(hours=1, minutes=15),
            incident.start + timedelta(hours=1, minutes=15),
        )
        closed = [
            e for e in later.alerts.events() if e.rule == "warehouse-remote-spill" and e.kind is EventKind.RESOLVED
        ]
        still = [i for i in later.alerts.active().values() if i.rule == "warehouse-remote-spill"]
    finally:
        later.close()
    assert len(closed) == len(firing)
    assert "removed from the config" in closed[0].annotations["summary"]
    assert still == []


def test_a_rule_that_cannot_be_evaluated_raises_agent_rule_error_and_the_others_keep_working(account, tmp_path: Path):
    """A broken rule (here a corrupt spec that skipped validation) is isolated: a self-alert names it, and the
    remaining rules still fire for the incident."""
    from sre_agent.config.loader import LoadedConfig

    history = seed(account, days=2, queries_per_day=8000)
    incident = next(i for i in history.incidents if i.id.startswith("INC-1"))
    loaded = config_for(tmp_path)
    good = loaded.rules[0]
    broken = good.model_copy(
        update={
            "metadata": good.metadata.model_copy(update={"name": "broken-rule"}),
            # A group_by label the rollup does not have: validation would refuse it, evaluation raises KeyError.
            "spec": good.spec.model_construct(**{**dict(good.spec), "group_by": ["no_such_label"]}),
        }
    )
    with_broken = LoadedConfig(loaded.config, loaded.path, [broken, *loaded.rules])
    agent = open_test_agent(with_broken, account)
    try:
        results = replay(agent, account, incident.start, incident.start + timedelta(hours=1))
        events = agent.alerts.events()
    finally:
        agent.close()
    assert all("broken-rule" in r.evaluations[-1].rule_errors for r in results)
    errors = [e for e in events if e.rule == "agent-rule-error"]
    assert [e.kind for e in errors] == [EventKind.FIRING]
    assert errors[0].labels["failed_rule"] == "broken-rule"
    assert any(e.rule == "risk-engine-latency-p95" and e.kind is EventKind.FIRING for e in events)


def test_a_rule_over_its_alert_limit_fails_with_a_self_alert_naming_its_widest_label_and_pages_nobody(
    account, tmp_path: Path
):
    """A rule split by service where every service breaches (here: any query at all) would page once per service;
    with `limit: 2` it raises no alert of its own, agent-rule-error says how many and which label, and the other
    rules still fire for the incident."""
    from decimal import Decimal

    from sre_agent.config.loader import LoadedConfig
    from sre_agent.config.specs import ThresholdLevel
    from sre_agent.model import Severity

    history = seed(account, days=2, queries_per_day=8000)
    incident = next(i for i in history.incidents if i.id.startswith("INC-1"))
    loaded = config_for(tmp_path)
    good = next(r for r in loaded.rules if r.name == "risk-engine-latency-p95")
    noisy = good.model_copy(
        update={
            "metadata": good.metadata.model_copy(update={"name": "every-service"}),
            "spec": good.spec.model_copy(
                update={
                    "metric": "query_count",
                    "where": {},
                    "group_by": ["service"],
                    "min_events": 0,
                    "for_": timedelta(0),
                    "thresholds": [ThresholdLevel(severity=Severity.SEV2, value=Decimal(0))],
                    "limit": 2,
                }
            ),
        }
    )
    agent = open_test_agent(LoadedConfig(loaded.config, loaded.path, [noisy, *loaded.rules]), account)
    try:
        results = replay(agent, account, incident.start, incident.start + timedelta(hours=1))
        events = agent.alerts.events()
    finally:
        agent.close()
    errors = [r.evaluations[-1].rule_errors.get("every-service", "") for r in results]
    assert all("over its limit of 2; label service has" in e for e in errors), errors
    assert not [e for e in events if e.rule == "every-service"], "the rule over its limit raised no alert"
    [self_alert] = [e for e in events if e.rule == "agent-rule-error"]
    assert self_alert.labels["failed_rule"] == "every-service"
    assert "RuleLimitError: would raise" in self_alert.annotations["summary"]
    assert any(e.rule == "risk-engine-latency-p95" and e.kind is EventKind.FIRING for e in events)


def test_a_restart_with_most_firing_rules_missing_keeps_their_alerts_open_and_says_why(account, tmp_path: Path):
    """A truncated deploy (every rule that fires gone at once) must not resolve every page: the alerts stay open,
    agent-config-reload-failed names how many rules are missing; one rule removed on purpose still closes (above)."""
    from sre_agent.config.loader import LoadedConfig

    loaded, incident, active = _first_hour_of_inc1(account, tmp_path)
    firing = {i.rule for i in active}
    assert len(firing) >= 2, firing

    survivors = [r for r in loaded.rules if r.name not in firing]
    later = open_test_agent(LoadedConfig(loaded.config, loaded.path, survivors), account)
    try:
        at = incident.start + timedelta(hours=1, minutes=15)
        replay(later, account, at, at)
        events = later.alerts.events()
        still = {i.rule for i in later.alerts.active().values()}
    finally:
        later.close()
    closed = [e for e in events if e.rule in firing and e.kind is EventKind.RESOLVED and e.at >= at]
    assert closed == [], "no page was resolved by the truncated config"
    assert firing <= still
    [held] = [e for e in events if e.rule == "agent-config-reload-failed"]
    assert held.kind is EventKind.FIRING
    assert f"{len(firing)} of the {len(firing)} rules with active alerts are missing" in held.annotations["summary"]
