"""Evaluation: every rule at every pending instant → conditions → alert transitions → outbox, atomically."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from typing import Any

import numpy as np
import polars as pl

from sre_agent.alerting.fingerprint import fingerprint
from sre_agent.alerting.incidents import IncidentTracker
from sre_agent.alerting.lifecycle import Instance, RulePolicy, step
from sre_agent.config.durations import format_duration
from sre_agent.config.slo import SloDoc
from sre_agent.config.specs import NoDataPolicy, ThresholdRule
from sre_agent.daemon.eval_context import EvalContext
from sre_agent.daemon.evaluate_anomaly import advance_anomaly
from sre_agent.daemon.evaluate_budget import SIGNALS as BUDGET_SIGNALS
from sre_agent.daemon.evaluate_budget import advance_budget, budget_labels
from sre_agent.daemon.evaluate_slo import advance_slo, slo_labels
from sre_agent.daemon.notify import Dispatcher
from sre_agent.daemon.poll import AZURE_FAMILIES, SLO_FAMILY, family_key, poll_settings, rollup_families
from sre_agent.daemon.poll_slo import slo_source_state
from sre_agent.daemon.runtime import Agent
from sre_agent.engine.frames import RollupArrays
from sre_agent.engine.metrics import METRICS
from sre_agent.engine.rollups import ROLLUPS
from sre_agent.engine.threshold import DataView, evaluate_threshold, load_range
from sre_agent.errors import RuleLimitError
from sre_agent.failpoints import failpoint
from sre_agent.logs import redact
from sre_agent.model import (
    AlertEvent,
    AlertState,
    Condition,
    ConditionState,
    EventKind,
    Labels,
    Severity,
    from_epoch,
    iso,
    to_epoch,
)
from sre_agent.sinks.render import human_value
from sre_agent.store import evaluation_state
from sre_agent.store.evaluation_state import LAST_INSTANT, RESUMED_AT

log = logging.getLogger(__name__)

SOURCE_RULE = "agent-source-unhealthy"
SOURCE_RUNBOOK = "agent-source-unhealthy"


@dataclass
class EvalReport:
    """What one evaluation pass did."""

    instants: int = 0
    events: list[AlertEvent] = field(default_factory=list)
    rule_errors: dict[str, str] = field(default_factory=dict)
    """Rules and SLOs that could not be evaluated (the others still were), with the error."""
    metrics: int = 0
    """SLO metric records produced."""
    deliveries: int = 0
    """Notification records enqueued for receivers (after silences, inhibition, routing and grouping)."""
    incidents_resolved: list[str] = field(default_factory=list)
    """Incidents the agent resolved in this pass (every alert resolved for a window): post-mortems to draft."""

    @property
    def notifications(self) -> list[AlertEvent]:
        """Events receivers are told about."""
        return [e for e in self.events if e.kind.notifies]


def last_instant(agent: Agent) -> int | None:
    """Return the last evaluated instant (epoch s), if any."""
    return _state(agent, LAST_INSTANT)


def _state(agent: Agent, key: str) -> int | None:
    return evaluation_state.read_int(agent.db, key)


def data_views(agent: Agent) -> dict[str, DataView]:
    """Return, per rollup, what polling has established (from the family watermarks)."""
    views = {}
    grace = int(agent.spec.evaluation.stale_after.total_seconds())
    for family, rollup in rollup_families(agent).items():
        state = agent.watermarks.get(family_key(family))
        interval = int(poll_settings(agent, family).interval.total_seconds())
        views[rollup.name] = DataView(
            state.covered_from,
            state.polled_to,
            int(rollup.latency_horizon.total_seconds()),
            interval + grace,
            failing=state.consecutive_failures > 0,
        )
    return views


def policy_of(rule: ThresholdRule) -> RulePolicy:
    """The state-machine policy of ``rule``."""
    spec = rule.spec
    least = spec.levels_most_severe_first()[-1].severity
    return RulePolicy(spec.for_, spec.keep_firing_for, spec.on_no_data, least, spec.no_data_timeout)


def _evidence(rule: ThresholdRule, row: dict[str, Any]) -> dict[str, Any]:
    metric = METRICS[rule.spec.metric]
    evidence: dict[str, Any] = {
        "metric": metric.name,
        "unit": metric.unit,
        "value": _num(row["value"]),
        "threshold": _num(row["threshold"]),
        "op": rule.spec.op.value,
        "window": format_duration(rule.spec.window),
        "window_start": iso(from_epoch(row["window_start"])),
        "window_end": iso(from_epoch(row["window_end"])),
        "events": _num(row["events"]),
        "buckets_with_data": row["buckets"],
        "incomplete_buckets": row["incomplete"],
    }
    phases = {k.removeprefix("phase_").removesuffix("_ms"): _num(v) for k, v in row.items() if k.startswith("phase_")}
    if phases:
        evidence["phase_mean_ms"] = phases
    for key in ("spill_local_bytes", "spill_remote_bytes"):
        if key in row:
            evidence[key] = _num(row[key])
    return evidence


def _num(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if np.isnan(number) else round(number, 6)


def _annotations(agent: Agent, rule: ThresholdRule, inst: Instance, kind: EventKind) -> dict[str, str]:
    spec = rule.spec
    metric = METRICS[spec.metric]
    fields = defaultdict(str, inst.labels)
    fields.update(
        metric=metric.name,
        unit=metric.unit,
        op=spec.op.value,
        window=format_duration(spec.window),
        value=human_value(inst.value, metric.unit),
        threshold=human_value(inst.threshold, metric.unit),
        severity=inst.severity.value if inst.severity else "",
        rule=rule.name,
    )
    summary = spec.summary.format_map(fields)
    if kind is EventKind.RESOLVED:
        # The firing template states a breach; a resolve states where the metric is now.
        where = "under" if spec.op.upward else "over"
        now = (
            f"{metric.name} back {where} {fields['threshold']}: {fields['value']}"
            if inst.value is not None
            else f"no data for {metric.name} in the last {fields['window']}"
        )
        labels = ", ".join(f"{k}={inst.labels[k]}" for k in spec.group_by)
        summary = f"{now}" + (f" ({labels})" if labels else "")
    out = {"summary": summary, "description": spec.description}
    if spec.runbook:
        out["runbook"] = agent.spec.runbook_url.format(id=spec.runbook)
    return out


def _contributors(
    rule: ThresholdRule, data: RollupArrays, labels: Labels, at: int, view: DataView
) -> list[dict[str, Any]]:
    """The series inside an alert's group, ranked by events, with their own metric values."""
    rollup = ROLLUPS[METRICS[rule.spec.metric].rollup]
    rest = [d for d in rollup.dims if d not in rule.spec.group_by]
    if not rest:
        return []
    where = {**rule.spec.where, **{k: [labels[k]] for k in rule.spec.group_by}}
    detail = rule.model_copy(
        update={"spec": rule.spec.model_copy(update={"group_by": list(rollup.dims), "where": where})}
    )
    result = evaluate_threshold(detail, data, np.array([at], dtype=np.int64), view)
    result = result.filter(pl.col("events") > 0).sort("events", descending=True).head(3)
    return [
        {**{d: row[d] for d in rest}, "value": _num(row["value"]), "events": _num(row["events"])}
        for row in result.iter_rows(named=True)
    ]


