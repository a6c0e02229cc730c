"""`sre-agent report optimize` on a store the agent filled from the embedded Snowflake (Monday to Thursday, INC-1
the exploding risk join on Tuesday, recorded as the agent's incident), with one hostile QUERY_HISTORY row: the join
is found with its spill and rows evidence and a resize-or-rewrite recommendation with a saving, marked with its
incident and raised into the top three; recommendations are ranked by saving × confidence, identical re-runs are
one result-cache item, no statement sets a Snowflake default, items under the floor go to "Smaller items";
operator statistics the fake cannot serve are said to be unsupported (not a privilege problem); literals stay
redacted; hostile text is escaped and bounded; the HTML is self-contained; an empty store, a missing store and a
bad --since are handled."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

import polars as pl
import pytest
import yaml
from golden import assert_golden
from support import REPO, connect_to, open_test_agent, seed

from sre_agent.cli import main
from sre_agent.config.loader import load_config
from sre_agent.daemon.poll import poll_due
from sre_agent.exit_codes import ExitCode
from sre_agent.reports.optimize.data import OptimizeReport, build_optimize_report
from sre_agent.reports.optimize.render import render_html, render_markdown, to_json, write_optimize_report
from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake
from sre_agent.simulate.ids import stable_hash
from sre_agent.simulate.platform import DESKS
from sre_agent.sources.snowflake import SnowflakeSource
from sre_agent.store.db import Database
from sre_agent.store.incidents import scope_json

NOW = datetime(2026, 11, 6, 11, tzinfo=UTC)
INC1 = stable_hash("param:risk.exposure_by_counterparty")
HOSTILE = "hostile-pattern"
SECRET = "secret-literal-4711"
INC1_ID = "INC-20261103-1"
HOSTILE_TEXT = (
    'SELECT "<script>alert(1)</script>" FROM evil.t WHERE x = '
    f"'{SECRET}' AND y = 'A{'B' * 100_000}' -- \x00\x07\x1b[31m\ufffe\n"
)


@dataclass
class Account:
    """The seeded account's config and a source connected to it."""

    config: Path
    server: EmbeddedSnowflake


def _config(tmp: Path) -> Path:
    data = yaml.safe_load((REPO / "examples" / "embedded.yaml").read_text())
    spec = data["spec"]
    spec.update(slos=[], rules=[], runbooks=str(REPO / "runbooks"), sinks=[{"type": "console"}])
    spec.pop("azure", None)
    spec["store"]["path"] = str(tmp / "state.db")
    spec["snowflake"]["backfill"] = "6d"
    path = tmp / "agent.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _hostile_row() -> pl.DataFrame:
    """One QUERY_HISTORY row with script, a 100 000-character line and binary bytes in its text (and spill)."""
    ts = pl.Datetime("us", "UTC")
    start = datetime(2026, 11, 4, 15, tzinfo=UTC)
    return pl.DataFrame(
        {
            "QUERY_ID": ["hostile-0001"],
            "QUERY_TEXT": [HOSTILE_TEXT],
            "QUERY_TYPE": ["SELECT"],
            "QUERY_HASH": ["hostile-hash"],
            "QUERY_PARAMETERIZED_HASH": [HOSTILE],
            "USER_NAME": ["<b>MALLORY</b>"],
            "ROLE_NAME": ["PUBLIC"],
            "WAREHOUSE_NAME": ["ADHOC_WH"],
            "EXECUTION_STATUS": ["SUCCESS"],
            "START_TIME": pl.Series([start], dtype=ts),
            "END_TIME": pl.Series([start + timedelta(minutes=5)], dtype=ts),
            "TOTAL_ELAPSED_TIME": [300_000],
            "EXECUTION_TIME": [300_000],
            "BYTES_SCANNED": [10**9],
            "BYTES_SPILLED_TO_LOCAL_STORAGE": [30 * 10**9],
            "BYTES_SPILLED_TO_REMOTE_STORAGE": [5 * 10**9],
            "ROWS_PRODUCED": [1],
            "_VISIBLE_AT": pl.Series([start + timedelta(hours=1)], dtype=ts),
        }
    )


