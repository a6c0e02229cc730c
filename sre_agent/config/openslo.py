"""OpenSLO v1 in and out: SLO, SLI (ratioMetric / thresholdMetric), AlertPolicy, AlertCondition (burnrate).

OpenSLO leaves the metric source free-form; ours carries the sre-agent SLI in
``metricSource.spec`` (``{sli: {...}, filters: {...}}``, type ``Snowflake``) — raw SQL sources cannot
be evaluated and are refused with a located error. A multiwindow tier needs two windows where an
OpenSLO AlertCondition has one lookback: the long window is the lookback and the short one travels in
the annotation ``sre-agent.io/short-window`` (default: a twelfth of the long window, as in the SRE
Workbook). ``sre-agent.io/budget-percent`` keeps a tier's budget share, so export and import round-trip.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from sre_agent.config.durations import format_duration, parse_duration
from sre_agent.config.slo import AlertTier, SloDoc, default_tiers
from sre_agent.config.yaml_source import Loc, YamlDocument
from sre_agent.errors import ConfigIssue

OPENSLO_API = "openslo/v1"
PREFIX = "sre-agent.io/"
_KINDS = {"SLO", "SLI", "AlertPolicy", "AlertCondition", "Service", "DataSource", "AlertNotificationTarget"}
_OPENSLO_UNITS = {"M": 30, "Q": 91, "Y": 365}


class _LocatedError(Exception):
    def __init__(self, doc: YamlDocument, loc: Loc, message: str) -> None:
        self.issue = doc.issue(loc, message)
        super().__init__(message)


def _allow(doc: YamlDocument, loc: Loc, data: Any, keys: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _LocatedError(doc, loc, "expected a mapping")
    for key in data:
        if key not in keys:
            raise _LocatedError(
                doc, (*loc, key), f"unsupported OpenSLO field {key!r} (supported here: {', '.join(sorted(keys))})"
            )
    return data


def _duration(doc: YamlDocument, loc: Loc, text: Any) -> timedelta:
    value = str(text)
    if value and value[-1] in _OPENSLO_UNITS and value[:-1].isdigit():
        return timedelta(days=int(value[:-1]) * _OPENSLO_UNITS[value[-1]])
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise _LocatedError(doc, loc, str(exc)) from None


def _decimal(doc: YamlDocument, loc: Loc, value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise _LocatedError(doc, loc, f"expected a number, got {value!r}") from None


def _json(doc: YamlDocument, loc: Loc, text: Any) -> Any:
    try:
        return json.loads(str(text))
    except ValueError as exc:
        raise _LocatedError(doc, loc, f"annotation is not valid JSON: {exc}") from None


def _by_name(docs: list[YamlDocument], kind: str) -> dict[str, YamlDocument]:
    out = {}
    for doc in docs:
        if doc.data.get("kind") == kind:
            name = (doc.data.get("metadata") or {}).get("name")
            if name:
                out[str(name)] = doc
    return out


def _sli(doc: YamlDocument, loc: Loc, sli: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Return (our sli, filters, kind of metric) from an OpenSLO SLI spec."""
    _allow(doc, loc, sli, {"ratioMetric", "thresholdMetric", "description"})
    if "ratioMetric" in sli:
        ratio = _allow(doc, (*loc, "ratioMetric"), sli["ratioMetric"], {"counter", "good", "total", "bad"})
        if "bad" in ratio:
            raise _LocatedError(doc, (*loc, "ratioMetric", "bad"), "unsupported: express the SLI as good/total")
        sources = []
        for part in ("good", "total"):
            if part not in ratio:
                raise _LocatedError(doc, (*loc, "ratioMetric"), f"ratioMetric needs {part}")
            sources.append(_source(doc, (*loc, "ratioMetric", part), ratio[part]))
        if sources[0][:2] != sources[1][:2]:
            raise _LocatedError(doc, (*loc, "ratioMetric"), "good and total must describe the same sre-agent SLI")
        return sources[1][0], sources[1][1], "ratio"
    if "thresholdMetric" in sli:
        ours, filters, _ = _source(doc, (*loc, "thresholdMetric"), sli["thresholdMetric"])
        return ours, filters, "threshold"
    raise _LocatedError(doc, loc, "an SLI needs ratioMetric or thresholdMetric")


