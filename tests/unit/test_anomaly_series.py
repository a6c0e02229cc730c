"""Many series at once: the vectorised judgement equals one series at a time, a matrix fed a pass at a time judges
like the detector on the whole series (and survives dropping old days), and the level-shift signal
reports slow drift that the robust band tolerates — but not one spike, and not the tail of an incident."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from test_anomaly import START, STEP, at, week_of_latency

from sre_agent.config.anomaly import LatencyAnomalySpec, LevelShift
from sre_agent.engine.anomaly import AnomalyParams, detect, judge, transform
from sre_agent.engine.anomaly_series import Folded, SeriesMatrix, fold
from sre_agent.engine.histogram import bucket_index
from sre_agent.engine.rollups import HIST_COLUMNS
from sre_agent.engine.threshold import PHASES


def test_judging_many_series_together_equals_judging_each_alone() -> None:
    rows = []
    for seed in range(5):
        _, values = week_of_latency(days=10, seed=seed)
        values[at(8, 14) : at(8, 15)] *= 3 + seed  # a different incident size per series
        rows.append(values)
    values = np.vstack(rows)
    times = START + STEP * np.arange(values.shape[1], dtype=np.int64)
    params = AnomalyParams(step_s=STEP)
    y, _, _ = transform(values)
    finite = np.isfinite(y)
    seen = np.cumsum(finite, axis=1)
    first = np.full(len(rows), START, dtype=np.int64)
    cols = np.arange(at(8, 0), at(9, 0), dtype=np.int64)
    together = judge(y, finite.copy(), cols, times, first, seen, np.full(5, 0.05), values, True, params)
    for s in range(5):
        alone = judge(
            y[s : s + 1], finite[s : s + 1].copy(), cols, times, first[s : s + 1], seen[s : s + 1],
            np.array([0.05]), values[s : s + 1], True, params,
        )  # fmt: skip
        np.testing.assert_allclose(together.z[s], alone.z[0])
        assert (together.breach[s] == alone.breach[0]).all()
        assert together.breach[s, at(8, 14) - at(8, 0) : at(8, 15) - at(8, 0)].sum() >= 10


def _frame(values: np.ndarray, start: int, service: str) -> pl.DataFrame:
    """One-minute query-rollup rows whose p95 is ``values`` per 5-minute bucket (20 queries per minute)."""
    n = len(values) * 5
    minutes = start + 60 * np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(len(service))
    # 20 queries a minute, lognormal around the bucket's p95 (σ 0.3: p95 ≈ 1.64 σ above the median)
    latency = np.repeat(values, 5)[:, None] * np.exp(rng.normal(-1.64 * 0.3, 0.3, (n, 20)))
    idx = bucket_index(latency)
    hist = np.zeros((n, len(HIST_COLUMNS)), dtype=np.int64)
    np.add.at(hist, (np.repeat(np.arange(n), 20), idx.ravel()), 1)
    data: dict[str, object] = {
        "bucket": minutes,
        "warehouse": ["WH"] * n,
        "service": [service] * n,
        "domain": ["d"] * n,
        "queries": np.full(n, 20),
        "succeeded": np.full(n, 20),
        "elapsed_ms_sum": (np.repeat(values, 5) * 20).astype(np.int64),
        "elapsed_ms_max": latency.max(axis=1).astype(np.int64),
        **{m: np.full(n, 100) for m in PHASES.values()},
    }
    data.update({c: hist[:, i] for i, c in enumerate(HIST_COLUMNS)})
    return pl.DataFrame(data)


def test_a_matrix_fed_a_pass_at_a_time_judges_like_the_detector_on_the_whole_series() -> None:
    spec = LatencyAnomalySpec(bucket=timedelta(minutes=5), min_queries=10)
    _, values = week_of_latency(days=33, seed=5)
    values[at(31, 14) : at(31, 16)] *= 4
    start, end = START, START + len(values) * STEP
    frames = pl.concat([_frame(values, start, "a"), _frame(values * 1.5, start, "b")])
    everything = fold(frames, spec, start, end)
    params = spec.params()

    parts = SeriesMatrix(spec, start, "x")
    hour = 3600
    for lo in range(start, end, 6 * hour):  # passes every 6 hours, the last 45 minutes still landing
        hi = min(end, lo + 6 * hour)
        pending = parts.time(parts.final)
        rows = frames.filter((pl.col("bucket") >= pending) & (pl.col("bucket") < hi))
        parts.write(fold(rows, spec, pending, hi))
        parts.judge(parts.col(hi - 45 * 60))
    parts.judge(parts.col(end))
    assert parts.origin > start, "33 days do not fit: the matrix dropped its oldest days"
    offset = (parts.origin - start) // STEP
    times = start + STEP * np.arange(everything.values.shape[1], dtype=np.int64)
    for s, key in enumerate(everything.keys):
        alone = detect(times, everything.values[s], params)
        row = parts.index[key]
        ours, theirs = parts.breach[row, : parts.end], alone.breach[offset : offset + parts.end]
        # Seasonal baselines look at least a day back, so any chunking judges them alike; the 24-hour rolling
        # fallback (a slot whose earlier days all breached) sees breaches of earlier chunks only, and the
        # chunks differ (6-hour passes here, whole days in detect): a handful of buckets may differ.
        assert (ours == theirs).mean() > 0.998
        seasonal = parts.method[row, : parts.end] >= 2
        same = seasonal & (ours == theirs)
        assert same.mean() > 0.99
        incident = slice(at(31, 14) - offset, at(31, 16) - offset)
        assert (parts.anomalous()[row, incident] == alone.anomaly[offset:][incident]).all()
    incident = slice(parts.col(START + at(31, 14) * STEP), parts.col(START + at(31, 16) * STEP))
    anomalous = parts.anomalous()
    assert anomalous[:, incident].sum(axis=1).min() >= 20, "both series see the 4x incident"
    assert anomalous[:, : incident.start].sum() == 0


def test_fold_refuses_rewriting_final_buckets_and_keeps_thin_buckets_unjudged() -> None:
    spec = LatencyAnomalySpec(min_queries=101)
    values = np.full(12, 500.0)
    block = fold(_frame(values, START, "a"), spec, START, START + 12 * STEP)
    assert np.isnan(block.values).all(), "100 queries per 5-minute bucket are fewer than min_queries"
    assert (block.queries == 100).all(), "the count is kept for the evidence"
    judged = fold(_frame(values, START, "a"), LatencyAnomalySpec(min_queries=100), START, START + 12 * STEP)
    assert np.isfinite(judged.values).all()
    assert np.allclose(judged.values, 500, rtol=0.2)
    matrix = SeriesMatrix(spec, START, "x")
    matrix.write(block)
    matrix.judge(matrix.col(START + 12 * STEP))
    empty = Folded([], START, np.empty((0, 1)), np.empty((0, 1)), np.empty((len(PHASES), 0, 1)))
    with pytest.raises(ValueError, match="final"):
        matrix.write(empty)


def test_level_shift_reports_slow_drift_but_not_a_spike_or_the_tail_of_an_incident() -> None:
    times, values = week_of_latency(days=14, seed=11)
    drift = np.linspace(1.0, 1.7, at(1, 0))  # +70 % over a day, then stays
    values[at(12, 0) :] *= np.concatenate([drift, np.full(len(values) - at(13, 0), 1.7)])[: len(values) - at(12, 0)]
    values[at(9, 15)] *= 6  # one slow bucket on day 9
    spec = LatencyAnomalySpec(level_shift=LevelShift())
    found = detect(times, values, spec.params())
    assert found.shift[at(12, 0) : at(14, 0)].any(), "the drift is reported as a change"
    assert not found.shift[: at(12, 0)].any(), "a single spike is not a level shift"
    assert found.anomaly[at(12, 0) : at(12, 6)].sum() == 0, "the first hours of drift are not anomalies"
