"""The signing core's messages and edges: the facts every message a user reads must carry
(what is wrong, where, how to fix it), that none quotes its input, and every limit on both
sides. Sentences may be reworded freely; a fact that goes missing fails a test."""

from __future__ import annotations

import base64
import logging
import os
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kalshi_auth import ConfigurationError, InvalidKeyIdError
from kalshi_auth._clock import (
    MAX_ERROR_BODY_BYTES,
    ServerClock,
    date_header_ms,
    declared_small,
    describe_offset,
    http_date,
    is_timestamp_expired,
)
from kalshi_auth._core import SigningCore, checked_key_id, checked_method
from kalshi_auth._credentials import Credentials
from kalshi_auth._scope import DEFAULT_HOSTS, HostScope, Origin, origin_of
from kalshi_auth._signing import KeySigner, path_and_query, timestamp_text
from kalshi_auth.testing import generate_ed25519_key

NOW = 1_780_000_000_000
UUID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
FIX_ID = (
    "a key id is a UUID such as 'a952bcbe-ec3b-4b5b-b8f9-11dae589608c': remove whitespace, "
    "quotes and control characters (a trailing newline or quotes from a file or .env are the "
    "usual cause)"
)


def key_id_error(value: object) -> str:
    with pytest.raises(InvalidKeyIdError) as caught:
        checked_key_id(value)
    return str(caught.value)


FIX = ("UUID", "whitespace", "quotes", ".env")  # how every malformed key id is fixed


@pytest.mark.parametrize(
    ("value", "facts"),
    [
        (None, ("key_id", "str", "NoneType")),
        (7, ("key_id", "str", "int")),
        ("", ("key_id", "empty", "Kalshi's web UI")),
        ("-----BEGIN", ("private key", "KalshiAuth(key_id, private_key)", "key id first")),
        ("x" * 201, ("private key", "KalshiAuth(key_id, private_key)", "key id first")),
        (UUID + "\n", ("37 characters", "line break", "start or end", *FIX)),
        ("\r" + UUID, ("37 characters", "line break", "start or end", *FIX)),
        (UUID[:4] + " " + UUID[5:], ("36 characters", "whitespace", "inside", *FIX)),
        (UUID[:4] + "\t" + UUID[5:], ("36 characters", "whitespace", "inside", *FIX)),
        ('"' + UUID, ("37 characters", "quote", "start or end", *FIX)),
        (UUID[:4] + "'" + UUID[5:], ("36 characters", "quote", "inside", *FIX)),
        (UUID[:4] + "`" + UUID[5:], ("36 characters", "quote", "inside", *FIX)),
        (UUID[:4] + "\x07" + UUID[5:], ("36 characters", "control character", "inside", *FIX)),
        (UUID[:4] + "\u200b" + UUID[5:], ("36 characters", "invisible", "inside", *FIX)),
        (UUID[:4] + "/" + UUID[5:], ("36 characters", "letters, digits", "inside", *FIX)),
    ],
)
def test_key_id_messages(value: object, facts: tuple[str, ...]) -> None:
    message = key_id_error(value)
    missing = [fact for fact in facts if fact not in message]
    assert not missing, f"{message!r} lacks {missing}"
    if isinstance(value, str) and len(value) > 8:
        assert value not in message  # described, never quoted
    assert "\n" not in message
    assert "\r" not in message


def test_key_id_limits() -> None:
    assert checked_key_id("k" * 200) == "k" * 200  # 200 characters: still a key id
    assert checked_key_id("Az09-._~") == "Az09-._~"  # every allowed kind of character
    assert key_id_error("ab-----cd").startswith("key_id looks like a private key")


