"""`sre-agent demo`: seed the embedded Snowflake, replay the agent over the history, score it against the incidents."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from sre_agent.clock import SimulatedClock
from sre_agent.config.agent import ConsoleSinkConfig, JsonlSinkConfig, PollSettings
from sre_agent.config.loader import LoadedConfig
from sre_agent.daemon.cycle import run_cycle
from sre_agent.daemon.evaluate import SOURCE_RULE
from sre_agent.daemon.evaluate_slo import SloReader
from sre_agent.daemon.runtime import Agent, open_agent
from sre_agent.model import EventKind, iso
from sre_agent.simulate.azure_cost import SimulatedAzureCost
from sre_agent.simulate.azure_platform import SimulatedAzureMetrics
from sre_agent.simulate.fake_snowflake import EmbeddedSnowflake
from sre_agent.simulate.history import HistorySeeder, write_ground_truth
from sre_agent.simulate.incidents import Incident, default_incidents
from sre_agent.simulate.platform import MARKET_TZ
from sre_agent.simulate.scoring import Detection, IncidentScore, Scorecard, score
from sre_agent.simulate.workload import WorkloadConfig, day_bounds
from sre_agent.sinks.base import Sink
from sre_agent.sinks.console import ConsoleSink
from sre_agent.sinks.jsonl import JsonlSink
from sre_agent.slo_status import render as render_slos
from sre_agent.slo_status import snapshot as slo_snapshot
from sre_agent.sources.snowflake_conn import connector, session_parameters
from sre_agent.store import evaluation_state

DEFAULT_START = date(2026, 11, 2)  # a Monday: the week holds a full trading week and a weekend


@dataclass
class DemoOptions:
    """Knobs of the demo run."""

    out: Path
    days: int = 7
    warm_up_days: int = 21
    """Incident-free history before the replayed days (anomaly baselines need weeks of it)."""
    seed: int = 42
    queries_per_day: int = 40_000
    start: date = DEFAULT_START
    poll_interval: timedelta = timedelta(minutes=15)
    progress: bool = True


@dataclass
class DemoResult:
    """What the demo produced."""

    scorecard: Scorecard
    slos: list[dict[str, Any]]
    """`slo status` of every SLO at the end of the replay."""
    queries: int
    notifications: int
    seconds_seed: float
    seconds_replay: float
    out: Path
    repeats: int = 0
    """Of the notifications, re-sends of alerts still firing after repeat_interval."""
    escalations: dict[str, list[str]] = field(default_factory=dict)
    """Fingerprint → the severities it fired and escalated at, in order."""
    reports: dict[str, Path] = field(default_factory=dict)
    """Cost report files written (kind → path)."""
    written: dict[str, Path] = field(default_factory=dict)
    """The other reports (``optimize:html``, ``slo:html``, ``postmortem:<incident>``…) → path."""
    postmortems: dict[str, list[str]] = field(default_factory=dict)
    """Scripted incident id → the post-mortem drafts of the agent's incidents that cover it."""


def demo_config(loaded: LoadedConfig, opts: DemoOptions) -> LoadedConfig:
    """The config for a replay: store and sinks under ``opts.out``, polls at ``opts.poll_interval``."""
    spec = loaded.config.spec
    polls = {
        name: PollSettings(
            interval=max(opts.poll_interval, spec.snowflake.poll(name).interval),
            overlap=spec.snowflake.poll(name).overlap,
        )
        for name in (
            "query",
            "query_pattern",
            "query_cost",
            "warehouse_load",
            "warehouse_metering",
            "database_storage",
            "metering_daily",
            "slo",
        )
    }
    backfill = timedelta(days=opts.warm_up_days + opts.days + 1)
    snowflake = spec.snowflake.model_copy(update={"polls": polls, "backfill": backfill})
    sinks = [
        ConsoleSinkConfig(type="console"),
        JsonlSinkConfig(
            type="jsonl",
            name="alerts-file",
            path=(opts.out / "alerts.jsonl").resolve(),
            metrics_path=(opts.out / "metrics.jsonl").resolve(),
        ),
    ]
    azure = spec.azure
    if azure is not None and azure.metrics is not None:
        metrics = azure.metrics.model_copy(
            update={
                "interval": max(opts.poll_interval, azure.metrics.interval),
                "backfill": timedelta(days=opts.days + 1),
            }
        )
        azure = azure.model_copy(update={"metrics": metrics})
    new_spec = spec.model_copy(
        update={
            "snowflake": snowflake,
            "azure": azure,
            # The synthetic account's history begins with the warm-up: SLOs backfill (and count their budget
            # against) what exists — the warm-up weeks and the replayed days — not empty days before it.
            # (Retention caps the SLO backfill; the replay runs no housekeeping, so nothing is pruned.)
            "store": spec.store.model_copy(update={"path": (opts.out / "state.db").resolve(), "retention": backfill}),
            "sinks": sinks,
            # Post-mortem drafts (written when incidents resolve) and the final reports go beside the alerts.
            "reports": spec.reports.model_copy(update={"dir": (opts.out / "reports").resolve()}),
        }
    )
    return replace(loaded, config=loaded.config.model_copy(update={"spec": new_spec}))


