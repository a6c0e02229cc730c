"""Alert records into a Log Analytics custom table through the Logs Ingestion API (`azure-monitor-ingestion`).

One row per notification into e.g. ``SreAgentAlerts_CL`` via a Data Collection Rule: a scheduled query (log
search) alert rule on that table raises Azure alerts (action groups → phone, Teams, PagerDuty), and the
``Fingerprint`` column makes the KQL side dedup-safe (``summarize arg_max(TimeGenerated, *) by Fingerprint``).
Each agent cycle also writes a ``State == "Heartbeat"`` row: a log search alert counting them catches a dead
agent (a search over no rows counts 0, which a metric alert on a vanished series cannot be relied on to do).
The SDK chunks at 1 MiB and gzips; its own retries are off: the outbox retries, honouring ``Retry-After``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError
from azure.monitor.ingestion import LogsIngestionClient, LogsUploadError

from sre_agent.errors import SinkError
from sre_agent.sinks.http_failures import describe_azure_error, retry_after_seconds, retryable_status, safe_url

INGESTION_SCOPE = "https://monitor.azure.com/.default"


def alert_row(record: dict[str, Any]) -> dict[str, Any]:
    """The table row of one notification record (columns of ``deploy``'s SreAgentAlerts_CL)."""
    labels: dict[str, str] = record.get("labels") or {}
    annotations: dict[str, str] = record.get("annotations") or {}
    notification: dict[str, Any] = record.get("notification") or {}
    return {
        "TimeGenerated": notification.get("sent_at") or record.get("at"),
        "Fingerprint": record.get("fingerprint"),
        "DedupKey": record.get("dedup_key"),
        "Rule": record.get("rule"),
        "Severity": str(record.get("severity", "sev4")).capitalize(),
        "State": "Resolved" if record.get("status") == "resolved" else "Fired",
        "Transition": record.get("transition"),
        "Summary": annotations.get("summary", ""),
        "Description": annotations.get("description", ""),
        "Runbook": annotations.get("runbook", ""),
        "Owner": labels.get("owner") or labels.get("team") or "",
        "Labels": json.dumps(labels, sort_keys=True),
        "Value": record.get("value"),
        "Threshold": record.get("threshold"),
        "Evidence": json.dumps(record.get("evidence") or {}, sort_keys=True, default=str),
        "StartsAt": record.get("starts_at"),
        "EndsAt": record.get("ends_at"),
        "NotificationId": notification.get("id"),
    }


HEARTBEAT_FINGERPRINT = "sre-agent-heartbeat"
HEARTBEAT_STATE = "Heartbeat"
"""``State`` of the agent's heartbeat rows: the log search alert "agent silent" counts them; the alert rules, which
take each fingerprint's latest ``Fired`` row, never see them."""


def heartbeat_row(record: dict[str, Any]) -> dict[str, Any]:
    """The table row of one agent-health metric record: a heartbeat with the figures an SRE looks at first."""
    values: dict[str, float] = {}
    for point in record.get("points") or []:
        if point["name"] in ("agent_outbox_pending", "agent_outbox_dead"):
            values[point["name"]] = values.get(point["name"], 0) + point["value"]
        elif point["name"] == "agent_cycle_duration_seconds":
            values[point["name"]] = point["value"]
    summary = (
        f"cycle {values.get('agent_cycle_duration_seconds', 0):.1f}s, outbox pending "
        f"{values.get('agent_outbox_pending', 0):.0f}, dead letters {values.get('agent_outbox_dead', 0):.0f}"
    )
    return {
        "TimeGenerated": record.get("at"),
        "Fingerprint": HEARTBEAT_FINGERPRINT,
        "DedupKey": record.get("dedup_key"),
        "Rule": "sre-agent-heartbeat",
        "Severity": "Sev4",
        "State": HEARTBEAT_STATE,
        "Summary": summary,
        "Evidence": json.dumps(record.get("points") or [], sort_keys=True),
    }


REPORT_STATE = "Report"
"""``State`` of the rows announcing a report the daemon wrote (the alert rules, which take ``Fired`` rows, skip
them; a workbook or a Logic App can link them)."""


def report_row(record: dict[str, Any]) -> dict[str, Any]:
    """The table row announcing one written report (weekly optimization, monthly SLO/cost, post-mortem draft)."""
    return {
        "TimeGenerated": record.get("at"),
        "Fingerprint": f"sre-agent-report:{record.get('kind')}:{record.get('key')}",
        "DedupKey": record.get("dedup_key"),
        "Rule": f"sre-agent-report:{record.get('kind')}",
        "Severity": "Sev4",
        "State": REPORT_STATE,
        "Summary": record.get("summary", ""),
        "Evidence": json.dumps(record.get("files") or {}, sort_keys=True),
    }


def _row(record: dict[str, Any]) -> dict[str, Any] | None:
    if record.get("type") == "report":
        return report_row(record)
    if record.get("type") != "metrics":
        return alert_row(record)
    return heartbeat_row(record) if record.get("source") == "agent" else None


def _status(error: Exception) -> int | None:
    return error.status_code if isinstance(error, HttpResponseError) else None


class AzureLogsSink:
    """Uploads alert records, and one heartbeat row per agent cycle, to one DCR stream."""

    accepts_metrics = True
    accepts_reports = True
    """Reports the daemon wrote are announced as rows with ``State = Report``."""
    metric_sources = frozenset({"agent"})
    """Of the metric records, only the agent's health (as heartbeat rows)."""

    def __init__(
        self,
        name: str,
        endpoint: str,
        rule_id: str,
        stream_name: str,
        credential: TokenCredential,
        timeout_s: float = 30.0,
        ca_bundle: Path | None = None,
    ) -> None:
        self.name = name
        self.endpoint = endpoint
        self.rule_id = rule_id
        self.stream_name = stream_name
        self.timeout_s = timeout_s
        verify: str | bool = str(ca_bundle) if ca_bundle is not None else True
        self._client = LogsIngestionClient(
            endpoint=endpoint,
            credential=credential,
            retry_total=0,
            connection_verify=verify,
            connection_timeout=timeout_s,
            read_timeout=timeout_s,
        )

    def send(self, records: list[dict[str, Any]]) -> None:
        """Upload the alert records of a batch, and the agent's health records as heartbeat rows.

        Raises:
            SinkError: ``sent`` counts the records (in order) in chunks accepted before the first failed one.
        """
        rows = [(i, row) for i, row in enumerate(map(_row, records)) if row is not None]
        if not rows:
            return
        failed: list[LogsUploadError] = []
        try:
            self._client.upload(
                rule_id=self.rule_id,
                stream_name=self.stream_name,
                logs=[row for _, row in rows],
                on_error=failed.append,
            )
        except AzureError as exc:  # raised outside a chunk (token, transport before any chunk)
            failed.append(LogsUploadError(exc, [row for _, row in rows]))
        if not failed:
            return
        first = failed[0]
        first_row = first.failed_logs[0] if first.failed_logs else None
        index = next((i for i, row in rows if row is first_row), rows[0][0])
        error = first.error
        status = _status(error)
        retryable = retryable_status(status)
        wait = None
        response = getattr(error, "response", None)
        if response is not None:
            wait = retry_after_seconds(getattr(response, "headers", {}).get("Retry-After"))
        where = f"{safe_url(self.endpoint)} stream {self.stream_name}"
        raise SinkError(
            self.name,
            f"upload to {where}: {describe_azure_error(error)}",
            retryable=retryable,
            retry_after=wait,
            sent=index,
        )

    def close(self) -> None:
        """Close the client's session."""
        self._client.close()
