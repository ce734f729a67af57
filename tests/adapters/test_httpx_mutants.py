"""The httpx adapter's edges, each one a mutant of `kalshi_auth._httpx` changed the answer
of (docs/quality.md): httpx reads a response's body unless it streams, so the adapter reads
a 401 of undeclared length (chunked) to see whether Kalshi rejected the clock and re-sends
once, but leaves a streamed 401 with a big declared body to the caller; a redirect followed
without the event hooks is warned of once; ``response.next_request`` sent on its own is
signed for its own origin; `request_target` refuses what httpx cannot send, saying why,
and its fast path answers typical Kalshi URLs exactly as httpx would."""

from __future__ import annotations

import asyncio
import json
import operator
from collections.abc import Callable, Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kalshi_auth import ConfigurationError, KalshiAuth
from kalshi_auth._httpx import _plain_target, _write, request_target
from kalshi_auth._scope import origin_of
from kalshi_auth.testing import KalshiVerifier
from tests.helpers.loopback import serving
from tests.helpers.redirect_servers import Origins, two_origins

KEY_ID = "0b6f4a2c-3d5e-4f70-8a9b-c1d2e3f4a5b6"
URL = "https://external-api.kalshi.com/trade-api/v2/portfolio/balance"
EXPIRED = json.dumps({"error": {"code": "header_timestamp_expired"}}).encode()


def test_a_chunked_clock_rejection_is_read_and_resent_once(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    seen: list[str] = []

    def chunks() -> Iterator[bytes]:
        yield EXPIRED

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["KALSHI-ACCESS-SIGNATURE"])
        if len(seen) > 1:
            return httpx.Response(200, text="ok")
        return httpx.Response(401, headers={"Date": formatdate(usegmt=True)}, content=chunks())

    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)
    with httpx.Client(transport=httpx.MockTransport(handle), auth=auth) as client:
        response = client.get(URL)
    assert response.status_code == 200
    assert len(seen) == 2


REDIRECT_WARNING = (
    "httpx followed a redirect without KalshiAuth's event hooks: the hop carried the first "
    "request's KALSHI-ACCESS-* headers, whatever its origin. Create the client with "
    "event_hooks=auth.httpx_event_hooks() (httpx_async_event_hooks() for AsyncClient), or "
    "leave follow_redirects off"
)


def redirecting(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/next"):
        return httpx.Response(200, text="ok")
    return httpx.Response(302, headers={"Location": str(request.url.copy_with(path="/next"))})


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("kalshi_auth")]


def test_a_redirect_followed_without_the_event_hooks_is_warned_of_once(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)
    transport = httpx.MockTransport(redirecting)
    with httpx.Client(transport=transport, auth=auth, follow_redirects=True) as client:
        assert client.get(URL).status_code == 200
        assert client.get(URL).status_code == 200
    assert warnings_of(caplog) == [REDIRECT_WARNING]


def test_no_warning_with_the_event_hooks_or_outside_the_hosts(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)
    transport = httpx.MockTransport(redirecting)
    hooks = auth.httpx_event_hooks()
    with httpx.Client(
        transport=transport, auth=auth, follow_redirects=True, event_hooks=hooks
    ) as client:
        assert client.get(URL).status_code == 200
    assert warnings_of(caplog) == []
    with httpx.Client(transport=transport, auth=auth, follow_redirects=True) as client:
        assert client.get("https://example.com/start").status_code == 200
    assert all("redirect" not in message for message in warnings_of(caplog))


def test_a_request_sent_again_through_a_client_without_the_hooks_is_warned_of(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    # The same Request object, first through a client with the hooks, then through one
    # without them: its second chain has not seen hooks, so the redirect is warned of.
    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)
    transport = httpx.MockTransport(redirecting)
    request = httpx.Request("GET", URL)
    hooks = auth.httpx_event_hooks()
    with httpx.Client(
        transport=transport, auth=auth, follow_redirects=True, event_hooks=hooks
    ) as client:
        assert client.send(request).status_code == 200
    assert warnings_of(caplog) == []
    with httpx.Client(transport=transport, auth=auth, follow_redirects=True) as client:
        assert client.send(request).status_code == 200
    assert warnings_of(caplog) == [REDIRECT_WARNING]


