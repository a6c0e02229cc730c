"""Unit tests of the durable outbox (``sre_agent.store.outbox``), the delivery loop
(``sre_agent.sinks.delivery``) and the JSONL and console sinks with their value rendering.

Delivery is driven with explicit ``now`` instants (epoch seconds) and a seeded ``random.Random``;
the sinks used to exercise retries are tiny in-memory destinations that fail a given number of
times. No wall clock is read and nothing sleeps.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from sre_agent.config.agent import DeliverySettings
from sre_agent.errors import SinkError
from sre_agent.model import AlertEvent, EventKind, Severity
from sre_agent.sinks.console import ConsoleSink, format_metrics, format_record
from sre_agent.sinks.delivery import backoff_seconds, deliver
from sre_agent.sinks.jsonl import JsonlSink
from sre_agent.sinks.render import human_bytes, human_ms, human_value
from sre_agent.store.db import Database
from sre_agent.store.outbox import Outbox, OutboxStats

NOW = 1_793_610_000  # 2026-11-02T09:00:00Z


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "state.db")
    yield database
    database.close()


@pytest.fixture
def outbox(db: Database) -> Outbox:
    return Outbox(db)


def enqueue(outbox: Outbox, sink: str, key: str, at: int = NOW, **payload: Any) -> bool:
    with outbox.db.transaction() as conn:
        return outbox.enqueue(conn, sink, key, {"event_id": payload.pop("event_id", 1), **payload}, at)


def row(outbox: Outbox, sink: str, key: str) -> dict[str, Any]:
    rows = outbox.db.read("SELECT * FROM outbox WHERE sink = ? AND dedup_key = ?", (sink, key))
    assert len(rows) == 1
    return dict(rows[0])


def settings(**kw: Any) -> DeliverySettings:
    return DeliverySettings(**{"batch_size": 100, "max_attempts": 8, "max_backoff": timedelta(seconds=60), **kw})


class RecordingSink:
    """A destination that fails its first ``failures`` sends with ``error``, then keeps every batch."""

    per_record = False

    def __init__(self, name: str, failures: int = 0, retryable: bool = True) -> None:
        self.name = name
        self.failures = failures
        self.retryable = retryable
        self.calls = 0
        self.batches: list[list[dict[str, Any]]] = []

    def send(self, records: list[dict[str, Any]]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise SinkError(self.name, f"unavailable (call {self.calls})", retryable=self.retryable)
        self.batches.append(records)

    def close(self) -> None:
        pass

    @property
    def keys(self) -> list[str]:
        return [r["dedup_key"] for batch in self.batches for r in batch]


class UpperBoundJitter(random.Random):
    """A 'random' source whose jitter is always the largest allowed: exposes the backoff ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


# ---------------------------------------------------------------------------------------------------------------
# outbox


def test_enqueue_is_idempotent_per_sink_and_dedup_key(outbox: Outbox) -> None:
    """A second enqueue of the same (sink, dedup_key) is ignored; another sink gets its own copy."""
    assert enqueue(outbox, "jsonl", "fp:1", summary="first") is True
    assert enqueue(outbox, "jsonl", "fp:1", summary="second") is False
    assert enqueue(outbox, "console", "fp:1", summary="first") is True

    jsonl = outbox.due("jsonl", NOW, 10)
    assert [(i.dedup_key, i.payload["summary"], i.attempts) for i in jsonl] == [("fp:1", "first", 0)]
    assert len(outbox.due("console", NOW, 10)) == 1


def test_due_honours_next_attempt_at_sink_limit_and_order(outbox: Outbox) -> None:
    """due() returns only this sink's pending items that are due, in the order of their states, at most ``limit``."""
    enqueue(outbox, "jsonl", "a", at=NOW)
    enqueue(outbox, "jsonl", "b", at=NOW + 100)
    enqueue(outbox, "jsonl", "c", at=NOW + 50)
    enqueue(outbox, "other", "x", at=NOW)

    assert [i.dedup_key for i in outbox.due("jsonl", NOW - 1, 10)] == []
    assert [i.dedup_key for i in outbox.due("jsonl", NOW + 50, 10)] == ["a", "c"]
    assert [i.dedup_key for i in outbox.due("jsonl", NOW + 100, 10)] == ["a", "c", "b"]
    assert [i.dedup_key for i in outbox.due("jsonl", NOW + 100, 2)] == ["a", "c"]

    a = outbox.due("jsonl", NOW, 1)[0]
    outbox.failed([a.id], "boom", at=NOW, retry_at=NOW + 500)
    assert [i.dedup_key for i in outbox.due("jsonl", NOW + 499, 10)] == ["c", "b"]
    assert [(i.dedup_key, i.attempts) for i in outbox.due("jsonl", NOW + 500, 10)] == [("a", 1), ("c", 0), ("b", 0)]


