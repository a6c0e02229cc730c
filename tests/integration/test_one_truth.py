"""One truth per number, across every view of one demo run (the demo's scripted week, replayed at a smaller scale):
the budget an SLO alert's burn used is the same number in its console line, its evidence, the post-mortem of its
incident and the SLO report; `slo status` and the SLO report give the same budget left at the same instant; a
reminder says what its alert shows when it is sent (never the firing-time figures) and since when it fires; a
budget's forecast and actual say the same spend to date; and the demo's scorecard lists what caught an incident in
the order it fired. The same run is the test of `sre-agent demo` itself (what it prints and the files it writes):
one replay serves both, as a replay is the suite's most expensive step."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sre_agent.config.loader import load_config
from sre_agent.daemon.evaluate_budget import budget_annotations
from sre_agent.daemon.evaluate_slo import slo_annotations
from sre_agent.figures.incident_times import firing_order
from sre_agent.figures.slo_budget import BudgetUse
from sre_agent.model import EventKind

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Demo:
    """What one `sre-agent demo` run printed and wrote."""

    out: Path
    stdout: str

    @property
    def slos(self) -> list[dict[str, Any]]:
        """`slo status` of every SLO at the end of the replay (the demo's slo_status.json)."""
        data: list[dict[str, Any]] = _json(self.out / "slo_status.json")["slos"]
        return data


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The demo's week from Monday to Saturday 00:00 New York (INC-1 to INC-5 and the cost runaway's reminders),
    after a day of warm-up, at 20,000 queries a day (fewer make the ingestion loads too sparse for the 5-minute
    freshness SLO), polled every hour of simulated time (the minute-by-minute evaluation is unchanged). Its own
    process: the demo starts its embedded Snowflake, and one process holds one."""
    out = tmp_path_factory.mktemp("one-truth")
    args = ["--days", "5", "--warm-up-days", "1", "--queries-per-day", "20000", "--poll-interval", "1h"]
    done = subprocess.run(
        [sys.executable, "-m", "sre_agent.cli", "demo", *args, "--out", str(out), "--no-progress"],
        capture_output=True, text=True, timeout=1800, check=False, cwd=REPO,
        env={**os.environ, "COLUMNS": "250"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return Demo(out, done.stdout)


def _lines(demo: Demo) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (demo.out / "alerts.jsonl").read_text().splitlines()]


def _json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The same figure record (reports write their JSON rounded to 6 decimals, evidence to 9)."""
    if a.keys() != b.keys():
        return False
    return all(
        a[k] == pytest.approx(b[k], abs=1e-6) if isinstance(b[k], float) else a[k] == b[k]  # type: ignore[misc]
        for k in b
    )


def _resolves_of_slos(demo: Demo) -> list[dict[str, Any]]:
    return [r for r in _lines(demo) if r["transition"] == "resolved" and "slo" in r["labels"]]


def test_an_slo_alerts_budget_is_one_number_in_console_evidence_postmortem_and_slo_report(demo: Demo) -> None:
    resolves = _resolves_of_slos(demo)
    assert {r["rule"] for r in resolves} >= {"risk-calculation-latency", "trade-executions-freshness"}
    console = " ".join(demo.stdout.split())  # the terminal wraps long lines
    reports = demo.out / "reports"
    slo_report = _json(next(reports.glob("slo-*.json")))
    intervals = {
        (s["name"], i["budget_used"]["data_from"]): i["budget_used"]
        for s in slo_report["slos"]
        for i in s["incidents"]
        if i["budget_used"]
    }
    postmortems = [_json(p) for p in reports.glob("postmortem-*.json")]
    in_postmortems = {
        (row["slo"], row["budget_used"]["data_from"]): row["budget_used"]
        for pm in postmortems
        for row in pm["impact"]["slos"]
        if row["basis"] == "alert"
    }
    for r in resolves:
        stored = r["evidence"]["budget_used"]
        use = BudgetUse.from_json(stored)
        key = (r["rule"], stored["data_from"])
        text = use.used_text()
        assert text in r["annotations"]["summary"], "the notification says the stored figure"
        assert text in console, "the console line says it too"
        assert _same(intervals[key], stored), f"the SLO report shows the resolve's figure for {key}"
        if key in in_postmortems:  # a post-mortem covers the alert's incident
            assert _same(in_postmortems[key], stored)
    assert any(k[0] == "risk-calculation-latency" for k in in_postmortems), "INC-1's post-mortem has its SLO"