def _advance_rule(ctx: EvalContext, rule: ThresholdRule, data: RollupArrays, view: DataView) -> None:
    result = evaluate_threshold(rule, data, ctx.instants, view)
    policy = policy_of(rule)
    static = {**ctx.agent.spec.labels, **rule.metadata.labels}
    seen: set[str] = set()
    groups = (
        result.partition_by(rule.spec.group_by, as_dict=True)
        if rule.spec.group_by and result.height
        else ({(): result} if result.height else {})
    )
    check_limit(ctx, rule, groups)
    for key, part in groups.items():
        labels = {**static, **{k: str(v) for k, v in zip(rule.spec.group_by, key, strict=True)}}
        fp = fingerprint(rule.name, labels)
        seen.add(fp)
        inst = ctx.instances.get(fp) or Instance(fp, rule.name, labels)
        breach = part["state"] == ConditionState.BREACH.value
        if inst.state is AlertState.INACTIVE and not breach.any() and policy.on_no_data is not NoDataPolicy.ALERT:
            continue
        for row in part.sort("instant").iter_rows(named=True):
            state = ConditionState(row["state"])
            if (
                inst.state is AlertState.INACTIVE
                and state is not ConditionState.BREACH
                and (state is not ConditionState.NO_DATA or policy.on_no_data is not NoDataPolicy.ALERT)
            ):
                continue
            # Evidence for breaches and for the rows that may resolve an active alert (its recovery values).
            evidence = _evidence(rule, row) if state is not ConditionState.STALE else {}
            if state is ConditionState.NO_DATA:
                evidence["reason"] = f"fewer than min_events ({rule.spec.min_events}) events, or no value"
            cond = Condition(
                rule.name,
                labels,
                from_epoch(row["instant"]),
                state,
                Severity(row["severity"]) if row["severity"] else None,
                _num(row["value"]),
                _num(row["threshold"]),
                evidence,
            )
            inst = _apply(ctx, rule, inst, cond, policy, data, view, row["window_end"])
    # Active instances whose group has no rows in range: no data (or stale data) at each instant.
    for fp, known in list(ctx.instances.items()):
        if known.rule != rule.name or fp in seen:
            continue
        current = known
        stale = view.stale(ctx.instants)
        for k, t in enumerate(ctx.instants.tolist()):
            state = ConditionState.STALE if stale[k] else ConditionState.NO_DATA
            evidence = {"reason": "no rows for this series in the window"}
            cond = Condition(rule.name, current.labels, from_epoch(t), state, evidence=evidence)
            current = _apply(ctx, rule, current, cond, policy, data, view, t)