@pytest.fixture(scope="module")
def account(embedded_server: EmbeddedSnowflake, tmp_path_factory: pytest.TempPathFactory) -> Account:
    """Monday to Thursday (INC-1 on Tuesday) plus the hostile row, polled once on Friday morning."""
    embedded_server.reset()
    history = seed(embedded_server, 4, queries_per_day=3000)
    embedded_server.load("QUERY_HISTORY", _hostile_row())
    config = _config(tmp_path_factory.mktemp("optimize-report"))
    embedded_server.set_clock(NOW)
    agent = open_test_agent(load_config(config), embedded_server)
    try:
        assert not poll_due(agent, NOW, force=True).errors
    finally:
        agent.close()
    scripted = next(i for i in history.incidents if i.id.startswith("INC-1-"))
    _record_incident(config, scripted.start, scripted.end, scripted.warehouse, str(scripted.service))
    return Account(config, embedded_server)


def _record_incident(config: Path, start: datetime, end: datetime, warehouse: str, service: str) -> None:
    """INC-1 as the agent records it when its alerts group (resolved at the scripted end)."""
    loaded = load_config(config)
    db = Database(loaded.resolve(loaded.config.spec.store.path))
    at, until = int(start.timestamp()), int(end.timestamp())
    try:
        with db.transaction() as conn:
            conn.execute(
                "INSERT INTO incidents (id, title, status, severity, scope, started_at, detected_at, last_active_at,"
                " resolved_at, resolved_by, updated_at)"
                " VALUES (?, ?, 'resolved', 'sev2', ?, ?, ?, ?, ?, 'sre-agent', ?)",
                (INC1_ID, f"warehouse-remote-spill (warehouse {warehouse})",
                 scope_json({"warehouse": {warehouse}, "service": {service}}), at, at + 300, until, until, until),
            )  # fmt: skip
    finally:
        db.close()


def _report(
    account: Account, show_literals: bool = False, since: timedelta = timedelta(days=7), config: Path | None = None
) -> OptimizeReport:
    account.server.set_clock(NOW)
    loaded = load_config(config or account.config)
    db = Database(loaded.resolve(loaded.config.spec.store.path), writer=False)
    source = SnowflakeSource(connect_to(account.server), loaded.latency_thresholds_ms())
    try:
        return build_optimize_report(loaded, db, source, since, show_literals, now=NOW)
    finally:
        source.close()
        db.close()


@pytest.fixture(scope="module")
def report(account: Account) -> OptimizeReport:
    """The default report: a week, literals redacted."""
    return _report(account)


def test_the_exploding_join_is_found_with_spill_and_rows_evidence_and_a_rewrite(report: OptimizeReport) -> None:
    pattern = next(p for p in report.patterns if p["pattern"] == INC1)
    assert {"remote_spill", "local_spill", "rows_explosion"} <= set(pattern["findings"])
    assert pattern["top_warehouse"] == "RISK_WH"
    rows = next(f for f in report.findings if f["subject"] == INC1 and f["kind"] == "rows_explosion")
    assert rows["evidence"]["day"] == "2026-11-03", "Tuesday, the day of INC-1"
    assert rows["value"] > rows["threshold"] == 10
    rec = next(r for r in report.recommendations if r["subject"] == INC1 and r["kind"] == "resize_or_rewrite")
    assert rec["saving_credits_per_week"] > 0
    assert rec["saving_money_per_week"] == pytest.approx(rec["saving_credits_per_week"] * 3.0, abs=0.01)
    assert "2026-11-03" in rec["saving_basis"]
    assert set(rec["evidence"]) >= {"rows_explosion", "remote_spill", "local_spill"}
    statements = "\n".join(rec["statements"])
    assert 'FROM "REFERENCE"."FX"."RATES" GROUP BY "CCY" HAVING COUNT(*) > 1' in statements, "find duplicated keys"
    assert "ALTER WAREHOUSE \"RISK_WH\" SET WAREHOUSE_SIZE = 'X-LARGE';" in statements, "stop-gap, one size up"


