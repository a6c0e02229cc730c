"""The custom metrics publisher (azure-core pipeline, real bearer-token policy) against a loopback HTTPS fake: what
goes over the wire (path, audience, gzipped NDJSON, per-minute min/max/sum/count), the API's rules enforced before
sending (stale/future points counted, not sent to fail), 429/500/403/timeouts/refused connections, chunking, the
catalogue's limits and the config's checks at load."""

from __future__ import annotations

import math
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from https_fake import FakeHttps, Seen, start
from test_azure_logs_sink import FakeCredential
from test_webhook_sink import NOW, REPO, SETTINGS, _config, enqueue, states

from sre_agent.config.loader import load_config
from sre_agent.errors import ConfigError, SinkError
from sre_agent.model import from_epoch, iso
from sre_agent.sinks.azure_metrics import METRICS_SCOPE, AzureMetricsSink, minute_documents
from sre_agent.sinks.delivery import deliver
from sre_agent.sinks.metric_catalogue import CATALOGUE, CatalogueError, EmittedMetric, MetricCatalogue

RESOURCE = (
    "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-data-platform"
    "/providers/Microsoft.ContainerService/managedClusters/aks-sre-agent"
)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[FakeHttps]:
    fake = start(tmp_path)
    fake.default = (200, {}, {"statusCode": 200})
    yield fake
    fake.stop()


def sink(receiver: FakeHttps, credential: FakeCredential | None = None, **kwargs: Any) -> AzureMetricsSink:
    return AzureMetricsSink(
        "azure-metrics",
        RESOURCE,
        "westeurope",
        "SREAgent",
        credential or FakeCredential(),
        endpoint=kwargs.pop("endpoint", receiver.base),
        timeout_s=kwargs.pop("timeout_s", 5),
        ca_bundle=receiver.ca_pem,
        clock=kwargs.pop("clock", lambda: NOW + 30),
        **kwargs,
    )


def metrics(at: int, *points: tuple[str, dict[str, str], float], key: str | None = None) -> dict[str, Any]:
    return {
        "type": "metrics",
        "source": "agent",
        "dedup_key": key or f"metrics:test:{at}:{len(points)}",
        "at": iso(from_epoch(at)),
        "points": [{"name": n, "dims": d, "value": v} for n, d, v in points],
    }


def documents(seen: Seen) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in seen.body.decode().splitlines()]


def test_points_go_out_per_minute_as_gzipped_ndjson_with_a_monitoring_token(receiver, outbox) -> None:
    credential = FakeCredential()
    publisher = sink(receiver, credential)
    enqueue(
        outbox,
        "azure-metrics",
        metrics(NOW, ("agent_outbox_pending", {"sink": "teams"}, 3), ("agent_heartbeat", {}, 1)),
        metrics(NOW + 20, ("agent_outbox_pending", {"sink": "teams"}, 7), ("agent_outbox_pending", {"sink": "pd"}, 0)),
        {"type": "notification", "dedup_key": "store:abc:1", "rule": "r"},  # alerts are not for this sink
    )
    report = deliver(outbox, [publisher], NOW, SETTINGS)
    publisher.close()

    assert report.delivered == 3
    assert len(receiver.seen) == 1
    seen = receiver.seen[0]
    assert seen.method == "POST"
    assert seen.path == RESOURCE + "/metrics"
    assert seen.query == {}, "the custom metrics API takes no api-version"
    assert seen.headers["Content-Type"] == "application/x-ndjson"
    assert seen.headers["Content-Encoding"] == "gzip"
    assert seen.headers["Authorization"] == "Bearer fake-token"
    assert credential.scopes == [(METRICS_SCOPE,)]
    assert METRICS_SCOPE == "https://monitoring.azure.com//.default"
    docs = {d["data"]["baseData"]["metric"]: d for d in documents(seen)}
    assert set(docs) == {"agent_outbox_pending", "agent_heartbeat"}
    pending = docs["agent_outbox_pending"]
    assert pending["time"] == iso(from_epoch(NOW - NOW % 60))
    base = pending["data"]["baseData"]
    assert base["namespace"] == "SREAgent"
    assert base["dimNames"] == ["sink"]
    series = {tuple(s["dimValues"]): s for s in base["series"]}
    assert series[("teams",)] == {"dimValues": ["teams"], "min": 3.0, "max": 7.0, "sum": 10.0, "count": 2}
    assert series[("pd",)]["count"] == 1
    assert docs["agent_heartbeat"]["data"]["baseData"]["dimNames"] == []
    assert docs["agent_heartbeat"]["data"]["baseData"]["series"] == [
        {"dimValues": [], "min": 1.0, "max": 1.0, "sum": 1.0, "count": 1}
    ]


