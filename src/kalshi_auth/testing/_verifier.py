"""Decide on a request the way Kalshi's server does, and answer with Kalshi's 401 bodies.

An independent implementation: nothing here comes from the signing side of kalshi-auth
(tests/test_architecture.py checks the imports), so a mistake in the signer is judged by
Kalshi's rule, not repeated. The rule, from Kalshi's docs and official SDKs:

    message   = timestamp + METHOD + path     (UTF-8, no separators)
    path      = the request-target as received, up to the first "?" (the query is not signed)
    signature = base64(RSA-PSS/SHA-256, any salt length; or Ed25519) over message
    timestamp = milliseconds since the epoch, at most 10 s old or 30 s ahead
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import httpx
import requests
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from .._errors import ConfigurationError, InvalidPrivateKeyError

__all__ = [
    "INCORRECT_SIGNATURE",
    "KEY_NOT_FOUND",
    "SIGNATURE_MISSING",
    "TIMESTAMP_EXPIRED",
    "KalshiVerifier",
    "PublicKey",
    "Verdict",
    "public_key_of",
    "signed_path",
]

PublicKey: TypeAlias = rsa.RSAPublicKey | ed25519.Ed25519PublicKey

KEY_HEADER = "KALSHI-ACCESS-KEY"
TIMESTAMP_HEADER = "KALSHI-ACCESS-TIMESTAMP"
SIGNATURE_HEADER = "KALSHI-ACCESS-SIGNATURE"

ErrorBody: TypeAlias = dict[str, Any]

# The bodies Kalshi's server sends with its 401s (docs/troubleshooting.md).
TIMESTAMP_EXPIRED: ErrorBody = {
    "error": {"code": "header_timestamp_expired", "message": "header timestamp expired"}
}
KEY_NOT_FOUND: ErrorBody = {
    "error": {
        "code": "authentication_error",
        "message": "authentication_error",
        "details": "NOT_FOUND",
    }
}
INCORRECT_SIGNATURE: ErrorBody = {
    "error": {
        "code": "authentication_error",
        "message": "authentication_error",
        "details": "INCORRECT_API_KEY_SIGNATURE",
    }
}
SIGNATURE_MISSING: ErrorBody = {
    "error": {
        "code": "signature_is_missing_from_headers",
        "message": "signature is missing from headers",
    }
}

# Kalshi's server accepts PSS signatures with any salt length (the official SDKs use the
# digest length, older guides the maximum); AUTO verifies both, as Go's rsa.VerifyPSS does.
_MAX_TIMESTAMP_DIGITS = 20
_PSS_ANY_SALT = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)


def _system_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Verdict:
    """What the server decided about one request."""

    accepted: bool
    reason: str
    body: ErrorBody | None = None
    message: str | None = None
    key_id: str | None = None

    @property
    def status(self) -> int:
        """The HTTP status Kalshi answers with: 200 when accepted, else 401."""
        return 200 if self.accepted else 401


@dataclass
class KalshiVerifier:
    """Kalshi's server rules: which keys are registered, and how far clocks may drift.

    `clock_offset_ms` shifts the server's clock (to test a client's clock skew).
    Thread-safe: keys may be registered while a server verifies requests.
    """

    keys: dict[str, PublicKey] = field(default_factory=dict)
    max_past_ms: int = 10_000
    max_future_ms: int = 30_000
    clock_offset_ms: int = 0
    clock: Callable[[], int] = _system_ms
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def now_ms(self) -> int:
        """The server's time in epoch milliseconds (its clock plus `clock_offset_ms`)."""
        return self.clock() + self.clock_offset_ms

    def register(self, key_id: str, key: object) -> None:
        """Accept signatures by `key_id` made with `key` (its public or private key, or PEM)."""
        if not isinstance(key_id, str) or not key_id:
            raise ConfigurationError(
                f"a key id is a non-empty str such as Kalshi's UUIDs, not {type(key_id).__name__}"
                f"{' (empty)' if key_id == '' else ''}: pass the id the kit should accept"
            )
        public = public_key_of(key)
        with self._lock:
            self.keys = {**self.keys, key_id: public}

    def verify_request(self, request: requests.PreparedRequest | httpx.Request) -> Verdict:
        """Judge a requests ``PreparedRequest`` or an ``httpx.Request`` as it would be sent."""
        if isinstance(request, httpx.Request):
            target = request.url.raw_path.decode("ascii")
            return self.verify(request.method, target, request.headers)
        return self.verify(request.method or "GET", request.path_url, request.headers)

    def verify(  # noqa: PLR0911 (one return per verdict reads best)
        self, method: str, target: str, headers: Mapping[str, str]
    ) -> Verdict:
        """Judge a request from its method, raw request-target and headers."""
        lower = {name.lower(): value for name, value in headers.items()}
        signature = lower.get(SIGNATURE_HEADER.lower())
        if not signature:
            return Verdict(False, f"no {SIGNATURE_HEADER} header", SIGNATURE_MISSING)
        key_id = lower.get(KEY_HEADER.lower(), "")
        timestamp = lower.get(TIMESTAMP_HEADER.lower(), "")
        if not (len(timestamp) <= _MAX_TIMESTAMP_DIGITS and _is_ascii_digits(timestamp)):
            return Verdict(
                False,
                f"{TIMESTAMP_HEADER} is not a number of milliseconds ({len(timestamp)} characters)",
                TIMESTAMP_EXPIRED,
            )
        skew = int(timestamp) - self.now_ms()
        if skew < -self.max_past_ms or skew > self.max_future_ms:
            return Verdict(
                False,
                f"timestamp is {skew / 1000:+.1f} s from the server's clock "
                f"(allowed -{self.max_past_ms / 1000:g} s to +{self.max_future_ms / 1000:g} s)",
                TIMESTAMP_EXPIRED,
            )
        public = self.keys.get(key_id)
        if public is None:
            return Verdict(False, f"unknown key id {key_id[:64]!r}", KEY_NOT_FOUND, key_id=key_id)
        try:
            message = timestamp + method.upper() + signed_path(target)
            raw = message.encode("utf-8")
        except (UnicodeEncodeError, ValueError):  # a lone surrogate, or a broken URL
            return Verdict(False, "the request-target cannot be read", INCORRECT_SIGNATURE)
        if not _signature_valid(public, signature, raw):
            return Verdict(
                False,
                f"signature does not verify for {message!r}",
                INCORRECT_SIGNATURE,
                message=message,
                key_id=key_id,
            )
        return Verdict(True, "signature verified", message=message, key_id=key_id)


