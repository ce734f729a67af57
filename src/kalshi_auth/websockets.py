"""WebSocket connections that sign every attempt: ``pip install "kalshi-auth[websockets]"``.

from kalshi_auth import KalshiAuth
from kalshi_auth.websockets import connect

auth = KalshiAuth(key_id, "kalshi-key.pem")
url = "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
async for ws in connect(url, auth):  # reconnects, freshly signed each time
    ...
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

try:
    from websockets.asyncio.client import ClientConnection
    from websockets.asyncio.client import connect as websockets_connect
    from websockets.datastructures import Headers, HeadersLike
    from websockets.exceptions import InvalidStatus
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'kalshi_auth.websockets needs websockets 15 or newer: pip install "kalshi-auth[websockets]"'
    ) from exc

from ._auth import KalshiAuth
from ._httpx import request_target
from ._scope import Origin, origin_of
from ._signing import strip_access_headers

__all__ = ["connect"]


class connect(websockets_connect):  # noqa: N801 - named as the websockets function it extends
    """``websockets.asyncio.client.connect``, signing each connection attempt for Kalshi.

    Use it as ``async with connect(url, auth) as ws:`` or, to reconnect
    automatically, ``async for ws in connect(url, auth):``. Every attempt, a
    reconnect, and a redirect hop gets freshly signed ``KALSHI-ACCESS-*``
    headers for ``GET`` and its own path, so no reconnect fails on a signature
    signed seconds ago. The rules are those of every kalshi-auth client:

    - a redirect hop is signed only back on the origin of `uri`; a hop to any
      other origin carries none of the three headers (websockets itself
      refuses ``wss`` to ``ws``);
    - a handshake answered ``401 header_timestamp_expired`` by that origin
      teaches the clock, and the attempt is retried once;
    - hosts outside ``auth``'s ``hosts`` get no headers.

    Every other keyword argument, ``additional_headers`` included, goes to
    websockets' ``connect``.
    """

    def __init__(
        self,
        uri: str,
        auth: KalshiAuth,
        *,
        additional_headers: HeadersLike | None = None,
        **kwargs: Any,
    ) -> None:
        self.auth = auth
        self.first_origin: Origin = origin_of(uri)
        self._user_headers = additional_headers
        self._resent = False
        self._presigned: tuple[str, dict[str, str]] | None = None
        super().__init__(uri, additional_headers=additional_headers, **kwargs)

    @property
    def additional_headers(self) -> Headers:
        """The caller's headers and, when this attempt's origin allows, the signed three.

        websockets reads this at every attempt, redirect hops included, right after
        opening the connection, for which `_presign` has signed; it also reads it while
        handling a redirect. Never signed here, on the event loop: headers signed for
        another URI, or none yet, are simply not sent.
        """
        presigned = self._presigned
        signed = presigned[1] if presigned is not None and presigned[0] == self.uri else {}
        headers = Headers(self._user_headers) if self._user_headers is not None else Headers()
        strip_access_headers(headers)  # the user's stale copies never go out
        headers.update(signed)
        return headers

    @additional_headers.setter
    def additional_headers(self, value: HeadersLike | None) -> None:
        # websockets sets it once, and again to drop credentials on a cross-origin redirect.
        self._user_headers = value

    async def _presign(self) -> None:
        """Sign this attempt (a first try, reconnect, redirect hop or clock retry) through
        the core's async call, so an RSA key or a `Signer` never signs on the event loop;
        inside websockets' ``open_timeout``, which bounds the wait."""
        uri = self.uri
        signed: dict[str, str] = {}
        await self.auth.core.sign_hop_async(signed, *self._hop(uri))
        self._presigned = (uri, signed)

    async def open_tcp_connection(self) -> ClientConnection:
        """websockets 17 and newer: called once per attempt; signs it first."""
        await self._presign()
        connection: ClientConnection = await super().open_tcp_connection()  # type: ignore[misc,unused-ignore]
        return connection

    async def create_connection(self) -> ClientConnection:
        """websockets 15 and 16: called once per attempt; signs it first."""
        await self._presign()
        connection: ClientConnection = await super().create_connection()  # type: ignore[misc,unused-ignore]
        return connection

    def __await__(self) -> Generator[Any, None, ClientConnection]:
        """One connection attempt (redirects and one clock retry included)."""
        self._resent = False
        connection: ClientConnection = yield from super().__await__()
        return connection

    def process_redirect(self, exc: Exception) -> Exception | str:
        """websockets hook: follow a redirect, or retry once after Kalshi rejects the clock."""
        if not self._resent and isinstance(exc, InvalidStatus):
            response = exc.response
            if self.auth.core.should_resend(
                self.first_origin,
                origin_of(self.uri),
                response.status_code,
                response.headers.get("Date"),
                bytes(response.body or b""),
            ):
                self._resent = True
                return self.uri
        return super().process_redirect(exc)

    def _hop(self, uri: str) -> tuple[Origin, Origin, str, str]:
        return self.first_origin, origin_of(uri), "GET", request_target(uri)
