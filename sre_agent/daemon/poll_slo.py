"""Polling SLO indicators: each SLO has its own watermark, so a new or changed SLO backfills its whole
period while the others only re-read their overlap — and SLOs due over the same window share one scan.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

import polars as pl

from sre_agent.config.slo import SloDoc, slo_key
from sre_agent.config.slo_checks import slo_lookback
from sre_agent.daemon.poll import SLO_FAMILY, PollReport, chunks, next_window
from sre_agent.daemon.runtime import Agent
from sre_agent.engine.rollups import SLO
from sre_agent.errors import SourceError, StoreError
from sre_agent.failpoints import failpoint
from sre_agent.model import to_epoch
from sre_agent.sources import slo_sql
from sre_agent.sources.snowflake import VISIBLE_SERIES
from sre_agent.store.watermarks import FamilyState

log = logging.getLogger(__name__)


def slo_watermark(key: str) -> str:
    """Watermark key of one SLO's indicator series."""
    return f"snowflake.{SLO_FAMILY}:{key}"


def slo_backfill(agent: Agent, slo: SloDoc) -> timedelta:
    """History the first poll of ``slo`` reads: its period and longest window, within the store's retention."""
    retention: timedelta = agent.spec.store.retention
    backfill: timedelta = agent.spec.snowflake.backfill
    return min(max(backfill, slo_lookback(slo)), retention)


def _windows(agent: Agent, now: datetime, force: bool) -> dict[tuple[datetime, datetime], list[SloDoc]]:
    settings = agent.spec.snowflake
    due: dict[tuple[datetime, datetime], list[SloDoc]] = defaultdict(list)
    for slo in agent.loaded.slos:
        state = agent.watermarks.get(slo_watermark(slo_key(slo)))
        window = next_window(state, settings.poll(SLO_FAMILY), SLO.grain, slo_backfill(agent, slo), now, force)
        if window is not None:
            due[window].append(slo)
    return due


def poll_slos(
    agent: Agent,
    now: datetime,
    report: PollReport,
    force: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> None:
    """Poll every due SLO into the ``slo`` rollup; record rows, windows and errors in ``report``.

    SLOs over Snowflake due over the same window share one scan; each ``kind: kql`` SLO runs its own query on
    Log Analytics.
    """
    total = 0
    for (start, end), docs in sorted(_windows(agent, now, force).items(), key=lambda kv: kv[0]):
        previous = report.windows.get(SLO_FAMILY)
        report.windows[SLO_FAMILY] = (min(start, previous[0]), end) if previous else (start, end)
        snowflake = [d for d in docs if not slo_sql.from_log_analytics(d)]
        if snowflake:
            series: list[tuple[object, ...]] = [(slo_key(d),) for d in snowflake]
            if any(slo_sql.from_query_history(d) for d in snowflake):
                series.append((VISIBLE_SERIES,))
            fetch = partial(agent.source.fetch_slos, snowflake)
            total += _poll_group(agent, snowflake, series, fetch, (start, end), now, report, should_stop)
        for doc in docs:
            if slo_sql.from_log_analytics(doc):
                assert agent.log_analytics is not None, "open_agent builds it for kql SLIs"
                fetch = partial(agent.log_analytics.fetch, doc, slo_key(doc))
                total += _poll_group(agent, [doc], [(slo_key(doc),)], fetch, (start, end), now, report, should_stop)
    report.rows[SLO_FAMILY] = report.rows.get(SLO_FAMILY, 0) + total


def _poll_group(
    agent: Agent,
    docs: list[SloDoc],
    series: list[tuple[object, ...]],
    fetch: Callable[[datetime, datetime], pl.DataFrame],
    window: tuple[datetime, datetime],
    now: datetime,
    report: PollReport,
    should_stop: Callable[[], bool] | None,
) -> int:
    """Read ``docs``' window chunk by chunk with ``fetch``, each chunk committed with their watermarks."""
    keys = [slo_key(d) for d in docs]
    total = 0
    for chunk_start, chunk_end in chunks(*window, agent.spec.snowflake.chunk):
        if should_stop is not None and should_stop():
            break
        try:
            frame = fetch(chunk_start, chunk_end)
        except Exception as exc:  # SourceError, or a result the agent cannot read
            message = str(exc) if isinstance(exc, SourceError) else f"slo: unreadable result: {exc}"
            report.errors[SLO_FAMILY] = message
            with agent.db.transaction() as conn:
                for key in keys:
                    agent.watermarks.record_failure(conn, slo_watermark(key), message, to_epoch(now))
            log.warning("poll of SLOs %s failed: %s", ", ".join(d.name for d in docs), message)
            break
        a, b = to_epoch(chunk_start), to_epoch(chunk_end)
        visible = frame.filter(frame["slo"] == VISIBLE_SERIES)["bucket"] if frame.height else frame["bucket"]
        seen = visible if visible.len() else frame["bucket"]  # kql SLIs have no visibility series
        frontier = min(int(seen.max()) + 60, b) if seen.len() else None  # type: ignore[arg-type]
        try:
            with agent.db.transaction() as conn:
                written = agent.rollups.replace(conn, SLO, a, b, frame, to_epoch(now), series=series)
                failpoint("poll.after_replace")
                for key in keys:
                    agent.watermarks.record_success(conn, slo_watermark(key), a, b, frontier, written, to_epoch(now))
        except StoreError as exc:
            report.errors[SLO_FAMILY] = str(exc)
            break
        total += written
    return total


def slo_source_state(agent: Agent) -> FamilyState | None:
    """The SLO family's health as one state: the worst of the configured SLOs' watermarks."""
    states = [agent.watermarks.get(slo_watermark(slo_key(s))) for s in agent.loaded.slos]
    attempted = [s for s in states if s.last_attempt_at is not None]
    if not attempted:
        return None
    worst = max(attempted, key=lambda s: (s.consecutive_failures, -(s.last_success_at or 0)))
    successes = [s.last_success_at for s in attempted if s.last_success_at is not None]
    return FamilyState(
        SLO_FAMILY,
        covered_from=max((s.covered_from or 0) for s in attempted) or None,
        polled_to=min((s.polled_to or 0) for s in attempted) or None,
        last_success_at=min(successes) if successes else None,
        last_attempt_at=max(s.last_attempt_at or 0 for s in attempted),
        last_error=worst.last_error,
        consecutive_failures=worst.consecutive_failures,
        rows_last_poll=sum(s.rows_last_poll for s in attempted),
    )
