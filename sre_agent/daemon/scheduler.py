"""`sre-agent run`: the daemon — APScheduler jobs for polling, evaluation, delivery and housekeeping."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from rich.console import Console

from sre_agent.clock import Clock, SystemClock
from sre_agent.config.loader import LoadedConfig
from sre_agent.daemon.cycle import deliver_now, enqueue_health, evaluate_until, record_cycle, reports_now
from sre_agent.daemon.poll import SLO_FAMILY, poll_due, poll_settings, polled_families
from sre_agent.daemon.reload import Reloader
from sre_agent.daemon.runtime import Agent, open_agent
from sre_agent.engine.rollups import ROLLUPS
from sre_agent.model import to_epoch
from sre_agent.simulate.embedded import EmbeddedAccount, start_embedded
from sre_agent.sources.snowflake_conn import connector

log = logging.getLogger(__name__)
DRAIN_TIMEOUT_S = 20.0
"""The final drain's budget when none is configured (``delivery.shutdown_timeout``)."""


def _guard(name: str, job: Callable[[], None]) -> Callable[[], None]:
    """Wrap a job so a failure is logged and the daemon keeps going (the next run retries)."""

    def run() -> None:
        try:
            job()
        except Exception:
            log.exception("job %s failed; the daemon continues", name)

    return run


def housekeeping(agent: Agent, now: datetime) -> None:
    """Prune what is older than the retention: rollups, alert history, closed alerts, finished deliveries."""
    cutoff = to_epoch(now - agent.spec.store.retention)
    with agent.db.transaction() as conn:
        pruned = sum(agent.rollups.prune(conn, rollup, cutoff) for rollup in ROLLUPS.values())
        # What was pruned is no longer covered: windows reaching back there are "no data", not zero.
        conn.execute(
            "UPDATE source_state SET covered_from = MAX(covered_from, ?) WHERE covered_from IS NOT NULL", (cutoff,)
        )
        conn.execute(
            "DELETE FROM outbox WHERE status = 'delivered' AND delivered_at < ?",
            (to_epoch(now - timedelta(days=7)),),
        )
        conn.execute(
            "DELETE FROM outbox WHERE status IN ('dead', 'dropped', 'discarded') AND created_at < ?", (cutoff,)
        )
        conn.execute("DELETE FROM alert_events WHERE at < ?", (cutoff,))
        conn.execute("DELETE FROM alert_instances WHERE state = 'inactive' AND updated_at < ?", (cutoff,))
    if pruned:
        log.info("housekeeping: pruned %d rollup rows older than %s", pruned, agent.spec.store.retention)


def drain(agent: Agent, clock: Clock, timeout_s: float = DRAIN_TIMEOUT_S) -> int:
    """Deliver what is due until the outbox is empty of due items or ``timeout_s`` passes; return delivered."""
    delivered = 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        report = deliver_now(agent, clock.now())
        delivered += report.delivered
        if report.delivered == 0:
            break
    return delivered


def run_daemon(
    loaded: LoadedConfig,
    console: Console,
    stop: threading.Event | None = None,
    clock: Clock | None = None,
    reload: threading.Event | None = None,
    extra_rule_paths: list[Path] | None = None,
) -> int:
    """Run until SIGTERM/SIGINT (or ``stop`` is set); drain the outbox before exiting. Returns 0.

    SIGHUP (or setting ``reload``) reloads the rule documents, as does a change to the files with
    ``reload.watch`` (see :mod:`sre_agent.daemon.reload`)."""
    clock = clock or SystemClock()
    stop = stop or threading.Event()
    spec = loaded.config.spec
    account: EmbeddedAccount | None = None
    connect = None
    if spec.snowflake.embedded is not None:
        account = start_embedded(spec.snowflake.embedded, clock.now())
        connect = connector(account.connect_kwargs())
    metrics_config = spec.azure.metrics if spec.azure is not None else None
    azure = account.azure_metrics(metrics_config) if account is not None else None
    agent = open_agent(loaded, connect=connect, console=console, azure_metrics=azure)
    reload = reload or threading.Event()
    reloader = Reloader(loaded.path, list(extra_rule_paths or []))
    scheduler = BackgroundScheduler(
        timezone=UTC, job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 300}
    )
    start = clock.now() + timedelta(seconds=1)

    def poll_job(family: str) -> Callable[[], None]:
        def job() -> None:
            poll_due(agent, clock.now(), [family], should_stop=stop.is_set)  # failures are logged and recorded

        return job

    def evaluate_job() -> None:
        began = time.perf_counter()
        report = evaluate_until(agent, clock.now())
        duration = time.perf_counter() - began
        enqueue_health(agent, clock.now(), duration, len(report.rule_errors))
        errors = [f"rule {name}: {error}" for name, error in report.rule_errors.items()]
        record_cycle(agent, clock.now(), duration, {}, report.instants, len(report.events), 0, errors)

    for family in polled_families(agent):
        if family == SLO_FAMILY and not agent.loaded.slos:
            continue
        interval = poll_settings(agent, family).interval
        scheduler.add_job(
            _guard(f"poll:{family}", poll_job(family)),
            "interval",
            id=f"poll:{family}",
            seconds=interval.total_seconds(),
            next_run_time=start,
        )
    # Evaluate shortly after the first polls, then every interval (instants are whole minutes).
    scheduler.add_job(
        _guard("evaluate", evaluate_job),
        "interval",
        id="evaluate",
        seconds=spec.evaluation.interval.total_seconds(),
        next_run_time=start + timedelta(seconds=5),
    )
    scheduler.add_job(
        _guard("deliver", lambda: _ignore(deliver_now(agent, clock.now()))),
        "interval",
        id="deliver",
        seconds=spec.delivery.interval.total_seconds(),
        next_run_time=start,
    )
    scheduler.add_job(
        _guard("reports", lambda: _ignore(reports_now(agent, clock.now()))),
        "interval",
        id="reports",
        minutes=15,
        next_run_time=start + timedelta(minutes=1),
    )

    def reload_job() -> None:
        requested = reload.is_set()
        reload.clear()
        reloader.check(agent, force=requested)

    scheduler.add_job(
        _guard("reload", reload_job),
        "interval",
        id="reload",
        seconds=spec.reload.interval.total_seconds(),
        next_run_time=start + spec.reload.interval,
    )
    scheduler.add_job(
        _guard("housekeeping", lambda: housekeeping(agent, clock.now())),
        "interval",
        id="housekeeping",
        hours=1,
        next_run_time=start + timedelta(minutes=5),
    )
    if account is not None:
        embedded = account
        scheduler.add_job(
            _guard("simulate", lambda: embedded.extend(clock.now())),
            "interval",
            id="simulate",
            hours=1,
            next_run_time=start + timedelta(hours=1),
        )

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    def on_hangup(_signum: int, _frame: FrameType | None) -> None:
        log.info("received SIGHUP: reloading the config at the next reload check")
        reload.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, on_hangup)
    console.print(
        f"sre-agent running ({len(loaded.rules)} rules, "
        f"{'embedded Snowflake' if account else 'Snowflake account'}); SIGHUP reloads the rules, SIGTERM or Ctrl-C "
        "stops"
    )
    scheduler.start()
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        delivered = drain(agent, clock, agent.spec.delivery.shutdown_timeout.total_seconds())
        log.info("stopped: drained %d deliveries from the outbox", delivered)
        agent.close()
        if account is not None:
            account.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _ignore(_value: Any) -> None:
    return None
