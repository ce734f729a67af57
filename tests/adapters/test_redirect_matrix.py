"""One redirect rule for every client: a hop is signed, for its own method and path, only
when it is back on the origin of the request the user made; every other hop carries no
KALSHI-ACCESS-* header, and a request the user makes is never a hop. Real servers on
loopback origins that differ in host, port and scheme, through requests, httpx (with its
event hooks), httpx async and aiohttp."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_auth import KalshiAuth
from kalshi_auth.aiohttp import session_options
from kalshi_auth.testing import KalshiVerifier
from tests.helpers.clients import CLIENTS, send
from tests.helpers.redirect_servers import Hop, Origins, two_origins

KEY_ID = "7c1d2e3f-4a5b-4c6d-8e7f-8a9b0c1d2e3f"
STATUSES = [301, 302, 303, 307, 308]


@pytest.fixture(scope="module")
def module_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def origins(module_key: rsa.RSAPrivateKey, tmp_path: Path) -> Iterator[Origins]:
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, module_key)
    with two_origins(verifier, tls_dir=tmp_path) as o:
        yield o


@pytest.fixture
def auth(module_key: rsa.RSAPrivateKey) -> KalshiAuth:
    return KalshiAuth(KEY_ID, module_key)


def hop_to(status: int, to: str, path: str = "/trade-api/v2/portfolio/orders") -> str:
    return f"{path}?redirect={status}&to={quote(to, safe='')}"


def others(origins: Origins) -> list[str]:
    """Origins other than A: host and port differ; port alone; host name alone."""
    port_a = origins.a.rsplit(":", 1)[1]
    port_b = origins.b.rsplit(":", 1)[1]
    return [origins.b, f"http://127.0.0.1:{port_b}", f"http://localhost:{port_a}"]


def host_of(hop: Hop) -> str:
    return next(v for k, v in hop.headers.items() if k.lower() == "host")


def assert_rule(hops: list[Hop], first_host: str, signed_hops: int) -> None:
    """Hops on the first request's host:port verify; hops anywhere else carry nothing."""
    on_first = [h for h in hops if host_of(h) == first_host]
    elsewhere = [h for h in hops if host_of(h) != first_host]
    assert len(on_first) == signed_hops, [(h.method, h.target) for h in hops]
    for hop in on_first:
        assert hop.verdict is not None, (hop.method, hop.target)
        assert hop.verdict.accepted, (hop.method, hop.target, hop.verdict.reason)
    for hop in elsewhere:
        assert hop.kalshi_headers == [], (host_of(hop), hop.method, hop.target)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("status", STATUSES)
def test_other_origins_get_nothing(
    origins: Origins, auth: KalshiAuth, client: str, status: int
) -> None:
    first_host = origins.a.split("://", 1)[1]
    for other in others(origins):
        for method in ("GET", "POST", "DELETE"):
            origins.hops.clear()
            url = origins.a + hop_to(status, f"{other}/trade-api/v2/portfolio/balance")
            assert send(client, auth, method, url, body={"n": 1}) == 200
            assert len(origins.hops) == 2, (other, method)
            assert_rule(origins.hops, first_host, signed_hops=1)


@pytest.mark.parametrize("client", CLIENTS)
def test_https_to_http_is_another_origin(origins: Origins, auth: KalshiAuth, client: str) -> None:
    first_host = origins.s.split("://", 1)[1]
    same_port_http = "http://" + first_host  # nothing listens for http there: never sent
    assert same_port_http != origins.s
    for status in (302, 307):
        origins.hops.clear()
        url = origins.s + hop_to(status, f"{origins.a}/trade-api/v2/portfolio/balance")
        assert send(client, auth, "GET", url, ca=origins.ca) == 200
        first, second = origins.hops
        assert first.verdict is not None
        assert first.verdict.accepted
        assert second.origin == origins.a
        assert second.kalshi_headers == []


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_leave_and_come_back_is_signed_again(
    origins: Origins, auth: KalshiAuth, client: str, method: str
) -> None:
    # A -> B -> A, and the last hop has the first request's method and target exactly.
    target = "/trade-api/v2/portfolio/orders?limit=5"
    via_b = origins.b + hop_to(307, origins.a + target, path="/trade-api/v2/elsewhere")
    origins.once[(origins.a, target)] = (307, via_b)
    assert send(client, auth, method, origins.a + target, body={"n": 1}) == 200
    first, middle, last = origins.hops
    assert (first.origin, middle.origin, last.origin) == (origins.a, origins.b, origins.a)
    assert (first.method, first.target) == (last.method, last.target) == (method, target)
    assert middle.kalshi_headers == []
    for hop in (first, last):
        assert hop.verdict is not None
        assert hop.verdict.accepted, hop.verdict.reason


