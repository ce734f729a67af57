"""The server's clock, as learned from a ``header_timestamp_expired`` answer.

Kalshi rejects a timestamp a few seconds off its own clock and says so with
``401 header_timestamp_expired`` and an HTTP ``Date`` header. `ServerClock`
adopts the time in that header, within bounds, so that one re-send succeeds
and later requests are signed with Kalshi's time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timezone
from email.utils import formatdate, parsedate_to_datetime

from ._errors import ConfigurationError

__all__ = [
    "CLOCKS_AGREE_MS",
    "MAX_ERROR_BODY_BYTES",
    "MAX_OFFSET_MS",
    "ServerClock",
    "date_header_ms",
    "declared_small",
    "describe_offset",
    "http_date",
    "is_timestamp_expired",
]

logger = logging.getLogger("kalshi_auth")

# A Date header has one-second resolution: within this, the clocks agree.
CLOCKS_AGREE_MS = 2_000
# A server claiming a clock further off than a day is broken or hostile, never adopted.
MAX_OFFSET_MS = 86_400_000
# Longer Date values and error bodies are not parsed: Kalshi's are far shorter.
_MAX_DATE_CHARS = 64
MAX_ERROR_BODY_BYTES = 16_384


def date_header_ms(value: str | None) -> int | None:
    """An HTTP ``Date`` header in epoch milliseconds, or None if absent or unparsable."""
    if not value or len(value) > _MAX_DATE_CHARS:
        return None
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:  # "-0000": RFC 5322's "UTC, origin unknown"
            when = when.replace(tzinfo=timezone.utc)
        return int(when.timestamp() * 1000)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def http_date(epoch_ms: int) -> str:
    """An HTTP ``Date`` header value, e.g. ``Wed, 25 Nov 2026 19:27:41 GMT``."""
    return formatdate(epoch_ms / 1000, usegmt=True)


def is_timestamp_expired(body: bytes) -> bool:
    """Whether a 401 body is Kalshi's ``header_timestamp_expired`` error."""
    if len(body) > MAX_ERROR_BODY_BYTES:
        return False
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError, UnicodeDecodeError, RecursionError):
        return False
    return isinstance(error, dict) and error.get("code") == "header_timestamp_expired"


def declared_small(content_length: str | None) -> bool:
    """Whether a ``Content-Length`` header promises a body short enough to read for an error."""
    return (
        content_length is not None
        and 0 < len(content_length) <= 5
        and content_length.isascii()
        and content_length.isdigit()
        and int(content_length) <= MAX_ERROR_BODY_BYTES
    )


def describe_offset(offset_ms: float, other: str = "Kalshi's") -> str:
    """e.g. ``this machine's clock is about 62 s behind Kalshi's``."""
    side = "behind" if offset_ms > 0 else "ahead of"
    return f"this machine's clock is about {abs(offset_ms) / 1000:.0f} s {side} {other}"


class ServerClock:
    """This machine's clock plus the offset last learned from the server.

    Each lesson replaces the offset with the one just measured, so a machine
    whose clock is corrected later heals at the next rejection. A ``Date``
    that is missing, unparsable or more than a day off is never adopted.
    """

    __slots__ = ("local", "offset_ms")

    def __init__(self, local: Callable[[], int]) -> None:
        self.local = local
        self.offset_ms = 0

    def now_ms(self) -> int:
        """The server's time as best known, in epoch milliseconds."""
        return self.local() + self.offset_ms

    def restore(self, offset_ms: object) -> None:
        """Take an offset kept earlier (a pickle's), within the bounds `learn` keeps."""
        if (
            isinstance(offset_ms, bool)
            or not isinstance(offset_ms, int)
            or abs(offset_ms) > MAX_OFFSET_MS
        ):
            raise ConfigurationError(
                "the clock offset of this pickled KalshiAuth is not whole milliseconds within "
                "a day (24 h), which kalshi-auth never learns; create the KalshiAuth again"
            )
        self.offset_ms = offset_ms

    def learn(self, date: str | None) -> bool:
        """Adopt the time in a rejecting server's ``Date`` header; True to re-send once."""
        server_ms = date_header_ms(date)
        if server_ms is None:
            logger.error(
                "Kalshi rejected the timestamp, and its Date header is missing or unreadable: "
                "nothing learned, not re-sending. Sync this machine's clock."
            )
            return False
        measured = server_ms - self.local()
        if abs(measured) > MAX_OFFSET_MS:
            logger.error(
                "Kalshi rejected the timestamp, and its Date header is %.0f hours off this "
                "machine's clock, further than kalshi-auth ever adopts (24 h): not re-sending. "
                "Check the machine's clock and that the request reached Kalshi.",
                abs(measured) / 3_600_000,
            )
            return False
        if abs(measured) < CLOCKS_AGREE_MS:
            # The clocks agree: the request was delayed between signing and arrival.
            self.offset_ms = 0
            logger.warning(
                "Kalshi rejected the timestamp although the clocks agree: the request was "
                "delayed after it was signed (a slow connection or a long queue). Re-sending "
                "once with a fresh signature."
            )
            return True
        self.offset_ms = measured
        logger.warning(
            "Kalshi rejected the timestamp: %s. Signing with Kalshi's time from now on and "
            "re-sending once; sync the clock.",
            describe_offset(measured),
        )
        return True
