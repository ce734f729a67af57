"""One helper that sends the same request through every client kalshi-auth adapts.

Each client is set up as the docs tell users to: requests with ``auth=``, httpx
with ``auth=`` and the redirect event hooks, aiohttp with ``session_options(auth)``
(the middleware and the trace config that tells it which requests are redirect hops).
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import requests

from kalshi_auth import KalshiAuth
from kalshi_auth.aiohttp import session_options

CLIENTS = ["requests", "httpx", "httpx-async", "aiohttp"]


def send(
    client: str,
    auth: KalshiAuth,
    method: str,
    url: str,
    *,
    body: dict[str, Any] | None = None,
    ca: str | None = None,
    params: dict[str, str] | None = None,
    base_url: str = "",
) -> int:
    """Send one request through `client`, following redirects; return the final status.

    `params` are merged by the client itself; with `base_url`, `url` is a path that an
    httpx client joins to it, and the other clients get the two written out together.
    """
    if client == "requests":
        return requests.request(
            method, base_url + url, params=params, json=body, auth=auth, timeout=10,
            verify=ca or True,
        ).status_code  # fmt: skip
    context = tls_context(ca)
    if client == "httpx":
        with httpx.Client(
            auth=auth,
            base_url=base_url,
            follow_redirects=True,
            event_hooks=auth.httpx_event_hooks(),
            verify=context,
        ) as c:
            return c.request(method, url, params=params, json=body).status_code
    call = _Call(method, url, body, params, base_url)
    return asyncio.run(_send_async(client, auth, call, context))


@functools.lru_cache(maxsize=8)
def tls_context(ca: str | None) -> ssl.SSLContext:
    """The TLS context trusting `ca` (the system's CAs if None), made once: an httpx client
    made without one loads the CA bundle again, 20 ms each time."""
    return ssl.create_default_context(cafile=ca)


@dataclass(frozen=True)
class _Call:
    method: str
    url: str
    body: dict[str, Any] | None
    params: dict[str, str] | None
    base_url: str


async def _send_async(client: str, auth: KalshiAuth, call: _Call, context: ssl.SSLContext) -> int:
    if client == "httpx-async":
        async with httpx.AsyncClient(
            auth=auth,
            base_url=call.base_url,
            follow_redirects=True,
            event_hooks=auth.httpx_async_event_hooks(),
            verify=context,
        ) as c:
            answer = await c.request(call.method, call.url, params=call.params, json=call.body)
            return answer.status_code
    assert client == "aiohttp", client
    async with (
        aiohttp.ClientSession(**session_options(auth)) as session,
        session.request(
            call.method,
            call.base_url + call.url,
            params=call.params,
            json=call.body,
            ssl=context,
        ) as response,
    ):
        await response.read()
        return response.status
