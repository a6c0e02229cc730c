"""SLI events from Log Analytics: the KQL query of an SLO with ``kind: kql``, through `azure-monitor-query`.

``LogsQueryClient.query_workspace`` runs the SLO's query as written, with the poll window passed as the API's
``timespan`` (the query text is never edited or formatted with values). The result is read by column name —
the time column, ``good`` and ``total`` by default — into the ``slo`` rollup's per-minute rows. A partial
result (Log Analytics hit a limit) is refused rather than stored: a minute with half its events would read
as a good or bad minute that never happened. Rows whose ``good`` exceeds ``total`` mean a wrong query and
are refused with the first offending minute.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError

from sre_agent.config.azure import AzureLogsQueryConfig
from sre_agent.config.slo import KqlSli, SloDoc
from sre_agent.errors import SourceError
from sre_agent.sinks.http_failures import describe_azure_error
from sre_agent.store.rollups import BUCKET

LANDING_HORIZON = timedelta(minutes=15)
"""How late Log Analytics rows can still arrive (ingestion latency is typically 2-5 minutes): younger minutes of a
kql SLI are not judged yet."""
LOG_ANALYTICS_AUDIENCE = "https://api.loganalytics.io"
"""Token audience of the query API (also when the endpoint is a proxy or a test server)."""


def slo_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """``slo`` rollup rows (bucket, slo, good, total, last_ok)."""
    schema = {BUCKET: pl.Int64, "slo": pl.String, "good": pl.Int64, "total": pl.Int64, "last_ok": pl.Int64}
    return pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)


def _epoch(value: object) -> int | None:
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())
    if isinstance(value, str):
        try:
            return _epoch(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


class LogAnalyticsSli:
    """Runs KQL SLIs with one ``LogsQueryClient``."""

    def __init__(self, config: AzureLogsQueryConfig, credential: TokenCredential, ca_bundle: Path | None) -> None:
        from azure.monitor.query import LogsQueryClient  # imported only where a kql SLI is configured

        timeout = config.timeout.total_seconds()
        self._server_timeout = int(config.server_timeout.total_seconds())
        self._client = LogsQueryClient(
            credential,
            endpoint=config.endpoint,
            audience=LOG_ANALYTICS_AUDIENCE,
            connection_verify=str(ca_bundle) if ca_bundle is not None else True,
            connection_timeout=timeout,
            read_timeout=max(timeout, self._server_timeout + 10),
            retry_total=2,
        )

    def fetch(self, slo: SloDoc, key: str, start: datetime, end: datetime) -> pl.DataFrame:
        """Per-minute good/total of ``slo`` (stored under ``key``) for minutes in ``[start, end)``.

        Raises:
            SourceError: Log Analytics refused the query or answered partially, or its result lacks a column.
        """
        from azure.monitor.query import LogsQueryStatus

        sli = slo.spec.sli
        assert isinstance(sli, KqlSli)
        try:
            result = self._client.query_workspace(
                sli.workspace_id, sli.query, timespan=(start, end), server_timeout=self._server_timeout
            )
        except AzureError as exc:
            raise SourceError("log_analytics", slo.name, describe_azure_error(exc)) from exc
        if result.status != LogsQueryStatus.SUCCESS:
            error = getattr(result, "partial_error", None)
            code = getattr(error, "code", None) or "PartialError"
            raise SourceError("log_analytics", slo.name, f"partial result ({code}): not stored, retried next poll")
        if not result.tables:
            return slo_frame([])
        table = result.tables[0]
        columns = list(table.columns)
        missing = [c for c in (sli.time_column, sli.good_column, sli.total_column) if c not in columns]
        if missing:
            raise SourceError(
                "log_analytics",
                slo.name,
                f"the query returns no column {', '.join(missing)} (it has {', '.join(columns)})",
            )
        at, good_at, total_at = (columns.index(c) for c in (sli.time_column, sli.good_column, sli.total_column))
        lo, hi = int(start.timestamp()), int(end.timestamp())
        sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for row in table.rows:
            when = _epoch(row[at])
            if when is None or not lo <= when < hi:
                continue
            minute = when - when % 60
            good, total = int(row[good_at] or 0), int(row[total_at] or 0)
            if good > total or good < 0:
                stamp = datetime.fromtimestamp(minute, UTC).isoformat()
                raise SourceError("log_analytics", slo.name, f"good {good} > total {total} at {stamp}: check the query")
            sums[minute][0] += good
            sums[minute][1] += total
        rows = [
            {BUCKET: minute, "slo": key, "good": g, "total": t, "last_ok": 0} for minute, (g, t) in sorted(sums.items())
        ]
        return slo_frame(rows)

    def close(self) -> None:
        """Close the client."""
        self._client.close()
