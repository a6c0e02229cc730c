"""Faults at the source: an unreachable Snowflake or a query failing mid-cycle never stops the agent or loses data."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import config_for, connect_to, open_test_agent, seed

from sre_agent.clock import SimulatedClock
from sre_agent.daemon.cycle import run_cycle
from sre_agent.daemon.poll import poll_due
from sre_agent.daemon.runtime import open_agent
from sre_agent.model import EventKind
from sre_agent.simulate.schema import ddl_statements
from sre_agent.sources.snowflake_conn import connector, session_parameters

pytestmark = pytest.mark.integration


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unreachable(port: int):
    return connector(
        {
            "account": "fakesnow",
            "user": "u",
            "password": "p",
            "host": "127.0.0.1",
            "port": port,
            "protocol": "http",
            "session_parameters": session_parameters(None),
            "paramstyle": "qmark",
            "login_timeout": 3,
            "network_timeout": 3,
        }
    )


def test_an_unreachable_account_costs_one_login_per_poll_not_one_per_family(account, tmp_path: Path):
    """A refused (or black-holed) account is tried once per polling pass: the first family pays the login, the
    others fail at once naming that cause (every family is still recorded as failed), and the next pass tries
    again and recovers."""
    seed(account, days=1, queries_per_day=2000, incidents=False)
    loaded = config_for(tmp_path)
    down = _unreachable(_closed_port())
    attempts: list[str] = []
    target = {"connect": down}

    def connect():
        attempts.append("login")
        return target["connect"]()

    agent = open_agent(loaded, connect=connect)
    now = datetime(2026, 11, 2, 15, tzinfo=UTC)
    try:
        failed = poll_due(agent, now, force=True)
        assert attempts == ["login"]
        assert {"query", "warehouse_load", "warehouse_metering"} <= set(failed.errors), "each family is recorded"
        others = [e for e in failed.errors.values() if "not attempted" in e]
        assert len(others) == len(failed.errors) - 1
        assert all("connecting failed earlier in this poll" in e for e in others)
        states = [agent.watermarks.get(f"snowflake.{family}") for family in ("query", "warehouse_load")]
        assert all(s.consecutive_failures == 1 for s in states)

        target["connect"] = connect_to(account)
        account.set_clock(now)
        back = poll_due(agent, now, force=True)
        assert attempts == ["login", "login"], "the next pass tries again"
        assert back.errors == {}
    finally:
        agent.close()


def test_an_unreachable_snowflake_becomes_a_self_alert_and_the_next_cycle_catches_up(account, tmp_path: Path):
    """Polls fail → agent-source-unhealthy fires, the cycle still completes; when Snowflake is back, the gap
    is re-read (no lost buckets) and the self-alert resolves."""
    history = seed(account, days=1, queries_per_day=4000, incidents=False)
    loaded = config_for(tmp_path)
    t0 = history.start + timedelta(hours=10)
    clock = SimulatedClock(t0)

    healthy = open_agent(loaded, connect=connect_to(account))
    account.set_clock(t0)
    first = run_cycle(clock, healthy)
    healthy.close()
    assert first.poll.errors == {}

    down = open_agent(loaded, connect=_unreachable(_closed_port()))
    outage = []
    for _ in range(3):
        clock.advance(timedelta(minutes=15))
        account.set_clock(clock.now())
        outage.append(run_cycle(clock, down))
    status = down.watermarks.get("snowflake.query")
    fired = [e for e in down.alerts.events() if e.rule == "agent-source-unhealthy" and e.kind is EventKind.FIRING]
    down.close()
    assert all(r.poll.errors for r in outage), "each cycle records the failure and returns"
    assert status.consecutive_failures == 3
    assert status.polled_to == int(t0.timestamp()), "a failed poll never moves the window"
    assert {e.labels["family"] for e in fired} >= {"query"}

    back = open_agent(loaded, connect=connect_to(account))
    clock.advance(timedelta(minutes=15))
    account.set_clock(clock.now())
    recovered = run_cycle(clock, back)
    resolved = [e for e in back.alerts.events() if e.rule == "agent-source-unhealthy" and e.kind is EventKind.RESOLVED]
    stored = back.db.read(
        "SELECT SUM(queries) AS n FROM rollup_query WHERE bucket >= ? AND bucket < ?",
        (int(t0.timestamp()), int((t0 + timedelta(minutes=30)).timestamp())),
    )[0]["n"]
    back.close()
    assert recovered.poll.errors == {}
    assert {e.labels["family"] for e in resolved} >= {"query"}
    visible_in_gap = (
        account._shared()
        .duck_conn.execute(
            "SELECT COUNT(*) FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY WHERE END_TIME >= ? AND END_TIME < ?",
            [t0, t0 + timedelta(minutes=30)],
        )
        .fetchone()[0]
    )
    assert stored == visible_in_gap, "the outage window was re-read in full, counted once"


def test_a_query_failing_mid_cycle_only_stops_its_own_family(account, tmp_path: Path):
    """WAREHOUSE_LOAD_HISTORY disappears (privilege revoked): that family fails and retries, the others poll,
    evaluation runs, and once the view is back the family catches up with no gap."""
    history = seed(account, days=1, queries_per_day=3000, incidents=False)
    agent = open_test_agent(config_for(tmp_path), account)
    now = history.start + timedelta(hours=12)
    account.set_clock(now)
    try:
        poll_due(agent, now)
        account.execute_all(["DROP VIEW SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_LOAD_HISTORY"])
        later = now + timedelta(minutes=30)
        account.set_clock(later)
        clock = SimulatedClock(later)
        result = run_cycle(clock, agent)
        assert set(result.poll.errors) == {"warehouse_load"}
        assert "query" in result.poll.rows
        assert result.instants >= 1, "evaluation still ran"
        assert agent.watermarks.get("snowflake.warehouse_load").polled_to == int(now.timestamp())

        account.execute_all(ddl_statements())
        much_later = later + timedelta(minutes=30)
        account.set_clock(much_later)
        report = poll_due(agent, much_later, ["warehouse_load"])
        assert report.errors == {}
        assert report.windows["warehouse_load"][0] <= now - timedelta(hours=4) + timedelta(minutes=5)
        assert agent.watermarks.get("snowflake.warehouse_load").polled_to == int(much_later.timestamp())
    finally:
        agent.close()
        account.execute_all(ddl_statements())


def test_a_crashing_connection_is_reopened_on_the_next_poll(account, tmp_path: Path):
    """After a failure the source drops its connection; the next poll reconnects by itself."""
    history = seed(account, days=1, queries_per_day=2000, incidents=False)
    agent = open_test_agent(config_for(tmp_path), account)
    now = history.start + timedelta(hours=12)
    account.set_clock(now)
    try:
        agent.source._cursor().close()
        agent.source._conn.close()
        report = poll_due(agent, now, ["query"])
        assert report.errors == {}
        assert report.rows["query"] > 0
    finally:
        agent.close()


def test_source_errors_never_carry_the_password(account, tmp_path: Path):
    """A failed login's error text, the watermark and the self-alert contain no secret."""
    secret = "hunter2-very-secret"
    loaded = config_for(tmp_path)
    connect = connector(
        {
            "account": "fakesnow",
            "user": "u",
            "password": secret,
            "host": "127.0.0.1",
            "port": _closed_port(),
            "protocol": "http",
            "login_timeout": 3,
            "network_timeout": 3,
            "paramstyle": "qmark",
        }
    )
    agent = open_agent(loaded, connect=connect)
    clock = SimulatedClock(datetime(2026, 11, 2, 15, tzinfo=UTC))
    try:
        result = run_cycle(clock, agent)
        text = " ".join(result.poll.errors.values())
        stored = " ".join(str(s.last_error) for s in agent.watermarks.all())
        events = " ".join(str(e.to_record()) for e in agent.alerts.events())
    finally:
        agent.close()
    assert result.poll.errors
    assert secret not in text + stored + events


