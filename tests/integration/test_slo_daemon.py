"""SLOs in the daemon, end to end on the embedded Snowflake: per-SLO polling and watermarks, one alert per SLO
with its evidence, metric records to a JSONL sink, `slo status` / `validate`, source outages and kill -9.

The configs here carry SLOs only (no threshold rules) and poll the three rule families (query, warehouse load,
warehouse metering) once a day: nothing reads those rollups, and a replay's cost is then the SLO path's (one
SLO statement per 15-minute cycle) rather than the rule families' heavier scans.

This file is also the subprocess driver of the crash test: ``python test_slo_daemon.py STATE_DIR`` replays (or
resumes) the crash scenario into STATE_DIR and may be killed at a failpoint (SRE_AGENT_FAILPOINT).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import REPO, connect_to, open_test_agent, replay, seed

from sre_agent.cli import main
from sre_agent.clock import SimulatedClock
from sre_agent.config.agent import DeliverySettings, JsonlSinkConfig, PollSettings
from sre_agent.config.loader import LoadedConfig, load_config, load_documents
from sre_agent.config.slo import SloDoc, slo_key
from sre_agent.daemon.cycle import CycleResult, run_cycle
from sre_agent.daemon.evaluate import SOURCE_RULE
from sre_agent.daemon.evaluate_slo import STATE_CODES, SloReader
from sre_agent.daemon.poll import poll_due
from sre_agent.daemon.poll_slo import slo_watermark
from sre_agent.daemon.runtime import Agent, open_agent
from sre_agent.engine.rollups import SLO
from sre_agent.exit_codes import ExitCode
from sre_agent.model import AlertEvent, AlertState, EventKind, Severity, iso, to_epoch
from sre_agent.simulate.schema import SIM_SCHEMA, VIEWS
from sre_agent.sinks.delivery import deliver
from sre_agent.sinks.jsonl import JsonlSink
from sre_agent.sinks.metric_catalogue import CATALOGUE
from sre_agent.slo_status import snapshot
from sre_agent.sources.snowflake_conn import connector, session_parameters
from sre_agent.store.db import Database
from sre_agent.store.outbox import Outbox
from sre_agent.store.rollups import RollupStore

pytestmark = pytest.mark.integration

RISK = REPO / "slo_definitions" / "risk.yaml"
REPORTING = REPO / "slo_definitions" / "reporting.yaml"
LATENCY = "risk-calculation-latency"
AVAILABILITY = "risk-calculation-availability"
PAGING_COPY = "regulatory-reporting-paging"
STEP = timedelta(minutes=15)
QUIET = timedelta(days=1)
"""Poll interval of the rule families (no rules here: they only need to exist)."""
SLO_OVERLAP = timedelta(minutes=60)
METRIC_POINTS = {"slo_sli", "slo_burn_rate", "slo_error_budget_remaining", "slo_state"}


# -- configs -------------------------------------------------------------------------------------------------


def _polls() -> dict[str, dict[str, str]]:
    return {
        "query": {"interval": "1d", "overlap": "60m"},
        "warehouse_load": {"interval": "1d", "overlap": "4h"},
        "warehouse_metering": {"interval": "1d", "overlap": "7h"},
        "slo": {"interval": "15m", "overlap": "60m"},
    }


def _write_config(folder: Path, slo_paths: list[Path], store: Path | None = None) -> Path:
    """An agent config file (for the CLI) with SLOs only, its store and JSONL sink (with metrics) in ``folder``."""
    data = yaml.safe_load((REPO / "examples" / "embedded.yaml").read_text())
    spec = data["spec"]
    spec["rules"] = []
    spec["slos"] = [str(p) for p in slo_paths]
    spec["runbooks"] = str(REPO / "runbooks")
    spec["store"]["path"] = str(store or folder / "state.db")
    spec["sinks"] = [
        {
            "type": "jsonl",
            "name": "alerts-file",
            "path": str(folder / "alerts.jsonl"),
            "metrics_path": str(folder / "metrics.jsonl"),
        }
    ]
    spec["snowflake"]["backfill"] = "1h"
    spec["snowflake"]["polls"] = _polls()
    spec.pop("azure")  # SLOs over Snowflake only
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "agent.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _loaded(folder: Path, slos: list[SloDoc], metrics: bool = False) -> LoadedConfig:
    """The embedded example config with ``slos`` (and no rules), SLO polls every 15 minutes, state in ``folder``."""
    base = load_config(REPO / "examples" / "embedded.yaml")
    spec = base.config.spec
    polls = {name: PollSettings.model_validate(p) for name, p in _polls().items()}
    sink = JsonlSinkConfig(
        type="jsonl",
        name="alerts-file",
        path=folder / "alerts.jsonl",
        metrics_path=folder / "metrics.jsonl" if metrics else None,
    )
    updates = {
        "snowflake": spec.snowflake.model_copy(update={"polls": polls, "backfill": timedelta(hours=1)}),
        "store": spec.store.model_copy(update={"path": folder / "state.db"}),
        "sinks": [sink],
        "azure": None,  # SLOs over Snowflake only
    }
    config = base.config.model_copy(update={"spec": spec.model_copy(update=updates)})
    return LoadedConfig(config, base.path, [], {}, [], list(slos))


def _risk_slos() -> dict[str, SloDoc]:
    """The shipped risk SLOs, loaded as the agent loads them."""
    found = load_documents([RISK], load_config(REPO / "examples" / "embedded.yaml").config)
    assert not [i for i in found.issues if i.severity == "error"]
    return {s.name: s for s in found.slos}


def _paging_copy(folder: Path) -> Path:
    """regulatory-reporting-batch-success, copied with page tiers and no min_events: ~13 loads a day page on one
    failure (objective 99 % so that this holds whatever the day's exact load count)."""
    doc = yaml.safe_load(REPORTING.read_text())
    doc["metadata"]["name"] = PAGING_COPY
    doc["spec"]["objective"] = 99
    doc["spec"]["alerting"] = {
        "min_events": 0,
        "tiers": [
            {"severity": "page", "long": "1h", "short": "5m", "budget_percent": 2},
            {"severity": "page", "long": "6h", "short": "30m", "budget_percent": 5},
        ],
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "regulatory-paging.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


# -- driving and reading -------------------------------------------------------------------------------------


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _of(events: list[AlertEvent], rule: str) -> list[AlertEvent]:
    return [e for e in events if e.rule == rule]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unreachable() -> Any:
    return connector(
        {
            "account": "fakesnow",
            "user": "u",
            "password": "p",
            "host": "127.0.0.1",
            "port": _closed_port(),
            "protocol": "http",
            "session_parameters": session_parameters(None),
            "paramstyle": "qmark",
            "login_timeout": 3,
            "network_timeout": 3,
        }
    )


def _stored(agent: Agent, slo: SloDoc, lo: datetime, hi: datetime) -> tuple[int, int]:
    """Rows and summed ``total`` of ``slo``'s series in the store over ``[lo, hi)``."""
    sid = RollupStore(agent.db).series_id(SLO, (slo_key(slo),))
    assert sid is not None, f"no series for {slo.name}"
    row = agent.db.read(
        "SELECT COUNT(*) AS n, COALESCE(SUM(total), 0) AS total FROM rollup_slo "
        "WHERE series_id = ? AND bucket >= ? AND bucket < ?",
        (sid, to_epoch(lo), to_epoch(hi)),
    )[0]
    return int(row["n"]), int(row["total"])


def _visible_latency_events(server: Any, lo: datetime, hi: datetime) -> int:
    """What the latency SLO counts, straight from the fake view: successful risk-engine queries on RISK_WH."""
    return int(
        server._shared()
        .duck_conn.execute(
            "SELECT COUNT(DISTINCT query_id) FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY "
            "WHERE end_time >= ? AND end_time < ? AND execution_status = 'SUCCESS' AND warehouse_name = 'RISK_WH' "
            "AND json_extract_string(query_tag, '$.service') = 'risk-engine'",
            [lo, hi],
        )
        .fetchone()[0]
    )


def _reset(server: Any) -> None:
    """What the ``account`` fixture does, for the module-scoped replay below."""
    server.execute_all([f"DELETE FROM {SIM_SCHEMA}.{view.name}" for view in VIEWS])
    server.set_clock(None)
    server.trim_result_cache()


# -- one 2-day replay shared by the alert, metrics and CLI tests ----------------------------------------------


@dataclass
class Replayed:
    """A finished 2-day replay: its config file, results and what it left in the store and files."""

    folder: Path
    config: Path
    loaded: LoadedConfig
    incident: Any
    start: datetime
    end: datetime
    results: list[CycleResult]
    events: list[AlertEvent]


@pytest.fixture(scope="module")
def replayed(embedded_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    """Monday 2026-11-02 00:00 to Wednesday 14:00 New York, every 15 minutes, with the shipped risk SLOs and a
    paging copy of the regulatory-reporting SLO, on the session's fake Snowflake. (Wednesday morning's traffic
    is what lets the slow tiers be judged again after INC-1: at night they are unknown and the alert holds.)"""
    folder = tmp_path_factory.mktemp("slo-replay")
    config = _write_config(folder, [RISK, _paging_copy(folder / "slos")])
    loaded = load_config(config)
    _reset(embedded_server)
    try:
        history = seed(embedded_server, days=3, queries_per_day=8000)
        incident = next(i for i in history.incidents if i.id.startswith("INC-1"))
        agent = open_test_agent(loaded, embedded_server)
        try:
            end = history.start + timedelta(days=2, hours=14)
            results = replay(agent, embedded_server, history.start, end, STEP)
            events = agent.alerts.events()
        finally:
            agent.close()
    finally:
        _reset(embedded_server)
    return Replayed(folder, config, loaded, incident, history.start, end, results, events)


def test_the_latency_regression_pages_once_with_evidence_and_resolves_once(replayed: Replayed):
    """INC-1 (Tue 10:20-12:50 New York, risk queries 5-10x slower) burns risk-calculation-latency: one page
    (sev2) during the incident, explained by the firing tier's long and short burn, the budget and its
    exhaustion, one resolve; risk-calculation-availability (the queries still succeed) never fires."""
    shipped = _risk_slos()
    configured = {s.name: s for s in replayed.loaded.slos}
    assert configured[LATENCY] == shipped[LATENCY]
    assert configured[AVAILABILITY] == shipped[AVAILABILITY]
    latency = shipped[LATENCY]
    incident = replayed.incident

    events = _of(replayed.events, LATENCY)
    kinds = [e.kind for e in events]
    assert kinds.count(EventKind.FIRING) == 1
    assert kinds.count(EventKind.RESOLVED) == 1
    assert len({e.fingerprint for e in events}) == 1, "one alert instance per SLO, whatever tier fires"
    notifying = [e for e in events if e.kind.notifies]
    firing, resolved = notifying[0], notifying[-1]
    assert firing.kind is EventKind.FIRING
    assert resolved.kind is EventKind.RESOLVED
    assert resolved is events[-1]
    assert incident.start <= firing.at <= incident.end, "paged during the incident"
    assert firing.severity is Severity.SEV2
    assert firing.severity is latency.spec.alerting.page_severity
    assert resolved.at > incident.end
    assert resolved.starts_at == firing.starts_at

    assert firing.labels["slo"] == LATENCY
    assert firing.labels["service"] == "risk-engine"
    assert firing.labels["owner"] == "risk-technology"
    assert firing.labels["domain"] == "risk"
    assert firing.labels["team"] == "risk-technology", "the SLO's own metadata labels are kept"

    evidence = firing.evidence
    tier = evidence["firing_tier"]
    assert tier["severity"] == "page"
    assert tier["state"] == "breach"
    factor = float(tier["factor"])
    assert tier["long_burn"] > factor
    assert tier["short_burn"] > factor
    long_window, short_window = tier["windows"].split("/")
    assert set(evidence["windows"]) == {long_window, short_window}
    assert evidence["windows"][long_window]["burn_rate"] == tier["long_burn"]
    assert evidence["windows"][short_window]["burn_rate"] == tier["short_burn"]
    assert evidence["windows"][short_window]["known"] is True
    assert isinstance(evidence["budget_remaining"], float)
    assert evidence["budget_remaining"] < 1.0
    assert isinstance(evidence["exhaustion_s"], int)
    assert evidence["exhaustion_s"] >= 0
    assert evidence["objective_percent"] == 99.5
    assert firing.annotations["runbook"].endswith("slo-risk-calculation.md")
    assert "risk-calculation-latency" in firing.annotations["summary"]

    assert _of(replayed.events, AVAILABILITY) == [], "a latency regression leaves availability alone"

    lines = _jsonl(replayed.folder / "alerts.jsonl")
    mine = [line for line in lines if line["fingerprint"] == firing.fingerprint]
    told = [line["transition"] for line in mine if line["transition"] != "repeat"]
    assert told == ["firing", "resolved"], "one page and one resolve reach the receiver"
    assert mine[0]["severity"] == "sev2"
    assert mine[0]["notification"]["reason"] == "new"
    repeats = [datetime.fromisoformat(line["notification"]["sent_at"]) for line in mine[1:-1]]
    assert all(line["transition"] == "repeat" for line in mine[1:-1]), "repeats only between the page and resolve"
    sent = [datetime.fromisoformat(mine[0]["notification"]["sent_at"]), *repeats]
    assert all(b - a >= timedelta(hours=4) for a, b in pairwise(sent)), "repeats follow the 4 h repeat_interval"
    for line in mine[1:-1]:  # a reminder says what the SLO shows when it is sent, and since when it fires
        assert line["annotations"]["summary"].startswith(
            f"still firing since {mine[0]['starts_at'][:16].replace('T', ' ')}Z: "
        )
        assert line["evaluated_at"] <= line["notification"]["sent_at"]
        assert line["evidence"]["window_end"] > mine[0]["evidence"]["window_end"], "not the firing-time evidence"
        assert line["evidence"]["budget"]["as_of"] == line["evaluated_at"]
    assert len({line["dedup_key"] for line in lines}) == len(lines)


def test_the_slo_alert_resolves_on_judged_windows_not_on_an_hour_without_events(replayed: Replayed):
    """The resolve tells the receiver "burn back under every alerting factor", so at that instant every tier must
    have been judged under its factor. Missing data (too few risk queries at night) is unknown: it may hold the
    alert, never close it as if the SLO had recovered."""
    resolved = [e for e in _of(replayed.events, LATENCY) if e.kind is EventKind.RESOLVED]
    assert len(resolved) == 1
    event = resolved[0]
    unjudged = [
        (t["windows"], t["state"], t["long_burn"], t["short_burn"])
        for t in event.evidence["tiers"]
        if t["state"] != "ok"
    ]
    assert unjudged == [], (
        f"resolved at {iso(event.at)} as {event.annotations['summary']!r} while tiers were not judged "
        f"(windows, state, long burn, short burn): {unjudged}; reason: {event.evidence.get('reason')!r}"
    )


def test_metric_records_reach_the_metrics_file_once_per_key_even_when_redelivered(replayed: Replayed, tmp_path: Path):
    """Each evaluation pass writes one `metrics` record per SLO to metrics_path (not to the alerts file), with
    only the four documented point names; a redelivery of everything (crash after send, before ack) adds no line."""
    path = replayed.folder / "metrics.jsonl"
    everything = _jsonl(path)
    assert {r["source"] for r in everything} == {"slo", "agent", "snowflake"}
    records = [r for r in everything if r["source"] == "slo"]
    names = {s.name for s in replayed.loaded.slos}
    assert {r["slo"] for r in records} == names
    assert all(r["type"] == "metrics" for r in records)
    assert not [line for line in _jsonl(replayed.folder / "alerts.jsonl") if line.get("type") == "metrics"]
    passes = sum(1 for r in replayed.results for e in r.evaluations if e.instants)
    assert Counter(r["slo"] for r in records) == dict.fromkeys(names, passes), "one record per SLO per pass"
    assert len({r["dedup_key"] for r in records}) == len(records)

    for record in records:
        points = record["points"]
        assert {p["name"] for p in points} <= METRIC_POINTS
        for point in points:
            assert point["dims"]["slo"] == record["slo"]
            if point["name"] in ("slo_sli", "slo_burn_rate"):
                assert point["dims"].get("window"), f"{point['name']} without a window: {point}"
        states = [p["value"] for p in points if p["name"] == "slo_state"]
        assert states == [STATE_CODES[record["state"]]]
    states = {n: {r["state"] for r in records if r["slo"] == n} for n in names}
    assert "page" in states[LATENCY]
    assert states[AVAILABILITY] <= {"ok", "unknown"}

    # Redelivery: every outbox item back to pending, as a crash between send and acknowledgement leaves it.
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("state.db", "alerts.jsonl", "metrics.jsonl"):
        shutil.copy(replayed.folder / name, copy / name)
    db = Database(copy / "state.db")
    try:
        with db.transaction() as conn:
            again = conn.execute("UPDATE outbox SET status = 'pending', next_attempt_at = 0").rowcount
        sink = JsonlSink(copy / "alerts.jsonl", "alerts-file", copy / "metrics.jsonl")
        report = deliver(Outbox(db), [sink], to_epoch(replayed.end), DeliverySettings())
    finally:
        db.close()
    assert again > len(records)
    assert report.delivered == again
    assert report.errors == []
    after = _jsonl(copy / "metrics.jsonl")
    assert after == everything, "redelivered records are recognised by their dedup_key"
    assert _jsonl(copy / "alerts.jsonl") == _jsonl(replayed.folder / "alerts.jsonl")


def test_every_cycle_reports_the_agents_health_and_the_platforms_metrics(replayed: Replayed):
    """Beside the SLO records, each cycle writes one agent-health record (heartbeat, cycle duration, source lag,
    outbox depth per sink) and, once complete data exists, one Snowflake platform record; every point is in the
    emitted-metrics catalogue with exactly its declared dimensions."""
    records = _jsonl(replayed.folder / "metrics.jsonl")
    agent = [r for r in records if r["source"] == "agent"]
    platform = [r for r in records if r["source"] == "snowflake"]
    assert len(agent) == len({r["dedup_key"] for r in agent}) >= len(replayed.results) - 1  # one per cycle minute
    for record in agent:
        by_name = Counter(p["name"] for p in record["points"])
        assert by_name["agent_heartbeat"] == 1
        assert by_name["agent_cycle_duration_seconds"] == 1
    last = agent[-1]["points"]
    families = {p["dims"]["family"] for p in last if p["name"] == "agent_source_lag_seconds"}
    assert {"snowflake.query", "snowflake.warehouse_load", "snowflake.warehouse_metering"} <= families
    sinks = {p["dims"]["sink"] for p in last if p["name"] == "agent_outbox_pending"}
    assert sinks == {s.name for s in replayed.loaded.config.spec.sinks}
    assert platform, "no platform metrics although the replay covers days of complete data"
    warehouses = {p["dims"]["warehouse"] for r in platform for p in r["points"]}
    assert {"RISK_WH", "TRADE_ANALYTICS_WH", "INGEST_WH"} <= warehouses
    percentiles = [p for p in platform[-1]["points"] if p["name"] == "snowflake_query_latency_ms"]
    assert {p["dims"]["percentile"] for p in percentiles} == {"p50", "p95", "p99"}
    for record in records:
        for point in record["points"]:
            declared = CATALOGUE.get(point["name"])
            assert declared is not None, point
            assert set(point["dims"]) <= {*declared.dims, *replayed.loaded.config.spec.labels}, point


def test_slo_status_lists_every_slo_and_validate_warns_where_one_failure_pages(
    replayed: Replayed, tmp_path: Path, capsys
):
    """`slo status --format json` reads the store: every configured SLO with its state, objective, budget, windows
    and tiers. `validate` with that store warns that one failed load pages the regulatory copy (min_events 0)."""
    assert main(["slo", "status", "--config", str(replayed.config), "--format", "json"]) == ExitCode.OK
    status = json.loads(capsys.readouterr().out)
    assert status["at"] == iso(replayed.end), "as of the last evaluation"
    by_name = {s["slo"]: s for s in status["slos"]}
    assert set(by_name) == {s.name for s in replayed.loaded.slos}
    for slo in replayed.loaded.slos:
        row = by_name[slo.name]
        assert row["state"] in {"ok", "ticket", "page", "unknown"}
        assert row["objective"] == float(slo.spec.objective)
        assert "budget_remaining" in row
        assert row["service"] == slo.spec.service
        assert row["owner"] == slo.spec.owner
        tiers = slo.spec.alerting.effective_tiers()
        assert [t["windows"] for t in row["tiers"]] == [t.label for t in tiers]
        assert {w for t in tiers for w in t.label.split("/")} == set(row["windows"])
    latency, availability = by_name[LATENCY], by_name[AVAILABILITY]
    assert latency["budget_remaining"] < 0, "INC-1 spent more than the budget of two days' risk traffic"
    assert 0 < availability["budget_remaining"] <= 1
    assert latency["period"]["total"] > 0

    assert main(["validate", "--config", str(replayed.config)]) == ExitCode.OK
    out = capsys.readouterr().out
    warned = [line for line in out.splitlines() if "one bad event would page" in line]
    assert len(warned) == 1, out
    assert "regulatory-paging.yaml" in warned[0]
    assert "min_events" in warned[0]

    no_store = _write_config(tmp_path, [RISK, replayed.folder / "slos"], store=tmp_path / "never" / "state.db")
    assert main(["validate", "--config", str(no_store)]) == ExitCode.OK
    assert "one bad event would page" not in capsys.readouterr().out, "traffic is only judged from a store"


# -- per-SLO watermarks --------------------------------------------------------------------------------------


def _spy_on_slo_fetches(agent: Agent) -> list[tuple[tuple[str, ...], datetime, datetime]]:
    """Record every SLO statement the agent sends: which SLOs it serves and its window."""
    calls: list[tuple[tuple[str, ...], datetime, datetime]] = []
    real = agent.source.fetch_slos

    def fetch_slos(docs: list[SloDoc], start: datetime, end: datetime) -> Any:
        calls.append((tuple(sorted(d.name for d in docs)), start, end))
        return real(docs, start, end)

    agent.source.fetch_slos = fetch_slos  # type: ignore[method-assign]
    return calls


def test_a_new_slo_backfills_its_period_while_the_others_only_reread_their_overlap(account, tmp_path: Path):
    """Per-SLO watermarks: adding risk-calculation-latency to a running config reads its whole period (and so
    Monday's history) in its own statements; risk-calculation-availability re-reads only its overlap; from then
    on both are due over one window and share one statement."""
    history = seed(account, days=2, queries_per_day=6000, incidents=False)
    slos = _risk_slos()
    availability, latency = slos[AVAILABILITY], slos[LATENCY]
    lookback = latency.spec.period.length + timedelta(days=1)  # the period, plus a day (slo_lookback)
    t1 = history.start + timedelta(days=1, hours=12)  # Tuesday noon, New York
    account.set_clock(t1)
    first = open_test_agent(_loaded(tmp_path, [availability]), account)
    try:
        report = poll_due(first, t1, ["slo"])
        before = first.watermarks.get(slo_watermark(slo_key(availability)))
    finally:
        first.close()
    assert report.errors == {}
    assert before.covered_from == to_epoch(t1 - lookback)
    assert before.polled_to == to_epoch(t1)

    t2 = t1 + STEP
    account.set_clock(t2)
    both = open_test_agent(_loaded(tmp_path, [availability, latency]), account)
    try:
        calls = _spy_on_slo_fetches(both)
        report = poll_due(both, t2, ["slo"])
        after_a = both.watermarks.get(slo_watermark(slo_key(availability)))
        after_l = both.watermarks.get(slo_watermark(slo_key(latency)))
        monday = (history.start, history.start + timedelta(days=1))
        latency_monday = _stored(both, latency, *monday)
        availability_rows = _stored(both, availability, history.start, t2)
        visible_monday = _visible_latency_events(account, *monday)

        t3 = t2 + STEP
        account.set_clock(t3)
        seen = len(calls)
        poll_due(both, t3, ["slo"])
        calls, shared = calls[:seen], calls[seen:]
    finally:
        both.close()
    assert report.errors == {}
    assert {names for names, _, _ in calls} == {(AVAILABILITY,), (LATENCY,)}, "different windows, separate scans"
    overlap = [(a, b) for names, a, b in calls if names == (AVAILABILITY,)]
    assert overlap == [(t1 - SLO_OVERLAP, t2)], "the known SLO re-reads only its overlap"
    backfill = sorted((a, b) for names, a, b in calls if names == (LATENCY,))
    assert backfill[0][0] == t2 - lookback
    assert backfill[-1][1] == t2
    assert all(b == c for (_, b), (c, _) in pairwise(backfill)), "no gap between chunks"

    assert after_l.covered_from == to_epoch(t2 - lookback)
    assert after_l.covered_from <= to_epoch(t2 - latency.spec.period.length), "the new SLO's period is covered"
    assert after_l.polled_to == to_epoch(t2)
    assert after_a.covered_from == before.covered_from, "the known SLO was not backfilled again"
    assert after_a.polled_to == to_epoch(t2)
    assert latency_monday[0] > 0
    assert latency_monday[1] == visible_monday > 0, "the backfill holds Monday's risk queries, each counted once"
    assert availability_rows[0] > 0

    assert [names for names, _, _ in shared] == [(AVAILABILITY, LATENCY)], "due over one window: one statement"
    assert [(a, b) for _, a, b in shared] == [(t2 - SLO_OVERLAP, t3)]


# -- Snowflake unreachable -----------------------------------------------------------------------------------


def test_an_unreachable_snowflake_makes_the_slo_source_unhealthy_and_freezes_the_slo_alert(account, tmp_path: Path):
    """While Snowflake is unreachable the SLO source alert fires after its 10 minutes; the paging latency SLO is
    judged on nothing: state unknown (never ok), its alert frozen — not resolved, even past the hour after which
    too-few-events would close it. Back online, the gap is re-read and the SLO is judged again."""
    history = seed(account, days=2, queries_per_day=8000)
    incident = next(i for i in history.incidents if i.id.startswith("INC-1"))
    slos = _risk_slos()
    latency = slos[LATENCY]
    loaded = _loaded(tmp_path, list(slos.values()), metrics=True)
    clock = SimulatedClock(incident.start - timedelta(minutes=30))

    healthy = open_agent(loaded, connect=connect_to(account))
    try:
        for _ in range(16):
            account.set_clock(clock.now())
            run_cycle(clock, healthy)
            if any(e.kind is EventKind.FIRING for e in _of(healthy.alerts.events(), LATENCY)):
                break
            clock.advance(STEP)
        paging = [i for i in healthy.alerts.active().values() if i.rule == LATENCY]
    finally:
        healthy.close()
    assert [(i.state, i.severity) for i in paging] == [(AlertState.FIRING, Severity.SEV2)], "INC-1 pages first"
    before = paging[0]

    outage_start = clock.now() + STEP
    down = open_agent(loaded, connect=_unreachable())
    try:
        outage = []
        for _ in range(6):  # 90 minutes: past the source alert's 10 minutes and the SLO's 1 h no-data timeout
            clock.advance(STEP)
            account.set_clock(clock.now())
            outage.append(run_cycle(clock, down))
        during = down.alerts.events()
        frozen = down.alerts.active()[before.fingerprint]
        status = snapshot(SloReader.of(down), latency, clock.now())
    finally:
        down.close()
    assert all("slo" in r.poll.errors for r in outage), "every cycle records the failed SLO poll and goes on"
    assert clock.now() < incident.end

    source = [e for e in _of(during, SOURCE_RULE) if e.labels["family"] == "slo"]
    assert [e.kind for e in source] == [EventKind.PENDING, EventKind.FIRING]
    assert source[0].at == outage_start, "pending from the first failed poll"
    assert source[1].at - source[0].at == timedelta(minutes=10), "its for: 10m"
    assert source[1].severity is Severity.SEV3

    assert [e for e in _of(during, LATENCY) if e.at >= outage_start] == [], "no transition on missing data"
    assert frozen.state is AlertState.FIRING
    assert frozen.severity is Severity.SEV2
    assert frozen.last_eval_at is not None
    assert frozen.last_eval_at < outage_start, "not even evaluated: frozen, not judged ok"
    assert status["state"] == "unknown"
    assert status["stale"] is True

    during_outage = [r for r in _jsonl(tmp_path / "metrics.jsonl") if r["at"] >= iso(outage_start)]
    metrics = [r for r in during_outage if r["source"] == "slo"]
    health = [p for r in during_outage if r["source"] == "agent" for p in r["points"]]
    failures = [
        p["value"]
        for p in health
        if p["name"] == "agent_source_failures" and p["dims"]["family"].startswith("snowflake.slo:")
    ]
    assert failures, "the agent's health records carry the failing source"
    assert failures[-1] >= 2, "consecutive failed polls of the SLO family are counted"
    assert {r["slo"] for r in metrics} == set(slos)
    assert {r["state"] for r in metrics} == {"unknown"}, "no data is never scored ok (or page)"
    assert {p["value"] for r in metrics for p in r["points"] if p["name"] == "slo_state"} == {-1}

    back = open_agent(loaded, connect=connect_to(account))
    try:
        recovered = []
        for _ in range(2):
            clock.advance(STEP)
            account.set_clock(clock.now())
            recovered.append(run_cycle(clock, back))
        after = back.alerts.events()
        judged = back.alerts.active().get(before.fingerprint)
        gap = (outage_start - SLO_OVERLAP, clock.now() - STEP)
        stored = _stored(back, latency, *gap)
        visible = _visible_latency_events(account, *gap)
    finally:
        back.close()
    assert all(r.poll.errors == {} for r in recovered)
    resolved = [e for e in _of(after, SOURCE_RULE) if e.labels["family"] == "slo" and e.kind is EventKind.RESOLVED]
    assert len(resolved) == 1
    assert judged is not None
    assert judged.last_eval_at is not None
    assert judged.last_eval_at >= clock.now() - STEP, "judged again once data flows"
    assert stored[1] == visible, "the outage's minutes were read in full, counted once"


# -- kill -9 mid-cycle ---------------------------------------------------------------------------------------

HITS = ("poll.after_replace", "evaluate.before_commit")


def _crash_history(server: Any) -> tuple[datetime, datetime]:
    """The crash scenario's history (the same in every process) and its replay window around INC-1."""
    history = seed(server, days=2, queries_per_day=6000, seed_value=11)
    incident = next(i for i in history.incidents if i.id.startswith("INC-1"))
    return incident.start - timedelta(hours=1), incident.end + timedelta(hours=1)


def _crash_config(state: Path) -> LoadedConfig:
    return _loaded(state, list(_risk_slos().values()), metrics=True)


def _drive(state: Path) -> int:
    """Subprocess driver: replay the crash scenario into ``state``, resuming after the last completed cycle."""
    from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake

    with EmbeddedSnowflake() as server:
        start, end = _crash_history(server)
        db_file = state / "state.db"
        if db_file.exists():
            conn = sqlite3.connect(db_file)
            try:
                last = conn.execute("SELECT MAX(instant) FROM cycles").fetchone()[0]
            finally:
                conn.close()
            if last is not None:
                start = datetime.fromtimestamp(last, UTC) + STEP
        agent = open_test_agent(_crash_config(state), server)
        try:
            replay(agent, server, start, end, STEP)
        finally:
            agent.close()
    return 0


def _run_driver(state: Path, failpoint: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SRE_AGENT_FAILPOINT"}
    if failpoint:
        env["SRE_AGENT_FAILPOINT"] = failpoint
    env["PYTHONPATH"] = str(Path(__file__).parent) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, __file__, str(state)], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def _stored_events(state: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(state / "state.db")
    try:
        rows = conn.execute(
            "SELECT event_id, rule, fingerprint, kind, severity, at, starts_at, evidence FROM alert_events "
            "ORDER BY event_id"
        ).fetchall()
    finally:
        conn.close()
    return [tuple(r) for r in rows]


def _last_cycle(state: Path) -> datetime:
    conn = sqlite3.connect(state / "state.db")
    try:
        return datetime.fromtimestamp(conn.execute("SELECT MAX(instant) FROM cycles").fetchone()[0], UTC)
    finally:
        conn.close()


def _notified(state: Path) -> list[tuple[str, str, str, str, str]]:
    lines = _jsonl(state / "alerts.jsonl")
    return [(x["rule"], x["fingerprint"], x["transition"], x["severity"], x["at"]) for x in lines]


@pytest.mark.slow
def test_kill_9_in_the_poll_and_the_commit_that_page_loses_nothing(account, tmp_path: Path, monkeypatch):
    """kill -9 right after the SLO poll that brings INC-1's slow queries replaces its rows (before its watermark
    commits), then again right before the evaluation that pages commits: after restarts the SLO alert's
    transitions, the notifications and the SLO metric records equal an uninterrupted run's, none twice."""
    import sre_agent.daemon.evaluate as evaluate_module
    import sre_agent.daemon.poll as poll_module
    import sre_agent.daemon.poll_slo as poll_slo_module

    hits: list[tuple[str, int]] = []
    cycle = [0]

    def record(name: str) -> None:
        hits.append((name, cycle[0]))

    for module in (poll_module, poll_slo_module, evaluate_module):
        monkeypatch.setattr(module, "failpoint", record)

    clean = tmp_path / "clean"
    start, end = _crash_history(account)
    agent = open_test_agent(_crash_config(clean), account)
    try:
        clock = SimulatedClock(start)
        results = []
        while clock.now() <= end:
            account.set_clock(clock.now())
            results.append(run_cycle(clock, agent))
            clock.advance(STEP)
            cycle[0] += 1
    finally:
        agent.close()
    monkeypatch.undo()

    # Where the page happened: the evaluation pass that recorded it, and the poll that brought its data.
    paged = [
        (i, j)
        for i, r in enumerate(results)
        for j, e in enumerate(r.evaluations)
        if any(x.rule == LATENCY and x.kind.notifies and x.severity is Severity.SEV2 for x in e.events)
    ]
    assert len(paged) == 1, "the clean run pages once"
    i, j = paged[0]
    poll_cycle = i if j == 1 else i - 1  # a page in a cycle's catch-up pass came from the previous cycle's poll
    evaluations = [k for k, (name, _) in enumerate(hits) if name == "evaluate.before_commit"]
    in_cycle = [k for k in evaluations if hits[k][1] == i]
    firing_hit = in_cycle[-1] if j == 1 else in_cycle[0]
    polls = [k for k, (name, c) in enumerate(hits) if name == "poll.after_replace" and c <= poll_cycle]
    assert hits[polls[-1]][1] == poll_cycle, "that cycle polled the SLOs"
    n_poll = len(polls)
    # After the first crash the process resumes in the same cycle, its catch-up pass already committed.
    n_eval = len([k for k in evaluations if polls[-1] < k <= firing_hit])

    state = tmp_path / "crashed"
    state.mkdir()
    for failpoint, killed_in in ((f"poll.after_replace:{n_poll}", poll_cycle), (f"evaluate.before_commit:{n_eval}", i)):
        crashed = _run_driver(state, failpoint)
        assert crashed.returncode == -signal.SIGKILL, f"{failpoint} should have killed the process: {crashed.stderr}"
        assert _last_cycle(state) == start + (killed_in - 1) * STEP, f"{failpoint}: killed in cycle {killed_in}"
        assert not [n for n in _notified(state) if n[0] == LATENCY and n[3] == "sev2"], "killed before the page"
    finished = _run_driver(state, None)
    assert finished.returncode == 0, finished.stderr

    assert _stored_events(state) == _stored_events(clean)
    notified = _notified(state)
    assert notified == _notified(clean)
    assert len(notified) == len(set(notified))
    assert [n[3] for n in notified if n[0] == LATENCY].count("sev2") == 1, "the page, once"
    metrics = _jsonl(state / "metrics.jsonl")
    slo_records = [m for m in metrics if m["source"] == "slo"]
    assert slo_records == [m for m in _jsonl(clean / "metrics.jsonl") if m["source"] == "slo"]
    assert len({m["dedup_key"] for m in metrics}) == len(metrics), "health records (timings differ) not twice either"


if __name__ == "__main__":
    sys.exit(_drive(Path(sys.argv[1])))