def test_due_skips_delivered_and_dead_items(outbox: Outbox) -> None:
    """Only pending items are ever handed out again."""
    for key in ("a", "b", "c"):
        enqueue(outbox, "jsonl", key)
    a, b, _ = outbox.due("jsonl", NOW, 10)
    outbox.delivered([a.id], NOW)
    outbox.failed([b.id], "fatal", NOW, retry_at=None)

    assert [i.dedup_key for i in outbox.due("jsonl", NOW + 10**6, 10)] == ["c"]
    assert (row(outbox, "jsonl", "a")["status"], row(outbox, "jsonl", "b")["status"]) == ("delivered", "dead")


def test_stats_report_queue_health_per_sink(outbox: Outbox) -> None:
    """stats() counts pending/dead/delivered, the oldest pending creation time and the latest error."""
    enqueue(outbox, "jsonl", "a", at=NOW)
    enqueue(outbox, "jsonl", "b", at=NOW + 10)
    enqueue(outbox, "jsonl", "c", at=NOW + 20)
    enqueue(outbox, "jsonl", "d", at=NOW + 30)
    enqueue(outbox, "console", "a", at=NOW + 5)
    a, b, c, _ = outbox.due("jsonl", NOW + 30, 10)
    outbox.delivered([a.id], NOW + 40)
    outbox.failed([b.id], "disk full", NOW + 40, retry_at=None)
    outbox.failed([c.id], "try later", NOW + 41, retry_at=NOW + 100)
    (console_item,) = outbox.due("console", NOW + 5, 10)
    outbox.delivered([console_item.id], NOW + 6)

    assert outbox.stats() == [
        OutboxStats("console", pending=0, dead=0, delivered=1, oldest_pending_at=None, last_error=None),
        OutboxStats("jsonl", pending=2, dead=1, delivered=1, oldest_pending_at=NOW + 20, last_error="try later"),
    ]


def test_stats_of_an_empty_outbox_is_empty(outbox: Outbox) -> None:
    """No deliveries ever queued means no per-sink rows."""
    assert outbox.stats() == []


# ---------------------------------------------------------------------------------------------------------------
# delivery loop


def test_deliver_marks_successful_items_delivered(outbox: Outbox) -> None:
    """Items handed to a sink that returns are delivered, with their dedup_key in the record."""
    enqueue(outbox, "mem", "fp:1", event_id=1, rule="r")
    enqueue(outbox, "mem", "fp:2", event_id=2, rule="r")
    sink = RecordingSink("mem")

    report = deliver(outbox, [sink], NOW, settings(), random.Random(0))

    assert (report.delivered, report.retried, report.dead, report.errors) == (2, 0, 0, [])
    assert sink.keys == ["fp:1", "fp:2"]
    assert sink.batches[0][0] == {"event_id": 1, "rule": "r", "dedup_key": "fp:1"}
    first = row(outbox, "mem", "fp:1")
    assert (first["status"], first["delivered_at"], first["attempts"]) == ("delivered", NOW, 1)
    assert deliver(outbox, [sink], NOW + 60, settings(), random.Random(0)).delivered == 0  # nothing twice


def test_deliver_sends_in_batches_of_batch_size(outbox: Outbox) -> None:
    """A backlog larger than batch_size is drained in several sends within one pass, and one record per call (each
    acknowledged at once) by a per-record sink."""
    for i in range(5):
        enqueue(outbox, "mem", f"k{i}")
        enqueue(outbox, "one", f"k{i}")
    batched = RecordingSink("mem")
    single = RecordingSink("one")
    single.per_record = True

    report = deliver(outbox, [batched, single], NOW, settings(batch_size=2), random.Random(0))

    assert report.delivered == 10
    assert [len(b) for b in batched.batches] == [2, 2, 1]
    assert [len(b) for b in single.batches] == [1, 1, 1, 1, 1]
    assert batched.keys == single.keys == [f"k{i}" for i in range(5)]


