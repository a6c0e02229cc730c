"""Incidents through the agent and the CLI on the exploding-join day (INC-1): the alerts on RISK_WH and its
service become one incident; people acknowledge, annotate, mitigate and resolve it in order; resolving drafts the
post-mortem (timeline, detection, impact, contributing factors, action items, the human sections to fill in)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from golden import assert_golden
from support import REPO, open_test_agent, replay, seed_inc1

from sre_agent.cli import main
from sre_agent.config.loader import load_config
from sre_agent.engine.rollups import QUERY
from sre_agent.exit_codes import ExitCode
from sre_agent.figures.text import human_ms, utc_range
from sre_agent.model import AlertEvent, EventKind, Severity, iso
from sre_agent.reports.postmortem.headline import symptom, title
from sre_agent.reports.postmortem.timeline import value_text
from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake
from sre_agent.simulate.incidents import Incident
from sre_agent.store.db import Database
from sre_agent.store.incidents import Incident as IncidentRecord
from sre_agent.store.incidents import IncidentStatus, IncidentStore
from sre_agent.store.rollups import RollupStore


def write_config(tmp: Path, cost: bool = False) -> Path:
    """examples/embedded.yaml (Snowflake rules, no SLOs, no Azure; spec.cost only with ``cost``: the per-user
    figures) with its state under ``tmp``."""
    data = yaml.safe_load((REPO / "examples" / "embedded.yaml").read_text())
    spec = data["spec"]
    spec["slos"] = []
    spec["runbooks"] = str(REPO / "runbooks")
    rules = ("snowflake-latency", "snowflake-warehouses", "snowflake-anomaly", "snowflake-pattern-anomaly")
    spec["rules"] = [str(REPO / "rules" / f"{r}.yaml") for r in rules]
    spec["rules"].append(str(REPO / "examples" / "routing" / "embedded.yaml"))
    spec["store"]["path"] = str(tmp / "state.db")
    spec["reports"]["dir"] = str(tmp / "reports")  # each test's drafts apart (the example's folder is shared)
    spec["sinks"] = [{"type": "console"}, {"type": "jsonl", "name": "alerts-file", "path": str(tmp / "a.jsonl")}]
    spec["snowflake"]["backfill"] = "6d"
    spec.pop("azure", None)
    if not cost:
        spec.pop("cost", None)
    path = tmp / "agent.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def open_incident(
    embedded_server: EmbeddedSnowflake, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Incident]:
    """The agent replayed from six hours before INC-1 to two hours into it: its alerts still fire."""
    incident = seed_inc1(embedded_server, queries_per_day=8000)
    config = write_config(tmp_path_factory.mktemp("incidents"))
    agent = open_test_agent(load_config(config), embedded_server)
    try:
        replay(agent, embedded_server, incident.start - timedelta(hours=6), incident.start + timedelta(hours=2))
    finally:
        agent.close()
    return config, incident


def cli(config: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([*args, "--config", str(config)])
    out = capsys.readouterr()
    return code, out.out, out.err


def incidents(config: Path) -> list[Any]:
    loaded = load_config(config)
    db = Database(loaded.resolve(loaded.config.spec.store.path), writer=False)
    try:
        return IncidentStore(db).all(include_resolved=True)
    finally:
        db.close()


def test_the_risk_alerts_form_one_open_incident(open_incident: tuple[Path, Incident], capsys: Any) -> None:
    config, scripted = open_incident
    found = incidents(config)
    assert len(found) == 1, [(i.id, i.title) for i in found]
    inc = found[0]
    assert inc.status == IncidentStatus.OPEN
    assert inc.scope["warehouse"] == ["RISK_WH"]
    assert scripted.start < inc.detected_at < scripted.start + timedelta(hours=1)
    assert len(inc.alerts) >= 2  # latency and queueing / spill rules of the same warehouse, one incident
    assert all(a.labels.get("warehouse") == "RISK_WH" or a.labels.get("service") == "risk-engine" for a in inc.alerts)
    code, out, _ = cli(config, "incidents", "list", "--format", "json", capsys=capsys)
    assert code == ExitCode.OK
    listed = json.loads(out)
    assert [r["id"] for r in listed] == [inc.id]
    assert listed[0]["status"] == "open"


def test_human_steps_are_recorded_in_order_and_resolve_drafts_the_postmortem(
    open_incident: tuple[Path, Incident], tmp_path: Path, capsys: Any
) -> None:
    config, scripted = open_incident
    inc = incidents(config)[0]
    ack = iso(inc.detected_at + timedelta(minutes=4))
    code, _, err = cli(config, "incidents", "mitigate", inc.id, "--at", iso(inc.started_at - timedelta(hours=1)),
                       "--author", "dana", capsys=capsys)  # fmt: skip
    assert code == ExitCode.USAGE
    assert "cannot be mitigated earlier" in err
    assert cli(config, "incidents", "ack", inc.id, "--at", ack, "--author", "dana", capsys=capsys)[0] == ExitCode.OK
    code, _, err = cli(config, "incidents", "ack", inc.id, "--author", "lee", capsys=capsys)
    assert code == ExitCode.USAGE
    assert "already acknowledged" in err
    note = "Duplicated FX rate row in REFERENCE.FX.RATES; <b>not</b> a code change"
    at = iso(inc.detected_at + timedelta(minutes=20))
    assert cli(config, "incidents", "note", inc.id, note, "--author", "dana", "--at", at, capsys=capsys)[0] == 0
    mitigated = iso(scripted.end)
    code, _, _ = cli(config, "incidents", "mitigate", inc.id, "--at", mitigated, "--author", "dana",
                     "--note", "duplicate row deleted", capsys=capsys)  # fmt: skip
    assert code == ExitCode.OK
    code, out, err = cli(config, "incidents", "resolve", inc.id, "--at", iso(scripted.end + timedelta(minutes=10)),
                         "--author", "dana", "--out", str(tmp_path), capsys=capsys)  # fmt: skip
    assert code == ExitCode.OK, err
    assert "post-mortem draft" in out
    code, _, err = cli(config, "incidents", "resolve", inc.id, capsys=capsys)
    assert code == ExitCode.USAGE
    assert "already resolved" in err
    code, _, err = cli(config, "incidents", "show", "INC-19990101-1", capsys=capsys)
    assert code == ExitCode.USAGE
    assert "no incident 'INC-19990101-1'" in err

    data = json.loads((tmp_path / f"postmortem-{inc.id}.json").read_text())
    d = data["detection"]
    # Onset from the data: before the first alert, near the scripted start (10:20 New York).
    onset = d["onset"]
    assert iso(scripted.start - timedelta(minutes=15)) <= onset <= iso(inc.detected_at)
    assert 0 < d["time_to_detect_min"] <= 60
    assert d["time_to_acknowledge_min"] == 4.0
    assert d["acknowledged_by"] == "dana"
    stages = [r["stage"] for r in data["timeline"] if r["stage"]]
    assert stages == ["Started", "Detected", "Acknowledged", "Mitigated", "Resolved"]
    # The recorded mitigation is the impact's end: one stage (Mitigated), and TTM and TTR are measured to it.
    at = _stage_at(data)
    assert at["Mitigated"] == at["Impact ended"] == mitigated
    assert data["times"]["spans"]["ttm"]["minutes"] == _minutes(onset, mitigated) == d["time_to_mitigate_min"]
    assert data["times"]["spans"]["ttr"]["minutes"] == _minutes(iso(inc.detected_at), mitigated)
    assert any(r["event"] == "note" and "Duplicated FX rate" in r["detail"] for r in data["timeline"])
    assert any(r["event"].startswith("notified") for r in data["timeline"])
    kinds = {(f["kind"], f["subject"]) for f in data["contributing_factors"]}
    assert ("pattern latency", "pattern " + _exploding()) in kinds or ("latency", "warehouse RISK_WH") in kinds
    assert data["impact"]["queries"]["queries"] > 0
    assert data["impact"]["queries"]["p95_ms"] > 2 * data["impact"]["baseline"]["p95_ms"]
    assert data["impact"]["warehouses"] == ["RISK_WH"] or "RISK_WH" in data["impact"]["warehouses"]
    assert data["to_fill_in"] == ["Root cause and trigger", "Resolution", "What went well", "What went badly",
                                  "Where we got lucky"]  # fmt: skip
    assert data["runbooks"]
    html = (tmp_path / f"postmortem-{inc.id}.html").read_text()
    assert "&lt;b&gt;not&lt;/b&gt;" in html  # the note is text, not markup
    assert "<b>not</b>" not in html
    assert "<script" not in html
    assert "TO FILL IN" in html
    md = (tmp_path / f"postmortem-{inc.id}.md").read_text()
    assert "**TO FILL IN.**" in md
    assert_golden("postmortem_inc1", data)
    stored = incidents(config)[0]
    assert stored.postmortem == str(tmp_path / f"postmortem-{inc.id}.html")


def _exploding() -> str:
    from sre_agent.simulate.ids import stable_hash

    return stable_hash("param:" + "risk.exposure_by_counterparty")


def test_report_postmortem_redrafts_and_refuses_an_unknown_incident(
    open_incident: tuple[Path, Incident], tmp_path: Path, capsys: Any
) -> None:
    config, _ = open_incident
    inc = incidents(config)[0]
    code, out, err = cli(config, "report", "postmortem", inc.id.lower(), "--out", str(tmp_path), capsys=capsys)
    assert code == ExitCode.OK, err
    assert f"postmortem-{inc.id}.html" in out
    assert (tmp_path / f"postmortem-{inc.id}.md").exists()
    code, _, err = cli(config, "report", "postmortem", "INC-20990101-9", "--out", str(tmp_path / "x"), capsys=capsys)
    assert code == ExitCode.USAGE
    assert "no incident 'INC-20990101-9'" in err
    assert not (tmp_path / "x").exists()  # nothing written


@pytest.fixture(scope="module")
def resolved_by_itself(
    embedded_server: EmbeddedSnowflake, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any], str]:
    """INC-1 replayed with spec.cost (per-user figures) to two hours past its end: it resolved by itself, the daemon
    drafted its post-mortem; the draft (JSON, HTML) of the store as it is at the end."""
    incident = seed_inc1(embedded_server, queries_per_day=8000)
    config = write_config(tmp_path_factory.mktemp("resolved"), cost=True)
    agent = open_test_agent(load_config(config), embedded_server)
    try:
        replay(agent, embedded_server, incident.start - timedelta(hours=6), incident.end + timedelta(hours=2))
    finally:
        agent.close()
    [drafted] = sorted((config.parent / "reports").glob("postmortem-*.json"))  # by the daemon, when it resolved
    # Redrafted from the store as it is now (rows kept landing after the daemon's draft): what the tests compare.
    out = config.parent / "redrafted"
    assert main(["report", "postmortem", drafted.stem.removeprefix("postmortem-"), "--out", str(out),
                 "--config", str(config)]) == ExitCode.OK  # fmt: skip
    draft = out / drafted.name
    return config, json.loads(draft.read_text()), draft.with_suffix(".html").read_text()


def _stage_at(data: dict[str, Any]) -> dict[str, str | None]:
    return {s["stage"]: s["at"] for s in data["times"]["stages"]}


def _known(value: str | None) -> str:
    assert value is not None
    return value


def _minutes(a: str, b: str) -> float:
    return round((datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() / 60, 1)


def test_one_query_count_that_the_people_table_adds_up_to(resolved_by_itself: tuple[Path, dict[str, Any], str]) -> None:
    """The impact's query count is the scope's queries that ended in the impact window; the per-user table (hourly
    rollup, whole hours) adds up to its own total, and its note splits that total into the same count plus the
    queries of those hours before the onset and after the impact ended — or says by how much the hourly rollup lags."""
    config, data, html = resolved_by_itself
    impact, people = data["impact"], data["impact"]["people"]
    count = impact["queries"]["queries"]
    assert count > 0
    assert people["in_window"] == count
    assert sum(u["queries"] for u in people["users"]) == people["queries"] == sum(r["queries"] for r in people["roles"])
    # Independently, from the store: the scope's per-minute rows in the impact window and in the whole hours.
    loaded = load_config(config)
    db = Database(loaded.resolve(loaded.config.spec.store.path), writer=False)
    try:
        lo, hi = (int(datetime.fromisoformat(people[k]).timestamp()) for k in ("hours_from", "hours_to"))
        rows = RollupStore(db).load(QUERY, lo, hi)
    finally:
        db.close()
    rows = rows.filter(pl.col("warehouse").is_in(["RISK_WH"]) | pl.col("service").is_in(["risk-engine"]))
    onset, end = (int(datetime.fromisoformat(data["window"][k]).timestamp()) for k in ("onset", "end"))
    in_window = rows.filter((pl.col("bucket") >= onset) & (pl.col("bucket") < end))["queries"].sum()
    assert in_window == count
    hours_total = int(rows["queries"].sum())
    assert people["before_onset"] + count + people["after_end"] == hours_total
    assert (
        f"{hours_total:,} queries = the {count:,} of the impact window + {people['before_onset']:,}" in people["note"]
    )
    if people["queries"] != hours_total:  # the hourly rollup lands up to 6 h late: the note says by how much
        assert f"holds {people['queries']:,}: {hours_total - people['queries']:,} fewer" in people["note"]
    assert f"{count:,} queries of the scope ended in that window" in data["summary"]
    assert escape(people["note"]) in html
    assert f"<td>queries ended</td><td>{count:,}</td>" in html


def test_ttr_runs_from_the_first_alert_to_the_impact_end_with_the_alerts_tail_apart(
    resolved_by_itself: tuple[Path, dict[str, Any], str],
) -> None:
    _, data, html = resolved_by_itself
    at, spans = _stage_at(data), data["times"]["spans"]
    detected, ended, quiet, resolved = (_known(at[s]) for s in ("Detected", "Impact ended", "Alerts resolved",
                                                                 "Resolved"))  # fmt: skip
    assert detected < ended <= resolved
    assert spans["ttr"]["minutes"] == _minutes(detected, ended) == data["detection"]["time_to_restore_min"]
    assert spans["tail"]["minutes"] == max(0.0, _minutes(ended, quiet)) == data["detection"]["alerts_tail_min"]
    assert spans["open"]["minutes"] == _minutes(detected, resolved)
    assert spans["ttd"]["minutes"] == _minutes(at["Started"] or "", detected)
    assert "time_to_resolve_min" not in data["detection"]  # TTR is not the incident's lifetime any more
    assert "<span>time to restore</span>" in html
    assert f"<b>{spans['ttr']['text']}</b><span>Detected → Impact ended</span>" in html
    assert "<span>alerts&#x27; tail</span>" in html


def test_stages_agree_with_the_cards(resolved_by_itself: tuple[Path, dict[str, Any], str]) -> None:
    """Nobody recorded a mitigation: no timeline row is Mitigated and its card reads "—" (not recorded); the data's
    end of impact is its own stage, Impact ended, at the instant the impact card and TTR are measured to."""
    _, data, html = resolved_by_itself
    at = _stage_at(data)
    rows = [r for r in data["timeline"] if r["stage"]]
    stages = [r["stage"] for r in rows]
    assert "Mitigated" not in stages
    assert at["Mitigated"] is None
    assert data["times"]["spans"]["ttm"]["minutes"] is None
    assert "<b>—</b><span>Started → Mitigated (mitigated: not recorded)</span>" in html
    assert stages == [s for s in ("Started", "Detected", "Impact ended", "Alerts resolved", "Resolved") if s in stages]
    assert {"Started", "Detected", "Impact ended", "Resolved"} <= set(stages)
    for r in rows:  # each stage row sits at its stage's instant
        assert datetime.fromisoformat(r["at"]) == datetime.fromisoformat(at[r["stage"]] or ""), r
    assert data["window"]["end"] == datetime.fromisoformat(at["Impact ended"] or "").isoformat()


def test_the_title_names_the_service_and_what_users_saw(resolved_by_itself: tuple[Path, dict[str, Any], str]) -> None:
    _, data, html = resolved_by_itself
    inc = data["incident"]
    q, b = data["impact"]["queries"], data["impact"]["baseline"]
    assert inc["symptom"]["kind"] == "latency"
    assert inc["title"] == (f"risk-engine: queries slow (p95 {human_ms(q['p95_ms'])} vs {human_ms(b['p95_ms'])}) on "
                            f"RISK_WH — {inc['id']}")  # fmt: skip
    assert inc["alert_title"].startswith("warehouse-remote-spill")  # what opened it is still said, apart
    assert data["summary"].startswith(f"risk-engine saw queries slow on RISK_WH (p95 {human_ms(q['p95_ms'])}")
    assert f"<h1>Post-mortem (draft): {escape(inc['title'])}</h1>" in html


def test_timeline_rows_name_their_alert_with_units(resolved_by_itself: tuple[Path, dict[str, Any], str]) -> None:
    _, data, _ = resolved_by_itself
    rules = {"warehouse-remote-spill", "risk-engine-latency-p95"}
    alerts = [r for r in data["timeline"] if r["event"].startswith(("alert ", "notified", "held"))]
    assert alerts
    assert all(r["alert"] in rules for r in alerts), {r["alert"] for r in alerts}
    assert not any(re.search(r"\de[+-]\d", r["detail"]) for r in data["timeline"])  # no 3.389e+09
    spill = [r["detail"] for r in alerts if r["alert"] == "warehouse-remote-spill" and r["event"] == "alert firing"]
    assert spill
    assert all(re.search(r" · [\d.]+ GB \(> 1\.0 GB over 15m\)$", d) for d in spill), spill
    latency = [
        r["detail"] for r in alerts if r["alert"] == "risk-engine-latency-p95" and r["event"].startswith("alert")
    ]
    assert all(re.search(r" · (\d+m \d\ds|[\d.]+ s) \(> \dm 00s over 15m\)$", d) for d in latency), latency
    notified = [r for r in alerts if r["event"].startswith("notified")]
    keys = [(r["at"], r["alert"], r["event"]) for r in notified]
    assert len(keys) == len(set(keys))  # one row per alert and message, whatever the number of receivers
    assert any(r["detail"].startswith("alerts-file, console · ") for r in notified)


def test_every_chart_is_titled_with_what_it_shows_and_its_dates(
    resolved_by_itself: tuple[Path, dict[str, Any], str],
) -> None:
    _, data, html = resolved_by_itself
    onset, end = data["window"]["onset"], data["window"]["end"]
    assert len(data["charts"]) >= 3
    for c in data["charts"]:
        assert c["title"].startswith(f"{c['what']} ({c['unit']}) — ")
        start, stop = datetime.fromisoformat(c["from"]), datetime.fromisoformat(c["to"])
        assert f"{utc_range(start, stop)}," in c["title"]
        assert c["title"].count("UTC") == 1
        assert start <= datetime.fromisoformat(onset) < datetime.fromisoformat(end) <= stop
        assert f"<figcaption><b>{escape(c['title'])}</b></figcaption>" in html
    assert data["charts"][0]["what"] == "p95 latency of the scope's queries"
    assert data["charts"][0]["unit"] == "s"  # at human scale, not 177,437 ms


def test_incidents_show_prints_the_postmortems_spans(
    resolved_by_itself: tuple[Path, dict[str, Any], str], capsys: Any
) -> None:
    config, data, _ = resolved_by_itself
    inc = data["incident"]["id"]
    code, out, _ = cli(config, "incidents", "show", inc, "--format", "json", capsys=capsys)
    assert code == ExitCode.OK
    shown = json.loads(out)["times"]["spans"]
    for key in ("tta", "open"):
        assert shown[key]["minutes"] == data["times"]["spans"][key]["minutes"], key
    code, out, _ = cli(config, "incidents", "show", inc, capsys=capsys)
    assert f"incident open {data['times']['spans']['open']['text']} (Detected → Resolved)" in out
    assert "time to restore" in out  # named, and sent to the post-mortem for its figure


def _event(rule: str, value: float, threshold: float | None, evidence: dict[str, Any], **labels: str) -> AlertEvent:
    at = datetime(2026, 11, 4, 19, 30, tzinfo=UTC)
    return AlertEvent(1, "fp", rule, EventKind.FIRING, Severity.SEV2, labels, {}, at, at, None, value, threshold,
                      evidence)  # fmt: skip


def test_alert_values_are_written_in_their_unit() -> None:
    spill = _event("warehouse-remote-spill", 3388856865.0, 1e9, {"unit": "bytes", "op": ">", "window": "15m"})
    assert value_text(spill, {}) == "3.4 GB (> 1.0 GB over 15m)"
    p95 = _event("risk-engine-latency-p95", 95397.7, 60000.0, {"unit": "ms", "op": ">", "window": "15m"})
    assert value_text(p95, {}) == "1m 35s (> 1m 00s over 15m)"
    errors = _event("ingestion-error-rate", 0.538462, 0.5, {"unit": "ratio", "op": ">", "window": "10m"})
    assert value_text(errors, {}) == "53.8 % (> 50.0 % over 10m)"
    slo = _event("risk-calculation-latency", 23.1537, 13.44, {"burn_now": 23.2, "firing_tier": {"windows": "1h/5m"}},
                 slo="risk-calculation-latency")  # fmt: skip
    assert value_text(slo, {}) == "burn rate 23.2× over 1h/5m (alerts at 13.44×)"
    watermark = _event("stream-analytics-watermark-delay", 1025.0, 300.0, {"unit": "", "op": ">", "window": "5m"})
    assert value_text(watermark, {"stream-analytics-watermark-delay": ["OutputWatermarkDelaySeconds"]}) == (
        "17m 05s (> 5m 00s over 5m)"
    )
    forecast = _event("transform-wh-monthly", 480.8887, 110.0, {"amount": 400.0, "unit": "credits"}, signal="forecast")
    assert value_text(forecast, {}) == "forecast 481 % of the 400.00 credits budget (alerts at 110 %)"


def test_the_symptom_is_the_largest_user_visible_change(tmp_path: Path) -> None:
    """Failures that grew 400-fold outrank a p95 twice its baseline; a change under 1.5× is no symptom."""
    loaded = load_config(write_config(tmp_path))
    at = datetime(2026, 11, 5, 18, 20, tzinfo=UTC)
    incident = IncidentRecord("INC-20261105-1", "ingestion-error-rate (service trade-ingest)", IncidentStatus.RESOLVED,
                              Severity.SEV2, {"service": ["trade-ingest"]}, at, at, at)  # fmt: skip
    stats = {"queries": 1000, "failed": 800, "p95_ms": 16000.0}
    impact = {"queries": stats, "baseline": {"queries": 1000, "failed": 2, "p95_ms": 8000.0}, "slos": [],
              "cost": {"extra_credits": 0.2, "credits": 8.3, "baseline_credits": 8.1, "currency": "USD",
                       "extra_cost": 0.6}, "services": ["trade-ingest"], "warehouses": ["INGEST_WH"]}  # fmt: skip
    s = symptom(loaded, incident, impact, [], "")
    assert (s.kind, s.what, s.detail, s.where) == (
        "errors",
        "queries failing",
        "80.0 % failed vs 0.2 %",
        " on INGEST_WH",
    )
    assert (
        title(s, incident.id) == "trade-ingest: queries failing (80.0 % failed vs 0.2 %) on INGEST_WH — INC-20261105-1"
    )
    impact["queries"] = {"queries": 1000, "failed": 2, "p95_ms": 10000.0}
    fallback = symptom(loaded, incident, impact, [], "54 % (> 50 % over 10m)")
    assert (fallback.kind, fallback.what) == ("alert", "ingestion-error-rate")


def test_on_a_replayed_store_a_step_without_at_takes_the_stores_clock(
    open_incident: tuple[Path, Incident], tmp_path: Path, capsys: Any
) -> None:
    """The demo's store lives in its replayed week: a note without --at is stamped with the store's last
    evaluation, not today's wall clock (after which no later step of the week could be recorded)."""
    import shutil

    from sre_agent.store import evaluation_state

    config, _ = open_incident
    copy = write_config(tmp_path)
    shutil.copy(load_config(config).config.spec.store.path, tmp_path / "state.db")
    db = Database(tmp_path / "state.db")
    try:
        evaluation_state.mark_simulated(db)
        last = evaluation_state.last_instant(db)
    finally:
        db.close()
    inc = incidents(copy)[0]
    assert cli(copy, "incidents", "note", inc.id, "checked RISK_WH", "--author", "dana", capsys=capsys)[0] == 0
    note = [s for s in incidents(copy)[0].log if s.kind == "note"][-1]
    assert int(note.at.timestamp()) == last
