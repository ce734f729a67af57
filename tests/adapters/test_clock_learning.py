"""The learned clock, the same in every client: it comes only from the origin the request
was signed for, each lesson replaces the last (so a corrected clock heals), a Date that is
absurd is never adopted, and a request is re-sent at most once, also under concurrency."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote

import aiohttp
import httpx
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_auth import KalshiAuth
from kalshi_auth.aiohttp import KalshiAuthMiddleware
from kalshi_auth.testing import KalshiTestServer, KalshiVerifier
from tests.helpers.clients import CLIENTS, send
from tests.helpers.redirect_servers import Origins, two_origins

KEY_ID = "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901"
HOUR_MS = 3_600_000


@pytest.fixture
def server(kalshi_rsa_key: rsa.RSAPrivateKey) -> Iterator[KalshiTestServer]:
    with KalshiTestServer({KEY_ID: kalshi_rsa_key}) as s:
        yield s


@pytest.fixture
def origins(kalshi_rsa_key: rsa.RSAPrivateKey, tmp_path: Path) -> Iterator[Origins]:
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, kalshi_rsa_key)
    with two_origins(verifier) as o:
        yield o


def http_date(offset_ms: int) -> str:
    return formatdate(time.time() + offset_ms / 1000, usegmt=True)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("skew_ms", [60_000, -60_000])
def test_learns_then_heals_when_the_clocks_agree_again(
    server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey, client: str, skew_ms: int
) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
    url = f"{server.base_url}/portfolio/orders"
    server.clock_offset_ms = skew_ms
    assert send(client, auth, "POST", url, body={"n": 1}) == 200
    assert abs(auth.clock_offset_ms - skew_ms) < 2_000
    # The machine's clock is corrected (or Kalshi's is): the old offset is now wrong.
    server.clock_offset_ms = 0
    assert send(client, auth, "POST", url, body={"n": 2}) == 200
    assert abs(auth.clock_offset_ms) < 2_000
    assert send(client, auth, "GET", url) == 200
    accepted = [r.verdict.accepted for r in server.requests]
    # Each change costs exactly one rejected attempt and one re-send; then none.
    assert accepted == [False, True, False, True, True]


HOSTILE_DATES = {
    "1970": "Thu, 01 Jan 1970 00:00:00 GMT",
    "9999": "Fri, 31 Dec 9999 23:59:59 GMT",
    "garbage": "yesterday, probably",
    "two days ahead": http_date(2 * 24 * HOUR_MS),
    "two days behind": http_date(-2 * 24 * HOUR_MS),
    "missing": "none",
    "too long": "Thu, 01 Jan 2026 00:00:00 GMT" + " " * 100,
}


@pytest.mark.parametrize("client", CLIENTS)
def test_hostile_dates_change_nothing(
    origins: Origins, kalshi_rsa_key: rsa.RSAPrivateKey, client: str
) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
    # First a lesson that works, so there is an offset to keep.
    assert send(client, auth, "GET", origins.expired(origins.a, http_date(HOUR_MS))) == 401
    assert len(origins.hops) == 2  # the attempt and one re-send
    learned = auth.clock_offset_ms
    assert abs(learned - HOUR_MS) < 2_000
    for name, date in HOSTILE_DATES.items():
        origins.hops.clear()
        assert send(client, auth, "GET", origins.expired(origins.a, date)) == 401, name
        assert len(origins.hops) == 1, name  # not re-sent
        assert auth.clock_offset_ms == learned, name


@pytest.mark.parametrize("client", CLIENTS)
def test_a_cross_origin_401_teaches_nothing(
    origins: Origins, kalshi_rsa_key: rsa.RSAPrivateKey, client: str
) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
    expired_at_b = origins.expired(origins.b, http_date(HOUR_MS))
    url = (
        f"{origins.a}/trade-api/v2/portfolio/orders?redirect=302&to={quote(expired_at_b, safe='')}"
    )
    assert send(client, auth, "GET", url) == 401
    assert auth.clock_offset_ms == 0
    at_b = origins.on(origins.b)
    assert len(at_b) == 1  # never re-sent
    assert at_b[0].kalshi_headers == []


@pytest.mark.parametrize("client", CLIENTS)
def test_an_out_of_scope_401_teaches_nothing(
    origins: Origins, kalshi_rsa_key: rsa.RSAPrivateKey, client: str
) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key, hosts=["localhost"])  # origin A is 127.0.0.1
    assert send(client, auth, "GET", origins.expired(origins.a, http_date(HOUR_MS))) == 401
    assert auth.clock_offset_ms == 0
    assert len(origins.hops) == 1
    assert origins.hops[0].kalshi_headers == []


N = 12


def concurrent_statuses(client: str, auth: KalshiAuth, url: str) -> list[int]:
    if client in ("requests", "httpx"):
        with ThreadPoolExecutor(N) as pool:
            return list(pool.map(lambda _: send(client, auth, "POST", url, body={}), range(N)))

    async def many() -> list[int]:
        if client == "httpx-async":
            async with httpx.AsyncClient(auth=auth) as c:
                answers = await asyncio.gather(*(c.post(url, json={}) for _ in range(N)))
                return [a.status_code for a in answers]
        async with aiohttp.ClientSession(middlewares=(KalshiAuthMiddleware(auth),)) as session:

            async def one() -> int:
                async with session.post(url, json={}) as response:
                    return response.status

            return list(await asyncio.gather(*(one() for _ in range(N))))

    return asyncio.run(many())


@pytest.mark.parametrize("client", CLIENTS)
def test_at_most_one_resend_per_request_under_concurrency(
    server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey, client: str
) -> None:
    server.clock_offset_ms = 90_000
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
    statuses = concurrent_statuses(client, auth, f"{server.base_url}/portfolio/orders")
    assert statuses == [200] * N
    rejected = [r for r in server.requests if not r.verdict.accepted]
    assert len(server.requests) == N + len(rejected) <= 2 * N
    assert abs(auth.clock_offset_ms - 90_000) < 2_000


def test_requests_session_and_httpx_client_share_the_lesson(
    server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey
) -> None:
    # One auth object, one clock: what requests learned, httpx uses at once.
    server.clock_offset_ms = -45_000
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
    with requests.Session() as session:
        session.auth = auth
        assert session.get(f"{server.base_url}/x").status_code == 200
    with httpx.Client(auth=auth) as client:
        assert client.get(f"{server.base_url}/x").status_code == 200
    assert [r.verdict.accepted for r in server.requests] == [False, True, True]
