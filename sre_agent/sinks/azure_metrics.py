"""Metric records into Azure Monitor custom metrics (the platform metrics store), over its REST API.

There is no Python SDK for the custom metrics ingestion API, so this is an azure-core ``PipelineClient`` with
``BearerTokenCredentialPolicy`` (audience ``https://monitoring.azure.com/``, hence the double slash in the
scope) posting to ``https://{region}.monitoring.azure.com/{resourceId}/metrics``. Points are pre-aggregated
per minute and metric into ``min/max/sum/count`` series (the store's grain), sent as gzipped NDJSON — one
document per metric and minute, as Telegraf's Azure Monitor output does — in bodies of at most 1 MiB.

The API's rules are enforced before sending: only catalogued metrics and dimensions (≤ 10, names ≤ 256
characters, values truncated to 256), and ``time`` within 20 minutes in the past and 5 minutes in the
future. Points outside that window (e.g. catch-up after downtime) or not finite are dropped and counted
(``dropped``, exported as ``agent_metric_points_dropped``), never sent to fail. Re-sending a document after
a crash between send and acknowledgement adds the same samples again: min, max and mean are unchanged.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.pipeline import policies
from azure.core.rest import HttpRequest

from sre_agent.errors import SinkError
from sre_agent.sinks.http_failures import retry_after_seconds, retryable_status, safe_url
from sre_agent.sinks.metric_catalogue import CATALOGUE, MAX_NAME_CHARS, MetricCatalogue

log = logging.getLogger(__name__)

METRICS_SCOPE = "https://monitoring.azure.com//.default"
"""Token scope of the custom metrics API: the audience ends with a slash, so the scope has two."""
MAX_PAST_S = 20 * 60
"""Azure rejects points older than 20 minutes."""
MAX_FUTURE_S = 5 * 60
"""Azure rejects points more than 5 minutes ahead."""
MAX_BODY_BYTES = 1024 * 1024
"""Uncompressed NDJSON per request (Telegraf caps at 4 MB)."""


@dataclass
class _Series:
    low: float
    high: float
    total: float = 0.0
    count: int = 0

    def add(self, value: float) -> None:
        self.low, self.high = min(self.low, value), max(self.high, value)
        self.total += value
        self.count += 1


@dataclass
class _Document:
    minute: int
    metric: str
    dims: tuple[str, ...]
    series: dict[tuple[str, ...], _Series] = field(default_factory=dict)
    first_record: int = 0
    """Index of the first record contributing to the document (what a failure sends back)."""

    def body(self, namespace: str) -> dict[str, Any]:
        return {
            "time": datetime.fromtimestamp(self.minute, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": {
                "baseData": {
                    "metric": self.metric,
                    "namespace": namespace,
                    "dimNames": list(self.dims),
                    "series": [
                        {"dimValues": list(values), "min": s.low, "max": s.high, "sum": s.total, "count": s.count}
                        for values, s in self.series.items()
                    ],
                }
            },
        }


def _epoch(at: object) -> int | None:
    if not isinstance(at, str):
        return None
    try:
        parsed = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())


def minute_documents(
    records: list[dict[str, Any]], catalogue: MetricCatalogue, now: float
) -> tuple[list[_Document], Counter[str]]:
    """Aggregate the points of metric ``records`` per (minute, metric) into documents; count the refused points.

    Documents come out ordered by minute then metric; refusals are counted by reason: ``too_old``,
    ``too_new``, ``not_finite``, ``unknown_metric``.
    """
    docs: dict[tuple[int, str], _Document] = {}
    dropped: Counter[str] = Counter()
    for index, record in enumerate(records):
        if record.get("type") != "metrics":
            continue
        at = _epoch(record.get("at"))
        points = record.get("points") or []
        if at is None:
            dropped["unreadable_time"] += len(points)
            continue
        minute = at - at % 60
        for point in points:
            metric = catalogue.get(str(point.get("name")))
            value = point.get("value")
            if metric is None:
                dropped["unknown_metric"] += 1
            elif not isinstance(value, int | float) or not math.isfinite(value):
                dropped["not_finite"] += 1
            elif at < now - MAX_PAST_S:
                dropped["too_old"] += 1
            elif at > now + MAX_FUTURE_S:
                dropped["too_new"] += 1
            else:
                doc = docs.setdefault((minute, metric.name), _Document(minute, metric.name, metric.dims))
                if not doc.series:
                    doc.first_record = index
                dims = point.get("dims") or {}
                values = tuple(str(dims.get(d, ""))[:MAX_NAME_CHARS] for d in metric.dims)
                doc.series.setdefault(values, _Series(float(value), float(value))).add(float(value))
    return [docs[key] for key in sorted(docs)], dropped


class AzureMetricsSink:
    """Publishes metric records as Azure Monitor custom metrics on one resource; alert records are not for it."""

    accepts_metrics = True
    accepts_alerts = False

    def __init__(
        self,
        name: str,
        resource_id: str,
        region: str,
        namespace: str,
        credential: TokenCredential,
        endpoint: str | None = None,
        timeout_s: float = 30.0,
        ca_bundle: Path | None = None,
        clock: Callable[[], float] = time.time,
        catalogue: MetricCatalogue = CATALOGUE,
    ) -> None:
        self.name = name
        self.resource_id = "/" + resource_id.strip("/")
        self.namespace = namespace
        self.endpoint = (endpoint or f"https://{region}.monitoring.azure.com").rstrip("/")
        self.dropped: Counter[str] = Counter()
        """Points refused since start, by reason (exported as ``agent_metric_points_dropped``)."""
        self._clock = clock
        self._catalogue = catalogue
        self._timeout = timeout_s
        settings: dict[str, Any] = {
            "connection_verify": str(ca_bundle) if ca_bundle is not None else True,
            "connection_timeout": timeout_s,
            "read_timeout": timeout_s,
        }
        self._client: PipelineClient[HttpRequest, Any] = PipelineClient(
            base_url=self.endpoint,
            policies=[
                policies.RequestIdPolicy(),
                policies.HeadersPolicy(),
                policies.UserAgentPolicy(sdk_moniker="sre-agent-custom-metrics/1"),
                policies.RetryPolicy(retry_total=0),  # the outbox retries, honouring Retry-After
                policies.BearerTokenCredentialPolicy(credential, METRICS_SCOPE),
                policies.ContentDecodePolicy(),
                policies.HttpLoggingPolicy(),
            ],
            **settings,
        )

    @property
    def url(self) -> str:
        """Where the documents are posted."""
        return f"{self.endpoint}{self.resource_id}/metrics"

    def send(self, records: list[dict[str, Any]]) -> None:
        """Aggregate and post the metric records of a batch.

        Raises:
            SinkError: ``sent`` counts the records (in order) whose documents all went out before the failure.
        """
        docs, dropped = minute_documents(records, self._catalogue, self._clock())
        if dropped:
            self.dropped.update(dropped)
            log.warning(
                "%s: %d metric point(s) not sent (%s)",
                self.name,
                sum(dropped.values()),
                ", ".join(f"{reason} {n}" for reason, n in sorted(dropped.items())),
            )
        for start, body in self._bodies(docs):
            try:
                self._post(body)
            except SinkError as exc:
                exc.sent = min((d.first_record for d in docs[start:]), default=len(records))
                raise

    def _bodies(self, docs: list[_Document]) -> list[tuple[int, bytes]]:
        """NDJSON bodies of at most ``MAX_BODY_BYTES``, each with the index of its first document."""
        out: list[tuple[int, bytes]] = []
        lines: list[bytes] = []
        size, start = 0, 0
        for i, doc in enumerate(docs):
            line = json.dumps(doc.body(self.namespace), separators=(",", ":")).encode() + b"\n"
            if lines and size + len(line) > MAX_BODY_BYTES:
                out.append((start, b"".join(lines)))
                lines, size, start = [], 0, i
            lines.append(line)
            size += len(line)
        if lines:
            out.append((start, b"".join(lines)))
        return out

    def _post(self, body: bytes) -> None:
        request = HttpRequest(
            "POST",
            self.url,
            content=gzip.compress(body),
            headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
        )
        where = f"POST {safe_url(self.url)}"
        try:
            response = self._client.send_request(request)
        except AzureError as exc:  # token, connection refused, timeout
            raise SinkError(self.name, f"{where}: {type(exc).__name__}", retryable=True) from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        code = ""
        try:
            error = response.json()
            detail = error.get("error") or (error.get("apiFailureResponse") or {}).get("error") or {}
            code = str(detail.get("code") or "")
        except (ValueError, AttributeError, HttpResponseError):
            pass
        raise SinkError(
            self.name,
            f"{where}: HTTP {status}" + (f" ({code})" if code else ""),
            retryable=retryable_status(status),
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )

    def close(self) -> None:
        """Close the pipeline's session."""
        self._client.close()
