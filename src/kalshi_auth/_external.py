"""Keys you never hold: the `Signer` protocol for a KMS, an HSM or an agent.

A `Signer` signs the raw message Kalshi verifies and returns the raw
signature; `ExternalSigner` adapts it to what the signing core calls, turning
every failure into one `SignerError` that says which signer failed and why.
"""

from __future__ import annotations

from binascii import b2a_base64
from typing import Protocol, runtime_checkable

from ._errors import ConfigurationError, SignerError
from ._text import printable

__all__ = ["KEY_TYPES", "ExternalSigner", "MessageSigner", "Signer"]

# Kalshi's own names for its key types (its API's `type` field).
KEY_TYPES = ("rsa", "ed25519")
_ED25519_SIGNATURE_BYTES = 64


@runtime_checkable
class Signer(Protocol):
    """A private key held elsewhere: AWS KMS, Google Cloud KMS, an HSM, an agent.

    Pass one as ``KalshiAuth(key_id, signer)``. kalshi-auth builds the message
    (timestamp + METHOD + path), asks for its signature, and base64-encodes it.
    In an httpx ``AsyncClient`` and in aiohttp, `sign` runs in a worker thread,
    off the event loop, so it may block (a network call of tens of ms).
    """

    key_type: str
    """``"rsa"`` or ``"ed25519"``, Kalshi's names for its key types."""

    def sign(self, message: bytes) -> bytes:
        """The raw signature of `message`.

        RSA: RSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (the digest
        length). Ed25519: plain Ed25519 over the message, no pre-hash.
        """
        ...  # pragma: no cover - a protocol


class MessageSigner(Protocol):
    """What the signing core calls: a message in, a standard-base64 signature out."""

    off_loop: bool  # whether async adapters call it in a signing thread by default
    threads: int  # how many signing threads it is worth: one per call it can keep in flight

    def __call__(self, message: bytes) -> str: ...  # pragma: no cover - a protocol


class ExternalSigner:
    """A `Signer` as the signing core calls it, with its failures made one typed error."""

    __slots__ = ("_sign", "_size", "key_type", "name", "signer")
    off_loop = True  # a signer elsewhere may take a network round trip
    threads = 8  # so several round trips can be in flight at once

    def __init__(self, signer: Signer) -> None:
        key_type = getattr(signer, "key_type", None)
        if key_type not in KEY_TYPES:
            got = "another str" if isinstance(key_type, str) else type(key_type).__name__
            raise ConfigurationError(
                f"signer {_name(signer)}.key_type must be 'rsa' or 'ed25519' (Kalshi's key "
                f"types); got {got}"
            )
        if not callable(getattr(signer, "sign", None)):
            raise ConfigurationError(
                f"signer {_name(signer)} has no sign(message) method; see kalshi_auth.Signer"
            )
        self.signer = signer
        self.key_type: str = key_type
        self.name = _name(signer)
        self._sign = signer.sign
        self._size = _ED25519_SIGNATURE_BYTES if key_type == "ed25519" else None

    def __call__(self, message: bytes) -> str:
        """The standard-base64 signature of `message`, or a `SignerError`."""
        try:
            raw = self._sign(message)
        except Exception as exc:
            raise SignerError(
                f"the external signer {self.name} failed: {type(exc).__name__}: "
                f"{printable(exc, 200)}; the request was not sent (kalshi-auth never retries "
                "a signer)"
            ) from exc
        if type(raw) is not bytes or not raw or (self._size and len(raw) != self._size):
            raise SignerError(self._wrong_return(raw))
        return b2a_base64(raw, newline=False).decode("ascii")

    def _wrong_return(self, raw: object) -> str:
        if isinstance(raw, (bytearray, memoryview)) and raw:
            return (
                f"the external signer {self.name} returned {type(raw).__name__}; sign() must "
                "return bytes: wrap it in bytes(...)"
            )
        if isinstance(raw, bytes) and raw:
            return (
                f"the external signer {self.name} returned {len(raw)} bytes for an Ed25519 "
                "signature, which is 64 bytes; return the raw signature, not base64 or DER"
            )
        empty = " (empty)" if isinstance(raw, bytes) else ""
        return (
            f"the external signer {self.name} returned {type(raw).__name__}{empty}; sign() "
            "must return the raw signature bytes"
        )


def _name(signer: object) -> str:
    kind = type(signer)
    return f"{kind.__module__}.{kind.__qualname__}"
