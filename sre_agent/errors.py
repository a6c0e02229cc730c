"""One exception tree for the whole agent; messages read as a path to the fault."""

from __future__ import annotations

from dataclasses import dataclass


class SreAgentError(Exception):
    """Base of every error the agent raises on purpose."""


class UsageError(SreAgentError):
    """The command was asked something it cannot do (a bad argument value, an unknown id): exit 2."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem found in a config or rule file, located as ``file:line:col``."""

    file: str
    line: int
    column: int
    path: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        what = f"{self.path}: " if self.path else ""
        prefix = "" if self.severity == "error" else f"{self.severity}: "
        return f"{where}: {prefix}{what}{self.message}"


class ConfigError(SreAgentError):
    """One or more config problems; ``issues`` holds every one of them, not just the first."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        errors = [i for i in issues if i.severity == "error"]
        head = f"{len(errors)} config error(s)"
        super().__init__(head + "\n" + "\n".join(str(i) for i in issues))


class SourceError(SreAgentError):
    """A data source (Snowflake, Azure) could not be read."""

    def __init__(self, source: str, query: str, message: str) -> None:
        self.source = source
        self.query = query
        super().__init__(f"{source}: {query}: {message}")


class StoreError(SreAgentError):
    """The local state store failed (disk full, corrupt file, newer schema)."""


class SinkError(SreAgentError):
    """A sink could not deliver; ``retryable`` says whether the outbox should try again."""

    def __init__(
        self, sink: str, message: str, *, retryable: bool = True, retry_after: float | None = None, sent: int = 0
    ) -> None:
        self.sink = sink
        self.retryable = retryable
        self.retry_after = retry_after
        """Seconds the destination asked us to wait (``Retry-After``), if it said."""
        self.sent = sent
        """How many records of the batch, in order, were delivered before the failure."""
        super().__init__(f"sink {sink}: {message}")


class EmbeddedSnowflakeError(SreAgentError):
    """The embedded fake Snowflake could not be started or seeded."""


class RuleLimitError(SreAgentError):
    """A rule would raise more alert instances than its limit: it fails for this pass (agent-rule-error)."""
