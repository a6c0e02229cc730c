"""Incidents through the agent and the CLI on the exploding-join day (INC-1): the alerts on RISK_WH and its
service become one incident; people acknowledge, annotate, mitigate and resolve it in order; resolving drafts the
post-mortem (timeline, detection, impact, contributing factors, action items, the human sections to fill in)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from golden import assert_golden
from support import REPO, open_test_agent, replay, seed_inc1

from sre_agent.cli import main
from sre_agent.config.loader import load_config
from sre_agent.exit_codes import ExitCode
from sre_agent.model import iso
from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake
from sre_agent.simulate.incidents import Incident
from sre_agent.store.db import Database
from sre_agent.store.incidents import IncidentStatus, IncidentStore


def write_config(tmp: Path) -> Path:
    """examples/embedded.yaml (Snowflake rules, no SLOs, no Azure) with its state under ``tmp``."""
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
