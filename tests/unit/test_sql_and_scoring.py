"""Unit tests of the SQL catalogue (``sre_agent.sources.snowflake_sql``) and of alert scoring against
scripted incidents (``sre_agent.simulate.scoring``).

SQL statements are checked as text and parsed with sqlglot's Snowflake dialect after binding;
nothing is sent to Snowflake. Scoring tests build ``AlertEvent`` and ``Incident`` objects directly
around a fixed instant.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from sre_agent.engine.rollups import QUERY, WAREHOUSE_LOAD, WAREHOUSE_METERING
from sre_agent.model import AlertEvent, EventKind, Severity
from sre_agent.simulate.incidents import Incident, IncidentKind
from sre_agent.simulate.scoring import score
from sre_agent.sources import snowflake_sql as sql
from sre_agent.sources.snowflake_sql import NamedQuery, all_queries, query_rollup

THRESHOLDS = [1000, 5000, 30000, 120000]


def named(text: str) -> NamedQuery:
    return NamedQuery("t", "test statement", "https://example.invalid/docs", text)


def values_for(query: NamedQuery) -> dict[str, object]:
    start, end = datetime(2026, 11, 2, 8, tzinfo=UTC), datetime(2026, 11, 2, 9, tzinfo=UTC)
    out: dict[str, object] = {"window_start": ("TIMESTAMP_LTZ", start), "window_end": ("TIMESTAMP_LTZ", end)}
    out.update({p: 10_000 + i for i, p in enumerate(query.params) if p.startswith("le_")})
    return out


# ---------------------------------------------------------------------------------------------------------------
# NamedQuery.params


def test_params_lists_placeholders_in_order_of_appearance() -> None:
    """Every ``:name`` after whitespace, '(', ',', '=', '<' or '>' is a placeholder, repeats included."""
    query = named("SELECT f(:a, :b) FROM t WHERE x >= :start AND y<:end AND z=:start AND w>:c_2")

    assert query.params == ("a", "b", "start", "end", "start", "c_2")


def test_params_ignores_snowflake_json_paths() -> None:
    """``col:path`` and ``expr(...):path`` are VARIANT paths, not bind placeholders."""
    query = named(
        "SELECT v:service::VARCHAR, TRY_PARSE_JSON(query_tag):domain::VARCHAR, t.payload:a.b FROM t WHERE id = :id"
    )

    assert query.params == ("id",)


def test_params_ignores_colon_string_literals() -> None:
    """A ':' inside a string literal is data, not a placeholder."""
    query = named("SELECT TO_VARCHAR(i) || ':' || TO_VARCHAR(n), ':' AS sep, 'a:b' FROM t WHERE x = :x")

    assert query.params == ("x",)


def test_params_ignores_double_colon_casts() -> None:
    """``::TYPE`` casts (also lower case and after a placeholder) are not placeholders."""
    query = named("SELECT a::VARCHAR, b ::varchar, c::number(10, 2) FROM t WHERE d = :d::INTEGER")

    assert query.params == ("d",)


def test_query_rollup_params_are_thresholds_and_window_only() -> None:
    """The pushed-down rollup binds le_0..le_n-1 and the window; its JSON paths are not parameters."""
    query = query_rollup(THRESHOLDS)

    assert sorted(query.params) == sorted([f"le_{i}" for i in range(len(THRESHOLDS))] + ["window_start", "window_end"])
    assert "TRY_PARSE_JSON(query_tag):service::VARCHAR" in query.sql


@pytest.mark.parametrize("query", [sql.WAREHOUSE_LOAD, sql.WAREHOUSE_METERING, sql.CHECK_ACCESS], ids=lambda q: q.name)
def test_window_queries_bind_exactly_the_window(query: NamedQuery) -> None:
    """The warehouse and access-check statements take only the time window."""
    assert query.params == ("window_start", "window_end")


# ---------------------------------------------------------------------------------------------------------------
# NamedQuery.bind


def test_bind_returns_qmark_sql_and_values_in_order() -> None:
    """Placeholders become '?' and the values follow their order; a name used twice is bound twice."""
    query = named("SELECT :a AS a FROM t WHERE s >= :start AND e < :end OR s = :start")

    text, binds = query.bind({"end": 2, "start": 1, "a": "x", "unused": 99})

    assert text == "SELECT ? AS a FROM t WHERE s >= ? AND e < ? OR s = ?"
    assert binds == ["x", 1, 2, 1]


def test_bind_leaves_json_paths_casts_and_literals_alone() -> None:
    """Only placeholders are rewritten; VARIANT paths, casts and ':' literals stay in the SQL."""
    query = named("SELECT v:service::VARCHAR, a || ':' || b FROM t WHERE x = :x")

    text, binds = query.bind({"x": 5})

    assert text == "SELECT v:service::VARCHAR, a || ':' || b FROM t WHERE x = ?"
    assert binds == [5]


def test_bind_names_the_missing_values() -> None:
    """A placeholder without a value raises KeyError naming the query and every missing name."""
    query = named("SELECT 1 FROM t WHERE s >= :window_start AND e < :window_end AND x = :le_0")

    with pytest.raises(KeyError, match=r"query t: no value for window_end, le_0"):
        query.bind({"window_start": 1})


def test_query_rollup_binds_one_value_per_threshold() -> None:
    """Each threshold is one bound le_i value, in the SQL exactly once, and its digits never reach the SQL."""
    thresholds = [123457, 987653, 55511]
    query = query_rollup(thresholds)
    values = {"window_start": "S", "window_end": "E", **{f"le_{i}": t for i, t in enumerate(thresholds)}}

    text, binds = query.bind(values)

    assert sorted(b for b in binds if isinstance(b, int)) == sorted(thresholds)
    assert binds.count("S") == binds.count("E") == 1
    assert text.count("?") == len(binds) == len(thresholds) + 2
    for i, t in enumerate(thresholds):
        assert str(t) not in query.sql
        assert str(t) not in text
        assert len(re.findall(rf":le_{i}\b", query.sql)) == 1
        assert f"AS le_{i}" in text
    assert not re.search(r":le_\d", text)


def test_query_rollup_without_thresholds_has_no_le_columns() -> None:
    """No thresholds means no le_i placeholders or columns."""
    query = query_rollup([])

    assert query.params == ("window_start", "window_end")
    assert "le_" not in query.sql


@pytest.mark.parametrize("thresholds", [[], [1000], THRESHOLDS], ids=["none", "one", "four"])
def test_every_statement_parses_as_snowflake_sql_after_binding(thresholds: list[int]) -> None:
    """Each statement of all_queries parses with sqlglot's Snowflake dialect, one '?' per bind value."""
    queries = all_queries(thresholds)
    assert [q.name for q in queries] == ["query_rollup", "warehouse_load", "warehouse_metering", "check_access"]

    for query in queries:
        text, binds = query.bind(values_for(query))
        tree = sqlglot.parse_one(text, read="snowflake")

        assert isinstance(tree, exp.Query), query.name
        assert len(list(tree.find_all(exp.Placeholder))) == len(binds), query.name


