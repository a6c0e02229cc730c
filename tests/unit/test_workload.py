"""Unit tests for the synthetic ACCOUNT_USAGE workload generator (``sre_agent.simulate.workload``).

The demo and the detection benchmarks score the agent against the generated history and its
labelled incidents, so these tests pin what they rely on: determinism, real view columns,
internally consistent timings, realistic visibility lags, seasonality, errors, the four scripted
incidents, and credits / load averages that agree with the queries that produced them.

Days are generated once per module with a small ``queries_per_day`` to keep the file fast.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from sre_agent.simulate.incidents import Incident, IncidentKind, default_incidents
from sre_agent.simulate.platform import CREDITS_PER_HOUR, MARKET_TZ, capital_markets_platform
from sre_agent.simulate.schema import (
    QUERY_HISTORY,
    TASK_HISTORY,
    VISIBLE_AT,
    WAREHOUSE_LOAD_HISTORY,
    WAREHOUSE_METERING_HISTORY,
)
from sre_agent.simulate.workload import DayTables, WorkloadConfig, day_bounds, generate_day

MONDAY = date(2026, 11, 2)
SATURDAY = MONDAY + timedelta(days=5)
SEED = 7
QPD = 10_000
TZ = ZoneInfo(MARKET_TZ)
PLATFORM = capital_markets_platform()

FRAMES = ("query_history", "warehouse_load_history", "warehouse_metering_history", "task_history")
VIEW_OF = {
    "query_history": QUERY_HISTORY,
    "warehouse_load_history": WAREHOUSE_LOAD_HISTORY,
    "warehouse_metering_history": WAREHOUSE_METERING_HISTORY,
    "task_history": TASK_HISTORY,
}


# --------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def plain_cfg() -> WorkloadConfig:
    """A small configuration without incidents."""
    return WorkloadConfig(seed=SEED, queries_per_day=QPD)


@pytest.fixture(scope="module")
def incidents() -> dict[IncidentKind, Incident]:
    """The five default incidents of the week starting on MONDAY, by kind."""
    start, _ = day_bounds(MONDAY)
    _, end = day_bounds(MONDAY + timedelta(days=6))
    found = default_incidents(start, end)
    assert len(found) == 5
    return {i.kind: i for i in found}


@pytest.fixture(scope="module")
def incident_cfg(incidents: dict[IncidentKind, Incident]) -> WorkloadConfig:
    """The small configuration with the five default incidents."""
    return WorkloadConfig(seed=SEED, queries_per_day=QPD, incidents=tuple(incidents.values()))


@pytest.fixture(scope="module")
def monday(plain_cfg: WorkloadConfig) -> DayTables:
    """A normal weekday without incidents."""
    return generate_day(MONDAY, plain_cfg)


@pytest.fixture(scope="module")
def week(incident_cfg: WorkloadConfig) -> dict[date, DayTables]:
    """Monday to Saturday generated with the default incidents (Tuesday to Friday carry them)."""
    return {MONDAY + timedelta(days=k): generate_day(MONDAY + timedelta(days=k), incident_cfg) for k in range(6)}


# ---------------------------------------------------------------------------------------------- helpers


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


def _started_between(qh: pl.DataFrame, lo: datetime, hi: datetime) -> pl.DataFrame:
    return qh.filter((pl.col("START_TIME") >= _utc(lo)) & (pl.col("START_TIME") < _utc(hi)))


def _service(qh: pl.DataFrame, service: str) -> pl.DataFrame:
    return qh.filter(pl.col("QUERY_TAG").str.json_path_match("$.service") == service)


def _seconds_since(col: str, origin: datetime) -> pl.Expr:
    return (pl.col(col) - pl.lit(_utc(origin))).dt.total_microseconds() / 1e6


def _local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), TZ)


def _metering(day: DayTables, warehouse: str) -> pl.DataFrame:
    return day.warehouse_metering_history.filter(pl.col("WAREHOUSE_NAME") == warehouse).sort("START_TIME")


# ------------------------------------------------------------------------------------------ determinism


def test_same_seed_generates_identical_frames(monday: DayTables) -> None:
    """Generating the same day twice with the same seed gives equal frames, row for row."""
    again = generate_day(MONDAY, WorkloadConfig(seed=SEED, queries_per_day=QPD))
    for name in FRAMES:
        assert getattr(again, name).equals(getattr(monday, name)), name


def test_different_seed_generates_different_history(monday: DayTables) -> None:
    """Another seed gives another history."""
    other = generate_day(MONDAY, WorkloadConfig(seed=SEED + 1, queries_per_day=QPD))
    assert not other.query_history.equals(monday.query_history)
    assert not other.warehouse_metering_history.equals(monday.warehouse_metering_history)


def test_day_generated_alone_equals_same_day_of_longer_history(plain_cfg: WorkloadConfig) -> None:
    """A day does not depend on the days generated before it (random streams are keyed per day)."""
    sequence = [generate_day(MONDAY + timedelta(days=k), plain_cfg) for k in range(3)]
    alone = generate_day(MONDAY + timedelta(days=2), WorkloadConfig(seed=SEED, queries_per_day=QPD))
    for name in FRAMES:
        assert getattr(alone, name).equals(getattr(sequence[2], name)), name


def test_incidents_only_change_the_days_they_overlap(
    monday: DayTables, week: dict[date, DayTables], incidents: dict[IncidentKind, Incident]
) -> None:
    """Monday (no incident) is the same with or without the week's incidents, and Tuesday with all four
    incidents equals Tuesday with only its own incident."""
    for name in FRAMES:
        assert getattr(week[MONDAY], name).equals(getattr(monday, name)), name
    tuesday = MONDAY + timedelta(days=1)
    only_own = WorkloadConfig(seed=SEED, queries_per_day=QPD, incidents=(incidents[IncidentKind.LATENCY_REGRESSION],))
    alone = generate_day(tuesday, only_own)
    for name in FRAMES:
        assert getattr(alone, name).equals(getattr(week[tuesday], name)), name
    assert not alone.query_history.equals(
        generate_day(tuesday, WorkloadConfig(seed=SEED, queries_per_day=QPD)).query_history
    )


# ------------------------------------------------------------------------------------- schema and ids


def test_frames_use_only_real_view_columns_plus_visible_at(week: dict[date, DayTables]) -> None:
    """Every frame's columns are documented columns of its ACCOUNT_USAGE view, plus ``_VISIBLE_AT``."""
    for day in week.values():
        for name in FRAMES:
            frame = getattr(day, name)
            assert frame.height > 0, (day.day, name)
            allowed = set(VIEW_OF[name].column_names) | {VISIBLE_AT}
            assert set(frame.columns) <= allowed, (name, set(frame.columns) - allowed)
            assert VISIBLE_AT in frame.columns


