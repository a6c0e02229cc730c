"""What one evaluation pass accumulates before it commits: alert instances, transitions, metric records."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from sre_agent.alerting.lifecycle import Instance, Transition
from sre_agent.daemon.runtime import Agent
from sre_agent.logs import redact

log = logging.getLogger(__name__)


class EvalContext:
    """Instances as they stand during the pass, the ones changed, and the transitions to record."""

    def __init__(self, agent: Agent, instants: npt.NDArray[np.int64]) -> None:
        self.agent = agent
        self.instants = instants
        self.instances: dict[str, Instance] = agent.alerts.active()
        self.before: dict[str, Instance] = dict(self.instances)
        """Active instances as the pass found them (where notification routing starts from)."""
        self.changed: dict[str, Instance] = {}
        self.transitions: list[tuple[Transition, dict[str, str]]] = []
        self.resumed_at: int | None = None
        """When evaluation last resumed after the agent was down (epoch s)."""
        self.metrics: list[dict[str, Any]] = []
        """Metric records (one per SLO) to hand to the sinks that take metrics."""

    def keep(self, inst: Instance, new: Instance) -> Instance:
        """Remember ``new`` as the current state of its instance if it differs from ``inst``."""
        if new is not inst:
            self.instances[new.fingerprint] = new
            self.changed[new.fingerprint] = new
        return new

    def isolated(self, name: str, work: Callable[[], None], errors: dict[str, str]) -> None:
        """Run ``work`` (one rule or SLO); if it fails, undo its partial effects and record the error."""
        instances, changed = dict(self.instances), dict(self.changed)
        transitions, metrics = len(self.transitions), len(self.metrics)
        try:
            work()
        except Exception as exc:  # one broken rule must not stop the others (or the agent's own alerts)
            log.exception("%s could not be evaluated", name)
            self.instances, self.changed = instances, changed
            del self.transitions[transitions:]
            del self.metrics[metrics:]
            errors[name] = redact(f"{type(exc).__name__}: {exc}")
