"""LatencyAnomaly rules through the agent on the embedded Snowflake: the exploding-join incident raises one anomaly
alert on its warehouse × service with the evidence an on-call needs (value against the usual, the band, the
triggering buckets, execution as the phase that grew, the pattern and users that added the time); nothing fires
before it; a restart mid-incident rebuilds the series from the store without a second page."""

from __future__ import annotations

import socket
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from support import config_for, open_test_agent, replay, seed_inc1

from sre_agent.config.anomaly import LatencyAnomalyRule
from sre_agent.daemon.eval_context import EvalContext
from sre_agent.daemon.evaluate_anomaly import _contributors
from sre_agent.daemon.poll import family_key
from sre_agent.daemon.runtime import open_agent
from sre_agent.engine.rollups import QUERY_PATTERN
from sre_agent.model import EventKind
from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake
from sre_agent.simulate.ids import stable_hash
from sre_agent.simulate.incidents import Incident
from sre_agent.sources.snowflake import PATTERN_FAMILY
from sre_agent.sources.snowflake_conn import connector

RULE = {
    "apiVersion": "sre-agent/v1",
    "kind": "LatencyAnomaly",
    "metadata": {"name": "risk-latency-anomaly", "labels": {"team": "risk"}},
    "spec": {
        "scope": {"warehouse": ["RISK_WH"]},
        "group_by": ["warehouse", "service"],
        "min_queries": 5,
        "warm_up": "2d",
        "seasonality": "daily",
        "runbook": "latency-anomaly",
    },
}


@pytest.fixture(scope="module")
def history(embedded_server: EmbeddedSnowflake) -> tuple[EmbeddedSnowflake, Incident]:
    """The session's embedded account seeded once for this module (tests only read it)."""
    return embedded_server, seed_inc1(embedded_server)


PATTERN_RULE = {
    **RULE,
    "metadata": {"name": "risk-pattern-anomaly"},
    "spec": {**RULE["spec"], "group_by": ["warehouse", "pattern"], "sensitivity": "low"},  # type: ignore[dict-item]
}


def _agent_config(tmp: Path, *rules: dict[str, object]) -> object:
    loaded = config_for(tmp)
    spec = loaded.config.spec
    snowflake = spec.snowflake.model_copy(update={"backfill": timedelta(days=6)})
    config = loaded.config.model_copy(update={"spec": spec.model_copy(update={"snowflake": snowflake})})
    anomalies = [LatencyAnomalyRule.model_validate(r) for r in rules or (RULE,)]
    return replace(loaded, config=config, rules=[], anomalies=anomalies)


def test_the_join_explosion_raises_one_anomaly_alert_with_its_evidence(history: object, tmp_path: Path) -> None:
    server, incident = history  # type: ignore[misc]
    loaded = _agent_config(tmp_path)
    agent = open_test_agent(loaded, server)  # type: ignore[arg-type]
    try:
        replay(agent, server, incident.start - timedelta(hours=6), incident.start + timedelta(hours=2))
        events = [e for e in agent.alerts.events() if e.rule == "risk-latency-anomaly"]
        pattern_state = agent.watermarks.get(family_key(PATTERN_FAMILY))
    finally:
        agent.close()
    fired = [e for e in events if e.kind is EventKind.FIRING]
    assert len(fired) == 1, [(e.at, e.labels) for e in fired]
    alert = fired[0]
    assert alert.labels["warehouse"] == "RISK_WH"
    assert alert.labels["service"] == "risk-engine"
    assert alert.labels["signal"] == "anomaly"
    assert alert.labels["team"] == "risk"
    assert incident.start < alert.at <= incident.start + timedelta(minutes=75)
    ev = alert.evidence
    assert ev["value_ms"] > ev["upper_ms"] > ev["baseline_ms"] > 0
    assert ev["z"] >= 3
    assert ev["queries"] >= 5
    assert ev["baseline_from"] == "daily"
    assert ev["baseline_samples"] >= 3
    assert len(ev["buckets"]) == 4
    assert sum(b["breach"] for b in ev["buckets"]) >= 3
    assert ev["phases"][0]["phase"] == "execution"
    assert ev["grew"][0] == "execution"
    assert ev["phases"][0]["observed_ms"] > 2 * ev["phases"][0]["baseline_ms"]
    exploding = stable_hash("param:" + "risk.exposure_by_counterparty")
    patterns = ev["contributors"]["patterns"]
    assert patterns[0]["pattern"] == exploding, patterns
    assert patterns[0]["mean_ms"] > 3 * patterns[0]["mean_ms_baseline"]
    assert ev["contributors"]["users"], "the users who ran it are listed"
    assert pattern_state.polled_to is None, "without a pattern-scoped rule the pattern rollup is not polled"
    assert "execution" in alert.annotations["summary"]
    assert alert.annotations["runbook"].endswith("latency-anomaly.md")


