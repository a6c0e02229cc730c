"""The delivery loop: drain the outbox to every sink with backoff, retries and dead letters."""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field

from sre_agent.config.agent import DeliverySettings
from sre_agent.errors import SinkError
from sre_agent.failpoints import failpoint
from sre_agent.sinks.base import Sink
from sre_agent.store.outbox import Outbox

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    """What one pass of the loop did."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    dropped: int = 0
    """Items dropped by the outbox bounds (too old, or too many pending)."""
    errors: list[str] = field(default_factory=list)


def backoff_seconds(attempt: int, settings: DeliverySettings, rng: random.Random) -> int:
    """Exponential backoff with full jitter: up to 5 s × 2^attempt, capped at ``max_backoff``."""
    cap = settings.max_backoff.total_seconds()
    return max(1, int(rng.uniform(0, min(cap, 5.0 * 2**attempt))))


def deliver(
    outbox: Outbox, sinks: list[Sink], now: int, settings: DeliverySettings, rng: random.Random | None = None
) -> DeliveryReport:
    """Send every due item to its sink, batch by batch; failures are retried later or dead-lettered."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not security
    report = DeliveryReport()
    for sink in sinks:
        dropped = outbox.bound(sink.name, now, int(settings.max_age.total_seconds()), settings.max_pending)
        if dropped:
            report.dropped += dropped
            log.warning("outbox of %s over its bounds: %d item(s) dropped (see sre-agent status)", sink.name, dropped)
        while True:
            batch = outbox.due(sink.name, now, settings.batch_size)
            if not batch:
                break
            try:
                try:
                    sink.send([{**item.payload, "dedup_key": item.dedup_key} for item in batch])
                except SinkError:
                    raise
                except Exception as unexpected:  # a sink bug or a broken pipe must not block the others
                    raise SinkError(sink.name, f"{type(unexpected).__name__}: {unexpected}") from unexpected
            except SinkError as exc:
                done, batch = batch[: exc.sent], batch[exc.sent :]
                if done:  # the records before the failing one did arrive: never send them again
                    outbox.delivered([item.id for item in done], now)
                    report.delivered += len(done)
                attempts = max(item.attempts for item in batch) + 1
                give_up = not exc.retryable or attempts >= settings.max_attempts
                wait = backoff_seconds(attempts, settings, rng)
                if exc.retry_after is not None:  # the destination's Retry-After wins over our own backoff
                    wait = max(wait, math.ceil(exc.retry_after))
                retry_at = None if give_up else now + wait
                outbox.failed([item.id for item in batch], str(exc), now, retry_at)
                if give_up:
                    report.dead += len(batch)
                else:
                    report.retried += len(batch)
                report.errors.append(str(exc))
                log.warning(
                    "delivery to %s failed (%s): %s",
                    sink.name,
                    "dead-lettered" if give_up else "will retry",
                    exc,
                )
                break
            failpoint("deliver.after_send")
            outbox.delivered([item.id for item in batch], now)
            report.delivered += len(batch)
            if len(batch) < settings.batch_size:
                break
    return report
