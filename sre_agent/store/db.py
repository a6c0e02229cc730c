"""Opening the state store: WAL, foreign keys, busy timeout, versioned migrations, transactions."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from sre_agent.errors import StoreError
from sre_agent.store.migrations import MIGRATIONS

SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """One SQLite file in WAL mode shared by the agent's jobs; writes are serialised by a lock.

    Readers (reports, ``status``) may open the same file from other processes at any time.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        self._lock = threading.RLock()
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open state store {path}: {exc}") from exc
        self.conn.row_factory = sqlite3.Row
        self._pragmas()
        self.migrate()

    def _pragmas(self) -> None:
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives an application crash (kill -9); a power loss may drop the
            # last commits, never corrupt the file.
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.Error as exc:
            raise StoreError(f"state store {self.path}: {exc}") from exc

    def migrate(self) -> int:
        """Apply pending migrations; return the schema version.

        Raises:
            StoreError: the file was written by a newer agent (its schema is ahead of this code).
        """
        with self._lock:
            version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"state store {self.path} has schema v{version}, this agent knows v{SCHEMA_VERSION}: "
                    "upgrade the agent or point it at another store"
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                script = MIGRATIONS[target - 1]
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                    for statement in _split(script):
                        self.conn.execute(statement)
                    self.conn.execute(f"PRAGMA user_version={target}")
                    self.conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    self.conn.execute("ROLLBACK")
                    raise StoreError(f"migration to v{target} failed: {exc}") from exc
            return SCHEMA_VERSION

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block atomically (BEGIN IMMEDIATE … COMMIT, ROLLBACK on any exception)."""
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"state store {self.path}: {exc}") from exc
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                try:
                    self.conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    self.conn.execute("ROLLBACK")
                    raise StoreError(f"state store {self.path}: commit failed: {exc}") from exc

    def read(self, sql: str, params: tuple[object, ...] | list[object] = ()) -> list[sqlite3.Row]:
        """Run a read-only query and return all rows."""
        with self._lock:
            try:
                return list(self.conn.execute(sql, params).fetchall())
            except sqlite3.Error as exc:
                raise StoreError(f"state store {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        with self._lock:
            self.conn.close()


def _split(script: str) -> Iterator[str]:
    buffer: list[str] = []
    for line in script.splitlines():
        buffer.append(line)
        if line.rstrip().endswith(";"):
            statement = "\n".join(buffer).strip()
            buffer = []
            if statement.strip(";").strip():
                yield statement
    rest = "\n".join(buffer).strip()
    if rest:
        yield rest
