"""The webhook sink through the outbox and delivery loop, against a loopback HTTPS receiver: what goes over the wire
(Common Alert Schema, PagerDuty Events v2), and 429/500/403/timeouts/refused connections handled as specified."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from https_fake import FakeHttps, Stream, serving

from sre_agent.config.agent import DeliverySettings
from sre_agent.config.loader import load_config
from sre_agent.errors import ConfigError
from sre_agent.sinks.delivery import deliver
from sre_agent.sinks.http_failures import retry_after_seconds, safe_url
from sre_agent.sinks.webhook import WebhookSink
from sre_agent.store.outbox import Outbox

REPO = Path(__file__).resolve().parents[2]
NOW = 1_767_571_200
SETTINGS = DeliverySettings(batch_size=10, max_attempts=5, max_backoff=timedelta(minutes=10))


def record(n: int, status: str = "firing", fp: str = "5c1e0f2a9b3d4e6f") -> dict[str, Any]:
    return {
        "event_id": n,
        "fingerprint": fp,
        "dedup_key": f"store:{fp}:{n}",
        "rule": "risk-engine-latency-p95",
        "transition": "firing" if status == "firing" else "resolved",
        "status": status,
        "severity": "sev2",
        "labels": {"warehouse": "RISK_WH", "service": "risk-engine", "domain": "risk"},
        "annotations": {"summary": "p95 latency 2m 50s", "runbook": "https://wiki.example/runbooks/latency"},
        "at": "2026-11-03T15:45:00Z",
        "starts_at": "2026-11-03T15:40:00Z",
        "ends_at": None if status == "firing" else "2026-11-03T18:25:00Z",
        "value": 170000.0,
        "threshold": 120000.0,
        "evidence": {"events": 75},
    }


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[FakeHttps]:
    yield from serving(tmp_path)


def enqueue(outbox: Outbox, sink: str, *records: dict[str, Any]) -> None:
    with outbox.db.transaction() as conn:
        for r in records:
            outbox.enqueue(conn, sink, r["dedup_key"], r, NOW)


def states(outbox: Outbox) -> list[tuple[str, str, int, int]]:
    rows = outbox.db.read("SELECT dedup_key, status, attempts, next_attempt_at FROM outbox ORDER BY id")
    return [(r["dedup_key"], r["status"], r["attempts"], r["next_attempt_at"]) for r in rows]


def sink(receiver: FakeHttps, **kwargs: Any) -> WebhookSink:
    url = kwargs.pop("url", f"{receiver.base}/workflows/run?sig=SECRETSIG")
    return WebhookSink("hook", url, ca_bundle=receiver.ca_pem, **kwargs)


def test_common_alert_schema_goes_over_the_wire_with_the_secret_header_and_dedup_key(receiver, outbox) -> None:
    hook = sink(receiver, secret="Bearer s3cr3t")
    enqueue(outbox, "hook", record(1), record(2, "resolved"))
    report = deliver(outbox, [hook], NOW, SETTINGS)
    hook.close()

    assert report.delivered == 2
    fired, resolved = receiver.seen
    assert (fired.method, fired.path, fired.query) == ("POST", "/workflows/run", {"sig": ["SECRETSIG"]})
    assert fired.headers["Authorization"] == "Bearer s3cr3t"
    assert fired.headers["X-Sre-Agent-Dedup-Key"] == "store:5c1e0f2a9b3d4e6f:1"
    assert fired.headers["Content-Type"] == "application/json"
    body = fired.json()
    assert body["schemaId"] == "azureMonitorCommonAlertSchema"
    essentials = body["data"]["essentials"]
    assert essentials["severity"] == "Sev2"
    assert essentials["monitorCondition"] == "Fired"
    assert essentials["originAlertId"] == "5c1e0f2a9b3d4e6f"
    assert essentials["alertRule"] == "risk-engine-latency-p95"
    assert essentials["configurationItems"] == ["RISK_WH", "risk-engine", "risk"]
    assert essentials["firedDateTime"] == "2026-11-03T15:40:00Z"
    assert essentials["resolvedDateTime"] is None
    assert body["data"]["customProperties"]["runbook"] == "https://wiki.example/runbooks/latency"
    assert body["data"]["alertContext"]["evidence"] == {"events": 75}
    closing = resolved.json()["data"]["essentials"]
    assert closing["monitorCondition"] == "Resolved"
    assert closing["resolvedDateTime"] == "2026-11-03T18:25:00Z"
    assert closing["alertId"] == essentials["alertId"], "fire and resolve are one Azure-style alert instance"
    assert [s[1] for s in states(outbox)] == ["delivered", "delivered"]


def test_pagerduty_events_trigger_and_resolve_on_the_fingerprint(receiver, outbox) -> None:
    hook = sink(receiver, fmt="pagerduty", secret="R0UTINGKEY", url=f"{receiver.base}/v2/enqueue")
    enqueue(outbox, "hook", record(1), record(2, "resolved"))
    deliver(outbox, [hook], NOW, SETTINGS)
    hook.close()

    trigger, resolve = (s.json() for s in receiver.seen)
    assert trigger["routing_key"] == "R0UTINGKEY"
    assert (trigger["event_action"], trigger["dedup_key"]) == ("trigger", "5c1e0f2a9b3d4e6f")
    assert trigger["payload"]["severity"] == "error"
    assert trigger["payload"]["source"] == "RISK_WH"
    assert trigger["links"] == [{"href": "https://wiki.example/runbooks/latency", "text": "runbook"}]
    assert resolve == {"routing_key": "R0UTINGKEY", "event_action": "resolve", "dedup_key": "5c1e0f2a9b3d4e6f"}
    assert "Authorization" not in receiver.seen[0].headers, "PagerDuty's key travels in the body only"


def test_429_is_retried_after_the_receivers_retry_after_then_delivered_once(receiver, outbox) -> None:
    hook = sink(receiver)
    receiver.answers = [(429, {"Retry-After": "120"}, {"error": "slow down"})]
    enqueue(outbox, "hook", record(1))
    first = deliver(outbox, [hook], NOW, SETTINGS, random.Random(1))
    assert (first.delivered, first.retried) == (0, 1)
    [(key, status, attempts, next_at)] = states(outbox)
    assert (status, attempts) == ("pending", 1)
    assert next_at >= NOW + 120, "Retry-After wins over a shorter backoff"
    assert deliver(outbox, [hook], NOW + 60, SETTINGS).delivered == 0, "not before the receiver said"
    assert deliver(outbox, [hook], next_at, SETTINGS).delivered == 1
    hook.close()
    assert len(receiver.seen) == 2
    assert {s.headers["X-Sre-Agent-Dedup-Key"] for s in receiver.seen} == {key}


def test_500_is_retried_and_403_is_dead_lettered_without_leaking_the_signed_url(receiver, outbox) -> None:
    hook = sink(receiver)
    receiver.answers = [(500, {}, {"error": "boom"}), (403, {}, {"error": "AuthorizationFailed"})]
    enqueue(outbox, "hook", record(1))
    retried = deliver(outbox, [hook], NOW, SETTINGS, random.Random(1))
    assert retried.retried == 1
    [(_, _, _, next_at)] = states(outbox)
    dead = deliver(outbox, [hook], next_at, SETTINGS)
    hook.close()
    assert dead.dead == 1
    [(_, status, attempts, _)] = states(outbox)
    assert (status, attempts) == ("dead", 2)
    error = outbox.db.read("SELECT last_error FROM outbox")[0]["last_error"]
    assert "HTTP 403" in error
    assert "AuthorizationFailed" in error
    assert "SECRETSIG" not in error
    assert all("SECRETSIG" not in e for e in retried.errors + dead.errors)


def test_a_failure_mid_batch_keeps_the_records_already_delivered(receiver, outbox) -> None:
    hook = sink(receiver)
    receiver.answers = [(200, {}, None), (503, {"Retry-After": "5"}, None)]
    enqueue(outbox, "hook", record(1), record(2), record(3))
    report = deliver(outbox, [hook], NOW, SETTINGS, random.Random(1))
    assert (report.delivered, report.retried) == (1, 1)
    assert [s[1] for s in states(outbox)] == ["delivered", "pending", "pending"]
    assert [s[2] for s in states(outbox)] == [1, 1, 0], "only the record that failed is charged an attempt"
    later = max(s[3] for s in states(outbox))
    assert deliver(outbox, [hook], later, SETTINGS).delivered == 2
    hook.close()
    keys = [s.headers["X-Sre-Agent-Dedup-Key"] for s in receiver.seen]
    assert keys.count("store:5c1e0f2a9b3d4e6f:1") == 1, "the first record is never sent again"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_refused_connections_and_timeouts_are_retried(receiver, outbox) -> None:
    refused = WebhookSink("hook", f"https://127.0.0.1:{_closed_port()}/x", ca_bundle=receiver.ca_pem)
    enqueue(outbox, "hook", record(1))
    report = deliver(outbox, [refused], NOW, SETTINGS, random.Random(1))
    refused.close()
    assert report.retried == 1
    assert "ServiceRequestError" in report.errors[0]

    def slow(_: Any) -> tuple[int, dict[str, str], None]:
        import time

        time.sleep(2.5)
        return 200, {}, None

    receiver.answers = [slow]
    hook = sink(receiver, timeout_s=1.0)
    [(_, _, _, next_at)] = states(outbox)
    timed_out = deliver(outbox, [hook], next_at, SETTINGS, random.Random(1))
    hook.close()
    assert timed_out.retried == 1
    assert [s[1] for s in states(outbox)] == ["pending"]


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("30") == 30.0
    assert retry_after_seconds("Wed, 25 Nov 2026 12:01:30 GMT", now) == 90.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
    assert safe_url("https://x.logic.azure.com/workflows/1/run?api-version=1&sig=abc") == (
        "https://x.logic.azure.com/workflows/1/run"
    )
    assert safe_url("https://bob:hunter2@hooks.example:8443/x?sig=1") == "https://hooks.example:8443/x"


def _config(tmp: Path, sink_cfg: dict[str, Any]) -> Path:
    data = yaml.safe_load((REPO / "examples" / "embedded.yaml").read_text())
    spec = data["spec"]
    spec["rules"] = [str(REPO / "rules")]
    spec["slos"] = [str(REPO / "slo_definitions")]
    spec["runbooks"] = str(REPO / "runbooks")
    spec["store"]["path"] = str(tmp / "state.db")
    spec["sinks"] = [
        {"type": "console"},
        {"type": "jsonl", "name": "alerts-file", "path": str(tmp / "a.jsonl")},
        sink_cfg,
    ]
    path = tmp / "agent.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("sink_cfg", "message"),
    [
        ({"type": "webhook", "name": "teams", "url": "http://hooks.example/x"}, "url must use https"),
        ({"type": "webhook", "name": "teams", "url": "hooks.example/x"}, "url must be an absolute https URL"),
        (
            {"type": "webhook", "name": "pd", "url": "https://events.pagerduty.com/v2/enqueue", "format": "pagerduty"},
            "format pagerduty needs secret_env",
        ),
        (
            {"type": "webhook", "name": "teams", "url": "https://h.example/x", "secret_env": "SRE_TEST_UNSET_VAR"},
            "environment variable SRE_TEST_UNSET_VAR is not set",
        ),
        (
            {"type": "webhook", "name": "teams", "url": "https://h.example/x", "ca_bundle": "missing.pem"},
            "no such file",
        ),
        (
            {"type": "webhook", "name": "teams", "url": "https://h.example/x", "timeout": "10m"},
            "timeout must be between 1s and 2m",
        ),
        (
            {"type": "webhook", "name": "teams", "url": "https://bob:hunter2@h.example/x"},
            "url must not carry user:password@",
        ),
    ],
)
def test_bad_webhook_config_fails_at_load_with_a_location(
    tmp_path: Path, sink_cfg: dict[str, Any], message: str
) -> None:
    path = _config(tmp_path, sink_cfg)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    rendered = [str(i) for i in caught.value.issues]
    assert any(message in r and r.startswith(f"{path}:") and "spec.sinks[2]" in r for r in rendered), rendered


def test_a_good_webhook_config_loads_and_builds_its_sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sre_agent.daemon.runtime import build_sinks

    monkeypatch.setenv("SRE_TEST_HOOK_TOKEN", "Bearer t")
    path = _config(
        tmp_path,
        {"type": "webhook", "name": "teams", "url": "https://h.example/x?sig=1", "secret_env": "SRE_TEST_HOOK_TOKEN"},
    )
    loaded = load_config(path)
    sinks = build_sinks(loaded)
    hook = next(s for s in sinks if s.name == "teams")
    assert isinstance(hook, WebhookSink)
    assert "Bearer t" not in repr(loaded.config), "the secret lives in the environment, not in the config"
    for s in sinks:
        s.close()


def test_the_outbox_is_bounded_by_age_and_size_and_counts_what_it_drops(receiver, outbox) -> None:
    """Items older than delivery.max_age, and the oldest beyond delivery.max_pending, are dropped — counted in
    the delivery report and `status`, never sent late — and the rest are delivered."""
    from sre_agent.status import read_status

    hook = sink(receiver)
    with outbox.db.transaction() as conn:
        outbox.enqueue(conn, "hook", "old", record(0), NOW - 8 * 86_400)
        for n in range(1, 6):
            outbox.enqueue(conn, "hook", f"k{n}", record(n), NOW)
    bounded = SETTINGS.model_copy(update={"max_pending": 3, "max_age": timedelta(days=7)})
    report = deliver(outbox, [hook], NOW, bounded)
    hook.close()
    assert (report.dropped, report.delivered) == (3, 3)
    assert [s.headers["X-Sre-Agent-Dedup-Key"] for s in receiver.seen] == ["k3", "k4", "k5"]
    [stats] = outbox.stats()
    assert (stats.dropped, stats.delivered, stats.pending) == (3, 3, 0)
    [row] = read_status(outbox.db).outbox
    assert row["dropped"] == 3
    errors = {r["dedup_key"]: r["last_error"] for r in outbox.db.read("SELECT dedup_key, last_error FROM outbox")}
    assert errors["old"] == "dropped: older than delivery.max_age"
    assert errors["k1"] == "dropped: over delivery.max_pending"


class Kept:
    """An in-memory sink listed after the webhook: what it received shows whether the webhook held it up."""

    name = "kept"

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []

    def send(self, records: list[dict[str, Any]]) -> None:
        self.got.extend(records)

    def close(self) -> None:
        pass


def test_a_receiver_dripping_its_answer_is_cut_off_at_the_request_deadline_and_the_next_sink_delivers(
    receiver, outbox
) -> None:
    """30 bytes 0.3 s apart: every read is within the read timeout (0.5 s), the whole answer is not."""
    hook = sink(receiver, timeout_s=0.5)
    receiver.default = (503, {}, Stream(b"x", 30, delay=0.3))
    enqueue(outbox, "hook", record(1))
    with outbox.db.transaction() as conn:
        outbox.enqueue(conn, "kept", "k1", {"event_id": 1, "fingerprint": "other"}, NOW)
    kept = Kept()

    report = deliver(outbox, [hook, kept], NOW, SETTINGS, random.Random(0))
    hook.close()

    assert report.errors == [f"sink hook: POST {receiver.base}/workflows/run: no complete answer within 0.5s"]
    assert (report.retried, report.delivered) == (1, 1)
    assert [r["dedup_key"] for r in kept.got] == ["k1"]


def test_a_huge_error_body_is_read_only_up_to_its_first_64_kb(receiver, outbox) -> None:
    """A 4xx answering 300 MB: the error carries its first 300 characters and the agent never holds the body."""
    import tracemalloc

    hook = sink(receiver)
    receiver.default = (400, {}, Stream(b"E" * (1 << 20), 300))
    enqueue(outbox, "hook", record(1))
    tracemalloc.start()
    try:
        report = deliver(outbox, [hook], NOW, SETTINGS, random.Random(0))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    hook.close()

    assert report.dead == 1
    assert report.errors == [f"sink hook: POST {receiver.base}/workflows/run: HTTP 400: {'E' * 300}"]
    assert peak < 32 * (1 << 20), f"peak {peak / (1 << 20):.0f} MB while answering a 300 MB body"


def test_a_receiver_echoing_the_secret_in_its_answer_never_puts_it_in_the_outbox_or_the_errors(
    receiver, outbox
) -> None:
    token = "Bearer 9f86d081884c7d659a2feaa0c55ad015"
    hook = sink(receiver, secret=token)
    receiver.default = lambda seen: (401, {}, {"error": f"invalid {seen.headers['Authorization']}", "sig": "abc"})
    enqueue(outbox, "hook", record(1))

    report = deliver(outbox, [hook], NOW, SETTINGS, random.Random(0))
    hook.close()

    assert report.dead == 1
    stored = outbox.db.read("SELECT last_error FROM outbox")[0]["last_error"]
    assert "HTTP 401" in stored
    for text in [stored, *report.errors, *(str(s) for s in outbox.stats())]:
        assert "9f86d081884c7d659a2feaa0c55ad015" not in text
        assert "abc" not in text.split("sig")[-1][:8]
