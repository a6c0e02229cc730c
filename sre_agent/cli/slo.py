"""The SLO commands: `slo status`, `slo export --openslo` and `backtest`."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml
from rich.console import Console
from rich.table import Table

from sre_agent.backtest import Incident, Replay, instants_between, quality, read_events_csv, read_incidents, replay
from sre_agent.cli.store import open_store
from sre_agent.config.durations import format_duration
from sre_agent.config.loader import LoadedConfig, load_documents
from sre_agent.config.openslo import to_openslo
from sre_agent.config.slo import SloDoc, slo_key
from sre_agent.config.slo_checks import slo_lookback
from sre_agent.engine import slo as engine
from sre_agent.errors import ConfigError, ConfigIssue, SreAgentError
from sre_agent.exit_codes import ExitCode
from sre_agent.model import from_epoch, iso, to_epoch
from sre_agent.sinks.render import add_plain_row
from sre_agent.store import evaluation_state


def _reader(loaded: LoadedConfig, db: Any) -> Any:
    from sre_agent.daemon.evaluate_slo import SloReader
    from sre_agent.store.slo_minutes import SloMinutes
    from sre_agent.store.watermarks import Watermarks

    return SloReader(loaded.config.spec, Watermarks(db), SloMinutes(db))


def cmd_slo_status(args: argparse.Namespace, loaded: LoadedConfig, console: Console) -> int:
    """Print every configured SLO's status as of the last evaluation (or ``--at``)."""
    from sre_agent.slo_status import render, snapshot

    if not loaded.slos:
        console.print("no SLOs configured (spec.slos in the agent config)", style="yellow")
        return ExitCode.OK
    db = open_store(loaded)
    try:
        last = evaluation_state.last_instant(db)
        at = args.at or (from_epoch(last) if last is not None else datetime.now(UTC))
        reader = _reader(loaded, db)
        snapshots = [snapshot(reader, slo, at) for slo in loaded.slos]
    finally:
        db.close()
    if args.format == "json":
        console.print_json(json.dumps({"at": iso(at), "slos": snapshots}, default=str))
    else:
        render(snapshots, console)
    return ExitCode.OK


def _load_slos(paths: list[Path], loaded: LoadedConfig | None) -> list[SloDoc]:
    found = load_documents(paths, loaded.config if loaded else None)
    errors = [i for i in found.issues if i.severity == "error"]
    if errors:
        raise ConfigError(found.issues)
    if not found.slos:
        where = ", ".join(str(p) for p in paths)
        raise ConfigError([ConfigIssue(where, 1, 1, "", "no SLO documents found (kind: SLO, or OpenSLO kind: SLO)")])
    return found.slos


def cmd_slo_export(args: argparse.Namespace, loaded: LoadedConfig | None, console: Console) -> int:
    """Print OpenSLO v1 for the given files (or the config's SLOs)."""
    slos = _load_slos(list(args.paths), loaded) if args.paths else (loaded.slos if loaded else [])
    docs = [doc for slo in slos for doc in to_openslo(slo)]
    text = yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True)
    console.print(text, markup=False, highlight=False, soft_wrap=True, end="")
    return ExitCode.OK


def history_from_store(loaded: LoadedConfig, slo: SloDoc, lo: int) -> tuple[engine.SloEvents, int, int] | None:
    """``slo``'s events from ``lo`` to the end of its polled data, with where its data starts and ends (None: no
    store, or the SLO never polled); every stored minute counts as final (hindsight, for backtests and reports)."""
    path = loaded.resolve(loaded.config.spec.store.path)
    if not path.exists():
        return None
    db = open_store(loaded)
    try:
        return stored_history(loaded, db, slo, lo)
    finally:
        db.close()