def test_a_restart_mid_incident_rebuilds_the_series_without_a_second_page(history: object, tmp_path: Path) -> None:
    server, incident = history  # type: ignore[misc]
    loaded = _agent_config(tmp_path)
    agent = open_test_agent(loaded, server)  # type: ignore[arg-type]
    try:
        replay(agent, server, incident.start - timedelta(hours=2), incident.start + timedelta(minutes=75))
        firing = [e for e in agent.alerts.events() if e.kind is EventKind.FIRING]
        assert len(firing) == 1
    finally:
        agent.close()
    again = open_test_agent(loaded, server)  # type: ignore[arg-type]
    try:
        assert again.anomaly_series == {}, "a new process starts without the in-memory series"
        replay(again, server, incident.start + timedelta(minutes=90), incident.end + timedelta(hours=2))
        events = [e for e in again.alerts.events() if e.rule == "risk-latency-anomaly"]
        assert again.anomaly_series["risk-latency-anomaly"].keys, "rebuilt from the store's rollups"
    finally:
        again.close()
    kinds = [e.kind for e in events]
    assert kinds.count(EventKind.FIRING) == 1, "still the same incident: no second page after the restart"
    assert kinds[-1] is EventKind.RESOLVED


def test_a_pattern_scoped_rule_pages_for_the_exploding_pattern_only(history: object, tmp_path: Path) -> None:
    server, incident = history  # type: ignore[misc]
    loaded = _agent_config(tmp_path, PATTERN_RULE)
    agent = open_test_agent(loaded, server)  # type: ignore[arg-type]
    try:
        replay(agent, server, incident.start - timedelta(hours=6), incident.start + timedelta(hours=2))
        fired = [e for e in agent.alerts.events() if e.kind is EventKind.FIRING]
        matrix = agent.anomaly_series["risk-pattern-anomaly"]
        stored = agent.rollups.load(QUERY_PATTERN, 0, 2**40)
    finally:
        agent.close()
    exploding = stable_hash("param:" + "risk.exposure_by_counterparty")
    assert [e.labels["pattern"] for e in fired] == [exploding]
    assert fired[0].labels["warehouse"] == "RISK_WH"
    assert fired[0].evidence["grew"] == ["execution"]
    assert fired[0].evidence["contributors"]["users"], "the users behind the pattern"
    assert len(matrix.keys) >= 2, "every RISK_WH pattern above the volume filter is its own series"
    assert {k[0] for k in matrix.keys} == {"RISK_WH"}
    assert stored.height > 0
    assert stored["succeeded"].min() >= 5, "the volume filter (min_queries) is pushed down: thin buckets are not read"


def test_a_failing_drill_down_is_reported_in_the_evidence_not_raised(tmp_path: Path) -> None:
    """The contributors come from one extra QUERY_HISTORY read; when Snowflake refuses it the alert still fires and
    its evidence says why the patterns are missing (without the password)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])  # closed once the block ends: connections are refused
    secret = "drill-down-s3cret"
    params = {"account": "fakesnow", "user": "u", "password": secret, "host": "127.0.0.1", "port": port}
    params.update(protocol="http", paramstyle="qmark", login_timeout=3, network_timeout=3)
    agent = open_agent(_agent_config(tmp_path), connect=connector(params))  # type: ignore[arg-type]
    try:
        ctx = EvalContext(agent, np.array([1_793_720_700], dtype=np.int64))
        rule = LatencyAnomalyRule.model_validate(RULE)
        found = _contributors(ctx, rule, {"warehouse": "RISK_WH", "service": "risk-engine"}, (0, 300), (0, 300))
    finally:
        agent.close()
    assert set(found) == {"error"}
    assert found["error"].startswith("could not read QUERY_HISTORY for the drill-down")
    assert secret not in found["error"], found
