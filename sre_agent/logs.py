"""Logging setup: text or JSON lines, with registered secrets and credential-shaped text masked in every record."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime

_SECRETS: set[str] = set()
_LOCK = threading.Lock()
MASK = "***"


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever it would appear in a log record (ignored when empty or very short)."""
    if value and len(value) >= 4:
        with _LOCK:
            _SECRETS.add(value)


_SHAPES = (
    # credentials in a URL: scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), r"\1***@"),
    # an Authorization value a receiver echoed back: Bearer / Basic / SharedAccessSignature …
    (re.compile(r"(?i)\b(bearer|basic|sharedaccesssignature)\s+[A-Za-z0-9._~+/=%&:-]{8,}"), r"\1 ***"),
    # key=value and key: value pairs whose key names a secret (query strings, JSON, connection strings)
    (
        re.compile(
            r"(?i)\b(password|passwd|pwd|secret|client_secret|token|access_token|api[_-]?key|access[_-]?key"
            r"|account[_-]?key|sig|signature|routing_key|private_key_passphrase)"
            r"(\"?\s*[=:]\s*\"?)([^\s,;&\"'}]+)"
        ),
        r"\1\2***",
    ),
)
"""What a secret looks like in text nobody registered it for (an error a receiver or a library wrote)."""


def redact(text: str) -> str:
    """Return ``text`` with every registered secret, and anything shaped like a credential (a URL's
    ``user:password@``, a bearer token, ``password=…``, ``sig=…``, ``"api_key": …``), replaced by ``***``."""
    for secret in sorted(_SECRETS, key=len, reverse=True):  # longest first: no partial leaks of overlaps
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Renders each record's message once, masked, so no formatter can leak a secret from its args."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the message and any exception text."""
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (for Azure Monitor / Container Insights log collection)."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record."""
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload)


def setup(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger for the CLI (stderr, masked)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("snowflake.connector", "urllib3", "fakesnow", "uvicorn", "apscheduler", "botocore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # sqlglot warns with the whole statement ("'<sql>' contains unsupported syntax"): query text from
    # QUERY_HISTORY, literals included, must not reach the logs.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
