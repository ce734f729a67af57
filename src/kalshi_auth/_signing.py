"""Kalshi's signing scheme as small pure stages, free of any HTTP library.

    signing_path(target)                -> "/trade-api/v2/portfolio/orders"
    string_to_sign(ts, method, path)    -> b"1703123456789GET/trade-api/v2/portfolio/orders"
    KeySigner(key)(message)             -> "base64 signature"
    SigningCore.with_signature(ts, sig) -> the three KALSHI-ACCESS-* headers

Kalshi's server rebuilds the message from the request it receives, so the path
must be the request-target exactly as sent (percent-encoding kept), without the
query string: Kalshi's docs and all official SDKs sign the path alone, and a
signature over path + query is rejected with 401 INCORRECT_API_KEY_SIGNATURE.
"""

from __future__ import annotations

import time
from binascii import b2a_base64
from collections.abc import Callable, MutableMapping
from urllib.parse import SplitResult

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ._errors import ConfigurationError
from ._keys import PrivateKey

__all__ = [
    "ACCESS_HEADERS",
    "KEY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "KeySigner",
    "now_ms",
    "path_and_query",
    "signing_path",
    "string_to_sign",
    "strip_access_headers",
    "timestamp_text",
]

KEY_HEADER = "KALSHI-ACCESS-KEY"
TIMESTAMP_HEADER = "KALSHI-ACCESS-TIMESTAMP"
SIGNATURE_HEADER = "KALSHI-ACCESS-SIGNATURE"

# Created once: these objects are immutable and cost microseconds to build per request.
_SHA256 = hashes.SHA256()
# Salt = digest length, as Kalshi's official SDKs sign. (The common guide's MAX_LENGTH
# also verifies today because the server auto-detects the salt, but is not the spec.)
_PSS = padding.PSS(mgf=padding.MGF1(_SHA256), salt_length=padding.PSS.DIGEST_LENGTH)

_MIN_MS = 10**12  # 2001-09-09 in milliseconds; smaller values are seconds by mistake
_MAX_MS = 10**13  # 2286: larger values are microseconds or nanoseconds by mistake


def now_ms() -> int:
    """Milliseconds since the Unix epoch, from the system clock."""
    return time.time_ns() // 1_000_000


def signing_path(target: str, *, include_query: bool = False) -> str:
    """The part of a request-target (``/path?query``) that Kalshi signs.

    The query string is dropped unless `include_query` is true; a fragment,
    which never goes on the wire, is always dropped.
    """
    target = target.partition("#")[0]
    if include_query:
        return target
    return target.partition("?")[0]


def path_and_query(parts: SplitResult) -> str:
    """The request-target of a split URL: its path (``/`` if empty) and ``?query`` if any."""
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def string_to_sign(timestamp: str, method: str, path: str) -> bytes:
    """Kalshi's message: timestamp + upper-case method + path, UTF-8, no separators."""
    return f"{timestamp}{method.upper()}{path}".encode()


def timestamp_text(timestamp_ms: int) -> str:
    """The header value for a timestamp in milliseconds: 13 digits, seconds refused."""
    if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, int):
        raise ConfigurationError(
            f"timestamp_ms must be an int of milliseconds, not {type(timestamp_ms).__name__}"
        )
    if not _MIN_MS <= timestamp_ms < _MAX_MS:
        size = "too small" if timestamp_ms < _MIN_MS else "too large"
        raise ConfigurationError(
            f"timestamp_ms is {size} to be milliseconds since the epoch (13 digits): "
            "use int(time.time() * 1000), not time.time()"
        )
    return str(timestamp_ms)


class KeySigner:
    """Signs messages with a key held here: RSA-PSS/SHA-256 for RSA, Ed25519 for Ed25519."""

    __slots__ = ("_sign", "off_loop")
    threads = 1  # CPU-bound: more threads only contend for the GIL
    timeout: float | None = None  # a local key signs inline in sync code, and always returns
    name = "local key"  # messages name only external signers, which can fail
    off_loop: bool

    def __init__(self, key: PrivateKey) -> None:
        sign: Callable[[bytes], bytes]
        if isinstance(key, rsa.RSAPrivateKey):
            rsa_sign = key.sign

            def sign(message: bytes) -> bytes:
                return rsa_sign(message, _PSS, _SHA256)

            # Measured (docs/performance.md): RSA off the event loop gives more requests
            # a second and a fifth of the longest stall; Ed25519 signs in ~30 us, less
            # than a hand-off to a thread costs.
            self.off_loop = True
        else:
            sign = key.sign
            self.off_loop = False
        self._sign = sign

    def __call__(self, message: bytes) -> str:
        """The standard-base64 signature of `message`."""
        return b2a_base64(self._sign(message), newline=False).decode("ascii")


ACCESS_HEADERS = (KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)


def strip_access_headers(headers: MutableMapping[str, str]) -> None:
    """Remove the three ``KALSHI-ACCESS-*`` headers, every copy of each, from any client's
    headers mapping (case-insensitive ones match any case)."""
    for name in ACCESS_HEADERS:
        if name in headers:
            del headers[name]  # not pop(): a multi-dict's pop may refuse a repeated name
