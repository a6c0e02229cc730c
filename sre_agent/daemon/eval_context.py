"""What one evaluation pass accumulates before it commits: alert instances, transitions, metric records."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from sre_agent.alerting.lifecycle import Instance, Transition
from sre_agent.daemon.runtime import Agent
from sre_agent.errors import SreAgentError
from sre_agent.logs import redact
from sre_agent.model import AlertState, EventKind

log = logging.getLogger(__name__)

Annotator = Callable[[Instance, EventKind], dict[str, str]]
"""Writes an alert's annotations (summary, description, runbook) for an instance and the transition it tells."""

Refresher = Callable[[Instance, int], Instance]
"""Recomputes, for a reminder sent at instant ``t``, the parts of an instance's evidence that its rule computes only
at transitions because they cost a query (a budget's drivers: the last 24 hours against a week earlier)."""


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
        self.firing: dict[str, list[tuple[int, Instance]]] = {}
        """Per firing alert, the instance as evaluated at each instant of the pass (oldest first): what a reminder
        sent at that instant says (its evidence as of then, never the firing-time evidence)."""
        self.annotators: dict[str, Annotator] = {}
        """Per alert, how its rule writes the summary of an instance (the same function its transitions use)."""
        self.refreshers: dict[str, Refresher] = {}
        """Per alert whose rule computes part of its evidence at transitions only, how to bring it to a reminder's
        instant."""

    def observe(self, t: int, inst: Instance, annotate: Annotator, refresh: Refresher | None = None) -> None:
        """Remember ``inst`` as evaluated at instant ``t`` if it fires, how to write its summary and (``refresh``)
        how to bring evidence computed at transitions only to a reminder's instant."""
        self.annotators[inst.fingerprint] = annotate
        if refresh is not None:
            self.refreshers[inst.fingerprint] = refresh
        if inst.state is AlertState.FIRING:
            self.firing.setdefault(inst.fingerprint, []).append((t, inst))

    def as_of(self, fingerprint: str, t: int) -> tuple[int, Instance] | None:
        """The newest evaluation of a firing alert at or before instant ``t`` in this pass (None: not evaluated)."""
        found = None
        for at, inst in self.firing.get(fingerprint, []):
            if at > t:
                break
            found = (at, inst)
        return found

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
        firing = {fp: list(seen) for fp, seen in self.firing.items()}
        try:
            work()
        except Exception as exc:  # one broken rule must not stop the others (or the agent's own alerts)
            if isinstance(exc, SreAgentError):  # a stated refusal (a limit): no traceback every minute
                log.warning("%s could not be evaluated: %s", name, exc)
            else:
                log.exception("%s could not be evaluated", name)
            self.instances, self.changed, self.firing = instances, changed, firing
            del self.transitions[transitions:]
            del self.metrics[metrics:]
            errors[name] = redact(f"{type(exc).__name__}: {exc}")
