"""One helper that sends the same request through every client kalshi-auth adapts.

Each client is set up as the docs tell users to: requests with ``auth=``, httpx
with ``auth=`` and the redirect event hooks, aiohttp with the middleware.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
import httpx
import requests

from kalshi_auth import KalshiAuth
from kalshi_auth.aiohttp import KalshiAuthMiddleware

CLIENTS = ["requests", "httpx", "httpx-async", "aiohttp"]


def send(
    client: str,
    auth: KalshiAuth,
    method: str,
    url: str,
    *,
    body: dict[str, Any] | None = None,
    ca: str | None = None,
) -> int:
    """Send one request through `client`, following redirects; return the final status."""
    if client == "requests":
        return requests.request(
            method, url, json=body, auth=auth, timeout=10, verify=ca or True
        ).status_code
    context = ssl.create_default_context(cafile=ca) if ca else None
    if client == "httpx":
        with httpx.Client(
            auth=auth,
            follow_redirects=True,
            event_hooks=auth.httpx_event_hooks(),
            verify=context or True,
        ) as c:
            return c.request(method, url, json=body).status_code
    return asyncio.run(_send_async(client, auth, method, url, body, context))


async def _send_async(
    client: str,
    auth: KalshiAuth,
    method: str,
    url: str,
    body: dict[str, Any] | None,
    context: ssl.SSLContext | None,
) -> int:
    if client == "httpx-async":
        async with httpx.AsyncClient(
            auth=auth,
            follow_redirects=True,
            event_hooks=auth.httpx_async_event_hooks(),
            verify=context or True,
        ) as c:
            return (await c.request(method, url, json=body)).status_code
    assert client == "aiohttp", client
    async with (
        aiohttp.ClientSession(middlewares=(KalshiAuthMiddleware(auth),)) as session,
        session.request(method, url, json=body, ssl=context or True) as response,
    ):
        await response.read()
        return response.status
