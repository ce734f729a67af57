"""A real HTTP server on loopback that verifies every request as Kalshi's server does.

One asyncio event loop in a background thread serves every connection. A
thread per connection (http.server) lets a busy test process starve a
connection for seconds under the GIL, long enough for a signed timestamp to
expire; an event loop answers in arrival order.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping
from http import HTTPStatus
from types import TracebackType

from ._endpoint import API_PREFIX, KalshiEndpoint
from ._verifier import KalshiVerifier

__all__ = ["KalshiTestServer"]

_MAX_LINE = 65536
_MAX_HEADERS = 100
_MAX_BODY_BYTES = 1 << 20


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
        try:
            while await self._serve_request(reader, writer):
                pass
        except (_BadRequestError, ValueError, asyncio.IncompleteReadError):
            writer.write(_response(400, b"{}", keep_alive=False, date=self.date_header()))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def _serve_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
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
        status, payload = self.handle(method, target, headers, body)
        connection = lower.get("connection", "").lower()
        keep_alive = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
        data = json.dumps(payload).encode()
        writer.write(
            _response(
                status, b"" if method == "HEAD" else data, keep_alive, self.date_header(), len(data)
            )
        )
        await writer.drain()
        return keep_alive


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
