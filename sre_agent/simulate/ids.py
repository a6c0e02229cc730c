"""Vectorised identifiers that look like Snowflake's (query ids, hashes) without a Python loop per row."""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt
import pyarrow as pa

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hex_columns(values: npt.ArrayLike, width: int) -> npt.NDArray[np.uint8]:
    """Return an (n, width) array of ASCII hex digits for unsigned ``values`` (most significant first)."""
    v = np.asarray(values, dtype=np.uint64)
    shifts = (np.arange(width - 1, -1, -1, dtype=np.uint64) * np.uint64(4)).astype(np.uint64)
    nibbles = ((v[:, None] >> shifts[None, :]) & np.uint64(0xF)).astype(np.intp)
    out: npt.NDArray[np.uint8] = _HEX[nibbles]
    return out


def query_ids(day_ordinal: int, sequence: npt.ArrayLike, salt: int) -> pa.Array:
    """Return Snowflake-shaped query ids ``01xxxxxx-xxxx-xxxx-0000-xxxxxxxxxxxx``, unique per (day, sequence)."""
    seq = np.asarray(sequence, dtype=np.uint64)
    n = len(seq)
    day = np.full(n, day_ordinal & 0xFFFFFF, dtype=np.uint64)
    mixed = (seq * np.uint64(0x9E3779B97F4A7C15) + np.uint64(salt & 0xFFFFFFFF)) & np.uint64(0xFFFFFFFF)
    dash = np.full((n, 1), ord("-"), dtype=np.uint8)
    prefix = np.tile(np.frombuffer(b"01", dtype=np.uint8), (n, 1))
    zeros = np.tile(np.frombuffer(b"0000", dtype=np.uint8), (n, 1))
    parts = [
        prefix,
        hex_columns(day, 6),
        dash,
        hex_columns(mixed >> np.uint64(16), 4),
        dash,
        hex_columns(mixed & np.uint64(0xFFFF), 4),
        dash,
        zeros,
        dash,
        hex_columns(seq, 12),
    ]
    matrix = np.ascontiguousarray(np.hstack(parts))
    width = matrix.shape[1]
    raw = matrix.view(f"S{width}").ravel()
    return pa.array(raw, type=pa.binary(width)).cast(pa.string())


def stable_hash(text: str, length: int = 32) -> str:
    """Return a hex digest of ``text`` (MD5: an identifier, not a security control)."""
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()[:length]


def stable_int(text: str, modulo: int) -> int:
    """Return a deterministic integer in ``[0, modulo)`` for ``text``."""
    return int(stable_hash(text, 12), 16) % modulo
