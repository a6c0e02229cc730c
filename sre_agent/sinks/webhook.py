"""POST alert notifications to a webhook: Azure's Common Alert Schema (Logic Apps, Functions, Teams Workflows) or
PagerDuty Events v2 — through an azure-core pipeline, one request per record, the alert's fingerprint as dedup key.
Each request has a total deadline (``timeout``: connect, send and the whole answer) and reads at most 64 KB of an
error answer, so a stalled or hostile receiver costs one deadline per delivery pass and no memory.

Delivery semantics are the outbox's: a 2xx is delivered; 408, 429 and 5xx (and network errors) are retried,
honouring ``Retry-After``; any other 4xx is permanent (the item is dead-lettered with the error). Records of a
batch before a failing one count as delivered, so they are never sent again. URLs are logged without their
query string (Logic App URLs carry their signature there) and the secret never leaves the request header.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from azure.core import PipelineClient
from azure.core.exceptions import AzureError
from azure.core.pipeline.policies import HeadersPolicy, RetryPolicy, UserAgentPolicy
from azure.core.rest import HttpRequest

from sre_agent import __version__
from sre_agent.errors import SinkError
from sre_agent.logs import register_secret
from sre_agent.sinks.http_failures import retry_after_seconds, retryable_status, safe_url

BODY_LIMIT = 64 * 1024
"""At most this much of a receiver's error answer is read (its first 300 characters go into the error)."""
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

    per_record = True
    """One request per record: the delivery loop acknowledges each as soon as it is answered (Teams, Logic Apps and
    PagerDuty do not all deduplicate a re-send)."""

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
        register_secret(secret)  # a receiver echoing the header in its answer must not put it in a log or status
        self.secret_header = secret_header
        self.timeout_s = timeout_s
        self._verify: str | bool = str(ca_bundle) if ca_bundle is not None else True
        self._client = self._new_client()

    def _new_client(self) -> PipelineClient[HttpRequest, Any]:
        policies = [
            HeadersPolicy({"Content-Type": "application/json"}),
            UserAgentPolicy(base_user_agent=f"sre-agent/{__version__}"),
            RetryPolicy(retry_total=0),  # the outbox retries, with the destination's Retry-After
        ]
        return PipelineClient(base_url=self.url, policies=policies, connection_verify=self._verify)

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
                status, retry_after, body = self._post(request)
            except AzureError as exc:  # connection refused, DNS, TLS, timeout: try again later
                raise SinkError(self.name, f"POST {where}: {type(exc).__name__}", sent=sent) from None
            except TimeoutError:
                raise SinkError(
                    self.name, f"POST {where}: no complete answer within {self.timeout_s:g}s", sent=sent
                ) from None
            if 200 <= status < 300:
                sent += 1
                continue
            retryable = retryable_status(status)
            wait = retry_after_seconds(retry_after)
            detail = body[:300] if not retryable else ""
            raise SinkError(
                self.name,
                f"POST {where}: HTTP {status}" + (f": {detail}" if detail else ""),
                retryable=retryable,
                retry_after=wait,
                sent=sent,
            )

    def _post(self, request: HttpRequest) -> tuple[int, str | None, str]:
        """One POST under a total deadline of ``timeout_s`` (connect, send and the whole answer: a receiver that
        drips a byte a second cannot hold delivery for longer), reading at most ``BODY_LIMIT`` bytes of an error
        answer (a 300 MB body is never loaded). Returns (status, Retry-After, body prefix).

        Raises:
            AzureError: no answer (refused, DNS, TLS, a read timeout).
            TimeoutError: no complete answer within the deadline; the connection is abandoned and a new one is used.
        """
        outcome: list[tuple[int, str | None, str] | BaseException] = []
        client = self._client

        def exchange() -> None:
            try:
                response = client.send_request(
                    request, stream=True, connection_timeout=self.timeout_s, read_timeout=self.timeout_s
                )
                try:
                    body = b""
                    if not 200 <= response.status_code < 300:
                        for chunk in response.iter_bytes():
                            body += chunk
                            if len(body) >= BODY_LIMIT:
                                break
                    text = body[:BODY_LIMIT].decode("utf-8", errors="replace")
                    outcome.append((response.status_code, response.headers.get("Retry-After"), text))
                finally:
                    response.close()
            except BaseException as exc:  # handed to the caller's thread
                outcome.append(exc)

        # A daemon thread per request: one stuck on a stalled receiver is abandoned, never joined at exit.
        worker = threading.Thread(target=exchange, name=f"webhook-{self.name}", daemon=True)
        worker.start()
        worker.join(self.timeout_s)
        if worker.is_alive() or not outcome:
            self._client = self._new_client()  # the stalled one is left to its thread
            raise TimeoutError(self.timeout_s)
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result

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
