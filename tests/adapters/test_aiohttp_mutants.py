"""The aiohttp middleware reads a 401 whose length is not declared (a chunked body) to see
whether Kalshi rejected the clock, and re-sends once; and its refusal of an untraced
redirect says how to build the session. Each test is one a mutant of `kalshi_auth.aiohttp`
changed the answer of (docs/quality.md)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from email.utils import formatdate

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ed25519

from kalshi_auth import ConfigurationError, KalshiAuth
from kalshi_auth.aiohttp import KalshiAuthMiddleware, session_options

KEY_ID = "0b6f4a2c-3d5e-4f70-8a9b-c1d2e3f4a5b6"
EXPIRED = json.dumps({"error": {"code": "header_timestamp_expired"}}).encode()


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback server: its first request answered 401 header_timestamp_expired with a
    chunked body (no Content-Length), later ones 200; and the paths it was asked for."""
    seen: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append(request.path_qs)
        if request.path == "/redirect":
            raise web.HTTPFound("/elsewhere")
        if request.path == "/located":  # a Location header on a response that is no redirect
            return web.Response(text="here", headers={"Location": "/elsewhere"})
        await request.read()
        if len(seen) > 1:
            return web.Response(text="ok")
        response = web.StreamResponse(status=401, headers={"Date": formatdate(usegmt=True)})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(EXPIRED)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


@pytest.mark.anyio
async def test_a_chunked_clock_rejection_is_read_and_resent_once(
    server: tuple[str, list[str]], kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    base, seen = server
    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)  # loopback is in the default hosts
    async with (
        aiohttp.ClientSession(**session_options(auth)) as session,
        session.get(f"{base}/trade-api/v2/portfolio/balance") as response,
    ):
        assert response.status == 200
        assert await response.text() == "ok"
    assert seen == ["/trade-api/v2/portfolio/balance"] * 2


@pytest.mark.anyio
async def test_an_untraced_redirect_is_refused_with_how_to_build_the_session(
    server: tuple[str, list[str]], kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    base, seen = server
    middleware = KalshiAuthMiddleware(KalshiAuth(KEY_ID, kalshi_ed25519_key))
    async with aiohttp.ClientSession(middlewares=(middleware,)) as session:
        with pytest.raises(ConfigurationError) as caught:
            await session.get(f"{base}/redirect")
    assert str(caught.value) == (
        "KalshiAuthMiddleware got a 302 redirect and cannot tell whether aiohttp will follow "
        "it: the session lacks this middleware's trace config. Create the session with "
        "aiohttp.ClientSession(**session_options(auth)) (from kalshi_auth.aiohttp import "
        "session_options), or pass both middlewares=(middleware,) and "
        "trace_configs=[middleware.trace_config]; a request's own middlewares= must hold "
        "that same middleware object"
    )
    assert seen == ["/redirect"]


@pytest.mark.anyio
async def test_a_location_header_on_a_200_is_no_redirect_even_untraced(
    server: tuple[str, list[str]], kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    base, seen = server
    middleware = KalshiAuthMiddleware(KalshiAuth(KEY_ID, kalshi_ed25519_key))
    async with (
        aiohttp.ClientSession(middlewares=(middleware,)) as session,
        session.get(f"{base}/located") as response,
    ):
        assert response.status == 200
        assert await response.text() == "here"
    assert seen == ["/located"]


@pytest.mark.anyio
async def test_a_streamed_body_is_not_sent_twice(
    server: tuple[str, list[str]], kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    base, seen = server
    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)

    async def body() -> AsyncIterator[bytes]:
        yield b'{"count": 1}'

    async with (
        aiohttp.ClientSession(**session_options(auth)) as session,
        session.post(f"{base}/trade-api/v2/portfolio/orders", data=body()) as response,
    ):
        assert response.status == 401  # the clock rejection reaches the caller
    assert seen == ["/trade-api/v2/portfolio/orders"]
