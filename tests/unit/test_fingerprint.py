"""Unit tests of ``sre_agent.alerting.fingerprint``: the stable alert identity used as dedup key."""

from __future__ import annotations

import re

from sre_agent.alerting.fingerprint import fingerprint

LABELS = {"warehouse": "RISK_WH", "team": "data-platform", "environment": "prod"}


def test_fingerprint_is_sixteen_lowercase_hex_digits() -> None:
    assert re.fullmatch(r"[0-9a-f]{16}", fingerprint("warehouse-queueing", LABELS))


def test_fingerprint_is_stable_regardless_of_label_order() -> None:
    reordered = dict(reversed(list(LABELS.items())))
    assert list(reordered) != list(LABELS)

    assert fingerprint("warehouse-queueing", reordered) == fingerprint("warehouse-queueing", LABELS)


def test_fingerprint_is_a_pure_function_of_its_inputs() -> None:
    assert fingerprint("warehouse-queueing", dict(LABELS)) == fingerprint("warehouse-queueing", dict(LABELS))


def test_fingerprint_known_value_does_not_drift_across_releases() -> None:
    # sha256("r\x1da\x1e1\x1fb\x1e2")[:16]; a change here would split every open incident downstream.
    assert fingerprint("r", {"b": "2", "a": "1"}) == "c7125acdf4064c3d"


def test_fingerprint_ignores_the_severity_label() -> None:
    base = fingerprint("warehouse-queueing", LABELS)

    assert fingerprint("warehouse-queueing", {**LABELS, "severity": "sev2"}) == base
    assert fingerprint("warehouse-queueing", {**LABELS, "severity": "sev3"}) == base


def test_fingerprint_differs_for_different_rules() -> None:
    assert fingerprint("warehouse-queueing", LABELS) != fingerprint("warehouse-remote-spill", LABELS)


def test_fingerprint_differs_for_different_label_values() -> None:
    other = {**LABELS, "warehouse": "INGEST_WH"}

    assert fingerprint("warehouse-queueing", LABELS) != fingerprint("warehouse-queueing", other)


def test_fingerprint_differs_when_a_label_is_added_or_removed() -> None:
    fewer = {k: v for k, v in LABELS.items() if k != "environment"}

    assert fingerprint("warehouse-queueing", fewer) != fingerprint("warehouse-queueing", LABELS)


def test_fingerprint_does_not_confuse_label_names_with_values() -> None:
    assert fingerprint("r", {"a": "b"}) != fingerprint("r", {"b": "a"})
    assert fingerprint("r", {"ab": "c"}) != fingerprint("r", {"a": "bc"})
    assert fingerprint("r", {}) != fingerprint("r-", {})
