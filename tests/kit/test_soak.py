"""A bounded soak: thousands of requests through both libraries, threads and asyncio at
once, against the verifying server (in its own process). Zero rejected, zero errors."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from kalshi_auth import KalshiAuth
from kalshi_auth.testing import server_process

pytestmark = pytest.mark.slow  # seconds of load on real servers

PER_THREAD = 800
ASYNC_TOTAL = 1200
ASYNC_CONCURRENCY = 100


def test_soak(
    kalshi_rsa_key: rsa.RSAPrivateKey, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    rsa_auth = KalshiAuth("soak-rsa", kalshi_rsa_key)
    ed_auth = KalshiAuth("soak-ed25519", kalshi_ed25519_key)
    errors: list[BaseException] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def record(status: int) -> None:
        with lock:
            statuses.append(status)

    # What is under test is every signature, under threads and asyncio at once. On two
    # cores this saturated client process holds some requests for several seconds between
    # signing and sending (httpx's connection pool and the GIL, not the signing), so the
    # server accepts timestamps up to 60 s old. The 10 s rule is tested on its own.
    with server_process(
        {"soak-rsa": kalshi_rsa_key, "soak-ed25519": kalshi_ed25519_key}, max_past_ms=60_000
    ) as server:
        base = server.base_url

        def with_requests() -> None:
            try:
                with requests.Session() as session:
                    session.auth = rsa_auth
                    for i in range(PER_THREAD):
                        url = f"{base}/markets/R{i}"
                        record(session.get(url, params={"i": str(i)}, timeout=30).status_code)
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

        def with_httpx() -> None:
            try:
                with httpx.Client(base_url=base, auth=ed_auth, timeout=30) as client:
                    for i in range(PER_THREAD):
                        record(client.post(f"/orders/H{i}", json={"i": i}).status_code)
            except BaseException as exc:
                errors.append(exc)

        async def with_asyncio() -> None:
            gate = asyncio.Semaphore(ASYNC_CONCURRENCY)
            limits = httpx.Limits(max_connections=ASYNC_CONCURRENCY)
            async with httpx.AsyncClient(
                base_url=base, auth=rsa_auth, limits=limits, timeout=60
            ) as client:

                async def one(i: int) -> None:
                    async with gate:
                        record((await client.get(f"/markets/A{i}", params={"i": i})).status_code)

                await asyncio.gather(*(one(i) for i in range(ASYNC_TOTAL)))

        threads = [threading.Thread(target=with_requests), threading.Thread(target=with_httpx)]
        for thread in threads:
            thread.start()
        asyncio.run(with_asyncio())
        for thread in threads:
            thread.join()

    assert errors == []
    assert len(statuses) == 2 * PER_THREAD + ASYNC_TOTAL
    assert set(statuses) == {200}
    assert server.summary["rejected"] == []
    assert server.summary["total"] == len(statuses)  # not one re-send was needed