def test_retryable_failure_is_retried_later_until_it_succeeds(outbox: Outbox) -> None:
    """A retryable SinkError leaves the item pending with a jittered delay in [1 s, min(5 s·2^n, max_backoff)]."""
    enqueue(outbox, "mem", "fp:1")
    sink = RecordingSink("mem", failures=4)
    config = settings(max_attempts=8, max_backoff=timedelta(seconds=60))
    rng = random.Random(0)
    now = NOW
    retry_ats = []
    for attempt in range(1, 5):
        report = deliver(outbox, [sink], now, config, rng)
        item = row(outbox, "mem", "fp:1")
        assert (report.retried, report.delivered, item["status"], item["attempts"]) == (1, 0, "pending", attempt)
        assert item["last_error"] == f"sink mem: unavailable (call {attempt})"
        delay = item["next_attempt_at"] - now
        assert 1 <= delay <= min(60, 5 * 2**attempt)
        retry_ats.append(item["next_attempt_at"])
        # not due before its retry time
        assert deliver(outbox, [sink], item["next_attempt_at"] - 1, config, rng).retried == 0
        now = item["next_attempt_at"]

    report = deliver(outbox, [sink], now, config, rng)

    assert report.delivered == 1
    assert sink.calls == 5
    assert row(outbox, "mem", "fp:1")["status"] == "delivered"
    assert retry_ats == sorted(set(retry_ats))


def test_backoff_grows_exponentially_up_to_max_backoff(outbox: Outbox) -> None:
    """With the jitter at its ceiling, successive delays double from 10 s and stop at max_backoff."""
    enqueue(outbox, "mem", "fp:1")
    sink = RecordingSink("mem", failures=100)
    config = settings(max_attempts=100, max_backoff=timedelta(seconds=60))
    now = NOW
    delays = []
    for _ in range(6):
        deliver(outbox, [sink], now, config, UpperBoundJitter())
        retry_at = row(outbox, "mem", "fp:1")["next_attempt_at"]
        delays.append(retry_at - now)
        now = retry_at

    assert delays == [10, 20, 40, 60, 60, 60]


def test_backoff_seconds_stays_within_bounds() -> None:
    """backoff_seconds is at least 1 s and never above min(5 s·2^attempt, max_backoff)."""
    config = settings(max_backoff=timedelta(minutes=10))
    rng = random.Random(0)
    for attempt in range(1, 12):
        samples = [backoff_seconds(attempt, config, rng) for _ in range(50)]
        assert min(samples) >= 1
        assert max(samples) <= min(600, 5 * 2**attempt)


def test_retryable_failure_goes_dead_after_max_attempts(outbox: Outbox) -> None:
    """The max_attempts-th failed attempt dead-letters the item; it is never handed out again."""
    enqueue(outbox, "mem", "fp:1")
    sink = RecordingSink("mem", failures=100)
    config = settings(max_attempts=3)
    rng = random.Random(0)
    now = NOW
    reports = []
    for _ in range(3):
        reports.append(deliver(outbox, [sink], now, config, rng))
        now = row(outbox, "mem", "fp:1")["next_attempt_at"]

    assert [(r.retried, r.dead) for r in reports] == [(1, 0), (1, 0), (0, 1)]
    item = row(outbox, "mem", "fp:1")
    assert (item["status"], item["attempts"]) == ("dead", 3)
    assert deliver(outbox, [sink], NOW + 10**6, config, rng).dead == 0
    assert sink.calls == 3


def test_non_retryable_failure_is_dead_lettered_at_once(outbox: Outbox) -> None:
    """A SinkError with retryable=False dead-letters the record it refused on its first attempt; the next record,
    which it says nothing about, is still sent."""
    enqueue(outbox, "mem", "fp:1")
    enqueue(outbox, "mem", "fp:2")
    sink = RecordingSink("mem", failures=1, retryable=False)

    report = deliver(outbox, [sink], NOW, settings(max_attempts=8), random.Random(0))

    assert (report.dead, report.retried, report.delivered) == (1, 0, 1)
    assert report.errors == ["sink mem: unavailable (call 1)"]
    assert [row(outbox, "mem", k)["status"] for k in ("fp:1", "fp:2")] == ["dead", "delivered"]
    assert outbox.stats()[0].dead == 1


