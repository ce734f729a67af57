"""pytest fixtures for code that talks to Kalshi, registered through the ``pytest11`` entry point.

Installed with kalshi-auth; nothing to configure. Fixtures:

- ``kalshi_rsa_key``, ``kalshi_ed25519_key``: throwaway private keys (one per session).
- ``kalshi_server``: a running `KalshiTestServer` (one per test) that accepts both keys.
- ``kalshi_auth``: a `KalshiAuth` with the RSA key, registered with ``kalshi_server``.
- ``kalshi_ed25519_auth``: the same with the Ed25519 key.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from .._auth import KalshiAuth
from ._keypairs import generate_ed25519_key, generate_rsa_key
from ._server import KalshiTestServer

RSA_KEY_ID = "00000000-0000-4000-8000-0000000000a1"
ED25519_KEY_ID = "00000000-0000-4000-8000-0000000000e1"


@pytest.fixture(scope="session")
def kalshi_rsa_key() -> rsa.RSAPrivateKey:
    """A throwaway 2048-bit RSA private key, like the ones Kalshi issues."""
    return generate_rsa_key()


@pytest.fixture(scope="session")
def kalshi_ed25519_key() -> ed25519.Ed25519PrivateKey:
    """A throwaway Ed25519 private key."""
    return generate_ed25519_key()


@pytest.fixture
def kalshi_server(
    kalshi_rsa_key: rsa.RSAPrivateKey, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> Iterator[KalshiTestServer]:
    """A running local server that verifies like Kalshi and knows both throwaway keys."""
    keys = {RSA_KEY_ID: kalshi_rsa_key, ED25519_KEY_ID: kalshi_ed25519_key}
    with KalshiTestServer(keys) as server:
        yield server


@pytest.fixture
def kalshi_auth(kalshi_server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey) -> KalshiAuth:
    """A `KalshiAuth` with the RSA key, accepted by ``kalshi_server``."""
    return KalshiAuth(RSA_KEY_ID, kalshi_rsa_key)


@pytest.fixture
def kalshi_ed25519_auth(
    kalshi_server: KalshiTestServer, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> KalshiAuth:
    """A `KalshiAuth` with the Ed25519 key, accepted by ``kalshi_server``."""
    return KalshiAuth(ED25519_KEY_ID, kalshi_ed25519_key)
