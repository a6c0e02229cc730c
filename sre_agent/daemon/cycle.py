"""One evaluation cycle, end to end — the function the daemon, `once`, the demo and tests all drive."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sre_agent.clock import Clock, floor_to
from sre_agent.daemon.evaluate import EvalReport, evaluate, last_instant
from sre_agent.daemon.platform_metrics import platform_metrics_record
from sre_agent.daemon.poll import PollReport, poll_due
from sre_agent.daemon.reports import ReportRun, write_due_reports
from sre_agent.daemon.runtime import Agent
from sre_agent.daemon.self_metrics import agent_metrics_record
from sre_agent.model import AlertEvent, to_epoch
from sre_agent.sinks.delivery import DeliveryReport, deliver

log = logging.getLogger(__name__)


@dataclass
class CycleResult:
    """What one cycle did: rows polled, instants evaluated, transitions, deliveries, errors."""

    now: datetime
    poll: PollReport = field(default_factory=PollReport)
    evaluations: list[EvalReport] = field(default_factory=list)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    reports: ReportRun = field(default_factory=ReportRun)
    duration_s: float = 0.0

    @property
    def events(self) -> list[AlertEvent]:
        """Every transition recorded in the cycle."""
        return [e for r in self.evaluations for e in r.events]

    @property
    def notifications(self) -> list[AlertEvent]:
        """Transitions that notify receivers."""
        return [e for r in self.evaluations for e in r.notifications]

    @property
    def instants(self) -> int:
        """Evaluation instants covered."""
        return sum(r.instants for r in self.evaluations)

    @property
    def source_errors(self) -> dict[str, str]:
        """Failed polls by family."""
        return self.poll.errors


def pending_instants(agent: Agent, now: datetime, include_now: bool = True) -> list[int]:
    """Evaluation instants (multiples of the interval) after the last evaluated one, up to ``now``.

    After downtime only the instants of the last ``max_catchup`` are evaluated (plus ``now``); older
    ones are skipped (their data was judged when it was fresh, or never will be).
    """
    step = agent.spec.evaluation.interval
    end = floor_to(now, step)
    if not include_now:
        end -= step
    last = last_instant(agent)
    if last is None:
        return [to_epoch(end)] if include_now else []
    earliest = end - agent.spec.evaluation.max_catchup
    start = max(datetime.fromtimestamp(last, UTC) + step, earliest)
    out = []
    cursor = start
    while cursor <= end:
        out.append(to_epoch(cursor))
        cursor += step
    return out


def evaluate_until(agent: Agent, now: datetime, include_now: bool = True) -> EvalReport:
    """Evaluate every pending instant up to ``now`` (the daemon's evaluation job)."""
    return evaluate(agent, pending_instants(agent, now, include_now))


def deliver_now(agent: Agent, now: datetime) -> DeliveryReport:
    """Drain the outbox (the daemon's delivery job)."""
    return deliver(agent.outbox, agent.sinks, to_epoch(now), agent.spec.delivery)


def run_cycle(clock: Clock, agent: Agent, force_poll: bool = False) -> CycleResult:
    """Run one cycle at ``clock.now()``: catch up evaluations, poll, evaluate now, deliver.

    Minutes between the previous cycle and now are evaluated first, with the data the agent had
    then — exactly what a per-minute evaluator would have seen — and only then does the poll add
    new data. A replay that calls this once per poll interval therefore yields the same
    transitions as the daemon evaluating every minute. ``force_poll`` polls every family now, due
    or not (`sre-agent once`).
    """
    started = time.perf_counter()
    now = clock.now()
    result = CycleResult(now)
    result.evaluations.append(evaluate_until(agent, now, include_now=False))
    result.poll = poll_due(agent, now, force=force_poll)
    result.evaluations.append(evaluate_until(agent, now))
    rule_errors = sum(len(r.rule_errors) for r in result.evaluations)
    enqueue_health(agent, now, time.perf_counter() - started, rule_errors)
    result.delivery = deliver_now(agent, now)
    # Reports after the pages are out: a slow report never delays a notification.
    result.reports = reports_now(agent, now)
    if result.reports.written:
        announced = deliver_now(agent, now)
        result.delivery.delivered += announced.delivered
        result.delivery.errors += announced.errors
    result.duration_s = time.perf_counter() - started
    _record(agent, result)
    return result


def reports_now(agent: Agent, now: datetime) -> ReportRun:
    """Write the reports due (the daemon's reports job); a failure is reported, never raised."""
    try:
        return write_due_reports(agent, now)
    except Exception as exc:  # the store or a bug: the cycle goes on; the next one tries again
        log.exception("reports not written")
        return ReportRun(errors={"reports": f"{type(exc).__name__}: {exc}"})


def enqueue_health(agent: Agent, now: datetime, duration_s: float, rule_errors: int) -> None:
    """Queue the agent's health and the platform's metrics for the metrics sinks (see ``self_metrics`` and
    ``platform_metrics``); a no-op without metrics sinks."""
    if not any(getattr(sink, "accepts_metrics", False) for sink in agent.sinks):
        return
    records = [agent_metrics_record(agent, now, duration_s, rule_errors)]
    platform = platform_metrics_record(agent, to_epoch(now))
    if platform is not None:
        records.append(platform)
    with agent.db.transaction() as conn:
        agent.enqueue_metrics(conn, records, to_epoch(now))


def record_cycle(
    agent: Agent,
    now: datetime,
    duration_s: float,
    polled: dict[str, int],
    instants: int,
    transitions: int,
    delivered: int,
    errors: list[str],
) -> None:
    """Append a heartbeat row (what `status` and `health` read); keep a week of them."""
    with agent.db.transaction() as conn:
        conn.execute(
            "INSERT INTO cycles (started_at, instant, duration_ms, polled, instants_evaluated, transitions, delivered,"
            " errors) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                int(time.time()),
                to_epoch(now),
                int(duration_s * 1000),
                json.dumps(polled),
                instants,
                transitions,
                delivered,
                json.dumps(errors),
            ),
        )
        conn.execute("DELETE FROM cycles WHERE instant < ?", (to_epoch(now - timedelta(days=7)),))


def _record(agent: Agent, result: CycleResult) -> None:
    errors = [f"{family}: {error}" for family, error in result.poll.errors.items()] + result.delivery.errors
    errors += [f"rule {name}: {error}" for r in result.evaluations for name, error in r.rule_errors.items()]
    errors += [f"report {name}: {error}" for name, error in result.reports.errors.items()]
    record_cycle(
        agent,
        result.now,
        result.duration_s,
        result.poll.rows,
        result.instants,
        len(result.events),
        result.delivery.delivered,
        errors,
    )
