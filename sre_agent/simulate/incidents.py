"""Scripted, labelled incidents: the ground truth the agent's detections are scored against."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sre_agent.model import iso
from sre_agent.simulate.platform import MARKET_TZ, ErrorKind

BAD_PARQUET = ErrorKind(
    100038,
    "Numeric value 'N/A' is not recognized\n  File 'executions/part-00042.parquet', line 1, character 1\n"
    '  Row 1 starts at line 0, column "EXECUTIONS"["PRICE":6]',
)


class IncidentKind(StrEnum):
    """What broke."""

    LATENCY_REGRESSION = "latency_regression"
    QUEUE_STORM = "queue_storm"
    INGEST_FAILURE = "ingest_failure"
    COST_RUNAWAY = "cost_runaway"
    STREAM_STALL = "stream_stall"
    """An Azure Stream Analytics job stops producing output: COPY finds no new files, data goes stale."""


@dataclass(frozen=True)
class Incident:
    """One injected incident: when, where, what it does to the workload, and what should catch it."""

    id: str
    kind: IncidentKind
    title: str
    start: datetime
    end: datetime
    warehouse: str
    service: str | None
    domain: str | None
    description: str
    patterns: tuple[str, ...] = ()
    exec_factor: tuple[float, float] = (1.0, 1.0)
    spill_local_gb: float = 0.0
    spill_remote_gb: float = 0.0
    rows_factor: float = 1.0
    rate_factor: float = 1.0
    failure_prob: float = 0.0
    error: ErrorKind | None = None
    resize_to: str | None = None
    storm_load: float = 1.0
    """QUEUE_STORM: demand as a multiple of the warehouse's maximum capacity (all clusters busy)."""
    azure_resource: str | None = None
    """STREAM_STALL: the simulated Azure resource (its configured short name) that stalls."""
    expected_signals: tuple[str, ...] = field(default_factory=tuple)

    def active(self, at: datetime) -> bool:
        """True while the incident is under way."""
        return self.start <= at < self.end

    def to_ground_truth(self) -> dict[str, Any]:
        """Return the JSON label written to ``ground_truth.json``."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "title": self.title,
            "start": iso(self.start),
            "end": iso(self.end),
            "warehouse": self.warehouse,
            "service": self.service,
            "domain": self.domain,
            "description": self.description,
            "expected_signals": list(self.expected_signals),
            **({"azure_resource": self.azure_resource} if self.azure_resource else {}),
        }


def nth_weekday(start: date, n: int) -> date:
    """Return the ``n``-th weekday (0-based) on or after ``start``."""
    day = start
    seen = -1
    while True:
        if day.weekday() < 5:
            seen += 1
            if seen == n:
                return day
        day += timedelta(days=1)


def _at(day: date, hh: int, mm: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hh, mm), tz)


def default_incidents(start: datetime, end: datetime) -> list[Incident]:
    """Return the five scripted incidents placed on the first trading days after ``start``.

    Only incidents that start and end inside ``[start, end)`` are returned, so a short history
    carries fewer of them rather than truncated ones.
    """
    tz = ZoneInfo(MARKET_TZ)
    first = start.astimezone(tz).date()
    if start.astimezone(tz).time() > time(0, 0):
        first += timedelta(days=1)
    d1, d2, d3, d4 = (nth_weekday(first, i) for i in (1, 2, 3, 4))
    incidents = [
        Incident(
            id="INC-1-risk-join-explosion",
            kind=IncidentKind.LATENCY_REGRESSION,
            title="Risk exposure query regression: exploding join after a reference-data change",
            start=_at(d1, 10, 20, tz),
            end=_at(d1, 12, 50, tz),
            warehouse="RISK_WH",
            service="risk-engine",
            domain="risk",
            description="A duplicated FX rate row turns the counterparty exposure join into a row explosion: "
            "execution 5-10x, tens of GB spilled locally and some remotely, RISK_WH starts queueing.",
            patterns=("risk.exposure_by_counterparty",),
            exec_factor=(5.0, 10.0),
            spill_local_gb=40.0,
            spill_remote_gb=6.0,
            rows_factor=60.0,
            expected_signals=("latency_p95_ms", "spill_remote_bytes", "queued_overload_mean_ms"),
        ),
        Incident(
            id="INC-2-market-open-storm",
            kind=IncidentKind.QUEUE_STORM,
            title="Market-open queueing storm on the trade-analytics warehouse",
            start=_at(d2, 9, 28, tz),
            end=_at(d2, 10, 25, tz),
            warehouse="TRADE_ANALYTICS_WH",
            service="trade-analytics",
            domain="equity-trading",
            description="A Power BI report republished with auto-refresh every 5 s and unfiltered visuals "
            "multiplies dashboard queries and their scans at the open; the warehouse runs at its 2-cluster "
            "maximum and queries queue for minutes.",
            patterns=("bi.blotter", "bi.pnl_by_desk", "bi.fill_rates", "bi.top_movers"),
            rate_factor=3.0,
            exec_factor=(2.0, 4.0),
            storm_load=1.05,
            expected_signals=("queued_overload_mean_ms", "latency_p95_ms"),
        ),
        Incident(
            id="INC-3-ingestion-failure",
            kind=IncidentKind.INGEST_FAILURE,
            title="Trade ingestion failing: upstream Parquet schema change breaks COPY INTO",
            start=_at(d3, 13, 5, tz),
            end=_at(d3, 14, 20, tz),
            warehouse="INGEST_WH",
            service="trade-ingest",
            domain="equity-trading",
            description="Stream Analytics starts writing 'N/A' into the numeric PRICE column; COPY INTO fails "
            "for almost every file, loaders retry, curated trades go stale.",
            patterns=("ingest.copy_executions", "ingest.copy_orders"),
            rate_factor=2.0,
            failure_prob=0.95,
            error=BAD_PARQUET,
            expected_signals=("error_rate",),
        ),
        Incident(
            id="INC-4-cost-runaway",
            kind=IncidentKind.COST_RUNAWAY,
            title="Cost runaway: TRANSFORM_WH resized to 3X-Large with auto-suspend off and left running",
            start=_at(d3, 15, 0, tz),
            end=_at(d4, 21, 0, tz),
            warehouse="TRANSFORM_WH",
            service="dbt-transform",
            domain="data-platform",
            description="An engineer resized TRANSFORM_WH from Medium to 3X-Large for a backfill and disabled "
            "auto-suspend; the backfill finished but the warehouse kept running at 64 credits/hour.",
            resize_to="3X-Large",
            expected_signals=("credits_used", "credits_per_hour", "idle_credits"),
        ),
        Incident(
            id="INC-5-stream-analytics-stall",
            kind=IncidentKind.STREAM_STALL,
            title="Stream Analytics job stalls: no new execution files, trade executions go stale",
            start=_at(d2, 14, 10, tz),
            end=_at(d2, 15, 0, tz),
            warehouse="INGEST_WH",
            service="trade-ingest",
            domain="equity-trading",
            description="The asa-trade-enrichment job stops emitting output (its watermark delay grows minute by "
            "minute, input events back up, streaming units pinned at 100 %); COPY INTO RAW.TRADES.EXECUTIONS "
            "keeps succeeding but finds no new files, so the executions table stops moving.",
            patterns=("ingest.copy_executions",),
            azure_resource="asa-trade-enrichment",
            expected_signals=("azure_max", "freshness"),
        ),
    ]
    return [i for i in incidents if start <= i.start and i.end <= end]
