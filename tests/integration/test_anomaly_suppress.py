"""Re-alert suppression of LatencyAnomaly rules through the agent: a second slowdown of the same series within
``suppress`` of a page does not page again; one after it does; with a short suppression every slowdown pages.
(Its own module: it seeds the shared account per test, while test_anomaly_daemon seeds it once per module.)"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from support import MONDAY, open_test_agent, replay
from test_anomaly_daemon import RULE, _agent_config

from sre_agent.model import EventKind
from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake
from sre_agent.simulate.history import HistorySeeder
from sre_agent.simulate.incidents import default_incidents
from sre_agent.simulate.workload import WorkloadConfig, day_bounds


@pytest.mark.parametrize(("suppress", "pages"), [("2h", 2), ("10m", 3)])
def test_a_second_slowdown_within_suppress_does_not_page_again_but_one_after_it_does(
    account: EmbeddedSnowflake, tmp_path: Path, suppress: str, pages: int
) -> None:
    """Three 40-minute slowdowns of risk-engine on one Tuesday: the second starts 80 minutes after the first (inside
    a 2 h suppression), the third 4 hours after the first. With a 10-minute suppression all three page."""
    start, _ = day_bounds(MONDAY)
    end, _ = day_bounds(MONDAY + timedelta(days=2))
    template = next(i for i in default_incidents(start, end) if i.id.startswith("INC-1"))
    onsets = [template.start, template.start + timedelta(minutes=80), template.start + timedelta(hours=4)]
    bursts = [
        replace(template, id=f"burst-{k}", start=at, end=at + timedelta(minutes=40), exec_factor=(6.0, 8.0))
        for k, at in enumerate(onsets)
    ]
    server = account
    workload = WorkloadConfig(seed=7, queries_per_day=12_000, incidents=tuple(bursts))
    HistorySeeder(server, workload).seed_days(MONDAY - timedelta(days=4), 6)
    rule = {**RULE, "spec": {**RULE["spec"], "suppress": suppress}}  # type: ignore[dict-item]
    agent = open_test_agent(_agent_config(tmp_path, rule), server)  # type: ignore[arg-type]
    try:
        replay(agent, server, template.start - timedelta(hours=2), onsets[-1] + timedelta(hours=2))
        events = [e for e in agent.alerts.events() if e.rule == "risk-latency-anomaly"]
    finally:
        agent.close()
    fired = [e.at for e in events if e.kind is EventKind.FIRING]
    resolved = [e.at for e in events if e.kind is EventKind.RESOLVED]
    assert len(fired) == pages, events
    assert onsets[0] < fired[0] < onsets[1], "the first burst pages"
    assert resolved[0] < onsets[1] + timedelta(minutes=40), "it resolved before the second burst was judged"
    assert fired[-1] > onsets[2], "the third burst pages"
    if pages == 3:
        assert onsets[1] < fired[1] < onsets[2], "without suppression the second burst pages too"
