"""The Azure half of the synthetic platform: per-minute platform metrics for the embedded default.

It stands in for `azure-monitor-querymetrics` behind the same source interface (``fetch(start, end)`` →
``azure_metric`` rollup rows), so the demo exercises polling, rules and alerts on Azure metrics without a
subscription. Each supported (namespace, metric) has a trading-day shape plus seeded noise; a
``STREAM_STALL`` incident on a resource drives its Stream Analytics metrics the way a stalled job does:
the output watermark delay grows with wall time, input events back up, streaming units sit at 100 %.
Minutes within the last two minutes are not visible yet, as in Azure Monitor.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from sre_agent.config.azure import AzureMetricResource, AzureMetricsSourceConfig
from sre_agent.simulate.azure_catalog import SIMULATED_METRICS, check_simulated
from sre_agent.simulate.incidents import Incident, IncidentKind
from sre_agent.simulate.platform import MARKET_TZ
from sre_agent.sources.azure_metrics import empty_frame
from sre_agent.store.rollups import BUCKET

F64 = np.ndarray
VISIBLE_AFTER = timedelta(minutes=2)
"""Azure platform metrics become queryable about this long after the minute ends."""


def _trading_day(day: int) -> F64:
    """1.0 for minutes of UTC day ``day`` (epoch days) between 07:00 and 19:00 New York on weekdays, else 0.0."""
    tz = ZoneInfo(MARKET_TZ)
    out = np.zeros(1440)
    for hour in range(24):  # New York offsets are whole hours: one conversion per hour is exact
        local = datetime.fromtimestamp((day * 1440 + hour * 60) * 60.0, tz)
        out[hour * 60 : (hour + 1) * 60] = 1.0 if local.weekday() < 5 and 7 <= local.hour < 19 else 0.0
    return out


Model = Callable[[F64, F64, np.random.Generator], F64]
"""(epoch minutes, trading-hours mask, rng) → the metric's per-minute value."""

MODELS: dict[tuple[str, str], Model] = {
    ("microsoft.streamanalytics/streamingjobs", "OutputWatermarkDelaySeconds"): lambda m, t, r: (
        1.0 + t * 3.0 + r.gamma(2.0, 1.0, len(m))
    ),
    ("microsoft.streamanalytics/streamingjobs", "InputEventsSourcesBacklogged"): lambda m, t, r: np.where(
        r.random(len(m)) < 0.05, r.integers(1, 40, len(m)), 0
    ).astype(float),
    ("microsoft.streamanalytics/streamingjobs", "ResourceUtilization"): lambda m, t, r: (
        12.0 + t * 33.0 + r.normal(0, 4, len(m))
    ),
    ("microsoft.eventhub/namespaces", "IncomingMessages"): lambda m, t, r: r.poisson(600 + t * 24000, len(m)).astype(
        float
    ),
    ("microsoft.eventhub/namespaces", "ThrottledRequests"): lambda m, t, r: np.zeros(len(m)),
    ("microsoft.storage/storageaccounts", "SuccessE2ELatency"): lambda m, t, r: r.gamma(6.0, 4.0, len(m)),
    ("microsoft.storage/storageaccounts", "Availability"): lambda m, t, r: np.where(
        r.random(len(m)) < 0.002, 99.5, 100.0
    ),
    ("microsoft.containerservice/managedclusters", "node_cpu_usage_percentage"): lambda m, t, r: np.clip(
        20.0 + t * 25.0 + r.normal(0, 6, len(m)), 1, 100
    ),
}
"""The metrics the simulated Azure side can produce: one model per pair of ``azure_catalog.SIMULATED_METRICS``."""
if set(MODELS) != SIMULATED_METRICS:  # pragma: no cover - a model added or removed on one side only
    raise ImportError(f"azure_platform models {sorted(set(MODELS) ^ SIMULATED_METRICS)} differ from azure_catalog")


def _stall(metric: str, values: F64, minutes: F64, inc: Incident) -> F64:
    """What a stalled Stream Analytics job does to ``metric`` during (and just after) ``inc``."""
    start, end = inc.start.timestamp() / 60, inc.end.timestamp() / 60
    into = minutes - start
    during = (minutes >= start) & (minutes < end)
    after = (minutes >= end) & (minutes < end + 10)  # catching up: the backlog drains in ~10 minutes
    if metric == "OutputWatermarkDelaySeconds":
        stuck = into * 60.0 + 5.0
        drain = (end - start) * 60.0 * np.clip(1 - (minutes - end) / 10, 0, 1)
        return np.where(during, stuck, np.where(after, np.maximum(values, drain), values))
    if metric == "InputEventsSourcesBacklogged":
        return np.where(during, 400.0 * (into + 1), np.where(after, 400.0 * (end - minutes + 1), values))
    if metric == "ResourceUtilization":
        return np.where(during | after, 100.0, values)
    return values


class SimulatedAzureMetrics:
    """The configured resources' metrics, generated; the same interface as the real ``AzureMetricsSource``."""

    def __init__(self, config: AzureMetricsSourceConfig, seed: int, incidents: tuple[Incident, ...]) -> None:
        check_simulated(config)
        self.config = config
        self.seed = seed
        self.incidents = [i for i in incidents if i.kind is IncidentKind.STREAM_STALL]
        self._cache: dict[tuple[str, str, int], F64] = {}

    def _day(self, resource: AzureMetricResource, metric: str, day: int) -> F64:
        """The metric's 1440 values of UTC day ``day``, seeded by (seed, resource, metric, day); cached."""
        key = (resource.name, metric, day)
        if key not in self._cache:
            if len(self._cache) > 512:
                self._cache.clear()
            rng = np.random.default_rng([self.seed, zlib.crc32(f"{resource.name}/{metric}".encode()), day])
            whole = np.arange(day * 1440, (day + 1) * 1440, dtype=np.float64)
            self._cache[key] = MODELS[(resource.namespace.lower(), metric)](whole, _trading_day(day), rng)
        return self._cache[key]

    def _values(self, resource: AzureMetricResource, metric: str, minutes: F64) -> F64:
        days = (minutes // 1440).astype(np.int64)
        values = np.empty(len(minutes))
        for day in np.unique(days):
            at = days == day
            values[at] = self._day(resource, metric, int(day))[(minutes[at] - day * 1440).astype(np.int64)]
        for inc in self.incidents:
            if inc.azure_resource == resource.name:
                values = _stall(metric, values, minutes, inc)
        return np.maximum(values, 0.0)

    def fetch(self, start: datetime, end: datetime) -> pl.DataFrame:
        """Rollup rows for minutes in ``[start, min(end, end - 2 min))`` (the newest minutes are not out yet)."""
        first = int(start.timestamp() // 60)
        last = int((end - VISIBLE_AFTER).timestamp() // 60)
        if last <= first:
            return empty_frame()
        minutes = np.arange(first, last, dtype=np.float64)
        parts = []
        for resource in self.config.resources:
            for metric in resource.metrics:
                values = self._values(resource, metric, minutes)
                parts.append(
                    pl.DataFrame(
                        {
                            BUCKET: (minutes * 60).astype(np.int64),
                            "resource": [resource.name] * len(minutes),
                            "metric": [metric] * len(minutes),
                            "value_sum": values,
                            "samples": np.ones(len(minutes), dtype=np.int64),
                            "value_max": values,
                        },
                        schema=empty_frame().schema,
                    )
                )
        return pl.concat(parts) if parts else empty_frame()

    def close(self) -> None:
        """Nothing to release."""
