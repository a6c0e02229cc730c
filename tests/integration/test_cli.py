"""The `sre-agent` command line as users run it: exit codes, output, files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support import REPO

from sre_agent.cli import main
from sre_agent.config.loader import load_config
from sre_agent.config.slo import slo_key
from sre_agent.exit_codes import ExitCode

pytestmark = pytest.mark.integration
SRE_AGENT = [sys.executable, "-m", "sre_agent"]


def _cli(*args: str, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SRE_AGENT, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=REPO,
    )


def _embedded_config(tmp: Path, **snowflake: object) -> Path:
    """A copy of examples/embedded.yaml with its state under ``tmp`` and a small, fast history."""
    data = yaml.safe_load((REPO / "examples" / "embedded.yaml").read_text())
    spec = data["spec"]
    spec["rules"] = [str(REPO / "rules"), str(REPO / "examples" / "routing" / "embedded.yaml")]
    spec["slos"] = [str(REPO / "slo_definitions")]
    spec["runbooks"] = str(REPO / "runbooks")
    spec["store"]["path"] = str(tmp / "state.db")
    # examples/routing/embedded.yaml routes pages to `console` and everything to `alerts-file`.
    spec["sinks"] = [{"type": "console"}, {"type": "jsonl", "name": "alerts-file", "path": str(tmp / "alerts.jsonl")}]
    spec["snowflake"]["embedded"].update({"history": "1d", "queries_per_day": 3000})
    spec["snowflake"]["backfill"] = "1d"
    spec["snowflake"].update(snowflake)
    path = tmp / "agent.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_help_and_version():
    """`--help` lists every command; `--version` prints the version; `python -m sre_agent` works."""
    out = _cli("--help")
    assert out.returncode == 0
    for command in ("demo", "once", "run", "validate", "sql", "status", "health", "check", "simulate", "metrics"):
        assert command in out.stdout
    assert "exit codes" in out.stdout
    version = _cli("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("sre-agent ")


def test_validate_reports_every_error_with_file_line_col_and_exit_code_3(tmp_path: Path, capsys):
    """Two bad documents → both errors printed as file:line:col, exit 3; the shipped rules pass."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: sre-agent/v1\nkind: Threshold\nmetadata: {name: a}\nspec:\n  metric: latency_p95_ms\n"
        "  window: 15m\n  thresholds: [{severity: sev3, value: 1}]\n  where: {warehouse: [NOPE_WH]}\n---\n"
        "apiVersion: sre-agent/v1\nkind: Threshold\nmetadata: {name: b}\nspec:\n  metric: error_rate\n"
        "  window: 15m\n  colour: red\n  thresholds: [{severity: sev3, value: 0.1}]\n"
    )
    code = main(["validate", "--config", str(REPO / "examples" / "embedded.yaml"), str(bad)])
    printed = capsys.readouterr()
    text = printed.out + printed.err
    assert code == ExitCode.BAD_CONFIG
    assert f"{bad}:8:" in text
    assert "NOPE_WH" in text
    assert f"{bad}:16:3: spec.colour: unknown field" in text
    assert main(["validate"]) == ExitCode.OK


def test_sql_prints_every_statement_with_its_docs_link_and_binds(capsys):
    """A DBA can review exactly what the agent runs."""
    assert main(["sql"]) == ExitCode.OK
    out = capsys.readouterr().out
    for name in ("query_rollup", "warehouse_load", "warehouse_metering", "check_access"):
        assert f"-- {name}:" in out
    assert "docs: https://docs.snowflake.com/" in out
    assert "binds: window_start, window_end" in out
    assert "SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY" in out


def test_metrics_and_schema_describe_what_rules_can_use(capsys):
    """`metrics` lists the catalogue; `schema` prints JSON Schemas for editors."""
    assert main(["metrics"]) == ExitCode.OK
    assert "latency_p95_ms" in capsys.readouterr().out
    assert main(["schema"]) == ExitCode.OK
    schemas = json.loads(capsys.readouterr().out)
    assert {"AgentConfig", "Threshold"} <= set(schemas)


def test_report_optimize_on_a_store_without_data_exits_2_and_keeps_the_existing_report(tmp_path: Path):
    """No polled data means no patterns: nothing is written and a report already there stays as it was."""
    from sre_agent.store.db import Database

    config = _embedded_config(tmp_path)
    Database(tmp_path / "state.db").close()  # a store the agent created but never polled into
    out = tmp_path / "reports"
    out.mkdir()
    kept = out / "optimize-2026-11-02.html"
    kept.write_text("the report of a real run", encoding="utf-8")
    done = _cli("report", "optimize", "-c", str(config), "--out", str(out))
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert "the state store holds no polled data yet: nothing written (an existing report is kept)" in done.stderr
    assert kept.read_text(encoding="utf-8") == "the report of a real run"
    assert [p.name for p in out.iterdir()] == ["optimize-2026-11-02.html"]


