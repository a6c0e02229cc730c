"""Seed an embedded account with generated history, day by day, and keep appending it (live mode)."""

from __future__ import annotations

import json
import logging
import time as walltime
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake
from sre_agent.simulate.incidents import Incident
from sre_agent.simulate.platform import MARKET_TZ
from sre_agent.simulate.workload import TS, WorkloadConfig, day_bounds, generate_day

log = logging.getLogger(__name__)

_SERVERLESS = {"AUTO_CLUSTERING": 3.2, "MATERIALIZED_VIEW": 1.8, "PIPE": 1.1, "SEARCH_OPTIMIZATION": 0.6}
_DB_TB = {"RAW": 45.0, "CURATED": 30.0, "RISK": 12.0, "REPORTING": 4.0, "REFERENCE": 0.2}


@dataclass
class SeedStats:
    """What a seeding run wrote."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, view: str, n: int) -> None:
        """Count ``n`` rows written to ``view``."""
        self.rows[view] = self.rows.get(view, 0) + n

    @property
    def queries(self) -> int:
        """QUERY_HISTORY rows written."""
        return self.rows.get("QUERY_HISTORY", 0)


class HistorySeeder:
    """Generates local days of workload into an EmbeddedSnowflake and derives the daily views."""

    def __init__(self, server: EmbeddedSnowflake, cfg: WorkloadConfig) -> None:
        self.server = server
        self.cfg = cfg
        self.tz = ZoneInfo(MARKET_TZ)
        self.next_day: date | None = None
        self._hourly: list[pl.DataFrame] = []
        self._daily_done: set[date] = set()
        self.covered_from: datetime | None = None
        self.covered_to: datetime | None = None

    def seed_days(self, first: date, count: int, progress: Callable[[int], None] | None = None) -> SeedStats:
        """Generate and load ``count`` local days starting at ``first``; ``progress(days_done)`` after each day."""
        stats = SeedStats()
        began = walltime.perf_counter()
        for offset in range(count):
            day = generate_day(first + timedelta(days=offset), self.cfg)
            stats.add("QUERY_HISTORY", self.server.load("QUERY_HISTORY", day.query_history))
            stats.add(
                "WAREHOUSE_LOAD_HISTORY",
                self.server.load("WAREHOUSE_LOAD_HISTORY", day.warehouse_load_history),
            )
            stats.add(
                "WAREHOUSE_METERING_HISTORY",
                self.server.load("WAREHOUSE_METERING_HISTORY", day.warehouse_metering_history),
            )
            stats.add("TASK_HISTORY", self.server.load("TASK_HISTORY", day.task_history))
            self._hourly.append(day.warehouse_metering_history)
            self.covered_from = day.start if self.covered_from is None else min(self.covered_from, day.start)
            self.covered_to = day.end if self.covered_to is None else max(self.covered_to, day.end)
            self.next_day = day.day + timedelta(days=1)
            if progress is not None:
                progress(offset + 1)
        self._daily_views(stats)
        stats.seconds = walltime.perf_counter() - began
        return stats

    def resume(self, first: date, next_day: date) -> None:
        """Continue a persisted history that holds days ``first`` … ``next_day - 1`` (daily views included)."""
        self.next_day = next_day
        self.covered_from = day_bounds(first)[0]
        self.covered_to = day_bounds(next_day)[0]
        done = self.covered_from.astimezone(UTC).date()
        while done < self.covered_to.astimezone(UTC).date():
            self._daily_done.add(done)
            done += timedelta(days=1)

    def extend_until(self, instant: datetime) -> SeedStats:
        """Live mode: make sure whole local days are generated past ``instant`` (rows stay hidden until due)."""
        stats = SeedStats()
        if self.next_day is None:
            return stats
        target = instant.astimezone(self.tz).date() + timedelta(days=1)
        if self.next_day <= target:
            stats = self.seed_days(self.next_day, (target - self.next_day).days + 1)
        return stats

    def _daily_views(self, stats: SeedStats) -> None:
        if self.covered_from is None or self.covered_to is None:
            return
        hourly = pl.concat(self._hourly) if self._hourly else pl.DataFrame()
        first = self.covered_from.astimezone(UTC).date() + timedelta(days=1)
        last = self.covered_to.astimezone(UTC).date()  # exclusive: the day the coverage ends in
        metering_rows = []
        storage_rows = []
        for offset in range((last - first).days):
            day = first + timedelta(days=offset)
            if day in self._daily_done:
                continue
            self._daily_done.add(day)
            begin = datetime(day.year, day.month, day.day, tzinfo=UTC)
            in_day = hourly.filter((pl.col("START_TIME") >= begin) & (pl.col("START_TIME") < begin + timedelta(days=1)))
            compute = float(in_day["CREDITS_USED_COMPUTE"].sum())
            cloud = float(in_day["CREDITS_USED_CLOUD_SERVICES"].sum())
            rng = np.random.default_rng([self.cfg.seed, day.toordinal(), 7])
            visible = begin + timedelta(days=1, hours=float(rng.uniform(3, 5)))
            adjustment = -min(cloud, 0.1 * compute)
            metering_rows.append(
                (
                    "WAREHOUSE_METERING",
                    day,
                    compute,
                    cloud,
                    compute + cloud,
                    adjustment,
                    compute + cloud + adjustment,
                    visible,
                )
            )
            for service, mean in _SERVERLESS.items():
                used = round(mean * float(rng.uniform(0.7, 1.3)), 9)
                metering_rows.append((service, day, used, 0.0, used, 0.0, used, visible))
            age = (day - date(2026, 1, 1)).days
            for i, (db, tb) in enumerate(_DB_TB.items()):
                size = tb * 1e12 * (1 + 0.0025 * age) * float(rng.uniform(0.998, 1.002))
                storage_rows.append(
                    (
                        day,
                        11 + i,
                        db,
                        None,
                        size,
                        size * 0.07,
                        0.0,
                        0.0,
                        0.0,
                        0.0,
                        0.0,
                        begin + timedelta(days=1, hours=float(rng.uniform(2, 4))),
                    )
                )
        if metering_rows:
            frame = pl.DataFrame(
                metering_rows,
                orient="row",
                schema={
                    "SERVICE_TYPE": pl.String,
                    "USAGE_DATE": pl.Date,
                    "CREDITS_USED_COMPUTE": pl.Float64,
                    "CREDITS_USED_CLOUD_SERVICES": pl.Float64,
                    "CREDITS_USED": pl.Float64,
                    "CREDITS_ADJUSTMENT_CLOUD_SERVICES": pl.Float64,
                    "CREDITS_BILLED": pl.Float64,
                    "_VISIBLE_AT": TS,
                },
            )
            stats.add("METERING_DAILY_HISTORY", self.server.load("METERING_DAILY_HISTORY", frame))
        if storage_rows:
            frame = pl.DataFrame(
                storage_rows,
                orient="row",
                schema={
                    "USAGE_DATE": pl.Date,
                    "DATABASE_ID": pl.Int64,
                    "DATABASE_NAME": pl.String,
                    "DELETED": TS,
                    "AVERAGE_DATABASE_BYTES": pl.Float64,
                    "AVERAGE_FAILSAFE_BYTES": pl.Float64,
                    "AVERAGE_HYBRID_TABLE_STORAGE_BYTES": pl.Float64,
                    "AVERAGE_ARCHIVE_STORAGE_COOL_BYTES": pl.Float64,
                    "AVERAGE_ARCHIVE_STORAGE_COLD_BYTES": pl.Float64,
                    "AVERAGE_COOL_FAILSAFE_BYTES": pl.Float64,
                    "AVERAGE_COLD_FAILSAFE_BYTES": pl.Float64,
                    "_VISIBLE_AT": TS,
                },
            )
            stats.add("DATABASE_STORAGE_USAGE_HISTORY", self.server.load("DATABASE_STORAGE_USAGE_HISTORY", frame))


def write_ground_truth(path: Path, incidents: list[Incident], start: datetime, end: datetime, seed: int) -> None:
    """Write the incident labels of a generated history to ``path`` (JSON)."""
    payload = {
        "generator": "sre-agent synthetic capital-markets workload",
        "seed": seed,
        "history_start": start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "history_end": end.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "incidents": [i.to_ground_truth() for i in incidents],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
