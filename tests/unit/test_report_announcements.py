"""How a written report is announced: a console line with its summary and path, a Logs Ingestion row that no alert
rule takes for an alert, nothing for webhooks."""

from __future__ import annotations

import io

from rich.console import Console

from sre_agent.sinks.azure_logs import REPORT_STATE, _row
from sre_agent.sinks.console import ConsoleSink

RECORD = {
    "type": "report",
    "kind": "postmortem",
    "key": "INC-20261103-1",
    "summary": "post-mortem draft of INC-20261103-1 (sev2): warehouse-remote-spill (warehouse RISK_WH)",
    "files": {"html": "/reports/postmortem-INC-20261103-1.html", "json": "/reports/postmortem-INC-20261103-1.json"},
    "at": "2026-11-04T07:30:00+00:00",
    "dedup_key": "store:report:postmortem:INC-20261103-1",
}


def test_the_console_prints_one_report_line_with_its_path() -> None:
    out = io.StringIO()
    ConsoleSink(Console(file=out, width=300)).send([RECORD])
    line = out.getvalue().strip()
    assert line.startswith("2026-11-04 07:30Z REPORT")
    assert "post-mortem draft of INC-20261103-1" in line
    assert line.endswith("/reports/postmortem-INC-20261103-1.html")


def test_the_logs_row_is_a_report_not_an_alert() -> None:
    row = _row(RECORD)
    assert row is not None
    assert row["State"] == REPORT_STATE  # alert rules take the latest "Fired" row of a fingerprint
    assert row["Rule"] == "sre-agent-report:postmortem"
    assert row["Fingerprint"] == "sre-agent-report:postmortem:INC-20261103-1"
    assert row["DedupKey"] == RECORD["dedup_key"]
    assert "postmortem-INC-20261103-1.json" in row["Evidence"]
