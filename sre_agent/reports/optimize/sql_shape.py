"""What a query's text says about the access paths that would help it, read with sqlglot (the Snowflake dialect).

Per table read: the columns filtered by equality or IN (point lookups: search optimization, clustering), by ranges
(clustering), by ``LIKE '%x%'`` substrings (search optimization SUBSTRING); the joins and whether each has a
condition; a GROUP BY aggregation over a single table (a materialized view candidate). Only identifiers are kept,
never literals, so the result can be shown whatever ``--show-literals`` says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sre_agent.reports.sql_text import redact_literals
from sre_agent.text import printable

_RANGE = (exp.GT, exp.GTE, exp.LT, exp.LTE)
_MV_AGGREGATES: tuple[type[exp.Expr], ...] = (
    exp.Sum,
    exp.Count,
    exp.CountIf,
    exp.Min,
    exp.Max,
    exp.Avg,
    exp.ApproxDistinct,
    exp.AnyValue,
)
_MV_AGGREGATES += (exp.Stddev, exp.StddevPop, exp.StddevSamp, exp.Variance, exp.VariancePop)
"""Aggregate functions a Snowflake materialized view accepts (a subset of the documented list)."""
_NONREUSABLE = {
    "RAND": "RANDOM", "UUID": "UUID_STRING", "RANDSTR": "RANDSTR", "NORMAL": "NORMAL", "UNIFORM": "UNIFORM",
    "ZIPF": "ZIPF", "SEQ1": "SEQ1", "SEQ2": "SEQ2", "SEQ4": "SEQ4", "SEQ8": "SEQ8",
    "CURRENT_TIMESTAMP": "CURRENT_TIMESTAMP", "LOCALTIMESTAMP": "LOCALTIMESTAMP", "LOCALTIME": "CURRENT_TIME",
    "CURRENT_TIME": "CURRENT_TIME", "SYSDATE": "SYSDATE", "GETDATE": "GETDATE", "SYSTIMESTAMP": "SYSTIMESTAMP",
}  # fmt: skip
"""Functions whose result differs between identical runs (sqlglot's name → Snowflake's): a query calling one is
never answered from the result cache. CURRENT_DATE is not among them (Snowflake reuses results of queries using it)."""
_WRITES = (exp.Insert, exp.Create, exp.Merge, exp.Copy, exp.Update, exp.Delete)


@dataclass
class TableUse:
    """How one table is read: its name as written (upper case) and the columns its filters use."""

    table: str
    equality: list[str] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)
    substring: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class JoinUse:
    """One join: the table joined in, its kind, and its equality keys (empty: no join condition at all)."""

    table: str
    kind: str
    keys: tuple[str, ...]
    has_condition: bool


@dataclass
class SqlShape:
    """The access-path facts of one statement (``parsed`` is False when sqlglot could not read it)."""

    parsed: bool
    statement: str = ""
    tables: list[TableUse] = field(default_factory=list)
    joins: list[JoinUse] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)
    """GROUP BY keys: column names, or expressions with their literals redacted."""
    aggregates: list[str] = field(default_factory=list)
    """Aggregated projections, literals redacted."""
    literal_group_by: list[str] = field(default_factory=list)
    literal_aggregates: list[str] = field(default_factory=list)
    """The same with their literals (only for ``--show-literals``)."""
    has_filter: bool = False
    view_aggregates: bool = False
    """Every aggregate of the projection is one a materialized view accepts."""
    written: str | None = None
    """The table an INSERT, MERGE, COPY, UPDATE, DELETE or CREATE … AS writes (upper case, as written)."""
    nonreusable: list[str] = field(default_factory=list)
    """Functions called whose results differ between runs (RANDOM, UUID_STRING, CURRENT_TIMESTAMP, …)."""

    @property
    def single_table_aggregation(self) -> bool:
        """A GROUP BY with aggregates over exactly one table and no join: what a materialized view can hold."""
        return len(self.tables) == 1 and not self.joins and bool(self.group_by) and bool(self.aggregates)

    @property
    def joins_without_condition(self) -> list[JoinUse]:
        """Joins with neither ON nor USING (a Cartesian product)."""
        return [j for j in self.joins if not j.has_condition]

    def table(self, name: str) -> TableUse | None:
        """The use of table ``name`` (as listed in ``tables``), if read."""
        return next((t for t in self.tables if t.table == name), None)


def _name(table: exp.Table) -> str:
    parts = [p for p in (table.catalog, table.db, table.name) if p]
    return printable(".".join(parts).upper(), keep_lines=False)  # a name from query text may hold NUL or ESC


def _constant(node: exp.Expr) -> bool:
    """A value side of a predicate: literals, binds, casts and arithmetic of those, no column."""
    return node.find(exp.Column) is None and not isinstance(node, exp.Select | exp.Subquery)


def _add(columns: list[str], name: str) -> None:
    if name not in columns:
        columns.append(name)


class _Reader:
    """Walks one parsed statement, resolving column qualifiers to the tables they alias."""

    def __init__(self, statement: exp.Expr) -> None:
        self.statement = statement
        ctes = {c.alias_or_name.upper() for c in statement.find_all(exp.CTE)}
        target = statement.this if isinstance(statement, exp.Insert | exp.Create | exp.Merge) else None
        written = target.find(exp.Table) if isinstance(target, exp.Expr) else None
        self.uses: dict[str, TableUse] = {}
        self.alias: dict[str, str] = {}
        for table in statement.find_all(exp.Table):
            if not table.name or table.name.upper() in ctes or isinstance(table.this, exp.Anonymous):
                continue
            if table is written:
                continue  # the table written (INSERT, CTAS, MERGE target) is not read through filters
            name = _name(table)
            self.uses.setdefault(name, TableUse(name))
            self.alias[table.alias_or_name.upper()] = name
            self.alias[name] = name

    def owner(self, column: exp.Column) -> TableUse | None:
        """The table ``column`` belongs to: by its qualifier, or the only table read."""
        if column.table:
            name = self.alias.get(column.table.upper())
            return self.uses.get(name) if name else None
        return next(iter(self.uses.values())) if len(self.uses) == 1 else None

    def predicates(self) -> bool:
        """Record the filter columns of every WHERE (and HAVING/QUALIFY-free) clause; True when one exists."""
        wheres = list(self.statement.find_all(exp.Where))
        for where in wheres:
            for node in where.find_all(exp.EQ, exp.In, exp.Like, exp.ILike, exp.Between, *_RANGE):
                self._predicate(node)
        return bool(wheres)

    def _predicate(self, node: exp.Expr) -> None:
        if isinstance(node, exp.Like | exp.ILike):
            pattern = node.expression
            text = pattern.this if isinstance(pattern, exp.Literal) and pattern.is_string else None
            if isinstance(node.this, exp.Column) and isinstance(text, str) and text.startswith("%"):
                self._record(node.this, "substring")
            return
        if isinstance(node, exp.In):
            if isinstance(node.this, exp.Column) and node.expressions and all(_constant(e) for e in node.expressions):
                self._record(node.this, "equality")
            return
        if isinstance(node, exp.Between):
            if isinstance(node.this, exp.Column):
                self._record(node.this, "ranges")
            return
        left, right = node.this, node.expression
        column = left if isinstance(left, exp.Column) and _constant(right) else None
        column = column or (right if isinstance(right, exp.Column) and _constant(left) else None)
        if column is not None:
            self._record(column, "equality" if isinstance(node, exp.EQ) else "ranges")

    def _record(self, column: exp.Column, kind: str) -> None:
        use = self.owner(column)
        if use is not None:
            _add(getattr(use, kind), column.name.upper())

    def _where_joined(self) -> set[str]:
        """Tables a WHERE equality ties to another table (the join condition of ``FROM a, b WHERE a.k = b.k``)."""
        tied: set[str] = set()
        for where in self.statement.find_all(exp.Where):
            for eq in where.find_all(exp.EQ):
                left, right = eq.this, eq.expression
                if isinstance(left, exp.Column) and isinstance(right, exp.Column):
                    owners = {u.table for u in (self.owner(left), self.owner(right)) if u is not None}
                    if len(owners) == 2:
                        tied |= owners
        return tied

    def joins(self) -> list[JoinUse]:
        """Every join of every SELECT in the statement."""
        out = []
        for select in self.statement.find_all(exp.Select):
            for join in select.args.get("joins") or []:
                target = join.this
                name = _name(target) if isinstance(target, exp.Table) else "(subquery)"
                on, using = join.args.get("on"), join.args.get("using")
                pairs = [
                    (eq.this, eq.expression)
                    for eq in (on.find_all(exp.EQ) if on is not None else [])
                    if isinstance(eq.this, exp.Column) and isinstance(eq.expression, exp.Column)
                ]
                keys = [c.name.upper() for pair in pairs for c in pair if self.alias.get(c.table.upper()) == name]
                keys += [u.name.upper() for u in using or []]
                kind = " ".join(p for p in (join.side, join.kind) if p) or "INNER"
                has_condition = on is not None or bool(using) or name in self._where_joined()
                out.append(JoinUse(name, kind.upper(), tuple(dict.fromkeys(keys)), has_condition))
        return out


def _group_key(key: exp.Expression, select: exp.Select, redact: bool = True) -> str:
    """A GROUP BY key as the report may show it: a column's upper-case name, or the expression with its literals
    redacted; a position (``GROUP BY 2``) names the projected expression, without its alias."""
    if isinstance(key, exp.Literal) and key.is_int:
        index = int(key.this) - 1
        if 0 <= index < len(select.expressions):
            key = select.expressions[index].unalias()
        else:
            return "?"  # a position past the projection: Snowflake rejects the query; nothing to name
    if isinstance(key, exp.Column):
        return key.name.upper()
    text = key.sql(dialect="snowflake")
    return redact_literals(text) if redact else text


def analyze_sql(text: str | None) -> SqlShape:
    """The access-path facts of the first statement of ``text`` (``parsed=False`` when it cannot be read)."""
    if not text:
        return SqlShape(parsed=False)
    try:
        statement = sqlglot.parse_one(text, read="snowflake")
    except (SqlglotError, RecursionError, ValueError):
        return SqlShape(parsed=False)
    if statement is None or isinstance(statement, exp.Command):
        return SqlShape(parsed=False)
    reader = _Reader(statement)
    shape = SqlShape(parsed=True, statement=statement.key.upper(), has_filter=reader.predicates())
    shape.tables = list(reader.uses.values())
    target = statement.this if isinstance(statement, _WRITES) else None
    if isinstance(target, exp.Expr):
        table = target if isinstance(target, exp.Table) else target.find(exp.Table)
        shape.written = _name(table) if table is not None and table.name else None
    names = [f.name.upper() if isinstance(f, exp.Anonymous) else f.sql_name() for f in statement.find_all(exp.Func)]
    shape.nonreusable = list(dict.fromkeys(_NONREUSABLE[n] for n in names if n in _NONREUSABLE))
    shape.joins = reader.joins()
    select = statement if isinstance(statement, exp.Select) else statement.find(exp.Select)
    if select is not None and select.args.get("group"):
        keys = select.args["group"].expressions
        shape.literal_group_by = [_group_key(g, select, redact=False) for g in keys]
        shape.group_by = [_group_key(g, select) for g in keys]
        projected = [p for p in select.expressions if p.find(exp.AggFunc) is not None]
        shape.literal_aggregates = [p.sql(dialect="snowflake") for p in projected]
        shape.aggregates = [redact_literals(a) for a in shape.literal_aggregates]
        functions = [f for p in projected for f in p.find_all(exp.AggFunc)]
        shape.view_aggregates = bool(functions) and all(isinstance(f, _MV_AGGREGATES) for f in functions)
    return shape