def test_rollup_statements_project_the_columns_the_source_reads() -> None:
    """The projected aliases are what SnowflakeSource._to_rollup expects for each rollup."""
    rollup_sql = sqlglot.parse_one(
        query_rollup(THRESHOLDS).bind(values_for(query_rollup(THRESHOLDS)))[0], read="snowflake"
    )
    load_sql = sqlglot.parse_one(sql.WAREHOUSE_LOAD.bind(values_for(sql.WAREHOUSE_LOAD))[0], read="snowflake")
    metering_sql = sqlglot.parse_one(
        sql.WAREHOUSE_METERING.bind(values_for(sql.WAREHOUSE_METERING))[0], read="snowflake"
    )

    assert isinstance(rollup_sql, exp.Query)
    assert isinstance(load_sql, exp.Query)
    assert isinstance(metering_sql, exp.Query)
    assert rollup_sql.named_selects == [
        "bucket_start",
        *QUERY.dims,
        *QUERY.measure_names,
        "hist",
        *[f"le_{i}" for i in range(len(THRESHOLDS))],
    ]
    assert load_sql.named_selects == ["bucket_start", *WAREHOUSE_LOAD.dims, *WAREHOUSE_LOAD.measure_names]
    assert metering_sql.named_selects == ["bucket_start", *WAREHOUSE_METERING.dims, *WAREHOUSE_METERING.measure_names]


