"""aiohttp: a request is a redirect hop only when aiohttp is following a redirect.

aiohttp runs the middleware for the request the user made, for each redirect hop and for
each retry, with nothing that says which is which. The middleware learns it from the
session's tracing (``session_options(auth)`` installs both). These are the cases a guess
gets wrong: hops that are not the next request, requests that look like hops, requests
made inside other middlewares, and a middleware or session set up without the trace config.
Real servers on loopback (tests/helpers/redirect_servers.py), real sessions, no mocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import quote

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_auth import ConfigurationError, KalshiAuth
from kalshi_auth.aiohttp import KalshiAuthMiddleware, session_options
from kalshi_auth.testing import KalshiVerifier
from tests.helpers.redirect_servers import Hop, Origins, two_origins

KEY_ID = "0b6f4a2c-3d5e-4f70-8a9b-c1d2e3f4a5b6"
ORDERS = "/trade-api/v2/portfolio/orders"


@pytest.fixture
def origins(kalshi_rsa_key: rsa.RSAPrivateKey) -> Iterator[Origins]:
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, kalshi_rsa_key)
    with two_origins(verifier) as o:
        yield o


@pytest.fixture
def auth(kalshi_rsa_key: rsa.RSAPrivateKey) -> KalshiAuth:
    return KalshiAuth(KEY_ID, kalshi_rsa_key)  # loopback, origins A and B, is in the default hosts


def redirect(origin: str, status: int, to: str, header: str = "to", path: str = ORDERS) -> str:
    """A URL on `origin` that answers `status` with `header` ("to": Location, "uri": URI)."""
    return f"{origin}{path}?redirect={status}&{header}={quote(to, safe='')}"


def signed_only(origin: str, tag: str = "") -> str:
    """A URL on `origin` that answers 401 unless the request's signature verifies."""
    return f"{origin}/trade-api/v2/portfolio/balance?must_sign=1&tag={tag}"


def verified(hop: Hop) -> bool:
    return hop.verdict is not None and hop.verdict.accepted