def test_points_azure_would_refuse_are_dropped_and_counted_not_sent_to_fail(receiver, outbox) -> None:
    publisher = sink(receiver)
    enqueue(
        outbox,
        "azure-metrics",
        metrics(NOW - 21 * 60, ("agent_heartbeat", {}, 1)),  # Azure takes at most 20 minutes back
        metrics(NOW + 6 * 60, ("agent_heartbeat", {}, 1)),  # ... and 5 minutes ahead
        metrics(NOW, ("agent_cycle_duration_seconds", {}, math.nan), ("no_such_metric", {}, 1.0)),
        metrics(NOW - 19 * 60, ("agent_heartbeat", {}, 1)),
    )
    report = deliver(outbox, [publisher], NOW, SETTINGS)
    publisher.close()

    assert report.delivered == 4, "refused points are not retried: their records are done"
    assert report.errors == []
    assert dict(publisher.dropped) == {"too_old": 1, "too_new": 1, "not_finite": 1, "unknown_metric": 1}
    sent = [d for seen in receiver.seen for d in documents(seen)]
    assert [(d["data"]["baseData"]["metric"], d["time"]) for d in sent] == [
        ("agent_heartbeat", iso(from_epoch(NOW - 19 * 60 - NOW % 60)))
    ]


def test_dimensions_follow_the_catalogue_and_long_values_are_cut_to_256() -> None:
    record = metrics(
        NOW,
        ("snowflake_query_latency_ms", {"warehouse": "W" * 300, "percentile": "p95", "environment": "prod"}, 5.0),
    )
    docs, dropped = minute_documents([record], CATALOGUE, NOW)
    assert not dropped
    body = docs[0].body("SREAgent")["data"]["baseData"]
    assert body["dimNames"] == ["warehouse", "service", "percentile"], "declared dimensions only, in order"
    assert body["series"][0]["dimValues"] == ["W" * 256, "", "p95"]


def test_throttling_waits_for_retry_after_and_a_403_is_dead_lettered(receiver, outbox) -> None:
    receiver.answers = [(429, {"Retry-After": "120"}, {"error": {"code": "TooManyRequests", "message": "slow"}})]
    publisher = sink(receiver)
    enqueue(outbox, "azure-metrics", metrics(NOW, ("agent_heartbeat", {}, 1)))
    first = deliver(outbox, [publisher], NOW, SETTINGS, random.Random(1))
    assert first.retried == 1
    assert "HTTP 429 (TooManyRequests)" in first.errors[0]
    (_, status, attempts, next_at) = states(outbox)[0]
    assert (status, attempts) == ("pending", 1)
    assert next_at >= NOW + 120, "Retry-After wins over a shorter backoff"
    assert deliver(outbox, [publisher], NOW + 60, SETTINGS).delivered == 0, "not before Retry-After"
    assert deliver(outbox, [publisher], next_at, SETTINGS).delivered == 1
    assert len(receiver.seen) == 2

    receiver.answers = [(403, {}, {"error": {"code": "AuthorizationFailed", "message": "no role"}})]
    enqueue(outbox, "azure-metrics", metrics(NOW + 60, ("agent_heartbeat", {}, 1)))
    denied = deliver(outbox, [publisher], next_at, SETTINGS)
    publisher.close()
    assert denied.dead == 1
    assert "HTTP 403 (AuthorizationFailed)" in denied.errors[0]
    assert [s[1] for s in states(outbox)] == ["delivered", "dead"]


def test_server_errors_timeouts_and_refused_connections_are_retried(receiver, outbox) -> None:
    def slow(_: Seen) -> tuple[int, dict[str, str], Any]:
        time.sleep(2.5)
        return 200, {}, {"statusCode": 200}

    receiver.answers = [(500, {}, {"error": {"code": "InternalServerError", "message": "x"}}), slow]
    publisher = sink(receiver, timeout_s=1)
    enqueue(outbox, "azure-metrics", metrics(NOW, ("agent_heartbeat", {}, 1)))
    failures = []
    at = NOW
    for _ in range(2):
        report = deliver(outbox, [publisher], at, SETTINGS, random.Random(2))
        failures += report.errors
        assert report.retried == 1
        at = states(outbox)[0][3]
    publisher.close()
    assert "HTTP 500" in failures[0]
    assert "ServiceResponseError" in failures[1] or "ServiceResponseTimeoutError" in failures[1], failures[1]

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"https://127.0.0.1:{probe.getsockname()[1]}"
    refused = sink(receiver, endpoint=closed)
    report = deliver(outbox, [refused], at, SETTINGS)
    refused.close()
    assert report.retried == 1
    assert "ServiceRequestError" in report.errors[0]
    assert "fake-token" not in " ".join(failures + report.errors)

    recovered = sink(receiver)
    assert deliver(outbox, [recovered], states(outbox)[0][3], SETTINGS).delivered == 1
    recovered.close()


