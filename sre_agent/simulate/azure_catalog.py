"""What the simulated Azure side can produce: (resource namespace, metric) pairs, and the config check on them.

Kept free of numpy and polars so that `validate` checks a simulated ``azure.metrics`` without loading the
simulation (``azure_platform`` holds one model per pair named here, and refuses to load otherwise).
"""

from __future__ import annotations

from sre_agent.config.azure import AzureMetricsSourceConfig

SIMULATED_METRICS: frozenset[tuple[str, str]] = frozenset(
    {
        ("microsoft.streamanalytics/streamingjobs", "OutputWatermarkDelaySeconds"),
        ("microsoft.streamanalytics/streamingjobs", "InputEventsSourcesBacklogged"),
        ("microsoft.streamanalytics/streamingjobs", "ResourceUtilization"),
        ("microsoft.eventhub/namespaces", "IncomingMessages"),
        ("microsoft.eventhub/namespaces", "ThrottledRequests"),
        ("microsoft.storage/storageaccounts", "SuccessE2ELatency"),
        ("microsoft.storage/storageaccounts", "Availability"),
        ("microsoft.containerservice/managedclusters", "node_cpu_usage_percentage"),
    }
)
"""(lower-case resource namespace, metric name) pairs the simulation has a model for."""


def check_simulated(config: AzureMetricsSourceConfig) -> None:
    """Raise ValueError naming every configured metric the simulation cannot produce."""
    unknown = [
        f"{r.name}: {metric}"
        for r in config.resources
        for metric in r.metrics
        if (r.namespace.lower(), metric) not in SIMULATED_METRICS
    ]
    if unknown:
        known = ", ".join(sorted(f"{ns} {m}" for ns, m in SIMULATED_METRICS))
        raise ValueError(f"the simulated Azure side has no model for {', '.join(unknown)}; it knows: {known}")
