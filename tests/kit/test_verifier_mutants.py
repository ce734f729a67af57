"""The verifier judges a requests ``PreparedRequest`` without a method as the ``GET``
requests sends for it (docs/quality.md: a mutant of `testing._verifier` changed that)."""

from __future__ import annotations

import requests
from cryptography.hazmat.primitives.asymmetric import ed25519

from kalshi_auth import KalshiAuth
from kalshi_auth.testing import KalshiVerifier

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
URL = "https://external-api.kalshi.com/trade-api/v2/portfolio/balance?limit=5"


def test_a_prepared_request_without_a_method_is_judged_as_get(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, kalshi_ed25519_key)
    request = requests.Request(url=URL, headers=auth.headers("GET", URL)).prepare()
    assert request.method is None
    verdict = verifier.verify_request(request)
    assert verdict.accepted, verdict.reason
    assert verdict.message is not None
    assert verdict.message.endswith("GET/trade-api/v2/portfolio/balance")
    signed_for_post = requests.Request(url=URL, headers=auth.headers("POST", URL)).prepare()
    assert not verifier.verify_request(signed_for_post).accepted