def stored_history(loaded: LoadedConfig, db: Any, slo: SloDoc, lo: int) -> tuple[engine.SloEvents, int, int] | None:
    """:func:`history_from_store` on an open store ``db`` (a report reading several SLOs opens it once)."""
    from sre_agent.daemon.evaluate_slo import slo_view
    from sre_agent.sources.slo_sql import from_query_history
    from sre_agent.sources.snowflake import VISIBLE_SERIES

    reader = _reader(loaded, db)
    view = slo_view(reader, slo)
    if view.polled_to is None or view.covered_from is None:
        return None
    raw = reader.minutes.load(slo_key(slo), lo, (view.covered_from, view.polled_to), 0)
    newest = reader.minutes.newest_bucket(VISIBLE_SERIES) if from_query_history(slo) else None
    end = view.polled_to
    visible = min(newest + 60, end) if newest is not None else None
    # Hindsight: every stored minute is as complete as it will get (the live agent judged with the lag).
    coverage = engine.Coverage(view.covered_from, end, visible if visible is not None else end)
    return engine.build_events(slo.spec, raw, lo, end, coverage), view.covered_from, end


def _history_from_snowflake(
    loaded: LoadedConfig, slos: list[SloDoc], lo: int, now: datetime
) -> tuple[dict[str, tuple[engine.SloEvents, int, int]], list[Incident]]:
    from sre_agent.daemon.poll import chunks
    from sre_agent.simulate.embedded import start_embedded
    from sre_agent.sources.snowflake import VISIBLE_SERIES, SnowflakeSource
    from sre_agent.sources.snowflake_conn import connect_kwargs, connector
    from sre_agent.store.rollups import BUCKET

    account = None
    connect = None
    incidents: list[Incident] = []
    embedded = loaded.config.spec.snowflake.embedded
    if embedded is not None:
        account = start_embedded(embedded, now)
        connect = connector(account.connect_kwargs())
        incidents = generator_incidents(account.seeder.cfg.incidents)
    elif loaded.config.spec.snowflake.connection is not None:
        connect = connector(connect_kwargs(loaded.config.spec.snowflake.connection))
    assert connect is not None  # the config validator requires embedded or connection
    source = SnowflakeSource(connect, loaded.latency_thresholds_ms())
    frames = []
    try:
        for a, b in chunks(from_epoch(lo), now, loaded.config.spec.snowflake.chunk):
            frames.append(source.fetch_slos(slos, a, b))
    finally:
        source.close()
        if account is not None:
            account.stop()
    frame = pl.concat([f for f in frames if f.height]) if any(f.height for f in frames) else frames[0]
    end = to_epoch(now) // 60 * 60
    seen = frame.filter(pl.col("slo") == VISIBLE_SERIES)[BUCKET]
    visible = min(int(seen.max()) + 60, end) if seen.len() else end  # type: ignore[arg-type]
    out = {}
    for slo in slos:
        rows = frame.filter(pl.col("slo") == slo_key(slo)).sort(BUCKET)
        raw = engine.RawMinutes(
            rows[BUCKET].to_numpy().astype(np.int64),
            rows["good"].to_numpy().astype(np.float64),
            rows["total"].to_numpy().astype(np.float64),
            rows["last_ok"].to_numpy().astype(np.int64),
        )
        coverage = engine.Coverage(lo, end, visible)
        out[slo.name] = (engine.build_events(slo.spec, raw, lo, end, coverage), lo, end)
    return out, incidents


def generator_incidents(scripted: Any) -> list[Incident]:
    """The workload generator's scripted incidents as ground truth, each for the SLOs of its service."""
    return [Incident(inc.id, inc.start, inc.end, service=inc.service) for inc in scripted]


def _events_from_csv(path: Path, slos: list[SloDoc]) -> dict[str, tuple[engine.SloEvents, int, int]]:
    raw, first, end = read_events_csv(path)
    out = {}
    for slo in slos:
        if slo.spec.sli.kind == "freshness":
            raise SreAgentError(f"SLO {slo.name}: a freshness SLI needs load times; a good/total CSV cannot drive it")
        coverage = engine.Coverage(first, end, end)
        out[slo.name] = (engine.build_events(slo.spec, raw, first, end, coverage), first, end)
    return out


