"""Per-minute SLO rows read back from the store, cached in memory and refreshed incrementally.

An SLO is evaluated every minute over its whole period (28 days are 40,320 minutes). Reading that from
SQLite each time would dominate the agent's work, so each SLO's rows stay in memory and only the part
a poll can have rewritten — everything from its overlap on — is read again when its watermark moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sre_agent.engine.rollups import SLO
from sre_agent.engine.slo import RawMinutes
from sre_agent.store.db import Database
from sre_agent.store.rollups import RollupStore

Signature = tuple[int | None, int | None]
"""(covered_from, polled_to) of an SLO's watermark: when it changes, rows may have changed."""


@dataclass
class _Entry:
    lo: int
    signature: Signature
    raw: RawMinutes


class SloMinutes:
    """Reads the ``slo`` rollup one series at a time, keeping what it read."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.rollups = RollupStore(db)
        self._cache: dict[str, _Entry] = {}
        self.reads = 0
        """Rows read from SQLite so far (what the cache saves shows here)."""

    def _read(self, series_id: int | None, lo: int) -> RawMinutes:
        if series_id is None:
            return RawMinutes.empty()
        rows = self.db.read(
            "SELECT bucket, good, total, last_ok FROM rollup_slo WHERE series_id = ? AND bucket >= ? ORDER BY bucket",
            (series_id, lo),
        )
        self.reads += len(rows)
        if not rows:
            return RawMinutes.empty()
        data = np.array([tuple(r) for r in rows], dtype=np.int64)
        return RawMinutes(data[:, 0], data[:, 1].astype(np.float64), data[:, 2].astype(np.float64), data[:, 3])

    def load(self, key: str, lo: int, signature: Signature, overlap_s: int) -> RawMinutes:
        """Rows of series ``key`` from bucket ``lo`` on.

        Polls after the cached read start at most ``overlap_s`` before the ``polled_to`` it saw (see
        poll.next_window), so only rows from there on are read again; a changed ``covered_from`` (a
        backfill) or an older ``lo`` reads everything again.
        """
        entry = self._cache.get(key)
        sid = self.rollups.series_id(SLO, (key,))
        if entry is not None and entry.lo <= lo:
            if entry.signature == signature:
                raw = _since(entry.raw, lo)
                self._cache[key] = _Entry(lo, signature, raw)  # windows only move forward: drop what fell out
                return raw
            seen_to = entry.signature[1]
            if entry.signature[0] == signature[0] and seen_to is not None:
                rewritable_from = seen_to - overlap_s - 60
                fresh = self._read(sid, max(rewritable_from, entry.lo))
                keep = entry.raw.bucket < max(rewritable_from, entry.lo)
                merged = RawMinutes(
                    np.concatenate([entry.raw.bucket[keep], fresh.bucket]),
                    np.concatenate([entry.raw.good[keep], fresh.good]),
                    np.concatenate([entry.raw.total[keep], fresh.total]),
                    np.concatenate([entry.raw.last_ok[keep], fresh.last_ok]),
                )
                raw = _since(merged, lo)
                self._cache[key] = _Entry(lo, signature, raw)
                return raw
        raw = self._read(sid, lo)
        self._cache[key] = _Entry(lo, signature, raw)
        return raw

    def newest_bucket(self, key: str) -> int | None:
        """Start of the newest stored minute of ``key``."""
        sid = self.rollups.series_id(SLO, (key,))
        if sid is None:
            return None
        rows = self.db.read("SELECT MAX(bucket) AS b FROM rollup_slo WHERE series_id = ?", (sid,))
        value = rows[0]["b"] if rows else None
        return int(value) if value is not None else None

    def forget(self) -> None:
        """Drop the cache (after a prune, or in tests)."""
        self._cache.clear()


def _since(raw: RawMinutes, lo: int) -> RawMinutes:
    keep = raw.bucket >= lo
    if keep.all():
        return raw
    return RawMinutes(raw.bucket[keep], raw.good[keep], raw.total[keep], raw.last_ok[keep])
