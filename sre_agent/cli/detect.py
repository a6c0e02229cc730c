"""`sre-agent detect`: run the latency anomaly detector on any ``timestamp,value`` series (CSV or Parquet).

For tuning a ``LatencyAnomaly`` rule on exported data: every input row is printed with its baseline, band,
robust z, score in [0, 1] and verdict. Documented behaviour for untidy input: rows are sorted by time (a note
says so); an empty value is a missing bucket; the interval is the most common gap between timestamps and must
divide a day; buckets absent from the file are missing, not zero. Errors, each naming the row: duplicate
timestamps, unreadable timestamps, non-numeric values, timestamps off the interval's grid, an empty file.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from sre_agent.config.anomaly import LatencyAnomalyRule, LatencyAnomalySpec
from sre_agent.config.loader import validation_issues
from sre_agent.config.yaml_source import load_yaml_file
from sre_agent.engine.anomaly import DAY_S, Detection, detect
from sre_agent.errors import ConfigError, ConfigIssue, UsageError
from sre_agent.exit_codes import ExitCode
from sre_agent.sinks.render import add_plain_row


def load_rule(path: Path) -> LatencyAnomalySpec:
    """The spec of the LatencyAnomaly document in ``path``.

    Raises:
        ConfigError: unreadable file, not one LatencyAnomaly document, or an invalid spec (located).
    """
    docs, issues = load_yaml_file(path)
    if issues:
        raise ConfigError(issues)
    if len(docs) != 1:
        raise ConfigError([ConfigIssue(str(path), 1, 1, "", "expected exactly one LatencyAnomaly document")])
    try:
        return LatencyAnomalyRule.model_validate(docs[0].data).spec
    except ValidationError as exc:
        raise ConfigError(validation_issues(docs[0], exc)) from None


def _read(path: Path, time_column: str, value_column: str) -> pl.DataFrame:
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    try:
        if path.suffix.lower() == ".parquet":
            raw = pl.read_parquet(path).select(pl.all().cast(pl.String))
        else:
            raw = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    missing = [c for c in (time_column, value_column) if c not in raw.columns]
    if missing:
        raise UsageError(f"{path} has no column {', '.join(missing)} (it has {', '.join(raw.columns)})")
    if raw.is_empty():
        raise UsageError(f"{path} has no rows")
    return raw.select(pl.col(time_column).alias("t"), pl.col(value_column).alias("v")).with_row_index("row")


def _epoch(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    try:
        return int(float(text))  # epoch seconds
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())


def _number(text: str | None) -> float | None:
    if text is None or not text.strip():
        return math.nan  # an empty cell: a missing bucket
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def series(path: Path, time_column: str = "timestamp", value_column: str = "value") -> tuple[pl.DataFrame, int, bool]:
    """The file's rows as (time, value) sorted by time, its interval in seconds, and whether it had to be sorted.

    Raises:
        UsageError: naming the first offending row (1-based data row; line = row + 1 in a CSV with a header).
    """
    raw = _read(path, time_column, value_column)
    times, values = [], []
    for row, t, v in raw.iter_rows():
        epoch = _epoch(t)
        if epoch is None:
            raise UsageError(f"row {row + 1}: timestamp {t!r} is neither ISO 8601 nor epoch seconds")
        number = _number(v)
        if number is None:
            raise UsageError(f"row {row + 1}: value {v!r} is not a finite number")
        times.append(epoch)
        values.append(number)
    frame = pl.DataFrame({"row": raw["row"] + 1, "time": times, "value": values})
    was_sorted = bool(frame["time"].is_sorted())
    frame = frame.sort("time", maintain_order=True)
    dup = frame.filter(pl.col("time").is_duplicated())
    if dup.height:
        first = dup.filter(pl.col("time") == dup["time"][0])
        when = datetime.fromtimestamp(int(first["time"][0]), UTC).isoformat()
        rows = ", ".join(str(r) for r in first["row"].to_list())
        raise UsageError(f"duplicate timestamp {when} (rows {rows}): which value counts is ambiguous")
    if frame.height < 2:
        return frame, 60, was_sorted
    gaps = np.diff(frame["time"].to_numpy())
    values_, counts = np.unique(gaps, return_counts=True)
    step = int(values_[np.argmax(counts)])
    if DAY_S % step:
        raise UsageError(f"the series' interval ({step}s, its most common gap) must divide a day")
    off = frame.filter((pl.col("time") - int(frame["time"][0])) % step != 0)
    if off.height:
        when = datetime.fromtimestamp(int(off["time"][0]), UTC).isoformat()
        raise UsageError(f"row {off['row'][0]}: {when} is off the series' {step}s grid")
    return frame, step, was_sorted


def run(frame: pl.DataFrame, step: int, spec: LatencyAnomalySpec) -> tuple[pl.DataFrame, Detection]:
    """Detect over the regular grid spanning the rows; return the rows with their verdicts."""
    t0, t1 = int(frame["time"][0]), int(frame["time"][-1])
    grid = np.arange(t0, t1 + step, step, dtype=np.int64)
    values = np.full(len(grid), np.nan)
    index = ((frame["time"].to_numpy() - t0) // step).astype(np.int64)
    values[index] = frame["value"].to_numpy()
    params = replace(spec.params(), step_s=step)
    found = detect(grid, values, params)

    def at(array: Any) -> list[Any]:
        return [None if isinstance(x, float) and math.isnan(x) else x for x in np.asarray(array)[index].tolist()]

    out = frame.with_columns(
        pl.Series("baseline", at(found.baseline), dtype=pl.Float64),
        pl.Series("lower", at(found.lower), dtype=pl.Float64),
        pl.Series("upper", at(found.upper), dtype=pl.Float64),
        pl.Series("z", at(found.z), dtype=pl.Float64),
        pl.Series("score", at(found.score), dtype=pl.Float64),
        pl.Series("anomaly", at(found.anomaly), dtype=pl.Boolean),
        pl.Series("shift", at(found.shift), dtype=pl.Boolean),
        pl.Series("status", [found.reason[i] for i in index], dtype=pl.String),
        pl.Series("baseline_from", [found.method[i] for i in index], dtype=pl.String),
    )
    return out, found


def _fmt(value: float | None, digits: int = 1) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def cmd_detect(args: argparse.Namespace, console: Console, err: Console) -> int:
    """`detect --input FILE [--rule RULE] [--format table|json]`."""
    spec = load_rule(args.rule) if args.rule else LatencyAnomalySpec()
    frame, step, was_sorted = series(args.input, args.time_column, args.value_column)
    if not was_sorted:
        err.print("note: rows were not in time order; sorted by timestamp", markup=False, highlight=False)
    if args.rule and int(spec.bucket.total_seconds()) != step:
        err.print(
            f"note: the rule's bucket is {spec.bucket}, the series' interval {step}s: the series' interval is used",
            markup=False,
            highlight=False,
        )
    out, _ = run(frame, step, spec)
    rows = []
    for r in out.drop("row").to_dicts():
        when = datetime.fromtimestamp(r.pop("time"), UTC).isoformat().replace("+00:00", "Z")
        rows.append({"timestamp": when, **r, "value": None if math.isnan(r["value"]) else r["value"]})
    anomalies = sum(1 for r in rows if r["anomaly"])
    shown = [r for r in rows if r["anomaly"]] if args.anomalies_only else rows
    if args.format == "json":
        console.print_json(json.dumps(shown))
    else:
        _table(shown, console)
    err.print(f"{anomalies} anomalous bucket(s) of {len(rows)}; interval {step}s", markup=False, highlight=False)
    return ExitCode.ALERTS_FIRING if anomalies else ExitCode.OK


def _table(rows: list[dict[str, Any]], console: Console) -> None:
    table = Table(box=None, pad_edge=False)
    for name in ("timestamp", "value", "baseline", "lower", "upper", "z", "score", "anomaly", "shift", "status"):
        table.add_column(name, justify="right" if name not in ("timestamp", "status") else "left")
    fmt: dict[str, Callable[[Any], str]] = {
        "z": lambda v: _fmt(v, 2),
        "score": lambda v: _fmt(v, 3),
        "anomaly": lambda v: "yes" if v else "",
        "shift": lambda v: "yes" if v else "",
    }
    for r in rows:
        cells = [r["timestamp"]]
        for name in ("value", "baseline", "lower", "upper", "z", "score", "anomaly", "shift"):
            cells.append(fmt.get(name, _fmt)(r[name]))
        cells.append(r["status"])
        add_plain_row(table, *cells)
    console.print(table)
