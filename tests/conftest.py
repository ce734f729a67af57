"""Shared fixtures: every key form a user holds, built on the kit plugin's throwaway keys
(``kalshi_rsa_key``, ``kalshi_ed25519_key``), and a real verifying server on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from kalshi_auth import KalshiAuth
from kalshi_auth.testing import (
    KalshiTestServer,
    private_key_pem,
)
from tests.helpers.keys import PASSWORD, Credential


def _credentials(
    kalshi_rsa_key: rsa.RSAPrivateKey, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> dict[str, Credential]:
    variants: list[tuple[str, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey, bytes, str | None]] = [
        ("rsa-pkcs1", kalshi_rsa_key, private_key_pem(kalshi_rsa_key, encoding="pkcs1"), None),
        ("rsa-pkcs8", kalshi_rsa_key, private_key_pem(kalshi_rsa_key), None),
        (
            "rsa-encrypted",
            kalshi_rsa_key,
            private_key_pem(kalshi_rsa_key, password=PASSWORD),
            PASSWORD,
        ),
        ("ed25519", kalshi_ed25519_key, private_key_pem(kalshi_ed25519_key), None),
    ]
    out = {}
    for name, key, pem, password in variants:
        key_id = str(uuid.uuid4())
        auth = KalshiAuth(key_id, pem.decode(), password=password)
        out[name] = Credential(name, key_id, key, pem, auth)
    return out


@pytest.fixture(scope="session")
def credentials(
    kalshi_rsa_key: rsa.RSAPrivateKey, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> dict[str, Credential]:
    return _credentials(kalshi_rsa_key, kalshi_ed25519_key)


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
