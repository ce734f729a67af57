"""The pure signing stages, each on its own, and the `headers()` entry point."""

from __future__ import annotations

import base64
import logging
import time

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kalshi_auth import ConfigurationError, KalshiAuth
from kalshi_auth._httpx import request_target
from kalshi_auth._signing import signing_path, string_to_sign
from kalshi_auth.testing import KalshiVerifier
from tests.helpers.keys import Credential, assert_no_key_material


@pytest.mark.parametrize(
    ("target", "include_query", "expected"),
    [
        ("/trade-api/v2/portfolio/orders?limit=5", False, "/trade-api/v2/portfolio/orders"),
        ("/trade-api/v2/portfolio/orders?limit=5", True, "/trade-api/v2/portfolio/orders?limit=5"),
        ("/a#frag", False, "/a"),
        ("/a?b=1#frag", True, "/a?b=1"),
        ("/a%3Fb?c", False, "/a%3Fb"),
    ],
)
def test_signing_path(target: str, include_query: bool, expected: str) -> None:
    assert signing_path(target, include_query=include_query) == expected


def test_string_to_sign_matches_kalshi_docs_example() -> None:
    assert (
        string_to_sign("1703123456789", "get", "/trade-api/v2/portfolio/balance")
        == b"1703123456789GET/trade-api/v2/portfolio/balance"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://external-api.kalshi.com/trade-api/v2/markets?limit=5",
            "/trade-api/v2/markets?limit=5",
        ),
        ("wss://external-api-ws.kalshi.com/trade-api/ws/v2", "/trade-api/ws/v2"),
        ("https://host", "/"),
        ("/trade-api/v2/markets/KX HIGH", "/trade-api/v2/markets/KX%20HIGH"),
        ("/m/caf\u00e9", "/m/caf%C3%A9"),
        ("/m/a%2Fb", "/m/a%2Fb"),
        ("/trade-api/v2/x/../markets", "/trade-api/v2/markets"),
        ("https://h/trade-api/./v2/markets#frag", "/trade-api/v2/markets"),
        ("/%7e|", "/%7e|"),
        ("//double/slash", "//double/slash"),
    ],
)
def test_request_target(url: str, expected: str) -> None:
    assert request_target(url) == expected


URL_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from("/%.?#~|\\ \t"),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(text=URL_TEXT, absolute=st.booleans(), include_query=st.booleans())
@example(text="/\x80", absolute=False, include_query=False)  # "//\x80": a path, not a host
@example(text="/", absolute=False, include_query=False)
@example(text="a/../b?x=1#f", absolute=True, include_query=True)
def test_headers_sign_what_httpx_sends(
    credentials: dict[str, Credential], text: str, absolute: bool, include_query: bool
) -> None:
    """headers(url) signs exactly the request-target httpx puts on the wire for url."""
    url = ("https://external-api.kalshi.com/" if absolute else "/") + text
    cred = credentials["ed25519"]
    auth = KalshiAuth(cred.key_id, cred.private_key, include_query=include_query)
    # A path is a path on some host, even one that starts with "//".
    sent = url if absolute else "https://external-api.kalshi.com" + url
    try:
        wire = httpx.Request("GET", sent).url.raw_path.decode("ascii")
    except (httpx.InvalidURL, UnicodeError, ValueError):
        wire = None
    try:
        headers = auth.headers("GET", url)
    except ConfigurationError:
        assert wire is None or ":" in text  # httpx refuses it too, or a port we refuse
        return
    assert wire is not None
    signed_target = wire if include_query else wire.partition("?")[0]
    message = f"{headers['KALSHI-ACCESS-TIMESTAMP']}GET{signed_target}"
    signature = base64.b64decode(headers["KALSHI-ACCESS-SIGNATURE"])
    key = cred.private_key
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    key.public_key().verify(signature, message.encode())  # raises if it does not verify


