"""httpx reads a response's body unless it streams, so the httpx adapter reads a 401 of
undeclared length (chunked) to see whether Kalshi rejected the clock, and re-sends once
(docs/quality.md: a mutant of `kalshi_auth._httpx` changed that)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from email.utils import formatdate

import httpx
from cryptography.hazmat.primitives.asymmetric import ed25519

from kalshi_auth import KalshiAuth

KEY_ID = "0b6f4a2c-3d5e-4f70-8a9b-c1d2e3f4a5b6"
URL = "https://external-api.kalshi.com/trade-api/v2/portfolio/balance"
EXPIRED = json.dumps({"error": {"code": "header_timestamp_expired"}}).encode()


def test_a_chunked_clock_rejection_is_read_and_resent_once(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    seen: list[str] = []

    def chunks() -> Iterator[bytes]:
        yield EXPIRED

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["KALSHI-ACCESS-SIGNATURE"])
        if len(seen) > 1:
            return httpx.Response(200, text="ok")
        return httpx.Response(401, headers={"Date": formatdate(usegmt=True)}, content=chunks())

    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)
    with httpx.Client(transport=httpx.MockTransport(handle), auth=auth) as client:
        response = client.get(URL)
    assert response.status_code == 200
    assert len(seen) == 2