def test_a_failing_sink_does_not_block_another_sink(outbox: Outbox) -> None:
    """Deliveries to a healthy sink go through while a broken sink listed before it fails."""
    for sink_name in ("broken", "healthy"):
        enqueue(outbox, sink_name, "fp:1")
        enqueue(outbox, sink_name, "fp:2")
    broken = RecordingSink("broken", failures=100)
    healthy = RecordingSink("healthy")

    report = deliver(outbox, [broken, healthy], NOW, settings(), random.Random(0))

    assert (report.delivered, report.retried) == (2, 1)
    assert healthy.keys == ["fp:1", "fp:2"]
    # Only the record the broken sink failed is charged; the one behind it waits, never tried, for the next pass.
    assert [row(outbox, "broken", k)["attempts"] for k in ("fp:1", "fp:2")] == [1, 0]
    stats = {s.sink: s for s in outbox.stats()}
    assert (stats["broken"].pending, stats["broken"].delivered) == (2, 0)
    assert (stats["healthy"].pending, stats["healthy"].delivered) == (0, 2)
    assert stats["broken"].last_error == "sink broken: unavailable (call 1)"


class CrashingSink(RecordingSink):
    """A destination whose client raises something other than SinkError (a bug, a broken pipe)."""

    def send(self, records: list[dict[str, Any]]) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_sink_raising_an_unexpected_error_is_retried_and_does_not_block_others(outbox: Outbox) -> None:
    """Anything a sink raises counts as a failed, retryable delivery; the next sink still gets its items."""
    for sink_name in ("crashing", "healthy"):
        enqueue(outbox, sink_name, "fp:1")
    healthy = RecordingSink("healthy")

    report = deliver(outbox, [CrashingSink("crashing"), healthy], NOW, settings(), random.Random(0))

    assert healthy.keys == ["fp:1"]
    assert (report.delivered, report.retried) == (1, 1)
    crashed = row(outbox, "crashing", "fp:1")
    assert crashed["status"] == "pending"
    assert crashed["attempts"] == 1
    assert "BrokenPipeError" in crashed["last_error"]


def test_console_sink_reports_a_closed_stdout_as_a_sink_error() -> None:
    """A console whose stream is gone raises SinkError (so the outbox retries it), not a raw OSError."""

    class ClosedStream(io.StringIO):
        def write(self, _text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    sink = ConsoleSink(Console(file=ClosedStream(), width=120))
    with pytest.raises(SinkError, match="console"):
        sink.send([{"rule": "r", "severity": "sev3", "transition": "firing", "at": "2026-11-02T10:00:00Z"}])


# ---------------------------------------------------------------------------------------------------------------
# JsonlSink


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


def test_jsonl_sink_writes_one_line_per_record(tmp_path: Path) -> None:
    """Each record becomes one JSON line carrying its dedup_key; missing folders are created."""
    path = tmp_path / "out" / "alerts.jsonl"
    sink = JsonlSink(path)

    sink.send([{"dedup_key": "fp:1", "rule": "r1"}, {"dedup_key": "fp:2", "rule": "r2"}])
    sink.send([{"dedup_key": "fp:3", "rule": "r3"}])

    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]
    assert records == [
        {"dedup_key": "fp:1", "rule": "r1"},
        {"dedup_key": "fp:2", "rule": "r2"},
        {"dedup_key": "fp:3", "rule": "r3"},
    ]


def test_jsonl_sink_skips_a_dedup_key_already_written(tmp_path: Path) -> None:
    """Sending a known dedup_key again writes nothing, also from a new sink after a restart."""
    path = tmp_path / "alerts.jsonl"
    JsonlSink(path).send([{"dedup_key": "fp:1", "n": 1}])
    before = path.read_bytes()

    sink = JsonlSink(path)
    sink.send([{"dedup_key": "fp:1", "n": 2}])
    sink.send([{"dedup_key": "fp:1", "n": 3}])
    assert path.read_bytes() == before

    sink.send([{"dedup_key": "fp:1", "n": 4}, {"dedup_key": "fp:2", "n": 5}])
    assert [json.loads(line)["n"] for line in path.read_text(encoding="utf-8").splitlines()] == [1, 5]


def test_jsonl_sink_tolerates_a_torn_last_line(tmp_path: Path) -> None:
    """A crash mid-line leaves invalid JSON without a newline: the record is rewritten on a line of its own."""
    path = tmp_path / "alerts.jsonl"
    path.write_text('{"dedup_key": "fp:1"}\n{"dedup_key": "fp:2", "ru', encoding="utf-8")

    JsonlSink(path).send([{"dedup_key": "fp:2", "rule": "r"}])

    assert lines(path) == [
        '{"dedup_key": "fp:1"}',
        '{"dedup_key": "fp:2", "ru',
        '{"dedup_key": "fp:2", "rule": "r"}',
        "",
    ]


