"""Hot reload of the rule documents: on SIGHUP, or when a config or rule file changes, the daemon validates the new
files first and swaps them in only when they are good — as Prometheus and Alertmanager reload theirs.

What a reload applies: rules, SLOs, anomaly rules, budgets, routing and silences. What it refuses, keeping the
running config and raising ``agent-config-reload-failed`` until a later attempt succeeds:

- files that do not validate (the first errors are the alert's evidence);
- a change to the agent's own settings (Snowflake, sinks, store, polls…) — those need a restart, and a half-applied
  reload would route to sinks that do not exist;
- a change that needs another query pushed down (a new latency threshold, a family polled or no longer polled);
- one that removes more than ``reload.max_rule_loss`` of the running rules (an emptied or truncated file).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from sre_agent.alerting.routing import build_routing
from sre_agent.config.loader import LoadedConfig, document_paths, load_agent_config, load_config, rule_paths
from sre_agent.daemon.poll import optional_families
from sre_agent.daemon.runtime import Agent, alert_sinks
from sre_agent.errors import ConfigError
from sre_agent.logs import redact

log = logging.getLogger(__name__)


@dataclass
class Reloader:
    """Watches the config of a running agent and reloads it (see the module doc)."""

    path: Path
    extra: list[Path] = field(default_factory=list)
    seen: str = ""
    """Fingerprint of the files as last read (names, sizes, modification times)."""

    def __post_init__(self) -> None:
        self.seen = files_fingerprint(self.path, self.extra)

    def check(self, agent: Agent, force: bool = False) -> bool | None:
        """Reload when ``force`` (SIGHUP) or when the files changed (with ``reload.watch``); return whether it was
        applied (None: nothing to do). The outcome is ``agent.reload_error`` (None once a reload succeeds)."""
        current = files_fingerprint(self.path, self.extra)
        if not force and (current == self.seen or not agent.spec.reload.watch):
            return None
        self.seen = current
        try:
            new = load_config(self.path, self.extra or None)
        except ConfigError as exc:
            errors = [str(i) for i in exc.issues if i.severity == "error"]
            return self._refuse(agent, f"{len(errors)} error(s), first: " + "; ".join(errors[:3]))
        reason = refusal(agent, new)
        if reason is not None:
            return self._refuse(agent, reason)
        before = set(agent.loaded.rule_names())
        agent.loaded = new
        agent.routing = build_routing(new.routing, alert_sinks(agent.sinks))
        agent.source.pattern_min_queries = new.pattern_min_queries() or 1
        agent.reload_error = None
        after = set(new.rule_names())
        log.info(
            "config reloaded from %s: %d rule document(s) (%d added, %d removed)",
            self.path,
            len(after),
            len(after - before),
            len(before - after),
        )
        return True

    def _refuse(self, agent: Agent, reason: str) -> bool:
        agent.reload_error = redact(f"reload refused, the last good config keeps running: {reason}")
        log.error("config %s", agent.reload_error)
        return False


def refusal(agent: Agent, new: LoadedConfig) -> str | None:
    """Why ``new`` cannot replace the running config in place, or None when it can."""
    old = agent.loaded
    running = set(old.rule_names())
    lost = running - set(new.rule_names())
    share = agent.spec.reload.max_rule_loss
    if running and len(lost) > 1 and len(lost) / len(running) > share:
        return (
            f"it would remove {len(lost)} of the {len(running)} running rules (over reload.max_rule_loss "
            f"{share:.0%}): a truncated deploy? Restart to apply such a change on purpose"
        )
    keep = {"rules", "slos", "runbooks"}
    if old.config.spec.model_dump(exclude=keep) != new.config.spec.model_dump(exclude=keep):
        return "the agent's own settings changed (spec other than rules and slos): restart to apply them"
    if sorted(new.latency_thresholds_ms()) != sorted(agent.source.thresholds_ms):
        return "a rule needs a latency threshold the running queries do not push down: restart to apply it"
    if optional_families(new).keys() != optional_families(old).keys() or bool(new.slos) != bool(old.slos):
        return "the families to poll changed (pattern anomalies, cost, SLOs): restart to apply"
    return None


def files_fingerprint(path: Path, extra: list[Path]) -> str:
    """A digest of the config file and every rule file it names (which files, their sizes and modification
    times): it changes when any is edited, added or removed."""
    digest = hashlib.sha256()
    paths = [path, *extra]
    try:
        loaded_paths = _rule_files(path) + [p for e in extra for p in rule_paths([e])[0]]
    except Exception:  # an unreadable config: its own stat says it changed; load_config says why
        loaded_paths = []
    for p in sorted({*paths, *loaded_paths}):
        try:
            st = p.stat()
            digest.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{p}\0missing\n".encode())
    return digest.hexdigest()


def _rule_files(path: Path) -> list[Path]:
    config, _ = load_agent_config(path)
    if config is None:
        return []
    files, _ = rule_paths(document_paths(config, path))
    return files
