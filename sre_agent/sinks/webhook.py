"""POST alert notifications to a webhook: Azure's Common Alert Schema (Logic Apps, Functions, Teams Workflows) or
PagerDuty Events v2 — through an azure-core pipeline, one request per record, the alert's fingerprint as dedup key.

Delivery semantics are the outbox's: a 2xx is delivered; 408, 429 and 5xx (and network errors) are retried,
honouring ``Retry-After``; any other 4xx is permanent (the item is dead-lettered with the error). Records of a
batch before a failing one count as delivered, so they are never sent again. URLs are logged without their
query string (Logic App URLs carry their signature there) and the secret never leaves the request header.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from azure.core import PipelineClient
from azure.core.exceptions import AzureError
from azure.core.pipeline.policies import HeadersPolicy, RetryPolicy, UserAgentPolicy
from azure.core.rest import HttpRequest

from sre_agent import __version__
from sre_agent.errors import SinkError
from sre_agent.sinks.http_failures import retry_after_seconds, retryable_status, safe_url

CAS_LIMIT_BYTES = 256 * 1024
"""Azure caps Common Alert Schema payloads at 256 KB."""
_PD_SEVERITY = {"sev0": "critical", "sev1": "critical", "sev2": "error", "sev3": "warning", "sev4": "info"}


def common_alert_schema(record: dict[str, Any]) -> dict[str, Any]:
    """The record in Azure Monitor's Common Alert Schema (what action groups send to webhooks)."""
    labels: dict[str, str] = record.get("labels") or {}
    annotations: dict[str, str] = record.get("annotations") or {}
    resolved = record.get("status") == "resolved"
    fingerprint = str(record.get("fingerprint", ""))
    starts = str(record.get("starts_at", ""))
    essentials = {
        # One alert id per incident of the alert (fingerprint + start), like an Azure alert instance.
        "alertId": f"sre-agent/alerts/{fingerprint}/{starts}",
        "alertRule": record.get("rule"),
        "alertRuleId": f"sre-agent/rules/{record.get('rule')}",
        "severity": str(record.get("severity", "sev4")).capitalize(),
        "signalType": "Log",
        "monitorCondition": "Resolved" if resolved else "Fired",
        "monitoringService": "sre-agent",
        "configurationItems": [labels[k] for k in ("warehouse", "service", "slo", "domain") if labels.get(k)],
        "originAlertId": fingerprint,
        "alertTargetIDs": [],
        "firedDateTime": starts,
        "resolvedDateTime": record.get("ends_at") if resolved else None,
        "description": annotations.get("summary", ""),
        "essentialsVersion": "1.0",
        "alertContextVersion": "1.0",
    }
    context = {
        "transition": record.get("transition"),
        "at": record.get("at"),
        "labels": labels,
        "value": record.get("value"),
        "threshold": record.get("threshold"),
        "evidence": record.get("evidence"),
        "notification": record.get("notification"),
    }
    custom = {
        "fingerprint": fingerprint,
        "dedupKey": record.get("dedup_key"),
        "runbook": annotations.get("runbook"),
        "details": annotations.get("description"),
    }
    payload = {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {"essentials": essentials, "alertContext": context, "customProperties": custom},
    }
    if len(json.dumps(payload, default=str).encode()) > CAS_LIMIT_BYTES:
        context["evidence"] = {"truncated": "evidence over the 256 KB Common Alert Schema cap; see alerts show"}
    return payload


def pagerduty_event(record: dict[str, Any], routing_key: str) -> dict[str, Any]:
    """The record as a PagerDuty Events API v2 event; the fingerprint is the dedup key (trigger and resolve)."""
    labels: dict[str, str] = record.get("labels") or {}
    annotations: dict[str, str] = record.get("annotations") or {}
    resolved = record.get("status") == "resolved"
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "resolve" if resolved else "trigger",
        "dedup_key": record.get("fingerprint"),
    }
    if resolved:
        return event
    source = labels.get("warehouse") or labels.get("service") or labels.get("slo") or "sre-agent"
    event["payload"] = {
        "summary": (annotations.get("summary") or str(record.get("rule")))[:1024],
        "source": source,
        "severity": _PD_SEVERITY.get(str(record.get("severity")), "warning"),
        "timestamp": record.get("at"),
        "class": record.get("rule"),
        "component": labels.get("warehouse") or labels.get("service"),
        "group": labels.get("domain"),
        "custom_details": {
            "labels": labels,
            "value": record.get("value"),
            "threshold": record.get("threshold"),
            "evidence": record.get("evidence"),
            "transition": record.get("transition"),
        },
    }
    runbook = annotations.get("runbook")
    if runbook and runbook.startswith(("https://", "http://")):
        event["links"] = [{"href": runbook, "text": "runbook"}]
    return event


class WebhookSink:
    """One webhook receiver (a sink named in routing)."""

    def __init__(
        self,
        name: str,
        url: str,
        fmt: str = "common_alert_schema",
        secret: str | None = None,
        secret_header: str = "Authorization",  # noqa: S107 - a header name, not a secret
        timeout_s: float = 10.0,
        ca_bundle: Path | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.fmt = fmt
        self._secret = secret
        self.secret_header = secret_header
        self.timeout_s = timeout_s
        policies = [
            HeadersPolicy({"Content-Type": "application/json"}),
            UserAgentPolicy(base_user_agent=f"sre-agent/{__version__}"),
            RetryPolicy(retry_total=0),  # the outbox retries, with the destination's Retry-After
        ]
        verify: str | bool = str(ca_bundle) if ca_bundle is not None else True
        self._client: PipelineClient[HttpRequest, Any] = PipelineClient(
            base_url=url, policies=policies, connection_verify=verify
        )

    def _body(self, record: dict[str, Any]) -> dict[str, Any]:
        if self.fmt == "pagerduty":
            return pagerduty_event(record, self._secret or "")
        return common_alert_schema(record)

    def _headers(self, record: dict[str, Any]) -> dict[str, str]:
        headers = {"X-Sre-Agent-Dedup-Key": str(record.get("dedup_key", ""))}
        if self._secret and self.fmt != "pagerduty":
            headers[self.secret_header] = self._secret
        return headers

    def send(self, records: list[dict[str, Any]]) -> None:
        """POST each alert record (metric and report records are not for webhooks: pagers take incidents).

        Raises:
            SinkError: with ``sent`` = records delivered before the failure, ``retryable`` and ``retry_after``.
        """
        sent = 0
        where = safe_url(self.url)
        for record in records:
            if record.get("type") in ("metrics", "report"):
                sent += 1
                continue
            request = HttpRequest("POST", self.url, json=self._body(record), headers=self._headers(record))
            try:
                response = self._client.send_request(
                    request, connection_timeout=self.timeout_s, read_timeout=self.timeout_s
                )
            except AzureError as exc:  # connection refused, DNS, TLS, timeout: try again later
                raise SinkError(self.name, f"POST {where}: {type(exc).__name__}", sent=sent) from None
            status = response.status_code
            if 200 <= status < 300:
                sent += 1
                continue
            retryable = retryable_status(status)
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            detail = response.text()[:300] if not retryable else ""
            raise SinkError(
                self.name,
                f"POST {where}: HTTP {status}" + (f": {detail}" if detail else ""),
                retryable=retryable,
                retry_after=wait,
                sent=sent,
            )

    def close(self) -> None:
        """Close the HTTP session."""
        self._client.close()


def secret_from_env(variable: str | None) -> str | None:
    """The secret held by environment ``variable`` (None when no variable is configured).

    Raises:
        KeyError: the variable is configured but not set.
    """
    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:
        raise KeyError(variable)
    return value
