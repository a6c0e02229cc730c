"""Polling: for each due query family, re-read an overlapping window and replace its rollup buckets."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from sre_agent.clock import floor_to
from sre_agent.config.agent import PollSettings
from sre_agent.config.loader import LoadedConfig
from sre_agent.daemon.runtime import Agent
from sre_agent.engine.rollups import AZURE_COST, AZURE_METRIC, RollupDef
from sre_agent.errors import SourceError, StoreError
from sre_agent.failpoints import failpoint
from sre_agent.model import from_epoch, to_epoch
from sre_agent.sources.snowflake import (
    COST_FAMILY,
    FAMILIES,
    OPTIONAL_FAMILIES,
    PATTERN_FAMILY,
    SERVERLESS_FAMILY,
    STORAGE_FAMILY,
)
from sre_agent.store.watermarks import FamilyState

log = logging.getLogger(__name__)


@dataclass
class PollReport:
    """What one polling pass read, per family."""

    rows: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    windows: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)


SLO_FAMILY = "slo"
"""The SLO indicators (polled per SLO, see poll_slo)."""


def polled_families(agent: Agent) -> list[str]:
    """Every family ``agent`` polls: the Snowflake rollup families (the optional ones when needed), the SLO
    indicators, plus Azure metrics when configured."""
    families = [*FAMILIES, *optional_families(agent.loaded)]
    families.append(SLO_FAMILY)
    if agent.azure_metrics is not None:
        families.append(AZURE_METRICS_FAMILY)
    if agent.azure_cost is not None:
        families.append(AZURE_COST_FAMILY)
    return families


AZURE_METRICS_FAMILY = "azure_metrics"
"""The Azure platform metrics family (``azure.metrics``), polled like a Snowflake family into ``azure_metric``."""
AZURE_COST_FAMILY = "azure_cost"
"""Daily Azure spend (``azure.cost``), polled into ``azure_cost``."""
AZURE_FAMILIES = {AZURE_METRICS_FAMILY: "azure.metrics", AZURE_COST_FAMILY: "azure.cost"}
"""Azure families and their watermark keys."""
AZURE_COST_CHUNK = timedelta(days=31)
AZURE_CHUNK = timedelta(hours=6)
"""Largest window one Azure metrics poll asks for (1-minute grain: 360 points per metric and resource)."""


def family_key(family: str) -> str:
    """Watermark key of a polled family."""
    return AZURE_FAMILIES.get(family, f"snowflake.{family}")


def optional_families(loaded: LoadedConfig) -> dict[str, RollupDef]:
    """Snowflake families polled only when needed: per-pattern latency for pattern-scoped anomaly rules, hourly
    execution time and daily storage for cost attribution when ``spec.cost`` is set."""
    out = {}
    if loaded.pattern_min_queries() is not None:
        out[PATTERN_FAMILY] = OPTIONAL_FAMILIES[PATTERN_FAMILY]
    if loaded.config.spec.cost is not None:
        out[COST_FAMILY] = OPTIONAL_FAMILIES[COST_FAMILY]
        out[STORAGE_FAMILY] = OPTIONAL_FAMILIES[STORAGE_FAMILY]
        out[SERVERLESS_FAMILY] = OPTIONAL_FAMILIES[SERVERLESS_FAMILY]
    return out


def rollup_families(agent: Agent) -> dict[str, RollupDef]:
    """Every family polled into a rollup: the Snowflake ones (the optional ones when needed), plus Azure metrics
    when configured."""
    out = {**FAMILIES, **optional_families(agent.loaded)}
    if agent.azure_metrics is not None:
        out[AZURE_METRICS_FAMILY] = AZURE_METRIC
    if agent.azure_cost is not None:
        out[AZURE_COST_FAMILY] = AZURE_COST
    return out


def poll_settings(agent: Agent, family: str) -> PollSettings:
    """Interval and overlap of ``family``."""
    if family in AZURE_FAMILIES:
        config = agent.spec.azure.metrics if family == AZURE_METRICS_FAMILY else agent.spec.azure.cost
        return PollSettings(interval=config.interval, overlap=config.overlap)
    return agent.spec.snowflake.poll(family)  # type: ignore[no-any-return]


def _backfill_and_chunk(agent: Agent, family: str) -> tuple[timedelta, timedelta]:
    if family == AZURE_METRICS_FAMILY:
        return agent.spec.azure.metrics.backfill, AZURE_CHUNK
    if family == AZURE_COST_FAMILY:
        return agent.spec.azure.cost.backfill, AZURE_COST_CHUNK
    return agent.spec.snowflake.backfill, agent.spec.snowflake.chunk


def _fetch(agent: Agent, family: str, start: datetime, end: datetime) -> pl.DataFrame:
    if family == AZURE_METRICS_FAMILY:
        assert agent.azure_metrics is not None
        return agent.azure_metrics.fetch(start, end)
    if family == AZURE_COST_FAMILY:
        assert agent.azure_cost is not None
        return agent.azure_cost.fetch(start, end)
    return agent.source.fetch(family, start, end)


def next_window(
    state: FamilyState,
    poll: PollSettings,
    grain: timedelta,
    backfill: timedelta,
    now: datetime,
    force: bool = False,
) -> tuple[datetime, datetime] | None:
    """Return the window the next poll of a family in ``state`` reads, or None when it is not due yet.

    The window starts ``overlap`` before the end of the last successful poll (never at the newest
    row seen: ACCOUNT_USAGE rows land below it), or ``backfill`` before now on the first poll. A
    failed poll leaves the start where it was, so the next success closes the gap.
    """
    if not force and state.last_attempt_at is not None and now - from_epoch(state.last_attempt_at) < poll.interval:
        return None
    start = now - backfill if state.polled_to is None else from_epoch(state.polled_to) - poll.overlap
    start = floor_to(start, grain)
    if start >= now:
        return None
    return start, now


def poll_window(agent: Agent, family: str, now: datetime, force: bool = False) -> tuple[datetime, datetime] | None:
    """Return the window the next poll of ``family`` reads, or None when it is not due yet (see next_window)."""
    state = agent.watermarks.get(family_key(family))
    rollup = rollup_families(agent)[family]
    backfill, _ = _backfill_and_chunk(agent, family)
    return next_window(state, poll_settings(agent, family), rollup.grain, backfill, now, force)


def chunks(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    out = []
    cursor = start
    while cursor < end:
        out.append((cursor, min(cursor + size, end)))
        cursor += size
    return out


def poll_due(
    agent: Agent,
    now: datetime,
    families: list[str] | None = None,
    force: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> PollReport:
    """Poll every due family (all of them with ``force``); long windows go in ``chunk``-sized steps, each
    committed on its own."""
    report = PollReport()
    agent.source.begin_pass()
    for family in families or polled_families(agent):
        if family == SLO_FAMILY:
            from sre_agent.daemon.poll_slo import poll_slos  # poll_slo builds on this module

            poll_slos(agent, now, report, force, should_stop)
            continue
        window = poll_window(agent, family, now, force)
        if window is None:
            continue
        report.windows[family] = window
        rollup = rollup_families(agent)[family]
        grain = int(rollup.grain.total_seconds())
        total = 0
        for chunk_start, chunk_end in chunks(*window, _backfill_and_chunk(agent, family)[1]):
            if should_stop is not None and should_stop():
                break  # shutting down: the next start resumes from the last committed chunk
            try:
                frame = _fetch(agent, family, chunk_start, chunk_end)
            except Exception as exc:  # SourceError, or a result the agent cannot read: this poll failed
                message = str(exc) if isinstance(exc, SourceError) else f"{family}: unreadable result: {exc}"
                report.errors[family] = message
                with agent.db.transaction() as conn:
                    agent.watermarks.record_failure(conn, family_key(family), message, to_epoch(now))
                log.warning("poll %s failed: %s", family, message)
                break
            frontier = int(frame["bucket"].max()) + grain if frame.height else None  # type: ignore[arg-type]
            a, b = to_epoch(chunk_start), to_epoch(chunk_end)
            try:
                with agent.db.transaction() as conn:
                    written = agent.rollups.replace(conn, rollup, a, b, frame, to_epoch(now))
                    failpoint("poll.after_replace")
                    agent.watermarks.record_success(
                        conn,
                        family_key(family),
                        a,
                        b,
                        min(frontier, b) if frontier else None,
                        written,
                        to_epoch(now),
                    )
            except StoreError as exc:
                report.errors[family] = str(exc)
                break
            total += written
        report.rows[family] = total
    return report
