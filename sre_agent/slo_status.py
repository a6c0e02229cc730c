"""`sre-agent slo status`: every SLO's SLI, budget, burn per window, state and exhaustion, from the store."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sre_agent.config.slo import SloDoc
from sre_agent.daemon.evaluate_slo import SloReader, slo_inputs
from sre_agent.engine import slo as engine
from sre_agent.figures.slo_budget import BudgetUse, period_name, period_use
from sre_agent.figures.text import pct
from sre_agent.model import from_epoch, iso, to_epoch
from sre_agent.sinks.render import add_plain_row, human_span

_STYLE = {engine.PAGE: "bold red", engine.TICKET: "yellow", engine.OK: "green", engine.UNKNOWN: "cyan"}


def snapshot(reader: SloReader, slo: SloDoc, at: datetime) -> dict[str, Any]:
    """One SLO at ``at`` (floored to the minute): the engine's figures plus what identifies the SLO."""
    instants = np.array([to_epoch(at) // 60 * 60], dtype=np.int64)
    inputs = slo_inputs(reader, slo, instants)
    result = engine.evaluate_slo(slo.spec, inputs.events, instants, inputs.stale)
    figures = engine.at_instant(slo.spec, result, 0)
    spec = slo.spec
    exhaustion = figures["exhaustion_s"]
    return {
        "slo": slo.name,
        "service": spec.service,
        "owner": spec.owner,
        "sli_kind": spec.sli.kind,
        "budgeting_method": spec.budgeting_method,
        "period_kind": period_name(spec),
        "stale": bool(inputs.stale[0]),
        **figures,
        "budget": period_use(spec, result, 0).to_json(),
        "at": iso(from_epoch(int(instants[0]))),
        "exhaustion_at": iso(at + timedelta(seconds=int(exhaustion))) if isinstance(exhaustion, int) else None,
    }


def _pct(value: object, digits: int = 3) -> str:
    return "—" if value is None else f"{float(value) * 100:.{digits}f} %"  # type: ignore[arg-type]


def _eta(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    return "exhausted" if seconds <= 0 else human_span(seconds)


def render(snapshots: list[dict[str, Any]], console: Console) -> None:
    """Print one row per SLO (every figure, with each tier's factor, is in ``--format json``)."""
    table = Table(title="SLOs")
    for column in ("SLO", "objective", "period", "SLI", "budget left", "burn long/short", "state", "exhausted in"):
        table.add_column(column, no_wrap=column != "period")  # identifiers and figures never split
    for s in snapshots:
        burns = []
        for tier in s["tiers"]:
            long_burn = "—" if tier["long_burn"] is None else f"{tier['long_burn']:.2f}"
            short_burn = "—" if tier["short_burn"] is None else f"{tier['short_burn']:.2f}"
            mark = " ◀" if tier["state"] == engine.BREACH else ""
            burns.append(f"{tier['windows']} {long_burn}/{short_burn}{mark}")
        state = s["state"] + (" (stale)" if s["stale"] else "")
        period = s["period"]
        coverage = period["coverage"]
        seen = f"\n{_pct(coverage, 0)} seen" if coverage is not None and coverage < 0.999 else ""
        add_plain_row(
            table,
            s["slo"],
            f"{s['objective']:g} %",
            s["period_kind"] + seen,
            _pct(period["sli"]),
            pct(BudgetUse.from_json(s["budget"]).remaining, 1),
            "\n".join(burns),
            Text(state, style=_STYLE.get(s["state"], "")),
            _eta(s["exhaustion_s"]),
        )
    console.print(table)
    if snapshots:
        console.print(
            f"as of {snapshots[0]['at']}: budget left = share of the period's error budget left (period column: what "
            "it is measured against); burn = error ratio / error budget per window (— no events); ◀ tier firing; "
            "unknown = a tier cannot be judged (too few events, data still landing)",
            style="dim",
        )