@pytest.mark.parametrize("client", CLIENTS)
def test_relative_locations(origins: Origins, auth: KalshiAuth, client: str) -> None:
    port_b = origins.b.rsplit(":", 1)[1]
    locations = {
        "/trade-api/v2/landed/absolute-path": True,
        "../landed/dot-dot": True,
        "landed-sibling": True,
        f"//localhost:{port_b}/trade-api/v2/landed/scheme-relative": False,
    }
    first_host = origins.a.split("://", 1)[1]
    for location, same_origin in locations.items():
        origins.hops.clear()
        url = origins.a + hop_to(302, location, path="/trade-api/v2/deep/start")
        assert send(client, auth, "GET", url) == 200, location
        assert len(origins.hops) == 2, location
        assert_rule(origins.hops, first_host, signed_hops=2 if same_origin else 1)
        assert "/landed" in origins.hops[1].target, origins.hops[1].target


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("status", STATUSES)
def test_same_origin_hops_verify_for_their_own_method_and_path(
    origins: Origins, auth: KalshiAuth, client: str, status: int
) -> None:
    for method in ("GET", "POST", "DELETE"):
        origins.hops.clear()
        final = f"{origins.a}/trade-api/v2/landed/{status}?q=1"
        url = origins.a + hop_to(status, final)
        assert send(client, auth, method, url, body={"n": 1}) == 200
        first, second = origins.hops
        assert second.target == f"/trade-api/v2/landed/{status}?q=1"
        # Clients differ in which method a 301/302 hop keeps; each hop is signed for its own.
        assert second.method in (method, "GET")
        assert second.verdict is not None
        assert second.verdict.message is not None
        assert second.verdict.message.endswith(f"{second.method}/trade-api/v2/landed/{status}")
        for hop in (first, second):
            assert hop.verdict is not None
            assert hop.verdict.accepted, (hop.method, hop.target, hop.verdict.reason)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize(("status", "method"), [(302, "GET"), (307, "POST")])
def test_a_uri_header_to_another_origin_gets_nothing(
    origins: Origins, auth: KalshiAuth, client: str, status: int, method: str
) -> None:
    # aiohttp follows a `URI:` header when there is no `Location`; requests and httpx do not.
    chosen_by_b = f"{origins.b}/trade-api/v2/portfolio/orders?chosen=by-b"
    uri = quote(chosen_by_b, safe="")
    url = f"{origins.a}/trade-api/v2/portfolio/orders?redirect={status}&uri={uri}"
    follows = client == "aiohttp"
    assert send(client, auth, method, url, body={"n": 1}) == (200 if follows else status)
    assert [h.origin for h in origins.hops] == [origins.a, origins.b][: 2 if follows else 1]
    assert_rule(origins.hops, origins.a.split("://", 1)[1], signed_hops=1)
    if follows:
        hop = origins.hops[1]
        assert (hop.method, hop.target) == (method, "/trade-api/v2/portfolio/orders?chosen=by-b")
        assert hop.body == b'{"n": 1}'  # aiohttp keeps the body of a 302 GET and a 307


# aiohttp alone: it runs the middleware for requests and hops alike, with nothing that says
# which is which, so these are the cases where a guess would go wrong.


def signed_only(origin: str, n: int = 0) -> str:
    """A URL on `origin` that answers 401 unless the request's signature verifies."""
    return f"{origin}/trade-api/v2/portfolio/balance?must_sign=1&n={n}"


@pytest.mark.anyio
async def test_aiohttp_own_request_after_an_unfollowed_redirect_is_signed(
    origins: Origins, auth: KalshiAuth
) -> None:
    async with aiohttp.ClientSession(**session_options(auth)) as session:
        to_b = origins.a + hop_to(302, signed_only(origins.b))
        async with session.get(to_b, allow_redirects=False) as response:
            assert response.status == 302
        async with session.get(signed_only(origins.b)) as response:
            assert response.status == 200, await response.text()
    first, own = origins.hops
    assert (first.origin, own.origin) == (origins.a, origins.b)
    for hop in (first, own):
        assert hop.verdict is not None
        assert hop.verdict.accepted, hop.verdict.reason


@pytest.mark.anyio
async def test_aiohttp_requests_gathered_after_an_unfollowed_redirect_are_signed(
    origins: Origins, auth: KalshiAuth
) -> None:
    async with aiohttp.ClientSession(**session_options(auth)) as session:
        to_b = origins.a + hop_to(302, signed_only(origins.b))
        async with session.get(to_b, allow_redirects=False) as response:
            assert response.status == 302

        async def one(n: int) -> int:
            async with session.get(signed_only(origins.b, n)) as answer:
                return answer.status

        assert await asyncio.gather(*(one(n) for n in range(5))) == [200] * 5
    on_b = origins.on(origins.b)
    assert sorted(hop.target[-1] for hop in on_b) == ["0", "1", "2", "3", "4"]
    assert all(hop.verdict is not None and hop.verdict.accepted for hop in on_b)
