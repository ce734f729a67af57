"""Two real loopback origins that redirect to each other, recording every hop.

Origin A is addressed as 127.0.0.1:PORT_A, origin B as localhost:PORT_B: they
differ in host and port. ``/trade-api/v2/redirect/<status>?to=<url>`` answers
<status> with ``Location: <url>``; anything else answers 200. Every hop that
carries ``KALSHI-ACCESS-*`` headers is verified by Kalshi's rules.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from kalshi_auth.testing import KalshiVerifier, Verdict


@dataclass(frozen=True)
class Hop:
    origin: str
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    verdict: Verdict | None

    @property
    def kalshi_headers(self) -> list[str]:
        return [name for name in self.headers if name.lower().startswith("kalshi-")]


@dataclass
class Origins:
    a: str
    b: str
    hops: list[Hop]

    def redirect(self, origin: str, status: int, to: str) -> str:
        return f"{origin}/trade-api/v2/redirect/{status}?to={quote(to, safe='')}"


def _handler(origin: list[str], verifier: KalshiVerifier, hops: list[Hop]) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def handle_one_request(self) -> None:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline or not self.parse_request():
                self.close_connection = True
                return
            method, target = self.raw_requestline.decode("latin-1").split(" ")[:2]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = dict(self.headers.items())
            signed = any(name.lower().startswith("kalshi-") for name in headers)
            verdict = verifier.verify(method, target, headers) if signed else None
            hops.append(Hop(origin[0], method, target, headers, body, verdict))
            parts = urlsplit(target)
            if parts.path.startswith("/trade-api/v2/redirect/"):
                status = int(parts.path.rsplit("/", 1)[1])
                self._send(status, {}, location=parse_qs(parts.query)["to"][0])
            else:
                self._send(200, {"origin": origin[0], "method": method, "body": len(body)})
            self.wfile.flush()

        def _send(self, status: int, payload: dict[str, Any], location: str | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def two_origins(verifier: KalshiVerifier) -> Iterator[Origins]:
    hops: list[Hop] = []
    servers, threads, names = [], [], []
    for host_name in ("127.0.0.1", "localhost"):
        origin: list[str] = [""]
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(origin, verifier, hops))
        server.request_queue_size = 128
        server.daemon_threads = True
        origin[0] = f"http://{host_name}:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        servers.append(server)
        threads.append(thread)
        names.append(origin[0])
    try:
        yield Origins(names[0], names[1], hops)
    finally:
        for server, thread in zip(servers, threads, strict=True):
            server.shutdown()
            thread.join()
            server.server_close()
