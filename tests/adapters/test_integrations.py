"""Beyond requests and httpx: the aiohttp middleware and a websockets handshake, each
against a real local server that verifies the signature."""

from __future__ import annotations

import json
from collections.abc import Iterator

import aiohttp
import pytest
import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from kalshi_auth import KalshiAuth
from kalshi_auth.aiohttp import KalshiAuthMiddleware
from kalshi_auth.testing import (
    INCORRECT_SIGNATURE,
    KalshiTestServer,
    KalshiVerifier,
    generate_rsa_key,
)
from tests.helpers.keys import Credential


@pytest.fixture
def fresh_server(credentials: dict[str, Credential]) -> Iterator[KalshiTestServer]:
    keys = {c.key_id: c.private_key for c in credentials.values()}
    with KalshiTestServer(keys) as server:
        yield server


# --- aiohttp --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_aiohttp_middleware_signs_the_final_request(
    fresh_server: KalshiTestServer, credential: Credential
) -> None:
    middleware = KalshiAuthMiddleware(credential.auth)
    base = fresh_server.base_url
    async with aiohttp.ClientSession(middlewares=(middleware,)) as session:
        async with session.get(f"{base}/markets", params={"limit": "5", "q": "a b"}) as r:
            assert r.status == 200, await r.text()
            echo = await r.json()
        async with session.post(f"{base}/portfolio/orders", json={"count": 1}) as r:
            assert r.status == 200
            assert (await r.json())["body_bytes"] == len(json.dumps({"count": 1}))
        async with session.get(f"{base}/markets/KX HIGH/caf\u00e9") as r:
            assert r.status == 200
            assert (await r.json())["path"] == "/trade-api/v2/markets/KX%20HIGH/caf%C3%A9"
        async with session.delete(f"{base}/portfolio/orders/X") as r:
            assert r.status == 200
    assert echo["signed"].endswith("GET/trade-api/v2/markets")
    assert echo["query"] == "limit=5&q=a+b"
    assert all(record.verdict.accepted for record in fresh_server.requests)


@pytest.mark.anyio
async def test_aiohttp_scope_and_clock_skew(
    fresh_server: KalshiTestServer, credentials: dict[str, Credential]
) -> None:
    cred = credentials["rsa-pkcs1"]
    port = fresh_server.url.rsplit(":", 1)[1]
    fresh_server.clock_offset_ms = 60_000
    auth = KalshiAuth(cred.key_id, cred.private_key, hosts=["127.0.0.1"])
    async with aiohttp.ClientSession(middlewares=(KalshiAuthMiddleware(auth),)) as session:
        async with session.post(f"{fresh_server.base_url}/orders", json={"n": 1}) as r:
            assert r.status == 200  # after one re-send with Kalshi's time
        async with session.get(f"http://localhost:{port}/other-api") as r:
            assert r.status == 401  # out of scope: sent unsigned
    first, resent, other = fresh_server.requests
    assert not first.verdict.accepted
    assert resent.verdict.accepted
    assert resent.body == first.body
    assert not [h for h in other.headers if h.lower().startswith("kalshi-")]
    assert abs(auth.clock_offset_ms - 60_000) < 2_000


@pytest.mark.anyio
async def test_aiohttp_wrong_key_is_not_resent(fresh_server: KalshiTestServer) -> None:
    auth = KalshiAuth("unknown-to-the-server", generate_rsa_key())
    async with (
        aiohttp.ClientSession(middlewares=(KalshiAuthMiddleware(auth),)) as session,
        session.get(f"{fresh_server.base_url}/x") as r,
    ):
        assert r.status == 401
    assert len(fresh_server.requests) == 1


# --- websockets -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_websocket_handshake_is_signed(credential: Credential) -> None:
    verifier = KalshiVerifier()
    verifier.register(credential.key_id, credential.private_key)
    seen: list[str] = []

    def check(connection: ServerConnection, request: Request) -> Response | None:
        verdict = verifier.verify("GET", request.path, dict(request.headers.raw_items()))
        seen.append(request.path)
        if verdict.accepted:
            return None
        return connection.respond(401, json.dumps(verdict.body))

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", 0, process_request=check) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}/trade-api/ws/v2"
        async with connect(url, additional_headers=credential.auth.headers("GET", url)) as ws:
            await ws.send('{"id": 1, "cmd": "subscribe"}')
            assert await ws.recv() == '{"id": 1, "cmd": "subscribe"}'
        wrong = KalshiAuth(credential.key_id, generate_rsa_key()).headers("GET", url)
        with pytest.raises(websockets.exceptions.InvalidStatus) as rejected:
            async with connect(url, additional_headers=wrong):
                pass  # pragma: no cover - the handshake fails
    assert rejected.value.response.status_code == 401
    assert json.loads(rejected.value.response.body or b"{}") == INCORRECT_SIGNATURE
    assert seen == ["/trade-api/ws/v2", "/trade-api/ws/v2"]
