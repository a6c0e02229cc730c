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


def _p(**kwargs: object) -> Pattern:
    return Pattern(**kwargs)  # type: ignore[arg-type]


def capital_markets_platform() -> Platform:
    """Return the default platform used by the demo, `simulate serve` and the embedded daemon."""
    warehouses = (
        Warehouse("INGEST_WH", 101, "Medium", auto_suspend_s=60),
        Warehouse("TRADE_ANALYTICS_WH", 102, "Medium", auto_suspend_s=600, min_clusters=1, max_clusters=2),
        Warehouse("RISK_WH", 103, "Large", auto_suspend_s=300, min_clusters=1, max_clusters=2),
        Warehouse("PORTFOLIO_WH", 104, "Small", auto_suspend_s=120),
        Warehouse("REPORTING_WH", 105, "Medium", auto_suspend_s=60),
        Warehouse("TRANSFORM_WH", 106, "Medium", auto_suspend_s=60),
        Warehouse("ADHOC_WH", 107, "X-Small", auto_suspend_s=60),
    )
    services = (
        Service("trade-ingest", "equity-trading"),
        Service("market-data-ingest", "market-data"),
        Service("trade-analytics", "equity-trading"),
        Service("risk-engine", "risk"),
        Service("risk-batch", "risk"),
        Service("portfolio-api", "portfolio-management"),
        Service("regulatory-reporting", "compliance"),
        Service("dbt-transform", "data-platform"),
        Service("analyst-adhoc", "analytics", tagged=False),
    )
    fills = "CURATED.TRADES.FILLS"
    patterns = (
        # --- ingestion: COPY INTO from the ADLS landing zone (Stream Analytics writes Parquet per minute)
        _p(
            key="ingest.copy_executions",
            service="trade-ingest",
            warehouse="INGEST_WH",
            users=("SVC_TRADE_INGEST",),
            role="INGEST_ROLE",
            database="RAW",
            schema="TRADES",
            query_type="COPY",
            template="COPY INTO RAW.TRADES.EXECUTIONS FROM @RAW.TRADES.ADLS_EXECUTIONS/{date}/ "
            "FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE",
            exec_ms=4500,
            sigma=0.35,
            compile_ms=90,
            weight=3.0,
            profile="ingest",
            bytes_mb=40,
            partitions_total=0,
            scan_fraction=0.0,
            cache_share=0.0,
            rows=1,
            rows_inserted=40_000,
            list_files_ms=350,
            errors=(FILE_NOT_FOUND, CANCELLED),
        ),
        _p(
            key="ingest.copy_orders",
            service="trade-ingest",
            warehouse="INGEST_WH",
            users=("SVC_TRADE_INGEST",),
            role="INGEST_ROLE",
            database="RAW",
            schema="TRADES",
            query_type="COPY",
            template="COPY INTO RAW.TRADES.ORDERS FROM @RAW.TRADES.ADLS_ORDERS/{date}/ "
            "FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE",
            exec_ms=3800,
            sigma=0.35,
            compile_ms=90,
            weight=2.5,
            profile="ingest",
            bytes_mb=30,
            partitions_total=0,
            scan_fraction=0.0,
            cache_share=0.0,
            rows=1,
            rows_inserted=30_000,
            list_files_ms=300,
            errors=(FILE_NOT_FOUND, CANCELLED),
        ),
        _p(
            key="md.copy_quotes",
            service="market-data-ingest",
            warehouse="INGEST_WH",
            users=("SVC_MARKET_DATA",),
            role="INGEST_ROLE",
            database="RAW",
            schema="MARKET",
            query_type="COPY",
            template="COPY INTO RAW.MARKET.QUOTES FROM @RAW.MARKET.ADLS_QUOTES/{date}/ "
            "FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE",
            exec_ms=7000,
            sigma=0.35,
            compile_ms=90,
            weight=2.0,
            profile="ingest",
            bytes_mb=120,
            partitions_total=0,
            scan_fraction=0.0,
            cache_share=0.0,
            rows=1,
            rows_inserted=250_000,
            list_files_ms=500,
            errors=(FILE_NOT_FOUND, CANCELLED),
        ),
        _p(
            key="ingest.dq_check",
            service="trade-ingest",
            warehouse="INGEST_WH",
            users=("SVC_TRADE_INGEST",),
            role="INGEST_ROLE",
            database="RAW",
            schema="TRADES",
            query_type="SELECT",
            template="SELECT COUNT(*) AS n, COUNT_IF(price <= 0) AS bad_price FROM RAW.TRADES.EXECUTIONS "
            "WHERE ingest_date = '{date}' AND desk = '{desk}'",
            exec_ms=900,
            sigma=0.4,
            weight=1.0,
            profile="ingest",
            bytes_mb=200,
            partitions_total=4000,
            scan_fraction=0.05,
            cache_share=0.5,
            rows=1,
        ),
        # --- Power BI DirectQuery dashboards (trade blotter, P&L)
        _p(
            key="bi.blotter",
            service="trade-analytics",
            warehouse="TRADE_ANALYTICS_WH",
            users=("SVC_POWERBI",),
            role="BI_READER",
            database="CURATED",
            schema="TRADES",
            query_type="SELECT",
            template=f"SELECT trade_id, symbol, side, qty, price, venue, trader_id FROM {fills} "
            "WHERE trade_date = '{date}' AND desk = '{desk}' ORDER BY exec_ts DESC LIMIT 500",
            exec_ms=650,
            sigma=0.55,
            compile_ms=140,
            weight=14.0,
            profile="bi",
            bytes_mb=60,
            partitions_total=12_000,
            scan_fraction=0.02,
            cache_share=0.7,
            rows=500,
        ),
        _p(
            key="bi.pnl_by_desk",
            service="trade-analytics",
            warehouse="TRADE_ANALYTICS_WH",
            users=("SVC_POWERBI",),
            role="BI_READER",
            database="CURATED",
            schema="PNL",
            query_type="SELECT",
            template="SELECT desk, book, SUM(realized_pnl) AS realized, SUM(unrealized_pnl) AS unrealized "
            "FROM CURATED.PNL.INTRADAY_PNL WHERE as_of_date = '{date}' GROUP BY desk, book",
            exec_ms=2100,
            sigma=0.5,
            compile_ms=180,
            weight=7.0,
            profile="bi",
            bytes_mb=400,
            partitions_total=8000,
            scan_fraction=0.08,
            cache_share=0.6,
            rows=120,
        ),
        _p(
            key="bi.fill_rates",
            service="trade-analytics",
            warehouse="TRADE_ANALYTICS_WH",
            users=("SVC_POWERBI",),
            role="BI_READER",
            database="CURATED",
            schema="TRADES",
            query_type="SELECT",
            template="SELECT venue, COUNT_IF(status = 'FILLED') / COUNT(*) AS fill_rate FROM CURATED.TRADES.ORDERS "
            "WHERE trade_date = '{date}' AND desk = '{desk}' GROUP BY venue",
            exec_ms=1400,
            sigma=0.5,
            compile_ms=150,
            weight=6.0,
            profile="bi",
            bytes_mb=250,
            partitions_total=9000,
            scan_fraction=0.05,
            cache_share=0.6,
            rows=40,
        ),
        _p(
            key="bi.top_movers",
            service="trade-analytics",
            warehouse="TRADE_ANALYTICS_WH",
            users=("SVC_POWERBI",),
            role="BI_READER",
            database="CURATED",
            schema="MARKET",
            query_type="SELECT",
            template="SELECT symbol, last_price / open_price - 1 AS move FROM CURATED.MARKET.INTRADAY_BARS "
            "WHERE bar_date = '{date}' QUALIFY ROW_NUMBER() OVER (ORDER BY ABS(move) DESC) <= {n}",
            exec_ms=900,
            sigma=0.5,
            compile_ms=120,
            weight=5.0,
            profile="bi",
            bytes_mb=150,
            partitions_total=5000,
            scan_fraction=0.04,
            cache_share=0.8,
            rows=25,
        ),
        # --- risk engine on AKS (intraday) and the end-of-day risk batch
        _p(
            key="risk.intraday_var",
            service="risk-engine",
            warehouse="RISK_WH",
            users=("SVC_RISK_ENGINE",),
            role="RISK_ENGINE",
            database="RISK",
            schema="MARTS",
            query_type="SELECT",
            template="SELECT desk, APPROX_PERCENTILE(pnl_scenario, 0.01) AS var_99 FROM RISK.MARTS.SCENARIO_PNL "
            "WHERE as_of_ts >= DATEADD(minute, -15, '{date} 10:00:00'::timestamp) AND desk = '{desk}' "
            "GROUP BY desk",
            exec_ms=22_000,
            sigma=0.35,
            compile_ms=300,
            every_min=15,
            fanout=10,
            hours=(8.0, 17.0),
            weekdays_only=True,
            bytes_mb=6000,
            partitions_total=60_000,
            scan_fraction=0.15,
            cache_share=0.3,
            rows=1,
            spill_prob=0.02,
            spill_local_mb=800,
        ),
        _p(
            key="risk.exposure_by_counterparty",
            service="risk-engine",
            warehouse="RISK_WH",
            users=("SVC_RISK_ENGINE",),
            role="RISK_ENGINE",
            database="RISK",
            schema="MARTS",
            query_type="SELECT",
            template="SELECT c.counterparty_id, SUM(p.notional * f.fx_rate) AS exposure FROM RISK.MARTS.POSITIONS p "
            "JOIN REFERENCE.FX.RATES f ON f.ccy = p.ccy AND f.rate_date = '{date}' "
            "JOIN REFERENCE.PARTY.COUNTERPARTIES c ON c.counterparty_id = p.counterparty_id "
            "WHERE p.desk = '{desk}' GROUP BY c.counterparty_id",
            exec_ms=11_000,
            sigma=0.4,
            compile_ms=400,
            weight=4.0,
            profile="risk",
            bytes_mb=3000,
            partitions_total=40_000,
            scan_fraction=0.1,
            cache_share=0.35,
            rows=2500,
            spill_prob=0.01,
            spill_local_mb=300,
        ),
        _p(
            key="risk.greeks_rollup",
            service="risk-engine",
            warehouse="RISK_WH",
            users=("SVC_RISK_ENGINE",),
            role="RISK_ENGINE",
            database="RISK",
            schema="MARTS",
            query_type="SELECT",
            template="SELECT underlying, SUM(delta) AS delta, SUM(gamma) AS gamma, SUM(vega) AS vega "
            "FROM RISK.MARTS.OPTION_GREEKS WHERE as_of_date = '{date}' AND desk = '{desk}' "
            "GROUP BY underlying",
            exec_ms=7500,
            sigma=0.4,
            compile_ms=250,
            weight=2.5,
            profile="risk",
            bytes_mb=1500,
            partitions_total=20_000,
            scan_fraction=0.1,
            cache_share=0.35,
            rows=800,
        ),
        _p(
            key="risk.eod_stress_test",
            service="risk-batch",
            warehouse="RISK_WH",
            users=("SVC_RISK_BATCH",),
            role="RISK_ENGINE",
            database="RISK",
            schema="MARTS",
            query_type="CREATE_TABLE_AS_SELECT",
            template="CREATE OR REPLACE TABLE RISK.MARTS.STRESS_{n} AS SELECT p.*, s.shock FROM RISK.MARTS.POSITIONS p "
            "CROSS JOIN RISK.REF.STRESS_SCENARIOS s WHERE p.as_of_date = '{date}' AND p.desk = '{desk}'",
            exec_ms=80_000,
            sigma=0.3,
            compile_ms=500,
            every_min=10,
            fanout=3,
            hours=(17.5, 19.5),
            weekdays_only=True,
            bytes_mb=20_000,
            partitions_total=60_000,
            scan_fraction=0.4,
            cache_share=0.1,
            rows=1,
            rows_inserted=5_000_000,
            spill_prob=0.2,
            spill_local_mb=4000,
        ),
        # --- portfolio management API
        _p(
            key="pm.positions_by_account",
            service="portfolio-api",
            warehouse="PORTFOLIO_WH",
            users=("SVC_PORTFOLIO_API",),
            role="PORTFOLIO_APP",
            database="CURATED",
            schema="PORTFOLIO",
            query_type="SELECT",
            template="SELECT symbol, quantity, market_value FROM CURATED.PORTFOLIO.POSITIONS "
            "WHERE account_id = {account} AND as_of_date = '{date}'",
            exec_ms=240,
            sigma=0.5,
            compile_ms=80,
            weight=12.0,
            profile="portfolio",
            bytes_mb=8,
            partitions_total=30_000,
            scan_fraction=0.001,
            cache_share=0.5,
            rows=60,
        ),
        _p(
            key="pm.holdings_snapshot",
            service="portfolio-api",
            warehouse="PORTFOLIO_WH",
            users=("SVC_PORTFOLIO_API",),
            role="PORTFOLIO_APP",
            database="CURATED",
            schema="PORTFOLIO",
            query_type="SELECT",
            template="SELECT account_id, asset_class, SUM(market_value) AS mv FROM CURATED.PORTFOLIO.POSITIONS "
            "WHERE as_of_date = '{date}' AND account_id BETWEEN {account} AND {account} + 100 "
            "GROUP BY 1, 2",
            exec_ms=1300,
            sigma=0.5,
            compile_ms=110,
            weight=3.0,
            profile="portfolio",
            bytes_mb=90,
            partitions_total=30_000,
            scan_fraction=0.01,
            cache_share=0.5,
            rows=300,
        ),
        # --- regulatory reporting (overnight for the previous trading day)
        _p(
            key="reg.mifid_txn_report",
            service="regulatory-reporting",
            warehouse="REPORTING_WH",
            users=("SVC_REGREPORT",),
            role="REPORTING",
            database="REPORTING",
            schema="REGULATORY",
            query_type="INSERT",
            template="INSERT INTO REPORTING.REGULATORY.MIFID_TXN SELECT * FROM CURATED.TRADES.FILLS "
            "WHERE trade_date = '{date}' AND venue_region = 'EU' AND desk = '{desk}'",
            exec_ms=40_000,
            sigma=0.3,
            compile_ms=350,
            every_min=20,
            fanout=2,
            hours=(1.0, 4.0),
            weekdays_only=True,
            bytes_mb=9000,
            partitions_total=12_000,
            scan_fraction=0.2,
            cache_share=0.05,
            rows=1,
            rows_inserted=400_000,
        ),
        _p(
            key="reg.trade_recon",
            service="regulatory-reporting",
            warehouse="REPORTING_WH",
            users=("SVC_REGREPORT",),
            role="REPORTING",
            database="REPORTING",
            schema="REGULATORY",
            query_type="SELECT",
            template="SELECT f.trade_id FROM CURATED.TRADES.FILLS f LEFT JOIN RAW.TRADES.EXECUTIONS e "
            "USING (trade_id) WHERE f.trade_date = '{date}' AND e.trade_id IS NULL AND f.desk = '{desk}'",
            exec_ms=25_000,
            sigma=0.35,
            compile_ms=300,
            every_min=60,
            fanout=2,
            hours=(6.0, 18.0),
            weekdays_only=True,
            bytes_mb=5000,
            partitions_total=12_000,
            scan_fraction=0.1,
            cache_share=0.2,
            rows=3,
        ),
        # --- transformations (dbt runs and Snowflake tasks)
        _p(
            key="dbt.merge_fills",
            service="dbt-transform",
            warehouse="TRANSFORM_WH",
            users=("SVC_DBT",),
            role="TRANSFORMER",
            database="CURATED",
            schema="TRADES",
            query_type="MERGE",
            template="MERGE INTO CURATED.TRADES.FILLS t USING RAW.TRADES.EXECUTIONS_STREAM s ON t.trade_id = "
            "s.trade_id WHEN MATCHED THEN UPDATE SET t.status = s.status WHEN NOT MATCHED THEN INSERT *",
            exec_ms=18_000,
            sigma=0.35,
            compile_ms=250,
            every_min=15,
            hours=(4.0, 21.0),
            bytes_mb=2500,
            partitions_total=12_000,
            scan_fraction=0.05,
            cache_share=0.1,
            rows=1,
            rows_inserted=50_000,
            blocked_prob=0.03,
            errors=(LOCK_TIMEOUT, CANCELLED),
        ),
        _p(
            key="task.refresh_desk_pnl",
            service="dbt-transform",
            warehouse="TRANSFORM_WH",
            users=("SVC_DBT",),
            role="TRANSFORMER",
            database="CURATED",
            schema="PNL",
            query_type="INSERT",
            template="INSERT OVERWRITE INTO CURATED.PNL.INTRADAY_PNL SELECT desk, book, SUM(pnl) FROM "
            "CURATED.TRADES.FILLS WHERE trade_date = '{date}' GROUP BY desk, book",
            exec_ms=9000,
            sigma=0.3,
            compile_ms=200,
            every_min=15,
            hours=(0.0, 24.0),
            bytes_mb=1200,
            partitions_total=12_000,
            scan_fraction=0.05,
            cache_share=0.1,
            rows=1,
            rows_inserted=2000,
            task_name="REFRESH_DESK_PNL",
        ),
        _p(
            key="task.refresh_exposure_agg",
            service="dbt-transform",
            warehouse="TRANSFORM_WH",
            users=("SVC_DBT",),
            role="TRANSFORMER",
            database="RISK",
            schema="MARTS",
            query_type="INSERT",
            template="INSERT OVERWRITE INTO RISK.MARTS.EXPOSURE_AGG SELECT counterparty_id, SUM(notional) FROM "
            "RISK.MARTS.POSITIONS WHERE as_of_date = '{date}' GROUP BY 1",
            exec_ms=14_000,
            sigma=0.3,
            compile_ms=220,
            every_min=30,
            hours=(0.0, 24.0),
            bytes_mb=2000,
            partitions_total=40_000,
            scan_fraction=0.05,
            cache_share=0.1,
            rows=1,
            rows_inserted=9000,
            task_name="REFRESH_EXPOSURE_AGG",
        ),
        _p(
            key="dbt.ctas_positions_daily",
            service="dbt-transform",
            warehouse="TRANSFORM_WH",
            users=("SVC_DBT",),
            role="TRANSFORMER",
            database="CURATED",
            schema="PORTFOLIO",
            query_type="CREATE_TABLE_AS_SELECT",
            template="CREATE OR REPLACE TABLE CURATED.PORTFOLIO.POSITIONS_DAILY AS SELECT * FROM "
            "CURATED.PORTFOLIO.POSITIONS WHERE as_of_date = '{date}'",
            exec_ms=110_000,
            sigma=0.25,
            compile_ms=300,
            every_min=1440,
            hours=(5.0, 5.1),
            bytes_mb=30_000,
            partitions_total=30_000,
            scan_fraction=1.0,
            cache_share=0.0,
            rows=1,
            rows_inserted=8_000_000,
            spill_prob=0.3,
            spill_local_mb=2000,
        ),
        # --- analysts (untagged, noisy)
        _p(
            key="adhoc.explore_fills",
            service="analyst-adhoc",
            warehouse="ADHOC_WH",
            users=("ALICE_CHEN", "BOB_MARTIN", "CHARLOTTE_DUBOIS"),
            role="ANALYST",
            database="CURATED",
            schema="TRADES",
            query_type="SELECT",
            template="SELECT * FROM CURATED.TRADES.FILLS WHERE symbol = '{symbol}' AND trade_date >= '{date}' "
            "LIMIT 10000",
            exec_ms=3500,
            sigma=1.1,
            compile_ms=150,
            weight=1.5,
            profile="office",
            bytes_mb=800,
            partitions_total=12_000,
            scan_fraction=0.3,
            cache_share=0.2,
            rows=10_000,
            error_rate=0.02,
        ),
        _p(
            key="adhoc.wide_scan",
            service="analyst-adhoc",
            warehouse="ADHOC_WH",
            users=("ALICE_CHEN", "BOB_MARTIN"),
            role="ANALYST",
            database="CURATED",
            schema="TRADES",
            query_type="SELECT",
            template="SELECT trader_id, COUNT(*) FROM CURATED.TRADES.FILLS WHERE notes ILIKE '%{symbol}%' GROUP BY 1",
            exec_ms=28_000,
            sigma=0.9,
            compile_ms=200,
            weight=0.3,
            profile="office",
            bytes_mb=25_000,
            partitions_total=12_000,
            scan_fraction=0.95,
            cache_share=0.05,
            rows=200,
            spill_prob=0.1,
            spill_local_mb=500,
            error_rate=0.03,
        ),
    )
    databases = {"RAW": 11, "CURATED": 12, "RISK": 13, "REPORTING": 14, "REFERENCE": 15}
    return Platform(warehouses, services, patterns, databases)
