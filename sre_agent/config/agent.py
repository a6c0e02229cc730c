"""The agent's own configuration (``kind: AgentConfig``): where to read, what to evaluate, where to send."""

from __future__ import annotations

import string
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from sre_agent.config.azure import AzureConnection, AzureSettings, check_resource_id, https_url
from sre_agent.config.cost import CostSettings
from sre_agent.config.durations import Duration
from sre_agent.config.optimize import ReportSettings
from sre_agent.config.specs import Metadata, Strict, check_label_names
from sre_agent.config.yaml_source import Loc, YamlDocument
from sre_agent.engine.rollups import ROLLUPS
from sre_agent.errors import ConfigIssue

IDENT_RE = r"^[A-Za-z_][A-Za-z0-9_$]{0,254}$"


class EmbeddedSettings(Strict):
    """Run against the embedded fake Snowflake, seeded by the synthetic workload generator."""

    seed: int = 42
    history: Duration = Field(default=timedelta(days=2), description="history seeded before now at start")
    queries_per_day: int = Field(default=40_000, gt=0, le=5_000_000)
    incidents: bool = Field(default=True, description="inject the scripted incidents into the history")
    db_path: Path | None = Field(default=None, description="persist the fake account in this directory")


class SnowflakeConnection(Strict):
    """How to reach a real Snowflake account with snowflake-connector-python.

    Every field may also come from the standard ``SNOWFLAKE_*`` environment variables or from a named
    connection in ``~/.snowflake/connections.toml`` (``connection_name``); secrets are never logged.
    """

    connection_name: str | None = Field(default=None, description="a [section] of connections.toml")
    account: str | None = None
    user: str | None = None
    role: str | None = Field(default=None, pattern=IDENT_RE, description="an unquoted Snowflake identifier")
    warehouse: str | None = Field(default=None, pattern=IDENT_RE)
    authenticator: str | None = Field(
        default=None, description="snowflake (password), SNOWFLAKE_JWT (key pair), externalbrowser, oauth"
    )
    password: SecretStr | None = None
    private_key_file: Path | None = None
    private_key_file_pwd: SecretStr | None = None
    token: SecretStr | None = Field(default=None, description="OAuth access token")
    token_file_path: Path | None = None
    host: str | None = Field(default=None, description="only to reach a Snowflake-compatible endpoint")
    port: int | None = None
    protocol: Literal["https", "http"] | None = None
    login_timeout: Duration = timedelta(seconds=30)
    network_timeout: Duration = timedelta(seconds=120)
    query_timeout: Duration = timedelta(minutes=10)


class PollSettings(Strict):
    """Cadence of one pushed-down query family."""

    interval: Duration
    overlap: Duration = Field(description="re-read this much before the last poll (≥ the view's latency)")


def _polls() -> dict[str, PollSettings]:
    return {
        "query": PollSettings(interval=timedelta(minutes=5), overlap=timedelta(minutes=60)),
        "query_pattern": PollSettings(interval=timedelta(minutes=5), overlap=timedelta(minutes=60)),
        "warehouse_load": PollSettings(interval=timedelta(minutes=15), overlap=timedelta(hours=4)),
        "query_cost": PollSettings(interval=timedelta(hours=1), overlap=timedelta(hours=7)),
        "database_storage": PollSettings(interval=timedelta(hours=6), overlap=timedelta(days=2)),
        "metering_daily": PollSettings(interval=timedelta(hours=6), overlap=timedelta(days=2)),
        "warehouse_metering": PollSettings(interval=timedelta(minutes=30), overlap=timedelta(hours=7)),
        "slo": PollSettings(interval=timedelta(minutes=5), overlap=timedelta(minutes=60)),
    }