def test_query_history_carries_core_columns(monday: DayTables) -> None:
    """QUERY_HISTORY has the columns the agent's rollups read, without nulls where Snowflake has none."""
    core = [
        "QUERY_ID",
        "QUERY_TEXT",
        "QUERY_TYPE",
        "USER_NAME",
        "ROLE_NAME",
        "WAREHOUSE_NAME",
        "WAREHOUSE_SIZE",
        "EXECUTION_STATUS",
        "START_TIME",
        "END_TIME",
        "TOTAL_ELAPSED_TIME",
        "COMPILATION_TIME",
        "EXECUTION_TIME",
        "QUEUED_PROVISIONING_TIME",
        "QUEUED_REPAIR_TIME",
        "QUEUED_OVERLOAD_TIME",
        "TRANSACTION_BLOCKED_TIME",
        "LIST_EXTERNAL_FILES_TIME",
        "BYTES_SCANNED",
        "BYTES_SPILLED_TO_LOCAL_STORAGE",
        "BYTES_SPILLED_TO_REMOTE_STORAGE",
        "QUERY_HASH",
        "QUERY_PARAMETERIZED_HASH",
    ]
    qh = monday.query_history
    assert {*core, "QUERY_TAG", "ERROR_CODE", "ERROR_MESSAGE"} <= set(qh.columns)
    nulls = qh.select(core).null_count().row(0, named=True)
    assert all(v == 0 for v in nulls.values()), nulls
    assert qh.schema["START_TIME"] == pl.Datetime("us", "UTC")
    assert qh.schema["END_TIME"] == pl.Datetime("us", "UTC")
    assert set(qh["WAREHOUSE_NAME"].unique()) == {w.name for w in PLATFORM.warehouses}


def test_query_ids_unique_within_and_across_days(week: dict[date, DayTables]) -> None:
    """No QUERY_ID repeats inside a day or between consecutive days."""
    mon = week[MONDAY].query_history["QUERY_ID"]
    tue = week[MONDAY + timedelta(days=1)].query_history["QUERY_ID"]
    assert mon.n_unique() == mon.len()
    assert tue.n_unique() == tue.len()
    assert set(mon).isdisjoint(set(tue))


def test_rows_fall_inside_the_generated_day(week: dict[date, DayTables]) -> None:
    """Queries start, and load and metering intervals begin, inside the exchange-local day."""
    for day in week.values():
        start, end = day_bounds(day.day)
        assert (day.start, day.end) == (start, end)
        for frame in (day.query_history, day.warehouse_load_history, day.warehouse_metering_history):
            assert frame["START_TIME"].min() >= start
            assert frame["START_TIME"].max() < end


# ---------------------------------------------------------------------------------------------- timing


def test_end_minus_start_equals_total_elapsed_time(week: dict[date, DayTables]) -> None:
    """END_TIME - START_TIME equals TOTAL_ELAPSED_TIME in milliseconds."""
    for day in week.values():
        qh = day.query_history
        span_ms = (qh["END_TIME"] - qh["START_TIME"]).dt.total_microseconds() / 1000.0
        diff = (span_ms - qh["TOTAL_ELAPSED_TIME"]).abs()
        assert diff.max() <= 2, day.day
        assert (qh["TOTAL_ELAPSED_TIME"] >= 0).all()


