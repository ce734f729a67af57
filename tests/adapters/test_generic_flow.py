"""httpx's generic ``auth_flow`` signs, so code that drives it (httpx-auth's ``+``) works;
and one rule for HTTP methods everywhere."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator, Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from httpx_auth import HeaderApiKey

from kalshi_auth import ConfigurationError, KalshiAuth
from kalshi_auth.testing import KalshiTestServer, KalshiVerifier

KEY_ID = "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3"


@pytest.fixture
def server(kalshi_rsa_key: rsa.RSAPrivateKey) -> Iterator[KalshiTestServer]:
    with KalshiTestServer({KEY_ID: kalshi_rsa_key}) as s:
        yield s


def test_httpx_auth_composition_signs_in_a_client(
    server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey
) -> None:
    auth = HeaderApiKey("k", header_name="X-Other") + KalshiAuth(KEY_ID, kalshi_rsa_key)
    with httpx.Client(auth=auth, base_url=server.base_url) as client:
        assert client.get("/portfolio/balance").status_code == 200
    (seen,) = server.requests
    assert seen.verdict.accepted
    assert {k.lower(): v for k, v in seen.headers.items()}["x-other"] == "k"


def test_httpx_auth_composition_signs_in_an_async_client(
    server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey
) -> None:
    auth = HeaderApiKey("k", header_name="X-Other") + KalshiAuth(KEY_ID, kalshi_rsa_key)

    async def go() -> int:
        async with httpx.AsyncClient(auth=auth, base_url=server.base_url) as client:
            return (await client.get("/portfolio/balance")).status_code

    assert asyncio.run(go()) == 200
    (seen,) = server.requests
    assert seen.verdict.accepted
    assert {k.lower(): v for k, v in seen.headers.items()}["x-other"] == "k"


class Delegating(httpx.Auth):
    """An auth that drives KalshiAuth's generic flow with httpx's own default drivers,
    which read each response's body first (requires_response_body)."""

    requires_response_body = True

    def __init__(self, inner: KalshiAuth) -> None:
        self.inner = inner

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield from self.inner.auth_flow(request)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_generic_flow_resends_once_on_a_clock_rejection(
    kalshi_rsa_key: rsa.RSAPrivateKey, mode: str
) -> None:
    verifier = KalshiVerifier(clock=lambda: time.time_ns() // 1_000_000 + 120_000)
    verifier.register(KEY_ID, kalshi_rsa_key)
    kalshi = KalshiAuth(KEY_ID, kalshi_rsa_key)
    with KalshiTestServer(verifier=verifier) as server:
        url = f"{server.base_url}/portfolio/balance"
        if mode == "sync":
            with httpx.Client(auth=Delegating(kalshi)) as client:
                status = client.get(url).status_code
        else:

            async def go() -> int:
                async with httpx.AsyncClient(auth=Delegating(kalshi)) as client:
                    return (await client.get(url)).status_code

            status = asyncio.run(go())
        verdicts = [r.verdict.accepted for r in server.requests]
    assert status == 200
    assert verdicts == [False, True]  # rejected, learned, re-sent once
    assert 110_000 < kalshi.clock_offset_ms < 130_000


def test_the_generic_flow_never_resends_an_unread_rejection(
    kalshi_rsa_key: rsa.RSAPrivateKey,
) -> None:
    kalshi = KalshiAuth(KEY_ID, kalshi_rsa_key)
    request = httpx.Request("GET", "https://external-api.kalshi.com/trade-api/v2/x")
    flow = kalshi.auth_flow(request)
    sent = next(flow)
    assert "KALSHI-ACCESS-SIGNATURE" in sent.headers
    body = b'{"error":{"code":"header_timestamp_expired"}}'
    unread = httpx.Response(
        401, headers={"Date": "Wed, 01 Jan 2031 00:00:00 GMT"},
        stream=httpx.ByteStream(body), request=request,
    )  # fmt: skip
    with pytest.raises(StopIteration):
        flow.send(unread)
    assert kalshi.clock_offset_ms == 0


@pytest.mark.parametrize("method", ["M-SEARCH", "PROPFIND", "get", "X_CUSTOM!", "A" * 64])
def test_any_rfc_9110_token_is_a_method(kalshi_rsa_key: rsa.RSAPrivateKey, method: str) -> None:
    headers = KalshiAuth(KEY_ID, kalshi_rsa_key).headers(method, "/trade-api/v2/x")
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, kalshi_rsa_key)
    assert verifier.verify(method.upper(), "/trade-api/v2/x", headers).accepted


@pytest.mark.parametrize("method", ["", "GET POST", "GET\r\n", "G\x00T", "GÉT", "A" * 65, None, 5])
def test_anything_else_is_refused(kalshi_rsa_key: rsa.RSAPrivateKey, method: object) -> None:
    with pytest.raises(ConfigurationError, match="HTTP method"):
        KalshiAuth(KEY_ID, kalshi_rsa_key).headers(method, "/x")  # type: ignore[arg-type]


def test_requests_and_httpx_sign_the_same_methods_headers_does(
    server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey
) -> None:
    import requests  # noqa: PLC0415

    auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
    url = f"{server.base_url}/portfolio/balance"
    assert requests.request("M-SEARCH", url, auth=auth, timeout=10).status_code == 200
    with httpx.Client(auth=auth) as client:
        assert client.request("M-SEARCH", url).status_code == 200
    assert [r.method for r in server.requests] == ["M-SEARCH", "M-SEARCH"]
