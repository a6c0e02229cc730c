"""Latency-anomaly quality: recall, precision, detection delay and false alerts per warehouse-week, per sensitivity.

For each seed and scale the workload generator writes 21 incident-free days (the warm-up: weekly slots exist from
day 21) and then one scored week holding labelled latency incidents: the two scripted ones (the exploding join on
RISK_WH, the market-open queueing storm on TRADE_ANALYTICS_WH) and four more drawn at random (one service on one
warehouse — one of the five with queries all through trading hours — slowed 1.6-4x for 30-150 minutes). Hard
cases are injected into the scored week's
5-minute series: a gradual drift (+100 % over four hours, then held two hours: a labelled positive), a single
6x bucket and a holiday-like quiet Thursday (a quarter of the traffic, a little faster: neither may alert);
ADHOC_WH and REPORTING_WH are the noisy low-volume series the generator makes anyway.

The real detector runs: the generated QUERY_HISTORY rows are rolled up per 5 minutes as the query rollup would,
folded by the rule's code (``fold``) into a ``SeriesMatrix`` a day at a time and judged as the daemon judges
final buckets. Alerts are emulated as the daemon raises them: fire on a sustained bucket, resolve after n quiet
buckets, no re-fire within ``suppress``. A fire on an incident's warehouse while it runs (plus 30 minutes) is
explained; every other fire is a false alert.

Delay is in data time: from the incident's start to the end of the bucket that fired — add ACCOUNT_USAGE's
landing latency and the poll interval for wall-clock time to alert (the demo prints those end to end).

    python benchmarks/anomaly_quality.py                      # seeds 1-3, 20k and 60k queries/day (~2 min)
    python benchmarks/anomaly_quality.py --seeds 1 --scales 40000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sre_agent.config.anomaly import LatencyAnomalySpec, LevelShift  # noqa: E402
from sre_agent.engine.anomaly_series import SeriesMatrix, fold  # noqa: E402
from sre_agent.engine.histogram import BUCKETS, bucket_index  # noqa: E402
from sre_agent.engine.rollups import HIST_COLUMNS  # noqa: E402
from sre_agent.engine.threshold import PHASES  # noqa: E402
from sre_agent.simulate.incidents import Incident, IncidentKind, default_incidents  # noqa: E402
from sre_agent.simulate.platform import MARKET_TZ  # noqa: E402
from sre_agent.simulate.workload import WorkloadConfig, day_bounds, generate_day  # noqa: E402

WARM_UP_DAYS = 21
FIRST = date(2026, 10, 12)  # a Monday; the scored week starts three weeks later
STEP = 300
GRACE = 30 * 60
TRAFFIC = {
    ("RISK_WH", "risk-engine"),
    ("TRADE_ANALYTICS_WH", "trade-analytics"),
    ("INGEST_WH", "trade-ingest"),
    ("INGEST_WH", "market-data-ingest"),
    ("PORTFOLIO_WH", "portfolio-api"),
}
"""Series with queries all through trading hours: a slowdown of a batch job that is not running is no incident."""
COLUMNS = {
    "compilation_ms_sum": "COMPILATION_TIME",
    "queued_overload_ms_sum": "QUEUED_OVERLOAD_TIME",
    "queued_provisioning_ms_sum": "QUEUED_PROVISIONING_TIME",
    "queued_repair_ms_sum": "QUEUED_REPAIR_TIME",
    "blocked_ms_sum": "TRANSACTION_BLOCKED_TIME",
    "execution_ms_sum": "EXECUTION_TIME",
    "list_files_ms_sum": "LIST_EXTERNAL_FILES_TIME",
}
assert set(COLUMNS) == set(PHASES.values())


@dataclass(frozen=True)
class Positive:
    """A labelled latency problem on one series."""

    kind: str
    warehouse: str
    service: str
    start: int
    end: int


@dataclass
class Tally:
    """What one sensitivity did over every run."""

    found: int = 0
    incidents: int = 0
    drift_anomaly: int = 0
    drift_change: int = 0
    drifts: int = 0
    delays: list[float] = field(default_factory=list)
    fires: int = 0
    explained: int = 0
    false: int = 0
    spike_alerts: int = 0
    quiet_alerts: int = 0
    change_false: int = 0
    warehouse_weeks: float = 0.0
    seconds: float = 0.0


def rollup(qh: pl.DataFrame) -> pl.DataFrame:
    """QUERY_HISTORY rows → 5-minute rows per warehouse × service × domain, in the query rollup's layout."""
    ok = pl.col("EXECUTION_STATUS") == "SUCCESS"
    tag = pl.col("QUERY_TAG")
    frame = qh.with_columns(
        (pl.col("END_TIME").dt.epoch("s") // STEP * STEP).alias("bucket"),
        pl.col("WAREHOUSE_NAME").alias("warehouse"),
        pl.coalesce(tag.str.json_path_match("$.service"), pl.lit("(untagged)")).alias("service"),
        pl.coalesce(tag.str.json_path_match("$.domain"), pl.lit("(untagged)")).alias("domain"),
        pl.Series("h", bucket_index(qh["TOTAL_ELAPSED_TIME"].to_numpy())),
    )
    return frame.group_by("bucket", "warehouse", "service", "domain").agg(
        pl.len().alias("queries"),
        ok.sum().alias("succeeded"),
        pl.col("TOTAL_ELAPSED_TIME").filter(ok).sum().alias("elapsed_ms_sum"),
        pl.col("TOTAL_ELAPSED_TIME").filter(ok).max().fill_null(0).alias("elapsed_ms_max"),
        *[pl.col(src).sum().alias(dst) for dst, src in COLUMNS.items()],
        *[(ok & (pl.col("h") == i)).sum().alias(HIST_COLUMNS[i]) for i in range(BUCKETS)],
    )


def random_incidents(rng: np.random.Generator, cfg: WorkloadConfig, week: date) -> list[Incident]:
    """Four latency incidents: one busy service on one warehouse slowed for 30-150 minutes in trading hours."""
    tz = ZoneInfo(MARKET_TZ)
    patterns = cfg.platform.patterns
    busy = sorted(TRAFFIC)
    out = []
    for k, day in enumerate((0, 1, 4, 4)):  # Mon, Tue and twice Fri: Thursday is the quiet day
        warehouse, service = busy[int(rng.integers(len(busy)))]
        start = datetime.combine(week + timedelta(days=day), datetime.min.time(), tz) + timedelta(
            minutes=int(rng.integers(9 * 60 + 45, 14 * 60))
        )
        low = float(rng.uniform(1.6, 3.0))
        out.append(
            Incident(
                id=f"GEN-{k}",
                kind=IncidentKind.LATENCY_REGRESSION,
                title="generated slowdown",
                start=start,
                end=start + timedelta(minutes=int(rng.integers(30, 151))),
                warehouse=warehouse,
                service=service,
                domain=None,
                description="",
                patterns=tuple(p.key for p in patterns if p.warehouse == warehouse and p.service == service),
                exec_factor=(low, low + 1.0),
            )
        )
    return out


def emulate(
    anomalous: np.ndarray, start_col: int, times: np.ndarray, n: int, suppress: int
) -> tuple[list[int], list[int]]:
    """As the daemon would alert from one series' verdicts: the fire times (pages) and every bucket end while
    the alert was active (paged or suppressed)."""
    fires: list[int] = []
    active: list[int] = []
    firing, quiet, last_fire = False, 0, -(10**12)
    for c in range(start_col, len(anomalous)):
        end = int(times[c]) + STEP
        if anomalous[c]:
            quiet = 0
            if not firing and end - last_fire >= suppress:
                fires.append(end)
                last_fire = end
            firing = True
        elif firing:
            quiet += 1
            if quiet > n:
                firing = False
        if firing:
            active.append(end)
    return fires, active


def run(seed: int, scale: int, specs: dict[str, LatencyAnomalySpec], tallies: dict[str, Tally], verbose: bool) -> None:
    """One generated account: warm-up, scored week, every sensitivity."""
    rng = np.random.default_rng(seed)
    week = FIRST + timedelta(days=WARM_UP_DAYS)
    week_start, _ = day_bounds(week)
    week_end, _ = day_bounds(week + timedelta(days=7))
    base = WorkloadConfig(seed=seed, queries_per_day=scale)
    scripted = [
        i
        for i in default_incidents(week_start, week_end)
        if i.kind in (IncidentKind.LATENCY_REGRESSION, IncidentKind.QUEUE_STORM)
    ]
    incidents = scripted + random_incidents(rng, base, week)
    cfg = replace(base, incidents=tuple(incidents))
    positives = [
        Positive("incident", i.warehouse, i.service or "", int(i.start.timestamp()), int(i.end.timestamp()))
        for i in incidents
    ]
    began = time.perf_counter()
    days = [FIRST + timedelta(days=offset) for offset in range(WARM_UP_DAYS + 7)]
    rows = pl.concat([rollup(generate_day(day, cfg).query_history) for day in days])  # queries cross midnight
    blocks = []
    for day in days:
        start, end = (int(t.timestamp()) for t in day_bounds(day))
        blocks.append((start, end, rows.filter((pl.col("bucket") >= start) & (pl.col("bucket") < end))))
    generate_s = time.perf_counter() - began
    origin = blocks[0][0]
    scored_from = int(week_start.timestamp())

    # Hard cases on the scored week, placed by the seed on series with traffic.
    busy = [("RISK_WH", "risk-engine"), ("TRADE_ANALYTICS_WH", "trade-analytics"), ("PORTFOLIO_WH", "portfolio-api")]
    drift_key = busy[int(rng.integers(len(busy)))]
    spike_key = busy[int(rng.integers(len(busy)))]
    tz = ZoneInfo(MARKET_TZ)
    drift_start = int(datetime.combine(week + timedelta(days=2), datetime.min.time(), tz).timestamp()) + 10 * 3600
    spike_at = int(datetime.combine(week + timedelta(days=1), datetime.min.time(), tz).timestamp()) + 15 * 3600
    quiet = day_bounds(week + timedelta(days=3))
    quiet_span = (int(quiet[0].timestamp()), int(quiet[1].timestamp()))
    positives.append(Positive("drift", *drift_key, drift_start, drift_start + 6 * 3600))

    for name, spec in specs.items():
        tally = tallies[name]
        began = time.perf_counter()
        matrix = SeriesMatrix(spec, origin, name)
        changed = np.zeros((0, matrix.capacity), dtype=bool)
        for start, end, frame in blocks:
            block = fold(frame, spec, start, end)
            _inject(block, drift_key, drift_start, spike_key, spike_at, quiet_span, spec.min_queries)
            matrix.write(block)
            matrix.judge(matrix.col(end))
            # the level-shift EWMA is recomputed over the last day at every pass, as the daemon does
            today = slice(matrix.col(start), matrix.col(end))
            changed = np.vstack([changed, np.zeros((len(matrix.keys) - len(changed), matrix.capacity), dtype=bool)])
            changed[:, today] = matrix.changed(matrix.anomalous())[:, today]
        anomalous = matrix.anomalous()
        tally.seconds += time.perf_counter() - began + generate_s / len(specs)
        times = matrix.times
        first_col = matrix.col(scored_from)
        warehouses = {k[0] for k in matrix.keys}
        tally.warehouse_weeks += len(warehouses)
        suppress = int(spec.suppress.total_seconds())
        fires = {
            key: emulate(anomalous[i], first_col, times, spec.sustain.n, suppress) for i, key in enumerate(matrix.keys)
        }
        change_fires = {
            key: emulate(changed[i], first_col, times, spec.sustain.n, suppress) for i, key in enumerate(matrix.keys)
        }
        _score(tally, positives, fires, change_fires, spike_key, spike_at, quiet_span)
        if verbose:
            for p in positives:
                key = next((k for k in matrix.keys if (k[0], k[1]) == (p.warehouse, p.service)), None)
                row = matrix.index[key] if key else None
                span = slice(matrix.col(p.start), matrix.col(p.end) + 1)
                active = fires[key][1] if key else []
                hit = [t for t in active if p.start < t <= p.end + GRACE]
                if row is None:
                    print(f"    {name} {p.kind} {p.warehouse}/{p.service}: no series")
                    continue
                q = matrix.queries[row, span]
                print(
                    f"    {name} {p.kind} {p.warehouse}/{p.service} {(p.end - p.start) // 60}m: "
                    f"{'found' if hit else 'MISSED'}; max z {np.nanmax(matrix.z[row, span]):.1f}, "
                    f"max ratio {np.nanmax(matrix.values[row, span] / np.exp(matrix.baseline[row, span])):.2f}, "
                    f"judged {int(np.isfinite(matrix.values[row, span]).sum())}/{len(q)}, "
                    f"median queries {np.median(q):.0f}"
                )


def _inject(
    block: object,
    drift_key: tuple[str, str],
    drift_start: int,
    spike_key: tuple[str, str],
    spike_at: int,
    quiet: tuple[int, int],
    min_queries: int,
) -> None:
    from sre_agent.engine.anomaly_series import Folded

    assert isinstance(block, Folded)
    cols = block.start + STEP * np.arange(block.values.shape[1])
    for s, key in enumerate(block.keys):
        wh_service = (key[0], key[1])
        if wh_service == drift_key:
            ramp = np.clip((cols - drift_start) / (4 * 3600), 0, 1)
            ramp[cols >= drift_start + 6 * 3600] = 0
            block.values[s] *= 1 + ramp
        if wh_service == spike_key:
            block.values[s, cols == spike_at - spike_at % STEP] *= 6
    day = (cols >= quiet[0]) & (cols < quiet[1])
    if day.any():
        block.queries[:, day] = np.floor(block.queries[:, day] / 4)
        thin = block.queries < min_queries
        block.values[:, day] *= 0.85
        block.values[thin & day[None, :]] = np.nan


def _score(
    tally: Tally,
    positives: list[Positive],
    fires: dict[tuple[str, ...], tuple[list[int], list[int]]],
    change_fires: dict[tuple[str, ...], tuple[list[int], list[int]]],
    spike_key: tuple[str, str],
    spike_at: int,
    quiet: tuple[int, int],
) -> None:
    for p in positives:
        # Detected: the series' alert is active during the incident (it may have paged just before, for it).
        _, active = fires.get((p.warehouse, p.service), ([], []))
        on_series = [t for t in active if p.start < t <= p.end + GRACE]
        if p.kind == "drift":
            tally.drifts += 1
            tally.drift_anomaly += bool(on_series)
            _, changes = change_fires.get((p.warehouse, p.service), ([], []))
            tally.drift_change += any(p.start < t <= p.end + GRACE for t in changes)
            continue
        tally.incidents += 1
        if on_series:
            tally.found += 1
            tally.delays.append((min(on_series) - p.start) / 60)
    for key, (times, _) in fires.items():
        for t in times:
            tally.fires += 1
            if any(key[0] == p.warehouse and p.start < t <= p.end + GRACE for p in positives):
                tally.explained += 1
                continue
            tally.false += 1
            if (key[0], key[1]) == spike_key and spike_at < t <= spike_at + 3600:
                tally.spike_alerts += 1
            if quiet[0] < t <= quiet[1]:
                tally.quiet_alerts += 1
    for key, (times, _) in change_fires.items():
        for t in times:
            if not any(key[0] == p.warehouse and p.start < t <= p.end + GRACE for p in positives):
                tally.change_false += 1


def main() -> int:
    """Print the quality table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--scales", type=int, nargs="+", default=[20_000, 60_000], help="queries per day")
    parser.add_argument("--verbose", action="store_true", help="print every labelled case and what the detector saw")
    args = parser.parse_args()
    specs = {
        name: LatencyAnomalySpec(sensitivity=name, min_queries=10, level_shift=LevelShift())  # type: ignore[arg-type]
        for name in ("low", "medium", "high")
    }
    tallies = {name: Tally() for name in specs}
    began = time.perf_counter()
    for seed in args.seeds:
        for scale in args.scales:
            run(seed, scale, specs, tallies, args.verbose)
            print(f"  seed {seed}, {scale:,} queries/day done ({time.perf_counter() - began:.0f}s)", flush=True)
    print(
        f"\n{len(args.seeds)} seed(s) × {len(args.scales)} scale(s) ({', '.join(f'{s:,}' for s in args.scales)} "
        f"queries/day); {WARM_UP_DAYS} warm-up days + 1 scored week each; rule defaults "
        "(p95, 5m buckets, k=3 of n=4, min effect 1.25x and 250 ms, min_queries 10)\n"
    )
    header = (
        f"{'sensitivity':<11} {'recall':>8} {'precision':>9} {'delay p50':>9} {'delay p90':>9} "
        f"{'FP/wh-week':>10} {'drift':>7} {'drift chg':>9} {'spike':>5} {'quiet':>5} {'chg FP/wh-wk':>12} {'s/run':>6}"
    )
    print(header)
    print("-" * len(header))
    runs = len(args.seeds) * len(args.scales)
    for name, t in tallies.items():
        delays = sorted(t.delays)
        p50 = statistics.median(delays) if delays else float("nan")
        p90 = delays[min(len(delays) - 1, round(0.9 * (len(delays) - 1)))] if delays else float("nan")
        print(
            f"{name:<11} {t.found:>3}/{t.incidents:<4} {t.explained / max(1, t.fires):>9.2f} {p50:>7.0f}m "
            f"{p90:>7.0f}m {t.false / max(1.0, t.warehouse_weeks):>10.2f} {t.drift_anomaly:>3}/{t.drifts:<3} "
            f"{t.drift_change:>5}/{t.drifts:<3} {t.spike_alerts:>5} {t.quiet_alerts:>5} "
            f"{t.change_false / max(1.0, t.warehouse_weeks):>12.2f} {t.seconds / runs:>6.1f}"
        )
    print(
        "\nrecall: latency incidents alerted on their warehouse × service (scripted + generated); precision: fires "
        "on an incident's warehouse while it runs (+30 min) / all fires; delay: incident start → end of the bucket "
        "that fired (data time); FP/wh-week: other fires per warehouse per week; drift: the +100 %/4 h drift caught "
        "by the anomaly signal / by the level-shift (change) signal; spike, quiet: alerts on the single 6x bucket and "
        "on the quiet Thursday (both must be 0); chg FP/wh-wk: level-shift alerts outside incidents."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
