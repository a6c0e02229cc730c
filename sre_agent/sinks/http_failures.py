"""How HTTP destinations fail, shared by the sinks: which statuses are worth retrying, how long the receiver
asked us to wait, and how a URL may be shown without its secrets."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from azure.core.exceptions import HttpResponseError

RETRYABLE_4XX = frozenset({408, 429})
"""Client errors that are about timing, not about the request: try again later."""


def retryable_status(status: int | None) -> bool:
    """Whether a delivery that ended with ``status`` (None: no answer at all) should be retried."""
    return status is None or status in RETRYABLE_4XX or status >= 500


def safe_url(url: str) -> str:
    """The URL as it may appear in logs and errors: scheme, host, port and path — never ``user:password@`` nor
    the query (signatures, keys)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Parse ``Retry-After`` (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def describe_azure_error(error: BaseException) -> str:
    """An Azure SDK failure as errors and logs show it: ``HTTP 403 (AuthorizationFailed)`` when Azure answered,
    the exception's type when it did not (connection refused, timeout) — never its message, which may echo the
    request."""
    if isinstance(error, HttpResponseError) and error.status_code is not None:
        code = getattr(getattr(error, "error", None), "code", None)
        return f"HTTP {error.status_code}" + (f" ({code})" if code else "")
    return type(error).__name__
