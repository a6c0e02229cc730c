"""The Azure metrics source with the real `azure-monitor-querymetrics` client against a loopback HTTPS fake: the
getBatch request on the wire (path, api-version, 1-minute interval, aggregations, ≤ 50 ids per call, one call
per subscription and namespace), each metric's configured aggregation stored per minute, missing minutes left
absent, and a 403 turned into a clear source error; plus the config's checks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from https_fake import FakeHttps, Seen, start
from pydantic import ValidationError
from test_azure_logs_sink import FakeCredential

from sre_agent.config.azure import AzureMetricsSourceConfig
from sre_agent.errors import SourceError
from sre_agent.sources.azure_metrics import AzureMetricsSource

SUB = "00000000-1111-2222-3333-444444444444"
ASA = "Microsoft.StreamAnalytics/streamingjobs"
START = datetime(2026, 11, 3, 19, 0, tzinfo=UTC)


def rid(name: str, namespace: str = ASA, sub: str = SUB) -> str:
    return f"/subscriptions/{sub}/resourceGroups/rg-streaming/providers/{namespace}/{name}"


@pytest.fixture
def azure(tmp_path: Path) -> Iterator[FakeHttps]:
    fake = start(tmp_path)
    yield fake
    fake.stop()


def batch_answer(request: Seen) -> tuple[int, dict[str, str], Any]:
    """Answer metrics:getBatch like Azure: per resource, per metric, a minute series with one gap."""
    names = request.query["metricnames"][0].split(",")
    values = []
    for resource_id in request.json()["resourceids"]:
        metrics = []
        for name in names:
            data = [
                {"timeStamp": "2026-11-03T19:00:00Z", "maximum": 4.0, "average": 2.0},
                {"timeStamp": "2026-11-03T19:01:00Z"},  # no value this minute
                {"timeStamp": "2026-11-03T19:02:00Z", "maximum": 420.0, "average": 30.0},
            ]
            metrics.append(
                {
                    "id": f"{resource_id}/providers/Microsoft.Insights/metrics/{name}",
                    "type": "Microsoft.Insights/metrics",
                    "name": {"value": name, "localizedValue": name},
                    "unit": "Count",
                    "displayDescription": "",
                    "errorCode": "Success",
                    "timeseries": [{"metadatavalues": [], "data": data}],
                }
            )
        values.append(
            {
                "starttime": "2026-11-03T19:00:00Z",
                "endtime": "2026-11-03T19:03:00Z",
                "interval": "PT1M",
                "namespace": request.query["metricnamespace"][0],
                "resourceregion": "westeurope",
                "resourceid": resource_id,
                "value": metrics,
            }
        )
    return 200, {}, {"values": values}


def config(azure: FakeHttps, resources: list[dict[str, Any]]) -> AzureMetricsSourceConfig:
    return AzureMetricsSourceConfig.model_validate({"endpoint": azure.base, "resources": resources})


def test_one_getbatch_per_namespace_with_each_metrics_aggregation_per_minute(azure) -> None:
    jobs = [
        {
            "name": f"asa-{i:02d}",
            "id": rid(f"asa-{i:02d}"),
            "namespace": ASA,
            "metrics": {"OutputWatermarkDelaySeconds": "Maximum"},
        }
        for i in range(51)
    ]
    hubs = [
        {
            "name": "evhns-trades",
            "id": rid("evhns-trades", "Microsoft.EventHub/namespaces"),
            "namespace": "Microsoft.EventHub/namespaces",
            "metrics": {"IncomingMessages": "Average"},
        }
    ]
    credential = FakeCredential()
    source = AzureMetricsSource(config(azure, jobs + hubs), credential, azure.ca_pem)
    azure.answers = [batch_answer] * 3
    frame = source.fetch(START, START + timedelta(minutes=3))
    source.close()

    calls = [(s.query["metricnamespace"][0], len(s.json()["resourceids"])) for s in azure.seen]
    assert sorted(calls) == [("Microsoft.EventHub/namespaces", 1), (ASA, 1), (ASA, 50)], "≤ 50 ids, per namespace"
    first = azure.seen[0]
    assert first.method == "POST"
    assert first.path == f"/subscriptions/{SUB}/metrics:getBatch"
    assert first.query["api-version"] == ["2024-02-01"]
    assert first.query["interval"] == ["PT1M"]
    assert first.headers["Authorization"] == "Bearer fake-token"
    assert credential.scopes[0] == ("https://metrics.monitor.azure.com/.default",)
    job = frame.filter(frame["resource"] == "asa-00").sort("bucket")
    assert job.select("bucket", "metric", "value_sum", "samples", "value_max").rows() == [
        (int(START.timestamp()), "OutputWatermarkDelaySeconds", 4.0, 1, 4.0),
        (int(START.timestamp()) + 120, "OutputWatermarkDelaySeconds", 420.0, 1, 420.0),
    ], "the configured Maximum, and no row for the minute without a value"
    hub = frame.filter(frame["resource"] == "evhns-trades")
    assert hub["value_sum"].to_list() == [2.0, 30.0], "the hub's metric is read as its Average"
    assert frame["resource"].n_unique() == 52


def test_a_refused_batch_is_a_source_error_naming_the_namespace(azure) -> None:
    azure.default = (403, {}, {"error": {"code": "AuthorizationFailed", "message": "no Monitoring Reader"}})
    jobs = [{"name": "asa", "id": rid("asa"), "namespace": ASA, "metrics": {"ResourceUtilization": "Maximum"}}]
    source = AzureMetricsSource(config(azure, jobs), FakeCredential(), azure.ca_pem)
    with pytest.raises(SourceError, match=r"streamingjobs \(1 resources\): HTTP 403 \(AuthorizationFailed\)"):
        source.fetch(START, START + timedelta(minutes=3))
    source.close()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"endpoint": None}, "give the regional endpoint"),
        ({"endpoint": "http://westeurope.metrics.monitor.azure.com"}, "must be an https URL"),
        ({"resources": []}, "at least 1"),
        (
            {
                "resources": [
                    {"name": "x", "id": f"/subscriptions/{SUB}", "namespace": ASA, "metrics": {"A": "Maximum"}}
                ]
            },
            "resource's full id",
        ),
        ({"resources": [{"name": "x", "id": rid("x"), "namespace": ASA, "metrics": {"A": "Median"}}]}, "Median"),
        ({"resources": [{"name": "x", "id": rid("x"), "namespace": ASA, "metrics": {"A": "Maximum"}}] * 2}, "unique"),
    ],
)
def test_malformed_azure_metrics_source_config_is_refused(change: dict[str, Any], message: str) -> None:
    good = {
        "endpoint": "https://westeurope.metrics.monitor.azure.com",
        "resources": [{"name": "asa", "id": rid("asa"), "namespace": ASA, "metrics": {"A": "Maximum"}}],
    }
    with pytest.raises(ValidationError, match=message):
        AzureMetricsSourceConfig.model_validate({**good, **change})
