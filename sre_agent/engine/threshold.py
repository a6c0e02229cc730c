"""Threshold rules: a catalogue metric over a sliding window, compared with severity levels, at many instants."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from sre_agent.config.specs import Op, ThresholdRule
from sre_agent.engine.frames import BoolArray, RollupArrays
from sre_agent.engine.histogram import FloatArray
from sre_agent.engine.metrics import METRICS, MetricDef, MetricKind, WindowData, ratio
from sre_agent.engine.rollups import QUERY, ROLLUPS
from sre_agent.engine.windows import group_rows, window_sums
from sre_agent.model import ConditionState

I64 = npt.NDArray[np.int64]

PHASES = {
    "compilation": "compilation_ms_sum",
    "queued_overload": "queued_overload_ms_sum",
    "queued_provisioning": "queued_provisioning_ms_sum",
    "queued_repair": "queued_repair_ms_sum",
    "blocked": "blocked_ms_sum",
    "list_external_files": "list_files_ms_sum",
    "execution": "execution_ms_sum",
}
"""Phases of TOTAL_ELAPSED_TIME and the measures holding their sums."""
SPILL = ("spill_local_bytes_sum", "spill_remote_bytes_sum")


@dataclass(frozen=True)
class DataView:
    """What polling has established about one rollup, as of the last poll (epoch seconds)."""

    covered_from: int | None
    polled_to: int | None
    horizon: int
    """Latency horizon of the view: buckets younger than this at the last poll may still grow."""
    stale_after: int
    """Seconds past ``polled_to`` after which the data counts as stale (poll interval + grace)."""
    failing: bool = False
    """The family's latest poll failed: nothing after ``polled_to`` can be judged until one succeeds."""

    def stale(self, instants: I64) -> BoolArray:
        """Instants whose data cannot be trusted: never polled, the source failing, or too long since a poll.

        A failing source freezes judgement at once, so ``for:`` and ``keep_firing_for:`` timers do not
        run on a window frozen by the outage.
        """
        if self.polled_to is None:
            return np.ones(len(instants), dtype=bool)
        late = instants - self.polled_to > self.stale_after
        if self.failing:
            late |= instants > self.polled_to
        out: BoolArray = late
        return out

    @property
    def complete_before(self) -> int | None:
        """Buckets ending before this are complete."""
        return None if self.polled_to is None else self.polled_to - self.horizon


def _le_column(threshold_ms: int) -> str:
    return f"le_{threshold_ms}"


def _measures(metric: MetricDef, data: RollupArrays, threshold_ms: int | None) -> dict[str, FloatArray | None]:
    wanted: dict[str, FloatArray | None] = dict.fromkeys(metric.needs)
    if metric.events:
        wanted.setdefault(metric.events)
    if data.rollup is QUERY:
        for m in (*PHASES.values(), *SPILL, "queries"):
            wanted.setdefault(m)
    if threshold_ms is not None:
        counts, missing = data.le(threshold_ms)
        wanted[_le_column(threshold_ms)] = counts
        wanted["le_missing"] = missing
    return wanted


def _use_complete(rule: ThresholdRule) -> bool:
    # Sums and maxima only grow as late rows land: compared with `<` they must wait for complete buckets.
    return METRICS[rule.spec.metric].kind in (MetricKind.ADDITIVE, MetricKind.MAX) and not rule.spec.op.upward


