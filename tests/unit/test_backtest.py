"""Unit tests of ``sre-agent backtest`` over an offline CSV (``timestamp,good,total``, one row per minute).

The CSVs are generated: a steady 1000 events a minute, with error bursts at known instants. Expected alert times
follow from the SRE Workbook's multiwindow rule for a 99.9 % / 30 d SLO: the 1h/5m page tier burns at 14.4×, i.e.
fires once more than 1.44 % of the events of both windows are bad (864 of the 60 000 events of an hour).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sre_agent.cli import main
from sre_agent.exit_codes import ExitCode

START = datetime(2026, 11, 2, tzinfo=UTC)
"""First minute of every generated CSV (a Monday)."""
ONSET = START + timedelta(days=3, hours=12)
"""Burst onset: after three days, so that the 3d ticket window is known and the SLO can be judged "ok"."""
MINUTE = timedelta(minutes=1)
PER_MINUTE = 1000

AVAILABILITY_SLO = """\
apiVersion: sre-agent/v1
kind: SLO
metadata: {name: api-availability}
spec:
  service: api
  owner: api-team
  sli: {kind: availability}
  objective: 99.9
  period: {rolling: 30d}
"""


# ---------------------------------------------------------------------------------------------- helpers


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_events(path: Path, bursts: Sequence[tuple[datetime, int, float]] = (), *, days: float = 4.5) -> Path:
    """``days`` of 1000 events/minute; each burst is (onset, minutes, error fraction)."""
    lines = ["timestamp,good,total"]
    for i in range(int(days * 1440)):
        at = START + i * MINUTE
        bad = 0
        for onset, minutes, fraction in bursts:
            if onset <= at < onset + minutes * MINUTE:
                bad = round(PER_MINUTE * fraction)
        lines.append(f"{_iso(at)},{PER_MINUTE - bad},{PER_MINUTE}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _backtest(capsys: pytest.CaptureFixture[str], slo: Path, events: Path, *extra: str) -> dict[str, Any]:
    rc = main(["backtest", "--slo", str(slo), "--events", str(events), "--format", "json", *extra])
    out, err = capsys.readouterr()
    assert rc == ExitCode.OK, err
    report: dict[str, Any] = json.loads(out)
    return report


@pytest.fixture
def slo_file(tmp_path: Path) -> Path:
    return _write(tmp_path / "slo.yaml", AVAILABILITY_SLO)


# ---------------------------------------------------------------------------------------------- alerts


def test_fifteen_percent_errors_for_ten_minutes_page_once_from_onset_plus_6m_to_end_plus_5m(
    slo_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _write_events(tmp_path / "events.csv", [(ONSET, 10, 0.15)])

    report = _backtest(capsys, slo_file, events)

    # 150 bad/minute: the hour passes 864 bad events with the 6th bad minute; the 5m window is over 1.44 %
    # from the first bad minute until it no longer holds one, 5 minutes after the last.
    assert len(report["alerts"]) == 1
    alert = report["alerts"][0]
    assert alert["slo"] == "api-availability"
    assert alert["severity"] == "page"
    assert alert["windows"] == "1h/5m"
    assert alert["start"] == _iso(ONSET + 6 * MINUTE)
    assert alert["end"] == _iso(ONSET + 15 * MINUTE)
    assert alert["severity_changes"] == [{"at": _iso(ONSET + 6 * MINUTE), "severity": "page", "windows": "1h/5m"}]
    # 1500 bad events in the hour at most: a long-window burn of 1500 / 60000 / 0.001 = 25.
    assert alert["peak_long_window_burn"] == pytest.approx(25.0)
    (summary,) = report["slos"]
    assert summary["slo"] == "api-availability"
    assert summary["objective_percent"] == 99.9
    assert (summary["pages"], summary["tickets"], summary["notifications"]) == (1, 0, 2)  # firing + resolved
    assert summary["from"] == _iso(START + MINUTE)
    assert summary["to"] == _iso(START + timedelta(days=4.5))
    assert summary["final"]["state"] == "ok"
    assert report["step"] == "1m"
    assert report["history"] == "events"
    assert "quality" not in report


def test_full_outage_of_30_minutes_is_one_page_detected_one_minute_after_onset(
    slo_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _write_events(tmp_path / "events.csv", [(ONSET, 30, 1.0)])

    report = _backtest(capsys, slo_file, events)

    # Every tier breaches (1000 bad events in the first minute already exceed the hour's 864), but the
    # slower tiers stay inside the same alert: one page, not a page plus tickets.
    assert len(report["alerts"]) == 1
    alert = report["alerts"][0]
    assert alert["severity"] == "page"
    assert alert["windows"] == "1h/5m"
    assert alert["start"] == _iso(ONSET + MINUTE)
    changes = alert["severity_changes"]
    assert changes[0] == {"at": _iso(ONSET + MINUTE), "severity": "page", "windows": "1h/5m"}
    assert {c["severity"] for c in changes[1:]} <= {"ticket"}  # at most de-escalations
    # The 3d/6h ticket tier keeps the alert open until its 6h short window no longer holds the outage.
    assert alert["end"] == _iso(ONSET + 30 * MINUTE + timedelta(hours=6))
    (summary,) = report["slos"]
    assert (summary["pages"], summary["tickets"], summary["notifications"]) == (1, 0, 2)


@pytest.mark.parametrize(
    ("minutes", "fraction", "at_1m", "at_5m"),
    [
        pytest.param(30, 1.0, 1, 3, id="outage"),  # onset 12:02: 12:03 → 12:05
        pytest.param(10, 0.15, 6, 8, id="15pct-burst"),  # onset 12:02: 12:08 → 12:10
    ],
)
def test_a_5m_step_moves_detection_to_the_next_5_minute_instant(
    minutes: int,
    fraction: float,
    at_1m: int,
    at_5m: int,
    slo_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    onset = ONSET + 2 * MINUTE
    events = _write_events(tmp_path / "events.csv", [(onset, minutes, fraction)])

    every_minute = _backtest(capsys, slo_file, events)
    every_5m = _backtest(capsys, slo_file, events, "--step", "5m")

    assert [a["start"] for a in every_minute["alerts"]] == [_iso(onset + at_1m * MINUTE)]
    assert [a["start"] for a in every_5m["alerts"]] == [_iso(onset + at_5m * MINUTE)]
    assert every_5m["step"] == "5m"
    assert every_5m["slos"][0]["instants"] * 5 == every_minute["slos"][0]["instants"]


def test_a_step_that_is_not_whole_minutes_is_refused(
    slo_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _write_events(tmp_path / "events.csv", days=0.1)

    rc = main(["backtest", "--slo", str(slo_file), "--events", str(events), "--step", "90s"])

    _, err = capsys.readouterr()
    assert rc == ExitCode.AGENT_FAILURE
    assert "--step must be whole minutes" in err


# ---------------------------------------------------------------------------------------------- quality


def _incidents(path: Path, *rows: tuple[datetime, datetime, str]) -> Path:
    lines = ["start,end,id", *(f"{_iso(a)},{_iso(b)},{ident}" for a, b, ident in rows)]
    return _write(path, "\n".join(lines) + "\n")


def test_labelled_incident_caught_by_the_alert_gives_precision_and_recall_1(
    slo_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _write_events(tmp_path / "events.csv", [(ONSET, 10, 0.15)])
    incidents = _incidents(tmp_path / "incidents.csv", (ONSET, ONSET + 10 * MINUTE, "inc-1"))

    report = _backtest(capsys, slo_file, events, "--incidents", str(incidents))

    quality = report["quality"]
    assert quality["precision"] == 1.0
    assert quality["recall"] == 1.0
    # Alert from onset + 6m to onset + 15m; the incident ends at onset + 10m.
    assert quality["detection_s"] == {"median": 360, "max": 360}
    assert quality["reset_s"] == {"median": 300, "max": 300}
    assert (quality["alerts"], quality["alerts_outside_incidents"]) == (1, 0)
    (incident,) = quality["incidents"]
    assert incident["id"] == "inc-1"
    assert incident["detected"] is True
    assert incident["severity"] == "page"
    assert incident["slos"] == ["api-availability"]
    assert (incident["detection_s"], incident["reset_s"]) == (360, 300)


def test_an_alert_without_a_labelled_incident_halves_precision(
    slo_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unlabelled = ONSET + timedelta(hours=18)
    events = _write_events(tmp_path / "events.csv", [(ONSET, 10, 0.15), (unlabelled, 10, 0.15)])
    incidents = _incidents(tmp_path / "incidents.csv", (ONSET, ONSET + 10 * MINUTE, "inc-1"))

    report = _backtest(capsys, slo_file, events, "--incidents", str(incidents))

    assert [a["start"] for a in report["alerts"]] == [_iso(ONSET + 6 * MINUTE), _iso(unlabelled + 6 * MINUTE)]
    quality = report["quality"]
    assert quality["precision"] == 0.5
    assert quality["recall"] == 1.0
    assert (quality["alerts"], quality["alerts_outside_incidents"]) == (2, 1)


def test_an_incident_no_alert_covers_is_reported_missed(
    slo_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    quiet = ONSET + timedelta(hours=18)
    events = _write_events(tmp_path / "events.csv", [(ONSET, 10, 0.15)])
    incidents = _incidents(
        tmp_path / "incidents.csv",
        (ONSET, ONSET + 10 * MINUTE, "inc-1"),
        (quiet, quiet + 30 * MINUTE, "inc-2"),
    )

    report = _backtest(capsys, slo_file, events, "--incidents", str(incidents))

    quality = report["quality"]
    assert quality["recall"] < 1
    assert quality["recall"] == 0.5
    assert quality["precision"] == 1.0
    missed = {i["id"]: i for i in quality["incidents"]}["inc-2"]
    assert missed["detected"] is False
    assert missed["alerts"] == 0
    assert (missed["severity"], missed["detection_s"], missed["reset_s"]) == (None, None, None)


# ---------------------------------------------------------------------------------------------- bad input


def _rows(*rows: str) -> str:
    return "timestamp,good,total\n" + "".join(f"{row}\n" for row in rows)


OK1 = "2026-11-02T00:00:00Z,10,10"
OK2 = "2026-11-02T00:01:00Z,10,10"


@pytest.mark.parametrize(
    ("content", "where", "message"),
    [
        pytest.param("timestamp,good\n" + OK1[:-3] + "\n", "events.csv:1", "missing column(s) total", id="missing"),
        pytest.param(_rows(OK1, "2026-11-02T00:01:00Z,11,10"), "events.csv:3", "good=11 total=10", id="good>total"),
        pytest.param(_rows(OK1, "2026-11-02T00:01:30Z,10,10"), "events.csv:3", "not on a whole minute", id="seconds"),
        pytest.param(_rows(OK1, "2026-11-02T00:01:00,10,10"), "events.csv:3", "has no time zone", id="no-zone"),
        pytest.param(_rows(OK1, OK2, OK2), "events.csv:4", "repeat or out of order", id="duplicate"),
        pytest.param(_rows(OK2, OK1), "events.csv:3", "repeat or out of order", id="out-of-order"),
        pytest.param(_rows(OK1, "2026-11-02T00:01:00Z,ten,10"), "events.csv:3", "whole numbers", id="non-numeric"),
        pytest.param(_rows(OK1, "2026-11-02T00:01:00Z,9.5,10"), "events.csv:3", "whole numbers", id="fraction"),
        pytest.param(_rows("yesterday,10,10"), "events.csv:2", "is not ISO 8601", id="not-iso"),
        pytest.param(_rows(OK1, "2026-11-02T00:01:00Z,-1,10"), "events.csv:3", "need 0 <= good <= total", id="neg"),
    ],
)
def test_bad_events_csv_is_a_clear_located_error_with_exit_code_4(
    content: str,
    where: str,
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(Path("slo.yaml"), AVAILABILITY_SLO)
    _write(Path("events.csv"), content)

    rc = main(["backtest", "--slo", "slo.yaml", "--events", "events.csv", "--format", "json"])

    out, err = capsys.readouterr()
    assert rc == ExitCode.AGENT_FAILURE
    assert out == ""
    text = " ".join(err.split())
    assert f"error: {where}: " in text
    assert message in text


def test_events_csv_without_rows_or_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(Path("slo.yaml"), AVAILABILITY_SLO)
    _write(Path("empty.csv"), "timestamp,good,total\n")

    assert main(["backtest", "--slo", "slo.yaml", "--events", "empty.csv"]) == ExitCode.AGENT_FAILURE
    assert "empty.csv: no rows" in capsys.readouterr().err
    assert main(["backtest", "--slo", "slo.yaml", "--events", "absent.csv"]) == ExitCode.AGENT_FAILURE
    assert "absent.csv: cannot read" in capsys.readouterr().err


def test_freshness_slo_cannot_be_driven_by_a_good_total_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    slo = _write(
        tmp_path / "fresh.yaml",
        textwrap.dedent(
            """\
            apiVersion: sre-agent/v1
            kind: SLO
            metadata: {name: loads-fresh}
            spec:
              service: ingest
              owner: data
              sli: {kind: freshness, source: copy, max_age: 10m}
              objective: 99
              period: {rolling: 28d}
              budgeting_method: Timeslices
            """
        ),
    )
    events = _write_events(tmp_path / "events.csv", days=0.1)

    rc = main(["backtest", "--slo", str(slo), "--events", str(events), "--format", "json"])

    out, err = capsys.readouterr()
    assert rc == ExitCode.AGENT_FAILURE
    assert out == ""
    text = " ".join(err.split())
    assert "SLO loads-fresh: a freshness SLI needs load times" in text


def test_bad_slo_file_exits_bad_config_with_file_line_col(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(Path("slo.yaml"), AVAILABILITY_SLO.replace("objective: 99.9", "objective: 100"))
    _write_events(Path("events.csv"), days=0.1)

    rc = main(["backtest", "--slo", "slo.yaml", "--events", "events.csv", "--format", "json"])

    out, err = capsys.readouterr()
    assert rc == ExitCode.BAD_CONFIG
    assert out == ""
    assert "slo.yaml:8:14: spec.objective: objective must be a percentage strictly between 0 and 100" in err
    assert "1 config error(s)" in err


# ---------------------------------------------------------------------------------------------- time slices

P95_SLO = """\
apiVersion: sre-agent/v1
kind: SLO
metadata: {name: dashboards-p95}
spec:
  service: dashboards
  owner: bi-team
  sli: {kind: latency_percentile, percentile: 95, threshold_ms: 5000, min_queries: 20}
  objective: 98
  period: {rolling: 1d}
  budgeting_method: Timeslices
  timeslice: 5m
  alerting:
    tiers:
      - {severity: page, long: 1h, short: 15m, budget_percent: 2}
