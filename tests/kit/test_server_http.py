"""The test server speaks HTTP/1.1 through h11 (issue #16): keep-alive, pipelining,
chunked bodies, 100-continue, and 400/413/431 for what it will not read; the
request-target reaches the verifier byte for byte as sent."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_auth import KalshiAuth
from kalshi_auth.testing import KalshiTestServer, KalshiVerifier, Verdict

KEY_ID = "5b1c9a2e-3f4d-4e6a-8b7c-9d0e1f2a3b4c"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """A raw socket to the server, and a reader of its answers."""

    def __init__(self, server: KalshiTestServer, auth: KalshiAuth) -> None:
        host, port = server.url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.file: BinaryIO = self.sock.makefile("rb")
        self.auth = auth

    def request(
        self, method: str, target: str, body: bytes = b"", extra: str = "", sign: bool = True
    ) -> bytes:
        """The bytes of a request, signed for `target`'s path."""
        lines = [f"{method} {target} HTTP/1.1", "Host: test"]
        if sign:
            lines += [f"{k}: {v}" for k, v in self.auth.headers(method, target).items()]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        head = "\r\n".join([*lines, *([extra] if extra else []), "", ""])
        return head.encode("latin-1") + body

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self) -> Answer:
        status_line = self.file.readline(65536)
        assert status_line.startswith(b"HTTP/1.1 "), status_line
        headers = {}
        while (line := self.file.readline(65536)) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        return Answer(int(status_line.split()[1]), headers, self.file.read(length))

    def closed(self) -> bool:
        """Whether the server has closed the connection (after all it sent was read)."""
        return self.file.read(1) == b""

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def server(kalshi_rsa_key: rsa.RSAPrivateKey) -> Iterator[KalshiTestServer]:
    with KalshiTestServer({KEY_ID: kalshi_rsa_key}) as s:
        yield s


@pytest.fixture
def client(server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey) -> Iterator[Client]:
    c = Client(server, KalshiAuth(KEY_ID, kalshi_rsa_key))
    yield c
    c.close()


def test_keep_alive_two_requests_on_one_connection(
    server: KalshiTestServer, client: Client
) -> None:
    client.send(client.request("GET", "/trade-api/v2/portfolio/balance"))
    first = client.answer()
    assert (first.status, first.json()["balance"]) == (200, 100_000)
    assert first.headers.get("connection") != "close"
    client.send(client.request("GET", "/trade-api/v2/markets?limit=1"))
    second = client.answer()
    assert (second.status, second.json()["target"]) == (200, "/trade-api/v2/markets?limit=1")
    assert [r.verdict.accepted for r in server.requests] == [True, True]


def test_pipelined_requests_are_answered_in_order(server: KalshiTestServer, client: Client) -> None:
    targets = [f"/trade-api/v2/markets/M{i}" for i in range(5)]
    client.send(b"".join(client.request("GET", t) for t in targets))  # all at once
    answers = [client.answer() for _ in targets]
    assert [a.status for a in answers] == [200] * 5
    assert [a.json()["target"] for a in answers] == targets
    assert [r.target for r in server.requests] == targets


def test_a_chunked_body_is_read_whole(server: KalshiTestServer, client: Client) -> None:
    head = client.request(
        "POST", "/trade-api/v2/portfolio/orders", extra="Transfer-Encoding: chunked"
    )
    chunks = b'5\r\n{"a":\r\n3;ext=1\r\n 1}\r\n0\r\nX-Trailer: t\r\n\r\n'
    client.send(head + chunks)
    answer = client.answer()
    assert (answer.status, answer.json()["body_bytes"]) == (200, 8)
    assert server.requests[-1].body == b'{"a": 1}'
    client.send(client.request("GET", "/trade-api/v2/exchange/status"))  # still open
    assert client.answer().status == 200


def test_expect_100_continue_is_honoured(server: KalshiTestServer, client: Client) -> None:
    body = b'{"count": 1}'
    request = client.request("POST", "/trade-api/v2/o", body=body, extra="Expect: 100-continue")
    client.send(request[: -len(body)])  # the head only, then wait as curl does
    assert client.file.readline() == b"HTTP/1.1 100 Continue\r\n"
    while client.file.readline() != b"\r\n":
        pass
    client.send(body)
    assert client.answer().json()["body_bytes"] == len(body)


def test_the_request_target_reaches_the_verifier_as_sent(
    server: KalshiTestServer, client: Client
) -> None:
    # Nothing resolved, decoded or re-encoded: dot segments, double slashes, %-escapes
    # in either case, an empty query and a fragment all arrive as they were sent.
    targets = [
        "/trade-api/v2/a/../b/./%7e%2F?x=1&y=a%20b+c",
        "/trade-api/v2//double//slashes/?",
        "/trade-api/v2/Mixed%2fCase%C3%A9#frag",
        "http://elsewhere.example/trade-api/v2/absolute-form",
    ]
    for target in targets:
        client.send(client.request("GET", target, sign=False))
        assert client.answer().status == 401
    assert [r.target for r in server.requests] == targets
    signed = "/trade-api/v2/markets/%7E%2fx?limit=5"
    client.send(client.request("GET", signed))
    answer = client.answer()
    assert (answer.status, answer.json()["target"]) == (200, signed)