# ---------------------------------------------------------------------------------------------------------------
# scoring

START = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
END = START + timedelta(hours=1)


def incident(
    id_: str = "inc-1",
    warehouse: str = "ETL_WH",
    service: str | None = "orders",
    domain: str | None = "sales",
    start: datetime = START,
    end: datetime = END,
) -> Incident:
    return Incident(
        id=id_,
        kind=IncidentKind.QUEUE_STORM,
        title="queue storm",
        start=start,
        end=end,
        warehouse=warehouse,
        service=service,
        domain=domain,
        description="test incident",
    )


_ids = iter(range(1, 10**6))


def alert(
    at: datetime,
    labels: dict[str, str] | None = None,
    kind: EventKind = EventKind.FIRING,
    rule: str = "warehouse-queueing",
    **kw: Any,
) -> AlertEvent:
    return AlertEvent(
        event_id=kw.get("event_id", next(_ids)),
        fingerprint=f"fp-{rule}",
        rule=rule,
        kind=kind,
        severity=kw.get("severity", Severity.SEV2),
        labels={"warehouse": "ETL_WH"} if labels is None else labels,
        annotations={},
        at=at,
        starts_at=at,
        ends_at=None,
        value=1.0,
        threshold=0.5,
        evidence={},
    )


def test_firing_alert_in_window_with_matching_warehouse_catches_the_incident() -> None:
    """A FIRING event on the incident's warehouse during it is a detection with its delay."""
    event = alert(START + timedelta(minutes=12))

    card = score([event], [incident()])

    (result,) = card.incidents
    assert result.caught
    assert result.delay == timedelta(minutes=12)
    assert result.first is not None
    assert (result.first.rule, result.first.fingerprint, result.first.severity) == (
        "warehouse-queueing",
        "fp-warehouse-queueing",
        "sev2",
    )
    assert card.unexpected == []
    assert card.recall == 1.0


@pytest.mark.parametrize(
    "labels",
    [{"warehouse": "ETL_WH"}, {"warehouse": "OTHER_WH", "service": "orders"}, {"domain": "sales"}],
    ids=["warehouse", "service", "domain"],
)
def test_any_one_of_warehouse_service_domain_labels_matches(labels: dict[str, str]) -> None:
    """Matching on warehouse, service or domain alone is enough."""
    card = score([alert(START + timedelta(minutes=1), labels)], [incident()])

    assert card.incidents[0].caught
    assert card.unexpected == []


@pytest.mark.parametrize(
    "labels",
    [{"warehouse": "OTHER_WH"}, {"service": "billing", "domain": "ops"}, {"team": "data-platform"}, {}],
    ids=["other-warehouse", "other-service-domain", "unrelated-label", "no-labels"],
)
def test_alert_on_other_labels_is_unexpected(labels: dict[str, str]) -> None:
    """An alert in the window on none of the incident's labels catches nothing and counts as noise."""
    event = alert(START + timedelta(minutes=1), labels)

    card = score([event], [incident()])

    assert not card.incidents[0].caught
    assert card.unexpected == [event]
    assert card.recall == 0.0