def test_a_lagged_slis_alert_counts_its_bad_minutes(demo: Demo) -> None:
    """trade-executions-freshness judges minutes 45 minutes back: its alert fires well after its bad minutes, and
    the budget its burn used counts them (the previous version said 0.00 %)."""
    fresh = [r for r in _resolves_of_slos(demo) if r["rule"] == "trade-executions-freshness"]
    assert fresh
    for r in fresh:
        use = BudgetUse.from_json(r["evidence"]["budget_used"])
        assert use.bad > 0
        assert use.consumed is not None
        assert use.consumed > 0
        assert use.data_from < datetime.fromisoformat(r["starts_at"]).timestamp(), "its data precedes its alert"


def test_slo_status_and_the_slo_report_give_the_same_budget_at_the_same_instant(demo: Demo) -> None:
    status = {s["slo"]: s for s in demo.slos}
    report = _json(next((demo.out / "reports").glob("slo-*.json")))
    assert report["as_of"].startswith(next(iter(status.values()))["at"][:16])
    for section in report["slos"]:
        ours, theirs = BudgetUse.from_json(section["budget"]), BudgetUse.from_json(status[section["name"]]["budget"])
        assert ours.left_text() == theirs.left_text(), section["name"]
        assert (ours.period, ours.as_of, ours.data_to, ours.bad) == (
            theirs.period,
            theirs.as_of,
            theirs.data_to,
            theirs.bad,
        )
        assert ours.remaining == pytest.approx(theirs.remaining, abs=1e-6), "the report's JSON rounds to 6 decimals"


def test_reminders_say_what_the_alert_shows_when_sent_and_since_when_it_fires(demo: Demo) -> None:
    loaded = load_config(REPO / "examples" / "embedded.yaml")
    budgets = {b.name: b for b in loaded.budgets}
    slos = {s.name: s for s in loaded.slos}
    lines = _lines(demo)
    repeats = [r for r in lines if r["transition"] == "repeat"]
    assert repeats, "the cost runaway's budgets are still firing a day later"
    firing = {r["fingerprint"]: r for r in lines if r["transition"] == "firing"}
    url = loaded.config.spec.runbook_url
    for r in repeats:
        since = r["starts_at"][:16].replace("T", " ")
        assert r["annotations"]["summary"].startswith(f"still firing since {since}Z: ")
        assert r["evaluated_at"] <= r["notification"]["sent_at"]
        assert r["evaluated_at"] > firing[r["fingerprint"]]["at"], "evaluated after it fired"
        assert r["evidence"] != firing[r["fingerprint"]]["evidence"], "not the firing-time evidence"
        if "drivers" in r["evidence"]:  # the last 24 hours before the reminder's data, not before the firing's
            window_end = datetime.fromisoformat(r["evidence"]["drivers"]["window"].split(" – ")[1])
            assert window_end <= datetime.fromisoformat(r["evaluated_at"])
            if datetime.fromisoformat(r["evaluated_at"]) - datetime.fromisoformat(r["starts_at"]) > timedelta(days=1):
                assert r["evidence"]["drivers"] != firing[r["fingerprint"]]["evidence"]["drivers"], r["rule"]
        inst = _Instance(r)
        if r["rule"] in budgets:
            again = budget_annotations(url, budgets[r["rule"]], r["labels"]["signal"], inst, EventKind.FIRING)
        elif r["rule"] in slos:
            again = slo_annotations(url, slos[r["rule"]], inst, EventKind.FIRING)
        else:
            continue
        assert r["annotations"]["summary"].endswith(again["summary"]), "its text is its own evidence's"
    # One spend to date: a forecast and an actual reminder of one budget evaluated at one instant say one spend.
    spent: dict[tuple[str, str], set[float]] = {}
    for r in repeats:
        if r["rule"] in budgets and "spent" in r["evidence"]:
            spent.setdefault((r["rule"], r["evaluated_at"]), set()).add(r["evidence"]["spent"])
    assert spent
    assert all(len(values) == 1 for values in spent.values()), spent


