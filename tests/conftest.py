"""Shared fixtures: keys made at run time, and a real verifying server on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from kalshi_auth import KalshiAuth
from kalshi_auth.testing import (
    KalshiTestServer,
    KalshiVerifier,
    generate_ed25519_key,
    generate_rsa_key,
    private_key_pem,
)

from .keyleak import key_fragments

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Credential:
    """A key as a user would hold it, and the auth object built from it."""

    name: str
    key_id: str
    private_key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    pem: bytes
    auth: KalshiAuth


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return generate_rsa_key()


@pytest.fixture(scope="session")
def ed25519_key() -> ed25519.Ed25519PrivateKey:
    return generate_ed25519_key()


def _credentials(
    rsa_key: rsa.RSAPrivateKey, ed25519_key: ed25519.Ed25519PrivateKey
) -> dict[str, Credential]:
    variants: list[tuple[str, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey, bytes, str | None]] = [
        ("rsa-pkcs1", rsa_key, private_key_pem(rsa_key, encoding="pkcs1"), None),
        ("rsa-pkcs8", rsa_key, private_key_pem(rsa_key), None),
        ("rsa-encrypted", rsa_key, private_key_pem(rsa_key, password=PASSWORD), PASSWORD),
        ("ed25519", ed25519_key, private_key_pem(ed25519_key), None),
    ]
    out = {}
    for name, key, pem, password in variants:
        key_id = str(uuid.uuid4())
        auth = KalshiAuth(key_id, pem.decode(), password=password)
        out[name] = Credential(name, key_id, key, pem, auth)
    return out


@pytest.fixture(scope="session")
def credentials(
    rsa_key: rsa.RSAPrivateKey, ed25519_key: ed25519.Ed25519PrivateKey
) -> dict[str, Credential]:
    return _credentials(rsa_key, ed25519_key)


@pytest.fixture(params=["rsa-pkcs1", "rsa-pkcs8", "rsa-encrypted", "ed25519"])
def credential(request: pytest.FixtureRequest, credentials: dict[str, Credential]) -> Credential:
    return credentials[request.param]


@pytest.fixture(scope="session")
def server(credentials: dict[str, Credential]) -> Iterator[KalshiTestServer]:
    keys = {c.key_id: c.private_key for c in credentials.values()}
    with KalshiTestServer(keys) as srv:
        yield srv


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


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
