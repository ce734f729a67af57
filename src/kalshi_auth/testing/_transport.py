"""An httpx transport that answers like Kalshi's server, in-process: no socket, fast."""

from __future__ import annotations

import json
from collections.abc import Mapping

import httpx

from ._endpoint import KalshiEndpoint
from ._verifier import KalshiVerifier

__all__ = ["KalshiMockTransport"]


class KalshiMockTransport(KalshiEndpoint, httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Pass as ``transport=`` to an httpx ``Client`` or ``AsyncClient`` in unit tests.

    Verifies each request from its raw target exactly as `KalshiTestServer`
    does, records it in `requests`, and answers with the same JSON. It proves
    your signing logic, not the wire: use `KalshiTestServer` for that.
    """

    def __init__(
        self, keys: Mapping[str, object] | None = None, *, verifier: KalshiVerifier | None = None
    ) -> None:
        super().__init__(keys, verifier=verifier)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer `request` (sync clients)."""
        return self._respond(request, request.read())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer `request` (async clients)."""
        return self._respond(request, await request.aread())

    def _respond(self, request: httpx.Request, body: bytes) -> httpx.Response:
        target = request.url.raw_path.decode("ascii")
        status, payload = self.handle(request.method, target, dict(request.headers), body)
        return httpx.Response(
            status,
            headers={"Content-Type": "application/json", "Date": self.date_header()},
            content=json.dumps(payload).encode(),
            request=request,
        )