async def status_of(session: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> int:
    async with session.request(method, url, **kw) as response:
        await response.read()
        return response.status


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_uri_hop_that_leaves_and_comes_back_is_signed_again(
    origins: Origins, auth: KalshiAuth, method: str
) -> None:
    # A --307, URI:--> B --307, Location:--> A, with the body each time.
    target = f"{ORDERS}?limit=5"
    back_to_a = redirect(origins.b, 307, origins.a + target, path="/trade-api/v2/elsewhere")
    first_url = redirect(origins.a, 307, back_to_a, header="uri")
    async with aiohttp.ClientSession(**session_options(auth)) as session:
        assert await status_of(session, method, first_url, json={"n": 1}) == 200
    first, middle, last = origins.hops
    assert (first.origin, middle.origin, last.origin) == (origins.a, origins.b, origins.a)
    assert middle.kalshi_headers == []
    assert middle.body == last.body == b'{"n": 1}'
    assert (last.method, last.target) == (method, target)
    assert verified(first)
    assert verified(last)


@pytest.mark.anyio
async def test_own_request_after_an_unfollowed_redirect_has_its_own_same_origin_hop_signed(
    origins: Origins, auth: KalshiAuth
) -> None:
    landed = signed_only(origins.b, "landed")
    async with aiohttp.ClientSession(**session_options(auth)) as session:
        to_b = redirect(origins.a, 302, signed_only(origins.b))
        assert await status_of(session, "GET", to_b, allow_redirects=False) == 302
        # The user's own request to B, which B redirects to itself: both are B's own.
        own = redirect(origins.b, 307, landed, path="/trade-api/v2/portfolio/start")
        assert await status_of(session, "GET", own) == 200
    _, start, hop = origins.hops
    assert (start.origin, hop.origin) == (origins.b, origins.b)
    assert verified(start)
    assert verified(hop)
    assert hop.verdict is not None
    assert hop.verdict.message is not None
    assert hop.verdict.message.endswith("GET/trade-api/v2/portfolio/balance")


@pytest.mark.anyio
@pytest.mark.parametrize("status", [302, 307])
async def test_a_redirect_aiohttp_refuses_to_follow_leaves_no_hop_behind(
    origins: Origins, auth: KalshiAuth, status: int
) -> None:
    async with aiohttp.ClientSession(**session_options(auth)) as session:
        to_b = redirect(origins.a, status, signed_only(origins.b))
        with pytest.raises(aiohttp.TooManyRedirects):
            await status_of(session, "GET", to_b, max_redirects=1)
        assert await status_of(session, "GET", signed_only(origins.b, "own")) == 200
    first, own = origins.hops
    assert (first.origin, own.origin) == (origins.a, origins.b)
    assert verified(own)


@pytest.mark.anyio
async def test_a_retried_hop_to_another_origin_stays_unsigned(
    origins: Origins, auth: KalshiAuth
) -> None:
    # aiohttp sends an idempotent request again when the server drops the connection: the
    # second try of a hop to B is still that hop, not a request of the user's.
    landed = f"{ORDERS}?landed=1"
    origins.drop.add((origins.b, landed))
    async with aiohttp.ClientSession(**session_options(auth)) as session:
        assert await status_of(session, "GET", redirect(origins.a, 302, origins.b + landed)) == 200
    first, dropped, retried = origins.hops
    assert verified(first)
    assert (dropped.origin, dropped.target) == (origins.b, landed)
    assert (retried.origin, retried.target) == (origins.b, landed)
    assert dropped.kalshi_headers == retried.kalshi_headers == []


def audit_middleware(audit_url: str, when: str) -> aiohttp.ClientMiddlewareType:
    """A middleware of the user's that makes its own request on the same session, before or
    after it sends each request (but not for its own audit request)."""

    async def audit(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        if "must_sign" in request.url.query:
            return await handler(request)
        if when == "before":
            assert await status_of(request.session, "GET", audit_url) == 200
        response = await handler(request)
        if when == "after":
            assert await status_of(request.session, "GET", audit_url) == 200
        return response

    return audit


@pytest.mark.anyio
@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("audit_on", ["a", "b"])
async def test_requests_made_inside_another_middleware_are_the_users_own(
    origins: Origins, auth: KalshiAuth, when: str, audit_on: str
) -> None:
    audit_url = signed_only(getattr(origins, audit_on), "audit")
    ours = KalshiAuthMiddleware(auth)
    async with aiohttp.ClientSession(
        middlewares=(audit_middleware(audit_url, when), ours), trace_configs=[ours.trace_config]
    ) as session:
        landed = f"{origins.b}{ORDERS}?landed=1"
        assert await status_of(session, "POST", redirect(origins.a, 307, landed), json={}) == 200
    audits = [hop for hop in origins.hops if "tag=audit" in hop.target]
    chain = [hop for hop in origins.hops if "tag=audit" not in hop.target]
    assert len(audits) == 2
    assert all(verified(hop) for hop in audits)
    first, hop = chain
    assert (first.origin, hop.origin, hop.target) == (origins.a, origins.b, f"{ORDERS}?landed=1")
    assert verified(first)
    assert hop.kalshi_headers == []


@pytest.mark.anyio
async def test_a_request_that_fails_inside_another_middleware_ends_its_own_call(
    origins: Origins, auth: KalshiAuth
) -> None:
    # The audit request, made before each request of the chain A -> B, is itself redirected
    # from B to B until aiohttp gives up (TooManyRedirects): its call ends by an exception.
    failing = redirect(origins.b, 307, signed_only(origins.b, "audit"), path="/audit")
    refusals: list[BaseException] = []

    async def audit(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        if not request.url.path.startswith("/audit") and "must_sign" not in request.url.query:
            with pytest.raises(aiohttp.TooManyRedirects) as refused:
                await status_of(request.session, "GET", failing, max_redirects=1)
            refusals.append(refused.value)
        return await handler(request)

    ours = KalshiAuthMiddleware(auth)
    async with aiohttp.ClientSession(
        middlewares=(audit, ours), trace_configs=[ours.trace_config]
    ) as session:
        to_b = redirect(origins.a, 307, f"{origins.b}{ORDERS}?landed=1")
        assert await status_of(session, "POST", to_b, json={}) == 200
    assert len(refusals) == 2
    audits = [h for h in origins.hops if h.target.startswith("/audit")]
    assert [h.origin for h in audits] == [origins.b, origins.b]  # each stopped at its first
    assert all(verified(h) for h in audits)  # the user's own requests, to B: signed
    first, hop = (h for h in origins.hops if not h.target.startswith("/audit"))
    assert (first.origin, hop.origin) == (origins.a, origins.b)
    assert verified(first)
    assert hop.kalshi_headers == []


@pytest.mark.anyio
@pytest.mark.parametrize("lands_on", ["a", "b"])
async def test_a_hop_is_judged_by_the_url_the_user_asked_for(
    origins: Origins, auth: KalshiAuth, lands_on: str
) -> None:
    # Another middleware answers the user's request itself (from its own request to A), with
    # a redirect that aiohttp follows: the first request ours sees is that hop.
    landed = signed_only(getattr(origins, lands_on), "landed")

    async def shortcut(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        if "shortcut" not in request.url.query:
            return await handler(request)
        own = redirect(origins.a, 307, landed, path="/trade-api/v2/own")
        return await request.session.get(own, allow_redirects=False, middlewares=())

    ours = KalshiAuthMiddleware(auth)
    async with aiohttp.ClientSession(
        middlewares=(shortcut, ours), trace_configs=[ours.trace_config]
    ) as session:
        status = await status_of(session, "GET", f"{origins.a}{ORDERS}?shortcut=1")
    # B answers 401 to a request that is not signed: the hop there is stripped.
    assert status == (200 if lands_on == "a" else 401)
    own, hop = origins.hops
    assert (own.origin, own.kalshi_headers) == (origins.a, [])  # sent with middlewares=()
    assert hop.origin == getattr(origins, lands_on)
    if lands_on == "a":
        assert verified(hop)
    else:
        assert hop.kalshi_headers == []


@pytest.mark.anyio
async def test_an_untraced_session_is_not_fooled_by_a_traced_call_around_it(
    origins: Origins, auth: KalshiAuth
) -> None:
    # The same middleware object in a second session that lacks its trace config, used from
    # inside a call of the first: that call is not the second session's.
    ours = KalshiAuthMiddleware(auth)
    refusals: list[BaseException] = []
    async with aiohttp.ClientSession(middlewares=(ours,)) as untraced:

        async def audit(
            request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
        ) -> aiohttp.ClientResponse:
            to_b = redirect(origins.a, 307, signed_only(origins.b, "audit"), path="/audit")
            with pytest.raises(ConfigurationError) as refused:
                await status_of(untraced, "GET", to_b)
            refusals.append(refused.value)
            return await handler(request)

        async with aiohttp.ClientSession(
            middlewares=(audit, ours), trace_configs=[ours.trace_config]
        ) as traced:
            assert await status_of(traced, "GET", signed_only(origins.a, "own")) == 200
    assert len(refusals) == 1
    assert [hop.origin for hop in origins.hops] == [origins.a, origins.a]
    assert all(verified(hop) for hop in origins.hops)


@pytest.mark.anyio
@pytest.mark.parametrize("header", ["to", "uri"])
async def test_without_its_trace_config_a_redirect_is_refused_and_not_followed(
    origins: Origins, auth: KalshiAuth, header: str
) -> None:
    async with aiohttp.ClientSession(middlewares=(KalshiAuthMiddleware(auth),)) as session:
        # No redirect, no hop to tell apart: the request is the user's own, signed.
        assert await status_of(session, "GET", signed_only(origins.a)) == 200
        for follow in (True, False):
            with pytest.raises(ConfigurationError) as refused:
                await status_of(
                    session,
                    "GET",
                    redirect(origins.a, 302, signed_only(origins.b), header=header),
                    allow_redirects=follow,
                )
            assert "trace_configs" in str(refused.value)
            assert "session_options(auth)" in str(refused.value)
    assert [hop.origin for hop in origins.hops] == [origins.a] * 3
    assert all(verified(hop) for hop in origins.hops)


@pytest.mark.anyio
async def test_a_per_request_middleware_must_be_the_one_the_session_traces(
    origins: Origins, auth: KalshiAuth
) -> None:
    options = session_options(auth)
    (ours,) = options["middlewares"]
    to_b = redirect(origins.a, 307, f"{origins.b}{ORDERS}?landed=1")
    async with aiohttp.ClientSession(**options) as session:
        # The session's own middleware, passed per request: traced, the hop to B unsigned.
        assert await status_of(session, "GET", to_b, middlewares=(ours,)) == 200
        # Another middleware object: its trace config is not in this session.
        with pytest.raises(ConfigurationError):
            await status_of(session, "GET", to_b, middlewares=(KalshiAuthMiddleware(auth),))
    first, hop, refused = origins.hops
    assert verified(first)
    assert (hop.origin, hop.kalshi_headers) == (origins.b, [])
    assert (refused.origin, verified(refused)) == (origins.a, True)


@pytest.mark.anyio
async def test_kalshi_auth_itself_as_a_middleware_is_refused_before_sending(
    origins: Origins, auth: KalshiAuth
) -> None:
    mistake = cast(aiohttp.ClientMiddlewareType, auth)  # KalshiAuth is requests' auth hook
    async with aiohttp.ClientSession(middlewares=(mistake,)) as session:
        with pytest.raises(ConfigurationError) as refused:
            await status_of(session, "GET", signed_only(origins.a))
    assert "KalshiAuthMiddleware" in str(refused.value)
    assert "session_options(auth)" in str(refused.value)
    assert origins.hops == []


@pytest.mark.anyio
async def test_concurrent_chains_in_one_session_keep_their_own_first_origin(
    origins: Origins, auth: KalshiAuth
) -> None:
    # Chains started from A and from B at once, each leaving by a URI: header: each hop back
    # to its own first origin is signed, each hop to the other origin is not.
    async with aiohttp.ClientSession(**session_options(auth)) as session:
        urls = []
        for n in range(4):
            home, other = (origins.a, origins.b) if n % 2 else (origins.b, origins.a)
            via_other = redirect(other, 307, f"{home}{ORDERS}?back={n}", path=f"/away/{n}")
            urls.append(redirect(home, 307, via_other, header="uri", path=f"/start/{n}"))
        statuses = await asyncio.gather(*(status_of(session, "GET", url) for url in urls))
        assert statuses == [200] * 4
    for n in range(4):
        first, away, back = (
            next(h for h in origins.hops if h.target.startswith(prefix))
            for prefix in (f"/start/{n}?", f"/away/{n}?", f"{ORDERS}?back={n}")
        )
        assert first.origin == back.origin != away.origin
        assert verified(first)
        assert verified(back)
        assert away.kalshi_headers == []