class SnowflakeSettings(Strict):
    """The Snowflake source: connection (or embedded), cadence, backfill and pushdown settings."""

    embedded: EmbeddedSettings | None = None
    connection: SnowflakeConnection | None = None
    backfill: Duration = Field(default=timedelta(days=7), description="history read on the first poll")
    chunk: Duration = Field(default=timedelta(days=1), description="backfills are read in chunks this long")
    latency_thresholds_ms: list[int] = Field(
        default_factory=lambda: [1000, 5000, 30000, 120000],
        description="exact counts of successful queries at or under these latencies are pushed down",
    )
    polls: dict[str, PollSettings] = Field(default_factory=_polls)

    @model_validator(mode="after")
    def _one_target(self) -> SnowflakeSettings:
        if (self.embedded is None) == (self.connection is None):
            raise ValueError("set exactly one of snowflake.embedded or snowflake.connection")
        unknown = set(self.polls) - set(_polls())
        if unknown:
            raise ValueError(f"unknown poll families {sorted(unknown)}; known: {sorted(_polls())}")
        for name, poll in self.polls.items():
            if poll.interval <= timedelta(0):
                raise ValueError(f"polls.{name}.interval must be positive")
            horizon = ROLLUPS[name].latency_horizon
            if poll.overlap < horizon:
                raise ValueError(
                    f"polls.{name}.overlap ({poll.overlap}) is shorter than how late {ROLLUPS[name].view} rows "
                    f"land ({horizon}): rows landing later would be lost"
                )
        if self.chunk < timedelta(hours=1) or self.chunk % timedelta(hours=1):
            raise ValueError("chunk must be a whole number of hours (the coarsest rollup grain)")
        return self

    @field_validator("latency_thresholds_ms")
    @classmethod
    def _positive_sorted(cls, value: list[int]) -> list[int]:
        if any(v <= 0 for v in value):
            raise ValueError("latency thresholds must be positive milliseconds")
        if len(value) > 32:
            raise ValueError("at most 32 latency thresholds")
        return sorted(set(value))

    def poll(self, family: str) -> PollSettings:
        """Return the settings for ``family``, defaults filled in."""
        return self.polls.get(family) or _polls()[family]


class ConsoleSinkConfig(Strict):
    """Print notifications to stdout (coloured on a terminal)."""

    type: Literal["console"]
    name: str = "console"
    metrics: bool = Field(default=False, description="also print one line per SLO per evaluation (SLI, budget)")


class JsonlSinkConfig(Strict):
    """Append notifications to a JSON-lines file (idempotent by dedup key)."""

    type: Literal["jsonl"]
    name: str = "jsonl"
    path: Path
    metrics_path: Path | None = Field(
        default=None, description="also append metric records (SLO, Snowflake platform, agent health) to this file"
    )
    max_bytes: int = Field(
        default=100_000_000,
        ge=10_000,
        description="a file past this size is rotated (path.1, path.2 …): it never grows without bound",
    )
    keep: int = Field(default=3, ge=1, le=100, description="rotated files kept besides the current one")


class WebhookSinkConfig(Strict):
    """POST each notification to a webhook: Azure Common Alert Schema or PagerDuty Events v2."""

    type: Literal["webhook"]
    name: str = "webhook"
    url: str = Field(description="https URL (http only for 127.0.0.1/localhost); may use ${VAR} for signed URLs")
    format: Literal["common_alert_schema", "pagerduty"] = "common_alert_schema"
    secret_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="environment variable with the secret: a header value, or PagerDuty's routing key",
    )
    secret_header: str = Field(default="Authorization", pattern=r"^[A-Za-z0-9-]{1,64}$")
    timeout: Duration = Field(
        default=timedelta(seconds=10),
        description="total deadline of one request: connect, send and the whole answer (1s-2m)",
    )
    ca_bundle: Path | None = Field(default=None, description="PEM of a private CA the receiver's certificate chains to")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("url must be an absolute https URL")
        if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("url must use https (plain http only to 127.0.0.1/localhost)")
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                "url must not carry user:password@ (it would travel into logs and status): put the credential in "
                "an environment variable named by secret_env (sent as secret_header)"
            )
        return value

    @model_validator(mode="after")
    def _pagerduty_key(self) -> WebhookSinkConfig:
        if self.format == "pagerduty" and self.secret_env is None:
            raise ValueError("format pagerduty needs secret_env: the variable holding the integration's routing key")
        if not timedelta(seconds=1) <= self.timeout <= timedelta(minutes=2):
            raise ValueError("timeout must be between 1s and 2m")
        return self


