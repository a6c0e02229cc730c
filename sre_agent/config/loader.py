"""Load the agent config and rule files, reporting every problem with ``file:line:col`` in one pass."""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sre_agent.alerting.silences import Silence, from_doc
from sre_agent.config.agent import AgentConfig, AzureLogsSinkConfig, AzureMetricsSinkConfig, WebhookSinkConfig
from sre_agent.config.anomaly import LatencyAnomalyRule, anomaly_lookback
from sre_agent.config.budget import CostBudgetDoc, budget_lookback
from sre_agent.config.budget_checks import check_budget, overlapping_budgets
from sre_agent.config.openslo import OPENSLO_API, from_openslo
from sre_agent.config.routing import RoutingDoc, SilenceDoc
from sre_agent.config.routing_checks import check_routing
from sre_agent.config.slo import SloDoc
from sre_agent.config.slo_checks import check_slo, slo_lookback
from sre_agent.config.specs import RULE_KINDS, ThresholdRule
from sre_agent.config.yaml_source import Loc, YamlDocument, format_loc, load_yaml_file
from sre_agent.engine.metrics import METRICS
from sre_agent.engine.rollups import AZURE_METRIC, QUERY, QUERY_PATTERN, ROLLUPS, WAREHOUSE_METERING
from sre_agent.errors import ConfigError, ConfigIssue

_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SUMMARY_FIELDS = frozenset({"metric", "value", "threshold", "op", "window", "severity", "rule", "unit"})
RULE_SUFFIXES = (".yaml", ".yml")


@dataclass
class LoadedConfig:
    """A validated agent config with its rules, ready to run."""

    config: AgentConfig
    path: Path
    rules: list[ThresholdRule]
    rule_files: dict[str, str] = field(default_factory=dict)
    """rule or SLO name → file it came from."""
    warnings: list[ConfigIssue] = field(default_factory=list)
    slos: list[SloDoc] = field(default_factory=list)
    routing: RoutingDoc | None = None
    silences: list[Silence] = field(default_factory=list)
    """Silences declared in git (``kind: Silence``)."""
    anomalies: list[LatencyAnomalyRule] = field(default_factory=list)
    """``kind: LatencyAnomaly`` rules."""
    budgets: list[CostBudgetDoc] = field(default_factory=list)
    """``kind: CostBudget`` rules."""

    @property
    def base_dir(self) -> Path:
        """Folder of the config file; relative paths in it are resolved from here."""
        return self.path.parent

    def resolve(self, path: Path) -> Path:
        """Resolve ``path`` against the config's folder."""
        return resolve_from(self.base_dir, path)

    def rule_names(self) -> list[str]:
        """Names of every rule document it evaluates: threshold rules, anomaly rules, SLOs, budgets (in that order)."""
        return [
            *(r.name for r in self.rules),
            *(a.name for a in self.anomalies),
            *(s.name for s in self.slos),
            *(b.name for b in self.budgets),
        ]

    def pattern_min_queries(self) -> int | None:
        """The pattern rollup's volume filter: the smallest ``min_queries`` of the pattern-scoped anomaly rules
        (None: no such rule, the pattern rollup is not polled)."""
        wanted = [a.spec.min_queries for a in self.anomalies if "pattern" in a.spec.group_by]
        return min(wanted) if wanted else None

    def latency_thresholds_ms(self) -> list[int]:
        """Latency thresholds to push down: the configured ones plus those the rules need."""
        wanted = set(self.config.spec.snowflake.latency_thresholds_ms)
        wanted.update(r.spec.latency_threshold_ms for r in self.rules if r.spec.latency_threshold_ms)
        return sorted(wanted)


