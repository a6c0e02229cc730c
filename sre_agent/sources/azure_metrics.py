"""Azure platform metrics through `azure-monitor-querymetrics` (``MetricsClient.query_resources``, metrics:getBatch).

Resources are batched the way the batch API requires — same subscription and metric namespace, at most 50
resource ids per call (the region is the endpoint's) — one call per batch for all of its metrics at 1-minute
grain with the aggregations they need. Each minute's value of a metric's configured aggregation becomes one
``azure_metric`` rollup row (``value_sum``, ``samples`` 1, ``value_max``); minutes Azure has no value for are
absent, never zero. The SDK's own retries stay on for reads (a poll is repeated anyway at the next interval).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import polars as pl
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError

from sre_agent.config.azure import AzureMetricResource, AzureMetricsSourceConfig
from sre_agent.errors import SourceError
from sre_agent.sinks.http_failures import describe_azure_error
from sre_agent.store.rollups import BUCKET

BATCH_LIMIT = 50
"""metrics:getBatch takes at most 50 resource ids per call."""
AGGREGATION_FIELDS = {
    "Average": "average",
    "Maximum": "maximum",
    "Minimum": "minimum",
    "Total": "total",
    "Count": "count",
}
"""Configured aggregation → the ``MetricValue`` attribute that carries it."""
METRIC_ID_SUFFIX = "/providers/microsoft.insights/metrics/"


class MetricsSource(Protocol):
    """What polling needs from an Azure metrics source (real or simulated)."""

    def fetch(self, start: datetime, end: datetime) -> pl.DataFrame:
        """``azure_metric`` rollup rows for buckets in ``[start, end)``."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...


def empty_frame() -> pl.DataFrame:
    """An ``azure_metric`` rollup frame with no rows."""
    return pl.DataFrame(
        schema={
            BUCKET: pl.Int64(),
            "resource": pl.String(),
            "metric": pl.String(),
            "value_sum": pl.Float64(),
            "samples": pl.Int64(),
            "value_max": pl.Float64(),
        }
    )


def batches(resources: list[AzureMetricResource]) -> Iterator[list[AzureMetricResource]]:
    """Groups of resources one getBatch call can serve: same subscription and namespace, at most 50."""
    groups: dict[tuple[str, str], list[AzureMetricResource]] = defaultdict(list)
    for resource in resources:
        groups[(resource.subscription, resource.namespace.lower())].append(resource)
    for members in groups.values():
        for i in range(0, len(members), BATCH_LIMIT):
            yield members[i : i + BATCH_LIMIT]


class AzureMetricsSource:
    """Reads the configured resources' metrics with one ``MetricsClient``."""

    def __init__(self, config: AzureMetricsSourceConfig, credential: TokenCredential, ca_bundle: Path | None) -> None:
        from azure.monitor.querymetrics import MetricsClient  # imported only where Azure metrics are configured

        assert config.endpoint is not None
        self.config = config
        timeout = config.timeout.total_seconds()
        self._client = MetricsClient(
            config.endpoint,
            credential,
            connection_verify=str(ca_bundle) if ca_bundle is not None else True,
            connection_timeout=timeout,
            read_timeout=timeout,
            retry_total=2,
        )

    def fetch(self, start: datetime, end: datetime) -> pl.DataFrame:
        """Rollup rows for every configured resource and metric, minutes in ``[start, end)``.

        Raises:
            SourceError: a batch failed (403 without Monitoring Reader, an unknown metric name, throttling…).
        """
        rows: list[dict[str, Any]] = []
        for batch in batches(self.config.resources):
            rows.extend(self._batch(batch, start, end))
        return pl.DataFrame(rows, schema=empty_frame().schema) if rows else empty_frame()

    def _batch(self, batch: list[AzureMetricResource], start: datetime, end: datetime) -> list[dict[str, Any]]:
        names = sorted({metric for r in batch for metric in r.metrics})
        aggregations = sorted({agg for r in batch for agg in r.metrics.values()})
        by_id = {r.id.lower(): r for r in batch}
        try:
            results = self._client.query_resources(
                resource_ids=[r.id for r in batch],
                metric_namespace=batch[0].namespace,
                metric_names=names,
                timespan=(start, end),
                granularity=timedelta(minutes=1),
                aggregations=aggregations,
            )
        except AzureError as exc:
            where = f"{batch[0].namespace} ({len(batch)} resources)"
            raise SourceError("azure_metrics", where, describe_azure_error(exc)) from exc
        lo, hi = start.timestamp(), end.timestamp()
        rows = []
        for result in results:
            for metric in result.metrics:
                # The metric's id is "<resource id>/providers/Microsoft.Insights/metrics/<name>".
                resource = by_id.get(metric.id.lower().split(METRIC_ID_SUFFIX)[0])
                name = metric.name
                if resource is None or name not in resource.metrics:
                    continue  # a metric asked for another resource of the batch
                field = AGGREGATION_FIELDS[resource.metrics[name]]
                for series in metric.timeseries:
                    for point in series.data:
                        value = getattr(point, field, None)
                        at = point.timestamp.astimezone(UTC).timestamp()
                        if value is None or not lo <= at < hi:
                            continue
                        rows.append(
                            {
                                BUCKET: int(at - at % 60),
                                "resource": resource.name,
                                "metric": name,
                                "value_sum": float(value),
                                "samples": 1,
                                "value_max": float(value),
                            }
                        )
        return _combine(rows)

    def close(self) -> None:
        """Close the client."""
        self._client.close()


def _combine(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (minute, resource, metric): a metric split into several series is summed, its max kept."""
    merged: dict[tuple[int, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row[BUCKET], row["resource"], row["metric"])
        if key in merged:
            have = merged[key]
            have["value_sum"] += row["value_sum"]
            have["value_max"] = max(have["value_max"], row["value_max"])
        else:
            merged[key] = dict(row)
    return list(merged.values())
