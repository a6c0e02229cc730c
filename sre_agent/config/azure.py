"""Azure settings shared by the sinks and sources: resource ids, endpoints, credentials, and the Azure sources."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from sre_agent.config.durations import Duration
from sre_agent.config.specs import Strict

RESOURCE_ID = (
    r"^/subscriptions/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"/resourceGroups/[-\w.()]{1,90}/providers/[A-Za-z0-9.]+/[A-Za-z0-9]+/[^/\s]+(/[A-Za-z0-9]+/[^/\s]+)*$"
)
"""A resource's full ARM id (not a subscription or resource group: custom metrics need a resource)."""


def https_url(value: str, what: str, example: str = "https://my-dce.westeurope-1.ingest.monitor.azure.com") -> str:
    """``value`` without a trailing slash if it is an https URL without a query, else a ValueError naming ``what``."""
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or parts.query:
        raise ValueError(f"{what} must be an https URL without a query, e.g. {example}")
    return value.rstrip("/")


class AzureConnection(Strict):
    """What every Azure client shares: how it authenticates and reaches Azure."""

    credential: Literal["default"] = Field(
        default="default", description="DefaultAzureCredential: workload/managed identity, environment, Azure CLI"
    )
    timeout: Duration = timedelta(seconds=30)
    ca_bundle: Path | None = Field(default=None, description="PEM of a private CA (TLS-inspecting proxies)")


def check_resource_id(value: str) -> str:
    """``value`` if it is a resource's full ARM id, else a ValueError saying what one looks like."""
    if not re.match(RESOURCE_ID, value):
        raise ValueError(
            "must be a resource's full id, /subscriptions/<guid>/resourceGroups/<rg>/providers/"
            "<namespace>/<type>/<name> (not a subscription or a resource group)"
        )
    return value


Aggregation = Literal["Average", "Maximum", "Minimum", "Total", "Count"]


class AzureMetricResource(Strict):
    """One watched Azure resource and the platform metrics read from it."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", description="short name: the `resource` label of its series"
    )
    id: str = Field(description="the resource's full ARM id")
    namespace: str = Field(
        pattern=r"^[A-Za-z0-9.]+/[A-Za-z0-9./]+$",
        description="its metric namespace, e.g. Microsoft.StreamAnalytics/streamingjobs",
    )
    metrics: dict[str, Aggregation] = Field(
        min_length=1,
        description="metric name → aggregation stored per minute (OutputWatermarkDelaySeconds: Maximum)",
    )
    labels: dict[str, str] = Field(default_factory=dict, description="documentation: team, service, domain")

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return check_resource_id(value)

    @property
    def subscription(self) -> str:
        """The subscription id in the resource id."""
        return self.id.split("/")[2].lower()


class AzureMetricsSourceConfig(AzureConnection):
    """Platform metrics of Azure resources through `azure-monitor-querymetrics` (`MetricsClient`, getBatch)."""

    endpoint: str | None = Field(
        default=None,
        description="regional batch endpoint (the resources' region): https://westeurope.metrics.monitor.azure.com",
    )
    simulated: bool = Field(
        default=False, description="embedded default only: the metrics come from the synthetic platform"
    )
    interval: Duration = Field(default=timedelta(minutes=5), description="poll cadence")
    overlap: Duration = Field(default=timedelta(minutes=30), description="re-read this much before the last poll")
    backfill: Duration = Field(default=timedelta(days=1), description="history read on the first poll")
    resources: list[AzureMetricResource] = Field(min_length=1)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return None if value is None else https_url(value, "endpoint", "https://westeurope.metrics.monitor.azure.com")

    @model_validator(mode="after")
    def _where(self) -> AzureMetricsSourceConfig:
        if self.endpoint is None and not self.simulated:
            raise ValueError(
                "give the regional endpoint (https://<region>.metrics.monitor.azure.com) or simulated: true"
            )
        names = [r.name for r in self.resources]
        if len(set(names)) != len(names):
            raise ValueError(f"resource names must be unique: {', '.join(sorted(names))}")
        if self.interval < timedelta(minutes=1) or self.overlap < timedelta(0):
            raise ValueError("interval must be at least 1m and overlap not negative")
        return self


class AzureLogsQueryConfig(AzureConnection):
    """Log Analytics queries (`azure-monitor-query` ``LogsQueryClient``) for SLIs of ``kind: kql``."""

    endpoint: str = Field(
        default="https://api.loganalytics.io", description="the Log Analytics query API (sovereign clouds differ)"
    )
    server_timeout: Duration = Field(default=timedelta(minutes=2), description="server-side query timeout (≤ 10m)")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return https_url(value, "endpoint", "https://api.loganalytics.io")


COST_SCOPE = r"^(/subscriptions/[0-9a-fA-F-]{36}(/resourceGroups/[-\w.()]{1,90})?|/providers/Microsoft\.Billing/.+)$"
"""A Cost Management scope: a subscription, a resource group, or a billing account / profile."""
CostGroup = Annotated[str, Field(pattern=r"^(ServiceName|ResourceGroupName|tag:[^\s,]{1,128})$")]


class AzureCostSourceConfig(AzureConnection):
    """Daily Azure spend from Cost Management (`azure-mgmt-costmanagement`), beside Snowflake's in the cost report."""

    scope: str = Field(
        pattern=COST_SCOPE,
        description="subscription (/subscriptions/<id>), resource group or billing scope to read costs at",
    )
    group_by: list[CostGroup] = Field(
        default_factory=lambda: ["ServiceName", "ResourceGroupName"],
        min_length=1,
        max_length=2,
        description="up to two of ServiceName, ResourceGroupName, tag:<key> (at most one tag)",
    )
    cost_type: Literal["ActualCost", "AmortizedCost"] = "ActualCost"
    endpoint: str | None = Field(
        default=None, description="Azure Resource Manager (default https://management.azure.com; sovereign clouds)"
    )
    simulated: bool = Field(default=False, description="embedded default only: costs of the synthetic platform")
    interval: Duration = Field(default=timedelta(hours=6), description="poll cadence (costs land 8-24 h late)")
    overlap: Duration = Field(default=timedelta(days=3), description="re-read: Azure restates recent days")
    backfill: Duration = Field(default=timedelta(days=35), description="history read on the first poll")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return None if value is None else https_url(value, "endpoint", "https://management.azure.com")

    @model_validator(mode="after")
    def _groups(self) -> AzureCostSourceConfig:
        if len(set(self.group_by)) != len(self.group_by) or sum(g.startswith("tag:") for g in self.group_by) > 1:
            raise ValueError("group_by lists a dimension twice or more than one tag")
        if self.interval < timedelta(hours=1):
            raise ValueError("interval must be at least 1h (Cost Management refreshes a few times a day)")
        return self


class AzureSettings(Strict):
    """The Azure half of the platform the agent watches."""

    metrics: AzureMetricsSourceConfig | None = None
    cost: AzureCostSourceConfig | None = Field(default=None, description="Cost Management: daily Azure spend")
    logs: AzureLogsQueryConfig = Field(
        default_factory=AzureLogsQueryConfig, description="Log Analytics, for SLOs with kind: kql SLIs"
    )
