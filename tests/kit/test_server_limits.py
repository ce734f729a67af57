"""The test server's bounds (issue #14): what it keeps of each request, how long a
connection may sit idle or half sent, and `kalshi-auth serve` keeping nothing per request."""

from __future__ import annotations

import _thread
import io
import signal
import socket
import threading
import time
from collections.abc import Callable

import pytest
import requests

from kalshi_auth import _serve
from kalshi_auth._serve import run_serve
from kalshi_auth.testing import KalshiTestServer, RecordedRequest
from kalshi_auth.testing._server import KEEP_BODY_BYTES, KEEP_HEADER_BYTES

MIB = 1 << 20
BIG_HEADERS = {f"X-Filler-{i}": "h" * 2000 for i in range(16)}  # 32 KiB of headers


def kept_bytes(record: RecordedRequest) -> int:
    return len(record.body) + sum(len(k) + len(v) for k, v in record.headers.items())


def post_big_requests(server: KalshiTestServer, count: int) -> None:
    with requests.Session() as session:
        for i in range(count):
            answer = session.post(
                f"{server.base_url}/big/{i}", data=b"b" * MIB, headers=BIG_HEADERS, timeout=30
            )
            assert answer.status_code == 401  # unsigned; the body was read all the same


def test_each_record_is_cut_to_size() -> None:
    # 40 requests of 1 MiB bodies and 32 KiB headers once took the server from 42 to 301 MiB.
    with KalshiTestServer() as server:
        post_big_requests(server, 40)
    log = server.requests
    assert len(log) == log.total == 40
    assert [r.target for r in log] == [f"/trade-api/v2/big/{i}" for i in range(40)]
    assert all(len(r.body) == KEEP_BODY_BYTES for r in log)
    assert all(kept_bytes(r) <= KEEP_BODY_BYTES + KEEP_HEADER_BYTES for r in log)
    assert sum(kept_bytes(r) for r in log) <= 40 * (KEEP_BODY_BYTES + KEEP_HEADER_BYTES)
    assert log.trimmed_bytes >= 40 * (MIB - KEEP_BODY_BYTES)
    # The headers that fit are kept whole, the verdict is untouched.
    assert all(r.headers["X-Filler-0"] == "h" * 2000 for r in log)
    assert all(r.verdict.status == 401 for r in log)


def test_the_log_keeps_the_most_recent_requests() -> None:
    with KalshiTestServer(max_recorded=10) as server:
        post_big_requests(server, 40)
    log = server.requests
    assert [r.target for r in log] == [f"/trade-api/v2/big/{i}" for i in range(30, 40)]
    assert (log.total, log.dropped) == (40, 30)


def test_max_recorded_zero_keeps_nothing_but_still_reports_each_request() -> None:
    seen: list[str] = []
    with KalshiTestServer(max_recorded=0, on_request=lambda r: seen.append(r.target)) as server:
        post_big_requests(server, 3)
    assert list(server.requests) == []
    assert (server.requests.total, server.requests.dropped) == (3, 3)
    assert seen == [f"/trade-api/v2/big/{i}" for i in range(3)]


def test_small_requests_are_kept_as_they_came() -> None:
    with KalshiTestServer() as server:
        requests.post(server.base_url + "/o", json={"a": 1}, headers={"X-Bot": "b"}, timeout=10)
    (record,) = server.requests
    assert record.body == b'{"a": 1}'
    assert record.headers["X-Bot"] == "b"
    assert server.requests.trimmed_bytes == 0


def closed_by_server(server: KalshiTestServer, data: bytes) -> bytes:
    """Send `data` and read until the server closes; what it sent before closing."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):  # raises TimeoutError if the server never closes
            received += chunk
    return received


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GET /trade-api/v2/por",
        b"GET /trade-api/v2/portfolio/balance HTTP/1.1\r\nHost: x\r\nX-Half: ",
        b'POST /trade-api/v2/o HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"half":',
    ],
    ids=["silent", "half-request-line", "half-headers", "half-body"],
)
def test_idle_and_half_sent_connections_are_closed(data: bytes) -> None:
    with KalshiTestServer(idle_timeout_s=0.2) as server:
        assert closed_by_server(server, data) == b""  # closed, nothing answered
        assert list(server.requests) == []


def test_a_keep_alive_connection_is_closed_once_idle() -> None:
    with KalshiTestServer(idle_timeout_s=0.2) as server:
        answer = closed_by_server(server, b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 401 ")  # the request was answered, then the wait ran out
    assert [r.target for r in server.requests] == ["/x"]


# --- kalshi-auth serve, in this process ------------------------------------------------------


class Out(io.StringIO):
    """Standard output, read by the test while `run_serve` writes it."""

    def lines(self) -> list[str]:
        return self.getvalue().splitlines()

    def wait_for(self, done: Callable[[str], bool], timeout_s: float = 10) -> bool:
        deadline = time.monotonic() + timeout_s
        while not done(self.getvalue()):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True


def serve_here(
    monkeypatch: pytest.MonkeyPatch, requests_to_send: int, stop_signal: signal.Signals
) -> tuple[KalshiTestServer, list[str], bool]:
    """Run `run_serve` in this (the main) thread while another thread sends big requests,
    then signals it; return the server, what it printed, and whether the signal stopped it."""
    made: list[KalshiTestServer] = []

    class Watched(KalshiTestServer):
        def start(self) -> KalshiTestServer:
            made.append(self)
            return super().start()

    monkeypatch.setattr(_serve, "KalshiTestServer", Watched)
    out = Out()
    stopped_by_signal: list[bool] = []

    def client() -> None:
        assert out.wait_for(lambda text: "Ctrl-C stops" in text)
        base_url = out.lines()[0]
        with requests.Session() as session:
            for i in range(requests_to_send):
                session.post(f"{base_url}/big/{i}", data=b"b" * MIB, timeout=30)
        out.wait_for(lambda text: text.count("/big/") >= requests_to_send)
        _thread.interrupt_main(stop_signal)  # as `kill` would; a no-op without a handler
        stopped_by_signal.append(out.wait_for(lambda text: "stopped" in text))
        if not stopped_by_signal[0]:
            _thread.interrupt_main()  # Ctrl-C, so that the test ends

    sender = threading.Thread(target=client)
    sender.start()
    try:
        assert run_serve("127.0.0.1", 0, [], out) == 0
    finally:
        sender.join()
    (server,) = made
    return server, out.lines(), stopped_by_signal == [True]


def test_serve_keeps_nothing_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    server, printed, _ = serve_here(monkeypatch, 40, signal.SIGINT)
    assert list(server.requests) == []
    assert server.requests.total == 40
    assert printed[-1] == "stopped"
    assert [line for line in printed if "/big/" in line] == [
        f"POST /trade-api/v2/big/{i} -> 401 REJECTED: no KALSHI-ACCESS-SIGNATURE header"
        for i in range(40)
    ]


def test_sigterm_stops_serve_and_restores_the_previous_handler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    _, printed, stopped = serve_here(monkeypatch, 1, signal.SIGTERM)
    assert stopped, "SIGTERM did not stop kalshi-auth serve"
    assert printed[-1] == "stopped"
    assert signal.getsignal(signal.SIGTERM) is before