def test_total_elapsed_time_is_sum_of_phases(week: dict[date, DayTables]) -> None:
    """TOTAL_ELAPSED_TIME is compilation + queueing + blocking + file listing + execution."""
    phases = [
        "COMPILATION_TIME",
        "QUEUED_PROVISIONING_TIME",
        "QUEUED_REPAIR_TIME",
        "QUEUED_OVERLOAD_TIME",
        "TRANSACTION_BLOCKED_TIME",
        "LIST_EXTERNAL_FILES_TIME",
        "EXECUTION_TIME",
    ]
    for day in week.values():
        qh = day.query_history
        assert qh.select((pl.col(p) >= 0).all() for p in phases).row(0) == (True,) * len(phases)
        diff = qh.select((pl.col("TOTAL_ELAPSED_TIME") - pl.sum_horizontal(phases)).abs().max()).item()
        assert diff <= 3, day.day


# ------------------------------------------------------------------------------------------ visibility


def test_query_history_visible_90s_to_45min_after_end(week: dict[date, DayTables]) -> None:
    """QUERY_HISTORY rows appear between 90 s and 45 min after the query ends."""
    for day in week.values():
        lag = (day.query_history[VISIBLE_AT] - day.query_history["END_TIME"]).dt.total_microseconds() / 1e6
        assert lag.min() >= 90 - 1e-3
        assert lag.max() <= 45 * 60 + 1e-3


def test_load_history_visible_45min_to_3h_after_end(week: dict[date, DayTables]) -> None:
    """WAREHOUSE_LOAD_HISTORY rows appear between 45 min and 3 h after the interval ends."""
    for day in week.values():
        frame = day.warehouse_load_history
        lag = (frame[VISIBLE_AT] - frame["END_TIME"]).dt.total_microseconds() / 1e6
        assert lag.min() >= 45 * 60 - 1e-3
        assert lag.max() <= 3 * 3600 + 1e-3
        assert ((frame["END_TIME"] - frame["START_TIME"]) == timedelta(minutes=5)).all()


def test_metering_history_visible_1h_to_3h_after_end(week: dict[date, DayTables]) -> None:
    """WAREHOUSE_METERING_HISTORY rows appear between 1 h and 3 h after the hour ends."""
    for day in week.values():
        frame = day.warehouse_metering_history
        lag = (frame[VISIBLE_AT] - frame["END_TIME"]).dt.total_microseconds() / 1e6
        assert lag.min() >= 3600 - 1e-3
        assert lag.max() <= 3 * 3600 + 1e-3
        assert ((frame["END_TIME"] - frame["START_TIME"]) == timedelta(hours=1)).all()


def test_task_history_visible_after_completion(week: dict[date, DayTables]) -> None:
    """TASK_HISTORY rows never appear before the task run completes."""
    for day in week.values():
        th = day.task_history
        assert (th[VISIBLE_AT] >= th["COMPLETED_TIME"]).all()


# ------------------------------------------------------------------------------------------ query tags


def test_query_tag_names_service_and_domain_for_tagged_services(monday: DayTables) -> None:
    """Tagged services write ``{"service", "domain"}`` JSON whose domain is the service's platform domain;
    the analysts' untagged queries have a null tag."""
    service_of_user = {u: p.service for p in PLATFORM.patterns for u in p.users}
    assert len(service_of_user) == len({u for p in PLATFORM.patterns for u in p.users})
    services = {s.name: s for s in PLATFORM.services}
    seen = set()
    for user, tag in monday.query_history.select("USER_NAME", "QUERY_TAG").unique().iter_rows():
        service = services[service_of_user[user]]
        if not service.tagged:
            assert tag is None, user
            continue
        parsed = json.loads(tag)
        assert parsed == {"service": service.name, "domain": service.domain}
        seen.add(service.name)
    assert seen == {s.name for s in PLATFORM.services if s.tagged}


def test_analyst_queries_are_untagged_person_queries(monday: DayTables) -> None:
    """Analyst queries (ADHOC_WH) have no QUERY_TAG and a PERSON user; everything else is tagged."""
    qh = monday.query_history
    adhoc = qh.filter(pl.col("WAREHOUSE_NAME") == "ADHOC_WH")
    assert adhoc.height > 0
    assert adhoc["QUERY_TAG"].null_count() == adhoc.height
    assert set(adhoc["USER_TYPE"]) == {"PERSON"}
    assert qh.filter(pl.col("WAREHOUSE_NAME") != "ADHOC_WH")["QUERY_TAG"].null_count() == 0


# ----------------------------------------------------------------------------------------- seasonality


def test_weekday_bi_traffic_peaks_in_trading_hours(monday: DayTables) -> None:
    """A weekday has far more BI queries during 09:30-16:00 New York time than during 00:00-06:00."""
    bi = _service(monday.query_history, "trade-analytics")
    trading = _started_between(bi, _local(MONDAY, 9, 30), _local(MONDAY, 16)).height
    night = _started_between(bi, _local(MONDAY, 0), _local(MONDAY, 6)).height
    assert trading > 1000
    assert trading > 10 * max(night, 1)


