"""`sre-agent report cost` on a store the agent filled from the embedded Snowflake (Monday to Friday, INC-4 the
cost runaway on Thursday): totals that reconcile with metering, gaps shown as gaps, the runaway's idle cost with
its auto-suspend statement, budgets with their enforcement statements, self-contained and escaped HTML, CSV files,
and clear errors for bad periods and missing prices."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from html import escape
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from golden import assert_golden
from support import REPO, assert_report_refused_and_kept, open_test_agent, seed

from sre_agent.cli import main
from sre_agent.config.loader import load_config
from sre_agent.daemon.poll import poll_due
from sre_agent.engine.rollups import WAREHOUSE_METERING
from sre_agent.exit_codes import ExitCode
from sre_agent.reports.cost.data import build_cost_report
from sre_agent.reports.cost.model import CostReport
from sre_agent.reports.cost.render import render_html, to_json, write_cost_report
from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake
from sre_agent.store import pattern_names
from sre_agent.store.db import Database
from sre_agent.store.rollups import RollupStore
from sre_agent.store.watermarks import Watermarks


def _config(tmp: Path, **cost: Any) -> Path:
    """examples/embedded.yaml (spec.cost included) with its state under ``tmp``."""
    data = yaml.safe_load((REPO / "examples" / "embedded.yaml").read_text())
    spec = data["spec"]
    spec["slos"] = []
    spec["runbooks"] = str(REPO / "runbooks")
    spec["store"]["path"] = str(tmp / "state.db")
    spec["sinks"] = [{"type": "console"}, {"type": "jsonl", "name": "alerts-file", "path": str(tmp / "alerts.jsonl")}]
    spec["snowflake"]["backfill"] = "6d"
    spec["azure"] = {"cost": spec["azure"]["cost"]}  # the simulated Azure spend (not the metrics side)
    spec["cost"].update(cost)
    path = tmp / "agent.yaml"
    rules = tmp / "rules"
    rules.mkdir()
    for file in (REPO / "rules").glob("*.yaml"):
        if file.name != "azure.yaml":  # the Azure rules need the (here absent) Azure side
            (rules / file.name).write_text(file.read_text())
    spec["rules"] = [str(rules), str(REPO / "examples" / "routing" / "embedded.yaml")]
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def store(embedded_server: EmbeddedSnowflake, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state store polled once on Saturday morning: Monday to Friday of the embedded account, INC-4 included."""
    embedded_server.reset()
    seed(embedded_server, 5, queries_per_day=5000)
    tmp = tmp_path_factory.mktemp("cost-report")
    config = _config(tmp)
    now = datetime(2026, 11, 7, 11, tzinfo=UTC)
    embedded_server.set_clock(now)
    agent = open_test_agent(load_config(config), embedded_server)
    try:
        report = poll_due(agent, now, force=True)
        assert not report.errors, report.errors
    finally:
        agent.close()
    return config


def _report(config: Path, period: str | None = "2026-11") -> CostReport:
    loaded = load_config(config)
    db = Database(loaded.resolve(loaded.config.spec.store.path), writer=False)
    try:
        return build_cost_report(loaded, RollupStore(db), Watermarks(db), period)
    finally:
        db.close()


