"""An SLO whose SLI is a Log Analytics query, through the agent: polled per SLO beside Snowflake, judged once its
minutes are past Log Analytics' landing horizon, paging when the API's errors burn the budget, and unknown —
never good — while the workspace refuses the query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from https_fake import FakeHttps, Seen, start
from support import MONDAY, config_for, connect_to, seed
from test_azure_logs_sink import FakeCredential
from test_log_analytics_sli import SLO_YAML, WORKSPACE

from sre_agent.clock import SimulatedClock
from sre_agent.config.azure import AzureLogsQueryConfig
from sre_agent.config.slo import SloDoc
from sre_agent.daemon.cycle import run_cycle
from sre_agent.daemon.evaluate_slo import SloReader
from sre_agent.daemon.runtime import open_agent
from sre_agent.model import EventKind
from sre_agent.slo_status import snapshot
from sre_agent.sources.log_analytics import LogAnalyticsSli

pytestmark = pytest.mark.integration
OUTAGE = datetime.combine(MONDAY, datetime.min.time(), UTC) + timedelta(hours=16)  # 11:00 New York


def requests_per_minute(request: Seen) -> tuple[int, dict[str, str], Any]:
    """100 requests a minute, all good except 20 % failing during the 30-minute outage."""
    lo, hi = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in request.json()["timespan"].split("/"))
    rows = []
    minute = lo
    while minute < hi:
        bad = OUTAGE <= minute < OUTAGE + timedelta(minutes=30)
        rows.append([minute.strftime("%Y-%m-%dT%H:%M:%SZ"), 100, 80 if bad else 100])
        minute += timedelta(minutes=1)
    columns = [{"name": "TimeGenerated", "type": "datetime"}, {"name": "total", "type": "long"}]
    columns.append({"name": "good", "type": "long"})
    return 200, {}, {"tables": [{"name": "PrimaryResult", "columns": columns, "rows": rows}]}


def test_a_kql_slo_pages_on_api_errors_and_is_unknown_while_the_workspace_refuses(account, tmp_path: Path):
    seed(account, days=1, queries_per_day=3000, incidents=False)
    doc = SloDoc.model_validate(yaml.safe_load(SLO_YAML))
    base = config_for(tmp_path, poll_interval=timedelta(minutes=5))
    loaded = type(base)(base.config, base.path, base.rules, base.rule_files, base.warnings, [doc])
    fake: FakeHttps = start(tmp_path)
    fake.default = requests_per_minute
    logs = LogAnalyticsSli(AzureLogsQueryConfig(endpoint=fake.base), FakeCredential(), fake.ca_pem)
    agent = open_agent(loaded, connect=connect_to(account), log_analytics=logs)
    clock = SimulatedClock(OUTAGE - timedelta(hours=1))
    events = []
    try:
        while clock.now() <= OUTAGE + timedelta(minutes=50):
            account.set_clock(clock.now())
            result = run_cycle(clock, agent)
            assert "slo" not in result.poll.errors
            events += [e for e in result.events if e.rule == doc.name]
            clock.advance(timedelta(minutes=5))
        fake.default = (403, {}, {"error": {"code": "InsufficientAccessError", "message": "role removed"}})
        refused = []
        for _ in range(3):
            account.set_clock(clock.now())
            refused.append(run_cycle(clock, agent))
            clock.advance(timedelta(minutes=5))
        status = snapshot(SloReader.of(agent), doc, clock.now())
    finally:
        agent.close()
        fake.stop()

    paged = [e for e in events if e.kind is EventKind.FIRING]
    assert len(paged) == 1, [(e.kind, e.at) for e in events]
    # At 20 % errors the 1h window burns 13.44x (the 28d page factor) after 20 bad minutes, judged once they are
    # 15 minutes old (Log Analytics' landing horizon), seen at the next 5-minute poll.
    assert OUTAGE + timedelta(minutes=35) <= paged[0].at <= OUTAGE + timedelta(minutes=45), paged[0].at
    assert paged[0].severity.value == "sev2"
    assert paged[0].evidence["tiers"][0]["long_burn"] > 14
    bodies = [s.json() for s in fake.seen if s.path == f"/v1/workspaces/{WORKSPACE}/query"]
    assert all(b["query"] == doc.spec.sli.query for b in bodies), "the query is sent as written"  # type: ignore[union-attr]
    assert all("InsufficientAccessError" in r.poll.errors["slo"] for r in refused)
    assert status["stale"] is True
    assert status["state"] == "unknown", "a workspace that refuses is never a healthy SLO"