def test_saturday_has_far_less_bi_traffic_than_weekday(monday: DayTables, week: dict[date, DayTables]) -> None:
    """Markets are closed on Saturday: BI traffic is a small fraction of a weekday's."""
    weekday = _service(monday.query_history, "trade-analytics").height
    saturday = _service(week[SATURDAY].query_history, "trade-analytics").height
    assert saturday < 0.1 * weekday


def test_weekday_only_batches_skip_saturday(monday: DayTables, week: dict[date, DayTables]) -> None:
    """Weekday-only scheduled work (risk engine, regulatory reporting) does not run on Saturday,
    while the every-15-minute Snowflake task keeps running."""
    for service in ("risk-engine", "risk-batch", "regulatory-reporting"):
        assert _service(monday.query_history, service).height > 0, service
        assert _service(week[SATURDAY].query_history, service).height == 0, service
    runs = week[SATURDAY].task_history.filter(pl.col("NAME") == "REFRESH_DESK_PNL").height
    assert runs == 96


# ---------------------------------------------------------------------------------------------- errors


def test_failed_queries_have_error_code_and_message(week: dict[date, DayTables]) -> None:
    """FAIL rows carry ERROR_CODE and ERROR_MESSAGE; SUCCESS rows carry neither."""
    for day in week.values():
        qh = day.query_history
        assert set(qh["EXECUTION_STATUS"].unique()) == {"SUCCESS", "FAIL"}
        failed = qh.filter(pl.col("EXECUTION_STATUS") == "FAIL")
        ok = qh.filter(pl.col("EXECUTION_STATUS") == "SUCCESS")
        assert failed.height > 0
        assert failed["ERROR_CODE"].null_count() == 0
        assert (failed["ERROR_CODE"] > 0).all()
        assert (failed["ERROR_MESSAGE"].str.len_chars() > 0).all()
        assert ok["ERROR_CODE"].null_count() == ok.height
        assert ok["ERROR_MESSAGE"].null_count() == ok.height


def test_cancellations_use_snowflake_message(week: dict[date, DayTables]) -> None:
    """Error 604 is reported with Snowflake's 'SQL execution canceled' message."""
    frames = [d.query_history for d in week.values()]
    cancelled = pl.concat(frames).filter(pl.col("ERROR_CODE") == 604)
    assert cancelled.height > 0
    assert set(cancelled["ERROR_MESSAGE"]) == {"SQL execution canceled"}
    assert set(cancelled["EXECUTION_STATUS"]) == {"FAIL"}


def test_compilation_errors_never_execute(week: dict[date, DayTables]) -> None:
    """A query failing at compilation (error 2003) has QUERY_TYPE UNKNOWN and no execution time."""
    failed = pl.concat([d.query_history for d in week.values()]).filter(pl.col("ERROR_CODE") == 2003)
    assert failed.height > 0
    assert set(failed["QUERY_TYPE"]) == {"UNKNOWN"}
    assert (failed["EXECUTION_TIME"] == 0).all()
    assert (failed["BYTES_SCANNED"] == 0).all()


def test_timed_out_queries_run_exactly_the_timeout(week: dict[date, DayTables]) -> None:
    """A query failing with 630 ('reached its ... timeout of 3,600 second(s)') executed for 3,600 s."""
    timed_out = pl.concat([d.query_history for d in week.values()]).filter(pl.col("ERROR_CODE") == 630)
    assert timed_out.height > 0
    # Regression (fixed): workload.py:273 sets exec_ms to 3_600_000 for code 630, but _simulate_warehouse then
    # scales
    # every query's execution again (workload.py:327, ``exec_ms *= 1 + 0.3 * utilisation**2``, and
    # workload.py:317, the cost-runaway speedup), so timed-out queries report e.g. 3,601,036 ms on a
    # normal day and 4,680,000 ms during the storm, longer than the timeout in their own message.
    assert timed_out["EXECUTION_TIME"].to_list() == [3_600_000] * timed_out.height


def test_base_error_rate_is_small(monday: DayTables) -> None:
    """A normal day has some failures, but fewer than 2 % of queries."""
    rate = (monday.query_history["EXECUTION_STATUS"] == "FAIL").mean()
    assert rate is not None
    assert 0 < rate < 0.02


# ------------------------------------------------------------------------------------------- incidents