"""


def _write_queries(path: Path, per_minute: Callable[[datetime], tuple[int, int]]) -> Path:
    """One day: good = queries at or under the threshold, total = queries, per minute."""
    lines = ["timestamp,good,total"]
    for i in range(1440):
        at = START + i * MINUTE
        good, total = per_minute(at)
        lines.append(f"{_iso(at)},{good},{total}")
    return _write(path, "\n".join(lines) + "\n")


def test_timeslices_slo_judges_each_5_minute_slice_on_its_share_of_fast_queries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slow_slice = START + timedelta(hours=10)  # 18 of 20 fast each minute: 90 % < 95 % → a bad slice
    one_slow_minute = START + timedelta(hours=14, minutes=2)  # 15 of 20 once, 20 of 20 otherwise: 95 of 100
    quiet_slice = START + timedelta(hours=18)  # 3 queries a minute, all slow: 15 < min_queries → not judged

    def per_minute(at: datetime) -> tuple[int, int]:
        if slow_slice <= at < slow_slice + 5 * MINUTE:
            return 18, 20
        if at == one_slow_minute:
            return 15, 20
        if quiet_slice <= at < quiet_slice + 5 * MINUTE:
            return 0, 3
        return 20, 20

    slo = _write(tmp_path / "p95.yaml", P95_SLO)
    events = _write_queries(tmp_path / "queries.csv", per_minute)

    report = _backtest(capsys, slo, events)

    # Only the slow slice pages, once it is complete (10:05), and until the 15m window no longer holds it.
    # The slice with one slow minute is good: the percentile is judged over the slice, not per minute.
    assert [(a["severity"], a["windows"], a["start"], a["end"]) for a in report["alerts"]] == [
        ("page", "1h/15m", _iso(slow_slice + 5 * MINUTE), _iso(slow_slice + 20 * MINUTE)),
    ]
    (summary,) = report["slos"]
    # 288 slices in the day, one not judged (too few queries), one bad.
    assert summary["final"]["period_sli"] == pytest.approx(286 / 287, abs=1e-9)
    assert summary["final"]["state"] == "ok"


def test_incidents_from_json_and_yaml_pick_their_slos_by_name_or_service(
    slo_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _write_events(tmp_path / "events.csv", [(ONSET, 10, 0.15)])
    incident = {"id": "inc-api", "start": _iso(ONSET), "end": _iso(ONSET + 10 * MINUTE)}
    as_json = _write(tmp_path / "truth.json", json.dumps({"incidents": [{**incident, "service": "api"}]}))
    as_yaml = _write(
        tmp_path / "truth.yaml",
        f"- {{id: inc-api, start: '{incident['start']}', end: '{incident['end']}', slo: api-availability}}\n",
    )

    for path in (as_json, as_yaml):
        report = _backtest(capsys, slo_file, events, "--incidents", str(path))

        quality = report["quality"]
        assert (quality["precision"], quality["recall"]) == (1.0, 1.0), path.name
        (found,) = quality["incidents"]
        assert (found["id"], found["slos"], found["detected"]) == ("inc-api", ["api-availability"], True)


def test_an_incident_of_a_service_no_slo_covers_does_not_count_against_recall(
    slo_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Such an incident is left out of the per-incident list, so it must be left out of recall too."""
    events = _write_events(tmp_path / "events.csv", [(ONSET, 10, 0.15)])
    later = ONSET + timedelta(hours=18)
    truth = {
        "incidents": [
            {"id": "inc-api", "start": _iso(ONSET), "end": _iso(ONSET + 10 * MINUTE), "service": "api"},
            {"id": "inc-billing", "start": _iso(later), "end": _iso(later + 10 * MINUTE), "service": "billing"},
        ]
    }
    path = _write(tmp_path / "truth.json", json.dumps(truth))

    report = _backtest(capsys, slo_file, events, "--incidents", str(path))

    quality = report["quality"]
    assert [i["id"] for i in quality["incidents"]] == ["inc-api"]
    assert quality["incidents"][0]["detected"] is True
    assert quality["recall"] == 1.0