@pytest.mark.parametrize(
    "data",
    [
        b"NONSENSE\r\n\r\n",
        b"GET /trade-api/v2/x\r\nHost: x\r\n\r\n",  # no HTTP version
        b"GET /trade-api/v2/x HTTP/1.1 extra\r\nHost: x\r\n\r\n",
        b"GET /trade-api/v2/a b HTTP/1.1\r\nHost: x\r\n\r\n",  # a space in the target
        b"GET /trade-api/v2/x\x1b[31m HTTP/1.1\r\nHost: x\r\n\r\n",  # a control character
        b"GET /trade-api/v2/x HTTP/1.1\r\nBroken header\r\n\r\n",
        b"GET /trade-api/v2/x HTTP/1.1\r\n\r\n",  # HTTP/1.1 without Host
        b"POST /o HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    ],
    ids=[
        "nonsense",
        "no-version",
        "extra-part",
        "space",
        "control-char",
        "broken-header",
        "no-host",
        "two-lengths",
    ],
)
def test_malformed_requests_get_400_and_are_not_recorded(
    server: KalshiTestServer, client: Client, data: bytes
) -> None:
    client.send(data)
    answer = client.answer()
    assert (answer.status, answer.headers["connection"], answer.body) == (400, "close", b"{}")
    assert client.closed()
    assert list(server.requests) == []


def test_oversized_headers_get_431(server: KalshiTestServer, client: Client) -> None:
    filler = "".join(f"X-Filler-{i}: {'h' * 1000}\r\n" for i in range(80))  # 80 KiB
    client.send(client.request("GET", "/trade-api/v2/x", extra=filler.rstrip("\r\n")))
    answer = client.answer()
    assert (answer.status, answer.headers["connection"]) == (431, "close")
    assert client.closed()
    assert list(server.requests) == []


def test_a_long_target_within_the_limit_is_served(server: KalshiTestServer, client: Client) -> None:
    target = "/trade-api/v2/markets?cursor=" + "c" * 32_000
    client.send(client.request("GET", target))
    assert client.answer().json()["target"] == target


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_1_mib_gets_413(
    server: KalshiTestServer, client: Client, chunked: bool
) -> None:
    body = b"b" * ((1 << 20) + 1)
    if chunked:
        request = client.request("POST", "/o", extra="Transfer-Encoding: chunked")
        request += b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:65536], body[65536:]))
        request += b"0\r\n\r\n"
    else:
        request = client.request("POST", "/o", body=body)
    client.send(request)
    answer = client.answer()
    assert (answer.status, answer.headers["connection"]) == (413, "close")
    assert client.closed()
    assert list(server.requests) == []


def test_an_upgrade_request_gets_an_ordinary_answer_and_the_connection_goes_on(
    server: KalshiTestServer, client: Client
) -> None:
    # A WebSocket handshake to the REST server: answered as any request (this server
    # does not switch protocols), and the connection stays HTTP.
    upgrade = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13"
    client.send(client.request("GET", "/trade-api/ws/v2", extra=upgrade))
    answer = client.answer()
    assert (answer.status, answer.json()["target"]) == (200, "/trade-api/ws/v2")
    client.send(client.request("GET", "/trade-api/v2/exchange/status", sign=False))
    assert client.answer().status == 401


def test_http_1_0_is_answered_then_closed(server: KalshiTestServer, client: Client) -> None:
    client.send(b"GET /trade-api/v2/x HTTP/1.0\r\n\r\n")
    answer = client.answer()
    assert (answer.status, answer.headers["connection"]) == (401, "close")
    assert client.closed()


def test_head_gets_headers_only(server: KalshiTestServer, client: Client) -> None:
    client.send(client.request("HEAD", "/trade-api/v2/exchange/status"))
    status_line = client.file.readline()
    head = b""
    while (line := client.file.readline()) != b"\r\n":
        head += line
    assert status_line.startswith(b"HTTP/1.1 200")
    assert b"Content-Length: " in head  # what a GET would get, but no body follows
    client.send(client.request("GET", "/trade-api/v2/exchange/status"))
    assert client.answer().json()["exchange_active"] is True


class AcceptsAll(KalshiVerifier):
    def verify(self, method: str, target: str, headers: Mapping[str, str]) -> Verdict:
        return Verdict(True, "accepted for the test")


def test_connect_answered_2xx_ends_the_connection_and_401_does_not(
    kalshi_rsa_key: rsa.RSAPrivateKey,
) -> None:
    # h11 takes a 2xx answer to CONNECT as a switch to a tunnel: the answer goes out
    # whole, then the connection closes. A refused CONNECT leaves it serving HTTP.
    connect = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
    after = b"GET /trade-api/v2/x HTTP/1.1\r\nHost: x\r\n\r\n"
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
    with KalshiTestServer(verifier=AcceptsAll()) as server:
        client = Client(server, auth)
        client.send(connect + after)
        answer = client.answer()
        assert (answer.status, answer.json()["method"]) == (200, "CONNECT")
        assert client.closed()
        client.close()
    with KalshiTestServer() as server:
        client = Client(server, auth)
        client.send(connect + after)
        assert [client.answer().status, client.answer().status] == [401, 401]
        client.close()
    assert [r.method for r in server.requests] == ["CONNECT", "GET"]