def anchor_matrix(rule: ThresholdRule, instants: I64, view: DataView, latest_end: I64) -> I64:
    """Return each (group, instant)'s window end: the instant, held back to the data the group has.

    A group's window ends at its newest bucket (rows land late, and unevenly across series) but
    never earlier than the point where every bucket is known complete, so a series that stopped
    reporting reads as zero once its silence is certain. Sums and maxima, which partial data can
    only shrink, wait for complete buckets when compared with ``<``.
    """
    grain = int(ROLLUPS[METRICS[rule.spec.metric].rollup].grain.total_seconds())
    complete = view.complete_before
    if view.polled_to is None:
        limit = np.full(len(latest_end), int(instants.max()) if len(instants) else 0, dtype=np.int64)
    elif _use_complete(rule) or complete is None:
        limit = np.full(len(latest_end), complete if complete is not None else view.polled_to, dtype=np.int64)
    else:
        limit = np.minimum(np.maximum(latest_end, complete), view.polled_to)
    capped = np.minimum(instants[None, :], limit[:, None])
    anchors: I64 = (capped // grain) * grain
    return anchors


def load_range(rules: list[ThresholdRule], instants: I64, view: DataView) -> tuple[int, int]:
    """Buckets ``[lo, hi)`` that evaluating ``rules`` at ``instants`` can touch."""
    first = int(instants.min())
    if view.complete_before is not None:
        first = min(first, view.complete_before)
    widest = max(int(r.spec.window.total_seconds()) for r in rules)
    grain = max(int(ROLLUPS[METRICS[r.spec.metric].rollup].grain.total_seconds()) for r in rules)
    return first - widest - grain, int(instants.max())


def evaluate_threshold(rule: ThresholdRule, data: RollupArrays, instants: I64, view: DataView) -> pl.DataFrame:
    """Evaluate ``rule`` at every instant for every group present in ``data``.

    Returns one row per (instant, group) with: instant, the group_by labels, state, severity, value,
    threshold, events, window_start, window_end, buckets (with data), incomplete (grain slots that may
    still change) and, for query metrics, the mean milliseconds of each phase and the spilled bytes.
    """
    spec = rule.spec
    metric = METRICS[spec.metric]
    rollup = ROLLUPS[metric.rollup]
    if data.rollup is not rollup:
        raise ValueError(f"rule {rule.name} needs the {rollup.name} rollup, got {data.rollup.name}")
    grain = int(rollup.grain.total_seconds())
    window_s = int(spec.window.total_seconds())
    groups = group_rows(data, spec.group_by, data.mask(spec.where))
    n_groups, n_inst = len(groups.keys), len(instants)
    if n_groups == 0:
        return _empty(spec.group_by)
    anchors = anchor_matrix(rule, instants, view, groups.latest_end)
    sums = window_sums(
        data,
        groups,
        _measures(metric, data, spec.latency_threshold_ms),
        anchors,
        window_s,
        metric.needs_histogram,
    )
    window = WindowData(sums.columns, float(window_s), sums.hist)
    if spec.latency_threshold_ms is not None:
        window.le[spec.latency_threshold_ms] = sums.columns[_le_column(spec.latency_threshold_ms)]
    value = metric.compute(window, spec.latency_threshold_ms)
    if spec.latency_threshold_ms is not None:
        value = np.where(sums.columns["le_missing"] > 0, np.nan, value)
    events = sums.columns[metric.events] if metric.events else np.full(len(value), np.nan)
    inst = np.tile(instants, n_groups)
    anchor = anchors.reshape(-1)
    window_start = anchor - window_s
    state, severity, threshold = _judge(rule, value, events, window_start, view, inst)
    complete = view.complete_before if view.complete_before is not None else 0
    incomplete = np.clip(anchor - np.maximum(window_start, complete), 0, None) // grain
    columns: dict[str, object] = {"instant": inst}
    for j, label in enumerate(spec.group_by):
        columns[label] = np.repeat(np.array([k[j] for k in groups.keys], dtype=object), n_inst)
    columns.update(
        {
            "state": state,
            "severity": severity,
            "value": value,
            "threshold": threshold,
            "events": events,
            "window_start": window_start,
            "window_end": anchor,
            "buckets": sums.buckets_with_data,
            "incomplete": incomplete,
        }
    )
    if rollup is QUERY:
        queries = sums.columns["queries"]
        for phase, measure in PHASES.items():
            columns[f"phase_{phase}_ms"] = ratio(sums.columns[measure], queries)
        for measure in SPILL:
            columns[measure.removesuffix("_sum")] = sums.columns[measure]
    overrides = dict.fromkeys([*spec.group_by, "state", "severity"], pl.String)
    return pl.DataFrame(columns, schema_overrides=overrides)


def _judge(
    rule: ThresholdRule,
    value: FloatArray,
    events: FloatArray,
    window_start: I64,
    view: DataView,
    instants: I64,
) -> tuple[list[str], list[str | None], FloatArray]:
    spec = rule.spec
    n = len(value)
    state = np.full(n, ConditionState.OK.value, dtype=object)
    severity: list[str | None] = [None] * n
    threshold = np.full(n, np.nan)
    levels = spec.levels_most_severe_first()
    least = levels[-1]
    no_data = np.isnan(value)
    if spec.min_events:
        no_data |= ~(events >= spec.min_events)
    if view.covered_from is not None:
        no_data |= window_start < view.covered_from
    stale = view.stale(instants)
    for i in range(n):
        if stale[i]:
            state[i] = ConditionState.STALE.value
            continue
        if no_data[i]:
            state[i] = ConditionState.NO_DATA.value
            threshold[i] = float(least.value)
            continue
        for level in levels:
            if Op(spec.op).holds(float(value[i]), float(level.value)):
                state[i] = ConditionState.BREACH.value
                severity[i] = level.severity.value
                threshold[i] = float(level.value)
                break
        else:
            threshold[i] = float(least.value)
    return list(state), severity, threshold


def _empty(group_by: list[str]) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {"instant": pl.Int64()}
    schema.update({label: pl.String() for label in group_by})
    schema.update(
        {
            "state": pl.String(),
            "severity": pl.String(),
            "value": pl.Float64(),
            "threshold": pl.Float64(),
            "events": pl.Float64(),
            "window_start": pl.Int64(),
            "window_end": pl.Int64(),
            "buckets": pl.Int64(),
            "incomplete": pl.Int64(),
        }
    )
    return pl.DataFrame(schema=schema)