def test_risk_regression_multiplies_risk_engine_p95_and_adds_remote_spill(
    week: dict[date, DayTables], incidents: dict[IncidentKind, Incident]
) -> None:
    """During INC-1 the risk-engine p95 latency is several times the same hours of the previous day,
    and the exploding join spills to remote storage."""
    inc = incidents[IncidentKind.LATENCY_REGRESSION]
    day = inc.start.astimezone(TZ).date()
    during = _service(_started_between(week[day].query_history, inc.start, inc.end), "risk-engine")
    one_day = timedelta(days=1)
    before = _service(
        _started_between(week[day - one_day].query_history, inc.start - one_day, inc.end - one_day), "risk-engine"
    )
    assert during.height > 50
    assert before.height > 50
    p95_during = during["TOTAL_ELAPSED_TIME"].quantile(0.95)
    p95_before = before["TOTAL_ELAPSED_TIME"].quantile(0.95)
    assert p95_during is not None
    assert p95_before is not None
    assert p95_during > 3 * p95_before
    spill_during = during["BYTES_SPILLED_TO_REMOTE_STORAGE"].sum()
    spill_before = before["BYTES_SPILLED_TO_REMOTE_STORAGE"].sum()
    assert spill_during > 10e9
    assert spill_during > 100 * max(spill_before, 1)


def test_ingestion_failure_fails_most_trade_copies_with_100038(
    week: dict[date, DayTables], incidents: dict[IncidentKind, Incident]
) -> None:
    """During INC-3 most trade-ingest COPY INTO queries fail with 100038; outside it the code never appears."""
    inc = incidents[IncidentKind.INGEST_FAILURE]
    qh = week[inc.start.astimezone(TZ).date()].query_history
    copies = _service(qh, "trade-ingest").filter(pl.col("QUERY_TYPE") == "COPY")
    during = _started_between(copies, inc.start, inc.end)
    assert during.height > 100
    share = (during["ERROR_CODE"] == 100038).sum() / during.height
    assert share > 0.8
    failed = during.filter(pl.col("ERROR_CODE") == 100038)
    assert set(failed["EXECUTION_STATUS"]) == {"FAIL"}
    assert failed["ERROR_MESSAGE"].str.starts_with("Numeric value 'N/A' is not recognized").all()
    outside = pl.concat(d.query_history for d in week.values()).join(during, on="QUERY_ID", how="anti")
    assert outside.filter(pl.col("ERROR_CODE") == 100038).height == 0


def test_a_stalled_stream_leaves_execution_copies_succeeding_with_nothing_to_load(
    week: dict[date, DayTables], incidents: dict[IncidentKind, Incident]
) -> None:
    """During INC-5 the executions COPY keeps running and succeeding but inserts no rows (no new files from the
    stalled Stream Analytics job); before it, and for the other COPYs, loads bring rows."""
    inc = incidents[IncidentKind.STREAM_STALL]
    qh = week[inc.start.astimezone(TZ).date()].query_history
    executions = _service(qh, "trade-ingest").filter(
        (pl.col("QUERY_TYPE") == "COPY") & pl.col("QUERY_TEXT").str.starts_with("COPY INTO RAW.TRADES.EXECUTIONS")
    )
    during = _started_between(executions, inc.start, inc.end)
    assert during.height >= 20
    succeeded = during.filter(pl.col("EXECUTION_STATUS") == "SUCCESS")
    assert succeeded.height >= 0.8 * during.height, "the COPYs run and succeed (the usual few errors aside)"
    assert during["ROWS_INSERTED"].sum() == 0
    before = _started_between(executions, inc.start - timedelta(hours=2), inc.start)
    ok = before.filter(pl.col("EXECUTION_STATUS") == "SUCCESS")
    assert ok.height > 0
    assert (ok["ROWS_INSERTED"] > 0).all()
    orders = _started_between(_service(qh, "trade-ingest"), inc.start, inc.end).join(during, on="QUERY_ID", how="anti")
    assert orders.filter(pl.col("EXECUTION_STATUS") == "SUCCESS")["ROWS_INSERTED"].sum() > 0


