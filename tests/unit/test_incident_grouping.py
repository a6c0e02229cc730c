"""Grouping alerts into incidents: shared warehouse/service/domain and overlapping time make one incident; other
scopes or a quiet gap make another; an incident whose alerts all resolved stays open for a window, then closes at
the time its last alert resolved. Human steps keep their order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sre_agent.alerting.incidents import IncidentTracker
from sre_agent.model import AlertEvent, EventKind, Severity, to_epoch
from sre_agent.store.db import Database
from sre_agent.store.incidents import IncidentStatus, IncidentStore

T0 = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=30)


class Feed:
    """Alert events fed to the tracker one evaluation at a time, as the daemon does."""

    def __init__(self, tmp: Path) -> None:
        self.db = Database(tmp / "state.db")
        self.tracker = IncidentTracker(["warehouse", "service", "domain"], WINDOW)
        self.next_id = 1
        self.resolved: list[str] = []

    def event(self, minute: int, fp: str, kind: EventKind, sev: Severity = Severity.SEV3, **labels: str) -> None:
        at = T0 + timedelta(minutes=minute)
        e = AlertEvent(self.next_id, fp, f"rule-{fp}", kind, sev, labels, {}, at, at - timedelta(minutes=5), None,
                       1.0, 0.5, {})  # fmt: skip
        self.next_id += 1
        with self.db.transaction() as conn:
            self.resolved += self.tracker.apply(conn, [e], to_epoch(at))

    def tick(self, minute: int) -> None:
        with self.db.transaction() as conn:
            self.resolved += self.tracker.apply(conn, [], to_epoch(T0 + timedelta(minutes=minute)))

    def incidents(self) -> list[tuple[str, IncidentStatus, list[str]]]:
        found = IncidentStore(self.db).all(include_resolved=True)
        return [(i.id, i.status, sorted(a.fingerprint for a in i.alerts)) for i in sorted(found, key=lambda i: i.id)]


def test_alerts_sharing_a_warehouse_or_domain_while_active_form_one_incident(tmp_path: Path) -> None:
    f = Feed(tmp_path)
    f.event(0, "a", EventKind.FIRING, warehouse="RISK_WH", service="risk-engine")
    f.event(4, "b", EventKind.FIRING, Severity.SEV2, service="risk-engine", slo="risk-latency")
    f.event(6, "c", EventKind.FIRING, domain="equity-trading", warehouse="INGEST_WH")  # another scope: new
    f.event(8, "d", EventKind.FIRING, scope="account")  # no grouping label: joins the most recently active
    assert f.incidents() == [
        ("INC-20261103-1", IncidentStatus.OPEN, ["a", "b"]),
        ("INC-20261103-2", IncidentStatus.OPEN, ["c", "d"]),
    ]
    first = IncidentStore(f.db).get("inc-20261103-1")  # ids are case-insensitive
    assert first is not None
    assert first.severity == Severity.SEV2  # the worst of its alerts
    assert first.scope == {"service": ["risk-engine"], "warehouse": ["RISK_WH"]}
    assert first.started_at == T0 - timedelta(minutes=5)  # the first alert's pending start
    assert [e.kind for e in first.log] == ["opened", "alert", "alert"]


def test_an_incident_resolves_a_window_after_its_last_alert_and_a_later_alert_opens_another(tmp_path: Path) -> None:
    f = Feed(tmp_path)
    f.event(0, "a", EventKind.FIRING, warehouse="RISK_WH")
    f.event(40, "a", EventKind.RESOLVED, warehouse="RISK_WH")
    f.event(55, "a", EventKind.FIRING, warehouse="RISK_WH")  # flaps back inside the window: same incident
    f.event(60, "b", EventKind.FIRING, warehouse="RISK_WH")
    f.event(70, "a", EventKind.RESOLVED, warehouse="RISK_WH")
    f.event(75, "b", EventKind.RESOLVED, warehouse="RISK_WH")
    f.tick(100)
    assert f.resolved == []  # 25 minutes quiet: not yet
    f.tick(105)
    assert f.resolved == ["INC-20261103-1"]
    resolved = IncidentStore(f.db).get("INC-20261103-1")
    assert resolved is not None
    assert resolved.status == IncidentStatus.RESOLVED
    assert resolved.resolved_at == T0 + timedelta(minutes=75)  # when the last alert resolved, not when noticed
    assert resolved.resolved_by == "sre-agent"
    f.event(120, "a", EventKind.FIRING, warehouse="RISK_WH")
    assert [i[0] for i in f.incidents()] == ["INC-20261103-1", "INC-20261103-2"]
    assert IncidentStore(f.db).needing_postmortem()[0].id == "INC-20261103-1"


def test_an_alert_after_a_quiet_gap_opens_a_new_incident_even_on_the_same_warehouse(tmp_path: Path) -> None:
    f = Feed(tmp_path)
    f.event(0, "a", EventKind.FIRING, warehouse="RISK_WH")
    f.event(10, "a", EventKind.RESOLVED, warehouse="RISK_WH")
    f.event(50, "b", EventKind.FIRING, warehouse="RISK_WH")  # 40 min after the last activity, before the tick
    assert [i[2] for i in f.incidents()] == [["a"], ["b"]]
    f.event(52, "c", EventKind.FIRING, scope="account")  # joins the one still firing
    assert [i[2] for i in f.incidents()] == [["a"], ["b", "c"]]


def test_a_shared_domain_alone_does_not_tie_two_warehouses_together(tmp_path: Path) -> None:
    f = Feed(tmp_path)
    f.event(0, "slo", EventKind.FIRING, service="trade-analytics", domain="equity-trading")  # a slow burn
    f.event(5, "wh", EventKind.FIRING, warehouse="TRADE_ANALYTICS_WH", service="trade-analytics")
    f.event(20, "ingest", EventKind.FIRING, service="trade-ingest", domain="equity-trading")  # other service
    f.event(25, "budget", EventKind.FIRING, domain="equity-trading")  # only a domain: matched on it
    assert [i[2] for i in f.incidents()] == [["slo", "wh"], ["budget", "ingest"]]


def test_an_unlabelled_alert_long_after_the_last_join_opens_its_own_incident_which_adopts_the_next(
    tmp_path: Path,
) -> None:
    f = Feed(tmp_path)
    f.event(0, "slo", EventKind.FIRING, service="trade-analytics")  # keeps firing for hours (slow burn)
    f.event(240, "asa-units", EventKind.FIRING, resource="asa-trade-enrichment")  # no grouping label
    f.event(250, "freshness", EventKind.FIRING, service="trade-ingest", domain="equity-trading")
    assert [i[2] for i in f.incidents()] == [["slo"], ["asa-units", "freshness"]]
    adopted = IncidentStore(f.db).get("INC-20261103-2")
    assert adopted is not None
    assert adopted.scope == {"domain": ["equity-trading"], "service": ["trade-ingest"]}


def test_a_catch_up_batch_groups_as_minute_by_minute_evaluation_would(tmp_path: Path) -> None:
    f = Feed(tmp_path)
    events = [
        (0, EventKind.FIRING),
        (5, EventKind.RESOLVED),
        (120, EventKind.FIRING),  # long after the window: a new incident, live or in one batch
    ]
    batch = []
    for minute, kind in events:
        at = T0 + timedelta(minutes=minute)
        batch.append(AlertEvent(f.next_id, "a", "rule-a", kind, Severity.SEV3, {"warehouse": "RISK_WH"}, {}, at,
                                at, None, 1.0, 0.5, {}))  # fmt: skip
        f.next_id += 1
    with f.db.transaction() as conn:
        resolved = f.tracker.apply(conn, batch, to_epoch(T0 + timedelta(minutes=121)))
    assert resolved == ["INC-20261103-1"]
    assert [(i[1], i[2]) for i in f.incidents()] == [(IncidentStatus.RESOLVED, ["a"]), (IncidentStatus.OPEN, ["a"])]


def test_a_human_step_does_not_overwrite_what_the_daemon_did_meanwhile(tmp_path: Path) -> None:
    import pytest

    f = Feed(tmp_path)
    f.event(0, "a", EventKind.FIRING, warehouse="RISK_WH")
    store = IncidentStore(f.db)
    seen = store.get("INC-20261103-1")
    assert seen is not None
    f.event(10, "a", EventKind.RESOLVED, warehouse="RISK_WH")
    f.tick(45)  # the agent resolves it while someone is typing `incidents ack`
    with pytest.raises(ValueError, match="changed meanwhile: it is now resolved"):
        store.step(seen.id, IncidentStatus.ACKNOWLEDGED, "dana", T0, T0 + timedelta(minutes=46), "ack", seen.status)
    after = store.get(seen.id)
    assert after is not None
    assert after.status == IncidentStatus.RESOLVED
    assert after.acknowledged_at is None


def test_an_account_budget_joins_the_incident_of_the_warehouse_it_names_as_its_driver(tmp_path: Path) -> None:
    f = Feed(tmp_path)
    f.event(0, "burn", EventKind.FIRING, warehouse="TRANSFORM_WH")  # keeps firing for a day
    f.event(5, "risk", EventKind.FIRING, warehouse="RISK_WH")
    at = T0 + timedelta(hours=20)
    drivers = {"drivers": {"warehouses": [{"warehouse": "TRANSFORM_WH", "delta": 63.0}]}}
    budget = AlertEvent(f.next_id, "acct", "account-monthly", EventKind.FIRING, Severity.SEV3, {"scope": "account"},
                        {}, at, at, None, 1.0, 0.5, drivers)  # fmt: skip
    with f.db.transaction() as conn:
        f.tracker.apply(conn, [budget], to_epoch(at))
    assert [i[2] for i in f.incidents()] == [["acct", "burn"], ["risk"]]
