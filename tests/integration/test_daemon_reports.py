"""Reports the daemon writes by itself: the post-mortem draft when an incident resolves, the weekly optimization
report on Monday and last month's SLO report on the 1st — each once, each announced through the outbox to the
alert sinks; a report that cannot be written is retried and never stops the cycle."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import open_test_agent, replay, seed_inc1
from test_incidents import write_config

from sre_agent.clock import SimulatedClock
from sre_agent.config.loader import load_config
from sre_agent.daemon.cycle import run_cycle
from sre_agent.daemon.reports import write_due_reports
from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake
from sre_agent.store.db import Database
from sre_agent.store.incidents import IncidentStore


@pytest.fixture(scope="module")
def replayed(embedded_server: EmbeddedSnowflake, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """The agent replayed through INC-1 and two hours past it: the incident resolved by itself."""
    incident = seed_inc1(embedded_server, queries_per_day=8000)
    config = write_config(tmp_path_factory.mktemp("daemon-reports"))
    agent = open_test_agent(load_config(config), embedded_server)
    try:
        replay(agent, embedded_server, incident.start - timedelta(hours=6), incident.end + timedelta(hours=2))
    finally:
        agent.close()
    return config, incident


def _announced(config: Path) -> list[dict[str, object]]:
    """Report announcements in the outbox (the console sink's; the JSONL notification file is not told)."""
    loaded = load_config(config)
    db = Database(loaded.resolve(loaded.config.spec.store.path), writer=False)
    try:
        rows = db.read("SELECT sink, payload FROM outbox WHERE dedup_key LIKE '%:report:%' ORDER BY id")
    finally:
        db.close()
    assert {r["sink"] for r in rows} <= {"console"}
    return [json.loads(r["payload"]) for r in rows]


def test_a_resolved_incident_gets_its_postmortem_draft_once_and_it_is_announced(replayed: tuple[Path, object]) -> None:
    config, _ = replayed
    loaded = load_config(config)
    reports = loaded.resolve(loaded.config.spec.reports.dir)
    drafts = sorted(reports.glob("postmortem-*.html"))
    assert len(drafts) == 1, drafts
    announced = [r for r in _announced(config) if r["kind"] == "postmortem"]
    assert len(announced) == 1
    files = announced[0]["files"]
    assert isinstance(files, dict)
    assert files["html"] == str(drafts[0])
    data = json.loads(Path(str(files["json"])).read_text())
    assert data["incident"]["status"] == "resolved"
    assert data["detection"]["resolved_by"] == "sre-agent"
    lines = [json.loads(x) for x in (config.parent / "a.jsonl").read_text().splitlines()]
    assert all(x.get("type") != "report" for x in lines)  # the notification file keeps to notifications


def test_weekly_and_monthly_reports_are_written_once_when_due(
    replayed: tuple[Path, object], embedded_server: EmbeddedSnowflake
) -> None:
    config, _ = replayed
    agent = open_test_agent(load_config(config), embedded_server)
    try:
        sunday = datetime(2026, 11, 8, 12, tzinfo=UTC)
        # The last Monday boundary (Nov 2) came before the agent's first cycle (Nov 3): not its report to write.
        assert write_due_reports(agent, sunday).written == {}
        monday_early = datetime(2026, 11, 9, 5, tzinfo=UTC)  # before spec.reports.hour (06:00, UTC here)
        assert write_due_reports(agent, monday_early).written == {}
        monday = datetime(2026, 11, 9, 12, tzinfo=UTC)
        run = write_due_reports(agent, monday)
        assert list(run.written) == ["optimize:2026-W46"], run.errors
        assert write_due_reports(agent, monday + timedelta(hours=1)).written == {}  # once per week
        first = datetime(2026, 12, 1, 12, tzinfo=UTC)  # a Tuesday: the agent was down since Monday Nov 9
        run = write_due_reports(agent, first)
        # Monday's missed report is caught up; no spec.cost here: no cost report.
        assert sorted(run.written) == ["optimize:2026-W49", "slo:2026-11"], run.errors
        for files in run.written.values():
            assert all(Path(p).exists() for p in files.values())
        # The outbox holds one announcement per report for the console (the sink here that announces reports).
        rows = agent.db.read("SELECT sink, dedup_key FROM outbox WHERE dedup_key LIKE '%:report:%'")
        keys = sorted({r["dedup_key"].split(":report:")[1] for r in rows})
        assert [k for k in keys if not k.startswith("postmortem:")] == [
            "optimize:2026-W46",
            "optimize:2026-W49",
            "slo:2026-11",
        ]
        assert {r["sink"] for r in rows} == {"console"}
    finally:
        agent.close()


def test_a_report_that_cannot_be_written_is_retried_and_the_cycle_goes_on(
    replayed: tuple[Path, object], embedded_server: EmbeddedSnowflake, tmp_path: Path
) -> None:
    config, incident = replayed
    loaded = load_config(config)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the reports folder should be")
    spec = loaded.config.spec.model_copy(
        update={"reports": loaded.config.spec.reports.model_copy(update={"dir": blocked})}
    )
    broken = loaded.__class__(**{**loaded.__dict__, "config": loaded.config.model_copy(update={"spec": spec})})
    agent = open_test_agent(broken, embedded_server)
    try:
        with agent.db.transaction() as conn:  # forget the draft so the incident needs one again
            conn.execute("UPDATE incidents SET postmortem = NULL")
            conn.execute("DELETE FROM reports WHERE kind = 'postmortem'")
        now = incident.end + timedelta(hours=3)  # type: ignore[attr-defined]
        embedded_server.set_clock(now)
        result = run_cycle(SimulatedClock(now), agent)
        assert any(k.startswith("postmortem:") for k in result.reports.errors), result.reports
        assert result.instants > 0  # evaluation went on
        pending = IncidentStore(agent.db).needing_postmortem()
        assert len(pending) == 1  # nothing recorded: retried at the next cycle
        with agent.db.transaction() as conn:
            assert conn.execute("SELECT COUNT(*) FROM reports WHERE kind = 'postmortem'").fetchone()[0] == 0
        blocked.unlink()
        again = run_cycle(SimulatedClock(now + timedelta(minutes=15)), agent)
        assert list(again.reports.written) == [f"postmortem:{pending[0].id}"]
    finally:
        agent.close()
