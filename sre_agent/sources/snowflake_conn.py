"""Connecting to Snowflake with snowflake-connector-python: config, SNOWFLAKE_* variables or connections.toml."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any

from sre_agent.config.agent import SnowflakeConnection
from sre_agent.logs import register_secret

log = logging.getLogger(__name__)

AGENT_QUERY_TAG = json.dumps({"service": "sre-agent", "domain": "observability"})
"""The agent tags its own queries so their cost shows up under its own name in every report."""

_ENV = {
    "account": "SNOWFLAKE_ACCOUNT",
    "user": "SNOWFLAKE_USER",
    "role": "SNOWFLAKE_ROLE",
    "warehouse": "SNOWFLAKE_WAREHOUSE",
    "authenticator": "SNOWFLAKE_AUTHENTICATOR",
    "password": "SNOWFLAKE_PASSWORD",
    "private_key_file": "SNOWFLAKE_PRIVATE_KEY_FILE",
    "private_key_file_pwd": "SNOWFLAKE_PRIVATE_KEY_FILE_PWD",
    "token": "SNOWFLAKE_TOKEN",
}
SECRET_FIELDS = ("password", "private_key_file_pwd", "token")


def session_parameters(settings: SnowflakeConnection | None) -> dict[str, Any]:
    """Session parameters for every agent connection."""
    timeout = int(settings.query_timeout.total_seconds()) if settings else 600
    return {
        "QUERY_TAG": AGENT_QUERY_TAG,
        "TIMEZONE": "UTC",
        "STATEMENT_TIMEOUT_IN_SECONDS": timeout,
        "CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False,
    }


def connect_kwargs(settings: SnowflakeConnection, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Return keyword arguments for ``snowflake.connector.connect`` (secrets unwrapped only here).

    Precedence: explicit config fields, then ``SNOWFLAKE_*`` environment variables; with
    ``connection_name`` the connector reads the rest from ``~/.snowflake/connections.toml``.
    """
    env = os.environ if environ is None else environ
    kwargs: dict[str, Any] = {}
    if settings.connection_name:
        kwargs["connection_name"] = settings.connection_name
    for field, var in _ENV.items():
        value = getattr(settings, field)
        if value is None and var in env:
            value = env[var]
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if field in SECRET_FIELDS:
            register_secret(str(value))
        kwargs[field] = str(value)
    if "token" in kwargs and "authenticator" not in kwargs:
        kwargs["authenticator"] = "oauth"
    if settings.token_file_path is not None:
        kwargs["token_file_path"] = str(settings.token_file_path)
        kwargs.setdefault("authenticator", "oauth")
    if settings.private_key_file is not None or "private_key_file" in kwargs:
        kwargs.setdefault("authenticator", "SNOWFLAKE_JWT")
    for field in ("host", "port", "protocol"):
        value = getattr(settings, field)
        if value is not None:
            kwargs[field] = value
    kwargs.update(
        login_timeout=int(settings.login_timeout.total_seconds()),
        network_timeout=int(settings.network_timeout.total_seconds()),
        session_parameters=session_parameters(settings),
        paramstyle="qmark",
        application="sre-agent",
    )
    return kwargs


def redacted(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Return ``kwargs`` safe to log: secret values replaced by ``***``."""
    return {k: ("***" if k in SECRET_FIELDS else v) for k, v in kwargs.items()}


def connector(kwargs: dict[str, Any]) -> Callable[[], Any]:
    """Return a function that opens a new connection with ``kwargs``."""

    def open_connection() -> Any:
        import snowflake.connector

        log.debug("connecting to Snowflake with %s", redacted(kwargs))
        return snowflake.connector.connect(**kwargs)

    return open_connection
