"""Append notifications to a JSON-lines file, exactly once per dedup key (crash-safe)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sre_agent.errors import SinkError


class JsonlSink:
    """One JSON object per line; a record whose ``dedup_key`` is already in the file is skipped.

    The file itself is the idempotency log: after a crash between writing a line and marking the
    outbox item delivered, the redelivery finds the key and writes nothing.
    """

    def __init__(self, path: Path, name: str = "jsonl") -> None:
        self.name = name
        self.path = path
        self._seen: set[str] | None = None

    def _load_seen(self) -> set[str]:
        seen: set[str] = set()
        if self.path.exists():
            with self.path.open("r", encoding="utf-8") as handle:
                for line in handle:
                    try:
                        key = json.loads(line).get("dedup_key")
                    except json.JSONDecodeError:
                        continue  # a torn last line from a crash: its record will be written again
                    if key:
                        seen.add(str(key))
        return seen

    def send(self, records: list[dict[str, Any]]) -> None:
        """Append the records not yet in the file, then fsync."""
        if self._seen is None:
            try:
                self._seen = self._load_seen()
            except OSError as exc:
                raise SinkError(self.name, f"cannot read {self.path}: {exc}") from exc
        fresh = [r for r in records if str(r.get("dedup_key")) not in self._seen]
        if not fresh:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                if handle.tell() > 0 and not _ends_with_newline(self.path):
                    handle.write("\n")
                for record in fresh:
                    handle.write(json.dumps(record, sort_keys=True, default=str) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            self._seen = None  # some lines may have made it: re-read the file before the retry
            raise SinkError(self.name, f"cannot write {self.path}: {exc}") from exc
        self._seen.update(str(r.get("dedup_key")) for r in fresh)

    def close(self) -> None:
        """Nothing to release."""


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"