def test_the_report_reconciles_with_metering_and_finds_the_runaway(store: Path, tmp_path: Path) -> None:
    report = _report(store)
    loaded = load_config(store)
    db = Database(loaded.resolve(loaded.config.spec.store.path), writer=False)
    try:
        lo, hi = int(report.start.timestamp()), int(report.end.timestamp())
        metering = RollupStore(db).load(WAREHOUSE_METERING, lo, hi)
    finally:
        db.close()
    metered = float(metering["credits_used_compute"].sum())
    totals = report.totals
    assert totals["compute_credits"] == pytest.approx(metered, abs=1e-6)
    assert totals["reconciliation"]["compute_difference"] == 0, "attributed + idle == metered, in nano-credits"
    day_wh = float(report.daily_warehouse["credits"].sum())
    day_domain = float(report.daily_domain["credits"].sum())
    assert day_wh == pytest.approx(totals["credits"], abs=1e-6), "warehouses and serverless, day by day"
    assert day_domain == pytest.approx(day_wh, abs=1e-6), "every credit has a domain row (or unattributed)"
    serverless = float(report.serverless["credits"].sum())
    assert serverless == pytest.approx(totals["serverless_credits"])
    assert set(report.serverless["service_type"]) == {
        "AUTO_CLUSTERING",
        "MATERIALIZED_VIEW",
        "PIPE",
        "SEARCH_OPTIMIZATION",
    }
    carried = float(report.patterns["credits"].sum()) + float(report.warehouses["empty_hour_credits"].sum())
    assert carried + serverless == pytest.approx(day_wh, abs=1e-3), "patterns + empty hours + serverless = the bill"
    check = totals["snowflake_daily_check"]
    assert check["days"] >= 4
    assert check["warehouse_credits_billed_by_agent"] == pytest.approx(
        check["warehouse_credits_billed_by_snowflake"], rel=1e-6
    ), "the hourly figures add up to Snowflake's own daily bill"
    assert totals["cost"] == pytest.approx(totals["credits"] * 3.0, abs=0.01)

    transform = report.warehouses.filter(pl.col("warehouse") == "TRANSFORM_WH").row(0, named=True)
    assert transform["credits"] > 1000, "Thursday 15:00 to Friday 21:00 at 64 credits an hour"
    assert transform["idle_share"] > 0.8
    idle = [r for r in report.recommendations if r["kind"] == "idle"]
    assert idle[0]["warehouse"] == "TRANSFORM_WH"
    assert idle[0]["statements"] == ['ALTER WAREHOUSE "TRANSFORM_WH" SET AUTO_SUSPEND = 60;']
    assert idle[0]["saving_money"] == pytest.approx(idle[0]["saving_credits"] * 3.0)
    assert report.recommendations[0] is idle[0], "ranked by money saved"

    budgets = {b["name"]: b for b in report.budgets}
    assert set(budgets) == {"account-monthly", "transform-wh-monthly", "risk-domain-monthly", "azure-platform-monthly"}
    assert budgets["azure-platform-monthly"]["unit"] == "USD"
    settled = report.azure_daily.filter(pl.col("day") < date(2026, 11, 6))  # Friday ended < 12 h before the poll
    assert budgets["azure-platform-monthly"]["spent"] == pytest.approx(
        float(settled.filter(pl.col("day") > date(2026, 11, 1))["cost"].sum())
        + float(settled.filter(pl.col("day") == date(2026, 11, 1))["cost"].sum()) * 20 / 24,
        abs=0.01,
    ), "New York's November starts at 04:00 UTC on the 1st"
    transform_budget = budgets["transform-wh-monthly"]
    assert transform_budget["status"]["actual"] == "breach"
    assert transform_budget["spent"] > 400
    assert budgets["account-monthly"]["unit"] == "USD"
    monitors = {e["budget"]: e["statements"] for e in report.enforcement}
    assert monitors["transform-wh-monthly"][0].startswith(
        'CREATE RESOURCE MONITOR "TRANSFORM_WH_MONTHLY_MONITOR" WITH CREDIT_QUOTA = 400 FREQUENCY = MONTHLY'
    )
    assert monitors["transform-wh-monthly"][1] == (
        'ALTER WAREHOUSE "TRANSFORM_WH" SET RESOURCE_MONITOR = "TRANSFORM_WH_MONTHLY_MONITOR";'
    )
    assert "CREDIT_QUOTA = 12000" in monitors["account-monthly"][0], "USD 36,000 at USD 3 a credit"
    assert "SET_SPENDING_LIMIT(4000)" in " ".join(monitors["risk-domain-monthly"])
    assert monitors["azure-platform-monthly"] == [
        "az consumption budget create --budget-name azure-platform-monthly --amount 33000 --category cost "
        "--time-grain Monthly --start-date 2026-11-01 --end-date 2027-11-01"
    ]

    gaps = report.gaps
    assert gaps[0]["reason"].startswith("before the agent's first poll"), "1 Nov is before the backfill reached"
    files = write_cost_report(report, tmp_path)
    csv = pl.read_csv(files["csv:daily_warehouse"])
    assert csv["credits"].sum() == pytest.approx(day_wh, abs=1e-6)
    assert pl.read_csv(files["csv:patterns"]).height == report.patterns.height, "CSV holds every row"
    data = json.loads(files["json"].read_text())
    assert data["period"] == "2026-11"
    assert data["totals"]["credits"] == pytest.approx(totals["credits"], abs=1e-5)
    markdown = files["markdown"].read_text()
    assert "transform-wh-monthly" in markdown
    assert 'ALTER WAREHOUSE "TRANSFORM_WH" SET AUTO_SUSPEND = 60;' in markdown


