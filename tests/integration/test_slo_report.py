"""`sre-agent report slo` on a store the agent filled from the embedded Snowflake (Monday and Tuesday, with INC-1,
Tuesday's risk-query latency regression, burning risk-calculation-latency): compliance and error budget that
match the `slo` rollup rows, the incident's firing interval with the budget it used, a reviewed golden JSON,
self-contained and escaped HTML, and clear errors for bad periods and a missing store."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from golden import assert_golden
from support import REPO, assert_report_refused_and_kept, open_test_agent, replay, seed

from sre_agent.cli import main
from sre_agent.config.loader import LoadedConfig, load_config
from sre_agent.config.slo import slo_key
from sre_agent.daemon.evaluate_slo import SloReader
from sre_agent.engine.rollups import SLO
from sre_agent.exit_codes import ExitCode
from sre_agent.figures.slo_budget import BudgetUse
from sre_agent.model import AlertEvent, EventKind, from_epoch, to_epoch
from sre_agent.reports.slo.data import MET, MISSED, NO_DATA, SloReport, SloSection, build_slo_report
from sre_agent.reports.slo.render import render_html, render_markdown, to_json, write_slo_report
from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake
from sre_agent.slo_status import snapshot
from sre_agent.store.alerts import AlertStore
from sre_agent.store.db import Database
from sre_agent.store.rollups import RollupStore
from sre_agent.store.slo_minutes import SloMinutes
from sre_agent.store.watermarks import Watermarks

pytestmark = pytest.mark.integration

LATENCY = "risk-calculation-latency"
AVAILABILITY = "risk-calculation-availability"
NOW = datetime(2026, 11, 4, 12, tzinfo=UTC)
"""The report's clock (and generation time): Wednesday, after the replay."""
EVIL = "<script>alert(1)</script>"


def _slo_files(folder: Path, description: str | None = None, label: str | None = None) -> list[Path]:
    """The shipped risk SLOs; the latency one on a calendar month (New York) with page tiers only, so that INC-1's
    page resolves the same afternoon. ``description`` / ``label`` replace its description / team label."""
    docs = list(yaml.safe_load_all((REPO / "slo_definitions" / "risk.yaml").read_text()))
    latency = next(d for d in docs if d["metadata"]["name"] == LATENCY)
    latency["spec"]["period"] = {"calendar": "month", "time_zone": "America/New_York"}
    latency["spec"]["alerting"]["tiers"] = [
        {"severity": "page", "long": "1h", "short": "5m", "budget_percent": 2},
        {"severity": "page", "long": "6h", "short": "30m", "budget_percent": 5},
    ]
    if description is not None:
        latency["spec"]["description"] = description
    if label is not None:
        latency["metadata"]["labels"]["team"] = label
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "risk.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return [path]


