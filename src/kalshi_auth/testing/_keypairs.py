"""Throwaway keys for tests and demos, made at run time: never commit a private key."""

from __future__ import annotations

from typing import Literal, TypeAlias

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from .._errors import ConfigurationError, InvalidPrivateKeyError

__all__ = ["generate_ed25519_key", "generate_rsa_key", "private_key_pem"]

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

# kalshi-auth's key loader refuses moduli over 8,192 bits; 1,024 is cryptography's floor.
_RSA_BITS = range(1024, 8193)


def generate_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """A new RSA key, the kind Kalshi's web UI creates (2048 bits by default)."""
    if isinstance(bits, bool) or not isinstance(bits, int) or bits not in _RSA_BITS:
        # described, not quoted: whatever was passed by mistake (a key?) stays out of it
        shown = f"{bits} bits" if isinstance(bits, int) and -1e9 < bits < 1e9 else "a value"
        raise ConfigurationError(
            f"bits must be an int from 1024 to 8192 (Kalshi's keys have 2048), not "
            f"{shown} of type {type(bits).__name__}"
        )
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def generate_ed25519_key() -> ed25519.Ed25519PrivateKey:
    """A new Ed25519 key, Kalshi's other key type."""
    return ed25519.Ed25519PrivateKey.generate()


def private_key_pem(
    key: PrivateKey,
    *,
    encoding: Literal["pkcs1", "pkcs8"] = "pkcs8",
    password: str | bytes | None = None,
) -> bytes:
    """`key` as PEM: PKCS#1 (what Kalshi downloads for RSA) or PKCS#8, optionally encrypted."""
    if not isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        raise InvalidPrivateKeyError(
            f"key must be an RSA or Ed25519 private key object (from generate_rsa_key() or "
            f"generate_ed25519_key()), not {type(key).__name__}"
        )
    if encoding not in ("pkcs1", "pkcs8"):
        raise ConfigurationError(
            f"encoding must be 'pkcs1' or 'pkcs8', not a {type(encoding).__name__} of "
            f"{len(encoding) if isinstance(encoding, str) else '?'} characters"
        )
    if password is not None and not isinstance(password, (str, bytes)):
        raise ConfigurationError(f"password must be str or bytes, not {type(password).__name__}")
    if encoding == "pkcs1" and not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError(
            f"PKCS#1 holds only RSA keys, not {type(key).__name__}: use encoding='pkcs8'"
        )
    fmt = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if encoding == "pkcs1"
        else serialization.PrivateFormat.PKCS8
    )
    cipher: serialization.KeySerializationEncryption = serialization.NoEncryption()
    if password:
        cipher = serialization.BestAvailableEncryption(
            password.encode() if isinstance(password, str) else password
        )
    return key.private_bytes(serialization.Encoding.PEM, fmt, cipher)