def test_azure_spend_sits_beside_snowflake_in_one_currency(store: Path) -> None:
    report = _report(store)
    azure = report.azure_daily
    assert set(azure["service"]) >= {"Stream Analytics", "Event Hubs", "Azure Kubernetes Service"}
    assert set(azure["resource_group"]) == {"rg-capital-markets"}
    assert set(azure["currency"]) == {"USD"}
    assert azure["day"].min() >= date(2026, 11, 1)
    assert azure["day"].max() <= date(2026, 11, 6), "Saturday 11:00 UTC: Friday has not been published yet"
    totals = report.totals
    assert totals["azure_cost"] == pytest.approx(float(azure["cost"].sum()), abs=0.01)
    platform = report.platform_daily
    snowflake = platform.filter(pl.col("source") == "Snowflake")["cost"].sum()
    assert snowflake == pytest.approx(totals["credits"] * 3.0, abs=0.01)
    assert totals["platform_cost"] == pytest.approx(snowflake + totals["azure_cost"], abs=0.02)
    html = render_html(report)
    assert "Platform spend: Snowflake and Azure" in html
    assert "Azure Stream Analytics" in html


def test_the_html_is_self_contained_and_has_its_charts(store: Path, tmp_path: Path) -> None:
    report = _report(store)
    html = write_cost_report(report, tmp_path)["html"].read_text()
    assert "<script" not in html.lower()
    assert not re.search(r"<link|@import|src=|url\(\s*['\"]?http", html, re.I), "no external resources"
    assert set(re.findall(r"https?://[^\s\"'<>)]+", html)) <= {"http://www.w3.org/2000/svg"}
    assert html.count("<svg") >= 7, "three daily stacked charts, a chart per budget, the top patterns"
    assert "Daily credits by warehouse" in html
    assert 'fill="url(#gap)"' in html, "1 November has no metering in the store: a hatched gap, not a zero bar"
    assert "budget 400" in html
    assert "forecast" in html


def test_hostile_names_are_escaped_everywhere(store: Path) -> None:
    report = _report(store)
    evil = "<script>alert('x')</script>\x00" + "A" * 500
    report.patterns = report.patterns.with_columns(
        pl.lit(evil).alias("top_user"), pl.lit(evil).alias("pattern"), pl.lit(evil).alias("name")
    )
    report.users = report.users.with_columns(pl.lit(evil).alias("user"))
    report.warehouses = report.warehouses.with_columns(pl.lit(evil).alias("warehouse"))
    report.domains = report.domains.with_columns(pl.lit(evil).alias("domain"))
    report.daily_domain = report.daily_domain.with_columns(pl.lit(evil).alias("domain"))
    report.azure_daily = report.azure_daily.with_columns(pl.lit(evil).alias("service"))
    report.budgets[0]["name"] = evil
    report.budgets[0]["scope"] = evil
    report.notes.append(evil)
    report.reconciliation.append({"text": evil})
    report.gaps.append({"from": evil, "to": None, "warehouse": evil, "reason": evil})
    html = render_html(report)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


def test_a_finished_month_is_judged_as_itself(store: Path) -> None:
    report = _report(store, "2026-10")
    budgets = {b["name"]: b for b in report.budgets}
    transform = budgets["transform-wh-monthly"]
    assert transform["period_start"].startswith("2026-10-01"), "October's budget, not November's"
    assert transform["status"]["actual"] == "unknown", "October is not in the store: not known to be fine"


def test_the_report_json_matches_its_reviewed_golden_file(store: Path) -> None:
    """The whole JSON of November (Monday to Friday seeded, INC-4 included) against tests/golden/cost_report.json:
    any change of a figure, a recommendation or a statement shows up as a reviewed diff."""
    report = _report(store, "2026-11")
    assert_golden("cost_report", to_json(report))