def check_limit(ctx: EvalContext, rule: ThresholdRule, groups: dict[Any, pl.DataFrame]) -> None:
    """Refuse a pass in which ``rule`` would hold more alert instances (breaching groups, and its active alerts)
    than its limit, as Prometheus fails a rule over its ``limit``: the rule fails with agent-rule-error naming its
    widest label, and its alerts keep their state until it is back under.

    Raises:
        RuleLimitError: over the limit.
    """
    limit = rule.spec.limit or ctx.agent.spec.evaluation.max_alerts_per_rule
    breaching = [key for key, part in groups.items() if (part["state"] == ConditionState.BREACH.value).any()]
    active = {fp for fp, i in ctx.instances.items() if i.rule == rule.name and i.state is not AlertState.INACTIVE}
    if len(breaching) + len(active) <= limit:
        return  # the common case: no fingerprint needs computing
    static = {**ctx.agent.spec.labels, **rule.metadata.labels}
    keys = active | {
        fingerprint(rule.name, {**static, **{k: str(v) for k, v in zip(rule.spec.group_by, key, strict=True)}})
        for key in breaching
    }
    if len(keys) <= limit:
        return
    values = {label: {key[i] for key in breaching} for i, label in enumerate(rule.spec.group_by)}
    widest = max(values, key=lambda label: len(values[label]), default=None)
    where = f"; label {widest} has {len(values[widest]):,} values" if widest is not None else ""
    raise RuleLimitError(
        f"would raise {len(keys):,} alert instances, over its limit of {limit:,}{where} (set spec.limit, or narrow "
        "spec.where / spec.group_by)"
    )


def _apply(
    ctx: EvalContext,
    rule: ThresholdRule,
    inst: Instance,
    cond: Condition,
    policy: RulePolicy,
    data: RollupArrays,
    view: DataView,
    anchor: int,
) -> Instance:
    new, transitions = step(inst, cond, policy)
    for t in transitions:
        if t.kind in (EventKind.FIRING, EventKind.ESCALATED):
            contributors = _contributors(rule, data, new.labels, anchor, view)
            if contributors:
                new = replace(new, evidence={**new.evidence, "contributors": contributors})
                t = replace(t, instance=new)  # noqa: PLW2901 - the recorded transition carries the evidence
        ctx.transitions.append((t, _annotations(ctx.agent, rule, t.instance, t.kind)))
    kept = ctx.keep(inst, new)
    ctx.observe(to_epoch(cond.at), kept, partial(_annotations, ctx.agent, rule))
    return kept


RULE_ERROR = "agent-rule-error"
RULE_ERROR_RUNBOOK = "agent-rule-error"


def _own_annotations(
    agent: Agent, kind: EventKind, resolved: str, firing: str, description: str, runbook: str
) -> dict[str, str]:
    """Annotations of one of the agent's own alerts: the resolved or the firing summary, what it means, its runbook."""
    return {
        "summary": resolved if kind is EventKind.RESOLVED else firing,
        "description": description,
        "runbook": agent.spec.runbook_url.format(id=runbook),
    }