def test_incident_without_service_or_domain_matches_on_warehouse_only() -> None:
    """An incident with no service/domain is matched by its warehouse and never by a missing label."""
    inc = incident(service=None, domain=None)
    by_service = alert(START, {"service": "orders", "domain": "sales"})
    by_warehouse = alert(START + timedelta(minutes=3), {"warehouse": "ETL_WH"})

    card = score([by_service, by_warehouse], [inc])

    assert [d.at for d in card.incidents[0].detections] == [by_warehouse.at]
    assert card.unexpected == [by_service]


@pytest.mark.parametrize(
    ("offset", "caught"),
    [
        (START - timedelta(minutes=5) - timedelta(seconds=1), False),
        (START - timedelta(minutes=5), True),
        (END + timedelta(minutes=30), True),
        (END + timedelta(minutes=30, seconds=1), False),
    ],
    ids=["before-lead", "at-lead", "at-grace-end", "after-grace"],
)
def test_match_window_runs_from_five_minutes_before_start_to_end_plus_grace(offset: datetime, caught: bool) -> None:
    """Alerts count from start-5min to end+grace inclusive, and are unexpected outside."""
    event = alert(offset)

    card = score([event], [incident()], grace=timedelta(minutes=30))

    assert card.incidents[0].caught is caught
    assert card.unexpected == ([] if caught else [event])


def test_default_grace_covers_late_metering_data() -> None:
    """By default an alert up to 6 h after the incident's end still matches it."""
    inside = alert(END + timedelta(hours=6))
    outside = alert(END + timedelta(hours=6, seconds=1))

    card = score([inside, outside], [incident()])

    assert [d.at for d in card.incidents[0].detections] == [inside.at]
    assert card.unexpected == [outside]


def test_detection_delay_is_measured_from_the_first_match() -> None:
    """With several detections the earliest one gives the delay, whatever the event order."""
    late = alert(START + timedelta(minutes=40), rule="latency-p95")
    early = alert(START + timedelta(minutes=7), rule="warehouse-queueing")
    before = alert(START - timedelta(minutes=2), rule="queued-share")

    result = score([late, early], [incident()]).incidents[0]
    with_lead = score([late, before, early], [incident()]).incidents[0]

    assert len(result.detections) == 2
    assert result.first is not None
    assert result.first.rule == "warehouse-queueing"
    assert result.delay == timedelta(minutes=7)
    assert with_lead.delay == -timedelta(minutes=2)


def test_only_firing_events_count() -> None:
    """PENDING, ESCALATED, DEESCALATED, RESOLVED and cancelled events neither detect nor count as noise."""
    at = START + timedelta(minutes=5)
    others = [alert(at, kind=k) for k in EventKind if k is not EventKind.FIRING]

    card = score(others, [incident()])

    assert not card.incidents[0].caught
    assert card.unexpected == []


def test_ignored_rules_neither_detect_nor_count_as_noise() -> None:
    """Rules in ignore_rules are dropped before matching."""
    matching = alert(START + timedelta(minutes=5), rule="agent-self-cost")
    stray = alert(START + timedelta(minutes=5), {"warehouse": "OTHER_WH"}, rule="agent-self-cost")
    kept = alert(START + timedelta(minutes=9), {"warehouse": "OTHER_WH"}, rule="warehouse-queueing")

    card = score([matching, stray, kept], [incident()], ignore_rules=("agent-self-cost",))

    assert not card.incidents[0].caught
    assert card.unexpected == [kept]


def test_recall_is_caught_over_total() -> None:
    """recall = incidents caught / incidents scripted; with no incidents it is 1.0."""
    incidents = [
        incident("a", warehouse="A_WH", service=None, domain=None),
        incident("b", warehouse="B_WH", service=None, domain=None),
        incident("c", warehouse="C_WH", service=None, domain=None),
    ]
    events = [alert(START, {"warehouse": "A_WH"}), alert(START, {"warehouse": "C_WH"})]

    card = score(events, incidents)

    assert [s.caught for s in card.incidents] == [True, False, True]
    assert card.recall == pytest.approx(2 / 3)
    assert score(events, []).recall == 1.0
    assert score(events, []).unexpected == events


