"""The dispatcher on hand-written transitions: who is told what, when — the edge cases a review found (routing on
the current severity, flaps, groups reopening inside one pass, notification ids across incidents, the log)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sre_agent.alerting.lifecycle import Instance
from sre_agent.config.loader import LoadedConfig, load_config
from sre_agent.config.routing import RoutingDoc
from sre_agent.daemon.eval_context import EvalContext
from sre_agent.daemon.notify import Dispatcher
from sre_agent.daemon.runtime import Agent
from sre_agent.model import AlertEvent, AlertState, EventKind, Severity, from_epoch
from sre_agent.ruletest.inputs import offline_agent
from sre_agent.sinks.jsonl import JsonlSink

REPO = Path(__file__).resolve().parents[2]
T0 = 1_767_571_200
SPLIT = {
    "receiver": "alerts-file",
    "group_wait": "2m",
    "group_interval": "5m",
    "repeat_interval": "4h",
    "routes": [
        {"matchers": ['severity=~"sev1|sev2"'], "receiver": "console"},
        {"matchers": ['severity=~"sev3|sev4"'], "receiver": "alerts-file"},
    ],
}


class Bench:
    """A real agent on a tmp store with two JSONL receivers named console and alerts-file."""

    def __init__(self, tmp: Path, route: dict[str, Any]) -> None:
        doc = RoutingDoc.model_validate(
            {"apiVersion": "sre-agent/v1", "kind": "AlertRouting", "metadata": {"name": "t"}, "spec": {"route": route}}
        )
        base: LoadedConfig = load_config(REPO / "examples" / "embedded.yaml")
        loaded = replace(base, rules=[], slos=[], routing=doc, silences=[])
        sinks = [JsonlSink(tmp / "console.jsonl", "console"), JsonlSink(tmp / "file.jsonl", "alerts-file")]
        self.agent: Agent = offline_agent(loaded, tmp / "state.db", sinks)
        self.active: dict[str, Instance] = {}
        self.event_id = 0

    def event(self, minute: int, fp: str, kind: str, severity: str, rule: str = "r") -> AlertEvent:
        self.event_id += 1
        at = from_epoch(T0 + minute * 60)
        labels = {"warehouse": "W"}
        return AlertEvent(
            self.event_id, fp, rule, EventKind(kind), Severity(severity), labels, {}, at, at, None, None, None, {}, "o"
        )

    def run(
        self,
        minutes: list[int],
        events: list[AlertEvent] = (),
        ctx: EvalContext | None = None,  # type: ignore[assignment]
    ) -> None:
        with self.agent.db.transaction() as conn:
            Dispatcher(self.agent, dict(self.active), ctx).run(conn, list(events), [T0 + m * 60 for m in minutes])
        for e in events:
            if e.kind is EventKind.RESOLVED:
                self.active.pop(e.fingerprint, None)
            else:
                self.active[e.fingerprint] = Instance(e.fingerprint, e.rule, e.labels, AlertState.FIRING, e.severity)

    def told(self) -> list[tuple[str, int, str, str]]:
        rows = self.agent.db.read("SELECT sink, created_at, payload FROM outbox ORDER BY id")
        out = []
        for r in rows:
            payload = json.loads(r["payload"])
            out.append((r["sink"], (r["created_at"] - T0) // 60, payload["transition"], payload["severity"]))
        return out

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(r["payload"]) for r in self.agent.db.read("SELECT payload FROM outbox ORDER BY id")]


@pytest.fixture
def bench(tmp_path: Path):
    made: list[Bench] = []

    def make(route: dict[str, Any]) -> Bench:
        made.append(Bench(tmp_path / str(len(made)), route))
        return made[-1]

    yield make
    for b in made:
        b.agent.close()


def test_a_page_that_becomes_a_ticket_within_group_wait_never_reaches_the_pager(bench) -> None:
    b = bench(SPLIT)
    b.run([0], [b.event(0, "A", "firing", "sev2")])
    b.run([1], [b.event(1, "A", "deescalated", "sev3")])
    b.run(list(range(2, 8)))
    assert b.told() == [("alerts-file", 3, "firing", "sev3")], "the ticket route hears of it, once, as firing"


def test_a_flap_to_a_lower_severity_neither_pages_again_nor_loses_the_resolve(bench) -> None:
    """Paged at sev2; resolves and fires again at sev3 within one group_interval; resolves for good later."""
    b = bench(SPLIT)
    b.run([0], [b.event(0, "A", "firing", "sev2")])
    b.run([1, 2, 3])
    b.run([4], [b.event(4, "A", "resolved", "sev2")])
    b.run([5], [b.event(5, "A", "firing", "sev3")])
    b.run(list(range(6, 15)))
    b.run([60], [b.event(60, "A", "resolved", "sev3")])
    b.run(list(range(61, 70)))
    told = b.told()
    console = [t for t in told if t[0] == "console"]
    assert [(kind, sev) for _, _, kind, sev in console] == [("firing", "sev2"), ("resolved", "sev3")]
    assert [kind for sink, _, kind, _ in told if sink == "alerts-file"] == ["firing", "resolved"]


def test_a_group_that_empties_and_reopens_inside_one_pass_survives(bench) -> None:
    """A catch-up pass: A's resolve empties the group at minute 2, B opens it again at 4; B's resolve later
    must still be sent (the reopened group must not be deleted with the closed one)."""
    b = bench({"receiver": "alerts-file", "group_by": ["warehouse"], "group_wait": "30s", "group_interval": "1m"})
    b.run([0], [b.event(0, "A", "firing", "sev3", rule="a")])
    b.run([1])
    b.run([2, 3, 4, 5], [b.event(2, "A", "resolved", "sev3", rule="a"), b.event(4, "B", "firing", "sev3", rule="b")])
    assert len(b.agent.db.read("SELECT * FROM notify_groups")) == 1
    b.run([20], [b.event(20, "B", "resolved", "sev3", rule="b")])
    b.run([21, 22])
    assert [(kind, when) for sink, when, kind, _ in b.told() if sink == "alerts-file"] == [
        ("firing", 1),
        ("resolved", 2),
        ("firing", 5),
        ("resolved", 20),
    ]


def test_notification_ids_differ_between_incidents_of_one_group(bench) -> None:
    b = bench({"receiver": "alerts-file", "group_wait": "30s", "group_interval": "1m"})
    b.run([0], [b.event(0, "A", "firing", "sev3")])
    b.run([1])
    b.run([5], [b.event(5, "A", "resolved", "sev3")])
    b.run([6])
    b.run([20], [b.event(20, "A", "firing", "sev3")])
    b.run([21])
    ids = [p["notification"]["id"] for p in b.payloads() if p["notification"]["receiver"] == "alerts-file"]
    assert len(ids) == 3
    assert len(set(ids)) == 3, "a webhook deduplicating on the notification id must not drop the second incident"


def test_the_log_counts_one_delivery_when_an_alert_sits_in_two_groups_of_a_receiver(bench) -> None:
    """sev3 (ticket route) escalates to sev2 (catch-all of alerts-file plus console) then resolves: alerts-file
    holds the alert in two groups, gets one resolve, and the log says so."""
    route = {
        "receiver": "alerts-file",
        "group_wait": "30s",
        "group_interval": "1m",
        "routes": [
            {"matchers": ['severity=~"sev1|sev2"'], "receiver": "console", "continue": True},
            {"matchers": ['severity=~"sev3|sev4"'], "receiver": "alerts-file"},
            {"receiver": "alerts-file"},
        ],
    }
    b = bench(route)
    b.run([0], [b.event(0, "A", "firing", "sev3")])
    b.run([1])
    b.run([10], [b.event(10, "A", "escalated", "sev2")])
    b.run([11])
    b.run([30], [b.event(30, "A", "resolved", "sev2")])
    b.run([31])
    told = b.told()
    assert [(s, k) for s, _, k, _ in told if s == "alerts-file"] == [
        ("alerts-file", "firing"),
        ("alerts-file", "escalated"),
        ("alerts-file", "resolved"),
    ]
    assert [(s, k) for s, _, k, _ in told if s == "console"] == [("console", "escalated"), ("console", "resolved")]
    assert b.agent.notifications.counts() == {"A": len(told)}


def _annotate(inst: Instance, kind: EventKind) -> dict[str, str]:
    return {"summary": f"{inst.value:g} credits spent", "runbook": "runbooks/cost-budget.md"}


def test_a_reminder_carries_the_evidence_as_of_its_sending_and_says_since_when_the_alert_fires(bench) -> None:
    """A budget fired at minute 0 with 100 credits spent; the reminder after repeat_interval (minute 60) carries the
    rule's evaluation at that minute — 160 credits, its evaluated_at — not the firing-time figures, and says when the
    alert started; a minute the pass did not evaluate falls back to the newest evaluation before it."""
    b = bench({"receiver": "alerts-file", "group_wait": "0s", "group_interval": "1m", "repeat_interval": "1h"})
    first = b.event(0, "A", "firing", "sev3")
    first = replace(first, value=100.0, evidence={"spent": 100.0}, annotations={"summary": "100 credits spent"})
    b.run([0], [first])
    b.run(list(range(1, 59)))
    minutes = [59, 60, 61]
    ctx = EvalContext(b.agent, np.array([T0 + m * 60 for m in minutes], dtype=np.int64))
    for m in (59, 60):  # the rule's evaluations in this pass (none at 61)
        spent = 100.0 + m
        inst = Instance(
            "A", "r", {"warehouse": "W"}, AlertState.FIRING, Severity.SEV3,
            last_eval_at=from_epoch(T0 + m * 60), value=spent, evidence={"spent": spent},
        )  # fmt: skip
        ctx.observe(T0 + m * 60, inst, _annotate)
    b.run(minutes, ctx=ctx)
    payloads = b.payloads()
    assert [p["transition"] for p in payloads] == ["firing", "repeat"]
    reminder = payloads[1]
    assert reminder["notification"]["sent_at"] == "2026-01-05T01:00:00Z"
    assert reminder["evidence"] == {"spent": 160.0}, "the rule's evaluation at the reminder's instant"
    assert reminder["value"] == 160.0
    assert reminder["evaluated_at"] == "2026-01-05T01:00:00Z"
    assert reminder["annotations"]["summary"] == "still firing since 2026-01-05 00:00Z: 160 credits spent"
    assert reminder["starts_at"] == payloads[0]["starts_at"]


def test_a_reminder_of_an_alert_not_evaluated_in_the_pass_says_its_figures_are_from_its_firing(bench) -> None:
    b = bench({"receiver": "alerts-file", "group_wait": "0s", "group_interval": "1m", "repeat_interval": "1h"})
    first = replace(b.event(0, "A", "firing", "sev3"), annotations={"summary": "100 credits spent"})
    b.run([0], [first])
    b.run(list(range(1, 59)))
    b.run([60], ctx=EvalContext(b.agent, np.array([T0 + 3600], dtype=np.int64)))
    reminder = b.payloads()[1]
    assert reminder["annotations"]["summary"].startswith("still firing since 2026-01-05 00:00Z (as at 2026-01-05T00")
    assert reminder["annotations"]["summary"].endswith("100 credits spent")
