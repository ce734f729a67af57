"""`SigningCore`: every policy of signing, on plain values, free of any HTTP library.

The adapters (requests, httpx, aiohttp, websockets) translate their own
request and response objects into the values these methods take, and do what
they answer:

    sign_into(headers, host, method, target)        a request the user made
    sign_hop(headers, first, hop, method, target)    a redirect hop of that request
    headers_for_async / sign_hop_async               the same, for an event loop
    reads_rejection(...), should_resend(...)         a 401: read it? learn the clock,
                                                     re-send once?

Where and when a signature is made (inline or on the signer's threads, the
timestamp taken as it is signed) is decided in one place, `Credentials`.
A rule written here holds for every client, because it is written once.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping

from ._clock import ServerClock, declared_small, is_timestamp_expired
from ._credentials import Credentials
from ._errors import ConfigurationError, InvalidKeyIdError
from ._keys import has_key_file_name, path_shown
from ._scope import HostScope, Origin
from ._signing import (
    KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signing_path,
    string_to_sign,
    strip_access_headers,
    timestamp_text,
)

__all__ = ["SigningCore", "checked_key_id", "checked_method"]

logger = logging.getLogger("kalshi_auth")

_WARNED_LIMIT = 1024
_DEBUG = logging.DEBUG

Headers = dict[str, str]


class SigningCore:
    """Credentials (a key id and signer), the hosts they serve, and the server's clock.

    Safe to share across threads and tasks: what changes is the credentials
    (replaced whole by a rotation), the clock offset (one int, replaced whole)
    and the set of warnings already logged.
    """

    __slots__ = ("_warned", "clock", "credentials", "include_query", "scope")

    def __init__(
        self,
        credentials: Credentials,
        *,
        scope: HostScope,
        clock: ServerClock,
        include_query: bool = False,
    ) -> None:
        self.credentials = credentials
        self.scope = scope
        self.clock = clock
        self.include_query = include_query
        self._warned: set[str] = set()

    def signed_headers(self, method: str, target: str, timestamp_ms: int | None = None) -> Headers:
        """The three ``KALSHI-ACCESS-*`` headers for `method` and request-`target`."""
        return self.credentials.sign(self._make_headers, method, target, timestamp_ms)

    def _make_headers(
        self, credentials: Credentials, method: str, target: str, timestamp_ms: int | None
    ) -> Headers:
        # Runs where the signature is made, so the timestamp is as fresh as the signature;
        # one credentials pair throughout, so a rotation never mixes two.
        if timestamp_ms is None:
            clock = self.clock  # ServerClock.now_ms(), inline: the hot path
            timestamp = str(clock.local() + clock.offset_ms)
        else:
            timestamp = timestamp_text(timestamp_ms)
        # Most targets hold no "?" or "#": then the target is the path to sign.
        if "?" in target or "#" in target:
            target = signing_path(target, include_query=self.include_query)
        if logger.isEnabledFor(_DEBUG):
            logger.debug("signed %s %s at %s", method.upper(), target, timestamp)
        signature = credentials.signer(string_to_sign(timestamp, method, target))
        return {
            KEY_HEADER: credentials.key_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature,
        }

    def headers_for(self, host: str, method: str, target: str) -> Headers | None:
        """The three headers for a request the user made, or None when `host` is out of
        scope (logged once per host)."""
        return self.signed_headers(method, target) if self.allows(host) else None

    async def headers_for_async(self, host: str, method: str, target: str) -> Headers | None:
        """`headers_for`, for code on an event loop, which never waits on the signer."""
        if not self.allows(host):
            return None
        return await self.credentials.sign_async(self._make_headers, method, target, None)

    def sign_into(
        self, headers: MutableMapping[str, str], host: str, method: str, target: str
    ) -> bool:
        """Sign a request the user made: set the three headers, or strip them when `host`
        is out of scope (they may be stale copies). True if signed."""
        return _write(headers, self.headers_for(host, method, target))

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
        signed = self.headers_for(hop.host, method, target) if hop == first else None
        return _write(headers, signed)

    async def sign_hop_async(
        self,
        headers: MutableMapping[str, str],
        first: Origin,
        hop: Origin,
        method: str,
        target: str,
    ) -> bool:
        """`sign_hop`, for code on an event loop (the first request is the hop ``first``)."""
        signed = await self.headers_for_async(hop.host, method, target) if hop == first else None
        return _write(headers, signed)

    def reads_rejection(
        self,
        signed_for: Origin,
        answered_by: Origin,
        status: int,
        content_length: str | None,
        *,
        replayable: bool,
        body_read_anyway: bool,
    ) -> bool:
        """Whether to read a response's body to see if Kalshi rejected the clock: a 401
        from the origin signed for, in scope, to a request whose body can be sent again,
        with a small declared body, or none declared when the client reads it anyway."""
        if status != 401 or not replayable or answered_by != signed_for:
            return False
        if answered_by.host not in self.scope:
            return False
        return declared_small(content_length) or (content_length is None and body_read_anyway)

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
            "outside hosts= " + host,  # apart from other topics: a host may be named anything
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


def _write(headers: MutableMapping[str, str], signed: Headers | None) -> bool:
    if signed is None:
        strip_access_headers(headers)  # they may be stale copies from another request
        return False
    # Item by item: httpx's Headers.update() copies and rescans, three times the cost.
    for name, value in signed.items():
        headers[name] = value
    return True


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
    if _looks_like_a_path(key_id):
        shown = path_shown(key_id) or f"a {len(key_id)}-character string"
        raise InvalidKeyIdError(
            f"key_id looks like the path of a key file ({shown}), not a key id: the arguments "
            "look swapped; call KalshiAuth(key_id, private_key) with the key id first (the "
            "UUID shown in Kalshi's web UI), then the private key or the path of its file"
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


_UUID_CHARS = frozenset("0123456789abcdefABCDEF-")


def _looks_like_a_path(key_id: str) -> bool:
    """Whether `key_id` is a key file's path: it ends as a key file's name does (``.pem``,
    ``.key``...), or holds a / or \\ around anything but a UUID's hex digits and dashes
    (a UUID with one character mistyped is a key id still)."""
    if has_key_file_name(key_id):
        return True
    if "/" not in key_id and "\\" not in key_id:
        return False
    return not _UUID_CHARS.issuperset(key_id.replace("/", "").replace("\\", ""))


# RFC 9110's token characters: the methods HTTP can carry (GET, M-SEARCH, PROPFIND...).
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
_MAX_METHOD_CHARS = 64


def checked_method(method: object) -> str:
    """`method` if it is an HTTP method (an RFC 9110 token), as every client sends it."""
    if (
        isinstance(method, str)
        and 0 < len(method) <= _MAX_METHOD_CHARS
        and _TOKEN_CHARS.issuperset(method)
    ):
        return method
    raise ConfigurationError(
        "method must be an HTTP method such as 'GET', 'POST' or 'M-SEARCH': letters, digits "
        "and !#$%&'*+-.^_`|~ only, no spaces or line breaks"
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