def _self_alert(
    ctx: EvalContext, rule: str, labels: Labels, error: str | None, annotate: Callable[[EventKind], dict[str, str]]
) -> None:
    """Step one of the agent's own alerts: firing (sev3, at once) while ``error`` is set, resolved when it is not;
    ``annotate(kind)`` gives each transition's annotations."""
    fp = fingerprint(rule, labels)
    inst = ctx.instances.get(fp) or Instance(fp, rule, labels)
    if error is None and inst.state is AlertState.INACTIVE:
        return
    at = from_epoch(int(ctx.instants[-1]))
    state = ConditionState.BREACH if error else ConditionState.OK
    evidence = {"error": error} if error else {}
    cond = Condition(rule, labels, at, state, Severity.SEV3 if error else None, None, None, evidence)
    new, transitions = step(inst, cond, RulePolicy())
    ctx.transitions += [(tr, annotate(tr.kind)) for tr in transitions]
    ctx.keep(inst, new)


def _advance_rule_errors(ctx: EvalContext, report: EvalReport) -> None:
    """The agent's own rule for rules that fail to evaluate: fires at once, resolves when the rule works."""
    agent = ctx.agent
    for name in agent.loaded.rule_names():
        error = report.rule_errors.get(name)
        annotate = partial(
            _own_annotations,
            agent,
            resolved=f"rule {name} evaluates again",
            firing=f"rule {name} cannot be evaluated: {error}",
            description="A rule failed during evaluation; the other rules keep running.",
            runbook=RULE_ERROR_RUNBOOK,
        )
        _self_alert(ctx, RULE_ERROR, {**agent.spec.labels, "failed_rule": name}, error, annotate)


RELOAD_RULE = "agent-config-reload-failed"
RELOAD_RUNBOOK = "agent-config-reload-failed"


def _advance_reload(ctx: EvalContext, held: str | None) -> None:
    """The agent's own alert while the config files on disk were refused by a reload (the last good config runs),
    or while alerts of rules missing from the config are ``held`` open (see :func:`_held_rules`)."""
    agent = ctx.agent
    error = "; ".join(e for e in (agent.reload_error, held) if e) or None
    annotate = partial(
        _own_annotations,
        agent,
        resolved="config applied: the files on disk are the config running",
        firing=f"config not applied: {error}",
        description="A changed config or rule file was not applied (or not in full); see the runbook.",
        runbook=RELOAD_RUNBOOK,
    )
    _self_alert(ctx, RELOAD_RULE, {**agent.spec.labels, "config": str(agent.loaded.path)}, error, annotate)


def _held_rules(ctx: EvalContext, configured: set[str]) -> tuple[set[str], str | None]:
    """Rules with active alerts that the config no longer has, when they are more than ``reload.max_rule_loss`` of
    the rules with active alerts (and more than one): a truncated deploy, not a clean-up. Their alerts are kept open
    (nobody is told they resolved); returns them with why (for ``agent-config-reload-failed``), or none."""
    agent = ctx.agent
    own = (SOURCE_RULE, RULE_ERROR, RELOAD_RULE)
    active = {i.rule for i in ctx.instances.values() if i.state is not AlertState.INACTIVE and i.rule not in own}
    removed = active - configured
    share = agent.spec.reload.max_rule_loss
    if len(removed) <= 1 or len(removed) / len(active) <= share:
        return set(), None
    why = (
        f"{len(removed)} of the {len(active)} rules with active alerts are missing from the config (over "
        f"reload.max_rule_loss {share:.0%}): a truncated deploy? Their alerts stay open instead of resolving; restore "
        "the rules, or set reload.max_rule_loss to 1 to close them"
    )
    log.error("%s", why)
    return removed, why