def test_once_runs_a_cycle_then_status_and_health_read_the_store(tmp_path: Path, capsys):
    """`once` on the embedded default polls and evaluates; `status` and `health` report from its store."""
    config = _embedded_config(tmp_path)
    done = _cli("once", "--config", str(config))
    assert done.returncode in (ExitCode.OK, ExitCode.ALERTS_FIRING), done.stderr
    assert "polled query:" in done.stdout
    assert main(["status", "--config", str(config), "--format", "json"]) == ExitCode.OK
    status = json.loads(capsys.readouterr().out)
    families = {s["family"]: s for s in status["sources"]}
    slos = {f"snowflake.slo:{slo_key(s)}" for s in load_config(config).slos}
    assert len(slos) == 9
    snowflake = {"snowflake.query", "snowflake.warehouse_load", "snowflake.warehouse_metering"}
    snowflake.add("snowflake.query_pattern")  # the shipped rules hold a pattern-scoped LatencyAnomaly rule
    # spec.cost: budgets and the cost report
    snowflake |= {"snowflake.query_cost", "snowflake.database_storage", "snowflake.metering_daily"}
    azure = {"azure.metrics", "azure.cost"}
    assert set(families) == snowflake | slos | azure, "the embedded default polls its simulated Azure side"
    assert all(s["consecutive_failures"] == 0 for s in families.values())
    assert main(["health", "--config", str(config)]) == ExitCode.OK


def test_an_unreachable_account_exits_4_and_a_bad_config_exits_3(tmp_path: Path):
    """Exit codes tell "the agent broke" from "bad config"."""
    config = _embedded_config(tmp_path)
    data = yaml.safe_load(config.read_text())
    data["spec"]["snowflake"].pop("embedded")
    data["spec"].pop("azure")  # the simulated Azure side needs the embedded account
    data["spec"]["rules"] = [r for r in data["spec"]["rules"] if not str(r).endswith("rules")] + [
        str(p) for p in sorted((REPO / "rules").glob("*.yaml")) if not p.name.startswith("azure")
    ]
    data["spec"]["snowflake"]["connection"] = {
        "account": "x",
        "user": "u",
        "password": "${SRE_TEST_PW}",
        "host": "127.0.0.1",
        "port": 9,
        "protocol": "http",
        "login_timeout": "3s",
        "network_timeout": "3s",
    }
    config.write_text(yaml.safe_dump(data))
    broken = _cli("once", "--config", str(config), env={"SRE_TEST_PW": "s3cr3t-value"})
    assert broken.returncode == ExitCode.AGENT_FAILURE
    assert "s3cr3t-value" not in broken.stdout + broken.stderr
    again = _cli("once", "--config", str(config), env={"SRE_TEST_PW": "s3cr3t-value"})
    assert again.returncode == ExitCode.AGENT_FAILURE, "`once` polls every family even if one was just tried"
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: sre-agent/v1\nkind: AgentConfig\nmetadata: {name: x}\nspec: [1, 2\n")
    invalid = _cli("once", "--config", str(bad))
    assert invalid.returncode == ExitCode.BAD_CONFIG
    assert f"{bad}:5:1: YAML syntax error" in invalid.stderr


def test_simulate_serve_is_a_fake_snowflake_any_connector_client_can_use(tmp_path: Path):
    """`sre-agent simulate serve` seeds and serves; a separate client reads ACCOUNT_USAGE over the real connector."""
    import socket
    import time

    import snowflake.connector

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [*SRE_AGENT, "simulate", "serve", "--port", str(port), "--history", "1d", "--queries-per-day", "2000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        assert f"127.0.0.1:{port}" in banner, server.stderr.read() if server.poll() is not None else banner
        deadline = time.monotonic() + 30
        conn = None
        while conn is None:
            try:
                conn = snowflake.connector.connect(
                    account="fakesnow",
                    user="dba",
                    password="any",
                    host="127.0.0.1",
                    port=port,
                    protocol="http",
                    login_timeout=5,
                    network_timeout=10,
                )
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*) AS n FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY")
        assert cur.fetchone()[0] > 500
        conn.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
