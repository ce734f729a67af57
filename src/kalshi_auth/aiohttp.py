"""aiohttp client middleware (aiohttp >= 3.12): ``pip install "kalshi-auth[aiohttp]"``.

from kalshi_auth import KalshiAuth
from kalshi_auth.aiohttp import KalshiAuthMiddleware

auth = KalshiAuth(key_id, "kalshi-key.pem")
async with aiohttp.ClientSession(middlewares=(KalshiAuthMiddleware(auth),)) as session:
    await session.get("https://external-api.kalshi.com/trade-api/v2/portfolio/balance")
"""

from __future__ import annotations

from contextlib import suppress
from contextvars import ContextVar

try:
    from aiohttp import ClientRequest, ClientResponse, payload
    from aiohttp.client_middlewares import ClientHandlerType
    from yarl import URL
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'kalshi_auth.aiohttp needs aiohttp 3.12 or newer: pip install "kalshi-auth[aiohttp]"'
    ) from exc

from ._auth import KalshiAuth
from ._scope import Origin

__all__ = ["KalshiAuthMiddleware"]

# aiohttp calls the middleware once per hop, with nothing that links a hop to the request
# the user made. A redirect's hop is always the next call in the same task: after a
# redirect, this holds (the hop's expected origin, the origin the user asked for).
_pending_hop: ContextVar[tuple[Origin, Origin] | None] = ContextVar(
    "kalshi_auth_pending_hop", default=None
)


class KalshiAuthMiddleware:
    """Signs each request an aiohttp ``ClientSession`` sends, and its redirect hops.

    Like the requests and httpx adapters it signs the final request: the
    method and the request-target aiohttp puts on the wire (``url.raw_path_qs``),
    skips hosts outside the auth object's ``hosts``, signs a redirect hop only
    when it returns to the origin of the request you made, and re-sends once,
    with Kalshi's time, on ``401 header_timestamp_expired`` when the body is in
    memory.
    """

    def __init__(self, auth: KalshiAuth) -> None:
        self.auth = auth

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """aiohttp hook: sign `request`, send it, and handle a redirect or a rejected clock."""
        core = self.auth.core
        here = _origin(request.url)
        pending = _pending_hop.get()
        _pending_hop.set(None)
        first = pending[1] if pending is not None and pending[0] == here else here
        if not await self._sign(request, first, here):
            response = await handler(request)
        else:
            response = await handler(request)
            length = response.headers.get("Content-Length")
            if core.reads_rejection(
                first,
                here,
                response.status,
                length,
                replayable=_replayable(request),
                body_read_anyway=True,  # the caller reads the body next, and it is small
            ):
                body = await response.read()
                date = response.headers.get("Date")
                if core.should_resend(first, here, response.status, date, body):
                    response.release()
                    await self._sign(request, first, here)
                    response = await handler(request)
        location = response.headers.get("Location")
        if location is not None and response.status in (301, 302, 303, 307, 308):
            # A Location that cannot be parsed: aiohttp refuses it, and there is no hop.
            with suppress(ValueError):
                _pending_hop.set((_origin(request.url.join(URL(location))), first))
        return response

    async def _sign(self, request: ClientRequest, first: Origin, here: Origin) -> bool:
        target = request.url.raw_path_qs
        return await self.auth.core.sign_hop_async(
            request.headers, first, here, request.method, target
        )


def _origin(url: URL) -> Origin:
    return Origin.of(url.scheme, url.host or "", url.port)


def _replayable(request: ClientRequest) -> bool:
    body = request.body
    return isinstance(body, payload.BytesPayload) or not body