@pytest.mark.parametrize(
    ("hosts", "facts"),
    [
        (None, ("hosts", "NoneType", "leave it out", "'*'")),
        ([5], ("hosts", "host names", "int")),
        ([" "], ("hosts", "empty")),
        (["https://kalshi.com"], ("hosts", "URL", "host name alone")),
        (["a b"], ("hosts", "3 characters", "host name", "IP address", "network")),
        (["."], ("hosts", "1 characters", "host name", "IP address", "network")),
    ],
)
def test_host_scope_messages(hosts: object, facts: tuple[str, ...]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        HostScope(hosts)  # type: ignore[arg-type]
    message = str(caught.value)
    assert [fact for fact in facts if fact not in message] == [], message


@pytest.mark.parametrize("bad", ["a/b", "a:b", "a\tb", "[a", "a]", "a@b", "a?b", "a#b"])
def test_every_character_a_host_name_cannot_hold(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="neither a host name"):
        HostScope([bad])


def test_scope_entries_and_matching_edges() -> None:
    scope = HostScope(["Example.COM.", "[2001:db8::1]", "localhost", ".dotted.org"])
    assert scope.entries == ("Example.COM.", "[2001:db8::1]", "localhost", ".dotted.org")
    assert "api.example.com" in scope
    assert "2001:db8::1" in scope
    assert "[2001:db8::1]" in scope
    assert "x.dotted.org" in scope
    assert "localhost" in scope
    assert "" not in scope
    assert "." not in scope
    assert 5 not in scope
    assert None not in scope
    assert "10.0.0.1." not in HostScope(["10.0.0.0/8"])  # a DNS name, not the address
    assert "10.0.0.1" in HostScope(["10.0.0.0/8"])
    assert "anything" not in HostScope([])
    assert "anything" in HostScope(["*"])


def test_known_is_a_cache_of_positive_answers_only() -> None:
    scope = HostScope(DEFAULT_HOSTS)
    assert scope.known("kalshi.com") is False  # not asked yet
    assert "kalshi.com" in scope
    assert scope.known("kalshi.com") is True
    assert "example.com" not in scope
    assert scope.known("example.com") is False
    assert "example.com" not in scope  # the cached "no" stays a no


def test_the_scope_cache_is_bounded() -> None:
    scope = HostScope(["*"])
    for i in range(1024):
        assert f"h{i}.example" in scope
    assert scope.known("h1023.example") is True
    assert f"h{1024}.example" in scope  # still answered, no longer remembered
    assert scope.known("h1024.example") is False


def test_origins() -> None:
    assert origin_of("file:///etc/passwd") == Origin("file", "", None)
    assert origin_of("https://h:8443/x") == Origin("https", "h", 8443)
    assert Origin.of("WSS", "[::1]", None) == Origin("wss", "::1", 443)
    assert Origin.of("ftp", "h", None) == Origin("ftp", "h", None)


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("https://h", "/"),
        ("https://h/", "/"),
        ("https://h?x=1", "/?x=1"),
        ("https://h/a?", "/a"),
        ("https://h/a?b=c", "/a?b=c"),
    ],
)
def test_path_and_query(url: str, target: str) -> None:
    assert path_and_query(urlsplit(url)) == target