def _config(folder: Path, store: Path, **slo_changes: Any) -> Path:
    """An agent config with the two risk SLOs only, its rule families polled once a day (nothing reads them)."""
    data = yaml.safe_load((REPO / "examples" / "embedded.yaml").read_text())
    spec = data["spec"]
    spec["rules"] = []
    spec["slos"] = [str(p) for p in _slo_files(folder / "slos", **slo_changes)]
    spec["runbooks"] = str(REPO / "runbooks")
    spec["store"]["path"] = str(store)
    spec["sinks"] = [{"type": "jsonl", "name": "alerts-file", "path": str(folder / "alerts.jsonl")}]
    spec["snowflake"]["backfill"] = "1d"
    spec["snowflake"]["polls"] = {
        "query": {"interval": "1d", "overlap": "60m"},
        "warehouse_load": {"interval": "1d", "overlap": "4h"},
        "warehouse_metering": {"interval": "1d", "overlap": "7h"},
        "slo": {"interval": "15m", "overlap": "60m"},
    }
    spec.pop("azure")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "agent.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def store(embedded_server: EmbeddedSnowflake, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Monday and Tuesday seeded at 3,000 queries a day; the agent replayed every 15 minutes from Tuesday 00:00 to
    18:00 New York (its first poll reaches back to Monday 00:00)."""
    embedded_server.reset()
    folder = tmp_path_factory.mktemp("slo-report")
    config = _config(folder, folder / "state.db")
    history = seed(embedded_server, 2, queries_per_day=3000)
    agent = open_test_agent(load_config(config), embedded_server)
    try:
        start = history.start + timedelta(days=1)
        replay(agent, embedded_server, start, start + timedelta(hours=18))
    finally:
        agent.close()
        embedded_server.reset()
    return config


def _build(config: Path, period: str | None = "2026-11") -> SloReport:
    loaded = load_config(config)
    db = Database(loaded.resolve(loaded.config.spec.store.path), writer=False)
    try:
        return build_slo_report(loaded, db, period, NOW)
    finally:
        db.close()


def _rows(loaded: LoadedConfig, name: str, lo: datetime, hi: datetime) -> tuple[float, float]:
    """Summed good and total of ``name``'s `slo` rollup rows with a bucket in ``[lo, hi)``."""
    slo = next(s for s in loaded.slos if s.name == name)
    db = Database(loaded.resolve(loaded.config.spec.store.path), writer=False)
    try:
        sid = RollupStore(db).series_id(SLO, (slo_key(slo),))
        row = db.read(
            "SELECT COALESCE(SUM(good), 0) AS good, COALESCE(SUM(total), 0) AS total FROM rollup_slo "
            "WHERE series_id = ? AND bucket >= ? AND bucket < ?",
            (sid, int(lo.timestamp()), int(hi.timestamp())),
        )[0]
    finally:
        db.close()
    return float(row["good"]), float(row["total"])


def _slo(report: SloReport, name: str) -> SloSection:
    return next(s for s in report.slos if s.name == name)


def _status(config: Path, name: str, at: datetime) -> dict[str, Any]:
    """`slo status --at` of ``name``, as the CLI computes it."""
    loaded = load_config(config)
    db = Database(loaded.resolve(loaded.config.spec.store.path), writer=False)
    try:
        reader = SloReader(loaded.config.spec, Watermarks(db), SloMinutes(db))
        return snapshot(reader, next(s for s in loaded.slos if s.name == name), at)
    finally:
        db.close()


def test_month_compliance_matches_the_slo_rollup_rows(store: Path) -> None:
    """Good and total are the rollup's rows of the month up to the data's end; compliance = good / total, and the
    objective allows 0.5 % of total bad; INC-1 makes latency miss, availability stays met."""
    report = _build(store)
    loaded = load_config(store)
    assert report.period == "2026-11"
    assert report.time_zone == "America/New_York", "spec.cost.time_zone, as the cost report"
    assert report.start == datetime(2026, 11, 1, 4, tzinfo=UTC)
    assert report.as_of == NOW, "the month is under way: budgets as of the report's clock"
    assert len(report.days) == 30
    for name in (LATENCY, AVAILABILITY):
        s = _slo(report, name)
        assert s.data_from == report.start, "an SLO's first poll reaches back over its whole window"
        assert s.data_until is not None
        assert s.data_until <= NOW
        good, total = _rows(loaded, name, report.start, s.data_until)
        assert total > 1000
        assert (s.good, s.total, s.bad) == (good, total, total - good)
        assert s.compliance_percent == pytest.approx(good / total * 100)
        assert s.allowed_bad == pytest.approx(0.005 * total)
        assert any("the month's compliance is that of the events so far" in n for n in s.notes)
    latency, availability = _slo(report, LATENCY), _slo(report, AVAILABILITY)
    assert latency.status == MISSED
    assert availability.status == MET, "a latency regression leaves availability alone"
    assert availability.incidents == []


def test_each_slos_budget_is_the_figure_slo_status_shows_at_the_same_instant(store: Path) -> None:
    """One definition: the report's budget left (and used) is `slo status --at` of the report's instant, for the
    calendar-month latency SLO and the rolling-28-day availability SLO alike; each says its period."""
    report = _build(store)
    for name, period in ((LATENCY, "calendar month (America/New_York)"), (AVAILABILITY, "rolling 28d")):
        s = _slo(report, name)
        status = _status(store, name, report.as_of)
        assert s.budget == status["budget"]
        assert s.budget is not None
        assert s.budget["remaining"] == pytest.approx(status["budget_remaining"])
        assert s.budget["period"] == s.slo_window == status["period_kind"] == period
        assert s.state == status["state"]
    latency = _slo(report, LATENCY)
    assert latency.budget is not None
    assert latency.budget["extrapolated"], "the month is under way: its events are extrapolated to its end"
    assert latency.budget["consumed"] > 0.5, "INC-1 spent over half of November's budget in two hours"