class _Instance:
    """What an annotator reads of an instance: its evidence and labels."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.evidence = record["evidence"]
        self.labels = record["labels"]
        self.value = record["value"]
        self.threshold = record["threshold"]


def test_the_scorecard_lists_what_caught_an_incident_in_the_order_it_fired(demo: Demo) -> None:
    """Each incident's row lists its alerts by first firing time with their delay, the first being the alert the
    'first alert' column names (the previous version sorted them by name)."""
    summary = _json(demo.out / "summary.json")
    inc1 = next(i for i in summary["incidents"] if i["id"] == "INC-1-risk-join-explosion")
    first_rule = inc1["detections"][0]["rule"]
    delays = _caught_by(demo, "INC-1-risk-join-explosion")
    assert delays[0][0] == first_rule
    minutes = [_minutes(d) for _, d in delays]
    assert minutes == sorted(minutes)


def _caught_by(demo: Demo, scripted: str) -> list[tuple[str, str]]:
    """The scorecard row of a scripted incident: (rule[/signal], delay) in the order printed."""
    block = demo.stdout[demo.stdout.index(scripted) :].split("├")[0].split("└")[0]
    delays: list[tuple[str, str]] = re.findall(r"([a-z0-9-]+(?:/[a-z_]+)?) \([^)]*\) \+((?:\d+h )?\d+m)", block)
    assert delays, block
    return delays


def _minutes(text: str) -> int:
    if "h" in text:
        hours, rest = text.split("h")
        return int(hours) * 60 + int(rest.strip().rstrip("m") or 0)
    return int(text.rstrip("m"))


def test_cost_totals_reconcile_to_the_differences_they_state(demo: Demo) -> None:
    report = _json(next((demo.out / "reports").glob("cost-*.json")))
    lines = report["reconciliation"]
    assert any(r["compared_with"] == "Budget account-monthly" for r in lines)
    for line in lines:
        assert sum(p["amount"] for p in line["parts"]) == pytest.approx(line["difference"], abs=0.01), line["text"]
    transform = next(b for b in report["budgets"] if b["name"] == "transform-wh-monthly")
    spent = {
        r["evidence"]["spent"] for r in _lines(demo) if r["rule"] == "transform-wh-monthly" and "spent" in r["evidence"]
    }
    assert transform["spent"] >= max(spent) - 0.01, "the report's spend to date is at least what the alerts said last"


def test_the_first_alert_is_the_same_alert_in_the_scorecard_and_the_post_mortems(demo: Demo) -> None:
    """Alerts firing at the same minute (the cost runaway's budget and warehouse rules) are ordered one way
    everywhere (first firing, then the most severe, then by rule): the scorecard's first row, summary.json's first
    detection and the first alert of the post-mortems the demo names for the scripted incident."""
    summary = {i["id"]: i for i in _json(demo.out / "summary.json")["incidents"]}
    named = dict(re.findall(r"post-mortem of (INC-[\w-]+): ([^\n]+)", demo.stdout))
    assert named, "the demo names each scripted incident's post-mortems"
    for scripted, files in named.items():
        first = summary[scripted]["detections"][0]
        assert _caught_by(demo, scripted)[0][0].split("/")[0] == first["rule"], scripted
        drafts = [
            _json(demo.out / "reports" / f"{stem}.json") for stem in re.findall(r"(postmortem-[\w-]+)\.html", files)
        ]
        firsts = [(_detected(d), d["detection"]["first_alert"]) for d in drafts]
        at, alert = min(firsts, key=lambda f: firing_order(f[0], f[1]["severity"], f[1]["rule"]))
        assert (alert["rule"], alert["labels"]) == (first["rule"], first["labels"]), scripted
        assert at == datetime.fromisoformat(first["at"]), scripted


def _detected(postmortem: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(next(s["at"] for s in postmortem["times"]["stages"] if s["stage"] == "Detected"))


def test_the_demo_scores_its_week_and_writes_its_files(demo: Demo) -> None:
    """`sre-agent demo` catches every scripted incident and writes alerts, ground truth, summary and reports."""
    assert "Caught 5/5 incidents" in demo.stdout
    summary = _json(demo.out / "summary.json")
    assert summary["recall"] == 1.0
    truth = _json(demo.out / "ground_truth.json")
    assert [i["id"] for i in truth["incidents"]] == [
        "INC-1-risk-join-explosion",
        "INC-2-market-open-storm",
        "INC-3-ingestion-failure",
        "INC-4-cost-runaway",
        "INC-5-stream-analytics-stall",
    ]
    lines = _lines(demo)
    assert lines
    required = {"fingerprint", "rule", "severity", "labels", "starts_at", "ends_at", "evidence"}
    assert all(required <= set(x) for x in lines)
    # The reports: the daemon's Monday optimization report (of the week before) and each incident's post-mortem
    # draft (written when the incident resolved), all announced on the console; then the replayed days'
    # optimization report (named for the day it ends on, Saturday) and the month's SLO report at the end.
    reports = demo.out / "reports"
    names = sorted(p.name for p in reports.glob("optimize-*.html"))
    assert names == ["optimize-2026-11-02.html", "optimize-2026-11-07.html"]
    assert len(list(reports.glob("slo-2026-11.html"))) == 1
    assert list(reports.glob("postmortem-INC-*.html"))
    announced = [line for line in demo.stdout.splitlines() if " REPORT " in line]
    assert "optimization report:" in announced[0]
    assert any("post-mortem draft of INC-" in line for line in announced)
    assert "post-mortem of INC-1-risk-join-explosion: postmortem-INC-" in demo.stdout