def _bar(what: str, console: Console, enabled: bool) -> Progress:
    """A progress bar with its elapsed time and an estimate of the time left (hidden when it ends)."""
    return Progress(
        TextColumn(f"[bold]{what}[/] {{task.description}}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=True,
    )


def _fresh(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in (
        "state.db",
        "state.db-wal",
        "state.db-shm",
        "alerts.jsonl",
        "metrics.jsonl",
        "slo_status.json",
        "agent.yaml",
        "ground_truth.json",
        "summary.json",
        "reports",
    ):
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def run_demo(loaded: LoadedConfig, opts: DemoOptions, console: Console) -> DemoResult:
    """Seed, replay and score; write alerts.jsonl, ground_truth.json and summary.json to ``opts.out``."""
    _fresh(opts.out)
    config = demo_config(loaded, opts)
    start, _ = day_bounds(opts.start)
    end, _ = day_bounds(opts.start + timedelta(days=opts.days))
    incidents = default_incidents(start, end)
    workload = WorkloadConfig(seed=opts.seed, queries_per_day=opts.queries_per_day, incidents=tuple(incidents))
    write_ground_truth(opts.out / "ground_truth.json", incidents, start, end, opts.seed)
    with EmbeddedSnowflake() as server:
        console.print(
            f"[bold]Seeding[/] {opts.warm_up_days} days of warm-up history and {opts.days} replayed days of synthetic "
            "capital-markets workload "
            f"({opts.queries_per_day:,} queries/day, seed {opts.seed}) into the embedded Snowflake …"
        )
        first = opts.start - timedelta(days=opts.warm_up_days)
        days = opts.warm_up_days + opts.days
        with _bar("Seeding", console, opts.progress) as bar:
            task = bar.add_task("", total=days)
            stats = HistorySeeder(server, workload).seed_days(
                first, days, lambda done: bar.update(task, completed=done, description=f"day {done} of {days}")
            )
        console.print(
            f"  {stats.queries:,} queries, "
            + ", ".join(f"{n:,} {view.lower()}" for view, n in stats.rows.items() if view != "QUERY_HISTORY")
            + f" in {stats.seconds:.1f}s"
        )
        connect = connector(
            {
                **server.connection_params(),
                "session_parameters": session_parameters(None),
                "paramstyle": "qmark",
                "login_timeout": 30,
                "network_timeout": 120,
            }
        )
        sinks: list[Sink] = [
            ConsoleSink(console),
            JsonlSink(opts.out / "alerts.jsonl", "alerts-file", opts.out / "metrics.jsonl"),
        ]
        spec = config.config.spec
        metrics_config = spec.azure.metrics if spec.azure is not None else None
        azure = (
            SimulatedAzureMetrics(metrics_config, opts.seed, tuple(incidents))
            if metrics_config is not None and metrics_config.simulated
            else None
        )
        cost_config = spec.azure.cost if spec.azure is not None else None
        azure_cost = (
            SimulatedAzureCost(cost_config, opts.seed) if cost_config is not None and cost_config.simulated else None
        )
        agent = open_agent(config, connect=connect, sinks=sinks, azure_metrics=azure, azure_cost=azure_cost)
        clock = SimulatedClock(start)
        began = time.perf_counter()
        try:
            with _bar("Replaying", console, opts.progress) as bar:
                total = int((end - start).total_seconds() // 60)
                task = bar.add_task("", total=total)
                cycles = 0
                while clock.now() <= end:
                    now = clock.now()
                    server.set_clock(now)
                    run_cycle(clock, agent)
                    cycles += 1
                    if cycles % 48 == 0:
                        server.trim_result_cache()
                    local = now.astimezone(ZoneInfo(MARKET_TZ)).strftime("%a %d %b %H:%M %Z")
                    bar.update(task, completed=int((now - start).total_seconds() // 60), description=local)
                    clock.advance(opts.poll_interval)
            events = agent.alerts.events()
            sent = agent.notifications.sent_by_action("alerts-file")
            notifications = sum(n for action, n in sent.items() if action != "held")
            repeats = sent.get("repeat", 0)
            last = clock.now() - opts.poll_interval
            reader = SloReader.of(agent)
            slos = [slo_snapshot(reader, slo, last) for slo in config.slos]
            written = write_replay_reports(agent, opts.out / "reports", last)
            postmortems = map_postmortems(agent, incidents)
            evaluation_state.mark_simulated(
                agent.db
            )  # `incidents ack` and `silence add` on this store take its clock as now
        finally:
            agent.close()
        replay_s = time.perf_counter() - began
    card = score(events, incidents, ignore_rules=(SOURCE_RULE,))
    summary = {
        "history": {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "queries": stats.queries,
            "warm_up_days": opts.warm_up_days,
            "seed": opts.seed,
            "queries_per_day": opts.queries_per_day,
        },
        "replay_seconds": round(replay_s, 1),
        "notifications": notifications,
        "repeat_notifications": repeats,
        "transitions": len(events),
        **card.to_dict(),
    }
    (opts.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    status = {"at": iso(last), "slos": slos}
    (opts.out / "slo_status.json").write_text(json.dumps(status, indent=2, default=str) + "\n", encoding="utf-8")
    write_demo_config(loaded, opts)
    reports = write_demo_reports(config, opts, last)
    written.update({f"slo:{k}": v for k, v in write_slo_demo_report(config, opts, last).items()})
    escalations: dict[str, list[str]] = {}
    for e in events:
        if e.kind in (EventKind.FIRING, EventKind.ESCALATED):
            escalations.setdefault(e.fingerprint, []).append(e.severity.value)
    return DemoResult(
        card, slos, stats.queries, notifications, stats.seconds, replay_s, opts.out, repeats, escalations, reports,
        written, postmortems,
    )  # fmt: skip


def write_demo_reports(config: LoadedConfig, opts: DemoOptions, now: datetime) -> dict[str, Path]:
    """The reports of the replayed month into ``opts.out / "reports"`` (the cost report when spec.cost is set)."""
    if config.config.spec.cost is None:
        return {}
    from sre_agent.reports.cost.data import build_cost_report
    from sre_agent.reports.cost.render import write_cost_report
    from sre_agent.store.db import Database
    from sre_agent.store.rollups import RollupStore
    from sre_agent.store.watermarks import Watermarks

    db = Database(opts.out / "state.db", writer=False)
    try:
        report = build_cost_report(config, RollupStore(db), Watermarks(db), now=now)
    finally:
        db.close()
    return write_cost_report(report, opts.out / "reports")


def write_replay_reports(agent: Agent, out: Path, now: datetime) -> dict[str, Path]:
    """With the replay's agent still connected: the optimization report of the replayed week, and a post-mortem
    draft for every incident (those still open at the end too: their drafts say so)."""
    from sre_agent.reports.optimize.data import build_optimize_report
    from sre_agent.reports.optimize.render import write_optimize_report
    from sre_agent.reports.postmortem.cli import draft_postmortem
    from sre_agent.store.incidents import IncidentStore

    written: dict[str, Path] = {}
    report = build_optimize_report(agent.loaded, agent.db, agent.source, timedelta(days=7), now=now)
    written.update({f"optimize:{k}": v for k, v in write_optimize_report(report, out).items()})
    for incident in IncidentStore(agent.db).all(include_resolved=True):
        draft = incident.postmortem or draft_postmortem(agent.loaded, agent.db, incident.id, out, now)["html"]
        written[f"postmortem:{incident.id}"] = Path(draft)
    return written


def map_postmortems(agent: Agent, scripted: list[Incident]) -> dict[str, list[str]]:
    """Scripted incident → the post-mortem drafts of the agent's incidents that started while it was under way
    (or within three hours of its end: metering lands late) and share its warehouse or service, as alerts are
    grouped (or carry neither, like an Azure resource's alert)."""
    from sre_agent.store.incidents import IncidentStore

    found = IncidentStore(agent.db).all(include_resolved=True)
    out: dict[str, list[str]] = {}
    for truth in scripted:
        keys = {"warehouse": truth.warehouse, "service": truth.service}
        drafts = []
        for inc in found:
            overlaps = truth.start - timedelta(minutes=30) <= inc.started_at < truth.end + timedelta(hours=3)
            named = {k: v for k, v in inc.scope.items() if k in keys}
            shares = not named or any(v in named.get(k, []) for k, v in keys.items() if v)
            if overlaps and shares and inc.postmortem:
                drafts.append(inc.postmortem)
        out[truth.id] = drafts
    return out


def write_slo_demo_report(config: LoadedConfig, opts: DemoOptions, now: datetime) -> dict[str, Path]:
    """The SLO compliance report of the replayed month (to the end of the replay)."""
    from sre_agent.reports.slo.data import build_slo_report
    from sre_agent.reports.slo.render import write_slo_report
    from sre_agent.store.db import Database

    db = Database(opts.out / "state.db", writer=False)
    try:
        report = build_slo_report(config, db, None, now=now)
    finally:
        db.close()
    return write_slo_report(report, opts.out / "reports")


def write_demo_config(loaded: LoadedConfig, opts: DemoOptions) -> Path:
    """Write ``agent.yaml`` next to the demo's store, so `slo status`, `status` and `backtest` can read it."""
    data = yaml.safe_load(loaded.path.read_text(encoding="utf-8"))
    spec = data["spec"]
    for key in ("rules", "slos"):
        spec[key] = [str(loaded.resolve(Path(p))) for p in spec.get(key, [])]
    if spec.get("runbooks"):
        spec["runbooks"] = str(loaded.resolve(Path(spec["runbooks"])))
    spec["store"] = {**spec.get("store", {}), "path": str((opts.out / "state.db").resolve())}
    spec["reports"] = {**spec.get("reports", {}), "dir": str((opts.out / "reports").resolve())}
    spec["sinks"] = [
        {"type": "console"},
        {"type": "jsonl", "name": "alerts-file", "path": str((opts.out / "alerts.jsonl").resolve())},
    ]
    path = opts.out / "agent.yaml"
    header = "# Written by `sre-agent demo`: the demo's store, for `sre-agent slo status -c` and `backtest -c`.\n"
    path.write_text(header + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _fmt_delay(delta: timedelta | None) -> str:
    if delta is None:
        return "—"
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def caught_by(s: IncidentScore, escalations: dict[str, list[str]]) -> list[str]:
    """The alerts that caught an incident, in the order they first fired, each with its delay after the incident's
    start and the severities it fired and escalated at (a budget names its signal)."""
    first: dict[str, Detection] = {}
    for d in s.ordered:
        first.setdefault(d.fingerprint, d)
    out = []
    for d in first.values():
        signal = f"/{d.labels['signal']}" if "scope" in d.labels else ""
        severities = "→".join(escalations.get(d.fingerprint, [d.severity]))
        out.append(f"{d.rule}{signal} ({severities}) +{_fmt_delay(d.at - s.incident.start)}")
    return list(dict.fromkeys(out))


def print_summary(result: DemoResult, console: Console) -> None:
    """Print incident → alert → detection delay, and the alerts no incident explains."""
    tz = ZoneInfo(MARKET_TZ)
    table = Table(title="Scripted incidents and what caught them", show_lines=True)
    for column in (
        "incident",
        "when (New York)",
        "caught by (first firing first)",
        "first alert",
        "delay",
    ):
        table.add_column(column, overflow="ellipsis")  # wraps at spaces, never inside a word
    for s in result.scorecard.incidents:
        inc = s.incident
        when = f"{inc.start.astimezone(tz):%a %d %b %H:%M} – {inc.end.astimezone(tz):%a %H:%M}"
        rules = caught_by(s, result.escalations)
        first = s.first
        table.add_row(
            inc.id,
            when,
            "\n".join(rules) or "[red]not caught[/]",
            f"{first.at.astimezone(tz):%a %H:%M}" if first else "—",
            _fmt_delay(s.delay),
        )
    console.print(table)
    for s in result.scorecard.incidents:
        console.print(f"  {s.incident.id}: {s.incident.title}", style="dim")
    caught = sum(s.caught for s in result.scorecard.incidents)
    console.print(
        f"Caught {caught}/{len(result.scorecard.incidents)} incidents; "
        f"{len(result.scorecard.unexpected)} alert(s) outside any incident; "
        f"{result.notifications} notifications sent to alerts.jsonl ({result.repeats} of them repeats of alerts "
        "still firing after repeat_interval)."
    )
    for e in result.scorecard.unexpected:
        console.print(f"  [yellow]unexpected[/] {e.at.astimezone(tz):%a %d %b %H:%M} {e.rule} {escape(str(e.labels))}")
    if result.slos:
        render_slos(result.slos, console)
    if any((s["period"]["coverage"] or 1.0) < 0.999 for s in result.slos):
        console.print(
            "SLO periods are longer than the demo's history ('seen'): budgets are counted against the events a "
            "full period is expected to hold, extrapolated from the days seen.",
            style="dim",
        )
    console.print(
        f"Seeded {result.queries:,} queries in {result.seconds_seed:.1f}s, replayed in "
        f"{result.seconds_replay:.1f}s. Files in {result.out}/: alerts.jsonl, metrics.jsonl, slo_status.json, "
        "ground_truth.json, summary.json, state.db, agent.yaml"
    )
    if result.reports:
        console.print(
            f"Cost report: {result.reports['html']} (open it in a browser; works offline), "
            f"{result.reports['markdown'].name}, {result.reports['json'].name} and "
            f"{len([k for k in result.reports if k.startswith('csv:')])} CSV files beside it."
        )
    if result.written:
        optimize = result.written.get("optimize:html")
        slo = result.written.get("slo:html")
        console.print(f"Optimization report: {optimize}; SLO report: {slo}", markup=False, highlight=False)
        for truth, drafts in result.postmortems.items():
            names = ", ".join(Path(d).name for d in drafts) or "none (no incident of the agent covers it)"
            console.print(f"  post-mortem of {truth}: {names}", markup=False, highlight=False)
    console.print(
        "Detection delays include ACCOUNT_USAGE's own latency (rows land up to 45 min late, metering "
        "up to 3 h) plus the poll interval and each rule's `for:`.",
        style="dim",
    )
    config = result.out / "agent.yaml"
    agent = command_name()
    console.print("Next (each works as printed):", style="dim")
    for line in (
        f"{agent} alerts list --all -c {config}",
        f"{agent} alerts list 'severity=~sev[12]' --state firing -c {config}",
        f"{agent} incidents list --all -c {config}",
        f"{agent} slo status -c {config}",
        f"{agent} backtest --slo slo_definitions/risk.yaml -c {config} --incidents {result.out / 'ground_truth.json'}",
    ):
        console.print(f"  {line}", style="dim", markup=False, highlight=False, soft_wrap=True)


def command_name() -> str:
    """How to run `sre-agent` from here: its name when it is on PATH, else the path it was started by
    (`make demo` runs `.venv/bin/sre-agent`, which a fresh shell does not find by name)."""
    import shutil
    import sys

    started = Path(sys.argv[0])
    if started.name == "sre-agent" and shutil.which("sre-agent") != str(started.resolve()):
        try:
            return str(started.resolve().relative_to(Path.cwd()))
        except ValueError:
            return str(started)
    return "sre-agent"
