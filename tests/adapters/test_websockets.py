"""kalshi_auth.websockets.connect against real websockets servers that verify the handshake
like Kalshi: fresh signatures on every (re)connection, no credential to another origin,
one retry after a rejected clock, keyword arguments passed through."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
import websockets
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from websockets.asyncio.client import connect as plain_connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from kalshi_auth import KalshiAuth
from kalshi_auth._clock import http_date
from kalshi_auth.testing import KalshiVerifier, Verdict
from kalshi_auth.websockets import connect
from tests.helpers.ws_attempt import attempt_headers

KEY_ID = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
WS_PATH = "/trade-api/ws/v2"
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
pytestmark = pytest.mark.anyio


@dataclass
class Handshake:
    path: str
    headers: dict[str, str]
    verdict: Verdict | None


@dataclass
class WsServer:
    url: str  # ws://host:port
    seen: list[Handshake] = field(default_factory=list)
    redirect: Callable[[str], str | None] = lambda path: None


@asynccontextmanager
async def ws_server(verifier: KalshiVerifier, host: str = "127.0.0.1") -> AsyncIterator[WsServer]:
    """A server that greets, then closes; it verifies each handshake by Kalshi's rules."""
    state = WsServer("")

    def check(connection: ServerConnection, request: Request) -> Response | None:
        headers = dict(request.headers.raw_items())
        signed = any(k.lower().startswith("kalshi-") for k in headers)
        verdict = verifier.verify("GET", request.path, headers) if signed else None
        state.seen.append(Handshake(request.path, headers, verdict))
        location = state.redirect(request.path)
        if location is not None:
            response = connection.respond(302, "")
            response.headers["Location"] = location
            return response
        if verdict is not None and verdict.accepted:
            return None
        body = verdict.body if verdict is not None else {"error": "unsigned"}
        response = connection.respond(401, json.dumps(body))
        del response.headers["Date"]
        response.headers["Date"] = http_date(verifier.now_ms())  # the server's own clock
        return response

    async def greet(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "hello", "path": ws.request.path if ws.request else ""}))

    async with serve(greet, "127.0.0.1", 0, process_request=check) as server:
        port = server.sockets[0].getsockname()[1]
        state.url = f"ws://{host}:{port}"
        yield state


@dataclass
class FakeClock:
    now: int = 1_790_000_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def verifier(kalshi_rsa_key: rsa.RSAPrivateKey, clock: FakeClock) -> KalshiVerifier:
    v = KalshiVerifier(clock=clock)
    v.register(KEY_ID, kalshi_rsa_key)
    return v


async def test_every_reconnect_is_signed_afresh(
    verifier: KalshiVerifier, kalshi_rsa_key: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key, clock=clock)
    async with ws_server(verifier) as server:
        greetings = []
        async for ws in connect(server.url + WS_PATH, auth, open_timeout=10):
            greetings.append(json.loads(await ws.recv()))
            clock.now += 60_000  # a minute passes: the last signature has long expired
            if len(greetings) == 3:
                break
    assert [g["type"] for g in greetings] == ["hello"] * 3
    timestamps = [h.headers["KALSHI-ACCESS-TIMESTAMP"] for h in server.seen]
    assert len(set(timestamps)) == 3
    assert all(h.verdict is not None and h.verdict.accepted for h in server.seen)


async def test_static_headers_fail_on_reconnect(
    verifier: KalshiVerifier, kalshi_rsa_key: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    # The recipe the docs used to give: headers signed once, reused on every reconnect.
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key, clock=clock)
    async with ws_server(verifier) as server:
        url = server.url + WS_PATH

        async def reconnecting() -> None:
            async for ws in plain_connect(url, additional_headers=auth.headers("GET", url)):
                await ws.recv()
                clock.now += 60_000

        with pytest.raises(websockets.exceptions.InvalidStatus) as rejected:
            await reconnecting()
    assert rejected.value.response.status_code == 401
    assert [h.verdict.accepted for h in server.seen if h.verdict] == [True, False]


async def test_a_redirect_to_another_origin_gets_no_credentials(
    verifier: KalshiVerifier, kalshi_rsa_key: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key, clock=clock)
    async with ws_server(verifier) as a, ws_server(verifier, host="localhost") as b:
        a.redirect = lambda path: f"{b.url}{WS_PATH}" if path == WS_PATH else None
        b.redirect = lambda path: None
        with pytest.raises(websockets.exceptions.InvalidStatus) as rejected:
            async with connect(a.url + WS_PATH, auth):
                pass  # pragma: no cover - B refuses the unsigned handshake
    assert rejected.value.response.status_code == 401
    assert len(a.seen) == 1
    assert a.seen[0].verdict is not None
    assert a.seen[0].verdict.accepted
    assert [h.headers.get("KALSHI-ACCESS-SIGNATURE") for h in b.seen] == [None]


async def test_a_same_origin_redirect_is_signed_for_its_own_path(
    verifier: KalshiVerifier, kalshi_rsa_key: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key, clock=clock)
    async with ws_server(verifier) as a:
        a.redirect = lambda path: f"{a.url}{WS_PATH}/margin" if path == WS_PATH else None
        async with connect(a.url + WS_PATH, auth) as ws:
            assert json.loads(await ws.recv())["path"] == f"{WS_PATH}/margin"
    assert [h.path for h in a.seen] == [WS_PATH, f"{WS_PATH}/margin"]
    assert all(h.verdict is not None and h.verdict.accepted for h in a.seen)
    assert a.seen[1].verdict is not None
    assert a.seen[1].verdict.message is not None
    assert a.seen[1].verdict.message.endswith(f"GET{WS_PATH}/margin")