def test_recommendations_are_ranked_by_saving_times_confidence_and_the_top_three_open_the_report(
    report: OptimizeReport,
) -> None:
    for rec in report.recommendations:
        weight = 2 if rec["incident"] and rec["saving_credits_per_week"] > 0 else 1
        expected = rec["saving_credits_per_week"] * rec["confidence"] * weight
        assert rec["rank_key"] == pytest.approx(expected, abs=2e-3), rec["kind"]
        assert 0 < rec["confidence"] <= 1
        assert rec["confidence_basis"]
    main = [r for r in report.recommendations if r["section"] == "main"]
    keys = [r["rank_key"] for r in main]
    assert keys == sorted(keys, reverse=True)
    savings = [r["saving_credits_per_week"] for r in main]
    assert savings != sorted(savings, reverse=True), "saving alone no longer decides the order"
    assert [r["rank"] for r in report.recommendations] == list(range(1, len(report.recommendations) + 1))
    assert report.recommendations[: len(main)] == main, "the ranked changes come before the smaller items"
    data = to_json(report)["recommendations"]
    assert {"confidence", "confidence_basis", "rank_key", "section", "incident"} <= set(data[0])
    assert len(report.top) == 3
    assert all(r["saving_credits_per_week"] > 0 for r in report.top)
    html = render_html(report)
    first = html.index("The three changes to make first")
    assert first < html.index("Recommendations, by saving × confidence")
    for rec in report.top:
        assert html.index(f"#{rec['rank']} ", first) < html.index("Recommendations, by saving × confidence")
    assert all(r["statements"] for r in report.top), "each change comes with its statement"
    costly = [r for r in report.recommendations if r["kind"] in ("scale_out", "query_acceleration", "scale_up")]
    assert all(r["saving_credits_per_week"] <= 0 for r in costly), "latency buys are never shown as savings"


def test_patterns_are_ranked_by_attributed_cost(report: OptimizeReport) -> None:
    credits = [p["credits"] for p in report.patterns]
    assert credits == sorted(credits, reverse=True)
    assert report.totals["attributed_credits"] <= report.totals["credits"] + 1e-6
    assert report.patterns[0]["credits"] > 0


def test_operator_statistics_unavailable_is_said_plainly_and_the_report_still_renders(
    report: OptimizeReport, tmp_path: Path
) -> None:
    assert report.operator_stats
    assert all(o["status"] == "unavailable" for o in report.operator_stats)
    assert INC1 in {o["pattern"] for o in report.operator_stats}
    assert {o["cause"] for o in report.operator_stats} == {"unsupported"}, "the fake's parser error"
    note = next(n for n in report.notes if n.startswith("operator statistics could not be fetched"))
    assert "does not support GET_QUERY_OPERATOR_STATS" in note
    assert "Parser Error" in note, "the error is quoted"
    assert "MONITOR" not in note, "only the cause that applies"
    assert "14 days" not in note, "only the cause that applies"
    files = write_optimize_report(report, tmp_path)
    assert files["html"].name == "optimize-2026-11-06.html"
    html = files["html"].read_text()
    assert "operator statistics could not be fetched" in html
    assert "Patterns with findings" in html
    assert "Warehouses" in html
    assert "operator statistics could not be fetched" in files["markdown"].read_text()