@pytest.mark.parametrize(
    ("value", "facts"),
    [
        ("1", ("timestamp_ms", "int of milliseconds", "str")),
        (True, ("timestamp_ms", "int of milliseconds", "bool")),
        (10**12 - 1, ("timestamp_ms", "too small", "13 digits", "int(time.time() * 1000)")),
        (10**13, ("timestamp_ms", "too large", "13 digits", "int(time.time() * 1000)")),
    ],
)
def test_timestamp_messages(value: object, facts: tuple[str, ...]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        timestamp_text(value)  # type: ignore[arg-type]
    message = str(caught.value)
    assert [fact for fact in facts if fact not in message] == [], message


def test_timestamp_limits() -> None:
    assert timestamp_text(10**12) == "1000000000000"
    assert timestamp_text(10**13 - 1) == "9999999999999"


@pytest.mark.parametrize(
    ("offset_ms", "other", "words"),
    [
        (62_000, "Kalshi's", "this machine's clock is about 62 s behind Kalshi's"),
        (-1_500, "the server's", "this machine's clock is about 2 s ahead of the server's"),
        (-62_400, "Kalshi's", "this machine's clock is about 62 s ahead of Kalshi's"),
    ],
)
def test_describe_offset(offset_ms: int, other: str, words: str) -> None:
    assert describe_offset(offset_ms, other) == words


def test_describe_offset_defaults_to_kalshi() -> None:
    assert describe_offset(3_000) == "this machine's clock is about 3 s behind Kalshi's"


# --- the clock's lessons, word for word ------------------------------------------------------


def lesson(date: str | None, offset_ms: int = 0) -> tuple[bool, int, list[tuple[int, str]]]:
    clock = ServerClock(lambda: NOW)
    clock.offset_ms = offset_ms
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect()
    log = logging.getLogger("kalshi_auth")
    log.addHandler(handler)
    try:
        learned = clock.learn(date)
    finally:
        log.removeHandler(handler)
    return learned, clock.offset_ms, [(r.levelno, r.getMessage()) for r in records]


def said(lessons: list[tuple[int, str]], level: int, *facts: str) -> bool:
    """Whether exactly one record was logged, at `level`, holding every one of `facts`."""
    return (
        len(lessons) == 1
        and lessons[0][0] == level
        and all(fact in lessons[0][1] for fact in facts)
    )


def test_learning_an_offset_says_how_far_and_which_way() -> None:
    learned, offset, records = lesson(http_date(NOW + 90_000))
    assert (learned, offset) == (True, 90_000)
    assert said(records, logging.WARNING, "90 s behind", "re-sending once", "sync the clock")


def test_clocks_that_agree_reset_the_offset() -> None:
    learned, offset, records = lesson(http_date(NOW - 1_000), offset_ms=45_000)
    assert (learned, offset) == (True, 0)
    assert said(records, logging.WARNING, "clocks agree", "delayed", "Re-sending once")


def test_a_missing_date_teaches_nothing() -> None:
    learned, offset, records = lesson(None, offset_ms=5_000)
    assert (learned, offset) == (False, 5_000)
    assert said(records, logging.ERROR, "Date", "missing or unreadable", "not re-sending")


def test_a_date_days_off_teaches_nothing() -> None:
    learned, offset, records = lesson(http_date(NOW + 3 * 86_400_000))
    assert (learned, offset) == (False, 0)
    assert said(records, logging.ERROR, "72 hours", "24 h", "not re-sending")


@pytest.mark.parametrize(
    ("skew_ms", "learned"),
    [(1_999, 0), (2_000, 2_000), (-2_000, -2_000), (86_400_000, 86_400_000)],
)
def test_lesson_edges(skew_ms: int, learned: int) -> None:
    clock = ServerClock(lambda: NOW)
    assert clock.learn(http_date(NOW + skew_ms))
    assert clock.offset_ms == learned
    assert clock.now_ms() == NOW + learned


def test_http_date_is_an_imf_fixdate_in_gmt() -> None:
    assert http_date(1_703_123_456_789) == "Thu, 21 Dec 2023 01:50:56 GMT"
    assert date_header_ms("Thu, 21 Dec 2023 01:50:56 GMT") == 1_703_123_456_000


def test_date_header_length_limit() -> None:
    date = "Thu, 21 Dec 2023 01:50:56 GMT"
    assert date_header_ms(date + " " * (64 - len(date))) == 1_703_123_456_000  # 64: read
    assert date_header_ms(date + " " * (65 - len(date))) is None  # 65: not read


@pytest.fixture
def new_york_time() -> Iterator[None]:
    if not hasattr(time, "tzset"):
        pytest.skip("needs time.tzset")
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.usefixtures("new_york_time")
def test_a_date_without_a_zone_is_utc_whatever_the_local_zone() -> None:
    assert date_header_ms("Thu, 01 Jan 2026 00:00:00 -0000") == 1_767_225_600_000


def test_expired_body_limits() -> None:
    body = b'{"error":{"code":"header_timestamp_expired"}}'
    assert is_timestamp_expired(body + b" " * (MAX_ERROR_BODY_BYTES - len(body)))
    assert not is_timestamp_expired(body + b" " * (MAX_ERROR_BODY_BYTES + 1 - len(body)))
    assert not is_timestamp_expired(b"not json")
    assert not is_timestamp_expired(b'{"error": "header_timestamp_expired"}')
    assert not is_timestamp_expired(b'{"error": {"code": "authentication_error"}}')
    assert not is_timestamp_expired(b"[]")


@pytest.mark.parametrize(
    ("length", "small"),
    [("0", True), ("1", True), ("16384", True), ("00001", True), ("000001", False)],
)
def test_declared_small_edges(length: str, small: bool) -> None:
    assert declared_small(length) is small


# --- the core: signing with the learned offset, warnings --------------------------------------


def core(hosts: tuple[str, ...] = DEFAULT_HOSTS, include_query: bool = False) -> SigningCore:
    key = generate_ed25519_key()
    return SigningCore(
        Credentials(UUID, key, KeySigner(key)),
        scope=HostScope(hosts),
        clock=ServerClock(lambda: NOW),
        include_query=include_query,
    )


def signed_message(c: SigningCore, method: str, target: str) -> tuple[str, bytes]:
    """(timestamp header, the message the signature verifies) of a signed request."""
    signed = c.signed_headers(method, target)
    timestamp = signed["KALSHI-ACCESS-TIMESTAMP"]
    key = c.credentials.key
    assert isinstance(key, Ed25519PrivateKey)
    for candidate in (b"GET/trade-api/v2/x", b"GET/x", b"GET/x?a=1"):
        message = timestamp.encode() + candidate
        try:
            key.public_key().verify(base64.b64decode(signed["KALSHI-ACCESS-SIGNATURE"]), message)
        except InvalidSignature:
            continue
        return timestamp, message
    raise AssertionError("the signature verifies none of the expected messages")


def test_signing_adds_the_learned_offset() -> None:
    c = core()
    c.clock.offset_ms = 61_000
    assert signed_message(c, "get", "/trade-api/v2/x") == (
        str(NOW + 61_000),
        f"{NOW + 61_000}GET/trade-api/v2/x".encode(),
    )


@pytest.mark.parametrize(
    ("target", "include_query", "path"),
    [
        ("/x?a=1", False, "/x"),
        ("/x#frag", False, "/x"),
        ("/x?a=1#frag", True, "/x?a=1"),
        ("/x", True, "/x"),
    ],
)
def test_signing_drops_query_and_fragment(target: str, include_query: bool, path: str) -> None:
    timestamp, message = signed_message(core(include_query=include_query), "GET", target)
    assert message == f"{timestamp}GET{path}".encode()


def test_the_out_of_scope_warning_names_host_scope_and_fix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    c = core(hosts=("kalshi.com",))
    long_host = "h" * 150 + ".example"
    with caplog.at_level(logging.WARNING, logger="kalshi_auth"):
        assert not c.allows("api.example.com")
        assert not c.allows("api.example.com")  # once per host
        assert not c.allows(long_host)
    first, second = [r.getMessage() for r in caplog.records]  # once per host
    for message in (first, second):
        assert "['kalshi.com']" in message  # the scope as it is
        assert "add the host to hosts=" in message  # the fix
    assert "'api.example.com'" in first
    assert repr("h" * 100) in second  # a host name is cut to 100 characters
    assert "h" * 101 not in second
    assert c.allows("kalshi.com")
    assert c.allows("kalshi.com")  # the cached path


def test_warnings_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    c = core()
    with caplog.at_level(logging.WARNING, logger="kalshi_auth"):
        for i in range(1025):
            c.warn_once(f"topic {i}", "100% %s literal")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1024
    assert messages[0] == "100% %s literal"  # logged as given, never %-formatted


def test_a_dotted_quad_with_a_final_dot_never_matches_a_name() -> None:
    # "127.0.0.1." ends with ".0.0.1": only the address check keeps it from this name.
    assert "127.0.0.1." not in HostScope(["0.0.1"])
    assert "a.0.0.1" in HostScope(["0.0.1"])


def test_a_network_with_host_bits_set_is_accepted() -> None:
    scope = HostScope(["10.1.2.3/8"])
    assert "10.200.0.1" in scope
    assert "11.0.0.1" not in scope


def test_the_hosts_type_error_names_the_type() -> None:
    with pytest.raises(ConfigurationError, match=r"^hosts must be a host name .*, not int;"):
        HostScope(5)  # type: ignore[arg-type]


def test_describe_offset_at_and_near_zero() -> None:
    assert describe_offset(0) == "this machine's clock is about 0 s ahead of Kalshi's"
    assert describe_offset(1) == "this machine's clock is about 0 s behind Kalshi's"


def test_hours_off_are_rounded_as_printed() -> None:
    _, _, records = lesson(http_date(NOW + 91_800_000))  # 25.5 hours
    assert "is 26 hours off" in records[0][1]


def test_a_host_named_like_another_warning_topic_does_not_silence_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    c = core()
    with caplog.at_level(logging.WARNING, logger="kalshi_auth"):
        assert not c.allows("httpx-redirects")  # outside the default hosts
        c.warn_once("httpx-redirects", "a redirect was followed without the hooks")
    assert [r.getMessage() for r in caplog.records][1:] == [
        "a redirect was followed without the hooks"
    ]


@pytest.mark.parametrize("method", ["M", "GET", "M-SEARCH", "X" * 64])
def test_any_token_method_is_signed_as_given(method: str) -> None:
    assert checked_method(method) == method  # one letter is a token too


@pytest.mark.parametrize("method", ["", "X" * 65, "GE T", "GET\r\n", 42])
def test_a_method_that_is_not_a_token_is_refused_with_what_a_method_is(method: object) -> None:
    with pytest.raises(ConfigurationError) as refused:
        checked_method(method)
    assert "'GET'" in str(refused.value)
    assert "no spaces or line breaks" in str(refused.value)
