"""A real HTTP server on loopback that verifies every request as Kalshi's server does.

One asyncio event loop in a background thread serves every connection. A
thread per connection (http.server) lets a busy test process starve a
connection for seconds under the GIL, long enough for a signed timestamp to
expire; an event loop answers in arrival order. h11 parses HTTP/1.1: keep-alive,
pipelining and chunked bodies; every read is capped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Callable, Mapping
from http import HTTPStatus
from types import TracebackType

import h11

from ._endpoint import API_PREFIX, KalshiEndpoint, RecordedRequest
from ._verifier import KalshiVerifier

__all__ = ["KalshiTestServer", "RequestLog"]

_MAX_HEAD_BYTES = 64 << 10  # request line and headers; past that, 431
_MAX_BODY_BYTES = 1 << 20  # past that, 413
_HEAD_READ_BYTES = 8 << 10  # small reads while the head arrives, so h11 sees it grow
_BODY_READ_BYTES = 64 << 10
_LINGER_S = 2.0  # after an error answer: how long to read and drop what the client still sends
_LINGER_BYTES = _MAX_BODY_BYTES + _MAX_HEAD_BYTES
_SERVER_HEADER = (b"Server", b"kalshi-auth-test-server")
_JSON_HEADER = (b"Content-Type", b"application/json")
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


class _RefusedError(Exception):
    """A request the server will not read: answered with `status`, connection closed."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class KalshiTestServer(KalshiEndpoint):
    """An HTTP/1.1 server on 127.0.0.1 that checks signatures by Kalshi's rules.

    Use it as a context manager. It reads the method and request-target from
    the raw request line (nothing decoded or normalized; h11 parses the rest:
    keep-alive, pipelining, chunked bodies), verifies the
    ``KALSHI-ACCESS-*`` headers with the registered public keys, answers 401
    with Kalshi's JSON bodies, and records the requests in `requests`.
    Accepted requests get JSON: a balance at ``/trade-api/v2/portfolio/balance``,
    the exchange status at ``/trade-api/v2/exchange/status``, and an echo of the
    request anywhere else. Set `clock_offset_ms` to shift its clock; its
    ``Date`` header follows the shifted clock.

    What it keeps is bounded: `requests` is a `RequestLog` of the last
    `max_recorded` requests (0: none), each cut to size; `on_request`, if given,
    is called on the server's thread with each record as it arrives. A
    connection that has not sent a whole request `idle_timeout_s` seconds after
    the server began waiting for it (idle, or a request half sent), or does not
    read its answer in that time, is closed. A request line that is not HTTP
    gets 400, a request line and headers over 64 KiB get 431, a body over 1 MiB
    gets 413; then the connection closes.
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
                self._serve_connection, self._host, self._port, backlog=1024, limit=_MAX_HEAD_BYTES
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
        try:
            await _Connection(self, reader, writer, self._idle_timeout_s).serve()
        finally:
            self._connections.discard(task)


class _Connection:
    """One client connection: h11's state machine between the socket and the endpoint."""

    def __init__(
        self,
        endpoint: KalshiEndpoint,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        timeout_s: float,
    ) -> None:
        self._endpoint = endpoint
        self._reader = reader
        self._writer = writer
        self._timeout_s = timeout_s
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD_BYTES)

    async def serve(self) -> None:
        """Answer requests in order until the client or the protocol ends the connection."""
        try:
            refusal = await self._serve_requests()
            if refusal is not None:
                await self._refuse(refusal)
        except (OSError, asyncio.CancelledError):  # the client went away, or we stopped
            pass
        finally:
            self._writer.close()

    async def _serve_requests(self) -> int | None:
        """Answer requests; return the status to refuse the last one with, if any."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                # Each request, from waiting for it to its answer's delivery, has a deadline.
                deadline = loop.call_later(self._timeout_s, _cut_off, self._writer.transport)
                try:
                    if not await self._serve_one():
                        return None
                finally:
                    deadline.cancel()
                self._h11.start_next_cycle()
        except h11.RemoteProtocolError as exc:  # 400 malformed, 431 head too large, ...
            return exc.error_status_hint
        except _RefusedError as exc:
            return exc.status
        except ValueError:  # a header value the verifier or an older h11 cannot take
            return 400

    async def _serve_one(self) -> bool:
        """Answer one request; return whether the connection can carry another."""
        event = await self._next_event()
        if isinstance(event, h11.ConnectionClosed):
            return False
        if not isinstance(event, h11.Request):  # pragma: no cover - h11 starts with a Request
            raise _RefusedError(400)
        declared = _header(event, b"content-length")
        if declared is not None and (len(declared) > 8 or int(declared) > _MAX_BODY_BYTES):
            raise _RefusedError(413)
        body = await self._body()
        method = event.method.decode("ascii")
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in event.headers.raw_items()
        }
        target = event.target.decode("latin-1")
        status, payload = self._endpoint.handle(method, target, headers, body)
        data = json.dumps(payload).encode()
        events: list[h11.Event] = [self._response(status, len(data))]
        if method != "HEAD":
            events.append(h11.Data(data=data))
        self._send(*events, h11.EndOfMessage())
        await self._writer.drain()
        # Not DONE: the client asked to close, spoke HTTP/1.0, or switched protocols (a
        # CONNECT answered 2xx); the connection ends here.
        return self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE

    async def _next_event(self) -> object:
        while True:
            event = self._h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            if self._h11.they_are_waiting_for_100_continue:
                self._send(
                    h11.InformationalResponse(
                        status_code=100, reason=b"Continue", headers=[_SERVER_HEADER]
                    )
                )
            reading_body = self._h11.their_state is h11.SEND_BODY
            size = _BODY_READ_BYTES if reading_body else _HEAD_READ_BYTES
            self._h11.receive_data(await self._reader.read(size))

    async def _body(self) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            event = await self._next_event()
            if isinstance(event, h11.EndOfMessage):
                return b"".join(parts)
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > _MAX_BODY_BYTES:  # chunked, or more than Content-Length said
                    raise _RefusedError(413)
                parts.append(event.data)

    def _response(self, status: int, length: int, *, close: bool = False) -> h11.Response:
        headers = [
            _SERVER_HEADER,
            (b"Date", self._endpoint.date_header().encode()),
            _JSON_HEADER,
            (b"Content-Length", str(length).encode()),
        ]
        if close:
            headers.append((b"Connection", b"close"))
        return h11.Response(status_code=status, reason=_reason(status), headers=headers)

    def _send(self, *events: h11.Event) -> None:
        """Write `events` in one go (one system call for an answer, not three)."""
        out = []
        for event in events:
            if self._h11.our_state is h11.SWITCHED_PROTOCOL:
                # A CONNECT answered 2xx: h11 hands the connection over. The answer's body
                # goes as it is, and the connection ends after it.
                out += [event.data] if isinstance(event, h11.Data) else []
            else:
                out.append(self._h11.send(event) or b"")
        self._writer.write(b"".join(out))

    async def _refuse(self, status: int) -> None:
        """Answer `status` with ``{}`` and close, unless the connection is already gone."""
        transport = self._writer.transport
        if transport.is_closing() or self._h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        self._send(self._response(status, 2, close=True), h11.Data(data=b"{}"), h11.EndOfMessage())
        await _linger(self._reader, transport)


async def _linger(reader: asyncio.StreamReader, transport: asyncio.BaseTransport) -> None:
    """After an error answer, read and drop what the client was still sending, for a while:
    closing with unread data would reset the connection and could lose the answer."""
    if isinstance(transport, asyncio.WriteTransport) and transport.can_write_eof():
        transport.write_eof()  # once the answer is out
    deadline = asyncio.get_running_loop().call_later(_LINGER_S, _cut_off, transport)
    try:
        dropped = 0
        while dropped < _LINGER_BYTES and (chunk := await reader.read(_BODY_READ_BYTES)):
            dropped += len(chunk)
    finally:
        deadline.cancel()


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def _header(event: h11.Request, name: bytes) -> bytes | None:
    """The value of header `name` (lower case), if present."""
    for found, value in event.headers:
        if found == name:
            return value
    return None


def _cut_off(transport: asyncio.BaseTransport) -> None:
    """Close a connection past its deadline; drop what it has not read of its answer."""
    if isinstance(transport, asyncio.WriteTransport) and transport.get_write_buffer_size():
        transport.abort()
    else:
        transport.close()
