"""SLOs with a KQL SLI: the spec's checks, and the Log Analytics reader with the real `azure-monitor-query` client
against a loopback HTTPS fake — the query sent as written with the window as the API's timespan, the result
read by column name into per-minute good/total, and partial results, missing columns, impossible counts and
403s refused with clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from https_fake import FakeHttps, start
from pydantic import ValidationError
from test_azure_logs_sink import FakeCredential

from sre_agent.config.azure import AzureLogsQueryConfig
from sre_agent.config.openslo import to_openslo
from sre_agent.config.slo import SloDoc
from sre_agent.errors import SourceError
from sre_agent.sources.log_analytics import LogAnalyticsSli

WORKSPACE = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
QUERY = (
    'AppRequests | where AppRoleName == "portfolio-api" '
    "| summarize total = count(), good = countif(Success) by TimeGenerated = bin(TimeGenerated, 1m)"
)
START = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)

SLO_YAML = f"""
apiVersion: sre-agent/v1
kind: SLO
metadata:
  name: portfolio-api-requests
spec:
  service: portfolio-api
  owner: portfolio-engineering
  sli:
    kind: kql
    workspace_id: {WORKSPACE}
    query: '{QUERY}'
  objective: 99.5
  period: {{rolling: 28d}}
  budgeting_method: Occurrences
"""


def slo(**changes: Any) -> SloDoc:
    data = yaml.safe_load(SLO_YAML)
    for path, value in changes.items():
        node = data["spec"]
        *parents, leaf = path.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return SloDoc.model_validate(data)


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[FakeHttps]:
    fake = start(tmp_path)
    yield fake
    fake.stop()


def reader(fake: FakeHttps, credential: FakeCredential | None = None) -> LogAnalyticsSli:
    config = AzureLogsQueryConfig(endpoint=fake.base, timeout=timedelta(seconds=5))
    return LogAnalyticsSli(config, credential or FakeCredential(), fake.ca_pem)


def table(columns: list[tuple[str, str]], rows: list[list[Any]], error: dict[str, Any] | None = None) -> Any:
    body: dict[str, Any] = {
        "tables": [{"name": "PrimaryResult", "columns": [{"name": n, "type": t} for n, t in columns], "rows": rows}]
    }
    if error:
        body["error"] = error
    return 200, {}, body


COLUMNS = [("TimeGenerated", "datetime"), ("total", "long"), ("good", "long")]


def test_the_query_runs_as_written_and_minutes_are_read_by_column_name(workspace) -> None:
    workspace.answers = [
        table(
            COLUMNS,
            [
                ["2026-11-03T15:00:00Z", 100, 99],
                ["2026-11-03T15:01:00Z", 80, 60],
                ["2026-11-03T15:01:30Z", 20, 20],  # a finer bin: added to its minute
                ["2026-11-03T14:59:00Z", 50, 0],  # outside the window: ignored
            ],
        )
    ]
    credential = FakeCredential()
    sli = reader(workspace, credential)
    frame = sli.fetch(slo(), "portfolio-api-requests@abc", START, START + timedelta(minutes=5))
    sli.close()

    assert frame.select("bucket", "slo", "good", "total", "last_ok").rows() == [
        (int(START.timestamp()), "portfolio-api-requests@abc", 99, 100, 0),
        (int(START.timestamp()) + 60, "portfolio-api-requests@abc", 80, 100, 0),
    ]
    [seen] = workspace.seen
    assert (seen.method, seen.path) == ("POST", f"/v1/workspaces/{WORKSPACE}/query")
    assert seen.json() == {
        "query": QUERY,
        "timespan": "2026-11-03T15:00:00.000Z/2026-11-03T15:05:00.000Z",
        "workspaces": None,
    }
    assert "wait=120" in seen.headers["Prefer"]
    assert credential.scopes == [("https://api.loganalytics.io/.default",)]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            table(COLUMNS, [["2026-11-03T15:00:00Z", 5, 5]], {"code": "PartialError", "message": "limit"}),
            r"partial result \(PartialError\): not stored",
        ),
        (table([("TimeGenerated", "datetime"), ("n", "long")], []), "no column good, total .it has TimeGenerated, n."),
        (table(COLUMNS, [["2026-11-03T15:02:00Z", 5, 7]]), "good 7 > total 5 at 2026-11-03T15:02:00"),
        ((403, {}, {"error": {"code": "InsufficientAccessError", "message": "no"}}), r"HTTP 403 \(InsufficientAccess"),
        ((400, {}, {"error": {"code": "BadArgumentError", "message": "syntax"}}), r"HTTP 400 \(BadArgumentError\)"),
    ],
    ids=["partial", "missing-column", "good-over-total", "forbidden", "bad-query"],
)
def test_answers_that_cannot_be_trusted_are_refused(workspace, answer: Any, message: str) -> None:
    workspace.default = answer
    sli = reader(workspace)
    with pytest.raises(SourceError, match=message) as caught:
        sli.fetch(slo(), "k", START, START + timedelta(minutes=5))
    sli.close()
    assert "fake-token" not in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sli.workspace_id": "law-platform"}, "should match pattern"),
        ({"sli.query": ""}, "at least 1 character"),
        ({"filters": {"service": ["portfolio-api"]}}, "a kql SLI selects its events in its query"),
        ({"budgeting_method": "Timeslices"}, "needs timeslice_target"),
        ({"sli.good_column": "good count"}, "should match pattern"),
    ],
)
def test_impossible_kql_slos_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        slo(**changes)


def test_a_kql_slo_exports_to_openslo_as_a_log_analytics_ratio() -> None:
    docs = to_openslo(slo())
    [sli] = [d for d in docs if d["kind"] == "SLI"]
    good = sli["spec"]["ratioMetric"]["good"]["metricSource"]
    assert (good["type"], good["metricSourceRef"]) == ("AzureLogAnalytics", "azure-log-analytics")
    assert good["spec"]["sli"]["query"] == QUERY