def test_a_snowflake_outage_freezes_a_pending_alert_instead_of_firing_it(account, tmp_path: Path):
    """While polls fail nothing new is known: a pending alert must not ripen into a page on frozen data."""
    from support import seed as seed_history

    history = seed_history(account, days=2, queries_per_day=8000)
    incident = next(i for i in history.incidents if i.id.startswith("INC-1"))
    loaded = config_for(tmp_path, poll_interval=timedelta(minutes=5))
    clock = SimulatedClock(incident.start)
    rule = "risk-engine-latency-p95"

    agent = open_agent(loaded, connect=connect_to(account))
    try:
        for _ in range(36):
            account.set_clock(clock.now())
            run_cycle(clock, agent)
            kinds = [e.kind for e in agent.alerts.events() if e.rule == rule]
            if EventKind.PENDING in kinds:
                break
            clock.advance(timedelta(minutes=5))
        assert kinds == [EventKind.PENDING], "the regression makes the rule pending first"
    finally:
        agent.close()

    down = open_agent(loaded, connect=_unreachable(_closed_port()))
    try:
        for _ in range(4):  # 20 minutes of outage: twice the rule's `for: 10m`
            clock.advance(timedelta(minutes=5))
            account.set_clock(clock.now())
            run_cycle(clock, down)
        during = [e.kind for e in down.alerts.events() if e.rule == rule]
        pending = [i for i in down.alerts.active().values() if i.rule == rule]
    finally:
        down.close()
    assert during == [EventKind.PENDING], "no FIRING while the source is down"
    assert [i.state.value for i in pending] == ["pending"]

    back = open_agent(loaded, connect=connect_to(account))
    try:
        for _ in range(12):
            clock.advance(timedelta(minutes=5))
            account.set_clock(clock.now())
            run_cycle(clock, back)
        after = [e.kind for e in back.alerts.events() if e.rule == rule]
    finally:
        back.close()
    assert clock.now() < incident.end
    assert EventKind.FIRING in after, "once data flows again the still-breaching rule fires"