def test_the_daily_line_is_the_budget_left_at_each_days_end(store: Path) -> None:
    report = _build(store)
    latency = _slo(report, LATENCY)
    observed = [d for d in latency.daily if d["budget_remaining_percent"] is not None]
    assert [d["day"].day for d in observed] == [1, 2, 3], "4 November has not ended at the report's instant"
    tz = ZoneInfo(report.time_zone)
    for d in observed:
        end = datetime(d["day"].year, d["day"].month, d["day"].day + 1, tzinfo=tz)
        assert d["budget_remaining_percent"] == pytest.approx(_status(store, LATENCY, end)["budget_remaining"] * 100)
    assert observed[0]["budget_remaining_percent"] == 100, "Sunday 1 November: polled, no risk query ran"
    assert observed[-1]["budget_remaining_percent"] < 50, "INC-1 on Tuesday"


def test_the_incident_is_the_alerts_firing_interval_with_the_budget_its_resolve_stated(store: Path) -> None:
    """INC-1 (Tuesday 10:20-12:50 New York) pages risk-calculation-latency: its first interval runs from the start
    of its condition to its resolve, at sev2, and carries the budget its burn used — the figure its resolve stored
    and said in its summary, counted from where the burn began in the data (before the alert's start)."""
    report = _build(store)
    latency = _slo(report, LATENCY)
    assert latency.incidents, "INC-1 paged"
    assert [i.start for i in latency.incidents] == sorted(i.start for i in latency.incidents)
    assert {i.fingerprint for i in latency.incidents} == {latency.incidents[0].fingerprint}, "one alert per SLO"
    assert all(i.end is not None for i in latency.incidents), "every page resolved by 18:00"
    incident = latency.incidents[0]
    assert datetime(2026, 11, 3, 15, 20, tzinfo=UTC) <= incident.start <= datetime(2026, 11, 3, 17, 50, tzinfo=UTC)
    assert incident.end is not None
    assert incident.end > datetime(2026, 11, 3, 17, 50, tzinfo=UTC)
    assert incident.peak_severity.value == "sev2"
    assert incident.rule == LATENCY
    assert incident.labels["slo"] == LATENCY
    assert incident.labels["team"] == "risk-technology"
    assert len(incident.fingerprint) >= 16
    resolved = _resolves(store)[incident.event_ids[-1]]
    assert incident.budget_used == resolved.evidence["budget_used"]
    used = BudgetUse.from_json(incident.budget_used)
    assert f"this alert's burn used {used.used_text()}" in resolved.annotations["summary"]
    assert used.scope == "alert"
    assert used.period == "calendar month (America/New_York)"
    assert used.data_from < to_epoch(incident.start), "the burn began before the page (rows land late)"
    assert datetime(2026, 11, 3, 15, 0, tzinfo=UTC) <= from_epoch(used.data_from), "no earlier than INC-1's onset"
    good, total = _rows(load_config(store), LATENCY, from_epoch(used.data_from), from_epoch(used.data_to))
    assert used.bad == total - good
    assert used.consumed == pytest.approx(used.bad / used.allowed_bad)
    assert used.consumed > 0.5, "INC-1 alone spent over half of November's budget"
    assert used.bad <= latency.bad, "its bad events are part of the month's"


def _resolves(config: Path) -> dict[int, AlertEvent]:
    loaded = load_config(config)
    db = Database(loaded.resolve(loaded.config.spec.store.path), writer=False)
    try:
        return {e.event_id: e for e in AlertStore(db).events((EventKind.RESOLVED,))}
    finally:
        db.close()


def test_the_json_matches_the_reviewed_golden_file(store: Path) -> None:
    report = _build(store)
    data = to_json(report)
    assert data["summary"] == {MET: 1, MISSED: 1, NO_DATA: 0}
    assert_golden("slo_report", data)