async def test_a_skewed_server_clock_is_learned_and_retried_once(
    verifier: KalshiVerifier, kalshi_rsa_key: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    verifier.clock_offset_ms = 60_000
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key, clock=clock)
    async with ws_server(verifier) as server:
        async with connect(server.url + WS_PATH, auth) as ws:
            assert json.loads(await ws.recv())["type"] == "hello"
        assert [h.verdict.accepted for h in server.seen if h.verdict] == [False, True]
        assert auth.clock_offset_ms == 60_000
        verifier.clock_offset_ms = -3_600_000  # an hour off now: one more lesson per attempt
        async with connect(server.url + WS_PATH, auth) as ws:
            await ws.recv()
    assert auth.clock_offset_ms == -3_600_000
    assert len(server.seen) == 4


async def test_always_rejected_is_retried_once_only(
    kalshi_rsa_key: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    verifier = KalshiVerifier(clock=clock, max_past_ms=-(10**9))  # every timestamp "expired"
    verifier.register(KEY_ID, kalshi_rsa_key)
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key, clock=clock)
    async with ws_server(verifier) as server:
        with pytest.raises(websockets.exceptions.InvalidStatus):
            async with connect(server.url + WS_PATH, auth):
                pass  # pragma: no cover
    assert len(server.seen) == 2


async def test_keyword_arguments_and_own_headers_pass_through(
    verifier: KalshiVerifier, kalshi_ed25519_key: ed25519.Ed25519PrivateKey, clock: FakeClock
) -> None:
    verifier.register("ed", kalshi_ed25519_key)
    auth = KalshiAuth("ed", kalshi_ed25519_key, clock=clock)
    stale = {"KALSHI-ACCESS-SIGNATURE": "stale", "X-Bot": "mine"}
    async with (
        ws_server(verifier) as server,
        connect(
            server.url + WS_PATH, auth, additional_headers=stale, user_agent_header="bot/1"
        ) as ws,
    ):
        await ws.recv()
    (handshake,) = server.seen
    assert handshake.headers["X-Bot"] == "mine"
    assert handshake.headers["User-Agent"] == "bot/1"
    assert handshake.verdict is not None
    assert handshake.verdict.accepted  # the stale signature was replaced, not sent twice


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("wss://external-api-ws.kalshi.com/trade-api/ws/v2", "/trade-api/ws/v2"),
        ("wss://api.elections.kalshi.com/trade-api/ws/v2", "/trade-api/ws/v2"),
        ("wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2", "/trade-api/ws/v2"),
        ("wss://demo-api.kalshi.co/trade-api/ws/v2", "/trade-api/ws/v2"),
        (
            "wss://external-api-margin-ws.kalshi.com/trade-api/ws/v2/margin",
            "/trade-api/ws/v2/margin",
        ),
        (
            "wss://external-api-margin-ws.demo.kalshi.co/trade-api/ws/v2/margin",
            "/trade-api/ws/v2/margin",
        ),
    ],
)
async def test_kalshis_websocket_hosts_are_signed_for_get_and_their_path(
    kalshi_rsa_key: rsa.RSAPrivateKey, url: str, path: str
) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
    headers = await attempt_headers(url, auth)  # one real attempt, signed as it opens
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, kalshi_rsa_key)
    verdict = verifier.verify("GET", path, headers)
    assert verdict.accepted, verdict.reason
    assert verdict.message is not None
    assert verdict.message.endswith(f"GET{path}")


async def test_an_external_signer_signs_the_handshake_off_the_event_loop(
    verifier: KalshiVerifier, kalshi_rsa_key: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    started, released = threading.Event(), threading.Event()
    threads: list[str] = []

    class GatedSigner:
        key_type = "rsa"

        def sign(self, message: bytes) -> bytes:
            threads.append(threading.current_thread().name)
            started.set()
            if not released.wait(timeout=10):
                raise TimeoutError("the event loop never ran while signing")
            return kalshi_rsa_key.sign(message, PSS, hashes.SHA256())

    async def release_when_signing() -> None:
        while not started.is_set():
            await asyncio.sleep(0.001)
        released.set()

    auth = KalshiAuth(KEY_ID, GatedSigner(), clock=clock)
    async with ws_server(verifier) as server:

        async def hello() -> str:
            async with connect(server.url + WS_PATH, auth) as ws:
                return str(await ws.recv())

        greeting, _ = await asyncio.gather(hello(), release_when_signing())
    assert json.loads(greeting)["type"] == "hello"
    assert threads[0].startswith("kalshi-auth-sign")
    assert server.seen[0].verdict is not None
    assert server.seen[0].verdict.accepted


async def test_create_connection_signs_each_attempt_as_websockets_15_and_16_call_it(
    monkeypatch: pytest.MonkeyPatch, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    # websockets 17 opens a connection with open_tcp_connection; 15 and 16 (the Python 3.10
    # leg of dev.py test-all) with create_connection. Here, on 17, websockets' own
    # create_connection is stood in for: it reads the headers as websockets 16 does.
    read: list[dict[str, str]] = []

    connection = object()

    async def opened_by_websockets(self: connect) -> object:
        read.append(dict(self.additional_headers.raw_items()))
        return connection

    monkeypatch.setattr(plain_connect, "create_connection", opened_by_websockets, raising=False)
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, kalshi_ed25519_key)
    attempt = connect(
        "wss://api.elections.kalshi.com" + WS_PATH, KalshiAuth(KEY_ID, kalshi_ed25519_key)
    )
    assert await attempt.create_connection() is connection
    assert await attempt.create_connection() is connection  # a reconnect: signed again
    assert len(read) == 2
    assert all(verifier.verify("GET", WS_PATH, headers).accepted for headers in read)
