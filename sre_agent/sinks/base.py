"""The sink interface."""

from __future__ import annotations

from typing import Any, Protocol


class Sink(Protocol):
    """A destination for alert notifications.

    ``send`` receives records already written to the outbox — a batch, acknowledged when it returns, or one at a
    time, each acknowledged at once, when the sink sets ``per_record = True`` (one request per record to a receiver
    that may not deduplicate) — and raises ``SinkError``
    (retryable or not, with how many records arrived) when delivery fails; it must not deliver the same
    ``dedup_key`` twice where it can tell.
    """

    name: str

    def send(self, records: list[dict[str, Any]]) -> None:
        """Deliver ``records`` (outbox payloads with their ``dedup_key``)."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...