def test_jsonl_sink_raises_sink_error_when_parent_is_a_file(tmp_path: Path) -> None:
    """A path that cannot be created raises a retryable SinkError naming the sink and path."""
    (tmp_path / "plain-file").write_text("x", encoding="utf-8")
    path = tmp_path / "plain-file" / "alerts.jsonl"

    with pytest.raises(SinkError, match=r"sink alerts: cannot write .*plain-file") as caught:
        JsonlSink(path, name="alerts").send([{"dedup_key": "fp:1"}])
    assert caught.value.retryable is True


def test_jsonl_sink_raises_sink_error_when_path_is_a_directory(tmp_path: Path) -> None:
    """A path that is a directory is unwritable and must be reported as SinkError, not a raw OSError."""
    # Regression (fixed): sinks/jsonl.py JsonlSink.send calls _load_seen() (path.open("r")) outside its
    # try/except
    # OSError, so IsADirectoryError escapes instead of SinkError — and deliver() only catches SinkError,
    # so one misconfigured JSONL path aborts the whole delivery pass for every sink after it.
    with pytest.raises(SinkError):
        JsonlSink(tmp_path).send([{"dedup_key": "fp:1"}])


# ---------------------------------------------------------------------------------------------------------------
# console sink


def event(kind: EventKind = EventKind.FIRING) -> dict[str, Any]:
    start = datetime(2026, 11, 2, 9, 5, 30, tzinfo=UTC)
    return AlertEvent(
        event_id=7,
        fingerprint="0123456789abcdef",
        rule="warehouse-queueing",
        kind=kind,
        severity=Severity.SEV2,
        labels={"warehouse": "ETL_WH", "team": "data-platform", "alertname": "warehouse-queueing"},
        annotations={"summary": "ETL_WH queued 42% of queries", "runbook": "runbooks/warehouse-queueing.md"},
        at=start + timedelta(minutes=30 if kind is EventKind.RESOLVED else 0),
        starts_at=start,
        ends_at=start + timedelta(minutes=30) if kind is EventKind.RESOLVED else None,
        value=0.42,
        threshold=0.2,
        evidence={},
    ).to_record()


def render(records: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    ConsoleSink(Console(file=buffer, width=200, color_system=None)).send(records)
    return buffer.getvalue()


def test_console_line_shows_status_severity_rule_labels_summary_and_runbook() -> None:
    """A firing notification prints as one line with everything an on-call needs."""
    out = render([event()])

    assert out.count("\n") == 1
    line = out.rstrip("\n")
    assert line.startswith("2026-11-02 09:05Z FIRING ")
    assert " sev2 " in line
    assert "warehouse-queueing {team=data-platform, warehouse=ETL_WH}" in line
    assert "alertname=" not in line
    assert "ETL_WH queued 42% of queries" in line
    assert line.endswith("runbook: runbooks/warehouse-queueing.md")


def test_console_slo_metrics_line_says_what_the_budget_left_is_a_share_of() -> None:
    record = {
        "type": "metrics", "slo": "risk-calculation-latency", "at": "2026-11-03T15:45:00Z", "state": "page",
        "budget_of": "rolling 28d",
        "points": [
            {"name": "slo_error_budget_remaining", "dims": {}, "value": 0.0557},
            {"name": "slo_burn_rate", "dims": {"window": "1h"}, "value": 23.15},
        ],
    }  # fmt: skip
    line = format_metrics(record).plain
    assert "risk-calculation-latency  5.57 % of the rolling 28d error budget left" in line
    assert "burn 1h 23.15x" in line


def test_console_resolved_line_omits_the_runbook() -> None:
    """A resolved notification keeps status, rule, labels and summary but drops the runbook."""
    line = render([event(EventKind.RESOLVED)]).rstrip("\n")

    assert "RESOLVED" in line
    assert "warehouse-queueing {team=data-platform, warehouse=ETL_WH}" in line
    assert "ETL_WH queued 42% of queries" in line
    assert "runbook" not in line


def test_console_prints_one_line_per_record() -> None:
    """Several records give as many lines, in order."""
    out = render([event(), event(EventKind.ESCALATED), event(EventKind.RESOLVED)])

    assert [line.split()[2] for line in out.splitlines()] == ["FIRING", "ESCALATED", "RESOLVED"]


def test_format_record_falls_back_to_status_and_tolerates_missing_fields() -> None:
    """Without a transition the status is shown; no labels or annotations means no braces or runbook."""
    text = format_record({"status": "firing", "severity": "sev4", "rule": "r", "at": "2026-11-02T09:05:00Z"}).plain

    assert text.startswith("2026-11-02 09:05Z FIRING ")
    assert text.endswith(" sev4 r")
    assert "{" not in text
    assert "runbook" not in text


# ---------------------------------------------------------------------------------------------------------------
# render


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0 ms"),
        (850, "850 ms"),
        (1000, "1.0 s"),
        (12_400, "12.4 s"),
        (60_000, "1m 00s"),
        (185_000, "3m 05s"),
        (3_599_000, "59m 59s"),
        (3_600_000, "1h 00m"),
        (3_725_000, "1h 02m"),
        (26 * 3_600_000, "26h 00m"),
    ],
)
def test_human_ms(ms: float, text: str) -> None:
    """Durations pick ms, seconds, minutes+seconds or hours+minutes."""
    assert human_ms(ms) == text


