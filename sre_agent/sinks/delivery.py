"""The delivery loop: drain the outbox to every sink with backoff, retries and dead letters.

- **Acknowledged as answered.** A sink that makes one request per record (``per_record = True``: webhooks, whose
  receivers may not deduplicate) gets one record per call, each acknowledged as soon as it is answered, so a crash
  mid-batch re-sends at most the record in flight. The others get the batch (an Azure upload is one request; the
  JSONL file is its own dedup log; the console is for people) and acknowledge what they report as sent.
- **Attempts are per item.** Only the record that failed is charged an attempt; it alone backs off, and only a
  record that itself failed ``max_attempts`` times (or was refused for good) becomes a dead letter.
- **In order per alert.** A state waits while an older state of the same alert is pending for the sink, and one
  older than a state already delivered is never sent (``superseded``, counted).
- **Retry-After** wins over the backoff, clamped to ``delivery.max_retry_after`` (``inf``, ``1e12`` or a date in
  year 9999 wait that long, no longer).
- **Sinks are independent.** One sink's failure — its receiver, a bug, the store — is reported and the next sink
  still delivers.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field

from sre_agent.config.agent import DeliverySettings
from sre_agent.errors import SinkError
from sre_agent.failpoints import failpoint
from sre_agent.logs import redact
from sre_agent.sinks.base import Sink
from sre_agent.store.outbox import Outbox, OutboxItem

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    """What one pass of the loop did."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    dropped: int = 0
    """Items dropped by the outbox bounds (too old, or too many pending)."""
    superseded: int = 0
    """Items not sent because a newer state of their alert had already reached the sink."""
    errors: list[str] = field(default_factory=list)


def backoff_seconds(attempt: int, settings: DeliverySettings, rng: random.Random) -> int:
    """Exponential backoff with full jitter: up to 5 s × 2^attempt, capped at ``max_backoff``."""
    cap = settings.max_backoff.total_seconds()
    return max(1, int(rng.uniform(0, min(cap, 5.0 * 2 ** min(attempt, 60)))))


def retry_wait(attempt: int, retry_after: float | None, settings: DeliverySettings, rng: random.Random) -> int:
    """Seconds before attempt ``attempt + 1``: the backoff, or the receiver's Retry-After when longer — clamped to
    ``max_retry_after`` (an infinite, NaN or absurd value never parks an item for days)."""
    wait = backoff_seconds(attempt, settings, rng)
    if retry_after is not None and not math.isnan(retry_after):
        bound = settings.max_retry_after.total_seconds()
        wait = max(wait, math.ceil(min(max(retry_after, 0.0), bound)))
    return wait


def deliver(
    outbox: Outbox, sinks: list[Sink], now: int, settings: DeliverySettings, rng: random.Random | None = None
) -> DeliveryReport:
    """Send every due item to its sink; failures are retried later or dead-lettered (see the module doc)."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not security
    report = DeliveryReport()
    for sink in sinks:
        try:
            _deliver_to(outbox, sink, now, settings, rng, report)
        except Exception as exc:  # the store or a bug in this sink's path: the other sinks still deliver
            message = redact(f"sink {sink.name}: delivery pass failed: {type(exc).__name__}: {exc}")
            report.errors.append(message)
            log.exception("%s", message)
    return report


def _deliver_to(
    outbox: Outbox, sink: Sink, now: int, settings: DeliverySettings, rng: random.Random, report: DeliveryReport
) -> None:
    dropped = outbox.bound(sink.name, now, int(settings.max_age.total_seconds()), settings.max_pending)
    if dropped:
        report.dropped += dropped
        log.warning("outbox of %s over its bounds: %d item(s) dropped (see sre-agent status)", sink.name, dropped)
    superseded = outbox.supersede(sink.name)
    if superseded:
        report.superseded += superseded
        log.info("%s: %d older state(s) not sent (a newer state of the alert was delivered)", sink.name, superseded)
    per_record = bool(getattr(sink, "per_record", False))
    while True:
        batch = outbox.due(sink.name, now, settings.batch_size)
        if not batch:
            return
        for chunk in [[item] for item in batch] if per_record else [batch]:
            if not _send(outbox, sink, chunk, now, settings, rng, report):
                return  # the receiver is failing: the rest waits for the next pass


def _send(
    outbox: Outbox,
    sink: Sink,
    chunk: list[OutboxItem],
    now: int,
    settings: DeliverySettings,
    rng: random.Random,
    report: DeliveryReport,
) -> bool:
    """Send ``chunk``; acknowledge what arrived, charge the record that failed. Return whether to go on."""
    try:
        try:
            sink.send([{**item.payload, "dedup_key": item.dedup_key} for item in chunk])
        except SinkError:
            raise
        except Exception as unexpected:  # a sink bug or a broken pipe: this record failed, retry it
            raise SinkError(sink.name, f"{type(unexpected).__name__}: {unexpected}") from unexpected
    except SinkError as exc:
        sent = min(max(exc.sent, 0), len(chunk) - 1)
        if sent:  # the records before the failing one did arrive: never send them again
            outbox.delivered([item.id for item in chunk[:sent]], now)
            report.delivered += sent
        failing = chunk[sent]
        attempts = failing.attempts + 1
        give_up = not exc.retryable or attempts >= settings.max_attempts
        retry_at = None if give_up else now + retry_wait(attempts, exc.retry_after, settings, rng)
        error = redact(str(exc))  # a receiver's answer may echo the token it was sent
        outbox.failed([failing.id], error, now, retry_at)
        report.dead += give_up
        report.retried += not give_up
        report.errors.append(error)
        log.warning("delivery to %s failed (%s): %s", sink.name, "dead-lettered" if give_up else "will retry", error)
        # A record refused for good says nothing about the next one; a failing receiver is left alone until later.
        return not exc.retryable
    failpoint("deliver.after_send")
    outbox.delivered([item.id for item in chunk], now)
    report.delivered += len(chunk)
    return True
