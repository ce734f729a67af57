"""Redirects: a same-origin hop arrives signed for its own method and path; no KALSHI-*
header ever reaches another origin. Real servers on two loopback origins, both libraries."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_auth import KalshiAuth
from kalshi_auth.testing import KalshiVerifier
from tests.helpers.redirect_servers import Origins, two_origins

KEY_ID = "5d7c0e1a-6b2f-4c3d-9e8f-a1b2c3d4e5f6"
STATUSES = [301, 302, 303, 307, 308]


@pytest.fixture
def origins(kalshi_rsa_key: rsa.RSAPrivateKey) -> Iterator[Origins]:
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, kalshi_rsa_key)
    with two_origins(verifier) as o:
        yield o


@pytest.fixture
def auth(kalshi_rsa_key: rsa.RSAPrivateKey) -> KalshiAuth:
    return KalshiAuth(KEY_ID, kalshi_rsa_key)


def expected_method(status: int, method: str) -> str:
    # What both libraries do: 303 always GET; 301/302 turn POST into GET; 307/308 keep it.
    if status == 303 or (status in (301, 302) and method == "POST"):
        return "GET"
    return method


def send(library: str, auth: KalshiAuth, method: str, url: str) -> int:
    if library == "requests":
        return requests.request(method, url, json={"n": 1}, auth=auth, timeout=10).status_code
    with httpx.Client(auth=auth, follow_redirects=True, event_hooks=auth.httpx_event_hooks()) as c:
        return c.request(method, url, json={"n": 1}).status_code


@pytest.mark.parametrize("library", ["requests", "httpx"])
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("status", STATUSES)
def test_same_origin_hops_are_signed_for_their_own_path(
    origins: Origins, auth: KalshiAuth, library: str, method: str, status: int
) -> None:
    final = f"{origins.a}/trade-api/v2/landed/{status}?q=1"
    middle = origins.redirect(origins.a, 307, final)
    assert send(library, auth, method, origins.redirect(origins.a, status, middle)) == 200
    first, second, third = origins.hops
    assert [h.origin for h in origins.hops] == [origins.a] * 3
    assert second.method == expected_method(status, method)
    assert third.method == second.method
    assert third.target == f"/trade-api/v2/landed/{status}?q=1"
    for hop in (first, second, third):
        assert hop.verdict is not None, hop.target
        assert hop.verdict.accepted, (hop.target, hop.verdict)
    if third.method == "POST":
        assert third.body == b'{"n":1}' or third.body == b'{"n": 1}'


@pytest.mark.parametrize("library", ["requests", "httpx"])
@pytest.mark.parametrize("status", STATUSES)
def test_no_kalshi_header_reaches_another_origin(
    origins: Origins, auth: KalshiAuth, library: str, status: int
) -> None:
    landing = f"{origins.b}/trade-api/v2/portfolio/balance"
    # Two hops on origin A, then origin B; origin B must see no credential at all.
    url = origins.redirect(origins.a, 302, origins.redirect(origins.a, status, landing))
    assert send(library, auth, "GET", url) == 200
    on_a = [h for h in origins.hops if h.origin == origins.a]
    on_b = [h for h in origins.hops if h.origin == origins.b]
    assert len(on_a) == 2
    assert len(on_b) == 1
    assert all(h.verdict is not None and h.verdict.accepted for h in on_a)
    assert on_b[0].kalshi_headers == []


def test_requests_without_following_gives_a_signed_next_hop(
    origins: Origins, auth: KalshiAuth
) -> None:
    target = f"{origins.a}/trade-api/v2/next"
    with requests.Session() as session:
        session.auth = auth
        response = session.get(origins.redirect(origins.a, 302, target), allow_redirects=False)
        assert response.status_code == 302
        assert response.next is not None
        assert session.send(response.next, allow_redirects=False).status_code == 200
    assert [h.verdict.accepted for h in origins.hops if h.verdict] == [True, True]


def test_httpx_auth_alone_without_following_is_covered(origins: Origins, auth: KalshiAuth) -> None:
    # httpx's default (follow_redirects=False): each request the client sends is signed
    # by the auth flow, including response.next_request.
    with httpx.Client(auth=auth) as client:
        response = client.get(origins.redirect(origins.a, 307, f"{origins.a}/trade-api/v2/x"))
        assert response.status_code == 307
        assert response.next_request is not None
        assert client.send(response.next_request).status_code == 200
    assert [h.verdict.accepted for h in origins.hops if h.verdict] == [True, True]


def test_httpx_auth_alone_while_following_is_not_covered_and_says_so(
    origins: Origins, auth: KalshiAuth, caplog: pytest.LogCaptureFixture
) -> None:
    # Documented limitation: without the event hooks, httpx follows redirects out of the
    # auth flow's sight and copies the first request's headers to every hop.
    landing = f"{origins.b}/trade-api/v2/portfolio/balance"
    with (
        caplog.at_level(logging.WARNING, logger="kalshi_auth"),
        httpx.Client(auth=auth, follow_redirects=True) as client,
    ):
        assert client.get(origins.redirect(origins.a, 302, landing)).status_code == 200
    assert origins.hops[1].kalshi_headers != []  # the leak the event hooks prevent
    assert any("httpx_event_hooks()" in r.getMessage() for r in caplog.records)


@pytest.mark.anyio
async def test_httpx_async_event_hooks(origins: Origins, auth: KalshiAuth) -> None:
    landing = f"{origins.b}/trade-api/v2/portfolio/balance"
    same = f"{origins.a}/trade-api/v2/landed"
    hooks = auth.httpx_async_event_hooks()
    async with httpx.AsyncClient(auth=auth, follow_redirects=True, event_hooks=hooks) as c:
        assert (await c.post(origins.redirect(origins.a, 308, same), json={})).status_code == 200
        assert (await c.get(origins.redirect(origins.a, 301, landing))).status_code == 200
    on_a = [h for h in origins.hops if h.origin == origins.a]
    assert [h.verdict.accepted for h in on_a if h.verdict] == [True, True, True]
    assert len(on_a) == 3
    assert [h.kalshi_headers for h in origins.hops if h.origin == origins.b] == [[]]
