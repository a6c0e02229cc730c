"""The sink interface."""

from __future__ import annotations

from typing import Any, Protocol


class Sink(Protocol):
    """A destination for alert notifications.

    ``send`` receives records already written to the outbox — one at a time, each acknowledged as soon as it
    returns, unless the sink sets ``batched = True`` (one upload for many records) — and raises ``SinkError``
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