def test_incident_ending_before_it_starts_is_a_located_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(Path("slo.yaml"), AVAILABILITY_SLO)
    _write_events(Path("events.csv"), days=0.1)
    _incidents(Path("incidents.csv"), (START, START + MINUTE, "ok"), (START + MINUTE, START, "backwards"))

    rc = main(["backtest", "--slo", "slo.yaml", "--events", "events.csv", "--incidents", "incidents.csv"])

    _, err = capsys.readouterr()
    assert rc == ExitCode.AGENT_FAILURE
    assert "incidents.csv:3: end must be after start" in " ".join(err.split())


def test_a_slow_burn_tickets_then_escalates_to_a_page_inside_the_same_alert(
    slo_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slow = START + timedelta(days=3)
    outage = slow + timedelta(hours=15)
    # 0.5 % errors (5× burn) for 16 h, with a 10-minute full outage at 15:00.
    events = _write_events(tmp_path / "events.csv", [(slow, 16 * 60, 0.005), (outage, 10, 1.0)])

    report = _backtest(capsys, slo_file, events)

    (alert,) = report["alerts"]
    # 5 bad events a minute pass the 1d window's 3× threshold (4320 of 1 440 000) with the 865th minute;
    # the ticket notifies once it has held for alerting.ticket_hold (10m).
    assert alert["start"] == _iso(slow + timedelta(minutes=875))
    assert alert["severity_changes"][:2] == [
        {"at": _iso(slow + timedelta(minutes=875)), "severity": "ticket", "windows": "1d/2h"},
        {"at": _iso(outage + MINUTE), "severity": "page", "windows": "1h/5m"},
    ]
    assert (alert["severity"], alert["windows"]) == ("page", "1h/5m")
    (summary,) = report["slos"]
    assert (summary["pages"], summary["tickets"], summary["notifications"]) == (1, 0, 3)  # fire, escalate, resolve


def test_table_output_lists_alerts_summary_and_quality(
    slo_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _write_events(tmp_path / "events.csv", [(ONSET, 10, 0.15)])
    incidents = _incidents(tmp_path / "incidents.csv", (ONSET, ONSET + 10 * MINUTE, "inc-1"))

    rc = main(["backtest", "--slo", str(slo_file), "--events", str(events), "--incidents", str(incidents)])

    out, err = capsys.readouterr()
    assert rc == ExitCode.OK, err
    assert "api-availability" in out
    assert _iso(ONSET + 6 * MINUTE) in out
    assert _iso(ONSET + 15 * MINUTE) in out
    assert "25.0x" in out
    text = " ".join(out.split())
    assert "1 page(s), 0 ticket(s), 2 notification(s)" in text
    assert "precision 1.0 · recall 1.0 · detection median 6m 00s" in text
    assert "inc-1: detected (page, detection 6m 00s, reset 5m 00s)" in text


def test_a_page_arriving_while_a_ticket_is_held_is_the_incidents_only_notification(
    slo_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Slow tiers can cross their factor minutes before the fast ones; the held ticket is replaced by the page."""
    slow = START + timedelta(days=3)
    outage = slow + timedelta(minutes=865 + 4)  # the 1d/2h ticket starts holding at +865m; the page comes 4m later
    events = _write_events(tmp_path / "events.csv", [(slow, 16 * 60, 0.005), (outage, 10, 1.0)])

    report = _backtest(capsys, slo_file, events)

    (alert,) = report["alerts"]
    assert alert["start"] == _iso(outage + MINUTE)
    assert alert["severity_changes"][0] == {"at": _iso(outage + MINUTE), "severity": "page", "windows": "1h/5m"}
    assert [c["severity"] for c in alert["severity_changes"][1:]] == ["ticket"]  # de-escalates, silently
    (summary,) = report["slos"]
    assert (summary["pages"], summary["tickets"], summary["notifications"]) == (1, 0, 2)  # fire, resolve
