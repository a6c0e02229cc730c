"""Append notifications (and SLO metric records) to JSON-lines files, exactly once per dedup key, rotated by size."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sre_agent.errors import SinkError


class _LineFile:
    """One JSON-lines file that is its own idempotency log: a key already in it is never written again.

    After a crash between writing a line and marking the outbox item delivered, the redelivery finds
    the key and writes nothing. Past ``max_bytes`` the file is rotated (``path.1`` … ``path.<keep>``); at start the
    keys of the current file and the newest rotated one are read back (a redelivery is of recent records), so the
    start reads at most twice ``max_bytes``.
    """

    def __init__(self, path: Path, sink: str, max_bytes: int = 100_000_000, keep: int = 3) -> None:
        self.path = path
        self.sink = sink
        self.max_bytes = max_bytes
        self.keep = keep
        self._seen: set[str] | None = None

    def rotated(self, n: int) -> Path:
        """The ``n``-th rotated file (1: the newest)."""
        return self.path.with_name(f"{self.path.name}.{n}")

    def _load_seen(self) -> set[str]:
        seen: set[str] = set()
        for path in (self.rotated(1), self.path):
            if not path.exists():
                continue
            with path.open("r", encoding="utf-8") as handle:
                for line in handle:
                    try:
                        key = json.loads(line).get("dedup_key")
                    except json.JSONDecodeError:
                        continue  # a torn last line from a crash: its record will be written again
                    if key:
                        seen.add(str(key))
        return seen

    def _rotate(self) -> None:
        """``path`` → ``path.1`` → … → ``path.<keep>`` (the oldest is dropped); the keys stay known in memory."""
        for n in range(self.keep, 1, -1):
            if self.rotated(n - 1).exists():
                os.replace(self.rotated(n - 1), self.rotated(n))
        os.replace(self.path, self.rotated(1))

    def append(self, records: list[dict[str, Any]]) -> None:
        """Append the records not yet in the file, then fsync."""
        if self._seen is None:
            try:
                self._seen = self._load_seen()
            except OSError as exc:
                raise SinkError(self.sink, f"cannot read {self.path}: {exc}") from exc
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
                size = handle.tell()
            if size > self.max_bytes:
                self._rotate()
        except OSError as exc:
            self._seen = None  # some lines may have made it: re-read the file before the retry
            raise SinkError(self.sink, f"cannot write {self.path}: {exc}") from exc
        self._seen.update(str(r.get("dedup_key")) for r in fresh)


class JsonlSink:
    """One JSON object per line: notifications to ``path``, SLO metric records to ``metrics_path``."""

    def __init__(
        self,
        path: Path,
        name: str = "jsonl",
        metrics_path: Path | None = None,
        max_bytes: int = 100_000_000,
        keep: int = 3,
    ) -> None:
        self.name = name
        self.path = path
        self._alerts = _LineFile(path, name, max_bytes, keep)
        self._metrics = _LineFile(metrics_path, name, max_bytes, keep) if metrics_path is not None else None

    @property
    def accepts_metrics(self) -> bool:
        """True when a metrics file is configured."""
        return self._metrics is not None

    def send(self, records: list[dict[str, Any]]) -> None:
        """Append each record to its file (metric records to the metrics file)."""
        metrics = [r for r in records if r.get("type") == "metrics"]
        alerts = [r for r in records if r.get("type") != "metrics"]
        if alerts:
            self._alerts.append(alerts)
        if metrics and self._metrics is not None:
            self._metrics.append(metrics)

    def close(self) -> None:
        """Nothing to release."""


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"