def signed_path(target: str) -> str:
    """The part of a request-target Kalshi signs: the path, without query or fragment."""
    if not target.startswith("/"):  # absolute-form target, as sent to a proxy
        return urlsplit(target).path or "/"
    end = min((i for i in (target.find("?"), target.find("#")) if i >= 0), default=len(target))
    return target[:end]


def _is_ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _signature_valid(public: PublicKey, signature: str, message: bytes) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(raw, message, _PSS_ANY_SALT, hashes.SHA256())
        else:
            public.verify(raw, message)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


_PRIVATE_LOADERS = (
    serialization.load_pem_private_key,
    serialization.load_der_private_key,
    serialization.load_ssh_private_key,
)
_PUBLIC_LOADERS = (
    serialization.load_pem_public_key,
    serialization.load_der_public_key,
    serialization.load_ssh_public_key,
)


def public_key_of(key: object) -> PublicKey:
    """The public key of `key`: an RSA or Ed25519 private or public key object, or its
    unencrypted PEM (also DER or OpenSSH) as `str` or `bytes`.

    Raises `InvalidPrivateKeyError` (a `KalshiAuthError`) for another kind of object or for
    data that holds no RSA or Ed25519 key.
    """
    if isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        return key.public_key()
    if isinstance(key, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        return key
    if isinstance(key, str):
        key = key.encode("utf-8", "replace")
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise InvalidPrivateKeyError(
            f"a key must be an RSA or Ed25519 key object or PEM text, not {type(key).__name__}"
        )
    data = bytes(key).strip()
    for load_public in _PUBLIC_LOADERS:
        try:
            loaded: object = load_public(data)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
        if isinstance(loaded, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
            return loaded
        raise InvalidPrivateKeyError(
            "the key is neither RSA nor Ed25519, the key types Kalshi accepts"
        )
    for load_private in _PRIVATE_LOADERS:
        try:
            loaded = load_private(data, None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
        if isinstance(loaded, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
            return loaded.public_key()
        raise InvalidPrivateKeyError(
            "the key is neither RSA nor Ed25519, the key types Kalshi accepts"
        )
    raise InvalidPrivateKeyError(
        "no unencrypted RSA or Ed25519 key in the data given (expected PEM such as "
        "-----BEGIN PUBLIC KEY----- or -----BEGIN PRIVATE KEY-----)"
    )
