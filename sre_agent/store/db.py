"""Opening the state store: WAL, foreign keys, busy timeout, versioned migrations, transactions."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from sre_agent.errors import StoreError
from sre_agent.store.migrations import MIGRATIONS

SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """One SQLite file in WAL mode shared by the agent's jobs; writes are serialised by a lock.

    Readers (reports, ``status``) may open the same file from other processes at any time.
    """

    def __init__(self, path: Path | str, writer: bool = True) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        self._lock = threading.RLock()
        self._writer_lock: IO[str] | None = None
        if writer and self.path is not None:
            self._claim(self.path)
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open state store {path}: {exc}") from exc
        self.conn.row_factory = sqlite3.Row
        self._pragmas()
        self.migrate()

    @classmethod
    def existing(cls, path: Path) -> Database:
        """The store at ``path`` for the CLI's reads and small writes (no writer lock: the daemon may be running).

        Raises:
            StoreError: there is no store there: the agent has not run with this config yet.
        """
        if not path.exists():
            raise StoreError(f"no state store at {path}: the agent has not run with this config yet")
        return cls(path, writer=False)

    def _claim(self, path: Path) -> None:
        """Take the store's writer lock: two agents writing one store would notify twice."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = (path.parent / (path.name + ".lock")).open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise StoreError(
                f"state store {path} is in use by another sre-agent process (pid {holder}); "
                "stop it or point this one at another store"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._writer_lock = handle

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
            self._ensure_store_id()
            return SCHEMA_VERSION

    def _ensure_store_id(self) -> None:
        self.conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?)", (uuid.uuid4().hex[:12],))

    @property
    def store_id(self) -> str:
        """A random id of this store, part of every notification's dedup key: a store recreated from
        scratch numbers its events from 1 again, and its notifications must not be taken for old ones."""
        return str(self.read("SELECT value FROM meta WHERE key = 'store_id'")[0]["value"])

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
            except sqlite3.Error as exc:
                self.conn.execute("ROLLBACK")
                raise StoreError(f"state store {self.path}: {exc}") from exc
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
        return self._fetch(sql, params, sqlite3.Row)

    def read_tuples(self, sql: str, params: tuple[object, ...] | list[object] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query and return all rows as plain tuples (no ``sqlite3.Row`` per row: bulk reads)."""
        return self._fetch(sql, params, None)

    def _fetch(self, sql: str, params: tuple[object, ...] | list[object], row_factory: Any) -> list[Any]:
        with self._lock:
            try:
                cursor = self.conn.cursor()
                cursor.row_factory = row_factory
                return list(cursor.execute(sql, params).fetchall())
            except sqlite3.Error as exc:
                raise StoreError(f"state store {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close the connection (checkpointing the WAL) and release the writer lock."""
        with self._lock:
            self.conn.close()
            if self._writer_lock is not None:
                fcntl.flock(self._writer_lock.fileno(), fcntl.LOCK_UN)
                self._writer_lock.close()
                self._writer_lock = None


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
