"""The sink interface."""

from __future__ import annotations

from typing import Any, Protocol


class Sink(Protocol):
    """A destination for alert notifications.

    ``send`` receives records already written to the outbox; it raises ``SinkError`` (retryable or
    not) when delivery fails and must not deliver the same ``dedup_key`` twice where it can tell.
    """

    name: str

    def send(self, records: list[dict[str, Any]]) -> None:
        """Deliver ``records`` (outbox payloads with their ``dedup_key``)."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...