def test_the_exploding_join_is_marked_with_its_incident_and_raised_into_the_top_three(report: OptimizeReport) -> None:
    rec = next(r for r in report.recommendations if r["subject"] == INC1 and r["kind"] == "resize_or_rewrite")
    assert rec["incident"] == INC1_ID
    link = rec["incidents"][0]
    assert link["window_start"] == "2026-11-03 15:20Z"
    assert any(c.startswith("rows per run") and "2026-11-03" in c for c in link["changed"]), link["changed"]
    assert rec["rank_key"] == pytest.approx(rec["saving_credits_per_week"] * rec["confidence"] * 2, abs=2e-3)
    assert rec in report.top, [(r["kind"], r["subject"]) for r in report.top]
    unlinked = [r for r in report.recommendations if r["section"] == "main" and not r["incident"]]
    worth_more = [r for r in unlinked if r["saving_credits_per_week"] > rec["saving_credits_per_week"]]
    assert any(r["rank"] > rec["rank"] for r in worth_more), "it outranks an unlinked item saving more"
    pattern = next(p for p in report.patterns if p["pattern"] == INC1)
    assert [x["incident"] for x in pattern["incidents"]] == [INC1_ID]
    quiet = [p for p in report.patterns if p["top_warehouse"] != "RISK_WH" and p["top_service"] != "risk-engine"]
    assert quiet
    assert not any(p["incidents"] for p in quiet), "outside the incident's scope nothing is linked"
    html = render_html(report)
    assert f"{escape(rec['title'])} <span class=tag>[{INC1_ID}]</span>" in html


def test_identical_reruns_are_one_result_cache_item_listing_its_patterns(report: OptimizeReport) -> None:
    caches = [r for r in report.recommendations if r["kind"] == "result_cache"]
    assert len(caches) == 1, "one item, not one per pattern"
    cache = caches[0]
    assert cache["subject"] == "result cache"
    repeated = {f["subject"] for f in report.findings if f["kind"] == "repeated_work"}
    covered = {c["pattern"] for c in cache["covers"]}
    assert len(covered) >= 2
    assert covered <= repeated
    for cover in cache["covers"]:
        assert cover["runs"] >= cover["repeated_runs"] >= cover["unexplained_runs"] > 0
        assert cover["credits"] > 0
        assert cover["causes"]
    total = sum(c["saving_credits_per_week"] for c in cache["covers"])
    assert cache["saving_credits_per_week"] == pytest.approx(total, abs=0.01)
    html = render_html(report)
    assert "Patterns covered:" in html
    assert all(c["pattern"][:12] in html for c in cache["covers"])


def _executable(statements: list[str]) -> list[str]:
    """The lines of statements that would run (comments dropped)."""
    return [line.strip() for st in statements for line in st.splitlines() if not line.strip().startswith("--")]


DEFAULTS = (
    "USE_CACHED_RESULT = TRUE", "MIN_CLUSTER_COUNT = 1", "SCALING_POLICY = 'STANDARD'", "AUTO_RESUME = TRUE",
    "QUERY_ACCELERATION_MAX_SCALE_FACTOR = 8", "AUTO_SUSPEND = 600",
)  # fmt: skip
"""Settings that are Snowflake's defaults: a statement setting one changes nothing."""


def test_no_statement_sets_a_snowflake_default(report: OptimizeReport) -> None:
    lines = _executable([s for r in report.recommendations for s in r["statements"]])
    assert lines
    for line in lines:
        assert not any(d in line.upper() for d in DEFAULTS), line
    cache = next(r for r in report.recommendations if r["kind"] == "result_cache")
    checks = [line for line in _executable(cache["statements"]) if "USE_CACHED_RESULT" in line]
    assert checks
    assert all(line.startswith("SHOW PARAMETERS LIKE 'USE_CACHED_RESULT' IN USER ") for line in checks)


def test_items_under_the_floor_are_listed_in_the_smaller_items_appendix(
    report: OptimizeReport, account: Account, tmp_path: Path
) -> None:
    floor = report.totals["saving_floor_credits_per_week"]
    assert report.smaller
    assert all(r["saving_credits_per_week"] < floor or r["saving_credits_per_week"] <= 0 for r in report.smaller)
    assert all(r["saving_credits_per_week"] >= floor for r in report.recommendations if r["section"] == "main")
    html = render_html(report)
    appendix = html.index("<h2>Smaller items</h2>")
    assert appendix > html.index("<h2>Recommendations, by saving × confidence</h2>")
    assert all(f"#{r['rank']} {escape(r['title'])}" in html[appendix:] for r in report.smaller), "still listed"
    data = yaml.safe_load(account.config.read_text())
    third = report.top[-1]["saving_credits_per_week"]
    data["spec"].setdefault("reports", {})["optimize"] = {"saving_floor_credits_per_week": third + 1}
    raised_config = tmp_path / "floor.yaml"
    raised_config.write_text(yaml.safe_dump(data))
    raised = _report(account, config=raised_config)
    assert len(raised.smaller) > len(report.smaller)
    assert all(r["saving_credits_per_week"] > third for r in raised.top), "the top three come from above the floor"


