"""The synthetic capital-markets platform: warehouses, services, users and the query patterns they run.

Trades flow Event Hubs → Stream Analytics → ADLS Parquet → Snowflake (COPY INTO on INGEST_WH), then
to Power BI dashboards (TRADE_ANALYTICS_WH, multi-cluster), the risk engine and the end-of-day risk
batch (RISK_WH), the portfolio API (PORTFOLIO_WH), regulatory reporting (REPORTING_WH), dbt and
task-driven transformations (TRANSFORM_WH) and analysts (ADHOC_WH). Services identify themselves
with a JSON ``QUERY_TAG`` (``{"service": ..., "domain": ...}``); analysts do not tag their queries.

Latency figures are medians on the pattern's home warehouse at its configured size; the generator
adds lognormal noise, queueing from concurrency, resume waits and the scripted incidents.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MARKET_TZ = "America/New_York"

CREDITS_PER_HOUR = {
    "X-Small": 1,
    "Small": 2,
    "Medium": 4,
    "Large": 8,
    "X-Large": 16,
    "2X-Large": 32,
    "3X-Large": 64,
    "4X-Large": 128,
}


@dataclass(frozen=True)
class Warehouse:
    """A virtual warehouse as configured in the account."""

    name: str
    warehouse_id: int
    size: str
    auto_suspend_s: int
    min_clusters: int = 1
    max_clusters: int = 1
    slots: int = 8
    """Queries one cluster runs at once before the rest queue (MAX_CONCURRENCY_LEVEL)."""

    @property
    def credits_per_hour(self) -> int:
        """Credits per hour per running cluster."""
        return CREDITS_PER_HOUR[self.size]


@dataclass(frozen=True)
class Service:
    """A workload owner, as seen in QUERY_TAG."""

    name: str
    domain: str
    tagged: bool = True


@dataclass(frozen=True)
class ErrorKind:
    """An error a pattern can fail with."""

    code: int
    message: str
    weight: float = 1.0
    compile_time: bool = False
    """Fails at compilation (QUERY_TYPE becomes UNKNOWN and nothing executes)."""


CANCELLED = ErrorKind(604, "SQL execution canceled", 3.0)
TIMEOUT = ErrorKind(
    630, "Statement reached its statement or warehouse timeout of 3,600 second(s) and was canceled.", 0.3
)
NOT_AUTHORIZED = ErrorKind(
    2003,
    "SQL compilation error:\nObject 'CURATED.TRADES.FILLS_V2' does not exist or not authorized.",
    0.5,
    compile_time=True,
)
LOCK_TIMEOUT = ErrorKind(
    625,
    "Statement '01b2c3d4-0000-5e6f-0000-00a1b2c3d4e5' has locked table 'FILLS' in transaction "
    "1731000000000000000 and this lock has not yet been released.",
    1.0,
)
FILE_NOT_FOUND = ErrorKind(
    91016,
    "Remote file 'azure://tradeslake.blob.core.windows.net/raw/executions/part-00017.parquet' was "
    "not found. There are several potential causes.",
    1.0,
)
DEFAULT_ERRORS = (CANCELLED, TIMEOUT, NOT_AUTHORIZED)
ERROR_KINDS: dict[str, ErrorKind] = {
    "cancelled": CANCELLED,
    "timeout": TIMEOUT,
    "not_authorized": NOT_AUTHORIZED,
    "lock_timeout": LOCK_TIMEOUT,
    "file_not_found": FILE_NOT_FOUND,
}
"""Error kinds a catalogue may name."""


@dataclass(frozen=True)
class Pattern:
    """One parameterized query shape (one QUERY_PARAMETERIZED_HASH) and how it behaves."""

    key: str
    service: str
    warehouse: str
    users: tuple[str, ...]
    role: str
    database: str
    schema: str
    query_type: str
    template: str
    """Query text; ``{desk}``, ``{date}``, ``{account}``, ``{symbol}``, ``{n}`` become literals."""
    exec_ms: float
    sigma: float = 0.5
    compile_ms: float = 120.0
    weight: float = 0.0
    """Share of rate-driven traffic (0 for scheduled patterns)."""
    profile: str = "flat"
    every_min: int | None = None
    """Scheduled: one run every N minutes inside ``hours`` (tasks, pipelines)."""
    fanout: int = 1
    """Scheduled: runs per tick (e.g. one per trading desk)."""
    hours: tuple[float, float] = (0.0, 24.0)
    weekdays_only: bool = False
    bytes_mb: float = 50.0
    partitions_total: int = 2000
    scan_fraction: float = 0.1
    cache_share: float = 0.3
    rows: float = 500.0
    rows_inserted: float = 0.0
    spill_prob: float = 0.0
    spill_local_mb: float = 0.0
    error_rate: float = 0.002
    errors: tuple[ErrorKind, ...] = DEFAULT_ERRORS
    blocked_prob: float = 0.0
    list_files_ms: float = 0.0
    task_name: str | None = None
    """Runs as this Snowflake task (also written to TASK_HISTORY)."""

    @property
    def scheduled(self) -> bool:
        """True for patterns run on a schedule rather than by demand."""
        return self.every_min is not None


DESKS = (
    "EQ-US-CASH",
    "EQ-EU-CASH",
    "EQ-APAC",
    "EQ-DERIV",
    "FI-RATES",
    "FI-CREDIT",
    "FX-SPOT",
    "FX-OPTIONS",
    "COMMOD",
    "EM-MACRO",
)
SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "JPM", "GS", "XOM", "TSLA", "META", "BRK.B", "SAP", "ASML")


@dataclass(frozen=True)
class Platform:
    """The whole synthetic account."""

    warehouses: tuple[Warehouse, ...]
    services: tuple[Service, ...]
    patterns: tuple[Pattern, ...]
    databases: dict[str, int] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)

    def warehouse(self, name: str) -> Warehouse:
        """Return the warehouse called ``name``."""
        return next(w for w in self.warehouses if w.name == name)

    def service(self, name: str) -> Service:
        """Return the service called ``name``."""
        return next(s for s in self.services if s.name == name)

    def pattern(self, key: str) -> Pattern:
        """Return the pattern called ``key``."""
        return next(p for p in self.patterns if p.key == key)


def capital_markets_platform() -> Platform:
    """Return the default platform used by the demo, `simulate serve` and the embedded daemon."""
    from sre_agent.simulate.catalogue import capital_markets_platform as build

    return build()
