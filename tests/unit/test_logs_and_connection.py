"""Unit tests of secret-safe logging (``sre_agent.logs``) and of the Snowflake connection arguments
(``sre_agent.sources.snowflake_conn``).

Log output is captured by running ``logs.setup()`` and pointing its handler at a StringIO, so the
real filter and formatters are exercised. The registry of secrets and the root logger are restored
after every test. Connection arguments are built from an explicit ``environ`` dict; nothing connects.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from sre_agent import logs
from sre_agent.config.agent import SnowflakeConnection
from sre_agent.sources.snowflake_conn import connect_kwargs, redacted, session_parameters

SECRET = "hunter2-S3cr3t!"
NOISY = ("snowflake.connector", "urllib3", "fakesnow", "uvicorn", "apscheduler", "botocore")


@pytest.fixture(autouse=True)
def isolated_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no registered secrets and leaves none behind."""
    monkeypatch.setattr(logs, "_SECRETS", set())


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, with its handlers and levels (and the noisy loggers' levels) restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in NOISY}
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lvl in noisy.items():
        logging.getLogger(name).setLevel(lvl)


def capture(root: logging.Logger, fmt: str) -> io.StringIO:
    """Configure logging like the CLI does and return the stream its handler writes to."""
    logs.setup("DEBUG", fmt)
    assert len(root.handlers) == 1
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    handler.setStream(buffer)
    return buffer


def json_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


# ---------------------------------------------------------------------------------------------------------------
# registry and redact()


def test_short_or_empty_secrets_are_not_registered() -> None:
    """Values under 4 characters (and None/empty) are ignored so they cannot mask ordinary text."""
    for value in (None, "", "a", "ab", "abc"):
        logs.register_secret(value)

    assert not logs._SECRETS
    assert logs.redact("abc ab a") == "abc ab a"

    logs.register_secret("abcd")
    assert logs.redact("x abcd y") == "x *** y"


def test_redact_masks_every_occurrence_of_every_secret() -> None:
    """All registered secrets are replaced, however often they occur."""
    logs.register_secret(SECRET)
    logs.register_secret("tok-0123456789")

    text = logs.redact(f"{SECRET}/{SECRET} and tok-0123456789")

    assert text == "***/*** and ***"


def test_overlapping_secrets_are_masked_completely(monkeypatch: pytest.MonkeyPatch) -> None:
    """When one secret contains another, no part of the longer one survives redaction."""

    class InsertionOrderedSet(set[str]):
        """A set iterating in insertion order, to make the otherwise hash-dependent order explicit."""

        def __init__(self) -> None:
            super().__init__()
            self.order: list[str] = []

        def add(self, value: str) -> None:
            if value not in self:
                self.order.append(value)
            super().add(value)

        def __iter__(self) -> Iterator[str]:
            return iter(self.order)

    monkeypatch.setattr(logs, "_SECRETS", InsertionOrderedSet())
    logs.register_secret("pass")
    logs.register_secret("pass-word-123")

    # Regression (fixed): logs.redact replaces secrets in set-iteration order; if the shorter secret comes
    # first,
    # "pass-word-123" becomes "***-word-123" and the rest of the longer secret is logged. With a plain
    # set this depends on PYTHONHASHSEED; the fix is to replace longer secrets first.
    assert logs.redact("pw=pass-word-123") == "pw=***"


def test_redacting_filter_masks_message_args_and_exception_of_a_record() -> None:
    """The filter renders the message once (masked), drops args and stores a masked traceback."""
    logs.register_secret(SECRET)
    try:
        raise RuntimeError(f"auth failed for {SECRET}")
    except RuntimeError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "login %s as %r", (SECRET, {"pw": SECRET}), exc_info)

    assert logs.RedactingFilter().filter(record) is True

    assert record.getMessage() == "login *** as {'pw': '***'}"
    assert record.args is None
    assert record.exc_info is None
    assert record.exc_text is not None
    assert "RuntimeError: auth failed for ***" in record.exc_text
    assert SECRET not in record.exc_text


