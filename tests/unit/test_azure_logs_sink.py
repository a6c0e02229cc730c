"""The Logs Ingestion sink with the real `azure-monitor-ingestion` client against a loopback HTTPS fake: the request
on the wire (path, api-version, gzip, bearer token scope), 204 semantics, 429/500/403 and partial chunk failures."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from https_fake import FakeHttps, start
from test_webhook_sink import NOW, SETTINGS, _config, enqueue, record, states

from sre_agent.config.loader import load_config
from sre_agent.errors import ConfigError, SinkError
from sre_agent.sinks.azure_logs import INGESTION_SCOPE, AzureLogsSink
from sre_agent.sinks.delivery import deliver

REPO = Path(__file__).resolve().parents[2]
DCR = "dcr-" + "0123456789abcdef" * 2
STREAM = "Custom-SreAgentAlerts_CL"


class FakeCredential:
    """A TokenCredential that hands out a fixed token and remembers the scopes asked for."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("fake-token", int(time.time()) + 3600)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[FakeHttps]:
    fake = start(tmp_path)
    fake.default = (204, {}, None)
    yield fake
    fake.stop()


def sink(receiver: FakeHttps, credential: FakeCredential | None = None) -> AzureLogsSink:
    return AzureLogsSink(
        "azure-logs", receiver.base, DCR, STREAM, credential or FakeCredential(), timeout_s=5, ca_bundle=receiver.ca_pem
    )


def test_alert_rows_go_to_the_dcr_stream_gzipped_with_a_monitor_token(receiver, outbox) -> None:
    credential = FakeCredential()
    logs = sink(receiver, credential)
    notified = {**record(1), "notification": {"id": "alerts:g:1", "sent_at": "2026-11-03T15:46:00Z"}}
    enqueue(outbox, "azure-logs", notified, record(2, "resolved"))
    report = deliver(outbox, [logs], NOW, SETTINGS)
    logs.close()

    assert report.delivered == 2
    [seen] = receiver.seen
    assert (seen.method, seen.path) == ("POST", f"/dataCollectionRules/{DCR}/streams/{STREAM}")
    assert seen.query["api-version"] == ["2023-01-01"]
    assert seen.headers["Content-Encoding"] == "gzip"
    assert seen.headers["Authorization"] == "Bearer fake-token"
    assert credential.scopes == [(INGESTION_SCOPE,)]
    fired, resolved = seen.json()
    assert fired["TimeGenerated"] == "2026-11-03T15:46:00Z", "the row's time is when receivers were told"
    assert (fired["Fingerprint"], fired["Severity"], fired["State"]) == ("5c1e0f2a9b3d4e6f", "Sev2", "Fired")
    assert fired["Rule"] == "risk-engine-latency-p95"
    assert fired["Runbook"] == "https://wiki.example/runbooks/latency"
    assert fired["Evidence"] == '{"events": 75}'
    assert fired["NotificationId"] == "alerts:g:1"
    assert (resolved["State"], resolved["EndsAt"]) == ("Resolved", "2026-11-03T18:25:00Z")


def test_agent_health_records_become_heartbeat_rows_and_other_metrics_stay_out(receiver) -> None:
    health = {
        "type": "metrics",
        "source": "agent",
        "dedup_key": "metrics:agent:1793718000",
        "at": "2026-11-03T15:00:07Z",
        "points": [
            {"name": "agent_heartbeat", "dims": {}, "value": 1},
            {"name": "agent_cycle_duration_seconds", "dims": {}, "value": 2.25},
            {"name": "agent_outbox_pending", "dims": {"sink": "teams"}, "value": 3},
            {"name": "agent_outbox_pending", "dims": {"sink": "azure-logs"}, "value": 1},
            {"name": "agent_outbox_dead", "dims": {"sink": "teams"}, "value": 2},
        ],
    }
    slo = {"type": "metrics", "source": "slo", "dedup_key": "metrics:s:1", "at": "2026-11-03T15:00:00Z", "points": []}
    logs = sink(receiver)
    logs.send([slo, health, record(1)])
    logs.close()
    [seen] = receiver.seen
    beat, alert = seen.json()
    assert (beat["State"], beat["Fingerprint"], beat["Rule"]) == (
        "Heartbeat",
        "sre-agent-heartbeat",
        "sre-agent-heartbeat",
    )
    assert beat["TimeGenerated"] == "2026-11-03T15:00:07Z"
    assert beat["Summary"] == "cycle 2.2s, outbox pending 4, dead letters 2"
    assert alert["State"] == "Fired"
    assert AzureLogsSink.metric_sources == {"agent"}, "SLO and platform records are never queued for this sink"


