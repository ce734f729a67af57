"""When the requests adapter reads a 401 to see whether Kalshi rejected the clock: a body
of undeclared length (chunked) only when requests reads it anyway (not ``stream=True``), a
small declared one always. Each test is one a mutant of `kalshi_auth._requests` changed
the answer of (docs/quality.md)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ed25519

from kalshi_auth import KalshiAuth

KEY_ID = "0b6f4a2c-3d5e-4f70-8a9b-c1d2e3f4a5b6"
EXPIRED = json.dumps({"error": {"code": "header_timestamp_expired"}}).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        if len(self.seen) > 1:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            return
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


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    """A loopback server: its first request answered 401 header_timestamp_expired (chunked
    when the path says so), later ones 200; and the paths it was asked for."""
    seen: list[str] = []
    handler = type("Handler", (_Handler,), {"seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


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
    server: tuple[str, list[str]],
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
    assert seen == [path] * (2 if resent else 1)