def test_large_batches_are_split_at_1_mib_and_a_failed_body_keeps_the_earlier_ones_delivered(receiver) -> None:
    records = [
        metrics(
            NOW - minute * 60,
            *[
                ("snowflake_queries", {"warehouse": f"WH_{i:05d}", "service": "svc" * 10}, float(i))
                for i in range(2500)
            ],
            key=f"metrics:big:{minute}",
        )
        for minute in range(12, 0, -1)
    ]
    receiver.answers = [(200, {}, {"statusCode": 200}), (503, {"Retry-After": "30"}, None)]
    publisher = sink(receiver)
    with pytest.raises(SinkError) as caught:
        publisher.send(records)
    publisher.close()
    assert len(receiver.seen) == 2
    assert all(len(seen.body) <= 1024 * 1024 for seen in receiver.seen)
    first_minutes = {d["time"] for d in documents(receiver.seen[0])}
    assert 0 < caught.value.sent < len(records)
    assert caught.value.sent == len(first_minutes), "records whose documents all went out count as sent"
    assert caught.value.retryable
    assert caught.value.retry_after == 30


def test_the_catalogue_rejects_what_azure_would_with_the_offenders_name() -> None:
    eleven = EmittedMetric("warehouse_everything", tuple(f"d{i}" for i in range(11)), "count", "x", "snowflake")
    with pytest.raises(CatalogueError, match=r"'warehouse_everything' has 11 dimensions.*at most 10"):
        MetricCatalogue([eleven])
    long_name = "snowflake_" + "x" * 290
    with pytest.raises(CatalogueError, match=r"'snowflake_x+… \(300 characters\)'.*1\.\.256"):
        MetricCatalogue([EmittedMetric(long_name, (), "count", "x", "snowflake")])
    with pytest.raises(CatalogueError, match="declared twice"):
        MetricCatalogue([EmittedMetric("a", (), "u", "x", "agent")] * 2)
    with pytest.raises(CatalogueError, match="dimension"):
        MetricCatalogue([EmittedMetric("a", ("d" * 257,), "u", "x", "agent")])
    assert all(len(m.dims) <= 10 for m in CATALOGUE)


GOOD = {"type": "azure_metrics", "resource_id": RESOURCE, "region": "westeurope"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"resource_id": "/subscriptions/00000000-1111-2222-3333-444444444444"},
            "resource_id",
            "cannot hang on a subscription or a resource group",
        ),
        ({"resource_id": RESOURCE.split("/providers", maxsplit=1)[0]}, "resource_id", "resource's full id"),
        ({"region": "West Europe"}, "region", "should match pattern"),
        ({"endpoint": "http://westeurope.monitoring.azure.com"}, "endpoint", "must be an https URL"),
        ({"namespace": "N" * 257}, "namespace", "at most 256"),
        ({"ca_bundle": "nope.pem"}, "ca_bundle", "no such file"),
    ],
)
def test_malformed_azure_metrics_config_fails_at_load(
    tmp_path: Path, change: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, {**GOOD, **change}))
    rendered = [str(i) for i in caught.value.issues]
    assert any(f"spec.sinks[2].{field}" in r and message in r for r in rendered), rendered


def test_a_metrics_sink_builds_offline_and_is_never_an_alert_receiver(tmp_path: Path) -> None:
    from sre_agent.daemon.runtime import alert_sinks, build_sinks

    loaded = load_config(_config(tmp_path, GOOD))
    sinks = build_sinks(loaded, credential=FakeCredential())
    try:
        assert [type(s).__name__ for s in sinks] == ["ConsoleSink", "JsonlSink", "AzureMetricsSink"]
        assert sinks[2].url == f"https://westeurope.monitoring.azure.com{RESOURCE}/metrics"
        assert alert_sinks(sinks) == ["console", "alerts-file"], "default routing sends alerts elsewhere"
    finally:
        for s in sinks:
            s.close()

    routing = tmp_path / "routing.yaml"
    routing.write_text(
        "apiVersion: sre-agent/v1\nkind: AlertRouting\nmetadata: {name: r}\nspec:\n"
        "  route:\n    receiver: azure-metrics\n"
    )
    config = _config(tmp_path, GOOD)
    config.write_text(config.read_text().replace(f"- {REPO / 'rules'}", f"- {REPO / 'rules'}\n  - {routing}"))
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    rendered = [str(i) for i in caught.value.issues]
    assert any(
        "routing.yaml" in r and "receiver 'azure-metrics' is a metrics sink and takes no alert notifications" in r
        for r in rendered
    ), rendered
