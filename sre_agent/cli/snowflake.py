"""Snowflake as a one-shot command reaches it: the configured account through the connector, or the embedded fake
Snowflake started for the command (and stopped after it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sre_agent.config.loader import LoadedConfig
from sre_agent.sources.snowflake import SnowflakeSource


@contextmanager
def snowflake_source(loaded: LoadedConfig) -> Iterator[tuple[SnowflakeSource, str]]:
    """A source on ``loaded``'s Snowflake and the words for where it is; closed (and an embedded account stopped)
    on exit."""
    from sre_agent.simulate.embedded import start_embedded
    from sre_agent.sources.snowflake_conn import connect_kwargs, connector

    settings = loaded.config.spec.snowflake
    account = None
    if settings.embedded is not None:
        account = start_embedded(settings.embedded, datetime.now(UTC))
        connect = connector(account.connect_kwargs())
        where = "the embedded fake Snowflake"
    else:
        assert settings.connection is not None  # the config validator requires one of the two
        connect = connector(connect_kwargs(settings.connection))
        where = f"account {settings.connection.account}"
    source = SnowflakeSource(connect, loaded.latency_thresholds_ms())
    try:
        yield source, where
    finally:
        source.close()
        if account is not None:
            account.stop()
