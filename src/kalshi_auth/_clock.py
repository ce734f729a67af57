"""Learning the server's time from a `header_timestamp_expired` answer."""

from __future__ import annotations

import json
from email.utils import parsedate_to_datetime

__all__ = ["date_header_ms", "is_timestamp_expired"]


def date_header_ms(value: str | None) -> int | None:
    """An HTTP ``Date`` header in epoch milliseconds (its resolution is one second)."""
    if not value:
        return None
    try:
        return int(parsedate_to_datetime(value).timestamp() * 1000)
    except (TypeError, ValueError, IndexError):
        return None


def is_timestamp_expired(body: bytes) -> bool:
    """Whether a 401 body is Kalshi's ``header_timestamp_expired`` error."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return False
    return isinstance(error, dict) and error.get("code") == "header_timestamp_expired"
