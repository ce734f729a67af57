"""A real HTTP server on loopback that verifies every request as Kalshi's server does.

One asyncio event loop in a background thread serves every connection. A
thread per connection (http.server) lets a busy test process starve a
connection for seconds under the GIL, long enough for a signed timestamp to
expire; an event loop answers in arrival order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Callable, Mapping
from http import HTTPStatus
from types import TracebackType

from ._endpoint import API_PREFIX, KalshiEndpoint, RecordedRequest
from ._verifier import KalshiVerifier

__all__ = ["KalshiTestServer", "RequestLog"]

_MAX_LINE = 65536
_MAX_HEADERS = 100
_MAX_BODY_BYTES = 1 << 20
# What a record keeps: the rest is counted in RequestLog.trimmed_bytes, not kept.
KEEP_BODY_BYTES = 8 << 10
KEEP_HEADER_BYTES = 8 << 10
# All records together, counting each at its kept bytes plus a rough size of its objects.
_KEEP_TOTAL_BYTES = 16 << 20
_RECORD_OVERHEAD = 512


class RequestLog(list[RecordedRequest]):
    """The requests a `KalshiTestServer` keeps, oldest first: the most recent, each cut to size.

    It holds at most `capacity` records and about 16 MiB in all, letting the oldest
    go. A record keeps the first 8 KiB of its body and at most 8 KiB of headers
    (names and values; a header that would pass that is left out). `total` counts
    every request received, `dropped` the records let go, and `trimmed_bytes` the
    body and header bytes not kept. The server appends; read it like a list.
    """

    def __init__(
        self, capacity: int, on_record: Callable[[RecordedRequest], None] | None = None
    ) -> None:
        super().__init__()
        self.capacity = capacity
        self.total = 0
        self.dropped = 0
        self.trimmed_bytes = 0
        self._on_record = on_record
        self._kept_bytes = 0

    def append(self, record: RecordedRequest, /) -> None:
        """Keep `record`, cut to size, and let the oldest go past the limits."""
        record = self._cut(record)
        self.total += 1
        if self._on_record is not None:
            self._on_record(record)
        if self.capacity <= 0:
            self.dropped += 1
            return
        super().append(record)
        self._kept_bytes += _weight(record)
        gone = 0
        while len(self) - gone > self.capacity or (
            self._kept_bytes > _KEEP_TOTAL_BYTES and len(self) - gone > 1
        ):
            self._kept_bytes -= _weight(self[gone])
            gone += 1
        if gone:
            del self[:gone]
            self.dropped += gone

    def clear(self) -> None:
        """Forget the records kept (the counts stay)."""
        super().clear()
        self._kept_bytes = 0

    def _cut(self, record: RecordedRequest) -> RecordedRequest:
        body, headers = record.body, record.headers
        size = sum(len(name) + len(value) for name, value in headers.items())
        if len(body) <= KEEP_BODY_BYTES and size <= KEEP_HEADER_BYTES:
            return record
        kept: dict[str, str] = {}
        room = KEEP_HEADER_BYTES
        for name, value in headers.items():
            if len(name) + len(value) <= room:
                kept[name] = value
                room -= len(name) + len(value)
        cut_body = body[:KEEP_BODY_BYTES]
        self.trimmed_bytes += len(body) - len(cut_body) + size - (KEEP_HEADER_BYTES - room)
        return dataclasses.replace(record, headers=kept, body=cut_body)


def _weight(record: RecordedRequest) -> int:
    headers = sum(len(name) + len(value) for name, value in record.headers.items())
    return _RECORD_OVERHEAD + len(record.target) + headers + len(record.body)


class _BadRequestError(Exception):
    """The client sent something that is not HTTP/1.1; answered 400, connection closed."""


class KalshiTestServer(KalshiEndpoint):
    """An HTTP/1.1 server on 127.0.0.1 that checks signatures by Kalshi's rules.

    Use it as a context manager. It reads the method and request-target from
    the raw request line (nothing decoded or normalized), verifies the
    ``KALSHI-ACCESS-*`` headers with the registered public keys, answers 401
    with Kalshi's JSON bodies, and records every request in `requests`.
    Accepted requests get JSON: a balance at ``/trade-api/v2/portfolio/balance``,
    the exchange status at ``/trade-api/v2/exchange/status``, and an echo of the
    request anywhere else. Set `clock_offset_ms` to shift its clock; its
    ``Date`` header follows the shifted clock.

    What it keeps is bounded: `requests` is a `RequestLog` of the last
    `max_recorded` requests (0: none), each cut to size; `on_request`, if given,
    is called on the server's thread with each record as it arrives. A
    connection that has not sent a whole request `idle_timeout_s` seconds after
    the server began waiting for it (idle, or a request half sent), or does not
    read its answer in that time, is closed.
    """

    requests: RequestLog

    def __init__(
        self,
        keys: Mapping[str, object] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        verifier: KalshiVerifier | None = None,
        max_recorded: int = 10_000,
        on_request: Callable[[RecordedRequest], None] | None = None,
        idle_timeout_s: float = 60.0,
    ) -> None:
        super().__init__(keys, verifier=verifier)
        self.requests = RequestLog(max_recorded, on_request)
        self._idle_timeout_s = idle_timeout_s
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._address: tuple[str, int] | None = None

    @property
    def url(self) -> str:
        """The server's origin, e.g. ``http://127.0.0.1:54321``."""
        if self._address is None:
            raise RuntimeError("the server is not running: use it as a context manager")
        host, port = self._address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    @property
    def base_url(self) -> str:
        """The origin plus Kalshi's REST prefix, ``/trade-api/v2``."""
        return self.url + API_PREFIX

    def start(self) -> KalshiTestServer:
        """Serve in a background thread; return once the port is bound."""
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="kalshi-test-server", daemon=True
        )
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(
                self._serve_connection, self._host, self._port, backlog=1024, limit=_MAX_LINE
            ),
            loop,
        ).result()
        self._address = self._server.sockets[0].getsockname()[:2]
        return self

    def stop(self) -> None:
        """Close every connection, stop serving and join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        self._loop = self._thread = self._server = None

    def __enter__(self) -> KalshiTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        loop = asyncio.get_running_loop()
        try:
            while True:
                # Each request, from waiting for it to its answer's delivery, has a deadline.
                deadline = loop.call_later(self._idle_timeout_s, _cut_off, writer.transport)
                try:
                    if not await _serve_request(self, reader, writer):
                        break
                finally:
                    deadline.cancel()
        except (_BadRequestError, ValueError, asyncio.IncompleteReadError):
            writer.write(_response(400, b"{}", keep_alive=False, date=self.date_header()))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()


async def _serve_request(
    server: KalshiEndpoint, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bool:
    """Answer one request; return whether the connection stays open."""
    request_line = await reader.readline()
    if not request_line:
        return False
    parts = request_line.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequestError
    method, target, version = parts
    headers = await _read_headers(reader)
    lower = {name.lower(): value for name, value in headers.items()}
    body = await _read_body(reader, lower)
    status, payload = server.handle(method, target, headers, body)
    connection = lower.get("connection", "").lower()
    keep_alive = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
    data = json.dumps(payload).encode()
    writer.write(
        _response(
            status, b"" if method == "HEAD" else data, keep_alive, server.date_header(), len(data)
        )
    )
    await writer.drain()
    return keep_alive


def _cut_off(transport: asyncio.BaseTransport) -> None:
    """Close a connection past its deadline; drop what it has not read of its answer."""
    if isinstance(transport, asyncio.WriteTransport) and transport.get_write_buffer_size():
        transport.abort()
    else:
        transport.close()


async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(_MAX_HEADERS):
        line = await reader.readline()
        if line in (b"\r\n", b"\n"):
            return headers
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon or not name.strip():
            raise _BadRequestError
        headers[name.strip()] = value.strip()
    raise _BadRequestError


async def _read_body(reader: asyncio.StreamReader, headers: Mapping[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        received = 0
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            received += size
            if received > _MAX_BODY_BYTES:
                raise _BadRequestError
            chunks.append(await reader.readexactly(size))
            await reader.readline()
    declared = headers.get("content-length") or "0"
    if (
        len(declared) > 8
        or not (declared.isascii() and declared.isdigit())
        or int(declared) > _MAX_BODY_BYTES
    ):
        raise _BadRequestError
    length = int(declared)
    return await reader.readexactly(length) if length else b""


def _response(
    status: int, body: bytes, keep_alive: bool, date: str, length: int | None = None
) -> bytes:
    reason = HTTPStatus(status).phrase
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Server: kalshi-auth-test-server\r\nDate: {date}\r\n"
        f"Content-Type: application/json\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    return head.encode("latin-1") + body