def cmd_backtest(args: argparse.Namespace, loaded: LoadedConfig | None, console: Console) -> int:
    """Replay the SLOs of ``--slo`` and print alerts (and quality against incidents)."""
    slos = _load_slos([args.slo], loaded)
    if args.step < timedelta(minutes=1) or args.step % timedelta(minutes=1):
        raise SreAgentError("--step must be whole minutes (1m or more)")
    incidents: list[Incident] = []
    source = "events"
    if args.events is not None:
        histories = _events_from_csv(args.events, slos)
    else:
        if loaded is None:
            raise SreAgentError("backtest without --events needs an agent config (--config) for the store")
        now = datetime.now(UTC)
        histories = {}
        missing = []
        for slo in slos:
            lo = to_epoch(now - args.since - slo_lookback(slo)) // 3600 * 3600
            stored = history_from_store(loaded, slo, lo)
            if stored is None:
                missing.append(slo)
            else:
                histories[slo.name] = stored
        source = "store"
        if missing:
            lo = min(to_epoch(now - args.since - slo_lookback(s)) for s in missing) // 3600 * 3600
            fetched, incidents = _history_from_snowflake(loaded, missing, lo, now)
            histories.update(fetched)
            source = "snowflake" if not histories.keys() - fetched.keys() else "store+snowflake"
    if args.incidents is not None:
        incidents = read_incidents(args.incidents)
    replays: list[Replay] = []
    for slo in slos:
        events, first, end = histories[slo.name]
        start = first if args.events is not None else max(first, end - int(args.since.total_seconds()))
        instants = instants_between(start, end, args.step)
        if len(instants) == 0:
            raise SreAgentError(f"SLO {slo.name}: no history to replay")
        replays.append(replay(slo, events, instants))
    report: dict[str, Any] = {
        "alerts": [a.to_dict() for r in replays for a in r.alerts],
        "slos": [r.summary() for r in replays],
        "step": format_duration(args.step),
        "history": source,
    }
    if incidents:
        report["quality"] = quality(replays, incidents)
    if args.format == "json":
        console.print_json(json.dumps(report, default=str))
    else:
        _render(report, console)
    return ExitCode.OK


def _render(report: dict[str, Any], console: Console) -> None:
    table = Table(title="Backtest: alerts the agent would have sent", show_lines=False)
    for column in ("SLO", "severity", "windows", "start", "end", "peak burn"):
        table.add_column(column)
    for a in report["alerts"]:
        add_plain_row(
            table,
            a["slo"],
            a["severity"],
            a["windows"],
            a["start"],
            a["end"] or "firing",
            f"{a['peak_long_window_burn']:.1f}x",
        )
    console.print(table)
    for s in report["slos"]:
        final = s["final"]
        sli = "—" if final["period_sli"] is None else f"{final['period_sli'] * 100:.3f} %"
        left = "—" if final["budget_remaining"] is None else f"{final['budget_remaining'] * 100:.1f} %"
        console.print(
            f"{s['slo']}: {s['from']} → {s['to']} ({s['instants']} evaluations, history: {report['history']}); "
            f"{s['pages']} page(s), {s['tickets']} ticket(s), {s['notifications']} notification(s); "
            f"period SLI {sli}, budget left {left}",
            highlight=False,
        )
    q = report.get("quality")
    if q:

        def fmt(seconds: float | None) -> str:
            return "—" if seconds is None else f"{int(seconds) // 60}m {int(seconds) % 60:02d}s"

        console.print(
            f"precision {q['precision']} · recall {q['recall']} · detection median {fmt(q['detection_s']['median'])} "
            f"(max {fmt(q['detection_s']['max'])}) · reset median {fmt(q['reset_s']['median'])}",
            highlight=False,
        )
        for inc in q["incidents"]:
            console.print(
                f"  {inc['id']}: {'detected' if inc['detected'] else 'MISSED'} "
                f"({inc['severity'] or '—'}, detection {fmt(inc['detection_s'])}, reset {fmt(inc['reset_s'])})",
                highlight=False,
            )