def test_the_html_is_self_contained_and_escapes_config_values(store: Path, tmp_path: Path) -> None:
    """An SLO description and label value with markup are shown as text; no script, fetch or external link."""
    loaded = load_config(store)
    hostile = _config(tmp_path, loaded.resolve(loaded.config.spec.store.path), description=EVIL, label=EVIL)
    report = _build(hostile)
    html = write_slo_report(report, tmp_path / "out")["html"].read_text()
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"<link|@import|url\(|src=", html, re.I), "no external resources"
    assert not re.search(r"href=[\"']?https?:", html, re.I)
    assert set(re.findall(r"https?://[^\s\"'<>)]+", html)) <= {"http://www.w3.org/2000/svg"}
    assert html.count("<svg") == 2, "budget left per day, one chart per SLO with data"
    assert "budget exhausted" in html
    latency = _slo(report, LATENCY)
    assert f"Alert firing intervals and the budget their burn used ({len(latency.incidents)})" in html
    assert latency.incidents[0].fingerprint in html
    assert "missed" in html
    assert "met" in html


def test_the_markdown_summarises_every_slo_and_the_incident(store: Path) -> None:
    markdown = render_markdown(_build(store))
    assert "1 missed**, **1 met**" in markdown
    assert f"| {LATENCY} | 99.500 % |" in markdown
    assert "peak sev2" in markdown


def test_a_month_without_data_renders_and_says_so(store: Path, tmp_path: Path) -> None:
    report = _build(store, "2026-10")
    assert report.period == "2026-10"
    assert [s.status for s in report.slos] == [NO_DATA, NO_DATA]
    assert all(s.total == 0 and s.compliance_percent is None and s.incidents == [] for s in report.slos)
    assert report.notes == ["no SLO data in the state store for 2026-10: the agent did not poll this month"]
    files = write_slo_report(report, tmp_path)
    assert "No SLO data in the store for this period." in files["html"].read_text()
    assert "No SLO data in the store for this period." in files["markdown"].read_text()
    assert json.loads(files["json"].read_text())["summary"]["no data"] == 2
    assert "<svg" not in render_html(report), "no chart without data"


def test_the_cli_refuses_a_month_without_data_and_keeps_the_existing_report(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A month without SLO data exits 2 and overwrites nothing."""
    argv = ["report", "slo", "-c", str(store), "--period", "2026-10", "--out", str(tmp_path)]
    assert_report_refused_and_kept(
        argv,
        tmp_path,
        "slo-2026-10.html",
        "no SLO data in the state store for 2026-10: nothing written",
        lambda: capsys.readouterr().err,
    )


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("2026-13", "write a calendar month as YYYY-MM"),
        ("November", "write a calendar month as YYYY-MM"),
        ("2099-01", "has not started yet"),
    ],
)
def test_bad_periods_are_usage_errors(
    store: Path, tmp_path: Path, period: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["report", "slo", "-c", str(store), "--period", period, "--out", str(tmp_path / "out")])
    assert code == ExitCode.USAGE == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists(), "nothing written"


def test_without_a_store_the_report_says_so_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, tmp_path / "nowhere" / "state.db")
    assert main(["report", "slo", "-c", str(config), "--out", str(tmp_path / "out")]) == ExitCode.USAGE
    assert "no state store at" in capsys.readouterr().err
    assert not (tmp_path / "out").exists(), "nothing written"


def test_the_cli_writes_the_three_files_and_prints_each_slo(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --period: the month of the newest SLO data."""
    code = main(["report", "slo", "-c", str(store), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == ExitCode.OK, out
    assert "slo 2026-11: 2 SLOs, 1 met, 1 missed, 0 no data" in out
    assert re.search(
        rf"{LATENCY}: 2026-11 compliance \d+\.\d{{3}} % vs 99.5 % \(missed\); -?\d+\.\d % of the calendar month "
        r"\(America/New_York\) error budget left at 2026-1\d-\d\d \d\d:\d\dZ; \d+ alert interval",
        out,
    )
    assert {p.name for p in tmp_path.iterdir()} == {"slo-2026-11.html", "slo-2026-11.md", "slo-2026-11.json"}
    assert json.loads((tmp_path / "slo-2026-11.json").read_text())["period"] == "2026-11"
