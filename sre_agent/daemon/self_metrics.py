"""The agent's own health as metric records: heartbeat, cycle duration, source lag, outbox depth, dead letters.

One record per evaluation cycle, enqueued for every metrics sink in the same transaction as the cycle's
heartbeat row. ``agent_heartbeat`` is what an Azure "metric absent" alert watches (``deploy/azure``): a dead
agent, a wedged scheduler or a broken metrics path all stop it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sre_agent.daemon.runtime import Agent
from sre_agent.model import AlertState, Severity, iso, to_epoch
from sre_agent.store.outbox import OutboxBacklog


def _point(name: str, value: float, **dims: str) -> dict[str, Any]:
    return {"name": name, "dims": dims, "value": value}


def agent_metrics_record(agent: Agent, now: datetime, duration_s: float, rule_errors: int) -> dict[str, Any]:
    """The agent's health at ``now`` as one metric record (``type: metrics``, ``source: agent``)."""
    at = to_epoch(now)
    points = [
        _point("agent_heartbeat", 1),
        _point("agent_cycle_duration_seconds", round(duration_s, 3)),
        _point("agent_rule_errors", rule_errors),
    ]
    for state in agent.watermarks.all():
        if state.frontier is not None:
            points.append(_point("agent_source_lag_seconds", max(0, at - state.frontier), family=state.family))
        points.append(_point("agent_source_failures", state.consecutive_failures, family=state.family))
    backlog = {b.sink: b for b in agent.outbox.backlog()}
    for sink_name in sorted({s.name for s in agent.sinks} | set(backlog)):
        stats = backlog.get(sink_name) or OutboxBacklog(sink_name, 0, 0, 0, None)
        oldest = 0 if stats.oldest_pending_at is None else max(0, at - stats.oldest_pending_at)
        points += [
            _point("agent_outbox_pending", stats.pending, sink=stats.sink),
            _point("agent_outbox_oldest_age_seconds", oldest, sink=stats.sink),
            _point("agent_outbox_dead", stats.dead, sink=stats.sink),
            _point("agent_outbox_dropped", stats.dropped, sink=stats.sink),
            _point("agent_outbox_superseded", stats.superseded, sink=stats.sink),
        ]
    for sink in agent.sinks:
        for reason, count in sorted(getattr(sink, "dropped", {}).items()):
            points.append(_point("agent_metric_points_dropped", count, sink=sink.name, reason=reason))
    firing = dict.fromkeys(Severity, 0)
    for inst in agent.alerts.active().values():
        if inst.state is AlertState.FIRING and inst.severity is not None:
            firing[inst.severity] += 1
    points += [_point("agent_active_alerts", count, severity=sev.value) for sev, count in firing.items()]
    minute = at - at % 60
    return {
        "type": "metrics",
        "source": "agent",
        "dedup_key": f"metrics:agent:{minute}",
        "at": iso(now),
        "points": points,
    }
