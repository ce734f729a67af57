"""Host scope: Kalshi credentials go only to Kalshi's domains and loopback, unless told."""

from __future__ import annotations

import logging

import httpx
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_auth import ConfigurationError, KalshiAuth
from kalshi_auth._scope import DEFAULT_HOSTS, HostScope
from kalshi_auth.testing import KalshiTestServer

KEY_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@pytest.mark.parametrize(
    ("host", "inside"),
    [
        ("kalshi.com", True),
        ("external-api.kalshi.com", True),
        ("api.elections.kalshi.com", True),
        ("EXTERNAL-API.KALSHI.COM.", True),
        ("external-api.demo.kalshi.co", True),
        ("demo-api.kalshi.co", True),
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("evilkalshi.com", False),
        ("kalshi.com.evil.net", False),
        ("kalshi.co.uk", False),
        ("example.com", False),
        ("10.0.0.1", False),
        ("128.0.0.1", False),
        ("::2", False),
        ("", False),
    ],
)
def test_default_scope(host: str, inside: bool) -> None:
    assert (host in HostScope(DEFAULT_HOSTS)) is inside


def test_custom_scope_entries() -> None:
    scope = HostScope(["api.example.com", "10.0.0.0/8", "2001:db8::/32"])
    assert "api.example.com" in scope
    assert "eu.api.example.com" in scope
    assert "example.com" not in scope
    assert "10.2.3.4" in scope
    assert "2001:db8::5" in scope
    assert "kalshi.com" not in scope
    assert "anything.at.all" in HostScope("*")
    assert "kalshi.com" in HostScope("kalshi.com")  # one host as a plain str


@pytest.mark.parametrize("bad", ["https://kalshi.com", "", "a b", "kalshi.com/path", 5])
def test_bad_scope_entries(kalshi_rsa_key: rsa.RSAPrivateKey, bad: object) -> None:
    with pytest.raises(ConfigurationError):
        KalshiAuth(KEY_ID, kalshi_rsa_key, hosts=[bad])  # type: ignore[list-item]


def test_other_hosts_get_no_credentials_and_one_warning(
    kalshi_rsa_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
    with caplog.at_level(logging.WARNING, logger="kalshi_auth"):
        for _ in range(3):
            prepared = requests.Request("GET", "https://api.example.com/v1/x", auth=auth).prepare()
            assert not [h for h in prepared.headers if h.lower().startswith("kalshi-")]
            request = httpx.Request("GET", "https://api.example.com/v1/x")
            assert next(auth.sync_auth_flow(request)) is request
            assert "KALSHI-ACCESS-KEY" not in request.headers
        kalshi = requests.Request("GET", "https://external-api.kalshi.com/x", auth=auth).prepare()
    assert kalshi.headers["KALSHI-ACCESS-KEY"] == KEY_ID
    warnings = [r.getMessage() for r in caplog.records if r.name == "kalshi_auth"]
    assert len(warnings) == 1
    assert "'api.example.com'" in warnings[0]
    assert "hosts=" in warnings[0]


def test_one_session_serves_kalshi_and_another_api(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    # The "other API" is 127.0.0.1 here: a scope of only 'localhost' leaves it out.
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key, hosts=["localhost"])
    with KalshiTestServer({KEY_ID: kalshi_rsa_key}) as server:
        port = server.url.rsplit(":", 1)[1]
        with requests.Session() as session:
            session.auth = auth
            kalshi = session.get(f"http://localhost:{port}/trade-api/v2/portfolio/balance")
            other = session.get(f"http://127.0.0.1:{port}/other-api/data")
        with httpx.Client(auth=auth) as client:
            other_httpx = client.get(f"http://127.0.0.1:{port}/other-api/data")
    assert kalshi.status_code == 200
    assert other.status_code == other_httpx.status_code == 401  # arrived unsigned
    unsigned = server.requests[1:]
    assert [r.target for r in unsigned] == ["/other-api/data"] * 2
    for record in unsigned:
        assert not [h for h in record.headers if h.lower().startswith("kalshi-")]


def test_stale_copied_headers_are_removed_for_out_of_scope_hosts(
    kalshi_rsa_key: rsa.RSAPrivateKey,
) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
    signed = auth.headers("GET", "https://external-api.kalshi.com/x")
    request = httpx.Request("GET", "https://api.example.com/x", headers=signed)
    next(auth.sync_auth_flow(request))
    assert "KALSHI-ACCESS-SIGNATURE" not in request.headers
