"""Clock skew: one re-send after Kalshi's header_timestamp_expired, then the learned offset."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping

import httpx
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_auth import ConfigurationError, KalshiAuth
from kalshi_auth._signing import now_ms
from kalshi_auth.testing import (
    INCORRECT_SIGNATURE,
    TIMESTAMP_EXPIRED,
    KalshiTestServer,
    KalshiVerifier,
    Verdict,
    generate_rsa_key,
)

KEY_ID = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"


class AlwaysExpired(KalshiVerifier):
    def verify(self, method: str, target: str, headers: Mapping[str, str]) -> Verdict:
        return Verdict(False, "always expired", TIMESTAMP_EXPIRED)


@pytest.fixture
def server(kalshi_rsa_key: rsa.RSAPrivateKey) -> Iterator[KalshiTestServer]:
    with KalshiTestServer({KEY_ID: kalshi_rsa_key}) as s:
        yield s


def get_twice(library: str, auth: KalshiAuth, url: str) -> list[int]:
    if library == "requests":
        with requests.Session() as session:
            session.auth = auth
            return [session.post(url, json={"a": 1}).status_code for _ in range(2)]
    if library == "httpx":
        with httpx.Client(auth=auth) as client:
            return [client.post(url, json={"a": 1}).status_code for _ in range(2)]

    async def go() -> list[int]:
        async with httpx.AsyncClient(auth=auth) as client:
            return [(await client.post(url, json={"a": 1})).status_code for _ in range(2)]

    return asyncio.run(go())


@pytest.mark.parametrize("library", ["requests", "httpx", "httpx-async"])
@pytest.mark.parametrize("skew_s", [60, -60])
def test_one_resend_then_learned(
    server: KalshiTestServer,
    kalshi_rsa_key: rsa.RSAPrivateKey,
    library: str,
    skew_s: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.clock_offset_ms = skew_s * 1000
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
    with caplog.at_level(logging.WARNING, logger="kalshi_auth"):
        assert get_twice(library, auth, f"{server.base_url}/portfolio/orders") == [200, 200]
    verdicts = [r.verdict for r in server.requests]
    assert [v.accepted for v in verdicts] == [False, True, True]  # one re-send, then none
    assert verdicts[0].body == TIMESTAMP_EXPIRED
    assert all(r.body == b'{"a": 1}' or r.body == b'{"a":1}' for r in server.requests)
    assert abs(auth.clock_offset_ms - skew_s * 1000) < 2_000
    side = "behind" if skew_s > 0 else "ahead of"
    assert any(f"s {side} Kalshi's" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("library", ["requests", "httpx", "httpx-async"])
def test_always_expired_gets_exactly_two_attempts(
    kalshi_rsa_key: rsa.RSAPrivateKey, library: str
) -> None:
    with KalshiTestServer(verifier=AlwaysExpired()) as server:
        auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
        statuses = get_twice(library, auth, f"{server.base_url}/portfolio/orders")
    assert statuses == [401, 401]
    assert len(server.requests) == 4  # each request: the attempt and one re-send, no loop


@pytest.mark.parametrize("library", ["requests", "httpx", "httpx-async"])
def test_other_401s_are_never_resent(kalshi_rsa_key: rsa.RSAPrivateKey, library: str) -> None:
    with KalshiTestServer({KEY_ID: generate_rsa_key()}) as server:
        auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
        assert get_twice(library, auth, f"{server.base_url}/x") == [401, 401]
    assert [r.verdict.body for r in server.requests] == [INCORRECT_SIGNATURE] * 2
    assert auth.clock_offset_ms == 0


def test_streamed_upload_is_not_resent(
    server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey
) -> None:
    server.clock_offset_ms = 60_000

    def body() -> Iterator[bytes]:
        yield b"once"

    with httpx.Client(auth=KalshiAuth(KEY_ID, kalshi_rsa_key)) as client:
        assert client.post(f"{server.base_url}/upload", content=body()).status_code == 401
    assert len(server.requests) == 1


def test_requests_generator_body_is_not_resent(
    server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey
) -> None:
    server.clock_offset_ms = -60_000

    def body() -> Iterator[bytes]:
        yield b"once"

    auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
    assert requests.post(f"{server.base_url}/upload", data=body(), auth=auth).status_code == 401
    assert len(server.requests) == 1


def test_clock_option(server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    fixed = now_ms() + 3_600_000  # an hour ahead, frozen
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key, clock=lambda: fixed)
    assert auth.headers("GET", "/x")["KALSHI-ACCESS-TIMESTAMP"] == str(fixed)
    # The server's clock is far from the fixed one: one re-send with the learned offset.
    assert requests.get(f"{server.base_url}/x", auth=auth, timeout=10).status_code == 200
    learned = auth.headers("GET", "/x")["KALSHI-ACCESS-TIMESTAMP"]
    assert abs(int(learned) - server.verifier.now_ms()) < 2_000
    with pytest.raises(ConfigurationError, match="clock"):
        KalshiAuth(KEY_ID, kalshi_rsa_key, clock=12345)  # type: ignore[arg-type]