def _retire_orphans(ctx: EvalContext) -> str | None:
    """Close active alerts whose rule was removed, renamed or relabelled: nothing will ever judge them again
    (unless so many rules vanished at once that the config looks truncated: see :func:`_held_rules`, whose reason
    it returns)."""
    agent = ctx.agent
    rules = {r.name: r for r in agent.loaded.rules}
    slos = {s.name: s for s in agent.loaded.slos}
    anomalies = {a.name: a for a in agent.loaded.anomalies}
    budgets = {b.name: b for b in agent.loaded.budgets}
    held, held_why = _held_rules(ctx, set(agent.loaded.rule_names()))
    at = from_epoch(int(ctx.instants[-1]))
    for inst in list(ctx.instances.values()):
        if inst.state is AlertState.INACTIVE or inst.rule in (SOURCE_RULE, RULE_ERROR, RELOAD_RULE, *held):
            continue
        rule: ThresholdRule | SloDoc | None = rules.get(inst.rule)
        if isinstance(rule, ThresholdRule):
            static = {**agent.spec.labels, **rule.metadata.labels}
            expected = set(static) | set(rule.spec.group_by)
            if set(inst.labels) == expected and all(inst.labels.get(k) == v for k, v in static.items()):
                continue
        anomaly = anomalies.get(inst.rule)
        if anomaly is not None:
            static = {**agent.spec.labels, **anomaly.metadata.labels}
            expected = set(static) | set(anomaly.spec.group_by) | {"signal"}
            if set(inst.labels) == expected and all(inst.labels.get(k) == v for k, v in static.items()):
                continue
        budget = budgets.get(inst.rule)
        if budget is not None:
            static = budget_labels(agent.spec.labels, budget)
            enabled = {"actual"} | {s for s in BUDGET_SIGNALS[1:] if getattr(budget.spec, s) is not None}
            same = set(inst.labels) == {*static, "signal"} and inst.labels.get("signal") in enabled
            if same and all(inst.labels.get(k) == v for k, v in static.items()):
                continue
        slo = slos.get(inst.rule)
        if slo is not None:
            rule = slo
            if inst.labels == slo_labels(agent, slo):
                continue
        new, transitions = step(inst, Condition(inst.rule, inst.labels, at, ConditionState.OK), RulePolicy())
        exists = rule is not None or anomaly is not None or budget is not None
        why = "changed (its labels no longer match)" if exists else "removed from the config"
        for tr in transitions:
            ctx.transitions.append(
                (
                    tr,
                    {
                        "summary": f"alert closed: rule {inst.rule} was {why}",
                        "description": "The agent closed this alert because its rule no longer exists in this form.",
                    },
                )
            )
        ctx.keep(inst, new)
    return held_why


SOURCE_POLICY = RulePolicy(for_=timedelta(minutes=10))
"""One failed poll is not an incident: the source alert waits 10 minutes (about two query polls)."""


def _advance_sources(ctx: EvalContext) -> None:
    """The agent's own rule: a family whose polls fail, or that has not succeeded within its interval."""
    agent = ctx.agent
    grace = agent.spec.evaluation.stale_after.total_seconds()
    # While the agent itself was down nobody polled: that is not the source's fault. Its staleness
    # clock restarts when evaluation resumes.
    resumed = ctx.resumed_at or 0
    states = [(family, agent.watermarks.get(family_key(family))) for family in rollup_families(agent)]
    slo_state = slo_source_state(agent)
    if slo_state is not None:
        states.append((SLO_FAMILY, slo_state))
    for family, state in states:
        if state.last_attempt_at is None:
            continue
        source = "azure" if family in AZURE_FAMILIES else "snowflake"
        labels = {**agent.spec.labels, "source": source, "family": family}
        fp = fingerprint(SOURCE_RULE, labels)
        inst = ctx.instances.get(fp) or Instance(fp, SOURCE_RULE, labels)
        limit = poll_settings(agent, family).interval.total_seconds() + grace
        failing = state.consecutive_failures > 0
        error = redact(state.last_error or "")
        evidence = {
            "consecutive_failures": state.consecutive_failures,
            "last_error": error or None,
            "last_success": iso(from_epoch(state.last_success_at)) if state.last_success_at else None,
            "polled_to": iso(from_epoch(state.polled_to)) if state.polled_to else None,
        }
        annotate = partial(_source_annotations, agent, source, family)
        for t in ctx.instants.tolist():
            # Each committed chunk of a backfill counts as a success, so a long first poll is not "stale".
            stale = state.last_success_at is not None and t - max(state.last_success_at, resumed) > limit
            unhealthy = failing or stale
            if not unhealthy and inst.state is AlertState.INACTIVE:
                continue
            cond = Condition(
                SOURCE_RULE,
                labels,
                from_epoch(t),
                ConditionState.BREACH if unhealthy else ConditionState.OK,
                Severity.SEV3 if unhealthy else None,
                float(state.consecutive_failures),
                0.0,
                evidence,
            )
            new, transitions = step(inst, cond, SOURCE_POLICY)
            ctx.transitions += [(tr, annotate(tr.instance, tr.kind)) for tr in transitions]
            inst = ctx.keep(inst, new)
            ctx.observe(t, inst, annotate)


