"""Hourly-share cost attribution of N queries over 30 days against one scan of the same rows.

Generates N synthetic QUERY_HISTORY rows (30 days, 7 warehouses, 400 patterns, 60 users, 8 roles, 8 services;
execution times lognormal, a few running for hours) into a Parquet file, then runs each stage in its own process
(so peak RSS is the stage's own):

* **scan**: one pass over the rows — total execution time per warehouse (the floor any method pays);
* **grouped scan**: one pass that reads every column attribution reads and groups at the rollup's grain (end hour
  × six dimensions) — what one scan of the rows costs when it has to keep the same detail;
* **attribution**: what the agent does end to end — split each query's execution over the hours it overlaps
  (the ``query_cost`` rollup; in Snowflake this runs in the pushed-down SQL), aggregate per hour × warehouse ×
  service × domain × pattern × user × role, attribute the metered credits of each warehouse-hour with
  :func:`sre_agent.engine.cost.attribute` (integer nano-credits, exact), and roll up per pattern, user, role,
  service and domain.

Prints wall time, rows/s and peak RSS of each, and attribution ÷ grouped scan (and ÷ the minimal scan).
Targets (issue 7): attribution in a time
comparable to the scan, peak RSS ≤ 1 GiB at 10 M queries.

    python benchmarks/cost_attribution.py                 # 10 000 000 queries
    python benchmarks/cost_attribution.py --queries 1000000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sre_agent.engine.cost import NANO, attribute  # noqa: E402

DAYS = 30
START = 1_790_812_800  # 2026-10-01 00:00 UTC
HOUR = 3_600
WAREHOUSES = 7
CHUNK = 1_000_000


def generate(path: Path, queries: int, seed: int = 1) -> None:
    """Write ``queries`` synthetic rows in chunks (row groups) to ``path``."""
    rng = np.random.default_rng(seed)
    parts = []
    for lo in range(0, queries, CHUNK):
        n = min(CHUNK, queries - lo)
        start_ms = (START + rng.uniform(0, DAYS * 86_400, n)) * 1000
        exec_ms = np.minimum(rng.lognormal(7.0, 1.6, n), 6 * 3_600_000)  # median ~1 s, a tail of hours
        pattern = rng.zipf(1.3, n) % 400
        frame = pl.DataFrame(
            {
                "start_ms": start_ms.astype(np.int64),
                "end_ms": (start_ms + exec_ms + rng.uniform(0, 500, n)).astype(np.int64),
                "exec_ms": exec_ms.astype(np.int64),
                "warehouse": (pattern % WAREHOUSES).astype(np.int32),
                "pattern": pattern.astype(np.int32),
                "user": ((pattern * 7 + rng.integers(0, 3, n)) % 60).astype(np.int32),
                "role": (pattern % 8).astype(np.int32),
                "service": (pattern % 8).astype(np.int32),
                "domain": (pattern % 6).astype(np.int32),
                "cloud_services": rng.uniform(0, 1e-5, n),
            }
        )
        parts.append(frame)
        if len(parts) * CHUNK >= 5 * CHUNK or lo + n >= queries:
            out = pl.concat(parts)
            mode = path.with_suffix(f".{lo}.parquet")
            out.write_parquet(mode)
            parts = []


def _files(path: Path) -> list[str]:
    return sorted(str(p) for p in path.parent.glob(path.stem + ".*.parquet"))


DIMS = ["warehouse", "service", "domain", "pattern", "user", "role"]


def scan(path: Path) -> dict[str, Any]:
    """One pass: execution time per warehouse."""
    out = pl.scan_parquet(_files(path)).group_by("warehouse").agg(pl.col("exec_ms").sum()).collect()
    return {"groups": out.height}


def grouped_scan(path: Path) -> dict[str, Any]:
    """One pass at the rollup's grain: every column attribution reads, grouped per end hour × the six dimensions
    (no splitting of queries over hours)."""
    out = (
        pl.scan_parquet(_files(path))
        .group_by((pl.col("end_ms") // (HOUR * 1000)).alias("hour"), *DIMS)
        .agg(
            pl.col("exec_ms").sum(),
            pl.len().alias("queries"),
            (pl.col("end_ms") - pl.col("start_ms")).sum().alias("elapsed_ms"),
            pl.col("cloud_services").sum(),
        )
        .collect(engine="streaming")
    )
    return {"groups": out.height}


def _metering(rollup: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Hourly metering per warehouse: busy time over the hour at the warehouse's size, plus some idle."""
    hours = rollup.group_by("bucket", "warehouse").agg(pl.col("exec_ms").sum())
    size = (2 ** (pl.col("warehouse").cast(pl.Int64) % 4)).cast(pl.Float64)
    busy = (pl.col("exec_ms") / 3_600_000 / 4).clip(0.02, 1.0)
    metered = hours.with_columns((busy * size * 1.15).alias("credits_used_compute")).with_columns(
        (pl.col("credits_used_compute") * 0.05).alias("credits_used_cloud_services"),
        (pl.col("credits_used_compute") * 0.87).alias("credits_attributed_compute_queries"),
    )
    return metered.with_columns(pl.col("warehouse").cast(pl.String)).drop("exec_ms")