def _source(doc: YamlDocument, loc: Loc, metric: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    metric = _allow(doc, loc, metric, {"metricSource"})
    source = _allow(doc, (*loc, "metricSource"), metric.get("metricSource"), {"metricSourceRef", "type", "spec"})
    spec = source.get("spec")
    if not isinstance(spec, dict) or "sli" not in spec:
        raise _LocatedError(
            doc,
            (*loc, "metricSource", "spec"),
            "unsupported metric source: sre-agent evaluates metricSource.spec {sli: {...}, filters: {...}} "
            "(raw queries are not run)",
        )
    _allow(doc, (*loc, "metricSource", "spec"), spec, {"sli", "filters", "count"})
    return dict(spec["sli"]), dict(spec.get("filters") or {}), str(spec.get("count", ""))


def _tier(doc: YamlDocument, policy: YamlDocument, conditions: dict[str, YamlDocument]) -> dict[str, Any]:
    spec = _allow(
        policy,
        ("spec",),
        policy.data.get("spec"),
        {
            "description",
            "alertWhenBreaching",
            "alertWhenResolved",
            "alertWhenNoData",
            "conditions",
            "notificationTargets",
        },
    )
    if spec.get("alertWhenNoData"):
        raise _LocatedError(
            policy,
            ("spec", "alertWhenNoData"),
            "unsupported: an SLO without data is reported as state unknown (see agent-source-unhealthy)",
        )
    items = spec.get("conditions") or []
    if len(items) != 1:
        raise _LocatedError(policy, ("spec", "conditions"), "an AlertPolicy has exactly one condition (OpenSLO v1)")
    item = items[0]
    if "conditionRef" in item:
        ref = str(item["conditionRef"])
        if ref not in conditions:
            raise _LocatedError(policy, ("spec", "conditions", 0, "conditionRef"), f"unknown AlertCondition {ref!r}")
        cond_doc = conditions[ref]
        base: Loc = ("spec",)
        body = cond_doc.data.get("spec")
    else:
        cond_doc, body, base = policy, item, ("spec", "conditions", 0)
    body = _allow(cond_doc, base, body, {"severity", "condition", "description", "kind", "metadata", "spec"})
    if "spec" in body:  # an inline AlertCondition document
        base = (*base, "spec")
        body = _allow(cond_doc, base, body["spec"], {"severity", "condition", "description"})
    cond = _allow(
        cond_doc,
        (*base, "condition"),
        body.get("condition"),
        {"kind", "op", "threshold", "lookbackWindow", "alertAfter"},
    )
    if cond.get("kind") != "burnrate":
        raise _LocatedError(cond_doc, (*base, "condition", "kind"), "only burnrate conditions are supported")
    if cond.get("op", "gte") not in ("gte", "gt"):
        raise _LocatedError(
            cond_doc, (*base, "condition", "op"), "a burn-rate condition fires above its threshold: use op gte"
        )
    long = _duration(cond_doc, (*base, "condition", "lookbackWindow"), cond.get("lookbackWindow"))
    annotations = ((cond_doc.data.get("metadata") or {}).get("annotations") or {}) if cond_doc is not policy else {}
    notes_loc: Loc = ("metadata", "annotations")
    short_text = annotations.get(PREFIX + "short-window")
    short = (
        _duration(cond_doc, (*notes_loc, PREFIX + "short-window"), short_text)
        if short_text
        else timedelta(minutes=max(1, round(long.total_seconds() / 720)))
    )
    severity = str(body.get("severity", "ticket")).lower()
    tier: dict[str, Any] = {
        "severity": "page" if severity in ("page", "critical", "high") else "ticket",
        "long": format_duration(long),
        "short": format_duration(short),
    }
    guard = annotations.get(PREFIX + "min-events")
    if guard is not None:
        tier["min_events"] = int(_decimal(cond_doc, (*notes_loc, PREFIX + "min-events"), guard))
    budget = annotations.get(PREFIX + "budget-percent")
    if budget is not None:
        tier["budget_percent"] = str(budget)
    else:
        tier["burn_rate"] = str(cond.get("threshold"))
    return tier


def _is_default(tiers: list[dict[str, Any]]) -> bool:
    """True when ``tiers`` are exactly the default table (by budget share, not a fixed factor)."""
    try:
        parsed = [AlertTier.model_validate(t) for t in tiers]
    except ValidationError:
        return False
    return parsed == list(default_tiers())


def _convert(doc: YamlDocument, index: dict[str, dict[str, YamlDocument]]) -> dict[str, Any]:
    data = doc.data
    meta = _allow(doc, ("metadata",), data.get("metadata"), {"name", "displayName", "labels", "annotations"})
    spec = _allow(
        doc,
        ("spec",),
        data.get("spec"),
        {
            "service",
            "description",
            "indicator",
            "indicatorRef",
            "timeWindow",
            "budgetingMethod",
            "objectives",
            "alertPolicies",
        },
    )
    annotations = dict(meta.get("annotations") or {})
    labels = {k: ",".join(v) if isinstance(v, list) else str(v) for k, v in (meta.get("labels") or {}).items()}
    if "indicatorRef" in spec:
        ref = str(spec["indicatorRef"])
        if ref not in index["SLI"]:
            raise _LocatedError(doc, ("spec", "indicatorRef"), f"unknown SLI {ref!r}")
        sli_doc = index["SLI"][ref]
        sli, filters, metric_kind = _sli(sli_doc, ("spec",), sli_doc.data.get("spec"))
    elif "indicator" in spec:
        sli, filters, metric_kind = _sli(doc, ("spec", "indicator", "spec"), (spec["indicator"] or {}).get("spec"))
    else:
        raise _LocatedError(doc, ("spec",), "an SLO needs indicator or indicatorRef")
    windows = spec.get("timeWindow") or []
    if len(windows) != 1:
        raise _LocatedError(doc, ("spec", "timeWindow"), "exactly one timeWindow is supported")
    window = _allow(doc, ("spec", "timeWindow", 0), windows[0], {"duration", "isRolling", "calendar"})
    length = _duration(doc, ("spec", "timeWindow", 0, "duration"), window.get("duration"))
    if window.get("isRolling", "calendar" not in window):
        period: dict[str, Any] = {"rolling": format_duration(length)}
    else:
        cal = _allow(doc, ("spec", "timeWindow", 0, "calendar"), window.get("calendar"), {"startTime", "timeZone"})
        unit = {timedelta(days=1): "day", timedelta(days=7): "week", timedelta(days=30): "month"}.get(length)
        if unit is None:
            raise _LocatedError(doc, ("spec", "timeWindow", 0, "duration"), "calendar windows are 1d, 1w or 1M")
        period = {"calendar": unit, "time_zone": str(cal.get("timeZone", "UTC"))}
    method = str(spec.get("budgetingMethod", "Occurrences"))
    if method not in ("Occurrences", "Timeslices"):
        raise _LocatedError(doc, ("spec", "budgetingMethod"), f"unsupported budgetingMethod {method!r}")
    objectives = spec.get("objectives") or []
    if len(objectives) != 1:
        raise _LocatedError(doc, ("spec", "objectives"), "exactly one objective is supported")
    objective = _allow(
        doc,
        ("spec", "objectives", 0),
        objectives[0],
        {"displayName", "op", "value", "target", "targetPercent", "timeSliceTarget", "timeSliceWindow"},
    )
    if "targetPercent" in objective:
        percent = _decimal(doc, ("spec", "objectives", 0, "targetPercent"), objective["targetPercent"])
    elif "target" in objective:
        percent = _decimal(doc, ("spec", "objectives", 0, "target"), objective["target"]) * 100
    else:
        raise _LocatedError(doc, ("spec", "objectives", 0), "an objective needs target or targetPercent")
    if metric_kind == "threshold":
        if objective.get("op", "lte") != "lte":
            raise _LocatedError(doc, ("spec", "objectives", 0, "op"), "threshold SLIs are 'at or under': use op lte")
        if "value" in objective:
            if sli.get("kind") == "freshness":
                seconds = int(_decimal(doc, ("spec", "objectives", 0, "value"), objective["value"]))
                sli["max_age"] = format_duration(timedelta(seconds=seconds))
            else:
                sli["threshold_ms"] = int(_decimal(doc, ("spec", "objectives", 0, "value"), objective["value"]))
    out_spec: dict[str, Any] = {
        "service": str(spec.get("service", "")),
        "owner": str(annotations.pop(PREFIX + "owner", labels.get("team", spec.get("service", "")))),
        "description": str(spec.get("description", "")),
        "sli": sli,
        "filters": filters,
        "objective": str(percent.normalize()),
        "period": period,
        "budgeting_method": method,
    }
    for key in ("domain", "runbook"):
        if PREFIX + key in annotations:
            out_spec[key] = annotations.pop(PREFIX + key)
    if "timeSliceWindow" in objective:
        window_loc = ("spec", "objectives", 0, "timeSliceWindow")
        slice_length = _duration(doc, window_loc, objective["timeSliceWindow"])
        # Our export marks a slice length the SLO left at its default, so it stays implicit on the way back.
        if annotations.pop(PREFIX + "timeslice", None) != "default":
            out_spec["timeslice"] = format_duration(slice_length)
    if "timeSliceTarget" in objective and sli.get("kind") in ("availability", "latency"):
        out_spec["timeslice_target"] = str(objective["timeSliceTarget"])
    if PREFIX + "exclusions" in annotations:
        where = ("metadata", "annotations", PREFIX + "exclusions")
        out_spec["exclusions"] = _json(doc, where, annotations.pop(PREFIX + "exclusions"))
    if PREFIX + "alerting" in annotations:
        where = ("metadata", "annotations", PREFIX + "alerting")
        out_spec["alerting"] = _json(doc, where, annotations.pop(PREFIX + "alerting"))
    tiers = []
    for i, ref in enumerate(spec.get("alertPolicies") or []):
        if isinstance(ref, dict) and "alertPolicyRef" in ref:
            name = str(ref["alertPolicyRef"])
            if name not in index["AlertPolicy"]:
                raise _LocatedError(
                    doc, ("spec", "alertPolicies", i, "alertPolicyRef"), f"unknown AlertPolicy {name!r}"
                )
            tiers.append(_tier(doc, index["AlertPolicy"][name], index["AlertCondition"]))
        else:
            raise _LocatedError(
                doc, ("spec", "alertPolicies", i), "use alertPolicyRef (inline policies are not supported)"
            )
    if tiers and not _is_default(tiers):  # the Workbook table stays implicit: it follows future defaults
        out_spec.setdefault("alerting", {})["tiers"] = tiers
    return {
        "apiVersion": "sre-agent/v1",
        "kind": "SLO",
        "metadata": {"name": meta.get("name"), "labels": labels},
        "spec": out_spec,
    }


def from_openslo(docs: list[YamlDocument]) -> tuple[list[tuple[SloDoc, YamlDocument]], list[ConfigIssue]]:
    """Convert the OpenSLO SLO documents of ``docs`` (resolving refs among all of them) into SLOs."""
    issues: list[ConfigIssue] = []
    for doc in docs:
        if doc.data.get("kind") not in _KINDS:
            issues.append(doc.issue(("kind",), f"unsupported OpenSLO kind {doc.data.get('kind')!r}"))
    index = {kind: _by_name(docs, kind) for kind in _KINDS}
    out = []
    for doc in docs:
        if doc.data.get("kind") != "SLO":
            continue
        try:
            converted = _convert(doc, index)
        except _LocatedError as exc:
            issues.append(exc.issue)
            continue
        try:
            out.append((SloDoc.model_validate(converted), doc))
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                where = ".".join(str(p) for p in err["loc"])
                issues.append(doc.issue(("spec",), f"{where}: {err['msg'].removeprefix('Value error, ')}"))
    return out, issues


def _metric(slo: SloDoc, count: str) -> dict[str, Any]:
    sli = slo.spec.sli.model_dump(mode="json", exclude_defaults=False)
    kql = slo.spec.sli.kind == "kql"
    return {
        "metricSource": {
            "metricSourceRef": "azure-log-analytics" if kql else "snowflake",
            "type": "AzureLogAnalytics" if kql else "Snowflake",
            "spec": {"sli": sli, "filters": slo.spec.filters.used(), "count": count},
        }
    }


def to_openslo(slo: SloDoc) -> list[dict[str, Any]]:
    """The OpenSLO v1 documents (SLI, AlertConditions, AlertPolicies, SLO) describing ``slo``."""
    spec = slo.spec
    name = slo.name
    docs: list[dict[str, Any]] = []
    threshold_sli = spec.sli.kind in ("latency_percentile", "freshness")
    sli_spec: dict[str, Any] = (
        {"thresholdMetric": _metric(slo, "value")}
        if threshold_sli
        else {"ratioMetric": {"counter": False, "good": _metric(slo, "good"), "total": _metric(slo, "total")}}
    )
    docs.append({"apiVersion": OPENSLO_API, "kind": "SLI", "metadata": {"name": f"{name}-sli"}, "spec": sli_spec})
    policies = []
    period = spec.period.length
    for tier in spec.alerting.effective_tiers():
        tier_name = f"{name}-{tier.severity}-{format_duration(tier.long)}"
        tier_notes = {PREFIX + "short-window": format_duration(tier.short)}
        if tier.budget_percent is not None:
            tier_notes[PREFIX + "budget-percent"] = str(tier.budget_percent)
        if tier.min_events is not None:
            tier_notes[PREFIX + "min-events"] = str(tier.min_events)
        docs.append(
            {
                "apiVersion": OPENSLO_API,
                "kind": "AlertCondition",
                "metadata": {"name": tier_name, "annotations": tier_notes},
                "spec": {
                    "severity": tier.severity,
                    "condition": {
                        "kind": "burnrate",
                        "op": "gte",
                        "threshold": float(tier.factor(period)),
                        "lookbackWindow": format_duration(tier.long),
                        "alertAfter": "0m",
                    },
                },
            }
        )
        docs.append(
            {
                "apiVersion": OPENSLO_API,
                "kind": "AlertPolicy",
                "metadata": {"name": tier_name},
                "spec": {
                    "alertWhenBreaching": True,
                    "alertWhenResolved": True,
                    "alertWhenNoData": False,
                    "conditions": [{"conditionRef": tier_name}],
                },
            }
        )
        policies.append({"alertPolicyRef": tier_name})
    if spec.period.rolling is not None:
        window: dict[str, Any] = {"duration": format_duration(spec.period.rolling), "isRolling": True}
    else:
        unit = {"day": "1d", "week": "1w", "month": "1M"}[str(spec.period.calendar)]
        window = {"duration": unit, "calendar": {"startTime": "2026-01-01 00:00:00", "timeZone": spec.period.time_zone}}
    objective: dict[str, Any] = {"displayName": spec.description or name, "target": float(spec.objective / 100)}
    if threshold_sli:
        objective["op"] = "lte"
        sli = spec.sli
        objective["value"] = int(sli.max_age.total_seconds()) if sli.kind == "freshness" else sli.threshold_ms  # type: ignore[union-attr]
    if spec.budgeting_method == "Timeslices":
        objective["timeSliceWindow"] = format_duration(spec.slice_length)
        if spec.timeslice_target is not None:
            objective["timeSliceTarget"] = float(spec.timeslice_target)
    annotations: dict[str, str] = {PREFIX + "owner": spec.owner}
    if spec.budgeting_method == "Timeslices" and spec.timeslice is None:
        annotations[PREFIX + "timeslice"] = "default"
    if spec.domain:
        annotations[PREFIX + "domain"] = spec.domain
    if spec.runbook:
        annotations[PREFIX + "runbook"] = spec.runbook
    if spec.exclusions:
        annotations[PREFIX + "exclusions"] = json.dumps(
            [e.model_dump(mode="json", exclude_none=True) for e in spec.exclusions]
        )
    alerting = spec.alerting.model_dump(mode="json", exclude={"tiers"}, exclude_defaults=True)
    if alerting:
        annotations[PREFIX + "alerting"] = json.dumps(alerting)
    slo_doc: dict[str, Any] = {
        "apiVersion": OPENSLO_API,
        "kind": "SLO",
        "metadata": {
            "name": name,
            "displayName": spec.description or name,
            "labels": dict(slo.metadata.labels),
            "annotations": annotations,
        },
        "spec": {
            "service": spec.service,
            "description": spec.description,
            "indicatorRef": f"{name}-sli",
            "timeWindow": [window],
            "budgetingMethod": spec.budgeting_method,
            "objectives": [objective],
            "alertPolicies": policies,
        },
    }
    docs.append(slo_doc)
    return docs