class AzureLogsSinkConfig(AzureConnection):
    """Alert records into a Log Analytics custom table through the Logs Ingestion API (DCE/DCR)."""

    type: Literal["azure_logs"]
    name: str = "azure-logs"
    endpoint: str = Field(description="the Data Collection Endpoint (or the DCR's logsIngestion endpoint)")
    rule_id: str = Field(pattern=r"^dcr-[0-9a-f]{32}$", description="the DCR's immutable id (dcr-<32 hex>)")
    stream_name: str = Field(
        default="Custom-SreAgentAlerts_CL", pattern=r"^Custom-[A-Za-z0-9_]{1,100}$", description="the DCR stream"
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return https_url(value, "endpoint")


class AzureMetricsSinkConfig(AzureConnection):
    """Metric records (SLO, Snowflake platform, the agent's own health) as Azure Monitor custom metrics."""

    type: Literal["azure_metrics"]
    name: str = "azure-metrics"
    resource_id: str = Field(
        description="full id of the resource the metrics hang on, e.g. the agent's AKS cluster or a Log Analytics "
        "workspace: /subscriptions/<guid>/resourceGroups/<rg>/providers/<namespace>/<type>/<name>"
    )
    region: str = Field(
        pattern=r"^[a-z0-9]{2,40}$", description="the resource's Azure region, e.g. westeurope (sets the endpoint)"
    )
    namespace: str = Field(default="SREAgent", min_length=1, max_length=256, description="custom metric namespace")
    endpoint: str | None = Field(
        default=None, description="override of https://{region}.monitoring.azure.com (sovereign clouds, tests)"
    )

    @field_validator("resource_id")
    @classmethod
    def _resource_id(cls, value: str) -> str:
        try:
            return check_resource_id(value)
        except ValueError as exc:
            raise ValueError(
                f"resource_id {exc}; custom metrics cannot hang on a subscription or a resource group"
            ) from None

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return None if value is None else https_url(value, "endpoint", "https://westeurope.monitoring.azure.com")


SinkConfig = Annotated[
    ConsoleSinkConfig | JsonlSinkConfig | WebhookSinkConfig | AzureLogsSinkConfig | AzureMetricsSinkConfig,
    Field(discriminator="type"),
]

METRICS_ONLY_SINKS = (AzureMetricsSinkConfig,)
"""Sink types that take metric records only: never a receiver of alert routing."""


class StoreSettings(Strict):
    """The local SQLite state store."""

    path: Path = Path(".sre-agent/state.db")
    retention: Duration = Field(default=timedelta(days=35), description="rollups older than this are pruned")


class EvaluationSettings(Strict):
    """Cadence of rule evaluation (independent of polling)."""

    interval: Duration = timedelta(minutes=1)
    max_alerts_per_rule: int = Field(
        default=500,
        ge=1,
        description="a rule that would raise more alert instances fails instead (agent-rule-error names the rule "
        "and its widest label): 3,000 services in QUERY_TAG never become 3,000 pages; a rule's `limit` overrides",
    )
    max_catchup: Duration = Field(
        default=timedelta(hours=1), description="after downtime, evaluate at most this many missed minutes"
    )
    stale_after: Duration = Field(
        default=timedelta(minutes=30),
        description="a source this late past its poll interval freezes its rules",
    )

    @field_validator("interval")
    @classmethod
    def _whole_minutes(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1) or value % timedelta(minutes=1):
            raise ValueError("evaluation interval must be a whole number of minutes")
        return value


class ReloadSettings(Strict):
    """Hot reload of the rule documents (rules, SLOs, anomalies, budgets, routing, silences) by the daemon."""

    watch: bool = Field(default=True, description="reload when a config or rule file changes (SIGHUP always does)")
    interval: Duration = Field(default=timedelta(seconds=5), description="how often files are checked for changes")
    max_rule_loss: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="refuse a reload that removes more than this share of the running rules (a truncated deploy); "
        "restart to apply such a change on purpose",
    )


class DeliverySettings(Strict):
    """How the outbox delivers to sinks."""

    interval: Duration = timedelta(seconds=10)
    batch_size: int = Field(default=100, gt=0, le=10_000)
    max_attempts: int = Field(default=8, gt=0)
    max_backoff: Duration = timedelta(minutes=10)
    max_retry_after: Duration = Field(
        default=timedelta(hours=1),
        description="a receiver's Retry-After is honoured up to this long (longer, infinite or unreadable-far "
        "values are clamped to it)",
    )
    max_pending: int = Field(
        default=100_000, gt=0, description="per sink: beyond this many pending items the oldest are dropped (counted)"
    )
    max_age: Duration = Field(
        default=timedelta(days=7), description="pending items older than this are dropped (counted), not sent late"
    )
    shutdown_timeout: Duration = Field(
        default=timedelta(seconds=20),
        description="on SIGTERM, deliver what is due for at most this long before exiting (keep it under the pod's "
        "terminationGracePeriodSeconds; each request has its sink's own deadline)",
    )


