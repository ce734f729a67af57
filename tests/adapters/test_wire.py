"""Real requests and httpx clients against a real server that verifies every signature.

The server reads the method and request-target from the raw request line and
verifies with the public key, so a 200 here means the wire request was signed
correctly; these tests do not look at our own headers.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import requests

from kalshi_auth import KalshiAuth
from kalshi_auth._credentials import Credentials
from kalshi_auth.testing import INCORRECT_SIGNATURE, SIGNATURE_MISSING, KalshiTestServer
from tests.helpers.keys import Credential


def accepted(response: requests.Response | httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- requests -------------------------------------------------------------------------------


def test_requests_get_with_params(server: KalshiTestServer, credential: Credential) -> None:
    response = requests.get(
        f"{server.base_url}/markets",
        params={"limit": "5", "cursor": "a b/c", "series_ticker": "KXHIGHNY"},
        auth=credential.auth,
        timeout=10,
    )
    echo = accepted(response)
    assert echo["query"] == "limit=5&cursor=a+b%2Fc&series_ticker=KXHIGHNY"
    assert echo["signed"].endswith("GET/trade-api/v2/markets")


def test_requests_post_json(server: KalshiTestServer, credential: Credential) -> None:
    order = {"ticker": "KXHIGHNY-25NOV25-T50", "action": "buy", "count": 3}
    response = requests.post(
        f"{server.base_url}/portfolio/orders", json=order, auth=credential.auth, timeout=10
    )
    echo = accepted(response)
    assert echo["method"] == "POST"
    assert echo["body_bytes"] == len(json.dumps(order))


def test_requests_delete(server: KalshiTestServer, credential: Credential) -> None:
    response = requests.delete(
        f"{server.base_url}/portfolio/orders/ORDER-1", auth=credential.auth, timeout=10
    )
    assert accepted(response)["signed"].endswith("DELETE/trade-api/v2/portfolio/orders/ORDER-1")


def test_requests_session_send_of_prepared_request(
    server: KalshiTestServer, credential: Credential
) -> None:
    with requests.Session() as session:
        session.auth = credential.auth
        session.params = {"status": "resting"}
        request = requests.Request("GET", f"{server.base_url}/portfolio/orders", params={"n": 1})
        prepared = session.prepare_request(request)
        echo = accepted(session.send(prepared, timeout=10))
    assert echo["query"] == "status=resting&n=1"


def test_requests_streamed_upload(server: KalshiTestServer, credential: Credential) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"ticker": '
        yield b'"X"}'

    response = requests.put(
        f"{server.base_url}/upload", data=chunks(), auth=credential.auth, timeout=10
    )
    assert accepted(response)["body_bytes"] == len(b'{"ticker": "X"}')


ENCODED_PATHS = [
    "/markets/KX HIGH NY",  # space
    "/markets/caf\u00e9/\u65e5\u672c",  # non-ASCII
    "/markets/a%2Fb",  # an encoded slash stays encoded
    "/markets/[x]{y}|z^",  # characters clients percent-encode
    "/markets/~tilde/%7Etilde",  # unreserved; requests re-quotes %7E
    "/markets/a;b=c,d",  # sub-delimiters kept as they are
    "//markets//double",  # empty segments
]


@pytest.mark.parametrize("path", ENCODED_PATHS)
def test_requests_percent_encoded_paths(
    server: KalshiTestServer, credential: Credential, path: str
) -> None:
    response = requests.get(f"{server.base_url}{path}?q=1", auth=credential.auth, timeout=10)
    echo = accepted(response)
    assert echo["query"] == "q=1"


def test_request_without_auth_is_rejected(server: KalshiTestServer) -> None:
    response = requests.get(f"{server.base_url}/portfolio/balance", timeout=10)
    assert response.status_code == 401
    assert response.json() == SIGNATURE_MISSING


def test_query_signing_is_rejected_by_kalshi_rules(
    server: KalshiTestServer, credentials: dict[str, Credential]
) -> None:
    # What the old guide says to do: Kalshi's server answers 401.
    cred = credentials["rsa-pkcs1"]
    auth = KalshiAuth(cred.key_id, cred.private_key, include_query=True)
    response = requests.get(
        f"{server.base_url}/markets", params={"limit": 1}, auth=auth, timeout=10
    )
    assert response.status_code == 401
    assert response.json() == INCORRECT_SIGNATURE
    # Without a query string the two rules sign the same message.
    assert accepted(requests.get(f"{server.base_url}/markets", auth=auth, timeout=10))


# --- httpx ----------------------------------------------------------------------------------


def test_httpx_base_url_and_relative_path(server: KalshiTestServer, credential: Credential) -> None:
    with httpx.Client(base_url=server.base_url, auth=credential.auth) as client:
        echo = accepted(client.get("/markets", params={"limit": 2}))
        balance = accepted(client.get("portfolio/balance"))
    assert echo["signed"].endswith("GET/trade-api/v2/markets")
    assert echo["query"] == "limit=2"
    assert balance["balance"] == 100_000


def test_httpx_post_and_delete(server: KalshiTestServer, credential: Credential) -> None:
    with httpx.Client(base_url=server.base_url, auth=credential.auth) as client:
        assert accepted(client.post("/portfolio/orders", json={"count": 1}))["method"] == "POST"
        assert accepted(client.delete("/portfolio/orders/X"))["method"] == "DELETE"


def test_httpx_send_and_stream(server: KalshiTestServer, credential: Credential) -> None:
    with httpx.Client(auth=credential.auth) as client:
        request = client.build_request("GET", f"{server.base_url}/markets", params={"a": "b"})
        assert accepted(client.send(request))["query"] == "a=b"
        with client.stream("GET", f"{server.base_url}/portfolio/fills") as response:
            response.read()
            assert accepted(response)["path"] == "/trade-api/v2/portfolio/fills"


def test_httpx_streamed_upload(server: KalshiTestServer, credential: Credential) -> None:
    consumed: list[bytes] = []

    def chunks() -> Iterator[bytes]:
        for part in (b"a" * 1000, b"b" * 1000):
            consumed.append(part)
            yield part

    with httpx.Client(auth=credential.auth) as client:
        response = client.post(f"{server.base_url}/upload", content=chunks())
    assert accepted(response)["body_bytes"] == 2000
    assert len(consumed) == 2  # the body was streamed once, never buffered for signing


@pytest.mark.parametrize("path", ENCODED_PATHS)
def test_httpx_percent_encoded_paths(
    server: KalshiTestServer, credential: Credential, path: str
) -> None:
    with httpx.Client(auth=credential.auth) as client:
        echo = accepted(client.get(f"{server.base_url}{path}", params={"q": "1"}))
    assert echo["query"] == "q=1"


@pytest.mark.anyio
async def test_httpx_async(server: KalshiTestServer, credential: Credential) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"x" * 10
        await asyncio.sleep(0)
        yield b"y" * 10

    async with httpx.AsyncClient(base_url=server.base_url, auth=credential.auth) as client:
        echo = accepted(await client.get("/markets", params={"limit": 3}))
        upload = accepted(await client.post("/upload", content=chunks()))
        async with client.stream("DELETE", "/portfolio/orders/Z") as response:
            await response.aread()
            assert accepted(response)["method"] == "DELETE"
    assert echo["query"] == "limit=3"
    assert upload["body_bytes"] == 20


@pytest.mark.anyio
@pytest.mark.parametrize("offload", [False, True])
async def test_httpx_async_signing_inline_or_in_a_thread(
    server: KalshiTestServer,
    credential: Credential,
    offload: bool,
) -> None:
    threads: list[str] = []
    auth = KalshiAuth(credential.key_id, credential.private_key)
    original = auth.core.credentials
    assert original.off_loop is (credential.name != "ed25519")  # the default: RSA off it
    sign = original.signer

    class Recording:
        name = sign.name
        off_loop = offload
        threads = sign.threads
        timeout = sign.timeout

        def __call__(self, message: bytes) -> str:
            threads.append(threading.current_thread().name)
            return sign(message)

    auth.core.credentials = Credentials(original.key_id, original.key, Recording())
    async with httpx.AsyncClient(base_url=server.base_url, auth=auth) as client:
        responses = await asyncio.gather(*(client.get(f"/markets/T{i}") for i in range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    assert len(threads) == 20
    offloaded = [name for name in threads if name.startswith("kalshi-auth-sign")]
    assert len(offloaded) == (20 if offload else 0)
