"""Checks of an AlertRouting document a schema cannot express: receivers exist, inhibition cannot hit its source."""

from __future__ import annotations

from sre_agent.alerting.matchers import Matcher, parse_matcher
from sre_agent.config.agent import METRICS_ONLY_SINKS, AgentConfig
from sre_agent.config.anomaly import LatencyAnomalyRule
from sre_agent.config.routing import RouteSpec, RoutingDoc
from sre_agent.config.slo import SloDoc
from sre_agent.config.specs import ThresholdRule
from sre_agent.config.yaml_source import Loc, YamlDocument
from sre_agent.errors import ConfigIssue


def _receivers(route: RouteSpec, loc: Loc) -> list[tuple[str, Loc]]:
    out = [(route.receiver, (*loc, "receiver"))] if route.receiver else []
    for i, child in enumerate(route.routes):
        out.extend(_receivers(child, (*loc, "routes", i)))
    return out


def _may_match(matchers: tuple[Matcher, ...], known: dict[str, str]) -> bool:
    """False only when a matcher on a label whose value is known for the alert surely fails."""
    return all(m.matches(known) for m in matchers if m.name in known)


def _alert_shapes(
    config: AgentConfig | None,
    rules: list[ThresholdRule],
    slos: list[SloDoc],
    anomalies: list[LatencyAnomalyRule] | None = None,
) -> list[tuple[str, dict[str, str]]]:
    """Per rule/SLO and possible severity, the labels every one of its alerts carries."""
    base = dict(config.spec.labels) if config else {}
    shapes = []
    for rule in rules:
        for level in rule.spec.thresholds:
            known = {**base, **rule.metadata.labels, "rule": rule.name, "alertname": rule.name}
            shapes.append((rule.name, {**known, "severity": level.severity.value}))
    for slo in slos:
        known = {**base, **slo.metadata.labels, "rule": slo.name, "alertname": slo.name, "slo": slo.name}
        known.update(service=slo.spec.service, owner=slo.spec.owner)
        if slo.spec.domain:
            known["domain"] = slo.spec.domain
        alerting = slo.spec.alerting
        for severity in {alerting.page_severity, alerting.ticket_severity}:
            shapes.append((slo.name, {**known, "severity": severity.value}))
    for anomaly in anomalies or []:
        known = {**base, **anomaly.metadata.labels, "rule": anomaly.name, "alertname": anomaly.name}
        shapes.append((anomaly.name, {**known, "signal": "anomaly", "severity": anomaly.spec.severity.value}))
        if anomaly.spec.level_shift is not None:
            change = anomaly.spec.level_shift.severity.value
            shapes.append((anomaly.name, {**known, "signal": "change", "severity": change}))
    return shapes


def check_routing(
    doc: RoutingDoc,
    ydoc: YamlDocument,
    config: AgentConfig | None,
    rules: list[ThresholdRule],
    slos: list[SloDoc],
    anomalies: list[LatencyAnomalyRule] | None = None,
) -> list[ConfigIssue]:
    """Every receiver names a configured sink; no inhibit rule lets an alert inhibit itself."""
    issues: list[ConfigIssue] = []
    if config is not None:
        sinks = [s.name for s in config.spec.sinks if not isinstance(s, METRICS_ONLY_SINKS)]
        metric_sinks = {s.name for s in config.spec.sinks if isinstance(s, METRICS_ONLY_SINKS)}
        for name, loc in _receivers(doc.spec.route, ("spec", "route")):
            if name in metric_sinks:
                issues.append(ydoc.issue(loc, f"receiver {name!r} is a metrics sink and takes no alert notifications"))
            elif name not in sinks:
                issues.append(
                    ydoc.issue(loc, f"unknown receiver {name!r}; the configured sinks are: {', '.join(sinks)}")
                )
    shapes = _alert_shapes(config, rules, slos, anomalies)
    for i, rule in enumerate(doc.spec.inhibit_rules):
        source = tuple(parse_matcher(m) for m in rule.source_matchers)
        target = tuple(parse_matcher(m) for m in rule.target_matchers)
        both = sorted({name for name, known in shapes if _may_match(source, known) and _may_match(target, known)})
        if both:
            issues.append(
                ydoc.issue(
                    ("spec", "inhibit_rules", i),
                    f"alerts of {', '.join(both)} can match both source_matchers and target_matchers, so one firing "
                    "alert would inhibit its own kind; make the sides disjoint (e.g. by rule or severity)",
                )
            )
    return issues
