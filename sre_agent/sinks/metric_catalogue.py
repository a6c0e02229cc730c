"""The catalogue of metrics the agent emits to metric sinks (Azure Monitor custom metrics, JSONL, console).

Every metric point the agent produces is declared here with its dimensions, so the limits of the Azure
Monitor custom metrics API are checked once, when the catalogue is built, and not discovered as a 400 at
the first send: at most 10 dimensions per metric, names and dimension keys at most 256 characters.
Dimensions of a point outside its declaration (e.g. the agent's static labels) are not sent to Azure:
the resource the metrics hang on already identifies the deployment.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MAX_DIMENSIONS = 10
"""Azure Monitor custom metrics: dimensions per metric."""
MAX_NAME_CHARS = 256
"""Azure Monitor custom metrics: namespace, metric name, dimension key and value length."""


class CatalogueError(ValueError):
    """A metric declaration the Azure Monitor custom metrics API would reject."""


@dataclass(frozen=True)
class EmittedMetric:
    """One metric the agent emits: its name, dimensions, unit and meaning."""

    name: str
    dims: tuple[str, ...]
    unit: str
    description: str
    group: str
    """Who produces it: ``slo``, ``snowflake`` or ``agent``."""


def _shown(name: str) -> str:
    return name if len(name) <= 60 else f"{name[:40]}… ({len(name)} characters)"


def check_metric(metric: EmittedMetric) -> None:
    """Raise ``CatalogueError`` naming ``metric`` if Azure would reject it."""
    if not metric.name or len(metric.name) > MAX_NAME_CHARS:
        raise CatalogueError(
            f"metric {_shown(metric.name)!r}: name must be 1..{MAX_NAME_CHARS} characters, has {len(metric.name)}"
        )
    if len(metric.dims) > MAX_DIMENSIONS:
        raise CatalogueError(
            f"metric {_shown(metric.name)!r} has {len(metric.dims)} dimensions ({', '.join(metric.dims)}); "
            f"Azure Monitor custom metrics allow at most {MAX_DIMENSIONS}"
        )
    if len(set(metric.dims)) != len(metric.dims):
        raise CatalogueError(f"metric {_shown(metric.name)!r} names a dimension twice: {', '.join(metric.dims)}")
    for dim in metric.dims:
        if not dim or len(dim) > MAX_NAME_CHARS:
            raise CatalogueError(
                f"metric {_shown(metric.name)!r}: dimension {_shown(dim)!r} must be 1..{MAX_NAME_CHARS} characters"
            )


class MetricCatalogue:
    """A checked set of metric declarations, looked up by name."""

    def __init__(self, metrics: Iterable[EmittedMetric]) -> None:
        self._by_name: dict[str, EmittedMetric] = {}
        for metric in metrics:
            check_metric(metric)
            if metric.name in self._by_name:
                raise CatalogueError(f"metric {_shown(metric.name)!r} is declared twice")
            self._by_name[metric.name] = metric

    def get(self, name: str) -> EmittedMetric | None:
        """The declaration of ``name``, or None for an unknown metric."""
        return self._by_name.get(name)

    def __iter__(self) -> Iterator[EmittedMetric]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)


def _m(name: str, dims: tuple[str, ...], unit: str, group: str, description: str) -> EmittedMetric:
    return EmittedMetric(name, dims, unit, description, group)


CATALOGUE = MetricCatalogue(
    [
        _m("slo_sli", ("slo", "service", "window"), "ratio", "slo", "SLI per burn window and over the period"),
        _m("slo_burn_rate", ("slo", "service", "window"), "ratio", "slo", "error budget burn rate per window"),
        _m("slo_error_budget_remaining", ("slo", "service"), "ratio", "slo", "share of the period's budget left"),
        _m("slo_state", ("slo", "service"), "code", "slo", "0 ok, 1 ticket, 2 page, -1 unknown"),
        _m(
            "snowflake_queries",
            ("warehouse", "service"),
            "count",
            "snowflake",
            "queries that ended in the trailing window of complete data",
        ),
        _m(
            "snowflake_failed_queries",
            ("warehouse", "service"),
            "count",
            "snowflake",
            "failed queries in the trailing window",
        ),
        _m(
            "snowflake_query_latency_ms",
            ("warehouse", "service", "percentile"),
            "ms",
            "snowflake",
            "p50/p95/p99 TOTAL_ELAPSED_TIME of successful queries in the trailing window",
        ),
        _m(
            "snowflake_queued_overload_ms",
            ("warehouse",),
            "ms",
            "snowflake",
            "mean QUEUED_OVERLOAD_TIME per query in the trailing window",
        ),
        _m(
            "snowflake_queued_queries",
            ("warehouse",),
            "count",
            "snowflake",
            "queries that waited for an overloaded warehouse in the trailing window",
        ),
        _m(
            "snowflake_spill_bytes",
            ("warehouse", "storage"),
            "bytes",
            "snowflake",
            "bytes spilled to local or remote storage in the trailing window",
        ),
        _m(
            "snowflake_credits_used",
            ("warehouse",),
            "credits",
            "snowflake",
            "credits (compute + cloud services) of the newest complete metering hour",
        ),
        _m("agent_heartbeat", (), "count", "agent", "1 per cycle: alert on its absence to catch a dead agent"),
        _m("agent_cycle_duration_seconds", (), "seconds", "agent", "time to poll and evaluate one cycle"),
        _m(
            "agent_source_lag_seconds",
            ("family",),
            "seconds",
            "agent",
            "age of the newest data the agent holds per source family (ACCOUNT_USAGE latency included)",
        ),
        _m(
            "agent_source_failures",
            ("family",),
            "count",
            "agent",
            "consecutive failed polls per source family",
        ),
        _m("agent_outbox_pending", ("sink",), "count", "agent", "deliveries waiting per sink"),
        _m("agent_outbox_oldest_age_seconds", ("sink",), "seconds", "agent", "age of the oldest pending delivery"),
        _m("agent_outbox_dead", ("sink",), "count", "agent", "dead-lettered deliveries held per sink"),
        _m("agent_outbox_dropped", ("sink",), "count", "agent", "deliveries dropped by the outbox bounds"),
        _m(
            "agent_outbox_superseded",
            ("sink",),
            "count",
            "agent",
            "states not sent: a newer state of the same alert had already been delivered",
        ),
        _m(
            "agent_metric_points_dropped",
            ("sink", "reason"),
            "count",
            "agent",
            "metric points a metrics sink refused to send since start (too old, too new, not finite, unknown)",
        ),
        _m("agent_rule_errors", (), "count", "agent", "rules and SLOs that failed to evaluate in the cycle"),
        _m("agent_active_alerts", ("severity",), "count", "agent", "firing alerts per severity"),
    ]
)
"""Everything the agent emits."""