# --- A 401 the adapter does not read: a streamed one whose declared body is too big for
# an error. The caller gets it unread, as httpx hands out any streamed response.

BIG = json.dumps({"error": {"code": "header_timestamp_expired"}, "pad": "x" * 20_000}).encode()


class _RejectingHandler(BaseHTTPRequestHandler):
    """``/big`` answers 401 with a body of 20 kB; ``/small`` answers Kalshi's clock
    rejection the first time, then 200. Records each request's target."""

    protocol_version = "HTTP/1.1"
    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        if self.path.endswith("/big"):
            self._answer(401, BIG)
        elif self.seen.count(self.path) == 1:
            self._answer(401, EXPIRED)
        else:
            self._answer(200, b"ok")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def rejecting() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Handler", (_RejectingHandler,), {"seen": seen})
    with serving(handler) as url:
        yield url + "/trade-api/v2", seen


def stream_sync(auth: KalshiAuth, url: str) -> tuple[int, bool, bytes]:
    """(status, whether the body was already read when the caller got it, the body)."""
    with httpx.Client(auth=auth) as client, client.stream("GET", url) as response:
        try:
            response.content  # noqa: B018 - raises when the body was never read
            already_read = True
        except httpx.ResponseNotRead:
            already_read = False
        return response.status_code, already_read, response.read()


def stream_async(auth: KalshiAuth, url: str) -> tuple[int, bool, bytes]:
    async def go() -> tuple[int, bool, bytes]:
        async with httpx.AsyncClient(auth=auth) as client, client.stream("GET", url) as response:
            try:
                response.content  # noqa: B018 - raises when the body was never read
                already_read = True
            except httpx.ResponseNotRead:
                already_read = False
            return response.status_code, already_read, await response.aread()

    return asyncio.run(go())


@pytest.mark.parametrize("stream", [stream_sync, stream_async], ids=["Client", "AsyncClient"])
def test_a_streamed_401_with_a_big_declared_body_is_left_unread(
    rejecting: tuple[str, list[str]],
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
    stream: Callable[[KalshiAuth, str], tuple[int, bool, bytes]],
) -> None:
    base, seen = rejecting
    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)
    assert stream(auth, base + "/big") == (401, False, BIG)
    assert seen == ["/trade-api/v2/big"]
    # A small declared one is read, and a clock rejection re-sent.
    assert stream(auth, base + "/small") == (200, False, b"ok")
    assert seen[1:] == ["/trade-api/v2/small"] * 2


# --- Manual redirects, and a client whose own hook replaces the extensions.


@pytest.fixture
def origins(kalshi_ed25519_key: ed25519.Ed25519PrivateKey) -> Iterator[Origins]:
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, kalshi_ed25519_key)
    with two_origins(verifier) as o:
        yield o


def test_a_next_request_sent_to_another_signed_origin_is_signed_for_it(
    origins: Origins, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    # response.next_request carries the first request's extensions; sent on its own, it
    # is a request the user made, signed for its own origin, not a hop leaving the first.
    o = origins
    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)  # 127.0.0.1 and localhost: both signed
    landed = o.b + "/trade-api/v2/landed"
    with httpx.Client(auth=auth, event_hooks=auth.httpx_event_hooks()) as client:
        first = client.get(o.redirect(o.a, 302, landed))
        assert first.status_code == 302
        assert first.next_request is not None
        assert client.send(first.next_request).status_code == 200
    [hop] = o.on(o.b)
    assert hop.target == "/trade-api/v2/landed"
    assert hop.verdict is not None
    assert hop.verdict.accepted


def test_a_redirect_is_followed_when_the_callers_hook_replaces_the_extensions(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    def fresh_extensions(request: httpx.Request) -> None:
        request.extensions = {}

    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)
    with httpx.Client(
        transport=httpx.MockTransport(redirecting),
        auth=auth,
        follow_redirects=True,
        event_hooks={"request": [fresh_extensions]},
    ) as client:
        response = client.get(URL)
    assert response.status_code == 200
    assert [hop.status_code for hop in response.history] == [302]


