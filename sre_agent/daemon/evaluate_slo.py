"""SLOs in an evaluation pass: stored minutes → engine → one alert per SLO (page/ticket) and its metrics.

One SLO is one alert instance whatever tier fires: a ticket that turns into a page escalates in place,
a page whose fast windows clear while a slow tier still burns de-escalates to a ticket without a new
notification, and the alert resolves when no tier burns any more — one incident, one notification.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import numpy as np

from sre_agent.alerting.fingerprint import fingerprint
from sre_agent.alerting.lifecycle import Instance, RulePolicy, Transition, step
from sre_agent.config.durations import format_duration
from sre_agent.config.slo import SloDoc, slo_key
from sre_agent.config.slo_checks import slo_lookback
from sre_agent.config.specs import NoDataPolicy
from sre_agent.daemon.eval_context import EvalContext
from sre_agent.daemon.poll import SLO_FAMILY
from sre_agent.daemon.poll_slo import slo_watermark
from sre_agent.daemon.runtime import Agent
from sre_agent.engine import slo as engine
from sre_agent.engine.frames import BoolArray
from sre_agent.engine.rollups import SLO
from sre_agent.engine.threshold import DataView
from sre_agent.figures import slo_budget
from sre_agent.model import AlertState, Condition, ConditionState, EventKind, Labels, from_epoch, iso, to_epoch
from sre_agent.sinks.render import human_span
from sre_agent.sources import slo_sql
from sre_agent.sources.log_analytics import LANDING_HORIZON
from sre_agent.sources.snowflake import VISIBLE_SERIES
from sre_agent.store.slo_minutes import SloMinutes
from sre_agent.store.watermarks import Watermarks

SLO_POLICY = RulePolicy(on_no_data=NoDataPolicy.KEEP_LAST, no_data_timeout=timedelta.max)
"""Pages fire at once (the windows are the debounce). While a tier cannot be judged (too few events at
night, data still landing) an alert holds its state: it resolves only when every tier is judged under
its factor, never on silence."""


def slo_policy(slo: SloDoc, state: str) -> RulePolicy:
    """The state machine's policy for ``slo`` when its state is ``state``.

    A ticket is held pending for ``alerting.ticket_hold``: slow tiers often cross their factor a minute
    before the fast ones, and a page arriving meanwhile fires as the incident's one notification.
    """
    if state == engine.TICKET:
        return replace(SLO_POLICY, for_=slo.spec.alerting.ticket_hold)
    return SLO_POLICY


STATE_CODES = {engine.OK: 0, engine.TICKET: 1, engine.PAGE: 2, engine.UNKNOWN: -1}
"""``slo_state`` metric values."""


@dataclass
class SloReader:
    """What reading an SLO's data needs: the agent spec, watermarks and stored minutes (daemon or CLI)."""

    spec: Any
    watermarks: Watermarks
    minutes: SloMinutes

    @classmethod
    def of(cls, agent: Agent) -> SloReader:
        """The reader of a running agent (shares its minute cache)."""
        return cls(agent.spec, agent.watermarks, agent.slo_minutes)


@dataclass
class SloInputs:
    """One SLO's events and how far they can be trusted, ready for the engine."""

    events: engine.SloEvents
    view: DataView
    stale: BoolArray


def slo_view(reader: SloReader, slo: SloDoc) -> DataView:
    """What polling has established for ``slo``'s series."""
    state = reader.watermarks.get(slo_watermark(slo_key(slo)))
    grace = reader.spec.evaluation.stale_after.total_seconds()
    interval = reader.spec.snowflake.poll(SLO_FAMILY).interval.total_seconds()
    horizon = LANDING_HORIZON if slo_sql.from_log_analytics(slo) else SLO.latency_horizon
    return DataView(
        state.covered_from,
        state.polled_to,
        int(horizon.total_seconds()),
        int(interval + grace),
        failing=state.consecutive_failures > 0,
    )


