"""Rule unit-test files (promtool-shaped): input series in the ``a+bxN`` notation, eval times, expected alerts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import Field, field_validator

from sre_agent.config.durations import Duration
from sre_agent.config.specs import Strict
from sre_agent.model import Severity

DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)
"""t = 0 of a test unless it says otherwise: a Monday, midnight UTC."""

_SERIES_RE = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:\{(.*)\})?\s*$")
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_UNSIGNED = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_TERM_RE = re.compile(rf"^(?P<a>[-+]?{_UNSIGNED})(?:(?P<op>[-+])(?P<b>{_UNSIGNED}))?(?:x(?P<n>\d+))?$")
_GAP_RE = re.compile(r"^(?:_|stale)(?:x(?P<n>\d+))?$")


def expand_values(text: str) -> list[float | None]:
    """Expand promtool's notation: ``a+bxn`` = a, then n more stepping by b; ``axn`` = a repeated n+1 times;
    ``_`` (or ``_xn``) = missing samples. ``stale`` reads as missing.

    Raises:
        ValueError: naming the term that does not parse.
    """
    out: list[float | None] = []
    for term in str(text).split():
        gap = _GAP_RE.match(term)
        if gap:
            out.extend([None] * (int(gap["n"]) if gap["n"] else 1))
            continue
        found = _TERM_RE.match(term)
        if not found:
            raise ValueError(f"cannot read {term!r}: use a, a+bxn, a-bxn, axn or _ (e.g. '1+2x3 _ 5x2')")
        start = float(found["a"])
        step = float(found["b"] or 0) * (-1 if found["op"] == "-" else 1)
        if found["n"] is None:
            if found["op"]:
                raise ValueError(f"{term!r}: a step needs a count, e.g. {found['a']}{found['op']}{found['b']}x10")
            out.append(start)
            continue
        out.extend(start + step * i for i in range(int(found["n"]) + 1))
    return out


def parse_series(text: str) -> tuple[str, dict[str, str]]:
    """Split ``name{label="value", …}`` into the name and its labels.

    Raises:
        ValueError: the selector does not parse.
    """
    found = _SERIES_RE.match(text)
    if not found:
        raise ValueError(f'{text!r} is not a series: write name{{label="value", ...}}')
    name, body = found.group(1), found.group(2) or ""
    labels: dict[str, str] = {}
    pos = 0
    body = body.strip()
    while pos < len(body):
        label = _LABEL_RE.match(body, pos)
        if not label:
            raise ValueError(f'{text!r}: cannot read the labels from {body[pos:]!r}; write label="value"')
        labels[label.group(1)] = label.group(2).replace('\\"', '"').replace("\\\\", "\\")
        pos = label.end()
    return name, labels


class InputSeries(Strict):
    """One input series: a measure of a rollup (or a convenience such as ``latency_ms``) and its values."""

    series: str
    values: str

    @field_validator("series")
    @classmethod
    def _series(cls, value: str) -> str:
        parse_series(value)
        return value

    @field_validator("values", mode="before")
    @classmethod
    def _values(cls, value: object) -> str:
        text = str(value)
        expand_values(text)
        return text


class ExpectedAlert(Strict):
    """An alert expected at an eval time: its labels (the agent's global labels left out), severity, state."""

    exp_labels: dict[str, str] = Field(default_factory=dict)
    severity: Severity | None = Field(default=None, description="checked when given")
    state: Literal["firing", "pending"] = "firing"


class AlertCase(Strict):
    """What must be true of one rule at one instant. An empty (or absent) ``exp_alerts`` means: nothing fires."""

    eval_time: Duration
    alertname: str
    exp_alerts: list[ExpectedAlert] = Field(default_factory=list)


class TestCase(Strict):
    """One scenario: input series from ``start`` every ``interval``, and the alert checks."""

    __test__ = False  # a spec, not a pytest class

    name: str = ""
    interval: Duration | None = Field(default=None, description="sample spacing (default: evaluation_interval)")
    start: datetime | None = Field(default=None, description="t = 0 (default 2026-01-05T00:00:00Z, a Monday)")
    input_series: list[InputSeries] = Field(default_factory=list)
    alert_rule_test: list[AlertCase] = Field(min_length=1)

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("start needs a time zone, e.g. 2026-11-03T14:00:00Z")
        return value


class RuleTestFile(Strict):
    """A test file: the rule/SLO files under test and the test cases."""

    rule_files: list[str] = Field(min_length=1, description="rule and SLO files, relative to this file")
    evaluation_interval: Duration = timedelta(minutes=1)
    tests: list[TestCase] = Field(min_length=1)

    @field_validator("evaluation_interval")
    @classmethod
    def _minutes(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1) or value % timedelta(minutes=1):
            raise ValueError("evaluation_interval must be a whole number of minutes (the agent evaluates per minute)")
        return value
