"""Fixed signing vectors (tests/vectors/signing.json), in the style of botocore's SigV4 suite
and Akamai's testcases.json: run against the pure signing stages, then through every client
against a real loopback server with a frozen clock. Ed25519 is deterministic, so signatures
are compared byte for byte; RSA-PSS is randomized, so RSA is checked by verifying."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from kalshi_auth import KalshiAuth
from kalshi_auth._signing import KeySigner, signing_path, string_to_sign
from kalshi_auth.testing import KalshiTestServer, KalshiVerifier
from kalshi_auth.websockets import connect

from .clients import send

VECTORS = json.loads((Path(__file__).parent / "vectors" / "signing.json").read_text())
SEED_KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(VECTORS["key"]["seed_hex"]))
KEY_ID = "vector-key"
HTTP_CLIENTS = {"requests", "httpx", "httpx-async", "aiohttp"}


def expected(case: dict[str, Any], client: str) -> dict[str, str]:
    """The case's target, signing path, string and signature, as `client` sends them."""
    fields = {k: case[k] for k in ("target", "signing_path", "string_to_sign", "signature")}
    return {**fields, **case.get("per_client", {}).get(client, {})}


def runs(kinds: set[str]) -> Iterator[Any]:
    for case in VECTORS["cases"]:
        for client in case["clients"]:
            if client in kinds:
                yield pytest.param(case, client, id=f"{client}: {case['name']}")


def test_the_file_covers_what_it_must() -> None:
    names = " ".join(case["name"] for case in VECTORS["cases"])
    for topic in ("docs example", "query", "params merged", "base_url", "trailing slash"):
        assert topic in names
    assert "%7E" in json.dumps(VECTORS)
    assert {c for case in VECTORS["cases"] for c in case["clients"]} == HTTP_CLIENTS | {
        "headers",
        "websockets",
    }


@pytest.mark.parametrize(("case", "client"), list(runs(HTTP_CLIENTS | {"headers", "websockets"})))
def test_pure_stages(case: dict[str, Any], client: str) -> None:
    want = expected(case, client)
    assert signing_path(want["target"]) == want["signing_path"]
    message = string_to_sign(str(case["timestamp_ms"]), case["method"], want["signing_path"])
    assert message == want["string_to_sign"].encode()
    assert KeySigner(SEED_KEY)(message) == want["signature"]


def on_loopback(url: str, server: KalshiTestServer) -> str:
    parts = urlsplit(url)
    return server.url + url[len(f"{parts.scheme}://{parts.netloc}") :] if parts.scheme else url


@pytest.fixture(scope="module")
def frozen_server(rsa_key: rsa.RSAPrivateKey) -> Iterator[KalshiTestServer]:
    timestamps = {case["timestamp_ms"] for case in VECTORS["cases"]}
    (frozen,) = timestamps
    verifier = KalshiVerifier(clock=lambda: frozen)
    verifier.register(KEY_ID, SEED_KEY)
    verifier.register("rsa-" + KEY_ID, rsa_key)
    with KalshiTestServer(verifier=verifier) as server:
        yield server


def send_case(
    case: dict[str, Any], client: str, auth: KalshiAuth, server: KalshiTestServer
) -> None:
    base_url = on_loopback(case.get("base_url", ""), server)
    url = case["url"] if base_url else on_loopback(case["url"], server)
    status = send(
        client,
        auth,
        case["method"],
        url,
        body=case.get("json"),
        params=case.get("params"),
        base_url=base_url,
    )
    assert status == 200, server.requests[-1].verdict.reason


@pytest.mark.parametrize(("case", "client"), list(runs(HTTP_CLIENTS)))
def test_through_every_client_byte_for_byte(
    frozen_server: KalshiTestServer, case: dict[str, Any], client: str
) -> None:
    auth = KalshiAuth(KEY_ID, SEED_KEY, clock=lambda: case["timestamp_ms"])
    send_case(case, client, auth, frozen_server)
    record = frozen_server.requests[-1]
    want = expected(case, client)
    assert record.target == want["target"]
    assert record.verdict.message == want["string_to_sign"]
    headers = {k.upper(): v for k, v in record.headers.items()}
    assert headers["KALSHI-ACCESS-TIMESTAMP"] == str(case["timestamp_ms"])
    assert headers["KALSHI-ACCESS-SIGNATURE"] == want["signature"]


@pytest.mark.parametrize(("case", "client"), list(runs(HTTP_CLIENTS)))
def test_rsa_through_every_client_verifies(
    frozen_server: KalshiTestServer, rsa_key: rsa.RSAPrivateKey, case: dict[str, Any], client: str
) -> None:
    auth = KalshiAuth("rsa-" + KEY_ID, rsa_key, clock=lambda: case["timestamp_ms"])
    send_case(case, client, auth, frozen_server)
    record = frozen_server.requests[-1]
    assert record.verdict.accepted
    assert record.verdict.message == expected(case, client)["string_to_sign"]


@pytest.mark.parametrize(("case", "client"), list(runs({"headers", "websockets"})))
def test_headers_and_websocket_handshakes(case: dict[str, Any], client: str) -> None:
    auth = KalshiAuth(KEY_ID, SEED_KEY, clock=lambda: case["timestamp_ms"])
    if client == "headers":
        headers = auth.headers(case["method"], case["url"])
    else:
        headers = dict(connect(case["url"], auth).additional_headers.raw_items())
    assert headers["KALSHI-ACCESS-TIMESTAMP"] == str(case["timestamp_ms"])
    assert headers["KALSHI-ACCESS-SIGNATURE"] == expected(case, client)["signature"]