# ---------------------------------------------------------------------------------------------------------------
# formatted output through logs.setup()


def _log_everything(secret: str) -> None:
    log = logging.getLogger("sre_agent.test")
    log.info("connecting with password=%s", secret)
    log.warning(f"message text itself holds {secret}")  # the secret is in the message text itself
    log.debug("kwargs %r", {"password": secret, "account": "acme"})
    try:
        raise ConnectionError(f"250001: incorrect username or password {secret}")
    except ConnectionError:
        log.exception("connect failed")


def test_text_output_never_contains_a_registered_secret(root_logger: logging.Logger) -> None:
    """Text lines mask the secret in args, in the message and in exception tracebacks."""
    buffer = capture(root_logger, "text")
    logs.register_secret(SECRET)

    _log_everything(SECRET)
    out = buffer.getvalue()

    assert SECRET not in out
    assert "connecting with password=***" in out
    assert "message text itself holds ***" in out
    assert "kwargs {'password': '***', 'account': 'acme'}" in out
    assert "Traceback (most recent call last)" in out
    assert "ConnectionError: 250001: incorrect username or password ***" in out


def test_json_output_never_contains_a_registered_secret(root_logger: logging.Logger) -> None:
    """JSON lines mask the secret in message and exception fields and stay valid JSON."""
    buffer = capture(root_logger, "json")
    logs.register_secret(SECRET)

    _log_everything(SECRET)
    records = json_lines(buffer)

    assert SECRET not in buffer.getvalue()
    assert [r["message"] for r in records] == [
        "connecting with password=***",
        "message text itself holds ***",
        "kwargs {'password': '***', 'account': 'acme'}",
        "connect failed",
    ]
    assert [r["level"] for r in records] == ["INFO", "WARNING", "DEBUG", "ERROR"]
    assert {r["logger"] for r in records} == {"sre_agent.test"}
    assert "exception" not in records[0]
    assert records[3]["exception"].endswith("ConnectionError: 250001: incorrect username or password ***")
    assert all(r["time"].endswith("Z") for r in records)


def test_unregistered_values_are_logged_verbatim(root_logger: logging.Logger) -> None:
    """Redaction only touches registered secrets (short values are not registered, so not masked)."""
    buffer = capture(root_logger, "text")
    logs.register_secret("abc")

    logging.getLogger("sre_agent.test").info("role=%s wh=%s", "abc", "ETL_WH")

    assert "role=abc wh=ETL_WH" in buffer.getvalue()


def test_setup_sets_level_and_quietens_noisy_libraries(root_logger: logging.Logger) -> None:
    """setup() installs one masked handler at the asked level; chatty libraries log warnings and up."""
    logs.setup("debug", "json")

    assert root_logger.level == logging.DEBUG
    assert isinstance(root_logger.handlers[0].formatter, logs.JsonFormatter)
    assert any(isinstance(f, logs.RedactingFilter) for f in root_logger.handlers[0].filters)
    assert {logging.getLogger(name).level for name in NOISY} == {logging.WARNING}

    logs.setup("error", "text")
    assert len(root_logger.handlers) == 1
    assert {logging.getLogger(name).level for name in NOISY} == {logging.ERROR}


# ---------------------------------------------------------------------------------------------------------------
# connect_kwargs


def connection(**fields: Any) -> SnowflakeConnection:
    return SnowflakeConnection.model_validate(fields)


ENV = {
    "SNOWFLAKE_ACCOUNT": "env-account",
    "SNOWFLAKE_USER": "env-user",
    "SNOWFLAKE_ROLE": "ENV_ROLE",
    "SNOWFLAKE_WAREHOUSE": "ENV_WH",
    "SNOWFLAKE_PASSWORD": "env-password",
}


