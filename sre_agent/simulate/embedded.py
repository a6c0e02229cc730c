"""Start the embedded account for the daemon (`run` / `once` with the embedded default)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sre_agent.config.agent import EmbeddedSettings
from sre_agent.config.azure import AzureMetricsSourceConfig
from sre_agent.simulate.azure_platform import SimulatedAzureMetrics
from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake
from sre_agent.simulate.history import HistorySeeder
from sre_agent.simulate.incidents import default_incidents
from sre_agent.simulate.platform import MARKET_TZ
from sre_agent.simulate.schema import SIM_SCHEMA
from sre_agent.simulate.workload import WorkloadConfig, day_bounds
from sre_agent.sources.snowflake_conn import session_parameters

log = logging.getLogger(__name__)


@dataclass
class EmbeddedAccount:
    """A running embedded account that keeps growing in real time (live mode)."""

    server: EmbeddedSnowflake
    seeder: HistorySeeder

    def connect_kwargs(self) -> dict[str, Any]:
        """Connector arguments for the agent."""
        return {
            **self.server.connection_params(),
            "session_parameters": session_parameters(None),
            "paramstyle": "qmark",
            "login_timeout": 30,
            "network_timeout": 120,
        }

    def extend(self, now: datetime) -> None:
        """Generate the days ahead of ``now`` (their rows stay hidden until they happen) and trim caches."""
        stats = self.seeder.extend_until(now)
        if stats.queries:
            log.info("embedded account: appended %d queries (through %s)", stats.queries, self.seeder.next_day)
        self.server.trim_result_cache()

    def azure_metrics(self, config: AzureMetricsSourceConfig | None) -> SimulatedAzureMetrics | None:
        """The simulated Azure side of the same workload (seed, incidents), when the config asks for it."""
        if config is None or not config.simulated:
            return None
        return SimulatedAzureMetrics(config, self.seeder.cfg.seed, self.seeder.cfg.incidents)

    def stop(self) -> None:
        """Stop the server."""
        self.server.stop()


def _seeded_range(server: EmbeddedSnowflake) -> tuple[datetime, datetime] | None:
    cursor = server._shared().duck_conn.cursor()
    try:
        row = cursor.execute(f"SELECT MIN(START_TIME), MAX(START_TIME) FROM {SIM_SCHEMA}.QUERY_HISTORY").fetchone()
    finally:
        cursor.close()
    return None if row is None or row[0] is None else (row[0], row[1])


def start_embedded(
    settings: EmbeddedSettings, now: datetime, host: str = "127.0.0.1", port: int = 0
) -> EmbeddedAccount:
    """Start the fake account, seed ``history`` before ``now`` (or resume a persisted one), go live."""
    server = EmbeddedSnowflake(db_path=settings.db_path, host=host, port=port).start()
    tz = ZoneInfo(MARKET_TZ)
    existing = _seeded_range(server)
    first_day = (existing[0] if existing else now - settings.history).astimezone(tz).date()
    history_start, _ = day_bounds(first_day)
    incidents = default_incidents(history_start, history_start + timedelta(days=30)) if settings.incidents else []
    seeder = HistorySeeder(server, WorkloadConfig(settings.seed, settings.queries_per_day, tuple(incidents)))
    if existing is None:
        days = (now.astimezone(tz).date() - first_day).days + 2
        stats = seeder.seed_days(first_day, days)
        log.info("embedded account: seeded %d queries over %d days in %.1fs", stats.queries, days, stats.seconds)
    else:
        seeder.resume(first_day, existing[1].astimezone(tz).date() + timedelta(days=1))
        log.info("embedded account: resumed persisted history from %s", first_day)
    account = EmbeddedAccount(server, seeder)
    account.extend(now.astimezone(UTC))
    return account