def _literals() -> list[str]:
    """Literals of the seeded query texts: desks, the days, and the hostile row's secret."""
    days = [f"2026-11-0{d}" for d in range(2, 6)]
    return [SECRET] + [f"'{v}'" for v in [*DESKS, *days]] + [f"&#x27;{v}&#x27;" for v in [*DESKS, *days]]


def test_literals_from_query_text_appear_nowhere_unless_asked(report: OptimizeReport, account: Account) -> None:
    outputs = [render_html(report), render_markdown(report), json.dumps(to_json(report))]
    for text in outputs:
        for literal in _literals():
            assert literal not in text
    shown = _report(account, show_literals=True)
    assert SECRET in json.dumps(to_json(shown)), "--show-literals shows the text as written"


def test_hostile_query_text_is_escaped_bounded_and_the_page_renders(report: OptimizeReport) -> None:
    hostile = next(p for p in report.patterns if p["pattern"] == HOSTILE)
    assert len(hostile["query_text"]) < 2100, "bounded"
    assert "\x00" not in hostile["query_text"]
    assert "\x1b" not in hostile["query_text"]
    html = render_html(report)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, "the quoted identifier is shown, escaped"
    assert "&lt;b&gt;MALLORY&lt;/b&gt;" in html
    assert "<script" not in html.lower()
    assert "<b>MALLORY" not in html
    assert "\x00" not in html
    assert "B" * 3000 not in html
    assert html.rstrip().endswith("</html>")


def test_the_html_is_self_contained(report: OptimizeReport) -> None:
    html = render_html(report).lower()
    assert "<script" not in html
    assert "@import" not in html
    assert "url(" not in html
    assert not re.search(r"""\ssrc\s*=""", html)
    assert not re.search(r"""href\s*=\s*["']?https?:""", html)


def test_json_matches_the_golden_file(report: OptimizeReport) -> None:
    assert_golden("optimize_report", to_json(report))


def test_an_empty_store_renders_and_says_there_is_no_data(account: Account, tmp_path: Path) -> None:
    loaded = load_config(account.config)
    db = Database(tmp_path / "empty.db")
    source = SnowflakeSource(connect_to(account.server), loaded.latency_thresholds_ms())
    try:
        empty = build_optimize_report(loaded, db, source, timedelta(days=7), now=NOW)
    finally:
        db.close()
    assert empty.window_end is None
    assert not empty.patterns
    assert not empty.recommendations
    assert any("no polled data" in n for n in empty.notes)
    files = write_optimize_report(empty, tmp_path / "out")
    html = files["html"].read_text()
    assert "no polled data" in html
    assert "No change with a positive saving found." in html
    assert files["html"].name == "optimize-2026-11-06.html"


def test_a_missing_store_is_a_clear_error_and_nothing_is_written(
    account: Account, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load(account.config.read_text())
    data["spec"]["store"]["path"] = str(tmp_path / "nowhere" / "state.db")
    fresh = tmp_path / "fresh.yaml"
    fresh.write_text(yaml.safe_dump(data))
    code = main(["report", "optimize", "-c", str(fresh), "--out", str(tmp_path / "out")])
    assert code == ExitCode.USAGE, "which config to pass is the user's to fix"
    assert "no state store at" in capsys.readouterr().err
    assert not (tmp_path / "out").exists(), "nothing written"


@pytest.mark.parametrize("since", ["bogus", "90m", "0h", "60d"])
def test_a_bad_since_exits_2(account: Account, tmp_path: Path, since: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["report", "optimize", "-c", str(account.config), "--since", since, "--out", str(tmp_path / "out")])
    assert exited.value.code == 2
    assert "--since" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
