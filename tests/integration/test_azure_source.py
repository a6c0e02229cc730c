"""The Azure half through the agent: the simulated Azure side polled like a Snowflake family, its rules firing on
the scripted Stream Analytics stall before the Snowflake-side freshness SLO can, and a failing real Azure source
(403 from a loopback getBatch) raising agent-source-unhealthy for Azure without touching the Snowflake rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from https_fake import start
from support import MONDAY, config_for, connect_to, seed
from test_azure_logs_sink import FakeCredential

from sre_agent.clock import SimulatedClock
from sre_agent.daemon.cycle import run_cycle
from sre_agent.daemon.evaluate import SOURCE_RULE
from sre_agent.daemon.runtime import open_agent
from sre_agent.model import EventKind, Severity
from sre_agent.simulate.azure_platform import SimulatedAzureMetrics
from sre_agent.simulate.incidents import IncidentKind
from sre_agent.sources.azure_metrics import AzureMetricsSource

pytestmark = pytest.mark.integration
WATERMARK = "stream-analytics-watermark-delay"


def test_the_stalled_stream_pages_from_the_azure_side_with_its_evidence(account, tmp_path: Path):
    """INC-5: the watermark alert fires within minutes of the stall, escalates to sev2 with the delay as
    evidence and resolves after it; the freshness SLO, which must wait for QUERY_HISTORY to land, pages later."""
    history = seed(account, days=3, queries_per_day=40000)  # the shipped rate: COPYs every minute or two
    stall = next(i for i in history.incidents if i.kind is IncidentKind.STREAM_STALL)
    loaded = config_for(tmp_path, poll_interval=timedelta(minutes=5), azure=True)
    metrics = loaded.config.spec.azure.metrics
    simulated = SimulatedAzureMetrics(metrics, history.workload.seed, tuple(history.incidents))
    agent = open_agent(loaded, connect=connect_to(account), azure_metrics=simulated)
    clock = SimulatedClock(stall.start - timedelta(hours=1))
    events = []
    try:
        while clock.now() <= stall.end + timedelta(hours=1):
            account.set_clock(clock.now())
            result = run_cycle(clock, agent)
            assert "azure_metrics" not in result.poll.errors
            events += result.events
            clock.advance(timedelta(minutes=5))
    finally:
        agent.close()

    mine = [e for e in events if e.rule == WATERMARK]
    fired = [e for e in mine if e.kind is EventKind.FIRING]
    assert len(fired) == 1, [(e.kind, e.at) for e in mine]
    assert stall.start < fired[0].at <= stall.start + timedelta(minutes=25), "within minutes of the stall"
    assert fired[0].labels["resource"] == "asa-trade-enrichment"
    assert fired[0].labels["service"] == "trade-ingest"
    assert fired[0].evidence["metric"] == "azure_max"
    escalated = [e for e in mine if e.kind is EventKind.ESCALATED]
    assert [e.severity for e in escalated] == [Severity.SEV2]
    assert escalated[0].evidence["value"] > 300
    resolved = [e for e in mine if e.kind is EventKind.RESOLVED]
    assert len(resolved) == 1
    assert stall.end < resolved[0].at <= stall.end + timedelta(minutes=40)
    freshness = [e for e in events if e.rule == "trade-executions-freshness" and e.kind is EventKind.FIRING]
    assert freshness, "the stale executions table burns the freshness SLO"
    assert freshness[0].at > fired[0].at, "the cause (Azure) is on the page before its effect (Snowflake)"
    before = [e for e in events if e.at < stall.start and e.rule.startswith(("stream-", "event-hubs"))]
    assert before == [], "an ordinary hour of the Azure side raises nothing"


def test_a_refused_azure_source_is_unhealthy_for_azure_only(account, tmp_path: Path):
    """A real MetricsClient answered 403 on every getBatch: each cycle records the error, Snowflake polls go on,
    and agent-source-unhealthy fires for source=azure, family=azure_metrics only."""
    seed(account, days=1, queries_per_day=4000, incidents=False)
    fake = start(tmp_path)
    fake.default = (403, {}, {"error": {"code": "AuthorizationFailed", "message": "no Monitoring Reader"}})
    try:
        loaded = config_for(tmp_path, poll_interval=timedelta(minutes=5), azure=True)
        real = loaded.config.spec.azure.metrics.model_copy(update={"simulated": False, "endpoint": fake.base})
        source = AzureMetricsSource(real, FakeCredential(), fake.ca_pem)
        agent = open_agent(loaded, connect=connect_to(account), azure_metrics=source)
        clock = SimulatedClock(datetime.combine(MONDAY, datetime.min.time(), UTC) + timedelta(hours=17))  # noon NY
        results = []
        try:
            for _ in range(5):
                account.set_clock(clock.now())
                results.append(run_cycle(clock, agent, force_poll=True))
                clock.advance(timedelta(minutes=5))
            active = agent.alerts.active()
        finally:
            agent.close()
    finally:
        fake.stop()

    assert all("HTTP 403 (AuthorizationFailed)" in r.poll.errors["azure_metrics"] for r in results)
    assert all("query" not in r.poll.errors for r in results), "Snowflake polls go on"
    unhealthy = [i for i in active.values() if i.rule == SOURCE_RULE]
    assert [(i.labels["source"], i.labels["family"], i.state.value) for i in unhealthy] == [
        ("azure", "azure_metrics", "firing")
    ]
    assert all("/metrics:getBatch" in s.path for s in fake.seen)