@pytest.mark.parametrize(("ms", "text"), [(999.6, "1.0 s"), (59_960, "1m 00s")])
def test_human_ms_rounding_never_shows_the_next_unit_s_value(ms: float, text: str) -> None:
    """Values that round up to the next unit are shown in that unit (never '1000 ms' or '60.0 s')."""
    # Regression (fixed): sinks/render.py human_ms picks the unit before rounding: 999.6 -> "1000 ms", 59_960 -> "60.0
    # s".
    assert human_ms(ms) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (1_500_000, "1.5 MB"),
        (2.5e9, "2.5 GB"),
        (2.5e12, "2.5 TB"),
        (3e15, "3.0 PB"),
        (3e18, "3000.0 PB"),
        (-2048, "-2.0 kB"),
    ],
)
def test_human_bytes(n: float, text: str) -> None:
    """Bytes use decimal units up to PB."""
    assert human_bytes(n) == text


def test_human_bytes_rounding_never_shows_1000_of_a_unit() -> None:
    """A value that rounds to 1000 of a unit is shown in the next unit."""
    # Regression (fixed): sinks/render.py human_bytes picks the unit before rounding: 999_960 -> "1000.0 kB" (want "1.0
    # MB").
    assert human_bytes(999_960) == "1.0 MB"


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (12_400.0, "ms", "12.4 s"),
        (0.1234, "ratio", "12.3 %"),
        (1_500_000.0, "bytes", "1.5 MB"),
        (3.14159, "credits", "3.14 credits"),
        (2.26, "credits/h", "2.3 credits/h"),
        (42.0, "queries", "42"),
        (2.5, "queries", "2.5"),
        (0.5, "queries/s", "0.5 queries/s"),
        (3.0, "", "3"),
    ],
)
def test_human_value_formats_each_unit(value: float, unit: str, text: str) -> None:
    """Every known unit has its own format; unknown units are appended to a compact number."""
    assert human_value(value, unit) == text


@pytest.mark.parametrize("unit", ["ms", "ratio", "bytes", "credits", "credits/h", "queries", "other"])
def test_human_value_of_missing_values_is_na(unit: str) -> None:
    """None and NaN render as n/a whatever the unit."""
    assert human_value(None, unit) == "n/a"
    assert human_value(float("nan"), unit) == "n/a"


def test_the_jsonl_file_is_rotated_by_size_and_a_restart_still_writes_a_recent_key_once(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    sink = JsonlSink(path, "file", max_bytes=10_000, keep=2)
    padding = "x" * 900
    for i in range(40):  # ~40 KB: rotated several times, the oldest dropped
        sink.send([{"dedup_key": f"k{i}", "summary": padding}])

    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["alerts.jsonl", "alerts.jsonl.1", "alerts.jsonl.2"]
    assert all(p.stat().st_size <= 10_000 + 1_000 for p in tmp_path.iterdir())
    newest_rotated = [json.loads(line)["dedup_key"] for line in (tmp_path / "alerts.jsonl.1").read_text().splitlines()]

    restarted = JsonlSink(path, "file", max_bytes=10_000, keep=2)
    restarted.send([{"dedup_key": newest_rotated[0], "summary": "again"}, {"dedup_key": "k39", "summary": "again"}])
    everything = "".join(p.read_text() for p in tmp_path.iterdir())
    assert everything.count('"again"') == 0, "keys of the current and the newest rotated file are known at start"