@settings(max_examples=500, deadline=None)
@given(
    scheme=st.sampled_from(["https://", "wss://", "http://", "ws://", ""]),
    host=st.text("abcXYZ019.-:", max_size=12),
    rest=st.text("abzAZ09-._~/?=&,:%#!", max_size=30),
)
def test_the_fast_path_agrees_with_httpx(scheme: str, host: str, rest: str) -> None:
    """request_target skips httpx for plain URLs; whatever it returns, httpx agrees."""
    url = f"{scheme}{host}/{rest}" if scheme else f"/{rest}"
    try:
        ours: str | None = request_target(url)
    except ConfigurationError:
        ours = None
    sent = url if scheme else "https://h" + url
    try:
        wire: str | None = httpx.URL(sent).raw_path.decode("ascii")
    except (httpx.InvalidURL, ValueError):
        wire = None
    if ours is not None:
        assert ours == wire


def test_relative_url_is_refused(credentials: dict[str, Credential]) -> None:
    with pytest.raises(ConfigurationError, match="neither an absolute URL"):
        credentials["ed25519"].auth.headers("GET", "trade-api/v2/markets")


def test_headers_for_websocket_handshake(credential: Credential) -> None:
    before = int(time.time() * 1000)
    headers = credential.auth.headers("GET", "wss://external-api-ws.kalshi.com/trade-api/ws/v2")
    after = int(time.time() * 1000)
    assert set(headers) == {
        "KALSHI-ACCESS-KEY",
        "KALSHI-ACCESS-TIMESTAMP",
        "KALSHI-ACCESS-SIGNATURE",
    }
    assert headers["KALSHI-ACCESS-KEY"] == credential.key_id
    timestamp = headers["KALSHI-ACCESS-TIMESTAMP"]
    assert len(timestamp) == 13
    assert before <= int(timestamp) <= after
    verifier = KalshiVerifier()
    verifier.register(credential.key_id, credential.private_key)
    assert verifier.verify("GET", "/trade-api/ws/v2", headers).accepted
    assert not verifier.verify("GET", "/trade-api/v2", headers).accepted


def test_explicit_timestamp(credentials: dict[str, Credential]) -> None:
    cred = credentials["rsa-pkcs1"]
    headers = cred.auth.headers(
        "POST", "/trade-api/v2/portfolio/orders", timestamp_ms=1703123456789
    )
    assert headers["KALSHI-ACCESS-TIMESTAMP"] == "1703123456789"
    verifier = KalshiVerifier(clock=lambda: 1703123456789)
    verifier.register(cred.key_id, cred.private_key)
    assert verifier.verify("POST", "/trade-api/v2/portfolio/orders", headers).accepted


@pytest.mark.parametrize("bad", [1703123456, 1703123456.789, "1703123456789", True])
def test_bad_timestamps_are_refused(credentials: dict[str, Credential], bad: object) -> None:
    with pytest.raises(ConfigurationError, match="timestamp_ms"):
        credentials["ed25519"].auth.headers("GET", "/x", timestamp_ms=bad)  # type: ignore[arg-type]


def test_repr_shows_id_and_type_but_no_key(credential: Credential) -> None:
    text = repr(credential.auth)
    assert credential.key_id in text
    assert ("Ed25519" if credential.name == "ed25519" else "RSA-2048") in text
    assert str(credential.auth) == text
    assert_no_key_material(text, credential.pem)


def test_debug_log_names_what_was_signed_and_nothing_secret(
    credentials: dict[str, Credential], caplog: pytest.LogCaptureFixture
) -> None:
    cred = credentials["rsa-pkcs1"]
    with caplog.at_level(logging.DEBUG, logger="kalshi_auth"):
        headers = cred.auth.headers("get", "/trade-api/v2/portfolio/balance?x=1")
    (record,) = [r for r in caplog.records if r.name == "kalshi_auth"]
    text = record.getMessage()
    assert text == (
        f"signed GET /trade-api/v2/portfolio/balance at {headers['KALSHI-ACCESS-TIMESTAMP']}"
    )
    assert headers["KALSHI-ACCESS-SIGNATURE"] not in text
    assert_no_key_material(text, cred.pem)