def test_one_alert_can_catch_overlapping_incidents() -> None:
    """An alert matching two incidents is a detection for both and not unexpected."""
    first = incident("a")
    second = incident("b", start=START + timedelta(minutes=20), end=END + timedelta(hours=1))
    event = alert(START + timedelta(minutes=30))

    card = score([event], [first, second])

    assert [s.caught for s in card.incidents] == [True, True]
    assert [s.delay for s in card.incidents] == [timedelta(minutes=30), timedelta(minutes=10)]
    assert card.unexpected == []


def test_scorecard_to_dict_reports_delays_detections_and_noise() -> None:
    """to_dict() gives per-incident outcome with delay in seconds, recall and the unexpected alerts."""
    hit = alert(START + timedelta(minutes=2, seconds=30))
    noise = alert(START, {"warehouse": "OTHER_WH"}, rule="noisy-rule", severity=Severity.SEV4)
    missed = incident("b", warehouse="B_WH", service=None, domain=None)

    data = score([hit, noise], [incident(), missed]).to_dict()

    assert data["recall"] == 0.5
    assert data["incidents"][0]["id"] == "inc-1"
    assert data["incidents"][0]["kind"] == "queue_storm"
    assert data["incidents"][0]["caught"] is True
    assert data["incidents"][0]["detection_delay_s"] == 150.0
    assert data["incidents"][0]["detections"] == [
        {"rule": "warehouse-queueing", "severity": "sev2", "at": hit.at.isoformat(), "labels": {"warehouse": "ETL_WH"}}
    ]
    assert (data["incidents"][1]["caught"], data["incidents"][1]["detection_delay_s"]) == (False, None)
    assert data["unexpected_alerts"] == [
        {"rule": "noisy-rule", "severity": "sev4", "at": START.isoformat(), "labels": {"warehouse": "OTHER_WH"}}
    ]


def test_scorecard_reports_a_zero_detection_delay_as_zero() -> None:
    """An alert firing exactly at the incident start has a 0 s delay, not an unknown one."""
    data = score([alert(START)], [incident()]).to_dict()

    assert data["incidents"][0]["caught"] is True
    # Regression (fixed): simulate/scoring.py Scorecard.to_dict uses `s.delay.total_seconds() if s.delay else
    # None`;
    # timedelta(0) is falsy, so a caught incident with zero delay reports detection_delay_s None.
    assert data["incidents"][0]["detection_delay_s"] == 0.0


def test_an_alert_counts_once_for_the_incident_it_fits_best() -> None:
    """Two incidents overlap in time and share a domain: the Azure alert naming the stalled job's resource
    belongs to the stall, the warehouse alert to the storm — neither is credited to both."""
    from dataclasses import replace

    storm = incident("storm", warehouse="BI_WH", service="dashboards", domain="trading")
    stall = replace(
        incident("stall", warehouse="INGEST_WH", service="ingest", domain="trading", start=START + timedelta(hours=2)),
        kind=IncidentKind.STREAM_STALL,
        azure_resource="asa-enrich",
    )
    at = START + timedelta(hours=2, minutes=20)  # inside the stall, inside the storm's grace
    azure = alert(at, {"resource": "asa-enrich", "domain": "trading"}, rule="stream-analytics-watermark-delay")
    queue = alert(at, {"warehouse": "BI_WH", "domain": "trading"})

    card = score([azure, queue], [storm, stall])

    by_id = {s.incident.id: [d.rule for d in s.detections] for s in card.incidents}
    assert by_id == {"storm": ["warehouse-queueing"], "stall": ["stream-analytics-watermark-delay"]}
    assert card.unexpected == []
