"""Print notifications for people watching a terminal (coloured when it is one)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from sre_agent.errors import SinkError
from sre_agent.figures.text import pct

_STYLE = {"sev0": "bold white on red", "sev1": "bold red", "sev2": "red", "sev3": "yellow", "sev4": "cyan"}


def format_record(record: dict[str, Any]) -> Text:
    """Return one line: time, status, severity, rule, labels, summary, runbook."""
    status = record.get("transition", record.get("status", "")).upper()
    severity = str(record.get("severity", ""))
    labels = record.get("labels") or {}
    shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("rule", "alertname"))
    annotations = record.get("annotations") or {}
    sent = (record.get("notification") or {}).get("sent_at")
    # A repeat happened now, not when the alert last changed.
    at = str(sent if status == "REPEAT" and sent else record.get("at", ""))[:16].replace("T", " ")
    line = Text()
    line.append(f"{at}Z ", style="dim")
    line.append(f"{status:<9}", style="green" if status == "RESOLVED" else _STYLE.get(severity, ""))
    line.append(f" {severity:<4} ", style=_STYLE.get(severity, ""))
    line.append(str(record.get("rule", "")), style="bold")
    if shown:
        line.append(f" {{{shown}}}", style="dim")
    summary = annotations.get("summary")
    if summary:
        line.append(f"  {summary}")
    runbook = annotations.get("runbook")
    if runbook and status != "RESOLVED":
        line.append(f"  runbook: {runbook}", style="dim")
    return line


def format_metrics(record: dict[str, Any]) -> Text:
    """Return one line for an SLO metric record: time, SLO, state, budget left, burn per window."""
    points = record.get("points") or []
    budget = next((p["value"] for p in points if p["name"] == "slo_error_budget_remaining"), None)
    burns = [f"{p['dims'].get('window')} {p['value']:.2f}x" for p in points if p["name"] == "slo_burn_rate"]
    state = str(record.get("state", ""))
    line = Text()
    line.append(f"{str(record.get('at', ''))[:16].replace('T', ' ')}Z ", style="dim")
    line.append(f"{'SLO':<9} {state:<7}", style=_STATE_STYLE.get(state, ""))
    line.append(str(record.get("slo", "")), style="bold")
    of = f" of the {record['budget_of']} error budget" if record.get("budget_of") else ""
    line.append(f"  {pct(budget)}{of} left" if budget is not None else "  budget unknown")
    if burns:
        line.append(f"  burn {', '.join(burns)}", style="dim")
    return line


def format_report(record: dict[str, Any]) -> Text:
    """Return one line for a report the daemon wrote: time, kind, summary, HTML path."""
    line = Text()
    line.append(f"{str(record.get('at', ''))[:16].replace('T', ' ')}Z ", style="dim")
    line.append(f"{'REPORT':<9} ", style="cyan")
    line.append(str(record.get("summary", "")))
    html = (record.get("files") or {}).get("html")
    if html:
        line.append(f"  {html}", style="dim")
    return line


_STATE_STYLE = {"page": "red", "ticket": "yellow", "ok": "green", "unknown": "cyan"}


class ConsoleSink:
    """Writes one line per notification to stdout (via rich: colour only on a TTY)."""

    def __init__(self, console: Console | None = None, name: str = "console", metrics: bool = False) -> None:
        self.name = name
        self.console = console or Console(highlight=False)
        self.accepts_metrics = metrics
        self.accepts_reports = True

    def send(self, records: list[dict[str, Any]]) -> None:
        """Print the records.

        Raises:
            SinkError: stdout is gone (closed pipe, full disk behind a redirect).
        """
        try:
            for record in records:
                if record.get("type") == "metrics" and record.get("source", "slo") != "slo":
                    continue  # the agent's and the platform's metrics are for dashboards, not the terminal
                kind = record.get("type")
                if kind == "report":
                    line = format_report(record)
                else:
                    line = format_metrics(record) if kind == "metrics" else format_record(record)
                self.console.print(line, soft_wrap=True)
        except OSError as exc:
            raise SinkError(self.name, f"cannot write to the console: {exc}") from exc
        except SystemExit as exc:
            # rich answers a broken stdout pipe by exiting the process; a daemon must not die of its
            # console, so the pipe is reported (and these items dead-lettered) instead.
            raise SinkError(self.name, "stdout is closed (broken pipe)", retryable=False) from exc

    def close(self) -> None:
        """Nothing to release."""
