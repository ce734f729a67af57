"""Fixed signing vectors (tests/vectors/signing.json), in the style of botocore's SigV4 suite
and Akamai's testcases.json: run against the pure signing stages, then through every client
against a real loopback server with a frozen clock. Ed25519 is deterministic, so signatures
are compared byte for byte; RSA-PSS is randomized, so RSA is checked by verifying.

The stages are also checked through production: a wrong stage where `SigningCore` calls it
fails the vectors. The file's ``failures`` are inputs the public API must refuse, each with
the error class it raises (Akamai's ``failsWithMessage``)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

import kalshi_auth
import kalshi_auth._core
from kalshi_auth import KalshiAuth
from kalshi_auth._signing import KeySigner, signing_path, string_to_sign
from kalshi_auth.testing import KalshiTestServer, KalshiVerifier, private_key_pem
from tests.helpers.clients import send
from tests.helpers.ws_attempt import attempt_headers

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "signing.json").read_text())
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
def frozen_server(kalshi_rsa_key: rsa.RSAPrivateKey) -> Iterator[KalshiTestServer]:
    timestamps = {case["timestamp_ms"] for case in VECTORS["cases"]}
    (frozen,) = timestamps
    verifier = KalshiVerifier(clock=lambda: frozen)
    verifier.register(KEY_ID, SEED_KEY)
    verifier.register("rsa-" + KEY_ID, kalshi_rsa_key)
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
    frozen_server: KalshiTestServer,
    kalshi_rsa_key: rsa.RSAPrivateKey,
    case: dict[str, Any],
    client: str,
) -> None:
    auth = KalshiAuth("rsa-" + KEY_ID, kalshi_rsa_key, clock=lambda: case["timestamp_ms"])
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
        headers = asyncio.run(attempt_headers(case["url"], auth))
    assert headers["KALSHI-ACCESS-TIMESTAMP"] == str(case["timestamp_ms"])
    assert headers["KALSHI-ACCESS-SIGNATURE"] == expected(case, client)["signature"]


# Production (`SigningCore._make_headers`) calls the stages by the names `_core` imported:
# `string_to_sign` always, `signing_path` when the target holds "?" or "#".
def newline_separated(timestamp: str, method: str, path: str) -> bytes:
    return f"{timestamp}\n{method.upper()}\n{path}".encode()


def method_as_typed(timestamp: str, method: str, path: str) -> bytes:
    return f"{timestamp}{method}{path}".encode()


def query_kept(target: str, *, include_query: bool = False) -> str:
    return target.partition("#")[0]


WRONG_STAGES: dict[str, tuple[str, Callable[..., object]]] = {
    "string_to_sign with separators": ("string_to_sign", newline_separated),
    "string_to_sign keeps the method's case": ("string_to_sign", method_as_typed),
    "signing_path keeps the query": ("signing_path", query_kept),
}


def stage_runs(case: dict[str, Any], stage: str) -> bool:
    """Whether the wrong `stage` changes what production signs for `case`: keeping the
    method's case changes only a method typed in lower case; `signing_path` runs only on a
    target with a query (`headers()` drops the fragment before, as clients do)."""
    name, wrong = WRONG_STAGES[stage]
    if name == "signing_path":
        target = expected(case, "headers")["target"]
        return bool(wrong(target) != signing_path(target))
    if stage == "string_to_sign keeps the method's case":
        return bool(case["method"] != case["method"].upper())
    return True


@pytest.mark.parametrize(
    ("case", "stage"),
    [
        pytest.param(case, stage, id=f"{stage}: {case['name']}")
        for case in VECTORS["cases"]
        if "headers" in case["clients"]
        for stage in WRONG_STAGES
        if stage_runs(case, stage)
    ],
)
def test_a_wrong_stage_fails_the_vector_through_production(
    monkeypatch: pytest.MonkeyPatch, case: dict[str, Any], stage: str
) -> None:
    auth = KalshiAuth(KEY_ID, SEED_KEY, clock=lambda: case["timestamp_ms"])
    want = expected(case, "headers")["signature"]
    assert auth.headers(case["method"], case["url"])["KALSHI-ACCESS-SIGNATURE"] == want
    name, wrong = WRONG_STAGES[stage]
    monkeypatch.setattr(kalshi_auth._core, name, wrong)
    assert auth.headers(case["method"], case["url"])["KALSHI-ACCESS-SIGNATURE"] != want


def test_every_wrong_stage_fails_some_vector() -> None:
    for stage in WRONG_STAGES:
        assert any(
            stage_runs(case, stage) for case in VECTORS["cases"] if "headers" in case["clients"]
        )


FAILURES = VECTORS["failures"]


def key_text(value: str) -> str:
    """A `private_key` of the failure cases: made at run time from the seed when it is a
    <name>, so that no PEM private key is committed; otherwise the text itself."""
    pem = private_key_pem(SEED_KEY).decode()
    public = SEED_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    made = {
        "<the seed key as PKCS#8 PEM>": pem,
        "<the seed key as PKCS#8 PEM, END line cut>": pem.partition("-----END")[0],
        "<the seed key's public key as PEM>": public.decode(),
    }
    assert not value.startswith("<") or value in made, value
    return made.get(value, value)


def refused_inputs(change: dict[str, Any]) -> Callable[[], dict[str, str]]:
    given = {**FAILURES["valid"], **change}
    return lambda: KalshiAuth(given["key_id"], key_text(given["private_key"])).headers(
        given["method"], given["url"], timestamp_ms=given["timestamp_ms"]
    )


def test_the_valid_failure_inputs_sign_the_docs_example() -> None:
    assert refused_inputs({})()["KALSHI-ACCESS-SIGNATURE"] == FAILURES["valid"]["signature"]
    assert FAILURES["valid"]["signature"] == VECTORS["cases"][0]["signature"]


@pytest.mark.parametrize("case", FAILURES["cases"], ids=[c["name"] for c in FAILURES["cases"]])
def test_refused_inputs_fail_with_their_error(case: dict[str, Any]) -> None:
    assert len(case["change"]) == 1  # one fault per case
    error = getattr(kalshi_auth, case["error"])
    with pytest.raises(
        kalshi_auth.KalshiAuthError, match=re.escape(case["message_contains"])
    ) as info:
        refused_inputs(case["change"])()
    assert type(info.value) is error


def test_the_failures_cover_what_they_must() -> None:
    errors = {case["error"] for case in FAILURES["cases"]}
    assert errors == {"ConfigurationError", "InvalidKeyIdError", "InvalidPrivateKeyError"}
    fields = {field for case in FAILURES["cases"] for field in case["change"]}
    assert fields == {"method", "timestamp_ms", "key_id", "url", "private_key"}
