"""The requests adapter's edges: when it reads a 401 to see whether Kalshi rejected the
clock (a body of undeclared length only when requests reads it anyway, not with
``stream=True``; a small declared one always); that a re-send keeps the caller's send
options and follows a redirect like the first try; that the caller's own response hooks
survive; what it says when aiohttp is handed it as a middleware. Each test is one a
mutant of `kalshi_auth._requests` changed the answer of (docs/quality.md)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler

import aiohttp
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ed25519

from kalshi_auth import ConfigurationError, KalshiAuth
from kalshi_auth.testing import KalshiVerifier
from tests.helpers.loopback import serving

KEY_ID = "0b6f4a2c-3d5e-4f70-8a9b-c1d2e3f4a5b6"
EXPIRED = json.dumps({"error": {"code": "header_timestamp_expired"}}).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, dict[str, str]]]
    release: threading.Event

    def do_GET(self) -> None:
        self.seen.append((self.path, dict(self.headers.items())))
        if len(self.seen) == 1:
            self._expired()
        elif "slow" in self.path:
            self.release.wait(10)  # the client gave up long before: its timeout was kept
            self._answer(200, b"late")
        elif self.path.endswith("/moved"):
            self.send_response(302)
            self.send_header("Location", "/trade-api/v2/landed")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._answer(200, b"ok")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _expired(self) -> None:
        self.send_response(401)
        self.send_header("Date", formatdate(usegmt=True))
        if "chunked" in self.path:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(EXPIRED), EXPIRED))
        else:
            self.send_header("Content-Length", str(len(EXPIRED)))
            self.end_headers()
            self.wfile.write(EXPIRED)

    def log_message(self, *args: object) -> None:
        pass


Server = tuple[str, list[tuple[str, dict[str, str]]]]


@pytest.fixture
def server() -> Iterator[Server]:
    """A loopback server: its first request answered 401 header_timestamp_expired (chunked
    when the path says so); then ``/moved`` redirects to ``/landed``, a ``slow`` path waits,
    others get 200; and the paths and headers it was sent."""
    seen: list[tuple[str, dict[str, str]]] = []
    release = threading.Event()
    handler = type("Handler", (_Handler,), {"seen": seen, "release": release})
    with serving(handler) as url:
        try:
            yield url, seen
        finally:
            release.set()  # a slow answer still held ends before the server does


@pytest.mark.parametrize(
    ("path", "stream", "resent"),
    [
        ("/trade-api/v2/chunked", False, True),  # requests reads it anyway
        ("/trade-api/v2/chunked", True, False),  # streamed: the caller's to read
        ("/trade-api/v2/declared", True, True),  # a small declared body is read
        ("/trade-api/v2/declared", False, True),
    ],
)
def test_a_clock_rejection_is_read_and_resent_unless_streamed_of_unknown_length(
    server: Server,
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
    path: str,
    stream: bool,
    resent: bool,
) -> None:
    base, seen = server
    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)  # loopback is in the default hosts
    with requests.Session() as session:
        response = session.get(base + path, auth=auth, stream=stream)
        response.close()
    assert response.status_code == (200 if resent else 401)
    assert [target for target, _ in seen] == [path] * (2 if resent else 1)
    # the response's request is the one sent last: re-signed for the re-send
    sent_last = seen[-1][1]
    assert (
        response.request.headers["KALSHI-ACCESS-SIGNATURE"]
        == (sent_last["KALSHI-ACCESS-SIGNATURE"])
    )


def test_a_resend_keeps_the_callers_timeout(
    server: Server, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    base, seen = server
    with requests.Session() as session, pytest.raises(requests.exceptions.ReadTimeout):
        session.get(
            base + "/trade-api/v2/slow", auth=KalshiAuth(KEY_ID, kalshi_ed25519_key), timeout=0.5
        )
    assert len(seen) == 2  # re-sent, and the re-send given up after the caller's timeout


def test_a_resend_answered_by_a_redirect_signs_the_hop(
    server: Server, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    base, seen = server
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, kalshi_ed25519_key)
    with requests.Session() as session:
        response = session.get(
            base + "/trade-api/v2/moved", auth=KalshiAuth(KEY_ID, kalshi_ed25519_key)
        )
    assert response.status_code == 200
    paths = ["/trade-api/v2/moved", "/trade-api/v2/moved", "/trade-api/v2/landed"]
    assert [target for target, _ in seen] == paths
    # the hop after the re-send is signed for its own path, as after any redirect
    assert verifier.verify("GET", "/trade-api/v2/landed", seen[2][1]).accepted


def test_the_callers_response_hooks_still_run_and_one_chain_hook_is_kept(
    server: Server, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    base, seen = server
    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)
    called: list[int] = []

    def raise_for_status(r: requests.Response, **_: object) -> None:
        called.append(r.status_code)
        r.raise_for_status()  # a common hook: it must see the answer after the re-send

    with requests.Session() as session:
        session.hooks["response"].append(raise_for_status)
        request = session.prepare_request(requests.Request("GET", base + "/trade-api/v2/x"))
        request.prepare_auth(auth)  # prepared a second time: still one hook of ours
        hooks = request.hooks["response"]
        assert len(hooks) == 2
        response = session.send(request)
    assert response.status_code == 200  # the clock rejection was re-sent by our hook
    assert called == [200]  # the caller's hook saw the answer it got
    assert len(seen) == 2


@pytest.mark.anyio
async def test_kalshi_auth_handed_to_aiohttp_as_a_middleware_says_what_to_use(
    server: Server, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    base, seen = server
    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)
    async with aiohttp.ClientSession(middlewares=(auth,)) as session:  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError) as refused:
            await session.get(base + "/trade-api/v2/x")
    assert str(refused.value) == (
        "KalshiAuth is requests' and httpx's auth, not an aiohttp middleware (a "
        "KalshiAuthMiddleware): create the session with "
        "aiohttp.ClientSession(**session_options(auth)), after "
        "from kalshi_auth.aiohttp import session_options"
    )
    assert seen == []
