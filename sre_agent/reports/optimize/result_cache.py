"""The optimization report's one result-cache item: identical queries that re-ran and scanned again, over all
patterns, with what explains their misses and the checks that find the rest.

``USE_CACHED_RESULT`` is TRUE by default, so setting it changes nothing; what defeats reuse is a change to a table
the query reads, a function whose result differs per run (RANDOM, UUID_STRING, CURRENT_TIMESTAMP), a role without
the privileges the cached result needs, or a user or session that turned reuse off. The first two are read from
the window (writes are the INSERT/MERGE/COPY/UPDATE/DELETE/CTAS patterns of QUERY_HISTORY; each write makes every
distinct query of a reader miss once); the others are checked with the printed statements, never set. A pattern
whose re-runs the writes explain is left out; with no pattern left there is no item (the only advice would be to
set the default). The item lists each pattern's incident but is not raised by it: an incident a pattern changed in
is about that pattern (its rewrite, its failures), not about caching.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sre_agent.config.optimize import OptimizeThresholds
from sre_agent.reports.optimize.advice import CACHE_HIT_SHARE, Advisor
from sre_agent.reports.optimize.findings import Finding
from sre_agent.reports.optimize.sql_shape import SqlShape
from sre_agent.reports.statements import quote_ident, quote_literal

SUBJECT = "result cache"
"""The subject of the one result-cache item (not a pattern: it covers several)."""
MAX_USERS = 8
"""Users whose USE_CACHED_RESULT the item prints a check for (the ones with the most unexplained re-runs)."""


def table_writes(rows: Sequence[Mapping[str, Any]], shapes: Mapping[str, SqlShape]) -> dict[str, dict[str, int]]:
    """Per table written in the window (upper case, as written): the writing patterns and their successful runs."""
    out: dict[str, dict[str, int]] = {}
    for p in rows:
        shape = shapes.get(str(p["pattern"]))
        if shape is not None and shape.written:
            ok = int(float(p.get("runs") or 0) - float(p.get("failed_runs") or 0))
            if ok > 0:
                out.setdefault(shape.written, {})[str(p["pattern"])] = ok
    return out


def same_table(a: str, b: str) -> bool:
    """Two names of one table: equal, or the shorter (less qualified) one is the tail of the longer."""
    x, y = a.upper().split("."), b.upper().split(".")
    short, long = (x, y) if len(x) <= len(y) else (y, x)
    return long[len(long) - len(short) :] == short


def cache_entry(
    p: Mapping[str, Any], finding: Finding, shape: SqlShape, writes: Mapping[str, Mapping[str, int]], roles: int,
    t: OptimizeThresholds,
) -> dict[str, Any] | None:  # fmt: skip
    """One pattern's place in the result-cache item: its re-runs, how many the writes to its tables explain, the
    causes seen, and its saving over the window (None: the writes explain its re-runs and nothing else is seen)."""
    pattern = str(p["pattern"])
    repeated = int(finding.evidence.get("repeated_runs") or 0)
    distinct = max(1, int(finding.evidence.get("distinct_queries") or 1))
    written = {
        table: {w: n for w, n in writers.items() if w != pattern}
        for table, writers in writes.items()
        if any(same_table(use.table, table) for use in shape.tables)
    }
    written = {table: writers for table, writers in written.items() if writers}
    write_runs = sum(n for writers in written.values() for n in writers.values())
    explained = min(repeated, write_runs * distinct)
    unexplained = repeated - explained
    if not shape.nonreusable and unexplained < t.repeat_min_runs:
        return None
    causes = []
    if shape.nonreusable:
        causes.append(
            f"calls {', '.join(shape.nonreusable)}: its results are never reused; pass the value in as a bind instead"
        )
    if written:
        tables = ", ".join(f"{table} ({sum(w.values()):,} writes)" for table, w in sorted(written.items()))
        causes.append(
            f"reads {tables}: after each write each of its {distinct:,} distinct queries misses once, which "
            f"explains {explained:,} of its {repeated:,} re-runs"
        )
    if roles > 1:
        causes.append(f"runs under {roles} roles: a cached result serves only a role with the privileges it needs")
    runs = max(1.0, float(p.get("runs") or 0))
    credits = float(p.get("credits") or 0)
    return {
        "pattern": pattern,
        "service": p.get("top_service"),
        "warehouse": p.get("top_warehouse"),
        "user": p.get("top_user"),
        "runs": int(runs),
        "repeated_runs": repeated,
        "explained_by_writes": explained,
        "unexplained_runs": unexplained,
        "credits": round(credits, 6),
        "saving": credits * unexplained / runs * CACHE_HIT_SHARE,
        "nonreusable": list(shape.nonreusable),
        "causes": causes or ["no cause visible in QUERY_HISTORY: check the user's USE_CACHED_RESULT and the roles"],
        "finding": finding.title,
    }


def result_cache_rec(advisor: Advisor, entries: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The one result-cache recommendation covering ``entries`` (see :func:`cache_entry`), or None without any.

    Its statements check rather than set: ``SHOW PARAMETERS`` for the users, a QUERY_HISTORY query for the
    identical re-runs and their roles, and a rewrite note per pattern calling a non-reusable function."""
    if not entries:
        return None
    ranked = sorted(entries, key=lambda e: (-e["saving"], e["pattern"]))
    users = list(dict.fromkeys(str(e["user"]) for e in ranked))[:MAX_USERS]
    statements = [
        "-- USE_CACHED_RESULT is TRUE by default: check for FALSE on these users (a client's ALTER SESSION SET "
        "USE_CACHED_RESULT = FALSE is in its connection settings, not here); remove the override, do not set TRUE:\n"
        + "\n".join(f"SHOW PARAMETERS LIKE 'USE_CACHED_RESULT' IN USER {quote_ident(u)};" for u in users),
        "-- the identical queries that re-ran and scanned, and under how many roles:\n"
        "SELECT query_parameterized_hash AS pattern, query_hash AS query_hash, COUNT(*) AS runs,\n"
        "       COUNT(DISTINCT role_name) AS roles, MIN(start_time) AS first_run, MAX(start_time) AS last_run\n"
        "FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY\n"
        f"WHERE query_parameterized_hash IN ({', '.join(quote_literal(e['pattern']) for e in ranked)})\n"
        "  AND start_time >= DATEADD('day', -7, CURRENT_TIMESTAMP()) AND bytes_scanned > 0\n"
        "GROUP BY query_parameterized_hash, query_hash HAVING COUNT(*) > 1 ORDER BY runs DESC LIMIT 50;",
    ]
    statements += [
        f"-- pattern {e['pattern']} ({e['service']}): replace {', '.join(e['nonreusable'])} with a value passed in"
        for e in ranked
        if e["nonreusable"]
    ]
    unexplained = sum(int(e["unexplained_runs"]) for e in ranked)
    title = (
        f"Result cache: {unexplained:,} identical re-runs of {len(ranked)} pattern(s) scanned again — find what "
        "defeats reuse"
    )
    basis = (
        f"assumes the result cache serves {CACHE_HIT_SHARE:.0%} of the re-runs that writes to the patterns' tables "
        "do not explain, once the cause is removed; the sum over the patterns listed"
    )
    rec = advisor.rec("result_cache", SUBJECT, title, sum(e["saving"] for e in ranked), basis, statements, [])
    rec["because"] = [f"{e['pattern'][:12]} ({e['service']}): {e['finding']}" for e in ranked]
    rec["covers"] = [
        {**{k: v for k, v in e.items() if k not in ("saving", "finding")},
         "saving_credits_per_week": round(e["saving"] * advisor.weekly, 3)}
        for e in ranked
    ]  # fmt: skip
    rec["evidence"] = {"repeated_work": {e["pattern"]: e["repeated_runs"] for e in ranked}}
    return rec
