"""Real loopback origins that redirect to each other, recording every hop.

Origin A is addressed as http://127.0.0.1:PORT_A, origin B as
http://localhost:PORT_B: they differ in host and port. Origin S is
https://127.0.0.1:PORT_S, with a certificate made at run time (`Origins.ca`).
``/trade-api/v2/redirect/<status>?to=<url>`` answers <status> with
``Location: <url>``; on any path ``?redirect=<status>&to=<url>`` does the same,
and ``&uri=<url>`` adds a ``URI: <url>`` header (aiohttp follows a ``URI``
when there is no ``Location``); ``/trade-api/v2/expired?date=<value>`` answers
Kalshi's ``401 header_timestamp_expired`` with that ``Date`` header (``none``:
no Date); a request with ``must_sign=1`` in its query answers 401 unless its
signature verifies; anything else answers 200. Every hop that carries
``KALSHI-ACCESS-*`` headers is verified by Kalshi's rules. A target put in
`Origins.drop` is recorded, then its connection is closed without an answer, once.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kalshi_auth.testing import TIMESTAMP_EXPIRED, KalshiVerifier, Verdict


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
    s: str = ""
    ca: str = ""  # the PEM file of origin S's certificate
    # (origin, target) -> (status, Location): answered once, then that target serves 200.
    once: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    # (origin, target): the connection is closed without an answer, once.
    drop: set[tuple[str, str]] = field(default_factory=set)

    def redirect(self, origin: str, status: int, to: str) -> str:
        return f"{origin}/trade-api/v2/redirect/{status}?to={quote(to, safe='')}"

    def expired(self, origin: str, date: str) -> str:
        return f"{origin}/trade-api/v2/expired?date={quote(date, safe='')}"

    def on(self, origin: str) -> list[Hop]:
        return [hop for hop in self.hops if hop.origin == origin]

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca)


def _handler(
    origin: list[str],
    verifier: KalshiVerifier,
    hops: list[Hop],
    once: dict[tuple[str, str], tuple[int, str]],
    drop: set[tuple[str, str]],
) -> type:
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
            query = parse_qs(parts.query)
            armed = once.pop((origin[0], target), None)
            if (origin[0], target) in drop:
                drop.discard((origin[0], target))
                self.close_connection = True
                return
            if armed is not None:
                self._send(armed[0], {}, location=armed[1])
            elif parts.path.startswith("/trade-api/v2/redirect/"):
                status = int(parts.path.rsplit("/", 1)[1])
                self._send(status, {}, location=query["to"][0])
            elif "redirect" in query:  # any path: ?redirect=<status>&to=<url>&uri=<url>
                location, uri = query.get("to", [""])[0], query.get("uri", [""])[0]
                self._send(int(query["redirect"][0]), {}, location=location, uri=uri)
            elif "must_sign" in query and not (verdict is not None and verdict.accepted):
                self._send(401, {"error": "not signed, or the signature does not verify"})
            elif parts.path == "/trade-api/v2/expired":
                date = query.get("date", ["none"])[0]
                self._send(401, TIMESTAMP_EXPIRED, date=date)
            else:
                self._send(200, {"origin": origin[0], "method": method, "body": len(body)})
            self.wfile.flush()

        def _send(
            self,
            status: int,
            payload: dict[str, Any],
            location: str | None = None,
            date: str | None = None,
            uri: str | None = None,
        ) -> None:
            data = json.dumps(payload).encode()
            self.send_response_only(status)
            self.send_header("Server", "redirect-test")
            if date is None:
                self.send_header("Date", self.date_time_string())
            elif date != "none":
                self.send_header("Date", date)
            if location:
                self.send_header("Location", location)
            if uri:
                self.send_header("URI", uri)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _certificate(directory: Path) -> tuple[str, str]:
    """A throwaway certificate for 127.0.0.1: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "origin-s.crt", directory / "origin-s.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


@contextmanager
def two_origins(verifier: KalshiVerifier, tls_dir: Path | None = None) -> Iterator[Origins]:
    """Origins A and B; with `tls_dir` (where its certificate is written), also origin S."""
    hops: list[Hop] = []
    once: dict[tuple[str, str], tuple[int, str]] = {}
    drop: set[tuple[str, str]] = set()
    servers, threads, names = [], [], []
    schemes = [("http", "127.0.0.1"), ("http", "localhost")]
    if tls_dir is not None:
        schemes.append(("https", "127.0.0.1"))
        cert_file, key_file = _certificate(tls_dir)
    for scheme, host_name in schemes:
        origin: list[str] = [""]
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(origin, verifier, hops, once, drop))
        server.request_queue_size = 128
        server.daemon_threads = True
        if scheme == "https":
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_file, key_file)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        origin[0] = f"{scheme}://{host_name}:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
        thread.start()
        servers.append(server)
        threads.append(thread)
        names.append(origin[0])
    try:
        yield Origins(
            names[0],
            names[1],
            hops,
            names[2] if tls_dir else "",
            cert_file if tls_dir else "",
            once,
            drop,
        )
    finally:
        for server, thread in zip(servers, threads, strict=True):
            server.shutdown()
            thread.join()
            server.server_close()
