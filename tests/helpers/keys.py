"""Key helpers shared by the tests: the key forms a user holds, and checks that a
signature verifies and that no key material leaked into a text."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from kalshi_auth import KalshiAuth
from kalshi_auth.testing import KalshiVerifier
from tests.helpers.keyleak import key_fragments

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Credential:
    """A key as a user would hold it, and the auth object built from it."""

    name: str
    key_id: str
    private_key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    pem: bytes
    auth: KalshiAuth


def signs_verifiably(
    auth: KalshiAuth,
    key: object,
    url: str = "/trade-api/v2/portfolio/balance",
    target: str | None = None,
) -> bool:
    """Whether Kalshi's rules accept `auth`'s headers for GET `url`, checked with `key`'s
    public half; `target` is the request-target the server would see (default: `url`)."""
    verifier = KalshiVerifier()
    verifier.register(auth.key_id, key)
    return verifier.verify("GET", target or url, auth.headers("GET", url)).accepted


def pem_body(pem: bytes) -> str:
    """The base64 body of a PEM key: its lines without armor or OpenSSL headers."""
    return "".join(
        line
        for line in pem.decode().splitlines()
        if line and not line.startswith(("-----", "Proc-Type:", "DEK-Info:"))
    )


def assert_no_key_material(text: str, pem: bytes) -> None:
    leaked = [f for f in key_fragments(pem_body(pem)) if f in text]
    assert not leaked, f"key material leaked into: {text[:200]!r}"
