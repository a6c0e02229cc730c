"""Helpers for integration tests: a config pointed at a temp folder, seeding, replaying."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sre_agent.clock import SimulatedClock
from sre_agent.config.agent import JsonlSinkConfig, PollSettings
from sre_agent.config.loader import LoadedConfig, load_config
from sre_agent.daemon.cycle import CycleResult, run_cycle
from sre_agent.daemon.runtime import Agent, open_agent
from sre_agent.engine.metrics import METRICS
from sre_agent.engine.rollups import AZURE_METRIC
from sre_agent.simulate.azure_platform import SimulatedAzureMetrics
from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake
from sre_agent.simulate.history import HistorySeeder
from sre_agent.simulate.incidents import Incident, default_incidents
from sre_agent.simulate.workload import WorkloadConfig, day_bounds
from sre_agent.sources.snowflake_conn import connector, session_parameters

REPO = Path(__file__).resolve().parents[2]
MONDAY = date(2026, 11, 2)


def config_for(
    tmp: Path, poll_interval: timedelta = timedelta(minutes=15), azure: bool = False, **spec_updates: Any
) -> LoadedConfig:
    """The embedded example config with its store and JSONL sink under ``tmp``: threshold rules on Snowflake, or
    with ``azure`` also the simulated Azure side, its rules and the shipped SLOs."""
    loaded = load_config(REPO / "examples" / "embedded.yaml")
    spec = loaded.config.spec
    polls = {
        name: PollSettings(
            interval=max(poll_interval, spec.snowflake.poll(name).interval), overlap=spec.snowflake.poll(name).overlap
        )
        for name in ("query", "warehouse_load", "warehouse_metering")
    }
    snowflake = spec.snowflake.model_copy(update={"polls": polls, "backfill": timedelta(days=3)})
    updates: dict[str, Any] = {
        "snowflake": snowflake,
        "store": spec.store.model_copy(update={"path": tmp / "state.db"}),
        "sinks": [JsonlSinkConfig(type="jsonl", name="alerts-file", path=tmp / "alerts.jsonl")],
    }
    if not azure:  # the Snowflake side only: the simulated Azure side and its rules have their own tests
        updates["azure"] = None
    updates["cost"] = None  # cost attribution polls two more families: the cost tests pass their own spec.cost
    updates.update(spec_updates)
    new = loaded.config.model_copy(update={"spec": spec.model_copy(update=updates)})
    rules = [r for r in loaded.rules if azure or METRICS[r.spec.metric].rollup != AZURE_METRIC.name]
    slos = loaded.slos if azure else []  # with the Azure side: the freshness SLO it is the cause of
    return LoadedConfig(new, loaded.path, rules, loaded.rule_files, loaded.warnings, slos)


def connect_to(server: EmbeddedSnowflake, network_timeout: int = 30) -> Callable[[], Any]:
    """A connection factory for the embedded server, as the agent uses it."""
    return connector(
        {
            **server.connection_params(),
            "session_parameters": session_parameters(None),
            "paramstyle": "qmark",
            "login_timeout": 10,
            "network_timeout": network_timeout,
        }
    )


@dataclass
class History:
    """A seeded history and its ground truth."""

    start: datetime
    end: datetime
    incidents: list[Incident]
    workload: WorkloadConfig


def seed(
    server: EmbeddedSnowflake,
    days: int,
    queries_per_day: int = 8000,
    first: date = MONDAY,
    incidents: bool = True,
    seed_value: int = 7,
) -> History:
    """Seed ``days`` local days starting at ``first``."""
    start, _ = day_bounds(first)
    end, _ = day_bounds(first + timedelta(days=days))
    found = default_incidents(start, end) if incidents else []
    workload = WorkloadConfig(seed=seed_value, queries_per_day=queries_per_day, incidents=tuple(found))
    HistorySeeder(server, workload).seed_days(first, days)
    return History(start, end, found, workload)


def seed_inc1(server: EmbeddedSnowflake, queries_per_day: int = 12_000) -> Incident:
    """Five incident-free days before the Tuesday of INC-1 (the exploding join), then that Tuesday, into the
    emptied ``server``; return INC-1."""
    start, _ = day_bounds(MONDAY)
    end, _ = day_bounds(MONDAY + timedelta(days=2))
    incidents = [i for i in default_incidents(start, end) if i.id.startswith("INC-1")]
    workload = WorkloadConfig(seed=7, queries_per_day=queries_per_day, incidents=tuple(incidents))
    HistorySeeder(server.reset(), workload).seed_days(MONDAY - timedelta(days=4), 6)
    return incidents[0]


def open_test_agent(loaded: LoadedConfig, server: EmbeddedSnowflake, seed_value: int = 7) -> Agent:
    """An agent on the embedded server with the config's sinks (and, if the config has the simulated Azure side,
    that side of the workload seeded with ``seed_value``, without scripted Azure incidents)."""
    azure = loaded.config.spec.azure
    metrics = azure.metrics if azure is not None else None
    simulated = SimulatedAzureMetrics(metrics, seed_value, ()) if metrics is not None and metrics.simulated else None
    return open_agent(loaded, connect=connect_to(server), azure_metrics=simulated)


def replay(
    agent: Agent, server: EmbeddedSnowflake, start: datetime, end: datetime, step: timedelta = timedelta(minutes=15)
) -> list[CycleResult]:
    """Drive ``run_cycle`` every ``step`` from ``start`` to ``end`` with ACCOUNT_USAGE visibility at each instant."""
    clock = SimulatedClock(start)
    results = []
    while clock.now() <= end:
        server.set_clock(clock.now())
        results.append(run_cycle(clock, agent))
        clock.advance(step)
    return results


def assert_report_refused_and_kept(argv: list[str], out: Path, kept: str, message: str, err: Callable[[], str]) -> None:
    """``main(argv)`` (a report command writing to ``out``) exits 2 saying ``message`` and leaves ``out`` as it was: a
    report already there named ``kept`` is not replaced (by an empty one or at all), and nothing is added."""
    from sre_agent.cli import main
    from sre_agent.exit_codes import ExitCode

    (out / kept).write_text("the report of a real run", encoding="utf-8")
    assert main(argv) == ExitCode.USAGE
    assert message in err()
    assert (out / kept).read_text(encoding="utf-8") == "the report of a real run"
    assert sorted(p.name for p in out.iterdir()) == [kept]
