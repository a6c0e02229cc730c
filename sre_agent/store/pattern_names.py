"""Names of query patterns: the service and tables behind a QUERY_PARAMETERIZED_HASH, for reports that see only the
hash (the optimization report records them from the sample texts it parses)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from sre_agent.store.db import Database


@dataclass(frozen=True)
class PatternName:
    """What one query pattern is."""

    pattern: str
    service: str
    warehouse: str
    statement: str
    tables: tuple[str, ...]

    def text(self, tables: int = 2) -> str:
        """``risk-engine · RISK.MARTS.EXPOSURES, REF.COUNTERPARTY (a876165d)``; without tables, the warehouse."""
        shown = ", ".join(self.tables[:tables]) + (" …" if len(self.tables) > tables else "")
        return f"{self.service or '(untagged)'} · {shown or self.warehouse} ({self.pattern[:8]})"


def fallback(pattern: str, service: str | None, warehouse: str | None) -> PatternName:
    """A pattern not named yet: its service and warehouse from the cost rollup."""
    return PatternName(pattern, service or "", warehouse or "", "", ())


def record(conn: sqlite3.Connection, names: Iterable[PatternName], at: int) -> None:
    """Insert or refresh ``names`` (seen at ``at``, epoch s)."""
    conn.executemany(
        """
        INSERT INTO pattern_names (pattern, service, warehouse, statement, tables, first_seen, last_seen)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(pattern) DO UPDATE SET service = excluded.service, warehouse = excluded.warehouse,
            statement = excluded.statement, tables = excluded.tables,
            last_seen = MAX(pattern_names.last_seen, excluded.last_seen)
        """,
        [(n.pattern, n.service, n.warehouse, n.statement, json.dumps(list(n.tables)), at, at) for n in names],
    )


def names(db: Database) -> dict[str, PatternName]:
    """Every recorded pattern name, by pattern."""
    rows = db.read("SELECT pattern, service, warehouse, statement, tables FROM pattern_names")
    return {
        r["pattern"]: PatternName(
            r["pattern"], r["service"], r["warehouse"], r["statement"], tuple(json.loads(r["tables"]))
        )
        for r in rows
    }