def test_throttling_waits_for_retry_after_and_a_403_is_dead_lettered(receiver, outbox) -> None:
    logs = sink(receiver)
    receiver.answers = [
        (429, {"Retry-After": "90"}, {"error": {"code": "TooManyRequests", "message": "slow down"}}),
        (403, {}, {"error": {"code": "OperationFailed", "message": "no Monitoring Metrics Publisher"}}),
    ]
    enqueue(outbox, "azure-logs", record(1))
    throttled = deliver(outbox, [logs], NOW, SETTINGS, random.Random(1))
    [(_, status, _, next_at)] = states(outbox)
    assert (throttled.retried, status) == (1, "pending")
    assert next_at >= NOW + 90
    refused = deliver(outbox, [logs], next_at, SETTINGS)
    logs.close()
    assert refused.dead == 1
    error = outbox.db.read("SELECT last_error FROM outbox")[0]["last_error"]
    assert "HTTP 403" in error
    assert "OperationFailed" in error


def test_a_200_is_not_success_for_ingestion(receiver, outbox) -> None:
    """The service answers 204; a 200 means something else (a proxy, a wrong endpoint) answered."""
    logs = sink(receiver)
    receiver.answers = [(200, {}, {"ok": True})]
    enqueue(outbox, "azure-logs", record(1))
    report = deliver(outbox, [logs], NOW, SETTINGS)
    logs.close()
    assert report.dead == 1


def test_a_failed_second_chunk_keeps_the_first_chunk_delivered(receiver) -> None:
    """Over 1 MiB the SDK sends chunks in order; when the second fails, the first chunk's records count as sent."""
    logs = sink(receiver)
    receiver.answers = [(204, {}, None), (500, {}, {"error": {"code": "InternalError", "message": "x"}})]
    big = [{**record(i), "evidence": {"blob": "x" * 4000}} for i in range(400)]
    with pytest.raises(SinkError) as caught:
        logs.send(big)
    logs.close()
    first_chunk = len(receiver.seen[0].json())
    assert 0 < first_chunk < len(big)
    assert caught.value.sent == first_chunk
    assert caught.value.retryable


GOOD = {"type": "azure_logs", "endpoint": "https://dce.westeurope-1.ingest.monitor.azure.com", "rule_id": DCR}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"endpoint": "http://dce.example"}, "endpoint", "endpoint must be an https URL"),
        ({"endpoint": "https://dce.example/?x=1"}, "endpoint", "without a query"),
        ({"rule_id": "my-dcr"}, "rule_id", "should match pattern"),
        ({"stream_name": "SreAgentAlerts_CL"}, "stream_name", "should match pattern"),
        ({"ca_bundle": "nope.pem"}, "ca_bundle", "no such file"),
    ],
)
def test_malformed_azure_logs_config_fails_at_load(
    tmp_path: Path, change: dict[str, Any], field: str, message: str
) -> None:
    path = _config(tmp_path, {**GOOD, **change})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    rendered = [str(i) for i in caught.value.issues]
    assert any(f"spec.sinks[2].{field}" in r and message in r for r in rendered), rendered


def test_a_good_azure_logs_config_builds_its_sink_without_touching_the_network(tmp_path: Path) -> None:
    from sre_agent.daemon.runtime import build_sinks

    loaded = load_config(_config(tmp_path, GOOD))
    sinks = build_sinks(loaded, credential=FakeCredential())
    assert [type(s).__name__ for s in sinks] == ["ConsoleSink", "JsonlSink", "AzureLogsSink"]
    for s in sinks:
        s.close()