def test_cost_runaway_bills_transform_wh_at_3xl_rate(
    week: dict[date, DayTables], incidents: dict[IncidentKind, Incident]
) -> None:
    """During INC-4 TRANSFORM_WH bills ~64 credits every full hour and its queries run on a 3X-Large;
    outside the incident it stays a Medium billing at most 8 credits an hour."""
    inc = incidents[IncidentKind.COST_RUNAWAY]
    assert inc.warehouse == "TRANSFORM_WH"
    full_hours = 0
    resized_queries = 0
    for day in week.values():
        for start, compute in _metering(day, inc.warehouse).select("START_TIME", "CREDITS_USED_COMPUTE").iter_rows():
            if inc.start <= start and start + timedelta(hours=1) <= inc.end:
                full_hours += 1
                assert compute == pytest.approx(64.0, abs=0.5), start
            elif start + timedelta(hours=1) <= inc.start or start >= inc.end:
                assert compute <= 8.0, start
        queries = day.query_history.filter(pl.col("WAREHOUSE_NAME") == inc.warehouse)
        inside = _started_between(queries, inc.start, inc.end)
        outside = queries.join(inside, on="QUERY_ID", how="anti")
        assert set(inside["WAREHOUSE_SIZE"]) <= {"3X-Large"}
        assert set(outside["WAREHOUSE_SIZE"]) <= {"Medium"}
        resized_queries += inside.height
    assert full_hours == int((inc.end - inc.start).total_seconds() // 3600)
    assert resized_queries > 50


def test_queue_storm_queues_trade_analytics_only_during_window(
    week: dict[date, DayTables], incidents: dict[IncidentKind, Incident]
) -> None:
    """During INC-2 TRADE_ANALYTICS_WH queries queue for tens of seconds on average, against ~0 at the
    same time the day before; the warehouse's load history shows the queue too."""
    inc = incidents[IncidentKind.QUEUE_STORM]
    day = inc.start.astimezone(TZ).date()
    one_day = timedelta(days=1)

    def on_wh(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("WAREHOUSE_NAME") == inc.warehouse)

    during = on_wh(_started_between(week[day].query_history, inc.start, inc.end))
    before = on_wh(_started_between(week[day - one_day].query_history, inc.start - one_day, inc.end - one_day))
    assert before.height > 100
    mean_during = during["QUEUED_OVERLOAD_TIME"].mean()
    mean_before = before["QUEUED_OVERLOAD_TIME"].mean()
    assert isinstance(mean_during, float)
    assert isinstance(mean_before, float)
    assert mean_during > 30_000
    assert mean_before < 100
    load = on_wh(_started_between(week[day].warehouse_load_history, inc.start, inc.end))
    assert load["AVG_QUEUED_LOAD"].max() > 1.0


def test_default_incidents_only_returns_incidents_inside_range() -> None:
    """default_incidents keeps only incidents that start and end inside [start, end)."""
    start, _ = day_bounds(MONDAY)

    def ids(days: int) -> list[str]:
        end, _ = day_bounds(MONDAY + timedelta(days=days))
        found = default_incidents(start, end)
        assert all(start <= i.start and i.end <= end for i in found)
        return [i.id for i in found]

    assert ids(1) == []
    assert ids(3) == ["INC-1-risk-join-explosion", "INC-2-market-open-storm", "INC-5-stream-analytics-stall"]
    assert ids(4) == [
        "INC-1-risk-join-explosion",
        "INC-2-market-open-storm",
        "INC-3-ingestion-failure",
        "INC-5-stream-analytics-stall",
    ]
    assert len(ids(7)) == 5
    runaway_end = datetime.combine(MONDAY + timedelta(days=4), time(21), TZ)
    assert len(default_incidents(start, runaway_end)) == 5
    assert len(default_incidents(start, runaway_end - timedelta(minutes=1))) == 4


def test_default_incidents_land_on_trading_days_after_start() -> None:
    """Incidents go on trading days 1-4 after the start day, skipping the weekend, and a start after
    midnight moves them one day later."""
    start, _ = day_bounds(MONDAY)
    _, end = day_bounds(MONDAY + timedelta(days=14))
    days = [i.start.astimezone(TZ).date() for i in default_incidents(start, end)]
    assert days == [MONDAY + timedelta(days=d) for d in (1, 2, 3, 3, 2)]
    assert all(d.weekday() < 5 for d in days)
    later = default_incidents(start + timedelta(hours=12), end)
    assert [i.start.astimezone(TZ).date() for i in later] == [MONDAY + timedelta(days=d) for d in (2, 3, 4, 4, 3)]
    from_friday, _ = day_bounds(MONDAY + timedelta(days=4))
    fri = [i.start.astimezone(TZ).date() for i in default_incidents(from_friday, end)]
    assert fri == [MONDAY + timedelta(days=d) for d in (7, 8, 9, 9, 8)]


# -------------------------------------------------------------------------------------------- metering


def test_credits_used_is_compute_plus_cloud_services(week: dict[date, DayTables]) -> None:
    """Hourly CREDITS_USED = CREDITS_USED_COMPUTE + CREDITS_USED_CLOUD_SERVICES, all non-negative."""
    for day in week.values():
        m = day.warehouse_metering_history
        diff = (m["CREDITS_USED"] - m["CREDITS_USED_COMPUTE"] - m["CREDITS_USED_CLOUD_SERVICES"]).abs()
        assert diff.max() <= 1e-8
        assert (m["CREDITS_USED_COMPUTE"] >= 0).all()
        assert (m["CREDITS_USED_CLOUD_SERVICES"] >= 0).all()


def test_attributed_credits_never_exceed_compute(week: dict[date, DayTables]) -> None:
    """CREDITS_ATTRIBUTED_COMPUTE_QUERIES is between 0 and CREDITS_USED_COMPUTE."""
    for day in week.values():
        m = day.warehouse_metering_history
        assert (m["CREDITS_ATTRIBUTED_COMPUTE_QUERIES"] >= 0).all()
        assert (m["CREDITS_ATTRIBUTED_COMPUTE_QUERIES"] <= m["CREDITS_USED_COMPUTE"] + 1e-9).all()


def test_hourly_compute_never_exceeds_size_rate_times_max_clusters(
    week: dict[date, DayTables], incidents: dict[IncidentKind, Incident]
) -> None:
    """A warehouse cannot bill more than its size's credits/hour times MAX_CLUSTER_COUNT in one hour
    (the resized size's rate while the cost runaway is on)."""
    runaway = incidents[IncidentKind.COST_RUNAWAY]
    for day in week.values():
        for wh in PLATFORM.warehouses:
            for start, compute in _metering(day, wh.name).select("START_TIME", "CREDITS_USED_COMPUTE").iter_rows():
                size = wh.size
                hour_end = start + timedelta(hours=1)
                if wh.name == runaway.warehouse and runaway.start < hour_end and start < runaway.end:
                    assert runaway.resize_to is not None
                    size = runaway.resize_to
                assert compute <= CREDITS_PER_HOUR[size] * wh.max_clusters + 1e-9, (wh.name, start)


def test_cloud_services_credits_match_query_history(monday: DayTables) -> None:
    """Each hour's CREDITS_USED_CLOUD_SERVICES is the sum over the warehouse's queries started in that hour."""
    per_query = monday.query_history.group_by(
        "WAREHOUSE_NAME", pl.col("START_TIME").dt.truncate("1h").alias("START_TIME")
    ).agg(pl.col("CREDITS_USED_CLOUD_SERVICES").sum().alias("FROM_QUERIES"))
    joined = monday.warehouse_metering_history.join(per_query, on=["WAREHOUSE_NAME", "START_TIME"], how="full")
    assert joined["CREDITS_USED_CLOUD_SERVICES"].null_count() == 0
    diff = (joined["CREDITS_USED_CLOUD_SERVICES"] - joined["FROM_QUERIES"].fill_null(0.0)).abs()
    assert diff.max() <= 1e-6


def test_compute_credits_cover_query_execution(monday: DayTables) -> None:
    """A warehouse's daily compute credits pay at least for its queries' execution seconds, spread over
    all slots of all clusters."""
    start, end = day_bounds(MONDAY)
    day_s = (end - start).total_seconds()
    for wh in PLATFORM.warehouses:
        qh = monday.query_history.filter(pl.col("WAREHOUSE_NAME") == wh.name)
        end_s = qh.select(_seconds_since("END_TIME", start)).to_series().to_numpy()
        exec_s = qh["EXECUTION_TIME"].to_numpy() / 1000.0
        inside = np.clip(np.minimum(end_s, day_s) - np.maximum(end_s - exec_s, 0.0), 0.0, None).sum()
        floor = inside / 3600.0 * wh.credits_per_hour / (wh.slots * wh.max_clusters)
        total = _metering(monday, wh.name)["CREDITS_USED_COMPUTE"].sum()
        assert total >= floor, wh.name
        assert total > 0, wh.name


def test_single_cluster_compute_credits_match_running_time(monday: DayTables) -> None:
    """On a single-cluster warehouse, compute credits equal the running time (each query's span plus
    AUTO_SUSPEND, merged, at least 60 s per resume) times the size's rate, within 3 %.

    The generator starts the AUTO_SUSPEND timer before the resume's provisioning wait, so billing runs
    slightly (< 1 %) under this END_TIME-based reconstruction.
    """
    start, end = day_bounds(MONDAY)
    day_s = (end - start).total_seconds()
    checked = 0
    for wh in PLATFORM.warehouses:
        if wh.max_clusters != 1:
            continue
        qh = monday.query_history.filter(pl.col("WAREHOUSE_NAME") == wh.name).sort("START_TIME")
        spans = qh.select(_seconds_since("START_TIME", start), _seconds_since("END_TIME", start)).to_numpy()
        running = 0.0
        seg_start, seg_end = spans[0]
        for lo, hi in spans[1:]:
            if lo > seg_end + wh.auto_suspend_s:
                running += min(max(seg_end + wh.auto_suspend_s, seg_start + 60.0), day_s) - seg_start
                seg_start, seg_end = lo, hi
            else:
                seg_end = max(seg_end, hi)
        running += min(max(seg_end + wh.auto_suspend_s, seg_start + 60.0), day_s) - seg_start
        expected = running / 3600.0 * wh.credits_per_hour
        total = _metering(monday, wh.name)["CREDITS_USED_COMPUTE"].sum()
        assert total == pytest.approx(expected, rel=0.03), wh.name
        checked += 1
    assert checked >= 4


# ---------------------------------------------------------------------------------------- load history


def test_load_history_averages_are_non_negative(week: dict[date, DayTables]) -> None:
    """AVG_RUNNING, AVG_QUEUED_LOAD, AVG_QUEUED_PROVISIONING and AVG_BLOCKED are never negative."""
    cols = ["AVG_RUNNING", "AVG_QUEUED_LOAD", "AVG_QUEUED_PROVISIONING", "AVG_BLOCKED"]
    for day in week.values():
        lows = day.warehouse_load_history.select(pl.min_horizontal(cols).min()).item()
        assert lows >= 0
        assert day.warehouse_load_history.select(cols).null_count().sum_horizontal().item() == 0


def test_avg_running_matches_query_execution_overlap(week: dict[date, DayTables]) -> None:
    """AVG_RUNNING x 300 s is the execution time of the warehouse's queries inside the 5-minute
    interval, and intervals without a load row have no execution at all."""
    for day in (week[MONDAY], week[MONDAY + timedelta(days=2)]):
        start, end = day_bounds(day.day)
        n5 = int((end - start).total_seconds() // 300)
        lo = np.arange(n5) * 300.0
        hi = lo + 300.0
        for wh in PLATFORM.warehouses:
            qh = day.query_history.filter(pl.col("WAREHOUSE_NAME") == wh.name)
            q_end = qh.select(_seconds_since("END_TIME", start)).to_series().to_numpy()
            q_start = q_end - qh["EXECUTION_TIME"].to_numpy() / 1000.0
            overlap = np.clip(np.minimum(q_end[:, None], hi) - np.maximum(q_start[:, None], lo), 0.0, None)
            expected = overlap.sum(axis=0)
            touching = (overlap > 0).sum(axis=0)
            load = day.warehouse_load_history.filter(pl.col("WAREHOUSE_NAME") == wh.name)
            bucket = (load.select(_seconds_since("START_TIME", start)).to_series().to_numpy() // 300).astype(int)
            actual = np.zeros(n5)
            actual[bucket] = load["AVG_RUNNING"].to_numpy() * 300.0
            tolerance = 0.3 + 0.002 * touching
            bad = np.flatnonzero(np.abs(actual - expected) > tolerance)
            assert bad.size == 0, (day.day, wh.name, bad[:5], actual[bad[:5]], expected[bad[:5]])


# ---------------------------------------------------------------------------------------- task history


def test_task_history_rows_match_their_queries(week: dict[date, DayTables]) -> None:
    """Every TASK_HISTORY row points at a QUERY_HISTORY query, with SUCCEEDED/FAILED matching its status."""
    for day in week.values():
        th = day.task_history
        assert th.height > 0
        assert th["QUERY_ID"].n_unique() == th.height
        joined = th.join(day.query_history, on="QUERY_ID", how="left", suffix="_QH")
        assert joined["EXECUTION_STATUS"].null_count() == 0
        expected = joined["EXECUTION_STATUS"].replace_strict({"SUCCESS": "SUCCEEDED", "FAIL": "FAILED"})
        assert (joined["STATE"] == expected).all()
        assert (joined["COMPLETED_TIME"] == joined["END_TIME"]).all()
        assert (joined["QUERY_START_TIME"] == joined["START_TIME"]).all()
        assert set(th["NAME"]) == {p.task_name for p in PLATFORM.patterns if p.task_name}


def test_every_task_query_has_a_task_history_row(monday: DayTables) -> None:
    """Each query run by a Snowflake task appears in TASK_HISTORY: 96 runs of the 15-minute task and
    48 of the 30-minute one on a 24-hour day."""
    counts = dict(monday.task_history.group_by("NAME").len().iter_rows())
    assert counts == {"REFRESH_DESK_PNL": 96, "REFRESH_EXPOSURE_AGG": 48}


# ------------------------------------------------------------------------------------------- DST days


@pytest.mark.parametrize(
    "day",
    [date(2026, 11, 8), date(2026, 11, 1), date(2027, 3, 14)],
    ids=["ordinary-sunday", "fall-back", "spring-forward"],
)
def test_scheduled_jobs_keep_local_wall_clock_time_on_dst_days(day: date) -> None:
    """On a Sunday, including the two daylight-saving changes, the daily 05:00 dbt CTAS starts at 05:00
    New York time and the every-15-minute task runs in every local hour the day has."""
    tables = generate_day(day, WorkloadConfig(seed=SEED, queries_per_day=2_000))
    local_start = pl.col("START_TIME").dt.convert_time_zone(MARKET_TZ)
    ctas = tables.query_history.filter(pl.col("QUERY_TEXT").str.contains("POSITIONS_DAILY"))
    assert ctas.height == 1
    refresh = tables.task_history.filter(pl.col("NAME") == "REFRESH_DESK_PNL")
    hours = set(refresh.select(pl.col("SCHEDULED_TIME").dt.convert_time_zone(MARKET_TZ).dt.hour()).to_series())
    start, end = day_bounds(day)
    expected_hours = {
        (start + timedelta(hours=h)).astimezone(TZ).hour for h in range(int((end - start) / timedelta(hours=1)))
    }
    # Regression (fixed): workload.py _arrivals (scheduled ticks, lines 174-175; rates, line 179)
    # and
    # seasonality.day_rates (line 80) read "minutes elapsed since local midnight" as the local wall
    # clock, so on a 25 h / 23 h day everything after 02:00 shifts by an hour: the 05:00 CTAS starts
    # at 04:00 (fall-back) or 06:00 (spring-forward), and on the fall-back day no task runs in local
    # hour 23. The ordinary Sunday passes.
    assert (ctas.select(local_start.dt.hour()).item(), sorted(hours)) == (5, sorted(expected_hours))