def test_an_unsigned_request_reports_it_and_loses_stale_headers() -> None:
    request = httpx.Request("GET", "https://example.com/x", headers={"KALSHI-ACCESS-KEY": "old"})
    assert _write(request, None) is False
    assert "KALSHI-ACCESS-KEY" not in request.headers
    assert "kalshi_auth" not in request.extensions


# --- request_target: its errors, and the fast path that skips httpx's parser.


def test_a_url_that_is_not_a_str_is_refused_naming_its_type() -> None:
    with pytest.raises(ConfigurationError) as refused:
        request_target(b"/trade-api/v2/x")  # type: ignore[arg-type]
    assert str(refused.value) == (
        "the URL must be a str, not bytes: an absolute URL (https://host/path) or a path "
        "starting with '/'"
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://[/trade-api/v2/x",  # a bracket that opens no address
        "wss://[/trade-api/ws/v2",
        "https://api.elections.kalshi.com:65536/trade-api/v2/x",  # no such port
        "api.elections.kalshi.com/trade-api/v2/x",  # no scheme
        "",
    ],
)
def test_a_url_httpx_cannot_send_is_refused_with_its_length(url: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        request_target(url)
    assert str(refused.value) == (
        f"the URL ({len(url)} characters) is neither an absolute URL (https://host/path) nor "
        "a path starting with '/' that httpx can send"
    )
    assert _plain_target(url) is None


# Typical Kalshi URLs: the fast path answers them, without httpx's parser.
TYPICAL = {
    "/trade-api/v2/portfolio/balance": "/trade-api/v2/portfolio/balance",
    "https://api.elections.kalshi.com/trade-api/v2/markets?limit=100&status=open": (
        "/trade-api/v2/markets?limit=100&status=open"
    ),
    "https://demo-api.kalshi.co": "/",
    "https://external-api.kalshi.com/trade-api/v2/x?next=https://b.example/c": (
        "/trade-api/v2/x?next=https://b.example/c"
    ),
    "http://127.0.0.1:65535/trade-api/v2/portfolio/orders": "/trade-api/v2/portfolio/orders",
    "wss://api.elections.kalshi.com/trade-api/ws/v2": "/trade-api/ws/v2",
    "ws://localhost:8080/trade-api/ws/v2": "/trade-api/ws/v2",
}


def httpx_sends(url: str) -> str | None:
    """What httpx sends for `url` (a path as if on some host); None if it is not sendable:
    httpx refuses it, or it has no host (a bad port or bracket)."""
    absolute = "https://h.example" + url if url.startswith("/") else url
    if "://" not in absolute or not origin_of(absolute).host:
        return None
    try:
        return httpx.URL(absolute).raw_path.decode("ascii")
    except (httpx.InvalidURL, UnicodeError, ValueError, TypeError):
        return None


@pytest.mark.parametrize(("url", "target"), TYPICAL.items())
def test_typical_urls_take_the_fast_path(url: str, target: str) -> None:
    assert _plain_target(url) == target
    assert request_target(url) == target
    assert httpx_sends(url) == target


URL_TAILS = st.text(alphabet=list("az09-._~/?=&,:%@[]# \\AZ\u00e9"), max_size=24)
URLS = st.builds(
    operator.add,
    st.sampled_from(["/", "//", "https://", "http://", "wss://", "ws://", "https://h", "ftp://"]),
    URL_TAILS,
)


@settings(max_examples=400, deadline=None)
@given(URLS)
@example("https://[/x")
@example("https://h.example/a/../b")
@example("https://h.example//b")
@example("https://h.example:65536/b")
def test_the_fast_path_answers_only_what_httpx_sends(url: str) -> None:
    plain = _plain_target(url)
    assert plain is None or plain == httpx_sends(url)
    expected = httpx_sends(url)
    if expected is None:
        with pytest.raises(ConfigurationError):
            request_target(url)
    else:
        assert request_target(url) == expected
