"""A paused VM (the agent's clock jumps forward, Snowflake kept going): nothing fires or resolves spuriously."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from support import config_for, open_test_agent, replay, seed

from sre_agent.clock import SimulatedClock
from sre_agent.daemon.cycle import run_cycle
from sre_agent.daemon.evaluate import SOURCE_RULE
from sre_agent.model import AlertState, EventKind

pytestmark = pytest.mark.integration

RULE = "risk-engine-latency-p95"


def test_a_paused_agent_resumes_without_spurious_source_alerts_refires_or_resolves(account, tmp_path: Path):
    """INC-1 (risk latency, Tue 10:20-12:50 New York) is firing when the agent's VM pauses for 40 minutes, and
    again for 3 hours. After the short pause the alert is still firing (the incident goes on) and nothing else
    happened; after the long one it resolves once (the data says the incident ended). The agent's own
    source-health alert never fires: the agent was paused, the source was not down."""
    history = seed(account, days=2, queries_per_day=8000)
    incident = next(i for i in history.incidents if i.id.startswith("INC-1"))
    agent = open_test_agent(config_for(tmp_path), account)
    try:
        paused_at = incident.start + timedelta(hours=1, minutes=45)
        replay(agent, account, incident.start - timedelta(hours=2), paused_at)
        firing = [i for i in agent.alerts.active().values() if i.rule == RULE and i.state is AlertState.FIRING]
        assert len(firing) == 1, "the incident is firing when the VM pauses"
        fingerprint = firing[0].fingerprint
        before = len(agent.alerts.events())

        short = paused_at + timedelta(minutes=40)
        account.set_clock(short)
        run_cycle(SimulatedClock(short), agent)
        after_short = agent.alerts.events()[before:]
        assert short < incident.end
        changes = (EventKind.ESCALATED, EventKind.DEESCALATED, EventKind.REESCALATED)
        mine = [e.kind for e in after_short if e.fingerprint == fingerprint and e.kind not in changes]
        assert mine == [], "still firing: severity may follow the data, the alert neither resolves nor refires"
        assert [e for e in after_short if e.rule == SOURCE_RULE] == []

        long = short + timedelta(hours=3)
        account.set_clock(long)
        run_cycle(SimulatedClock(long), agent)
        after_long = agent.alerts.events()[before + len(after_short) :]
        mine = [e.kind for e in after_long if e.fingerprint == fingerprint and e.kind not in changes]
        assert mine == [EventKind.RESOLVED], "one resolve, judged on the data polled after the pause"
        assert [
            (e.kind.value, e.at.isoformat(), e.labels.get("family")) for e in after_long if e.rule == SOURCE_RULE
        ] == []
        assert [e for e in after_long if e.kind is EventKind.FIRING] == []
    finally:
        agent.close()
