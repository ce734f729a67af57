"""kalshi_auth.testing accepts what Kalshi's official SDK signs, and rejects what Kalshi rejects."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import httpx
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from kalshi_python_sync.api.portfolio_api import PortfolioApi
from kalshi_python_sync.api_client import ApiClient
from kalshi_python_sync.auth import KalshiAuth as OfficialSdkAuth
from kalshi_python_sync.configuration import Configuration
from kalshi_python_sync.models.exchange_status import ExchangeStatus
from kalshi_python_sync.models.get_balance_response import GetBalanceResponse

from kalshi_auth import KalshiAuth
from kalshi_auth.testing import (
    INCORRECT_SIGNATURE,
    KEY_NOT_FOUND,
    SIGNATURE_MISSING,
    TIMESTAMP_EXPIRED,
    KalshiMockTransport,
    KalshiTestServer,
    KalshiVerifier,
    generate_rsa_key,
    private_key_pem,
)
from kalshi_auth.testing._endpoint import EXCHANGE_STATUS, balance_answer

pytest_plugins = ["pytester"]

KEY_ID = "11111111-2222-4333-8444-555555555555"


@pytest.fixture
def sdk_server(kalshi_rsa_key: rsa.RSAPrivateKey) -> KalshiTestServer:
    return KalshiTestServer({KEY_ID: kalshi_rsa_key})


def sdk_headers(key: rsa.RSAPrivateKey, method: str, url: str) -> dict[str, str]:
    signer = OfficialSdkAuth(KEY_ID, private_key_pem(key, encoding="pkcs1").decode())
    headers: dict[str, str] = signer.create_auth_headers(method, url)
    return headers


def test_accepts_official_sdk_signatures(
    sdk_server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey
) -> None:
    with sdk_server as server:
        for method, url in [
            ("GET", f"{server.base_url}/portfolio/balance"),
            ("GET", f"{server.base_url}/markets?limit=5&status=open"),
            ("DELETE", f"{server.base_url}/portfolio/orders/abc"),
        ]:
            response = requests.request(
                method, url, headers=sdk_headers(kalshi_rsa_key, method, url), timeout=10
            )
            assert response.status_code == 200, (url, response.text)


def test_official_sdk_client_end_to_end(
    sdk_server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey
) -> None:
    with sdk_server as server:
        client = ApiClient(Configuration(host=server.base_url))
        # ApiClient.set_kalshi_auth raises NameError in kalshi-python-sync 3.2.0 (its module
        # never imports KalshiAuth); set the attribute it would have set.
        client.kalshi_auth = OfficialSdkAuth(  # type: ignore[assignment]
            KEY_ID, private_key_pem(kalshi_rsa_key, encoding="pkcs1").decode()
        )
        balance = PortfolioApi(client).get_balance()
    assert balance.balance == 100_000
    (record,) = server.requests
    assert record.verdict.accepted


def test_canned_answers_satisfy_the_official_sdks_models() -> None:
    # Whichever official SDK installs on this Python (3.2.x, or 3.34+ on 3.13): its
    # models must accept what the test server answers.
    balance = GetBalanceResponse.from_dict(balance_answer(1_790_000_000))
    assert balance is not None
    assert balance.balance == 100_000
    status = ExchangeStatus.from_dict(dict(EXCHANGE_STATUS))
    assert status is not None
    assert status.trading_active is True


def test_rejects_what_kalshi_rejects_with_kalshis_bodies(
    sdk_server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey
) -> None:
    with sdk_server as server:
        url = f"{server.base_url}/portfolio/orders"
        good = sdk_headers(kalshi_rsa_key, "GET", url)

        def answer(target: str, headers: dict[str, str]) -> tuple[int, object]:
            response = requests.get(server.url + target, headers=headers, timeout=10)
            return response.status_code, response.json()

        query_signed = KalshiAuth(KEY_ID, kalshi_rsa_key, include_query=True).headers(
            "GET", url + "?limit=5"
        )
        stale = KalshiAuth(KEY_ID, kalshi_rsa_key).headers(
            "GET", url, timestamp_ms=int(good["KALSHI-ACCESS-TIMESTAMP"]) - 60_000
        )
        wrong_key = KalshiAuth(KEY_ID, generate_rsa_key()).headers("GET", url)
        cases = {
            "query signed": (
                "/trade-api/v2/portfolio/orders?limit=5",
                query_signed,
                INCORRECT_SIGNATURE,
            ),
            "stale timestamp": ("/trade-api/v2/portfolio/orders", stale, TIMESTAMP_EXPIRED),
            "tampered path": ("/trade-api/v2/portfolio/orderz", good, INCORRECT_SIGNATURE),
            "wrong key": ("/trade-api/v2/portfolio/orders", wrong_key, INCORRECT_SIGNATURE),
            "unknown key id": (
                "/trade-api/v2/portfolio/orders",
                {**good, "KALSHI-ACCESS-KEY": "00000000-0000-4000-8000-000000000000"},
                KEY_NOT_FOUND,
            ),
            "missing header": (
                "/trade-api/v2/portfolio/orders",
                {k: v for k, v in good.items() if k != "KALSHI-ACCESS-SIGNATURE"},
                SIGNATURE_MISSING,
            ),
        }
        for name, (target, headers, body) in cases.items():
            assert answer(target, headers) == (401, body), name
        assert answer("/trade-api/v2/portfolio/orders", good)[0] == 200
        verdicts = [r.verdict.accepted for r in server.requests]
    assert verdicts == [False] * len(cases) + [True]


def test_verify_request_objects(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, kalshi_rsa_key.public_key())
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
    url = "https://external-api.kalshi.com/trade-api/v2/markets/KX HIGH"
    prepared = requests.Request("GET", url, params={"a": "b c"}, auth=auth).prepare()
    assert verifier.verify_request(prepared).accepted
    request = httpx.Request("POST", url, params={"a": "b"}, json={"x": 1})
    assert not verifier.verify_request(request).accepted  # not signed yet
    next(auth.sync_auth_flow(request))
    assert verifier.verify_request(request).accepted


def test_server_clock_shift_and_extra_keys(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    other = generate_rsa_key()
    with KalshiTestServer() as server:
        server.register("late-key", private_key_pem(other).decode())
        auth = KalshiAuth("late-key", other)
        url = f"{server.base_url}/exchange/status"
        assert requests.get(url, auth=auth, timeout=10).json() == {
            "exchange_active": True,
            "trading_active": True,
            "intra_exchange_transfers_active": True,
        }
        server.clock_offset_ms = -60_000
        stale = requests.get(url, headers=auth.headers("GET", url), timeout=10)
        assert (stale.status_code, stale.json()) == (401, TIMESTAMP_EXPIRED)


def test_mock_transport_sync_and_async(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    transport = KalshiMockTransport({KEY_ID: kalshi_rsa_key})
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
    base = "https://external-api.kalshi.com/trade-api/v2"
    with httpx.Client(transport=transport, base_url=base, auth=auth) as client:
        assert client.get("/portfolio/balance").json()["balance"] == 100_000
        assert client.get("/markets/a b", params={"x": "1"}).json()["path"] == (
            "/trade-api/v2/markets/a%20b"
        )
    with httpx.Client(transport=transport, base_url=base) as unsigned:
        response = unsigned.get("/portfolio/balance")
        assert (response.status_code, response.json()) == (401, SIGNATURE_MISSING)
    assert [r.verdict.accepted for r in transport.requests] == [True, True, False]


@pytest.mark.anyio
async def test_mock_transport_async(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    transport = KalshiMockTransport({KEY_ID: kalshi_rsa_key})
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
    async with httpx.AsyncClient(transport=transport, auth=auth) as client:
        response = await client.post("https://x.kalshi.com/trade-api/v2/o", json={"n": 1})
    assert response.status_code == 200
    assert response.json()["body_bytes"] == len(b'{"n":1}')


def documented_example() -> str:
    text = (Path(__file__).parents[2] / "docs" / "testing.md").read_text()
    match = re.search(r"<!-- example-test -->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/testing.md lost its example test"
    return match.group(1)


@pytest.mark.slow  # pytest in a subprocess
def test_documented_pytest_plugin_example_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_example=documented_example())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=3)


@pytest.mark.slow  # pytest in a subprocess
def test_plugin_catches_a_bad_signer(pytester: pytest.Pytester) -> None:
    # The fixtures are not a rubber stamp: signing the query gets a 401.
    pytester.makepyfile(
        test_bad="""
