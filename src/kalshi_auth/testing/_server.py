"""A real HTTP server on loopback that verifies every request as Kalshi's server does."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from ._endpoint import KalshiEndpoint
from ._verifier import KalshiVerifier

__all__ = ["KalshiTestServer"]


class KalshiTestServer(KalshiEndpoint):
    """A threaded HTTP server on 127.0.0.1 that checks signatures by Kalshi's rules.

    Use it as a context manager. It reads the method and request-target from
    the raw request line (nothing decoded or normalized), verifies the
    ``KALSHI-ACCESS-*`` headers with the registered public keys, answers 401
    with Kalshi's JSON bodies, and records every request in `requests`.
    Accepted requests get JSON: a balance at ``/trade-api/v2/portfolio/balance``,
    the exchange status at ``/trade-api/v2/exchange/status``, and an echo of the
    request anywhere else. Set `clock_offset_ms` to shift its clock; its
    ``Date`` header follows the shifted clock.
    """

    def __init__(
        self,
        keys: Mapping[str, object] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        verifier: KalshiVerifier | None = None,
    ) -> None:
        super().__init__(keys, verifier=verifier)
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's origin, e.g. ``http://127.0.0.1:54321``."""
        host, port = self._httpd.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """The origin plus Kalshi's REST prefix, ``/trade-api/v2``."""
        return self.url + "/trade-api/v2"

    def start(self) -> KalshiTestServer:
        """Serve in a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, name="kalshi-test-server", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> KalshiTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _handler_for(server: KalshiTestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "kalshi-auth-test-server"

        def handle_one_request(self) -> None:
            # Dispatch every method to one place instead of do_GET, do_POST, ...
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            # self.path may be rewritten by http.server (e.g. a leading '//'); the raw
            # request line is what the client signed against.
            method, target = self.raw_requestline.decode("latin-1").split(" ")[:2]
            status, payload = server.handle(
                method, target, dict(self.headers.items()), self._read_body()
            )
            self._send_json(status, payload)
            self.wfile.flush()

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send_json(self, status: int, payload: Mapping[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def date_time_string(self, timestamp: float | None = None) -> str:
            # The Date header follows the (possibly shifted) server clock: clients
            # measure their skew from it.
            if timestamp is None:
                timestamp = server.verifier.now_ms() / 1000
            return formatdate(timestamp, usegmt=True)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # requests are recorded in server.requests instead

    return Handler
