"""The command line's arguments: every command and option with its help, built without importing the agent.

``sre-agent --help`` and ``--version`` build this parser and nothing else; each command's module is imported when
the command runs (:mod:`sre_agent.cli`). Global options (``--config/-c``, ``--log-level``, ``--log-format``) are
accepted before or after the command.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sre_agent import __version__
from sre_agent.cli import options

EPILOG = """exit codes: 0 ok · 1 alerts firing · 2 usage · 3 bad config · 4 agent failure (source, store)
docs: README.md and docs/ (make docs) · rules: rules/*.yaml · runbooks: runbooks/<id>.md"""

FORMAT_HELP = "table (default) or json (every figure, for scripts)"
OUT_HELP = "output folder (default: spec.reports.dir, relative to the config file)"
CONFIG_HELP = "agent config (default: $SRE_AGENT_CONFIG or examples/embedded.yaml, the embedded fake Snowflake)"
LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]

WithConfig = Callable[[argparse.ArgumentParser], argparse.ArgumentParser]


class CommandParser(argparse.ArgumentParser):
    """A (sub)command's parser: takes the global options too, so they work after the command as well as before
    (their defaults are the top-level parser's: a value given here only overrides it when given)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        group = self.add_argument_group("global options (before or after the command)")
        group.add_argument("--log-level", default=argparse.SUPPRESS, choices=LOG_LEVELS, help="log level (WARNING)")
        group.add_argument("--log-format", default=argparse.SUPPRESS, choices=["text", "json"], help="log format")


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
    parser.add_argument("--config", "-c", type=Path, default=None, help=CONFIG_HELP)
    parser.add_argument("--log-level", default="WARNING", choices=LOG_LEVELS, help="log level (default WARNING)")
    parser.add_argument("--log-format", default="text", choices=["text", "json"], help="text (default) or json")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=CommandParser)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", "-c", type=Path, default=argparse.SUPPRESS, help=CONFIG_HELP)
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
    demo.add_argument(
        "--start", type=options.day, default=None, help="first day, YYYY-MM-DD (default 2026-11-02, a Monday)"
    )
    demo.add_argument(
        "--poll-interval",
        type=options.duration,
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
    with_config(
        sub.add_parser(
            "run",
            help="run the daemon (APScheduler jobs; SIGHUP reloads the rules, SIGTERM drains the outbox)",
            description="Poll Snowflake and Azure on their schedules, evaluate every rule, SLO and budget every "
            "minute, deliver notifications through the outbox and write the scheduled reports, until SIGTERM or "
            "Ctrl-C (then the outbox is drained for at most delivery.shutdown_timeout). SIGHUP, or a changed "
            "config or rule file, reloads the rule documents once they validate; a reload that does not is refused, "
            "the last good config keeps running and agent-config-reload-failed says why.",
        )
    )

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
    with_config(
        sub.add_parser(
            "sql",
            help="print every SQL statement the agent can run (for a DBA's review)",
            description="Every statement the agent sends to Snowflake for this config, with its documentation link "
            "and its bind parameters (values are always bound, never formatted into the text).",
        )
    )
    sub.add_parser(
        "metrics",
        help="list the metrics rules can use",
        description="The metric catalogue: name, unit, labels and meaning of every metric a Threshold rule can use.",
    )
    sub.add_parser(
        "schema",
        help="print the JSON Schema of the config and rule documents",
        description="JSON Schema of the agent config and of Threshold rules (for editors and CI).",
    )

    status = with_config(
        sub.add_parser(
            "status",
            help="sources, firing alerts and outbox from the state store",
            description="What the agent's state store says now: each source's watermark and health, the last "
            "cycle, alerts firing and pending, and the outbox (pending, dead letters) per sink. Reads only.",
        )
    )
    status.add_argument("--format", choices=["table", "json"], default="table", help=FORMAT_HELP)
    health = with_config(
        sub.add_parser(
            "health",
            help="exit 0 if an evaluation ran recently (container healthcheck)",
            description="Exit 0 when the newest evaluation recorded in the state store is younger than --max-age, "
            "else 4 with the reason (for a Kubernetes liveness probe or a Docker HEALTHCHECK).",
        )
    )
    health.add_argument(
        "--max-age",
        type=options.duration,
        default=timedelta(minutes=5),
        help="how old the newest evaluation may be (default 5m)",
    )
    with_config(
        sub.add_parser(
            "check",
            help="connect to Snowflake and run the access check query",
            description="Connect with the configured credentials (or start the embedded Snowflake), count the "
            "last 24 hours of ACCOUNT_USAGE.QUERY_HISTORY the role can read, and say which Azure sources are "
            "configured. Exit 4 with the reason when Snowflake cannot be reached or read.",
        )
    )

    simulate = sub.add_parser("simulate", help="the synthetic workload and the embedded fake Snowflake")
    sim_sub = simulate.add_subparsers(dest="sim_command", required=True, metavar="SUBCOMMAND")
    serve = sim_sub.add_parser(
        "serve",
        help="run the fake Snowflake as a standalone server, seeded and growing in real time",
        description="Serve a fake Snowflake account on HOST:PORT for any snowflake-connector-python client "
        "(protocol http, any user/password, account 'fakesnow').",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    serve.add_argument("--db-path", type=Path, default=None, help="persist the account in this folder")
    serve.add_argument("--history", type=options.duration, default=timedelta(days=2), help="history before now (2d)")
    serve.add_argument("--seed", type=int, default=42, help="workload seed (default 42)")
    serve.add_argument("--queries-per-day", type=int, default=40_000, help="demand-driven queries/day (40000)")
    serve.add_argument("--no-incidents", action="store_true", help="no scripted incidents")
    add_slo_commands(sub, with_config)
    add_alert_commands(sub, with_config)
    add_outbox_commands(sub, with_config)
    add_detect_command(sub)
    add_incident_commands(sub, with_config)
    add_report_commands(sub, with_config)
    return parser


def add_alert_commands(sub: Any, with_config: WithConfig) -> None:
    """Register `alerts` and `silence` on the top-level subparsers."""
    alerts = sub.add_parser("alerts", help="alert instances and their full history (from the state store)")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ALERTS_COMMAND")
    listing = with_config(
        alerts_sub.add_parser(
            "list",
            help="firing and pending alerts (--all: every alert), filtered by label matchers as amtool's",
            description="Example: sre-agent alerts list service=risk-engine 'severity=~sev[12]' --state firing. "
            "Matchers apply to the alert's labels plus rule (alertname) and severity.",
        )
    )
    listing.add_argument(
        "matchers", nargs="*", type=options.matcher, help='label matchers: name="v", name!=v, name=~"re", name!~"re"'
    )
    listing.add_argument("--all", action="store_true", help="include resolved alerts")
    listing.add_argument(
        "--state",
        action="append",
        choices=["firing", "pending", "resolved"],
        help="only alerts in this state (repeatable; resolved implies --all)",
    )
    listing.add_argument("--rule", default=None, help="only this rule or SLO (the same as rule=NAME)")
    listing.add_argument("--format", choices=["table", "json"], default="table", help=FORMAT_HELP)
    show = with_config(
        alerts_sub.add_parser(
            "show",
            help="one alert: every transition with its evidence, and what each receiver was told",
        )
    )
    show.add_argument("fingerprint", help="the alert's fingerprint (a unique prefix of 4+ hex digits is enough)")
    show.add_argument("--format", choices=["table", "json"], default="table", help=FORMAT_HELP)

    silence = sub.add_parser(
        "silence",
        help="mute alerts by label matchers for a while (alerts are still recorded)",
        description="Silences from the CLI live in the state store; those in git are `kind: Silence` documents "
        "in the rule folders. Every silence expires.",
    )
    silence_sub = silence.add_subparsers(dest="silence_command", required=True, metavar="SILENCE_COMMAND")
    add = with_config(
        silence_sub.add_parser(
            "add",
            help="add a silence",
            description="Example: sre-agent silence add 'warehouse=\"RISK_WH\"' 'rule=~\"risk-.*\"' --duration 2h "
            '--reason "index rebuild CHG-1234"',
        )
    )
    add.add_argument("matchers", nargs="+", type=options.matcher, help='label matchers: name="v", !=, =~"re", !~"re"')
    add.add_argument("--duration", type=options.duration, default=None, help="how long from --start (e.g. 2h)")
    add.add_argument("--start", type=options.instant, default=None, help="ISO instant (default now)")
    add.add_argument("--end", type=options.instant, default=None, help="ISO instant (instead of --duration)")
    add.add_argument("--reason", required=True, help="why (shown with every held notification)")
    add.add_argument("--author", default=None, help="who (default: the login name)")
    add.add_argument("--format", choices=["table", "json"], default="table", help=FORMAT_HELP)
    lst = with_config(silence_sub.add_parser("list", help="active and upcoming silences (--all: expired too)"))
    lst.add_argument("--all", action="store_true", help="expired silences too")
    lst.add_argument("--format", choices=["table", "json"], default="table", help=FORMAT_HELP)
    expire = with_config(silence_sub.add_parser("expire", help="end a CLI silence now"))
    expire.add_argument("id", help="the silence id (`silence list`)")


def add_detect_command(sub: Any) -> None:
    """Register `detect` on the top-level subparsers."""
    detect_parser = sub.add_parser(
        "detect",
        help="score an offline timestamp,value series with the anomaly detector (tune a LatencyAnomaly rule)",
        description="Read a CSV or Parquet series (columns timestamp and value; any regular interval that divides "
        "a day), run the robust seasonal detector with the rule's settings (or the defaults), and print for every "
        "row the baseline, the band, the robust z, a score in [0, 1] (0.5 at the threshold) and the verdict. "
        "Exit 1 when a bucket is anomalous.",
    )
    detect_parser.add_argument("--input", required=True, type=Path, help="FILE.csv or FILE.parquet")
    detect_parser.add_argument("--rule", type=Path, default=None, help="a kind: LatencyAnomaly document")
    detect_parser.add_argument("--format", choices=["table", "json"], default="table", help=FORMAT_HELP)
    detect_parser.add_argument("--time-column", default="timestamp", help="timestamp column (default timestamp)")
    detect_parser.add_argument("--value-column", default="value", help="value column (default value)")
    detect_parser.add_argument(
        "--anomalies-only", action="store_true", help="print only the anomalous rows (the summary still counts all)"
    )


def add_incident_commands(sub: Any, with_config: WithConfig) -> None:
    """Register `incidents` and its subcommands on the top-level subparsers."""
    incidents = sub.add_parser(
        "incidents",
        help="incidents (related alerts grouped) and the human steps: ack, mitigate, note, resolve",
        description="Alerts that overlap in time and share a warehouse, service or domain are grouped into one "
        "incident (spec.incidents). Record who acknowledged, mitigated and resolved it and when, and notes; "
        "resolving drafts the post-mortem into spec.reports.dir (or --out).",
    )
    cmds = incidents.add_subparsers(dest="incidents_command", required=True, metavar="INCIDENTS_COMMAND")
    listing = with_config(cmds.add_parser("list", help="open incidents (--all: resolved ones too)"))
    listing.add_argument("--all", action="store_true", help="include resolved incidents")
    listing.add_argument("--format", choices=["table", "json"], default="table", help=FORMAT_HELP)
    show = with_config(cmds.add_parser("show", help="one incident: its alerts, steps and notes"))
    show.add_argument("id", help="incident id, e.g. INC-20261105-1")
    show.add_argument("--format", choices=["table", "json"], default="table", help=FORMAT_HELP)
    for name, what in (("ack", "acknowledged"), ("mitigate", "mitigated (impact stopped)"), ("resolve", "resolved")):
        step = with_config(cmds.add_parser(name, help=f"record that the incident was {what}"))
        step.add_argument("id", help="incident id")
        step.add_argument("--author", help="who (default: your login name)")
        step.add_argument("--at", type=options.instant, help="when it happened, ISO 8601 with zone (default: now)")
        step.add_argument("--note", default="", help="a note kept in the incident's timeline")
        if name == "resolve":
            step.add_argument("--no-postmortem", action="store_true", help="do not draft the post-mortem now")
            step.add_argument("--out", help="folder for the post-mortem draft (default: spec.reports.dir)")
    note = with_config(cmds.add_parser("note", help="add a note to the incident's timeline"))
    note.add_argument("id", help="incident id")
    note.add_argument("text", help="the note")
    note.add_argument("--author", help="who (default: your login name)")
    note.add_argument("--at", type=options.instant, help="when it happened, ISO 8601 with zone (default: now)")


def add_outbox_commands(sub: Any, with_config: WithConfig) -> None:
    """Register `outbox` on the top-level subparsers."""
    outbox = sub.add_parser("outbox", help="dead-lettered deliveries: send them again or discard them")
    outbox_sub = outbox.add_subparsers(dest="outbox_command", required=True, metavar="OUTBOX_COMMAND")
    retry = with_config(
        outbox_sub.add_parser(
            "retry", help="queue a sink's dead letters again (receivers ignore what they already got: dedup keys)"
        )
    )
    retry.add_argument("--sink", required=True, help="the sink's name (see `sre-agent status`)")
    discard = with_config(outbox_sub.add_parser("discard", help="drop a sink's dead letters for good"))
    discard.add_argument("--sink", required=True, help="the sink's name (see `sre-agent status`)")


def add_report_commands(sub: Any, with_config: WithConfig) -> None:
    """Register `report` and its subcommands on the top-level subparsers."""
    report = sub.add_parser("report", help="write reports from the state store (cost, slo, postmortem, optimize)")
    kinds = report.add_subparsers(dest="report", required=True, metavar="REPORT")
    cost = with_config(
        kinds.add_parser(
            "cost",
            help="cost of a calendar month: spend by day, warehouse, domain, pattern, user, role; budgets vs actual "
            "vs forecast; recommendations",
            description="Write the cost report of a calendar month (in spec.cost.time_zone) from the state store the "
            "agent fills: cost-<period>.html (self-contained: inline charts, no scripts or fonts, opens offline), "
            "cost-<period>.md (summary for chat), cost-<period>.json and one CSV file per table. Needs spec.cost. "
            "Statements in the report (AUTO_SUSPEND, resource monitors, budgets) are printed, never executed.",
        )
    )
    cost.add_argument("--period", help="calendar month YYYY-MM (default: the month of the newest metered hour)")
    cost.add_argument("--out", type=Path, help=OUT_HELP)
    slo = with_config(
        kinds.add_parser(
            "slo",
            help="SLO compliance of a calendar month: per SLO good/total, compliance vs objective (met/missed), "
            "error budget used per day, the incidents that used it",
            description="Write the SLO compliance report of a calendar month (in spec.cost.time_zone, else UTC) "
            "from the state store the agent fills: slo-<period>.html (self-contained: inline charts, no scripts or "
            "fonts, opens offline), slo-<period>.md (summary for chat) and slo-<period>.json. For every SLO: its "
            "objective and SLI, good and total events in the month, compliance (met, missed or no data), the "
            "month's error budget ((1 - objective) x total) used and left, budget used per day, the SLO's own "
            "window at the month's end, and each firing interval of its alert with the budget used inside it.",
        )
    )
    slo.add_argument("--period", help="calendar month YYYY-MM (default: the month of the newest SLO data)")
    slo.add_argument("--out", type=Path, help=OUT_HELP)
    postmortem = with_config(
        kinds.add_parser(
            "postmortem",
            help="the post-mortem draft of an incident: timeline, detection, impact, error budget, contributing "
            "factors, action items; the human sections marked to fill in",
            description="Write the post-mortem draft of INCIDENT_ID (see `sre-agent incidents list --all`) from the "
            "state store: postmortem-<id>.html (self-contained, prints), postmortem-<id>.md (for a wiki or ticket) "
            "and postmortem-<id>.json. The daemon drafts it by itself when an incident resolves; run this to "
            "redraft after adding notes or steps. Onset comes from the data (the scope's p95, queueing, failures, "
            "spill), time to detect / acknowledge / mitigate / resolve from the alerts and the recorded steps.",
        )
    )
    postmortem.add_argument("incident", metavar="INCIDENT_ID", help="incident id, e.g. INC-20261103-1")
    postmortem.add_argument("--out", type=Path, help=OUT_HELP)
    _add_optimize(kinds, with_config)


def _add_optimize(kinds: Any, with_config: WithConfig) -> None:
    """Register `report optimize`."""
    optimize = with_config(
        kinds.add_parser(
            "optimize",
            help="weekly query optimization: the changes that save the most credits, with evidence and statements",
            description="Write the query-optimization report of the last --since (whole UTC hours) before the newest "
            "data in the state store: optimize-<day>.html (self-contained, no scripts), optimize-<day>.md (summary "
            "for chat or a wiki) and optimize-<day>.json. Query patterns (QUERY_PARAMETERIZED_HASH) are read from "
            "Snowflake with two bounded aggregate statements over ACCOUNT_USAGE.QUERY_HISTORY (see `sre-agent sql`) "
            "and ranked by the credits the cost attribution charged them (spec.cost), then by elapsed time. "
            "Findings use the thresholds of spec.reports.optimize: spill, poor pruning, queueing, provisioning "
            "waits, exploding and Cartesian joins (GET_QUERY_OPERATOR_STATS when the role may read it), rows "
            "produced jumping, latency regressions, repeated identical queries, idle and oversized warehouses, "
            "failing jobs. Each recommendation (resize or rewrite, scale up or out, split a workload, "
            "AUTO_SUSPEND, clustering key, search optimization, materialized view, query acceleration, fix or stop) "
            "carries its evidence, an estimated saving per week in credits (and money with spec.cost.credit_price) "
            "with the assumption behind it, and the statement a DBA would run: printed, never executed. Literals "
            "in query text are redacted unless --show-literals.",
        )
    )
    optimize.add_argument(
        "--since", type=options.since, default="7d", help="window length in whole hours: 7d (default), 24h, 36h"
    )
    optimize.add_argument("--out", type=Path, help=OUT_HELP)
    optimize.add_argument(
        "--show-literals",
        action="store_true",
        help="show query text as written (literals may hold customer or trade data: off by default)",
    )


def add_slo_commands(sub: Any, with_config: WithConfig) -> None:
    """Register `slo` and `backtest` on the top-level subparsers."""
    slo = sub.add_parser("slo", help="SLO status and OpenSLO export")
    slo_sub = slo.add_subparsers(dest="slo_command", required=True, metavar="SLO_COMMAND")
    status = with_config(
        slo_sub.add_parser(
            "status",
            help="every SLO: SLI, objective, budget left, burn per window, state, exhaustion ETA (from the store)",
        )
    )
    status.add_argument("--format", choices=["table", "json"], default="table", help=FORMAT_HELP)
    status.add_argument(
        "--at", type=options.utc_instant, default=None, help="ISO instant (default: the last evaluation)"
    )
    export = with_config(slo_sub.add_parser("export", help="print SLOs as OpenSLO v1 documents"))
    export.add_argument(
        "--openslo",
        action="store_true",
        help="OpenSLO v1 (the default and, today, the only format; accepted for scripts)",
    )
    export.add_argument("paths", nargs="*", type=Path, help="SLO files or folders (default: the config's slos)")

    backtest = with_config(
        sub.add_parser(
            "backtest",
            help="replay an SLO's alerting over history (store, Snowflake or an offline CSV)",
            description="Replay the SLOs of FILE minute by minute with the agent's engine and alert state machine. "
            "With --events, history is a CSV of timestamp (ISO 8601 UTC, one row per minute), good, total; "
            "otherwise it is the state store (or, for an SLO the agent has not polled yet, Snowflake). "
            "With labelled incidents (--incidents, or the embedded generator's) it reports precision, recall, "
            "detection and reset time.",
        )
    )
    backtest.add_argument("--slo", type=Path, required=True, help="SLO file (sre-agent/v1 or OpenSLO v1)")
    backtest.add_argument(
        "--since", type=options.duration, default=timedelta(days=30), help="how far back (default 30d)"
    )
    backtest.add_argument("--events", type=Path, default=None, help="offline CSV: timestamp,good,total per minute")
    backtest.add_argument("--step", type=options.duration, default=timedelta(minutes=1), help="evaluation step (1m)")
    backtest.add_argument("--incidents", type=Path, default=None, help="labelled incidents (CSV start,end,id,slo)")
    backtest.add_argument("--format", choices=["table", "json"], default="table", help=FORMAT_HELP)
