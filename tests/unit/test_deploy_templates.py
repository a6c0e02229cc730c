"""deploy/azure/alerting.json agrees with the code that feeds it: the table and DCR stream have exactly the columns
the Logs Ingestion sink writes, the stream is the sink's default, the alert rules read that table per fingerprint
and auto-resolve, and their windows outlast the repeat interval of the route that feeds them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sre_agent.alerting.routing import build_routing
from sre_agent.config.agent import AzureLogsSinkConfig, AzureMetricsSinkConfig, EvaluationSettings
from sre_agent.config.durations import parse_duration
from sre_agent.config.loader import load_documents
from sre_agent.sinks.azure_logs import HEARTBEAT_STATE, alert_row, heartbeat_row
from sre_agent.sinks.metric_catalogue import CATALOGUE

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = json.loads((REPO / "deploy" / "azure" / "alerting.json").read_text())
KQL_TYPES = {str: "string", float: "real", type(None): None}


def _of(kind: str) -> list[dict[str, Any]]:
    return [r for r in TEMPLATE["resources"] if r["type"] == kind]


def _iso_duration(text: str) -> timedelta:
    return parse_duration(text.removeprefix("P").removeprefix("T").replace("T", "").lower())


def test_the_template_is_an_arm_deployment_with_every_piece() -> None:
    assert TEMPLATE["$schema"].endswith("deploymentTemplate.json#")
    kinds = {r["type"] for r in TEMPLATE["resources"]}
    assert kinds == {
        "Microsoft.Insights/dataCollectionEndpoints",
        "Microsoft.OperationalInsights/workspaces/tables",
        "Microsoft.Insights/dataCollectionRules",
        "Microsoft.Authorization/roleAssignments",
        "Microsoft.Insights/actionGroups",
        "Microsoft.Insights/scheduledQueryRules",
        "Microsoft.Insights/metricAlerts",
    }
    assert set(TEMPLATE["outputs"]) == {"logsIngestionEndpoint", "dcrImmutableId", "streamName"}


def test_table_and_stream_columns_are_exactly_what_the_sink_writes() -> None:
    record = {
        "fingerprint": "f",
        "dedup_key": "k",
        "rule": "r",
        "severity": "sev2",
        "status": "firing",
        "transition": "firing",
        "labels": {"owner": "o"},
        "annotations": {"summary": "s", "runbook": "u", "description": "d"},
        "at": "2026-11-03T15:45:00Z",
        "starts_at": "2026-11-03T15:40:00Z",
        "ends_at": "2026-11-03T16:40:00Z",
        "value": 1.0,
        "threshold": 0.5,
        "evidence": {},
        "notification": {"id": "n", "sent_at": "2026-11-03T15:46:00Z"},
    }
    row = alert_row(record)
    [table] = _of("Microsoft.OperationalInsights/workspaces/tables")
    columns = {c["name"]: c["type"] for c in table["properties"]["schema"]["columns"]}
    assert set(columns) == set(row), "every row field has a column and every column is written"
    for name, value in row.items():
        expected = "datetime" if name in ("TimeGenerated", "StartsAt", "EndsAt") else KQL_TYPES[type(value)]
        assert columns[name] == expected, name
    [dcr] = _of("Microsoft.Insights/dataCollectionRules")
    stream = AzureLogsSinkConfig.model_fields["stream_name"].default
    declared = dcr["properties"]["streamDeclarations"][stream]["columns"]
    assert {c["name"]: c["type"] for c in declared} == columns
    [flow] = dcr["properties"]["dataFlows"]
    assert flow["streams"] == [stream]
    assert flow["outputStream"] == stream


def test_the_agent_may_publish_to_the_dcr_and_the_metrics_resource_and_nothing_more() -> None:
    grants = _of("Microsoft.Authorization/roleAssignments")
    assert sorted(g["scope"] for g in grants) == [
        "[concat('Microsoft.Insights/dataCollectionRules/', parameters('prefix'), '-dcr')]",
        "[parameters('metricsResourceId')]",
    ]
    publisher = (
        "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', variables('monitoringMetricsPublisher'))]"
    )
    assert all(g["properties"]["roleDefinitionId"] == publisher for g in grants)
    assert TEMPLATE["variables"]["monitoringMetricsPublisher"] == "3913510d-42f4-4e42-8a64-420c390055eb"


def test_a_silent_agent_raises_an_azure_alert_from_the_heartbeat_rows_the_sink_writes() -> None:
    [rule] = [r for r in _of("Microsoft.Insights/scheduledQueryRules") if r["name"].endswith("-silent')]")]
    props = rule["properties"]
    [criterion] = props["criteria"]["allOf"]
    assert f'where State == "{HEARTBEAT_STATE}"' in criterion["query"]
    assert (criterion["timeAggregation"], criterion["operator"], criterion["threshold"]) == ("Count", "LessThan", 1)
    assert props["autoMitigate"] is True
    cycle = EvaluationSettings().interval
    assert _iso_duration(props["windowSize"]) >= 10 * cycle, "a few late cycles must not page"
    row = heartbeat_row(
        {
            "type": "metrics",
            "source": "agent",
            "at": "2026-11-03T15:45:00Z",
            "dedup_key": "metrics:agent:1",
            "points": [],
        }
    )
    [table] = _of("Microsoft.OperationalInsights/workspaces/tables")
    columns = {c["name"]: c["type"] for c in table["properties"]["schema"]["columns"]}
    assert set(row) <= set(columns)
    assert row["State"] == HEARTBEAT_STATE


def test_the_dead_letter_metric_alert_watches_a_catalogued_metric_in_the_sinks_namespace() -> None:
    [alert] = _of("Microsoft.Insights/metricAlerts")
    props = alert["properties"]
    assert props["scopes"] == ["[parameters('metricsResourceId')]"]
    [criterion] = props["criteria"]["allOf"]
    metric = CATALOGUE.get(criterion["metricName"])
    assert metric is not None
    assert metric.group == "agent"
    assert {d["name"] for d in criterion["dimensions"]} <= set(metric.dims)
    assert TEMPLATE["parameters"]["metricNamespace"]["defaultValue"] == (
        AzureMetricsSinkConfig.model_fields["namespace"].default
    )
    assert criterion["skipMetricValidation"] is True, "the rule is deployed before the agent first publishes"
    assert props["autoMitigate"] is True


@pytest.mark.parametrize(("name", "severities"), [("pages", {"Sev0", "Sev1", "Sev2"}), ("tickets", {"Sev3", "Sev4"})])
def test_alert_rules_raise_one_auto_resolving_azure_alert_per_fingerprint(name: str, severities: set[str]) -> None:
    [rule] = [r for r in _of("Microsoft.Insights/scheduledQueryRules") if r["name"].endswith(f"-{name}')]")]
    props = rule["properties"]
    [criterion] = props["criteria"]["allOf"]
    query = criterion["query"]
    assert query.startswith("SreAgentAlerts_CL\n")
    assert "arg_max(TimeGenerated, *) by Fingerprint" in query
    assert all(f'"{s}"' in query for s in severities)
    assert criterion["dimensions"][0]["name"] == "Fingerprint"
    assert props["autoMitigate"] is True
    assert (criterion["operator"], criterion["threshold"]) == ("GreaterThan", 0)


def test_rule_windows_outlast_the_repeats_of_the_route_that_feeds_azure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Azure auto-resolves an alert whose fingerprint drops out of the rule's window: the agent must re-send a
    firing alert's record to azure-alerts more often than the shortest window."""
    routing = REPO / "examples" / "routing" / "azure.yaml"
    found = load_documents([routing])
    assert found.routing is not None
    tree = build_routing(found.routing, ["console", "alerts-file", "azure-alerts", "teams-oncall"])
    for severity in ("sev2", "sev3"):
        labels = {"rule": "r", "alertname": "r", "severity": severity, "team": "risk"}
        feeding = [r for r in tree.destinations(labels) if "azure-alerts" in r.receivers]
        assert len(feeding) == 1, severity
        repeat = timedelta(seconds=feeding[0].repeat_interval_s)
        windows = [
            _iso_duration(r["properties"]["windowSize"])
            for r in _of("Microsoft.Insights/scheduledQueryRules")
            if not r["name"].endswith("-silent')]")
        ]
        assert repeat < min(windows), (severity, repeat, windows)