def attribution(path: Path) -> dict[str, Any]:
    """The agent's attribution end to end, from the raw rows."""
    q = pl.scan_parquet(_files(path)).with_columns(
        (pl.col("end_ms") - pl.col("exec_ms")).alias("x"),
    )
    first = pl.col("x") // (HOUR * 1000)
    last = (pl.col("end_ms") - 1) // (HOUR * 1000)
    q = q.with_columns(pl.int_ranges(first, last + 1).alias("h")).explode("h")
    piece = pl.min_horizontal(pl.col("end_ms"), (pl.col("h") + 1) * HOUR * 1000) - pl.max_horizontal(
        pl.col("x"), pl.col("h") * HOUR * 1000
    )
    ends_here = (pl.col("end_ms") - 1) // (HOUR * 1000) == pl.col("h")
    dims = DIMS
    split_started = time.perf_counter()
    rollup = (
        q.group_by(pl.col("h") * HOUR, *dims)
        .agg(
            piece.clip(0).sum().alias("exec_ms"),
            ends_here.sum().alias("queries"),
            pl.lit(0).sum().alias("failed"),
            pl.when(ends_here).then(pl.col("end_ms") - pl.col("start_ms")).otherwise(0).sum().alias("elapsed_ms"),
            pl.when(ends_here).then(pl.col("cloud_services")).otherwise(0.0).sum().alias("cloud_services_credits"),
        )
        .rename({"h": "bucket"})
        .collect(engine="streaming")
        .with_columns(pl.col(dims).cast(pl.String))
    )
    split_s = time.perf_counter() - split_started
    metering = _metering(rollup, np.random.default_rng(2))
    attribute_started = time.perf_counter()
    result = attribute(rollup, metering, {str(w): f"d{w}" for w in range(WAREHOUSES)})
    totals = result.reconcile()
    assert totals["compute_difference"] == 0, totals
    rows = result.rows.with_columns(((pl.col("compute_nano") + pl.col("cloud_services_nano")) / NANO).alias("c"))
    groups = sum(rows.group_by(by).agg(pl.col("c").sum()).height for by in ("pattern", "user", "role", "service"))
    groups += rows.group_by("domain").agg(pl.col("c").sum()).height
    return {
        "rollup_rows": rollup.height,
        "groups": groups,
        "difference_nano": totals["compute_difference"],
        "split_and_rollup_s": round(split_s, 2),
        "attribute_and_tables_s": round(time.perf_counter() - attribute_started, 2),
    }


def _peak_mb() -> float:
    """This process's peak resident set (VmHWM: reset at exec, unlike ru_maxrss, which a spawned child inherits
    from its parent's high-water mark)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(stage: str, path: str, queue: Any) -> None:
    started = time.perf_counter()
    info = {"scan": scan, "grouped_scan": grouped_scan, "attribution": attribution}[stage](Path(path))
    seconds = time.perf_counter() - started
    peak_mb = _peak_mb()
    queue.put({"stage": stage, "seconds": seconds, "peak_mb": peak_mb, **info})


def measure(stage: str, path: Path) -> dict[str, Any]:
    """Run ``stage`` in a fresh process; return its figures."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run, args=(stage, str(path), queue))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise SystemExit(f"stage {stage} failed (exit code {proc.exitcode})")
    result: dict[str, Any] = queue.get(timeout=10)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=10_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "queries.parquet"
        started = time.perf_counter()
        ctx = mp.get_context("spawn")
        gen = ctx.Process(target=generate, args=(path, args.queries))  # the rows never live in this process
        gen.start()
        gen.join()
        print(f"generated {args.queries:,} queries over {DAYS} days in {time.perf_counter() - started:.1f}s")
        scan_r = measure("scan", path)
        grouped_r = measure("grouped_scan", path)
        attr_r = measure("attribution", path)
    for r in (scan_r, grouped_r, attr_r):
        rate = args.queries / r["seconds"]
        extra = ", ".join(f"{k} {v:,}" for k, v in r.items() if k not in ("stage", "seconds", "peak_mb"))
        print(f"{r['stage']:<12} {r['seconds']:7.2f} s  {rate:13,.0f} rows/s  peak RSS {r['peak_mb']:7.0f} MB  {extra}")
    print(
        f"attribution / grouped scan: {attr_r['seconds'] / grouped_r['seconds']:.2f}x wall time "
        f"(/ minimal scan: {attr_r['seconds'] / scan_r['seconds']:.1f}x)"
    )
    print("exact: attributed + idle == metered (difference 0 nano-credits)")


if __name__ == "__main__":
    main()
