"""Keys you never hold: the `Signer` protocol for a KMS, an HSM or an agent.

A `Signer` signs the raw message Kalshi verifies and returns the raw
signature; `ExternalSigner` adapts it to what the signing core calls, turning
every failure into one `SignerError` that says which signer failed and why.
"""

from __future__ import annotations

from binascii import b2a_base64
from typing import Protocol, runtime_checkable

from ._errors import ConfigurationError, SignerError

__all__ = ["KEY_TYPES", "ExternalSigner", "MessageSigner", "Signer"]

# Kalshi's own names for its key types (its API's `type` field).
KEY_TYPES = ("rsa", "ed25519")
_ED25519_SIGNATURE_BYTES = 64


@runtime_checkable
class Signer(Protocol):
    """A private key held elsewhere: AWS KMS, Google Cloud KMS, an HSM, an agent.

    Pass one as ``KalshiAuth(key_id, signer)``. kalshi-auth builds the message
    (timestamp + METHOD + path), asks for its signature, checks its length and
    base64-encodes it. `sign` always runs on threads of this signer's own, never
    on an event loop, so it may block (a network call of tens of ms); a call
    that takes longer than ``KalshiAuth(signer_timeout=...)`` fails its request
    with `SignerError`. An RSA signer may have a ``key_size`` attribute in bits
    (default 2048, the size of Kalshi's keys): signatures are that long.
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

    name: str  # for messages: the signer's class, or the key's kind
    off_loop: bool  # whether async adapters sign on its threads rather than inline
    threads: int  # how many threads it is worth: one per call it can keep in flight
    timeout: float | None  # how long a request waits for it; None: inline, no limit

    def __call__(self, message: bytes) -> str: ...  # pragma: no cover - a protocol


_DEFAULT_RSA_BITS = 2048  # the size of every RSA key Kalshi issues
_MAX_RSA_BITS = 8192  # as for keys loaded here


class ExternalSigner:
    """A `Signer` as the signing core calls it: failures made one typed error, and what it
    returns checked before anything is sent."""

    __slots__ = ("_sign", "_size", "key_type", "name", "signer", "timeout")
    off_loop = True  # a signer elsewhere may take a network round trip
    threads = 8  # so several round trips can be in flight at once

    def __init__(self, signer: Signer, *, timeout: float) -> None:
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
        self.timeout: float | None = timeout
        self._sign = signer.sign
        self._size = _ED25519_SIGNATURE_BYTES if key_type == "ed25519" else _rsa_bits(signer) // 8

    def __call__(self, message: bytes) -> str:
        """The standard-base64 signature of `message`, or a `SignerError`."""
        failure: BaseException | None = None
        try:
            raw = self._sign(message)
        except Exception as exc:
            failure = exc
        if failure is not None:
            # The class only: a KMS client's message can hold secrets. Raised outside the
            # handler, so the original is the cause and nothing else is chained.
            raise SignerError(
                f"the external signer {self.name} failed with {type(failure).__name__} (the "
                "original exception is this error's __cause__); the request was not sent "
                "(kalshi-auth never retries a signer)"
            ) from failure
        if type(raw) is not bytes or len(raw) != self._size:
            raise SignerError(self._wrong_return(raw))
        return b2a_base64(raw, newline=False).decode("ascii")

    def _wrong_return(self, raw: object) -> str:
        if isinstance(raw, (bytearray, memoryview)) and raw:
            return (
                f"the external signer {self.name} returned {type(raw).__name__}; sign() must "
                "return bytes: wrap it in bytes(...)"
            )
        if isinstance(raw, bytes) and raw:
            if self.key_type == "ed25519":
                wanted = "an Ed25519 signature, which is 64 bytes"
            else:
                wanted = (
                    f"an RSA-{self._size * 8} signature, which is {self._size} bytes (as long "
                    "as the key; for a larger key, give the signer a key_size attribute in bits)"
                )
            return (
                f"the external signer {self.name} returned {len(raw)} bytes for {wanted}; "
                "return the raw signature, not base64 or DER; nothing was sent"
            )
        empty = " (empty)" if isinstance(raw, bytes) else ""
        return (
            f"the external signer {self.name} returned {type(raw).__name__}{empty}; sign() "
            "must return the raw signature bytes"
        )


def _rsa_bits(signer: object) -> int:
    """An RSA signer's key size: its ``key_size`` attribute, else Kalshi's 2048 bits."""
    bits = getattr(signer, "key_size", _DEFAULT_RSA_BITS)
    if (
        isinstance(bits, bool)
        or not isinstance(bits, int)
        or not 1024 <= bits <= _MAX_RSA_BITS
        or bits % 8
    ):
        raise ConfigurationError(
            f"signer {_name(signer)}.key_size must be the RSA key's size in bits, a multiple "
            f"of 8 from 1024 to {_MAX_RSA_BITS} (Kalshi's keys are 2048)"
        )
    return bits


def _name(signer: object) -> str:
    kind = type(signer)
    return f"{kind.__module__}.{kind.__qualname__}"
