"""The verifier decides as Kalshi's server does, with Kalshi's 401 bodies."""

from __future__ import annotations

import base64
from email.utils import parsedate_to_datetime

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kalshi_auth import KalshiAuth
from kalshi_auth.testing import (
    INCORRECT_SIGNATURE,
    KEY_NOT_FOUND,
    SIGNATURE_MISSING,
    TIMESTAMP_EXPIRED,
    KalshiTestServer,
    KalshiVerifier,
    generate_rsa_key,
)

NOW = 1_764_000_000_000
PATH = "/trade-api/v2/portfolio/balance"


@pytest.fixture
def verifier(kalshi_rsa_key: rsa.RSAPrivateKey) -> KalshiVerifier:
    v = KalshiVerifier(clock=lambda: NOW)
    v.register("key-1", kalshi_rsa_key)
    return v


def seed_guide_headers(key: rsa.RSAPrivateKey, salt: int, message: str) -> dict[str, str]:
    signature = key.sign(
        message.encode(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt),
        hashes.SHA256(),
    )
    return {
        "KALSHI-ACCESS-KEY": "key-1",
        "KALSHI-ACCESS-TIMESTAMP": message[:13],
        "KALSHI-ACCESS-SIGNATURE": base64.b64encode(signature).decode(),
    }


@pytest.mark.parametrize("salt", [padding.PSS.DIGEST_LENGTH, padding.PSS.MAX_LENGTH])
def test_any_pss_salt_length_is_accepted(
    verifier: KalshiVerifier, kalshi_rsa_key: rsa.RSAPrivateKey, salt: int
) -> None:
    headers = seed_guide_headers(kalshi_rsa_key, salt, f"{NOW}GET{PATH}")
    assert verifier.verify("GET", PATH, headers).accepted


def test_pkcs1v15_is_rejected(verifier: KalshiVerifier, kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    signature = kalshi_rsa_key.sign(f"{NOW}GET{PATH}".encode(), padding.PKCS1v15(), hashes.SHA256())
    headers = {
        "KALSHI-ACCESS-KEY": "key-1",
        "KALSHI-ACCESS-TIMESTAMP": str(NOW),
        "KALSHI-ACCESS-SIGNATURE": base64.b64encode(signature).decode(),
    }
    assert verifier.verify("GET", PATH, headers).body == INCORRECT_SIGNATURE


def test_rejections_carry_kalshis_bodies(
    verifier: KalshiVerifier, kalshi_rsa_key: rsa.RSAPrivateKey
) -> None:
    auth = KalshiAuth("key-1", kalshi_rsa_key)
    good = auth.headers("GET", PATH, timestamp_ms=NOW)
    assert verifier.verify("GET", PATH, good).accepted
    assert verifier.verify("GET", PATH + "?limit=1", good).accepted  # query is not signed

    cases = {
        "stale": (auth.headers("GET", PATH, timestamp_ms=NOW - 11_000), PATH, TIMESTAMP_EXPIRED),
        "ahead": (auth.headers("GET", PATH, timestamp_ms=NOW + 31_000), PATH, TIMESTAMP_EXPIRED),
        "tampered path": (good, PATH + "x", INCORRECT_SIGNATURE),
        "query signed": (
            KalshiAuth("key-1", kalshi_rsa_key, include_query=True).headers(
                "GET", PATH + "?limit=1", timestamp_ms=NOW
            ),
            PATH + "?limit=1",
            INCORRECT_SIGNATURE,
        ),
        "wrong key": (
            KalshiAuth("key-1", generate_rsa_key()).headers("GET", PATH, timestamp_ms=NOW),
            PATH,
            INCORRECT_SIGNATURE,
        ),
        "unknown key id": (
            {**good, "KALSHI-ACCESS-KEY": "key-2"},
            PATH,
            KEY_NOT_FOUND,
        ),
        "missing signature": (
            {k: v for k, v in good.items() if k != "KALSHI-ACCESS-SIGNATURE"},
            PATH,
            SIGNATURE_MISSING,
        ),
        "url-safe base64": (
            {
                **good,
                "KALSHI-ACCESS-SIGNATURE": good["KALSHI-ACCESS-SIGNATURE"]
                .replace("+", "-")
                .replace("/", "_"),
            },
            PATH,
            None,
        ),
        "seconds, not ms": (
            {**good, "KALSHI-ACCESS-TIMESTAMP": str(NOW // 1000)},
            PATH,
            TIMESTAMP_EXPIRED,
        ),
    }
    for name, (headers, target, body) in cases.items():
        verdict = verifier.verify("GET", target, headers)
        if body is None:  # only when the signature had a '+' or '/' to change
            changed = headers["KALSHI-ACCESS-SIGNATURE"] != good["KALSHI-ACCESS-SIGNATURE"]
            assert verdict.accepted is not changed, name
            continue
        assert not verdict.accepted, name
        assert verdict.status == 401, name
        assert verdict.body == body, name


def test_window_edges(verifier: KalshiVerifier, kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    auth = KalshiAuth("key-1", kalshi_rsa_key)
    assert verifier.verify(
        "GET", PATH, auth.headers("GET", PATH, timestamp_ms=NOW - 10_000)
    ).accepted
    assert verifier.verify(
        "GET", PATH, auth.headers("GET", PATH, timestamp_ms=NOW + 30_000)
    ).accepted
    verifier.clock_offset_ms = 60_000
    assert not verifier.verify("GET", PATH, auth.headers("GET", PATH, timestamp_ms=NOW)).accepted


def test_server_records_and_dates_by_its_shifted_clock(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    auth = KalshiAuth("key-1", kalshi_rsa_key)
    with KalshiTestServer({"key-1": kalshi_rsa_key}) as server:
        server.verifier.clock_offset_ms = 3_600_000
        url = server.base_url + "/portfolio/balance"
        response = requests.get(url, headers=auth.headers("GET", url), timeout=10)
        assert response.status_code == 401
        assert response.json() == TIMESTAMP_EXPIRED
        served = parsedate_to_datetime(response.headers["Date"]).timestamp() * 1000
        assert abs(served - server.verifier.now_ms()) < 5_000
        (record,) = server.requests
        assert record.target == "/trade-api/v2/portfolio/balance"
        assert not record.verdict.accepted
