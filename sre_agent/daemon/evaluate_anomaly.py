"""LatencyAnomaly rules in the daemon: one alert per series and signal, with the evidence an on-call needs.

At each pass the rule's series matrix (:mod:`sre_agent.engine.anomaly_series`) takes the newly polled query
rollup, judges what became final and re-judges what is still landing. At every instant the rule looks at the
newest judged bucket of each series (at most ``sustain.n`` buckets back — younger ones still fill up) and
fires when k of the last n buckets breached. A firing alert carries: the observed value, the baseline and its
band, the robust z, the sample sizes, the buckets that triggered, the phase decomposition (which of
compilation, queueing, blocking or execution grew against the baseline's buckets) and, fetched from
QUERY_HISTORY, the query patterns and users that added the most time.

A key that fired is not re-alerted within ``suppress`` unless the severity rises. With ``level_shift`` a
second, lower-severity ``signal: change`` alert reports sustained drift the robust band tolerates.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Any

import numpy as np
import polars as pl

from sre_agent.alerting.fingerprint import fingerprint
from sre_agent.alerting.lifecycle import Instance, RulePolicy, step
from sre_agent.config.anomaly import LatencyAnomalyRule
from sre_agent.config.durations import format_duration
from sre_agent.config.specs import NoDataPolicy
from sre_agent.daemon.eval_context import EvalContext
from sre_agent.engine.anomaly import DAY_S, LOOKBACK_S, METHODS
from sre_agent.engine.anomaly_series import PHASE_NAMES, SeriesMatrix, fold
from sre_agent.engine.rollups import ROLLUPS
from sre_agent.engine.threshold import DataView
from sre_agent.errors import SourceError
from sre_agent.model import AlertState, Condition, ConditionState, EventKind, Severity, from_epoch, iso
from sre_agent.sinks.render import human_value
from sre_agent.sources import snowflake_sql as sql

TOP = 3
"""Contributors listed per kind (patterns, users)."""


def signature(rule: LatencyAnomalyRule) -> str:
    """Changes whenever the rule's spec does: the matrix is rebuilt then."""
    text = json.dumps(rule.spec.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def series_matrix(ctx: EvalContext, rule: LatencyAnomalyRule, view: DataView) -> SeriesMatrix | None:
    """The rule's matrix, built from the store on first use and brought up to what polling has established."""
    agent = ctx.agent
    if view.polled_to is None or view.complete_before is None:
        return None
    spec = rule.spec
    step_s = int(spec.bucket.total_seconds())
    visible_end = view.polled_to // step_s * step_s
    final_end = view.complete_before // step_s * step_s
    matrix = agent.anomaly_series.get(rule.name)
    current = signature(rule)
    if matrix is None or matrix.signature != current:
        origin = final_end - LOOKBACK_S - DAY_S
        if view.covered_from is not None:
            origin = max(origin, view.covered_from)
        matrix = SeriesMatrix(spec, origin, current)
        agent.anomaly_series[rule.name] = matrix
    polled = (view.covered_from, view.polled_to, view.complete_before)
    if matrix.polled == polled:
        return matrix  # no poll since it was brought up to date: the store holds the same rows
    where = {k: v for k, v in spec.scope.model_dump().items() if v}
    start = matrix.time(matrix.final)
    while start < visible_end:  # a day at a time: the first build reads four weeks of minutes
        end = min(visible_end, start + DAY_S)
        frame = agent.rollups.load(ROLLUPS[spec.rollup_name], start, end, where=where)
        matrix.write(fold(frame, spec, start, end))
        start = end
    matrix.judge(matrix.col(final_end))
    matrix.polled = polled
    return matrix


def policy_of(rule: LatencyAnomalyRule) -> RulePolicy:
    """Fire at once (the sustain rule already waited), recover after n quiet buckets, an hour without data."""
    spec = rule.spec
    return RulePolicy(
        for_=timedelta(0),
        keep_firing_for=spec.bucket * spec.sustain.n,
        on_no_data=NoDataPolicy.KEEP_LAST,
        no_data_severity=Severity.SEV4,
        no_data_timeout=timedelta(hours=1),
    )


def _num(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 3)


def _bucket_evidence(m: SeriesMatrix, s: int, col: int) -> dict[str, Any]:
    z_threshold = m.params.z
    baseline = float(np.exp(m.baseline[s, col]))
    return {
        "bucket_start": iso(from_epoch(m.time(col))),
        "bucket_end": iso(from_epoch(m.time(col + 1))),
        "value_ms": _num(m.values[s, col]),
        "baseline_ms": _num(baseline),
        "lower_ms": _num(float(np.exp(m.baseline[s, col] - z_threshold * m.spread[s, col]))),
        "upper_ms": _num(float(np.exp(m.baseline[s, col] + z_threshold * m.spread[s, col]))),
        "z": _num(m.z[s, col]),
        "queries": int(m.queries[s, col]),
        "breach": bool(m.breach[s, col]),
    }


def _phase_means(ctx: EvalContext, rule: LatencyAnomalyRule, key: dict[str, str], starts: list[int]) -> np.ndarray:
    """Mean ms per query of each phase (phase × bucket) for the series ``key``, read back from the store."""
    spec = rule.spec
    step_s = int(spec.bucket.total_seconds())
    rollup = ROLLUPS[spec.rollup_name]
    where = {label: [value] for label, value in key.items()}
    out = np.full((len(PHASE_NAMES), len(starts)), np.nan)
    for j, start in enumerate(starts):
        block = fold(ctx.agent.rollups.load(rollup, start, start + step_s, where=where), spec, start, start + step_s)
        if block.keys:
            out[:, j] = block.phases[:, 0, 0]
    return out


def _phases(
    ctx: EvalContext, rule: LatencyAnomalyRule, key: dict[str, str], m: SeriesMatrix, s: int, cols: list[int],
    base_cols: list[int],
) -> list[dict[str, Any]]:  # fmt: skip
    """Mean ms per query of each phase in the triggering buckets against the baseline's buckets."""
    if not cols:
        return []
    now = _phase_means(ctx, rule, key, [m.time(c) for c in cols])
    before = _phase_means(ctx, rule, key, [m.time(c) for c in base_cols])
    weights = m.queries[s, cols].astype(np.float64)
    out: list[dict[str, Any]] = []
    for p, name in enumerate(PHASE_NAMES):
        ok = np.isfinite(now[p]) & (weights > 0)
        observed = float(np.average(now[p][ok], weights=weights[ok])) if ok.any() else float("nan")
        past = before[p][np.isfinite(before[p])]
        baseline = float(np.median(past)) if len(past) else float("nan")
        out.append({"phase": name, "observed_ms": _num(observed), "baseline_ms": _num(baseline)})
    growth = [max(0.0, (r["observed_ms"] or 0.0) - (r["baseline_ms"] or 0.0)) for r in out]
    total = sum(growth)
    for r, g in zip(out, growth, strict=True):
        r["delta_ms"] = _num((r["observed_ms"] or 0.0) - (r["baseline_ms"] or 0.0))
        r["share_of_increase"] = round(g / total, 3) if total > 0 else 0.0
    return sorted(out, key=lambda r: -(r["delta_ms"] or 0.0))


def _contributors(
    ctx: EvalContext, rule: LatencyAnomalyRule, key: dict[str, str], now: tuple[int, int], base: tuple[int, int]
) -> dict[str, Any]:
    """Patterns and users that added the most time (now vs the baseline slot), from QUERY_HISTORY."""
    labels = tuple(rule.spec.group_by)
    values: dict[str, object] = {
        "now_start": ("TIMESTAMP_LTZ", from_epoch(now[0])),
        "now_end": ("TIMESTAMP_LTZ", from_epoch(now[1])),
        "base_start": ("TIMESTAMP_LTZ", from_epoch(base[0])),
        "base_end": ("TIMESTAMP_LTZ", from_epoch(base[1])),
        **{label: key[label] for label in labels},
    }
    try:
        frame = ctx.agent.source.run(sql.latency_contributors(labels), values)
    except SourceError as exc:
        return {"error": f"could not read QUERY_HISTORY for the drill-down: {exc}"}
    if frame.height == 0:
        return {"patterns": [], "users": []}
    frame = frame.with_columns(pl.col("runs", "total_ms", "execution_ms", "queued_ms").cast(pl.Float64))
    return {"patterns": _rank(frame, "pattern"), "users": _rank(frame, "user_name")}


def _rank(frame: pl.DataFrame, by: str) -> list[dict[str, Any]]:
    """Rank ``by`` values by the time they added: total now − runs now × mean in the baseline slot (a value
    new since the baseline adds all its time); only values that added time are listed."""
    agg = frame.group_by(by, "period").agg(pl.col("runs", "total_ms", "execution_ms", "queued_ms").sum())
    now = agg.filter(pl.col("period") == "now").drop("period")
    base = agg.filter(pl.col("period") == "base").drop("period")
    joined = now.join(base, on=by, how="left", suffix="_base").with_columns(
        (pl.col("total_ms") / pl.col("runs")).alias("mean_ms"),
        (pl.col("total_ms_base") / pl.col("runs_base")).alias("mean_ms_base"),
    )
    joined = (
        joined.with_columns(
            (pl.col("total_ms") - pl.col("runs") * pl.col("mean_ms_base").fill_null(0.0)).alias("added_ms")
        )
        .filter(pl.col("added_ms") > 0)
        .sort("added_ms", descending=True)
    )
    out = []
    for r in joined.head(TOP).iter_rows(named=True):
        out.append(
            {
                "pattern" if by == "pattern" else "user": r[by],
                "runs": int(r["runs"]),
                "runs_baseline": int(r["runs_base"] or 0),
                "mean_ms": _num(r["mean_ms"]),
                "mean_ms_baseline": _num(r["mean_ms_base"]) if r["mean_ms_base"] is not None else None,
                "added_ms": _num(r["added_ms"]),
                "execution_ms": _num(r["execution_ms"]),
                "queued_ms": _num(r["queued_ms"]),
            }
        )
    return out


def _full_evidence(
    ctx: EvalContext, rule: LatencyAnomalyRule, m: SeriesMatrix, s: int, col: int, key: dict[str, str]
) -> dict[str, Any]:
    spec = rule.spec
    window = list(range(max(0, col - spec.sustain.n + 1), col + 1))
    triggered = [c for c in window if m.breach[s, c]] or [col]
    base_cols = m.baseline_columns(s, col)
    evidence: dict[str, Any] = {
        "statistic": spec.statistic,
        "unit": "ms",
        **_bucket_evidence(m, s, col),
        "z_threshold": m.params.z,
        "min_effect": {"relative": spec.min_effect.relative, "absolute_ms": spec.min_effect.absolute},
        "sustain": f"{sum(bool(m.breach[s, c]) for c in window)} of the last {spec.sustain.n} buckets",
        "bucket": format_duration(spec.bucket),
        "baseline_from": METHODS[int(m.method[s, col])],
        "baseline_samples": int(m.samples[s, col]),
        "baseline_buckets": [iso(from_epoch(m.time(c))) for c in base_cols[:6]],
        "buckets": [_bucket_evidence(m, s, c) for c in window],
        "phases": _phases(ctx, rule, key, m, s, triggered, base_cols),
    }
    phases = [p for p in evidence["phases"] if p["share_of_increase"] >= 0.2]
    evidence["grew"] = [p["phase"] for p in phases]
    if base_cols:
        shift = m.time(col) - m.time(base_cols[0])
        now = (m.time(triggered[0]), m.time(col + 1))
        base = (now[0] - shift, now[1] - shift)
        evidence["contributors"] = _contributors(ctx, rule, key, now, base)
    return evidence


def _recently_fired(ctx: EvalContext, fp: str, at: int, window: timedelta, severity: Severity) -> int | None:
    """When ``fp`` last fired at this severity or above within ``window`` before ``at``, if it did."""
    since = at - int(window.total_seconds())
    fired = [
        int(t.at.timestamp())
        for t, _ in ctx.transitions
        if t.instance.fingerprint == fp
        and t.kind is EventKind.FIRING
        and t.instance.severity is not None
        and not severity.more_severe_than(t.instance.severity)
    ]
    for event in ctx.agent.alerts.events((EventKind.FIRING,), since=since, fingerprint=fp):
        if not severity.more_severe_than(event.severity):
            fired.append(int(event.at.timestamp()))
    recent = [t for t in fired if since <= t <= at]
    return max(recent) if recent else None


def _annotations(
    ctx: EvalContext, rule: LatencyAnomalyRule, inst: Instance, kind: EventKind, signal: str
) -> dict[str, str]:
    spec = rule.spec
    where = ", ".join(f"{k}={inst.labels[k]}" for k in spec.group_by if k in inst.labels)
    ev = inst.evidence
    value = human_value(ev.get("value_ms"), "ms")
    baseline = human_value(ev.get("baseline_ms"), "ms")
    if kind is EventKind.RESOLVED:
        summary = f"{spec.statistic} latency back to usual ({where}): {value} vs usual {baseline}"
    elif signal == "change":
        summary = (
            f"{spec.statistic} latency drifting away from usual ({where}): {value} vs usual {baseline}, "
            f"EWMA of z {ev.get('level', '?')}"
        )
    else:
        grew = ", ".join(ev.get("grew", [])) or "no single phase"
        summary = (
            f"{spec.statistic} latency unusual for this hour ({where}): {value} vs usual {baseline} "
            f"(z {ev.get('z')}, {ev.get('sustain', '')}); grew: {grew}"
        )
    out = {"summary": summary, "description": spec.description}
    if spec.runbook:
        out["runbook"] = ctx.agent.spec.runbook_url.format(id=spec.runbook)
    return out


def _annotator(
    ctx: EvalContext, rule: LatencyAnomalyRule, signal: str, inst: Instance, kind: EventKind
) -> dict[str, str]:
    return _annotations(ctx, rule, inst, kind, signal)


def advance_anomaly(ctx: EvalContext, rule: LatencyAnomalyRule, view: DataView) -> None:
    """Judge every series of ``rule`` at every instant of the pass; record the alert transitions."""
    m = series_matrix(ctx, rule, view)
    spec = rule.spec
    static = {**ctx.agent.spec.labels, **rule.metadata.labels}
    policy = policy_of(rule)
    instants = ctx.instants.tolist()
    stale = view.stale(ctx.instants)
    signals: list[tuple[str, Severity, np.ndarray[Any, Any]]] = []
    if m is not None:
        anomalous = m.anomalous()
        signals.append(("anomaly", spec.severity, anomalous))
        if spec.level_shift is not None:
            signals.append(("change", spec.level_shift.severity, m.changed(anomalous)))
    seen: set[str] = set()
    for s, key_values in enumerate(m.keys if m is not None else []):
        assert m is not None
        key: dict[str, str] = dict(zip(spec.group_by, key_values, strict=True))
        positions = [m.position(s, t) for t in instants]
        for signal, severity, flags in signals:
            labels = {**static, **key, "signal": signal}
            fp = fingerprint(rule.name, labels)
            seen.add(fp)
            inst = ctx.instances.get(fp) or Instance(fp, rule.name, labels)
            if inst.state is AlertState.INACTIVE and not any(p is not None and flags[s, p] for p in positions):
                continue
            for k, t in enumerate(instants):
                p = positions[k]
                if stale[k]:
                    cond = Condition(rule.name, labels, from_epoch(t), ConditionState.STALE)
                elif p is None:
                    reason = {"reason": f"no bucket with {spec.min_queries}+ queries in the last {spec.sustain.n}"}
                    cond = Condition(rule.name, labels, from_epoch(t), ConditionState.NO_DATA, evidence=reason)
                else:
                    evidence = _bucket_evidence(m, s, p)
                    if signal == "change":
                        evidence["level"] = _num(m.level[s, p])
                    state = ConditionState.BREACH if flags[s, p] else ConditionState.OK
                    if state is ConditionState.BREACH and inst.state is AlertState.INACTIVE:
                        last = _recently_fired(ctx, fp, t, spec.suppress, severity)
                        if last is not None:
                            state = ConditionState.OK
                            evidence["suppressed_since"] = iso(from_epoch(last))
                    upper = evidence["upper_ms"]
                    cond = Condition(
                        rule.name,
                        labels,
                        from_epoch(t),
                        state,
                        severity if state is ConditionState.BREACH else None,
                        evidence["value_ms"],
                        upper,
                        evidence,
                    )
                new, transitions = step(inst, cond, policy)
                for tr in transitions:
                    if tr.kind is EventKind.FIRING and p is not None:
                        full = _full_evidence(ctx, rule, m, s, p, key)
                        if signal == "change":
                            full["level"] = _num(m.level[s, p])
                        new = replace(new, evidence=full)
                        tr = replace(tr, instance=new)  # noqa: PLW2901 - the recorded transition carries the evidence
                    ctx.transitions.append((tr, _annotations(ctx, rule, tr.instance, tr.kind, signal)))
                inst = ctx.keep(inst, new)
                ctx.observe(t, inst, partial(_annotator, ctx, rule, signal))
    # Active alerts of series the matrix no longer holds (scope changed, data gone): no data at each instant.
    for fp, known in list(ctx.instances.items()):
        if known.rule != rule.name or fp in seen or known.state is AlertState.INACTIVE:
            continue
        current = known
        for k, t in enumerate(instants):
            state = ConditionState.STALE if stale[k] else ConditionState.NO_DATA
            cond = Condition(rule.name, current.labels, from_epoch(t), state, evidence={"reason": "no such series"})
            new, transitions = step(current, cond, policy)
            for tr in transitions:
                signal = known.labels.get("signal", "")
                ctx.transitions.append((tr, _annotations(ctx, rule, tr.instance, tr.kind, signal)))
            current = ctx.keep(current, new)