def _clean_loc(data: Any, loc: tuple[Any, ...]) -> Loc:
    """Drop parts of a pydantic location that are not in the data (union tags such as ``jsonl``)."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, dict) and isinstance(part, str):
            key = part
            if key not in node and key == "for_":
                key = "for"
            if key in node:
                out.append(key)
                node = node[key]
                continue
            if last:
                out.append(key)
            continue
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
            continue
        if last and isinstance(part, str | int):
            out.append(part)
    return tuple(out)


def validation_issues(doc: YamlDocument, error: ValidationError, prefix: Loc = ()) -> list[ConfigIssue]:
    """Turn a pydantic ValidationError into located issues, one per error."""
    issues = []
    for err in error.errors(include_url=False):
        loc = _clean_loc(doc.data, (*prefix, *err["loc"]))
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "missing":
            message = "required field is missing"
        issues.append(doc.issue(loc, message, key=err["type"] == "extra_forbidden"))
    return issues


def _interpolate(doc: YamlDocument, value: Any, loc: Loc, issues: list[ConfigIssue]) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in strings with environment values."""
    if isinstance(value, dict):
        return {k: _interpolate(doc, v, (*loc, k), issues) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(doc, v, (*loc, i), issues) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        issues.append(doc.issue(loc, f"environment variable {name} is not set"))
        return ""

    return _ENV_RE.sub(replace, value)


def _parse(model: type[BaseModel], doc: YamlDocument, issues: list[ConfigIssue], data: Any = None) -> Any:
    try:
        return model.model_validate(doc.data if data is None else data)
    except ValidationError as exc:
        issues.extend(validation_issues(doc, exc))
        return None


def load_agent_config(path: Path) -> tuple[AgentConfig | None, list[ConfigIssue]]:
    """Parse an AgentConfig file; return it (or None) and every issue found."""
    docs, issues = load_yaml_file(path)
    if issues:
        return None, issues
    if len(docs) != 1:
        return None, [ConfigIssue(str(path), 1, 1, "", "an agent config file holds exactly one document")]
    doc = docs[0]
    if not isinstance(doc.data, dict) or doc.data.get("kind") != "AgentConfig":
        return None, [doc.issue(("kind",), "expected kind: AgentConfig")]
    data = _interpolate(doc, doc.data, (), issues)
    config = _parse(AgentConfig, doc, issues, data)
    return config, issues


def rule_paths(paths: list[Path]) -> tuple[list[Path], list[ConfigIssue]]:
    """Expand files and folders (recursively) into rule files, sorted for stable output."""
    found: list[Path] = []
    issues = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            issues.append(ConfigIssue(str(path), 1, 1, "", "no such file or folder"))
    return found, issues


def _summary_placeholders(text: str) -> set[str]:
    """Names used in a summary template.

    Raises:
        ValueError: a positional field (``{}``, ``{0}``), a format spec or a conversion — values are
            already formatted with their unit when the template is filled.
    """
    names = set()
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if name == "" or name.isdigit():
            raise ValueError("positional fields such as {} are not allowed; name the field, e.g. {value}")
        if spec or conversion:
            raise ValueError(f"{{{name}}} must not carry a format spec or conversion: values come pre-formatted")
        names.add(name)
    return names


def _check_rule(rule: ThresholdRule, doc: YamlDocument, config: AgentConfig | None) -> list[ConfigIssue]:
    """Semantic checks a schema cannot express: inventory names, labels, summary placeholders."""
    issues: list[ConfigIssue] = []
    spec = rule.spec
    if config is not None:
        issues.extend(config.spec.inventory.unknown(doc, ("spec", "where"), spec.where))
    rollup = ROLLUPS[METRICS[spec.metric].rollup]
    clash = set(rule.metadata.labels) & set(rollup.dims)
    for label in sorted(clash):
        issues.append(
            doc.issue(
                ("metadata", "labels", label),
                f"static label {label!r} clashes with the {rollup.name} rollup label of the same name",
                key=True,
            )
        )
    allowed = _SUMMARY_FIELDS | set(spec.group_by) | set(rule.metadata.labels)
    if config:
        allowed |= set(config.spec.labels)
    try:
        unknown = _summary_placeholders(spec.summary) - allowed
    except ValueError as exc:
        return [*issues, doc.issue(("spec", "summary"), f"invalid summary template: {exc}")]
    if unknown:
        issues.append(
            doc.issue(
                ("spec", "summary"),
                f"unknown placeholder(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}",
            )
        )
    return issues


def _check_anomaly(rule: LatencyAnomalyRule, doc: YamlDocument, config: AgentConfig | None) -> list[ConfigIssue]:
    """Scope names must be in the inventory; static labels must not clash with the series' labels."""
    issues: list[ConfigIssue] = []
    if config is not None:
        scope = {k: v for k, v in rule.spec.scope.model_dump().items() if v}
        issues.extend(config.spec.inventory.unknown(doc, ("spec", "scope"), scope))
    for label in sorted(set(rule.metadata.labels) & {*QUERY_PATTERN.dims, "signal"}):
        message = f"static label {label!r} clashes with the series label of the same name"
        issues.append(doc.issue(("metadata", "labels", label), message, key=True))
    return issues


@dataclass
class Documents:
    """What a set of rule/SLO files holds."""

    rules: list[ThresholdRule] = field(default_factory=list)
    slos: list[SloDoc] = field(default_factory=list)
    origin: dict[str, str] = field(default_factory=dict)
    """spec name → the file it came from."""
    issues: list[ConfigIssue] = field(default_factory=list)
    routing: RoutingDoc | None = None
    silences: list[Silence] = field(default_factory=list)
    anomalies: list[LatencyAnomalyRule] = field(default_factory=list)
    budgets: list[CostBudgetDoc] = field(default_factory=list)
    budget_docs: list[YamlDocument] = field(default_factory=list)
    """The YAML of each budget (same order), to locate checks that need the whole set."""


def _register(found: Documents, name: str, doc: YamlDocument, file: Path, what: str = "rule") -> bool:
    """Claim ``name`` for ``file``; rules and SLOs share one namespace (both name alerts)."""
    if name in found.origin:
        message = f"duplicate {what} name {name!r} (first in {found.origin[name]})"
        found.issues.append(doc.issue(("metadata", "name"), message))
        return False
    found.origin[name] = str(file)
    return True


def _check_runbook(found: Documents, doc: YamlDocument, runbook: str | None, runbooks: Path | None) -> None:
    if runbooks is not None and runbook and not (runbooks / f"{runbook}.md").is_file():
        found.issues.append(doc.issue(("spec", "runbook"), f"runbook {runbook!r} not found in {runbooks}"))


def load_documents(paths: list[Path], config: AgentConfig | None = None, runbooks: Path | None = None) -> Documents:
    """Load every rule and SLO document under ``paths`` (sre-agent/v1, and OpenSLO v1 SLOs)."""
    files, issues = rule_paths(paths)
    found = Documents(issues=issues)
    openslo_docs: list[tuple[Path, YamlDocument]] = []
    routing_docs: list[tuple[RoutingDoc, YamlDocument]] = []
    silence_names: dict[str, str] = {}
    for file in files:
        docs, file_issues = load_yaml_file(file)
        found.issues.extend(file_issues)
        if not docs and not file_issues:
            # Refused, not skipped: a deploy that truncated a rule file would otherwise close every alert its rules
            # raised, with "OK" from validate.
            message = (
                "no documents (the file is empty or holds only comments): a truncated deploy? Restore it, or take "
                "it out of spec.rules / spec.slos"
            )
            found.issues.append(ConfigIssue(str(file), 1, 1, "", message))
        for doc in docs:
            if not isinstance(doc.data, dict):
                found.issues.append(doc.issue((), "a document must be a mapping with apiVersion, kind, spec"))
                continue
            kind = doc.data.get("kind")
            api = doc.data.get("apiVersion")
            if api == OPENSLO_API:
                openslo_docs.append((file, doc))
                continue
            if api != "sre-agent/v1":
                found.issues.append(doc.issue(("apiVersion",), f"apiVersion must be sre-agent/v1 or {OPENSLO_API}"))
                continue
            if kind == "SLO":
                slo = _parse(SloDoc, doc, found.issues)
                if slo is not None and _register(found, slo.name, doc, file, "SLO"):
                    found.issues.extend(check_slo(slo, doc, config))
                    _check_runbook(found, doc, slo.spec.runbook, runbooks)
                    found.slos.append(slo)
                continue
            if kind in ("AlertRouting", "Silence"):
                _load_alerting_doc(found, doc, file, routing_docs, silence_names)
                continue
            if kind == "LatencyAnomaly":
                anomaly = _parse(LatencyAnomalyRule, doc, found.issues)
                if anomaly is not None and _register(found, anomaly.name, doc, file):
                    found.issues.extend(_check_anomaly(anomaly, doc, config))
                    _check_runbook(found, doc, anomaly.spec.runbook, runbooks)
                    found.anomalies.append(anomaly)
                continue
            if kind == "CostBudget":
                budget = _parse(CostBudgetDoc, doc, found.issues)
                if budget is not None and _register(found, budget.name, doc, file, "budget"):
                    found.issues.extend(check_budget(budget, doc, config))
                    _check_runbook(found, doc, budget.spec.runbook, runbooks)
                    found.budgets.append(budget)
                    found.budget_docs.append(doc)
                continue
            model = RULE_KINDS.get(str(kind))
            if model is None:
                known = ", ".join([*RULE_KINDS, "LatencyAnomaly", "CostBudget", "SLO", "AlertRouting", "Silence"])
                found.issues.append(doc.issue(("kind",), f"unsupported kind {kind!r}; this version evaluates: {known}"))
                continue
            rule = _parse(model, doc, found.issues)
            if rule is None or not _register(found, rule.name, doc, file):
                continue
            found.issues.extend(_check_rule(rule, doc, config))
            _check_runbook(found, doc, rule.spec.runbook, runbooks)
            found.rules.append(rule)
    if openslo_docs:
        converted, openslo_issues = from_openslo([d for _, d in openslo_docs])
        found.issues.extend(openslo_issues)
        files_of = {id(d): f for f, d in openslo_docs}
        for slo, doc in converted:
            if _register(found, slo.name, doc, files_of[id(doc)], "SLO"):
                found.issues.extend(check_slo(slo, doc, config))
                _check_runbook(found, doc, slo.spec.runbook, runbooks)
                found.slos.append(slo)
    found.issues.extend(overlapping_budgets(found.budgets, found.budget_docs))
    for routing, ydoc in routing_docs[:1]:
        found.routing = routing
        found.issues.extend(check_routing(routing, ydoc, config, found.rules, found.slos, found.anomalies))
    for _, ydoc in routing_docs[1:]:
        first = routing_docs[0][1].file
        found.issues.append(
            ydoc.issue(("kind",), f"a second AlertRouting document (the first is in {first}): keep one")
        )
    return found


def _load_alerting_doc(
    found: Documents,
    doc: YamlDocument,
    file: Path,
    routing_docs: list[tuple[RoutingDoc, YamlDocument]],
    silence_names: dict[str, str],
) -> None:
    """Parse an AlertRouting or Silence document into ``found``."""
    if doc.data.get("kind") == "AlertRouting":
        routing = _parse(RoutingDoc, doc, found.issues)
        if routing is not None:
            routing_docs.append((routing, doc))
        return
    silence = _parse(SilenceDoc, doc, found.issues)
    if silence is None:
        return
    if silence.name in silence_names:
        message = f"duplicate silence name {silence.name!r} (first in {silence_names[silence.name]})"
        found.issues.append(doc.issue(("metadata", "name"), message))
        return
    silence_names[silence.name] = str(file)
    found.silences.append(from_doc(silence, str(file)))


def load_rules(
    paths: list[Path], config: AgentConfig | None = None, runbooks: Path | None = None
) -> tuple[list[ThresholdRule], dict[str, str], list[ConfigIssue]]:
    """Load every rule document under ``paths``; return rules, name → file, and all issues (SLOs included)."""
    found = load_documents(paths, config, runbooks)
    return found.rules, found.origin, found.issues


class _ConfigFile:
    """Locates issues found after the config was parsed; the file is re-read once, and only if one is found."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @cached_property
    def _doc(self) -> YamlDocument | None:
        docs, _ = load_yaml_file(self.path)
        return docs[0] if docs else None

    def issue(self, loc: Loc, message: str) -> ConfigIssue:
        """An error at ``loc`` of the config file (line 1 if the file can no longer be read)."""
        if self._doc is None:
            return ConfigIssue(str(self.path), 1, 1, format_loc(loc), message)
        return self._doc.issue(loc, message)


def _retention_issues(
    file: _ConfigFile,
    config: AgentConfig,
    rules: list[ThresholdRule],
    slos: list[SloDoc],
    anomalies: list[LatencyAnomalyRule],
    budgets: list[CostBudgetDoc],
) -> list[ConfigIssue]:
    """Rollups must be kept longer than any rule or SLO looks back (window or period, plus the view's latency)."""
    need = timedelta(0)
    for rule in rules:
        rollup = ROLLUPS[METRICS[rule.spec.metric].rollup]
        need = max(need, rule.spec.window + rollup.latency_horizon + rollup.grain)
    for slo in slos:
        need = max(need, slo_lookback(slo))
    for anomaly in anomalies:
        need = max(need, anomaly_lookback(anomaly.spec) + QUERY.latency_horizon)
    for budget in budgets:
        need = max(need, budget_lookback(budget.spec) + WAREHOUSE_METERING.latency_horizon)
    retention = config.spec.store.retention
    if need <= retention:
        return []
    message = f"retention {retention} is shorter than the longest look-back of the rules ({need})"
    return [file.issue(("spec", "store", "retention"), message)]


def _azure_issues(file: _ConfigFile, config: AgentConfig, rules: list[ThresholdRule]) -> list[ConfigIssue]:
    """Rules on Azure platform metrics need ``azure.metrics``; a simulated Azure side needs the embedded account."""
    metrics = config.spec.azure.metrics if config.spec.azure is not None else None
    azure_rules = sorted(r.name for r in rules if METRICS[r.spec.metric].rollup == AZURE_METRIC.name)
    issues = []
    if azure_rules and metrics is None:
        message = (
            f"rule(s) {', '.join(azure_rules)} read Azure platform metrics, but spec.azure.metrics is not configured "
            "(add it, or leave the Azure rule files out of spec.rules)"
        )
        issues.append(file.issue(("spec", "rules"), message))
    if metrics is not None and metrics.simulated and config.spec.snowflake.embedded is None:
        message = "simulated Azure metrics come from the embedded account's synthetic platform: set an endpoint"
        issues.append(file.issue(("spec", "azure", "metrics", "simulated"), message))
    if metrics is not None and metrics.simulated:
        from sre_agent.simulate.azure_catalog import check_simulated

        try:
            check_simulated(metrics)
        except ValueError as exc:
            issues.append(file.issue(("spec", "azure", "metrics", "resources"), str(exc)))
    return issues


def _cost_issues(file: _ConfigFile, config: AgentConfig) -> list[ConfigIssue]:
    """The warehouse → domain map names warehouses and domains of the inventory (when it lists them)."""
    cost = config.spec.cost
    if cost is None:
        return []
    inventory = config.spec.inventory
    issues = []
    for warehouse, domain in cost.warehouse_domains.items():
        loc = ("spec", "cost", "warehouse_domains", warehouse)
        for label, value in (("warehouse", warehouse), ("domain", domain)):
            message = inventory.unknown_value(label, value)
            if message:
                issues.append(file.issue(loc, message))
    return issues


def _sink_issues(file: _ConfigFile, config: AgentConfig) -> list[ConfigIssue]:
    """Sinks must be usable at start, not at the first send: secrets present, CA bundles readable."""
    issues = []
    for i, sink in enumerate(config.spec.sinks):
        if isinstance(sink, WebhookSinkConfig) and sink.secret_env is not None and not os.environ.get(sink.secret_env):
            message = f"environment variable {sink.secret_env} is not set"
            issues.append(file.issue(("spec", "sinks", i, "secret_env"), message))
        if (
            isinstance(sink, WebhookSinkConfig | AzureLogsSinkConfig | AzureMetricsSinkConfig)
            and sink.ca_bundle is not None
        ):
            bundle = resolve_from(file.path.parent, sink.ca_bundle)
            if not bundle.is_file():
                issues.append(file.issue(("spec", "sinks", i, "ca_bundle"), f"no such file: {bundle}"))
    return issues


def resolve_from(base: Path, path: Path) -> Path:
    """``path`` as written in a config in folder ``base``: absolute as it is, else relative to ``base``."""
    return path if path.is_absolute() else Path(os.path.normpath(base / path))


def document_paths(config: AgentConfig, path: Path) -> list[Path]:
    """The rule and SLO paths (files or folders) the config at ``path`` names, resolved."""
    return [resolve_from(path.parent, p) for p in [*config.spec.rules, *config.spec.slos]]


def load_config(path: Path, extra_rule_paths: list[Path] | None = None) -> LoadedConfig:
    """Load a config and its rules.

    Raises:
        ConfigError: with every problem found, when any of them is an error.
    """
    config, issues = load_agent_config(path)
    if config is None:
        raise ConfigError(issues or [ConfigIssue(str(path), 1, 1, "", "invalid config")])
    base = path.parent
    paths = [*document_paths(config, path), *(extra_rule_paths or [])]
    runbooks = resolve_from(base, config.spec.runbooks) if config.spec.runbooks is not None else None
    found = load_documents(paths, config, runbooks)
    issues.extend(found.issues)
    file = _ConfigFile(path)
    issues.extend(_retention_issues(file, config, found.rules, found.slos, found.anomalies, found.budgets))
    issues.extend(_sink_issues(file, config))
    store = resolve_from(path.parent, config.spec.store.path)
    if store.is_dir():
        issues.append(file.issue(("spec", "store", "path"), f"{store} is a directory: name the database file in it"))
    issues.extend(_cost_issues(file, config))
    issues.extend(_azure_issues(file, config, found.rules))
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise ConfigError(issues)
    warnings = [i for i in issues if i.severity != "error"]
    return LoadedConfig(
        config,
        path,
        found.rules,
        found.origin,
        warnings,
        found.slos,
        found.routing,
        found.silences,
        found.anomalies,
        found.budgets,
    )
