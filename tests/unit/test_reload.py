"""Hot reload (issue 18, items 6 and 7): a changed rule file is applied after it validates; a broken, truncated or
settings-changing one is refused, the last good config keeps running and ``agent-config-reload-failed`` says why
until a later reload succeeds. Real files, a real store; nothing polls (the store has no data)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from sre_agent.config.loader import load_config
from sre_agent.daemon.evaluate import RELOAD_RULE, evaluate
from sre_agent.daemon.reload import Reloader
from sre_agent.daemon.runtime import Agent, open_agent
from sre_agent.model import EventKind, to_epoch
from sre_agent.simulate.azure_platform import SimulatedAzureMetrics

REPO = Path(__file__).resolve().parents[2]
T0 = to_epoch(datetime(2026, 11, 3, 15, 0, tzinfo=UTC))


@pytest.fixture
def deployed(tmp_path: Path) -> Path:
    """The embedded config deployed under ``tmp_path``: its own copy of the rule files, the shipped SLOs."""
    shutil.copytree(REPO / "rules", tmp_path / "rules")
    shutil.copy(REPO / "examples" / "routing" / "embedded.yaml", tmp_path / "routing.yaml")
    data = yaml.safe_load((REPO / "examples" / "embedded.yaml").read_text())
    spec = data["spec"]
    spec["rules"] = ["rules", "routing.yaml"]
    spec["slos"] = [str(REPO / "slo_definitions")]
    spec["runbooks"] = str(REPO / "runbooks")
    spec["store"]["path"] = "state.db"
    spec["sinks"] = [{"type": "console"}, {"type": "jsonl", "name": "alerts-file", "path": "alerts.jsonl"}]
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return tmp_path / "agent.yaml"


@pytest.fixture
def agent(deployed: Path) -> Iterator[Agent]:
    loaded = load_config(deployed)
    metrics = loaded.config.spec.azure.metrics
    running = open_agent(loaded, connect=lambda: None, azure_metrics=SimulatedAzureMetrics(metrics, 42, ()))
    yield running
    running.close()


def _edit(path: Path, change: Any) -> None:
    docs = list(yaml.safe_load_all(path.read_text()))
    change(docs)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def _rule(agent: Agent, name: str) -> Any:
    return next(r for r in agent.loaded.rules if r.name == name)


def test_an_edited_rule_is_applied_once_it_validates(agent: Agent, deployed: Path) -> None:
    reloader = Reloader(deployed)
    assert reloader.check(agent) is None, "nothing changed: nothing to do"
    rules = deployed.parent / "rules" / "snowflake-latency.yaml"
    before = _rule(agent, "risk-engine-latency-p95").spec.window

    _edit(
        rules,
        lambda docs: next(d for d in docs if d["metadata"]["name"] == "risk-engine-latency-p95")["spec"].update(
            window="30m"
        ),
    )

    assert reloader.check(agent) is True
    assert agent.reload_error is None
    assert _rule(agent, "risk-engine-latency-p95").spec.window != before
    assert str(_rule(agent, "risk-engine-latency-p95").spec.window) == "0:30:00"


def test_a_broken_file_is_refused_the_last_good_config_runs_and_a_self_alert_fires_until_it_is_fixed(
    agent: Agent, deployed: Path
) -> None:
    reloader = Reloader(deployed)
    rules = deployed.parent / "rules" / "snowflake-latency.yaml"
    good = rules.read_text()
    names = [r.name for r in agent.loaded.rules]
    rules.write_text(good.replace("window:", "windw:", 1))

    assert reloader.check(agent) is False
    assert [r.name for r in agent.loaded.rules] == names, "the running rules are untouched"
    assert "unknown field" in (agent.reload_error or "") or "windw" in (agent.reload_error or "")
    fired = evaluate(agent, [T0]).events
    [alert] = [e for e in fired if e.rule == RELOAD_RULE]
    assert alert.kind is EventKind.FIRING
    assert "config not applied: reload refused, the last good config keeps running" in alert.annotations["summary"]
    assert str(rules) in alert.evidence["error"]

    rules.write_text(good)
    assert reloader.check(agent) is True
    resolved = [e for e in evaluate(agent, [T0 + 60]).events if e.rule == RELOAD_RULE]
    assert [e.kind for e in resolved] == [EventKind.RESOLVED]


def test_an_emptied_rule_file_or_most_rules_deleted_is_refused_as_a_truncated_deploy(
    agent: Agent, deployed: Path
) -> None:
    reloader = Reloader(deployed)
    names = [r.name for r in agent.loaded.rules]
    rules = deployed.parent / "rules"
    (rules / "snowflake-latency.yaml").write_text("# truncated by a bad deploy\n")
    assert reloader.check(agent) is False
    assert "no documents (the file is empty or holds only comments)" in (agent.reload_error or "")

    shutil.rmtree(rules)
    rules.mkdir()
    (rules / "keep.yaml").write_text((REPO / "rules" / "snowflake-latency.yaml").read_text())
    assert reloader.check(agent) is False
    assert "a truncated deploy? Restart to apply such a change on purpose" in (agent.reload_error or "")
    assert [r.name for r in agent.loaded.rules] == names


def test_a_change_to_the_agents_own_settings_is_refused_until_a_restart(agent: Agent, deployed: Path) -> None:
    reloader = Reloader(deployed)
    _edit(deployed, lambda docs: docs[0]["spec"]["labels"].update(environment="prod"))
    assert reloader.check(agent) is False
    assert "the agent's own settings changed" in (agent.reload_error or "")
    assert reloader.check(agent, force=True) is False, "SIGHUP retries, and refuses again"


def test_every_alert_of_the_agents_own_has_a_runbook() -> None:
    from sre_agent.daemon.evaluate import RELOAD_RUNBOOK, RULE_ERROR_RUNBOOK, SOURCE_RUNBOOK

    for runbook in (SOURCE_RUNBOOK, RULE_ERROR_RUNBOOK, RELOAD_RUNBOOK):
        text = (REPO / "runbooks" / f"{runbook}.md").read_text()
        assert f"id: {runbook}\n" in text
        assert "## Triage" in text