def _source_annotations(agent: Agent, source: str, family: str, inst: Instance, kind: EventKind) -> dict[str, str]:
    """The source rule's annotations for ``inst`` (its evidence: failures so far, the last error)."""
    ev = inst.evidence
    failures = int(ev.get("consecutive_failures") or 0)
    stale = "no successful poll within its interval"
    what = f"{failures} failed poll(s): {ev.get('last_error')}" if failures else stale
    return _own_annotations(
        agent,
        kind,
        resolved=f"{source.capitalize()} {family} source recovered",
        firing=f"{source.capitalize()} {family} source unhealthy: {what}",
        description="The agent cannot read this source family; rules on it are frozen.",
        runbook=SOURCE_RUNBOOK,
    )


def evaluate(agent: Agent, instants: list[int]) -> EvalReport:
    """Evaluate every rule at ``instants`` (epoch s, ascending) and persist the outcome in one transaction."""
    report = EvalReport(len(instants))
    if not instants:
        return report
    arr = np.array(sorted(instants), dtype=np.int64)
    ctx = EvalContext(agent, arr)
    previous = last_instant(agent)
    step = int(agent.spec.evaluation.interval.total_seconds())
    resumed = previous is not None and int(arr[0]) - previous > step
    ctx.resumed_at = int(arr[-1]) if resumed else _state(agent, RESUMED_AT)
    views = data_views(agent)
    rules_by_rollup: dict[str, list[ThresholdRule]] = defaultdict(list)
    for rule in agent.loaded.rules:
        metric = METRICS.get(rule.spec.metric)
        if metric is None:  # validation prevents this; a spec built in code might not have been validated
            report.rule_errors[rule.name] = f"unknown metric {rule.spec.metric!r}"
            continue
        rules_by_rollup[metric.rollup].append(rule)
    for rollup_name, rules in rules_by_rollup.items():
        view = views[rollup_name]
        lo, hi = load_range(rules, arr, view)
        data = RollupArrays.from_frame(agent.rollups.load(ROLLUPS[rollup_name], lo, hi), ROLLUPS[rollup_name])
        for rule in rules:
            ctx.isolated(rule.name, partial(_advance_rule, ctx, rule, data, view), report.rule_errors)
    for anomaly in agent.loaded.anomalies:
        view = views[anomaly.spec.rollup_name]
        ctx.isolated(anomaly.name, partial(advance_anomaly, ctx, anomaly, view), report.rule_errors)
    for slo in agent.loaded.slos:
        ctx.isolated(slo.name, partial(advance_slo, ctx, slo), report.rule_errors)
    for budget in agent.loaded.budgets:
        ctx.isolated(budget.name, partial(advance_budget, ctx, budget, views), report.rule_errors)
    _advance_sources(ctx)
    _advance_rule_errors(ctx, report)
    _advance_reload(ctx, _retire_orphans(ctx))
    with agent.db.transaction() as conn:
        now = int(arr[-1])
        for inst in ctx.changed.values():
            annotate = ctx.annotators.get(inst.fingerprint)
            firing = annotate is not None and inst.state is AlertState.FIRING
            current = annotate(inst, EventKind.FIRING)["summary"] if annotate is not None and firing else ""
            agent.alerts.save(conn, inst, now, current)
        for transition, annotations in sorted(ctx.transitions, key=lambda ta: ta[0].at):
            event = agent.alerts.append(conn, transition, annotations)
            report.events.append(event)
        report.deliveries = Dispatcher(agent, ctx.before, ctx).run(conn, report.events, arr.tolist())
        grouping = agent.spec.incidents
        report.incidents_resolved = IncidentTracker(list(grouping.group_by), grouping.window).apply(
            conn, report.events, now
        )
        agent.enqueue_metrics(conn, ctx.metrics, now)
        report.metrics = len(ctx.metrics)
        conn.execute(
            "INSERT INTO evaluation_state (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)",
            (LAST_INSTANT, now),
        )
        if resumed:
            conn.execute(
                "INSERT INTO evaluation_state (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (RESUMED_AT, now),
            )
        failpoint("evaluate.before_commit")
    return report
