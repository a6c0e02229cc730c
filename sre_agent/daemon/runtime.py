"""The agent's runtime: config, store, source and sinks wired together once, used by every job."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core.credentials import TokenCredential
from rich.console import Console

from sre_agent.alerting.routing import Routing, build_routing
from sre_agent.config.agent import (
    AzureLogsSinkConfig,
    AzureMetricsSinkConfig,
    ConsoleSinkConfig,
    JsonlSinkConfig,
    WebhookSinkConfig,
)
from sre_agent.config.azure import AzureCostSourceConfig, AzureLogsQueryConfig
from sre_agent.config.loader import LoadedConfig
from sre_agent.engine.anomaly_series import SeriesMatrix
from sre_agent.engine.spend import SpendCache
from sre_agent.sinks.azure_logs import AzureLogsSink
from sre_agent.sinks.azure_metrics import AzureMetricsSink
from sre_agent.sinks.base import Sink
from sre_agent.sinks.console import ConsoleSink
from sre_agent.sinks.jsonl import JsonlSink
from sre_agent.sinks.webhook import WebhookSink, secret_from_env
from sre_agent.sources.azure_cost import AzureCostSource, CostPoller, CostSource
from sre_agent.sources.azure_metrics import AzureMetricsSource, MetricsSource
from sre_agent.sources.log_analytics import LogAnalyticsSli
from sre_agent.sources.snowflake import SnowflakeSource
from sre_agent.sources.snowflake_conn import connect_kwargs, connector
from sre_agent.store.alerts import AlertStore
from sre_agent.store.db import Database
from sre_agent.store.notifications import NotificationStore
from sre_agent.store.outbox import Outbox
from sre_agent.store.rollups import RollupStore
from sre_agent.store.silences import SilenceStore
from sre_agent.store.slo_minutes import SloMinutes
from sre_agent.store.watermarks import Watermarks

log = logging.getLogger(__name__)


@dataclass
class Agent:
    """Everything a cycle needs. Build with :func:`open_agent`; close when done."""

    loaded: LoadedConfig
    db: Database
    source: SnowflakeSource
    sinks: list[Sink]
    azure_metrics: MetricsSource | None = None
    """Azure platform metrics (real or simulated), when ``spec.azure.metrics`` is configured."""
    azure_cost: CostSource | None = None
    """Daily Azure spend (Cost Management, or simulated), when ``spec.azure.cost`` is configured."""
    log_analytics: LogAnalyticsSli | None = None
    """Log Analytics, when an SLO has a ``kind: kql`` SLI."""
    rollups: RollupStore = field(init=False)
    watermarks: Watermarks = field(init=False)
    alerts: AlertStore = field(init=False)
    outbox: Outbox = field(init=False)
    slo_minutes: SloMinutes = field(init=False)
    notifications: NotificationStore = field(init=False)
    silence_store: SilenceStore = field(init=False)
    routing: Routing = field(init=False)
    anomaly_series: dict[str, SeriesMatrix] = field(default_factory=dict)
    """LatencyAnomaly rule → its bucketed series, rebuilt from the store after a restart."""
    budget_spend: dict[str, SpendCache] = field(default_factory=dict)
    """CostBudget → its hourly spend for the days that can no longer change, rebuilt after a restart."""
    connect: Callable[[], Any] | None = None
    """Opens a Snowflake connection: reports read through their own, so a long report never holds up polls."""
    report_retry_at: dict[str, int] = field(default_factory=dict)
    """Scheduled report (kind:key) → when to try it again after a failure (reports read a week of history)."""
    reload_error: str | None = None
    """Why the last reload of the config files was refused (None: the files on disk are the config running)."""

    def __post_init__(self) -> None:
        self.slo_minutes = SloMinutes(self.db)
        self.notifications = NotificationStore(self.db)
        self.silence_store = SilenceStore(self.db)
        self.routing = build_routing(self.loaded.routing, alert_sinks(self.sinks))
        self.rollups = RollupStore(self.db)
        self.watermarks = Watermarks(self.db)
        self.alerts = AlertStore(self.db)
        self.outbox = Outbox(self.db)

    @property
    def spec(self) -> Any:
        """The AgentSpec."""
        return self.loaded.config.spec

    def enqueue_metrics(self, conn: sqlite3.Connection, records: list[dict[str, Any]], at: int) -> None:
        """Queue metric ``records`` for every sink that takes metrics (inside the caller's transaction)."""
        for sink in self.sinks:
            if not getattr(sink, "accepts_metrics", False):
                continue
            sources = getattr(sink, "metric_sources", None)  # None: every kind of metric record
            for record in records:
                if sources is None or record.get("source") in sources:
                    self.outbox.enqueue(conn, sink.name, record["dedup_key"], record, at)

    def close(self) -> None:
        """Close the source connection, the sinks and the store."""
        self.source.close()
        if self.azure_metrics is not None:
            self.azure_metrics.close()
        if self.azure_cost is not None:
            self.azure_cost.close()
        if self.log_analytics is not None:
            self.log_analytics.close()
        for sink in self.sinks:
            sink.close()
        self.db.close()


def report_sinks(sinks: list[Sink]) -> list[str]:
    """Names of the sinks that announce written reports (the console, Azure Monitor Logs): the JSONL file keeps
    to notifications, and webhooks and pagers take incidents, not documents."""
    return [sink.name for sink in sinks if getattr(sink, "accepts_reports", False)]


def alert_sinks(sinks: list[Sink]) -> list[str]:
    """Names of the sinks that take alert notifications (metrics-only sinks are never receivers)."""
    return [sink.name for sink in sinks if getattr(sink, "accepts_alerts", True)]


def _default_credential() -> TokenCredential:
    from azure.identity import DefaultAzureCredential  # imported only where Azure is configured

    return DefaultAzureCredential()


def build_sinks(
    loaded: LoadedConfig, console: Console | None = None, credential: TokenCredential | None = None
) -> list[Sink]:
    """Instantiate the configured sinks (Azure ones with ``credential``, default: DefaultAzureCredential)."""
    sinks: list[Sink] = []
    for cfg in loaded.config.spec.sinks:
        if isinstance(cfg, ConsoleSinkConfig):
            sinks.append(ConsoleSink(console, cfg.name, metrics=cfg.metrics))
        elif isinstance(cfg, JsonlSinkConfig):
            metrics = loaded.resolve(cfg.metrics_path) if cfg.metrics_path else None
            sinks.append(JsonlSink(loaded.resolve(cfg.path), cfg.name, metrics, cfg.max_bytes, cfg.keep))
        elif isinstance(cfg, AzureLogsSinkConfig):
            credential = credential or _default_credential()
            sinks.append(
                AzureLogsSink(
                    cfg.name,
                    cfg.endpoint,
                    cfg.rule_id,
                    cfg.stream_name,
                    credential,
                    cfg.timeout.total_seconds(),
                    loaded.resolve(cfg.ca_bundle) if cfg.ca_bundle else None,
                )
            )
        elif isinstance(cfg, AzureMetricsSinkConfig):
            credential = credential or _default_credential()
            sinks.append(
                AzureMetricsSink(
                    cfg.name,
                    cfg.resource_id,
                    cfg.region,
                    cfg.namespace,
                    credential,
                    endpoint=cfg.endpoint,
                    timeout_s=cfg.timeout.total_seconds(),
                    ca_bundle=loaded.resolve(cfg.ca_bundle) if cfg.ca_bundle else None,
                )
            )
        elif isinstance(cfg, WebhookSinkConfig):
            sinks.append(
                WebhookSink(
                    cfg.name,
                    cfg.url,
                    cfg.format,
                    secret_from_env(cfg.secret_env),  # checked at load: the variable is set
                    cfg.secret_header,
                    cfg.timeout.total_seconds(),
                    loaded.resolve(cfg.ca_bundle) if cfg.ca_bundle else None,
                )
            )
    return sinks


def open_agent(
    loaded: LoadedConfig,
    connect: Callable[[], Any] | None = None,
    sinks: list[Sink] | None = None,
    console: Console | None = None,
    azure_metrics: MetricsSource | None = None,
    log_analytics: LogAnalyticsSli | None = None,
    azure_cost: CostSource | None = None,
) -> Agent:
    """Open the store, the Snowflake source, the Azure metrics source and the sinks for ``loaded``.

    ``connect`` overrides how Snowflake connections are opened (the embedded server passes its own);
    otherwise the config's ``snowflake.connection`` is used. ``azure_metrics`` overrides the Azure metrics
    source (the embedded account passes its simulated one); otherwise ``azure.metrics`` builds a real one.
    """
    spec = loaded.config.spec
    db = Database(loaded.resolve(spec.store.path))
    if connect is None:
        if spec.snowflake.connection is None:
            raise ValueError("no Snowflake connection configured and no embedded server given")
        connect = connector(connect_kwargs(spec.snowflake.connection))
    source = SnowflakeSource(connect, loaded.latency_thresholds_ms())
    source.pattern_min_queries = loaded.pattern_min_queries() or 1
    metrics_config = spec.azure.metrics if spec.azure is not None else None
    if azure_metrics is None and metrics_config is not None:
        if metrics_config.simulated:
            raise ValueError("azure.metrics.simulated needs the embedded Snowflake (its synthetic platform)")
        ca = loaded.resolve(metrics_config.ca_bundle) if metrics_config.ca_bundle else None
        azure_metrics = AzureMetricsSource(metrics_config, _default_credential(), ca)
    if log_analytics is None and any(slo.spec.sli.kind == "kql" for slo in loaded.slos):
        logs_config = spec.azure.logs if spec.azure is not None else AzureLogsQueryConfig()
        ca = loaded.resolve(logs_config.ca_bundle) if logs_config.ca_bundle else None
        log_analytics = LogAnalyticsSli(logs_config, _default_credential(), ca)
    built = sinks if sinks is not None else build_sinks(loaded, console)
    cost_config = spec.azure.cost if spec.azure is not None else None
    if azure_cost is None and cost_config is not None:
        azure_cost = _cost_source(loaded, cost_config)
    agent = Agent(loaded, db, source, built, azure_metrics, azure_cost=azure_cost, log_analytics=log_analytics)
    agent.connect = connect
    return agent


def _cost_source(loaded: LoadedConfig, config: AzureCostSourceConfig) -> CostSource:
    """The Cost Management poller of ``azure.cost`` (simulated: the embedded platform's, with its seed)."""
    embedded = loaded.config.spec.snowflake.embedded
    if config.simulated:
        if embedded is None:
            raise ValueError("azure.cost.simulated needs the embedded Snowflake (its synthetic platform)")
        from sre_agent.simulate.azure_cost import SimulatedAzureCost

        return SimulatedAzureCost(config, embedded.seed)
    ca = loaded.resolve(config.ca_bundle) if config.ca_bundle else None
    source = AzureCostSource(_default_credential(), config.endpoint, ca, timeout_s=config.timeout.total_seconds())
    return CostPoller(config.scope, tuple(config.group_by), source, config.cost_type)
