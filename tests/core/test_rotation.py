"""`KalshiAuth.rotate`: a new key id and key for a live auth object, swapped atomically."""

from __future__ import annotations

import asyncio
import base64
import copy
import pickle
import threading
import time
from collections import Counter

import aiohttp
import httpx
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from kalshi_auth import (
    ConfigurationError,
    InvalidKeyIdError,
    InvalidPrivateKeyError,
    KalshiAuth,
    KalshiAuthError,
    PrivateKeyPasswordError,
)
from kalshi_auth.aiohttp import KalshiAuthMiddleware
from kalshi_auth.testing import KalshiTestServer, KalshiVerifier, private_key_pem
from kalshi_auth.websockets import connect
from tests.adapters.test_websockets import WS_PATH, ws_server

OLD_ID = "11111111-2222-4333-8444-555555555555"
NEW_ID = "66666666-7777-4888-9999-aaaaaaaaaaaa"


def test_rotate_swaps_the_pair_and_keeps_clock_scope_and_options(
    kalshi_rsa_key: rsa.RSAPrivateKey, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    auth = KalshiAuth(OLD_ID, kalshi_rsa_key, hosts=("kalshi.com", "127.0.0.1"), include_query=True)
    auth.core.clock.offset_ms = 42_000
    auth.rotate(NEW_ID, private_key_pem(kalshi_ed25519_key).decode())
    assert auth.key_id == NEW_ID
    assert auth.key_type == "Ed25519"
    assert NEW_ID in repr(auth)
    assert "Ed25519" in repr(auth)
    assert auth.clock_offset_ms == 42_000
    assert auth.core.scope.entries == ("kalshi.com", "127.0.0.1")
    assert auth.core.include_query
    assert not auth.core.credentials.off_loop  # Ed25519 signs inline; the RSA key did not
    headers = auth.headers("GET", "/trade-api/v2/x?a=1")
    assert headers["KALSHI-ACCESS-KEY"] == NEW_ID
    message = headers["KALSHI-ACCESS-TIMESTAMP"] + "GET/trade-api/v2/x?a=1"  # query kept
    signature = base64.b64decode(headers["KALSHI-ACCESS-SIGNATURE"])
    kalshi_ed25519_key.public_key().verify(signature, message.encode())  # raises if it does not


@pytest.mark.parametrize("way", ["pickle", "copy", "deepcopy"])
def test_copies_taken_after_a_rotation_carry_the_new_pair(
    kalshi_rsa_key: rsa.RSAPrivateKey, kalshi_ed25519_key: ed25519.Ed25519PrivateKey, way: str
) -> None:
    auth = KalshiAuth(OLD_ID, kalshi_rsa_key)
    auth.rotate(NEW_ID, kalshi_ed25519_key)
    clone = {
        "pickle": lambda a: pickle.loads(pickle.dumps(a)),
        "copy": copy.copy,
        "deepcopy": copy.deepcopy,
    }[way](auth)
    assert clone.key_id == NEW_ID
    assert clone.key_type == "Ed25519"
    verifier = KalshiVerifier()
    verifier.register(NEW_ID, kalshi_ed25519_key)
    assert verifier.verify("GET", "/x", clone.headers("GET", "/x")).accepted


@pytest.mark.parametrize(
    ("key_id", "key", "password", "error"),
    [
        ("", "PEM", None, InvalidKeyIdError),
        ("bad id\n", "PEM", None, InvalidKeyIdError),
        (NEW_ID, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", None,
         InvalidPrivateKeyError),
        (NEW_ID, "ENCRYPTED", None, PrivateKeyPasswordError),
        (NEW_ID, "ENCRYPTED", "wrong", PrivateKeyPasswordError),
        (NEW_ID, "PEM", "not needed", PrivateKeyPasswordError),
        (NEW_ID, 12345, None, InvalidPrivateKeyError),
    ],
)  # fmt: skip
def test_a_failed_rotation_raises_the_constructors_error_and_keeps_the_old_pair(
    kalshi_rsa_key: rsa.RSAPrivateKey,
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
    key_id: str,
    key: object,
    password: str | None,
    error: type[KalshiAuthError],
) -> None:
    if key == "PEM":
        key = private_key_pem(kalshi_ed25519_key).decode()
    elif key == "ENCRYPTED":
        key = private_key_pem(kalshi_ed25519_key, password="right").decode()
    auth = KalshiAuth(OLD_ID, kalshi_rsa_key)
    with pytest.raises(error):
        auth.rotate(key_id, key, password=password)  # type: ignore[arg-type]
    assert auth.key_id == OLD_ID
    verifier = KalshiVerifier()
    verifier.register(OLD_ID, kalshi_rsa_key)
    assert verifier.verify("GET", "/x", auth.headers("GET", "/x")).accepted


def test_rotate_to_an_external_signer_and_back(
    kalshi_rsa_key: rsa.RSAPrivateKey, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    class Remote:
        key_type = "ed25519"

        def sign(self, message: bytes) -> bytes:
            return kalshi_ed25519_key.sign(message)

    auth = KalshiAuth(OLD_ID, kalshi_rsa_key)
    with pytest.raises(ConfigurationError, match="password="):
        auth.rotate(NEW_ID, Remote(), password="x")
    auth.rotate(NEW_ID, Remote())
    assert "Remote" in auth.key_type
    verifier = KalshiVerifier()
    verifier.register(NEW_ID, kalshi_ed25519_key)
    verifier.register(OLD_ID, kalshi_rsa_key)
    assert verifier.verify("GET", "/x", auth.headers("GET", "/x")).accepted
    auth.rotate(OLD_ID, kalshi_rsa_key)
    assert verifier.verify("GET", "/x", auth.headers("GET", "/x")).accepted


@pytest.mark.slow
def test_rotating_200_times_under_load_never_mixes_a_pair(
    kalshi_rsa_key: rsa.RSAPrivateKey, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    # The server knows both public keys: a signature from one key under the other's id
    # fails verification, so any mixed pair shows up as a 401.
    pairs: list[tuple[str, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey]] = [
        (OLD_ID, kalshi_rsa_key),
        (NEW_ID, kalshi_ed25519_key),
    ]
    auth = KalshiAuth(OLD_ID, kalshi_rsa_key)
    stop = threading.Event()
    statuses: Counter[str] = Counter()
    lock = threading.Lock()

    def record(client: str, status: int) -> None:
        with lock:
            statuses[f"{client} {status}"] += 1

    with KalshiTestServer(dict(pairs)) as server:
        url = f"{server.base_url}/portfolio/balance"

        def with_requests() -> None:
            with requests.Session() as session:
                while not stop.is_set():
                    record("requests", session.get(url, auth=auth, timeout=10).status_code)

        def with_httpx() -> None:
            with httpx.Client(auth=auth, timeout=10) as client:
                while not stop.is_set():
                    record("httpx", client.get(url).status_code)

        async def with_async_clients() -> None:
            verifier = KalshiVerifier()
            for key_id, key in pairs:
                verifier.register(key_id, key)

            async def httpx_async() -> None:
                async with httpx.AsyncClient(auth=auth, timeout=10) as client:
                    while not stop.is_set():
                        record("httpx-async", (await client.get(url)).status_code)

            async def aiohttp_() -> None:
                middleware = (KalshiAuthMiddleware(auth),)
                async with aiohttp.ClientSession(middlewares=middleware) as session:
                    while not stop.is_set():
                        async with session.get(url) as response:
                            record("aiohttp", response.status)

            async def websockets_() -> None:
                async with ws_server(verifier) as ws:
                    while not stop.is_set():
                        async with connect(ws.url + WS_PATH, auth) as conn:
                            await conn.recv()
                        verdict = ws.seen[-1].verdict
                        record("websockets", 200 if verdict and verdict.accepted else 401)

            await asyncio.gather(httpx_async(), aiohttp_(), websockets_())

        workers = [
            threading.Thread(target=with_requests),
            threading.Thread(target=with_requests),
            threading.Thread(target=with_httpx),
            threading.Thread(target=with_httpx),
            threading.Thread(target=lambda: asyncio.run(with_async_clients())),
        ]
        for worker in workers:
            worker.start()
        try:
            for i in range(200):
                auth.rotate(*pairs[(i + 1) % 2])
                time.sleep(0.01)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=60)
    clients = {"requests", "httpx", "httpx-async", "aiohttp", "websockets"}
    assert {name.split()[0] for name in statuses} == clients  # every client took part
    assert all(name.endswith(" 200") for name in statuses), statuses
    assert sum(statuses.values()) > 50
