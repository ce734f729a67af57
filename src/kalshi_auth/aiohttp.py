"""aiohttp client middleware (aiohttp >= 3.12): ``pip install "kalshi-auth[aiohttp]"``.

from kalshi_auth import KalshiAuth
from kalshi_auth.aiohttp import KalshiAuthMiddleware

auth = KalshiAuth(key_id, "kalshi-key.pem")
async with aiohttp.ClientSession(middlewares=(KalshiAuthMiddleware(auth),)) as session:
    await session.get("https://external-api.kalshi.com/trade-api/v2/portfolio/balance")
"""

from __future__ import annotations

try:
    from aiohttp import ClientRequest, ClientResponse, payload
    from aiohttp.client_middlewares import ClientHandlerType
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'kalshi_auth.aiohttp needs aiohttp 3.12 or newer: pip install "kalshi-auth[aiohttp]"'
    ) from exc

from ._auth import KalshiAuth

__all__ = ["KalshiAuthMiddleware"]


class KalshiAuthMiddleware:
    """Signs each request an aiohttp ``ClientSession`` sends, redirect hops included.

    Like the requests and httpx adapters it signs the final request: the
    method and the request-target aiohttp puts on the wire (``url.raw_path_qs``),
    skips hosts outside the auth object's ``hosts``, and re-sends once, with
    Kalshi's time, on ``401 header_timestamp_expired`` when the body is in memory.
    """

    def __init__(self, auth: KalshiAuth) -> None:
        self.auth = auth

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """aiohttp hook: sign `request`, send it, and handle a rejected clock."""
        if not self._sign(request):
            return await handler(request)
        response = await handler(request)
        if response.status == 401 and _replayable(request):
            body = await response.read()
            if self.auth._learn_clock(response.headers.get("Date"), body):
                response.release()
                self._sign(request)
                response = await handler(request)
        return response

    def _sign(self, request: ClientRequest) -> bool:
        url = request.url
        return self.auth._sign_into(
            request.headers, url.host or "", request.method, url.raw_path_qs
        )


def _replayable(request: ClientRequest) -> bool:
    body = request.body
    return isinstance(body, payload.BytesPayload) or not body
