"""The embedded fake Snowflake: fakesnow's server on 127.0.0.1, reached by the real connector over HTTP.

fakesnow 0.12.1 keeps one in-memory DuckDB shared by all sessions and ignores its own persistence
options in server mode; we swap in a file-backed instance (a private API, pinned and covered by a
test) so a seeded account survives restarts. Rows are bulk-loaded straight into DuckDB from Arrow —
never row by row — and ``ACCOUNT_USAGE`` views hide each row until its ``_VISIBLE_AT`` (see
``schema.py``), which the simulator clock controls.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import socket
import threading
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from sre_agent.errors import EmbeddedSnowflakeError
from sre_agent.simulate.schema import SIM_SCHEMA, VIEWS, ddl_statements

log = logging.getLogger(__name__)
_LOCK = threading.Lock()
_ACTIVE: list[EmbeddedSnowflake] = []


def _fakesnow() -> tuple[Any, Any]:
    try:
        warnings.filterwarnings("ignore", message="Arrow output on a DB-API")
        server_module = importlib.import_module("fakesnow.server")
        instance_module = importlib.import_module("fakesnow.instance")
    except ImportError as exc:  # pragma: no cover - exercised only without the extra installed
        raise EmbeddedSnowflakeError(
            "the embedded Snowflake needs the 'embedded' extra: pip install 'sre-agent[embedded]'"
        ) from exc
    logging.getLogger("fakesnow.server").setLevel(logging.WARNING)
    logging.getLogger("fakesnow").setLevel(logging.WARNING)
    return server_module, instance_module.FakeSnow


_TRANSLATION_CACHE_KEY = "sre_agent_translation"
_CACHE_SIZE = 256


def _install_translation_cache() -> None:
    """Memoise fakesnow's per-statement work on read-only statements (a fake-only speedup).

    For every statement fakesnow's server parses the text (once to find the statement type, once more in the
    cursor), runs ~80 AST transforms (≈ 50 ms for the agent's rollup query), generates DuckDB SQL from the
    result, and then, to tell the client the result's columns, parses ``DESCRIBE <that SQL>`` and runs it — about
    half of the server's time on the agent's polls, all of it the same for the same text. The agent sends the
    same text with new bind values each poll, so for a SELECT whose text, database and schema repeat:

    - the parse is cached and shared by the server and the cursor (neither changes a SELECT's tree before the
      translation, which works on a copy);
    - the translation and its DuckDB SQL are cached, and the translated tree handed to fakesnow (which only reads
      it) answers ``.sql("duckdb")`` from the cache;
    - the result's column description is cached per DuckDB SQL and bind value types.

    Anything else (DDL, DML, ``IDENTIFIER(?)``) takes fakesnow's normal path and empties the description cache
    (a changed table changes what a SELECT over it describes). A test checks that results and column types are
    identical with and without the cache.
    """
    cursor_module: Any = importlib.import_module("fakesnow.cursor")
    if getattr(cursor_module, "_sre_agent_cached", False):
        return
    server_module: Any = importlib.import_module("fakesnow.server")
    from sqlglot import exp

    original_parse = cursor_module.parse_one
    original_transform = cursor_module.FakeSnowflakeCursor._transform
    original_describe = cursor_module.FakeSnowflakeCursor._describe_last_sql
    parsed: dict[str, Any] = {}
    translated: dict[tuple[str, str | None, str | None], Any] = {}
    described: dict[tuple[str, tuple[str, ...]], list[Any]] = {}

    def cacheable(expression: Any) -> bool:
        if not isinstance(expression, exp.Select | exp.Union):
            return False
        return not any(
            isinstance(node, exp.Anonymous) and str(node.name).upper() == "IDENTIFIER"
            for node in expression.find_all(exp.Anonymous)
        )

    def remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        cache[key] = value

    def parse_one(sql: str, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return original_parse(sql, *args, **kwargs)
        if sql not in parsed:
            expression = original_parse(sql)
            if not cacheable(expression):
                return expression
            expression.meta[_TRANSLATION_CACHE_KEY] = sql
            remember(parsed, sql, expression)
        return parsed[sql]  # shared, never mutated: a translation works on its own copy (below)

    def transform(self: Any, expression: Any, params: Any) -> Any:
        sql = expression.meta.get(_TRANSLATION_CACHE_KEY)
        if sql is None:
            described.clear()
            return original_transform(self, expression, params)
        key = (sql, self._conn.database, self._conn.schema)
        if key not in translated:
            # fakesnow's transforms rewrite the tree in place: they get a copy, the cached parse stays pristine.
            tree = original_transform(self, expression.copy(), params)
            duckdb_sql = tree.sql(dialect="duckdb")
            generate = tree.sql

            def sql_of(dialect: Any = None, **opts: Any) -> str:
                return duckdb_sql if dialect == "duckdb" and not opts else str(generate(dialect, **opts))

            tree.sql = sql_of  # fakesnow's _execute asks the tree for its DuckDB text
            tree.meta[_TRANSLATION_CACHE_KEY] = sql
            remember(translated, key, tree)
        return translated[key]  # shared: fakesnow only reads a SELECT's translated tree (find, args, sql)

    def describe_last_sql(self: Any) -> list[Any]:
        transformed = self._last_transformed
        if transformed is None or _TRANSLATION_CACHE_KEY not in transformed.meta or self._last_sql is None:
            return list(original_describe(self))
        key = (str(self._last_sql), tuple(type(p).__name__ for p in self._last_params or ()))
        if key not in described:
            remember(described, key, list(original_describe(self)))
        return list(described[key])

    cursor_module.parse_one = parse_one
    server_module.parse_one = parse_one
    cursor_module.FakeSnowflakeCursor._transform = transform
    cursor_module.FakeSnowflakeCursor._describe_last_sql = describe_last_sql
    cursor_module._sre_agent_cached = True


class EmbeddedSnowflake:
    """A fake Snowflake account on 127.0.0.1 holding the ``SNOWFLAKE.ACCOUNT_USAGE`` views.

    One per process (fakesnow keeps its state in module globals). Use as a context manager or call
    ``start()`` / ``stop()``.
    """

    def __init__(
        self,
        db_path: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        translation_cache: bool = True,
    ) -> None:
        self.db_path = db_path
        self.translation_cache = translation_cache
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._module: Any = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> EmbeddedSnowflake:
        """Start the server thread, attach or create the account, create the views.

        Raises:
            EmbeddedSnowflakeError: another embedded server runs in this process, or it failed to start.
        """
        import uvicorn

        with _LOCK:
            if _ACTIVE:
                raise EmbeddedSnowflakeError("an embedded Snowflake is already running in this process")
            module, fake_snow = _fakesnow()
            if self.translation_cache:
                _install_translation_cache()
            if self.db_path is not None:
                self.db_path.mkdir(parents=True, exist_ok=True)
            module.shared_fs = fake_snow(db_path=str(self.db_path) if self.db_path else None)
            module.sessions.clear()
            self._module = module
            if not self.port:
                with contextlib.closing(socket.socket()) as sock:
                    sock.bind((self.host, 0))
                    self.port = int(sock.getsockname()[1])
            config = uvicorn.Config(module.app, host=self.host, port=self.port, log_level="warning")
            self._server = uvicorn.Server(config)
            self._thread = threading.Thread(target=self._server.run, name="embedded-snowflake", daemon=True)
            self._thread.start()
            deadline = time.monotonic() + 15
            while not self._server.started:
                if not self._thread.is_alive() or time.monotonic() > deadline:
                    raise EmbeddedSnowflakeError(f"fake Snowflake did not start on {self.host}:{self.port}")
                time.sleep(0.01)
            _ACTIVE.append(self)
        self.execute_all(ddl_statements())
        log.info("embedded Snowflake on %s:%s (db_path=%s)", self.host, self.port, self.db_path)
        return self

    def stop(self) -> None:
        """Stop the server and close (and so flush) the account's files."""
        with _LOCK:
            if self._server is not None:
                self._server.should_exit = True
            if self._thread is not None:
                self._thread.join(timeout=15)
            if self._module is not None:
                with contextlib.suppress(Exception):
                    self._module.shared_fs.duck_conn.close()
                self._module.sessions.clear()
            if self in _ACTIVE:
                _ACTIVE.remove(self)
            self._server = None
            self._thread = None

    def __enter__(self) -> EmbeddedSnowflake:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- access ----------------------------------------------------------------------------------
    def connection_params(self) -> dict[str, Any]:
        """Keyword arguments for ``snowflake.connector.connect`` (any user and password are accepted)."""
        return {
            "account": "fakesnow",
            "user": "sre_agent",
            "password": "embedded",
            "host": self.host,
            "port": self.port,
            "protocol": "http",
        }

    def _shared(self) -> Any:
        if self._module is None:
            raise EmbeddedSnowflakeError("the embedded Snowflake is not running")
        return self._module.shared_fs

    def execute_all(self, statements: list[str]) -> None:
        """Run Snowflake SQL through fakesnow's own translation (setup statements, not the agent's path)."""
        conn = self._shared().connect()
        try:
            cur = conn.cursor()
            for sql in statements:
                cur.execute(sql)
        finally:
            conn.close()

    def load(self, view: str, frame: pl.DataFrame) -> int:
        """Bulk-insert ``frame`` (columns by name, plus ``_VISIBLE_AT``) behind the view ``view``; return rows."""
        if frame.is_empty():
            return 0
        known = {v.name for v in VIEWS}
        if view not in known:
            raise EmbeddedSnowflakeError(f"unknown ACCOUNT_USAGE view {view}")
        cursor = self._shared().duck_conn.cursor()
        try:
            cursor.register("incoming_rows", frame.to_arrow())
            cursor.execute(f"INSERT INTO {SIM_SCHEMA}.{view} BY NAME SELECT * FROM incoming_rows")
            cursor.unregister("incoming_rows")
        finally:
            cursor.close()
        return frame.height

    def set_clock(self, instant: datetime | None) -> None:
        """Make ACCOUNT_USAGE show what was visible at ``instant`` (None: real time)."""
        cursor = self._shared().duck_conn.cursor()
        try:
            cursor.execute(f"DELETE FROM {SIM_SCHEMA}.CLOCK")
            if instant is not None:
                cursor.execute(f"INSERT INTO {SIM_SCHEMA}.CLOCK VALUES (?)", [instant])
        finally:
            cursor.close()

    def row_count(self, view: str, visible_only: bool = False) -> int:
        """Count rows behind ``view`` (all, or only those visible now)."""
        source = f"SNOWFLAKE.ACCOUNT_USAGE.{view}" if visible_only else f"{SIM_SCHEMA}.{view}"
        cursor = self._shared().duck_conn.cursor()
        try:
            row = cursor.execute(f"SELECT COUNT(*) FROM {source}").fetchone()
        finally:
            cursor.close()
        return int(row[0]) if row else 0

    def trim_result_cache(self) -> None:
        """Drop fakesnow's cache of past results (it keeps every result forever otherwise)."""
        self._shared().results_cache.clear()

    def reset(self) -> EmbeddedSnowflake:
        """Empty every view and let ACCOUNT_USAGE follow real time again (one server, many histories)."""
        self.execute_all([f"DELETE FROM {SIM_SCHEMA}.{view.name}" for view in VIEWS])
        self.set_clock(None)
        self.trim_result_cache()
        return self