GroupLabel = Literal["warehouse", "service", "domain"]


class IncidentSettings(Strict):
    """How firing alerts are grouped into incidents (the unit humans acknowledge, resolve and write up)."""

    group_by: list[GroupLabel] = Field(
        default_factory=lambda: list[GroupLabel](["warehouse", "service", "domain"]),
        description="an alert joins an open incident it shares one of these label values with",
    )
    window: Duration = Field(
        default=timedelta(minutes=30),
        description="an alert joins an incident active within this time; an incident whose alerts have all "
        "been resolved this long is resolved",
    )

    @field_validator("window")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("incidents.window must be positive")
        return value


class Inventory(Strict):
    """Names that rules and SLOs may refer to: unknown names are errors in rules, warnings in SLOs."""

    warehouses: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    domains: list[str] = Field(default_factory=list)

    def unknown(
        self, doc: YamlDocument, where: Loc, used: dict[str, list[str]], severity: str = "error"
    ) -> list[ConfigIssue]:
        """Issues for values of ``used`` (label → values, at ``where + (label, i)``) the inventory lacks."""
        issues = []
        for label, values in used.items():
            for i, value in enumerate(values):
                message = self.unknown_value(label, value)
                if message:
                    issues.append(doc.issue((*where, label, i), message, severity=severity))
        return issues

    def unknown_value(self, label: str, value: str) -> str | None:
        """Why ``value`` is not a known ``label`` (warehouse, service, domain), or None (known, or not listed)."""
        names = {"warehouse": self.warehouses, "service": self.services, "domain": self.domains}.get(label) or []
        if names and value not in names:
            return f"unknown {label} {value!r}; known: {', '.join(names)}"
        return None


class AgentSpec(Strict):
    """Everything the agent needs to run."""

    snowflake: SnowflakeSettings
    rules: list[Path] = Field(default_factory=lambda: [Path("rules")], description="rule files or folders")
    slos: list[Path] = Field(default_factory=list, description="SLO files or folders (sre-agent/v1 or OpenSLO v1)")
    runbooks: Path | None = Field(default=None, description="folder of <runbook-id>.md files")
    runbook_url: str = Field(
        default="runbooks/{id}.md", description="link put in notifications; {id} is the rule's runbook id"
    )
    inventory: Inventory = Field(default_factory=Inventory)
    store: StoreSettings = Field(default_factory=StoreSettings)
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    reload: ReloadSettings = Field(default_factory=ReloadSettings)
    sinks: list[SinkConfig] = Field(default_factory=lambda: list[SinkConfig]([ConsoleSinkConfig(type="console")]))
    labels: dict[str, str] = Field(default_factory=dict, description="labels added to every alert")
    azure: AzureSettings | None = Field(
        default=None, description="Azure sources: platform metrics, Cost Management spend, Log Analytics for kql SLIs"
    )
    cost: CostSettings | None = Field(
        default=None, description="prices and ownership: enables hourly cost attribution (polls query_cost)"
    )
    incidents: IncidentSettings = Field(default_factory=IncidentSettings)
    reports: ReportSettings = Field(
        default_factory=ReportSettings, description="thresholds of the reports (optimize: see config/optimize.py)"
    )

    @field_validator("runbook_url")
    @classmethod
    def _runbook_template(cls, value: str) -> str:
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        if fields != {"id"}:
            raise ValueError("runbook_url must contain exactly the placeholder {id} (e.g. .../runbooks/{id}.md)")
        return value

    @field_validator("sinks")
    @classmethod
    def _unique_sinks(cls, value: list[SinkConfig]) -> list[SinkConfig]:
        names = [s.name for s in value]
        if len(set(names)) != len(names):
            raise ValueError("sink names must be unique")
        return value

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        return check_label_names(value)


class AgentConfig(Strict):
    """A ``kind: AgentConfig`` document."""

    api_version: Literal["sre-agent/v1"] = Field(alias="apiVersion")
    kind: Literal["AgentConfig"]
    metadata: Metadata
    spec: AgentSpec
