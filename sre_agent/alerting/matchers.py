"""Label matchers in Alertmanager's syntax: ``name="value"``, ``name!="value"``, ``name=~"regex"``, ``name!~"regex"``.

Regexes are anchored at both ends, as in Alertmanager (``warehouse=~"RISK.*"`` matches ``RISK_WH``,
not ``X_RISK_WH``). A label an alert does not carry matches as the empty string. Besides its labels an
alert is matched on ``rule`` (and its alias ``alertname``) and ``severity``.

Regexes have RE2 semantics, as in Prometheus and Alertmanager (google-re2, the reference implementation's
bindings): matching is linear in the label value's length whatever the pattern, so a pattern such as
``(x+x+)+y`` meeting a hostile label value (any Snowflake user sets QUERY_TAG) cannot freeze evaluation.
What RE2 does not support — backreferences, lookaround — is refused with the parser's message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import re2

from sre_agent.model import Labels

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is the user's ValueError, not a line on stderr

_MATCHER_RE = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


class MatchOp(StrEnum):
    """How a matcher compares a label value."""

    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True)
class Matcher:
    """One parsed matcher."""

    name: str
    op: MatchOp
    value: str
    pattern: Any = None
    """The compiled RE2 pattern of ``=~`` and ``!~``."""

    def matches(self, labels: Labels) -> bool:
        """Return whether ``labels`` satisfy this matcher (a missing label is the empty string)."""
        actual = labels.get(self.name, "")
        match self.op:
            case MatchOp.EQ:
                return actual == self.value
            case MatchOp.NE:
                return actual != self.value
            case MatchOp.RE:
                assert self.pattern is not None
                return self.pattern.fullmatch(actual) is not None
            case MatchOp.NRE:
                assert self.pattern is not None
                return self.pattern.fullmatch(actual) is None
        raise AssertionError(self.op)  # pragma: no cover

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op.value}"{escaped}"'


def parse_matcher(text: str) -> Matcher:
    """Parse one matcher such as ``warehouse=~"RISK_.*"`` (quotes optional for simple values).

    Raises:
        ValueError: the text is not a matcher, or its regex does not compile.
    """
    found = _MATCHER_RE.match(text)
    if not found:
        raise ValueError(f'{text!r} is not a matcher: use name="value", name!="value", name=~"regex" or name!~"regex"')
    name, op_text, raw = found.groups()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        value = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    elif '"' in raw:
        raise ValueError(f"{text!r}: unbalanced quotes in the value")
    else:
        value = raw
    op = MatchOp(op_text)
    pattern = None
    if op in (MatchOp.RE, MatchOp.NRE):
        pattern = compile_pattern(value, text)
    return Matcher(name, op, value, pattern)


def compile_pattern(value: str, where: str) -> Any:
    """Compile a user's regex with RE2 (linear-time matching).

    Raises:
        ValueError: it does not compile, or uses what RE2 refuses (backreferences, lookaround).
    """
    try:
        return re2.compile(value, options=_RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"{where!r}: invalid regex (RE2): {detail}") from None


def matches_all(matchers: tuple[Matcher, ...] | list[Matcher], labels: Labels) -> bool:
    """Return whether every matcher matches ``labels`` (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)


def alert_labels(rule: str, labels: Labels, severity: str | None) -> dict[str, str]:
    """The labels matchers see for an alert: its labels plus ``rule``, ``alertname`` and ``severity``."""
    return {**labels, "rule": rule, "alertname": rule, "severity": severity or ""}
