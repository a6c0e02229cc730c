"""The robust seasonal latency-anomaly detector (pure) and `sre-agent detect` on offline series: incidents found
where they are and nowhere else, one-bucket spikes and quiet days not alerted, warm-up, missing buckets, baselines
not taught by incidents; the spec's checks; and untidy input files answered with clear errors or documented
behaviour."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from sre_agent.cli import main
from sre_agent.config.anomaly import LatencyAnomalySpec
from sre_agent.engine.anomaly import AnomalyParams, detect
from sre_agent.exit_codes import ExitCode

STEP = 300
PER_DAY = 86_400 // STEP
START = int(datetime(2026, 10, 5, tzinfo=UTC).timestamp())  # a Monday


def week_of_latency(days: int = 28, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """5-minute p95 latency: 800 ms in trading hours (13:00-21:00 UTC), 300 ms otherwise, ±15 % lognormal."""
    rng = np.random.default_rng(seed)
    times = START + STEP * np.arange(days * PER_DAY, dtype=np.int64)
    hours = (times % 86_400) // 3600
    base = np.where((hours >= 13) & (hours < 21), 800.0, 300.0)
    return times, base * np.exp(rng.normal(0, 0.15, len(times)))


def at(day: int, hour: int, minute: int = 0) -> int:
    return (day * PER_DAY) + (hour * 3600 + minute * 60) // STEP


PARAMS = AnomalyParams(step_s=STEP)


def test_an_hour_of_4x_latency_is_anomalous_inside_it_and_nowhere_else() -> None:
    times, values = week_of_latency()
    first, last = at(22, 15), at(22, 16)
    values[first:last] *= 4
    found = detect(times, values, PARAMS)
    flagged = np.flatnonzero(found.anomaly)
    assert flagged.min() == first + 2, "3 of 4 buckets: the third breaching bucket fires"
    assert flagged.max() == last - 1
    assert set(flagged) == set(range(first + 2, last))
    assert found.score[first + 5] > 0.5
    assert found.baseline[first + 5] == pytest.approx(800, rel=0.15), "the slot's usual latency"
    assert found.lower[first + 5] < found.baseline[first + 5] < found.upper[first + 5]


def test_one_slow_bucket_and_a_quiet_day_raise_nothing_above() -> None:
    times, values = week_of_latency()
    values[at(20, 16)] *= 6  # one slow bucket
    quiet = slice(at(23, 0), at(24, 0))
    values[quiet] *= 0.4  # a holiday-like quiet day
    found = detect(times, values, PARAMS)
    assert found.breach[at(20, 16)], "the spike breaches"
    assert not found.anomaly.any(), "but one bucket is not an incident, and faster is not a problem"
    below = detect(times, values, AnomalyParams(step_s=STEP, direction="below", absolute=100))
    assert below.anomaly[quiet].sum() > PER_DAY // 2, "direction: below sees the quiet day"


def test_warm_up_missing_buckets_and_a_flat_series() -> None:
    times, values = week_of_latency(days=7)
    values[at(5, 10) : at(5, 11)] = np.nan
    found = detect(times, values, PARAMS)
    assert set(found.reason[: at(3, 0)]) <= {"warm_up", "no_baseline"}, "no verdict in the first 3 days"
    assert not found.anomaly[: at(3, 0)].any()
    assert set(found.reason[at(5, 10) : at(5, 11)]) == {"missing"}
    assert np.isnan(found.score[at(5, 10)])
    flat = detect(times, np.full(len(times), 500.0), PARAMS)
    assert not flat.anomaly.any()
    assert np.nanmax(flat.upper) == pytest.approx(500 * math.exp(3 * 0.05)), "the spread floor sets the band"


def test_an_incident_does_not_teach_the_baseline_that_slow_is_normal() -> None:
    times, values = week_of_latency()
    for day in (20, 21, 22):  # three days in a row slow at the same hour
        values[at(day, 15) : at(day, 17)] *= 4
    found = detect(times, values, PARAMS)
    for day in (20, 21, 22):
        assert found.anomaly[at(day, 15) + 3 : at(day, 17)].all(), f"day {day} still anomalous"
        assert found.baseline[at(day, 16)] == pytest.approx(800, rel=0.2), "baseline from usual days only"


def test_history_before_ignore_before_never_forms_a_baseline() -> None:
    times, values = week_of_latency(days=10)
    values[: at(5, 0)] *= 10  # before a migration everything was 10x slower
    with_old = detect(times, values, AnomalyParams(step_s=STEP, direction="below", absolute=0))
    ignoring = detect(times, values, AnomalyParams(step_s=STEP, direction="below", ignore_before=int(times[at(5, 0)])))
    assert with_old.anomaly[at(6, 0) : at(7, 0)].sum() > 100, "the old level makes the new one look anomalous"
    assert not ignoring.anomaly[at(6, 0) :].any()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"statistic": "p42"}, "Input should be 'p50', 'p90', 'p95', 'p99' or 'mean'"),
        ({"bucket": "7m"}, "divides an hour"),
        ({"sustain": {"k": 5, "n": 4}}, "sustain.k .5. cannot exceed sustain.n .4."),
        ({"sensitivity": "paranoid"}, "Input should be 'low', 'medium' or 'high'"),
        ({"ignore_data_before": "2026-11-01T00:00:00"}, "needs a time zone"),
    ],
)
def test_impossible_anomaly_specs_are_refused(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LatencyAnomalySpec.model_validate(spec)


# ------------------------------------------------------------------------------------------ sre-agent detect


def _csv(path: Path, rows: list[tuple[str, str]], header: str = "timestamp,value") -> Path:
    path.write_text(header + "\n" + "\n".join(f"{t},{v}" for t, v in rows) + "\n")
    return path


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def test_detect_scores_every_row_of_a_csv_and_exits_1_on_anomalies(tmp_path: Path, capsys) -> None:
    times, values = week_of_latency()
    values[at(22, 15) : at(22, 16)] *= 4
    path = _csv(tmp_path / "p95.csv", [(_iso(int(t)), f"{v:.1f}") for t, v in zip(times, values, strict=True)])
    code = main(["detect", "--input", str(path), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == ExitCode.ALERTS_FIRING
    assert len(out) == len(times), "one line per input row"
    flagged = [r["timestamp"] for r in out if r["anomaly"]]
    assert flagged[0] == _iso(int(times[at(22, 15) + 2]))
    assert flagged[-1] == _iso(int(times[at(22, 16) - 1]))
    row = out[at(22, 15) + 5]
    assert set(row) >= {"timestamp", "value", "baseline", "lower", "upper", "z", "score", "anomaly", "status"}
    assert 0.5 < row["score"] <= 1


def test_detect_reads_parquet_and_a_rule(tmp_path: Path, capsys) -> None:
    times, values = week_of_latency(days=8)
    values[at(7, 15) : at(7, 16)] *= 2.5  # an anomaly for the defaults, not for a rule that wants 3x
    path = tmp_path / "p95.parquet"
    pl.DataFrame({"timestamp": [_iso(int(t)) for t in times], "value": values}).write_parquet(path)
    assert main(["detect", "--input", str(path), "--format", "json"]) == ExitCode.ALERTS_FIRING
    by_default = sum(r["anomaly"] for r in json.loads(capsys.readouterr().out))
    rule = tmp_path / "rule.yaml"
    rule.write_text(
        "apiVersion: sre-agent/v1\nkind: LatencyAnomaly\nmetadata: {name: lenient}\n"
        "spec:\n  sensitivity: low\n  min_effect: {relative: 3.0, absolute: 250}\n"
    )
    assert main(["detect", "--input", str(path), "--rule", str(rule), "--format", "json"]) == ExitCode.OK
    assert sum(r["anomaly"] for r in json.loads(capsys.readouterr().out)) == 0 < by_default


def test_unsorted_rows_are_sorted_and_empty_values_are_missing_buckets(tmp_path: Path, capsys) -> None:
    rows = [(_iso(START + i * 60), "100") for i in range(30)]
    rows[10] = (rows[10][0], "")
    rows.reverse()
    path = _csv(tmp_path / "s.csv", rows)
    assert main(["detect", "--input", str(path), "--format", "json"]) == ExitCode.OK
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert "sorted by timestamp" in captured.err
    assert [r["timestamp"] for r in out] == sorted(r["timestamp"] for r in out)
    assert out[10]["status"] == "missing"
    assert out[10]["value"] is None


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(_iso(START), "1"), (_iso(START), "2"), (_iso(START + 60), "3")], "duplicate timestamp .* \\(rows 1, 2\\)"),
        ([(_iso(START), "1"), (_iso(START + 60), "fast"), (_iso(START + 120), "3")], "row 2: value 'fast'"),
        ([(_iso(START), "1"), ("yesterday", "2")], "row 2: timestamp 'yesterday'"),
        ([(_iso(START + i * 60), "1") for i in range(5)] + [(_iso(START + 330), "1")], "off the series' 60s grid"),
        ([(_iso(START + i * 420), "1") for i in range(5)], "must divide a day"),
        ([(_iso(START), "inf"), (_iso(START + 60), "1")], "row 1: value 'inf' is not a finite number"),
    ],
    ids=["duplicates", "non-numeric", "bad-time", "off-grid", "interval", "infinite"],
)
def test_untidy_files_are_refused_naming_the_row(tmp_path: Path, capsys, rows, message: str) -> None:
    path = _csv(tmp_path / "bad.csv", rows)
    assert main(["detect", "--input", str(path)]) == ExitCode.USAGE
    import re

    assert re.search(message, capsys.readouterr().err), message


def test_an_empty_file_a_missing_column_and_a_bad_rule(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("timestamp,value\n")
    assert main(["detect", "--input", str(empty)]) == ExitCode.USAGE
    assert "has no rows" in capsys.readouterr().err
    other = _csv(tmp_path / "other.csv", [(_iso(START), "1")], header="ts,p95")
    assert main(["detect", "--input", str(other)]) == ExitCode.USAGE
    assert "has no column timestamp, value (it has ts, p95)" in capsys.readouterr().err
    assert main(["detect", "--input", str(other), "--time-column", "ts", "--value-column", "p95"]) == ExitCode.OK
    capsys.readouterr()
    rule = tmp_path / "rule.yaml"
    rule.write_text(
        "apiVersion: sre-agent/v1\nkind: LatencyAnomaly\nmetadata: {name: r}\nspec:\n  sustain: {k: 9, n: 3}\n"
    )
    assert main(["detect", "--input", str(other), "--rule", str(rule)]) == ExitCode.BAD_CONFIG
    assert "rule.yaml:5:" in capsys.readouterr().err


def test_the_shipped_example_rule_is_valid() -> None:
    from sre_agent.cli.detect import load_rule

    spec = load_rule(Path(__file__).resolve().parents[2] / "examples" / "anomaly" / "dashboard-latency.yaml")
    assert (spec.threshold_z, spec.sustain.k, spec.sustain.n, spec.statistic) == (3.0, 3, 4, "p95")


def test_detect_anomalies_only_prints_just_the_flagged_rows_and_still_counts_all(tmp_path: Path, capsys) -> None:
    times, values = week_of_latency(days=8)
    values[at(7, 15) : at(7, 16)] *= 2.5
    path = tmp_path / "p95.parquet"
    pl.DataFrame({"timestamp": [_iso(int(t)) for t in times], "value": values}).write_parquet(path)
    assert main(["detect", "--input", str(path), "--format", "json", "--anomalies-only"]) == ExitCode.ALERTS_FIRING
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert rows
    assert all(r["anomaly"] for r in rows)
    assert f"{len(rows)} anomalous bucket(s) of {len(times)}" in captured.err


def test_help_and_version_load_none_of_the_agent() -> None:
    """`--help` and `--version` build the parser only: no polars, pydantic, numpy, rich or YAML."""
    import subprocess
    import sys

    probe = "import sys; from sre_agent.cli.parser import build_parser; build_parser().format_help(); "
    probe += "print(sorted(m for m in ('polars', 'pydantic', 'numpy', 'rich', 'yaml') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