def test_a_month_without_data_still_renders_and_says_so(store: Path, tmp_path: Path) -> None:
    report = _report(store, "2026-09")
    assert report.daily_warehouse.is_empty()
    assert report.totals["credits"] == 0
    assert any("no metering" in g["reason"] or "before the agent" in g["reason"] for g in report.gaps)
    html = write_cost_report(report, tmp_path)["html"].read_text()
    assert "No data for this period." in html


def test_the_cli_refuses_a_month_without_data_and_keeps_the_existing_report(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A month the agent never polled exits 2 and overwrites nothing (a report is never replaced by an empty one)."""
    argv = ["report", "cost", "-c", str(store), "--period", "2026-09", "--out", str(tmp_path)]
    assert_report_refused_and_kept(
        argv,
        tmp_path,
        "cost-2026-09.html",
        "no metering in the state store for 2026-09: nothing written",
        lambda: capsys.readouterr().err,
    )


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("2099-01", "has not started yet"),
        ("2026-13", "write a calendar month as YYYY-MM"),
        ("November", "write a calendar month as YYYY-MM"),
    ],
)
def test_bad_periods_are_usage_errors(
    store: Path, tmp_path: Path, period: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["report", "cost", "-c", str(store), "--period", period, "--out", str(tmp_path)])
    assert code == ExitCode.USAGE
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir()), "nothing written"


def test_the_cli_writes_every_file_and_prints_the_budgets(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["report", "cost", "-c", str(store), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == ExitCode.OK, out
    assert "cost 2026-11:" in out
    assert "budget transform-wh-monthly:" in out
    names = {p.name for p in tmp_path.iterdir()}
    assert {"cost-2026-11.html", "cost-2026-11.md", "cost-2026-11.json", "cost-2026-11-budgets.csv"} <= names
    assert len([n for n in names if n.endswith(".csv")]) == 13


def test_without_a_credit_price_the_report_is_in_credits(store: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(store.read_text())
    data["spec"]["cost"].pop("credit_price")
    other = tmp_path / "agent.yaml"
    rules = Path(data["spec"]["rules"][0])
    local = tmp_path / "rules"
    local.mkdir()
    for file in rules.glob("*.yaml"):
        text = file.read_text()
        if "unit: currency" in text:  # a currency budget needs a price: that is a config error, tested elsewhere
            text = text.replace("  amount: 36000\n  unit: currency\n", "  amount: 12000\n")
        (local / file.name).write_text(text)
    data["spec"]["rules"][0] = str(local)
    other.write_text(yaml.safe_dump(data))
    report = _report(other)
    assert report.credit_price is None
    assert report.totals["cost"] is None
    assert "no spec.cost.credit_price: figures in credits only" in report.notes
    assert date.fromisoformat(report.daily_warehouse["day"].cast(pl.String)[0]) >= date(2026, 11, 1)


def test_without_spec_cost_or_a_store_the_report_says_what_is_missing(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load(store.read_text())
    data["spec"].pop("cost")
    data["spec"]["azure"] = None
    data["spec"]["rules"] = [str(REPO / "rules" / "snowflake-warehouses.yaml")]
    bare = tmp_path / "bare.yaml"
    bare.write_text(yaml.safe_dump(data))
    assert main(["report", "cost", "-c", str(bare), "--out", str(tmp_path / "out")]) == ExitCode.USAGE
    assert "the cost report needs spec.cost" in capsys.readouterr().err
    data = yaml.safe_load(store.read_text())
    data["spec"]["store"]["path"] = str(tmp_path / "nowhere" / "state.db")
    fresh = tmp_path / "fresh.yaml"
    fresh.write_text(yaml.safe_dump(data))
    assert main(["report", "cost", "-c", str(fresh), "--out", str(tmp_path / "out")]) == ExitCode.USAGE
    assert "no state store at" in capsys.readouterr().err
    assert not (tmp_path / "out").exists(), "nothing written"


def test_every_total_that_differs_from_a_related_one_says_why_and_its_parts_add_up(store: Path) -> None:
    """The headline against the account budget (serverless outside it), each scoped budget against its table row,
    the hourly metering against Snowflake's daily bill, Azure against its budget (UTC days, unsettled days)."""
    report = _report(store)
    lines = {r["compared_with"]: r for r in report.reconciliation}
    assert {"Budget account-monthly", "Budget transform-wh-monthly", "Budget azure-platform-monthly"} <= set(lines)
    assert "Snowflake's METERING_DAILY_HISTORY" in lines
    for line in report.reconciliation:
        assert sum(p["amount"] for p in line["parts"]) == pytest.approx(line["difference"], abs=0.01), line["text"]
        if abs(line["difference"]) >= 0.005:
            assert line["parts"], line["text"]
            assert "below" in line["text"] or "above" in line["text"]
        else:
            assert "equals" in line["text"]
    account = lines["Budget account-monthly"]
    serverless = report.totals["serverless_credits"] * (report.credit_price or 0)
    part = next(p for p in account["parts"] if p["reason"].startswith("serverless"))
    assert part["amount"] == pytest.approx(serverless, abs=0.01)
    assert account["total"] == pytest.approx(report.totals["cost"], abs=0.01), "the headline, not a re-derivation"
    azure = lines["Budget azure-platform-monthly"]
    assert any("not settled" in p["reason"] for p in azure["parts"])
    html = render_html(report)
    assert "How the totals fit together" in html
    assert escape(account["text"]) in html


def test_idle_figures_are_named_apart_and_every_idle_share_states_its_window(store: Path) -> None:
    report = _report(store)
    html = render_html(report)
    assert "idle inside metered hours" in html
    assert "in hours in which no query ran at all" in html
    assert "idle hours with no query" not in html, "the old, ambiguous wording"
    idle = [r for r in report.recommendations if r["kind"] == "idle"]
    assert idle
    for r in idle:
        assert re.search(r"\(\d{4}-\d\d-\d\d \d\d:\d\dZ – \d{4}-\d\d-\d\d \d\d:\d\dZ\)$", r["title"]), r["title"]
        assert r["evidence"]["window"] in r["title"]


def test_the_title_names_snowflake_and_azure_and_credit_budgets_carry_their_money(store: Path) -> None:
    report = _report(store)
    data = to_json(report)
    assert data["title"] == "Platform cost — Snowflake and Azure, November 2026 (America/New_York)"
    transform = next(b for b in report.budgets if b["name"] == "transform-wh-monthly")
    assert transform["unit"] == "credits"
    assert transform["money"]["amount"] == pytest.approx(400 * (report.credit_price or 0))
    assert transform["money"]["spent"] == pytest.approx(transform["spent"] * (report.credit_price or 0), abs=0.01)
    html = render_html(report)
    assert f"USD {transform['money']['spent']:,.2f}" in html
    assert data["headline"][0].startswith("November 2026 to date (metering complete through ")


def test_no_iso_timestamp_appears_in_the_prose(store: Path, tmp_path: Path) -> None:
    files = write_cost_report(_report(store), tmp_path)
    text = re.sub(r"<svg.*?</svg>", "", files["html"].read_text(), flags=re.S)
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text), "instants read 2026-11-07 05:00Z, not ISO"
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", files["markdown"].read_text())


def test_patterns_are_named_by_service_and_tables_once_the_optimization_report_named_them(store: Path) -> None:
    loaded = load_config(store)
    db = Database(loaded.resolve(loaded.config.spec.store.path), writer=False)
    try:
        top = _report(store).patterns.row(0, named=True)
        assert top["name"].endswith(f"({top['pattern'][:8]})")
        assert top["name"].startswith(f"{top['top_service']} · "), "before: service and warehouse"
        with db.transaction() as conn:
            pattern_names.record(
                conn,
                [
                    pattern_names.PatternName(
                        top["pattern"], "dbt", "TRANSFORM_WH", "INSERT", ("A.B.C", "D.E.F", "G.H.I")
                    )
                ],
                0,
            )
        named = build_cost_report(loaded, RollupStore(db), Watermarks(db), "2026-11").patterns.row(0, named=True)
    finally:
        with db.transaction() as conn:
            conn.execute("DELETE FROM pattern_names")
        db.close()
    assert named["name"] == f"dbt · A.B.C, D.E.F … ({top['pattern'][:8]})"