def subset(kwargs: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {k: kwargs.get(k) for k in keys}


def test_explicit_fields_win_over_environment_variables() -> None:
    """Config fields take precedence over SNOWFLAKE_* variables for the same setting."""
    settings = connection(
        account="cfg-account", user="cfg-user", role="CFG_ROLE", warehouse="CFG_WH", password="cfg-pw"
    )

    kwargs = connect_kwargs(settings, environ=ENV)

    assert subset(kwargs, ["account", "user", "role", "warehouse", "password"]) == {
        "account": "cfg-account",
        "user": "cfg-user",
        "role": "CFG_ROLE",
        "warehouse": "CFG_WH",
        "password": "cfg-pw",
    }


def test_environment_variables_fill_the_gaps() -> None:
    """Settings missing from the config come from SNOWFLAKE_* variables."""
    kwargs = connect_kwargs(connection(account="cfg-account"), environ=ENV)

    assert subset(kwargs, ["account", "user", "role", "warehouse", "password"]) == {
        "account": "cfg-account",
        "user": "env-user",
        "role": "ENV_ROLE",
        "warehouse": "ENV_WH",
        "password": "env-password",
    }


def test_explicit_environ_replaces_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """With environ= given, os.environ is not read; without it, it is."""
    monkeypatch.setenv("SNOWFLAKE_USER", "os-user")

    assert "user" not in connect_kwargs(connection(), environ={})
    assert connect_kwargs(connection())["user"] == "os-user"


def test_unset_settings_are_left_out() -> None:
    """Nothing set anywhere means no account/user/auth keys, leaving the connector's own defaults."""
    kwargs = connect_kwargs(connection(), environ={})

    assert not {"account", "user", "role", "warehouse", "password", "token", "authenticator", "host"} & set(kwargs)


def test_secrets_are_unwrapped_only_in_the_kwargs() -> None:
    """Config secrets stay SecretStr (masked in repr) and become plain strings in the kwargs only."""
    settings = connection(password="cfg-pw-1234", private_key_file="/keys/rsa.p8", private_key_file_pwd="key-pw-1234")

    kwargs = connect_kwargs(settings, environ={})

    assert isinstance(settings.password, SecretStr)
    assert "cfg-pw-1234" not in repr(settings)
    assert "key-pw-1234" not in settings.model_dump_json()
    assert kwargs["password"] == "cfg-pw-1234"
    assert kwargs["private_key_file_pwd"] == "key-pw-1234"
    assert all(isinstance(kwargs[k], str) for k in ("password", "private_key_file_pwd", "private_key_file"))


def test_secrets_are_registered_for_log_redaction() -> None:
    """Secrets from config or environment are masked in logs once the kwargs are built."""
    connect_kwargs(connection(token="oauth-token-5678"), environ={"SNOWFLAKE_PASSWORD": "env-password"})

    assert logs.redact("oauth-token-5678 env-password env-user") == "*** *** env-user"


def test_connection_name_is_passed_through() -> None:
    """connection_name goes to the connector, which reads the rest from connections.toml."""
    kwargs = connect_kwargs(connection(connection_name="prod"), environ={})

    assert kwargs["connection_name"] == "prod"
    assert "account" not in kwargs


@pytest.mark.parametrize(
    ("fields", "environ"),
    [
        ({"private_key_file": "/keys/rsa.p8"}, {}),
        ({}, {"SNOWFLAKE_PRIVATE_KEY_FILE": "/keys/rsa.p8"}),
    ],
    ids=["config", "environment"],
)
def test_private_key_file_implies_key_pair_authentication(fields: dict[str, Any], environ: dict[str, str]) -> None:
    """A private key file (from config or SNOWFLAKE_PRIVATE_KEY_FILE) selects SNOWFLAKE_JWT."""
    kwargs = connect_kwargs(connection(**fields), environ=environ)

    assert kwargs["authenticator"] == "SNOWFLAKE_JWT"
    assert kwargs["private_key_file"] == "/keys/rsa.p8"


@pytest.mark.parametrize(
    ("fields", "environ"),
    [
        ({"token": "oauth-token-5678"}, {}),
        ({}, {"SNOWFLAKE_TOKEN": "oauth-token-5678"}),
        ({"token_file_path": "/var/run/secrets/snowflake-token"}, {}),
    ],
    ids=["config-token", "env-token", "token-file"],
)
def test_token_implies_oauth(fields: dict[str, Any], environ: dict[str, str]) -> None:
    """An OAuth token (or token file) selects the oauth authenticator."""
    kwargs = connect_kwargs(connection(**fields), environ=environ)

    assert kwargs["authenticator"] == "oauth"


def test_explicit_authenticator_is_never_overridden() -> None:
    """An authenticator set in config (or env) wins over the one implied by a key file or token."""
    with_key = connect_kwargs(
        connection(private_key_file="/keys/rsa.p8"), environ={"SNOWFLAKE_AUTHENTICATOR": "externalbrowser"}
    )
    with_token = connect_kwargs(connection(token="oauth-token-5678", authenticator="snowflake"), environ={})

    assert with_key["authenticator"] == "externalbrowser"
    assert with_token["authenticator"] == "snowflake"


def test_password_alone_sets_no_authenticator() -> None:
    """Password authentication is the connector's default; no authenticator is forced."""
    assert "authenticator" not in connect_kwargs(connection(user="u", password="pw-123456"), environ={})


def test_timeouts_are_whole_seconds() -> None:
    """Durations become integer seconds: login/network timeouts and the statement timeout."""
    kwargs = connect_kwargs(connection(login_timeout="45s", network_timeout="2m", query_timeout="15m"), environ={})

    assert (kwargs["login_timeout"], kwargs["network_timeout"]) == (45, 120)
    assert kwargs["session_parameters"]["STATEMENT_TIMEOUT_IN_SECONDS"] == 900


def test_default_timeouts() -> None:
    """Defaults are 30 s login, 120 s network and a 10 minute statement timeout."""
    kwargs = connect_kwargs(connection(), environ={})

    assert (kwargs["login_timeout"], kwargs["network_timeout"]) == (30, 120)
    assert kwargs["session_parameters"]["STATEMENT_TIMEOUT_IN_SECONDS"] == 600
    assert session_parameters(None)["STATEMENT_TIMEOUT_IN_SECONDS"] == 600


def test_kwargs_use_qmark_binds_and_tag_the_session() -> None:
    """paramstyle is qmark; the session is tagged as the agent's own and pinned to UTC."""
    kwargs = connect_kwargs(connection(), environ={})
    params = kwargs["session_parameters"]

    assert kwargs["paramstyle"] == "qmark"
    assert kwargs["application"] == "sre-agent"
    assert json.loads(params["QUERY_TAG"])["service"] == "sre-agent"
    assert params["TIMEZONE"] == "UTC"
    assert isinstance(params["STATEMENT_TIMEOUT_IN_SECONDS"], int)


def test_endpoint_overrides_are_passed_only_when_set() -> None:
    """host, port and protocol reach the connector only when configured."""
    custom = connect_kwargs(connection(host="localhost", port=8443, protocol="http"), environ={})
    default = connect_kwargs(connection(), environ={})

    assert subset(custom, ["host", "port", "protocol"]) == {"host": "localhost", "port": 8443, "protocol": "http"}
    assert not {"host", "port", "protocol"} & set(default)


def test_redacted_masks_secret_fields_only() -> None:
    """redacted() hides password, token and key passphrase and leaves the rest (and its input) alone."""
    kwargs = connect_kwargs(
        connection(user="u", password="pw-123456", token="oauth-token-5678", private_key_file_pwd="key-pw-1234"),
        environ={},
    )

    safe = redacted(kwargs)

    assert (safe["password"], safe["token"], safe["private_key_file_pwd"]) == ("***", "***", "***")
    assert safe["user"] == "u"
    assert safe["session_parameters"] == kwargs["session_parameters"]
    assert kwargs["password"] == "pw-123456"
    assert not {"pw-123456", "oauth-token-5678", "key-pw-1234"} & {str(v) for v in safe.values()}
