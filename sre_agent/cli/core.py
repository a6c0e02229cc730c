"""The commands that own no module of their own (validate, sql, metrics, schema, demo, once, run, status, health,
check, simulate serve, test) and the dispatch of every parsed command to its handler."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sre_agent import logs
from sre_agent.config.azure import AzureMetricsSourceConfig
from sre_agent.config.defaults import default_config_path
from sre_agent.config.loader import LoadedConfig, load_agent_config, load_config, load_documents, resolve_from
from sre_agent.errors import ConfigError, ConfigIssue, SreAgentError, UsageError
from sre_agent.exit_codes import ExitCode

log = logging.getLogger("sre_agent")


def _load(args: argparse.Namespace, extra: list[Path] | None = None) -> LoadedConfig:
    path = args.config or default_config_path()
    return load_config(path, extra)


def _print_issues(console: Console, issues: list[ConfigIssue]) -> None:
    for issue in issues:
        style = "red" if issue.severity == "error" else "yellow"
        console.print(str(issue), style=style, highlight=False, markup=False, soft_wrap=True)


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    """Validate config, rules and SLOs, reporting all issues (with a store: SLO traffic checks too)."""
    from sre_agent.cli.traffic import traffic_warnings

    path = args.config or default_config_path()
    config, issues = load_agent_config(path)
    if args.paths:
        base = config.spec if config else None
        runbooks = resolve_from(path.parent, base.runbooks) if base and base.runbooks else None
        found = load_documents(list(args.paths), config, runbooks)
        issues += found.issues
        rules, slos, routing, silences = found.rules, found.slos, found.routing, found.silences
        anomalies, budgets = found.anomalies, found.budgets
        if config is not None and not [i for i in issues if i.severity == "error"]:
            issues += traffic_warnings(LoadedConfig(config, path, rules, found.origin, [], slos))
    else:
        rules, slos, routing, silences, anomalies, budgets = [], [], None, [], [], []
        if config is not None:
            try:
                loaded = load_config(path)
                rules, slos, routing, silences = loaded.rules, loaded.slos, loaded.routing, loaded.silences
                anomalies, budgets = loaded.anomalies, loaded.budgets
                issues = loaded.warnings + traffic_warnings(loaded)
            except ConfigError as exc:
                issues = exc.issues
    errors = [i for i in issues if i.severity == "error"]
    _print_issues(console, issues)
    if errors:
        console.print(f"{len(errors)} error(s)", style="bold red")
        return ExitCode.BAD_CONFIG
    what = f"{len(rules)} rule(s), {len(anomalies)} anomaly rule(s), {len(budgets)} budget(s), {len(slos)} SLO(s), "
    what += f"{len(silences)} silence(s)"
    what += f" and routing {routing.name}" if routing else " (no AlertRouting: every alert to every sink)"
    console.print(f"OK: {path} and {what} are valid", style="green", highlight=False)
    return ExitCode.OK


def cmd_sql(args: argparse.Namespace, console: Console) -> int:
    """Print every statement with its docs link and binds."""
    from sre_agent.sources.slo_sql import from_query_history, from_tasks, query_slo_rollup, query_task_freshness
    from sre_agent.sources.snowflake_sql import (
        DATABASE_STORAGE,
        METERING_DAILY,
        QUERY_COST_ROLLUP,
        all_queries,
        latency_contributors,
        pattern_queries,
    )

    loaded = _load(args)
    queries = all_queries(loaded.latency_thresholds_ms())
    if loaded.pattern_min_queries() is not None:
        queries.extend(pattern_queries())
    if loaded.config.spec.cost is not None:
        queries.extend([QUERY_COST_ROLLUP, DATABASE_STORAGE, METERING_DAILY])
    for group_by in dict.fromkeys(tuple(a.spec.group_by) for a in loaded.anomalies):
        queries.append(latency_contributors(group_by))
    if any(from_query_history(s) for s in loaded.slos):
        queries.append(query_slo_rollup(loaded.slos).query)
    if any(from_tasks(s) for s in loaded.slos):
        queries.append(query_task_freshness(loaded.slos).query)
    from sre_agent.sources.optimize_sql import optimize_queries

    queries.extend(optimize_queries())  # `report optimize`
    for query in queries:
        console.print(f"-- {query.name}: {query.description}", markup=False, highlight=False, soft_wrap=True)
        console.print(f"-- docs: {query.docs}", markup=False, highlight=False)
        console.print(f"-- binds: {', '.join(dict.fromkeys(query.params))}", markup=False, highlight=False)
        console.print(query.sql + ";\n", markup=False, highlight=False, soft_wrap=True)
    return ExitCode.OK


def cmd_metrics(console: Console) -> int:
    """List the metric catalogue."""
    from sre_agent.engine.metrics import METRICS
    from sre_agent.engine.rollups import ROLLUPS

    table = Table(title="Metrics for Threshold rules")
    for column in ("metric", "unit", "labels", "description"):
        table.add_column(column)
    for m in METRICS.values():
        table.add_row(m.name, m.unit, ", ".join(ROLLUPS[m.rollup].dims), m.description)
    console.print(table)
    return ExitCode.OK


def cmd_schema(console: Console) -> int:
    """Print JSON Schemas."""
    from sre_agent.config.agent import AgentConfig
    from sre_agent.config.specs import ThresholdRule

    schemas = {
        "AgentConfig": AgentConfig.model_json_schema(by_alias=True),
        "Threshold": ThresholdRule.model_json_schema(by_alias=True),
    }
    console.print_json(json.dumps(schemas))
    return ExitCode.OK


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    """Run the demo."""
    from sre_agent.demo import DEFAULT_START, DemoOptions, print_summary, run_demo

    loaded = _load(args)
    opts = DemoOptions(
        out=args.out,
        days=args.days,
        warm_up_days=args.warm_up_days,
        seed=args.seed,
        queries_per_day=args.queries_per_day,
        start=args.start or DEFAULT_START,
        poll_interval=args.poll_interval,
        progress=not args.no_progress and console.is_terminal,
    )
    if args.days < 1 or args.queries_per_day < 1 or args.warm_up_days < 0:
        console.print("--days and --queries-per-day must be positive, --warm-up-days not negative", style="red")
        return ExitCode.USAGE
    result = run_demo(loaded, opts, console)
    print_summary(result, console)
    return ExitCode.OK


def _azure_metrics(loaded: LoadedConfig) -> AzureMetricsSourceConfig | None:
    azure = loaded.config.spec.azure
    return azure.metrics if azure is not None else None


def cmd_once(args: argparse.Namespace, console: Console) -> int:
    """One cycle with the system clock."""
    from sre_agent.clock import SystemClock
    from sre_agent.daemon.cycle import run_cycle
    from sre_agent.daemon.runtime import open_agent
    from sre_agent.simulate.embedded import start_embedded
    from sre_agent.sources.snowflake_conn import connector

    loaded = _load(args)
    clock = SystemClock()
    account = None
    connect = None
    if loaded.config.spec.snowflake.embedded is not None:
        account = start_embedded(loaded.config.spec.snowflake.embedded, clock.now())
        connect = connector(account.connect_kwargs())
    azure = account.azure_metrics(_azure_metrics(loaded)) if account is not None else None
    agent = open_agent(loaded, connect=connect, console=console, azure_metrics=azure)
    try:
        result = run_cycle(clock, agent, force_poll=True)
        firing = [i for i in agent.alerts.active().values() if i.state.value == "firing"]
    finally:
        agent.close()
        if account is not None:
            account.stop()
    polled = ", ".join(f"{family}: {rows} rows" for family, rows in result.poll.rows.items()) or "nothing due"
    console.print(
        f"cycle at {result.now:%Y-%m-%d %H:%M}Z: polled {polled}; {result.instants} instant(s) evaluated; "
        f"{len(result.notifications)} notification(s); {len(firing)} alert(s) firing; "
        f"{result.duration_s:.1f}s",
        highlight=False,
    )
    for family, error in result.poll.errors.items():
        console.print(f"source {family} failed: {error}", style="red", highlight=False, markup=False)
    if result.poll.errors:
        return ExitCode.AGENT_FAILURE
    return ExitCode.ALERTS_FIRING if firing else ExitCode.OK


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    """The daemon."""
    from sre_agent.daemon.scheduler import run_daemon

    return run_daemon(_load(args), console)


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    """Render the status snapshot."""
    from sre_agent.cli.store import open_store
    from sre_agent.status import read_status, render_status

    db = open_store(_load(args))
    try:
        status = read_status(db)
    finally:
        db.close()
    if args.format == "json":
        console.print_json(status.to_json())
        return ExitCode.OK
    render_status(status, console)
    return ExitCode.OK


def cmd_health(args: argparse.Namespace, console: Console) -> int:
    """Exit 0 when healthy."""
    from sre_agent.cli.store import open_store
    from sre_agent.status import health

    db = open_store(_load(args))
    try:
        ok, reason = health(db, int(args.max_age.total_seconds()))
    finally:
        db.close()
    console.print(("healthy: " if ok else "unhealthy: ") + reason, highlight=False)
    return ExitCode.OK if ok else ExitCode.AGENT_FAILURE


def cmd_check(args: argparse.Namespace, console: Console) -> int:
    """Connect to Snowflake and run the access check (no state store is opened or created), then say what each
    configured Azure source is."""
    from sre_agent.cli.snowflake import snowflake_source

    loaded = _load(args)
    spec = loaded.config.spec
    now = datetime.now(UTC)
    with snowflake_source(loaded) as (source, where):
        n = source.check(now - timedelta(days=1), now)
    console.print(
        f"OK: connected to {where}; ACCOUNT_USAGE.QUERY_HISTORY shows {n:,} queries in the last 24h (it lags up to "
        "45 min)",
        highlight=False,
    )
    azure = spec.azure
    for name, part in (("metrics", azure.metrics if azure else None), ("cost", azure.cost if azure else None)):
        if part is None:
            continue
        simulated = getattr(part, "simulated", False)
        what = "simulated from the embedded workload" if simulated else "configured (not probed: `once` polls it)"
        console.print(f"azure.{name}: {what}", highlight=False)
    return ExitCode.OK


def cmd_serve(args: argparse.Namespace, console: Console) -> int:
    """Standalone fake Snowflake, growing in real time."""
    import signal
    import threading

    from sre_agent.config.agent import EmbeddedSettings
    from sre_agent.simulate.embedded import start_embedded

    settings = EmbeddedSettings(
        seed=args.seed,
        history=args.history,
        queries_per_day=args.queries_per_day,
        incidents=not args.no_incidents,
        db_path=args.db_path,
    )
    account = start_embedded(settings, datetime.now(UTC), host=args.host, port=args.port)
    params = account.server.connection_params()
    console.print(
        f"fake Snowflake serving on {params['host']}:{params['port']} (protocol http; any user/password; "
        f"account fakesnow). Views: SNOWFLAKE.ACCOUNT_USAGE.*. Ctrl-C to stop.",
        highlight=False,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    try:
        while not stop.wait(3600):
            account.extend(datetime.now(UTC))
    except KeyboardInterrupt:
        pass
    finally:
        account.stop()  # closes (and so flushes) a persisted account
    return ExitCode.OK


def _maybe_load(args: argparse.Namespace) -> LoadedConfig | None:
    """The config when one is given or the default exists (export and offline backtests work without)."""
    path = args.config or default_config_path()
    return load_config(path) if args.config is not None or path.exists() else None


def cmd_slo(args: argparse.Namespace, console: Console) -> int:
    """`slo status` / `slo export`."""
    from sre_agent.cli.slo import cmd_slo_export, cmd_slo_status

    if args.slo_command == "status":
        return cmd_slo_status(args, _load(args), console)
    return cmd_slo_export(args, _maybe_load(args) if not args.paths else None, console)


def cmd_test(args: argparse.Namespace, console: Console) -> int:
    """`test`: run rule unit-test files; print a diff per mismatch."""
    from sre_agent.config.loader import rule_paths
    from sre_agent.ruletest.runner import run_file

    base = _load(args)
    files, issues = rule_paths(list(args.files))
    if issues:
        raise ConfigError(issues)
    if not files:
        raise ConfigError([ConfigIssue(str(args.files[0]), 1, 1, "", "no test files (*.yaml) found")])
    failed = checks = 0
    problems: list[ConfigIssue] = []
    for path in files:
        try:
            result = run_file(path, base)
        except ConfigError as exc:
            problems.extend(exc.issues)
            continue
        checks += len(result.cases)
        for case in result.failures:
            failed += 1
            console.print(f"FAIL {case.diff()}", markup=False, highlight=False, soft_wrap=True)
        mark = "FAIL" if result.failures else "ok"
        console.print(f"{mark:4} {path} ({len(result.cases)} check(s))", markup=False, highlight=False)
    if problems:
        raise ConfigError(problems)
    summary = f"{checks - failed}/{checks} check(s) passed in {len(files)} file(s)"
    console.print(summary, style="red" if failed else "green", highlight=False)
    return ExitCode.ALERTS_FIRING if failed else ExitCode.OK


def cmd_alerts(args: argparse.Namespace, console: Console) -> int:
    """`alerts list|show`."""
    from sre_agent.cli.alerts import cmd_alerts as run
    from sre_agent.cli.store import open_store

    db = open_store(_load(args))
    try:
        return run(args, db, console)
    finally:
        db.close()


def cmd_silence(args: argparse.Namespace, console: Console) -> int:
    """`silence add|list|expire`."""
    from sre_agent.cli.alerts import cmd_silence as run

    return run(args, _load(args), console)


def cmd_incidents(args: argparse.Namespace, console: Console) -> int:
    """`incidents list|show|ack|mitigate|note|resolve`."""
    from sre_agent.cli.incidents import cmd_incidents as run

    return run(args, _load(args), console)


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    """`report`."""
    from sre_agent.cli.report import cmd_report as run

    return run(args, _load(args), console)


def cmd_detect(args: argparse.Namespace, console: Console, err: Console) -> int:
    """`detect`."""
    from sre_agent.cli.detect import cmd_detect as run

    return run(args, console, err)


def cmd_outbox(args: argparse.Namespace, console: Console) -> int:
    """`outbox retry|discard`."""
    from sre_agent.cli.outbox import cmd_outbox as run

    return run(args, _load(args), console)


def cmd_backtest(args: argparse.Namespace, console: Console) -> int:
    """`backtest`."""
    from sre_agent.cli.slo import cmd_backtest as run

    return run(args, _maybe_load(args) if args.events is None or args.config is not None else None, console)


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command: its handler, with errors turned into exit codes and messages (never a traceback)."""
    logs.setup(args.log_level, args.log_format)
    # Not a terminal (CI logs, pipes): wide enough that tables do not wrap every cell.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 140)
    err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 140)
    handlers = {
        "validate": lambda: cmd_validate(args, console),
        "sql": lambda: cmd_sql(args, console),
        "metrics": lambda: cmd_metrics(console),
        "schema": lambda: cmd_schema(console),
        "demo": lambda: cmd_demo(args, console),
        "once": lambda: cmd_once(args, console),
        "run": lambda: cmd_run(args, console),
        "status": lambda: cmd_status(args, console),
        "health": lambda: cmd_health(args, console),
        "check": lambda: cmd_check(args, console),
        "simulate": lambda: cmd_serve(args, console),
        "slo": lambda: cmd_slo(args, console),
        "backtest": lambda: cmd_backtest(args, console),
        "alerts": lambda: cmd_alerts(args, console),
        "test": lambda: cmd_test(args, console),
        "silence": lambda: cmd_silence(args, console),
        "outbox": lambda: cmd_outbox(args, console),
        "detect": lambda: cmd_detect(args, console, err),
        "report": lambda: cmd_report(args, console),
        "incidents": lambda: cmd_incidents(args, console),
    }
    try:
        return int(handlers[args.command]())
    except ConfigError as exc:
        _print_issues(err, exc.issues)
        err.print(f"{len([i for i in exc.issues if i.severity == 'error'])} config error(s)", style="bold red")
        return ExitCode.BAD_CONFIG
    except UsageError as exc:
        err.print(f"error: {logs.redact(str(exc))}", style="red", markup=False, highlight=False)
        return ExitCode.USAGE
    except SreAgentError as exc:
        err.print(f"error: {logs.redact(str(exc))}", style="red", markup=False, highlight=False)
        return ExitCode.AGENT_FAILURE
    except Exception as exc:  # an agent bug: say so, keep the traceback in the log, exit "agent broke"
        log.exception("internal error")
        err.print(
            f"internal error: {logs.redact(type(exc).__name__ + ': ' + str(exc))}",
            style="red",
            markup=False,
            highlight=False,
        )
        return ExitCode.AGENT_FAILURE
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
