"""`SigningCore`: every policy of signing, on plain values, free of any HTTP library.

The adapters (requests, httpx, aiohttp) translate their own request and
response objects into the values these methods take, and do what they answer:

    sign_into(headers, host, method, target)       a request the user made
    sign_hop(headers, first, hop, method, target)   a redirect hop of that request
    should_resend(signed_for, answered_by, ...)     a 401: learn the clock, re-send once?

A rule written here holds for every client, because it is written once.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping

from ._clock import ServerClock, is_timestamp_expired
from ._errors import InvalidKeyIdError
from ._external import MessageSigner
from ._scope import HostScope, Origin
from ._signing import (
    KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signing_path,
    strip_access_headers,
    timestamp_text,
)

__all__ = ["SigningCore", "checked_key_id"]

logger = logging.getLogger("kalshi_auth")

_WARNED_LIMIT = 1024
_DEBUG = logging.DEBUG


class SigningCore:
    """A key id and signer, the hosts they serve, and the server's clock as learned.

    Safe to share across threads: the only state that changes is the clock
    offset (one int, replaced whole) and the set of warnings already logged.
    """

    __slots__ = ("_warned", "clock", "include_query", "key_id", "scope", "signer")

    def __init__(
        self,
        key_id: str,
        signer: MessageSigner,
        *,
        scope: HostScope,
        clock: ServerClock,
        include_query: bool = False,
    ) -> None:
        self.key_id = key_id
        self.signer = signer
        self.scope = scope
        self.clock = clock
        self.include_query = include_query
        self._warned: set[str] = set()

    def signed_headers(
        self, method: str, target: str, timestamp_ms: int | None = None
    ) -> dict[str, str]:
        """The three ``KALSHI-ACCESS-*`` headers for `method` and request-`target`."""
        timestamp, message = self.to_sign(method, target, timestamp_ms)
        return self.with_signature(timestamp, self.signer(message))

    def to_sign(
        self, method: str, target: str, timestamp_ms: int | None = None
    ) -> tuple[str, bytes]:
        """(timestamp, message): what `signer` signs, for an adapter that signs elsewhere
        (off the event loop) and then calls `with_signature`."""
        if timestamp_ms is None:
            clock = self.clock  # ServerClock.now_ms(), inline: the hot path
            timestamp = str(clock.local() + clock.offset_ms)
        else:
            timestamp = timestamp_text(timestamp_ms)
        # Most targets hold no "?" or "#": then the target is the path to sign.
        path = (
            signing_path(target, include_query=self.include_query)
            if "?" in target or "#" in target
            else target
        )
        method = method.upper()
        if logger.isEnabledFor(_DEBUG):
            logger.debug("signed %s %s at %s", method, path, timestamp)
        return timestamp, f"{timestamp}{method}{path}".encode()  # string_to_sign, inline

    def with_signature(self, timestamp: str, signature: str) -> dict[str, str]:
        """The three headers, from `to_sign`'s timestamp and `signer`'s signature."""
        return {KEY_HEADER: self.key_id, TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature}

    def headers_for(self, host: str, method: str, target: str) -> dict[str, str] | None:
        """The three headers for a request the user made, or None when `host` is out of
        scope (logged once per host)."""
        return self.signed_headers(method, target) if self.allows(host) else None

    def sign_into(
        self, headers: MutableMapping[str, str], host: str, method: str, target: str
    ) -> bool:
        """Sign a request the user made: set the three headers, or strip them when `host`
        is out of scope (they may be stale copies). True if signed."""
        signed = self.headers_for(host, method, target)
        if signed is None:
            strip_access_headers(headers)
            return False
        # Item by item: httpx's Headers.update() copies and rescans, three times the cost.
        for name, value in signed.items():
            headers[name] = value
        return True

    def sign_hop(
        self,
        headers: MutableMapping[str, str],
        first: Origin,
        hop: Origin,
        method: str,
        target: str,
    ) -> bool:
        """Sign a redirect hop for its own method and target when it returns to the origin
        of the request the user made (`first`); strip every other hop. True if signed.

        Another scheme (https to http), host or port is another origin. A chain that
        leaves and comes back (A, B, A) is unsigned at B and signed again at A.
        """
        if hop != first:
            strip_access_headers(headers)
            return False
        return self.sign_into(headers, hop.host, method, target)

    def should_resend(
        self, signed_for: Origin, answered_by: Origin, status: int, date: str | None, body: bytes
    ) -> bool:
        """After a response: learn the clock from a ``401 header_timestamp_expired`` and
        say whether to re-send, once.

        Only the origin the request was signed for, in scope, teaches the clock: an
        answer from a redirect's other origin changes nothing.
        """
        if status != 401 or answered_by != signed_for or answered_by.host not in self.scope:
            return False
        return is_timestamp_expired(body) and self.clock.learn(date)

    def allows(self, host: str) -> bool:
        """Whether `host` is in scope; logs once per host when it is not."""
        if self.scope.known(host) or host in self.scope:
            return True
        self.warn_once(
            host,
            # repr() escapes control characters; a host name is no secret.
            f"not signing a request to {host[:100]!r}: it is outside KalshiAuth(hosts=...), "
            f"which is {list(self.scope.entries)!r}; add the host to hosts= to sign for it",
        )
        return False

    def warn_once(self, topic: str, message: str) -> None:
        """Log `message` as a warning the first time `topic` comes up."""
        # A set without a lock: a rare duplicate warning beats a lock held across fork().
        if topic not in self._warned and len(self._warned) < _WARNED_LIMIT:
            self._warned.add(topic)
            logger.warning("%s", message)


_KEY_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_MAX_KEY_ID_CHARS = 200


def checked_key_id(key_id: object) -> str:
    """`key_id` if it can go in the ``KALSHI-ACCESS-KEY`` header as it is; never echoed."""
    if not isinstance(key_id, str):
        raise InvalidKeyIdError(f"key_id must be a str, not {type(key_id).__name__}")
    if not key_id:
        raise InvalidKeyIdError(
            "key_id is empty; pass the API key id shown in Kalshi's web UI "
            "(Account & Security > API Keys)"
        )
    if "-----" in key_id or len(key_id) > _MAX_KEY_ID_CHARS:
        # Probably the private key passed in the wrong position.
        raise InvalidKeyIdError(
            "key_id looks like a private key, not a key id; call KalshiAuth(key_id, private_key) "
            "with the key id first"
        )
    bad = next((c for c in key_id if c not in _KEY_ID_CHARS), None)
    if bad is None:
        return key_id
    where = "at its start or end" if bad in (key_id[0], key_id[-1]) else "inside it"
    raise InvalidKeyIdError(
        f"key_id ({len(key_id)} characters) has {_character_kind(bad)} {where}; a key id is a "
        "UUID such as 'a952bcbe-ec3b-4b5b-b8f9-11dae589608c': remove whitespace, quotes and "
        "control characters (a trailing newline or quotes from a file or .env are the usual "
        "cause)"
    )


def _character_kind(c: str) -> str:
    if c in "\r\n":
        return "a line break (a control character)"
    if c in " \t":
        return "whitespace"
    if c in "\"'`":
        return "a quote"
    if not c.isprintable():
        return "a control character" if c.isascii() else "an invisible character"
    return "a character outside letters, digits and '-._~'"
