"""Test your Kalshi signing without a Kalshi account.

    from kalshi_auth.testing import KalshiTestServer, generate_rsa_key

    key = generate_rsa_key()
    with KalshiTestServer({"my-key-id": key}) as server:
        auth = KalshiAuth("my-key-id", key)
        requests.get(server.base_url + "/portfolio/balance", auth=auth).raise_for_status()

`KalshiVerifier`, `KalshiTestServer` and `KalshiMockTransport` apply Kalshi's
rules: the query string is not signed, RSA-PSS with any salt length or
Ed25519, a timestamp no more than 10 s old or 30 s ahead, and Kalshi's own 401
bodies. The pytest fixtures live in `kalshi_auth.testing.pytest_plugin`.
"""

from ._endpoint import KalshiEndpoint, RecordedRequest
from ._keypairs import generate_ed25519_key, generate_rsa_key, private_key_pem
from ._server import KalshiTestServer
from ._subprocess import ServerProcess, server_process
from ._transport import KalshiMockTransport
from ._verifier import (
    INCORRECT_SIGNATURE,
    KEY_NOT_FOUND,
    SIGNATURE_MISSING,
    TIMESTAMP_EXPIRED,
    KalshiVerifier,
    PublicKey,
    Verdict,
)

__all__ = [
    "INCORRECT_SIGNATURE",
    "KEY_NOT_FOUND",
    "SIGNATURE_MISSING",
    "TIMESTAMP_EXPIRED",
    "KalshiEndpoint",
    "KalshiMockTransport",
    "KalshiTestServer",
    "KalshiVerifier",
    "PublicKey",
    "RecordedRequest",
    "ServerProcess",
    "Verdict",
    "generate_ed25519_key",
    "generate_rsa_key",
    "private_key_pem",
    "server_process",
]
