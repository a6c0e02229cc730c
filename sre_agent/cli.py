"""The `sre-agent` command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sre_agent import __version__, logs
from sre_agent.config.azure import AzureMetricsSourceConfig
from sre_agent.config.defaults import default_config_path
from sre_agent.config.durations import parse_duration
from sre_agent.config.loader import LoadedConfig, load_agent_config, load_config, load_documents
from sre_agent.errors import ConfigError, ConfigIssue, SreAgentError, UsageError
from sre_agent.exit_codes import ExitCode

log = logging.getLogger("sre_agent")

EPILOG = """exit codes: 0 ok · 1 alerts firing · 2 usage · 3 bad config · 4 agent failure (source, store)
docs: README.md · rules: rules/*.yaml · runbooks: runbooks/<id>.md"""


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from exc


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to render `--help`)."""
    parser = argparse.ArgumentParser(
        prog="sre-agent",
        description="SRE agent for Snowflake + Azure data platforms: polls ACCOUNT_USAGE, evaluates rules, "
        "alerts once per incident, explains with evidence.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sre-agent {__version__}")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--log-format", default="text", choices=["text", "json"])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--config",
            "-c",
            type=Path,
            help="agent config (default: $SRE_AGENT_CONFIG or examples/embedded.yaml, the embedded fake Snowflake)",
        )
        return p

    demo = with_config(
        sub.add_parser(
            "demo",
            help="replay the agent over a synthetic week on the embedded Snowflake and score it",
            description="Seed the embedded fake Snowflake with a synthetic capital-markets workload (with scripted, "
            "labelled incidents), replay the agent over it with a simulated clock (evaluation every minute, polls "
            "at --poll-interval), write alerts.jsonl, ground_truth.json and summary.json, and print which alert "
            "caught which incident and how fast.",
        )
    )
    demo.add_argument("--days", type=int, default=7, help="days replayed and scored (default 7)")
    demo.add_argument(
        "--warm-up-days",
        type=int,
        default=21,
        help="days of incident-free history before the replay, which the agent backfills at its first poll so "
        "that anomaly baselines exist (default 21: weekly slots)",
    )
    demo.add_argument("--seed", type=int, default=42, help="workload seed (default 42)")
    demo.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder (default demo-output)")
    demo.add_argument("--queries-per-day", type=int, default=40_000, help="demand-driven queries/day (40000)")
    demo.add_argument("--start", type=_date, default=None, help="first day, YYYY-MM-DD (default 2026-11-02, a Monday)")
    demo.add_argument(
        "--poll-interval",
        type=_duration,
        default=timedelta(minutes=15),
        help="simulated time between polls of ACCOUNT_USAGE (default 15m)",
    )
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")

    with_config(
        sub.add_parser(
            "once",
            help="run one cycle (poll, evaluate, deliver) and exit",
            description="One cycle against the configured account; exit 1 if alerts are firing.",
        )
    )
    with_config(sub.add_parser("run", help="run the daemon (APScheduler jobs; SIGTERM drains the outbox)"))

    validate = with_config(
        sub.add_parser(
            "validate",
            help="check the config and rule files; every error with file:line:col",
            description="Validate the agent config and rules (or only the given files/folders). Exit 3 on errors.",
        )
    )
    validate.add_argument("paths", nargs="*", type=Path, help="rule files or folders (default: the config's rules)")

    rule_test = with_config(
        sub.add_parser(
            "test",
            help="run rule unit tests (promtool-shaped files) through the agent's evaluator; exit 1 on a mismatch",
            description="Each test writes its input_series (rollup measures per bucket in the 'a+bxN' notation: "
            "queries, failed, latency_ms, avg_queued_load, credits_used, slo_good, slo_total, slo_loads, ...) into "
            "a throwaway store, evaluates every evaluation_interval from t=0 with the daemon's own code, and "
            "compares the alerts of each alertname at each eval_time with exp_alerts (labels, severity, state). "
            "The config supplies global labels (left out of the comparison) and latency thresholds.",
        )
    )
    rule_test.add_argument("files", nargs="+", type=Path, help="test files or folders (*.yaml)")
    with_config(sub.add_parser("sql", help="print every SQL statement the agent can run (for a DBA's review)"))
    sub.add_parser("metrics", help="list the metrics rules can use")
    sub.add_parser("schema", help="print the JSON Schema of the config and rule documents")

    status = with_config(sub.add_parser("status", help="sources, firing alerts and outbox from the state store"))
    status.add_argument("--format", choices=["table", "json"], default="table")
    health = with_config(sub.add_parser("health", help="exit 0 if an evaluation ran recently (container healthcheck)"))
    health.add_argument("--max-age", type=_duration, default=timedelta(minutes=5))
    with_config(sub.add_parser("check", help="connect to Snowflake and run the access check query"))

    simulate = sub.add_parser("simulate", help="the synthetic workload and the embedded fake Snowflake")
    sim_sub = simulate.add_subparsers(dest="sim_command", required=True, metavar="SUBCOMMAND")
    serve = sim_sub.add_parser(
        "serve",
        help="run the fake Snowflake as a standalone server, seeded and growing in real time",
        description="Serve a fake Snowflake account on HOST:PORT for any snowflake-connector-python client "
        "(protocol http, any user/password, account 'fakesnow').",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--db-path", type=Path, default=None, help="persist the account in this folder")
    serve.add_argument("--history", type=_duration, default=timedelta(days=2), help="history before now (2d)")
    serve.add_argument("--seed", type=int, default=42)
    serve.add_argument("--queries-per-day", type=int, default=40_000)
    serve.add_argument("--no-incidents", action="store_true", help="no scripted incidents")
    from sre_agent.slo_cli import add_commands

    add_commands(sub, with_config, _duration)
    from sre_agent.alerts_cli import add_commands as add_alert_commands

    add_alert_commands(sub, with_config, _duration)
    from sre_agent.outbox_cli import add_commands as add_outbox_commands

    add_outbox_commands(sub, with_config)
    from sre_agent.detect_cli import add_command as add_detect_command

    add_detect_command(sub)
    from sre_agent.incidents_cli import add_commands as add_incident_commands

    add_incident_commands(sub, with_config)
    from sre_agent.report_cli import add_commands as add_report_commands

    add_report_commands(sub, with_config)
    return parser


def _load(args: argparse.Namespace, extra: list[Path] | None = None) -> LoadedConfig:
    path = args.config or default_config_path()
    return load_config(path, extra)


def _print_issues(console: Console, issues: list[ConfigIssue]) -> None:
    for issue in issues:
        style = "red" if issue.severity == "error" else "yellow"
        console.print(str(issue), style=style, highlight=False, markup=False, soft_wrap=True)


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    """Validate config, rules and SLOs, reporting all issues (with a store: SLO traffic checks too)."""
    from sre_agent.slo_cli import traffic_warnings

    path = args.config or default_config_path()
    config, issues = load_agent_config(path)
    if args.paths:
        base = config.spec if config else None
        runbooks = None
        if base and base.runbooks:
            runbooks = base.runbooks if base.runbooks.is_absolute() else path.parent / base.runbooks
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


def _store(args: argparse.Namespace) -> object:
    """Open the configured state store for reading; it must exist (reading never creates one)."""
    from sre_agent.store.db import Database

    loaded = _load(args)
    return Database.existing(loaded.resolve(loaded.config.spec.store.path))


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    """Render the status snapshot."""
    from sre_agent.status import read_status, render_status
    from sre_agent.store.db import Database

    db = _store(args)
    assert isinstance(db, Database)
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
    from sre_agent.status import health
    from sre_agent.store.db import Database

    db = _store(args)
    assert isinstance(db, Database)
    try:
        ok, reason = health(db, int(args.max_age.total_seconds()))
    finally:
        db.close()
    console.print(("healthy: " if ok else "unhealthy: ") + reason, highlight=False)
    return ExitCode.OK if ok else ExitCode.AGENT_FAILURE


def cmd_check(args: argparse.Namespace, console: Console) -> int:
    """Connect and run the access check."""
    from sre_agent.daemon.runtime import open_agent
    from sre_agent.simulate.embedded import start_embedded
    from sre_agent.sources.snowflake_conn import connector

    loaded = _load(args)
    now = datetime.now(UTC)
    account = None
    connect = None
    if loaded.config.spec.snowflake.embedded is not None:
        account = start_embedded(loaded.config.spec.snowflake.embedded, now)
        connect = connector(account.connect_kwargs())
    agent = open_agent(loaded, connect=connect, sinks=[])
    try:
        n = agent.source.check(now - timedelta(days=1), now)
    finally:
        agent.close()
        if account is not None:
            account.stop()
    console.print(
        f"OK: connected; ACCOUNT_USAGE.QUERY_HISTORY shows {n:,} queries in the last 24h (it lags up to 45 min)",
        highlight=False,
    )
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
    from sre_agent.slo_cli import cmd_slo_export, cmd_slo_status

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
    from sre_agent.alerts_cli import cmd_alerts as run
    from sre_agent.store.db import Database

    db = _store(args)
    assert isinstance(db, Database)
    try:
        return run(args, db, console)
    finally:
        db.close()


def cmd_silence(args: argparse.Namespace, console: Console) -> int:
    """`silence add|list|expire`."""
    from sre_agent.alerts_cli import cmd_silence as run

    return run(args, _load(args), console)


def cmd_incidents(args: argparse.Namespace, console: Console) -> int:
    """`incidents list|show|ack|mitigate|note|resolve`."""
    from sre_agent.incidents_cli import cmd_incidents as run

    return run(args, _load(args), console)


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    """`report`."""
    from sre_agent.report_cli import cmd_report as run

    return run(args, _load(args), console)


def cmd_detect(args: argparse.Namespace, console: Console, err: Console) -> int:
    """`detect`."""
    from sre_agent.detect_cli import cmd_detect as run

    return run(args, console, err)


def cmd_outbox(args: argparse.Namespace, console: Console) -> int:
    """`outbox retry|discard`."""
    from sre_agent.outbox_cli import cmd_outbox as run

    return run(args, _load(args), console)


def cmd_backtest(args: argparse.Namespace, console: Console) -> int:
    """`backtest`."""
    from sre_agent.slo_cli import cmd_backtest as run

    return run(args, _maybe_load(args) if args.events is None or args.config is not None else None, console)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sre-agent` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