def slo_inputs(reader: SloReader, slo: SloDoc, instants: np.ndarray) -> SloInputs:
    """Load ``slo``'s minutes for evaluating at ``instants`` and build its events."""
    key = slo_key(slo)
    view = slo_view(reader, slo)
    hour = 3600
    lo = (int(instants.min()) - int(slo_lookback(slo).total_seconds())) // hour * hour
    hi = -(-int(instants.max()) // engine.MINUTE) * engine.MINUTE
    overlap = int(reader.spec.snowflake.poll(SLO_FAMILY).overlap.total_seconds())
    raw = reader.minutes.load(key, lo, (view.covered_from, view.polled_to), overlap)
    visible: int | None = None
    if slo_sql.from_query_history(slo):
        newest = reader.minutes.newest_bucket(VISIBLE_SERIES)
        if newest is not None and view.polled_to is not None:
            visible = min(newest + engine.MINUTE, view.polled_to)
    coverage = engine.Coverage(view.covered_from, view.complete_before, visible)
    events = engine.build_events(slo.spec, raw, lo, hi, coverage)
    return SloInputs(events, view, view.stale(instants))


def slo_labels(agent: Agent, slo: SloDoc) -> Labels:
    """Labels of ``slo``'s alert: the agent's and the SLO's own, plus slo, service, owner and domain."""
    labels = {**agent.spec.labels, **slo.metadata.labels, "slo": slo.name, "service": slo.spec.service}
    labels["owner"] = slo.spec.owner
    if slo.spec.domain:
        labels["domain"] = slo.spec.domain
    return labels


def _eta(seconds: int | None) -> str:
    if seconds is None:
        return ""
    return ", already exhausted" if seconds <= 0 else f", exhausted in {human_span(seconds)} at this rate"


def evidence_of(
    slo: SloDoc, snapshot: dict[str, Any], severity: str | None, events: engine.SloEvents, result: engine.SloResult,
    k: int,
) -> dict[str, Any]:  # fmt: skip
    """What a receiver needs to judge an SLO alert: both windows' burn, the period's budget (consumed and left, of
    what), the budget the firing tier's long window used, exhaustion and projection."""
    spec = slo.spec
    tiers = snapshot["tiers"]
    firing = next((t for t in tiers if t["state"] == engine.BREACH and t["severity"] == severity), None)
    evidence: dict[str, Any] = {
        "slo": slo.name,
        "objective_percent": float(spec.objective),
        "budgeting_method": spec.budgeting_method,
        "period": snapshot["period"]
        | {
            "start": iso(from_epoch(snapshot["period"]["start"])),
            "end": iso(from_epoch(snapshot["period"]["end"])),
        },
        "window_end": iso(from_epoch(snapshot["window_end"])),
        "budget": slo_budget.period_use(spec, result, k).to_json(),
        "budget_remaining": snapshot["budget_remaining"],
        "burn_now": snapshot["burn_now"],
        "exhaustion_s": snapshot["exhaustion_s"],
        "projected_sli": snapshot["projected_sli"],
        "projection_at": iso(from_epoch(snapshot["projection_at"])),
        "tiers": tiers,
    }
    if firing is not None:
        tier = slo_budget.tier_of(spec, firing["windows"])
        evidence["firing_tier"] = firing
        evidence["windows"] = {
            w: snapshot["windows"][w] for w in (format_duration(tier.long), format_duration(tier.short))
        }
        # The Workbook's "an alert on this tier fires having consumed burn × long window / period of the budget",
        # counted exactly: the bad events of the long window against the period's budget.
        anchor = int(result.anchors[k])
        long = int(tier.long.total_seconds())
        evidence["budget_used_by_long_window"] = slo_budget.window_use(
            spec, events, result, k, anchor - long, anchor
        ).to_json()
    return evidence


def summary(slo: SloDoc, evidence: dict[str, Any], kind: EventKind) -> str:
    """The one-line summary of an SLO alert from its evidence (at a transition, or as it stands for a reminder)."""
    spec = slo.spec
    budget = evidence.get("budget")
    left = slo_budget.BudgetUse.from_json(budget).left_text() if budget else "budget unknown"
    if kind is EventKind.RESOLVED:
        used = evidence.get("budget_used")
        use = slo_budget.BudgetUse.from_json(used) if used else None
        spent = f"; this alert's burn used {slo_budget.use_text(use, left=False)}" if use else ""
        return f"SLO {slo.name}: burn back under every alerting factor{spent}; {left}"
    firing = [t for t in evidence.get("tiers", []) if t["state"] == engine.BREACH]
    worst = next((t for t in firing if t["severity"] == engine.PAGE), firing[0] if firing else None)
    if worst is None:
        return f"SLO {slo.name}: {left}"
    long_w, short_w = worst["windows"].split("/")
    return (
        f"SLO {slo.name} ({spec.service}): error budget burning {worst['long_burn']:.1f}x over {long_w} and "
        f"{worst['short_burn']:.1f}x over {short_w} ({worst['severity']} at {worst['factor']}x); {left}"
        f"{_eta(evidence.get('exhaustion_s'))}"
    )


def _condition(
    slo: SloDoc, labels: Labels, events: engine.SloEvents, result: engine.SloResult, k: int, stale: bool
) -> Condition:
    spec = slo.spec
    state = str(result.state[k])
    at = from_epoch(int(result.instants[k]))
    if stale:
        return Condition(slo.name, labels, at, ConditionState.STALE)
    snapshot = engine.at_instant(spec, result, k)
    if state in (engine.PAGE, engine.TICKET):
        severity = spec.alerting.page_severity if state == engine.PAGE else spec.alerting.ticket_severity
        tier = engine.firing_tier(result, k, state)
        assert tier is not None
        long_burn = result.windows[format_duration(tier.tier.long)].burn[k]
        evidence = evidence_of(slo, snapshot, state, events, result, k)
        return Condition(slo.name, labels, at, ConditionState.BREACH, severity, float(long_burn), tier.factor, evidence)
    cond_state = ConditionState.OK if state == engine.OK else ConditionState.NO_DATA
    burn = snapshot["burn_now"]
    assert burn is None or isinstance(burn, float)
    evidence = evidence_of(slo, snapshot, None, events, result, k)
    if cond_state is ConditionState.NO_DATA:
        evidence["reason"] = "too few events (min_events), windows not covered by polls, or data still landing"
    return Condition(slo.name, labels, at, cond_state, None, burn, None, evidence)


def _alert_window(
    slo: SloDoc, events: engine.SloEvents, result: engine.SloResult, k: int, inst: Instance, cond: Condition
) -> Condition:
    """``cond`` with the alert's data window: where its burn began, found once when it breaches from inactive (by
    :func:`sre_agent.figures.slo_budget.burn_start` on the tier it breaches on) and carried while it is active."""
    window = inst.evidence.get("alert_window") if inst.state is not AlertState.INACTIVE else None
    if window is None and cond.state is ConditionState.BREACH:
        label = (cond.evidence.get("firing_tier") or {}).get("windows")
        start = slo_budget.burn_start(slo.spec, events, int(result.anchors[k]), slo_budget.tier_of(slo.spec, label))
        window = {"data_from": iso(from_epoch(start)), "tier": label}
    if window is None or cond.state is ConditionState.STALE:
        return cond
    return replace(cond, evidence={**cond.evidence, "alert_window": window})


def alert_use(
    slo: SloDoc, events: engine.SloEvents, result: engine.SloResult, k: int, evidence: dict[str, Any]
) -> slo_budget.BudgetUse:
    """The budget an alert's burn used up to instant ``k``: from where its burn began (its ``alert_window``; the
    start of its windows when an older record has none) to where the windows end at ``k``."""
    window = evidence.get("alert_window") or {}
    began = window.get("data_from") or evidence.get("window_end")
    start = to_epoch(datetime.fromisoformat(str(began).replace("Z", "+00:00"))) if began else int(result.anchors[k])
    return slo_budget.window_use(slo.spec, events, result, k, start, int(result.anchors[k]), slo_budget.ALERT)


def advance_slo(ctx: EvalContext, slo: SloDoc) -> None:
    """Evaluate ``slo`` at the pass's instants, step its alert and queue its metrics."""
    agent = ctx.agent
    inputs = slo_inputs(SloReader.of(agent), slo, ctx.instants)
    result = engine.evaluate_slo(slo.spec, inputs.events, ctx.instants, inputs.stale)
    labels = slo_labels(agent, slo)
    fp = fingerprint(slo.name, labels)
    inst = ctx.instances.get(fp) or Instance(fp, slo.name, labels)
    annotate = partial(slo_annotations, agent.spec.runbook_url, slo)
    for k in range(len(ctx.instants)):
        burning = str(result.state[k]) in (engine.PAGE, engine.TICKET)
        if inst.state is AlertState.INACTIVE and not burning:
            continue
        cond = _condition(slo, labels, inputs.events, result, k, bool(inputs.stale[k]))
        cond = _alert_window(slo, inputs.events, result, k, inst, cond)
        new, transitions = step(inst, cond, slo_policy(slo, str(result.state[k])))
        for tr in transitions:
            if tr.kind is EventKind.RESOLVED:
                used = alert_use(slo, inputs.events, result, k, tr.instance.evidence)
                tr = _with_evidence(tr, {**tr.instance.evidence, "budget_used": used.to_json()})  # noqa: PLW2901
            ctx.transitions.append((tr, annotate(tr.instance, tr.kind)))
        inst = ctx.keep(inst, new)
        ctx.observe(int(ctx.instants[k]), inst, annotate)
    last = len(ctx.instants) - 1
    ctx.metrics.append(metrics_record(slo, engine.at_instant(slo.spec, result, last), agent.spec.labels))


def slo_annotations(runbook_url: str, slo: SloDoc, inst: Instance, kind: EventKind) -> dict[str, str]:
    """An SLO alert's annotations for ``inst`` as evaluated (its summary from its evidence), for ``kind``."""
    out = {"summary": summary(slo, inst.evidence, kind), "description": slo.spec.description}
    if slo.spec.runbook:
        out["runbook"] = runbook_url.format(id=slo.spec.runbook)
    return out


def _with_evidence(tr: Transition, evidence: dict[str, Any]) -> Transition:
    return replace(tr, instance=replace(tr.instance, evidence=evidence))


def metrics_record(slo: SloDoc, snapshot: dict[str, Any], static: Labels) -> dict[str, Any]:
    """The metric points of one SLO at one instant: SLI and burn per window, budget remaining, state."""
    dims = {**static, "slo": slo.name, "service": slo.spec.service}
    points: list[dict[str, Any]] = []
    for window, figures in snapshot["windows"].items():
        if figures["sli"] is not None and figures["known"]:
            points.append({"name": "slo_sli", "dims": {**dims, "window": window}, "value": figures["sli"]})
            points.append({"name": "slo_burn_rate", "dims": {**dims, "window": window}, "value": figures["burn_rate"]})
    if snapshot["period"]["sli"] is not None:
        points.append({"name": "slo_sli", "dims": {**dims, "window": "period"}, "value": snapshot["period"]["sli"]})
    if snapshot["budget_remaining"] is not None:
        points.append({"name": "slo_error_budget_remaining", "dims": dims, "value": snapshot["budget_remaining"]})
    points.append({"name": "slo_state", "dims": dims, "value": STATE_CODES[snapshot["state"]]})
    at = iso(from_epoch(snapshot["instant"]))
    return {
        "type": "metrics",
        "source": "slo",
        "dedup_key": f"metrics:{slo.name}:{snapshot['instant']}",
        "slo": slo.name,
        "at": at,
        "state": snapshot["state"],
        "budget_of": slo_budget.period_name(slo.spec),
        "points": points,
    }
