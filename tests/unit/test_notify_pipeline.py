"""The notification pipeline end to end on a state store (no Snowflake): the shipped routing and rules, inhibition,
silences from the CLI store, group timers, the notification log and restarts — through `evaluate` and `deliver`,
the daemon's own code."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from sre_agent.config.loader import LoadedConfig, load_config, load_documents
from sre_agent.daemon.cycle import deliver_now
from sre_agent.daemon.evaluate import evaluate
from sre_agent.daemon.runtime import Agent
from sre_agent.model import EventKind, from_epoch
from sre_agent.ruletest.inputs import offline_agent, write_inputs
from sre_agent.ruletest.spec import DEFAULT_START, TestCase
from sre_agent.sinks.console import ConsoleSink
from sre_agent.sinks.jsonl import JsonlSink

REPO = Path(__file__).resolve().parents[2]
T0 = int(DEFAULT_START.timestamp())
MINUTE = 60
RISK = 'warehouse="RISK_WH", service="risk-engine", domain="risk"'
DASH = 'warehouse="TRADE_ANALYTICS_WH", service="trade-analytics", domain="equity-trading"'


def _case(series: dict[str, str]) -> TestCase:
    return TestCase.model_validate(
        {
            "input_series": [{"series": k, "values": v} for k, v in series.items()],
            "alert_rule_test": [{"eval_time": "1m", "alertname": "x"}],
        }
    )


def _shipped() -> LoadedConfig:
    loaded = load_config(REPO / "examples" / "embedded.yaml")
    assert loaded.routing is not None
    assert loaded.routing.name == "capital-markets-platform"
    return replace(loaded, slos=[])


class Harness:
    """An agent on a tmp store with the shipped routing, a console and a JSONL receiver."""

    def __init__(self, tmp: Path, loaded: LoadedConfig) -> None:
        self.tmp = tmp
        self.loaded = loaded
        self.screen = io.StringIO()
        self.agent = self._open()

    def _open(self) -> Agent:
        sinks = [
            ConsoleSink(Console(file=self.screen, width=200), "console"),
            JsonlSink(self.tmp / "alerts.jsonl", "alerts-file"),
        ]
        return offline_agent(self.loaded, self.tmp / "state.db", sinks)

    def restart(self) -> None:
        self.agent.close()
        self.agent = self._open()

    def run(self, first_minute: int, last_minute: int) -> None:
        for minute in range(first_minute, last_minute + 1):
            evaluate(self.agent, [T0 + minute * MINUTE])
            deliver_now(self.agent, from_epoch(T0 + minute * MINUTE))

    def lines(self, rule: str | None = None) -> list[dict[str, Any]]:
        path = self.tmp / "alerts.jsonl"
        rows = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
        return [r for r in rows if rule is None or r["rule"] == rule]

    def minute(self, record: dict[str, Any]) -> int:
        sent = record["notification"]["sent_at"].replace("Z", "+00:00")
        return (int(datetime.fromisoformat(sent).timestamp()) - T0) // MINUTE


@pytest.fixture
def harness(tmp_path: Path):
    h = Harness(tmp_path, _shipped())
    yield h
    h.agent.close()


def test_queueing_inhibits_the_latency_alerts_it_explains_and_both_are_recorded(harness: Harness) -> None:
    """From minute 30 RISK_WH queues 90 s per query (for 80 minutes) and the risk engine's p95 goes to 150 s (for
    60). warehouse-queueing pages (sev2) at minute 37; the latency alert fires at 41 and, by the shipped inhibit
    rule, is held for as long as the queueing page lasts — it resolves first, so its receivers never hear of it.
    The latency alert is in the history, with why it was held."""
    write_inputs(
        harness.agent,
        _case(
            {
                f"queries{{{RISK}}}": "10x149",
                f"latency_ms{{{RISK}}}": "25000x29 150000x59 25000x59",
                f"queued_overload_ms_sum{{{RISK}}}": "0x29 900000x79 0x39",
            }
        ),
        timedelta(minutes=1),
        T0 + 160 * MINUTE,
    )
    harness.run(0, 150)

    queueing = harness.lines("warehouse-queueing")
    assert [r["transition"] for r in queueing] == ["firing", "resolved"], "a silent de-escalation is not sent"
    assert queueing[0]["severity"] == "sev2"
    assert harness.lines("risk-engine-latency-p95") == [], "inhibited while queueing pages, then it resolved"
    events = [e for e in harness.agent.alerts.events() if e.rule == "risk-engine-latency-p95"]
    assert [e.kind for e in events if e.kind in (EventKind.FIRING, EventKind.RESOLVED)] == [
        EventKind.FIRING,
        EventKind.RESOLVED,
    ], "an inhibited alert is still evaluated and recorded"
    log = harness.agent.notifications.of(events[0].fingerprint)
    assert log
    assert {n.action for n in log} == {"held"}
    assert all(n.detail == f"inhibited by {queueing[0]['fingerprint']}" for n in log)
    screen = [line for line in harness.screen.getvalue().splitlines() if "warehouse-queueing" in line]
    assert [line.split()[2] for line in screen] == ["FIRING", "RESOLVED"], (
        "the page reaches the console receiver; its later de-escalation to a ticket does not, its resolve does"
    )


def test_a_silenced_alert_is_sent_when_its_silence_ends_and_a_resolve_always_reaches_who_was_told(
    harness: Harness,
) -> None:
    """Risk latency fires at minute 41 under a CLI silence ending at minute 60: nothing is sent until the silence
    ends, then the alert goes out at its group's next tick. The dashboard alert was notified before its silence
    began (minute 40); its resolve during the silence is still sent."""
    agent = harness.agent
    start = from_epoch(T0)
    agent.silence_store.add(
        ['rule="risk-engine-latency-p95"'], start, start + timedelta(minutes=60), "risk engine release", "sre", start
    )
    agent.silence_store.add(
        ['warehouse="TRADE_ANALYTICS_WH"'],
        start + timedelta(minutes=40),
        start + timedelta(hours=3),
        "dashboard maintenance",
        "sre",
        start,
    )
    write_inputs(
        agent,
        _case(
            {
                f"queries{{{RISK}}}": "10x119",
                f"latency_ms{{{RISK}}}": "25000x29 150000x59 25000x29",
                f"queries{{{DASH}}}": "20x119",
                f"latency_ms{{{DASH}}}": "3000x14 90000x24 3000x79",
            }
        ),
        timedelta(minutes=1),
        T0 + 130 * MINUTE,
    )
    harness.run(0, 125)

    risk = harness.lines("risk-engine-latency-p95")
    assert [r["transition"] for r in risk] == ["firing", "resolved"]
    assert harness.minute(risk[0]) >= 60, "held while silenced"
    assert harness.minute(risk[0]) <= 60 + 5, "sent at the group's first tick after the silence"
    held = [n for n in agent.notifications.of(risk[0]["fingerprint"]) if n.action == "held"]
    assert held
    assert held[0].detail is not None
    assert held[0].detail.startswith("silenced by ")

    dash = harness.lines("dashboard-latency-p95")
    assert [r["transition"] for r in dash] == ["firing", "resolved"]
    assert harness.minute(dash[0]) < 40 <= harness.minute(dash[1]), "the resolve is sent although silenced"


def test_a_restart_mid_incident_neither_renotifies_nor_forgets_the_group(harness: Harness) -> None:
    """The store keeps instances, groups and timers: stopping after the page and starting again sends the
    resolve, never a second page."""
    write_inputs(
        harness.agent,
        _case({f"queries{{{DASH}}}": "20x99", f"latency_ms{{{DASH}}}": "3000x14 90000x24 3000x59"}),
        timedelta(minutes=1),
        T0 + 110 * MINUTE,
    )
    harness.run(0, 30)
    assert [r["transition"] for r in harness.lines("dashboard-latency-p95")] == ["firing"]
    harness.restart()
    harness.run(31, 100)
    lines = harness.lines("dashboard-latency-p95")
    assert [r["transition"] for r in lines] == ["firing", "resolved"]
    assert lines[0]["fingerprint"] == lines[1]["fingerprint"], "the resolve carries the alert's key"
    assert len({r["dedup_key"] for r in harness.lines()}) == len(harness.lines())


def test_an_alert_resolving_within_group_wait_is_never_sent(harness: Harness, tmp_path: Path) -> None:
    """group_wait 40 minutes on a custom routing: a dashboard breach that fires and resolves inside the wait
    reaches nobody (Alertmanager's flap guard), yet it is in the history."""
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        "apiVersion: sre-agent/v1\nkind: AlertRouting\nmetadata: {name: slow}\n"
        "spec:\n  route: {receiver: alerts-file, group_wait: 40m}\n"
    )
    found = load_documents([routing], harness.loaded.config)
    assert not found.issues
    harness.agent.close()
    slow = Harness(tmp_path / "slow", replace(harness.loaded, routing=found.routing))
    try:
        write_inputs(
            slow.agent,
            _case({f"queries{{{DASH}}}": "20x99", f"latency_ms{{{DASH}}}": "3000x14 90000x4 3000x79"}),
            timedelta(minutes=1),
            T0 + 110 * MINUTE,
        )
        slow.run(0, 100)
        kinds = [e.kind for e in slow.agent.alerts.events() if e.rule == "dashboard-latency-p95"]
        assert EventKind.FIRING in kinds
        assert EventKind.RESOLVED in kinds
        assert slow.lines() == []
    finally:
        slow.agent.close()
        harness.agent = harness._open()