import requests
from kalshi_auth import KalshiAuth

def test_bad(kalshi_server, kalshi_rsa_key, kalshi_auth):
    bad = KalshiAuth(kalshi_auth.key_id, kalshi_rsa_key, include_query=True)
    r = requests.get(kalshi_server.base_url + "/markets", params={"limit": 1}, auth=bad)
    assert r.status_code == 200
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*401*"])


def raw_exchange(server: KalshiTestServer, data: bytes) -> bytes:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_server_answers_malformed_requests_with_400() -> None:
    with KalshiTestServer() as server:
        assert raw_exchange(server, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400 ")
        no_colon = b"GET / HTTP/1.1\r\nBroken header\r\n\r\n"
        assert raw_exchange(server, no_colon).startswith(b"HTTP/1.1 400 ")
        # HTTP/1.0 without keep-alive: answered, then closed (raw_exchange reads to EOF).
        answer = raw_exchange(server, b"GET /x HTTP/1.0\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 401 ")
        assert b"Connection: close" in answer
        assert b"signature_is_missing_from_headers" in answer
    assert [r.target for r in server.requests] == ["/x"]


def test_server_head_and_keep_alive(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
    with KalshiTestServer({KEY_ID: kalshi_rsa_key}) as server, requests.Session() as session:
        session.auth = auth
        head = session.head(f"{server.base_url}/exchange/status")
        assert head.status_code == 200
        assert head.content == b""
        assert session.get(f"{server.base_url}/exchange/status").json()["exchange_active"]
