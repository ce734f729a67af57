"""The sans-IO core on plain values: origins, scope, the hop rule, the clock, key ids."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict
from requests.structures import CaseInsensitiveDict
from websockets.datastructures import Headers as WsHeaders

from kalshi_auth import ConfigurationError, InvalidKeyIdError, KalshiAuth
from kalshi_auth._clock import (
    MAX_OFFSET_MS,
    ServerClock,
    date_header_ms,
    declared_small,
    http_date,
    is_timestamp_expired,
)
from kalshi_auth._core import SigningCore, checked_key_id
from kalshi_auth._credentials import Credentials
from kalshi_auth._scope import DEFAULT_HOSTS, HostScope, Origin, origin_of
from kalshi_auth._signing import KeySigner, strip_access_headers
from kalshi_auth.testing import KalshiVerifier, generate_ed25519_key

KEY_ID = "6e5d4c3b-2a19-4807-b6f5-e4d3c2b1a098"
NOW = 1_780_000_000_000
EXPIRED = b'{"error":{"code":"header_timestamp_expired","message":"header timestamp expired"}}'
A = Origin("https", "external-api.kalshi.com", 443)
KEY = generate_ed25519_key()


def core(now: int = NOW, hosts: tuple[str, ...] = DEFAULT_HOSTS) -> SigningCore:
    return SigningCore(
        Credentials(KEY_ID, KEY, KeySigner(KEY)),
        scope=HostScope(hosts),
        clock=ServerClock(lambda: now),
    )


# --- origins --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://external-api.kalshi.com/x", A),
        ("https://EXTERNAL-API.kalshi.com:443/x?y#z", A),
        ("http://external-api.kalshi.com/x", Origin("http", "external-api.kalshi.com", 80)),
        ("https://external-api.kalshi.com:8443/", Origin("https", "external-api.kalshi.com", 8443)),
        ("HTTP://[::1]:8080/", Origin("http", "::1", 8080)),
        ("wss://a.kalshi.com/ws", Origin("wss", "a.kalshi.com", 443)),
        ("https://[::1/", Origin("", "", None)),  # unparsable: matches nothing
        ("https://h:99999/", Origin("", "", None)),
    ],
)
def test_origin_of(url: str, origin: Origin) -> None:
    assert origin_of(url) == origin


def test_origin_of_client_parts_fills_default_ports() -> None:
    assert Origin.of("HTTPS", "[::1]", None) == Origin("https", "::1", 443)
    assert Origin.of("https", "h", 443) == Origin.of("https", "h", None)
    assert Origin.of("http", "h", 443) != Origin.of("https", "h", 443)  # scheme alone differs


# --- scope ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "inside"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("api.localhost", False),  # resolved through DNS on some systems
        ("localhost.", False),
        ("127.0.0.1", True),
        ("127.0.0.1.", False),  # a DNS name, not an address
        ("[::1]", True),
        ("kalshi.com.", True),
        ("external-api.kalshi.com", True),
        ("kalshi.com.evil.net", False),
        ("127.0.0.1.evil.net", False),
    ],
)
def test_default_scope_loopback_means_loopback(host: str, inside: bool) -> None:
    assert (host in HostScope(DEFAULT_HOSTS)) is inside


def test_custom_localhost_entry_is_exact_but_other_names_cover_subdomains() -> None:
    scope = HostScope(["localhost", "example.com"])
    assert "localhost" in scope
    assert "dev.localhost" not in scope
    assert "api.example.com" in scope


@pytest.mark.parametrize("bad", [None, 5, [None], [""], ["a b"], ["http://x"], ["x/y"], [b"k"]])
def test_bad_hosts_are_typed_errors(bad: object) -> None:
    with pytest.raises(ConfigurationError) as caught:
        HostScope(bad)  # type: ignore[arg-type]
    assert "hosts" in str(caught.value)


# --- the hop rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hop", "signed"),
    [
        (A, True),
        (Origin("http", "external-api.kalshi.com", 80), False),  # https to http
        (Origin("http", "external-api.kalshi.com", 443), False),  # scheme alone
        (Origin("https", "external-api.kalshi.com", 8443), False),  # port alone
        (Origin("https", "api.elections.kalshi.com", 443), False),  # in scope, other host
        (Origin("https", "example.com", 443), False),
    ],
)
def test_sign_hop(hop: Origin, signed: bool) -> None:
    c = core()
    headers = {"KALSHI-ACCESS-KEY": "stale", "KALSHI-ACCESS-SIGNATURE": "stale", "X": "kept"}
    assert c.sign_hop(headers, A, hop, "post", "/trade-api/v2/next?x=1") is signed
    assert headers["X"] == "kept"
    if not signed:
        assert not [h for h in headers if h.startswith("KALSHI-")]
        return
    assert headers["KALSHI-ACCESS-TIMESTAMP"] == str(NOW)
    verifier = KalshiVerifier(clock=lambda: NOW)
    verifier.register(KEY_ID, KEY)
    verdict = verifier.verify("POST", "/trade-api/v2/next?x=1", headers)
    assert verdict.accepted, verdict.reason
    assert verdict.message == f"{NOW}POST/trade-api/v2/next"


def test_a_hop_home_out_of_scope_is_not_signed() -> None:
    c = core(hosts=("kalshi.com",))
    home = Origin("http", "127.0.0.1", 80)
    headers: dict[str, str] = {}
    assert not c.sign_hop(headers, home, home, "GET", "/x")
    assert headers == {}


# --- should_resend --------------------------------------------------------------------------


def test_should_resend_only_for_an_expired_401_from_the_signed_origin() -> None:
    date = http_date(NOW + 60_000)
    c = core()
    other = Origin("https", "api.elections.kalshi.com", 443)
    assert not c.should_resend(A, other, 401, date, EXPIRED)  # another origin answered
    assert not c.should_resend(A, A, 403, date, EXPIRED)
    assert not c.should_resend(A, A, 401, date, b'{"error":{"code":"authentication_error"}}')
    outside = Origin("https", "example.com", 443)
    assert not c.should_resend(outside, outside, 401, date, EXPIRED)
    assert c.clock.offset_ms == 0
    assert c.should_resend(A, A, 401, date, EXPIRED)
    assert c.clock.offset_ms == 60_000


# --- the clock ------------------------------------------------------------------------------


def test_each_lesson_replaces_the_last() -> None:
    clock = ServerClock(lambda: NOW)
    assert clock.learn(http_date(NOW + 60_000))
    assert clock.offset_ms == 60_000
    assert clock.now_ms() == NOW + 60_000
    assert clock.learn(http_date(NOW - 30_000))
    assert clock.offset_ms == -30_000
    assert clock.learn(http_date(NOW + 900))  # the clocks agree: back to 0
    assert clock.offset_ms == 0


@pytest.mark.parametrize(
    "date",
    [
        None,
        "",
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "not a date",
        "Mon, 99 Foo 2026 25:61:61 GMT",
        "Thu, 01 Jan 2026 00:00:00 GMT" + " " * 64,
    ],
)
def test_absurd_dates_are_never_adopted(date: str | None, caplog: pytest.LogCaptureFixture) -> None:
    clock = ServerClock(lambda: NOW)
    clock.offset_ms = 12_000
    with caplog.at_level(logging.ERROR, logger="kalshi_auth"):
        assert not clock.learn(date)
    assert clock.offset_ms == 12_000
    assert any("not re-sending" in r.getMessage() for r in caplog.records)


def test_offset_bound_is_one_day() -> None:
    clock = ServerClock(lambda: NOW)
    assert clock.learn(http_date(NOW + MAX_OFFSET_MS - 5_000))
    assert not clock.learn(http_date(NOW + MAX_OFFSET_MS + 5_000))
    assert not clock.learn(http_date(NOW - MAX_OFFSET_MS - 5_000))


def test_date_without_zone_is_utc() -> None:
    assert date_header_ms("Thu, 01 Jan 2026 00:00:00 -0000") == 1_767_225_600_000


@given(st.text(max_size=200))
def test_date_header_never_raises(text: str) -> None:
    value = date_header_ms(text)
    assert value is None or isinstance(value, int)


@given(st.binary(max_size=300))
def test_expired_body_check_never_raises(body: bytes) -> None:
    assert is_timestamp_expired(body) in (True, False)


def test_expired_body_is_bounded() -> None:
    assert is_timestamp_expired(EXPIRED)
    assert not is_timestamp_expired(EXPIRED + b" " * 20_000)
    assert not is_timestamp_expired(b"[" * 100_000)  # deep nesting: refused, not a crash


@pytest.mark.parametrize(
    ("length", "small"),
    [("120", True), ("16384", True), ("16385", False), (None, False), ("", False),
     ("-1", False), ("1e3", False), ("9" * 5000, False), ("\u0661\u0662", False)],
)  # fmt: skip
def test_declared_small(length: str | None, small: bool) -> None:
    assert declared_small(length) is small


# --- key ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_id", "words"),
    [
        (KEY_ID + "\n", "line break"),
        (KEY_ID + " ", "whitespace"),
        ('"' + KEY_ID, "quote"),
        (KEY_ID[:8] + "\x07" + KEY_ID[9:], "control character"),
        (KEY_ID + "\u200b", "invisible"),
        (KEY_ID.replace("-", "/"), "outside letters"),
        (None, "must be a str"),
        ("x" * 201, "looks like a private key"),
    ],
)
def test_key_id_errors_describe_and_never_quote(key_id: object, words: str) -> None:
    with pytest.raises(InvalidKeyIdError) as caught:
        checked_key_id(key_id)
    message = str(caught.value)
    assert words in message
    if isinstance(key_id, str):
        assert key_id not in message
        assert repr(key_id[-3:]) not in message


def test_key_id_error_names_its_length() -> None:
    with pytest.raises(InvalidKeyIdError, match="37 characters"):
        checked_key_id(KEY_ID + "!")


def test_core_is_what_the_auth_object_uses() -> None:
    auth = KalshiAuth(KEY_ID, KEY, clock=lambda: NOW)
    assert auth.core.credentials.key_id == auth.key_id
    assert auth.headers("GET", "/x") == auth.core.signed_headers("GET", "/x")


# --- one rule for reading a 401 and re-sending ---------------------------------------------

B = Origin("https", "evil.example", 443)


@pytest.mark.parametrize(
    ("status", "answered_by", "length", "replayable", "read_anyway", "reads"),
    [
        (401, A, "120", True, False, True),  # small, declared: always worth reading
        (401, A, None, True, True, True),  # undeclared, but the client reads it anyway
        (401, A, None, True, False, False),  # undeclared and streaming: never
        (401, A, "16385", True, True, False),  # declared large: not Kalshi's clock error
        (401, A, "abc", True, True, False),
        (401, A, "120", False, True, False),  # a body that cannot be sent twice
        (403, A, "120", True, True, False),
        (200, A, "120", True, True, False),
        (401, B, "120", True, True, False),  # another origin answered
    ],
)
def test_reads_rejection_is_one_rule(
    status: int,
    answered_by: Origin,
    length: str | None,
    replayable: bool,
    read_anyway: bool,
    reads: bool,
) -> None:
    got = core().reads_rejection(
        A, answered_by, status, length, replayable=replayable, body_read_anyway=read_anyway
    )
    assert got is reads


def test_reads_rejection_only_in_scope() -> None:
    c = core(hosts=("kalshi.co",))
    assert not c.reads_rejection(A, A, 401, "10", replayable=True, body_read_anyway=True)


@pytest.mark.parametrize(
    "headers",
    [
        {"kalshi-access-key": "old", "kalshi-access-signature": "s", "X-Other": "1"},
        CaseInsensitiveDict({"KALSHI-ACCESS-KEY": "old", "X-Other": "1"}),
        httpx.Headers([("Kalshi-Access-Timestamp", "1"), ("kalshi-access-timestamp", "2"),
                       ("X-Other", "1")]),
        WsHeaders([("KALSHI-ACCESS-SIGNATURE", "a"), ("kalshi-access-signature", "b"),
                   ("X-Other", "1")]),
        CIMultiDict([("KALSHI-ACCESS-KEY", "a"), ("kalshi-access-key", "b"), ("X-Other", "1")]),
    ],
    ids=["dict", "requests", "httpx", "websockets", "aiohttp"],
)  # fmt: skip
def test_one_function_strips_every_copy_in_every_clients_headers(
    headers: MutableMapping[str, str],
) -> None:
    strip_access_headers(headers)
    left = [name.lower() for name in headers]
    if isinstance(headers, dict):  # case-sensitive: the exact names the core writes
        assert left == ["kalshi-access-key", "kalshi-access-signature", "x-other"]
        headers = {k.upper(): v for k, v in headers.items()}
        strip_access_headers(headers)
        left = [name.lower() for name in headers]
    assert left == ["x-other"]
