"""Throwaway keys for tests and demos, made at run time: never commit a private key."""

from __future__ import annotations

from typing import Literal, TypeAlias

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

__all__ = ["generate_ed25519_key", "generate_rsa_key", "private_key_pem"]

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def generate_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """A new RSA key, the kind Kalshi's web UI creates (2048 bits by default)."""
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
    if encoding == "pkcs1" and not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("PKCS#1 holds only RSA keys; use encoding='pkcs8'")
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
